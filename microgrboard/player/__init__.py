"""Play back-propagation: step through a graph's forward and backward pass.

:func:`play` returns a :class:`Player`. Jupyter shows it inline (HTML and a
little JavaScript, no server and no kernel round-trip); ``.save("x.html")``
writes one self-contained page that works offline (the JavaScript, CSS and SVG
are inlined; its Content-Security-Policy lets no request leave the file).
Where scripts cannot run (a notebook viewer that strips them) the HTML still
holds a picture of the final state, and the mime bundle carries it as
``image/svg+xml`` too.

The player first shows the forward pass (the inputs, then one operation per
step, in topological order: ``apple_price = apple × apple_count = 100 × 2 =
200``), then the backward pass one node per step, exactly as
:func:`~microgrboard.core.backward_steps`, with the chain rule written out:
upstream gradient × local derivative = what the node hands that input
(``∂price/∂apple = 1.1 × 2 = 2.2``), and the running sum where a value feeds
several consumers (``∂L/∂a × (local ∂a/∂x) = 1 × 0.5 = 0.5``, then ``∂L/∂x = 1.5 +
0.5 = 2``: ``∂L/∂x`` always names the total, the local derivative says so). Before
the first backward step no gradient is shown. Keys: → and ← step, Home and End jump; buttons and a
slider do the same.

One JavaScript implementation (``player.js``, an ES module with no build step)
serves the notebook, the saved page, the docs and the board. All numbers and
all arithmetic are formatted here, in Python, into the *payload*
(:func:`player_payload`); the JavaScript only displays them.

Reusing the player elsewhere (the board's graph panel does)::

    payload = player_payload(snapshot_dict, style="record")   # JSON-ready dict
    svg = player_svg(snapshot_dict, style="record")           # the layout it refers to

then, in the page, put ``svg`` in an element and call
``createPlayer(element, payload)`` from ``player.js`` (serve
:func:`asset_path` ``("player.js")`` and ``("player.css")``).

Payload (``schema`` 1), every number already a string::

    {"schema": 1, "style": "record", "root": 8, "output": "price",
     "nodes": [{"id": 0, "name": "apple", "op": "", "elements": ["n0"]}, ...],
     "cells": {"a_n0-data": "data ?", "a_n0-grad": "grad ?", ...},
     "reveal": [["n0", 0], ["e0-2-0", 0], ["n2", 1], ...],
     "frames": [
       {"phase": "forward", "step": 0, "node": null, "title": "Forward pass: the inputs",
        "lines": [{"kind": "value", "text": "apple = 100", "node": 0}, ...],
        "set": [["a_n0-data", "data 100"], ...], "focus": ["n0", ...], "flow": []},
       ...
       {"phase": "backward", "step": 3, "node": 2, "title": "Backward step 4 of 9: ...",
        "lines": [{"kind": "grad", "text": "∂price/∂apple_price = 1.1", "node": 2},
                  {"kind": "chain", "text": "∂price/∂apple = 1.1 × 2 = 2.2", "node": 0,
                   "edge": "e0-2-0"}, ...],
        "set": [["a_n0-grad", "grad 2.2"], ...], "focus": ["n2", "n2_op"],
        "flow": ["e0-2-0", "e1-2-1"]}]}

- ``nodes``: every value, by snapshot id: its display ``name`` (its label, else
  ``v{id}``, the name the player's drawing shows), ``op`` and the SVG
  ``elements`` that draw it.
- ``cells``: the SVG text cells the player writes (by the drawing's ids, see
  :mod:`microgrboard.drawing`) and their text before anything is computed.
- ``reveal``: ``[element id, frame]``: the element is faded before that frame
  (a value not computed yet, an arrow its value has not travelled yet).
- ``frames``: what to show at each step. ``set`` changes cell texts (a frame
  shows ``cells`` overwritten by the ``set`` of every frame up to it);
  ``focus`` is the node being computed or processed; ``flow`` the arrows its
  values come in on (forward) or its gradients go back along (backward).
  ``lines`` are the arithmetic, each of a ``kind``: ``value`` (an input),
  ``forward`` (an operation's value), ``grad`` (the gradient a node has
  received), ``chain`` (upstream × local = contribution), ``sum`` (the running
  sum of a value that feeds several consumers), ``note`` (plain prose); with the
  ``node`` it is about and, for ``chain``, the ``edge``.

The frames are: one for the inputs, one per operation in topological order, then
one per node in the order of ``backward_steps`` (``step`` is its index there).
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any, Literal

from microgrboard.core import Value, topological_order
from microgrboard.drawing import format_number
from microgrboard.snapshot import EdgeRecord, Snapshot, check_snapshot, snapshot

Style = Literal["record", "book"]

SCHEMA = 1
MAX_PLAY_NODES = 1000  # values: 2000 steps are more than anyone follows, and the layout
# of a dense graph that size takes seconds (DeZero's 7th derivative of tanh, 935 values: 3-4 s)
_LAYOUT_SECONDS = 15.0  # past this the player gives up (the drawing would be folded)
_ASSETS = ("player.js", "player.css")
_MAX_LISTED = 12  # input lines listed on the first frame; the rest are summarised
_MAX_TERMS = 6  # terms of a running sum written out; the rest are elided
# Infix operations, written out in the forward arithmetic; any other op reads op(a, b).
_INFIX = {"+": "+", "-": "−", "*": "×", "/": "/"}


class PlayerTooLargeError(ValueError):
    """The graph has more values than a player steps through (see ``max_nodes``)."""


# --- the payload ----------------------------------------------------------------------


def display_names(snap: Snapshot) -> list[str]:
    """Each node's name in the player: its label, else ``v{id}`` (shown in its drawing)."""
    return [n["label"] or f"v{n['id']}" for n in snap["nodes"]]


def _as_played(graph: object, what: str, max_nodes: int | None) -> Snapshot:
    """The snapshot a player shows: for a live Value, one clean backward pass from 1."""
    if isinstance(graph, Value):
        if max_nodes is not None:
            _check_size(len(topological_order(graph)), max_nodes, what)
        return snapshot(graph, seed=1.0)
    if isinstance(graph, Mapping):
        snap = check_snapshot(graph)
        if max_nodes is not None:
            _check_size(len(snap["nodes"]), max_nodes, what)
        return snap
    kind = type(graph).__name__
    if callable(getattr(graph, "parameters", None)):  # an nn Module
        raise TypeError(f"{what} takes a Value or a snapshot dict, got {kind}, a model: "
                        f"play what it computes, e.g. {what.removesuffix('()')}(model([1.0, 2.0]))")
    shown = repr(graph)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    raise TypeError(f"{what} takes a Value (the output of a computation) or a snapshot "
                    f"dict, got {kind}: {shown}")


def _check_size(count: int, max_nodes: int, what: str) -> None:
    if count > max_nodes:
        raise PlayerTooLargeError(
            f"this graph has {count} values, more than {what} steps through "
            f"(max_nodes={max_nodes}): {2 * count} steps, one value at a time, are more "
            f"than anyone can follow, and laying them out takes long. Draw it instead with "
            f"microgrboard.draw(...) (it folds big graphs into a summary), play a smaller "
            f"part of it, or pass max_nodes=None to wait."
        )


@dataclass
class _Line:
    kind: str
    text: str
    node: int | None = None
    edge: str | None = None

    def record(self) -> dict[str, Any]:
        line: dict[str, Any] = {"kind": self.kind, "text": self.text}
        if self.node is not None:
            line["node"] = self.node
        if self.edge is not None:
            line["edge"] = self.edge
        return line


@dataclass
class _Frame:
    phase: str
    step: int
    node: int | None
    title: str
    lines: list[_Line] = field(default_factory=list)
    set: list[tuple[str, str]] = field(default_factory=list)
    focus: list[str] = field(default_factory=list)
    flow: list[str] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        return {"phase": self.phase, "step": self.step, "node": self.node, "title": self.title,
                "lines": [line.record() for line in self.lines],
                "set": [list(pair) for pair in self.set],
                "focus": self.focus, "flow": self.flow}


class _Graph:
    """A checked snapshot with what the payload needs looked up once."""

    def __init__(self, snap: Snapshot, style: Style, precision: int) -> None:
        self.snap, self.style, self.precision = snap, style, precision
        self.nodes = snap["nodes"]
        self.root = snap["root"]
        self.names = display_names(snap)
        # Edges into each child in list order: their position is the operand index k.
        self.into: list[list[tuple[str, EdgeRecord]]] = [[] for _ in self.nodes]
        self.out: list[list[str]] = [[] for _ in self.nodes]  # edge ids leaving each node
        self.uses = [0] * len(self.nodes)  # how many gradients each value receives
        for edge in snap["edges"]:
            c = edge["child"]
            edge_id = f"e{edge['parent']}-{c}-{len(self.into[c])}"
            self.into[c].append((edge_id, edge))
            self.out[edge["parent"]].append(edge_id)
            self.uses[edge["parent"]] += 1

    def number(self, x: float | None) -> str:
        return "?" if x is None else format_number(x, self.precision)

    def operand(self, x: float, first: bool) -> str:
        text = self.number(x)
        return text if first or not text.startswith("-") else f"({text})"

    def elements(self, i: int) -> list[str]:
        """The SVG groups that draw value ``i`` (see drawing.py's id scheme)."""
        found = [f"n{i}"]  # the record style draws the op inside the value's box
        if i == self.root and self.style == "book":
            found += [f"n{i}_out", f"n{i}-seed"]
        return found

    def data_cells(self, i: int) -> list[tuple[str, str]]:
        """Cells showing value ``i``'s data, with their text once it is known."""
        data = self.number(self.nodes[i]["data"])
        if self.style == "record":
            return [(f"a_n{i}-data", f"data {data}")]
        cells = [(f"a_{edge_id}-data", data) for edge_id in self.out[i]]
        if i == self.root:
            cells.append((f"a_n{i}-seed-data", data))
        return cells

    def expression(self, i: int, terms: list[str]) -> str:
        """Operation ``i`` applied to ``terms`` (its inputs' names or numbers), as text."""
        op = self.nodes[i]["op"]
        if op in _INFIX and len(terms) == 2:
            return f"{terms[0]} {_INFIX[op]} {terms[1]}"
        if op == "neg" and len(terms) == 1:
            return f"−{terms[0]}"
        if op.startswith("**") and len(terms) == 1:  # x ** c
            return f"{terms[0]}^{op[2:]}"
        if op.endswith("**") and len(terms) == 1:  # c ** x
            return f"{op[:-2]}^{terms[0]}"
        if op == "**" and len(terms) == 2:
            return f"{terms[0]}^{terms[1]}"
        if op == "linear" and len(terms) % 2 == 1:  # parents (*weights, *inputs, bias)
            n = len(terms) // 2
            products = [f"{terms[j]}·{terms[n + j]}" for j in range(n)] + [terms[-1]]
            if len(products) > _MAX_TERMS:
                products = products[:3] + ["…"] + products[-2:]
            return " + ".join(products)
        return f"{op}({', '.join(terms)})"

    def forward_line(self, i: int) -> _Line:
        parents = [edge["parent"] for _, edge in self.into[i]]
        names = [self.names[p] for p in parents]
        values = [self.operand(self.nodes[p]["data"], k == 0) for k, p in enumerate(parents)]
        text = (f"{self.names[i]} = {self.expression(i, names)} = "
                f"{self.expression(i, values)} = {self.number(self.nodes[i]['data'])}")
        return _Line("forward", text, i)

    def partial(self, i: int) -> str:
        return f"∂{self.names[self.root]}/∂{self.names[i]}"

    def sum_text(self, terms: list[float], total: float) -> str:
        shown = [self.operand(t, k == 0) for k, t in enumerate(terms)]
        if len(shown) > _MAX_TERMS:
            shown = shown[:3] + ["…"] + shown[-2:]
            return f"{' + '.join(shown)} ({len(terms)} terms) = {self.number(total)}"
        return f"{' + '.join(shown)} = {self.number(total)}"


def player_payload(graph: Snapshot | Mapping[str, Any] | Value, style: Style = "record",
                   precision: int = 4, *,
                   max_nodes: int | None = MAX_PLAY_NODES) -> dict[str, Any]:
    """The JSON ``player.js`` plays (schema above): every number and line formatted here.

    ``graph`` is a snapshot dict (as logged by the board, version 1 or 2) or a live
    Value (then one clean backward pass from 1 is played, as :func:`play` does). A
    graph of more than ``max_nodes`` values raises :class:`PlayerTooLargeError`.
    """
    snap = _as_played(graph, "player_payload()", max_nodes)
    _check_options(style, precision)
    g = _Graph(snap, style, precision)
    nodes, root, names = g.nodes, g.root, g.names
    n = len(nodes)
    frames: list[_Frame] = []
    cells: dict[str, str] = {}
    reveal: list[list[Any]] = []
    unknown_data, unknown_grad = ("data ?", "grad ?") if style == "record" else ("?", "?")
    for i in range(n):
        for cell, _ in g.data_cells(i):
            cells[cell] = unknown_data
        if style == "record":
            cells[f"a_n{i}-grad"] = unknown_grad
        else:
            for edge_id in g.out[i]:
                cells[f"a_{edge_id}-grad"] = unknown_grad
    if style == "book":
        cells[f"a_n{root}-seed-grad"] = unknown_grad

    # Forward: the inputs at once, then one operation per frame, in topological order.
    leaves = [i for i in range(n) if not nodes[i]["op"]]
    first = _Frame("forward", 0, None, "Forward pass: the inputs")
    for i in leaves:
        if len(first.lines) < _MAX_LISTED:
            first.lines.append(_Line("value", f"{names[i]} = {g.number(nodes[i]['data'])}", i))
        first.set += g.data_cells(i)
        first.focus += g.elements(i)
    if len(leaves) > _MAX_LISTED:
        first.lines.append(_Line("note", f"… and {len(leaves) - _MAX_LISTED} more inputs"))
    frames.append(first)
    shown_at = {i: 0 for i in leaves}
    operations = [i for i in range(n) if nodes[i]["op"]]
    for k, i in enumerate(operations, start=1):
        frame = _Frame("forward", k, i, f"Forward step {k} of {len(operations)}: {names[i]}")
        frame.lines.append(g.forward_line(i))
        frame.set += g.data_cells(i)
        frame.focus += g.elements(i)
        frame.flow += [edge_id for edge_id, _ in g.into[i]]
        shown_at[i] = len(frames)
        frames.append(frame)
    for i in range(n):
        for element in g.elements(i):
            reveal.append([element, shown_at[i]])
        for edge_id in g.out[i]:  # an arrow carries its value once that value exists
            reveal.append([edge_id, shown_at[i]])

    # Backward: one node per frame, as backward_steps, the root first.
    received: list[list[float]] = [[] for _ in range(n)]  # shares, in order of arrival
    received[root].append(snap["seed"])
    for step, i in enumerate(range(n - 1, -1, -1)):
        title = f"Backward step {step + 1} of {n}: {names[i]}"
        if nodes[i]["op"]:
            title += f" ({_INFIX.get(nodes[i]['op'], nodes[i]['op'])})"
        if step == n - 1:
            title += ". Done: every gradient is known"
        frame = _Frame("backward", step, i, title)
        frame.focus += g.elements(i)
        upstream = _running_total(received[i]) if i != root else snap["seed"]
        if i == root:
            frame.lines.append(_Line("grad", f"{g.partial(i)} = {g.number(upstream)}", i))
            frame.lines.append(_Line("note", "The backward pass starts here: the output's "
                                             "gradient with respect to itself is the seed."))
            frame.set.append((f"a_n{i}-grad", f"grad {g.number(upstream)}") if style == "record"
                             else (f"a_n{i}-seed-grad", g.number(upstream)))
        elif g.uses[i] > 1:
            frame.lines.append(_Line("grad", f"{g.partial(i)} = "
                                             f"{g.sum_text(received[i], upstream)}", i))
        else:
            frame.lines.append(_Line("grad", f"{g.partial(i)} = {g.number(upstream)}", i))
        if not nodes[i]["op"]:
            frame.lines.append(_Line("note", f"{names[i]} is an input: it has nothing to pass "
                                             "back, and its gradient is final."))
        for edge_id, edge in g.into[i]:
            p, share, local = edge["parent"], edge["share"], edge["local"]
            frame.flow.append(edge_id)
            received[p].append(share)
            if local is None:  # a version-1 snapshot with a zero gradient: no local recorded
                product = g.number(share)
            else:
                product = (f"{g.operand(upstream, True)} × {g.operand(local, False)} = "
                           f"{g.number(share)}")
            if g.uses[p] == 1:
                frame.lines.append(_Line("chain", f"{g.partial(p)} = {product}", p, edge_id))
            else:
                # "local": the consumer's own derivative, not the total ∂root/∂p summed below
                # (they read alike where the consumer is the root).
                chain = f"{g.partial(i)} × (local ∂{names[i]}/∂{names[p]})"
                frame.lines.append(_Line("chain", f"{chain} = {product}", p, edge_id))
                total = _running_total(received[p])
                if len(received[p]) == g.uses[p]:
                    text = f"{g.partial(p)} = {g.sum_text(received[p], total)}"
                elif len(received[p]) == 1:
                    text = f"{g.partial(p)} so far: {g.number(total)} (1 of {g.uses[p]} paths)"
                else:
                    text = (f"{g.partial(p)} so far: {g.sum_text(received[p], total)} "
                            f"({len(received[p])} of {g.uses[p]} paths)")
                frame.lines.append(_Line("sum", text, p))
            if style == "record":
                frame.set.append((f"a_n{p}-grad", f"grad {g.number(_running_total(received[p]))}"))
            else:
                frame.set.append((f"a_{edge_id}-grad", g.number(share)))
        frames.append(frame)

    return {
        "schema": SCHEMA,
        "style": style,
        "root": root,
        "output": names[root],
        "nodes": [{"id": i, "name": names[i], "op": nodes[i]["op"], "elements": g.elements(i)}
                  for i in range(n)],
        "cells": cells,
        "reveal": reveal,
        "frames": [frame.record() for frame in frames],
    }


def _running_total(terms: list[float]) -> float:
    """The terms added up one by one from 0, as back-propagation adds them into .grad."""
    total = 0.0
    for term in terms:
        total += term
    return total


def _check_options(style: object, precision: object) -> None:
    if style not in ("record", "book"):
        raise ValueError(f"style must be 'record' or 'book', got {style!r}")
    if isinstance(precision, bool) or not isinstance(precision, int) or precision < 1:
        raise ValueError(f"precision must be a positive int, got {precision!r}")


# --- the picture ----------------------------------------------------------------------


def _placeholder(precision: int) -> float:
    """A number whose text is as wide as any at ``precision`` ("-8.888e-05" for 4)."""
    return float(f"-8.{'8' * max(precision - 1, 1)}e-05")


def player_svg(graph: Snapshot | Mapping[str, Any] | Value, style: Style = "record",
               precision: int = 4, *, id_prefix: str = "",
               max_nodes: int | None = MAX_PLAY_NODES) -> str:
    """The SVG the payload's cell ids refer to, showing the final state of the pass.

    Laid out once, with every number as wide as any number can be, so the texts
    the player writes always fit their cells. Unlabelled values carry their
    player name (``v{id}``). ``id_prefix`` is put before every element id (the
    notebook's players do, so that several on one page never share an id). A graph
    of more than ``max_nodes`` values, or whose layout takes more than 15 s, raises
    :class:`PlayerTooLargeError`.
    """
    snap = _as_played(graph, "player_svg()", max_nodes)
    _check_options(style, precision)
    payload = player_payload(snap, style, precision, max_nodes=None)
    return _svg(snap, style, precision, _final_texts(payload), id_prefix)


def _final_texts(payload: Mapping[str, Any]) -> dict[str, str]:
    texts = dict(payload["cells"])
    for frame in payload["frames"]:
        texts.update(frame["set"])
    return texts


def _svg(snap: Snapshot, style: Style, precision: int, texts: Mapping[str, str],
         id_prefix: str) -> str:
    from microgrboard.drawing import draw

    wide = _placeholder(precision)
    names = display_names(snap)
    layout: Snapshot = {
        **snap,
        "seed": wide,
        "nodes": [{**node, "label": names[node["id"]], "data": wide, "grad": wide}
                  for node in snap["nodes"]],
        "edges": [{**edge, "share": wide} for edge in snap["edges"]],
    }
    # Graphviz writes table-cell ids into SVG only from 2.50 on; Debian 12's `dot` is
    # 2.43, so lay out with the Graphviz bundled in pygraphviz (as the board does).
    drawing = draw(layout, style=style, precision=precision, group=None, max_nodes=None,
                   renderer="pygraphviz", time_limit=_LAYOUT_SECONDS)
    svg = drawing.svg()
    if drawing.folded is not None:  # the layout ran out of time: a summary came back
        raise PlayerTooLargeError(
            f"this graph of {len(snap['nodes'])} values could not be laid out in time for "
            f"the player ({drawing.folded}); draw it with microgrboard.draw(...) instead")
    return _fill_svg(svg, texts, id_prefix)


def _fill_svg(svg: str, texts: Mapping[str, str], id_prefix: str) -> str:
    """Graphviz's SVG with ``texts`` written into their cells, tooltips dropped and ids
    prefixed, as one ``<svg>`` element (no XML declaration: it goes inside HTML)."""
    import xml.etree.ElementTree as ET

    svg_ns, xlink_ns = "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"
    ET.register_namespace("", svg_ns)
    ET.register_namespace("xlink", xlink_ns)
    root = ET.fromstring(svg.encode("utf-8"))
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag == f"{{{svg_ns}}}title":  # "n3", "data": tooltips of no use
                parent.remove(child)
        parent.attrib.pop(f"{{{xlink_ns}}}title", None)
        element_id = parent.get("id")
        if element_id is None:
            continue
        text = texts.get(element_id)
        if text is not None:
            cell_text = parent.find(f".//{{{svg_ns}}}text")
            if cell_text is not None:
                cell_text.text = text
        parent.set("id", id_prefix + element_id)
    return ET.tostring(root, encoding="unicode")


# --- the player -------------------------------------------------------------------------


def asset_path(name: str) -> Path:
    """The path of a front-end file of the player: ``player.js`` or ``player.css``."""
    if name not in _ASSETS:
        raise ValueError(f"the player's files are {', '.join(_ASSETS)}; got {name!r}")
    return Path(str(resources.files(__name__) / name))


def _asset_text(name: str) -> str:
    return asset_path(name).read_text(encoding="utf-8")


def _script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element (no ``</script>``, no ``<!--``)."""
    from microgrboard.snapshot import json_ready

    text = json.dumps(json_ready(value), ensure_ascii=False, allow_nan=False,
                      separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class Player:
    """A playable graph: shows itself in Jupyter; ``.save(path)`` writes an offline page.

    ``.payload`` is what the JavaScript plays, ``.svg()`` the final state's picture.
    """

    def __init__(self, snap: Snapshot, style: Style = "record", precision: int = 4) -> None:
        self.snapshot = snap
        self.style: Style = style
        self.precision = precision
        self.payload = player_payload(snap, style, precision, max_nodes=None)
        self._layout: str | None = None  # the SVG with ids unprefixed, made once

    @property
    def frame_count(self) -> int:
        """How many steps the player has: the inputs, each operation, each backward step."""
        return len(self.payload["frames"])

    def _svg_with_prefix(self, id_prefix: str) -> str:
        if self._layout is None:
            self._layout = _svg(self.snapshot, self.style, self.precision,
                                _final_texts(self.payload), "")
        if not id_prefix:
            return self._layout
        return _fill_svg(self._layout, {}, id_prefix)

    def transcript(self, phase: str | None = None) -> str:
        """Every step's title and arithmetic as plain text (``phase``: ``"forward"`` or
        ``"backward"`` for one pass only): the player, readable without a browser."""
        if phase not in (None, "forward", "backward"):
            raise ValueError(f"phase must be 'forward', 'backward' or None, got {phase!r}")
        out = []
        for frame in self.payload["frames"]:
            if phase is None or frame["phase"] == phase:
                out.append(frame["title"])
                out += [f"    {line['text']}" for line in frame["lines"]]
        return "\n".join(out)

    def svg(self) -> str:
        """The final state of the backward pass as SVG (what shows where scripts cannot run)."""
        return self._svg_with_prefix("")

    def html(self, element_id: str | None = None) -> str:
        """The player as an HTML fragment whose ids all start with ``element_id``
        (default: a fresh random one, so that it can appear many times on a page)."""
        uid = element_id or f"mgb{secrets.token_hex(6)}"
        if not all(c.isascii() and (c.isalnum() or c in "-_") for c in uid):
            raise ValueError(f"element_id must be letters, digits, '-' and '_', got {uid!r}")
        svg = self._svg_with_prefix(uid + "-")
        picture = base64.b64encode(svg.encode("utf-8")).decode("ascii")
        alt = (f"The computational graph of {self.payload['output']} after its backward "
               f"pass, with every value and gradient")
        script = _asset_text("player.js")
        if "</script" in script.lower():
            raise RuntimeError("player.js must not contain '</script' (it is inlined)")
        return (
            f'<div class="mgb-player" id="{uid}" tabindex="0" '
            f'data-lm-suppress-shortcuts="true" data-p-suppress-shortcuts="true">\n'
            f"<style>{_asset_text('player.css')}</style>\n"
            f'<p class="mgb-static-note">The final state of the backward pass. In a trusted '
            f"notebook (or the saved page) this picture plays step by step.</p>\n"
            # An <img>, not inline SVG: notebook front ends that sanitize untrusted
            # output drop <svg> elements but keep data-URI images. The script turns it
            # back into inline SVG, whose cells it can rewrite.
            f'<div class="mgb-graph"><img class="mgb-static" alt="{escape(alt)}" '
            f'src="data:image/svg+xml;base64,{picture}"></div>\n'
            f'<script type="application/json" class="mgb-payload">'
            f"{_script_json(self.payload)}</script>\n"
            f'<script type="module">\n{script}\n'
            f'const root = document.getElementById("{uid}");\n'
            f'createPlayer(root, JSON.parse(root.querySelector("script.mgb-payload")'
            f'.textContent), {{ idPrefix: "{uid}-" }});\n'
            f"</script>\n</div>"
        )

    def page(self) -> str:
        """A whole HTML document holding the player; nothing in it makes a request."""
        title = f"microgrboard player: {self.payload['output']}"
        return (
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            # Nothing may leave the file: no fetch, image, font or stylesheet from anywhere.
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            "script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{escape(title)}</title>\n</head>\n<body>\n{self.html()}\n</body>\n</html>\n"
        )

    def save(self, path: str | PathLike[str]) -> Path:
        """Write the player as one self-contained ``.html`` page; returns the path."""
        path = Path(path)
        if path.suffix.lower() not in (".html", ".htm"):
            raise ValueError(f"a player is saved as .html, got {str(path)!r}")
        path.write_text(self.page(), encoding="utf-8")
        return path

    def _repr_html_(self) -> str:
        return self.html()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        # Front ends that run no scripts fall back to the final state's picture.
        return {"text/html": self.html(), "image/svg+xml": self.svg()}

    def __repr__(self) -> str:
        return (f"<Player: {len(self.snapshot['nodes'])} values, {self.frame_count} steps, "
                f"style={self.style!r}>")


def play(graph: Value | Snapshot | Mapping[str, Any], *, style: Style = "record",
         precision: int = 4, max_nodes: int | None = MAX_PLAY_NODES) -> Player:
    """A step-through player of the forward and backward pass below ``graph``.

    ``graph`` is a Value (its clean backward pass from 1 is played; ``.grad``
    fields are left as they are) or a snapshot dict (its logged pass is played).
    ``style`` is ``"record"`` (micrograd's boxes) or ``"book"`` (values on the
    arrows); ``precision`` the significant digits of every number. A graph of
    more than ``max_nodes`` values is refused: draw it with
    :func:`microgrboard.draw` instead.

    >>> from microgrboard.examples import apple_tax
    >>> player = play(apple_tax().output)
    >>> player.frame_count  # the inputs, 2 operations, 5 backward steps
    8
    """
    snap = _as_played(graph, "play()", max_nodes)
    _check_options(style, precision)
    return Player(snap, style, precision)


__all__ = ["MAX_PLAY_NODES", "SCHEMA", "Player", "PlayerTooLargeError", "asset_path",
           "display_names", "play", "player_payload", "player_svg"]
