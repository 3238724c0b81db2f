"""The book's gradient check for a whole model: one number per parameter group.

*Deep Learning from Scratch* (5.7.3) checks ``TwoLayerNet``'s back-propagation by
computing every gradient a second time with central differences and printing, for
each parameter group, the mean absolute difference::

    W1: 3.9e-10, b1: 2.5e-09, W2: 5.5e-09, b2: 1.4e-07

:func:`gradient_report` does that for any model here. Groups are a layer's weights
and its biases: parameter ``"L0.N3.w1"`` (layer 0, neuron 3, weight 1) belongs to
``"L0.w"`` (the book's ``W1``), ``"L0.N3.b"`` to ``"L0.b"`` (``b1``)::

    report = gradient_report(model, lambda: batch_loss(model, X[:3], y[:3], "cross_entropy")[0])
    print(report)        # L0.w: 3.1e-10, L0.b: 2.2e-10, L1.w: 4.8e-10, L1.b: 1.9e-10

The numerical side is :func:`microgrboard.testing.numerical_gradient` (two
evaluations of the loss per parameter, h = 1e-6·max(1, ``|θ|``)), the other side
one ``backward()``; neither changes any ``.data`` or ``.grad`` for good. Because the
numerical side costs two forward passes per parameter, ``per_group=k`` checks
only ``k`` parameters of each group, drawn from ``seed``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from microgrboard.core import Value
from microgrboard.testing import _backpropagated_gradient, numerical_gradient

_NEURON = re.compile(r"N\d+")


def parameter_group(name: str) -> str:
    """The group of a parameter name: its layer and kind, without neuron or index.

    >>> parameter_group("L0.N3.w1"), parameter_group("L1.N0.b"), parameter_group("enc.L2.N4.w0")
    ('L0.w', 'L1.b', 'enc.L2.w')
    """
    parts = [part for part in name.split(".") if not _NEURON.fullmatch(part)]
    last = parts[-1].rstrip("0123456789") if parts else ""
    return ".".join([*parts[:-1], last or (parts[-1] if parts else name)])


@dataclass(frozen=True)
class GradientReport:
    """Per group: the mean and the largest ``|backprop - numerical|``, and how many
    parameters were checked. ``report["L0.w"]`` is the mean; ``print(report)``
    prints the book's line."""

    mean: dict[str, float]
    largest: dict[str, float]
    checked: dict[str, int]

    def __getitem__(self, group: str) -> float:
        return self.mean[group]

    @property
    def worst(self) -> float:
        """The largest difference over every checked parameter."""
        return max(self.largest.values())

    def __str__(self) -> str:
        return ", ".join(f"{group}: {difference:.1e}" for group, difference in self.mean.items())


def _named(model: Any) -> list[tuple[str, Value]]:
    if hasattr(model, "named_parameters"):
        pairs = list(model.named_parameters())
    elif isinstance(model, Mapping):
        pairs = list(model.items())
    elif isinstance(model, Sequence) and not isinstance(model, (str, bytes)):
        pairs = [(v.label if isinstance(v, Value) and v.label else f"p{i}", v)
                 for i, v in enumerate(model)]
    else:
        raise TypeError("gradient_report() takes a Module, a dict of name -> Value or a list "
                        f"of Values, got {type(model).__name__}")
    for name, p in pairs:
        if not isinstance(p, Value):
            raise TypeError(f"parameter {name!r} must be a Value, got {type(p).__name__}")
    if not pairs:
        raise ValueError("gradient_report(): the model has no parameters to check")
    return pairs


def gradient_report(
    model: Any,
    loss: Callable[[], Value],
    *,
    group: Callable[[str], str] = parameter_group,
    per_group: int | None = None,
    seed: int = 0,
    eps: float = 1e-6,
) -> GradientReport:
    """Compare ``backward()``'s gradients of ``loss()`` with central differences, per group.

    - ``model``: a :class:`~microgrboard.nn.Module`, a dict of name -> Value, or a
      list of Values (named by their labels); these are the parameters checked.
    - ``loss``: computes the loss from the model's current parameters (it is called
      ``2·n + 1`` times for ``n`` checked parameters), e.g. on a batch of 3 samples.
    - ``group``: a parameter name's group (default :func:`parameter_group`, a
      layer's weights or biases).
    - ``per_group``: check at most that many parameters of each group, drawn from
      ``seed``; ``None`` checks all.

    Returns a :class:`GradientReport`; a correct engine gives differences around
    1e-10, a wrong gradient one near its own size.
    """
    if per_group is not None and (
        isinstance(per_group, bool) or not isinstance(per_group, int) or per_group < 1
    ):
        raise ValueError(f"per_group must be a positive int or None, got {per_group!r}")
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
        raise ValueError(f"eps must be a positive number, got {eps!r}")
    groups: dict[str, list[Value]] = {}
    for name, p in _named(model):
        groups.setdefault(group(name), []).append(p)
    if per_group is not None:
        rng = random.Random(seed)
        groups = {g: rng.sample(ps, min(per_group, len(ps))) for g, ps in groups.items()}
    leaves = [p for ps in groups.values() for p in ps]

    def f(*_: Value) -> Value:
        return loss()

    backprop = _backpropagated_gradient(f, leaves)
    numerical = numerical_gradient(f, leaves, eps)
    differences = iter([abs(b - n) for b, n in zip(backprop, numerical)])
    mean, largest, checked = {}, {}, {}
    for g, ps in groups.items():
        own = [next(differences) for _ in ps]
        mean[g], largest[g], checked[g] = sum(own) / len(own), max(own), len(own)
    return GradientReport(mean, largest, checked)


__all__ = ["GradientReport", "gradient_report", "parameter_group"]
