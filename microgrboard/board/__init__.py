"""The board: log a training run to SQLite and watch it in a web page.

Writer side (cheap, stdlib only)::

    import microgrboard as mg
    with mg.Run("runs", name="moons", hparams={"lr": 0.1}) as run:
        run.log(step, loss=loss, accuracy=acc)

Reader side: ``microgrboard board --logdir runs`` (Starlette + plotly.js).

This package stays light: the writer needs only ``sqlite3`` (imported on use);
the server's web stack is imported only by :mod:`microgrboard.board.server`.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Run", "StoreError", "STORE_FILENAME"]

_LAZY = {
    "Run": "microgrboard.board.writer",
    "StoreError": "microgrboard.board.store",
    "STORE_FILENAME": "microgrboard.board.store",
}


def __getattr__(name: str) -> Any:
    try:
        module = importlib.import_module(_LAZY[name])
    except KeyError:
        raise AttributeError(f"module 'microgrboard.board' has no attribute {name!r}") from None
    return getattr(module, name)
