"""The decision-boundary panel: a 2-D classifier over a grid, with the data points.

Payload (schema 2)::

    {"xs": [...], "ys": [...], "scores": [[...], ...], "points": [[x, y], ...],
     "labels": [...], "classes": null | ["0", "1", "2"]}

``scores[i][j]`` is at ``(xs[j], ys[i])``. ``classes`` null: raw scores of a binary
classifier (class 1 where > 0); a list of class names: ``scores`` hold the predicted
class index at each grid point and ``labels`` the points' class indices. Schema 1
had no ``classes`` (read as null).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from microgrboard.board.panels.base import number_list, stepped_panel
from microgrboard.snapshot import to_json

MAX_GRID_POINTS = 250_000  # 500 x 500: more is a data dump, not a picture
MAX_CLASSES = 100


def _upgrade(payload: dict[str, Any]) -> None:
    payload.setdefault("classes", None)


PANEL = stepped_panel("boundary", "Decision boundary", schema=2, upgrade=_upgrade)


def boundary_payload(
    xs: Sequence[float],
    ys: Sequence[float],
    scores: Sequence[Sequence[float]] | Sequence[float],
    points: Sequence[Sequence[float]],
    labels: Sequence[float],
    classes: Sequence[str] | None = None,
) -> str:
    """Strict JSON of a checked decision boundary (see the module's docstring)."""
    from microgrboard.core import Value

    grid_x, grid_y = number_list("xs", xs), number_list("ys", ys)
    if not grid_x or not grid_y:
        raise ValueError("xs and ys must each hold at least one coordinate")
    if len(grid_x) * len(grid_y) > MAX_GRID_POINTS:
        raise ValueError(f"the grid has {len(grid_x)} x {len(grid_y)} points; "
                         f"at most {MAX_GRID_POINTS}")
    rows = list(scores)
    if rows and all(isinstance(r, (Value, numbers.Real)) for r in rows):
        if len(rows) != len(grid_x) * len(grid_y):
            raise ValueError(f"flat scores must hold len(xs) * len(ys) = "
                             f"{len(grid_x) * len(grid_y)} numbers, got {len(rows)}")
        flat = number_list("scores", rows)
        rows = [flat[i * len(grid_x):(i + 1) * len(grid_x)] for i in range(len(grid_y))]
    grid = [number_list(f"scores[{i}]", row) for i, row in enumerate(rows)]
    if len(grid) != len(grid_y) or any(len(row) != len(grid_x) for row in grid):
        raise ValueError(f"scores must be {len(grid_y)} rows (one per y) of {len(grid_x)} "
                         f"numbers (one per x), got {len(grid)} rows")
    xy = []
    for i, point in enumerate(points):
        pair = number_list(f"points[{i}]", point)
        if len(pair) != 2:
            raise ValueError(f"points[{i}] must be an (x, y) pair, got {point!r}")
        xy.append(pair)
    targets = number_list("labels", labels)
    if len(targets) != len(xy):
        raise ValueError(f"got {len(xy)} points but {len(targets)} labels")
    names = None if classes is None else _class_names(classes)
    if names is not None:
        _check_indices("scores", [v for row in grid for v in row], len(names))
        _check_indices("labels", targets, len(names))
    return to_json({"xs": grid_x, "ys": grid_y, "scores": grid, "points": xy,
                    "labels": targets, "classes": names})


def _class_names(classes: Sequence[str]) -> list[str]:
    if isinstance(classes, str) or not isinstance(classes, Sequence):
        raise TypeError(f"classes must be a list of class names, got {classes!r}")
    names = [str(c) for c in classes]
    if not 2 <= len(names) <= MAX_CLASSES:
        raise ValueError(f"classes must name 2..{MAX_CLASSES} classes, got {len(names)}")
    return names


def _check_indices(what: str, values: list[float], count: int) -> None:
    for value in values:
        if not (value.is_integer() and 0 <= value < count):
            raise ValueError(f"with {count} classes, {what} must be class indices "
                             f"0..{count - 1}, got {value}")
