"""The engine: forward values, local derivatives, backward, no_grad, higher order."""

import math
import random
import threading

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from microgrboard import (
    Value,
    backward_steps,
    grad,
    is_grad_enabled,
    linear,
    no_grad,
    topological_order,
)
from microgrboard.core import parent_shares
from microgrboard.examples import apple_orange, apple_tax, tanh_derivative
from microgrboard.testing import finite_floats, gradcheck

EXACT = 1e-9


# --- the book's examples ----------------------------------------------------------


def test_apple_tax_matches_the_book():
    price, inputs = apple_tax()
    assert price.data == pytest.approx(220, abs=EXACT)
    assert inputs["apple"].grad == pytest.approx(2.2, abs=EXACT)
    assert inputs["apple_count"].grad == pytest.approx(110, abs=EXACT)
    assert inputs["tax"].grad == pytest.approx(200, abs=EXACT)


def test_apple_orange_matches_the_book():
    price, inputs = apple_orange()
    assert price.data == pytest.approx(715, abs=EXACT)
    expected = {"apple": 2.2, "apple_count": 110, "orange": 3.3, "orange_count": 165, "tax": 650}
    for name, gradient in expected.items():
        assert inputs[name].grad == pytest.approx(gradient, abs=EXACT), name


def test_dezero_step_35_derivatives_of_tanh_are_its_polynomials():
    t = math.tanh(1.0)
    # d/dx tanh = 1 - t², d²/dx² = -2t(1 - t²), d³/dx³ = (6t² - 2)(1 - t²)
    for order, known in [(0, t), (1, 1 - t * t), (2, -2 * t * (1 - t * t)),
                         (3, (6 * t * t - 2) * (1 - t * t))]:
        assert tanh_derivative(order).output.data == pytest.approx(known, rel=1e-12)
    assert len(topological_order(tanh_derivative(7).output)) == 935  # DeZero's step 35
    with pytest.raises(ValueError, match="order must be a non-negative int, got -1"):
        tanh_derivative(-1)


# --- construction -------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["3", None, 1 + 2j, [1.0], {"x": 1}])
def test_value_rejects_non_numbers_naming_the_type(bad):
    with pytest.raises(TypeError, match=type(bad).__name__):
        Value(bad)


def test_value_accepts_ints_bools_and_numpy_scalars():
    np = pytest.importorskip("numpy")
    assert Value(3).data == 3.0 and isinstance(Value(3).data, float)
    assert Value(True).data == 1.0
    assert Value(np.float32(0.5)).data == 0.5
    assert Value(np.int64(7)).data == 7.0


def test_operands_are_recorded_in_order_as_a_tuple():
    a, b = Value(1.0), Value(2.0)
    assert (a - b).parents == (a, b)
    assert (b - a).parents == (b, a)
    assert (a + a).parents == (a, a)  # both edges kept
    assert (a * b).op == "*"
    assert a.op == "" and a.parents == ()


def test_repr_shows_data_grad_and_label():
    assert repr(Value(2.5, "w")) == "Value(data=2.5, grad=0.0, label='w')"


# --- forward values with plain numbers on either side ---------------------------------


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda x: x + 1, 4.0),
        (lambda x: 1 + x, 4.0),
        (lambda x: x - 1, 2.0),
        (lambda x: 1 - x, -2.0),
        (lambda x: x * 2, 6.0),
        (lambda x: 2 * x, 6.0),
        (lambda x: x / 2, 1.5),
        (lambda x: 6 / x, 2.0),
        (lambda x: x**2, 9.0),
        (lambda x: 2**x, 8.0),
        (lambda x: x ** Value(2.0), 9.0),
        (lambda x: -x, -3.0),
        (lambda x: abs(-x), 3.0),
        (lambda x: x.exp(), math.exp(3)),
        (lambda x: x.log(), math.log(3)),
        (lambda x: x.sqrt(), math.sqrt(3)),
        (lambda x: x.tanh(), math.tanh(3)),
        (lambda x: x.sigmoid(), 1 / (1 + math.exp(-3))),
        (lambda x: x.relu(), 3.0),
        (lambda x: (-x).relu(), 0.0),
        (lambda x: x.sin(), math.sin(3)),
        (lambda x: x.cos(), math.cos(3)),
    ],
)
def test_forward_values(make, expected):
    assert make(Value(3.0)).data == pytest.approx(expected, rel=1e-12)


def test_sigmoid_is_stable_for_large_inputs():
    assert Value(1000.0).sigmoid().data == 1.0
    assert Value(-1000.0).sigmoid().data == 0.0


# --- domain errors at the op -----------------------------------------------------------


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: Value(0.0).log(), ValueError, ["log", "0.0"]),
        (lambda: Value(-2.0).log(), ValueError, ["log", "-2.0"]),
        (lambda: Value(-4.0).sqrt(), ValueError, ["sqrt", "-4.0"]),
        (lambda: Value(3.0) / 0, ZeroDivisionError, ["division", "3.0"]),
        (lambda: 1 / Value(0.0), ZeroDivisionError, ["division", "0.0"]),
        (lambda: Value(-2.0) ** 0.5, ValueError, ["negative base", "-2.0", "0.5"]),
        (lambda: Value(-2.0) ** Value(1.5), ValueError, ["negative base", "1.5"]),
        (lambda: Value(0.0) ** -1, ZeroDivisionError, ["zero", "-1"]),
        (lambda: Value(1000.0).exp(), OverflowError, ["exp", "1000.0"]),
        (lambda: Value(10.0) ** 1000, OverflowError, ["power", "10.0"]),
    ],
)
def test_domain_errors_name_the_op_and_the_value(make, error, words):
    with pytest.raises(error) as caught:
        make()
    for word in words:
        assert word in str(caught.value)


def test_sqrt_at_zero_has_no_finite_derivative():
    y = Value(0.0).sqrt()
    with pytest.raises(ZeroDivisionError, match="sqrt"):
        y.backward()
    with pytest.raises(ZeroDivisionError, match="sqrt"):
        grad(y, [y.parents[0]])
    with pytest.raises(ZeroDivisionError, match="sqrt"):
        list(backward_steps(y))


# --- each op's derivative against central differences ------------------------------------

SMOOTH_UNARY = {
    "neg": lambda x: -x,
    "exp": lambda x: x.exp(),
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "sin": lambda x: x.sin(),
    "cos": lambda x: x.cos(),
    "square": lambda x: x**2,
    "cube": lambda x: x**3,
    "reciprocal-power": lambda x: x**-1 if x.data != 0 else x,
    "two-to-the": lambda x: 2**x,
}


@pytest.mark.parametrize("name", sorted(SMOOTH_UNARY))
@given(x=finite_floats(-3, 3))
def test_unary_op_gradients(name, x):
    assume(name != "reciprocal-power" or abs(x) > 0.1)
    assert gradcheck(SMOOTH_UNARY[name], [x])


@given(x=finite_floats(-5, 5))
def test_relu_and_abs_gradients_away_from_the_kink(x):
    assume(abs(x) > 1e-3)
    assert gradcheck(lambda v: v.relu(), [x])
    assert gradcheck(lambda v: abs(v), [x])


def test_relu_and_abs_take_zero_gradient_at_the_kink():
    x = Value(0.0)
    (x.relu() + abs(x)).backward()
    assert x.grad == 0.0


@given(x=st.floats(1e-3, 50))
def test_log_and_sqrt_gradients_on_their_domain(x):
    assert gradcheck(lambda v: v.log(), [x])
    assert gradcheck(lambda v: v.sqrt(), [x])


@given(a=finite_floats(-4, 4), b=finite_floats(-4, 4))
def test_binary_op_gradients(a, b):
    assert gradcheck(lambda x, y: x + y, [a, b])
    assert gradcheck(lambda x, y: x - y, [a, b])
    assert gradcheck(lambda x, y: x * y, [a, b])
    assume(abs(b) > 0.1)
    assert gradcheck(lambda x, y: x / y, [a, b])


@given(base=st.floats(0.1, 4), exponent=finite_floats(-3, 3))
def test_power_with_a_value_exponent(base, exponent):
    assert gradcheck(lambda x, y: x**y, [base, exponent])


def test_power_exponent_gradient_at_zero_and_negative_bases():
    base, exponent = Value(0.0), Value(2.0)
    (base**exponent).backward()
    assert exponent.grad == 0.0  # 0^y is flat in y (for y > 0)
    base, exponent = Value(-2.0), Value(3.0)
    (base**exponent).backward()
    assert base.grad == pytest.approx(12.0)
    assert math.isnan(exponent.grad)  # (-2)^y is not real-differentiable in y


def test_power_by_a_constant_names_the_constant():
    x = Value(3.0)
    assert (x**2).op == "**2" and (x**2).parents == (x,)
    assert (x**0.5).op == "**0.5"
    assert (2**x).op == "2**" and (2**x).parents == (x,)


def test_powers_with_constants_at_zero():
    x = Value(0.0)
    (x**0).backward()
    assert x.grad == 0.0  # x^0 = 1 is flat, even at 0
    x = Value(0.5)
    (0**x).backward()  # 0^x = 0 for x > 0: flat; no gradient owed to the constant 0
    assert x.grad == 0.0
    x = Value(3.0)
    (2**x).backward()
    assert x.grad == pytest.approx(8 * math.log(2))


def test_new_constant_exponents_do_not_grow_the_rule_table():
    from microgrboard.core import DERIVATIVES

    before = len(DERIVATIVES)
    for t in range(1, 200):
        x = Value(1.5)
        (x ** (1 / t)).backward()
        assert x.grad == pytest.approx((1 / t) * 1.5 ** (1 / t - 1))
    assert len(DERIVATIVES) == before


# --- backward ----------------------------------------------------------------------------


def test_reused_node_accumulates():
    x = Value(3.0)
    (x * x).backward()
    assert x.grad == 6.0


def test_node_with_several_consumers_sums_their_contributions():
    x = Value(2.0)
    y = x * 3
    z = y + y.exp() + x  # x reaches z through three paths
    z.backward()
    assert x.grad == pytest.approx(3 + 3 * math.exp(6) + 1)


def test_second_backward_accumulates_into_leaves_without_double_counting():
    x = Value(2.0)
    z = (x * x) * 3  # dz/dx = 6x = 12
    z.backward()
    z.backward()
    assert x.grad == pytest.approx(24.0)
    x.grad = 0.0
    z.backward()
    assert x.grad == pytest.approx(12.0)


def test_backward_with_an_upstream_gradient():
    x = Value(2.0)
    (x * 5).backward(gradient=0.5)
    assert x.grad == 2.5


def test_zero_grad_clears_the_whole_graph():
    price, inputs = apple_tax()
    price.zero_grad()
    assert all(node.grad == 0.0 for node in topological_order(price))


def test_a_million_node_chain_backpropagates_without_recursion():
    x, c = Value(0.5), Value(1.0)
    y = x
    n = 1_000_000
    for _ in range(n):
        y = y * c
    y.backward()
    assert x.grad == 1.0  # d(x·c^n)/dx = c^n
    assert c.grad == pytest.approx(n * 0.5)  # d/dc = n·x·c^(n-1)


def test_topological_order_puts_parents_first_and_visits_each_node_once():
    price, _ = apple_orange()
    order = topological_order(price)
    position = {node: i for i, node in enumerate(order)}
    assert len(position) == len(order) == 9  # 5 inputs, 2 products, a sum, the price
    assert order[-1] is price
    for node in order:
        for parent in node.parents:
            assert position[parent] < position[node]


def test_backward_steps_end_where_backward_ends():
    price, inputs = apple_orange()
    expected = {node: node.grad for node in topological_order(price)}
    steps = list(backward_steps(price))
    assert [s.node for s in steps] == list(reversed(topological_order(price)))
    assert {node: node.grad for node in expected} == pytest.approx(expected)
    first = steps[0]
    assert first.node is price and first.upstream == 1.0
    assert {p.label: share for p, share in first.contributions} == pytest.approx(
        {"subtotal": 1.1, "tax": 650}
    )


# --- no_grad -----------------------------------------------------------------------------


def test_no_grad_records_no_graph_and_restores_itself():
    x = Value(2.0)
    with no_grad():
        assert not is_grad_enabled()
        y = x * 3 + 1
    assert is_grad_enabled()
    assert y.data == 7.0 and y.parents == () and y.op == ""
    with pytest.raises(RuntimeError), no_grad():
        raise RuntimeError("boom")
    assert is_grad_enabled()


# --- grad() and higher-order derivatives ------------------------------------------------


def test_grad_returns_values_and_leaves_dot_grad_alone():
    x, y = Value(2.0), Value(5.0)
    dx, dy, unused = grad(x * y, [x, y, Value(1.0)], allow_unused=True)
    assert (dx.data, dy.data, unused.data) == (5.0, 2.0, 0.0)
    assert x.grad == 0.0 and y.grad == 0.0


def test_grad_of_an_unrelated_input_is_an_error_unless_allowed():
    x = Value(2.0)
    with no_grad():
        y = x * x  # no graph: y does not depend on x as far as the engine knows
    with pytest.raises(ValueError, match="does not depend on input 0.*no_grad"):
        grad(y, [x])
    assert grad(y, [x], allow_unused=True)[0].data == 0.0


def test_grad_rejects_non_values():
    with pytest.raises(TypeError, match="float"):
        grad(Value(1.0), [1.0])
    with pytest.raises(TypeError, match="output must be a Value"):
        grad(3.0, [Value(1.0)])


def test_backward_names_a_bad_upstream_gradient():
    with pytest.raises(TypeError, match=r"backward\(\) gradient.*str"):
        Value(1.0).backward("1")


@pytest.mark.parametrize(
    "f, second",
    [
        (lambda x: x.tanh(), lambda x: -2 * math.tanh(x) * (1 - math.tanh(x) ** 2)),
        (lambda x: x**3, lambda x: 6 * x),
        (lambda x: x.exp(), math.exp),
        (lambda x: x.sigmoid(), lambda x: (s := 1 / (1 + math.exp(-x))) * (1 - s) * (1 - 2 * s)),
        (lambda x: x.sin(), lambda x: -math.sin(x)),
        (lambda x: (x * x + 1).log(), lambda x: (2 - 2 * x * x) / (x * x + 1) ** 2),
    ],
)
@pytest.mark.parametrize("x0", [-1.3, 0.4, 2.0])
def test_second_derivatives_match_known_formulas(f, second, x0):
    x = Value(x0)
    (first,) = grad(f(x), [x], create_graph=True)
    (d2,) = grad(first, [x])
    assert d2.data == pytest.approx(second(x0), rel=1e-9, abs=1e-12)


@given(x0=finite_floats(-2, 2), y0=finite_floats(-2, 2))
def test_second_derivatives_against_central_differences(x0, y0):
    def first_derivative(x, y):
        (dx,) = grad((x * y).tanh() + x.exp() * y, [x], create_graph=True)
        return dx

    assert gradcheck(first_derivative, [x0, y0])


def test_third_derivative_of_a_cube_is_six():
    x = Value(1.7)
    (d1,) = grad(x**3, [x], create_graph=True)
    (d2,) = grad(d1, [x], create_graph=True)
    (d3,) = grad(d2, [x])
    assert d3.data == pytest.approx(6.0)


# --- linear: a neuron as one node ----------------------------------------------------------


def test_linear_is_one_node_with_weights_inputs_and_bias_as_parents():
    w, x, b = [Value(2.0), Value(-1.0)], [Value(3.0), Value(4.0)], Value(0.5)
    y = linear(w, x, b)
    assert y.op == "linear" and y.data == 2.0 * 3.0 - 4.0 + 0.5
    assert y.parents == (*w, *x, b)
    # local derivatives (what the player shows): x_i for w_i, w_i for x_i, 1 for b
    assert parent_shares(y, 1.0) == (3.0, 4.0, 2.0, -1.0, 1.0)
    assert parent_shares(y, 0.5) == (1.5, 2.0, 1.0, -0.5, 0.5)


def test_linear_wraps_plain_number_inputs_and_checks_its_arguments():
    w, b = [Value(2.0)], Value(1.0)
    y = linear(w, [3], b)
    assert y.data == 7.0 and y.parents[1].data == 3.0
    with pytest.raises(ValueError, match="2 weights but 1 inputs"):
        linear([Value(1.0), Value(2.0)], [1.0], b)
    with pytest.raises(TypeError, match="weights must be Values, got float"):
        linear([1.0], [1.0], b)
    with pytest.raises(TypeError, match="bias must be Values, got int"):
        linear(w, [1.0], 0)


def test_linear_adds_in_the_order_of_the_expanded_graph():
    # ((b + w0·x0) + w1·x1) + ...: the same floats as single * and + nodes give.
    rng = random.Random(3)
    for _ in range(200):
        n = rng.randint(1, 40)
        w = [Value(rng.uniform(-1, 1)) for _ in range(n)]
        x = [Value(rng.uniform(-1, 1)) for _ in range(n)]
        b = Value(rng.uniform(-1, 1))
        expanded = sum((wi * xi for wi, xi in zip(w, x)), b)
        assert linear(w, x, b).data == expanded.data


@given(
    st.integers(1, 4).flatmap(lambda n: st.lists(finite_floats(-3, 3), min_size=2 * n + 1,
                                                 max_size=2 * n + 1))
)
def test_linear_gradients_match_central_differences(numbers):
    n = len(numbers) // 2

    def f(*v):
        return linear(v[:n], v[n : 2 * n], v[-1]).tanh()

    assert gradcheck(f, numbers)


@given(st.lists(finite_floats(-2, 2), min_size=5, max_size=5))
def test_linear_second_derivatives_match_central_differences(numbers):
    def first_derivative(w0, w1, x0, x1, b):
        y = linear([w0, w1], [x0, x1], b)
        (dx0,) = grad((y * y).tanh() + y * x0, [x0], create_graph=True)
        return dx0

    assert gradcheck(first_derivative, numbers)


def test_linear_in_backward_grad_and_backward_steps_agree_with_known_values():
    w, x, b = [Value(2.0), Value(-1.0)], [Value(3.0), Value(4.0)], Value(0.5)
    y = linear(w, x, b) * 2  # dy/dw = 2x, dy/dx = 2w, dy/db = 2
    leaves = [*w, *x, b]
    expected = [6.0, 8.0, 4.0, -2.0, 2.0]
    y.backward()
    assert [v.grad for v in leaves] == expected
    assert [g.data for g in grad(y, leaves)] == expected
    assert [g.data for g in grad(y, leaves, create_graph=True)] == expected
    steps = list(backward_steps(y))
    assert [v.grad for v in leaves] == expected
    linear_step = next(s for s in steps if s.node.op == "linear")
    assert [share for _, share in linear_step.contributions] == expected
    order = topological_order(y)
    assert order[-1] is y and len(order) == 8  # 5 leaves, the 2, linear, the product


def test_linear_reused_input_and_weight_accumulate():
    x = Value(3.0)
    y = linear([x], [x], Value(1.0))  # x² + 1
    y.backward()
    assert x.grad == 6.0


# --- grad mode belongs to the thread ---------------------------------------------------------


def test_no_grad_in_one_thread_does_not_stop_another_from_recording():
    inside, release = threading.Event(), threading.Event()

    def sit_in_no_grad():
        with no_grad():
            inside.set()
            release.wait(10)

    sitter = threading.Thread(target=sit_in_no_grad)
    sitter.start()
    try:
        assert inside.wait(10)
        assert is_grad_enabled()  # this thread still records
        x = Value(2.0)
        y = x * x + 3
        y.backward()
        assert y.op == "+" and x.grad == 4.0
        (dx,) = grad(y, [x], create_graph=True)
        assert dx.data == 4.0 and dx.parents  # a graph of the gradient was built
    finally:
        release.set()
        sitter.join(10)


def test_overlapping_no_grad_blocks_in_two_threads_leave_grad_mode_on():
    # A enters, B enters, A leaves, B leaves: with one global flag, A would restore
    # "on" while B is inside and B would then restore A's "off" for the whole process.
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def thread_a():
        with no_grad():
            a_in.set()
            b_in.wait(10)
        a_out.set()
        seen["a"] = is_grad_enabled()

    def thread_b():
        a_in.wait(10)
        with no_grad():
            b_in.set()
            a_out.wait(10)
            seen["b inside"] = is_grad_enabled()
        seen["b"] = is_grad_enabled()

    threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"a": True, "b inside": False, "b": True}
    assert is_grad_enabled()
    x = Value(3.0)
    assert (x * x).parents == (x, x)


def test_two_threads_training_get_the_right_gradients():
    # Forced overlap: the recording thread builds and differentiates its graph while the
    # other thread is held inside no_grad() (barriers), and the two no_grad blocks
    # nest across threads (enter A, enter B, leave A, leave B), which a module-wide
    # flag would leave switched off for the whole process.
    inside, recorded = threading.Barrier(2, timeout=10), threading.Barrier(2, timeout=10)
    a_left, b_entered = threading.Event(), threading.Event()
    seen = {}

    def held_in_no_grad():
        with no_grad():
            inside.wait()    # the other thread records now...
            recorded.wait()  # ...and has finished
            seen["held"] = is_grad_enabled()
            b_entered.wait(10)
        a_left.set()

    def records(a, b):
        inside.wait()
        x, y = Value(a), Value(b)
        (x * y + x.tanh()).backward()
        seen["grads"] = (x.grad, y.grad)
        recorded.wait()
        with no_grad():
            b_entered.set()
            a_left.wait(10)
        seen["after"] = is_grad_enabled()

    threads = [threading.Thread(target=held_in_no_grad),
               threading.Thread(target=records, args=(0.7, -1.3))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert seen["grads"] == pytest.approx((-1.3 + 1 - math.tanh(0.7) ** 2, 0.7))
    assert seen["held"] is False and seen["after"] is True
    assert is_grad_enabled()


# --- edge values ---------------------------------------------------------------------------


@pytest.mark.parametrize("label", [5, None, b"w", ["w"]])
def test_a_label_must_be_a_string(label):
    with pytest.raises(TypeError, match=f"label must be a str, got {type(label).__name__}"):
        Value(1.0, label)


@pytest.mark.parametrize("label", [5, None, b"w"])
def test_a_label_assigned_later_must_be_a_string_too(label):
    leaf, result = Value(1.0, "x"), Value(2.0) * Value(3.0)
    for value in (leaf, result):
        with pytest.raises(TypeError, match=f"label must be a str, got {type(label).__name__}"):
            value.label = label
    assert (leaf.label, result.label) == ("x", "")
    result.label = "product"
    assert result.label == "product" and "label='product'" in repr(result)


def test_numpy_bools_are_accepted_like_bools():
    np = pytest.importorskip("numpy")
    assert Value(np.bool_(True)).data == 1.0 and Value(np.bool_(False)).data == 0.0
    assert (Value(2.0) * np.bool_(True)).data == 2.0


@pytest.mark.parametrize("op", ["sin", "cos"])
@pytest.mark.parametrize("x", [math.inf, -math.inf])
def test_sin_and_cos_of_infinity_name_the_op_and_the_value(op, x):
    with pytest.raises(ValueError, match=rf"{op}.*{x!r}"):
        getattr(Value(x), op)()


def test_relu_of_nan_is_nan():
    assert math.isnan(Value(math.nan).relu().data)


def test_zero_to_the_zero_back_propagates_zero_and_zero_as_pytorch():
    x, y = Value(0.0), Value(0.0)
    z = x**y
    z.backward()
    assert z.data == 1.0 and (x.grad, y.grad) == (0.0, 0.0)
    assert [g.data for g in grad(x**y, [x, y])] == [0.0, 0.0]
