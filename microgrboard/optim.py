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

**Writing your own optimizer.** An optimizer is its hyper-parameters, each
declared once as a class attribute (a :class:`Hyperparameter`: its default and
its check; the learning rate is a :class:`LearningRate`), the names of the
``buffers`` it keeps for every parameter, and its rule :meth:`Optimizer.update`:
the new value of one parameter θ from its gradient g, its buffers, this step's
learning rate and the step t, in plain floats. The constructor (arguments in
declaration order), the checks, schedules, ``hyperparameters()``, ``state_dict()``
and ``load_state_dict()`` follow from the declarations. Here are the book's
Momentum and Adam (*Deep Learning from Scratch*, 6.1), written that way::

    import math

    from microgrboard.optim import Hyperparameter, LearningRate, Optimizer, in_range


    class BookMomentum(Optimizer):
        # v ← αv - ηg;  θ ← θ + v
        lr = LearningRate(0.01)
        momentum = Hyperparameter(0.9, in_range(0.0, 1.0, open_high=True))
        buffers = ("v",)

        def update(self, theta, g, state, lr, t):
            state["v"] = self.momentum * state["v"] - lr * g
            return theta + state["v"]


    class BookAdam(Optimizer):
        # The book's Adam folds both bias corrections into one rate and uses ε = 1e-7.
        lr = LearningRate(0.001)
        beta1 = Hyperparameter(0.9, in_range(0.0, 1.0, open_high=True))
        beta2 = Hyperparameter(0.999, in_range(0.0, 1.0, open_high=True))
        buffers = ("m", "v")

        def update(self, theta, g, state, lr, t):
            lr_t = lr * math.sqrt(1.0 - self.beta2**t) / (1.0 - self.beta1**t)
            state["m"] += (1 - self.beta1) * (g - state["m"])
            state["v"] += (1 - self.beta2) * (g**2 - state["v"])
            return theta - lr_t * state["m"] / (math.sqrt(state["v"]) + 1e-7)

``BookMomentum(model.parameters(), lr=0.1)`` is then used like any optimizer
here (``zero_grad()``, ``step()``, a ``schedule=``, ``state_dict()``). The book's
SGD is :class:`SGD` and its AdaGrad is ``AdaGrad(params, lr, eps=1e-7)``. With the
book's learning rates (SGD 0.95, Momentum 0.1, AdaGrad 1.5, Adam 0.3) these four
walk exactly the book's paths on f(x, y) = x²/20 + y² from (-7, 2)
(``tests/test_optim.py`` checks every step). The built-in :class:`Momentum` and
:class:`Adam` follow ``torch.optim`` instead: the same walk for Momentum while the
rate is constant, up to rounding, and for Adam a slightly different ε placement.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar, overload

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


# --- hyper-parameters, each declared once ------------------------------------------

T = TypeVar("T")
Check = Callable[[str, Any], T]  # (name, value) -> the value to store, or a ValueError


def in_range(
    low: float, high: float | None = None, *, open_low: bool = False, open_high: bool = False
) -> Check[float]:
    """A check for a number in [low, high] (``None``: no upper end); ``open_*`` drop an end.

    >>> in_range(0.0, 1.0, open_high=True)("momentum", 0.9)
    0.9
    """

    def check(name: str, value: Any) -> float:
        return _check_range(name, value, low, high, open_low=open_low, open_high=open_high)

    return check


def switch(name: str, value: Any) -> bool:
    """A check for an on/off option: any value, read as true or false."""
    return bool(value)


def betas_pair(name: str, value: Any) -> tuple[float, float]:
    """A check for Adam's ``betas``: two numbers in [0, 1)."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name} must be a pair (beta1, beta2), got {value!r}")
    return (_check_range(f"{name}[0]", value[0], 0.0, 1.0, open_high=True),
            _check_range(f"{name}[1]", value[1], 0.0, 1.0, open_high=True))


class Hyperparameter(Generic[T]):
    """One hyper-parameter of an optimizer, declared once, as a class attribute::

        momentum = Hyperparameter(0.0, in_range(0.0, 1.0, open_high=True))

    From that one line the optimizer's constructor takes ``momentum`` (by name, or
    by position in declaration order) with its default, checks it, stores it as
    ``opt.momentum``, lists it in :meth:`Optimizer.hyperparameters` and saves it in
    :meth:`Optimizer.state_dict`. Setting ``opt.momentum`` later checks it again.

    A subclass changes the default with :meth:`with_default`
    (``momentum = SGD.momentum.with_default(0.9)``, keeping its place and check) or
    fixes the value with :meth:`fixed` (``nesterov = SGD.nesterov.fixed(False)``: no
    longer an argument, nor saved).
    """

    def __init__(self, default: T, check: Check[T]) -> None:
        self.default = default
        self.check = check
        self.name = ""
        self.is_fixed = False

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Hyperparameter[T]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...
    def __get__(self, obj: object, owner: type | None = None) -> Hyperparameter[T] | T:
        if obj is None:
            return self
        if self.is_fixed:
            return self.default
        value: T = vars(obj)[self.name]
        return value

    def __set__(self, obj: object, value: T) -> None:
        if self.is_fixed:
            raise AttributeError(f"{type(obj).__name__}.{self.name} is fixed at {self.default!r}")
        vars(obj)[self.name] = self.check(self.name, value)

    def with_default(self, default: T) -> Hyperparameter[T]:
        """The same hyper-parameter (name, check, place) with another default."""
        copy = self._copy()
        copy.default = copy.check(self.name, default)
        return copy

    def fixed(self, value: T) -> Hyperparameter[T]:
        """The same attribute, always ``value``: not a constructor argument any more."""
        copy = self._copy()
        copy.default, copy.is_fixed = value, True
        return copy

    def _copy(self) -> Hyperparameter[T]:
        copy = object.__new__(type(self))
        vars(copy).update(vars(self))
        return copy

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.default!r})"


class LearningRate(Hyperparameter[float]):
    """The learning rate γ, a hyper-parameter whose reading follows the schedule.

    ``opt.lr`` is the rate the next :meth:`Optimizer.step` uses: the base rate,
    scaled by the optimizer's schedule at the current step count. Setting it sets
    the base rate (``opt.lr_base``), which is what ``state_dict`` saves.
    """

    def __init__(self, default: float) -> None:
        super().__init__(default, in_range(0.0))

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> LearningRate: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> float: ...
    def __get__(self, obj: object, owner: type | None = None) -> LearningRate | float:
        if obj is None:
            return self
        base: float = vars(obj)[self.name]
        optimizer: Any = obj
        if optimizer.schedule is None:
            return base
        return float(optimizer.schedule(base, optimizer.step_count))


# --- the optimizers -----------------------------------------------------------------


class Optimizer:
    """Holds the parameters, their per-parameter state and the step count.

    An optimizer is its hyper-parameters (:class:`Hyperparameter` class attributes,
    the learning rate a :class:`LearningRate`), the names of its per-parameter
    ``buffers``, and its rule, :meth:`update`, for one parameter. Everything else
    (the constructor and its checks, the schedule, ``no_grad``, ``state_dict``)
    lives here once. The constructor is ``Cls(params, <hyper-parameters in
    declaration order>, *, schedule=None)``.
    """

    lr = LearningRate(1e-3)
    buffers: ClassVar[tuple[str, ...]] = ()
    declared: ClassVar[tuple[Hyperparameter[Any], ...]] = ()  # filled in per class
    _arguments: ClassVar[inspect.Signature] = inspect.Signature()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _collect_hyperparameters(cls)

    def __init__(
        self, params: Iterable[Value], *args: Any, schedule: Schedule | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            bound = self._arguments.bind(*args, **kwargs)
        except TypeError as error:
            raise TypeError(f"{type(self).__name__}(): {error}") from None
        bound.apply_defaults()
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
        self.schedule = schedule
        self.step_count = 0  # updates done so far; t = step_count during an update
        for name, value in bound.arguments.items():
            setattr(self, name, value)  # the declaration checks it
        self.check_hyperparameters()
        self.state: list[dict[str, float]] = [self.initial_state() for _ in self.params]

    def check_hyperparameters(self) -> None:
        """Check a combination of hyper-parameters (each one is checked on its own
        already); raise ValueError naming them. Nothing to check by default."""

    def initial_state(self) -> dict[str, float]:
        """One parameter's buffers before the first step: every buffer at 0.0."""
        return dict.fromkeys(self.buffers, 0.0)

    def update(self, theta: float, g: float, state: dict[str, float], lr: float, t: int) -> float:
        """The rule: the new value of one parameter ``theta`` whose gradient is ``g``.

        ``state`` holds this parameter's buffers (update it in place), ``lr`` is this
        step's learning rate and ``t`` the step, from 1. Plain floats in and out: a
        subclass writes the formula as it is printed.
        """
        raise NotImplementedError(f"{type(self).__name__} must define update()")

    @property
    def lr_base(self) -> float:
        """The learning rate before the schedule (what ``opt.lr = x`` sets)."""
        base: float = vars(self)["lr"]
        return base

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
        update = self.update
        for p, state in zip(self.params, self.state):
            p.data = update(p.data, p.grad, state, lr, t)

    def hyperparameters(self) -> dict[str, Any]:
        """The constructor's hyper-parameters, JSON-ready (``lr`` is the base rate)."""
        return {h.name: _json_ready(vars(self)[h.name]) for h in self.declared}

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
            "state": {name: [s[name] for s in self.state] for name in self.buffers},
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
        fresh = type(self)(self.params, **hyper)  # checks the hyper-parameters
        try:
            restored = [{name: float(buffers[name][i]) for name in self.buffers}
                        for i in range(len(self.params))]
        except (TypeError, ValueError):
            raise ValueError("state buffers must hold numbers only") from None
        for h in self.declared:  # all checked: now change self
            vars(self)[h.name] = vars(fresh)[h.name]
        self.step_count = step
        self.state = restored

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({len(self.params)} parameters, {hyper})"


def _collect_hyperparameters(cls: type[Optimizer]) -> None:
    """``cls.declared`` in declaration order (a base's first; an override keeps the
    base's place) and the signature the constructor binds its arguments with."""
    declared: dict[str, Hyperparameter[Any]] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, Hyperparameter):
                declared[name] = value
    cls.declared = tuple(h for h in declared.values() if not h.is_fixed)
    keyword = inspect.Parameter.POSITIONAL_OR_KEYWORD
    cls._arguments = inspect.Signature(
        [inspect.Parameter(h.name, keyword, default=h.default) for h in cls.declared]
    )
    # What help() and the API docs show: Adam(params, lr=0.001, betas=..., *, schedule=None)
    cls.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter("params", keyword),
        *cls._arguments.parameters.values(),
        inspect.Parameter("schedule", inspect.Parameter.KEYWORD_ONLY, default=None),
    ])


_collect_hyperparameters(Optimizer)


def _json_ready(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum, as ``torch.optim.SGD``.

    g ← ∇θ + λθ;  with momentum μ: b ← g at t = 1, else b ← μb + (1 - dampening)·g,
    then g ← g + μb (Nesterov) or g ← b;  θ ← θ - γg.

    >>> x = Value(3.0)
    >>> opt = SGD([x], lr=0.1)
    >>> (x * x).backward(); opt.step(); x.data   # 3 - 0.1 * 6
    2.4
    """

    lr = LearningRate(1e-3)
    momentum = Hyperparameter(0.0, in_range(0.0, 1.0, open_high=True))
    dampening = Hyperparameter(0.0, in_range(0.0, 1.0))
    weight_decay = Hyperparameter(0.0, in_range(0.0))
    nesterov = Hyperparameter(False, switch)
    buffers = ("momentum_buffer",)

    def check_hyperparameters(self) -> None:
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(
                f"nesterov needs momentum > 0 and dampening = 0, "
                f"got momentum={self.momentum!r}, dampening={self.dampening!r}"
            )

    def update(self, theta: float, g: float, state: dict[str, float], lr: float, t: int) -> float:
        g = g + self.weight_decay * theta
        mu = self.momentum
        if mu:
            b = g if t == 1 else mu * state["momentum_buffer"] + (1 - self.dampening) * g
            state["momentum_buffer"] = b
            g = g + mu * b if self.nesterov else b
        return theta - lr * g


class Momentum(SGD):
    """SGD with momentum (μ = 0.9 by default): b ← μb + g;  θ ← θ - γb.

    The same optimizer as ``SGD(params, lr, momentum=0.9)``; it takes no ``nesterov``
    argument (use :class:`Nesterov` for that). The textbook form v ← μv - γg;
    θ ← θ + v is the same walk while γ is constant (the module's introduction
    writes the book's own form as an optimizer).
    """

    momentum = SGD.momentum.with_default(0.9)
    nesterov = SGD.nesterov.fixed(False)


class Nesterov(Momentum):
    """SGD with Nesterov momentum (μ = 0.9 by default).

    b ← μb + g;  θ ← θ - γ(g + μb): the step looks ahead along the momentum.
    The same optimizer as torch's ``SGD(params, lr, momentum=0.9, nesterov=True)``;
    it takes no ``nesterov`` argument (use :class:`Momentum` for plain momentum).
    """

    nesterov = SGD.nesterov.fixed(True)


class AdaGrad(Optimizer):
    """AdaGrad, as ``torch.optim.Adagrad``: each parameter's step shrinks with its history.

    γ̃ ← γ / (1 + (t - 1)·lr_decay);  g ← ∇θ + λθ;  s ← s + g²;  θ ← θ - γ̃·g / (√s + ε).
    The book's AdaGrad is ``AdaGrad(params, lr, eps=1e-7)``.
    """

    lr = LearningRate(1e-2)
    lr_decay = Hyperparameter(0.0, in_range(0.0))
    weight_decay = Hyperparameter(0.0, in_range(0.0))
    initial_accumulator_value = Hyperparameter(0.0, in_range(0.0))
    eps = Hyperparameter(1e-10, in_range(0.0, open_low=True))  # 0: 0/0 when g = 0
    buffers = ("sum",)

    def initial_state(self) -> dict[str, float]:
        return {"sum": self.initial_accumulator_value}

    def update(self, theta: float, g: float, state: dict[str, float], lr: float, t: int) -> float:
        lr = lr / (1 + (t - 1) * self.lr_decay)
        g = g + self.weight_decay * theta
        state["sum"] += g * g
        return theta - lr * g / (math.sqrt(state["sum"]) + self.eps)


class RMSProp(Optimizer):
    """RMSProp, as ``torch.optim.RMSprop``: divide by a running root-mean-square of g.

    g ← ∇θ + λθ;  v ← αv + (1 - α)g²;  ṽ ← v, or max(v - ḡ², 0) with ḡ ← αḡ + (1 - α)g
    if centered (the max only guards against rounding below 0);
    with momentum μ: b ← μb + g/(√ṽ + ε), θ ← θ - γb;  else θ ← θ - γ·g/(√ṽ + ε).
    """

    lr = LearningRate(1e-2)
    alpha = Hyperparameter(0.99, in_range(0.0, 1.0))
    eps = Hyperparameter(1e-8, in_range(0.0, open_low=True))  # 0: 0/0 when g = 0
    weight_decay = Hyperparameter(0.0, in_range(0.0))
    momentum = Hyperparameter(0.0, in_range(0.0, 1.0, open_high=True))
    centered = Hyperparameter(False, switch)
    buffers = ("square_avg", "grad_avg", "momentum_buffer")

    def update(self, theta: float, g: float, state: dict[str, float], lr: float, t: int) -> float:
        a = self.alpha
        g = g + self.weight_decay * theta
        state["square_avg"] = v = a * state["square_avg"] + (1 - a) * g * g
        if self.centered:
            state["grad_avg"] = mean = a * state["grad_avg"] + (1 - a) * g
            # E[g²] - E[g]² >= 0 in exact arithmetic, but rounds below 0 when the
            # gradient barely varies (torch would take sqrt of it: NaN).
            v = max(v - mean**2, 0.0)
        step = g / (math.sqrt(v) + self.eps)
        if self.momentum:
            state["momentum_buffer"] = step = self.momentum * state["momentum_buffer"] + step
        return theta - lr * step


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam``: momentum on g and on g², both bias-corrected.

    g ← ∇θ + λθ;  m ← β₁m + (1 - β₁)g;  v ← β₂v + (1 - β₂)g²;
    m̂ ← m/(1 - β₁ᵗ);  v̂ ← v/(1 - β₂ᵗ);  θ ← θ - γ·m̂/(√v̂ + ε).
    With ``amsgrad``, v is replaced by its running maximum before the correction
    (as torch computes it).
    """

    lr = LearningRate(1e-3)
    betas = Hyperparameter((0.9, 0.999), betas_pair)
    eps = Hyperparameter(1e-8, in_range(0.0, open_low=True))  # 0: 0/0 when g = 0
    weight_decay = Hyperparameter(0.0, in_range(0.0))
    amsgrad = Hyperparameter(False, switch)
    buffers = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    decoupled_weight_decay: ClassVar[bool] = False

    def update(self, theta: float, g: float, state: dict[str, float], lr: float, t: int) -> float:
        b1, b2 = self.betas
        if self.decoupled_weight_decay:
            theta -= lr * self.weight_decay * theta  # AdamW: shrink θ itself
        else:
            g += self.weight_decay * theta  # Adam: L2 penalty folded into the gradient
        state["exp_avg"] = m = b1 * state["exp_avg"] + (1 - b1) * g
        state["exp_avg_sq"] = v = b2 * state["exp_avg_sq"] + (1 - b2) * g * g
        if self.amsgrad:
            state["max_exp_avg_sq"] = v = max(state["max_exp_avg_sq"], v)
        return theta - lr * (m / (1 - b1**t)) / (math.sqrt(v / (1 - b2**t)) + self.eps)


class AdamW(Adam):
    """AdamW, as ``torch.optim.AdamW``: Adam with weight decay decoupled from the gradient.

    θ ← θ - γλθ first, then the Adam step on the plain gradient ∇θ.
    """

    weight_decay = Adam.weight_decay.with_default(1e-2)
    decoupled_weight_decay = True


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


__all__ = [
    "OPTIMIZERS",
    "Hyperparameter",
    "LearningRate",
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
    "betas_pair",
    "in_range",
    "switch",
]
