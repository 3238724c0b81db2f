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

The board stores what it is given: what must be computed from a model (a decision
grid, a neuron's graph, the network's state) is computed by the training side
(:mod:`microgrboard.training`) and handed to these methods.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Callable, Mapping, Sequence
from os import PathLike
from types import TracebackType
from typing import Any, Literal, Protocol

from microgrboard.board.panels.base import number
from microgrboard.board.panels.boundary import boundary_payload
from microgrboard.board.panels.graph import MAX_LABEL_LENGTH
from microgrboard.board.panels.network import network_payload
from microgrboard.board.panels.params import params_payload
from microgrboard.board.store import (
    MAX_INTEGER,
    StoreError,
    StoreWriter,
    check_run_name,
    check_tag,
)
from microgrboard.core import Value
from microgrboard.snapshot import Snapshot, as_snapshot, structure_key, to_json


def _step(step: object) -> int:
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
        raise ValueError(f"step must be an int >= 0, got {step!r}")
    if int(step) > MAX_INTEGER:
        raise ValueError(f"step must be an int >= 0 and at most 2**63 - 1 (what SQLite "
                         f"stores), got {step!r}")
    return int(step)


class StepViews(Protocol):
    """What :meth:`Run.training_callback` hands each step to (e.g.
    :func:`microgrboard.training.board_views`): it computes from the model what the
    board shows and logs it with ``run``'s methods. ``final`` is True on the last step.
    """

    def __call__(self, record: Any, run: Run, *, final: bool) -> None: ...


class Run:
    """One training run written to ``<logdir>/microgrboard.db`` (also a context manager).

    - ``name``: shown on the board (default: the start time). A name already in the
      log directory gets ``-2``, ``-3``... appended (``if_exists="rename"``), or
      replaces the old run (``"replace"``), or raises (``"error"``); ``run.name`` is
      the name used.
    - ``hparams``: the run's hyper-parameters (JSON data; numpy numbers are fine),
      shown beside it for comparison.

    Leaving the ``with`` block marks the run finished (or failed, on an exception).
    If another writer replaces or deletes this run, the next call raises
    :class:`~microgrboard.board.store.RunGone` (nothing is written to another run).
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
        values = {check_tag(tag): number(f"scalar {tag!r}", v) for tag, v in scalars.items()}
        self._writer().log_scalars(self._id, step, values)

    def log_graph(self, root: Value | Snapshot, step: int, tag: str = "graph") -> None:
        """Record the graph below ``root`` (every node's data, grad, op and label).

        Call it after ``backward()`` to record gradients. ``root`` may also be a
        snapshot dict from :func:`microgrboard.snapshot.snapshot`. A label longer
        than 1,000 characters is refused (it could not be drawn).
        """
        step = _step(step)
        check_tag(tag)
        # The board will draw it: refuse what it cannot; keep only the format's fields.
        snap = as_snapshot(root)
        for node in snap["nodes"]:
            if len(node["label"]) > MAX_LABEL_LENGTH:
                raise ValueError(f"node {node['id']}'s label is {len(node['label'])} characters "
                                 f"long; at most {MAX_LABEL_LENGTH} can be drawn")
        text = to_json(snap)
        self._writer().log_graph(self._id, step, tag, text, structure_key(snap),
                                 len(snap["nodes"]))

    def log_params(self, model: Any, step: int) -> None:
        """Record every parameter's value and gradient at ``step``.

        ``model``: a :class:`microgrboard.nn.Module` (names from ``named_parameters()``,
        e.g. ``"L0.N3.w1"``, which the board groups by layer and neuron), a dict of
        name -> Value, or a sequence of Values (named by their labels).
        """
        step = _step(step)
        self._writer().log_payload("params", self._id, step, params_payload(model))

    def log_decision_boundary(
        self,
        step: int,
        xs: Sequence[float],
        ys: Sequence[float],
        scores: Sequence[Sequence[float]] | Sequence[float],
        points: Sequence[Sequence[float]],
        labels: Sequence[float],
        *,
        classes: Sequence[str] | None = None,
    ) -> None:
        """Record a 2-D classifier's output over a grid, with the data points.

        - ``xs``, ``ys``: the grid's coordinates along each axis.
        - ``scores``: the model's output at each grid point, ``scores[i][j]`` at
          ``(xs[j], ys[i])`` (one row per y), or the same flattened row by row.
        - ``points``: the data set's ``(x, y)`` points; ``labels``: their classes.
        - ``classes``: for a multi-class model, the class names; ``scores`` then hold
          the predicted class index at each grid point (as
          :func:`microgrboard.training.decision_grid` gives them), ``labels`` class
          indices. Without it, ``scores`` are a binary classifier's raw scores.
        """
        step = _step(step)
        payload = boundary_payload(xs, ys, scores, points, labels, classes)
        self._writer().log_payload("boundary", self._id, step, payload)

    def log_network(self, step: int, state: Mapping[str, Any]) -> None:
        """Record the network view at ``step``: ``state`` from
        :func:`microgrboard.training.network_state` (format in
        :mod:`microgrboard.board.panels.network`)."""
        step = _step(step)
        self._writer().log_payload("network", self._id, step, network_payload(state))

    def training_callback(
        self,
        views: StepViews | None = None,
        *,
        params_every: int = 10,
        total_steps: int | None = None,
    ) -> Callable[[Any], None]:
        """A ready ``on_step`` hook for :func:`microgrboard.training.train_classifier`.

        Every step it logs ``loss``, ``accuracy`` and ``lr``; every ``params_every``
        steps the parameters; and it hands each step to ``views`` (e.g.
        :func:`microgrboard.training.board_views`), which logs what is computed from
        the model (decision boundary, graphs, network). Given ``total_steps``, the last
        step is logged in full too. The record is any object with ``step``, ``loss``,
        ``accuracy``, ``lr`` and ``model`` attributes (a ``StepRecord``).
        """
        if isinstance(params_every, bool) or not isinstance(params_every, int) or \
                params_every < 1:
            raise ValueError(f"params_every must be a positive int, got {params_every!r}")
        if views is not None and not callable(views):
            raise TypeError(f"views must be callable (e.g. training.board_views(X, y)), "
                            f"got {type(views).__name__}")

        def on_step(record: Any) -> None:
            step = record.step
            final = total_steps is not None and step == total_steps - 1
            self.log(step, loss=record.loss, accuracy=record.accuracy, lr=record.lr)
            if step % params_every == 0 or final:
                self.log_params(record.model, step)
            if views is not None:
                views(record, self, final=final)

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
