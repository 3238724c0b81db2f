"""Neural networks from Values: Module, Neuron, Layer, MLP (in micrograd's spirit).

A neuron is ONE node of the graph by default: ``activation(linear(w, x, b))``, where
:func:`~microgrboard.core.linear` computes ``w·x + b`` and knows its own local
derivatives. For teaching, ``expand=True`` (on Neuron, Layer and MLP) builds the same
neuron out of single ``*`` and ``+`` nodes instead; both give the same numbers, the
expanded graph is just larger (2n + 1 nodes per neuron of n inputs) and slower.

A module called on plain numbers turns each input into one leaf, labelled ``x0``,
``x1``, ..., once per call: every neuron reads the same leaves, so after
``backward()`` each holds the whole gradient with respect to its input. Inputs that
are Values already are used as they are.

Weights are drawn from a seeded generator by ``init``: ``"uniform"`` (from [-1, 1],
micrograd's choice and the default), ``"he"`` (normal, σ = √(2/n), for relu),
``"xavier"`` (normal, σ = √(1/n), for tanh and sigmoid; n = inputs per neuron, as in
the book's chapter 6) or a positive number, the σ of a normal; biases start at 0.

Every parameter of an MLP is named by its place (``"L0.N3.w1"``: layer 0, neuron 3,
weight 1); the name is its key in ``state_dict()`` and, to start with, its label.
Every neuron's output is labelled with the neuron's name (``"L0.N3"``), so a drawing
can tell which nodes belong to which neuron and fold them into one box.

Your own modules subclass :class:`Module` and define ``__call__``; their parameters
are found from their attributes (Values, Modules, and lists or tuples of them), as
in PyTorch, and named by attribute path (``"encoder.L0.N3.w1"``).
"""

from __future__ import annotations

import json
import math
import numbers
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any, TypeAlias

from microgrboard.core import Value, _linear

Input: TypeAlias = Value | int | float
Seed: TypeAlias = int | random.Random | None
Init: TypeAlias = str | float

ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
INITS = ("uniform", "he", "xavier")
STATE_FORMAT = "microgrboard.state_dict"


def _rng(seed: Seed) -> random.Random:
    return seed if isinstance(seed, random.Random) else random.Random(seed)


def _check_init(init: object) -> Init:
    if isinstance(init, str) and init in INITS:
        return init
    if (
        not isinstance(init, (str, bool))
        and isinstance(init, numbers.Real)
        and 0 < float(init) < math.inf
    ):
        return float(init)
    raise ValueError(
        f"init must be one of {INITS} or a positive standard deviation, got {init!r}"
    )


def _initial_weights(init: Init, nin: int, rng: random.Random) -> list[float]:
    if init == "uniform":
        return [rng.uniform(-1, 1) for _ in range(nin)]
    # A number is σ itself; he: σ² = 2/n, xavier: σ² = 1/n (n = inputs per neuron).
    std = init if isinstance(init, float) else math.sqrt((2 if init == "he" else 1) / nin)
    return [rng.gauss(0.0, std) for _ in range(nin)]


def _inputs(module: Neuron | Layer | MLP, x: Sequence[Input]) -> list[Value]:
    """``x`` checked, each plain number made into one leaf labelled ``x{i}``."""
    kind, nin = type(module).__name__, module.nin
    name = "" if isinstance(module, MLP) else f" {module.name}"
    if isinstance(x, (Value, int, float)) or not hasattr(x, "__len__"):
        raise TypeError(f"{kind}{name} expects a sequence of {nin} inputs, got {type(x).__name__}")
    if len(x) != nin:
        raise ValueError(f"{kind}{name} expected {nin} inputs, got {len(x)}")
    try:
        return [xi if isinstance(xi, Value) else Value(xi, f"x{i}") for i, xi in enumerate(x)]
    except TypeError as error:
        raise TypeError(f"{kind}{name} inputs must be numbers or Values: {error}") from None


class Module:
    """Anything with parameters. Subclasses define ``__call__``."""

    def __call__(self, *args: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __call__")

    def named_parameters(self) -> Iterator[tuple[str, Value]]:
        """(name, Value) for every parameter, found in the attributes, in order."""
        for attribute, member in vars(self).items():
            items = member if isinstance(member, (list, tuple)) else [member]
            for i, item in enumerate(items):
                name = f"{attribute}.{i}" if items is member else attribute
                if isinstance(item, Value):
                    yield name, item
                elif isinstance(item, Module):
                    for sub_name, p in item.named_parameters():
                        yield f"{name}.{sub_name}", p

    def parameters(self) -> list[Value]:
        """Every parameter once (a Value shared by two places counts once)."""
        return list({id(p): p for _, p in self.named_parameters()}.values())

    def zero_grad(self) -> None:
        """Clear the gradients that ``backward()`` accumulated into the parameters."""
        for p in self.parameters():
            p.grad = 0.0

    def state_dict(self) -> dict[str, float]:
        """Parameter values by name (``{"L0.N0.w0": 0.23, ...}``)."""
        return {name: p.data for name, p in self._parameters_by_name().items()}

    def _parameters_by_name(self) -> dict[str, Value]:
        named: dict[str, Value] = {}
        for name, p in self.named_parameters():
            if name in named and named[name] is not p:
                raise ValueError(f"two different parameters of {self!r} are both named {name!r}")
            named[name] = p
        return named

    def load_state_dict(self, state: dict[str, float]) -> None:
        """Set parameters from ``state``. On any mismatch raise and change nothing."""
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict of name -> number, got {type(state).__name__}")
        params = self._parameters_by_name()
        missing = sorted(params.keys() - state.keys())
        unexpected = sorted(state.keys() - params.keys())
        if missing or unexpected:
            raise ValueError(
                f"state does not fit {self!r}: "
                f"missing {missing[:5]}{'...' if len(missing) > 5 else ''} ({len(missing)}), "
                f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''} "
                f"({len(unexpected)})"
            )
        bad = [
            k for k, v in state.items() if isinstance(v, bool) or not isinstance(v, numbers.Real)
        ]
        if bad:
            raise TypeError(f"state values must be numbers; not numbers: {sorted(bad)[:5]}")
        values = {name: _finite_float(name, state[name]) for name in params}
        for name, p in params.items():
            p.data = values[name]

    def save(self, path: str | PathLike[str]) -> None:
        """Write the parameters to a JSON file (strict JSON: every value must be finite)."""
        state = self.state_dict()
        for name, value in state.items():
            _finite_float(name, value)
        document = {"format": STATE_FORMAT, "model": repr(self), "parameters": state}
        Path(path).write_text(json.dumps(document, indent=1), encoding="utf-8")

    def load(self, path: str | PathLike[str]) -> None:
        """Read parameters written by :meth:`save` (the model must have the same shape).

        Anything else is refused before a parameter changes: a ValueError names the key
        of a value that is not a finite float (``NaN``, ``Infinity``, an int past a
        float's range) or that is nested too deeply to read.
        """
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise FileNotFoundError(f"no saved model at {str(path)!r}") from None
        try:
            document = json.loads(text, parse_int=_parse_int)
        except json.JSONDecodeError as error:
            raise ValueError(f"{str(path)!r} is not a saved model (bad JSON: {error})") from None
        except RecursionError:  # json recurses once per level of nesting
            raise ValueError(
                f"{str(path)!r} is not a saved model: the value of key "
                f"{_deepest_key(text)!r} is nested too deeply"
            ) from None
        if (
            not isinstance(document, dict)
            or document.get("format") != STATE_FORMAT
            or not isinstance(document.get("parameters"), dict)
        ):
            raise ValueError(f"{str(path)!r} is not a microgrboard saved model")
        for name, value in document["parameters"].items():
            _check_loaded_value(path, name, value)
        self.load_state_dict(document["parameters"])


def _finite_float(name: str, value: float) -> float:
    """``value`` as a float, or a ValueError naming the parameter ``name``."""
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(
            f"state value for {name!r} is too large for a float "
            f"(an int of {int(value).bit_length()} bits)"
        ) from None
    if not math.isfinite(number):
        raise ValueError(f"state value for {name!r} is not finite: {number!r}")
    return number


@dataclass(frozen=True)
class _LongInt:
    """An int of a state file too long for a float: kept as its digit count, never parsed
    (Python refuses to parse more than 4,300 digits, naming no key)."""

    digits: int


_FLOAT_DIGITS = 309  # the largest finite float, 1.8e308, has 309 digits


def _parse_int(text: str) -> int | _LongInt:
    digits = len(text.lstrip("-"))
    return _LongInt(digits) if digits > _FLOAT_DIGITS else int(text)


def _check_loaded_value(path: str | PathLike[str], name: object, value: object) -> None:
    """ValueError naming the key of a state file's value that cannot be a parameter."""
    where = f"{str(path)!r}: state value for {name!r}"
    if isinstance(value, _LongInt):
        raise ValueError(f"{where} is too large for a float (an int of {value.digits} digits)")
    if isinstance(value, (list, dict)):
        depth, level = 0, [value]
        while level:  # breadth first: no recursion, however deep
            depth += 1
            level = [v for c in level for v in (c.values() if isinstance(c, dict) else c)
                     if isinstance(v, (list, dict))]
        kind = "a list" if isinstance(value, list) else "an object"
        raise ValueError(f"{where} is {kind} ({depth} level{'s' * (depth > 1)} of nesting), "
                         "not a number")


def _deepest_key(text: str, limit: int = 100) -> str | None:
    """The last key opened before JSON ``text`` nests ``limit`` levels deep.

    Read by hand because ``json`` itself gives up with a RecursionError there.
    """
    keys: list[str | None] = []  # the key being read at each level of nesting
    last_string, start, in_string, escaped = "", 0, False, False
    for i, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string, last_string = False, text[start:i]
        elif char == '"':
            in_string, start = True, i + 1
        elif char == ":" and keys:
            keys[-1] = last_string
        elif char in "[{":
            keys.append(None)
            if len(keys) > limit:
                break
        elif char in "]}" and keys:
            keys.pop()
    return next((key for key in reversed(keys) if key is not None), None)


class Neuron(Module):
    """``activation(w · x + b)``: one ``linear`` node and its activation.

    ``expand=True`` builds ``w · x + b`` from single ``*`` and ``+`` nodes instead (the
    same numbers; a larger graph, for teaching). Weights are drawn by ``init`` (see the
    module docstring); b = 0.
    """

    def __init__(
        self,
        nin: int,
        activation: str = "relu",
        *,
        seed: Seed = None,
        name: str = "N",
        init: Init = "uniform",
        expand: bool = False,
    ) -> None:
        if isinstance(nin, bool) or not isinstance(nin, int) or nin < 1:
            raise ValueError(f"nin must be a positive int, got {nin!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        if not isinstance(expand, bool):
            raise TypeError(f"expand must be True or False, got {expand!r}")
        if not isinstance(name, str):  # it labels every output (_forward writes it unchecked)
            raise TypeError(f"name must be a str, got {type(name).__name__}: {name!r}")
        self.init = _check_init(init)
        rng = _rng(seed)
        self.nin, self.activation, self.name, self.expand = nin, activation, name, expand
        weights = _initial_weights(self.init, nin, rng)
        self.w = [Value(w, f"{name}.w{i}") for i, w in enumerate(weights)]
        self.b = Value(0.0, f"{name}.b")

    def __call__(self, x: Sequence[Input]) -> Value:
        return self._forward(_inputs(self, x))

    def _forward(self, x: Sequence[Value]) -> Value:
        """The neuron on inputs already checked and made Values (the hot path)."""
        if self.expand:
            act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        else:
            act = _linear(self.w, x, self.b)
        out = act if self.activation == "linear" else getattr(act, self.activation)()
        out._label = self.name  # checked once, at construction: skip the setter (hot path)
        return out

    def named_parameters(self) -> Iterator[tuple[str, Value]]:
        for i, w in enumerate(self.w):  # names fixed at construction, whatever the labels
            yield f"{self.name}.w{i}", w
        yield f"{self.name}.b", self.b

    def parameters(self) -> list[Value]:
        # What named_parameters() gives, without making names (a training step asks
        # for the parameters a few times); each Value once, as Module.parameters().
        return list(dict.fromkeys([*self.w, self.b]))

    def __repr__(self) -> str:
        return f"Neuron({self.nin}, activation={self.activation!r}{_options(self)})"


def _options(module: Neuron | Layer | MLP) -> str:
    """The non-default ``init`` and ``expand`` of a module, for its repr."""
    init, expand = module.init, module.expand
    return (f", init={init!r}" if init != "uniform" else "") + (
        ", expand=True" if expand else ""
    )


class Layer(Module):
    """``nout`` neurons over the same inputs. Returns a list, even of one Value.

    ``squeeze=True`` returns the Value itself when ``nout == 1``; ``init`` and
    ``expand`` go to every neuron.
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str = "relu",
        *,
        seed: Seed = None,
        name: str = "L",
        squeeze: bool = False,
        init: Init = "uniform",
        expand: bool = False,
    ) -> None:
        if isinstance(nout, bool) or not isinstance(nout, int) or nout < 1:
            raise ValueError(f"nout must be a positive int, got {nout!r}")
        self.init = _check_init(init)
        rng = _rng(seed)
        self.nin, self.nout, self.name, self.squeeze = nin, nout, name, squeeze
        self.expand = expand
        self.neurons = [
            Neuron(nin, activation, seed=rng, name=f"{name}.N{i}", init=init, expand=expand)
            for i in range(nout)
        ]

    def __call__(self, x: Sequence[Input]) -> list[Value] | Value:
        inputs = _inputs(self, x)
        out = [n._forward(inputs) for n in self.neurons]
        return out[0] if self.squeeze and self.nout == 1 else out

    def named_parameters(self) -> Iterator[tuple[str, Value]]:
        for n in self.neurons:
            yield from n.named_parameters()

    def parameters(self) -> list[Value]:
        return list(dict.fromkeys([p for n in self.neurons for p in (*n.w, n.b)]))

    def __repr__(self) -> str:
        activation = self.neurons[0].activation
        return f"Layer({self.nin}, {self.nout}, activation={activation!r}{_options(self)})"


class MLP(Module):
    """A multi-layer perceptron: ``MLP(2, [16, 16, 1])``.

    Hidden layers use ``activation``; the last layer uses ``output_activation``
    (linear by default, as in micrograd). Returns a single Value when the last
    layer has one output, else a list. ``init`` and ``expand`` go to every neuron.
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str = "relu",
        *,
        output_activation: str = "linear",
        seed: Seed = None,
        init: Init = "uniform",
        expand: bool = False,
    ) -> None:
        if not isinstance(nouts, Sequence) or not nouts:
            raise TypeError(f"nouts must be a non-empty list of layer sizes, got {nouts!r}")
        self.init = _check_init(init)
        rng = _rng(seed)
        sizes = [nin, *nouts]
        self.nin, self.nouts, self.expand = nin, list(nouts), expand
        self.activation, self.output_activation = activation, output_activation
        self.layers = [
            Layer(
                sizes[i],
                sizes[i + 1],
                activation if i < len(nouts) - 1 else output_activation,
                seed=rng,
                name=f"L{i}",
                init=init,
                expand=expand,
            )
            for i in range(len(nouts))
        ]

    def __call__(self, x: Sequence[Input]) -> Value | list[Value]:
        inputs: list[Value] = _inputs(self, x)
        for layer in self.layers:  # sizes match by construction: no per-layer checks
            inputs = [neuron._forward(inputs) for neuron in layer.neurons]
        return inputs[0] if len(inputs) == 1 else inputs

    def named_parameters(self) -> Iterator[tuple[str, Value]]:
        for layer in self.layers:
            yield from layer.named_parameters()

    def parameters(self) -> list[Value]:
        neurons = [n for layer in self.layers for n in layer.neurons]
        return list(dict.fromkeys([p for n in neurons for p in (*n.w, n.b)]))

    def __repr__(self) -> str:
        return (
            f"MLP({self.nin}, {self.nouts}, activation={self.activation!r}, "
            f"output_activation={self.output_activation!r}{_options(self)})"
        )


def named_parameters(model: object, caller: str) -> list[tuple[str, Value]]:
    """(name, Value) pairs of ``model``: a :class:`Module` (or anything with
    ``named_parameters()``), a dict of name -> Value, or a sequence of Values (named by
    their labels, else ``p{i}``). ``caller`` names the function in the errors."""
    if hasattr(model, "named_parameters"):
        pairs = list(model.named_parameters())
    elif isinstance(model, Mapping):
        pairs = list(model.items())
    elif isinstance(model, Sequence) and not isinstance(model, (str, bytes)):
        pairs = [(v.label if isinstance(v, Value) and v.label else f"p{i}", v)
                 for i, v in enumerate(model)]
    else:
        raise TypeError(f"{caller} takes a Module, a dict of name -> Value or a list of "
                        f"Values, got {type(model).__name__}")
    for name, p in pairs:
        if not isinstance(p, Value):
            raise TypeError(f"{caller}: parameter {name!r} must be a Value, got "
                            f"{type(p).__name__}")
    return [(str(name), p) for name, p in pairs]


__all__ = ["ACTIVATIONS", "INITS", "Layer", "MLP", "Module", "Neuron", "named_parameters"]
