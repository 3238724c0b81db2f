"""Drawing computational graphs with Graphviz: forward values and gradients.

:func:`draw` takes a live :class:`~microgrboard.Value` or a snapshot dict (from
:func:`microgrboard.snapshot.snapshot`) and returns a :class:`Drawing`: its DOT
``source``, ``svg()``, ``save(path)`` (.svg .png .pdf .dot) and inline display in
Jupyter. Two looks:

* ``style="record"`` (micrograd): one box per value, ``op | label | data | grad``: its
  first cell is the operation that made it (``×``, ``tanh``, ``Σ w·x + b`` for the
  n-ary ``linear``); arrows enter a box at that cell.
* ``style="book"`` (the textbook's apple-tax figures): circles are operations and
  values travel on the arrows, the forward value above the backward one (red), a
  computed value's name above its numbers.

>>> from microgrboard.examples import apple_tax
>>> picture = draw(apple_tax().output)
>>> "220" in picture.source and "2.2" in picture.source
True

Rendering uses the system ``dot`` program when it is on PATH, else the Graphviz
libraries bundled in the ``pygraphviz`` wheel, so a fresh ``pip install`` draws
with no system Graphviz.

Big graphs are laid out in seconds or folded, never a call that blocks for minutes:
past ``max_nodes`` (a layout size, see :func:`draw`) a graph built by
``microgrboard.nn`` is folded into one box per neuron call (then per layer), and
anything still too big into a *summary*: the
values nearest the output, drawn as usual, and one box (``⋯``) standing for the rest,
saying what it holds and how to expand it (:attr:`Drawing.folded` says the same in
words). Graphviz runs in a child process under ``time_limit`` seconds
(:mod:`microgrboard.layout`); a layout that runs out of time is replaced by that
summary. Bigger graphs get faster Graphviz settings (straight edges, bounded
crossing-minimisation and network-simplex passes): see ``benchmarks/bench_drawing.py``.

An ``nn`` Module (``draw(model)``, ``draw(model, x=[...])``) is drawn as a network
instead: see :mod:`microgrboard.network`.

Ids in the DOT and in the rendered SVG (what the board's JavaScript and the player
look up to update numbers without a new layout). ``{id}`` is the snapshot node id:

* ``n{id}``: the value node (DOT name and ``id`` attribute; SVG ``<g id="n{id}"
  class="node">``). In the record style the operation that made the value is the
  node's first cell (before 0.2 it was a separate circle ``n{id}_op``, with an edge
  ``n{id}_op-n{id}``; both are gone). A collapsed group with a single output (e.g.
  one neuron) carries its output's id; a group with several outputs is ``g{k}``.
* ``n{id}_out``: the book style's end point after the root.
* record style cells: ``n{id}-data`` and ``n{id}-grad`` (DOT ``ID`` of the table
  cells). Graphviz writes a cell's id into SVG only for a cell with a tooltip, and
  prefixes it with ``a_``: SVG ``<g id="a_n{id}-data"><a><polygon/><text>data
  100</text></a></g>``; likewise ``a_n{id}-grad``.
* ``e{parent}-{child}-{k}``: the edge from ``parent`` into operand ``k`` of
  ``child`` (SVG ``<g id="e0-2-0" class="edge">``). In the book style its label
  cells are ``a_e{parent}-{child}-{k}-data`` and ``a_e{parent}-{child}-{k}-grad``.
* ``n{root}-seed``: the book style's edge after the root (cells
  ``a_n{root}-seed-data``/``-grad``).
* book style with more than 20 arrows between collapsed groups (an MLP's layers):
  no arrow carries a label (Graphviz stacks hundreds of them into a ribbon, and one
  label anywhere doubles every rank), so there are no ``a_e...`` or seed cells; each
  group's box, operation, input and the end point show value and gradient instead.
* ``cluster_{k}``: a group's box when groups are drawn expanded (``collapse=False``).
* a folded summary keeps these ids for the values it draws; its ``⋯`` box is
  ``folded`` and the edges out of it ``folded-{child}``.
"""

from __future__ import annotations

import html
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from microgrboard.core import Value
from microgrboard.layout import (
    DEFAULT_TIME_LIMIT,
    LayoutTimeout,
    Program,
    Renderer,
    RenderError,
    run_graphviz,
)
from microgrboard.snapshot import (
    EdgeRecord,
    NodeRecord,
    Snapshot,
    as_snapshot,
    backward_order,
    grads_at_step,
)

if TYPE_CHECKING:
    from microgrboard.nn import Module

Style = Literal["record", "book"]
GroupSpec = str | None | Callable[[NodeRecord], str | None]

FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}
# Drawn nodes laid out within about 1.5 s on a quiet 2-core machine with the settings of
# _layout_attributes, by Debian's Graphviz 2.43 and the one bundled in pygraphviz
# (measured by benchmarks/bench_drawing.py: a long chain is the slowest shape for
# Debian's dot, quadratic in its length: 2,000 nodes 0.5 s, 3,000 1.2 s, 4,000 2.4 s);
# past it, fold.
DEFAULT_MAX_NODES = 3000
SUMMARY_NODES = 60  # values a folded summary draws around the output
SUMMARY_TIME_LIMIT = 20.0  # the summary is small: it always gets this long
# Book style: past this many arrows between collapsed groups, they carry no value labels.
_GROUP_ARROW_LABELS = 20
LABEL_LIMIT = 200  # characters of a label drawn; Graphviz refuses HTML labels over 16 KB

_FONT = "Helvetica,Arial,sans-serif"
_HIGHLIGHT = "#ffd966"  # the node being processed at a backward step
_HANDED = "#cc0000"  # gradients (book style) and the edges just handed back
_UNKNOWN = "gray55"  # gradients not computed yet at a backward step
_OP_FILL = "#eeeeee"  # the record style's operation cell
_PORTS = {"LR": ("e", "w"), "RL": ("w", "e"), "TB": ("s", "n"), "BT": ("n", "s")}
# How each operation is written in a drawing (anything else: its name).
_OP_SYMBOLS = {"*": "×", "/": "÷", "-": "−", "neg": "−x", "linear": "Σ w·x + b"}


class GraphTooLargeError(ValueError):
    """Kept for callers that catch it: :func:`draw` no longer raises it, it folds a graph
    bigger than ``max_nodes`` into a summary instead (see :attr:`Drawing.folded`)."""


# --- text -------------------------------------------------------------------------------

# Characters XML (and so SVG and Graphviz's HTML-like labels) cannot carry, plus the
# other control characters: shown as their escape (``\x01``) so they read literally.
_UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_NAMED_ESCAPES = {"\t": "\\t"}


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED_ESCAPES.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def html_text(text: str, limit: int | None = LABEL_LIMIT) -> str:
    r"""``text`` as content of a Graphviz HTML-like label: shown literally, newlines kept.

    Past ``limit`` characters it is cut, saying how much was left out (a label over
    16 KB is an error in Graphviz, and no one reads one past a line or two).

    >>> html_text('a<b> & "c"\n한글 \\N')
    'a&lt;b&gt; &amp; &quot;c&quot;<br/>한글 \\\\N'
    >>> html_text("x" * 500, limit=8)
    'xxxxxxxx… (+492 characters)'
    """
    if limit is not None and len(text) > limit:
        text = f"{text[:limit]}… (+{len(text) - limit:,} characters)"
    lines = _LINE_BREAK.split(text)
    # Graphviz expands \N, \G, \l... even in HTML-like labels (and after entities):
    # a doubled backslash is its only literal form.
    return "<br/>".join(
        html.escape(_UNSAFE.sub(_escape_char, line)).replace("\\", "\\\\") for line in lines
    )


def format_number(x: float, precision: int = 4) -> str:
    """``x`` to ``precision`` significant digits, without float noise.

    >>> format_number(220.00000000000003), format_number(2.2), format_number(0.70710678)
    ('220', '2.2', '0.7071')
    """
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    text = f"{x:.{precision}g}"
    return "0" if text == "-0" else text


# --- grouping ---------------------------------------------------------------------------

_PARAMETER = re.compile(r"^(?P<neuron>.+)\.(?:w\d+|b)$")
_NEURON_IN_LAYER = re.compile(r"^(?P<layer>.+)\.N\d+$")


@dataclass
class _Grouping:
    """Which group each node belongs to; ``hidden`` nodes vanish when groups collapse."""

    member: dict[int, str] = field(default_factory=dict)
    hidden: set[int] = field(default_factory=set)
    from_nn: bool = False


@dataclass
class _Index:
    snap: Snapshot
    nodes: list[NodeRecord]
    edges_into: dict[int, list[EdgeRecord]]  # by child, in operand order
    children: dict[int, list[int]]
    # _neuron_calls(self), computed once: folding may group the same graph three ways
    neuron_calls: tuple[dict[int, tuple[str, int]], set[int]] | None = None

    @classmethod
    def of(cls, snap: Snapshot) -> _Index:
        nodes = snap["nodes"]  # checked by check_snapshot (ids 0..n-1, edges between them)
        edges_into: dict[int, list[EdgeRecord]] = {n["id"]: [] for n in nodes}
        children: dict[int, list[int]] = {n["id"]: [] for n in nodes}
        for edge in snap["edges"]:
            edges_into[edge["child"]].append(edge)
            children[edge["parent"]].append(edge["child"])
        return cls(snap, nodes, edges_into, children)


def _neuron_calls(index: _Index) -> tuple[dict[int, tuple[str, int]], set[int]]:
    """Nodes inside each call of a ``microgrboard.nn`` neuron, and the parameters to hide.

    A neuron named X owns leaves labelled ``X.w{i}``/``X.b``; each call's output is a
    node labelled X. The call's interior is every node on a path from X's
    parameters to that output. Returns node id -> (neuron name, call number).
    """
    nodes = index.nodes
    parameters: dict[str, set[int]] = {}
    for node in nodes:
        match = _PARAMETER.match(node["label"]) if not node["op"] else None
        if match:
            parameters.setdefault(match["neuron"], set()).add(node["id"])
    outputs = [n["id"] for n in nodes if n["op"] and n["label"] in parameters]
    output_set = set(outputs)
    calls: dict[int, tuple[str, int]] = {}
    count: dict[str, int] = {}
    for out in outputs:
        name = nodes[out]["label"]
        own = parameters[name]
        # Walk up from the output, stopping at leaves and at other neurons' outputs.
        seen, stack = {out}, [out]
        while stack:
            for edge in index.edges_into[stack.pop()]:
                parent = edge["parent"]
                if parent in seen or not nodes[parent]["op"] or parent in output_set:
                    continue
                seen.add(parent)
                stack.append(parent)
        # Keep what depends on this neuron's parameters (ids are topological).
        interior: set[int] = set()
        for node_id in sorted(seen):
            if any(e["parent"] in own or e["parent"] in interior
                   for e in index.edges_into[node_id]):
                interior.add(node_id)
        number = count.get(name, 0)
        count[name] = number + 1
        for node_id in interior | {out}:
            calls.setdefault(node_id, (name, number))
    # A parameter folds into its neuron unless something outside the neuron uses it.
    hidden = {
        p for name, ids in parameters.items() for p in ids
        if index.children[p] and all(calls.get(c, ("",))[0] == name for c in index.children[p])
    }
    for p in hidden:  # remember which neuron, for expanded clusters of a single call
        users = {calls[c] for c in index.children[p]}
        if len(users) == 1:
            calls[p] = users.pop()
    return calls, hidden


def _grouping(index: _Index, group: GroupSpec) -> _Grouping:
    if callable(group):
        member: dict[int, str] = {}
        for node in index.nodes:
            scope = group(node)
            if scope is not None:
                if not isinstance(scope, str):
                    raise TypeError(f"group function must return a str or None, got {scope!r}")
                member[node["id"]] = scope
        return _Grouping(member)
    if group not in (None, "auto", "neuron", "layer"):
        raise ValueError(f"group must be 'auto', 'neuron', 'layer', None or a function, "
                         f"got {group!r}")
    if index.neuron_calls is None:
        index.neuron_calls = _neuron_calls(index)
    calls, hidden = index.neuron_calls
    from_nn = bool(calls)
    if group is None or (group == "auto" and not from_nn):
        return _Grouping(from_nn=from_nn)
    several = {name for name, number in calls.values() if number > 0}

    def key(name: str, number: int) -> str:
        if group == "layer":
            match = _NEURON_IN_LAYER.match(name)
            name = match["layer"] if match else name
        return f"{name} #{number}" if several else name

    return _Grouping({i: key(*call) for i, call in calls.items()}, hidden, from_nn)


# --- building the DOT -------------------------------------------------------------------


@dataclass
class _Options:
    style: Style
    grad: bool
    precision: int
    data: dict[int, float]
    grads: dict[int, float | None]  # what each node's grad reads as
    processed: set[int]  # nodes whose backward step is done (their shares are known)
    current: int | None  # the node processed at ``step``

    def number(self, x: float) -> str:
        return format_number(x, self.precision)


def _cell(cell_id: str, text: str, tooltip: str, color: str | None = None,
          bgcolor: str | None = None) -> str:
    # A tooltip (TITLE) makes Graphviz emit the cell's ID in SVG output.
    attributes = f' ID="{cell_id}" TITLE="{tooltip}"'
    if bgcolor:
        attributes += f' BGCOLOR="{bgcolor}"'
    content = f'<FONT COLOR="{color}">{text}</FONT>' if color else text
    return f"<TD{attributes}>{content}</TD>"


def _record_label(dot_id: str, title: str, node_id: int, opts: _Options,
                  op: str = "", fill: str | None = None) -> str:
    data = opts.data[node_id]
    cells = [f'<TD BGCOLOR="{_OP_FILL}"><B>{op}</B></TD>'] if op else []
    if title:
        cells.append(f"<TD>{title}</TD>")
    cells.append(_cell(f"{dot_id}-data", f"data {opts.number(data)}", "data"))
    if opts.grad:
        grad = opts.grads[node_id]
        current = node_id == opts.current
        if grad is None:
            cells.append(_cell(f"{dot_id}-grad", "grad ?", "grad (not computed yet)", _UNKNOWN))
        else:
            cells.append(_cell(f"{dot_id}-grad", f"grad {opts.number(grad)}", "grad",
                               bgcolor=_HIGHLIGHT if current else None))
    bgcolor = f' BGCOLOR="{fill}"' if fill else ""
    return (f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4"{bgcolor}>'
            f"<TR>{''.join(cells)}</TR></TABLE>>")


def _edge_label(edge_id: str, data: float, share: float | None, opts: _Options,
                name: str = "") -> str:
    # The value's name (when its node is an operation circle) sits above the numbers
    # on the arrow: an xlabel beside the circle would be placed over edges.
    rows = [f'<TR><TD><FONT POINT-SIZE="8" COLOR="gray40">{name}</FONT></TD></TR>'] if name else []
    rows.append(f"<TR>{_cell(f'{edge_id}-data', opts.number(data), 'forward value')}</TR>")
    if opts.grad:
        if share is None:
            cell = _cell(f"{edge_id}-grad", "?", "gradient (not computed yet)", _UNKNOWN)
        else:
            cell = _cell(f"{edge_id}-grad", opts.number(share), "gradient", _HANDED)
        rows.append(f"<TR>{cell}</TR>")
    table = '<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
    return f"<{table}{''.join(rows)}</TABLE>>"


def _group_numbers(node_id: int, opts: _Options) -> str:
    """A collapsed group's output value (and gradient, red) inside its book-style box."""
    text = opts.number(opts.data[node_id])
    if opts.grad:
        grad = opts.grads[node_id]
        text += (f' <FONT COLOR="{_UNKNOWN}">?</FONT>' if grad is None
                 else f' <FONT COLOR="{_HANDED}">{opts.number(grad)}</FONT>')
    return text


def _op_text(op: str) -> str:
    return html_text(_OP_SYMBOLS.get(op, op))


@dataclass
class _Unit:
    """One DOT node: a single value, or a collapsed group."""

    dot_id: str
    key: str | None  # group key, None for a single value
    members: list[int]
    outputs: list[int]  # members whose value leaves the unit (or the root)


def _units(index: _Index, grouping: _Grouping,
           collapse: bool) -> tuple[list[_Unit], dict[int, _Unit]]:
    """The DOT nodes to draw: with collapse, every group is one unit; hidden parameters vanish."""
    snap, nodes = index.snap, index.nodes
    unit_of: dict[int, _Unit] = {}
    units: list[_Unit] = []
    by_key: dict[str, _Unit] = {}
    for node in nodes:
        i = node["id"]
        key = grouping.member.get(i)
        if collapse and key is not None:
            if i in grouping.hidden:
                continue
            unit = by_key.get(key)
            if unit is None:
                unit = by_key[key] = _Unit("", key, [], [])
                units.append(unit)
            unit.members.append(i)
            unit_of[i] = unit
        elif not (collapse and i in grouping.hidden):
            unit = _Unit(f"n{i}", None, [i], [i])
            units.append(unit)
            unit_of[i] = unit
    for k, unit in enumerate(u for u in units if u.key is not None):
        inside = set(unit.members)
        unit.outputs = [
            i for i in unit.members
            if i == snap["root"] or any(c not in inside and c in unit_of
                                        for c in index.children[i])
        ]
        unit.dot_id = f"n{unit.outputs[0]}" if len(unit.outputs) == 1 else f"g{k}"
    return units, unit_of


def _node_count(units: list[_Unit], style: Style) -> int:
    """How many DOT nodes :func:`_build` will emit for ``units``."""
    return len(units) + (1 if style == "book" else 0)  # + the book style's end point


def _long_edges(index: _Index, unit_of: dict[int, _Unit]) -> int:
    """About how many extra nodes Graphviz's layered layout adds for ``unit_of``.

    An edge spanning k ranks becomes a chain of k-1 virtual nodes, which crossing
    minimisation and placement then work on: a value used far from where it is made
    (``tanh(x)`` in every term of a 7th derivative) costs more than the value itself.
    Ranks are estimated as late as possible (each unit just before its first consumer).
    """
    depth: dict[int, int] = {}  # id(unit) -> ranks from the output
    drawn: list[tuple[int, int]] = []
    for node in reversed(index.nodes):  # consumers before what they consume
        child = unit_of.get(node["id"])
        if child is None:
            continue
        below = depth.setdefault(id(child), 0) + 1
        for edge in index.edges_into[node["id"]]:
            parent = unit_of.get(edge["parent"])
            if parent is not None and parent is not child:
                depth[id(parent)] = max(depth.get(id(parent), 0), below)
                drawn.append((id(parent), id(child)))
    return sum(depth[p] - depth[c] - 1 for p, c in drawn)


def _layout_size(index: _Index, units: list[_Unit], unit_of: dict[int, _Unit],
                 style: Style) -> int:
    """What ``max_nodes`` limits: the drawn nodes, plus a twentieth of the virtual nodes
    Graphviz adds: those of long edges (:func:`_long_edges`) and, in the book style,
    one per labelled arrow (Graphviz lays out an edge label as a node in a rank of its
    own). Calibrated with ``benchmarks/bench_drawing.py``: 3,000 of these take about
    1.5 s. Book-style arrows measured: a 3,000-value chain (2,997 labels) 1.5 s against
    1.2 s in the record style, the 7th derivative of tanh (1,783 labels) 0.65 s, its
    8th (5,020 labels, 17,000 long-edge virtual nodes) 6.3 s; counting a label as a
    whole node folded the 7th though it draws in under a second."""
    virtual = _long_edges(index, unit_of)
    if style == "book":
        virtual += sum(1 for e in index.snap["edges"]
                       if e["child"] in unit_of and e["parent"] in unit_of
                       and unit_of[e["child"]] is not unit_of[e["parent"]]) + 1
    return _node_count(units, style) + virtual // 20


@dataclass
class _Folded:
    """The values a summary leaves out, drawn as one box."""

    members: list[int]
    into: dict[int, int]  # drawn child -> how many of its operands are folded
    total: int  # values in the whole graph


def _fold_far_values(index: _Index, units: list[_Unit], unit_of: dict[int, _Unit],
                     keep: int) -> tuple[list[_Unit], dict[int, _Unit], _Folded]:
    """Keep the ``keep`` units nearest the root (breadth first towards the inputs)."""
    root_unit = unit_of[index.snap["root"]]
    kept_ids = {id(root_unit)}
    queue = [root_unit]
    for unit in queue:
        if len(kept_ids) >= keep:
            break
        for member in unit.members:
            for edge in index.edges_into[member]:
                parent = unit_of.get(edge["parent"])
                if parent is not None and id(parent) not in kept_ids and len(kept_ids) < keep:
                    kept_ids.add(id(parent))
                    queue.append(parent)
    kept = [u for u in units if id(u) in kept_ids]
    kept_of = {i: u for i, u in unit_of.items() if id(u) in kept_ids}
    folded = [n["id"] for n in index.nodes if n["id"] not in kept_of]
    into: dict[int, int] = {}
    for unit in kept:
        for member in unit.members:
            outside = sum(1 for e in index.edges_into[member] if e["parent"] not in kept_of
                          and e["parent"] in unit_of)
            if outside:
                into[member] = into.get(member, 0) + outside
    return kept, kept_of, _Folded(folded, into, len(index.nodes))


def _folded_label(index: _Index, folded: _Folded, expand: str) -> str:
    """The ``⋯`` box: what it holds, and ``expand``, the call that draws it all."""
    nodes = index.nodes
    ops = Counter(_OP_SYMBOLS.get(nodes[i]["op"], nodes[i]["op"]) or "input/constant"
                  for i in folded.members)
    kinds = ", ".join(f"{count:,} {op}" for op, count in ops.most_common(4))
    if len(ops) > 4:
        kinds += ", …"
    named = [nodes[i]["label"] for i in folded.members if not nodes[i]["op"] and nodes[i]["label"]]
    lines = [f"<B>⋯ {len(folded.members):,} more values</B>", html_text(kinds)]
    if named:
        more = f" (+{len(named) - 4:,})" if len(named) > 4 else ""
        lines.append(html_text(f"inputs: {', '.join(named[:4])}{more}", limit=80))
    lines.append(f'<FONT POINT-SIZE="9">{html_text(expand)} draws them all</FONT>')
    return f"<{'<BR/>'.join(lines)}>"


def _layout_attributes(count: int) -> dict[str, str]:
    """Graphviz settings by drawing size (nodes), chosen with benchmarks/bench_drawing.py.

    Small drawings keep Graphviz's defaults (curved edges, its best crossing
    minimisation). Past that, the time goes into crossing minimisation (``mclimit``)
    and the network-simplex passes that place nodes (``nslimit``, ``nslimit1``), and
    into routing curved edges: bounding them and drawing straight edges keeps a
    5,000-node layout within a few seconds, where the defaults take minutes.
    """
    if count <= 150:
        return {}
    if count <= 600:
        return {"nslimit": "2", "nslimit1": "2", "mclimit": "0.5"}
    return {"nslimit": "0.05", "nslimit1": "0.05", "mclimit": "0.01", "splines": "line",
            "remincross": "false", "searchsize": "10"}


def _build(index: _Index, grouping: _Grouping, opts: _Options, collapse: bool,
           rankdir: str, units: list[_Unit], unit_of: dict[int, _Unit],
           folded: _Folded | None = None, title: str = "",
           expand: str = "draw(..., max_nodes=None)") -> str:
    import graphviz

    snap, nodes = index.snap, index.nodes
    count_expected = _node_count(units, opts.style) + (1 if folded else 0)
    graph_attr = {"rankdir": rankdir, "fontname": _FONT, "bgcolor": "white",
                  **_layout_attributes(_layout_size(index, units, unit_of, opts.style))}
    if title:
        graph_attr.update(label=f"<{title}>", labelloc="t", labeljust="l", fontsize="11")
    if collapse and any(unit.key is not None for unit in units):
        # A layer's neurons all take the same inputs, so any order has as many crossings
        # and Graphviz's would be arbitrary (N10..N15 before N0): keep the order they
        # are emitted in (a value's consumers in id order: N0, N1, ..., N15).
        graph_attr["ordering"] = "out"
    graph = graphviz.Digraph(
        "G",
        graph_attr=graph_attr,
        node_attr={"fontname": _FONT, "fontsize": "11"},
        edge_attr={"fontname": _FONT, "fontsize": "10", "arrowsize": "0.7",
                   # Record style: a value leaves its box's far side and enters the
                   # near side of its consumer's, where the operation cell is.
                   **(dict(zip(("tailport", "headport"), _PORTS[rankdir]))
                      if opts.style == "record" else {})},
    )
    count = 0

    # Nodes, grouped into clusters when groups are drawn expanded.
    clusters: dict[str, graphviz.Digraph] = {}

    def emit(cluster: str | None, name: str, **attrs: str) -> None:
        nonlocal count
        count += 1
        target = graph
        if cluster is not None:
            existing = clusters.get(cluster)
            if existing is not None:
                target = existing
            else:
                k = len(clusters)
                target = clusters[cluster] = graphviz.Digraph(f"cluster_{k}")
                target.attr(label=f"<{html_text(cluster)}>", id=f"cluster_{k}",
                            style="rounded", color="gray60", fontname=_FONT)
        target.node(name, id=name, **attrs)

    # Book style: with many arrows between collapsed groups (a 16×16 layer pair makes
    # 256), no arrow carries a label: Graphviz stacks such labels into a ribbon, and a
    # single label anywhere doubles every rank, spreading the unlabelled arrows too.
    # Each box, circle and input then shows its own value and gradient.
    group_arrows = 0
    if opts.style == "book" and collapse:
        group_arrows = len({(unit_of[e["parent"]].dot_id, unit_of[e["child"]].dot_id)
                            for e in snap["edges"]
                            if e["parent"] in unit_of and e["child"] in unit_of
                            and unit_of[e["parent"]].key is not None
                            and unit_of[e["child"]].key is not None
                            and unit_of[e["parent"]] is not unit_of[e["child"]]})
    quiet_groups = group_arrows > _GROUP_ARROW_LABELS
    if quiet_groups:  # many unlabelled arrows pass each rank: keep their spacing small
        graph.attr("graph", nodesep="0.06")

    for unit in units:
        current = opts.current in unit.members
        if unit.key is not None and collapse:
            title_text = f"<B>{html_text(unit.key)}</B>"
            fill = _HIGHLIGHT if current else "#dde8f5"
            if len(unit.outputs) == 1:
                out = unit.outputs[0]
                op = nodes[out]["op"]
                if opts.style == "record":
                    label = _record_label(unit.dot_id, title_text, out, opts, _op_text(op), fill)
                elif quiet_groups:
                    label = f"<{title_text}<BR/>{_op_text(op)}<BR/>{_group_numbers(out, opts)}>"
                else:
                    label = f"<{title_text}<BR/>{_op_text(op)}>"
            else:
                label = f"<{title_text}<BR/>{len(unit.outputs)} outputs>"
            shape = "plain" if opts.style == "record" and len(unit.outputs) == 1 else "box"
            attrs: dict[str, str] = {"shape": shape, "label": label}
            if shape == "box":
                attrs.update(style="rounded,filled", fillcolor=fill)
            emit(None, unit.dot_id, **attrs)
            continue
        i = unit.members[0]
        node = nodes[i]
        key = grouping.member.get(i) if not collapse else None
        if opts.style == "record":
            emit(key, unit.dot_id, shape="plain", label=_record_label(
                unit.dot_id, html_text(node["label"]), i, opts, _op_text(node["op"]),
                fill=_HIGHLIGHT if current else None))
        elif node["op"] and quiet_groups:  # its arrows carry no numbers: it shows them
            name = f'<BR/><FONT POINT-SIZE="9">{html_text(node["label"])}</FONT>' \
                if node["label"] else ""
            attrs = {"shape": "ellipse",
                     "label": f"<{_op_text(node['op'])}{name}<BR/>{_group_numbers(i, opts)}>"}
            if current:
                attrs.update(style="filled", fillcolor=_HIGHLIGHT)
            emit(key, unit.dot_id, **attrs)
        elif node["op"]:
            symbol = _OP_SYMBOLS.get(node["op"], node["op"])
            attrs = {"shape": "circle" if len(symbol) <= 4 else "ellipse",
                     "label": f"<{_op_text(node['op'])}>",
                     "fontsize": "16" if len(symbol) <= 2 else "12"}  # the book's big ×
            if current:
                attrs.update(style="filled", fillcolor=_HIGHLIGHT)
            emit(key, unit.dot_id, **attrs)
        else:
            text = html_text(node["label"]) if node["label"] else opts.number(node["data"])
            if quiet_groups:  # its arrows carry no numbers
                text = (f"{text}<BR/>{_group_numbers(i, opts)}" if node["label"]
                        else _group_numbers(i, opts))
            attrs = {"shape": "plaintext", "label": f"<{text}>"}
            if current:
                attrs.update(style="filled", fillcolor=_HIGHLIGHT)
            emit(key, unit.dot_id, **attrs)

    if folded is not None:
        emit(None, "folded", shape="box", style="rounded,filled,dashed", fillcolor="#f3f3f3",
             label=_folded_label(index, folded, expand))
        for consumer, operands in folded.into.items():
            attrs = {"id": f"folded-{consumer}", "style": "dashed", "color": "gray50"}
            if operands > 1:
                attrs["label"] = f"{operands} operands"
            graph.edge("folded", unit_of[consumer].dot_id, **attrs)

    # Edges: a value travels from its node (or group) to the consumer (or its group).
    drawn: set[tuple[Any, ...]] = set()
    for child in nodes:
        c = child["id"]
        if c not in unit_of:
            continue
        target = unit_of[c]
        for k, edge in enumerate(index.edges_into[c]):
            p = edge["parent"]
            source = unit_of.get(p)
            if source is None or source is target:
                continue
            share = edge["share"] if c in opts.processed else None
            handed = c == opts.current
            edge_id = f"e{p}-{c}-{k}"
            if target.key is not None:  # several edges into one group: one arrow each source
                dedupe = (source.dot_id if opts.style == "record" else p, target.dot_id)
                if dedupe in drawn:
                    continue
                drawn.add(dedupe)
                if opts.style == "book":
                    into = [e for e in _edges_from(index, p) if unit_of.get(e["child"]) is target]
                    known = all(e["child"] in opts.processed for e in into)
                    share = math.fsum(e["share"] for e in into) if known else None
                    handed = any(e["child"] == opts.current for e in into)
            attrs = {"id": edge_id}
            if handed and opts.grad:
                attrs.update(color=_HANDED, penwidth="2")
            if opts.style == "book" and not quiet_groups:
                parent = nodes[p]
                name = html_text(parent["label"]) if parent["op"] and source.key is None else ""
                attrs["label"] = _edge_label(edge_id, parent["data"], share, opts, name)
            graph.edge(source.dot_id, target.dot_id, **attrs)
    if opts.style == "book":  # the root's value leaves the picture on a last arrow
        root = snap["root"]
        seed_id = f"n{root}-seed"
        name = html_text(nodes[root]["label"]) if nodes[root]["label"] else "output"
        if quiet_groups:
            # Any edge label makes Graphviz double every rank, spreading the many
            # unlabelled arrows between groups: the numbers go beside the name.
            emit(None, f"n{root}_out", shape="plaintext",
                 label=f"<{name}<BR/>{_group_numbers(root, opts)}>")
            graph.edge(unit_of[root].dot_id, f"n{root}_out", id=seed_id)
        else:
            emit(None, f"n{root}_out", shape="plaintext", label=f"<{name}>")
            graph.edge(unit_of[root].dot_id, f"n{root}_out", id=seed_id,
                       label=_edge_label(seed_id, nodes[root]["data"], opts.grads[root], opts))

    for cluster_graph in clusters.values():
        graph.subgraph(cluster_graph)
    assert count == count_expected, "node count out of step"
    return str(graph.source)


def _edges_from(index: _Index, parent: int) -> Iterable[EdgeRecord]:
    for child in dict.fromkeys(index.children[parent]):
        yield from (e for e in index.edges_into[child] if e["parent"] == parent)


# --- rendering --------------------------------------------------------------------------


def render(source: str, format: str, renderer: Renderer = "auto",
           time_limit: float | None = DEFAULT_TIME_LIMIT) -> bytes:
    """DOT ``source`` rendered to ``format`` (svg, png, pdf) with Graphviz's ``dot`` layout.

    ``renderer="auto"`` uses the ``dot`` program when it is on PATH, else pygraphviz's
    bundled Graphviz libraries. Raises :class:`~microgrboard.layout.LayoutTimeout`
    past ``time_limit`` seconds.
    """
    return run_graphviz(source, format, renderer=renderer, time_limit=time_limit).output


class Drawing:
    """A drawn graph: ``.source`` (DOT), ``.svg()``, ``.save(path)``; shows itself in Jupyter.

    ``folded`` says, in words, what was folded to keep the layout fast (None: nothing).
    If Graphviz runs out of ``time_limit`` the drawing becomes its summary (``source``
    and ``folded`` change to say so). ``messages`` holds what Graphviz printed during
    the last layout (never shown to the user), ``layout_seconds`` how long it took.
    """

    def __init__(self, source: str, *, renderer: Renderer = "auto", node_count: int = 0,
                 time_limit: float | None = DEFAULT_TIME_LIMIT, folded: str | None = None,
                 program: Program = "dot",
                 fallback: Callable[[str], Drawing] | None = None) -> None:
        self.source = source
        self.renderer: Renderer = renderer
        self.node_count = node_count
        self.time_limit = time_limit
        self.folded = folded
        self.program: Program = program
        self.messages: list[str] = []
        self.layout_seconds: float | None = None
        self._fallback = fallback
        self._svg: str | None = None

    def pipe(self, format: str) -> bytes:
        """The picture as bytes in ``format``: svg, png, pdf or dot."""
        if format == "dot":
            return self.source.encode("utf-8")
        try:
            rendered = run_graphviz(self.source, format, renderer=self.renderer,
                                    program=self.program, time_limit=self.time_limit)
        except LayoutTimeout as timeout:
            if self._fallback is None:
                raise
            self._become(self._fallback(
                f"Graphviz did not lay out all {self.node_count:,} nodes within "
                f"time_limit={timeout.seconds:g} s"))
            rendered = run_graphviz(self.source, format, renderer=self.renderer,
                                    program=self.program, time_limit=self.time_limit)
        self.messages, self.layout_seconds = rendered.messages, rendered.seconds
        return rendered.output

    def _become(self, summary: Drawing) -> None:
        self.source, self.folded = summary.source, summary.folded
        self.node_count = summary.node_count
        self.time_limit = max(self.time_limit or 0.0, SUMMARY_TIME_LIMIT)
        self._fallback = None

    def svg(self) -> str:
        """The picture as SVG text (computed once)."""
        if self._svg is None:
            self._svg = self.pipe("svg").decode("utf-8")
        return self._svg

    def save(self, path: str | PathLike[str]) -> Path:
        """Write the picture; the suffix picks the format (.svg .png .pdf .dot)."""
        path = Path(path)
        fmt = FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise ValueError(f"cannot save {str(path)!r}: unsupported suffix "
                             f"{path.suffix!r}; use one of {', '.join(FORMATS)}")
        data = self.svg().encode("utf-8") if fmt == "svg" else self.pipe(fmt)
        path.write_bytes(data)
        return path

    def _repr_svg_(self) -> str:
        return self.svg()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"image/svg+xml": self.svg()}

    def __repr__(self) -> str:
        folded = ", folded" if self.folded else ""
        return f"<Drawing: {self.node_count} nodes{folded}, {len(self.source)} characters of DOT>"


# --- the public entry points --------------------------------------------------------------


def describe_input(thing: object) -> str:
    """``thing``'s type and a short repr, for error messages."""
    try:
        text = repr(thing)
    except Exception:  # a broken __repr__ must not hide the real error
        text = "<unprintable>"
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(thing).__name__} {text}"


def draw(
    graph: Value | Snapshot | Module,
    *,
    grad: bool | None = None,
    style: Style = "record",
    rankdir: str = "LR",
    precision: int = 4,
    step: int | None = None,
    group: GroupSpec = "auto",
    collapse: bool = True,
    max_nodes: int | None = DEFAULT_MAX_NODES,
    renderer: Renderer = "auto",
    time_limit: float | None = DEFAULT_TIME_LIMIT,
    x: Any = None,
) -> Drawing:
    """Draw the graph below ``graph`` (a Value, or a snapshot dict) with data and gradients.

    - ``grad``: show gradients (default) or, False, forward values only.
    - ``style``: ``"record"`` (micrograd boxes) or ``"book"`` (values on the arrows).
    - ``precision``: significant digits of every number.
    - ``step``: show the backward pass after step ``step`` (0 = the root's): the node
      being processed is highlighted, gradients not computed yet read ``?``.
    - ``group``: ``"neuron"`` or ``"layer"`` for graphs built by ``microgrboard.nn``,
      a function ``node_record -> str | None`` naming each node's scope, or None.
      ``"auto"`` (default) means ``"neuron"`` for an nn graph, else None.
    - ``collapse``: fold each group into one node (default) or draw it as a cluster.
    - ``max_nodes``: past this layout size (drawn nodes, plus a twentieth of the
      virtual nodes of edges spanning several ranks, plus labelled arrows in the book
      style), fold: an nn graph per neuron call, then per layer; anything still bigger
      into a summary of the values nearest the output (:attr:`Drawing.folded` says
      what was folded). None: never fold.
    - ``renderer``: ``"auto"``, ``"dot"`` (the program) or ``"pygraphviz"``.
    - ``time_limit``: seconds Graphviz may take (None: no limit); a layout that runs
      out of time is replaced by the folded summary.

    ``graph`` may also be an ``nn`` Module (``MLP``, ``Layer``, ``Neuron``): it is then
    drawn as a network (:func:`microgrboard.network.draw_network`; ``x`` = an input
    to show the activations for, ``grad=True`` colours edges by gradient).

    >>> from microgrboard import Value
    >>> x = Value(3.0, "x"); y = x * x; z = y + 1; z.backward()
    >>> draw(z, step=0).source.count("grad ?")  # z has handed its gradient on; x waits
    1
    >>> draw(z, step=3).source.count("grad ?")  # the last step: every gradient is known
    0
    """
    from microgrboard.nn import Module

    if isinstance(graph, Module):
        from microgrboard.network import draw_network

        graph_only = {"style": (style, "record"), "rankdir": (rankdir, "LR"),
                      "step": (step, None), "group": (group, "auto"),
                      "collapse": (collapse, True), "max_nodes": (max_nodes, DEFAULT_MAX_NODES)}
        ignored = [f"{name}={value!r}" for name, (value, default) in graph_only.items()
                   if value is not default and value != default]
        if ignored:
            raise ValueError(
                f"{', '.join(ignored)}: option{'s' if len(ignored) > 1 else ''} of a graph "
                f"drawing, unused by the network view of {type(graph).__name__} (it takes x, "
                "grad, precision, renderer and time_limit); draw the graph it computes "
                "with them, e.g. draw(model([1.0, 2.0]), ...)")
        return draw_network(graph, x=x, grad=bool(grad), precision=precision,
                            renderer=renderer, time_limit=time_limit)
    if not isinstance(graph, (Value, Mapping)):
        raise TypeError("draw() takes a Value, a snapshot dict or an nn Module (MLP, Layer, "
                        f"Neuron); got {describe_input(graph)}")
    if x is not None:
        raise ValueError("x= is an input for a Module's network view; a graph carries its "
                         "own values (got x for a "
                         f"{type(graph).__name__})")
    snap = as_snapshot(graph)  # a dict may have come from a store, through JSON
    show_grad = True if grad is None else bool(grad)
    if style not in ("record", "book"):
        raise ValueError(f"style must be 'record' or 'book', got {style!r}")
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"rankdir must be 'LR', 'RL', 'TB' or 'BT', got {rankdir!r}")
    if isinstance(precision, bool) or not isinstance(precision, int) or precision < 1:
        raise ValueError(f"precision must be a positive int, got {precision!r}")
    if max_nodes is not None and (isinstance(max_nodes, bool) or not isinstance(max_nodes, int)
                                  or max_nodes < 1):
        raise ValueError(f"max_nodes must be a positive int or None, got {max_nodes!r}")
    if time_limit is not None and not time_limit > 0:
        raise ValueError(f"time_limit must be a positive number of seconds or None, "
                         f"got {time_limit!r}")
    index = _Index.of(snap)
    if step is not None:
        if not show_grad:
            raise ValueError("step= shows gradients; it cannot be combined with grad=False")
        grads = grads_at_step(snap, step)
        order = backward_order(snap)
        processed, current = set(order[: step + 1]), order[step]
    else:
        grads = {n["id"]: n["grad"] for n in snap["nodes"]}
        processed, current = {n["id"] for n in snap["nodes"]}, None
    data = {n["id"]: n["data"] for n in snap["nodes"]}
    opts = _Options(style, show_grad, precision, data, grads, processed, current)

    def layout(spec: GroupSpec, fold: bool) -> tuple[_Grouping, bool, list[_Unit],
                                                      dict[int, _Unit], int]:
        grouping = _grouping(index, spec)
        folding = fold and bool(grouping.member)
        units, unit_of = _units(index, grouping, folding)
        return grouping, folding, units, unit_of, _layout_size(index, units, unit_of, style)

    # Count before building: building the DOT of a huge graph is itself slow.
    grouping, folding, units, unit_of, size = layout(group, collapse)
    notes: list[str] = []
    if max_nodes is not None and size > max_nodes and grouping.from_nn:
        for coarser in ("neuron", "layer"):
            if group == coarser or (group == "auto" and coarser == "neuron" and collapse):
                continue  # already drawn this way
            grouping, folding, units, unit_of, size = layout(coarser, True)
            notes = [f"folded one box per {coarser} call (group={coarser!r}); "
                     "draw(..., group=None, max_nodes=None) draws every value"]
            if size <= max_nodes:
                break

    def summary(reason: str, timed_out: bool = True) -> Drawing:
        kept, kept_of, folded = _fold_far_values(index, units, unit_of, SUMMARY_NODES)
        # Past max_nodes, lifting it draws everything; past the time limit (or with
        # max_nodes already None) only waiting longer does.
        expand = ("draw(..., time_limit=None)" if timed_out or max_nodes is None
                  else "draw(..., max_nodes=None)")
        text = (f"{reason}: drawn are the {len(kept_of):,} values nearest the output of "
                f"{folded.total:,}; the box ⋯ stands for the other {len(folded.members):,}. "
                f"{expand} draws them all (it may take minutes), "
                "draw(v) draws the graph below a value v")
        title = html_text(f"{reason}: the {len(kept_of):,} values nearest the output of "
                          f"{folded.total:,} are drawn", limit=None)
        box = folded if folded.members else None  # a small graph that ran out of time
        if box is None:
            text = f"{reason}; drawn whole with the summary's time limit"
        source = _build(index, grouping, opts, folding, rankdir, kept, kept_of, box, title,
                        expand)
        return Drawing(source, renderer=renderer,
                       node_count=_node_count(kept, style) + (box is not None),
                       time_limit=max(time_limit or 0.0, SUMMARY_TIME_LIMIT), folded=text)

    if max_nodes is not None and size > max_nodes:
        nodes = _node_count(units, style)
        if size == nodes:
            reason = f"{nodes:,} nodes are more than max_nodes={max_nodes:,}"
        else:
            extra = "labelled arrows and long edges" if style == "book" else "long edges"
            reason = (f"{nodes:,} nodes with their {extra} (layout size {size:,}) are more "
                      f"than max_nodes={max_nodes:,}")
        return summary(reason, timed_out=False)
    source = _build(index, grouping, opts, folding, rankdir, units, unit_of)
    return Drawing(source, renderer=renderer, node_count=_node_count(units, style),
                   time_limit=time_limit,
                   folded="; ".join(notes) or None, fallback=summary)


__all__ = ["DEFAULT_MAX_NODES", "Drawing", "GraphTooLargeError", "LayoutTimeout", "RenderError",
           "describe_input", "draw", "format_number", "html_text", "render"]
