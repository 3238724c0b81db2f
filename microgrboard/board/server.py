"""The board's web server: a Starlette app over a log directory's store, read-only.

``create_app(logdir)`` builds the app (tests drive it with Starlette's
TestClient); ``serve(args)`` runs it with uvicorn for ``microgrboard board``.

The page's frame is served here (``/``, ``/static``, plotly.js), with the routes
that are not a panel's: ``/api/runs``, ``/api/changes`` ("anything new?") and
``/api/panels`` (the registry). Every panel's routes come from its module in
:mod:`microgrboard.board.panels`. The API is documented in ``docs/board.md``.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys
from collections.abc import Awaitable, Callable
from importlib.util import find_spec
from os import PathLike
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from microgrboard.board.api import Endpoint, error, handles_store_errors, json_response
from microgrboard.board.panels import PANELS, registry
from microgrboard.board.store import StoreError, StoreReader

PACKAGE_DIR = Path(__file__).parent
RUNS_SCHEMA = 2
CHANGES_SCHEMA = 1


def plotly_js_path() -> Path:
    """plotly.min.js as shipped inside the ``plotly`` PyPI package (not imported)."""
    spec = find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the plotly package is not installed: pip install 'microgrboard[board]'")
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

    def index(request: Request) -> Response:
        from microgrboard import __version__

        return templates.TemplateResponse(
            request, "index.html",
            {"logdir": str(logdir), "version": __version__, "panels": registry()["panels"]},
        )

    def plotly_js(request: Request) -> Response:
        path = plotly_js_path()
        if not path.is_file():
            return error(500, f"plotly.js not found at {path}")
        return FileResponse(path, media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})

    def runs(request: Request) -> Response:
        return json_response({"schema": RUNS_SCHEMA, "logdir": str(logdir),
                              "runs": reader.runs()})

    def changes(request: Request) -> Response:
        token, per_run = reader.changes()
        if request.query_params.get("token") == token:
            return json_response({"schema": CHANGES_SCHEMA, "token": token, "changed": False})
        return json_response({"schema": CHANGES_SCHEMA, "token": token, "changed": True,
                              "runs": per_run})

    def panels(request: Request) -> Response:
        return json_response(registry())

    endpoints: dict[str, Endpoint] = {"/api/runs": runs, "/api/changes": changes,
                                      "/api/panels": panels}
    state: dict[str, Any] = {"reader": reader}  # app.state.reader, .layouts: for tests
    for panel in PANELS:
        served = panel.routes(reader, state)
        assert tuple(served) == panel.paths, f"panel {panel.name}: routes and paths differ"
        endpoints.update(served)
    routes = [
        Route("/", index),
        Route("/vendor/plotly.min.js", handles_store_errors(plotly_js)),
        *(Route(path, handles_store_errors(endpoint)) for path, endpoint in endpoints.items()),
        Mount("/static", StaticFiles(directory=str(PACKAGE_DIR / "static")), name="static"),
    ]
    middleware = [Middleware(_SecurityHeaders)]
    if allowed_hosts:
        middleware.append(Middleware(_HostCheck, allowed=allowed_hosts))
    app = Starlette(routes=routes, middleware=middleware)
    for key, value in state.items():
        setattr(app.state, key, value)
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
                response = error(400, f"invalid Host header {header!r}")
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
        except OSError as problem:
            sock.close()
            last_error = problem
            if problem.errno not in (98, 48, 10048):  # EADDRINUSE (Linux, macOS, Windows)
                raise OSError(f"cannot listen on {host}:{candidate}: {problem.strerror}") from None
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
    except StoreError as problem:
        print(f"microgrboard board: {problem}", file=sys.stderr)
        return 2
    try:
        sock, actual_port = bind_socket(host, port)
    except OSError as problem:
        print(f"microgrboard board: {problem}", file=sys.stderr)
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
