"""The board's store: one SQLite database per log directory.

The writer (:class:`StoreWriter`, used by :class:`~microgrboard.board.writer.Run`)
commits every logged step, in WAL mode with ``synchronous=NORMAL``: a committed
step survives the training process crashing or being killed, and readers see
it at once while the writer keeps going. The board only ever reads, through a
read-only connection (:class:`StoreReader`, ``file:...?mode=ro``).

Schema (``PRAGMA user_version`` = :data:`SCHEMA_VERSION`, ``application_id`` =
:data:`APPLICATION_ID`)::

    runs(id, name UNIQUE, hparams JSON, started, updated, status)
    scalars(id, run_id, tag, step, value, wall_time)   -- one row per (run, tag, step)
    graphs(id, run_id, tag, step, structure_key, node_count, snapshot JSON, wall_time)
    params(run_id, step, payload JSON, wall_time)      -- {"names", "data", "grad"}
    boundaries(run_id, step, payload JSON, wall_time)  -- {"xs", "ys", "scores", "points", "labels"}

A scalar row's ``id`` only ever grows (AUTOINCREMENT, and a re-logged point gets a
new row): it is the cursor a live page passes back to fetch only what is new.

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

import json
import math
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from os import PathLike
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from microgrboard.snapshot import to_json

STORE_FILENAME = "microgrboard.db"
SCHEMA_VERSION = 1
APPLICATION_ID = 0x6D677262  # "mgrb": marks the file as ours
MAX_NAME_LENGTH = 200
MAX_INTEGER = 2**63 - 1  # SQLite's INTEGER is signed 64-bit: a bigger step cannot be stored

_TABLES = ("runs", "scalars", "graphs", "params", "boundaries")

_SCHEMA = """
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    hparams TEXT NOT NULL,
    started REAL NOT NULL,
    updated REAL NOT NULL,
    status TEXT NOT NULL
);
CREATE TABLE scalars (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    step INTEGER NOT NULL,
    value REAL,
    wall_time REAL NOT NULL,
    UNIQUE (run_id, tag, step)
);
-- What the board's polls ask for: a run's rows after a cursor, and its last step
-- (DISTINCT tag uses the UNIQUE index above). Each keeps a poll's cost independent
-- of how long the run is.
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
);
CREATE TABLE params (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    payload TEXT NOT NULL,
    wall_time REAL NOT NULL,
    PRIMARY KEY (run_id, step)
) WITHOUT ROWID;
CREATE TABLE boundaries (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    payload TEXT NOT NULL,
    wall_time REAL NOT NULL,
    PRIMARY KEY (run_id, step)
) WITHOUT ROWID;
"""

RunStatus = Literal["running", "finished", "failed"]


class StoreError(Exception):
    """The log store cannot be used: not ours, corrupt, too new, or a bad request."""


class RunNotFound(StoreError, LookupError):
    """No run of that name in the store."""


class InvalidName(StoreError, ValueError):
    """A run name or tag that is not allowed (empty, too long, a path, control characters)."""


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


def _check_schema(connection: sqlite3.Connection, path: Path, *, writable: bool) -> bool:
    """Check the file is a store this version understands. True if it is empty."""
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    application = connection.execute("PRAGMA application_id").fetchone()[0]
    tables = {
        row[0]
        for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    if version == 0 and application == 0 and not tables:
        return True
    if application != APPLICATION_ID:
        raise StoreError(f"{path} is an SQLite database but not a microgrboard log store")
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer microgrboard (store schema {version}; this version "
            f"reads schema {SCHEMA_VERSION}). Upgrade microgrboard to read it"
            + ("" if not writable else ", or log to another directory")
        )
    missing = [t for t in _TABLES if t not in tables]
    if version < 1 or missing:
        raise StoreError(f"{path} is an incomplete microgrboard log store (missing {missing})")
    return False


class StoreWriter:
    """Appends to the store of one log directory (created if needed).

    Every method commits before returning, so what it wrote survives a crash.
    """

    def __init__(self, logdir: str | PathLike[str]) -> None:
        directory = Path(logdir)
        if directory.exists() and not directory.is_dir():
            raise StoreError(f"log directory {str(directory)!r} exists and is not a directory")
        directory.mkdir(parents=True, exist_ok=True)
        self.path = store_path(directory)
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
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("BEGIN IMMEDIATE")  # two writers starting at once: one creates
        try:
            if _check_schema(db, self.path, writable=True):
                # One statement at a time: executescript() would commit and drop the lock.
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

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
        the store; ``"replace"`` deletes the old run first; ``"error"`` raises.
        """
        check_run_name(name)
        if if_exists not in ("rename", "replace", "error"):
            raise ValueError(f"if_exists must be 'rename', 'replace' or 'error', got {if_exists!r}")
        hparams_json = _hparams_json(hparams)
        now = time.time()
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
                (name, hparams_json, now, now),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid, name

    def log_scalars(self, run_id: int, step: int, scalars: Mapping[str, float]) -> None:
        """Record ``scalars`` (tag -> float) at ``step``; a repeated (tag, step) replaces."""
        now = time.time()
        with self._transaction() as db:
            # REPLACE deletes the old row: the new one gets a new id, so cursors see it.
            db.executemany(
                "INSERT OR REPLACE INTO scalars (run_id, tag, step, value, wall_time) "
                "VALUES (?, ?, ?, ?, ?)",
                [(run_id, tag, step, value, now) for tag, value in scalars.items()],
            )
            db.execute("UPDATE runs SET updated = ? WHERE id = ?", (now, run_id))

    def log_graph(
        self, run_id: int, step: int, tag: str, snapshot_json: str, structure_key: str,
        node_count: int,
    ) -> None:
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO graphs "
                "(run_id, tag, step, structure_key, node_count, snapshot, wall_time) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, tag, step, structure_key, node_count, snapshot_json, now),
            )
            db.execute("UPDATE runs SET updated = ? WHERE id = ?", (now, run_id))

    def log_payload(
        self, table: Literal["params", "boundaries"], run_id: int, step: int, payload_json: str
    ) -> None:
        if table not in ("params", "boundaries"):
            raise ValueError(f"unknown payload table {table!r}")
        now = time.time()
        with self._transaction() as db:
            db.execute(
                f"INSERT OR REPLACE INTO {table} (run_id, step, payload, wall_time) "
                "VALUES (?, ?, ?, ?)",
                (run_id, step, payload_json, now),
            )
            db.execute("UPDATE runs SET updated = ? WHERE id = ?", (now, run_id))

    def set_status(self, run_id: int, status: RunStatus) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET status = ?, updated = ? WHERE id = ?",
                (status, time.time(), run_id),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _like_prefix(text: str) -> str:
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


def _hparams_json(hparams: Mapping[str, Any] | None) -> str:
    if hparams is None:
        return "{}"
    if not isinstance(hparams, Mapping):
        raise TypeError(f"hparams must be a dict of name -> value, got {type(hparams).__name__}")
    for key, value in hparams.items():
        if not isinstance(key, str):
            raise TypeError(f"hparams keys must be str, got {key!r}")
        try:
            to_json(value)
        except (TypeError, ValueError):
            raise TypeError(
                f"hparams[{key!r}] must be JSON data (number, str, bool, None, list, dict), "
                f"got {type(value).__name__}: {value!r}"
            ) from None
    return to_json(dict(hparams))


class StoreReader:
    """Reads the store of a log directory through a read-only connection.

    A log directory with no store yet reads as having no runs (the board can
    start before training does). Each call opens its own short-lived
    connection, so a reader is safe to share between threads.
    """

    def __init__(self, logdir: str | PathLike[str]) -> None:
        directory = Path(logdir)
        if not directory.is_dir():
            raise StoreError(f"log directory {str(directory)!r} does not exist")
        self.logdir = directory
        self.path = store_path(directory)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection | None]:
        if not self.logdir.is_dir():
            raise StoreError(f"log directory {str(self.logdir)!r} no longer exists")
        if not self.path.exists():
            yield None
            return
        uri = "file:" + quote(str(self.path.resolve())) + "?mode=ro"
        with _sql_errors(self.path):
            db = sqlite3.connect(uri, uri=True, timeout=10.0)
            try:
                db.execute("PRAGMA query_only = ON")
                if _check_schema(db, self.path, writable=False):
                    yield None  # created but not initialised yet: nothing to read
                else:
                    yield db
            finally:
                db.close()

    def check(self) -> None:
        """Raise :class:`StoreError` now if the store exists but cannot be read."""
        with self._connect():
            pass

    def runs(self) -> list[dict[str, Any]]:
        """Every run with its hparams, status, times and what it logged (oldest first)."""
        with self._connect() as db:
            if db is None:
                return []
            rows = db.execute(
                "SELECT id, name, hparams, started, updated, status FROM runs ORDER BY id"
            ).fetchall()
            result = []
            for run_id, name, hparams, started, updated, status in rows:
                tags = [t for (t,) in db.execute(
                    "SELECT DISTINCT tag FROM scalars WHERE run_id = ? ORDER BY tag", (run_id,)
                )]
                counts = {
                    table: db.execute(
                        f"SELECT COUNT(*) FROM {table} WHERE run_id = ?", (run_id,)
                    ).fetchone()[0]
                    for table in ("graphs", "params", "boundaries")
                }
                last_step = db.execute(
                    "SELECT MAX(step) FROM scalars WHERE run_id = ?", (run_id,)
                ).fetchone()[0]
                result.append({
                    "name": name, "hparams": json.loads(hparams), "started": started,
                    "updated": updated, "status": status, "tags": tags,
                    "last_step": last_step, **counts,
                })
            return result

    @contextmanager
    def _run(self, name: str) -> Iterator[tuple[sqlite3.Connection, int]]:
        """A read-only connection and the id of run ``name`` (RunNotFound if none)."""
        check_run_name(name)
        with self._connect() as db:
            row = None if db is None else db.execute(
                "SELECT id FROM runs WHERE name = ?", (name,)
            ).fetchone()
            if db is None or row is None:
                raise RunNotFound(f"no run named {name!r} in {self.logdir}")
            yield db, int(row[0])

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
        if isinstance(cursor, bool) or not isinstance(cursor, int) or not (
                0 <= cursor <= MAX_INTEGER):
            raise InvalidName(f"cursor must be an int in 0..{MAX_INTEGER}, got {cursor!r}")
        with self._run(run) as (db, run_id):
            series: dict[str, dict[str, list[Any]]] = {}
            last = cursor
            for row_id, tag, step, value, wall_time in db.execute(
                "SELECT id, tag, step, value, wall_time FROM scalars "
                "WHERE run_id = ? AND id > ? ORDER BY tag, step", (run_id, cursor)
            ):
                entry = series.setdefault(tag, {"steps": [], "values": [], "wall_times": []})
                entry["steps"].append(step)
                entry["values"].append(math.nan if value is None else value)
                entry["wall_times"].append(wall_time)
                last = max(last, row_id)
            return series, last

    def graphs(self, run: str) -> list[dict[str, Any]]:
        """The graph snapshots of a run (without their nodes): id, tag, step, structure key."""
        with self._run(run) as (db, run_id):
            return [
                {"id": gid, "tag": tag, "step": step, "structure_key": key, "nodes": count}
                for gid, tag, step, key, count in db.execute(
                    "SELECT id, tag, step, structure_key, node_count FROM graphs "
                    "WHERE run_id = ? ORDER BY tag, step", (run_id,)
                )
            ]

    def graph(self, run: str, graph_id: int) -> dict[str, Any]:
        """One snapshot: id, tag, step, structure_key and "snapshot" (strict JSON text)."""
        with self._run(run) as (db, run_id):
            row = db.execute(
                "SELECT id, tag, step, structure_key, snapshot FROM graphs "
                "WHERE run_id = ? AND id = ?", (run_id, graph_id)
            ).fetchone()
            if row is None:
                raise RunNotFound(f"run {run!r} has no graph snapshot {graph_id}")
            gid, tag, step, key, snapshot = row
            return {"id": gid, "tag": tag, "step": step, "structure_key": key,
                    "snapshot": snapshot}

    def graph_by_key(self, run: str, structure_key: str) -> str | None:
        """The first snapshot (strict JSON) of ``run`` with that structure, if any."""
        with self._run(run) as (db, run_id):
            row = db.execute(
                "SELECT snapshot FROM graphs WHERE run_id = ? AND structure_key = ? "
                "ORDER BY id LIMIT 1", (run_id, structure_key)
            ).fetchone()
            return None if row is None else str(row[0])

    def payload_steps(self, table: Literal["params", "boundaries"], run: str) -> list[int]:
        """The steps at which ``run`` logged parameters (``"params"``) or boundaries."""
        if table not in ("params", "boundaries"):
            raise ValueError(f"unknown payload table {table!r}")
        with self._run(run) as (db, run_id):
            return [s for (s,) in db.execute(
                f"SELECT step FROM {table} WHERE run_id = ? ORDER BY step", (run_id,)
            )]

    def payload(self, table: Literal["params", "boundaries"], run: str, step: int) -> str:
        """The strict-JSON payload logged at ``step`` (raises RunNotFound if none)."""
        if table not in ("params", "boundaries"):
            raise ValueError(f"unknown payload table {table!r}")
        with self._run(run) as (db, run_id):
            row = db.execute(
                f"SELECT payload FROM {table} WHERE run_id = ? AND step = ?", (run_id, step)
            ).fetchone()
            if row is None:
                raise RunNotFound(f"run {run!r} has no {table} at step {step}")
            return str(row[0])

