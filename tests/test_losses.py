"""Losses and output layers: known values, and gradients against numerical derivatives."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from microgrboard.core import Value
from microgrboard.losses import (
    binary_cross_entropy_with_logits,
    hinge_loss,
    l2_regularization,
    log_sum_exp,
    mse,
    softmax,
    softmax_cross_entropy,
    softplus,
)
from microgrboard.testing import gradcheck

moderate = st.floats(-20, 20, allow_nan=False, allow_infinity=False)
large = st.floats(-5e3, 5e3, allow_nan=False, allow_infinity=False)
either = moderate | large
unit = st.floats(0, 1, allow_nan=False)


def naive_bce(z: float, t: float) -> float:
    """The textbook -t·log σ(z) - (1 - t)·log(1 - σ(z)), for moderate logits.

    Written with -log σ(z) = log(1 + e⁻ᶻ) and -log(1 - σ(z)) = log(1 + eᶻ), so that
    1 - σ(z) is never formed (it cancels to 0 digits for z = 20 and beyond).
    """
    return t * math.log1p(math.exp(-z)) + (1 - t) * math.log1p(math.exp(z))


def naive_log_sum_exp(z: list[float]) -> float:
    return math.log(sum(math.exp(v) for v in z))


# --- mean squared error -----------------------------------------------------------------


def test_mse_value_and_gradient_by_hand() -> None:
    p = [Value(3.0), Value(-1.0)]
    loss = mse(p, [1.0, 0.0])  # ((3-1)² + (-1-0)²) / 2 = 2.5
    loss.backward()
    assert loss.data == 2.5
    assert [v.grad for v in p] == [2.0, -1.0]  # 2(p - t)/n


@given(st.lists(st.tuples(either, either), min_size=1, max_size=5))
def test_mse_gradcheck(pairs: list[tuple[float, float]]) -> None:
    targets = [t for _, t in pairs]
    # A quadratic: central differences are exact for any step but for rounding, and
    # a wider step keeps the rounding of a large total small next to a tiny slope.
    assert gradcheck(lambda *ps: mse(list(ps), targets), [p for p, _ in pairs], eps=1e-3)


# --- max-margin (hinge) ------------------------------------------------------------------


def test_hinge_loss_matches_micrograds_formula() -> None:
    scores = [Value(2.0), Value(0.5), Value(-0.25)]
    loss = hinge_loss(scores, [1, 1, -1])  # relu(1-2) + relu(1-0.5) + relu(1-0.25), / 3
    loss.backward()
    assert loss.data == pytest.approx((0 + 0.5 + 0.75) / 3)
    assert [s.grad for s in scores] == pytest.approx([0.0, -1 / 3, 1 / 3])


@given(st.lists(st.tuples(either, st.sampled_from([-1, 1])), min_size=1, max_size=5))
def test_hinge_gradcheck(samples: list[tuple[float, int]]) -> None:
    assume(all(abs(1 - y * s) > 1e-3 * max(1.0, abs(s)) for s, y in samples))  # off the kink
    labels = [y for _, y in samples]
    assert gradcheck(lambda *ss: hinge_loss(list(ss), labels), [s for s, _ in samples])


# --- binary cross-entropy from logits ------------------------------------------------------


@given(moderate, unit)
def test_bce_with_logits_matches_textbook_formula(z: float, t: float) -> None:
    got = binary_cross_entropy_with_logits([Value(z)], [t]).data
    assert got == pytest.approx(naive_bce(z, t), rel=1e-9, abs=1e-9)


@given(st.lists(st.tuples(either, unit), min_size=1, max_size=4))
def test_bce_with_logits_gradcheck(samples: list[tuple[float, float]]) -> None:
    targets = [t for _, t in samples]
    assert gradcheck(
        lambda *zs: binary_cross_entropy_with_logits(list(zs), targets), [z for z, _ in samples]
    )


@pytest.mark.parametrize("z", [-1e4, -800.0, -40.0, 0.0, 40.0, 800.0, 1e4])
@pytest.mark.parametrize("t", [0.0, 1.0])
def test_bce_with_logits_is_stable_and_its_gradient_is_sigmoid_minus_target(
    z: float, t: float
) -> None:
    logit = Value(z)
    loss = binary_cross_entropy_with_logits([logit], [t])
    loss.backward()
    # softplus(z) - t·z: for large |z| that is max(z, 0) - t·z (+ a vanishing term)
    assert math.isfinite(loss.data)
    assert loss.data == pytest.approx(max(z, 0.0) - t * z + math.log1p(math.exp(-abs(z))))
    sigmoid = 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))
    assert logit.grad == pytest.approx(sigmoid - t, abs=1e-12)


def test_softplus_gradient_at_zero_is_one_half() -> None:
    x = Value(0.0)
    softplus(x).backward()
    assert x.grad == 0.5


def test_softplus_far_below_zero_is_zero_with_an_exact_gradient() -> None:
    x = Value(-40.0)
    y = softplus(x)
    y.backward()
    assert y.data == 0.0  # as documented: log(1 + e⁻⁴⁰) rounds to log(1)
    assert x.grad == pytest.approx(math.exp(-40) / (1 + math.exp(-40)), rel=1e-12)


# --- softmax and softmax cross-entropy --------------------------------------------------------


@given(st.lists(moderate, min_size=1, max_size=5))
def test_softmax_matches_definition(z: list[float]) -> None:
    probabilities = [p.data for p in softmax([Value(v) for v in z])]
    total = sum(math.exp(v) for v in z)
    assert probabilities == pytest.approx([math.exp(v) / total for v in z], rel=1e-9, abs=1e-12)
    assert sum(probabilities) == pytest.approx(1.0)


def test_softmax_does_not_overflow() -> None:
    probabilities = softmax([Value(1000.0), Value(1000.0), Value(-1000.0)])
    assert [p.data for p in probabilities] == pytest.approx([0.5, 0.5, 0.0])


@given(st.lists(either, min_size=2, max_size=4), st.lists(moderate, min_size=4, max_size=4))
def test_softmax_gradcheck(z: list[float], weights: list[float]) -> None:
    def weighted(*zs: Value) -> Value:  # a scalar that depends on every output
        outs = softmax(list(zs))
        return sum((w * o for w, o in zip(weights, outs)), Value(0.0))

    assert gradcheck(weighted, z)


@given(st.lists(moderate, min_size=1, max_size=5))
def test_log_sum_exp_matches_definition(z: list[float]) -> None:
    assert log_sum_exp([Value(v) for v in z]).data == pytest.approx(naive_log_sum_exp(z))


@given(st.lists(either, min_size=2, max_size=4), st.data())
def test_softmax_cross_entropy_gradcheck(z: list[float], data: st.DataObject) -> None:
    k = data.draw(st.integers(0, len(z) - 1))
    assert gradcheck(lambda *zs: softmax_cross_entropy([list(zs)], [k]), z)


def test_softmax_cross_entropy_value_gradient_and_large_logits() -> None:
    z = [Value(1.0), Value(2.0), Value(3.0)]
    loss = softmax_cross_entropy([z], [0])
    loss.backward()
    assert loss.data == pytest.approx(naive_log_sum_exp([1.0, 2.0, 3.0]) - 1.0)
    total = sum(math.exp(v) for v in (1.0, 2.0, 3.0))
    expected = [math.exp(1) / total - 1, math.exp(2) / total, math.exp(3) / total]
    assert [v.grad for v in z] == pytest.approx(expected)  # softmax - onehot

    big = [Value(-3000.0), Value(3000.0)]
    loss = softmax_cross_entropy([big], [0])  # a naive log(softmax) would be log(0)
    loss.backward()
    assert loss.data == pytest.approx(6000.0)
    assert [v.grad for v in big] == pytest.approx([-1.0, 1.0])


def test_softmax_cross_entropy_averages_over_the_batch() -> None:
    rows = [[Value(0.0), Value(0.0)], [Value(0.0), Value(math.log(3))]]
    loss = softmax_cross_entropy(rows, [1, 1])  # (log 2 + log(4/3)) / 2
    assert loss.data == pytest.approx((math.log(2) + math.log(4 / 3)) / 2)


# --- L2 ------------------------------------------------------------------------------


def test_l2_regularization_value_and_gradient() -> None:
    params = [Value(1.0), Value(-2.0), Value(3.0)]
    penalty = l2_regularization(params, alpha=0.5)  # 0.5 · (1 + 4 + 9)
    penalty.backward()
    assert penalty.data == 7.0
    assert [p.grad for p in params] == [1.0, -2.0, 3.0]  # 2·alpha·p


@given(st.lists(either, min_size=1, max_size=5))
def test_l2_gradcheck(values: list[float]) -> None:
    assert gradcheck(lambda *ps: l2_regularization(ps, alpha=1e-4), values, eps=1e-3)


# --- bad input ------------------------------------------------------------------------------


def test_bad_inputs_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="2 predictions but 1 targets"):
        mse([Value(1.0), Value(2.0)], [1.0])
    with pytest.raises(ValueError, match="empty batch"):
        hinge_loss([], [])
    with pytest.raises(ValueError, match="-1 or \\+1"):
        hinge_loss([Value(1.0)], [0])
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        binary_cross_entropy_with_logits([Value(1.0)], [2.0])
    with pytest.raises(ValueError, match="class index"):
        softmax_cross_entropy([[Value(1.0), Value(2.0)]], [2])
    with pytest.raises(ValueError, match="non-empty"):
        softmax([])
    with pytest.raises(ValueError, match="alpha"):
        l2_regularization([Value(1.0)], alpha=-1.0)
    with pytest.raises(TypeError, match="sequences"):
        mse(Value(1.0), 1.0)  # type: ignore[arg-type]
