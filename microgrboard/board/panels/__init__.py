"""The board's panels, each one slice: its store queries, routes and payload schema.

:data:`PANELS` is the one list of them: the server mounts each panel's routes from
it, and the page reads it (``GET /api/panels``) to load each panel's ES module,
``/static/panels/NAME.js``, in this order. A new panel is a module here with a
:class:`Panel` named ``PANEL``, its JavaScript module, and one line below.

Panel modules stay light: they import Starlette (and numpy) only inside the
functions that serve requests, so the writer can use their payload builders.
"""

from __future__ import annotations

from microgrboard.board.panels import boundary, graph, network, params, scalars
from microgrboard.board.panels.base import Panel

PANELS: tuple[Panel, ...] = (
    scalars.PANEL,
    graph.PANEL,
    network.PANEL,
    params.PANEL,
    boundary.PANEL,
)

REGISTRY_SCHEMA = 1


def registry() -> dict[str, object]:
    """What ``GET /api/panels`` answers (and ``index.html`` gets as ``panels``)."""
    return {"schema": REGISTRY_SCHEMA, "panels": [panel.describe() for panel in PANELS]}


__all__ = ["PANELS", "Panel", "registry"]
