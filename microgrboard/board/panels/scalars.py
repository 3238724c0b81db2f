"""The scalars panel: every selected run's curves in one request, downsampled on the server.

A curve longer than ``max_points`` (default 2,000) keeps, per bucket of steps, its
minimum and maximum (tsdownsample's MinMax: a one-step spike is always kept), plus
its first and last point and its non-finite points (gaps in the chart). A zoomed
step range (``start``/``end``) holding at most ``max_points`` points comes back at
full resolution; ``since`` returns only what was logged after a cursor.

A long curve is downsampled from the store's min/max summary (``scalar_blocks``, see
:mod:`microgrboard.board.store`) rather than from its points: the first request for a
million-point run reads a few thousand summary rows, not a million rows.
"""

from __future__ import annotations

import gc
import math
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from microgrboard.board.panels.base import Panel
from microgrboard.board.store import (
    BLOCK_SIZES,
    MAX_INTEGER,
    NON_FINITE,
    BadRow,
    BlockSummary,
    InvalidParameter,
    RunNotFound,
    merge_summaries,
    point_summary,
    scalar_value,
)

if TYPE_CHECKING:
    from microgrboard.board.api import Endpoint
    from microgrboard.board.store import StoreReader, StoreView

SCHEMA = 2
DEFAULT_MAX_POINTS = 2_000
MAX_MAX_POINTS = 20_000

Curve = dict[str, Any]


def downsample(steps: list[int], values: list[float | None],
               max_points: int) -> tuple[list[int], list[float | None]]:
    """At most ``max_points`` of the points, keeping each bucket's extremes (see above).

    ``values`` may hold None (a non-finite value); steps ascend.
    """
    count = len(steps)
    if count <= max_points:
        return steps, values
    import numpy as np
    from tsdownsample import MinMaxDownsampler

    x = np.asarray(steps, dtype=np.int64)
    y = np.asarray(values, dtype=np.float64)  # None -> nan
    finite = np.isfinite(y)
    gaps = np.flatnonzero(~finite)
    if len(gaps) > max_points // 4:  # a mostly broken curve: some of its gaps still show
        gaps = gaps[np.linspace(0, len(gaps) - 1, max_points // 4).astype(np.int64)]
    kept = np.flatnonzero(finite)
    budget = (max_points - 2 - len(gaps)) // 2 * 2  # MinMax keeps pairs; 2 for the ends
    if len(kept) > budget >= 4:  # tsdownsample needs two buckets at least
        sampler = MinMaxDownsampler()  # type: ignore[no-untyped-call]
        kept = kept[sampler.downsample(x[kept], y[kept], n_out=budget)]
    elif len(kept) > budget >= 2:  # one bucket: its minimum and maximum
        kept = kept[[int(np.argmin(y[kept])), int(np.argmax(y[kept]))]]
    elif len(kept) > budget:
        kept = kept[:0]
    keep = np.unique(np.concatenate([np.array([0, count - 1]), kept, gaps]))
    return x[keep].tolist(), [v if math.isfinite(v) else None for v in y[keep].tolist()]


def _curve(run: str, tag: str, steps: list[Any], values: list[Any], max_points: int) -> Curve:
    """A chart's curve: values checked, non-finite as None, downsampled if too long."""
    if not set(map(type, values)) <= {float, int, type(None)} or not set(map(type, steps)) <= {
            int}:
        for step, value in zip(steps, values):
            if type(step) is not int:
                raise BadRow(f"run {run!r}: a step of {tag!r} is not an integer "
                             f"({str(step)[:40]!r})")
            scalar_value(run, tag, step, value)  # raises BadRow naming the row
    if math.inf in values or -math.inf in values:
        values = [None if v is not None and not math.isfinite(v) else v for v in values]
    shown_steps, shown_values = downsample(steps, values, max_points)
    return {"steps": shown_steps, "values": shown_values, "points": len(steps),
            "downsampled": len(shown_steps) < len(steps)}


def _summary_curve(view: StoreView, run: str, run_id: int, tag: str, low: int, high: int,
                   max_points: int) -> Curve | None:
    """The curve of steps ``low..high`` downsampled from the store's summary (schema 3),
    or None where the points themselves are to be read: an older store, a range of at
    most ``max_points`` points, or one too short for the finest blocks to be finer than
    the buckets (then there are at most about 16 points per bucket to read).

    What :func:`downsample` keeps, with buckets made of whole blocks: each bucket's
    minimum and maximum (from its blocks'), the first and last point, and the
    non-finite points (some of them if they are more than a quarter of ``max_points``).
    It reads O(``max_points``) summary rows, whatever the number of points.
    """
    if view.version < 3:
        return None
    db, series = view.db, (run_id, tag)
    ends = [db.execute(f"SELECT step, value FROM scalars WHERE run_id = ? AND tag = ? AND step "
                       f"BETWEEN ? AND ? ORDER BY step{order} LIMIT 1",
                       (*series, low, high)).fetchone() for order in ("", " DESC")]
    last_step = db.execute("SELECT last_step FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    if ends[0] is None or ends[1] is None or last_step is None:
        return None
    (first, _), (last, _) = ends
    pairs = (max_points - 2) // 2  # buckets at most; each needs a block at least
    size = next((s for s in reversed(BLOCK_SIZES) if last // s - first // s + 1 >= pairs), None)
    if size is None:
        return None
    first_block, last_block = first // size, last // size
    blocks: dict[int, BlockSummary] = {row[0]: row[1:] for row in db.execute(
        "SELECT block, count, min_step, min_value, max_step, max_value, gaps, gap_step "
        "FROM scalar_blocks WHERE run_id = ? AND tag = ? AND size = ? AND block BETWEEN ? AND ?",
        (*series, size, first_block, last_block))}

    def points(start: int, end: int) -> list[tuple[int, BlockSummary]]:
        return [(step, point_summary(step, scalar_value(run, tag, step, value))) for step, value
                in db.execute("SELECT step, value FROM scalars WHERE run_id = ? AND tag = ? AND "
                              "step BETWEEN ? AND ? ORDER BY step", (*series, start, end))]

    # The summary stops before the run's last finest block: add that block's points.
    unsummarised = int(last_step) // BLOCK_SIZES[0] * BLOCK_SIZES[0]
    for step, point in points(max(low, unsummarised), high):
        block = step // size
        blocks[block] = merge_summaries([blocks[block], point]) if block in blocks else point
    for block in {first_block, last_block}:  # an end block reaching out of the range:
        start, end = block * size, block * size + size - 1  # its points in the range alone
        if start < low or end > high:
            blocks[block] = merge_summaries(
                point for _, point in points(max(low, start), min(high, end)))
    count = sum(summary[0] for summary in blocks.values())
    if count <= max_points:
        return None
    gaps = _gap_steps(view, run_id, tag, first, last, blocks, max_points // 4)
    buckets = (max_points - 2 - len(gaps)) // 2
    span = last_block - first_block + 1
    lows: dict[int, tuple[float, int]] = {}
    highs: dict[int, tuple[float, int]] = {}
    for block, (_, low_step, low_value, high_step, high_value, _, _) in blocks.items():
        if buckets < 1 or low_step is None or low_value is None or high_step is None \
                or high_value is None:
            continue  # nothing finite in this block
        bucket = (block - first_block) * buckets // span
        if bucket not in lows or low_value < lows[bucket][0]:
            lows[bucket] = (low_value, low_step)
        if bucket not in highs or high_value > highs[bucket][0]:
            highs[bucket] = (high_value, high_step)
    shown: dict[int, float | None] = {step: value for value, step in
                                      [*lows.values(), *highs.values()]}
    shown.update(dict.fromkeys(gaps))
    for step, value in ends:
        number = scalar_value(run, tag, step, value)
        shown[step] = number if math.isfinite(number) else None
    steps = sorted(shown)
    return {"steps": steps, "values": [shown[step] for step in steps], "points": count,
            "downsampled": len(steps) < count}


def _gap_steps(view: StoreView, run_id: int, tag: str, first: int, last: int,
               blocks: dict[int, BlockSummary], limit: int) -> list[int]:
    """The steps of the non-finite points from ``first`` to ``last`` (summarised in
    ``blocks``), or, if they are more than ``limit``, ``limit`` blocks' first ones."""
    if sum(summary[5] for summary in blocks.values()) <= limit:
        return [step for (step,) in view.db.execute(  # through the partial index scalars_gaps
            f"SELECT step FROM scalars WHERE run_id = ? AND tag = ? AND step BETWEEN ? AND ? "
            f"AND {NON_FINITE}", (run_id, tag, first, last))]
    # A mostly broken curve: some of its gaps still show, spread along it.
    firsts = sorted(summary[6] for summary in blocks.values() if summary[6] is not None)
    shown = min(limit, len(firsts))
    return [firsts[i * (len(firsts) - 1) // max(shown - 1, 1)] for i in range(shown)]


def _scanned_curve(view: StoreView, run: str, run_id: int, tag: str, low: int, high: int,
                   max_points: int) -> Curve | None:
    """The curve of steps ``low..high`` from every point in it (None: no point)."""
    # A million rows make a million tuples: the cyclic collector would rescan them
    # again and again while they are made (none of them is a cycle).
    collecting = gc.isenabled()
    gc.disable()
    try:
        rows = view.db.execute("SELECT step, value FROM scalars WHERE run_id = ? AND tag = ? "
                               "AND step BETWEEN ? AND ? ORDER BY step",
                               (run_id, tag, low, high)).fetchall()
        columns = [list(column) for column in zip(*rows)]
        del rows
    finally:
        if collecting:
            gc.enable()
    return _curve(run, tag, columns[0], columns[1], max_points) if columns else None


def _scalar_tags(view: StoreView, run_id: int) -> list[str]:
    if view.version >= 2:
        sql = "SELECT tag FROM run_series WHERE run_id = ? AND kind = 'scalar' ORDER BY tag"
    else:
        sql = "SELECT DISTINCT tag FROM scalars WHERE run_id = ? ORDER BY tag"
    return [tag for (tag,) in view.db.execute(sql, (run_id,))]


class CurveCache:
    """Downsampled curves of runs that did not log since: a long run is read once.

    Keyed by what was asked (run id, tag, range, max_points) and valid while the
    run's newest scalar row is the same (run ids are never reused; a re-logged
    point gets a new row). Least recently used first out.
    """

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._items: OrderedDict[tuple[Any, ...], tuple[int, Curve]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], newest: int) -> Curve | None:
        with self._lock:
            found = self._items.get(key)
            if found is None or found[0] != newest:
                return None
            self._items.move_to_end(key)
            return found[1]

    def put(self, key: tuple[Any, ...], newest: int, curve: Curve) -> None:
        with self._lock:
            self._items[key] = (newest, curve)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def _run_curves(view: StoreView, run: str, run_id: int, *, tags: list[str] | None,
                since: int | None, start: int | None, end: int | None,
                max_points: int, cache: CurveCache | None) -> tuple[dict[str, Curve], int]:
    db = view.db
    curves: dict[str, Curve] = {}
    if since is not None:  # a live poll: only the new rows, through the (run, id) index
        rows = db.execute("SELECT id, tag, step, value FROM scalars WHERE run_id = ? AND id > ?",
                          (run_id, since)).fetchall()
        by_tag: dict[str, list[tuple[Any, Any]]] = {}
        for _, tag, step, value in rows:
            if tags is None or tag in tags:
                by_tag.setdefault(tag, []).append((step, value))
        for tag in sorted(by_tag):
            points = sorted(by_tag[tag], key=lambda point: (type(point[0]) is not int, point[0]))
            steps, values = (list(column) for column in zip(*points))
            curves[tag] = _curve(run, tag, steps, values, max_points)
        return curves, max([since, *(row[0] for row in rows)])
    newest = int(db.execute("SELECT MAX(id) FROM scalars WHERE run_id = ?",
                            (run_id,)).fetchone()[0] or 0)
    low, high = 0 if start is None else start, MAX_INTEGER if end is None else end
    for tag in _scalar_tags(view, run_id) if tags is None else tags:
        key = (run_id, tag, start, end, max_points)
        curve = None if cache is None else cache.get(key, newest)
        if curve is None:
            curve = (_summary_curve(view, run, run_id, tag, low, high, max_points)
                     or _scanned_curve(view, run, run_id, tag, low, high, max_points))
            if cache is not None and curve is not None:
                cache.put(key, newest, curve)
        if curve is not None:
            curves[tag] = curve
    return curves, newest


def read_curves(view: StoreView, names: list[str], *, tags: list[str] | None = None,
                since: int | None = None, start: int | None = None, end: int | None = None,
                max_points: int = DEFAULT_MAX_POINTS,
                cache: CurveCache | None = None) -> dict[str, Any]:
    """The ``/api/scalars`` answer for runs ``names`` (RunNotFound for an unknown one).

    A run whose rows cannot be read gets an entry in ``"errors"`` and no curves; the
    other runs are answered as usual.
    """
    if since is not None and (start is not None or end is not None):
        raise InvalidParameter("'since' cannot be combined with 'start'/'end'")
    if start is not None and end is not None and start > end:
        raise InvalidParameter(f"'start' ({start}) must not be after 'end' ({end})")
    ids = view.run_ids(names)
    cursor = view.db.execute("SELECT MAX(id) FROM scalars").fetchone()[0] or 0
    runs: dict[str, dict[str, Curve]] = {}
    cursors: dict[str, int] = {}
    errors: dict[str, str] = {}
    for name, run_id in ids.items():
        try:
            runs[name], cursors[name] = _run_curves(
                view, name, run_id, tags=tags, since=since, start=start, end=end,
                max_points=max_points, cache=cache)
        except BadRow as problem:
            runs[name], cursors[name], errors[name] = {}, since or 0, str(problem)
    return {"schema": SCHEMA, "runs": runs, "cursors": cursors, "cursor": int(cursor),
            "errors": errors}


def routes(reader: StoreReader, state: dict[str, Any]) -> dict[str, Endpoint]:
    from starlette.requests import Request
    from starlette.responses import Response

    from microgrboard.board.api import (
        int_param,
        json_response,
        optional_int_param,
        run_params,
        tag_params,
    )

    cache = CurveCache()
    state["curves"] = cache

    def scalars(request: Request) -> Response:
        names, tags = run_params(request), tag_params(request)
        options = {key: optional_int_param(request, key) for key in ("since", "start", "end")}
        max_points = int_param(request, "max_points", DEFAULT_MAX_POINTS, low=2,
                               high=MAX_MAX_POINTS)
        with reader.read() as view:
            if view is None:
                raise RunNotFound(f"no run named {names[0]!r} in {reader.logdir}")
            return json_response(read_curves(view, names, tags=tags, max_points=max_points,
                                             cache=cache, **options))

    return {"/api/scalars": scalars}


PANEL = Panel("scalars", "Scalars", SCHEMA, ("/api/scalars",), routes)
