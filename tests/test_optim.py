"""Optimizers: first updates against torch.optim's published formulas, convergence, errors."""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable

import pytest

from microgrboard.core import Value, is_grad_enabled
from microgrboard.optim import (
    OPTIMIZERS,
    SGD,
    AdaGrad,
    Adam,
    AdamW,
    CosineAnnealingLR,
    LinearLR,
    Momentum,
    Nesterov,
    Optimizer,
    RMSProp,
    StepLR,
)

# The tiny problem: L(a, b) = (a - 3)² + 10·b², from a = 1, b = -0.5.
START = (1.0, -0.5)


def loss_of(a: Value, b: Value) -> Value:
    return (a - 3) ** 2 + 10 * b * b


def gradient(a: float, b: float) -> list[float]:
    return [2 * (a - 3), 20 * b]


def advance(params: list[Value], opt: Optimizer, steps: int) -> list[list[float]]:
    """Parameter values after each of ``steps`` updates of ``opt`` on ``loss_of``."""
    trajectory = []
    for _ in range(steps):
        loss = loss_of(*params)
        opt.zero_grad()
        loss.backward()
        opt.step()
        trajectory.append([p.data for p in params])
    return trajectory


def run(make: Callable[[list[Value]], Optimizer], steps: int = 3) -> list[list[float]]:
    """Parameter values after each of ``steps`` updates made by the optimizer under test."""
    params = [Value(x) for x in START]
    return advance(params, make(params), steps)


# --- reference trajectories, written straight from the torch.optim documentation ---
# Scalar code, one parameter at a time; none of it calls microgrboard.optim.


Update = Callable[[int, int, float, float], float]  # (t, index, θ, g) -> new θ


def reference(update: Update, steps: int = 3) -> list[list[float]]:
    theta = list(START)
    trajectory = []
    for t in range(1, steps + 1):
        g = gradient(*theta)
        theta = [update(t, i, theta[i], g[i]) for i in range(2)]
        trajectory.append(list(theta))
    return trajectory


def ref_sgd(lr: float, momentum: float = 0.0, dampening: float = 0.0, wd: float = 0.0,
            nesterov: bool = False) -> list[list[float]]:
    b = [0.0, 0.0]

    def update(t: int, i: int, theta: float, g: float) -> float:
        g = g + wd * theta
        if momentum != 0:
            b[i] = g if t == 1 else momentum * b[i] + (1 - dampening) * g
            g = g + momentum * b[i] if nesterov else b[i]
        return theta - lr * g

    return reference(update)


def ref_adagrad(lr: float, lr_decay: float = 0.0, wd: float = 0.0, init: float = 0.0,
                eps: float = 1e-10) -> list[list[float]]:
    state_sum = [init, init]

    def update(t: int, i: int, theta: float, g: float) -> float:
        lr_t = lr / (1 + (t - 1) * lr_decay)
        g = g + wd * theta
        state_sum[i] = state_sum[i] + g * g
        return theta - lr_t * g / (math.sqrt(state_sum[i]) + eps)

    return reference(update)


def ref_rmsprop(lr: float, alpha: float = 0.99, eps: float = 1e-8, wd: float = 0.0,
                momentum: float = 0.0, centered: bool = False) -> list[list[float]]:
    v, g_ave, b = [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]

    def update(t: int, i: int, theta: float, g: float) -> float:
        g = g + wd * theta
        v[i] = alpha * v[i] + (1 - alpha) * g * g
        v_tilde = v[i]
        if centered:
            g_ave[i] = alpha * g_ave[i] + (1 - alpha) * g
            v_tilde = v_tilde - g_ave[i] ** 2
        if momentum > 0:
            b[i] = momentum * b[i] + g / (math.sqrt(v_tilde) + eps)
            return theta - lr * b[i]
        return theta - lr * g / (math.sqrt(v_tilde) + eps)

    return reference(update)


def ref_adam(lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
             wd: float = 0.0, decoupled: bool = False, amsgrad: bool = False) -> list[list[float]]:
    m, v, v_max = [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]

    def update(t: int, i: int, theta: float, g: float) -> float:
        if decoupled:
            theta = theta - lr * wd * theta  # AdamW
        else:
            g = g + wd * theta  # Adam
        m[i] = beta1 * m[i] + (1 - beta1) * g
        v[i] = beta2 * v[i] + (1 - beta2) * g * g
        m_hat = m[i] / (1 - beta1**t)
        if amsgrad:  # torch keeps the running max of v, then corrects it
            v_max[i] = max(v_max[i], v[i])
            v_hat = v_max[i] / (1 - beta2**t)
        else:
            v_hat = v[i] / (1 - beta2**t)
        return theta - lr * m_hat / (math.sqrt(v_hat) + eps)

    return reference(update)


def test_sgd_first_updates_by_hand() -> None:
    # lr 0.1, weight decay 0.01. Step 1: g_a = 2(1 - 3) + 0.01·1 = -3.99 -> a = 1.399;
    # g_b = 20(-0.5) + 0.01(-0.5) = -10.005 -> b = -0.5 + 1.0005 = 0.5005.
    # Step 2: g_a = 2(1.399 - 3) + 0.01399 = -3.18801 -> a = 1.717801.
    traj = run(lambda ps: SGD(ps, lr=0.1, weight_decay=0.01), steps=2)
    assert traj[0] == pytest.approx([1.399, 0.5005], abs=1e-12)
    assert traj[1][0] == pytest.approx(1.717801, abs=1e-12)


def test_momentum_first_updates_by_hand() -> None:
    # lr 0.1, μ 0.9 on parameter a: g1 = -4, b1 = g1 = -4, a1 = 1.4;
    # g2 = 2(1.4 - 3) = -3.2, b2 = 0.9(-4) - 3.2 = -6.8, a2 = 1.4 + 0.68 = 2.08.
    traj = run(lambda ps: Momentum(ps, lr=0.1, momentum=0.9), steps=2)
    assert [t[0] for t in traj] == pytest.approx([1.4, 2.08], abs=1e-12)


def test_adam_first_update_is_lr_times_sign() -> None:
    # Adam's first step is lr·g/(|g| + ε'), i.e. lr against the sign of g, whatever |g|.
    traj = run(lambda ps: Adam(ps, lr=0.01), steps=1)
    assert traj[0] == pytest.approx([1.01, -0.49], abs=1e-9)


# First updates worked out by hand from torch's formulas (not from ref_* above).
# At START the gradient is g = (2(1 - 3), 20(-0.5)) = (-4, -10).
FIRST_STEP_BY_HAND: list[tuple[str, Callable[[list[Value]], Optimizer], list[float]]] = [
    # Nesterov, lr 0.02, μ 0.9: b = g at t = 1, step g + μb = 1.9g = (-7.6, -19);
    # a = 1 + 0.02·7.6 = 1.152, b = -0.5 + 0.02·19 = -0.12.
    ("nesterov", lambda ps: Nesterov(ps, lr=0.02), [1.152, -0.12]),
    # Momentum, lr 0.02: b = g at t = 1, so the first step is plain SGD: a = 1 + 0.08.
    ("momentum", lambda ps: Momentum(ps, lr=0.02), [1.08, -0.3]),
    # AdaGrad, lr 0.3: s = g², step 0.3·g/|g| = 0.3 against the sign of g
    # (ε = 1e-10 shifts it by ~1e-11): (1.3, -0.2).
    ("adagrad", lambda ps: AdaGrad(ps, lr=0.3), [1.3, -0.2]),
    # RMSProp, lr 0.01, α 0.99: v = 0.01·g², √v = 0.1·|g|, step 0.01·g/(0.1|g|) = 0.1·sign(g):
    # (1.1, -0.4); ε = 1e-8 next to √v = 0.4 shrinks the step by 2.5e-9.
    ("rmsprop", lambda ps: RMSProp(ps, lr=0.01), [1.1, -0.4]),
    # Centered: ḡ = 0.01·g, ṽ = 0.01g² - 0.0001g² = 0.0099g²,
    # step 0.01/√0.0099 = 0.100503782 against the sign of g.
    ("rmsprop centered", lambda ps: RMSProp(ps, lr=0.01, centered=True),
     [1.100503782, -0.399496218]),
    # AdamW, lr 0.1, λ 0.01: θ ← (1 - 0.1·0.01)θ = 0.999θ = (0.999, -0.4995), then Adam's
    # first step, 0.1 against the sign of g: (1.099, -0.3995).
    ("adamw", lambda ps: AdamW(ps, lr=0.1), [1.099, -0.3995]),
]


@pytest.mark.parametrize(("name", "make", "expected"), FIRST_STEP_BY_HAND,
                         ids=[c[0] for c in FIRST_STEP_BY_HAND])
def test_first_update_by_hand(
    name: str, make: Callable[[list[Value]], Optimizer], expected: list[float]
) -> None:
    assert run(make, steps=1)[0] == pytest.approx(expected, abs=1e-8)  # ε's share < 1e-8


def feed(opt: Optimizer, grads: list[float]) -> list[float]:
    """θ after each update, with ``.grad`` set by hand to each of ``grads`` in turn."""
    (p,) = opt.params
    out = []
    for g in grads:
        p.grad = g
        opt.step()
        out.append(p.data)
    return out


def test_amsgrad_keeps_the_largest_second_moment_when_the_gradient_drops() -> None:
    # lr 1, β₁ = β₂ = 0.5, θ = 0, gradients 10, 0.1, 0.1 (ε = 1e-8 is negligible here).
    # t=1: m = 5, v = 50; m̂ = 10, v̂ = 100; θ = -10/10 = -1.   v_max = 50.
    # t=2: m = 2.55, v = 25.005, v_max = 50; m̂ = 2.55/0.75 = 3.4.
    #      amsgrad v̂ = 50/0.75 = 66.667, step 3.4/8.164966 = 0.416413 -> θ = -1.416413
    #      Adam    v̂ = 25.005/0.75 = 33.34, step 3.4/5.774080 = 0.588838 -> θ = -1.588838
    # t=3: m = 1.325, v = 12.5075, v_max = 50; m̂ = 1.325/0.875 = 1.514286.
    #      amsgrad v̂ = 50/0.875 = 57.142857, step 1.514286/7.559289 = 0.200321
    #      Adam    v̂ = 12.5075/0.875 = 14.294286, step 1.514286/3.780779 = 0.400522
    grads = [10.0, 0.1, 0.1]
    amsgrad = feed(Adam([Value(0.0)], lr=1.0, betas=(0.5, 0.5), amsgrad=True), grads)
    adam = feed(Adam([Value(0.0)], lr=1.0, betas=(0.5, 0.5)), grads)
    assert amsgrad == pytest.approx([-1.0, -1.416413, -1.616734], abs=1e-6)
    assert adam == pytest.approx([-1.0, -1.588838, -1.989360], abs=1e-6)


def test_centered_rmsprop_survives_a_constant_gradient() -> None:
    # With a constant g the centered variance v - ḡ² = g²·αᵗ(1 - αᵗ) shrinks to 0 and,
    # from t ≈ 50 at α = 0.5, rounds below 0: it must be clamped, not passed to sqrt.
    g, lr, alpha = 1.7, 0.01, 0.5
    opt = RMSProp([Value(0.0)], lr=lr, alpha=alpha, centered=True)
    theta = feed(opt, [g] * 60)
    steps = [before - after for before, after in zip([0.0, *theta], theta)]
    # At most lr·g/ε (ṽ = 0), up to the rounding of θ - step on such a large θ.
    assert all(math.isfinite(s) and 0 < s <= lr * g / opt.eps * (1 + 1e-12) for s in steps)
    for t, s in enumerate(steps[:20], start=1):  # before rounding matters: the exact formula
        exact = lr * g / (g * math.sqrt(alpha**t * (1 - alpha**t)) + opt.eps)
        assert s == pytest.approx(exact, rel=1e-6)


CASES: list[tuple[str, Callable[[list[Value]], Optimizer], list[list[float]]]] = [
    ("sgd", lambda ps: SGD(ps, lr=0.05), ref_sgd(0.05)),
    ("sgd wd", lambda ps: SGD(ps, lr=0.05, weight_decay=0.1), ref_sgd(0.05, wd=0.1)),
    ("sgd momentum dampening", lambda ps: SGD(ps, lr=0.02, momentum=0.8, dampening=0.3),
     ref_sgd(0.02, momentum=0.8, dampening=0.3)),
    ("momentum", lambda ps: Momentum(ps, lr=0.02, weight_decay=0.05),
     ref_sgd(0.02, momentum=0.9, wd=0.05)),
    ("nesterov", lambda ps: Nesterov(ps, lr=0.02), ref_sgd(0.02, momentum=0.9, nesterov=True)),
    ("adagrad", lambda ps: AdaGrad(ps, lr=0.3), ref_adagrad(0.3)),
    ("adagrad all options",
     lambda ps: AdaGrad(ps, lr=0.3, lr_decay=0.5, weight_decay=0.1, initial_accumulator_value=0.2),
     ref_adagrad(0.3, lr_decay=0.5, wd=0.1, init=0.2)),
    ("rmsprop", lambda ps: RMSProp(ps, lr=0.01), ref_rmsprop(0.01)),
    ("rmsprop centered momentum",
     lambda ps: RMSProp(ps, lr=0.01, alpha=0.9, weight_decay=0.1, momentum=0.5, centered=True),
     ref_rmsprop(0.01, alpha=0.9, wd=0.1, momentum=0.5, centered=True)),
    ("adam", lambda ps: Adam(ps, lr=0.1), ref_adam(0.1)),
    ("adam wd amsgrad", lambda ps: Adam(ps, lr=0.1, betas=(0.8, 0.9), weight_decay=0.1,
                                        amsgrad=True),
     ref_adam(0.1, 0.8, 0.9, wd=0.1, amsgrad=True)),
    ("adamw", lambda ps: AdamW(ps, lr=0.1), ref_adam(0.1, wd=0.01, decoupled=True)),
    ("adamw amsgrad", lambda ps: AdamW(ps, lr=0.1, weight_decay=0.5, amsgrad=True),
     ref_adam(0.1, wd=0.5, decoupled=True, amsgrad=True)),
]


@pytest.mark.parametrize(("name", "make", "expected"), CASES, ids=[c[0] for c in CASES])
def test_first_three_updates_follow_torch_formula(
    name: str, make: Callable[[list[Value]], Optimizer], expected: list[list[float]]
) -> None:
    traj = run(make, steps=3)
    for got, want in zip(traj, expected, strict=True):
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12)
    assert traj[0] != [*START]  # the optimizer moved


def test_torch_defaults() -> None:
    p = [Value(1.0)]
    assert Adam(p).hyperparameters() == {"lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8,
                                         "weight_decay": 0.0, "amsgrad": False}
    assert AdamW(p).weight_decay == 0.01
    assert (RMSProp(p).lr, RMSProp(p).alpha, RMSProp(p).eps) == (0.01, 0.99, 1e-8)
    assert (AdaGrad(p).lr, AdaGrad(p).eps) == (0.01, 1e-10)
    assert SGD(p).lr == 1e-3 and SGD(p).momentum == 0.0


# --- convergence ---------------------------------------------------------------------


def minimise(f: Callable[[Value, Value], Value], start: tuple[float, float],
             make: Callable[[list[Value]], Optimizer], steps: int) -> tuple[float, float]:
    x, y = Value(start[0]), Value(start[1])
    opt = make([x, y])
    for _ in range(steps):
        loss = f(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return x.data, y.data


def quadratic(x: Value, y: Value) -> Value:
    # Convex: Hessian [[2, 1], [1, 10]] is positive definite; minimum at (1, -2).
    return (x - 1) ** 2 + 5 * (y + 2) ** 2 + (x - 1) * (y + 2)


def rosenbrock(x: Value, y: Value) -> Value:
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2  # minimum at (1, 1)


QUADRATIC = {
    "sgd": lambda ps: SGD(ps, lr=0.05),
    "momentum": lambda ps: Momentum(ps, lr=0.02),
    "nesterov": lambda ps: Nesterov(ps, lr=0.02),
    "adagrad": lambda ps: AdaGrad(ps, lr=0.5),
    "rmsprop": lambda ps: RMSProp(ps, lr=0.05, schedule=CosineAnnealingLR(300)),
    "adam": lambda ps: Adam(ps, lr=0.1, schedule=CosineAnnealingLR(300)),
    "adamw": lambda ps: AdamW(ps, lr=0.1, weight_decay=0.0, schedule=CosineAnnealingLR(300)),
}


@pytest.mark.parametrize("name", sorted(QUADRATIC))
def test_converges_on_convex_quadratic(name: str) -> None:
    x, y = minimise(quadratic, (4.0, 1.0), QUADRATIC[name], steps=300)
    assert x == pytest.approx(1.0, abs=1e-3)
    assert y == pytest.approx(-2.0, abs=1e-3)


ROSENBROCK = {
    "sgd": (lambda ps: SGD(ps, lr=1e-3), 20000),
    "momentum": (lambda ps: Momentum(ps, lr=2e-4), 5000),
    "nesterov": (lambda ps: Nesterov(ps, lr=2e-4), 5000),
    "adagrad": (lambda ps: AdaGrad(ps, lr=0.5), 8000),
    "rmsprop": (lambda ps: RMSProp(ps, lr=0.01, schedule=CosineAnnealingLR(5000)), 5000),
    "adam": (lambda ps: Adam(ps, lr=0.05, schedule=CosineAnnealingLR(5000)), 5000),
    "adamw": (lambda ps: AdamW(ps, lr=0.05, weight_decay=0.0,
                               schedule=CosineAnnealingLR(5000)), 5000),
}


@pytest.mark.parametrize("name", sorted(ROSENBROCK))
def test_converges_on_rosenbrock(name: str) -> None:
    make, steps = ROSENBROCK[name]
    x, y = minimise(rosenbrock, (-1.2, 1.0), make, steps)
    assert x == pytest.approx(1.0, abs=1e-2)
    assert y == pytest.approx(1.0, abs=2e-2)


def test_registry_covers_every_optimizer() -> None:
    assert set(OPTIMIZERS) == set(QUADRATIC) == set(ROSENBROCK)


# --- the update itself ----------------------------------------------------------------


def test_step_runs_under_no_grad_and_keeps_parameters_as_leaves() -> None:
    seen = []

    class Watched(SGD):
        def _update(self, lr: float, t: int) -> None:
            seen.append(is_grad_enabled())
            super()._update(lr, t)

    a, b = Value(1.0), Value(2.0)
    opt = Watched([a, b], lr=0.1, momentum=0.9)
    for _ in range(3):
        loss = a * b + a * a
        opt.zero_grad()
        loss.backward()
        opt.step()
        assert (a.op, a.parents, b.op, b.parents) == ("", (), "", ())
    assert seen == [False] * 3
    assert is_grad_enabled()


def test_zero_grad_clears_parameter_gradients() -> None:
    a = Value(2.0)
    (a * a).backward()
    opt = SGD([a], lr=0.1)
    assert a.grad == 4.0
    opt.zero_grad()
    assert a.grad == 0.0


# --- schedules --------------------------------------------------------------------


def test_step_lr_and_cosine_closed_forms() -> None:
    step = StepLR(step_size=3, gamma=0.5)
    assert [step(2.0, k) for k in range(7)] == [2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 0.5]
    cosine = CosineAnnealingLR(T_max=10, eta_min=0.1)
    assert cosine(1.0, 0) == pytest.approx(1.0)
    assert cosine(1.0, 5) == pytest.approx(0.55)
    assert cosine(1.0, 10) == pytest.approx(0.1)


def test_linear_lr_is_microgradss_schedule() -> None:
    schedule = LinearLR(start_factor=1.0, end_factor=0.1, total_iters=100)
    for k in range(100):
        assert schedule(1.0, k) == pytest.approx(1.0 - 0.9 * k / 100, abs=1e-12)


def test_optimizer_consults_its_schedule_each_step() -> None:
    a = Value(1.0)
    opt = SGD([a], lr=0.4, schedule=StepLR(step_size=2, gamma=0.5))
    used = []
    for _ in range(5):
        used.append(opt.lr)
        before = a.data
        opt.zero_grad()
        (a * 1.0).backward()  # gradient 1: the step is exactly the learning rate
        opt.step()
        assert before - a.data == pytest.approx(used[-1])
    assert used == [0.4, 0.4, 0.2, 0.2, 0.1]


def test_setting_lr_by_hand_as_micrograd_does() -> None:
    a = Value(0.0)
    opt = SGD([a], lr=1.0)
    for k in range(3):
        opt.lr = 1.0 - 0.9 * k / 100  # micrograd's demo loop
        a.grad = 1.0
        before = a.data
        opt.step()
        assert before - a.data == pytest.approx(1.0 - 0.9 * k / 100)
    with pytest.raises(ValueError, match="lr"):
        opt.lr = -1.0
    assert opt.lr == pytest.approx(0.982)  # unchanged by the rejected value


def test_setting_lr_with_a_schedule_sets_the_base_it_scales() -> None:
    opt = SGD([Value(0.0)], lr=1.0, schedule=StepLR(step_size=1, gamma=0.5))
    opt.step()
    opt.step()
    opt.lr = 0.8
    assert (opt.lr_base, opt.lr) == (0.8, 0.2)  # 0.8 · 0.5² at update 2
    assert opt.state_dict()["hyperparameters"]["lr"] == 0.8


# --- state_dict / resume --------------------------------------------------------------


RESUMABLE: dict[str, Callable[[list[Value]], Optimizer]] = {
    name: lambda ps, cls=cls: cls(ps, lr=0.01, schedule=StepLR(2, 0.5))  # type: ignore[misc]
    for name, cls in OPTIMIZERS.items()
}
# Configurations whose extra buffers matter: with lr 0.3 and β₂ = 0.5, v follows the
# sharply falling g² (b heads to 0 fast), so v_max stays above it; centered + momentum
# use grad_avg and momentum_buffer.
RESUMABLE["adam amsgrad"] = lambda ps: Adam(ps, lr=0.3, betas=(0.9, 0.5), amsgrad=True,
                                            schedule=StepLR(2, 0.5))
RESUMABLE["rmsprop centered momentum"] = lambda ps: RMSProp(
    ps, lr=0.01, momentum=0.5, centered=True, schedule=StepLR(2, 0.5)
)


@pytest.mark.parametrize("name", sorted(RESUMABLE))
def test_resume_from_state_dict_gives_the_same_trajectory(name: str) -> None:
    make = RESUMABLE[name]
    params = [Value(x) for x in START]
    opt = make(params)
    advance(params, opt, 3)
    saved = json.loads(json.dumps(opt.state_dict()))  # must survive JSON
    middle = [p.data for p in params]
    uninterrupted = advance(params, opt, 3)

    resumed_params = [Value(x) for x in middle]
    resumed = make(resumed_params)
    resumed.load_state_dict(saved)
    assert resumed.step_count == 3 and resumed.lr == opt.schedule(opt.lr_base, 3)  # type: ignore[misc]
    assert advance(resumed_params, resumed, 3) == uninterrupted

    # Every buffer in use is needed: resuming with it changed (x4) goes elsewhere.
    live = [b for b, values in saved["state"].items() if any(values)]
    for buffer in live:
        damaged = json.loads(json.dumps(saved))
        damaged["state"][buffer] = [4 * v for v in saved["state"][buffer]]
        other_params = [Value(x) for x in middle]
        other = make(other_params)
        other.load_state_dict(damaged)
        assert advance(other_params, other, 3) != uninterrupted, buffer
    if name in ("adam amsgrad", "rmsprop centered momentum"):
        assert sorted(live) == sorted(resumed.buffers)  # these cases exercise every buffer


def test_load_state_dict_rejects_mismatches_and_changes_nothing() -> None:
    params = [Value(1.0), Value(2.0)]
    adam = Adam(params, lr=0.1)
    state = adam.state_dict()
    with pytest.raises(ValueError, match="'Adam' optimizer, not 'SGD'"):
        SGD(params).load_state_dict(state)
    with pytest.raises(ValueError, match="one per parameter"):
        Adam([Value(1.0)]).load_state_dict(state)
    bad = json.loads(json.dumps(state))
    bad["hyperparameters"]["lr"] = -1.0
    other = Adam(params, lr=0.5)
    with pytest.raises(ValueError, match="lr"):
        other.load_state_dict(bad)
    assert other.lr == 0.5 and other.step_count == 0
    with pytest.raises(ValueError, match="format"):
        other.load_state_dict({"step": 1})


# --- bad hyper-parameters ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda ps: SGD(ps, lr=-0.1), "lr"),
        (lambda ps: Adam(ps, lr=float("nan")), "lr"),
        (lambda ps: Adam(ps, betas=(1.0, 0.999)), r"betas\[0\]"),
        (lambda ps: Adam(ps, betas=(0.9, -0.1)), r"betas\[1\]"),
        (lambda ps: AdamW(ps, betas=(0.9,)), "betas"),  # type: ignore[arg-type]
        (lambda ps: Adam(ps, eps=-1e-8), "eps"),
        (lambda ps: Adam(ps, eps=0.0), "eps"),
        (lambda ps: AdamW(ps, eps=0), "eps"),
        (lambda ps: RMSProp(ps, eps=0.0), "eps"),
        (lambda ps: AdaGrad(ps, eps=0.0), "eps"),
        (lambda ps: SGD(ps, momentum=-0.9), "momentum"),
        (lambda ps: SGD(ps, momentum=1.0), "momentum"),
        (lambda ps: Momentum(ps, momentum=1.5), "momentum"),
        (lambda ps: SGD(ps, momentum=0.9, dampening=1.5), "dampening"),
        (lambda ps: SGD(ps, weight_decay=-1), "weight_decay"),
        (lambda ps: SGD(ps, nesterov=True), "nesterov"),
        (lambda ps: RMSProp(ps, alpha=-0.5), "alpha"),
        (lambda ps: RMSProp(ps, alpha=1.5), "alpha"),
        (lambda ps: RMSProp(ps, momentum=1.0), "momentum"),
        (lambda ps: AdaGrad(ps, lr_decay=-1), "lr_decay"),
        (lambda ps: StepLR(step_size=0), "step_size"),
        (lambda ps: CosineAnnealingLR(T_max=0), "T_max"),
        (lambda ps: LinearLR(start_factor=0.0), "start_factor"),
        (lambda ps: LinearLR(total_iters=True), "total_iters"),
    ],
)
def test_bad_hyperparameters_raise_naming_the_parameter(
    make: Callable[[list[Value]], object], name: str
) -> None:
    with pytest.raises(ValueError, match=name):
        make([Value(1.0)])


def test_bad_parameter_lists() -> None:
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        a = Value(1.0)
        SGD([a, a], lr=0.1)
    with pytest.raises(TypeError, match=r"params\[1\] is a float"):
        SGD([Value(1.0), 2.0], lr=0.1)  # type: ignore[list-item]
    with pytest.raises(TypeError, match="iterable of Values"):
        SGD(Value(1.0), lr=0.1)  # type: ignore[arg-type]


def test_eps_keeps_zero_gradients_finite() -> None:
    # With eps > 0 required, a parameter whose gradient is 0 simply does not move.
    for make in (Adam, AdamW, RMSProp, AdaGrad):
        p = Value(0.5)
        opt = make([p], lr=0.1, weight_decay=0.0)
        assert feed(opt, [0.0, 0.0]) == [0.5, 0.5]


def test_momentum_and_nesterov_fix_nesterov_and_alias_sgd() -> None:
    with pytest.raises(TypeError, match="nesterov"):
        Nesterov([Value(1.0)], nesterov=False)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="nesterov"):
        Momentum([Value(1.0)], nesterov=True)  # type: ignore[call-arg]
    assert Nesterov([Value(1.0)]).nesterov and not Momentum([Value(1.0)]).nesterov
    assert "nesterov" not in Nesterov([Value(1.0)]).hyperparameters()
    assert run(lambda ps: Nesterov(ps, lr=0.02)) == run(
        lambda ps: SGD(ps, lr=0.02, momentum=0.9, nesterov=True))
    assert run(lambda ps: Momentum(ps, lr=0.02)) == run(
        lambda ps: SGD(ps, lr=0.02, momentum=0.9))


# --- the public update rule: the book's optimizers (Deep Learning from Scratch, ch. 6) ---


def book_optimizers_from_the_docs() -> dict[str, type[Optimizer]]:
    """Run the code block of ``microgrboard.optim``'s docstring that writes the book's
    Momentum and Adam, and return what it defines: the docs are what is tested."""
    import microgrboard.optim as optim

    doc = optim.__doc__ or ""
    after = doc.split("Adam (*Deep Learning from Scratch*, 6.1), written that way::\n", 1)[1]
    block = []
    for line in after.split("\n"):
        if line.strip() and not line.startswith("    "):
            break
        block.append(line[4:])
    namespace: dict[str, object] = {}
    exec(compile("\n".join(block), "optim-docstring", "exec"), namespace)
    return {"Momentum": namespace["BookMomentum"], "Adam": namespace["BookAdam"]}  # type: ignore[dict-item]


class BookSGD:  # ch. 6, common/optimizer.py, with floats in dicts instead of arrays
    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr

    def update(self, params: dict[str, float], grads: dict[str, float]) -> None:
        for key in params:
            params[key] -= self.lr * grads[key]


class BookMomentumReference:
    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        self.lr, self.momentum = lr, momentum
        self.v: dict[str, float] | None = None

    def update(self, params: dict[str, float], grads: dict[str, float]) -> None:
        if self.v is None:
            self.v = {key: 0.0 for key in params}
        for key in params:
            self.v[key] = self.momentum * self.v[key] - self.lr * grads[key]
            params[key] += self.v[key]


class BookAdaGrad:
    def __init__(self, lr: float = 0.01) -> None:
        self.lr = lr
        self.h: dict[str, float] | None = None

    def update(self, params: dict[str, float], grads: dict[str, float]) -> None:
        if self.h is None:
            self.h = {key: 0.0 for key in params}
        for key in params:
            self.h[key] += grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (math.sqrt(self.h[key]) + 1e-7)


class BookAdamReference:
    def __init__(self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999) -> None:
        self.lr, self.beta1, self.beta2 = lr, beta1, beta2
        self.iter = 0
        self.m: dict[str, float] | None = None
        self.v: dict[str, float] | None = None

    def update(self, params: dict[str, float], grads: dict[str, float]) -> None:
        if self.m is None or self.v is None:
            self.m = {key: 0.0 for key in params}
            self.v = {key: 0.0 for key in params}
        self.iter += 1
        lr_t = self.lr * math.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for key in params:
            self.m[key] += (1 - self.beta1) * (grads[key] - self.m[key])
            self.v[key] += (1 - self.beta2) * (grads[key] ** 2 - self.v[key])
            params[key] -= lr_t * self.m[key] / (math.sqrt(self.v[key]) + 1e-7)


BOOK_START, BOOK_STEPS = (-7.0, 2.0), 30


def book_df(x: float, y: float) -> tuple[float, float]:
    return x / 10.0, 2.0 * y  # the book's gradient of f(x, y) = x²/20 + y²


def book_path(optimizer: object) -> list[tuple[float, float]]:
    params = {"x": BOOK_START[0], "y": BOOK_START[1]}
    path = [(params["x"], params["y"])]
    for _ in range(BOOK_STEPS):
        gx, gy = book_df(params["x"], params["y"])
        optimizer.update(params, {"x": gx, "y": gy})  # type: ignore[attr-defined]
        path.append((params["x"], params["y"]))
    return path


def our_path(
    make: Callable[[list[Value]], Optimizer], *, backprop: bool
) -> list[tuple[float, float]]:
    x, y = Value(BOOK_START[0], "x"), Value(BOOK_START[1], "y")
    opt = make([x, y])
    path = [(x.data, y.data)]
    for _ in range(BOOK_STEPS):
        opt.zero_grad()
        if backprop:  # the engine's gradient of x²/20 + y²
            (x**2 / 20 + y**2).backward()
        else:  # the book's df, so that only the update rules are compared
            x.grad, y.grad = book_df(x.data, y.data)
        opt.step()
        path.append((x.data, y.data))
    return path


def book_cases() -> list[tuple[str, object, Callable[[list[Value]], Optimizer]]]:
    book = book_optimizers_from_the_docs()
    return [
        ("SGD", BookSGD(lr=0.95), lambda ps: SGD(ps, lr=0.95)),
        ("Momentum", BookMomentumReference(lr=0.1), lambda ps: book["Momentum"](ps, lr=0.1)),
        ("AdaGrad", BookAdaGrad(lr=1.5), lambda ps: AdaGrad(ps, lr=1.5, eps=1e-7)),
        ("Adam", BookAdamReference(lr=0.3), lambda ps: book["Adam"](ps, lr=0.3)),
    ]


@pytest.mark.parametrize("index", range(4), ids=["SGD", "Momentum", "AdaGrad", "Adam"])
def test_the_books_optimizer_paths_on_x2_over_20_plus_y2(index: int) -> None:
    name, reference, make = book_cases()[index]
    expected = book_path(reference)
    assert our_path(make, backprop=False) == expected  # the same floats, step by step
    # With the engine's own gradients (2x·(1/20) rounds differently from x/10):
    for ours, theirs in zip(our_path(make, backprop=True), expected, strict=True):
        assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-15)
    assert math.dist(expected[-1], (0.0, 0.0)) < math.dist(BOOK_START, (0.0, 0.0)) / 5, name


def test_a_user_rule_gets_the_constructor_checks_state_dict_and_schedule() -> None:
    BookMomentum = book_optimizers_from_the_docs()["Momentum"]
    signature = str(inspect.signature(BookMomentum))
    assert signature == "(params, lr=0.01, momentum=0.9, *, schedule=None)"
    params = [Value(1.0), Value(-2.0)]
    opt = BookMomentum(params, 0.05, momentum=0.5, schedule=StepLR(1, 0.5))
    assert opt.hyperparameters() == {"lr": 0.05, "momentum": 0.5}
    with pytest.raises(ValueError, match=r"momentum must be in \[0.0, 1.0\), got 1.5"):
        BookMomentum(params, momentum=1.5)
    with pytest.raises(TypeError, match="BookMomentum.*unexpected keyword argument 'beta'"):
        BookMomentum(params, beta=0.5)
    with pytest.raises(ValueError, match="momentum"):
        opt.momentum = -0.1  # setting later checks again
    # v after two steps, by hand, with lr 0.05 then 0.025 (StepLR halves it each step)
    # and gradient 1 for both parameters: v1 = -0.05, v2 = 0.5·(-0.05) - 0.025 = -0.05.
    for _ in range(2):
        for p in params:
            p.grad = 1.0
        opt.step()
    assert [p.data for p in params] == pytest.approx([0.9, -2.1])
    saved = json.loads(json.dumps(opt.state_dict()))
    assert saved["state"] == {"v": [pytest.approx(-0.05), pytest.approx(-0.05)]}
    resumed = BookMomentum([Value(0.9), Value(-2.1)], schedule=StepLR(1, 0.5))
    resumed.load_state_dict(saved)
    assert (resumed.momentum, resumed.lr, resumed.step_count) == (0.5, 0.0125, 2)


def test_an_optimizer_without_a_rule_says_so() -> None:
    class Unfinished(Optimizer):
        buffers = ("v",)

    opt = Unfinished([Value(1.0)])
    with pytest.raises(NotImplementedError, match="Unfinished must define update"):
        opt.step()


def test_hyperparameters_are_declared_once_and_drive_everything() -> None:
    for cls in OPTIMIZERS.values():
        names = [h.name for h in cls.declared]
        opt = cls([Value(1.0)])
        assert list(opt.hyperparameters()) == names, cls  # the same names, in order
        assert list(opt.state_dict()["hyperparameters"]) == names
        signature = inspect.signature(cls)
        assert list(signature.parameters) == ["params", *names, "schedule"], cls
        defaults = {n: p.default for n, p in signature.parameters.items() if n in names}
        # Passing every default explicitly builds the same optimizer as passing none.
        assert cls([Value(1.0)], **defaults).hyperparameters() == opt.hyperparameters()
    assert Momentum.declared[1].default == 0.9 and SGD.declared[1].default == 0.0
    assert [h.name for h in AdamW.declared] == [h.name for h in Adam.declared]
    # Positional arguments follow the declaration order, as in torch.optim.
    assert SGD([Value(1.0)], 0.1, 0.9).momentum == 0.9
