"""Drawing computational graphs with Graphviz: forward values and gradients.

:func:`draw` takes a live :class:`~microgrboard.Value` or a snapshot dict (from
:func:`microgrboard.snapshot.snapshot`) and returns a :class:`Drawing`: its DOT
``source``, ``svg()``, ``save(path)`` (.svg .png .pdf .dot) and inline display in
Jupyter. Two looks:

* ``style="record"`` (micrograd): one box per value, ``label | data | grad``, with a
  small circle for the operation that made it.
* ``style="book"`` (the textbook's apple-tax figures): circles are operations and
  values travel on the arrows, the forward value above the backward one (red).

>>> from microgrboard.examples import apple_tax
>>> picture = draw(apple_tax().output)
>>> "220" in picture.source and "2.2" in picture.source
True

Rendering uses the system ``dot`` program when it is on PATH, else the Graphviz
libraries bundled in the ``pygraphviz`` wheel, so a fresh ``pip install`` draws
with no system Graphviz.

Ids in the DOT and in the rendered SVG (what the board's JavaScript looks up to
update numbers without a new layout). ``{id}`` is the snapshot node id:

* ``n{id}``: the value node (DOT name and ``id`` attribute; SVG ``<g id="n{id}"
  class="node">``). A collapsed group with a single output (e.g. one neuron)
  carries its output's id; a group with several outputs is ``g{k}``.
* ``n{id}_op``: the small operation circle of the record style.
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
* ``cluster_{k}``: a group's box when groups are drawn expanded (``collapse=False``).
"""

from __future__ import annotations

import html
import math
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from microgrboard.core import Value
from microgrboard.snapshot import (
    EdgeRecord,
    NodeRecord,
    Snapshot,
    as_snapshot,
    backward_order,
    grads_at_step,
)

if TYPE_CHECKING:
    import argparse

Style = Literal["record", "book"]
Renderer = Literal["auto", "dot", "pygraphviz"]
GroupSpec = str | None | Callable[[NodeRecord], str | None]

FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}
DEFAULT_MAX_NODES = 1000
INSTALL_HINT = (
    "install pygraphviz (`pip install pygraphviz`: its wheels bundle Graphviz) or the "
    "Graphviz programs (https://graphviz.org/download/, e.g. `apt install graphviz`, "
    "`brew install graphviz`)"
)

_FONT = "Helvetica,Arial,sans-serif"
_HIGHLIGHT = "#ffd966"  # the node being processed at a backward step
_HANDED = "#cc0000"  # gradients (book style) and the edges just handed back
_UNKNOWN = "gray55"  # gradients not computed yet at a backward step
_OP_SYMBOLS = {"*": "×", "/": "÷", "-": "−", "neg": "−x"}


class RenderError(RuntimeError):
    """The DOT source could not be turned into a picture (no Graphviz, or it failed)."""


class GraphTooLargeError(ValueError):
    """The drawing has more nodes than ``max_nodes``: layout would take too long."""


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


def html_text(text: str) -> str:
    r"""``text`` as content of a Graphviz HTML-like label: shown literally, newlines kept.

    >>> html_text('a<b> & "c"\n한글 \\N')
    'a&lt;b&gt; &amp; &quot;c&quot;<br/>한글 \\\\N'
    """
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
    calls, hidden = _neuron_calls(index)
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
                  extra: str = "", fill: str | None = None) -> str:
    data = opts.data[node_id]
    cells = [f"<TD>{title}</TD>"] if title else []
    if extra:
        cells.append(f"<TD>{extra}</TD>")
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


def _edge_label(edge_id: str, data: float, share: float | None, opts: _Options) -> str:
    rows = [f"<TR>{_cell(f'{edge_id}-data', opts.number(data), 'forward value')}</TR>"]
    if opts.grad:
        if share is None:
            cell = _cell(f"{edge_id}-grad", "?", "gradient (not computed yet)", _UNKNOWN)
        else:
            cell = _cell(f"{edge_id}-grad", opts.number(share), "gradient", _HANDED)
        rows.append(f"<TR>{cell}</TR>")
    table = '<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
    return f"<{table}{''.join(rows)}</TABLE>>"


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


def _node_count(units: list[_Unit], index: _Index, style: Style, collapse: bool) -> int:
    """How many DOT nodes :func:`_build` will emit for ``units`` (what max_nodes limits)."""
    count = 1 if style == "book" else 0  # the book style's end point after the root
    for unit in units:
        single = unit.key is None or not collapse
        # A value in the record style: its box, and a circle for the op that made it.
        count += 2 if single and style == "record" and index.nodes[unit.members[0]]["op"] else 1
    return count


def _build(index: _Index, grouping: _Grouping, opts: _Options, collapse: bool,
           rankdir: str, units: list[_Unit], unit_of: dict[int, _Unit]) -> str:
    import graphviz

    snap, nodes = index.snap, index.nodes
    graph = graphviz.Digraph(
        "G",
        graph_attr={"rankdir": rankdir, "fontname": _FONT, "bgcolor": "white"},
        node_attr={"fontname": _FONT, "fontsize": "11"},
        edge_attr={"fontname": _FONT, "fontsize": "10", "arrowsize": "0.7"},
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

    for unit in units:
        current = opts.current in unit.members
        if unit.key is not None and collapse:
            title = f"<B>{html_text(unit.key)}</B>"
            fill = _HIGHLIGHT if current else "#dde8f5"
            if len(unit.outputs) == 1:
                out = unit.outputs[0]
                op = nodes[out]["op"]
                if opts.style == "record":
                    label = _record_label(unit.dot_id, title, out, opts, _op_text(op), fill)
                else:
                    label = f"<{title}<BR/>{_op_text(op)}>"
            else:
                label = f"<{title}<BR/>{len(unit.outputs)} outputs>"
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
            title = html_text(node["label"])
            emit(key, unit.dot_id, shape="plain", label=_record_label(
                unit.dot_id, title, i, opts, fill=_HIGHLIGHT if current else None))
            if node["op"]:
                emit(key, f"n{i}_op", shape="circle", width="0.3", margin="0.02",
                     label=f"<{_op_text(node['op'])}>",
                     **({"style": "filled", "fillcolor": _HIGHLIGHT} if current else {}))
        elif node["op"]:
            attrs = {"shape": "circle", "label": f"<{_op_text(node['op'])}>"}
            if node["label"]:
                name = html_text(node["label"])
                attrs["xlabel"] = f'<<FONT POINT-SIZE="9" COLOR="gray40">{name}</FONT>>'
            if current:
                attrs.update(style="filled", fillcolor=_HIGHLIGHT)
            emit(key, unit.dot_id, **attrs)
        else:
            text = html_text(node["label"]) if node["label"] else opts.number(node["data"])
            attrs = {"shape": "plaintext", "label": f"<{text}>"}
            if current:
                attrs.update(style="filled", fillcolor=_HIGHLIGHT)
            emit(key, unit.dot_id, **attrs)

    # Edges: a value travels from its node (or group) to the consumer (or its group).
    drawn: set[tuple[Any, ...]] = set()
    for child in nodes:
        c = child["id"]
        if c not in unit_of:
            continue
        target = unit_of[c]
        into_op = opts.style == "record" and target.key is None and bool(child["op"])
        head = f"n{c}_op" if into_op else target.dot_id
        if into_op:
            graph.edge(f"n{c}_op", target.dot_id, id=f"n{c}_op-n{c}")
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
            if opts.style == "book":
                attrs["label"] = _edge_label(edge_id, nodes[p]["data"], share, opts)
            graph.edge(source.dot_id, head, **attrs)
    if opts.style == "book":  # the root's value leaves the picture on a last arrow
        root = snap["root"]
        seed_id = f"n{root}-seed"
        name = html_text(nodes[root]["label"]) if nodes[root]["label"] else "output"
        emit(None, f"n{root}_out", shape="plaintext", label=f"<{name}>")
        graph.edge(unit_of[root].dot_id, f"n{root}_out", id=seed_id,
                   label=_edge_label(seed_id, nodes[root]["data"], opts.grads[root], opts))

    for cluster_graph in clusters.values():
        graph.subgraph(cluster_graph)
    assert count == _node_count(units, index, opts.style, collapse), "node count out of step"
    return str(graph.source)


def _edges_from(index: _Index, parent: int) -> Iterable[EdgeRecord]:
    for child in dict.fromkeys(index.children[parent]):
        yield from (e for e in index.edges_into[child] if e["parent"] == parent)


# --- rendering --------------------------------------------------------------------------


def render(source: str, format: str, renderer: Renderer = "auto") -> bytes:
    """DOT ``source`` rendered to ``format`` (svg, png, pdf) with Graphviz's ``dot`` layout.

    ``renderer="auto"`` uses the ``dot`` program when it is on PATH, else pygraphviz's
    bundled Graphviz libraries.
    """
    if renderer == "auto":
        renderer = "dot" if shutil.which("dot") else "pygraphviz"
    if renderer == "dot":
        import graphviz

        try:
            output: bytes = graphviz.Source(source).pipe(format=format)
        except graphviz.ExecutableNotFound:
            raise RenderError(f"Graphviz's `dot` program is not on PATH; {INSTALL_HINT}") from None
        except graphviz.CalledProcessError as error:
            raise RenderError(f"Graphviz `dot` failed: {error.stderr!r}") from error
        return output
    if renderer == "pygraphviz":
        try:
            import pygraphviz
        except ImportError as error:
            raise RenderError(
                "cannot draw: no Graphviz `dot` program on PATH and pygraphviz is not "
                f"importable ({error}); {INSTALL_HINT}"
            ) from None
        try:
            output = pygraphviz.AGraph(string=source).draw(format=format, prog="dot")
        except (ValueError, pygraphviz.DotError) as error:
            raise RenderError(f"pygraphviz could not render {format}: {error}") from error
        return output
    raise ValueError(f"renderer must be 'auto', 'dot' or 'pygraphviz', got {renderer!r}")


class Drawing:
    """A drawn graph: ``.source`` (DOT), ``.svg()``, ``.save(path)``; shows itself in Jupyter."""

    def __init__(self, source: str, *, renderer: Renderer = "auto", node_count: int = 0) -> None:
        self.source = source
        self.renderer: Renderer = renderer
        self.node_count = node_count
        self._svg: str | None = None

    def pipe(self, format: str) -> bytes:
        """The picture as bytes in ``format``: svg, png, pdf or dot."""
        if format == "dot":
            return self.source.encode("utf-8")
        return render(self.source, format, self.renderer)

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
        return f"<Drawing: {self.node_count} nodes, {len(self.source)} characters of DOT>"


# --- the public entry points --------------------------------------------------------------


def draw(
    graph: Value | Snapshot,
    *,
    grad: bool = True,
    style: Style = "record",
    rankdir: str = "LR",
    precision: int = 4,
    step: int | None = None,
    group: GroupSpec = "auto",
    collapse: bool = True,
    max_nodes: int | None = DEFAULT_MAX_NODES,
    renderer: Renderer = "auto",
) -> Drawing:
    """Draw the graph below ``graph`` (a Value, or a snapshot dict) with data and gradients.

    - ``grad``: show gradients (False: forward values only).
    - ``style``: ``"record"`` (micrograd boxes) or ``"book"`` (values on the arrows).
    - ``precision``: significant digits of every number.
    - ``step``: show the backward pass after step ``step`` (0 = the root's): the node
      being processed is highlighted, gradients not computed yet read ``?``.
    - ``group``: ``"neuron"`` or ``"layer"`` for graphs built by ``microgrboard.nn``,
      a function ``node_record -> str | None`` naming each node's scope, or None.
      ``"auto"`` (default) means ``"neuron"`` for an nn graph, else None.
    - ``collapse``: fold each group into one node (default) or draw it as a cluster.
    - ``max_nodes``: refuse to lay out a bigger drawing (None: no limit).
    - ``renderer``: ``"auto"``, ``"dot"`` (the program) or ``"pygraphviz"``.

    >>> from microgrboard import Value
    >>> x = Value(3.0, "x"); y = x * x; z = y + 1; z.backward()
    >>> draw(z, step=0).source.count("grad ?")  # z has handed its gradient on; x waits
    1
    >>> draw(z, step=3).source.count("grad ?")  # the last step: every gradient is known
    0
    """
    snap = as_snapshot(graph)  # a dict may have come from a store, through JSON
    if style not in ("record", "book"):
        raise ValueError(f"style must be 'record' or 'book', got {style!r}")
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"rankdir must be 'LR', 'RL', 'TB' or 'BT', got {rankdir!r}")
    if isinstance(precision, bool) or not isinstance(precision, int) or precision < 1:
        raise ValueError(f"precision must be a positive int, got {precision!r}")
    index = _Index.of(snap)
    if step is not None:
        if not grad:
            raise ValueError("step= shows gradients; it cannot be combined with grad=False")
        grads = grads_at_step(snap, step)
        order = backward_order(snap)
        processed, current = set(order[: step + 1]), order[step]
    else:
        grads = {n["id"]: n["grad"] for n in snap["nodes"]}
        processed, current = {n["id"] for n in snap["nodes"]}, None
    grouping = _grouping(index, group)
    data = {n["id"]: n["data"] for n in snap["nodes"]}
    opts = _Options(style, grad, precision, data, grads, processed, current)
    collapse = collapse and bool(grouping.member)
    units, unit_of = _units(index, grouping, collapse)
    # Count before building: building the DOT of a huge graph is itself slow.
    count = _node_count(units, index, style, collapse)
    if max_nodes is not None and count > max_nodes:
        hint = ("group='neuron' (one box per neuron) or group='layer'" if grouping.from_nn
                else "group=<function of a node record returning its scope name>")
        raise GraphTooLargeError(
            f"this drawing has {count} nodes, more than max_nodes={max_nodes}; Graphviz's "
            f"layout time grows steeply with size (seconds to minutes past a few thousand "
            f"nodes) and cannot be interrupted. Draw it with {hint}, or pass a larger "
            f"max_nodes (or None) to wait."
        )
    source = _build(index, grouping, opts, collapse, rankdir, units, unit_of)
    return Drawing(source, renderer=renderer, node_count=count)


def draw_example(args: argparse.Namespace) -> int:
    """``microgrboard draw EXAMPLE -o PATH [--style] [--no-grad]``: returns the exit code."""
    import sys

    from microgrboard.examples import EXAMPLES

    output = Path(args.output)
    if output.suffix.lower() not in FORMATS:
        print(f"microgrboard draw: cannot write {str(output)!r}: unsupported suffix "
              f"{output.suffix!r}; use one of {', '.join(FORMATS)}", file=sys.stderr)
        return 2
    example = EXAMPLES[args.example]()
    try:
        draw(example.output, style=args.style, grad=not args.no_grad).save(output)
    except (RenderError, OSError) as error:
        print(f"microgrboard draw: {error}", file=sys.stderr)
        return 1
    print(f"wrote {output}")
    return 0


__all__ = ["Drawing", "GraphTooLargeError", "RenderError", "draw", "draw_example",
           "format_number", "html_text", "render"]
