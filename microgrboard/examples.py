"""The book's computational-graph examples, built with Values and back-propagated.

Each function returns the graph's output (its ``.grad`` fields already filled by
``backward()``) together with the named inputs, so the numbers can be printed,
checked or drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from microgrboard.core import Value, grad


class Example(NamedTuple):
    """A built example: its output node and its inputs by name."""

    output: Value
    inputs: dict[str, Value]


def apple_tax() -> Example:
    """Buying 2 apples at 100 each, with a consumption tax of 1.1: total 220.

    Back-propagated: d/dapple = 2.2, d/dcount = 110, d/dtax = 200.
    """
    apple, count, tax = Value(100, "apple"), Value(2, "apple_count"), Value(1.1, "tax")
    apple_price = apple * count
    apple_price.label = "apple_price"
    price = apple_price * tax
    price.label = "price"
    price.backward()
    return Example(price, {"apple": apple, "apple_count": count, "tax": tax})


def apple_orange() -> Example:
    """2 apples at 100 and 3 oranges at 150, with tax 1.1: total 715.

    Back-propagated: d/dapple = 2.2, d/dapple_count = 110, d/dorange = 3.3,
    d/dorange_count = 165, d/dtax = 650.
    """
    apple, apple_count = Value(100, "apple"), Value(2, "apple_count")
    orange, orange_count = Value(150, "orange"), Value(3, "orange_count")
    tax = Value(1.1, "tax")
    apple_price = apple * apple_count
    apple_price.label = "apple_price"
    orange_price = orange * orange_count
    orange_price.label = "orange_price"
    subtotal = apple_price + orange_price
    subtotal.label = "subtotal"
    price = subtotal * tax
    price.label = "price"
    price.backward()
    inputs = {"apple": apple, "apple_count": apple_count, "orange": orange,
              "orange_count": orange_count, "tax": tax}
    return Example(price, inputs)


def neuron() -> Example:
    """micrograd's single tanh neuron: o = tanh(x1·w1 + x2·w2 + b), o ≈ 0.7071.

    Every intermediate value is named by what it computes, so a drawing reads without
    the code.
    """
    x1, x2 = Value(2.0, "x1"), Value(0.0, "x2")
    w1, w2 = Value(-3.0, "w1"), Value(1.0, "w2")
    b = Value(6.8813735870195432, "b")
    x1w1 = x1 * w1
    x1w1.label = "x1·w1"
    x2w2 = x2 * w2
    x2w2.label = "x2·w2"
    weighted = x1w1 + x2w2
    weighted.label = "x1·w1 + x2·w2"
    n = weighted + b
    n.label = "n = x1·w1 + x2·w2 + b"
    o = n.tanh()
    o.label = "o = tanh(n)"
    o.backward()
    return Example(o, {"x1": x1, "x2": x2, "w1": w1, "w2": w2, "b": b})


def tanh_derivative(order: int) -> Example:
    """DeZero's step 35: the graph of the ``order``-th derivative of tanh at x = 1, built by
    ``grad(..., create_graph=True)`` ``order`` times (935 values for the 7th).

    Back-propagated, like the others, so the drawing shows its gradients.
    """
    if isinstance(order, bool) or not isinstance(order, int) or order < 0:
        raise ValueError(f"order must be a non-negative int, got {order!r}")
    x = Value(1.0, "x")
    y = x.tanh()
    for _ in range(order):
        (y,) = grad(y, [x], create_graph=True)
    y.backward()
    return Example(y, {"x": x})


EXAMPLES: dict[str, Callable[[], Example]] = {
    "apple-tax": apple_tax,
    "apple-orange": apple_orange,
    "neuron": neuron,
}


def describe(name: str) -> str:
    """The example's forward value and its inputs' gradients, as printable text."""
    example = EXAMPLES[name]()
    lines = [f"{name}: output = {example.output.data:.6g}"]
    for input_name, value in example.inputs.items():
        lines.append(f"  {input_name:>13} = {value.data:<8.6g} d output/d {input_name} = "
                     f"{value.grad:.6g}")
    return "\n".join(lines)
