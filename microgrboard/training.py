"""A small, reusable training loop for classifiers, and the decision-boundary grid.

:func:`train_classifier` runs forward, loss, ``backward()`` and ``optimizer.step()``
for a number of steps and returns a :class:`History`. Anyone can watch it without
editing it: ``on_step`` is called once per step with a :class:`StepRecord`
(the board logs from there). Given a held-out ``test`` set it also measures, at
the end of every epoch, the accuracy on the whole training and test sets (the
book's ``train acc, test acc`` lines), hands each :class:`EpochRecord` to
``on_epoch`` and keeps them in ``History.epochs``; ``progress=True`` shows a tqdm
bar. :func:`train_digits` is the whole recipe for the handwritten digits::

    from microgrboard.training import train_digits
    model, history = train_digits(epochs=5)      # about 97 % on the test images

:func:`decision_grid` evaluates a trained model over a grid around the data, under
``no_grad()``; plotting it is someone else's job (``microgrboard.demo`` draws it
with matplotlib, the board stores it).
"""

from __future__ import annotations

import gc
import math
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from microgrboard.core import Value, no_grad
from microgrboard.datasets import Dataset, minibatches
from microgrboard.losses import (
    binary_cross_entropy_with_logits,
    hinge_loss,
    l2_regularization,
    softmax_cross_entropy,
)
from microgrboard.nn import MLP
from microgrboard.optim import Adam, CosineAnnealingLR, Optimizer

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


@dataclass(frozen=True)
class EpochRecord:
    """Scores on the whole training and test sets after an epoch (what ``on_epoch`` gets).

    ``epoch`` counts from 1; ``step`` is the last update of the epoch (0-based, as
    in :class:`StepRecord`). Losses include the L2 term, as the training loss does.
    """

    epoch: int
    step: int
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float


@dataclass
class History:
    """Per-step loss, accuracy and learning rate, per-epoch scores (when a ``test`` set
    was given), then the model's scores on the training set after training."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    epochs: list[EpochRecord] = field(default_factory=list)
    final_loss: float = float("nan")  # on the whole set, after the last update
    final_accuracy: float = float("nan")
    seconds: float = 0.0

    @property
    def train_accuracy(self) -> list[float]:
        """Accuracy on the whole training set after each epoch."""
        return [e.train_accuracy for e in self.epochs]

    @property
    def test_accuracy(self) -> list[float]:
        """Accuracy on the test set after each epoch."""
        return [e.test_accuracy for e in self.epochs]


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


def _check_labels(y: Sequence[int], loss: str, name: str = "y") -> list[int]:
    """Class indices 0, 1, ... (binary losses also accept -1/+1 and read -1 as 0)."""
    labels = list(y)
    if loss == "cross_entropy":
        for i, v in enumerate(labels):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name}[{i}] = {v!r}: cross_entropy labels must be class "
                                 "indices 0, 1, ...")
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


def steps_per_epoch(n_samples: int, batch_size: int | None) -> int:
    """Updates in one pass over ``n_samples`` (the last mini-batch may be short).

    >>> steps_per_epoch(1437, 32), steps_per_epoch(100, None)
    (45, 1)
    """
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                   or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
    if batch_size is None or batch_size >= n_samples:
        return 1
    return math.ceil(n_samples / batch_size)


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
    test: tuple[Sequence[Point], Sequence[int]] | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    progress: bool = False,
) -> History:
    """Train ``model`` on ``(X, y)`` for ``steps`` updates of ``optimizer``.

    ``batch_size=None`` is full-batch gradient descent; an int gives mini-batch
    (1 for stochastic) gradient descent over shuffled epochs drawn from ``seed``
    (an epoch is :func:`steps_per_epoch` updates).
    Each step: forward, loss, ``zero_grad()``, ``backward()``, ``on_step(record)``,
    ``optimizer.step()``. Returns the history, with the final loss and accuracy on
    the whole set after the last update.

    With ``test=(X_test, y_test)`` (a :class:`~microgrboard.datasets.Dataset` is
    one), after every epoch the model is scored on the whole training set and on
    the test set (under ``no_grad``); the :class:`EpochRecord` goes to ``on_epoch``
    and into ``history.epochs``. ``progress=True`` shows a tqdm progress bar on
    stderr (tqdm comes with the ``demo`` extra); by default nothing is printed.

    Labels and points are checked before the first step: with ``"cross_entropy"``
    every label must index one of the model's outputs, and every point must have
    as many numbers as the first.

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
    _check_points("X", X, len(X[0]))
    classes = _classes(model, X[0], loss)
    _check_classes("y", y, classes)
    if test is not None:
        X_test, y_test = _check_test_set(test, len(X[0]), loss, classes)
    bar = _progress_bar(steps) if progress else None
    rng = seed if isinstance(seed, random.Random) else random.Random(seed)
    per_epoch = steps_per_epoch(len(X), batch_size)
    history = History()
    started = time.perf_counter()
    try:
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
                if bar is not None:
                    bar.set_postfix(loss=f"{history.loss[-1]:.4f}", refresh=False)
                    bar.update()
                if test is not None and (step + 1) % per_epoch == 0:
                    train_scores = evaluate(model, X, y, loss, l2)
                    test_scores = evaluate(model, X_test, y_test, loss, l2)
                    record = EpochRecord((step + 1) // per_epoch, step, *train_scores,
                                         *test_scores)
                    history.epochs.append(record)
                    if bar is not None:
                        bar.write(f"epoch {record.epoch}: train accuracy "
                                  f"{record.train_accuracy:.1%}, test accuracy "
                                  f"{record.test_accuracy:.1%}", file=sys.stderr)
                    if on_epoch is not None:
                        on_epoch(record)
            history.final_loss, history.final_accuracy = evaluate(model, X, y, loss, l2)
    finally:
        if bar is not None:
            bar.close()
    history.seconds = time.perf_counter() - started
    return history


def _check_points(name: str, X: Sequence[Point], length: int) -> None:
    """Every point a sequence of ``length`` numbers (a stray one fails now, not mid-epoch)."""
    for i, x in enumerate(X):
        if isinstance(x, (str, bytes)) or not hasattr(x, "__len__") or len(x) != length:
            size = len(x) if hasattr(x, "__len__") else type(x).__name__
            raise ValueError(f"{name}[{i}] has {size} numbers but {name}[0] has {length} "
                             "(every point needs the same number of inputs)")


def _classes(model: Model, x: Point, loss: str) -> int | None:
    """The model's number of outputs, from one forward pass (``None`` for binary losses)."""
    with no_grad():
        out = _outputs(model, x, loss)
    return len(out) if isinstance(out, list) else None


def _check_classes(name: str, y: Sequence[int], classes: int | None) -> None:
    if classes is None:
        return
    for i, k in enumerate(y):
        if not 0 <= k < classes:
            raise ValueError(f"{name}[{i}] = {k!r} is not a class of a model with {classes} "
                             f"outputs (labels must be in 0..{classes - 1})")


def _check_test_set(
    test: tuple[Sequence[Point], Sequence[int]], length: int, loss: str, classes: int | None
) -> tuple[Sequence[Point], Sequence[int]]:
    if not isinstance(test, tuple) or len(test) != 2:
        raise ValueError("test must be a pair (X_test, y_test), e.g. a Dataset")
    X_test, y_test = test
    if len(X_test) != len(y_test) or not X_test:
        raise ValueError(f"test has {len(X_test)} points and {len(y_test)} labels "
                         "(must match, and not be empty)")
    _check_labels(y_test, loss, "y_test")
    _check_points("X_test", X_test, length)
    _check_classes("y_test", y_test, classes)
    return X_test, y_test


def _progress_bar(steps: int) -> Any:
    try:
        from tqdm import tqdm
    except ImportError as error:
        raise ImportError("progress=True needs tqdm, which did not import; install it with "
                          "pip install \"microgrboard[demo]\" (or pass progress=False)"
                          ) from error
    return tqdm(total=steps, unit="step", file=sys.stderr, leave=True)


def _batches(
    X: Sequence[Point], y: Sequence[int], batch_size: int | None, rng: random.Random
) -> Iterator[tuple[Sequence[Point], Sequence[int]]]:
    """Endless batches: the whole set each time, or shuffled epochs of mini-batches."""
    while True:
        if batch_size is None or batch_size >= len(X):
            yield X, y
        else:
            yield from minibatches(X, y, batch_size, shuffle=True, seed=rng)


# The defaults are the book's TwoLayerNet (hidden_size=50) with He initialisation and
# Adam on a cosine schedule; measured on the default split: 96.7 % test accuracy after
# 5 epochs (`microgrboard train digits`).
def train_digits(
    epochs: int = 5,
    *,
    hidden: int = 50,
    batch_size: int = 16,
    lr: float = 0.02,
    init: str | float = "he",
    seed: int = 0,
    progress: bool = False,
    data: tuple[Dataset, Dataset] | None = None,
    on_step: Callable[[StepRecord], None] | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> tuple[MLP, History]:
    """Train the book's ``TwoLayerNet`` on the handwritten digits; ``(model, history)``.

    ``MLP(64, [hidden, 10], init=init)`` (ReLU, then 10 linear outputs), softmax
    cross-entropy, Adam with ``lr`` decayed by a cosine over the run, mini-batches of
    ``batch_size``, for ``epochs`` passes over the training images of
    :func:`~microgrboard.datasets.digits` (or ``data=(train, test)``).
    ``history.test_accuracy`` holds the test accuracy after each epoch::

        model, history = train_digits(epochs=5, progress=True)
        print(history.test_accuracy[-1])      # 0.967 with the defaults

    Needs the ``data`` extra (scikit-learn, for the images); ``progress=True``
    needs tqdm (the ``demo`` extra).
    """
    from microgrboard.datasets import digits

    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
        raise ValueError(f"hidden must be a positive int, got {hidden!r}")
    train, test = digits(seed=seed) if data is None else data
    try:
        (X, y), (X_test, y_test) = train, test  # Datasets, or plain (X, y) pairs
    except (TypeError, ValueError):
        raise TypeError("data must be (train, test), each a Dataset or an (X, y) pair, got "
                        f"{type(data).__name__}") from None
    model = MLP(len(X[0]), [hidden, 10], init=init, seed=seed)
    steps = epochs * steps_per_epoch(len(X), batch_size)
    optimizer = Adam(model.parameters(), lr=lr, schedule=CosineAnnealingLR(T_max=steps))
    history = train_classifier(
        model, X, y, optimizer, steps, loss="cross_entropy",
        batch_size=batch_size, seed=seed, test=(X_test, y_test), on_step=on_step,
        on_epoch=on_epoch,
        progress=progress,
    )
    return model, history


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
    "EpochRecord",
    "History",
    "StepRecord",
    "batch_loss",
    "cyclic_gc_paused",
    "decision_grid",
    "evaluate",
    "steps_per_epoch",
    "train_classifier",
    "train_digits",
]


# --- What the board is handed: computed here from the model, so the board never
# imports training or reaches into a model (see microgrboard.board.writer.Run).


def neuron_graph(neuron: Callable[[Sequence[Value]], Value], x: Point) -> Value:
    """One neuron's forward and backward pass on the input ``x``, as a fresh graph.

    The neuron is copied first, so the model's own gradients (about to be used
    by the optimizer) are not touched. The inputs become leaves ``x0``, ``x1``...

    >>> from microgrboard.nn import Neuron
    >>> out = neuron_graph(Neuron(2, "tanh", seed=0, name="L0.N0"), [1.0, -1.0])
    >>> out.label, out.grad
    ('L0.N0', 1.0)
    """
    import copy

    clone = copy.deepcopy(neuron)
    out = clone([Value(float(v), f"x{i}") for i, v in enumerate(x)])
    out.backward()
    return out


def loss_graph(model: Model, X: Sequence[Point], y: Sequence[int], *, loss: LossName = "hinge",
               points: int = 2) -> Value:
    """The loss of a copy of ``model`` over its first ``points`` points, after backward.

    The graph the board's graph panel plays as "loss" (folded into one box per
    neuron): every parameter's gradient from those points, the model's own untouched.
    """
    import copy

    if isinstance(points, bool) or not isinstance(points, int) or points < 1:
        raise ValueError(f"points must be a positive int, got {points!r}")
    clone = copy.deepcopy(model)
    value, _ = batch_loss(clone, X[:points], y[:points], loss, l2=0.0)
    value.label = "loss"
    value.backward()
    return value


def network_state(model: object, X: Sequence[Point] | None = None,
                  y: Sequence[int] | None = None, *, resolution: int = 20,
                  margin: float = 0.5) -> dict[str, object]:
    """An MLP as the board's network view shows it (``Run.log_network``'s ``state``).

    Every neuron's weights, bias and mean output over ``X``; for 2-D inputs, each
    neuron's output over a ``resolution`` × ``resolution`` grid around ``X`` (its
    heat map, as in TensorFlow Playground). Runs under ``no_grad()``.
    """
    layers = getattr(model, "layers", None)
    if not isinstance(layers, list) or not all(hasattr(la, "neurons") for la in layers):
        raise TypeError(f"network_state() needs an MLP (layers of neurons), got "
                        f"{type(model).__name__}")
    nin = len(layers[0].neurons[0].w)
    points = list(X or [])

    def outputs(x: Point) -> dict[str, float]:
        values: dict[str, float] = {}
        units: Sequence[object] = x
        for layer in layers:
            units = [neuron(units).data for neuron in layer.neurons]
            values.update(zip((n.name for n in layer.neurons), units))  # type: ignore[arg-type]
        return values

    with no_grad(), cyclic_gc_paused():
        per_point = [outputs(x) for x in points]
        plane = None
        if nin == 2 and points:
            xs = _span([p[0] for p in points], margin, resolution)
            ys = _span([p[1] for p in points], margin, resolution)
            grid = [[outputs((gx, gy)) for gx in xs] for gy in ys]
            names = list(grid[0][0])
            plane = {
                "xs": xs, "ys": ys,
                "inputs": [[list(xs) for _ in ys], [[gy] * len(xs) for gy in ys]],
                "heat": {n: [[cell[n] for cell in row] for row in grid] for n in names},
                "points": [list(p) for p in points],
                "labels": list(y) if y is not None else [0] * len(points),
            }
    return {
        "inputs": [f"x{i}" for i in range(nin)],
        "layers": [
            {"name": f"L{k}", "activation": layer.neurons[0].activation,
             "neurons": [
                 {"name": n.name, "weights": [w.data for w in n.w], "bias": n.b.data,
                  "activation": (sum(o[n.name] for o in per_point) / len(per_point)
                                 if per_point else 0.0)}
                 for n in layer.neurons]}
            for k, layer in enumerate(layers)],
        "plane": plane,
    }


def board_views(
    X: Sequence[Point],
    y: Sequence[int],
    *,
    resolution: int = 20,
    boundary_every: int = 20,
    graph_every: int = 10,
    network_every: int = 20,
    loss: LossName = "hinge",
    graph_points: int = 2,
) -> Callable[..., None]:
    """What ``Run.training_callback(views)`` logs beyond the curves, computed here.

    Every ``boundary_every`` steps the decision boundary over a ``resolution`` ×
    ``resolution`` grid (with classes for a multi-output model); every
    ``graph_every`` steps two graphs: ``"neuron"`` (the first neuron on the first
    point) and ``"loss"`` (the loss over the first ``graph_points`` points); every
    ``network_every`` steps the network view. The last step logs everything. A grid
    costs ``resolution ** 2`` forward passes, hence the sparser defaults; boundaries
    and heat maps need 2-D points.
    """
    for what, every in (("boundary_every", boundary_every), ("graph_every", graph_every),
                        ("network_every", network_every)):
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"{what} must be a positive int, got {every!r}")
    if len(X) != len(y) or not X:
        raise ValueError(f"X and y must be the same non-empty length, got {len(X)} and {len(y)}")

    plane = all(len(p) == 2 for p in X)  # a decision boundary needs 2-D points

    def views(record: StepRecord, run: object, *, final: bool = False) -> None:
        step, model = record.step, record.model

        def due(every: int) -> bool:
            return step % every == 0 or final

        log = run  # a microgrboard Run (duck-typed: training does not import the board)
        if due(boundary_every) and plane:
            grid = decision_grid(model, X, resolution)
            classes = None
            if grid.multiclass:
                with no_grad():
                    out = model(X[0])
                classes = [str(k) for k in range(len(out) if isinstance(out, list) else 2)]
            log.log_decision_boundary(step, grid.xs, grid.ys, grid.scores,  # type: ignore[attr-defined]
                                      X, y, classes=classes)
        if due(graph_every) and hasattr(model, "layers"):
            first = model.layers[0].neurons[0]
            log.log_graph(neuron_graph(first, X[0]), step, "neuron")  # type: ignore[attr-defined]
            log.log_graph(loss_graph(model, X, y, loss=loss, points=graph_points),  # type: ignore[attr-defined]
                          step, "loss")
        if due(network_every) and hasattr(model, "layers"):
            log.log_network(step, network_state(model, X, y, resolution=resolution))  # type: ignore[attr-defined]

    return views


__all__ += ["board_views", "loss_graph", "network_state", "neuron_graph"]
