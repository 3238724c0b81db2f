"""Optimizers that update :class:`~microgrboard.Value` parameters from their ``.grad``.

Each rule follows the update that ``torch.optim`` documents for the optimizer of
the same name, with the same hyper-parameter names and defaults, so a run moves
to PyTorch with the same trajectory, up to float rounding (floats here are 64-bit;
torch's default dtype is float32). One difference: torch skips a parameter whose
``.grad`` is ``None``, while here every parameter is updated, and a gradient of 0.0
still gets weight decay and momentum. Notation in the docstrings: θ parameter,
g gradient, γ learning rate (``lr``), λ ``weight_decay``, t the step (from 1).

A typical loop::

    opt = Adam(model.parameters(), lr=0.01)
    for step in range(100):
        loss = ...                # forward
        opt.zero_grad()
        loss.backward()
        opt.step()

Updates are plain float arithmetic on ``p.data`` inside :func:`no_grad`, so
they never add a node to any graph. A learning-rate schedule (:class:`StepLR`,
:class:`CosineAnnealingLR`, :class:`LinearLR`) is a small object the optimizer
consults before every step; it is a closed-form function of the step count, so a
resumed optimizer lands on the same learning rate. Schedules count optimizer
updates (calls to :meth:`Optimizer.step`), not epochs: with mini-batches of 10 out
of 100 points, ``StepLR(step_size=50)`` decays every 5 epochs.

Setting ``opt.lr = x`` changes the base rate (what a schedule scales), so
micrograd's hand-written decay ``opt.lr = 1.0 - 0.9 * k / 100`` works as is.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from microgrboard.core import Value, no_grad

STATE_FORMAT = "microgrboard.optimizer_state"


# --- learning-rate schedules --------------------------------------------------------


class Schedule(Protocol):
    """The learning rate for update ``step`` (0 for the first update), from the base rate.

    ``step`` counts optimizer updates (calls to ``step()``), not epochs.
    """

    def __call__(self, base_lr: float, step: int) -> float: ...


@dataclass(frozen=True)
class StepLR:
    """Step decay, as ``torch.optim.lr_scheduler.StepLR``: γ · gamma^⌊step / step_size⌋.

    >>> [StepLR(step_size=2, gamma=0.5)(1.0, k) for k in range(5)]
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    step_size: int
    gamma: float = 0.1

    def __post_init__(self) -> None:
        if isinstance(self.step_size, bool) or not isinstance(self.step_size, int):
            raise ValueError(f"step_size must be a positive int, got {self.step_size!r}")
        if self.step_size < 1:
            raise ValueError(f"step_size must be a positive int, got {self.step_size!r}")
        _check_range("gamma", self.gamma, 0.0, None)

    def __call__(self, base_lr: float, step: int) -> float:
        return base_lr * self.gamma ** (step // self.step_size)


@dataclass(frozen=True)
class CosineAnnealingLR:
    """Cosine decay, as torch's ``CosineAnnealingLR`` (closed form) from γ down to ``eta_min``.

    lr = eta_min + (γ - eta_min) · (1 + cos(π · step / T_max)) / 2. After ``T_max``
    steps it rises again, as torch's closed form does (restart by hand if wanted).

    >>> [round(CosineAnnealingLR(T_max=4)(1.0, k), 3) for k in range(5)]
    [1.0, 0.854, 0.5, 0.146, 0.0]
    """

    T_max: int  # torch's name, kept so code moves between the two
    eta_min: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.T_max, bool) or not isinstance(self.T_max, int) or self.T_max < 1:
            raise ValueError(f"T_max must be a positive int, got {self.T_max!r}")
        _check_range("eta_min", self.eta_min, 0.0, None)

    def __call__(self, base_lr: float, step: int) -> float:
        cosine = (1 + math.cos(math.pi * step / self.T_max)) / 2
        return self.eta_min + (base_lr - self.eta_min) * cosine


@dataclass(frozen=True)
class LinearLR:
    """Linear change of the factor on γ, as torch's ``LinearLR``, then constant.

    factor = start_factor + (end_factor - start_factor) · min(step, total_iters) / total_iters.
    micrograd's demo schedule ``lr = 1.0 - 0.9 * k / 100`` is
    ``LinearLR(start_factor=1.0, end_factor=0.1, total_iters=100)`` with γ = 1.

    >>> [round(LinearLR(1.0, 0.1, total_iters=100)(1.0, k), 3) for k in (0, 50, 99, 200)]
    [1.0, 0.55, 0.109, 0.1]
    """

    start_factor: float = 1.0 / 3
    end_factor: float = 1.0
    total_iters: int = 5

    def __post_init__(self) -> None:
        _check_range("start_factor", self.start_factor, 0.0, 1.0, open_low=True)
        _check_range("end_factor", self.end_factor, 0.0, 1.0)
        if (isinstance(self.total_iters, bool) or not isinstance(self.total_iters, int)
                or self.total_iters < 1):
            raise ValueError(f"total_iters must be a positive int, got {self.total_iters!r}")

    def __call__(self, base_lr: float, step: int) -> float:
        progress = min(step, self.total_iters) / self.total_iters
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)


# --- the optimizers -----------------------------------------------------------------


class Optimizer:
    """Holds the parameters, their per-parameter state and the step count.

    Subclasses set ``buffers`` (names of per-parameter state lists) and write the
    rule in :meth:`_update`; everything else (validation, the schedule,
    ``no_grad``, ``state_dict``) lives here once.
    """

    buffers: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self, params: Iterable[Value], lr: float, schedule: Schedule | None = None
    ) -> None:
        if isinstance(params, Value):
            raise TypeError("params must be an iterable of Values (e.g. model.parameters())")
        self.params: list[Value] = list(params)
        if not self.params:
            raise ValueError("params is an empty parameter list: nothing to optimize")
        for i, p in enumerate(self.params):
            if not isinstance(p, Value):
                raise TypeError(f"params[{i}] is a {type(p).__name__}, not a Value")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError("params lists the same Value more than once")
        self.lr_base = _check_range("lr", lr, 0.0, None)
        self.schedule = schedule
        self.step_count = 0  # updates done so far; t = step_count during an update
        self.state: dict[str, list[float]] = {
            name: [0.0] * len(self.params) for name in self.buffers
        }

    @property
    def lr(self) -> float:
        """The learning rate the next :meth:`step` will use.

        Setting it sets the base rate ``lr_base``. Without a schedule that is the
        rate itself; with one, the schedule scales the new base from the current
        step count on (``LinearLR`` and ``StepLR`` multiply it by their factor,
        ``CosineAnnealingLR`` decays from it towards ``eta_min``).

        >>> opt = SGD([Value(0.0)], lr=1.0)
        >>> opt.lr = 0.5; opt.lr
        0.5
        """
        if self.schedule is None:
            return self.lr_base
        return float(self.schedule(self.lr_base, self.step_count))

    @lr.setter
    def lr(self, value: float) -> None:
        self.lr_base = _check_range("lr", value, 0.0, None)

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0 (``backward()`` accumulates)."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        """Apply one update to every parameter from its current ``.grad``."""
        lr = self.lr
        self.step_count += 1
        with no_grad():  # floats only, but make sure nothing can record a graph
            self._update(lr, self.step_count)

    def _update(self, lr: float, t: int) -> None:
        raise NotImplementedError

    def hyperparameters(self) -> dict[str, Any]:
        """The constructor's hyper-parameters (``lr`` is the base rate)."""
        return {"lr": self.lr_base}

    def state_dict(self) -> dict[str, Any]:
        """A JSON-ready dict to resume from: hyper-parameters, step count and buffers.

        The schedule is not saved: pass the same one to the new optimizer; it depends
        only on the restored step count.
        """
        return {
            "format": STATE_FORMAT,
            "optimizer": type(self).__name__,
            "hyperparameters": self.hyperparameters(),
            "step": self.step_count,
            "state": {name: list(values) for name, values in self.state.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from :meth:`state_dict`. On any mismatch raise and change nothing."""
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ValueError("state is not an optimizer state_dict (missing its format tag)")
        if state.get("optimizer") != type(self).__name__:
            raise ValueError(
                f"state is from a {state.get('optimizer')!r} optimizer, "
                f"not {type(self).__name__!r}"
            )
        step = state.get("step")
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"state 'step' must be a non-negative int, got {step!r}")
        buffers = state.get("state")
        if not isinstance(buffers, dict) or set(buffers) != set(self.buffers):
            raise ValueError(f"state buffers must be {sorted(self.buffers)}")
        for name, values in buffers.items():
            if not isinstance(values, list) or len(values) != len(self.params):
                raise ValueError(
                    f"state buffer {name!r} must list {len(self.params)} numbers "
                    "(one per parameter)"
                )
        hyper = state.get("hyperparameters")
        if not isinstance(hyper, dict) or set(hyper) != set(self.hyperparameters()):
            raise ValueError(f"state hyperparameters must be {sorted(self.hyperparameters())}")
        fresh = type(self)(self.params, **hyper)  # validates the hyper-parameters
        try:
            restored = {name: [float(v) for v in values] for name, values in buffers.items()}
        except (TypeError, ValueError):
            raise ValueError("state buffers must hold numbers only") from None
        for name in hyper:  # all checked: now change self
            setattr(self, name, getattr(fresh, name))  # `lr` sets the base rate
        self.step_count = step
        self.state = restored

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({len(self.params)} parameters, {hyper})"


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum, as ``torch.optim.SGD``.

    g ← ∇θ + λθ;  with momentum μ: b ← g at t = 1, else b ← μb + (1 - dampening)·g,
    then g ← g + μb (Nesterov) or g ← b;  θ ← θ - γg.

    >>> x = Value(3.0)
    >>> opt = SGD([x], lr=0.1)
    >>> (x * x).backward(); opt.step(); x.data   # 3 - 0.1 * 6
    2.4
    """

    buffers = ("momentum_buffer",)
    # Momentum and Nesterov fix ``nesterov`` themselves (as ``fixed_nesterov``), so it
    # is not theirs to take or to save.
    fixed_nesterov: ClassVar[bool | None] = None

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        schedule: Schedule | None = None,
    ) -> None:
        super().__init__(params, lr, schedule)
        self.momentum = _check_range("momentum", momentum, 0.0, 1.0, open_high=True)
        self.dampening = _check_range("dampening", dampening, 0.0, 1.0)
        self.weight_decay = _check_range("weight_decay", weight_decay, 0.0, None)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                f"nesterov needs momentum > 0 and dampening = 0, "
                f"got momentum={momentum!r}, dampening={dampening!r}"
            )
        self.nesterov = bool(nesterov)

    def hyperparameters(self) -> dict[str, Any]:
        hyper = {**super().hyperparameters(), "momentum": self.momentum,
                 "dampening": self.dampening, "weight_decay": self.weight_decay}
        if self.fixed_nesterov is None:
            hyper["nesterov"] = self.nesterov
        return hyper

    def _update(self, lr: float, t: int) -> None:
        mu, wd, buf = self.momentum, self.weight_decay, self.state["momentum_buffer"]
        for i, p in enumerate(self.params):
            g = p.grad + wd * p.data
            if mu:
                buf[i] = g if t == 1 else mu * buf[i] + (1 - self.dampening) * g
                g = g + mu * buf[i] if self.nesterov else buf[i]
            p.data -= lr * g


class Momentum(SGD):
    """SGD with momentum (μ = 0.9 by default): b ← μb + g;  θ ← θ - γb.

    The same optimizer as ``SGD(params, lr, momentum=0.9)``; it takes no ``nesterov``
    argument (use :class:`Nesterov` for that). The textbook form v ← μv - γg;
    θ ← θ + v is the same walk while γ is constant.
    """

    fixed_nesterov = False

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        momentum: float = 0.9,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        *,
        schedule: Schedule | None = None,
    ) -> None:
        super().__init__(params, lr, momentum, dampening, weight_decay,
                         nesterov=bool(self.fixed_nesterov), schedule=schedule)


class Nesterov(Momentum):
    """SGD with Nesterov momentum (μ = 0.9 by default).

    b ← μb + g;  θ ← θ - γ(g + μb): the step looks ahead along the momentum.
    The same optimizer as torch's ``SGD(params, lr, momentum=0.9, nesterov=True)``;
    it takes no ``nesterov`` argument (use :class:`Momentum` for plain momentum).
    """

    fixed_nesterov = True


class AdaGrad(Optimizer):
    """AdaGrad, as ``torch.optim.Adagrad``: each parameter's step shrinks with its history.

    γ̃ ← γ / (1 + (t - 1)·lr_decay);  g ← ∇θ + λθ;  s ← s + g²;  θ ← θ - γ̃·g / (√s + ε).
    """

    buffers = ("sum",)

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        schedule: Schedule | None = None,
    ) -> None:
        super().__init__(params, lr, schedule)
        self.lr_decay = _check_range("lr_decay", lr_decay, 0.0, None)
        self.weight_decay = _check_range("weight_decay", weight_decay, 0.0, None)
        self.initial_accumulator_value = _check_range(
            "initial_accumulator_value", initial_accumulator_value, 0.0, None
        )
        self.eps = _check_range("eps", eps, 0.0, None, open_low=True)  # 0: 0/0 when g = 0
        self.state["sum"] = [self.initial_accumulator_value] * len(self.params)

    def hyperparameters(self) -> dict[str, Any]:
        return {**super().hyperparameters(), "lr_decay": self.lr_decay,
                "weight_decay": self.weight_decay,
                "initial_accumulator_value": self.initial_accumulator_value, "eps": self.eps}

    def _update(self, lr: float, t: int) -> None:
        lr = lr / (1 + (t - 1) * self.lr_decay)
        total = self.state["sum"]
        for i, p in enumerate(self.params):
            g = p.grad + self.weight_decay * p.data
            total[i] += g * g
            p.data -= lr * g / (math.sqrt(total[i]) + self.eps)


class RMSProp(Optimizer):
    """RMSProp, as ``torch.optim.RMSprop``: divide by a running root-mean-square of g.

    g ← ∇θ + λθ;  v ← αv + (1 - α)g²;  ṽ ← v, or max(v - ḡ², 0) with ḡ ← αḡ + (1 - α)g
    if centered (the max only guards against rounding below 0);
    with momentum μ: b ← μb + g/(√ṽ + ε), θ ← θ - γb;  else θ ← θ - γ·g/(√ṽ + ε).
    """

    buffers = ("square_avg", "grad_avg", "momentum_buffer")

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        schedule: Schedule | None = None,
    ) -> None:
        super().__init__(params, lr, schedule)
        self.alpha = _check_range("alpha", alpha, 0.0, 1.0)
        self.eps = _check_range("eps", eps, 0.0, None, open_low=True)  # 0: 0/0 when g = 0
        self.weight_decay = _check_range("weight_decay", weight_decay, 0.0, None)
        self.momentum = _check_range("momentum", momentum, 0.0, 1.0, open_high=True)
        self.centered = bool(centered)

    def hyperparameters(self) -> dict[str, Any]:
        return {**super().hyperparameters(), "alpha": self.alpha, "eps": self.eps,
                "weight_decay": self.weight_decay, "momentum": self.momentum,
                "centered": self.centered}

    def _update(self, lr: float, t: int) -> None:
        a, square_avg = self.alpha, self.state["square_avg"]
        grad_avg, buf = self.state["grad_avg"], self.state["momentum_buffer"]
        for i, p in enumerate(self.params):
            g = p.grad + self.weight_decay * p.data
            square_avg[i] = a * square_avg[i] + (1 - a) * g * g
            v = square_avg[i]
            if self.centered:
                grad_avg[i] = a * grad_avg[i] + (1 - a) * g
                # E[g²] - E[g]² >= 0 in exact arithmetic, but rounds below 0 when
                # the gradient barely varies (torch would take sqrt of it: NaN).
                v = max(v - grad_avg[i] ** 2, 0.0)
            step = g / (math.sqrt(v) + self.eps)
            if self.momentum:
                buf[i] = self.momentum * buf[i] + step
                step = buf[i]
            p.data -= lr * step


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam``: momentum on g and on g², both bias-corrected.

    g ← ∇θ + λθ;  m ← β₁m + (1 - β₁)g;  v ← β₂v + (1 - β₂)g²;
    m̂ ← m/(1 - β₁ᵗ);  v̂ ← v/(1 - β₂ᵗ);  θ ← θ - γ·m̂/(√v̂ + ε).
    With ``amsgrad``, v is replaced by its running maximum before the correction
    (as torch computes it).
    """

    buffers = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    decoupled_weight_decay: ClassVar[bool] = False

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        schedule: Schedule | None = None,
    ) -> None:
        super().__init__(params, lr, schedule)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        beta1 = _check_range("betas[0]", betas[0], 0.0, 1.0, open_high=True)
        beta2 = _check_range("betas[1]", betas[1], 0.0, 1.0, open_high=True)
        self.betas = (beta1, beta2)
        self.eps = _check_range("eps", eps, 0.0, None, open_low=True)  # 0: 0/0 when g = 0
        self.weight_decay = _check_range("weight_decay", weight_decay, 0.0, None)
        self.amsgrad = bool(amsgrad)

    def hyperparameters(self) -> dict[str, Any]:
        return {**super().hyperparameters(), "betas": list(self.betas), "eps": self.eps,
                "weight_decay": self.weight_decay, "amsgrad": self.amsgrad}

    def _update(self, lr: float, t: int) -> None:
        (b1, b2), m, v = self.betas, self.state["exp_avg"], self.state["exp_avg_sq"]
        v_max, wd = self.state["max_exp_avg_sq"], self.weight_decay
        correction1, correction2 = 1 - b1**t, 1 - b2**t
        for i, p in enumerate(self.params):
            g = p.grad
            if self.decoupled_weight_decay:
                p.data -= lr * wd * p.data  # AdamW: shrink θ itself
            else:
                g += wd * p.data  # Adam: L2 penalty folded into the gradient
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            second = v[i]
            if self.amsgrad:
                v_max[i] = max(v_max[i], v[i])
                second = v_max[i]
            p.data -= lr * (m[i] / correction1) / (math.sqrt(second / correction2) + self.eps)


class AdamW(Adam):
    """AdamW, as ``torch.optim.AdamW``: Adam with weight decay decoupled from the gradient.

    θ ← θ - γλθ first, then the Adam step on the plain gradient ∇θ.
    """

    decoupled_weight_decay = True

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        schedule: Schedule | None = None,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, schedule=schedule)


# PyTorch's spellings, for readers moving between the two.

OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adagrad": AdaGrad,
    "rmsprop": RMSProp,
    "adam": Adam,
    "adamw": AdamW,
}


def _check_range(
    name: str,
    value: object,
    low: float,
    high: float | None,
    *,
    open_low: bool = False,
    open_high: bool = False,
) -> float:
    """``value`` as a float, or a ValueError naming the hyper-parameter."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ValueError(f"{name} must be a number, got {value!r}")
    too_low = value <= low if open_low else value < low
    too_high = high is not None and (value >= high if open_high else value > high)
    if too_low or too_high or math.isinf(value):
        bounds = f"{'(' if open_low else '['}{low}, "
        bounds += f"{high}{')' if open_high else ']'}" if high is not None else "inf)"
        raise ValueError(f"{name} must be in {bounds}, got {value!r}")
    return float(value)


__all__ = [
    "OPTIMIZERS",
    "SGD",
    "AdaGrad",
    "Adam",
    "AdamW",
    "CosineAnnealingLR",
    "LinearLR",
    "Momentum",
    "Nesterov",
    "Optimizer",
    "RMSProp",
    "Schedule",
    "StepLR",
]
