"""A small, reusable training loop for classifiers, and the decision-boundary grid.

:func:`train_classifier` runs forward, loss, ``backward()`` and ``optimizer.step()``
for a number of steps and returns a :class:`History`. Anyone can watch it without
editing it: ``on_step`` is called once per step with a :class:`StepRecord`
(the board logs from there).

:func:`decision_grid` evaluates a trained model over a grid around the data, under
``no_grad()``; plotting it is someone else's job (``microgrboard.demo`` draws it
with matplotlib, the board stores it).
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal, Protocol

from microgrboard.core import Value, no_grad
from microgrboard.datasets import minibatches
from microgrboard.losses import (
    binary_cross_entropy_with_logits,
    hinge_loss,
    l2_regularization,
    softmax_cross_entropy,
)
from microgrboard.optim import Optimizer

LossName = Literal["hinge", "bce", "cross_entropy"]
LOSSES: tuple[str, ...] = ("hinge", "bce", "cross_entropy")
Point = Sequence[float]


class Model(Protocol):
    """What training needs of a model: call it on a point, list its parameters (an MLP)."""

    def __call__(self, x: Point) -> Value | list[Value]: ...

    def parameters(self) -> list[Value]: ...


@dataclass
class StepRecord:
    """What ``on_step`` receives, after ``backward()`` and *before* the update.

    So ``loss_node``'s graph carries this step's gradients, and ``model``'s
    parameters are still the ones that produced ``loss``. ``loss`` and ``accuracy``
    are over this step's batch (the whole set in full-batch training). Read what
    you need inside the callback; keeping the record keeps its whole graph alive.
    """

    step: int  # 0 for the first update
    loss: float
    accuracy: float
    lr: float  # the learning rate this update uses
    model: Model
    optimizer: Optimizer
    loss_node: Value
    batch_size: int


@dataclass
class History:
    """Per-step loss, accuracy and learning rate, then the model's scores after training."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    final_loss: float = float("nan")  # on the whole set, after the last update
    final_accuracy: float = float("nan")
    seconds: float = 0.0


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (reference counting still frees memory).

    A training step allocates ~2·10⁵ Values that live until the step ends; the cyclic
    collector, triggered by allocation counts, rescans them again and again and
    makes a step several times slower. Values form no reference cycles (see
    ``microgrboard.core``), so nothing is lost by pausing it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _outputs(model: Model, x: Point, loss: str) -> Value | list[Value]:
    out = model(x)
    if loss == "cross_entropy":
        if not isinstance(out, list):
            raise ValueError("loss 'cross_entropy' needs a model with one output per class")
        return out
    if not isinstance(out, Value):
        raise ValueError(f"loss {loss!r} needs a model with a single output (a score)")
    return out


def _check_labels(y: Sequence[int], loss: str) -> list[int]:
    """Class indices 0, 1, ... (binary losses also accept -1/+1 and read -1 as 0)."""
    labels = list(y)
    if loss == "cross_entropy":
        bad = [v for v in labels if isinstance(v, bool) or not isinstance(v, int) or v < 0]
        if bad:
            raise ValueError(f"cross_entropy labels must be class indices 0, 1, ..., got {bad[:5]}")
        return labels
    values = set(labels)
    if values <= {0, 1}:
        return labels
    if values <= {-1, 1}:
        return [int(v > 0) for v in labels]
    raise ValueError(f"loss {loss!r} needs binary labels (0/1 or -1/+1), got {sorted(values)[:5]}")


def batch_loss(
    model: Model,
    X: Sequence[Point],
    y: Sequence[int],
    loss: LossName = "hinge",
    l2: float = 1e-4,
) -> tuple[Value, float]:
    """The loss of ``model`` on a batch (plus ``l2`` · Σ p²) and its accuracy.

    ``y`` holds class indices 0, 1, ... . Binary losses read the model's single
    output as a score (class 1 when > 0): ``"hinge"`` is micrograd's max-margin
    loss on labels ±1, ``"bce"`` binary cross-entropy on the logit. ``"cross_entropy"``
    is softmax cross-entropy over the model's list of outputs.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    labels = _check_labels(y, loss)
    outputs = [_outputs(model, x, loss) for x in X]
    if loss == "cross_entropy":
        rows: list[list[Value]] = outputs  # type: ignore[assignment]
        value = softmax_cross_entropy(rows, labels)
        hits = sum(_argmax(row) == k for row, k in zip(rows, labels, strict=True))
    else:
        scores: list[Value] = outputs  # type: ignore[assignment]
        if loss == "hinge":
            value = hinge_loss(scores, [2 * k - 1 for k in labels])
        else:
            value = binary_cross_entropy_with_logits(scores, labels)
        hits = sum((s.data > 0) == (k == 1) for s, k in zip(scores, labels, strict=True))
    if l2:
        value = value + l2_regularization(model.parameters(), l2)
    return value, hits / len(labels)


def _argmax(row: Sequence[Value]) -> int:
    return max(range(len(row)), key=lambda i: row[i].data)


def evaluate(
    model: Model, X: Sequence[Point], y: Sequence[int], loss: LossName = "hinge",
    l2: float = 1e-4,
) -> tuple[float, float]:
    """``(loss, accuracy)`` of ``model`` on the whole set, without recording a graph."""
    with no_grad():
        value, accuracy = batch_loss(model, X, y, loss, l2)
    return value.data, accuracy


def train_classifier(
    model: Model,
    X: Sequence[Point],
    y: Sequence[int],
    optimizer: Optimizer,
    steps: int,
    *,
    loss: LossName = "hinge",
    l2: float = 1e-4,
    batch_size: int | None = None,
    seed: int | random.Random | None = None,
    on_step: Callable[[StepRecord], None] | None = None,
) -> History:
    """Train ``model`` on ``(X, y)`` for ``steps`` updates of ``optimizer``.

    ``batch_size=None`` is full-batch gradient descent; an int gives mini-batch
    (1 for stochastic) gradient descent over shuffled epochs drawn from ``seed``.
    Each step: forward, loss, ``zero_grad()``, ``backward()``, ``on_step(record)``,
    ``optimizer.step()``. Returns the history, with the final loss and accuracy on
    the whole set after the last update.

    >>> from microgrboard.nn import MLP
    >>> from microgrboard.optim import SGD
    >>> model = MLP(2, [4, 1], seed=0)
    >>> history = train_classifier(model, [(0, 1), (1, 0)], [0, 1],
    ...                            SGD(model.parameters(), lr=0.1), steps=20)
    >>> history.final_accuracy
    1.0
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, got {steps!r}")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} points but y has {len(y)} labels (must match)")
    if not X:
        raise ValueError("X is empty: nothing to train on")
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
    if loss not in LOSSES:  # before the labels, whose check depends on the loss
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    _check_labels(y, loss)
    rng = seed if isinstance(seed, random.Random) else random.Random(seed)
    history = History()
    started = time.perf_counter()
    with cyclic_gc_paused():
        batches = _batches(X, y, batch_size, rng)
        for step in range(steps):
            bx, by = next(batches)
            value, accuracy = batch_loss(model, bx, by, loss, l2)
            optimizer.zero_grad()
            value.backward()
            lr = optimizer.lr
            history.loss.append(value.data)
            history.accuracy.append(accuracy)
            history.lr.append(lr)
            if on_step is not None:
                on_step(StepRecord(step, value.data, accuracy, lr, model, optimizer, value,
                                   len(by)))
            optimizer.step()
            del value  # free this step's graph before building the next
        history.final_loss, history.final_accuracy = evaluate(model, X, y, loss, l2)
    history.seconds = time.perf_counter() - started
    return history


def _batches(
    X: Sequence[Point], y: Sequence[int], batch_size: int | None, rng: random.Random
) -> Iterator[tuple[Sequence[Point], Sequence[int]]]:
    """Endless batches: the whole set each time, or shuffled epochs of mini-batches."""
    while True:
        if batch_size is None or batch_size >= len(X):
            yield X, y
        else:
            yield from minibatches(X, y, batch_size, shuffle=True, seed=rng)


@dataclass(frozen=True)
class DecisionGrid:
    """A model's output over a grid: ``scores[r][c]`` at the point ``(xs[c], ys[r])``.

    For a single-output model ``scores`` are the raw scores (class 1 where > 0);
    for a multi-output model they are the predicted class indices.
    """

    xs: list[float]
    ys: list[float]
    scores: list[list[float]]
    multiclass: bool


def decision_grid(
    model: Callable[[Point], object],
    X: Sequence[Point],
    resolution: int = 40,
    margin: float = 0.5,
) -> DecisionGrid:
    """Evaluate ``model`` on ``resolution`` × ``resolution`` points covering ``X``.

    The grid spans the data's bounding box widened by ``margin`` on every side.
    Runs under ``no_grad()``: no graph is kept.
    """
    if not X or any(len(p) != 2 for p in X):
        raise ValueError("decision_grid needs a non-empty list of 2-D points")
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 2:
        raise ValueError(f"resolution must be an int >= 2, got {resolution!r}")
    xs = _span([p[0] for p in X], margin, resolution)
    ys = _span([p[1] for p in X], margin, resolution)
    rows: list[list[float]] = []
    multiclass = False
    with no_grad(), cyclic_gc_paused():
        for gy in ys:
            row = []
            for gx in xs:
                out = model((gx, gy))
                if isinstance(out, Value):
                    row.append(out.data)
                elif isinstance(out, list):
                    multiclass = True
                    row.append(float(_argmax(out)))
                else:
                    raise ValueError(f"model returned {type(out).__name__}, not a Value or list")
            rows.append(row)
    return DecisionGrid(xs, ys, rows, multiclass)


def _span(values: list[float], margin: float, n: int) -> list[float]:
    low, high = min(values) - margin, max(values) + margin
    return [low + (high - low) * i / (n - 1) for i in range(n)]


__all__ = [
    "LOSSES",
    "DecisionGrid",
    "History",
    "StepRecord",
    "batch_loss",
    "cyclic_gc_paused",
    "decision_grid",
    "evaluate",
    "train_classifier",
]
