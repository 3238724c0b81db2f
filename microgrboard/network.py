"""The network view of an ``nn`` Module: layers as columns, one circle per neuron.

``draw(model)`` (:func:`microgrboard.draw` hands a Module here) draws an ``MLP``, a
``Layer`` or a ``Neuron`` the way TensorFlow Playground does: the inputs as the first
column, each layer as a column of neurons, an edge for every weight, coloured by sign
(blue positive, orange negative) and as thick and opaque as its magnitude. With
``grad=True`` the edges show the weights' gradients instead (after ``backward()``);
with ``x=[...]`` each circle is filled by its activation on that input, on a colour
scale per column (the column's range is written above it), and shows the number when
there is room. A legend below says what the colours and widths mean.

The positions are computed here, so Graphviz only draws (``neato -n2``): a network of
a few thousand edges is drawn in well under a second.

Ids in the SVG (for a page that updates the picture without a new layout): input
``x{i}``, neuron ``{neuron name}`` (``L0.N3``), edge ``{parameter name}`` (``L0.N3.w1``:
the edge from the previous column's node 1 into neuron ``L0.N3``), column header
``column{k}``, legend ``legend``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from microgrboard.core import Value, no_grad
from microgrboard.layout import DEFAULT_TIME_LIMIT, Renderer
from microgrboard.nn import MLP, Layer, Module, Neuron

if TYPE_CHECKING:
    from microgrboard.drawing import Drawing

POSITIVE = (33, 102, 172)  # blue, as TensorFlow Playground
NEGATIVE = (230, 97, 1)  # orange
_FONT = "Helvetica,Arial,sans-serif"
COLUMN_GAP = 200.0  # points between columns


@dataclass
class _Column:
    title: str
    names: list[str]  # node ids
    labels: list[str]  # text inside the circle (short)
    tooltips: list[str]
    activations: list[float] | None


def _layers(module: Module) -> list[list[Neuron]]:
    if isinstance(module, MLP):
        return [list(layer.neurons) for layer in module.layers]
    if isinstance(module, Layer):
        return [list(module.neurons)]
    if isinstance(module, Neuron):
        return [[module]]
    from microgrboard.drawing import describe_input

    raise TypeError("the network view draws an MLP, a Layer or a Neuron; got "
                    f"{describe_input(module)}. Draw its output graph instead: draw(model(x))")


def _inputs(x: object, nin: int) -> list[float]:
    if isinstance(x, (str, bytes, Value)) or not isinstance(x, Sequence):
        raise TypeError(f"x must be a sequence of {nin} numbers, got {type(x).__name__}")
    if len(x) != nin:
        raise ValueError(f"x must have {nin} numbers (the model's inputs), got {len(x)}")
    values = []
    for i, item in enumerate(x):
        number = item.data if isinstance(item, Value) else item
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise TypeError(f"x[{i}] must be a number, got {type(item).__name__} {item!r}")
        if not math.isfinite(number):
            raise ValueError(f"x[{i}] must be a finite number, got {number!r}")
        values.append(float(number))
    return values


def _mix(rgb: tuple[int, int, int], strength: float, alpha: int | None = None) -> str:
    """``rgb`` blended with white by ``strength`` (0 white .. 1 full colour)."""
    strength = min(max(strength, 0.0), 1.0)
    r, g, b = (round(255 + (c - 255) * strength) for c in rgb)
    return f"#{r:02x}{g:02x}{b:02x}" + (f"{alpha:02x}" if alpha is not None else "")


def _signed_colour(value: float, scale: float, alpha: int | None = None) -> str:
    """Blue for positive, orange for negative, as strong as ``|value| / scale`` (a scale
    of 0: full colour)."""
    if not math.isfinite(value):
        return "#888888"
    strength = abs(value) / scale if scale > 0 else 1.0
    return _mix(POSITIVE if value >= 0 else NEGATIVE, strength, alpha)


def _scale(values: Sequence[float]) -> float:
    finite = [abs(v) for v in values if math.isfinite(v)]
    return max(finite, default=0.0)


def draw_network(
    module: Module,
    *,
    x: Sequence[float | Value] | None = None,
    grad: bool = False,
    precision: int = 3,
    renderer: Renderer = "auto",
    time_limit: float | None = DEFAULT_TIME_LIMIT,
) -> Drawing:
    """The network picture of ``module`` (an ``MLP``, ``Layer`` or ``Neuron``)."""
    from microgrboard.drawing import Drawing, format_number, html_text

    layers = _layers(module)
    nin = layers[0][0].nin
    inputs = _inputs(x, nin) if x is not None else None

    def number(v: float) -> str:
        return format_number(v, precision)

    # Activations, column by column (no graph is recorded).
    columns = [_Column("inputs", [f"x{i}" for i in range(nin)], [f"x{i}" for i in range(nin)],
                       [f"x{i}" + (f" = {number(inputs[i])}" if inputs else "")
                        for i in range(nin)], inputs)]
    current: list[float] | None = inputs
    for k, neurons in enumerate(layers):
        activations: list[float] | None = None
        if current is not None:
            with no_grad():
                activations = [n(current).data for n in neurons]
        act = neurons[0].activation
        layer_name = neurons[0].name.rsplit(".", 1)[0] if "." in neurons[0].name else f"layer {k}"
        tips = [f"{n.name} ({n.activation}), bias {number(n.b.data)}"
                + (f": activation {number(a)}" if activations else "")
                for n, a in zip(neurons, activations or [math.nan] * len(neurons))]
        last = k == len(layers) - 1
        title = f"{'output' if last and len(layers) > 1 else layer_name} · {act}"
        columns.append(_Column(title, [n.name for n in neurons], [""] * len(neurons), tips,
                               activations))
        current = activations

    # Geometry: columns side by side, each centred on y = 0; circles shrink in tall columns.
    tallest = max(len(c.names) for c in columns)
    spacing = 46.0 if tallest <= 16 else max(16.0, 736.0 / tallest)
    diameter = spacing * 0.78
    show_numbers = inputs is not None and diameter >= 30
    top = (tallest - 1) * spacing / 2
    gap = max(COLUMN_GAP, 0.45 * tallest * spacing)  # keep a tall network from looking thin

    lines = [
        "digraph network {",
        f'  graph [bgcolor=white fontname="{_FONT}" splines=false outputorder=edgesfirst '
        'pad="0.3"]',
        f'  node [fontname="{_FONT}" fontsize=9 shape=circle fixedsize=true '
        f'width={diameter / 72:.3f} style=filled fillcolor=white color="#555555" penwidth=1]',
        "  edge [dir=none]",
    ]
    positions: dict[str, tuple[float, float]] = {}
    for k, column in enumerate(columns):
        cx = k * gap
        first = (len(column.names) - 1) * spacing / 2
        scale = _scale(column.activations) if column.activations else 0.0
        header = html_text(column.title, limit=60)
        if column.activations is not None:
            header += f'<BR/><FONT POINT-SIZE="8" COLOR="gray35">|a| ≤ {number(scale)}</FONT>'
        lines.append(f'  column{k} [id=column{k} shape=plaintext fixedsize=false style="" '
                     f'fontsize=11 label=<{header}> pos="{cx:.1f},{top + spacing:.1f}!"]')
        for j, name in enumerate(column.names):
            y = first - j * spacing
            positions[name] = (cx, y)
            attrs = [f'id="{name}"', f'pos="{cx:.1f},{y:.1f}!"',
                     f'tooltip="{html_text(column.tooltips[j], limit=120)}"']
            label = column.labels[j]
            if column.activations is not None:
                a = column.activations[j]
                fill = _signed_colour(a, scale) if scale > 0 else "white"
                attrs.append(f'fillcolor="{fill}"')
                if scale > 0 and abs(a) > 0.6 * scale:
                    attrs.append("fontcolor=white")
                if show_numbers:
                    label = format_number(a, 3)
            if label and diameter >= 20:
                attrs.append(f"label=<{html_text(label, limit=12)}>")
            else:
                attrs.append('label=""')
            lines.append(f'  "{name}" [{" ".join(attrs)}]')
            if show_numbers and k in (0, len(columns) - 1):  # name the inputs and outputs
                side = -1 if k == 0 else 1
                lines.append(f'  "{name}_name" [shape=plaintext fixedsize=false style="" '
                             f'fontcolor=gray35 label=<{html_text(name, limit=20)}> '
                             f'pos="{cx + side * (diameter * 0.5 + 18):.1f},{y:.1f}!"]')

    # Edges: one per weight, coloured by sign, sized by magnitude (of the weight or grad).
    # Where a layer has hundreds of edges, width and opacity grow with the square of the
    # magnitude, so the strong connections stand out of the mesh.
    shown = [[(w.grad if grad else w.data) for w in n.w] for neurons in layers for n in neurons]
    edge_scale = _scale([v for row in shown for v in row])
    what = "gradient" if grad else "weight"
    for k, neurons in enumerate(layers):
        sources = columns[k].names
        dense = len(sources) * len(neurons) > 256
        for n in neurons:
            for i, w in enumerate(n.w):
                v = w.grad if grad else w.data
                strength = abs(v) / edge_scale if edge_scale > 0 and math.isfinite(v) else 0.0
                if dense:
                    width, alpha = 0.15 + 2.6 * strength**2, round(12 + 243 * strength**3)
                else:
                    width, alpha = 0.3 + 3.7 * strength, round(60 + 195 * strength)
                # Full colour, faded by opacity (a colour faded towards white would paint
                # whitish lines over the others).
                colour = _signed_colour(v, 0.0 if math.isfinite(v) else 1.0, alpha)
                parameter = f"{n.name}.w{i}"
                tip = f"{parameter}: weight {number(w.data)}, grad {number(w.grad)}"
                lines.append(f'  "{sources[i]}" -> "{n.name}" [id="{parameter}" '
                             f'color="{colour}" penwidth={width:.2f} tooltip="{tip}"]')

    # The legend, under the columns.
    bottom = -top - spacing * 1.5 - 20
    middle = (len(columns) - 1) * gap / 2
    swatches = "".join(
        f'<TD BGCOLOR="{_signed_colour(t, 1.0)}" BORDER="1" COLOR="gray70" WIDTH="14" '
        'HEIGHT="10"></TD>' for t in (-1, -0.66, -0.33, 0, 0.33, 0.66, 1))
    if grad and edge_scale == 0:  # every gradient is 0: nothing has been back-propagated
        edges_text = "edges: no gradients yet: call backward() on a loss first"
    else:
        edges_text = (f"edges: {what}s, blue positive, orange negative; thicker and darker "
                      f"for a larger |{what}| (largest {number(edge_scale)})")
    rows = [f'<TR><TD ALIGN="LEFT" COLSPAN="9">{edges_text}</TD></TR>']
    if inputs is not None:
        rows.append(f'<TR><TD ALIGN="LEFT">fill: activation on x</TD><TD>−</TD>{swatches}'
                    '<TD>+</TD></TR>')
        rows.append('<TR><TD ALIGN="LEFT" COLSPAN="9"><FONT POINT-SIZE="8" COLOR="gray35">'
                    "scaled per column to its largest |activation| (written above it); "
                    "hover a circle or edge for its numbers</FONT></TD></TR>")
    lines.append(f'  legend [id=legend shape=plaintext fixedsize=false style="" fontsize=9 '
                 f'pos="{middle:.1f},{bottom:.1f}!" label=<<TABLE BORDER="0" CELLSPACING="2" '
                 f'CELLPADDING="1">{"".join(rows)}</TABLE>>]')
    lines.append("}")
    count = sum(len(c.names) for c in columns) + len(columns) + 1
    return Drawing("\n".join(lines) + "\n", renderer=renderer, node_count=count,
                   time_limit=time_limit, program="nop2")

__all__ = ["draw_network"]
