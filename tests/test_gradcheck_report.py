"""The book's per-group gradient report: small for a correct gradient, large for a planted bug."""

from __future__ import annotations

import pytest

from microgrboard.core import Value
from microgrboard.gradcheck_report import gradient_report, parameter_group
from microgrboard.losses import softmax_cross_entropy
from microgrboard.nn import MLP, Module

X = [(0.5, -1.0, 0.25), (1.5, 0.5, -0.75), (-0.25, 0.75, 1.0)]
Y = [2, 0, 1]


def cross_entropy(model: MLP) -> Value:
    return softmax_cross_entropy([model(x) for x in X], Y)  # type: ignore[misc]


def test_parameter_groups_are_a_layers_weights_and_biases() -> None:
    assert parameter_group("L0.N3.w12") == "L0.w"
    assert parameter_group("L1.N0.b") == "L1.b"
    assert parameter_group("encoder.L2.N4.w0") == "encoder.L2.w"
    assert parameter_group("scale") == "scale"
    assert parameter_group("w7") == "w"


def test_a_correct_network_reports_tiny_differences_for_every_group() -> None:
    model = MLP(3, [4, 3], activation="tanh", seed=0)
    before = [(p.data, p.grad) for p in model.parameters()]
    report = gradient_report(model, lambda: cross_entropy(model))
    assert list(report.mean) == ["L0.w", "L0.b", "L1.w", "L1.b"]
    assert report.checked == {"L0.w": 12, "L0.b": 4, "L1.w": 12, "L1.b": 3}
    assert report.worst < 1e-8
    assert all(0 <= report[g] <= report.largest[g] for g in report.mean)
    assert [(p.data, p.grad) for p in model.parameters()] == before  # nothing left changed
    text = str(report)
    assert text.startswith("L0.w: ") and text.count(", ") == 3 and "e-" in text


def test_a_planted_wrong_gradient_shows_up_in_its_group_only() -> None:
    model = MLP(3, [4, 3], activation="tanh", seed=0)
    hidden_bias = model.layers[0].neurons[1].b

    def buggy() -> Value:
        # The classic bug: a term computed from .data is a constant to backward(),
        # so d/db of 0.3·b is missing from backprop but not from the numerical side.
        return cross_entropy(model) + 0.3 * hidden_bias.data

    report = gradient_report(model, buggy)
    # One of the 4 biases in L0.b is off by 0.3: the mean is 0.3 / 4.
    assert report["L0.b"] == pytest.approx(0.3 / 4, rel=1e-4)
    assert report.largest["L0.b"] == pytest.approx(0.3, rel=1e-4)
    assert max(report[g] for g in ("L0.w", "L1.w", "L1.b")) < 1e-8


def test_known_difference_on_named_values_and_a_list() -> None:
    a, b = Value(1.5, "a"), Value(-2.0, "b")
    report = gradient_report({"a": a, "b": b}, lambda: a * a + b.data * b.data + a * b)
    # d/da = 2a + b both ways; d/db = a by backprop, a + 2b numerically: |2b| = 4.
    assert report["a"] < 1e-8
    assert report["b"] == pytest.approx(4.0, rel=1e-6)
    assert gradient_report([a, b], lambda: a * b).checked == {"a": 1, "b": 1}


def test_per_group_checks_a_seeded_sample_of_each_group() -> None:
    model = MLP(3, [4, 3], seed=1)
    calls = []

    def loss() -> Value:
        calls.append(1)
        return cross_entropy(model)

    report = gradient_report(model, loss, per_group=2, seed=5)
    assert report.checked == {"L0.w": 2, "L0.b": 2, "L1.w": 2, "L1.b": 2}
    assert len(calls) == 2 * 8 + 1  # two evaluations per checked parameter, one backward
    again = gradient_report(model, lambda: cross_entropy(model), per_group=2, seed=5)
    assert again == report


def test_bad_arguments_are_named() -> None:
    model = MLP(3, [2], seed=0)
    with pytest.raises(ValueError, match="per_group.*0"):
        gradient_report(model, lambda: cross_entropy(model), per_group=0)
    with pytest.raises(ValueError, match="eps.*-1"):
        gradient_report(model, lambda: cross_entropy(model), eps=-1)
    with pytest.raises(TypeError, match="must return a Value, got float"):
        gradient_report(model, lambda: 1.0)  # type: ignore[arg-type, return-value]
    with pytest.raises(TypeError, match="takes a Module"):
        gradient_report(3, lambda: Value(1.0))

    class Empty(Module):
        def __call__(self) -> Value:
            return Value(1.0)

    with pytest.raises(ValueError, match="no parameters"):
        gradient_report(Empty(), lambda: Value(1.0))
