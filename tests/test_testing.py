"""microgrboard.testing: gradcheck catches wrong gradients; expressions() feeds property tests."""

import math
import re

import pytest
from hypothesis import given, settings

from microgrboard import Value, grad
from microgrboard.core import DERIVATIVES, OPS, POSITIVE, Op
from microgrboard.testing import (
    Expression,
    GradcheckError,
    expressions,
    gradcheck,
    numerical_gradient,
)


def test_numerical_gradient_of_a_known_function():
    estimate = numerical_gradient(lambda x, y: x * x * y, [3.0, 2.0])
    assert estimate == pytest.approx([12.0, 9.0], rel=1e-7)


def test_gradcheck_passes_a_correct_rule():
    assert gradcheck(lambda x: x.tanh() * x, [0.7]) is True


def test_gradcheck_reports_each_wrong_input_with_both_values(monkeypatch):
    monkeypatch.setitem(DERIVATIVES, "tanh", lambda g, out, x: g * out)  # a wrong rule
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda x, y: x.tanh() + y, [Value(0.5, "w"), 2.0])
    message = str(caught.value)
    assert "1 of 2 inputs" in message
    wrong = math.tanh(0.5)  # what the broken rule gives: g * tanh(0.5)
    right = 1 - math.tanh(0.5) ** 2
    line = next(line for line in message.splitlines() if "w = 0.5" in line)
    numbers = [float(n) for n in re.findall(r"(?:backprop|numerical) (-?[\d.e-]+)", line)]
    assert numbers[0] == pytest.approx(wrong) and numbers[1] == pytest.approx(right, rel=1e-6)


def test_gradcheck_restores_inputs_and_leaves_grads_alone():
    x, other = Value(1.5), Value(2.0)
    x.grad, other.grad = 0.25, 0.5
    gradcheck(lambda v: v**3 * other, [x])
    assert x.data == 1.5 and x.grad == 0.25 and other.grad == 0.5


def test_gradcheck_wants_a_value_back():
    with pytest.raises(TypeError, match="must return a Value"):
        gradcheck(lambda x: 3.0, [1.0])


@given(expressions())
def test_random_expressions_backprop_matches_central_differences(expr):
    assert gradcheck(expr, expr.inputs)


@given(expressions())
def test_grad_function_agrees_with_backward(expr):
    leaves = [Value(x) for x in expr.inputs]
    out = expr(*leaves)
    by_function = [g.data for g in grad(out, leaves, allow_unused=True)]
    by_graph = [g.data for g in grad(out, leaves, create_graph=True, allow_unused=True)]
    out.backward()
    assert by_function == pytest.approx([x.grad for x in leaves], rel=1e-12, abs=1e-12)
    assert by_graph == pytest.approx(by_function, rel=1e-12, abs=1e-12)


@given(expressions(n_inputs=2, max_depth=3))
def test_random_expressions_second_derivatives(expr):
    def first_derivative(*xs):
        return grad(expr(*xs), [xs[0]], create_graph=True, allow_unused=True)[0]

    assert gradcheck(first_derivative, expr.inputs, atol=1e-4, rtol=1e-3)


def test_expressions_read_as_formulas():
    expr = Expression(("log", ("*", ("x", 0), ("c", 2.0))), (1.0,))
    assert str(expr) == "log((x0 * 2.0)² + 0.5)"
    x = Value(1.0)
    assert expr(x).data == pytest.approx(Value(4.5).log().data)


@given(expressions(n_inputs=3))
def test_expressions_always_involve_a_variable(expr):
    assert expr.has_variable()
    assert len(expr.inputs) == 3 and all(-2.0 <= x <= 2.0 for x in expr.inputs)


def test_a_formula_of_constants_has_no_variable():
    assert not Expression(("exp", ("c", 1.0)), (0.0,)).has_variable()


def _ops(tree):
    if tree[0] in ("x", "c"):
        return set()
    return {tree[0]}.union(*(_ops(a) for a in tree[1:] if isinstance(a, tuple)))


def _ops_sampled(strategy, examples=300):
    seen = set()

    @settings(max_examples=examples, database=None, derandomize=True)
    @given(strategy)
    def collect(expr):
        seen.update(_ops(expr.tree))

    collect()
    return seen


def test_expressions_cover_every_declared_op():
    assert _ops_sampled(expressions()) == set(OPS)


def test_a_newly_declared_op_is_sampled_inside_its_domain(monkeypatch):
    # One declaration is all the strategies need: here a square root, declared for
    # positive arguments only (a negative one would make the call raise).
    calls = []

    def root(x):
        calls.append(x.data)
        return x.sqrt()

    monkeypatch.setitem(OPS, "root", Op("root", root, lambda g, out, x: g, (POSITIVE,)))
    assert "root" in _ops_sampled(expressions())
    assert calls and all(x >= 0.5 for x in calls)  # brought into the domain as u² + 0.5
    assert str(Expression(("root", ("x", 0)), (1.0,))) == "root(x0² + 0.5)"
