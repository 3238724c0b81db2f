"""A graph as plain data: what drawing, the player and the board share.

``snapshot(root)`` turns a live graph into a JSON-ready dict. Node ids are
positions in :func:`~microgrboard.core.topological_order` (parents before
children, the root last), so the same graph always gets the same ids, and the
backward pass visits nodes in decreasing id order.

Each edge also carries its *share*: what the child handed that parent during
back-propagation (``child.grad · d child / d parent``), and its *local*
derivative ``d child / d parent`` (what the player shows as the chain rule's
second factor). From the shares any intermediate moment of the backward pass
can be rebuilt (:func:`grads_at_step`), which is what a step-through drawing or
the board's slider shows.

Format (version 2)::

    {"version": 2, "root": 4, "seed": 1.0,
     "nodes": [{"id": 0, "label": "apple", "op": "", "data": 100.0, "grad": 2.2}, ...],
     "edges": [{"parent": 0, "child": 3, "share": 2.2, "local": 2.0}, ...]}

Version 1 (logged by microgrboard before the player) had no ``local``;
:func:`check_snapshot` still reads it and fills ``local`` in as
``share / child's grad`` where that is defined, else ``None`` (not recorded).
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from collections.abc import Mapping
from typing import Any, TypedDict

from microgrboard.core import Value, parent_shares, topological_order

SNAPSHOT_VERSION = 2
READABLE_VERSIONS = (1, 2)  # logged runs outlive the code that wrote them


class NodeRecord(TypedDict):
    id: int
    label: str
    op: str
    data: float
    grad: float


class EdgeRecord(TypedDict):
    parent: int
    child: int
    share: float
    local: float | None  # d child / d parent; None where a version-1 snapshot lacks it


class Snapshot(TypedDict):
    version: int
    root: int
    seed: float
    nodes: list[NodeRecord]
    edges: list[EdgeRecord]


def snapshot(root: Value, *, seed: float | None = None) -> Snapshot:
    """The graph below ``root`` with every node's data, grad, op and label.

    Take it after ``root.backward()`` to record gradients (before, they are 0).
    With ``seed`` (e.g. ``1.0``) it records instead one clean backward pass from
    ``root`` seeded with ``seed``, computed on the side: every ``.grad`` stays as
    it is, and gradients a leaf accumulated over earlier passes do not count.
    """
    order = topological_order(root)
    ids = {node: i for i, node in enumerate(order)}
    if seed is None:
        grads = [node.grad for node in order]
    else:
        grads = [0.0] * len(order)
        grads[-1] = float(seed)
    # Walk backward: each child's gradient is complete before it hands out shares.
    into: list[list[EdgeRecord]] = [[] for _ in order]
    for child_id in range(len(order) - 1, -1, -1):
        child = order[child_id]
        parents = child.parents
        if not parents:
            continue
        try:
            shares = parent_shares(child, grads[child_id])
            locals_ = parent_shares(child, 1.0)  # every rule is linear in the upstream g
        except ArithmeticError:  # no finite local derivative: show it as such
            shares = locals_ = (math.nan,) * len(parents)
        for parent, share, local in zip(parents, shares, locals_):
            parent_id = ids[parent]
            if seed is not None:
                grads[parent_id] += share
            into[child_id].append({"parent": parent_id, "child": child_id,
                                   "share": float(share), "local": float(local)})
    nodes: list[NodeRecord] = [
        {"id": i, "label": n.label, "op": n.op, "data": n.data, "grad": grads[i]}
        for i, n in enumerate(order)
    ]
    return {
        "version": SNAPSHOT_VERSION,
        "root": ids[root],
        "seed": grads[-1],
        "nodes": nodes,
        "edges": [edge for edges in into for edge in edges],
    }


_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}  # strict JSON


def _number(where: str, value: object) -> float:
    if isinstance(value, str) and value in _NON_FINITE:
        return _NON_FINITE[value]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"snapshot {where} must be a number, got {value!r}")
    try:
        return float(value)
    except OverflowError:  # an int past float's range
        raise ValueError(f"snapshot {where} is too large for a float: {value!r}") from None


def _node_id(where: str, value: object, count: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < count:
        raise ValueError(f"snapshot {where} must be a node id in 0..{count - 1}, got {value!r}")
    return value


def as_snapshot(graph: object) -> Snapshot:
    """A snapshot of ``graph``: a live Value is snapshotted, a dict checked
    (:func:`check_snapshot`); anything else is a TypeError."""
    if isinstance(graph, Value):
        return snapshot(graph)
    if isinstance(graph, Mapping):
        return check_snapshot(graph)
    raise TypeError(f"expected a Value or a snapshot dict, got {type(graph).__name__}")


def check_snapshot(snap: object) -> Snapshot:
    """``snap`` checked against the format, as a copy whose numbers are floats.

    Accepts what :func:`snapshot` makes, also after a trip through :func:`to_json`
    (non-finite numbers spelled as strings), and version-1 snapshots (upgraded:
    the copy is version 2). Anything else is a ValueError saying
    what is wrong: nodes with ids ``0..n-1`` in order, each with str ``label`` and
    ``op`` and numeric ``data`` and ``grad``; edges from a parent to a later child
    with a numeric ``share`` and a numeric or null ``local``; the root is the last
    node.
    """
    if not isinstance(snap, Mapping):
        raise ValueError(f"a snapshot must be a dict, got {type(snap).__name__}")
    missing = [k for k in ("nodes", "edges", "root") if k not in snap]
    if missing:
        raise ValueError(f"snapshot is missing {', '.join(map(repr, missing))}")
    version = snap.get("version", SNAPSHOT_VERSION)
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        raise ValueError(f"snapshot format version {version!r} is not one this "
                         f"microgrboard reads (it reads versions "
                         f"{', '.join(map(str, READABLE_VERSIONS))})")
    nodes, edges = snap["nodes"], snap["edges"]
    if not isinstance(nodes, list) or not nodes:
        raise ValueError("snapshot 'nodes' must be a non-empty list")
    if not isinstance(edges, list):
        raise ValueError("snapshot 'edges' must be a list")
    checked_nodes: list[NodeRecord] = []
    for position, node in enumerate(nodes):
        if not isinstance(node, Mapping):
            raise ValueError(f"snapshot node {position} must be a dict, got {node!r}")
        if node.get("id") != position or isinstance(node.get("id"), bool):
            raise ValueError(f"snapshot node ids must be 0..{len(nodes) - 1} in order; node "
                             f"at position {position} has id {node.get('id')!r}")
        for key in ("label", "op"):
            if not isinstance(node.get(key), str):
                raise ValueError(f"snapshot node {position} {key} must be a str, "
                                 f"got {node.get(key)!r}")
        checked_nodes.append({
            "id": position, "label": node["label"], "op": node["op"],
            "data": _number(f"node {position} data", node.get("data")),
            "grad": _number(f"node {position} grad", node.get("grad")),
        })
    checked_edges: list[EdgeRecord] = []
    for number, edge in enumerate(edges):
        if not isinstance(edge, Mapping):
            raise ValueError(f"snapshot edge {number} must be a dict, got {edge!r}")
        parent = _node_id(f"edge {number} parent", edge.get("parent"), len(nodes))
        child = _node_id(f"edge {number} child", edge.get("child"), len(nodes))
        if parent >= child:
            raise ValueError(f"snapshot edge {number} goes from node {parent} to node {child}; "
                             "ids are topological, so a parent comes before its child")
        share = _number(f"edge {number} share", edge.get("share"))
        if version == 1:  # no local recorded: share = child's grad × local, where defined
            upstream = checked_nodes[child]["grad"]
            local = share / upstream if upstream and math.isfinite(upstream) else None
        elif edge.get("local") is None:
            local = None
        else:
            local = _number(f"edge {number} local", edge.get("local"))
        checked_edges.append({"parent": parent, "child": child, "share": share, "local": local})
    if _node_id("root", snap["root"], len(nodes)) != len(nodes) - 1:
        raise ValueError(f"snapshot root must be the last node ({len(nodes) - 1}), "
                         f"got {snap['root']!r}")
    return {
        "version": SNAPSHOT_VERSION,
        "root": len(nodes) - 1,
        "seed": _number("seed", snap.get("seed", 1.0)),
        "nodes": checked_nodes,
        "edges": checked_edges,
    }


def structure_key(snap: Snapshot) -> str:
    """A hash of the graph's shape (ops, labels, edges) but not of its numbers.

    Two steps of a training loop give the same key, so a layout computed once can
    be reused with new data and grad values.
    """
    shape = {
        "nodes": [(n["op"], n["label"]) for n in snap["nodes"]],
        "edges": [(e["parent"], e["child"]) for e in snap["edges"]],
    }
    return hashlib.sha256(json.dumps(shape, ensure_ascii=False).encode()).hexdigest()[:16]


def backward_order(snap: Snapshot) -> list[int]:
    """Node ids in the order back-propagation processes them (the root first)."""
    return [n["id"] for n in reversed(snap["nodes"])]


def grads_at_step(snap: Snapshot, step: int) -> dict[int, float | None]:
    """Each node's gradient as known after backward step ``step`` (0 = the root's).

    A node not yet reached is ``None`` (not computed yet); a node reached but not
    processed holds the partial sum of the shares it has received so far. After
    the last step every intermediate node holds its full gradient.
    """
    order = backward_order(snap)
    if not 0 <= step < len(order):
        raise ValueError(f"step must be in 0..{len(order) - 1}, got {step}")
    processed = set(order[: step + 1])
    known: dict[int, float | None] = {n["id"]: None for n in snap["nodes"]}
    known[snap["root"]] = snap["seed"]
    for edge in snap["edges"]:
        if edge["child"] in processed:
            previous = known[edge["parent"]]
            known[edge["parent"]] = edge["share"] + (previous or 0.0)
    return known


def to_json(value: Any) -> str:
    """Strict, compact JSON of a snapshot (or any JSON data): non-finite numbers
    become strings such as "NaN", which browsers' ``JSON.parse`` accepts."""
    return json.dumps(json_ready(value), ensure_ascii=False, allow_nan=False,
                      separators=(",", ":"))


def json_ready(value: Any) -> Any:
    """``value`` with every non-finite float spelled "NaN", "Infinity" or "-Infinity".

    Strict JSON has no NaN; the one encoding shared by snapshots and the board's store.
    Mappings become dicts and tuples lists; anything else is returned as is.

    >>> json_ready({"loss": float("nan"), "xy": (1.0, float("-inf"))})
    {'loss': 'NaN', 'xy': [1.0, '-Infinity']}
    """
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Mapping):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value
