"""The engine: scalar :class:`Value` nodes and reverse-mode differentiation.

Each operation computes its forward value and records ``(parents, op)`` on the
new node. Right below it, one *declaration* (``@_declare``) states everything
else about the op, once: its name, how to call it, its *local derivative* and
the domain of each operand. The declarations fill two tables: ``OPS`` (what
:mod:`microgrboard.testing` builds its random expressions from) and
``DERIVATIVES`` (op name -> rule, what back-propagation looks up).

A rule takes the upstream gradient ``g``, the node's output and its inputs, and
returns ``g * d(out)/d(input)`` for each input. Rules are written with plain
arithmetic, so the same rule runs on floats (the fast path of
:meth:`Value.backward`) and on Values (``grad(..., create_graph=True)``, which
builds a differentiable graph of the gradient and so gives second derivatives for
free).

Why no closures (micrograd keeps a ``_backward`` closure per node)? A closure
that refers to its own node makes a reference cycle, so every node of every
step waits for the cyclic garbage collector, which rescans them again and
again. Plain ``__slots__`` nodes and a shared table of rules have no cycles and
are freed the moment the last reference goes. For the same reason a node keeps
one or two inputs in two slots, ``_a`` and ``_b``, rather than in a tuple (one
object per node instead of two halves the collector's work); an op with more
inputs keeps them as one tuple in ``_a``: :func:`linear` makes a whole neuron,
``w·x + b``, one node.
"""

from __future__ import annotations

import functools
import math
import numbers
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeAlias, Union

Number: TypeAlias = int | float
Operand: TypeAlias = Union["Value", int, float]

# --- declaring an op ------------------------------------------------------------------

# The domain of an operand: where the op is defined and differentiable. The engine
# raises at the op outside it; test strategies sample inside it.
REAL = "real"  # any finite number
POSITIVE = "positive"  # > 0: log, sqrt (whose slope is infinite at 0), a power's base
NONZERO = "nonzero"  # a divisor
MODERATE = "moderate"  # small enough not to overflow (|x| <= 1 always is): exp, exponents
CONSTANT = "constant"  # a plain number, not a Value: the constant side of x ** 2 or 2 ** x


@dataclass(frozen=True)
class Op:
    """One operation, declared once, right below its forward method.

    ``call`` applies it to its operands; ``derivative`` is its local derivative rule
    (for a family, ``constant -> rule``); ``domain`` has one entry per operand (for a
    variadic op, one for all); ``kinks`` are points where the derivative jumps.
    A *family* has a constant side (``"**c"``: ``x ** 2``, ``x ** 0.5``, ... recorded
    on nodes as ``"**2"``, ``"**0.5"``); ``constants`` maps a few example constants to
    the domain each allows the other operand, overriding ``domain``.
    """

    name: str
    call: Callable[..., Value]
    derivative: Callable[..., Any]
    domain: tuple[str, ...]
    kinks: tuple[float, ...] = ()
    constants: Mapping[float, str] = field(default_factory=dict)
    variadic: bool = False  # operands are k weights, k inputs and a bias (linear)
    text: str = ""  # how a formula writes it: "({} + {})"; "" means "name({})"


class _Rules(dict[str, Callable[..., Any]]):
    """op name -> local derivative rule. Unary rules: (g, out, x) -> dx. Others:
    (g, out, *inputs) -> a share per input. Arguments are floats or Values.

    A constant side of a power travels in the op name ('**2' for x ** 2, '2**' for
    2 ** x); its rule is made from the name by the family's declaration when looked
    up (the last few hundred are kept), so the table does not grow with each constant.
    """

    def __missing__(self, op: str) -> Callable[..., Any]:
        return _constant_power_rule(op)


@functools.lru_cache(maxsize=256)
def _constant_power_rule(op: str) -> Callable[..., Any]:
    if op.startswith("**"):
        family, constant = OPS["**c"], op[2:]
    elif op.endswith("**"):
        family, constant = OPS["c**"], op[:-2]
    else:
        raise KeyError(f"no derivative rule for op {op!r}")
    rule: Callable[..., Any] = family.derivative(float(constant))
    return rule


OPS: dict[str, Op] = {}
DERIVATIVES: dict[str, Callable[..., Any]] = _Rules()


def _declare(
    name: str,
    call: Callable[..., Any],
    *domain: str,
    kinks: tuple[float, ...] = (),
    constants: Mapping[float, str] | None = None,
    variadic: bool = False,
    text: str = "",
) -> Callable[[Callable[..., Any]], Any]:
    """Declare op ``name`` with the rule it decorates. The tables keep the plain
    function; the class body it sits in gets a staticmethod of it."""

    def register(rule: Callable[..., Any]) -> Any:
        OPS[name] = Op(name, call, rule, domain, kinks, constants or {}, variadic, text)
        if not constants:  # a family's rules are made per constant, on lookup
            DERIVATIVES[name] = rule
        return staticmethod(rule)

    return register


def _data(x: object) -> float:
    """The float inside ``x`` (rules compare with it to pick a branch)."""
    return x.data if isinstance(x, Value) else x  # type: ignore[return-value]


def _as_float(data: object, what: str = "Value()") -> float:
    if isinstance(data, numbers.Real):  # int, float, bool, Fraction, numpy numbers
        return float(data)
    kind = type(data)
    if kind.__module__ == "numpy" and kind.__name__ in ("bool", "bool_"):  # not a Real
        return float(bool(data))
    raise TypeError(
        f"{what} takes a real number (int or float), got {kind.__name__}: {data!r}"
    )


class Value:
    """A scalar in a computational graph: its ``data``, its ``grad``, and how it was made.

    >>> apple, count, tax = Value(100.0), Value(2.0), Value(1.1)
    >>> price = apple * count * tax
    >>> price.backward()
    >>> round(apple.grad, 9), round(count.grad, 9), round(tax.grad, 9)
    (2.2, 110.0, 200.0)
    """

    # Inputs, in operand order (`a + a` keeps both edges): a unary or binary op keeps
    # them in `_a` and `_b`; an op with more (linear) keeps all of them, as one tuple,
    # in `_a`. No tuple for the common ops: every tuple is one more object per node for
    # the garbage collector to track (a million-node chain builds 1.5x faster for it).
    __slots__ = ("data", "grad", "_a", "_b", "_op", "_label", "_seen")

    def __init__(self, data: Number, label: str = "") -> None:
        """A leaf: a number the graph starts from. Ops make their nodes with :func:`_result`."""
        self.data: float = data if type(data) is float else _as_float(data)
        self.grad: float = 0.0
        self._a: Any = None  # a Value, or the tuple of an op's many inputs
        self._b: Value | None = None
        self._op = ""
        self._label = label if type(label) is str else _check_label(label)  # call-free path
        self._seen: object = None

    @property
    def label(self) -> str:
        """The name drawings and the board show (a ``str``; checked on every assignment)."""
        return self._label

    @label.setter
    def label(self, label: str) -> None:
        self._label = _check_label(label)

    @property
    def parents(self) -> tuple[Value, ...]:
        """The Values this one was computed from, in operand order."""
        a, b = self._a, self._b
        if a is None:
            return ()
        if b is not None:
            return (a, b)
        return a if type(a) is tuple else (a,)

    @property
    def op(self) -> str:
        """The operation that produced this Value ('' for a leaf)."""
        return self._op

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{label})"

    # --- arithmetic -----------------------------------------------------------------
    # Each op: forward value, then its declaration with the rule for its local derivative.

    def __add__(self, other: Operand) -> Value:
        if not isinstance(other, Value):
            other = Value(other)
        return _result(self.data + other.data, "+", self, other)

    @_declare("+", __add__, REAL, REAL, text="({} + {})")
    def _d_add(g, out, a, b):
        return g, g  # an add node passes the upstream gradient to both inputs

    def __sub__(self, other: Operand) -> Value:
        if not isinstance(other, Value):
            other = Value(other)
        return _result(self.data - other.data, "-", self, other)

    @_declare("-", __sub__, REAL, REAL, text="({} - {})")
    def _d_sub(g, out, a, b):
        return g, -g

    def __mul__(self, other: Operand) -> Value:
        if not isinstance(other, Value):
            other = Value(other)
        return _result(self.data * other.data, "*", self, other)

    @_declare("*", __mul__, REAL, REAL, text="({} * {})")
    def _d_mul(g, out, a, b):
        return g * b, g * a  # a multiply node swaps its inputs

    def __truediv__(self, other: Operand) -> Value:
        if not isinstance(other, Value):
            other = Value(other)
        if other.data == 0:
            raise ZeroDivisionError(f"division by zero: {self.data!r} / {other.data!r}")
        return _result(self.data / other.data, "/", self, other)

    @_declare("/", __truediv__, REAL, NONZERO, text="({} / {})")
    def _d_div(g, out, a, b):
        return g / b, -g * out / b  # d(a/b)/db = -a/b² = -out/b

    def __neg__(self) -> Value:
        return _result(-self.data, "neg", self)

    @_declare("neg", __neg__, REAL, text="-{}")
    def _d_neg(g, out, x):
        return -g

    def __pow__(self, exponent: Operand) -> Value:
        if isinstance(exponent, Value):
            out = _checked_pow(self.data, exponent.data)
            return _result(out, "**", self, exponent)
        exponent = _as_float(exponent)
        op = "**" + _constant_name(exponent)
        return _result(_checked_pow(self.data, exponent), op, self)

    @_declare("**", __pow__, POSITIVE, MODERATE, text="({} ** {})")
    def _d_pow(g, out, x, y):
        # d(x^y)/dx = y·x^(y-1), which is 0 at x = y = 0 (as in PyTorch; x^-1 would
        # divide by 0); d(x^y)/dy = x^y·ln x, which (as in PyTorch) is 0 where x == 0
        # and undefined (nan) for a negative base.
        base = _data(x)
        if base > 0:
            dy = g * out * (x.log() if isinstance(x, Value) else math.log(x))
        else:
            dy = g * 0.0 if base == 0 else g * math.nan
        dx = g * 0.0 if base == 0 and _data(y) == 0 else g * y * x ** (y - 1)
        return dx, dy

    @_declare(
        "**c", __pow__, REAL, CONSTANT, text="{}**{}",
        constants={2.0: REAL, 3.0: MODERATE, -1.0: NONZERO, 1.5: POSITIVE},
    )
    def _d_power(c: float) -> Callable[..., Any]:
        def rule(g, out, x):  # (x^c)' = c·x^(c-1); 0 for c = 0, even at x = 0
            return g * c * x ** (c - 1) if c != 0 else g * 0.0

        return rule

    def __rpow__(self, base: Number) -> Value:
        base = _as_float(base)
        op = _constant_name(base) + "**"
        return _result(_checked_pow(base, self.data), op, self)

    @_declare(
        "c**", lambda b, x: x.__rpow__(b), CONSTANT, REAL, text="{}**{}",
        constants={2.0: MODERATE, 0.5: MODERATE},
    )
    def _d_exponential(b: float) -> Callable[..., Any]:
        def rule(g, out, x):  # (b^x)' = b^x·ln b; 0 for b = 0 (0^x is flat for x > 0)
            if b > 0:
                return g * out * math.log(b)
            return g * 0.0 if b == 0 else g * math.nan  # a negative base: see `**`

        return rule

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

    @_declare("exp", exp, MODERATE)
    def _d_exp(g, out, x):
        return g * out  # (e^x)' = e^x

    def log(self) -> Value:
        if self.data <= 0:
            raise ValueError(f"log of a non-positive number: log({self.data!r})")
        return _result(math.log(self.data), "log", self)

    @_declare("log", log, POSITIVE)
    def _d_log(g, out, x):
        return g / x  # (ln x)' = 1/x

    def sqrt(self) -> Value:
        if self.data < 0:
            raise ValueError(f"sqrt of a negative number: sqrt({self.data!r})")
        return _result(math.sqrt(self.data), "sqrt", self)

    @_declare("sqrt", sqrt, POSITIVE)
    def _d_sqrt(g, out, x):
        return g / (2 * out)  # (√x)' = 1/(2√x): infinite at 0, raised as ZeroDivisionError

    def tanh(self) -> Value:
        return _result(math.tanh(self.data), "tanh", self)

    @_declare("tanh", tanh, REAL)
    def _d_tanh(g, out, x):
        return g * (1 - out * out)  # tanh' = 1 - tanh²

    def sigmoid(self) -> Value:
        x = self.data  # two forms, so that neither exp(-x) nor exp(x) can overflow
        out = 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))
        return _result(out, "sigmoid", self)

    @_declare("sigmoid", sigmoid, REAL)
    def _d_sigmoid(g, out, x):
        return g * out * (1 - out)  # σ' = σ(1 - σ)

    def relu(self) -> Value:
        return _result(0.0 if self.data <= 0 else self.data, "relu", self)  # nan stays nan

    @_declare("relu", relu, REAL, kinks=(0.0,))
    def _d_relu(g, out, x):
        return g * 0.0 if _data(x) <= 0 else g * 1.0  # 0 at the kink, as in PyTorch

    def abs(self) -> Value:
        return _result(abs(self.data), "abs", self)

    __abs__ = abs

    @_declare("abs", abs, REAL, kinks=(0.0,))
    def _d_abs(g, out, x):
        return g * float((_data(x) > 0) - (_data(x) < 0))  # sign(x); 0 at the kink

    def sin(self) -> Value:
        return _result(math.sin(_finite("sin", self.data)), "sin", self)

    @_declare("sin", sin, REAL)
    def _d_sin(g, out, x):
        return g * (x.cos() if isinstance(x, Value) else math.cos(x))

    def cos(self) -> Value:
        return _result(math.cos(_finite("cos", self.data)), "cos", self)

    @_declare("cos", cos, REAL)
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
            a = node._a
            if a is None:  # a leaf: nothing below it
                continue
            g, op = node.grad, node._op
            # The commonest ops are written out: their rules, without the call (most
            # of a training step). tests/test_testing.py checks they agree with grad().
            if op == "linear":
                # a = (*weights, *inputs, bias): zip stops after the n weights
                for w, x in zip(a, a[len(a) >> 1 : -1]):
                    w.grad += g * x.data
                    x.grad += g * w.data
                a[-1].grad += g
            elif op == "relu":
                a.grad += g * 0.0 if a.data <= 0 else g
            elif op == "+":
                a.grad += g
                node._b.grad += g  # type: ignore[union-attr]
            elif op == "*":
                b = node._b
                a.grad += g * b.data  # type: ignore[union-attr]
                b.grad += g * a.data  # type: ignore[union-attr]
            else:
                for parent, share in zip(node.parents, parent_shares(node, g)):
                    parent.grad += share

    def zero_grad(self) -> None:
        """Set ``.grad`` to 0 on this node and every node it was computed from."""
        for node in topological_order(self):
            node.grad = 0.0


# --- a neuron as one node ---------------------------------------------------------------


def linear(weights: Sequence[Value], inputs: Sequence[Operand], bias: Value) -> Value:
    """``w₀·x₀ + w₁·x₁ + … + b`` as ONE node (op ``"linear"``): a neuron before its
    activation. Its parents are ``(*weights, *inputs, bias)``, in that order; its local
    derivatives are ``xᵢ`` for ``wᵢ``, ``wᵢ`` for ``xᵢ`` and 1 for ``b``.

    ``inputs`` may be plain numbers (each becomes a leaf). The sum is taken in the
    order ``((b + w₀x₀) + w₁x₁) + …``, as the expanded graph of ``*`` and ``+`` nodes
    computes it, so both give the same floats.

    >>> w, x, b = [Value(2.0), Value(-1.0)], [Value(3.0), Value(4.0)], Value(0.5)
    >>> y = linear(w, x, b)
    >>> y.data, y.op, len(y.parents)
    (2.5, 'linear', 5)
    """
    weights = tuple(weights)
    values = tuple(x if isinstance(x, Value) else Value(x) for x in inputs)
    for what, items in (("weights", weights), ("bias", (bias,))):
        for item in items:
            if not isinstance(item, Value):
                raise TypeError(f"linear() {what} must be Values, got {type(item).__name__}")
    if len(weights) != len(values):
        raise ValueError(f"linear() got {len(weights)} weights but {len(values)} inputs")
    return _linear(weights, values, bias)


def _linear(weights: Sequence[Value], inputs: Sequence[Value], bias: Value) -> Value:
    """:func:`linear` on arguments already checked (the hot path of a network)."""
    data = bias.data  # a plain loop: faster than sum(map(...)), and the same order
    for w, x in zip(weights, inputs):
        data += w.data * x.data
    return _result(data, "linear", (*weights, *inputs, bias))  # many inputs: one tuple


def _linear_of_operands(*operands: Value) -> Value:
    n = len(operands) // 2
    return linear(operands[:n], operands[n : 2 * n], operands[-1])


@_declare("linear", _linear_of_operands, REAL, variadic=True)
def _d_linear(g, out, *operands):
    n = len(operands) // 2  # (*weights, *inputs, bias): w_i gets g·x_i, x_i gets g·w_i
    return (*[g * x for x in operands[n:-1]], *[g * w for w in operands[:n]], g)


# --- building nodes ---------------------------------------------------------------------


class _GradMode(threading.local):
    enabled = True  # per thread, as in PyTorch: each thread starts recording


_grad_mode = _GradMode()
_new_node = object.__new__  # a bare instance, for _result to fill in


def _result(data: float, op: str, a: Any, b: Value | None = None) -> Value:
    """The node made by ``op`` from ``a`` (and ``b``; or a tuple ``a`` of many
    inputs), holding the float ``data``.

    It fills the slots directly rather than call ``Value()``: an op's result needs
    none of the constructor's checks, and the forward pass is ~10% faster for it.
    """
    out = _new_node(Value)
    out.data = data
    out.grad = 0.0
    out._label = ""
    out._seen = None
    if _grad_mode.enabled:
        out._a, out._b, out._op = a, b, op
    else:  # inside no_grad(): results are leaves, with no edges
        out._a, out._b, out._op = None, None, ""
    return out


def _check_label(label: object) -> str:
    if not isinstance(label, str):
        raise TypeError(f"Value label must be a str, got {type(label).__name__}: {label!r}")
    return label


def _finite(op: str, x: float) -> float:
    if math.isinf(x):
        raise ValueError(f"{op} of an infinite number: {op}({x!r})")
    return x


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


# --- differentiation --------------------------------------------------------------------


def parent_shares(node: Value, g: Any, create_graph: bool = False) -> tuple[Any, ...]:
    """What ``node``, receiving upstream gradient ``g``, hands each of its parents:
    ``g · d node / d parent``, in operand order (``()`` for a leaf).

    With ``create_graph`` the rule runs on the Values themselves, so the shares are
    nodes of a new graph (differentiable again); otherwise on their floats.
    """
    parents = node.parents
    if not parents:
        return ()
    rule = DERIVATIVES[node._op]
    out: Any
    inputs: tuple[Any, ...]
    try:
        if create_graph:
            out, inputs = node, parents
        else:
            out, inputs = node.data, tuple(p.data for p in parents)
        if len(inputs) == 1:
            return (rule(g, out, inputs[0]),)
        return tuple(rule(g, out, *inputs))
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
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        if node is None:  # the marker: the node below it has all its inputs placed
            node = pop()
            assert node is not None
        elif node._seen is mark:
            continue
        else:
            node._seen = mark
            a, b = node._a, node._b
            if a is not None:
                push(node)
                push(None)
                # Inputs are pushed last first, so that the first is explored first. One
                # already visited is already placed: one still waiting for its marker
                # would be a node that this one feeds into (a cycle).
                if b is not None:
                    if b._seen is not mark:
                        push(b)
                    if a._seen is not mark:
                        push(a)
                elif type(a) is tuple:
                    for parent in reversed(a):
                        if parent._seen is not mark:
                            push(parent)
                elif a._seen is not mark:
                    push(a)
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
    with _set_grad_enabled(create_graph):  # build a graph of the gradient only when asked
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
def _set_grad_enabled(enabled: bool) -> Iterator[None]:
    previous, _grad_mode.enabled = _grad_mode.enabled, enabled
    try:
        yield
    finally:
        _grad_mode.enabled = previous


def no_grad() -> AbstractContextManager[None]:
    """Inside ``with no_grad():`` operations record no graph: results are leaves.

    Use it for parameter updates and evaluation, where no gradient is wanted. Grad
    mode belongs to the thread, as in PyTorch: another thread keeps recording.
    """
    return _set_grad_enabled(False)


def is_grad_enabled() -> bool:
    """False inside :func:`no_grad` (in this thread)."""
    return _grad_mode.enabled
