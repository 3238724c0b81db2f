"""Teaching data sets: seeded, the right shapes, the right geometry; mini-batches."""

from __future__ import annotations

import math
import random
import re
import sys
from collections import Counter
from collections.abc import Callable

import pytest

from microgrboard.datasets import (
    GENERATORS,
    Dataset,
    RegressionDataset,
    blobs,
    circles,
    digits,
    linear_regression,
    minibatches,
    moons,
    one_hot,
    signed_labels,
    spirals,
    xor,
)

ALL_GENERATORS: dict[str, Callable[..., Dataset | RegressionDataset]] = {
    **GENERATORS, "linear_regression": lambda **kw: linear_regression(weights=(1.0, -2.0), **kw),
}


@pytest.mark.parametrize("name", sorted(ALL_GENERATORS))
def test_same_seed_same_points_other_seed_other_points(name: str) -> None:
    make = ALL_GENERATORS[name]
    first, again, other = make(n=60, seed=7), make(n=60, seed=7), make(n=60, seed=8)
    assert first == again
    assert first.X != other.X
    assert len(first.X) == len(first.y) == 60
    assert all(len(p) == 2 and all(math.isfinite(c) for c in p) for p in first.X)


@pytest.mark.parametrize("name", sorted(ALL_GENERATORS))
def test_default_seed_is_fixed_and_none_is_fresh(name: str) -> None:
    make = ALL_GENERATORS[name]
    assert make(n=60) == make(n=60) == make(n=60, seed=0)  # a lesson replays exactly
    # seed=None draws from the OS: two calls agreeing on 60 random points never happens.
    assert make(n=60, seed=None).X != make(n=60, seed=None).X


def test_seed_accepts_a_random_instance() -> None:
    assert moons(20, seed=random.Random(3)) == moons(20, seed=random.Random(3))


def test_moons_without_noise_lie_on_their_half_circles() -> None:
    data = moons(101, noise=0.0, seed=0)
    assert Counter(data.y) == {0: 50, 1: 51}
    for (x, y), label in zip(data.X, data.y, strict=True):
        if label == 0:  # upper unit half circle
            assert math.hypot(x, y) == pytest.approx(1.0) and y >= -1e-12
        else:  # lower one, centred on (1, 0.5)
            assert math.hypot(x - 1, y - 0.5) == pytest.approx(1.0) and y <= 0.5 + 1e-12


def test_moons_noise_moves_points_by_about_its_std() -> None:
    clean, noisy = moons(400, noise=0.0, seed=1), moons(400, noise=0.1, seed=1)
    # Same shuffle (the noise is drawn after it), so points pair up.
    offsets = [math.dist(a, b) for a, b in zip(clean.X, noisy.X, strict=True)]
    assert clean.y == noisy.y
    assert 0.08 < sum(offsets) / len(offsets) < 0.18  # mean of a 2-D Rayleigh: 0.1·√(π/2)


def test_circles_radii() -> None:
    data = circles(50, noise=0.0, factor=0.3, seed=0)
    for p, label in zip(data.X, data.y, strict=True):
        assert math.hypot(*p) == pytest.approx(0.3 if label == 1 else 1.0)


def test_spirals_classes_and_radius() -> None:
    data = spirals(90, classes=3, noise=0.0, seed=0)
    assert Counter(data.y) == {0: 30, 1: 30, 2: 30}
    assert max(math.hypot(*p) for p in data.X) == pytest.approx(1.0)


def test_xor_labels_follow_the_signs() -> None:
    data = xor(200, seed=0)
    assert all(label == int((x > 0) != (y > 0)) for (x, y), label in zip(data.X, data.y))
    assert 60 < sum(data.y) < 140  # both classes well represented


def test_blobs_sit_on_their_centers() -> None:
    data = blobs(30, centers=[(5.0, 5.0), (-5.0, 0.0)], std=0.0, seed=0)
    for p, label in zip(data.X, data.y, strict=True):
        assert p == ((5.0, 5.0) if label == 0 else (-5.0, 0.0))
    random_centers = blobs(90, centers=3, std=0.5, seed=1)
    assert set(random_centers.y) == {0, 1, 2}


def test_linear_regression_without_noise_is_exact() -> None:
    data = linear_regression(20, weights=(2.0, -1.0), bias=0.5, noise=0.0, seed=0)
    for (a, b), target in zip(data.X, data.y, strict=True):
        assert target == pytest.approx(2 * a - b + 0.5)


def test_signed_labels() -> None:
    assert signed_labels([0, 1, 1, 0]) == [-1, 1, 1, -1]
    with pytest.raises(ValueError, match="0 or 1"):
        signed_labels([0, 2])


# --- mini-batches ------------------------------------------------------------------------


def test_minibatches_cover_every_sample_once_per_epoch() -> None:
    X, y = list(range(10)), [f"y{i}" for i in range(10)]
    batches = list(minibatches(X, y, 4, seed=0))
    assert [len(bx) for bx, _ in batches] == [4, 4, 2]
    seen = [x for bx, _ in batches for x in bx]
    assert sorted(seen) == X and seen != X  # all of them, shuffled
    assert all(by == [f"y{x}" for x in bx] for bx, by in batches)  # pairs stay together


def test_minibatches_seeded_drop_last_and_no_shuffle() -> None:
    X = list(range(10))
    assert list(minibatches(X, X, 3, seed=5)) == list(minibatches(X, X, 3, seed=5))
    assert [bx for bx, _ in minibatches(X, X, 3, shuffle=False, drop_last=True)] == [
        [0, 1, 2], [3, 4, 5], [6, 7, 8]
    ]
    rng = random.Random(0)  # one generator across epochs: a new order each epoch
    assert list(minibatches(X, X, 10, seed=rng)) != list(minibatches(X, X, 10, seed=rng))


def test_bad_arguments_raise_naming_them() -> None:
    # minibatches checks at the call, before anyone iterates over it.
    with pytest.raises(ValueError, match="batch_size"):
        minibatches([1], [1], 0)
    with pytest.raises(ValueError, match="1 points but 2 labels"):
        minibatches([1], [1, 2], 1)
    with pytest.raises(ValueError, match="noise"):
        moons(10, noise=-0.1)
    with pytest.raises(ValueError, match="^std must be"):
        blobs(10, std=-1.0)
    with pytest.raises(ValueError, match="n must be"):
        circles(0)
    with pytest.raises(ValueError, match="factor"):
        circles(10, factor=1.5)
    with pytest.raises(ValueError, match="classes"):
        spirals(10, classes=1)
    with pytest.raises(ValueError, match="centers"):
        blobs(10, centers=[(1.0, 2.0, 3.0)])  # type: ignore[list-item]


# --- the handwritten digits (scikit-learn's bundled copy) -------------------------------


@pytest.fixture(scope="module")
def digit_split() -> tuple[Dataset, Dataset]:
    return digits()


def test_digits_unpack_like_load_mnist_with_the_right_shapes(
    digit_split: tuple[Dataset, Dataset],
) -> None:
    (X_train, y_train), (X_test, y_test) = digit_split
    assert (len(X_train), len(y_train), len(X_test), len(y_test)) == (1437, 1437, 360, 360)
    assert all(isinstance(x, tuple) and len(x) == 64 for x in X_train + X_test)
    assert all(type(k) is int for k in y_train + y_test)  # plain ints, not numpy integers
    assert all(type(v) is float for v in X_train[0])
    assert set(y_train) == set(y_test) == set(range(10))


def test_digits_pixels_are_scaled_to_the_unit_interval(
    digit_split: tuple[Dataset, Dataset],
) -> None:
    from sklearn.datasets import load_digits

    train, test = digit_split
    pixels = [v for x in train.X + test.X for v in x]
    assert min(pixels) == 0.0 and max(pixels) == 1.0
    assert all(v * 16 == round(v * 16) for v in pixels)  # 0..16 divided by 16, exactly
    # Every image of the package is there once, divided by 16 (the split loses nothing).
    raw = load_digits()
    original = Counter(
        (tuple(v / 16 for v in row), int(k))
        for row, k in zip(raw.data.tolist(), raw.target.tolist(), strict=True)
    )
    ours = Counter(zip(train.X + test.X, train.y + test.y, strict=True))
    assert ours == original


def test_digits_split_is_stratified_per_class(digit_split: tuple[Dataset, Dataset]) -> None:
    train, test = digit_split
    total = Counter(train.y) + Counter(test.y)
    for digit, count in total.items():
        # Each digit's share of the test set is within one image of 20 % of its images.
        assert abs(Counter(test.y)[digit] - 0.2 * count) <= 1, digit
    half = digits(test_fraction=0.5)[1]
    assert all(abs(Counter(half.y)[d] - count / 2) <= 1 for d, count in total.items())


def test_digits_same_seed_same_split_other_seed_other_split(
    digit_split: tuple[Dataset, Dataset],
) -> None:
    again = digits(seed=0)
    other = digits(seed=1)
    assert again == digit_split
    assert other[1].X != digit_split[1].X
    assert sorted(other[1].y) == sorted(digit_split[1].y)  # same class counts, other images


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.2, 1.5, float("nan"), True, "0.2", 0.001])
def test_digits_bad_test_fraction_names_it(fraction: object) -> None:
    with pytest.raises(ValueError, match=r"test_fraction.*" + re.escape(repr(fraction))):
        digits(test_fraction=fraction)  # type: ignore[arg-type]


def test_digits_without_scikit_learn_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(sys.modules):
        if name == "sklearn" or name.startswith("sklearn."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sklearn", None)  # None in sys.modules: import fails
    with pytest.raises(ImportError, match=re.escape('pip install "microgrboard[data]"')):
        digits()


def test_one_hot_rows_and_bad_labels() -> None:
    assert one_hot([2, 0, 1], classes=3) == [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    assert one_hot([], classes=10) == []
    rows = one_hot(list(range(10)), classes=10)
    assert all(sum(row) == 1.0 and row[k] == 1.0 for k, row in enumerate(rows))
    with pytest.raises(ValueError, match=r"labels\[1\].*\[0, 10\).*10"):
        one_hot([3, 10], classes=10)
    with pytest.raises(ValueError, match=r"labels\[0\].*-1"):
        one_hot([-1], classes=10)
    with pytest.raises(ValueError, match="classes"):
        one_hot([0], classes=0)
