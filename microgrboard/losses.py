"""Loss functions and output layers built from :class:`~microgrboard.Value` operations.

Every loss returns one Value (the mean over the batch), so ``loss.backward()``
fills the gradients of everything it was computed from. The cross-entropies take
*logits* (raw scores) and are arranged so that no intermediate can overflow or
take ``log(0)``, however large the scores get.

>>> from microgrboard import Value
>>> round(mse([Value(2.0), Value(0.0)], [1.0, 0.0]).data, 6)
0.5
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from microgrboard.core import Value

Scalar = Value | int | float


def _value(x: Scalar) -> Value:
    return x if isinstance(x, Value) else Value(x)


def _check_pairs(name: str, outputs: Sequence[object], targets: Sequence[object]) -> None:
    if isinstance(outputs, (Value, int, float)) or isinstance(targets, (Value, int, float)):
        raise TypeError(f"{name} takes sequences (one entry per sample), not single numbers")
    if len(outputs) != len(targets):
        raise ValueError(
            f"{name}: {len(outputs)} predictions but {len(targets)} targets (must match)"
        )
    if not outputs:
        raise ValueError(f"{name}: empty batch (no samples to average over)")


def _mean(terms: list[Value]) -> Value:
    return sum(terms[1:], terms[0]) / len(terms)


def _target(x: object) -> float:
    return x.data if isinstance(x, Value) else float(x)  # type: ignore[arg-type]


def mse(predictions: Sequence[Scalar], targets: Sequence[Scalar]) -> Value:
    """Mean squared error: mean((prediction - target)²)."""
    _check_pairs("mse", predictions, targets)
    return _mean([(_value(p) - t) ** 2 for p, t in zip(predictions, targets, strict=True)])


def hinge_loss(scores: Sequence[Scalar], labels: Sequence[int]) -> Value:
    """Max-margin (hinge) loss for labels ±1: mean(relu(1 - label · score)), as in micrograd.

    A sample costs nothing once its score is on the right side with margin 1.
    """
    _check_pairs("hinge_loss", scores, labels)
    bad = [y for y in labels if y not in (-1, 1)]
    if bad:
        raise ValueError(f"hinge_loss labels must be -1 or +1, got {bad[:5]}")
    return _mean([(1 - y * _value(s)).relu() for s, y in zip(scores, labels, strict=True)])


def softplus(x: Scalar) -> Value:
    """log(1 + eˣ), computed without overflow: x + log(1 + e⁻ˣ) for x ≥ 0.

    Its derivative is sigmoid(x) on both branches, so the gradient is exact at 0 too.
    Below about x = -37, 1 + eˣ rounds to 1 and the value comes out as 0.0 (the true
    value, about eˣ, is under 1e-16; the engine has no log1p); the gradient there is
    still sigmoid(x), to full precision.
    """
    x = _value(x)
    if x.data >= 0:
        return x + (1 + (-x).exp()).log()  # e^-x <= 1: cannot overflow
    return (1 + x.exp()).log()


def binary_cross_entropy_with_logits(logits: Sequence[Scalar], targets: Sequence[float]) -> Value:
    """Binary cross-entropy on logits z and targets t in [0, 1], mean over the batch.

    -t·log σ(z) - (1 - t)·log(1 - σ(z)) = softplus(z) - t·z, with no log(0) even
    for ``|z|`` in the thousands. Its gradient is σ(z) - t.

    >>> round(binary_cross_entropy_with_logits([Value(0.0)], [1]).data, 6)  # log 2
    0.693147
    """
    _check_pairs("binary_cross_entropy_with_logits", logits, targets)
    bad = [t for t in targets if not 0 <= _target(t) <= 1]
    if bad:
        raise ValueError(
            f"binary_cross_entropy_with_logits targets must be in [0, 1], got {bad[:5]}"
        )
    return _mean([softplus(z) - _value(z) * t for z, t in zip(logits, targets, strict=True)])


def _max_data(logits: Sequence[Scalar]) -> float:
    # A constant, not a Value: shifting every logit by the same number changes
    # neither softmax nor its gradient, and exp(z - max) <= 1 never overflows.
    return max(_target(z) for z in logits)


def softmax(logits: Sequence[Scalar]) -> list[Value]:
    """exp(zᵢ) / Σⱼ exp(zⱼ), shifted by max(z) so no exponential overflows.

    >>> [round(p.data, 4) for p in softmax([Value(1.0), Value(2.0), Value(3.0)])]
    [0.09, 0.2447, 0.6652]
    """
    if isinstance(logits, (Value, int, float)) or not logits:
        raise ValueError("softmax takes a non-empty sequence of logits")
    shift = _max_data(logits)
    exps = [(_value(z) - shift).exp() for z in logits]
    total = sum(exps[1:], exps[0])
    return [e / total for e in exps]


def log_sum_exp(logits: Sequence[Scalar]) -> Value:
    """log Σ exp(zᵢ), as m + log Σ exp(zᵢ - m) with m = max(z): stable for any size."""
    if isinstance(logits, (Value, int, float)) or not logits:
        raise ValueError("log_sum_exp takes a non-empty sequence of logits")
    shift = _max_data(logits)
    exps = [(_value(z) - shift).exp() for z in logits]
    return sum(exps[1:], exps[0]).log() + shift  # the sum is >= 1: log is safe


def softmax_cross_entropy(
    logits: Sequence[Sequence[Scalar]], targets: Sequence[int]
) -> Value:
    """Cross-entropy of softmax(logits) against class indices, mean over the batch.

    For one sample: -log softmax(z)[k] = log Σ exp(zⱼ) - z_k (no probability is
    formed, so none can round to 0). Its gradient is softmax(z) - onehot(k).

    >>> round(softmax_cross_entropy([[Value(0.0), Value(0.0)]], [1]).data, 6)  # log 2
    0.693147
    """
    _check_pairs("softmax_cross_entropy", logits, targets)
    terms = []
    for row, k in zip(logits, targets, strict=True):
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < len(row):
            raise ValueError(
                f"softmax_cross_entropy target must be a class index in [0, {len(row)}), "
                f"got {k!r}"
            )
        terms.append(log_sum_exp(row) - row[k])
    return _mean(terms)


def l2_regularization(parameters: Iterable[Value], alpha: float = 1e-4) -> Value:
    """alpha · Σ p², the penalty micrograd's demo adds to its loss (alpha = 1e-4)."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha >= 0:
        raise ValueError(f"alpha must be a non-negative number, got {alpha!r}")
    params = list(parameters)
    if not params:
        raise ValueError("l2_regularization: empty parameter list")
    return alpha * sum((p * p for p in params), Value(0.0))


__all__ = [
    "binary_cross_entropy_with_logits",
    "hinge_loss",
    "l2_regularization",
    "log_sum_exp",
    "mse",
    "softmax",
    "softmax_cross_entropy",
    "softplus",
]
