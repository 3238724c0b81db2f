"""The board's store: one SQLite database per log directory.

The writer (:class:`StoreWriter`, used by :class:`~microgrboard.board.writer.Run`)
commits every logged step, in WAL mode with ``synchronous=NORMAL``: a committed
step survives the training process crashing or being killed, and readers see
it at once while the writer keeps going. The board only ever reads
(:class:`StoreReader`, ``file:...?mode=ro``, or ``immutable=1`` on a read-only
disk where SQLite cannot create the WAL's ``-shm`` file; there, a non-empty ``-wal``
is read from a private copy of the store and its WAL, so no logged step is lost).

Schema 3 (``PRAGMA user_version`` = :data:`SCHEMA_VERSION`, ``application_id`` =
:data:`APPLICATION_ID`)::

    runs(id AUTOINCREMENT, name UNIQUE, hparams JSON, started, updated, status,
         last_step, lock)                            -- an id is never reused
    scalars(id AUTOINCREMENT, run_id, tag, step, value, wall_time)  -- one row per (run, tag, step)
    graphs(id, run_id, tag, step, structure_key, node_count, snapshot JSON, wall_time)
    payloads(run_id, panel, step, payload JSON, wall_time)  -- a stepped panel's data
    run_series(run_id, kind, tag, count)             -- what a run logged, kept by the writer
    scalar_blocks(run_id, tag, size, block, count, min_step, min_value, max_step, max_value,
                  gaps, gap_step)                    -- a summary of the scalars, kept by the writer

``run_series`` and ``runs.last_step`` are kept by the writer as it logs, so listing
the runs costs the same however many rows they logged. ``kind`` is ``"scalar"``
(``count`` unused), ``"graph"`` (steps logged per graph tag) or a stepped panel's
name (``params``, ``boundary``, ``network``; tag ``""``).

``scalar_blocks`` summarises each (run, tag) series at :data:`BLOCK_SIZES` steps per
block: block ``b`` of size ``s`` holds steps ``b*s`` to ``b*s + s - 1``, with how many
points were logged there (``count``), the smallest and largest finite value and their
steps (NULL if none is finite), how many values are not finite (``gaps``) and the first
such step. It holds exactly the points at steps before the run's last finest block
(``last_step // 16 * 16``); that block's few points are read as rows. The writer keeps
it so in the transaction that logs: when a run moves past its last block it adds that
block's points (once per 16 steps, not per step), a point logged late into a summarised
block is merged in, and one logged again there rebuilds its blocks from the rows (its
old value may have been an extreme). A downsampled curve reads a few thousand summary
rows instead of every point. The partial index ``scalars_gaps`` finds a curve's
non-finite points without reading the others.

Schema 2 had no ``scalar_blocks``. Schema 1 had no ``run_series``/``last_step``/``lock``,
reused run ids, and kept ``params`` and ``boundaries`` in tables of their own. A writer
migrates an older store in place; a reader reads it as it is (scanning the rows where
there is no summary).

A scalar row's ``id`` only ever grows (AUTOINCREMENT, and a re-logged point gets a
new row): it is the cursor a live page passes back to fetch only what is new.

A live writer holds an exclusive ``flock`` on ``microgrboard.locks/run-<id>.lock``
(named in ``runs.lock``): a run recorded as running whose lock is free has lost its
process, and reads as ``"stopped"``.

SQLite stores a NaN as NULL, so a NaN scalar reads back as ``math.nan``.
JSON columns hold strict JSON (non-finite numbers as the strings "NaN",
"Infinity", "-Infinity", as :func:`microgrboard.snapshot.to_json` writes them).

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as logdir:
...     writer = StoreWriter(logdir)
...     run_id, name = writer.create_run("demo", {"lr": 0.1})
...     writer.log_scalars(run_id, 0, {"loss": 1.5})
...     writer.close()
...     reader = StoreReader(logdir)
...     [r["name"] for r in reader.runs()], reader.scalars("demo")["loss"]["values"]
(['demo'], [1.5])
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import re
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import unicodedata
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from itertools import groupby
from os import PathLike
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import quote

from microgrboard.snapshot import to_json

STORE_FILENAME = "microgrboard.db"
LOCKS_DIRNAME = "microgrboard.locks"
SCHEMA_VERSION = 3
APPLICATION_ID = 0x6D677262  # "mgrb": marks the file as ours
MAX_NAME_LENGTH = 200
MAX_INTEGER = 2**63 - 1  # SQLite's INTEGER is signed 64-bit: a bigger step cannot be stored
MAX_HPARAMS_BYTES = 64_000  # shown in a table on the page: not a place for data sets
MAX_HPARAMS_DEPTH = 20
# Steps per block of the scalar summary, finest first, each 16 times the one before: a
# downsampled curve reads at most ~16 summary rows per bucket (or, for a range shorter
# than 16 steps per bucket, at most ~16 rows per bucket of the points themselves).
BLOCK_SIZES = (16, 256, 4096)
_MAX_FLOAT_INT = int(sys.float_info.max)  # JSON numbers are doubles in the browser

_TABLES = {
    1: ("runs", "scalars", "graphs", "params", "boundaries"),
    2: ("runs", "scalars", "graphs", "payloads", "run_series"),
    3: ("runs", "scalars", "graphs", "payloads", "run_series", "scalar_blocks"),
}
# A stored value that is not a finite number (SQLite stores NaN as NULL; 9e999 is inf).
# Queries that want the partial index scalars_gaps must spell it exactly so.
NON_FINITE = "(value IS NULL OR value IN (9e999, -9e999))"
# Where schema 1 kept the stepped panels' payloads.
_V1_PAYLOAD_TABLES = {"params": "params", "boundary": "boundaries"}

_RUNS_TABLE = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a replaced run's writer cannot
    name TEXT NOT NULL UNIQUE,             -- write into its successor
    hparams TEXT NOT NULL,
    started REAL NOT NULL,
    updated REAL NOT NULL,
    status TEXT NOT NULL,
    last_step INTEGER,
    lock TEXT
)"""

# The tables schema 2 added: every stepped panel's payloads, and what each run has
# logged (kept by the writer, so that listing runs reads no logged rows).
_SCHEMA_2_TABLES = """
CREATE TABLE payloads (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    panel TEXT NOT NULL,
    step INTEGER NOT NULL,
    payload TEXT NOT NULL,
    wall_time REAL NOT NULL,
    PRIMARY KEY (run_id, panel, step)
) WITHOUT ROWID;
CREATE TABLE run_series (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    tag TEXT NOT NULL,
    count INTEGER,
    PRIMARY KEY (run_id, kind, tag)
) WITHOUT ROWID"""

# What schema 3 added: the scalars' multi-resolution summary (see the module's
# docstring), and an index of the non-finite points alone.
_SCHEMA_3_TABLES = """
CREATE TABLE scalar_blocks (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    size INTEGER NOT NULL,
    block INTEGER NOT NULL,
    count INTEGER NOT NULL,
    min_step INTEGER,
    min_value REAL,
    max_step INTEGER,
    max_value REAL,
    gaps INTEGER NOT NULL,
    gap_step INTEGER,
    PRIMARY KEY (run_id, tag, size, block)
) WITHOUT ROWID;
CREATE INDEX scalars_gaps ON scalars (run_id, tag, step) WHERE """ + NON_FINITE

_SCHEMA = _RUNS_TABLE + """;
CREATE TABLE scalars (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    step INTEGER NOT NULL,
    value REAL,
    wall_time REAL NOT NULL,
    UNIQUE (run_id, tag, step)
);
-- What the board's polls ask for: a run's rows after a cursor, and a step range.
CREATE INDEX scalars_by_id ON scalars (run_id, id);
CREATE INDEX scalars_by_step ON scalars (run_id, step);
CREATE TABLE graphs (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    step INTEGER NOT NULL,
    structure_key TEXT NOT NULL,
    node_count INTEGER NOT NULL,
    snapshot TEXT NOT NULL,
    wall_time REAL NOT NULL,
    UNIQUE (run_id, tag, step)
);""" + _SCHEMA_2_TABLES + ";" + _SCHEMA_3_TABLES

# Schema 1 -> 2, in one transaction with foreign keys off (SQLite's recipe for
# changing a table: make the new one, copy, drop the old, rename).
_MIGRATE_1_TO_2 = _RUNS_TABLE.replace("CREATE TABLE runs", "CREATE TABLE runs_v2") + """;
INSERT INTO runs_v2 (id, name, hparams, started, updated, status, last_step, lock)
    SELECT id, name, hparams, started, updated, status,
           (SELECT MAX(step) FROM scalars WHERE run_id = runs.id), NULL FROM runs;
DROP TABLE runs;
ALTER TABLE runs_v2 RENAME TO runs;
""" + _SCHEMA_2_TABLES + """;
INSERT INTO payloads SELECT run_id, 'params', step, payload, wall_time FROM params;
INSERT INTO payloads SELECT run_id, 'boundary', step, payload, wall_time FROM boundaries;
DROP TABLE params;
DROP TABLE boundaries;
INSERT INTO run_series SELECT DISTINCT run_id, 'scalar', tag, NULL FROM scalars;
INSERT INTO run_series SELECT run_id, 'graph', tag, COUNT(*) FROM graphs GROUP BY run_id, tag;
INSERT INTO run_series SELECT run_id, panel, '', COUNT(*) FROM payloads GROUP BY run_id, panel
"""
# Schema n -> n + 1 (2 -> 3 then fills scalar_blocks from the rows: _fill_blocks).
_MIGRATIONS = {1: _MIGRATE_1_TO_2, 2: _SCHEMA_3_TABLES}

_BLOCK_COLUMNS = "count, min_step, min_value, max_step, max_value, gaps, gap_step"
_STORE_BLOCK = (f"INSERT OR REPLACE INTO scalar_blocks (run_id, tag, size, block, {_BLOCK_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
# Merges a summary (of a point, or of a block's points) into the stored one. In SET, a
# bare column is the stored row's value before this update.
_MERGE_BLOCK = _STORE_BLOCK.replace("OR REPLACE ", "") + """
ON CONFLICT DO UPDATE SET
    count = count + excluded.count,
    min_step = iif(excluded.min_value < coalesce(min_value, 9e999), excluded.min_step, min_step),
    min_value = iif(excluded.min_value < coalesce(min_value, 9e999), excluded.min_value,
                    min_value),
    max_step = iif(excluded.max_value > coalesce(max_value, -9e999), excluded.max_step,
                   max_step),
    max_value = iif(excluded.max_value > coalesce(max_value, -9e999), excluded.max_value,
                    max_value),
    gaps = gaps + excluded.gaps,
    gap_step = min(coalesce(gap_step, excluded.gap_step), coalesce(excluded.gap_step, gap_step))
"""

BlockSummary = tuple[int, int | None, float | None, int | None, float | None, int, int | None]
"""A block's summary, as stored: ``(count, min_step, min_value, max_step, max_value, gaps,
gap_step)``."""


def point_summary(step: int, value: object) -> BlockSummary:
    """The summary of one point (a value that is not a finite number is a gap)."""
    if isinstance(value, (float, int)) and math.isfinite(value):
        return (1, step, value, step, value, 0, None)
    return (1, None, None, None, None, 1, step)


def merge_summaries(parts: Iterable[BlockSummary]) -> BlockSummary:
    """The summary of the points of ``parts`` together (ties: the first part's step)."""
    count = gaps = 0
    low_step = low = high_step = high = gap_step = None
    for part_count, part_low_step, part_low, part_high_step, part_high, part_gaps, part_gap \
            in parts:
        count += part_count
        gaps += part_gaps
        if part_low is not None and (low is None or part_low < low):
            low_step, low = part_low_step, part_low
        if part_high is not None and (high is None or part_high > high):
            high_step, high = part_high_step, part_high
        if part_gap is not None and (gap_step is None or part_gap < gap_step):
            gap_step = part_gap
    return count, low_step, low, high_step, high, gaps, gap_step


def _fill_blocks(db: sqlite3.Connection) -> None:
    """Summarise the points already logged (migrating a store to schema 3): those before
    each run's last block, as the writer leaves them."""
    rows = db.execute(
        "SELECT scalars.run_id, tag, step, value FROM scalars JOIN runs ON runs.id = run_id "
        "WHERE step < last_step / ? * ? ORDER BY scalars.run_id, tag, step",
        (BLOCK_SIZES[0], BLOCK_SIZES[0]))
    for (run_id, tag), points in groupby(rows, key=lambda row: (row[0], row[1])):
        # (first step, summary) per block, from the points, then from the finer blocks.
        blocks = [(step, point_summary(step, value)) for _, _, step, value in points]
        for size in BLOCK_SIZES:
            blocks = [(group[0][0], merge_summaries(summary for _, summary in group))
                      for group in (list(g) for _, g in groupby(
                          blocks, key=lambda block: int(block[0]) // size))]
            db.executemany(_STORE_BLOCK, [(run_id, tag, size, start // size, *summary)
                                          for start, summary in blocks])

RunStatus = Literal["running", "finished", "failed"]


class StoreError(Exception):
    """The log store cannot be used: not ours, corrupt, too new, or unreadable."""


class InvalidParameter(StoreError, ValueError):
    """A request parameter that is not allowed (not an integer, out of range, too many)."""


class InvalidName(InvalidParameter):
    """A run name or tag that is not allowed (empty, too long, a path, control characters)."""


class NotFound(StoreError, LookupError):
    """Something asked for is not in the store."""


class RunNotFound(NotFound):
    """No run of that name in the store."""


class EntryNotFound(NotFound):
    """The run exists, but has no graph, payload or step of that id."""


class RunGone(RunNotFound):
    """A writer's run was replaced or deleted (by another writer): it may not log more."""


def check_run_name(name: object) -> str:
    """Return ``name`` if it is an acceptable run name, else raise :class:`InvalidName`.

    Run names are rows in the store, never paths; still, names that look like
    paths (``..``, anything with ``/`` or ``\\``) are refused so that no
    consumer can ever be tricked into treating one as a path.

    >>> check_run_name("moons-sgd")
    'moons-sgd'
    >>> check_run_name("../etc")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    InvalidName: run name '../etc' must not contain a slash or backslash
    """
    text = _check_text("run name", name)
    if "/" in text or "\\" in text:
        raise InvalidName(f"run name {text!r} must not contain a slash or backslash")
    if text.strip(".") == "":
        raise InvalidName(f"run name {text!r} is not allowed")
    return text


def check_tag(tag: object) -> str:
    """Return ``tag`` if it is an acceptable tag (non-empty text, no control characters)."""
    return _check_text("tag", tag)


def _check_text(what: str, text: object) -> str:
    if not isinstance(text, str):
        raise InvalidName(f"{what} must be a str, got {type(text).__name__}: {text!r}")
    if not text or text != text.strip():
        raise InvalidName(f"{what} {text!r} must be non-empty, without surrounding spaces")
    if len(text) > MAX_NAME_LENGTH:
        raise InvalidName(f"{what} is {len(text)} characters long; at most {MAX_NAME_LENGTH}")
    if any(unicodedata.category(c).startswith("C") for c in text):
        raise InvalidName(f"{what} {text!r} contains control characters")
    return text


def check_panel_name(panel: object) -> str:
    """A stepped panel's name as stored (lower-case letters and ``_``)."""
    if not isinstance(panel, str) or not re.fullmatch(r"[a-z_]{1,40}", panel):
        raise InvalidName(f"panel name must be lower-case letters, got {panel!r}")
    return panel


def store_path(logdir: str | PathLike[str]) -> Path:
    """Where the store of ``logdir`` lives."""
    return Path(logdir) / STORE_FILENAME


@contextmanager
def _sql_errors(path: Path) -> Iterator[None]:
    """Turn SQLite's errors into a StoreError that names the file and what to do."""
    try:
        yield
    except sqlite3.DatabaseError as error:
        message = str(error)
        if "not a database" in message or "malformed" in message:
            raise StoreError(
                f"{path} is corrupt or not a microgrboard log store ({message}); "
                "move it away to start a fresh log"
            ) from None
        if "locked" in message or "busy" in message:
            raise StoreError(f"{path} is busy (another process holds a lock): {message}") from None
        if "readonly" in message:
            raise StoreError(f"{path} cannot be written: {message}") from None
        raise StoreError(f"{path}: {message}") from None


def _refuse_foreign(path: Path, application: int, version: int, *, writable: bool) -> None:
    if application not in (0, APPLICATION_ID):
        raise StoreError(f"{path} is an SQLite database but not a microgrboard log store")
    if application == APPLICATION_ID and version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer microgrboard (store schema {version}; this version "
            f"reads schema {SCHEMA_VERSION} and older). Upgrade microgrboard to read it"
            + ("" if not writable else ", or log to another directory")
        )


def _wal_pending(path: Path) -> bool:
    """True if ``path`` has a non-empty ``-wal``: pages its main file does not hold yet."""
    try:
        return Path(f"{path}-wal").stat().st_size > 0
    except OSError:
        return False


def _wal_marks_ours(path: Path) -> bool:
    """True if the ``-wal`` of ``path`` holds a page 1 carrying our application id.

    The cheap answer for a store of ours whose first pages are still in its WAL (a live
    run that logged little): its first frame is usually page 1. Reads the documented WAL
    format (a 32-byte header, then frames of a 24-byte header and one page), at most
    the first 16 frames, and only frames of the WAL's current generation (its salts).
    """
    try:
        with open(f"{path}-wal", "rb") as wal:
            header = wal.read(32)
            if len(header) < 32 or header[:4] not in (b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83"):
                return False
            page_size = int.from_bytes(header[8:12], "big")
            for frame in range(16):
                wal.seek(32 + frame * (24 + page_size))
                frame_header = wal.read(24)
                if len(frame_header) < 24 or frame_header[8:16] != header[16:24]:
                    return False
                if int.from_bytes(frame_header[:4], "big") == 1:
                    page = wal.read(72)
                    return len(page) == 72 and int.from_bytes(page[68:72], "big") == APPLICATION_ID
    except OSError:
        return False
    return False


def _copy_store(path: Path, directory: Path) -> Path:
    """Copy ``path`` and its ``-wal`` into ``directory``; the copy's path.

    SQLite reads (and recovers) the copy's WAL and makes its ``-shm`` next to it: the
    originals are only read.
    """
    copy = directory / path.name
    try:
        shutil.copyfile(path, copy)
        with suppress(FileNotFoundError):  # checkpointed and removed meanwhile
            shutil.copyfile(f"{path}-wal", f"{copy}-wal")
    except OSError as error:
        raise StoreError(f"{path} has a write-ahead log ({path.name}-wal) that cannot be read "
                         f"here (copying it to read it failed: {error})") from None
    return copy


def _identify(path: Path, *, writable: bool) -> None:
    """Refuse a foreign, newer or corrupt file *without writing to it*.

    Reads the SQLite header (application id at byte 68, user version at byte 60)
    and, for a file without our id, its table list through an ``immutable``
    connection, which creates no ``-wal``/``-shm`` file and changes no byte. A file
    without our id but with a non-empty ``-wal`` (ours being created, or another
    application's whose writer was killed) is ours if the WAL's page 1 carries our
    id, else judged from a private copy of both: ``immutable`` would ignore the WAL,
    and a normal open would checkpoint it into the file. Only once a file is known to
    be ours (or empty) does anyone open it normally (which, in WAL mode, creates those
    files).
    """
    try:
        with open(path, "rb") as file:
            header = file.read(100)
    except FileNotFoundError:
        return
    except OSError as error:
        raise StoreError(f"{path} cannot be read: {error.strerror}") from None
    if header and (len(header) < 100 or not header.startswith(b"SQLite format 3\x00")):
        raise StoreError(f"{path} is corrupt or not a microgrboard log store (not an SQLite "
                         "file); move it away to start a fresh log")
    version = int.from_bytes(header[60:64], "big", signed=True) if header else 0
    application = int.from_bytes(header[68:72], "big", signed=True) if header else 0
    _refuse_foreign(path, application, version, writable=writable)
    if application == APPLICATION_ID or _wal_marks_ours(path):
        return
    # No application id: an empty database (ours being created: its pages may still be
    # in the WAL), or another application's. Look at its tables without writing.
    wal_pending = _wal_pending(path)
    if not header and not wal_pending:
        return  # created a moment ago by another writer, or empty: nothing to refuse
    with ExitStack() as stack:
        if wal_pending:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(
                prefix="microgrboard-")))
            uri = "file:" + quote(str(_copy_store(path, directory).resolve()))
        else:
            uri = f"file:{quote(str(path.resolve()))}?mode=ro&immutable=1"
        try:
            db = sqlite3.connect(uri, uri=True)
            try:
                tables = db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]
                application = db.execute("PRAGMA application_id").fetchone()[0]
                version = db.execute("PRAGMA user_version").fetchone()[0]
            finally:
                db.close()
        except sqlite3.DatabaseError:
            return  # being written right now: the normal open below judges it
    _refuse_foreign(path, application, version, writable=writable)
    if tables and application != APPLICATION_ID:
        raise StoreError(f"{path} is an SQLite database but not a microgrboard log store")


def _check_schema(connection: sqlite3.Connection, path: Path, *, writable: bool) -> int:
    """The store's schema version (0: empty), or StoreError if this code cannot use it."""
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    application = connection.execute("PRAGMA application_id").fetchone()[0]
    tables = {
        row[0]
        for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    if version == 0 and application == 0 and not tables:
        return 0
    _refuse_foreign(path, application, version, writable=writable)
    if application != APPLICATION_ID:
        raise StoreError(f"{path} is an SQLite database but not a microgrboard log store")
    missing = [t for t in _TABLES.get(version, ("runs",)) if t not in tables]
    if version < 1 or missing:
        raise StoreError(f"{path} is an incomplete microgrboard log store (missing {missing})")
    return int(version)


# --- run locks: how the board tells a live writer from a dead one -------------------------

def _lock_path(logdir: Path, lock: str) -> Path:
    return logdir / LOCKS_DIRNAME / lock


def _writer_alive(logdir: Path, lock: str) -> bool:
    """True while the writer holding ``lock`` lives (it holds an exclusive flock on it)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no flock, so no way to tell
        return True
    if not re.fullmatch(r"run-\d+\.lock", lock):
        return False  # not a name this code writes: nothing holds it
    try:
        file = open(_lock_path(logdir, lock), "rb")  # noqa: SIM115 - closed below
    except OSError:
        return False  # removed: its writer closed (or never was)
    try:
        fcntl.flock(file, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True  # held exclusively: the writer is alive
    finally:
        file.close()  # releases the shared lock at once
    return False


def effective_status(logdir: Path, status: str, lock: str | None) -> str:
    """A run's status for the board: ``"stopped"`` if it says running but its writer died."""
    if status == "running" and lock is not None and not _writer_alive(logdir, lock):
        return "stopped"
    return status


@dataclass
class _RunLock:
    file: IO[bytes]
    path: Path

    def release(self) -> None:
        # Unlink first: a reader that opens the file after this sees no file (stopped
        # or finished), never a free lock on a file of a live run.
        with suppress(OSError):
            self.path.unlink()
        self.file.close()


def _take_lock(logdir: Path, run_id: int) -> tuple[str, _RunLock] | None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return None
    name = f"run-{run_id}.lock"
    path = _lock_path(logdir, name)
    path.parent.mkdir(exist_ok=True)
    file = open(path, "wb")  # noqa: SIM115 - held until the run closes
    try:
        fcntl.flock(file, fcntl.LOCK_EX)  # readers hold a shared lock for microseconds
    except OSError:  # a file system without locks (some network mounts): status unknown
        file.close()
        with suppress(OSError):
            path.unlink()
        return None
    except BaseException:
        file.close()
        raise
    return name, _RunLock(file, path)


# --- hyper-parameters -------------------------------------------------------------------

def _hparam_value(key: str, value: object, depth: int, seen: set[int]) -> Any:
    """``value`` as plain JSON data (numpy scalars become Python numbers), or ValueError."""
    if depth > MAX_HPARAMS_DEPTH:
        raise ValueError(f"hparams[{key!r}] is nested more than {MAX_HPARAMS_DEPTH} levels deep")
    if value is None or isinstance(value, (str, bool)):
        return value
    if getattr(getattr(value, "dtype", None), "kind", "") == "b":  # numpy's bool, like bool
        return bool(value)
    if isinstance(value, numbers.Integral):
        integer = int(value)
        if abs(integer) > _MAX_FLOAT_INT:  # the page reads it as Infinity
            raise ValueError(f"hparams[{key!r}] is an int of {integer.bit_length()} bits, "
                             "outside a float's range")
        return integer
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"hparams[{key!r}] must be a finite number, got {number}")
        return number
    if isinstance(value, (list, tuple, Mapping)):
        if id(value) in seen:
            raise ValueError(f"hparams[{key!r}] contains itself")
        seen.add(id(value))
        try:
            if isinstance(value, Mapping):
                result: dict[str, Any] = {}
                for k, v in value.items():
                    if not isinstance(k, str):
                        raise TypeError(f"hparams[{key!r}] keys must be str, got {k!r}")
                    result[k] = _hparam_value(key, v, depth + 1, seen)
                return result
            return [_hparam_value(key, v, depth + 1, seen) for v in value]
        finally:
            seen.discard(id(value))
    raise TypeError(
        f"hparams[{key!r}] must be JSON data (number, str, bool, None, list, dict), "
        f"got {type(value).__name__}: {value!r}"
    )


def hparams_json(hparams: Mapping[str, Any] | None) -> str:
    """Strict JSON for ``hparams``: numbers (numpy's too), str, bool, None, lists, dicts.

    A non-finite number, a list that contains itself, nesting deeper than
    :data:`MAX_HPARAMS_DEPTH` or more than :data:`MAX_HPARAMS_BYTES` of JSON is a
    ValueError naming the key; a value that is not JSON data a TypeError.
    """
    if hparams is None:
        return "{}"
    if not isinstance(hparams, Mapping):
        raise TypeError(f"hparams must be a dict of name -> value, got {type(hparams).__name__}")
    plain: dict[str, Any] = {}
    for key, value in hparams.items():
        if not isinstance(key, str):
            raise TypeError(f"hparams keys must be str, got {key!r}")
        plain[key] = _hparam_value(key, value, 1, set())
        if len(to_json(plain[key])) > MAX_HPARAMS_BYTES:
            raise ValueError(f"hparams[{key!r}] is more than {MAX_HPARAMS_BYTES} bytes of JSON")
    text = to_json(plain)
    if len(text) > MAX_HPARAMS_BYTES:
        raise ValueError(f"hparams are {len(text)} bytes of JSON; at most {MAX_HPARAMS_BYTES}")
    return text


# --- the writer -------------------------------------------------------------------------

class StoreWriter:
    """Appends to the store of one log directory (created if needed).

    Every method commits before returning, so what it wrote survives a crash.
    """

    def __init__(self, logdir: str | PathLike[str]) -> None:
        directory = Path(logdir)
        if directory.exists() and not directory.is_dir():
            raise StoreError(f"log directory {str(directory)!r} exists and is not a directory")
        directory.mkdir(parents=True, exist_ok=True)
        self.logdir = directory
        self.path = store_path(directory)
        _identify(self.path, writable=True)  # before SQLite writes a byte (WAL mode, -shm)
        self._names: dict[int, str] = {}
        self._tags: set[tuple[int, str]] = set()  # (run, tag) known to be in run_series
        self._locks: dict[int, _RunLock] = {}
        with _sql_errors(self.path):
            # isolation_level=None: we open transactions ourselves, one per log call.
            # Any thread may log (a callback thread, say): the lock serialises them.
            self._db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None,
                                       check_same_thread=False)
            self._lock = threading.Lock()
            try:
                self._initialise()
            except BaseException:
                self._db.close()
                raise

    def _initialise(self) -> None:
        db = self._db
        db.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode: a commit survives the process dying (not a power cut),
        # and costs no fsync per step.
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = OFF")  # a migration rebuilds `runs` (no-op inside a
        db.execute("BEGIN IMMEDIATE")  # transaction); two writers starting at once: one creates
        try:
            version = _check_schema(db, self.path, writable=True)
            # One statement at a time: executescript() would commit and drop the lock.
            scripts = [_SCHEMA] if version == 0 else [
                _MIGRATIONS[old] for old in range(version, SCHEMA_VERSION)]
            for statement in ";".join(scripts).split(";"):
                if statement.strip():
                    db.execute(statement)
            if 0 < version < 3:
                _fill_blocks(db)
            if version == 0:
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            if version != SCHEMA_VERSION:
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        db.execute("PRAGMA foreign_keys = ON")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        with self._lock, _sql_errors(self.path):
            # IMMEDIATE takes the write lock up front, waiting (timeout) for other
            # processes: a deferred BEGIN that reads and then writes cannot wait for
            # the lock upgrade and fails at once with "database is locked".
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")  # may fail (busy, disk full): then roll back below
            except BaseException:
                # SQLite may have rolled back already; a second ROLLBACK would fail and
                # hide the real error.
                if db.in_transaction:
                    with suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                raise

    def create_run(
        self,
        name: str,
        hparams: Mapping[str, Any] | None = None,
        *,
        if_exists: Literal["rename", "replace", "error"] = "rename",
    ) -> tuple[int, str]:
        """Add a run; returns ``(run id, name)``. The name may get a suffix (see ``if_exists``).

        ``if_exists``: ``"rename"`` appends ``-2``, ``-3``... to a name already in
        the store; ``"replace"`` deletes the old run first (its writer, if still
        logging, gets :class:`RunGone` on its next call); ``"error"`` raises.
        """
        check_run_name(name)
        if if_exists not in ("rename", "replace", "error"):
            raise ValueError(f"if_exists must be 'rename', 'replace' or 'error', got {if_exists!r}")
        text = hparams_json(hparams)
        now = time.time()
        taken_lock: tuple[str, _RunLock] | None = None
        try:
            with self._transaction() as db:
                existing = db.execute("SELECT id FROM runs WHERE name = ?", (name,)).fetchone()
                if existing is not None:
                    if if_exists == "error":
                        raise StoreError(f"a run named {name!r} already exists in {self.path}")
                    if if_exists == "replace":
                        db.execute("DELETE FROM runs WHERE id = ?", (existing[0],))
                    else:
                        taken = {row[0] for row in db.execute(
                            "SELECT name FROM runs WHERE name LIKE ? ESCAPE '!'",
                            (_like_prefix(name) + "-%",),
                        )}
                        number = 2
                        while f"{name}-{number}" in taken:
                            number += 1
                        name = check_run_name(f"{name}-{number}")
                cursor = db.execute(
                    "INSERT INTO runs (name, hparams, started, updated, status) "
                    "VALUES (?, ?, ?, ?, 'running')",
                    (name, text, now, now),
                )
                run_id = cursor.lastrowid
                assert run_id is not None
                # Locked before the row is committed: no reader sees it running and unlocked.
                taken_lock = _take_lock(self.logdir, run_id)
                if taken_lock is not None:
                    db.execute("UPDATE runs SET lock = ? WHERE id = ?", (taken_lock[0], run_id))
        except BaseException:
            if taken_lock is not None:
                taken_lock[1].release()
            raise
        if taken_lock is not None:
            self._locks[run_id] = taken_lock[1]
        self._names[run_id] = name
        return run_id, name

    def _touch(self, db: sqlite3.Connection, run_id: int, now: float,
               step: int | None = None) -> None:
        """Mark the run updated (and its last scalar step); RunGone if it is not there."""
        if step is None:
            cursor = db.execute("UPDATE runs SET updated = ? WHERE id = ?", (now, run_id))
        else:
            cursor = db.execute(
                "UPDATE runs SET updated = ?, last_step = max(coalesce(last_step, ?), ?) "
                "WHERE id = ?", (now, step, step, run_id))
        if cursor.rowcount == 0:
            name = self._names.get(run_id)
            what = f"run {name!r} (id {run_id})" if name else f"run id {run_id}"
            raise RunGone(f"{what} is no longer in {self.path}: another writer replaced or "
                          "deleted it. Nothing was logged; open a new Run to go on logging")

    def log_scalars(self, run_id: int, step: int, scalars: Mapping[str, float]) -> None:
        """Record ``scalars`` (tag -> float) at ``step``; a repeated (tag, step) replaces."""
        now = time.time()
        new_tags = [(run_id, tag) for tag in scalars if (run_id, tag) not in self._tags]
        with self._transaction() as db:
            row = db.execute("SELECT last_step FROM runs WHERE id = ?", (run_id,)).fetchone()
            self._touch(db, run_id, now, step)  # RunGone if there is no row
            last = row[0] if row[0] is None else int(row[0])
            # Steps before the run's last block are summarised: a step logged there
            # (late, or again) goes into the summary at once.
            size = BLOCK_SIZES[0]
            summarised = last is not None and step < last // size * size
            logged_again = set() if not summarised else {tag for (tag,) in db.execute(
                "SELECT tag FROM scalars INDEXED BY scalars_by_step WHERE run_id = ? AND step = ?",
                (run_id, step)) if tag in scalars}
            # REPLACE deletes the old row: the new one gets a new id, so cursors see it.
            db.executemany(
                "INSERT OR REPLACE INTO scalars (run_id, tag, step, value, wall_time) "
                "VALUES (?, ?, ?, ?, ?)",
                [(run_id, tag, step, value, now) for tag, value in scalars.items()],
            )
            if summarised:
                db.executemany(_MERGE_BLOCK, [
                    (run_id, tag, block_size, step // block_size, *point_summary(step, value))
                    for tag, value in scalars.items() if tag not in logged_again
                    for block_size in BLOCK_SIZES])
                for tag in logged_again:  # its old value may be a block's extreme
                    self._rebuild_blocks(db, run_id, tag, step)
            elif last is not None and step // size > last // size:
                self._summarise_block(db, run_id, last // size * size)
            if new_tags:
                db.executemany("INSERT OR IGNORE INTO run_series VALUES (?, 'scalar', ?, NULL)",
                               new_tags)
        self._tags.update(new_tags)  # only once committed

    @staticmethod
    def _summarise_block(db: sqlite3.Connection, run_id: int, start: int) -> None:
        """Add the points of every tag of the run in the finest block from ``start``, the
        run's last block until now, to the summary (once per block: cheap per step)."""
        rows = db.execute(
            "SELECT tag, step, value FROM scalars INDEXED BY scalars_by_step "
            "WHERE run_id = ? AND step BETWEEN ? AND ? ORDER BY tag, step",
            (run_id, start, start + BLOCK_SIZES[0] - 1))
        for tag, points in groupby(rows, key=lambda row: str(row[0])):
            summary = merge_summaries(point_summary(step, value) for _, step, value in points)
            db.executemany(_MERGE_BLOCK, [(run_id, tag, size, start // size, *summary)
                                          for size in BLOCK_SIZES])

    @staticmethod
    def _rebuild_blocks(db: sqlite3.Connection, run_id: int, tag: str, step: int) -> None:
        """Summarise afresh the blocks holding ``step``: the finest from the rows, each
        coarser one from the finer blocks (16 rows each)."""
        finer = 1
        for size in BLOCK_SIZES:
            low = step // size * size
            if finer == 1:
                parts: list[BlockSummary] = [point_summary(*row) for row in db.execute(
                    "SELECT step, value FROM scalars WHERE run_id = ? AND tag = ? "
                    "AND step BETWEEN ? AND ? ORDER BY step", (run_id, tag, low, low + size - 1))]
            else:
                parts = db.execute(
                    f"SELECT {_BLOCK_COLUMNS} FROM scalar_blocks WHERE run_id = ? AND tag = ? "
                    "AND size = ? AND block BETWEEN ? AND ? ORDER BY block",
                    (run_id, tag, finer, low // finer, (low + size - 1) // finer)).fetchall()
            db.execute(_STORE_BLOCK, (run_id, tag, size, step // size, *merge_summaries(parts)))
            finer = size

    def _count(self, db: sqlite3.Connection, run_id: int, kind: str, tag: str,
               exists: bool) -> None:
        if not exists:
            db.execute("INSERT INTO run_series VALUES (?, ?, ?, 1) ON CONFLICT "
                       "DO UPDATE SET count = count + 1", (run_id, kind, tag))

    def log_graph(
        self, run_id: int, step: int, tag: str, snapshot_json: str, structure_key: str,
        node_count: int,
    ) -> None:
        now = time.time()
        with self._transaction() as db:
            self._touch(db, run_id, now)
            exists = db.execute("SELECT 1 FROM graphs WHERE run_id = ? AND tag = ? AND step = ?",
                                (run_id, tag, step)).fetchone() is not None
            db.execute(
                "INSERT OR REPLACE INTO graphs "
                "(run_id, tag, step, structure_key, node_count, snapshot, wall_time) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, tag, step, structure_key, node_count, snapshot_json, now),
            )
            self._count(db, run_id, "graph", tag, exists)

    def log_payload(self, panel: str, run_id: int, step: int, payload_json: str) -> None:
        """Record a stepped panel's payload (strict JSON) at ``step``; a repeated step replaces."""
        check_panel_name(panel)
        now = time.time()
        with self._transaction() as db:
            self._touch(db, run_id, now)
            exists = db.execute(
                "SELECT 1 FROM payloads WHERE run_id = ? AND panel = ? AND step = ?",
                (run_id, panel, step)).fetchone() is not None
            db.execute(
                "INSERT OR REPLACE INTO payloads (run_id, panel, step, payload, wall_time) "
                "VALUES (?, ?, ?, ?, ?)",
                (run_id, panel, step, payload_json, now),
            )
            self._count(db, run_id, panel, "", exists)

    def set_status(self, run_id: int, status: RunStatus) -> None:
        """Record the run's final status (a run replaced meanwhile is left alone)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET status = ?, updated = ? WHERE id = ?",
                (status, time.time(), run_id),
            )

    def release(self, run_id: int) -> None:
        """Give up the run's lock: the board no longer sees a live writer behind it."""
        lock = self._locks.pop(run_id, None)
        if lock is not None:
            lock.release()

    def close(self) -> None:
        with self._lock:
            self._db.close()
        for run_id in list(self._locks):
            self.release(run_id)


def _like_prefix(text: str) -> str:
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


# --- the reader -------------------------------------------------------------------------

@dataclass
class StoreView:
    """One read transaction on the store: the connection and the store's schema version."""

    db: sqlite3.Connection
    version: int
    logdir: Path

    def run_ids(self, names: list[str]) -> dict[str, int]:
        """``{name: id}`` for ``names`` (checked); RunNotFound naming the first missing."""
        for name in names:
            check_run_name(name)
        found: dict[str, int] = {}
        for start in range(0, len(names), 500):  # SQLite's limit on bound parameters
            chunk = names[start:start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(self.db.execute(
                f"SELECT name, id FROM runs WHERE name IN ({marks})", chunk).fetchall())
        for name in names:
            if name not in found:
                raise RunNotFound(f"no run named {name!r} in {self.logdir}")
        return {name: int(found[name]) for name in names}

    def run_id(self, name: str) -> int:
        return self.run_ids([name])[name]

    def payload_source(self, panel: str) -> tuple[str, str, tuple[str, ...]] | None:
        """``(table, extra WHERE, its parameters)`` holding ``panel``'s payloads, or None."""
        check_panel_name(panel)
        if self.version >= 2:
            return "payloads", " AND panel = ?", (panel,)
        table = _V1_PAYLOAD_TABLES.get(panel)
        return None if table is None else (table, "", ())


class StoreReader:
    """Reads the store of a log directory, never writing to it.

    A log directory with no store yet reads as having no runs (the board can
    start before training does). Each call opens its own short-lived
    connection, so a reader is safe to share between threads. ``statements``
    counts the SQL statements run (what a request costs, for tests).
    """

    def __init__(self, logdir: str | PathLike[str]) -> None:
        directory = Path(logdir)
        if not directory.is_dir():
            raise StoreError(f"log directory {str(directory)!r} does not exist")
        self.logdir = directory
        self.path = store_path(directory)
        self.statements = 0
        # A private copy of a store whose WAL cannot be read in place: (files' stat, path).
        self._copy: tuple[tuple[int, ...], Path] | None = None
        self._copy_lock = threading.Lock()

    def _count_statement(self, _sql: str) -> None:
        self.statements += 1

    def _open(self) -> sqlite3.Connection:
        uri = "file:" + quote(str(self.path.resolve()))
        try:
            db = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=10.0)
            db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
            return db
        except sqlite3.OperationalError as error:
            if "unable to open" not in str(error) and "readonly" not in str(error):
                raise
        # A read-only disk or another user's directory: SQLite cannot create the WAL's
        # -shm file. Nobody can be writing there, so reading the file as immutable is exact
        # (a WAL left by a killed writer with its -shm is read by the first open)...
        if not _wal_pending(self.path):
            return sqlite3.connect(uri + "?mode=ro&immutable=1", uri=True, timeout=10.0)
        # ...unless a WAL without its -shm holds pages (a folder copied without it, a killed
        # writer's files on a read-only mount): immutable would ignore them, so read a copy.
        copy = "file:" + quote(str(self._private_copy()))
        return sqlite3.connect(copy + "?mode=ro", uri=True, timeout=10.0)

    def _private_copy(self) -> Path:
        """A copy of the store and its WAL in a private directory, made again if they change.

        Removed when the next copy is made or the reader is collected.
        """
        try:
            files = (self.path.stat(), Path(f"{self.path}-wal").stat())
        except OSError as error:
            raise StoreError(f"{self.path} or its -wal cannot be read: {error}") from None
        signature = tuple(n for f in files for n in (f.st_ino, f.st_size, f.st_mtime_ns))
        with self._copy_lock:
            if self._copy is not None and self._copy[0] == signature:
                return self._copy[1]
            directory = Path(tempfile.mkdtemp(prefix="microgrboard-"))
            weakref.finalize(self, shutil.rmtree, directory, ignore_errors=True)
            try:
                copy = _copy_store(self.path, directory)
            except BaseException:
                shutil.rmtree(directory, ignore_errors=True)
                raise
            if self._copy is not None:  # open connections to it go on reading (POSIX)
                shutil.rmtree(self._copy[1].parent, ignore_errors=True)
            self._copy = signature, copy
            return copy

    @contextmanager
    def read(self) -> Iterator[StoreView | None]:
        """One consistent read of the store (None: no store yet)."""
        if not self.logdir.is_dir():
            raise StoreError(f"log directory {str(self.logdir)!r} no longer exists")
        if not self.path.exists():
            yield None
            return
        _identify(self.path, writable=False)
        with _sql_errors(self.path):
            db = self._open()
            try:
                db.set_trace_callback(self._count_statement)
                db.execute("PRAGMA query_only = ON")
                db.execute("BEGIN")  # every query of this read sees one snapshot
                version = _check_schema(db, self.path, writable=False)
                yield None if version == 0 else StoreView(db, version, self.logdir)
            finally:
                db.close()

    @contextmanager
    def _run(self, name: str) -> Iterator[tuple[StoreView, int]]:
        """A read and the id of run ``name`` (RunNotFound if none)."""
        check_run_name(name)
        with self.read() as view:
            if view is None:
                raise RunNotFound(f"no run named {name!r} in {self.logdir}")
            yield view, view.run_id(name)

    def check(self) -> None:
        """Raise :class:`StoreError` now if the store exists but cannot be read."""
        with self.read():
            pass

    def runs(self) -> list[dict[str, Any]]:
        """Every run with its hparams, status, times and what it logged (oldest first).

        A run whose row cannot be read (its hparams are not JSON, say) comes with an
        ``"error"`` message, the others as usual.
        """
        with self.read() as view:
            return [] if view is None else _runs(view)

    def changes(self) -> tuple[str, dict[str, str]]:
        """A token that changes whenever anything is logged, and one per run."""
        with self.read() as view:
            per_run: dict[str, str] = {}
            if view is not None:
                lock = "lock" if view.version >= 2 else "NULL"
                for name, run_id, updated, status, lock_name in view.db.execute(
                        f"SELECT name, id, updated, status, {lock} FROM runs ORDER BY id"):
                    status = effective_status(self.logdir, str(status), lock_name)
                    per_run[str(name)] = f"{run_id}:{updated!r}:{status}"
        digest = hashlib.sha1(json.dumps(per_run).encode(), usedforsecurity=False)
        return digest.hexdigest()[:20], per_run

    def scalars(self, run: str) -> dict[str, dict[str, list[Any]]]:
        """``{tag: {"steps": [...], "values": [...], "wall_times": [...]}}`` for one run."""
        return self.scalars_since(run, 0)[0]

    def scalars_since(
        self, run: str, cursor: int = 0
    ) -> tuple[dict[str, dict[str, list[Any]]], int]:
        """The points of ``run`` logged after ``cursor`` (0: all), and the new cursor.

        Pass the returned cursor next time to get only what was logged (or re-logged)
        since; each tag's points come in step order.
        """
        check_cursor("cursor", cursor)
        with self._run(run) as (view, run_id):
            series: dict[str, dict[str, list[Any]]] = {}
            last = cursor
            for row_id, tag, step, value, wall_time in view.db.execute(
                "SELECT id, tag, step, value, wall_time FROM scalars "
                "WHERE run_id = ? AND id > ? ORDER BY tag, step", (run_id, cursor)
            ):
                entry = series.setdefault(tag, {"steps": [], "values": [], "wall_times": []})
                entry["steps"].append(step)
                entry["values"].append(scalar_value(run, tag, step, value))
                entry["wall_times"].append(wall_time)
                last = max(last, row_id)
            return series, last

    def graphs(self, run: str) -> list[dict[str, Any]]:
        """The graph snapshots of a run (without their nodes): id, tag, step, structure key."""
        with self._run(run) as (view, run_id):
            return [
                {"id": gid, "tag": tag, "step": step, "structure_key": key, "nodes": count}
                for gid, tag, step, key, count in view.db.execute(
                    "SELECT id, tag, step, structure_key, node_count FROM graphs "
                    "WHERE run_id = ? ORDER BY tag, step", (run_id,)
                )
            ]

    def graph(self, run: str, graph_id: int) -> dict[str, Any]:
        """One snapshot: id, tag, step, structure_key and "snapshot" (strict JSON text)."""
        check_cursor("graph id", graph_id)
        with self._run(run) as (view, run_id):
            row = view.db.execute(
                "SELECT id, tag, step, structure_key, snapshot FROM graphs "
                "WHERE run_id = ? AND id = ?", (run_id, graph_id)
            ).fetchone()
            if row is None:
                raise EntryNotFound(f"run {run!r} has no graph snapshot {graph_id}")
            gid, tag, step, key, snapshot = row
            return {"id": gid, "tag": tag, "step": step, "structure_key": key,
                    "snapshot": snapshot}

    def graph_by_key(self, run: str, structure_key: str) -> str | None:
        """The first snapshot (strict JSON) of ``run`` with that structure, if any."""
        with self._run(run) as (view, run_id):
            row = view.db.execute(
                "SELECT snapshot FROM graphs WHERE run_id = ? AND structure_key = ? "
                "ORDER BY id LIMIT 1", (run_id, structure_key)
            ).fetchone()
            return None if row is None else str(row[0])

    def payload_steps(self, panel: str, run: str) -> list[int]:
        """The steps at which ``run`` logged a payload of stepped panel ``panel``."""
        with self._run(run) as (view, run_id):
            source = view.payload_source(panel)
            if source is None:
                return []
            table, where, args = source
            return [s for (s,) in view.db.execute(
                f"SELECT step FROM {table} WHERE run_id = ?{where} ORDER BY step",
                (run_id, *args))]

    def payload(self, panel: str, run: str, step: int) -> str:
        """The strict-JSON payload logged at ``step`` (EntryNotFound if none)."""
        check_cursor("step", step)
        with self._run(run) as (view, run_id):
            source = view.payload_source(panel)
            row = None
            if source is not None:
                table, where, args = source
                row = view.db.execute(
                    f"SELECT payload FROM {table} WHERE run_id = ? AND step = ?{where}",
                    (run_id, step, *args)).fetchone()
            if row is None:
                raise EntryNotFound(f"run {run!r} has no {panel} at step {step}")
            return str(row[0])


def check_cursor(what: str, value: object) -> int:
    """``value`` if it is an int in 0..2**63-1 (a step, id or cursor), else InvalidParameter."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INTEGER:
        raise InvalidParameter(f"{what} must be an int in 0..{MAX_INTEGER}, got {value!r}")
    return value


class BadRow(StoreError):
    """A row of one run that cannot be read (written by another tool, or damaged)."""


def scalar_value(run: str, tag: str, step: int, value: object) -> float:
    """A stored scalar as a float (NULL is NaN); BadRow for anything else."""
    if type(value) is float:
        return value
    if value is None:
        return math.nan
    if type(value) is int:
        return float(value)
    raise BadRow(f"run {run!r}: the value of {tag!r} at step {step} is not a number "
                 f"({type(value).__name__} {str(value)[:40]!r})")


def _runs(view: StoreView) -> list[dict[str, Any]]:
    db = view.db
    if view.version >= 2:
        rows = db.execute("SELECT id, name, hparams, started, updated, status, last_step, lock "
                          "FROM runs ORDER BY id").fetchall()
        series: dict[int, list[tuple[str, str, int | None]]] = {}
        for run_id, kind, tag, count in db.execute(
                "SELECT run_id, kind, tag, count FROM run_series ORDER BY run_id, kind, tag"):
            series.setdefault(run_id, []).append((kind, tag, count))
    else:  # schema 1: computed from the rows (as slow as it was)
        rows = [(*row, db.execute("SELECT MAX(step) FROM scalars WHERE run_id = ?",
                                  (row[0],)).fetchone()[0], None)
                for row in db.execute("SELECT id, name, hparams, started, updated, status "
                                      "FROM runs ORDER BY id").fetchall()]
        series = {}
        for run_id, *_ in rows:
            entries: list[tuple[str, str, int | None]] = [
                ("scalar", t, None) for (t,) in db.execute(
                    "SELECT DISTINCT tag FROM scalars WHERE run_id = ?", (run_id,))]
            entries += db.execute("SELECT 'graph', tag, COUNT(*) FROM graphs WHERE run_id = ? "
                                  "GROUP BY tag", (run_id,)).fetchall()
            for panel, table in _V1_PAYLOAD_TABLES.items():
                count = db.execute(f"SELECT COUNT(*) FROM {table} WHERE run_id = ?",
                                   (run_id,)).fetchone()[0]
                entries.append((panel, "", count))
            series[run_id] = entries
    result = []
    for run_id, name, hparams, started, updated, status, last_step, lock in rows:
        error = None
        try:
            parsed = json.loads(hparams)
            if not isinstance(parsed, dict):
                raise ValueError("not a JSON object")
        except (TypeError, ValueError) as problem:
            parsed, error = {}, f"run {name!r}: its hyper-parameters are not JSON ({problem})"
        tags = sorted(tag for kind, tag, _ in series.get(run_id, []) if kind == "scalar")
        counts: dict[str, int] = {}
        graph_tags = []
        for kind, tag, count in series.get(run_id, []):
            if kind != "scalar":
                counts[kind] = counts.get(kind, 0) + int(count or 0)
            if kind == "graph":
                graph_tags.append(tag)
        result.append({
            "name": name, "id": run_id, "hparams": parsed, "started": started,
            "updated": updated, "status": effective_status(view.logdir, str(status), lock),
            "tags": tags, "last_step": last_step, "graphs": counts.get("graph", 0),
            "params": counts.get("params", 0), "boundaries": counts.get("boundary", 0),
            "network": counts.get("network", 0), "graph_tags": sorted(graph_tags),
            "error": error,
        })
    return result
