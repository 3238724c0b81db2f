"""The board's web server: a Starlette app over a log directory's store, read-only.

``create_app(logdir)`` builds the app (tests drive it with Starlette's
TestClient); ``serve(args)`` runs it with uvicorn for ``microgrboard board``.

JSON API (every run is named by a ``run`` query parameter; a name that is not a
valid run name is a 400, an unknown run a 404, an unreadable store a 500, each
with ``{"error": "..."}``):

- ``GET /api/runs``: the runs, with hyper-parameters, status and scalar tags.
- ``GET /api/scalars?run=a&run=b``: ``{"runs": {name: {tag: {"steps", "values"}}},
  "cursors": {name: int}}``. With ``since=C`` (a cursor from an earlier answer, for
  each run asked), only the points logged or re-logged after it: a live page polls
  with its cursor, so a poll costs what is new, not the whole run.
- ``GET /api/graphs?run=a``: the run's graph snapshots (id, tag, step, structure key).
- ``GET /api/graph?run=a&id=3``: one snapshot with every node's data, grad, op, label.
- ``GET /api/graph.svg?run=a&key=K``: the drawing of structure ``K``, laid out once
  and cached; the page writes each snapshot's numbers into it.
- ``GET /api/params/steps?run=a``, ``GET /api/params?run=a&step=10``: parameters.
- ``GET /api/boundaries/steps?run=a``, ``GET /api/boundary?run=a&step=10``.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import math
import socket
import sys
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from importlib.util import find_spec
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from microgrboard.board.store import (
    MAX_INTEGER,
    InvalidName,
    RunNotFound,
    StoreError,
    StoreReader,
    check_run_name,
)

if TYPE_CHECKING:
    from microgrboard.snapshot import Snapshot

PACKAGE_DIR = Path(__file__).parent
MAX_DRAWN_NODES = 1500  # a bigger drawing is folded per neuron, or refused (layout time)
_PLACEHOLDER = -8.888e-05  # as wide as a 4-digit number gets: "-8.888e-05"

# Graphviz draws text left-aligned in cells sized for the text it was given. The
# page rewrites the numbers of each snapshot into one cached layout, so the
# layout is made with placeholder numbers as wide as any: the numbers always fit,
# and the drawing depends only on the structure, not on which snapshot came first.


def render_structure_svg(snapshot: dict[str, Any]) -> str:
    """Lay out ``snapshot``'s structure as SVG (numbers are placeholders; see above).

    The one place the board calls the drawing module. Every node is drawn when
    the graph is small enough; a bigger graph built by ``microgrboard.nn`` is
    folded into one box per neuron; bigger still raises ``GraphTooLargeError``.
    """
    from microgrboard.drawing import GraphTooLargeError, draw

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
    """Structure key -> SVG, least recently used first out; each layout computed once.

    Requests run in a thread pool: a per-key lock makes a second request for a
    structure being laid out wait for that layout instead of starting another.
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self.layouts_computed = 0

    def get(self, key: str, compute: Callable[[], str]) -> str:
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
                svg = compute()
                with self._lock:
                    self.layouts_computed += 1
                    self._items[key] = svg
                    while len(self._items) > self.size:
                        self._items.popitem(last=False)
                return svg
            finally:  # a failed layout too: waiters retry, and no lock is left behind
                with self._lock:
                    self._key_locks.pop(key, None)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _chart_numbers(values: list[float]) -> list[float | None]:
    # Strict JSON has no NaN/inf: a non-finite point is a gap in the curve.
    return [v if math.isfinite(v) else None for v in values]


def _run_param(request: Request) -> str:
    name = request.query_params.get("run")
    if name is None:
        raise InvalidName("missing query parameter 'run'")
    return check_run_name(name)


def _int_param(request: Request, key: str, default: int | None = None) -> int:
    text = request.query_params.get(key)
    if text is None:
        if default is not None:
            return default
        raise InvalidName(f"missing query parameter {key!r}")
    try:
        value = int(text)
    except ValueError:
        raise InvalidName(f"query parameter {key!r} must be an integer, "
                          f"got {text[:40]!r}") from None
    if value < 0:
        raise InvalidName(f"query parameter {key!r} must be >= 0, got {value}")
    if value > MAX_INTEGER:  # SQLite's integers are 64-bit: no row has it
        raise InvalidName(f"query parameter {key!r} must be at most 2**63 - 1, got {value}")
    return value


def _handles_store_errors(
    endpoint: Callable[[Request], Response],
) -> Callable[[Request], Response]:
    """Map store errors to JSON error responses: 400 bad name, 404 unknown, 500 store."""

    def wrapped(request: Request) -> Response:
        try:
            return endpoint(request)
        except InvalidName as error:
            return _error(400, str(error))
        except RunNotFound as error:
            return _error(404, str(error))
        except StoreError as error:
            return _error(500, str(error))

    wrapped.__name__ = endpoint.__name__
    return wrapped


def plotly_js_path() -> Path:
    """plotly.min.js as shipped inside the ``plotly`` PyPI package (not imported)."""
    spec = find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise StoreError("the plotly package is not installed: pip install 'microgrboard[board]'")
    return Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"


_SECURITY_HEADERS = {
    # Only our own scripts run; plotly injects <style> elements, hence inline styles.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class _SecurityHeaders:
    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.lower().encode(), v.encode()) for k, v in _SECURITY_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(
    logdir: str | PathLike[str], *, allowed_hosts: list[str] | None = None
) -> Starlette:
    """The board's Starlette app over ``logdir`` (which must exist).

    ``allowed_hosts`` restricts the ``Host`` header to those names or addresses
    (``serve`` passes :func:`loopback_hosts` when bound to loopback, against
    DNS-rebinding pages); other hosts get a 400.
    """
    reader = StoreReader(logdir)  # raises StoreError if logdir is missing
    reader.check()  # a corrupt or too-new store: fail now, with the reason
    templates = Jinja2Templates(directory=str(PACKAGE_DIR / "templates"))
    assert templates.env.autoescape, "templates must autoescape user strings"
    layouts = LayoutCache()

    def index(request: Request) -> Response:
        from microgrboard import __version__

        return templates.TemplateResponse(
            request, "index.html", {"logdir": str(logdir), "version": __version__}
        )

    def plotly_js(request: Request) -> Response:
        path = plotly_js_path()
        if not path.is_file():
            return _error(500, f"plotly.js not found at {path}")
        return FileResponse(path, media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})

    def runs(request: Request) -> Response:
        return JSONResponse({"logdir": str(logdir), "runs": reader.runs()})

    def scalars(request: Request) -> Response:
        names = request.query_params.getlist("run")
        if not names:
            raise InvalidName("missing query parameter 'run' (repeat it for several runs)")
        since = _int_param(request, "since", default=0)
        result, cursors = {}, {}
        for name in names:
            series, cursors[name] = reader.scalars_since(check_run_name(name), since)
            result[name] = {
                tag: {"steps": s["steps"], "values": _chart_numbers(s["values"])}
                for tag, s in series.items()
            }
        return JSONResponse({"runs": result, "cursors": cursors})

    def graphs(request: Request) -> Response:
        return JSONResponse({"graphs": reader.graphs(_run_param(request))})

    def graph(request: Request) -> Response:
        record = reader.graph(_run_param(request), _int_param(request, "id"))
        record["snapshot"] = json.loads(record["snapshot"])
        return JSONResponse(record)

    def graph_svg(request: Request) -> Response:
        from microgrboard.drawing import GraphTooLargeError, RenderError

        run = _run_param(request)
        key = request.query_params.get("key", "")
        if not key.isalnum() or len(key) > 64:
            raise InvalidName(f"query parameter 'key' must be a structure key, got {key!r}")
        snapshot_json = reader.graph_by_key(run, key)
        if snapshot_json is None:
            raise RunNotFound(f"run {run!r} has no graph with structure {key!r}")
        try:
            svg = layouts.get(key, lambda: render_structure_svg(json.loads(snapshot_json)))
        except GraphTooLargeError as error:
            return _error(413, str(error))
        except RenderError as error:
            return _error(500, f"could not draw the graph: {error}")
        except (ValueError, KeyError, TypeError) as error:  # written by another tool?
            return _error(500, f"the stored graph snapshot is invalid: {error!r}")
        # The layout of a structure never changes: let the browser keep it.
        return Response(svg, media_type="image/svg+xml",
                        headers={"Cache-Control": "private, max-age=3600"})

    def payload_steps(table: Any) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            return JSONResponse({"steps": reader.payload_steps(table, _run_param(request))})

        endpoint.__name__ = f"{table}_steps"
        return endpoint

    def payload(table: Any) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            text = reader.payload(table, _run_param(request), _int_param(request, "step"))
            return Response(text, media_type="application/json")  # stored as strict JSON

        endpoint.__name__ = table
        return endpoint

    api = [
        ("/api/runs", runs),
        ("/api/scalars", scalars),
        ("/api/graphs", graphs),
        ("/api/graph", graph),
        ("/api/graph.svg", graph_svg),
        ("/api/params/steps", payload_steps("params")),
        ("/api/params", payload("params")),
        ("/api/boundaries/steps", payload_steps("boundaries")),
        ("/api/boundary", payload("boundaries")),
    ]
    routes = [
        Route("/", index),
        Route("/vendor/plotly.min.js", plotly_js),
        *(Route(path, _handles_store_errors(endpoint)) for path, endpoint in api),
        Mount("/static", StaticFiles(directory=str(PACKAGE_DIR / "static")), name="static"),
    ]
    middleware = [Middleware(_SecurityHeaders)]
    if allowed_hosts:
        middleware.append(Middleware(_HostCheck, allowed=allowed_hosts))
    app = Starlette(routes=routes, middleware=middleware)
    app.state.layouts = layouts
    return app


def _host_name(header: str) -> str:
    """The host of a Host header, without the port; an IPv6 literal without brackets."""
    header = header.strip().lower()
    if header.startswith("["):
        end = header.find("]")
        return header[1:end] if end > 0 else ""
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _same_host(name: str, allowed: str) -> bool:
    name, allowed = name.lower(), allowed.strip("[]").lower()
    if name == allowed:
        return True
    try:  # "::1" and "0:0:0:0:0:0:0:1" are one address
        return ipaddress.ip_address(name) == ipaddress.ip_address(allowed)
    except ValueError:
        return False


class _HostCheck:
    """400 for a request whose Host header is not one of ``allowed`` (IPv6 literals too)."""

    def __init__(self, app: Callable[..., Awaitable[None]], allowed: list[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            header = dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1")
            name = _host_name(header)
            if not any(_same_host(name, allowed) for allowed in self.allowed):
                response = _error(400, f"invalid Host header {header!r}")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def loopback_hosts(host: str) -> list[str] | None:
    """The Host names a board bound to ``host`` answers, or None (any) off loopback.

    Bound to a loopback address, its own address and the usual local names;
    bound to a public interface, any (the board then warns it has no authentication).

    >>> loopback_hosts("127.0.0.2")
    ['127.0.0.2', '127.0.0.1', 'localhost', '::1']
    >>> loopback_hosts("0.0.0.0") is None
    True
    """
    if not _is_loopback(host):
        return None
    return list(dict.fromkeys([host.strip("[]"), "127.0.0.1", "localhost", "::1"]))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_socket(host: str, port: int, tries: int = 10) -> tuple[socket.socket, int]:
    """A listening socket on ``host``, at ``port`` or the next free one of ``tries``.

    Returns the socket and the port it got. Raises OSError naming the ports tried.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    last_error: OSError | None = None
    for candidate in range(port, port + tries) if port else [0]:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, candidate))
            sock.listen(128)
        except OSError as error:
            sock.close()
            last_error = error
            if error.errno not in (98, 48, 10048):  # EADDRINUSE (Linux, macOS, Windows)
                raise OSError(f"cannot listen on {host}:{candidate}: {error.strerror}") from None
            continue
        return sock, sock.getsockname()[1]
    raise OSError(f"ports {port}..{port + tries - 1} on {host} are all busy "
                  f"({last_error}); pass another with --port")


def serve(args: argparse.Namespace) -> int:
    """``microgrboard board --logdir DIR [--host H] [--port P]``: serve until Ctrl-C."""
    import uvicorn

    logdir = Path(args.logdir)
    host, port = args.host, args.port
    if host.startswith("[") and host.endswith("]"):  # "[::1]", as in a URL
        host = host[1:-1]
    if not logdir.is_dir():
        print(f"microgrboard board: log directory {str(logdir)!r} does not exist. Log a run "
              "first (microgrboard demo, or microgrboard.Run(logdir=...) in your training "
              "script), or pass --logdir.", file=sys.stderr)
        return 2
    if not 0 <= port <= 65535:
        print(f"microgrboard board: --port must be in 0..65535, got {port}", file=sys.stderr)
        return 2
    loopback = _is_loopback(host)
    try:
        app = create_app(logdir, allowed_hosts=loopback_hosts(host))  # against DNS rebinding
    except StoreError as error:
        print(f"microgrboard board: {error}", file=sys.stderr)
        return 2
    try:
        sock, actual_port = bind_socket(host, port)
    except OSError as error:
        print(f"microgrboard board: {error}", file=sys.stderr)
        return 2
    if port and actual_port != port:
        print(f"microgrboard board: port {port} is busy; using {actual_port} instead.")
    if not loopback:
        print(f"microgrboard board: listening on {host}, reachable from other machines; "
              "the board has no authentication.")
    shown_host = f"[{host}]" if ":" in host else host
    print(f"microgrboard board: serving {logdir} at http://{shown_host}:{actual_port}/ "
          "(Ctrl-C to stop)", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # pragma: no cover - uvicorn normally handles Ctrl-C itself
        pass
    finally:
        sock.close()
    return 0
