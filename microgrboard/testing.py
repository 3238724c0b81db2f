"""Gradient checking for tests and for users: numerical derivatives and hypothesis strategies.

:func:`gradcheck` compares the engine's gradients with central differences::

    f'(x) ≈ (f(x + h) - f(x - h)) / 2h,   h = eps · max(1, |x|),

whose error shrinks like h², and reports every input that disagrees. It costs two
evaluations of ``f`` per input — the reason back-propagation (one backward pass
for all inputs) is what training uses, and this only checks it.

:func:`expressions` is a hypothesis strategy of random differentiable formulas
over a few inputs, built from the engine's own op declarations
(``microgrboard.core.OPS``: each op's call, domain and kinks), so that no input
lands on a kink (``relu``/``abs`` at 0) or a domain edge (``log``/``sqrt`` of a
non-positive number, division by zero); a new op is covered once declared.
hypothesis is imported only when a strategy is asked for.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from microgrboard.core import (
    CONSTANT,
    MODERATE,
    NONZERO,
    OPS,
    POSITIVE,
    REAL,
    Op,
    Value,
    no_grad,
    topological_order,
)

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

# An expression tree: ("x", i) an input, ("c", value) a constant Value, or
# (op, *operands) for an op declared in ``microgrboard.core.OPS``, whose operands are
# trees (or plain floats where the op's domain says CONSTANT). Every operand is
# wrapped so that it lands inside its declared domain, whatever its subtree gives.
Tree = tuple[Any, ...]

# How an operand is brought into its domain: (function, how it reads).
_INTO_DOMAIN: dict[str, tuple[Callable[[Value], Value], str]] = {
    REAL: (lambda u: u, "{}"),
    POSITIVE: (lambda u: u * u + 0.5, "{}² + 0.5"),
    NONZERO: (lambda u: u * u + 0.5, "{}² + 0.5"),
    MODERATE: (lambda u: u.tanh(), "tanh({})"),  # |tanh| < 1: exp and powers stay small
}


def _domains(op: Op, operands: Sequence[object]) -> list[str]:
    """The declared domain of each operand of ``op`` in this call."""
    if op.variadic:
        return [op.domain[0]] * len(operands)
    if op.constants:  # the constant chosen decides the other operand's domain
        constant = next(a for a in operands if isinstance(a, float))
        return [CONSTANT if isinstance(a, float) else op.constants[constant] for a in operands]
    return list(op.domain)


def _apply(name: str, operands: list[Any]) -> tuple[Value, list[Any]]:
    """``name`` applied to ``operands`` brought into their domains; also returns those."""
    op = OPS[name]
    inside = [
        a if domain == CONSTANT else _INTO_DOMAIN[domain][0](a)
        for a, domain in zip(operands, _domains(op, operands))
    ]
    return op.call(*inside), inside


@dataclass(frozen=True)
class Expression:
    """A random formula over ``len(inputs)`` variables, with a point to evaluate it at.

    Call it with Values: ``expr(*leaves)``; ``str(expr)`` reads as the formula.
    """

    tree: Tree
    inputs: tuple[float, ...]

    def __call__(self, *xs: Value) -> Value:
        return self._evaluate(self.tree, xs, None)

    def _evaluate(self, tree: Tree, xs: Sequence[Value], kinks: list[float] | None) -> Value:
        """The tree's Value; appends to ``kinks`` each kinked op's distance from its kink."""
        kind = tree[0]
        if kind == "x":
            return xs[tree[1]]
        if kind == "c":
            return Value(tree[1])
        operands = [a if isinstance(a, float) else self._evaluate(a, xs, kinks) for a in tree[1:]]
        out, inside = _apply(kind, operands)
        if kinks is not None and OPS[kind].kinks:
            kinks.extend(abs(inside[0].data - k) for k in OPS[kind].kinks)
        return out

    def has_variable(self) -> bool:
        """Whether any input appears (a formula of constants checks nothing)."""
        pending = [self.tree]
        while pending:
            tree = pending.pop()
            if tree[0] == "x":
                return True
            if tree[0] != "c":
                pending.extend(a for a in tree[1:] if isinstance(a, tuple))
        return False

    def kink_distance(self) -> float:
        """How close the argument of any op with a kink (relu, abs) comes to it, at ``inputs``."""
        distances: list[float] = []
        with no_grad():
            self._evaluate(self.tree, [Value(x) for x in self.inputs], distances)
        return min(distances, default=math.inf)

    def __str__(self) -> str:
        return self._text(self.tree)[0]

    def _text(self, tree: Tree) -> tuple[str, bool]:
        """How ``tree`` reads, and whether that is atomic (needs no parentheses)."""
        kind: str = tree[0]
        if kind == "x":
            return f"x{tree[1]}", True
        if kind == "c":
            return repr(tree[1]), True
        op = OPS[kind]
        operands = list(tree[1:])
        parts = []
        for a, domain in zip(operands, _domains(op, operands)):
            if isinstance(a, float):
                parts.append((f"{a:g}", True))
                continue
            text, atomic = self._text(a)
            if domain != REAL:
                reads = _INTO_DOMAIN[domain][1]
                text, atomic = reads.format(text if atomic else f"({text})"), domain == MODERATE
            parts.append((text, atomic))
        if op.variadic:
            n = len(parts) // 2
            w, x = (", ".join(t for t, _ in parts[i * n : (i + 1) * n]) for i in (0, 1))
            return f"{kind}([{w}], [{x}], {parts[-1][0]})", True
        if not op.text:  # a function: its parentheses hold the argument
            return f"{kind}({', '.join(t for t, _ in parts)})", True
        texts = [t if atomic else f"({t})" for t, atomic in parts]
        return op.text.format(*texts), op.text.startswith("(") and op.text.endswith(")")

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

    Every op declared in ``microgrboard.core.OPS`` appears, each operand brought inside
    its declared domain (``log(u² + 0.5)``, ``a / (b² + 0.5)``, ``exp(tanh(u))``...);
    points within ``kink_margin`` of a kink (relu, abs) are rejected. Use it in your
    own property tests::

        @given(expressions())
        def test_backprop_matches_numerical(expr):
            assert gradcheck(expr, expr.inputs)
    """
    from hypothesis import strategies as st

    # Each op's shapes: its name and, per operand, None (a subtree) or a constant.
    shapes = {
        op.name: [(op.name, (None,) * (2 * k + 1)) for k in (1, 2, 3)]  # k weights, k inputs
        if op.variadic
        else [
            (op.name, tuple(c if d == CONSTANT else None for d in op.domain))
            for c in sorted(op.constants)
        ]
        if op.constants
        else [(op.name, (None,) * len(op.domain))]
        for op in OPS.values()
    }

    def extend(children: SearchStrategy[Tree]) -> SearchStrategy[Tree]:
        # Draw the op, then its operands (not one_of over every op's operands: its repr,
        # which hypothesis builds, would hold `children` once per op, at every level).
        def grow(shape: tuple[str, tuple[float | None, ...]]) -> SearchStrategy[Tree]:
            name, slots = shape
            operands = [children if c is None else st.just(c) for c in slots]
            return st.tuples(st.just(name), *operands)

        return st.sampled_from(sorted(shapes)).flatmap(
            lambda name: st.sampled_from(shapes[name]).flatmap(grow)
        )

    variable = st.tuples(st.just("x"), st.integers(0, n_inputs - 1))
    constant = st.tuples(st.just("c"), st.sampled_from([0.5, 1.0, 2.0, -1.5, 3.0]))
    leaves = st.one_of(variable, variable, variable, constant)  # mostly variables
    trees = st.recursive(leaves, extend, max_leaves=2**max_depth)
    points = st.tuples(*[finite_floats(low, high)] * n_inputs)
    return st.builds(Expression, trees, points).filter(
        lambda e: e.has_variable() and e.kink_distance() > kink_margin
    )
