"""What every route of the board shares: parameters, limits, errors (imports Starlette).

Panels (:mod:`microgrboard.board.panels`) and the server build their endpoints from
these, so that a parameter means and is limited the same on every route.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from microgrboard.board.store import (
    MAX_INTEGER,
    BadRow,
    InvalidParameter,
    NotFound,
    StoreError,
    check_run_name,
    check_tag,
)

Endpoint = Callable[[Request], Response]

MAX_RUNS_PER_REQUEST = 500
MAX_TAGS_PER_REQUEST = 100


class PayloadTooLarge(StoreError):
    """Something too big to answer with (a graph too large to draw)."""


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def run_param(request: Request) -> str:
    """The one ``run`` of a request (400 if missing or not a valid run name)."""
    name = request.query_params.get("run")
    if name is None:
        raise InvalidParameter("missing query parameter 'run'")
    return check_run_name(name)


def _distinct(request: Request, key: str, limit: int) -> list[str]:
    # dict.fromkeys: de-duplicated, first occurrence's order; a 1,000-fold repeat is one.
    values = list(dict.fromkeys(request.query_params.getlist(key)))
    if len(values) > limit:
        raise InvalidParameter(f"at most {limit} distinct {key!r} parameters per request, "
                               f"got {len(values)}")
    return values


def run_params(request: Request) -> list[str]:
    """Every distinct ``run`` of a request (at least one, at most MAX_RUNS_PER_REQUEST)."""
    names = _distinct(request, "run", MAX_RUNS_PER_REQUEST)
    if not names:
        raise InvalidParameter("missing query parameter 'run' (repeat it for several runs)")
    return [check_run_name(name) for name in names]


def tag_params(request: Request) -> list[str] | None:
    """The distinct ``tag`` parameters, or None when there is none (every tag)."""
    tags = _distinct(request, "tag", MAX_TAGS_PER_REQUEST)
    return [check_tag(tag) for tag in tags] or None


def int_param(request: Request, key: str, default: int | None = None, *, low: int = 0,
              high: int = MAX_INTEGER) -> int:
    """An integer query parameter in ``low..high`` (400 otherwise; missing: ``default``)."""
    text = request.query_params.get(key)
    if text is None:
        if default is not None:
            return default
        raise InvalidParameter(f"missing query parameter {key!r}")
    if len(text) > 40 or not text.removeprefix("-").isdecimal():
        raise InvalidParameter(f"query parameter {key!r} must be an integer, got {text[:40]!r}")
    value = int(text)
    if value < low:
        raise InvalidParameter(f"query parameter {key!r} must be >= {low}, got {value}")
    if value > high:
        limit = "2**63 - 1" if high == MAX_INTEGER else str(high)
        raise InvalidParameter(f"query parameter {key!r} must be at most {limit}, got {value}")
    return value


def optional_int_param(request: Request, key: str) -> int | None:
    return int_param(request, key) if key in request.query_params else None


def json_response(content: Any, **headers: str) -> JSONResponse:
    return JSONResponse(content, headers=headers or None)


def handles_store_errors(endpoint: Endpoint) -> Endpoint:
    """Map errors to JSON answers: 400 bad parameter, 404 not found, 413, 500 store/package."""

    def wrapped(request: Request) -> Response:
        try:
            return endpoint(request)
        except InvalidParameter as problem:
            return error(400, str(problem))
        except NotFound as problem:
            return error(404, str(problem))
        except PayloadTooLarge as problem:
            return error(413, str(problem))
        except (StoreError, ImportError) as problem:  # BadRow too: one run's damaged row
            return error(500, str(problem))

    wrapped.__name__ = endpoint.__name__
    return wrapped


__all__ = ["BadRow", "Endpoint", "error", "handles_store_errors", "int_param", "json_response",
           "optional_int_param", "run_param", "run_params", "tag_params"]
