"""Small seeded teaching data sets, and the 8×8 handwritten digits.

The toy classification sets are 2-D points with integer class labels (0, 1, ...),
made in pure Python; the same ``seed`` gives the same points on every machine. The
generators default to ``seed=0``, so a lesson's plots are the same on every run; pass
``seed=None`` for fresh randomness. :func:`minibatches` walks a data set in shuffled batches, one
epoch per call.

:func:`digits` is a real data set: the 1,797 8×8 images of handwritten digits that
scikit-learn ships inside its package (no download), split like the book's
``load_mnist``::

    (X_train, y_train), (X_test, y_test) = digits()

It needs the ``data`` extra (``pip install "microgrboard[data]"``).

>>> data = moons(100, noise=0.1, seed=1337)
>>> len(data.X), data.X[0] == moons(100, noise=0.1, seed=1337).X[0], sorted(set(data.y))
(100, True, [0, 1])
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple, TypeVar

Point = tuple[float, ...]
Seed = int | random.Random | None
DEFAULT_SEED = 0  # the generators' default: reproducible unless asked otherwise
X_ = TypeVar("X_")
Y_ = TypeVar("Y_")


class Dataset(NamedTuple):
    """Points ``X`` (tuples of floats) and their class labels ``y`` (0, 1, ...).

    A named pair, so it unpacks: ``X, y = moons()``.
    """

    X: list[Point]
    y: list[int]


class RegressionDataset(NamedTuple):
    """Points ``X`` and their real-valued targets ``y``."""

    X: list[Point]
    y: list[float]


def _rng(seed: Seed) -> random.Random:
    return seed if isinstance(seed, random.Random) else random.Random(seed)


def _check_count(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def _check_noise(noise: float, name: str = "noise") -> float:
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not noise >= 0:
        raise ValueError(f"{name} must be a non-negative number, got {noise!r}")
    return float(noise)


def _linspace(start: float, stop: float, n: int, endpoint: bool = True) -> list[float]:
    if n == 1:
        return [start]
    step = (stop - start) / (n - 1 if endpoint else n)
    return [start + i * step for i in range(n)]


def _shuffled(points: list[Point], labels: list[int], rng: random.Random) -> Dataset:
    order = list(range(len(points)))
    rng.shuffle(order)
    return Dataset([points[i] for i in order], [labels[i] for i in order])


def _jitter(points: list[Point], noise: float, rng: random.Random) -> list[Point]:
    if not noise:
        return points
    return [tuple(c + rng.gauss(0.0, noise) for c in p) for p in points]


def moons(n: int = 100, noise: float = 0.1, seed: Seed = DEFAULT_SEED) -> Dataset:
    """Two interleaving half circles (scikit-learn's ``make_moons`` construction).

    The upper moon (label 0) is the unit half circle; the lower one (label 1) is
    shifted to (1, 0.5) and flipped. Gaussian noise of std ``noise`` is added.
    """
    _check_count("n", n, 2)
    noise, rng = _check_noise(noise), _rng(seed)
    n_upper = n // 2
    n_lower = n - n_upper
    upper = [(math.cos(a), math.sin(a)) for a in _linspace(0, math.pi, n_upper)]
    lower = [(1 - math.cos(a), 0.5 - math.sin(a)) for a in _linspace(0, math.pi, n_lower)]
    data = _shuffled([*upper, *lower], [0] * n_upper + [1] * n_lower, rng)
    return Dataset(_jitter(data.X, noise, rng), data.y)


def circles(
    n: int = 100, noise: float = 0.05, factor: float = 0.5, seed: Seed = DEFAULT_SEED
) -> Dataset:
    """A circle of radius ``factor`` (label 1) inside the unit circle (label 0)."""
    _check_count("n", n, 2)
    noise, rng = _check_noise(noise), _rng(seed)
    if not 0 < factor < 1:
        raise ValueError(f"factor must be in (0, 1), got {factor!r}")
    n_outer = n // 2
    n_inner = n - n_outer
    outer = [(math.cos(a), math.sin(a)) for a in _linspace(0, 2 * math.pi, n_outer, False)]
    inner = [
        (factor * math.cos(a), factor * math.sin(a))
        for a in _linspace(0, 2 * math.pi, n_inner, False)
    ]
    data = _shuffled([*outer, *inner], [0] * n_outer + [1] * n_inner, rng)
    return Dataset(_jitter(data.X, noise, rng), data.y)


def spirals(
    n: int = 100, classes: int = 2, noise: float = 0.2, seed: Seed = DEFAULT_SEED
) -> Dataset:
    """``classes`` arms spiralling out from the origin (the CS231n spiral set).

    Point i of arm k sits at radius r = i/(m - 1) and angle 4k + 4r + N(0, noise),
    so ``noise`` blurs the angle rather than the position.
    """
    _check_count("classes", classes, 2)
    _check_count("n", n, classes)
    noise, rng = _check_noise(noise), _rng(seed)
    points: list[Point] = []
    labels: list[int] = []
    for k in range(classes):
        m = n // classes + (1 if k < n % classes else 0)
        for r in _linspace(0.0, 1.0, m):
            angle = 4 * k + 4 * r + (rng.gauss(0.0, noise) if noise else 0.0)
            points.append((r * math.sin(angle), r * math.cos(angle)))
            labels.append(k)
    return _shuffled(points, labels, rng)


def xor(n: int = 100, noise: float = 0.0, seed: Seed = DEFAULT_SEED) -> Dataset:
    """Points uniform in [-1, 1]²; label 1 where x and y have opposite signs.

    Labels come from the clean points; ``noise`` then jitters the positions.
    """
    _check_count("n", n)
    noise, rng = _check_noise(noise), _rng(seed)
    points: list[Point] = [(rng.uniform(-1, 1), rng.uniform(-1, 1)) for _ in range(n)]
    labels = [int((x > 0) != (y > 0)) for x, y in points]
    return Dataset(_jitter(points, noise, rng), labels)


def blobs(
    n: int = 100,
    centers: int | Sequence[tuple[float, float]] = 3,
    std: float = 1.0,
    box: tuple[float, float] = (-10.0, 10.0),
    seed: Seed = DEFAULT_SEED,
) -> Dataset:
    """Gaussian blobs of std ``std``: label k around center k.

    ``centers`` is a list of points, or a count of centers drawn uniformly in the
    square ``box`` × ``box``.
    """
    _check_count("n", n)
    std, rng = _check_noise(std, "std"), _rng(seed)
    if isinstance(centers, int):
        _check_count("centers", centers)
        chosen = [(rng.uniform(*box), rng.uniform(*box)) for _ in range(centers)]
    else:
        chosen = [tuple(c) for c in centers]  # type: ignore[misc]
        if not chosen or any(len(c) != 2 for c in chosen):
            raise ValueError(f"centers must be a count or a list of (x, y) points, got {centers!r}")
    points: list[Point] = []
    labels: list[int] = []
    for i in range(n):
        k = i % len(chosen)
        cx, cy = chosen[k]
        points.append((rng.gauss(cx, std), rng.gauss(cy, std)))
        labels.append(k)
    return _shuffled(points, labels, rng)


def linear_regression(
    n: int = 100,
    weights: Sequence[float] = (2.0,),
    bias: float = -1.0,
    noise: float = 0.1,
    seed: Seed = DEFAULT_SEED,
) -> RegressionDataset:
    """Points uniform in [-1, 1]^d with targets w · x + b + N(0, noise), d = len(weights)."""
    _check_count("n", n)
    noise, rng = _check_noise(noise), _rng(seed)
    if not weights:
        raise ValueError("weights must list at least one number (one per feature)")
    points: list[Point] = [tuple(rng.uniform(-1, 1) for _ in weights) for _ in range(n)]
    targets = [
        sum(w * x for w, x in zip(weights, p, strict=True)) + bias
        + (rng.gauss(0.0, noise) if noise else 0.0)
        for p in points
    ]
    return RegressionDataset(points, targets)


def signed_labels(labels: Sequence[int]) -> list[int]:
    """Binary labels 0/1 as -1/+1 (what a max-margin loss expects)."""
    bad = [y for y in labels if y not in (0, 1)]
    if bad:
        raise ValueError(f"signed_labels needs binary labels 0 or 1, got {bad[:5]}")
    return [2 * y - 1 for y in labels]


DIGITS_CLASSES = 10
DIGITS_EXTRA = 'pip install "microgrboard[data]"'


def digits(seed: int | None = DEFAULT_SEED, test_fraction: float = 0.2) -> tuple[Dataset, Dataset]:
    """The 1,797 handwritten digits (8×8 pixels) as ``(train, test)`` data sets.

    Each point is a tuple of 64 pixels scaled to [0, 1] (row by row; scikit-learn
    stores them as 0..16), each label an ``int`` 0-9. The split is stratified (every
    digit keeps its share in both sets) and shuffled from ``seed``;
    ``test_fraction`` of the images, rounded up, go to the test set (360 of 1,797
    with the default 0.2), so, as the book does with ``load_mnist``::

        (X_train, y_train), (X_test, y_test) = digits()

    The images come from scikit-learn's own package files (``load_digits``), so no
    network is needed; scikit-learn is the ``data`` extra. ``y`` as one-hot rows:
    :func:`one_hot`.
    """
    if (isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float))
            or not 0 < test_fraction < 1):
        raise ValueError(f"test_fraction must be a number in (0, 1), got {test_fraction!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"seed must be an int or None, got {seed!r}")
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as error:
        raise ImportError(
            f"digits() reads the images bundled with scikit-learn, which did not import "
            f"({error}); install the data extra: {DIGITS_EXTRA}"
        ) from error
    bunch = load_digits()
    images: list[Point] = [tuple(v / 16.0 for v in row) for row in bunch.data.tolist()]
    labels = [int(k) for k in bunch.target.tolist()]
    n_test = math.ceil(test_fraction * len(labels))
    if min(n_test, len(labels) - n_test) < DIGITS_CLASSES:  # stratifying needs one per class
        raise ValueError(
            f"test_fraction={test_fraction!r} leaves {n_test} test and "
            f"{len(labels) - n_test} training images; each set needs at least "
            f"{DIGITS_CLASSES} (one per digit)"
        )
    X_train, X_test, y_train, y_test = train_test_split(
        images, labels, test_size=n_test, stratify=labels, random_state=seed, shuffle=True
    )
    return Dataset(X_train, y_train), Dataset(X_test, y_test)


def one_hot(labels: Sequence[int], classes: int) -> list[list[float]]:
    """Class indices as one-hot rows: label k becomes ``classes`` numbers, 1.0 at k.

    >>> one_hot([2, 0], classes=3)
    [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    _check_count("classes", classes)
    rows = []
    for i, k in enumerate(labels):
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < classes:
            raise ValueError(f"one_hot: labels[{i}] must be a class index in "
                             f"[0, {classes}), got {k!r}")
        row = [0.0] * classes
        row[k] = 1.0
        rows.append(row)
    return rows


def minibatches(
    X: Sequence[X_],
    y: Sequence[Y_],
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: Seed = None,
    drop_last: bool = False,
) -> Iterator[tuple[list[X_], list[Y_]]]:
    """One epoch of ``(X_batch, y_batch)`` pairs of ``batch_size`` samples.

    With ``shuffle`` the order is a permutation from ``seed`` (``None``, the default,
    draws a fresh one; pass one ``random.Random`` across epochs to get a new,
    reproducible order each epoch); ``drop_last`` skips a final batch smaller than
    ``batch_size``. Arguments are checked at the call, not at the first batch.

    >>> [b for b, _ in minibatches([1, 2, 3, 4, 5], "abcde", 2, shuffle=False)]
    [[1, 2], [3, 4], [5]]
    """
    if len(X) != len(y):
        raise ValueError(f"minibatches: {len(X)} points but {len(y)} labels (must match)")
    _check_count("batch_size", batch_size)
    order = list(range(len(X)))
    if shuffle:
        _rng(seed).shuffle(order)
    return _batches_in_order(X, y, order, batch_size, drop_last)


def _batches_in_order(
    X: Sequence[X_], y: Sequence[Y_], order: list[int], batch_size: int, drop_last: bool
) -> Iterator[tuple[list[X_], list[Y_]]]:
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        if drop_last and len(chunk) < batch_size:
            return
        yield [X[i] for i in chunk], [y[i] for i in chunk]


# The 2-D classification sets by name; each takes ``n`` and ``seed`` (and its own options).
GENERATORS: dict[str, Callable[..., Dataset]] = {
    "moons": moons, "circles": circles, "spirals": spirals, "xor": xor, "blobs": blobs,
}

__all__ = [
    "DEFAULT_SEED",
    "GENERATORS",
    "Dataset",
    "RegressionDataset",
    "blobs",
    "circles",
    "digits",
    "linear_regression",
    "minibatches",
    "moons",
    "one_hot",
    "signed_labels",
    "spirals",
    "xor",
]
