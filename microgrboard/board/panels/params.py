"""The parameters panel: every parameter's value and gradient at a step, as heat maps.

Payload (schema 1): ``{"names": [...], "data": [...], "grad": [...]}``, one entry per
parameter; the page groups them by layer and neuron from their names (``"L0.N3.w1"``).
"""

from __future__ import annotations

from typing import Any

from microgrboard.board.panels.base import stepped_panel
from microgrboard.snapshot import to_json

PANEL = stepped_panel("params", "Parameters", schema=1)


def params_payload(model: Any) -> str:
    """Strict JSON of every parameter's name, value and gradient.

    ``model``: anything with ``named_parameters()`` (a :class:`microgrboard.nn.Module`),
    a dict of name -> Value, or a sequence of Values (named by their labels).
    """
    from microgrboard.nn import named_parameters

    pairs = named_parameters(model, "log_params()")
    return to_json({"names": [name for name, _ in pairs],
                    "data": [p.data for _, p in pairs],
                    "grad": [p.grad for _, p in pairs]})
