"""The network panel: the model as a network at a step (TensorFlow Playground's picture).

Payload (schema 1), computed by the training side
(:func:`microgrboard.training.network_state`), checked here::

    {"inputs": ["x0", "x1"],
     "layers": [{"name": "L0", "activation": "relu",
                 "neurons": [{"name": "L0.N0", "weights": [...], "bias": 0.1,
                              "activation": 0.37}]}],
     "plane": null | {"xs": [...], "ys": [...], "inputs": [grid, ...],
                      "heat": {"L0.N0": grid, ...}, "points": [[x, y], ...],
                      "labels": [...]}}

``weights[j]`` comes from unit ``j`` of the layer below (the inputs for the first
layer); ``activation`` is the neuron's mean output over the data points; a grid is
``len(ys)`` rows of ``len(xs)`` numbers, ``grid[r][c]`` at ``(xs[c], ys[r])``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from microgrboard.board.panels.base import number, number_list, stepped_panel
from microgrboard.snapshot import to_json

PANEL = stepped_panel("network", "Network", schema=1)

MAX_NUMBERS = 2_000_000  # what one step may hold: a picture, not a data dump
MAX_UNITS = 1_000  # inputs, layers, neurons per layer


def _items(what: str, value: object, limit: int = MAX_UNITS) -> list[Any]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise TypeError(f"{what} must be a list, got {type(value).__name__}")
    if len(value) > limit:
        raise ValueError(f"{what} holds {len(value)} items; at most {limit}")
    return list(value)


def _field(what: str, entry: object, key: str) -> Any:
    if not isinstance(entry, Mapping):
        raise TypeError(f"{what} must be a dict, got {type(entry).__name__}")
    if key not in entry:
        raise ValueError(f"{what} is missing {key!r}")
    return entry[key]


def _name(what: str, value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise ValueError(f"{what} must be a non-empty str of at most 200 characters, "
                         f"got {value!r}")
    return value


def _grid(what: str, value: object, rows: int, columns: int) -> list[list[float]]:
    grid = [number_list(f"{what}[{r}]", row) for r, row in enumerate(_items(what, value))]
    if len(grid) != rows or any(len(row) != columns for row in grid):
        raise ValueError(f"{what} must be {rows} rows (one per y) of {columns} numbers "
                         "(one per x)")
    return grid


def network_payload(state: Mapping[str, Any]) -> str:
    """Strict JSON of a checked network state (see the module's docstring)."""
    inputs = [_name(f"inputs[{i}]", n)
              for i, n in enumerate(_items("inputs", _field("state", state, "inputs")))]
    below, size = len(inputs), 0
    layers: list[dict[str, Any]] = []
    neuron_names: list[str] = []
    for k, layer in enumerate(_items("layers", _field("state", state, "layers"))):
        where = f"layers[{k}]"
        neurons = []
        for i, cell in enumerate(_items(f"{where}.neurons", _field(where, layer, "neurons"))):
            at = f"{where}.neurons[{i}]"
            weights = number_list(f"{at}.weights", _field(at, cell, "weights"))
            if len(weights) != below:
                raise ValueError(f"{at} has {len(weights)} weights; the layer below has "
                                 f"{below} units")
            neurons.append({"name": _name(f"{at}.name", _field(at, cell, "name")),
                            "weights": weights,
                            "bias": number(f"{at}.bias", _field(at, cell, "bias")),
                            "activation": number(f"{at}.activation",
                                                 _field(at, cell, "activation"))})
            size += below + 2
        if not neurons:
            raise ValueError(f"{where} has no neurons")
        layers.append({"name": _name(f"{where}.name", _field(where, layer, "name")),
                       "activation": _name(f"{where}.activation",
                                           _field(where, layer, "activation")),
                       "neurons": neurons})
        neuron_names += [str(n["name"]) for n in neurons]
        below = len(neurons)
    plane = None
    if state.get("plane") is not None:
        plane, cells = _plane(state["plane"], len(inputs), neuron_names)
        size += cells
    if size > MAX_NUMBERS:
        raise ValueError(f"the network state holds {size} numbers; at most {MAX_NUMBERS}")
    return to_json({"inputs": inputs, "layers": layers, "plane": plane})


def _plane(plane: object, inputs: int, neurons: list[str]) -> tuple[dict[str, Any], int]:
    if not isinstance(plane, Mapping):
        raise TypeError(f"plane must be a dict or None, got {type(plane).__name__}")
    xs = number_list("plane.xs", _field("plane", plane, "xs"))
    ys = number_list("plane.ys", _field("plane", plane, "ys"))
    if not xs or not ys or len(xs) * len(ys) > 250_000:
        raise ValueError(f"plane.xs and plane.ys must hold 1..500 coordinates each, got "
                         f"{len(xs)} and {len(ys)}")
    input_grids = [_grid(f"plane.inputs[{j}]", g, len(ys), len(xs))
                   for j, g in enumerate(_items("plane.inputs", _field("plane", plane, "inputs")))]
    if len(input_grids) != inputs:
        raise ValueError(f"plane.inputs must hold one grid per input ({inputs}), "
                         f"got {len(input_grids)}")
    heat = _field("plane", plane, "heat")
    if not isinstance(heat, Mapping):
        raise TypeError(f"plane.heat must be a dict of neuron name -> grid, got "
                        f"{type(heat).__name__}")
    unknown = [name for name in heat if name not in neurons]
    if unknown:
        raise ValueError(f"plane.heat names neurons that are not in layers: {unknown[:3]}")
    grids = {name: _grid(f"plane.heat[{name!r}]", heat[name], len(ys), len(xs))
             for name in neurons if name in heat}
    points = [number_list(f"plane.points[{i}]", p)
              for i, p in enumerate(_items("plane.points", plane.get("points", []), 100_000))]
    if any(len(p) != 2 for p in points):
        raise ValueError("plane.points must be (x, y) pairs")
    labels = number_list("plane.labels", plane.get("labels", []))
    if len(labels) != len(points):
        raise ValueError(f"got {len(points)} plane.points but {len(labels)} plane.labels")
    cells = (len(input_grids) + len(grids)) * len(xs) * len(ys) + 3 * len(points)
    return {"xs": xs, "ys": ys, "inputs": input_grids, "heat": grids, "points": points,
            "labels": labels}, cells
