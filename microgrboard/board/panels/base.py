"""What a panel declares (:class:`Panel`), and the routes every stepped panel shares."""

from __future__ import annotations

import json
import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from microgrboard.core import Value

if TYPE_CHECKING:
    from microgrboard.board.api import Endpoint
    from microgrboard.board.store import StoreReader

Routes = Callable[["StoreReader", dict[str, Any]], dict[str, "Endpoint"]]


@dataclass(frozen=True)
class Panel:
    """One panel: its name (also its JS module's), title, payload schema version, routes.

    ``routes(reader, state)`` returns ``{path: endpoint}`` (``state``: what the app
    exposes as ``app.state``, e.g. a cache); ``paths`` lists the same paths so that
    the registry can be described without starting a web stack.
    """

    name: str
    title: str
    schema: int
    paths: tuple[str, ...]
    routes: Routes

    @property
    def module(self) -> str:
        return f"/static/panels/{self.name}.js"

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "title": self.title, "schema": self.schema,
                "module": self.module, "routes": list(self.paths)}


def stepped_panel(name: str, title: str, schema: int,
                  upgrade: Callable[[dict[str, Any]], None] | None = None) -> Panel:
    """A panel that logs one JSON payload per step: ``/api/NAME/steps`` and ``/api/NAME``.

    ``upgrade`` brings a payload stored by an older version up to ``schema``, in place.
    """

    def routes(reader: StoreReader, state: dict[str, Any]) -> dict[str, Endpoint]:
        from starlette.requests import Request
        from starlette.responses import Response

        from microgrboard.board.api import int_param, json_response, run_param

        def steps(request: Request) -> Response:
            return json_response({"schema": 1,
                                  "steps": reader.payload_steps(name, run_param(request))})

        def payload(request: Request) -> Response:
            run, step = run_param(request), int_param(request, "step")
            stored = stored_json(reader.payload(name, run, step), f"run {run!r}'s {name} "
                                 f"at step {step}")
            if upgrade is not None:
                upgrade(stored)
            return json_response({**stored, "schema": schema, "run": run, "step": step})

        steps.__name__, payload.__name__ = f"{name}_steps", name
        return {f"/api/{name}/steps": steps, f"/api/{name}": payload}

    return Panel(name, title, schema, (f"/api/{name}/steps", f"/api/{name}"), routes)


def stored_json(text: str, what: str) -> dict[str, Any]:
    """A stored JSON object, or BadRow (a JSON error for that row, not a crash)."""
    from microgrboard.board.store import BadRow

    try:
        value = json.loads(text)
    except ValueError as problem:
        raise BadRow(f"{what} is not JSON ({problem})") from None
    if not isinstance(value, dict):
        raise BadRow(f"{what} is not a JSON object")
    return value


def number(what: str, value: object) -> float:
    """A float from a number or a Value; anything else is a TypeError naming ``what``."""
    if isinstance(value, Value):
        return value.data
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"{what} must be a number or a Value, got {type(value).__name__}: {value!r}")


def number_list(what: str, values: object) -> list[float]:
    """Floats from a sequence of numbers or Values (a TypeError naming the bad item)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{what} must be a sequence of numbers, got {type(values).__name__}")
    return [number(f"{what}[{i}]", v) for i, v in enumerate(values)]
