"""The engine: scalar :class:`Value` nodes and reverse-mode differentiation.

Each operation computes its forward value and records ``(parents, op)`` on the
new node. Its *local derivative* is a small function registered right beside it
in ``DERIVATIVES``: given the upstream gradient ``g``, the node's output and its
inputs, it returns ``g * d(out)/d(input)`` for each input.

Those rules are written with plain arithmetic, so the same rule runs on floats
(the fast path of :meth:`Value.backward`) and on Values (``grad(...,
create_graph=True)``, which builds a differentiable graph of the gradient and so
gives second derivatives for free).

Why no closures (micrograd keeps a ``_backward`` closure per node)? A closure
that refers to its own node makes a reference cycle, so every node of every
step waits for the cyclic garbage collector, which rescans them again and
again. Plain ``__slots__`` nodes and a shared table of rules have no cycles and
are freed the moment the last reference goes. For the same reason a node keeps its
(at most two) inputs in two slots, ``_a`` and ``_b``, rather than in a tuple: one
object per node instead of two halves both the memory and the collector's work.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, TypeAlias, Union

Number: TypeAlias = int | float
Operand: TypeAlias = Union["Value", int, float]

class _Rules(dict[str, Callable[..., Any]]):
    """op name -> local derivative rule. Unary rules: (g, out, x) -> dx.
    Binary rules: (g, out, a, b) -> (da, db). Arguments are floats or Values.

    A power with a constant side carries the constant in its op name ('**2' for
    x ** 2, '2**' for 2 ** x); its rule is made from the name when looked up (the
    last few hundred are kept), so the table does not grow with every new constant.
    """

    def __missing__(self, op: str) -> Callable[..., Any]:
        return _constant_power_rule(op)


@functools.lru_cache(maxsize=256)
def _constant_power_rule(op: str) -> Callable[..., Any]:
    if op.startswith("**"):
        return Value._d_power(float(op[2:]))
    if op.endswith("**"):
        return Value._d_exponential(float(op[:-2]))
    raise KeyError(f"no derivative rule for op {op!r}")


# The table holds plain functions (a staticmethod object is slower to call).
DERIVATIVES: dict[str, Callable[..., Any]] = _Rules()

_grad_enabled = True


def _derivative(op: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(rule: Callable[..., Any]) -> Callable[..., Any]:
        DERIVATIVES[op] = rule
        return rule

    return register


def _data(x: object) -> float:
    """The float inside ``x`` (rules compare with it to pick a branch)."""
    return x.data if isinstance(x, Value) else x  # type: ignore[return-value]


def _as_float(data: object, what: str = "Value()") -> float:
    if isinstance(data, numbers.Real):  # int, float, bool, Fraction, numpy scalars
        return float(data)
    raise TypeError(
        f"{what} takes a real number (int or float), got {type(data).__name__}: {data!r}"
    )


class Value:
    """A scalar in a computational graph: its ``data``, its ``grad``, and how it was made.

    >>> apple, count, tax = Value(100.0), Value(2.0), Value(1.1)
    >>> price = apple * count * tax
    >>> price.backward()
    >>> round(apple.grad, 9), round(count.grad, 9), round(tax.grad, 9)
    (2.2, 110.0, 200.0)
    """

    __slots__ = ("data", "grad", "_a", "_b", "_op", "label", "_seen")

    def __init__(self, data: Number, label: str = "") -> None:
        """A leaf: a number the graph starts from. Ops make their nodes with :func:`_result`."""
        self.data: float = data if type(data) is float else _as_float(data)
        self.grad: float = 0.0
        self._a: Value | None = None  # inputs in operand order: `a + a` keeps both edges
        self._b: Value | None = None
        self._op = ""
        self.label = label
        self._seen: object = None

    @property
    def parents(self) -> tuple[Value, ...]:
        """The Values this one was computed from, in operand order."""
        if self._a is None:
            return ()
        return (self._a,) if self._b is None else (self._a, self._b)

    @property
    def op(self) -> str:
        """The operation that produced this Value ('' for a leaf)."""
        return self._op

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{label})"

    # --- arithmetic -----------------------------------------------------------------
    # Each op: forward value, then the rule for its local derivative.

    def __add__(self, other: Operand) -> Value:
        if not isinstance(other, Value):
            other = Value(other)
        return _result(self.data + other.data, "+", self, other)

    @staticmethod
    @_derivative("+")
    def _d_add(g, out, a, b):
        return g, g  # an add node passes the upstream gradient to both inputs

    def __sub__(self, other: Operand) -> Value:
        if not isinstance(other, Value):
            other = Value(other)
        return _result(self.data - other.data, "-", self, other)

    @staticmethod
    @_derivative("-")
    def _d_sub(g, out, a, b):
        return g, -g

    def __mul__(self, other: Operand) -> Value:
        if not isinstance(other, Value):
            other = Value(other)
        return _result(self.data * other.data, "*", self, other)

    @staticmethod
    @_derivative("*")
    def _d_mul(g, out, a, b):
        return g * b, g * a  # a multiply node swaps its inputs

    def __truediv__(self, other: Operand) -> Value:
        if not isinstance(other, Value):
            other = Value(other)
        if other.data == 0:
            raise ZeroDivisionError(f"division by zero: {self.data!r} / {other.data!r}")
        return _result(self.data / other.data, "/", self, other)

    @staticmethod
    @_derivative("/")
    def _d_div(g, out, a, b):
        return g / b, -g * out / b  # d(a/b)/db = -a/b² = -out/b

    def __neg__(self) -> Value:
        return _result(-self.data, "neg", self)

    @staticmethod
    @_derivative("neg")
    def _d_neg(g, out, x):
        return -g

    def __pow__(self, exponent: Operand) -> Value:
        if isinstance(exponent, Value):
            out = _checked_pow(self.data, exponent.data)
            return _result(out, "**", self, exponent)
        exponent = _as_float(exponent)
        op = "**" + _constant_name(exponent)
        return _result(_checked_pow(self.data, exponent), op, self)

    @staticmethod
    def _d_power(c: float) -> Callable[..., Any]:
        def rule(g, out, x):  # (x^c)' = c·x^(c-1); 0 for c = 0, even at x = 0
            return g * c * x ** (c - 1) if c != 0 else g * 0.0

        return rule

    def __rpow__(self, base: Number) -> Value:
        base = _as_float(base)
        op = _constant_name(base) + "**"
        return _result(_checked_pow(base, self.data), op, self)

    @staticmethod
    def _d_exponential(b: float) -> Callable[..., Any]:
        def rule(g, out, x):  # (b^x)' = b^x·ln b; 0 for b = 0 (0^x is flat for x > 0)
            if b > 0:
                return g * out * math.log(b)
            return g * 0.0 if b == 0 else g * math.nan  # a negative base: see `**`

        return rule

    @staticmethod
    @_derivative("**")
    def _d_pow(g, out, x, y):
        # d(x^y)/dx = y·x^(y-1);  d(x^y)/dy = x^y·ln x, which (as in PyTorch) is 0
        # where x == 0 and undefined (nan) for a negative base.
        base = _data(x)
        if base > 0:
            dy = g * out * (x.log() if isinstance(x, Value) else math.log(x))
        else:
            dy = g * 0.0 if base == 0 else g * math.nan
        return g * y * x ** (y - 1), dy

    def __radd__(self, other: Number) -> Value:
        return Value(other) + self

    def __rsub__(self, other: Number) -> Value:
        return Value(other) - self

    def __rmul__(self, other: Number) -> Value:
        return Value(other) * self

    def __rtruediv__(self, other: Number) -> Value:
        return Value(other) / self

    # --- functions -------------------------------------------------------------------

    def exp(self) -> Value:
        try:
            out = math.exp(self.data)
        except OverflowError:
            raise OverflowError(f"exp overflows for input {self.data!r}") from None
        return _result(out, "exp", self)

    @staticmethod
    @_derivative("exp")
    def _d_exp(g, out, x):
        return g * out  # (e^x)' = e^x

    def log(self) -> Value:
        if self.data <= 0:
            raise ValueError(f"log of a non-positive number: log({self.data!r})")
        return _result(math.log(self.data), "log", self)

    @staticmethod
    @_derivative("log")
    def _d_log(g, out, x):
        return g / x  # (ln x)' = 1/x

    def sqrt(self) -> Value:
        if self.data < 0:
            raise ValueError(f"sqrt of a negative number: sqrt({self.data!r})")
        return _result(math.sqrt(self.data), "sqrt", self)

    @staticmethod
    @_derivative("sqrt")
    def _d_sqrt(g, out, x):
        return g / (2 * out)  # (√x)' = 1/(2√x): infinite at 0, raised as ZeroDivisionError

    def tanh(self) -> Value:
        return _result(math.tanh(self.data), "tanh", self)

    @staticmethod
    @_derivative("tanh")
    def _d_tanh(g, out, x):
        return g * (1 - out * out)  # tanh' = 1 - tanh²

    def sigmoid(self) -> Value:
        x = self.data  # two forms, so that neither exp(-x) nor exp(x) can overflow
        out = 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))
        return _result(out, "sigmoid", self)

    @staticmethod
    @_derivative("sigmoid")
    def _d_sigmoid(g, out, x):
        return g * out * (1 - out)  # σ' = σ(1 - σ)

    def relu(self) -> Value:
        return _result(self.data if self.data > 0 else 0.0, "relu", self)

    @staticmethod
    @_derivative("relu")
    def _d_relu(g, out, x):
        return g * 1.0 if _data(x) > 0 else g * 0.0  # 0 at the kink, as in PyTorch

    def abs(self) -> Value:
        return _result(abs(self.data), "abs", self)

    __abs__ = abs

    @staticmethod
    @_derivative("abs")
    def _d_abs(g, out, x):
        return g * float((_data(x) > 0) - (_data(x) < 0))  # sign(x); 0 at the kink

    def sin(self) -> Value:
        return _result(math.sin(self.data), "sin", self)

    @staticmethod
    @_derivative("sin")
    def _d_sin(g, out, x):
        return g * (x.cos() if isinstance(x, Value) else math.cos(x))

    def cos(self) -> Value:
        return _result(math.cos(self.data), "cos", self)

    @staticmethod
    @_derivative("cos")
    def _d_cos(g, out, x):
        return -g * (x.sin() if isinstance(x, Value) else math.sin(x))

    # --- differentiation -------------------------------------------------------------

    def backward(self, gradient: Number = 1.0) -> None:
        """Add d(self)/d(node) · ``gradient`` into ``.grad`` of every node below self.

        Leaves *accumulate* across calls, as in PyTorch: call ``backward()`` twice and
        their gradients double. Clear them with :meth:`zero_grad` (or a model's or
        optimizer's ``zero_grad()``). Intermediate nodes hold this pass's gradient.
        """
        # Intermediates restart from 0, so that a second pass cannot double-count.
        order = _topological_order(self, restart_intermediates=True)
        self.grad += _as_float(gradient, "backward() gradient")
        for node in reversed(order):
            a, b = node._a, node._b
            if a is None:  # a leaf: nothing below it
                continue
            g, op = node.grad, node._op
            # The two commonest ops are written out: their rules, without the call
            # (a third of a training step). tests/test_testing.py checks they agree.
            if op == "+":
                a.grad += g
                b.grad += g  # type: ignore[union-attr]
            elif op == "*":
                a.grad += g * b.data  # type: ignore[union-attr]
                b.grad += g * a.data  # type: ignore[union-attr]
            else:
                shares = parent_shares(node, g)
                a.grad += shares[0]
                if b is not None:
                    b.grad += shares[1]

    def zero_grad(self) -> None:
        """Set ``.grad`` to 0 on this node and every node it was computed from."""
        for node in topological_order(self):
            node.grad = 0.0


_new_node = object.__new__  # a bare instance, for _result to fill in


def _result(data: float, op: str, a: Value, b: Value | None = None) -> Value:
    """The node made by ``op`` from ``a`` (and ``b``), holding the float ``data``.

    It fills the slots directly rather than call ``Value()``: an op's result needs
    none of the constructor's checks, and the forward pass is ~10% faster for it.
    """
    out = _new_node(Value)
    out.data = data
    out.grad = 0.0
    out.label = ""
    out._seen = None
    if _grad_enabled:
        out._a, out._b, out._op = a, b, op
    else:  # inside no_grad(): results are leaves, with no edges
        out._a, out._b, out._op = None, None, ""
    return out


def _checked_pow(base: float, exponent: float) -> float:
    if base < 0 and not exponent.is_integer():
        raise ValueError(
            f"power of a negative base to a non-integer exponent: {base!r} ** {exponent!r}"
        )
    if base == 0 and exponent < 0:
        raise ZeroDivisionError(f"zero to a negative power: {base!r} ** {exponent!r}")
    try:
        result: float = base**exponent
    except OverflowError:
        raise OverflowError(f"power overflows: {base!r} ** {exponent!r}") from None
    return result


def _constant_name(c: float) -> str:
    """How a constant is written in an op name: '2' for 2.0, '0.5', '1e-07'."""
    return str(int(c)) if c.is_integer() and abs(c) < 1e15 else repr(c)


def parent_shares(node: Value, g: Any, create_graph: bool = False) -> tuple[Any, ...]:
    """What ``node``, receiving upstream gradient ``g``, hands each of its parents:
    ``g · d node / d parent``, in operand order (``()`` for a leaf).

    With ``create_graph`` the rule runs on the Values themselves, so the shares are
    nodes of a new graph (differentiable again); otherwise on their floats.
    """
    a, b = node._a, node._b
    if a is None:
        return ()
    rule = DERIVATIVES[node._op]
    try:
        if create_graph:
            return (rule(g, node, a),) if b is None else tuple(rule(g, node, a, b))
        if b is None:
            return (rule(g, node.data, a.data),)
        return tuple(rule(g, node.data, a.data, b.data))
    except ArithmeticError as error:
        raise _backward_error(node, error) from error


def _backward_error(node: Value, error: ArithmeticError) -> ArithmeticError:
    inputs = ", ".join(repr(p.data) for p in node.parents)
    return type(error)(
        f"no finite derivative for op {node._op!r} at input ({inputs}) "
        f"while back-propagating: {error}"
    )


def topological_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on, each after all of its parents; ``root`` last.

    Iterative depth-first search, so a chain of a million nodes needs no recursion.
    A node is pushed, then a ``None`` marker, then its inputs; when the marker comes
    back off the stack, all of the node's inputs have been placed, so it follows them.
    """
    return _topological_order(root, restart_intermediates=False)


def _topological_order(root: Value, restart_intermediates: bool) -> list[Value]:
    """:func:`topological_order`; ``restart_intermediates`` also zeroes their ``.grad``
    as they are placed, which saves :meth:`Value.backward` a pass over the graph."""
    order: list[Value] = []
    # A mark of this search's own, left on each node it visits: checking a slot is
    # cheaper than a set of visited nodes (this search is half of a backward pass).
    mark = object()
    stack: list[Value | None] = [root]
    while stack:
        node = stack.pop()
        if node is None:  # the marker: the node below it has all its inputs placed
            node = stack.pop()
            assert node is not None
        elif node._seen is mark:
            continue
        else:
            node._seen = mark
            a, b = node._a, node._b
            # An input already visited is already placed: one still waiting for its
            # marker would be a node that this one feeds into, which makes a cycle.
            if (a is not None and a._seen is not mark) or (b is not None and b._seen is not mark):
                stack.append(node)
                stack.append(None)
                if b is not None:  # pushed first, so that `a` is explored first
                    stack.append(b)
                stack.append(a)
                continue
        if restart_intermediates and node._a is not None:
            node.grad = 0.0
        order.append(node)
    return order


@dataclass(frozen=True)
class BackwardStep:
    """One step of back-propagation: ``node`` hands ``contributions`` to its parents."""

    index: int
    node: Value
    upstream: float
    contributions: tuple[tuple[Value, float], ...]


def backward_steps(root: Value, gradient: Number = 1.0) -> Iterator[BackwardStep]:
    """Run :meth:`Value.backward` one node at a time, yielding each step as it happens.

    Step k processes the k-th node in reverse topological order: it reads that node's
    (now complete) gradient and adds each parent's share. After the last step the
    ``.grad`` fields equal what ``root.backward(gradient)`` gives on a zeroed graph.
    Leaves are included as steps with no contributions, so every node is visited once.
    Unlike ``backward()`` it starts every gradient from zero, so the walk shows one
    clean pass.
    """
    order = topological_order(root)
    for node in order:
        node.grad = 0.0
    root.grad = _as_float(gradient, "backward_steps() gradient")
    for index, node in enumerate(reversed(order)):
        shares = parent_shares(node, node.grad)
        for parent, share in zip(node.parents, shares):
            parent.grad += share
        yield BackwardStep(index, node, node.grad, tuple(zip(node.parents, shares)))


def grad(
    output: Value,
    inputs: Value | Sequence[Value],
    grad_output: Number = 1.0,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Value, ...]:
    """d(output)/d(input) for each input, returned as Values (``.grad`` is not touched).

    An input that ``output`` does not depend on is an error (often a graph built
    under :func:`no_grad`), unless ``allow_unused=True``: then its gradient is 0.

    With ``create_graph=True`` the gradients are themselves nodes of a graph built
    from the same derivative rules, so they can be differentiated again:

    >>> x = Value(2.0)
    >>> (dy,) = grad(x ** 3, [x], create_graph=True)    # 3x² = 12
    >>> (d2y,) = grad(dy, [x])                          # 6x  = 12
    >>> dy.data, d2y.data
    (12.0, 12.0)
    """
    if not isinstance(output, Value):
        raise TypeError(f"grad() output must be a Value, got {type(output).__name__}")
    wanted = (inputs,) if isinstance(inputs, Value) else tuple(inputs)
    for item in wanted:
        if not isinstance(item, Value):
            raise TypeError(f"grad() inputs must be Values, got {type(item).__name__}")
    seed = _as_float(grad_output, "grad() grad_output")
    grads: dict[Value, Value | float] = {output: Value(seed) if create_graph else seed}
    with _grad_mode(create_graph):  # build a graph of the gradient only when asked
        for node in reversed(topological_order(output)):
            g = grads.get(node)
            if g is None:
                continue
            for parent, share in zip(node.parents, parent_shares(node, g, create_graph)):
                previous = grads.get(parent)
                grads[parent] = share if previous is None else previous + share
    results = []
    for i, item in enumerate(wanted):
        g = grads.get(item)
        if g is None:
            if not allow_unused:
                raise ValueError(
                    f"grad(): output does not depend on input {i} ({item!r}); was the "
                    "graph built under no_grad()? Pass allow_unused=True to get 0 for it."
                )
            g = 0.0
        results.append(g if isinstance(g, Value) else Value(g))
    return tuple(results)


@contextmanager
def _grad_mode(enabled: bool) -> Iterator[None]:
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, enabled
    try:
        yield
    finally:
        _grad_enabled = previous


def no_grad() -> AbstractContextManager[None]:
    """Inside ``with no_grad():`` operations record no graph: results are leaves.

    Use it for parameter updates and evaluation, where no gradient is wanted.
    """
    return _grad_mode(False)


def is_grad_enabled() -> bool:
    """False inside :func:`no_grad`."""
    return _grad_enabled
