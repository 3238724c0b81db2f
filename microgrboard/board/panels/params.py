"""The parameters panel: every parameter's value and gradient at a step, as heat maps.

Payload (schema 1): ``{"names": [...], "data": [...], "grad": [...]}``, one entry per
parameter; the page groups them by layer and neuron from their names (``"L0.N3.w1"``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from microgrboard.board.panels.base import stepped_panel
from microgrboard.snapshot import to_json

PANEL = stepped_panel("params", "Parameters", schema=1)


def params_payload(model: Any) -> str:
    """Strict JSON of every parameter's name, value and gradient.

    ``model``: anything with ``named_parameters()`` (a :class:`microgrboard.nn.Module`),
    a dict of name -> Value, or a sequence of Values (named by their labels).
    """
    from microgrboard.core import Value

    if hasattr(model, "named_parameters"):
        pairs = list(model.named_parameters())
    elif isinstance(model, Mapping):
        pairs = list(model.items())
    elif isinstance(model, Sequence) and not isinstance(model, (str, bytes)):
        pairs = [(v.label if isinstance(v, Value) and v.label else f"p{i}", v)
                 for i, v in enumerate(model)]
    else:
        raise TypeError(
            "log_params() takes a Module, a dict of name -> Value or a list of Values, "
            f"got {type(model).__name__}"
        )
    names, data, grads = [], [], []
    for name, parameter in pairs:
        if not isinstance(parameter, Value):
            raise TypeError(f"parameter {name!r} must be a Value, got "
                            f"{type(parameter).__name__}")
        names.append(str(name))
        data.append(parameter.data)
        grads.append(parameter.grad)
    return to_json({"names": names, "data": data, "grad": grads})
