"""microgrboard: a scalar reverse-mode autodiff engine you can see.

Every number lives in a :class:`Value`; every operation records an edge;
:meth:`Value.backward` walks the graph in reverse topological order applying the
chain rule. Drawing (graphviz), the board (web) and training helpers live in
submodules that are imported only when first used, so ``import microgrboard``
stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from microgrboard.core import (
    Value,
    backward_steps,
    grad,
    is_grad_enabled,
    linear,
    no_grad,
    topological_order,
)

__version__ = "0.1.0"

__all__ = [
    "Value",
    "backward_steps",
    "draw",
    "play",
    "grad",
    "is_grad_enabled",
    "linear",
    "no_grad",
    "topological_order",
    "Run",
    "__version__",
]

# Names resolved on first use: (module, attribute or None for the module itself).
_LAZY: dict[str, tuple[str, str | None]] = {
    "draw": ("microgrboard.drawing", "draw"),
    "play": ("microgrboard.player", "play"),
    "Run": ("microgrboard.board.writer", "Run"),
    "nn": ("microgrboard.nn", None),
    "optim": ("microgrboard.optim", None),
    "losses": ("microgrboard.losses", None),
    "datasets": ("microgrboard.datasets", None),
    "testing": ("microgrboard.testing", None),
    "examples": ("microgrboard.examples", None),
    "drawing": ("microgrboard.drawing", None),
    "player": ("microgrboard.player", None),
    "board": ("microgrboard.board", None),
}


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'microgrboard' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
