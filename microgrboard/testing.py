"""Gradient checking for tests and for users: numerical derivatives and hypothesis strategies.

:func:`gradcheck` compares the engine's gradients with central differences::

    f'(x) ≈ (f(x + h) - f(x - h)) / 2h,   h = eps · max(1, |x|),

whose error shrinks like h², and reports every input that disagrees. It costs two
evaluations of ``f`` per input — the reason back-propagation (one backward pass
for all inputs) is what training uses, and this only checks it.

:func:`expressions` is a hypothesis strategy of random differentiable formulas
over a few inputs, built so that no input lands on a kink (``relu``/``abs`` at 0)
or a domain edge (``log``/``sqrt`` of a non-positive number, division by zero).
hypothesis is imported only when a strategy is asked for.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from microgrboard.core import Value, no_grad, topological_order

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

Input: TypeAlias = Value | int | float


class GradcheckError(AssertionError):
    """Back-propagated and numerical gradients disagree (the message lists where)."""


def _as_leaves(inputs: Sequence[Input]) -> list[Value]:
    if isinstance(inputs, (Value, int, float)):
        inputs = [inputs]
    # Values are used (and perturbed in place, then restored) as given, so `f` may
    # refer to them directly, e.g. a model's parameters; numbers become new leaves.
    return [x if isinstance(x, Value) else Value(x, f"x{i}") for i, x in enumerate(inputs)]


def _call(f: Callable[..., Value], leaves: Sequence[Value]) -> Value:
    out = f(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"the checked function must return a Value, got {type(out).__name__}")
    return out


def numerical_gradient(
    f: Callable[..., Value], inputs: Sequence[Input], eps: float = 1e-6
) -> list[float]:
    """Central-difference estimate of ``d f(*inputs) / d input``, for each input."""
    leaves = _as_leaves(inputs)
    estimates = []
    # Not under no_grad(): `f` may itself call grad() (checking a second derivative).
    for x in leaves:
        original = x.data
        h = eps * max(1.0, abs(original))
        try:
            x.data = original + h
            above = _call(f, leaves).data
            x.data = original - h
            below = _call(f, leaves).data
        finally:
            x.data = original
        estimates.append((above - below) / (2 * h))
    return estimates


def _backpropagated_gradient(f: Callable[..., Value], leaves: Sequence[Value]) -> list[float]:
    """d f / d leaf through ``backward()`` (the path training uses), restoring every ``.grad``."""
    out = _call(f, leaves)
    nodes = [*topological_order(out), *leaves]
    saved = [node.grad for node in nodes]
    try:
        for node in nodes:
            node.grad = 0.0
        out.backward()
        return [x.grad for x in leaves]
    finally:
        for node, g in zip(nodes, saved):
            node.grad = g


def gradcheck(
    f: Callable[..., Value],
    inputs: Sequence[Input],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """Check ``backward()``'s gradients of ``f(*inputs)`` against numerical ones.

    Returns True when, for every input, ``|backprop - numerical| <= atol + rtol·|numerical|``;
    otherwise raises :class:`GradcheckError` listing each mismatching input with both
    values. ``inputs`` are numbers or Values; the ``.grad`` fields are left untouched.

    >>> gradcheck(lambda x, y: (x * y).tanh() + x.exp(), [0.5, -1.5])
    True
    """
    leaves = _as_leaves(inputs)
    analytic = _backpropagated_gradient(f, leaves)
    numeric = numerical_gradient(f, leaves, eps)
    mismatches = []
    for i, (x, a, n) in enumerate(zip(leaves, analytic, numeric)):
        if not abs(a - n) <= atol + rtol * abs(n):  # `not <=` also catches nan
            name = x.label or f"input {i}"
            mismatches.append(
                f"  {name} = {x.data!r}: backprop {a!r}, numerical {n!r}, "
                f"difference {abs(a - n):.3g}"
            )
    if mismatches:
        raise GradcheckError(
            f"gradients disagree at {len(mismatches)} of {len(leaves)} inputs "
            f"(atol={atol}, rtol={rtol}, eps={eps}):\n" + "\n".join(mismatches)
        )
    return True


# --- random differentiable expressions (hypothesis) --------------------------------

# An expression tree: ("x", i) an input, ("c", value) a constant, (op, child) or
# (op, left, right). Unary ops are wrapped so that their argument stays in their
# domain, whatever the child evaluates to.
Tree = tuple[Any, ...]

UNARY_OPS = ("neg", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs", "sin", "cos",
             "square", "cube", "power", "rpow")
BINARY_OPS = ("+", "-", "*", "/", "**")


def _apply(op: str, args: list[Value]) -> Value:
    if op == "+":
        return args[0] + args[1]
    if op == "-":
        return args[0] - args[1]
    if op == "*":
        return args[0] * args[1]
    if op == "/":
        return args[0] / (args[1] * args[1] + 0.5)  # denominator >= 0.5
    if op == "**":
        return (args[0] * args[0] + 0.5) ** args[1].tanh()  # positive base, tame exponent
    x = args[0]
    if op == "neg":
        return -x
    if op == "exp":
        return x.tanh().exp()  # bounded: no overflow however deep
    if op == "log":
        return (x * x + 0.5).log()
    if op == "sqrt":
        return (x * x + 0.5).sqrt()
    if op == "square":
        return x**2
    if op == "cube":
        return x.tanh() ** 3
    if op == "power":
        return (x * x + 0.5) ** 1.5  # a constant, non-integer exponent
    if op == "rpow":
        return 2 ** x.tanh()
    method: Callable[[], Value] = getattr(x, op)  # tanh, sigmoid, relu, abs, sin, cos
    return method()


_TEXT = {"+": "({} + {})", "-": "({} - {})", "*": "({} * {})", "/": "({} / ({}² + 0.5))",
         "**": "(({}² + 0.5) ** tanh({}))", "neg": "-{}", "exp": "exp(tanh({}))",
         "log": "log({}² + 0.5)", "sqrt": "sqrt({}² + 0.5)", "square": "{}**2",
         "cube": "tanh({})**3", "power": "({}² + 0.5)**1.5", "rpow": "2**tanh({})"}


@dataclass(frozen=True)
class Expression:
    """A random formula over ``len(inputs)`` variables, with a point to evaluate it at.

    Call it with Values: ``expr(*leaves)``; ``str(expr)`` reads as the formula.
    """

    tree: Tree
    inputs: tuple[float, ...]

    def __call__(self, *xs: Value) -> Value:
        return self._evaluate(self.tree, xs)

    def _evaluate(self, tree: Tree, xs: Sequence[Value]) -> Value:
        kind = tree[0]
        if kind == "x":
            return xs[tree[1]]
        if kind == "c":
            return Value(tree[1])
        return _apply(kind, [self._evaluate(child, xs) for child in tree[1:]])

    def has_variable(self) -> bool:
        """Whether any input appears (a formula of constants checks nothing)."""
        pending = [self.tree]
        while pending:
            tree = pending.pop()
            if tree[0] == "x":
                return True
            if tree[0] != "c":
                pending.extend(tree[1:])
        return False

    def kink_distance(self) -> float:
        """How close any relu/abs argument comes to its kink at 0, at ``inputs``."""
        closest = math.inf

        def walk(tree: Tree, xs: Sequence[Value]) -> Value:
            nonlocal closest
            kind = tree[0]
            if kind == "x":
                return xs[tree[1]]
            if kind == "c":
                return Value(tree[1])
            children = [walk(child, xs) for child in tree[1:]]
            if kind in ("relu", "abs"):
                closest = min(closest, abs(children[0].data))
            return _apply(kind, children)

        with no_grad():
            walk(self.tree, [Value(x) for x in self.inputs])
        return closest

    def __str__(self) -> str:
        return self._text(self.tree)

    def _text(self, tree: Tree) -> str:
        kind: str = tree[0]
        if kind == "x":
            return f"x{tree[1]}"
        if kind == "c":
            return repr(tree[1])
        parts = [self._text(child) for child in tree[1:]]
        return _TEXT.get(kind, kind + "({})").format(*parts)

    def __repr__(self) -> str:
        return f"Expression({self}, inputs={list(self.inputs)})"


def finite_floats(low: float = -2.0, high: float = 2.0) -> SearchStrategy[float]:
    """Floats in [low, high], no nan or infinity."""
    from hypothesis import strategies as st

    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def expressions(
    n_inputs: int = 2,
    max_depth: int = 4,
    low: float = -2.0,
    high: float = 2.0,
    kink_margin: float = 1e-3,
) -> SearchStrategy[Expression]:
    """Random differentiable expressions over ``n_inputs`` variables, with a point.

    Each has at least one variable and at most ``2 ** max_depth`` leaves (so a
    balanced tree is at most ``max_depth`` deep); the point's coordinates lie in
    ``[low, high]``.

    Every op of the engine appears, each wrapped so that its argument stays inside
    its domain (``log(u² + 0.5)``, ``a / (b² + 0.5)``, ``exp(tanh(u))``...); points
    within ``kink_margin`` of a relu/abs kink are rejected. Use it in your
    own property tests::

        @given(expressions())
        def test_backprop_matches_numerical(expr):
            assert gradcheck(expr, expr.inputs)
    """
    from hypothesis import strategies as st

    def extend(children: SearchStrategy[Tree]) -> SearchStrategy[Tree]:
        unary = st.tuples(st.sampled_from(UNARY_OPS), children)
        binary = st.tuples(st.sampled_from(BINARY_OPS), children, children)
        return unary | binary

    variable = st.tuples(st.just("x"), st.integers(0, n_inputs - 1))
    constant = st.tuples(st.just("c"), st.sampled_from([0.5, 1.0, 2.0, -1.5, 3.0]))
    leaves = st.one_of(variable, variable, variable, constant)  # mostly variables
    trees = st.recursive(leaves, extend, max_leaves=2**max_depth)
    points = st.tuples(*[finite_floats(low, high)] * n_inputs)
    return st.builds(Expression, trees, points).filter(
        lambda e: e.has_variable() and e.kink_distance() > kink_margin
    )
