"""Logging a training run for the board: :class:`Run`.

>>> import tempfile
>>> from microgrboard import Value
>>> with tempfile.TemporaryDirectory() as logdir:
...     with Run(logdir, name="tiny", hparams={"lr": 0.1}) as run:
...         w = Value(0.5, "w"); loss = (w * 2.0 - 1.5) ** 2; loss.backward()
...         run.log(0, loss=loss, lr=0.1)          # a Value is logged by its data
...         run.log_graph(loss, 0, tag="loss")     # data, grad, op and label of every node
...     run.name
'tiny'

Every call commits before it returns: if the training process dies, what was
logged stays readable, and ``microgrboard board`` shows it while training runs.
"""

from __future__ import annotations

import copy
import numbers
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from os import PathLike
from types import TracebackType
from typing import Any, Literal

from microgrboard.board.store import (
    MAX_INTEGER,
    StoreError,
    StoreWriter,
    check_run_name,
    check_tag,
)
from microgrboard.core import Value
from microgrboard.snapshot import Snapshot, as_snapshot, structure_key, to_json


def _number(what: str, value: object) -> float:
    """A float from a number or a Value; anything else is a clear error."""
    if isinstance(value, Value):
        return value.data
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"{what} must be a number or a Value, got {type(value).__name__}: {value!r}")


def _step(step: object) -> int:
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
        raise ValueError(f"step must be an int >= 0, got {step!r}")
    if int(step) > MAX_INTEGER:
        raise ValueError(f"step must be an int >= 0 and at most 2**63 - 1 (what SQLite "
                         f"stores), got {step!r}")
    return int(step)


def _numbers(what: str, values: Iterable[object]) -> list[float]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{what} must be a sequence of numbers, got {type(values).__name__}")
    return [_number(f"{what}[{i}]", v) for i, v in enumerate(values)]


class Run:
    """One training run written to ``<logdir>/microgrboard.db`` (also a context manager).

    - ``name``: shown on the board (default: the start time). A name already in the
      log directory gets ``-2``, ``-3``... appended (``if_exists="rename"``), or
      replaces the old run (``"replace"``), or raises (``"error"``); ``run.name`` is
      the name used.
    - ``hparams``: the run's hyper-parameters (JSON data), shown beside it for comparison.

    Leaving the ``with`` block marks the run finished (or failed, on an exception).
    """

    def __init__(
        self,
        logdir: str | PathLike[str] = "runs",
        name: str | None = None,
        hparams: Mapping[str, Any] | None = None,
        *,
        if_exists: Literal["rename", "replace", "error"] = "rename",
    ) -> None:
        if name is None:
            name = time.strftime("%Y-%m-%d_%H-%M-%S")
        check_run_name(name)
        self.logdir = logdir
        self._store: StoreWriter | None = StoreWriter(logdir)
        try:
            self._id, self.name = self._store.create_run(name, hparams, if_exists=if_exists)
        except BaseException:
            self._store.close()
            raise
        self.path = self._store.path

    def __repr__(self) -> str:
        state = "closed" if self._store is None else "open"
        return f"Run({str(self.logdir)!r}, name={self.name!r}) [{state}]"

    def _writer(self) -> StoreWriter:
        if self._store is None:
            raise StoreError(f"run {self.name!r} is closed; open a new Run to log more")
        return self._store

    def log(self, step: int, **scalars: float | Value) -> None:
        """Record scalars at ``step``: ``run.log(3, loss=0.25, accuracy=0.9, lr=0.05)``.

        Values are logged by their ``.data``. A tag that is not a Python name can be
        passed as ``run.log(3, **{"train/loss": 0.25})``.
        """
        step = _step(step)
        if not scalars:
            raise ValueError("log() needs at least one scalar, e.g. run.log(step, loss=0.5)")
        values = {check_tag(tag): _number(f"scalar {tag!r}", v) for tag, v in scalars.items()}
        self._writer().log_scalars(self._id, step, values)

    def log_graph(self, root: Value | Snapshot, step: int, tag: str = "graph") -> None:
        """Record the graph below ``root`` (every node's data, grad, op and label).

        Call it after ``backward()`` to record gradients. ``root`` may also be a
        snapshot dict from :func:`microgrboard.snapshot.snapshot`.
        """
        step = _step(step)
        check_tag(tag)
        # The board will draw it: refuse what it cannot; keep only the format's fields.
        snap = as_snapshot(root)
        text = to_json(snap)
        self._writer().log_graph(self._id, step, tag, text, structure_key(snap),
                                 len(snap["nodes"]))

    def log_params(
        self, model: Any, step: int
    ) -> None:
        """Record every parameter's value and gradient at ``step``.

        ``model``: a :class:`microgrboard.nn.Module` (names from ``named_parameters()``,
        e.g. ``"L0.N3.w1"``, which the board groups by layer and neuron), a dict of
        name -> Value, or a sequence of Values (named by their labels).
        """
        step = _step(step)
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
        payload = to_json({"names": names, "data": data, "grad": grads})
        self._writer().log_payload("params", self._id, step, payload)

    def log_decision_boundary(
        self,
        step: int,
        xs: Sequence[float],
        ys: Sequence[float],
        scores: Sequence[Sequence[float]] | Sequence[float],
        points: Sequence[Sequence[float]],
        labels: Sequence[float],
    ) -> None:
        """Record a 2-D classifier's scores over a grid, with the data points.

        - ``xs``, ``ys``: the grid's coordinates along each axis.
        - ``scores``: the model's output at each grid point, ``scores[i][j]`` at
          ``(xs[j], ys[i])`` (one row per y), or the same flattened row by row.
        - ``points``: the data set's ``(x, y)`` points; ``labels``: their classes.
        """
        step = _step(step)
        grid_x, grid_y = _numbers("xs", xs), _numbers("ys", ys)
        if not grid_x or not grid_y:
            raise ValueError("xs and ys must each hold at least one coordinate")
        rows = list(scores)
        if rows and all(isinstance(r, (Value, numbers.Real)) for r in rows):
            if len(rows) != len(grid_x) * len(grid_y):
                raise ValueError(f"flat scores must hold len(xs) * len(ys) = "
                                 f"{len(grid_x) * len(grid_y)} numbers, got {len(rows)}")
            flat = _numbers("scores", rows)
            rows = [flat[i * len(grid_x):(i + 1) * len(grid_x)] for i in range(len(grid_y))]
        grid = [_numbers(f"scores[{i}]", row) for i, row in enumerate(rows)]  # type: ignore[arg-type]
        if len(grid) != len(grid_y) or any(len(row) != len(grid_x) for row in grid):
            raise ValueError(f"scores must be {len(grid_y)} rows (one per y) of {len(grid_x)} "
                             f"numbers (one per x), got {len(grid)} rows")
        xy = []
        for i, point in enumerate(points):
            pair = _numbers(f"points[{i}]", point)
            if len(pair) != 2:
                raise ValueError(f"points[{i}] must be an (x, y) pair, got {point!r}")
            xy.append(pair)
        classes = _numbers("labels", labels)
        if len(classes) != len(xy):
            raise ValueError(f"got {len(xy)} points but {len(classes)} labels")
        payload = to_json(
            {"xs": grid_x, "ys": grid_y, "scores": grid, "points": xy, "labels": classes}
        )
        self._writer().log_payload("boundaries", self._id, step, payload)

    def training_callback(
        self,
        X: Sequence[Sequence[float]] | None = None,
        y: Sequence[float] | None = None,
        *,
        params_every: int = 10,
        boundary_every: int = 20,
        resolution: int = 20,
        graph_every: int = 10,
        total_steps: int | None = None,
    ) -> Callable[[Any], None]:
        """A ready ``on_step`` hook for :func:`microgrboard.training.train_classifier`.

        Every step it logs ``loss``, ``accuracy`` and ``lr``; every ``params_every``
        steps the parameters. Given the 2-D data set ``X``, ``y``, every
        ``boundary_every`` steps it also logs the decision boundary (a
        ``resolution`` × ``resolution`` grid) and every ``graph_every`` steps the
        forward/backward graph of the first neuron on the first point, tagged
        ``"neuron"``. Given ``total_steps``, the last step is logged in full too. The
        record is any object with ``step``, ``loss``, ``accuracy``, ``lr`` and ``model``
        attributes (a ``StepRecord``).

        The decision grid costs ``resolution ** 2`` forward passes (about 0.5 s for the
        demo's MLP at 20 × 20), hence the sparser default for boundaries.
        """
        for what, every in (("params_every", params_every), ("boundary_every", boundary_every),
                            ("graph_every", graph_every)):
            if isinstance(every, bool) or not isinstance(every, int) or every < 1:
                raise ValueError(f"{what} must be a positive int, got {every!r}")
        if (X is None) != (y is None):
            raise ValueError("pass both X and y (the data set), or neither")

        def due(step: int, every: int) -> bool:
            return step % every == 0 or (total_steps is not None and step == total_steps - 1)

        def on_step(record: Any) -> None:
            step = record.step
            self.log(step, loss=record.loss, accuracy=record.accuracy, lr=record.lr)
            model = record.model
            if due(step, params_every):
                self.log_params(model, step)
            if X is None or y is None:
                return
            if due(step, boundary_every):
                from microgrboard.training import decision_grid

                grid = decision_grid(model, X, resolution)
                self.log_decision_boundary(step, grid.xs, grid.ys, grid.scores, X, y)
            if due(step, graph_every) and hasattr(model, "layers"):
                self.log_graph(neuron_graph(model.layers[0].neurons[0], X[0]), step, "neuron")

        return on_step

    def close(self, status: Literal["finished", "failed"] = "finished") -> None:
        """Mark the run ``status`` and release the database. Closing twice is harmless."""
        if self._store is None:
            return
        try:
            self._store.set_status(self._id, status)
        finally:
            self._store.close()
            self._store = None

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close("finished" if exc_type is None else "failed")


def neuron_graph(neuron: Any, x: Sequence[float]) -> Value:
    """One neuron's forward and backward pass on the input ``x``, as a fresh graph.

    The neuron is copied first, so the model's own gradients (about to be used
    by the optimizer) are not touched. The inputs become leaves ``x0``, ``x1``...

    >>> from microgrboard.nn import Neuron
    >>> out = neuron_graph(Neuron(2, "tanh", seed=0, name="L0.N0"), [1.0, -1.0])
    >>> out.label, out.grad
    ('L0.N0', 1.0)
    """
    clone = copy.deepcopy(neuron)
    out: Value = clone([Value(_number(f"x[{i}]", v), f"x{i}") for i, v in enumerate(x)])
    out.backward()
    return out
