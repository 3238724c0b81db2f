"""The graph panel: logged computational graphs, played step by step.

Routes: the list of a run's graphs, one snapshot, the player's payload for one
snapshot (:func:`microgrboard.player.player_payload` with the SVG it refers to) and
the player's own files, plus the older page's cached structure drawing
(``/api/graph.svg``). A label longer than :data:`MAX_LABEL_LENGTH` (refused by the
writer, but possible in older logs) is cut before drawing, so a drawing never
fails on it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from microgrboard.board.panels.base import Panel, stored_json

if TYPE_CHECKING:
    from microgrboard.board.api import Endpoint
    from microgrboard.board.store import StoreReader
    from microgrboard.snapshot import Snapshot

SCHEMA = 1
MAX_LABEL_LENGTH = 1_000
MAX_DRAWN_NODES = 1500  # a bigger drawing is folded per neuron, or refused (layout time)
_PLACEHOLDER = -8.888e-05  # as wide as a 4-digit number gets: "-8.888e-05"
PLAYER_FILES = {"player.js": "text/javascript", "player.css": "text/css"}
STYLES = ("record", "book")


def shorten_labels(snapshot: dict[str, Any]) -> dict[str, Any]:
    """``snapshot`` with every label longer than MAX_LABEL_LENGTH cut, ending in "…"."""
    nodes = snapshot.get("nodes")
    if not isinstance(nodes, list) or not any(
            isinstance(n, dict) and isinstance(n.get("label"), str)
            and len(n["label"]) > MAX_LABEL_LENGTH for n in nodes):
        return snapshot
    return {**snapshot, "nodes": [
        {**n, "label": n["label"][:MAX_LABEL_LENGTH - 1] + "…"}
        if isinstance(n, dict) and isinstance(n.get("label"), str)
        and len(n["label"]) > MAX_LABEL_LENGTH else n
        for n in nodes]}


# Graphviz draws text left-aligned in cells sized for the text it was given. The
# older page rewrites the numbers of each snapshot into one cached layout, so the
# layout is made with placeholder numbers as wide as any: the numbers always fit,
# and the drawing depends only on the structure, not on which snapshot came first.


def render_structure_svg(snapshot: dict[str, Any]) -> str:
    """Lay out ``snapshot``'s structure as SVG (numbers are placeholders; see above).

    Every node is drawn when the graph is small enough; a bigger graph built by
    ``microgrboard.nn`` is folded into one box per neuron; bigger still raises
    ``GraphTooLargeError``.
    """
    from microgrboard.drawing import GraphTooLargeError, draw

    snapshot = shorten_labels(snapshot)
    placeholder = {
        **snapshot,
        "seed": _PLACEHOLDER,
        "nodes": [{**n, "data": _PLACEHOLDER, "grad": _PLACEHOLDER} for n in snapshot["nodes"]],
        "edges": [{**e, "share": _PLACEHOLDER} for e in snapshot["edges"]],
    }
    # The page finds numbers by the table cells' ids (a_n3-data), which older system
    # Graphviz builds (Debian 12's 2.43) do not write: lay out with the bundled one.
    snap = cast("Snapshot", placeholder)
    try:
        return draw(snap, group=None, max_nodes=MAX_DRAWN_NODES, renderer="pygraphviz").svg()
    except GraphTooLargeError:
        return draw(snap, group="auto", max_nodes=MAX_DRAWN_NODES, renderer="pygraphviz").svg()


class LayoutCache:
    """Key -> laid-out result, least recently used first out; each computed once.

    Requests run in a thread pool: a per-key lock makes a second request for a
    key being laid out wait for that layout instead of starting another.
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self.layouts_computed = 0

    def get(self, key: str, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            try:
                with self._lock:
                    if key in self._items:
                        return self._items[key]
                value = compute()
                with self._lock:
                    self.layouts_computed += 1
                    self._items[key] = value
                    while len(self._items) > self.size:
                        self._items.popitem(last=False)
                return value
            finally:  # a failed layout too: waiters retry, and no lock is left behind
                with self._lock:
                    self._key_locks.pop(key, None)


def _player() -> Any:
    try:
        import microgrboard.player as player
    except ImportError:
        raise ImportError("the graph player (microgrboard.player) is missing from this "
                          "installation: pip install --force-reinstall microgrboard") from None
    return player


def routes(reader: StoreReader, state: dict[str, Any]) -> dict[str, Endpoint]:
    from starlette.requests import Request
    from starlette.responses import FileResponse, Response

    from microgrboard.board.api import (
        PayloadTooLarge,
        error,
        int_param,
        json_response,
        run_param,
    )
    from microgrboard.board.store import BadRow, EntryNotFound, InvalidParameter

    layouts = LayoutCache()
    players = LayoutCache(size=32)

    def graphs(request: Request) -> Response:
        return json_response({"schema": SCHEMA, "graphs": reader.graphs(run_param(request))})

    def graph(request: Request) -> Response:
        run, graph_id = run_param(request), int_param(request, "id")
        record = reader.graph(run, graph_id)
        record["snapshot"] = stored_json(record["snapshot"], f"run {run!r}'s graph {graph_id}")
        return json_response({"schema": SCHEMA, **record})

    def graph_player(request: Request) -> Response:
        run, graph_id = run_param(request), int_param(request, "id")
        style = request.query_params.get("style", "record")
        if style not in STYLES:
            raise InvalidParameter(f"query parameter 'style' must be one of {STYLES}, "
                                   f"got {style[:40]!r}")
        record = reader.graph(run, graph_id)
        snap = shorten_labels(stored_json(record["snapshot"], f"run {run!r}'s graph {graph_id}"))
        player = _player()

        def compute() -> dict[str, Any]:
            try:
                return {"player": player.player_payload(snap, style=style),
                        "svg": player.player_svg(snap, style=style)}
            except player.PlayerTooLargeError as problem:
                raise PayloadTooLarge(str(problem)) from None
            except (ValueError, KeyError, TypeError) as problem:  # written by another tool?
                raise BadRow(f"the stored graph snapshot is invalid: {problem!r}") from None

        # Keyed by content: a graph id can come back in a run that replaced another.
        digest = hashlib.sha1(record["snapshot"].encode(), usedforsecurity=False).hexdigest()
        played = players.get(f"{style}:{digest}", compute)
        return json_response({"schema": SCHEMA, "id": record["id"], "tag": record["tag"],
                              "step": record["step"], "structure_key": record["structure_key"],
                              **played})

    def graph_svg(request: Request) -> Response:
        from microgrboard.drawing import GraphTooLargeError, RenderError

        run = run_param(request)
        key = request.query_params.get("key", "")
        if not key.isalnum() or len(key) > 64:
            raise InvalidParameter(f"query parameter 'key' must be a structure key, got "
                                   f"{key[:70]!r}")
        snapshot_json = reader.graph_by_key(run, key)
        if snapshot_json is None:
            raise EntryNotFound(f"run {run!r} has no graph with structure {key!r}")
        try:
            svg = layouts.get(key, lambda: render_structure_svg(json.loads(snapshot_json)))
        except GraphTooLargeError as problem:
            raise PayloadTooLarge(str(problem)) from None
        except RenderError as problem:
            return error(500, f"could not draw the graph: {problem}")
        except (ValueError, KeyError, TypeError) as problem:  # written by another tool?
            return error(500, f"the stored graph snapshot is invalid: {problem!r}")
        # The layout of a structure never changes: let the browser keep it.
        return Response(svg, media_type="image/svg+xml",
                        headers={"Cache-Control": "private, max-age=3600"})

    def player_file(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in PLAYER_FILES:
            return error(404, f"no player file {name[:40]!r}")
        return FileResponse(_player().asset_path(name), media_type=PLAYER_FILES[name])

    endpoints: dict[str, Endpoint] = {
        "/api/graphs": graphs, "/api/graph": graph, "/api/graph/player": graph_player,
        "/api/graph.svg": graph_svg, "/player/{name}": player_file}
    state["layouts"] = layouts  # tests count the layouts computed
    return endpoints


PANEL = Panel("graph", "Computational graph", SCHEMA,
              ("/api/graphs", "/api/graph", "/api/graph/player", "/api/graph.svg",
               "/player/{name}"), routes)
