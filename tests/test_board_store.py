"""The board's store and writer: round trips, bad input, schema errors, crashes, concurrency."""

from __future__ import annotations

import functools
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import MappingProxyType, SimpleNamespace
from typing import IO, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from microgrboard import Value
from microgrboard.board.panels.scalars import read_curves
from microgrboard.board.store import (
    BLOCK_SIZES,
    NON_FINITE,
    SCHEMA_VERSION,
    EntryNotFound,
    InvalidName,
    InvalidParameter,
    RunGone,
    RunNotFound,
    StoreError,
    StoreReader,
    StoreWriter,
    store_path,
)
from microgrboard.board.writer import Run
from microgrboard.examples import neuron
from microgrboard.nn import MLP, Neuron
from microgrboard.snapshot import snapshot, structure_key, to_json
from microgrboard.training import board_views, neuron_graph

ROOT = Path(__file__).resolve().parent.parent


def test_scalars_round_trip_with_values_nan_and_inf(tmp_path: Path) -> None:
    with Run(tmp_path, name="a", hparams={"lr": 0.1, "layers": [16, 1]}) as run:
        run.log(0, loss=Value(2.5), lr=0.1)
        run.log(1, loss=float("nan"), lr=0.1)
        run.log(2, loss=float("inf"), **{"train/acc": 1})
        run.log(2, loss=0.5)  # the same (tag, step) again: the last one wins
    reader = StoreReader(tmp_path)
    [info] = reader.runs()
    assert info["name"] == "a" and info["status"] == "finished"
    assert info["hparams"] == {"lr": 0.1, "layers": [16, 1]}
    assert info["tags"] == ["loss", "lr", "train/acc"] and info["last_step"] == 2
    series = reader.scalars("a")
    assert series["loss"]["steps"] == [0, 1, 2]
    assert series["loss"]["values"][0] == 2.5 and math.isnan(series["loss"]["values"][1])
    assert series["loss"]["values"][2] == 0.5
    assert series["train/acc"]["values"] == [1.0]


def test_graph_params_and_boundary_round_trip(tmp_path: Path) -> None:
    example = neuron()
    model = MLP(2, [3, 1], seed=0)
    for p in model.parameters():
        p.grad = 0.25
    with Run(tmp_path, name="g") as run:
        run.log_graph(example.output, 0, tag="neuron")
        run.log_graph(snapshot(example.output), 5, tag="neuron")
        run.log_params(model, 0)
        run.log_params({"w": Value(1.5)}, 1)
        run.log_decision_boundary(3, [0.0, 1.0], [0.0, 1.0, 2.0], [1, 2, 3, 4, 5, 6],
                                  [(0.5, 0.5), (1.0, 2.0)], [0, 1])
    reader = StoreReader(tmp_path)
    graphs = reader.graphs("g")
    assert [(g["tag"], g["step"], g["nodes"]) for g in graphs] == [("neuron", 0, 10),
                                                                   ("neuron", 5, 10)]
    assert graphs[0]["structure_key"] == structure_key(snapshot(example.output))
    stored = json.loads(reader.graph("g", graphs[1]["id"])["snapshot"])
    assert stored == json.loads(json.dumps(snapshot(example.output)))
    root = stored["nodes"][stored["root"]]
    assert root["label"] == "o = tanh(n)" and root["data"] == pytest.approx(0.7071067811865476)
    params = json.loads(reader.payload("params", "g", 0))
    assert params["names"] == [name for name, _ in model.named_parameters()]
    assert params["data"] == [p.data for p in model.parameters()]
    assert params["grad"] == [0.25] * len(params["grad"])
    assert reader.payload_steps("params", "g") == [0, 1]
    boundary = json.loads(reader.payload("boundary", "g", 3))
    assert boundary["scores"] == [[1, 2], [3, 4], [5, 6]]  # flat scores: one row per y
    assert boundary["points"] == [[0.5, 0.5], [1.0, 2.0]] and boundary["labels"] == [0, 1]
    assert boundary["classes"] is None
    with pytest.raises(EntryNotFound, match="no boundary at step 4"):
        reader.payload("boundary", "g", 4)


def test_non_finite_numbers_are_stored_as_to_json(tmp_path: Path) -> None:
    x = Value(-1.0, "x")
    y = x.sqrt() if False else x * float("inf")
    with Run(tmp_path, name="n") as run:
        run.log_graph(y, 0)
        run.log_params([Value(float("nan"), "p")], 0)
    reader = StoreReader(tmp_path)
    text = reader.graph("n", reader.graphs("n")[0]["id"])["snapshot"]
    assert "-Infinity" in text and "NaN" not in text.replace('"NaN"', "")
    json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in stored JSON"))
    assert json.loads(reader.payload("params", "n", 0))["data"] == ["NaN"]


@pytest.mark.parametrize("name", ["../etc", "a/b", "a\\b", "", " a", "..", "a\x00b", "x" * 201, 7])
def test_bad_run_names_are_refused(tmp_path: Path, name: object) -> None:
    with pytest.raises(InvalidName):
        Run(tmp_path, name=name)  # type: ignore[arg-type]
    with pytest.raises(InvalidName):
        StoreReader(tmp_path).scalars(name)  # type: ignore[arg-type]


def test_existing_names_are_renamed_replaced_or_refused(tmp_path: Path) -> None:
    names = []
    for _ in range(3):
        with Run(tmp_path, name="exp_1%") as run:  # LIKE wildcards in the name are literal
            run.log(0, loss=1.0)
            names.append(run.name)
    assert names == ["exp_1%", "exp_1%-2", "exp_1%-3"]
    with Run(tmp_path, name="exp_1%", if_exists="replace") as run:
        run.log(0, loss=9.0)
    reader = StoreReader(tmp_path)
    assert reader.scalars("exp_1%")["loss"]["values"] == [9.0]
    with pytest.raises(StoreError, match="already exists"):
        Run(tmp_path, name="exp_1%", if_exists="error")
    assert sorted(r["name"] for r in reader.runs()) == ["exp_1%", "exp_1%-2", "exp_1%-3"]


def test_default_name_is_the_start_time(tmp_path: Path) -> None:
    with Run(tmp_path) as run:
        assert len(run.name) == len("2024-01-31_12-00-00") and run.name[4] == "-"


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda r: r.log(-1, loss=1.0), ValueError, "step must be an int >= 0"),
        (lambda r: r.log(True, loss=1.0), ValueError, "step must be an int"),
        (lambda r: r.log(1.5, loss=1.0), ValueError, "step must be an int"),
        (lambda r: r.log(2**70, loss=1.0), ValueError,
         r"at most 2\*\*63 - 1.*1180591620717411303424"),
        (lambda r: r.log_params([Value(1.0)], 2**63), ValueError, "step must be an int"),
        (lambda r: r.log(0), ValueError, "at least one scalar"),
        (lambda r: r.log(0, loss="low"), TypeError, "scalar 'loss' must be a number"),
        (lambda r: r.log(0, loss=None), TypeError, "scalar 'loss' must be a number"),
        (lambda r: r.log_graph(3.0, 0), TypeError, "expected a Value or a snapshot dict"),
        (lambda r: r.log_params(3, 0), TypeError, "log_params"),
        (lambda r: r.log_params({"w": 1.0}, 0), TypeError, "parameter 'w' must be a Value"),
        (lambda r: r.log_decision_boundary(0, [0, 1], [0], [[1, 2, 3]], [], []), ValueError,
         "scores must be 1 rows"),
        (lambda r: r.log_decision_boundary(0, [0, 1], [0], [1, 2, 3], [], []), ValueError,
         "flat scores must hold"),
        (lambda r: r.log_decision_boundary(0, [0], [0], [[1]], [(1, 2, 3)], [0]), ValueError,
         r"points\[0\] must be an \(x, y\) pair"),
        (lambda r: r.log_decision_boundary(0, [0], [0], [[1]], [(1, 2)], [0, 1]), ValueError,
         "1 points but 2 labels"),
        (lambda r: r.log_decision_boundary(0, [], [0], [], [], []), ValueError, "at least one"),
    ],
)
def test_bad_input_gets_a_clear_error(tmp_path: Path, call, error, message) -> None:  # type: ignore[no-untyped-def]
    with Run(tmp_path, name="bad") as run:
        with pytest.raises(error, match=message):
            call(run)
        run.log(0, loss=1.0)  # and the run still works afterwards
    assert StoreReader(tmp_path).scalars("bad")["loss"]["values"] == [1.0]


def test_hparams_must_be_json_data(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"hparams\['model'\] must be JSON data"):
        Run(tmp_path, name="h", hparams={"model": object()})
    with pytest.raises(TypeError, match="hparams must be a dict"):
        Run(tmp_path, name="h", hparams=[1, 2])  # type: ignore[arg-type]


def test_context_manager_marks_failure_and_closed_runs_refuse_writes(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), Run(tmp_path, name="boom") as run:
        run.log(0, loss=1.0)
        raise RuntimeError("diverged")
    assert StoreReader(tmp_path).runs()[0]["status"] == "failed"
    with pytest.raises(StoreError, match="run 'boom' is closed"):
        run.log(1, loss=1.0)
    run.close()  # twice is harmless


def _assert_no_sql_traceback(error: BaseException) -> None:
    # "never a traceback into SQL": no sqlite3 error is chained to the StoreError.
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


def test_newer_corrupt_and_foreign_files_give_clear_errors(tmp_path: Path) -> None:
    with Run(tmp_path / "newer", name="a") as run:
        run.log(0, loss=1.0)
    db = sqlite3.connect(store_path(tmp_path / "newer"))
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    for open_store in (StoreReader(tmp_path / "newer").runs, lambda: Run(tmp_path / "newer")):
        with pytest.raises(StoreError, match="newer microgrboard") as info:
            open_store()
        _assert_no_sql_traceback(info.value)

    (tmp_path / "corrupt").mkdir()
    store_path(tmp_path / "corrupt").write_bytes(b"this is not SQLite at all " * 200)
    for open_store in (StoreReader(tmp_path / "corrupt").runs, lambda: Run(tmp_path / "corrupt")):
        with pytest.raises(StoreError, match="corrupt or not a microgrboard log store") as info:
            open_store()
        _assert_no_sql_traceback(info.value)

    (tmp_path / "foreign").mkdir()
    other = sqlite3.connect(store_path(tmp_path / "foreign"))
    other.execute("CREATE TABLE notes (text)")
    other.commit()
    other.close()
    with pytest.raises(StoreError, match="not a microgrboard log store"):
        StoreReader(tmp_path / "foreign").runs()


def test_reader_on_missing_or_empty_directories(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        StoreReader(tmp_path / "nope")
    assert StoreReader(tmp_path).runs() == []  # no store yet: no runs, no error
    with pytest.raises(RunNotFound, match="no run named 'x'"):
        StoreReader(tmp_path).scalars("x")
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match="not a directory"):
        Run(tmp_path / "file")


def test_the_reader_cannot_write(tmp_path: Path) -> None:
    with Run(tmp_path, name="a") as run:
        run.log(0, loss=1.0)
    reader = StoreReader(tmp_path)
    with reader.read() as view, pytest.raises(sqlite3.OperationalError, match="readonly"):
        assert view is not None
        view.db.execute("DELETE FROM runs")


def test_reading_while_another_thread_writes(tmp_path: Path) -> None:
    steps = 300
    run = Run(tmp_path, name="live")
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for step in range(steps):
                run.log(step, loss=1.0 / (step + 1), acc=step / steps)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    writer = threading.Thread(target=write)
    writer.start()
    reader = StoreReader(tmp_path)
    seen: list[int] = []
    while True:
        done = not writer.is_alive()  # checked before reading: the last read sees all
        series = reader.scalars("live")
        loss = series.get("loss", {"steps": []})["steps"]
        # Every read sees a whole prefix: committed steps, in order, none half-written.
        assert loss == list(range(len(loss)))
        assert series.get("acc", {"steps": []})["steps"] == loss
        seen.append(len(loss))
        if done:
            break
    writer.join()
    run.close()
    assert not errors
    assert seen == sorted(seen) and seen[-1] == steps


_KILLED_WRITER = """
import sys
from microgrboard.board.writer import Run
from microgrboard.examples import neuron
run = Run(sys.argv[1], name="killed", hparams={"lr": 0.5})
for step in range(100000):
    run.log(step, loss=1.0 / (step + 1))
    if step % 10 == 0:
        run.log_graph(neuron().output, step, tag="neuron")
    print(step, flush=True)
"""


def test_a_writer_killed_mid_run_loses_no_committed_step(
    tmp_path: Path, line_reader: Callable[[IO[str], float], Callable[[], str]]
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    assert process.stdout is not None
    readline = line_reader(process.stdout, 20)
    committed = -1
    try:
        while committed < 40:
            line = readline()
            assert line, "the writer exited early"
            committed = int(line)
    finally:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    assert process.returncode == -signal.SIGKILL
    reader = StoreReader(tmp_path)  # read-only, with the dead writer's WAL still there
    [info] = reader.runs()
    assert info["name"] == "killed" and info["status"] == "stopped"  # its writer is gone
    steps = reader.scalars("killed")["loss"]["steps"]
    assert steps[: committed + 1] == list(range(committed + 1))  # every printed step is there
    assert [g["step"] for g in reader.graphs("killed")][:5] == [0, 10, 20, 30, 40]
    with Run(tmp_path, name="after") as run:  # and the store takes new runs
        run.log(0, loss=1.0)
    assert [r["name"] for r in StoreReader(tmp_path).runs()] == ["killed", "after"]


def test_two_writers_share_one_store(tmp_path: Path) -> None:
    first, second = StoreWriter(tmp_path), StoreWriter(tmp_path)
    a, _ = first.create_run("a")
    b, _ = second.create_run("b")
    first.log_scalars(a, 0, {"loss": 1.0})
    second.log_scalars(b, 0, {"loss": 2.0})
    first.close()
    second.close()
    reader = StoreReader(tmp_path)
    assert [reader.scalars(n)["loss"]["values"] for n in ("a", "b")] == [[1.0], [2.0]]


def test_training_callback_logs_a_step_record(tmp_path: Path) -> None:
    model = MLP(2, [4, 1], seed=0)
    for p in model.parameters():
        p.grad = 0.5
    X, y = [(0.0, 1.0), (1.0, 0.0), (0.5, 0.5)], [0, 1, 1]
    with Run(tmp_path, name="cb") as run:
        views = board_views(X, y, boundary_every=2, graph_every=2, network_every=2,
                            resolution=3)
        hook = run.training_callback(views, params_every=2, total_steps=4)
        for step in range(4):
            hook(SimpleNamespace(step=step, loss=1.0 - step / 10, accuracy=0.5, lr=0.1,
                                 model=model))
        with pytest.raises(ValueError, match="params_every must be a positive int"):
            run.training_callback(params_every=0)
        with pytest.raises(ValueError, match="graph_every must be a positive int"):
            board_views(X, y, graph_every=0)
    assert all(p.grad == 0.5 for p in model.parameters())  # the graphs used a copy
    reader = StoreReader(tmp_path)
    assert reader.scalars("cb")["loss"]["values"] == [1.0, 0.9, 0.8, 0.7]
    assert reader.payload_steps("params", "cb") == [0, 2, 3]  # and the last step
    assert reader.payload_steps("boundary", "cb") == [0, 2, 3]
    assert reader.payload_steps("network", "cb") == [0, 2, 3]
    boundary = json.loads(reader.payload("boundary", "cb", 0))
    assert len(boundary["xs"]) == 3 and len(boundary["scores"]) == 3
    assert [(g["tag"], g["step"]) for g in reader.graphs("cb")] == [
        ("loss", 0), ("loss", 2), ("loss", 3), ("neuron", 0), ("neuron", 2), ("neuron", 3)]
    [info] = reader.runs()
    assert (info["graphs"], info["params"], info["boundaries"], info["network"]) == (6, 3, 3, 3)
    assert info["graph_tags"] == ["loss", "neuron"]


def test_neuron_graph_matches_a_hand_computed_neuron() -> None:
    cell = Neuron(2, "tanh", seed=0, name="L0.N0")
    w0, w1 = cell.w[0].data, cell.w[1].data
    out = neuron_graph(cell, [2.0, -1.0])
    expected = math.tanh(2.0 * w0 - w1)
    assert out.data == pytest.approx(expected)
    snap = snapshot(out)
    by_label = {n["label"]: n for n in snap["nodes"]}
    # d tanh(2 w0 - w1 + b) / d w0 = 2 (1 - tanh²)
    assert by_label["L0.N0.w0"]["grad"] == pytest.approx(2.0 * (1 - expected**2))
    assert by_label["x1"]["grad"] == pytest.approx(w1 * (1 - expected**2))
    assert cell.w[0].grad == 0.0


_CONTENDING_WRITER = """
import sys
from microgrboard.board.store import StoreWriter
writer = StoreWriter(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()  # start together
for i in range(20):
    run_id, name = writer.create_run("shared")  # reads the names, then writes: a lock upgrade
    writer.log_scalars(run_id, i, {"loss": float(i)})
writer.close()
print("done", flush=True)
"""


def test_processes_sharing_a_store_wait_for_each_other(
    tmp_path: Path, line_reader: Callable[[IO[str], float], Callable[[], str]]
) -> None:
    StoreWriter(tmp_path).close()  # the schema exists before they race
    processes = [
        subprocess.Popen([sys.executable, "-c", _CONTENDING_WRITER, str(tmp_path)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        for _ in range(4)
    ]
    try:
        readers = [line_reader(p.stdout, 30) for p in processes]  # type: ignore[arg-type]
        assert [read() for read in readers] == ["ready\n"] * 4
        for p in processes:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        outcome = [read() for read in readers]
    finally:
        for p in processes:
            p.kill() if p.poll() is None else None
            p.wait(10)
    errors = [p.stderr.read() for p in processes if p.stderr is not None]
    assert outcome == ["done\n"] * 4, errors
    runs = StoreReader(tmp_path).runs()
    assert len(runs) == 80 and len({r["name"] for r in runs}) == 80  # every rename distinct
    assert sum(len(StoreReader(tmp_path).scalars(r["name"])) for r in runs) == 80


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.pop("edges"), "missing 'edges'"),
        (lambda s: s.update(nodes=[]), "non-empty list"),
        (lambda s: s["nodes"][0].update(id=5), "node ids must be 0..2 in order"),
        (lambda s: s["nodes"][1].update(label=None), "node 1 label must be a str"),
        (lambda s: s["nodes"][0].update(data="lots"), "node 0 data must be a number"),
        (lambda s: s["nodes"][0].update(grad=10**400), "too large for a float"),
        (lambda s: s["edges"][0].update(parent=9), r"edge 0 parent must be a node id in 0..2"),
        (lambda s: s["edges"][0].update(parent=2, child=0), "a parent comes before its child"),
        (lambda s: s["edges"][0].update(share=None), "edge 0 share must be a number"),
        (lambda s: s.update(root=0), "root must be the last node"),
        (lambda s: s.update(version=99), "version 99 is not one this microgrboard reads"),
    ],
)
def test_log_graph_refuses_snapshots_the_board_cannot_draw(
    tmp_path: Path, change: Callable[[dict[str, object]], object], message: str
) -> None:
    x = Value(2.0, "x")
    y = x * 3.0
    y.backward()
    snap = json.loads(json.dumps(snapshot(y)))
    change(snap)
    with Run(tmp_path, name="s") as run:
        with pytest.raises(ValueError, match=message):
            run.log_graph(snap, 0)
        run.log_graph(json.loads(json.dumps(snapshot(y))), 1)  # through JSON is fine
    assert [g["step"] for g in StoreReader(tmp_path).graphs("s")] == [1]


def test_log_graph_keeps_only_the_formats_fields(tmp_path: Path) -> None:
    x = Value(2.0, "x")
    y = x * 3.0
    y.backward()
    snap = json.loads(json.dumps(snapshot(y)))
    snap["nodes"][0]["extra"] = object()  # not JSON, and not part of the format
    with Run(tmp_path, name="s") as run:
        run.log_graph(snap, 0)
    reader = StoreReader(tmp_path)
    (stored,) = reader.graphs("s")
    assert json.loads(reader.graph("s", stored["id"])["snapshot"]) == snapshot(y)


def test_a_failed_commit_is_rolled_back(tmp_path: Path) -> None:
    writer = StoreWriter(tmp_path)
    run_id, _ = writer.create_run("a")
    with pytest.raises(StoreError, match="FOREIGN KEY"), writer._transaction() as db:
        db.execute("PRAGMA defer_foreign_keys = ON")  # the violation shows at COMMIT
        db.execute("INSERT INTO scalars (run_id, tag, step, value, wall_time) "
                   "VALUES (999, 'x', 0, 1.0, 0)")
    writer.log_scalars(run_id, 0, {"loss": 1.0})  # no transaction left open
    writer.close()
    assert StoreReader(tmp_path).scalars("a") == {
        "loss": {"steps": [0], "values": [1.0], "wall_times": [pytest.approx(time.time(), abs=60)]}}


def test_an_error_after_sqlite_rolled_back_is_not_masked(tmp_path: Path) -> None:
    writer = StoreWriter(tmp_path)
    with pytest.raises(RuntimeError, match="the real error"), writer._transaction() as db:
        db.execute("ROLLBACK")  # as SQLite does itself on some errors
        raise RuntimeError("the real error")
    writer.create_run("a")
    writer.close()


def test_scalars_since_a_cursor_return_only_new_points(tmp_path: Path) -> None:
    with Run(tmp_path, name="a") as run:
        for step in range(5):
            run.log(step, loss=float(step))
        reader = StoreReader(tmp_path)
        everything, cursor = reader.scalars_since("a", 0)
        assert everything["loss"]["steps"] == [0, 1, 2, 3, 4]
        assert reader.scalars_since("a", cursor) == ({}, cursor)
        run.log(5, loss=5.0)
        run.log(2, loss=-2.0)  # re-logged: comes again, with its new value
        new, later = reader.scalars_since("a", cursor)
        assert new["loss"]["steps"] == [2, 5] and new["loss"]["values"] == [-2.0, 5.0]
        assert later > cursor
    with pytest.raises(InvalidParameter, match="cursor") as info:
        reader.scalars_since("a", -1)
    assert not isinstance(info.value, InvalidName)  # a cursor is not a name


def test_polls_use_indexes_not_scans(tmp_path: Path) -> None:
    Run(tmp_path, name="a").close()
    db = sqlite3.connect(store_path(tmp_path))

    def plan(sql: str) -> str:
        return " ".join(str(row[-1]) for row in db.execute("EXPLAIN QUERY PLAN " + sql, (1, 0)))

    assert "INDEX scalars_by_id" in plan("SELECT * FROM scalars WHERE run_id = ? AND id > ?")
    assert "INDEX scalars_by_step" in plan(
        "SELECT MAX(step) FROM scalars WHERE run_id = ? AND ? = 0")
    assert "INDEX" in plan(  # a curve, or a zoomed part of it
        "SELECT step, value FROM scalars WHERE run_id = ? AND tag = 'x' AND step >= ? "
        "ORDER BY step")
    assert "INDEX scalars_gaps" in plan(  # its non-finite points alone
        f"SELECT step FROM scalars WHERE run_id = ? AND tag = 'x' AND step >= ? AND {NON_FINITE}")
    assert "PRIMARY KEY (run_id=? AND tag=? AND size=? AND block>?)" in plan(  # its summary
        "SELECT * FROM scalar_blocks WHERE run_id = ? AND tag = 'x' AND size = 16 AND block > ?")
    db.close()


def test_one_non_finite_encoder_for_tuples_and_mappings(tmp_path: Path) -> None:
    hparams = {"shape": (2, float("inf")), "nested": MappingProxyType({"x": float("nan")})}
    assert to_json(hparams) == '{"shape":[2,"Infinity"],"nested":{"x":"NaN"}}'
    with Run(tmp_path, name="h", hparams={"shape": (2, 3), "nested": MappingProxyType({"x": 1})}):
        pass
    assert StoreReader(tmp_path).runs()[0]["hparams"] == {"shape": [2, 3], "nested": {"x": 1}}


# --- issue 11: integrity --------------------------------------------------------------


def test_run_ids_are_never_reused(tmp_path: Path) -> None:
    writer = StoreWriter(tmp_path)
    first, _ = writer.create_run("a")
    second, _ = writer.create_run("a", if_exists="replace")  # deletes the newest run
    third, _ = writer.create_run("a", if_exists="replace")
    writer.close()
    assert first < second < third  # INTEGER PRIMARY KEY alone would give `second` again


def test_a_replaced_writer_gets_an_error_and_never_writes_into_its_successor(
    tmp_path: Path,
) -> None:
    first = Run(tmp_path, name="x")
    errors: list[BaseException] = []
    started = threading.Event()

    def keep_logging() -> None:
        step = 0
        try:
            while True:
                first.log(step, loss=1.0)  # the first writer's points are all 1.0
                step += 1
                if step == 20:
                    started.set()
        except BaseException as error:
            errors.append(error)
        finally:
            started.set()

    thread = threading.Thread(target=keep_logging)
    thread.start()
    assert started.wait(30)
    second = Run(tmp_path, name="x", if_exists="replace")
    for step in range(50):
        second.log(step, loss=2.0)
    thread.join(30)
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], RunGone), errors
    assert "replaced or deleted" in str(errors[0]) and "'x'" in str(errors[0])
    with pytest.raises(RunGone):
        first.log_params([Value(1.0, "w")], 0)
    first.close()  # closing a run that is gone is harmless
    second.close()
    reader = StoreReader(tmp_path)
    [info] = reader.runs()
    assert info["status"] == "finished"
    loss = reader.scalars("x")["loss"]
    assert loss["steps"] == list(range(50)) and set(loss["values"]) == {2.0}


def _read_only(directory: Path) -> Callable[[], None]:
    """Make ``directory`` read-only as a disk or another user's folder would be: a
    read-only tmpfs as root (permissions do not stop root), chmod otherwise."""
    if os.geteuid() == 0:
        subprocess.run(["mount", "-o", "remount,ro", str(directory)], check=True)
        return lambda: None
    directory.chmod(0o555)
    return lambda: directory.chmod(0o755)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A fresh directory; as root, a tmpfs mount of its own (to remount read-only)."""
    directory = tmp_path / "mount"
    directory.mkdir()
    if os.geteuid() == 0:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(directory)],
                       check=True)
    try:
        yield directory
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", "-l", str(directory)], check=True)
        else:
            directory.chmod(0o755)


def test_a_read_only_log_directory_is_read(tmpfs: Path) -> None:
    with Run(tmpfs, name="finished", hparams={"lr": 0.5}) as run:
        for step in range(30):
            run.log(step, loss=1.0 / (step + 1))
        for step in range(600):  # long enough to be read from the summary
            run.log(step, lr=9.0 if step == 321 else 0.1)
        run.log_params([Value(1.0, "w")], 0)
    assert not Path(f"{store_path(tmpfs)}-shm").exists()  # closed cleanly: WAL checkpointed
    _read_only(tmpfs)
    with pytest.raises(OSError):
        (tmpfs / "probe").write_text("x")  # it really is read-only
    reader = StoreReader(tmpfs)
    [info] = reader.runs()
    assert (info["name"], info["status"], info["hparams"]) == ("finished", "finished", {"lr": 0.5})
    assert reader.scalars("finished")["loss"]["steps"] == list(range(30))
    assert reader.payload_steps("params", "finished") == [0]
    with warnings.catch_warnings():  # Starlette nags about httpx versions
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from microgrboard.board.server import create_app

    client = TestClient(create_app(tmpfs))  # the board serves it
    assert [r["name"] for r in client.get("/api/runs").json()["runs"]] == ["finished"]
    body = client.get("/api/scalars", params={"run": "finished"}).json()
    assert body["runs"]["finished"]["loss"]["steps"] == list(range(30))
    lr = client.get("/api/scalars", params={"run": "finished", "tag": "lr", "max_points": 20}
                    ).json()["runs"]["finished"]["lr"]
    assert lr["points"] == 600 and len(lr["steps"]) <= 20 and 321 in lr["steps"]
    assert client.get("/api/changes").status_code == 200
    assert sorted(p.name for p in tmpfs.iterdir()) == ["microgrboard.db", "microgrboard.locks"]


_KILLED_FOREIGN_WRITER = """
import os, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("PRAGMA journal_mode = WAL")
db.execute("CREATE TABLE notes (text)")
db.execute("INSERT INTO notes VALUES ('mine')")
db.commit()
os._exit(0)  # killed: no checkpoint, the table stays in the -wal
"""


_WRITER_KILLED_AFTER_50_STEPS = """
import os, sys
from microgrboard.board.writer import Run
run = Run(sys.argv[1], name="killed")
for step in range(50):
    run.log(step, loss=1.0 / (step + 1))
os._exit(0)  # killed: no checkpoint, every step is still in the -wal
"""


@pytest.mark.parametrize("keep_shm", [False, True])
def test_a_read_only_wal_without_its_shm_loses_nothing(tmpfs: Path, keep_shm: bool) -> None:
    subprocess.run(
        [sys.executable, "-c", _WRITER_KILLED_AFTER_50_STEPS, str(tmpfs)], check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    wal, shm = Path(f"{store_path(tmpfs)}-wal"), Path(f"{store_path(tmpfs)}-shm")
    assert wal.stat().st_size > 0
    if not keep_shm:
        shm.unlink()  # copied without it, say: SQLite cannot rebuild it on a read-only disk
    _read_only(tmpfs)
    files = {p.name: p.read_bytes() for p in tmpfs.iterdir() if p.is_file()}
    reader = StoreReader(tmpfs)
    [info] = reader.runs()
    assert (info["name"], info["status"], info["last_step"]) == ("killed", "stopped", 49)
    assert reader.scalars("killed")["loss"]["steps"] == list(range(50))
    assert reader.scalars("killed")["loss"]["steps"] == list(range(50))  # the copy, reused
    copy = reader._copy
    if copy is not None:  # read from a private copy (without -shm, at least)
        assert copy[1].exists() and not copy[1].is_relative_to(tmpfs)
        del reader
        assert not copy[1].parent.exists()  # the private copy is removed with its reader
    assert keep_shm or copy is not None
    assert {p.name: p.read_bytes() for p in tmpfs.iterdir() if p.is_file()} == files


def test_a_live_store_still_in_its_wal_is_known_as_ours_without_a_copy(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from microgrboard.board import store

    with Run(tmp_path, name="live") as run:
        run.log(0, loss=1.0)
        header = store_path(tmp_path).read_bytes()[:100]
        assert header[68:72] == b"\0\0\0\0"  # our id is still only in the WAL
        # Every poll reads it: from the WAL's first frame, not from a copy of the store.
        monkeypatch.setattr(store, "_copy_store", lambda *_: pytest.fail("copied"))
        assert [r["name"] for r in StoreReader(tmp_path).runs()] == ["live"]
        with Run(tmp_path, name="second"):  # nor does a second writer copy it
            pass


def test_a_foreign_or_newer_file_is_refused_without_writing_to_it(tmp_path: Path) -> None:
    cases = {}
    for journal in ("DELETE", "WAL"):
        directory = tmp_path / f"foreign-{journal}"
        directory.mkdir()
        other = sqlite3.connect(store_path(directory))
        other.execute(f"PRAGMA journal_mode = {journal}")
        other.execute("CREATE TABLE notes (text)")
        other.execute("INSERT INTO notes VALUES ('mine')")
        other.commit()
        other.close()
        cases[directory] = "not a microgrboard log store"
    # Another application's WAL database whose writer was killed: its tables are only in
    # its -wal (the main file's header says nothing), and -wal and -shm are left behind.
    killed = tmp_path / "foreign-killed-WAL"
    killed.mkdir()
    subprocess.run([sys.executable, "-c", _KILLED_FOREIGN_WRITER, str(store_path(killed))],
                   check=True)
    cases[killed] = "not a microgrboard log store"
    newer = tmp_path / "newer"
    with Run(newer, name="a") as run:
        run.log(0, loss=1.0)
    db = sqlite3.connect(store_path(newer))
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    cases[newer] = "newer microgrboard"
    for directory, message in cases.items():
        files = sorted(p.name for p in directory.iterdir())
        before = {name: (directory / name).read_bytes() for name in files
                  if (directory / name).is_file()}
        # The killed case's rows are in its -wal only; the others have no -wal.
        assert (b"mine" in before.get("microgrboard.db-wal", b"")) == (directory == killed)
        opens = (functools.partial(Run, directory, name="b"), StoreReader(directory).runs)
        for open_store in opens:
            with pytest.raises(StoreError, match=message):
                open_store()
        # Byte for byte (header bytes 18-19 too; a killed writer's -wal and -shm as well),
        # and no new file: no -wal, -shm or lock.
        assert sorted(p.name for p in directory.iterdir()) == files
        assert {name: (directory / name).read_bytes() for name in before} == before, directory


def test_hparams_take_numpy_numbers_and_refuse_what_cannot_be_shown(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")  # numpy is in the dev extra: this runs in CI
    hparams = {"lr": np.float32(0.5), "steps": np.int64(100), "decay": np.bool_(True),
               "layers": [np.int32(16), 16], "nested": {"beta": np.float64(0.9)}}
    hparams["big"] = int(1e308)  # an int a float holds: the page shows it
    with Run(tmp_path, name="np", hparams=hparams):
        pass
    assert StoreReader(tmp_path).runs()[0]["hparams"] == {
        "lr": 0.5, "steps": 100, "decay": True, "layers": [16, 16], "nested": {"beta": 0.9},
        "big": int(1e308)}
    looped: list[object] = [1]
    looped.append(looped)
    deep: list[object] = []
    for _ in range(30):
        deep = [deep]
    for bad, message in [
        ({"lr": float("nan")}, r"hparams\['lr'\] must be a finite number, got nan"),
        ({"schedule": [1.0, float("inf")]}, r"hparams\['schedule'\] must be a finite number"),
        ({"lr": np.float64("-inf")}, r"hparams\['lr'\] must be a finite number"),
        ({"layers": looped}, r"hparams\['layers'\] contains itself"),
        ({"deep": deep}, r"hparams\['deep'\] is nested more than 20 levels"),
        ({"data": list(range(100_000))}, r"hparams\['data'\] is more than 64000 bytes"),
        ({"n": 10**400}, r"hparams\['n'\] is an int of 1329 bits, outside a float's range"),
        ({"n": [-(10**5000)]}, r"hparams\['n'\] is an int of \d+ bits, outside a float"),
    ]:
        with pytest.raises(ValueError, match=message):
            Run(tmp_path, name="bad", hparams=bad)
    assert [r["name"] for r in StoreReader(tmp_path).runs()] == ["np"]


_SLOW_WRITER = """
import sys, time
from microgrboard.board.writer import Run
run = Run(sys.argv[1], name=sys.argv[2])
run.log(0, loss=1.0)
print("logged", flush=True)
time.sleep(600)  # alive, logging nothing
"""


def test_a_dead_writers_run_shows_stopped_and_a_slow_one_running(
    tmp_path: Path, line_reader: Callable[[IO[str], float], Callable[[], str]]
) -> None:
    with Run(tmp_path, name="done"):
        pass
    processes = {
        name: subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(tmp_path), name],
                               stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
        for name in ("slow", "killed")
    }
    try:
        for process in processes.values():
            assert line_reader(process.stdout, 30)() == "logged\n"  # type: ignore[arg-type]
        reader = StoreReader(tmp_path)
        status = {r["name"]: r["status"] for r in reader.runs()}
        assert status == {"done": "finished", "slow": "running", "killed": "running"}
        token, _ = reader.changes()
        processes["killed"].kill()
        processes["killed"].wait(10)
        status = {r["name"]: r["status"] for r in reader.runs()}  # at once: no timeout
        assert status == {"done": "finished", "slow": "running", "killed": "stopped"}
        assert reader.changes()[0] != token  # the page learns of it
        assert reader.changes()[1]["killed"].endswith(":stopped")
    finally:
        for process in processes.values():
            process.kill()
            process.wait(10)
    assert {r["name"]: r["status"] for r in reader.runs()}["slow"] == "stopped"


_V1_SCHEMA = """
CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, hparams TEXT NOT NULL,
    started REAL NOT NULL, updated REAL NOT NULL, status TEXT NOT NULL);
CREATE TABLE scalars (id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, tag TEXT NOT NULL,
    step INTEGER NOT NULL, value REAL, wall_time REAL NOT NULL, UNIQUE (run_id, tag, step));
CREATE INDEX scalars_by_id ON scalars (run_id, id);
CREATE INDEX scalars_by_step ON scalars (run_id, step);
CREATE TABLE graphs (id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, tag TEXT NOT NULL,
    step INTEGER NOT NULL, structure_key TEXT NOT NULL, node_count INTEGER NOT NULL,
    snapshot TEXT NOT NULL, wall_time REAL NOT NULL, UNIQUE (run_id, tag, step));
CREATE TABLE params (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL, payload TEXT NOT NULL, wall_time REAL NOT NULL,
    PRIMARY KEY (run_id, step)) WITHOUT ROWID;
CREATE TABLE boundaries (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL, payload TEXT NOT NULL, wall_time REAL NOT NULL,
    PRIMARY KEY (run_id, step)) WITHOUT ROWID;
PRAGMA application_id = 1835496034;  -- "mgrb"
PRAGMA user_version = 1;
INSERT INTO runs VALUES (1, 'old', '{"lr": 0.1}', 1.0, 2.0, 'finished');
INSERT INTO runs VALUES (2, 'older', '{}', 1.0, 2.0, 'finished');
INSERT INTO scalars (run_id, tag, step, value, wall_time) VALUES
    (1, 'loss', 0, 1.0, 1.0), (1, 'loss', 1, 0.5, 1.0), (1, 'acc', 1, 0.9, 1.0);
INSERT INTO params VALUES (1, 0, '{"names": ["w"], "data": [1.0], "grad": [0.0]}', 1.0);
INSERT INTO boundaries VALUES (1, 5, '{"xs": [0], "ys": [0], "scores": [[1]],
    "points": [], "labels": []}', 1.0);
"""


def _v1_store(directory: Path) -> None:
    directory.mkdir(exist_ok=True)
    db = sqlite3.connect(store_path(directory))
    db.executescript(_V1_SCHEMA)
    db.close()


def _expected_v1_runs(reader: StoreReader) -> None:
    runs = {r["name"]: r for r in reader.runs()}
    assert runs["old"]["tags"] == ["acc", "loss"] and runs["old"]["last_step"] == 1
    assert (runs["old"]["params"], runs["old"]["boundaries"]) == (1, 1)
    assert runs["older"]["tags"] == [] and runs["older"]["last_step"] is None
    assert reader.scalars("old")["loss"]["values"] == [1.0, 0.5]
    assert reader.payload_steps("boundary", "old") == [5]
    assert json.loads(reader.payload("params", "old", 0))["names"] == ["w"]


def test_a_schema_1_store_is_read_as_it_is_and_migrated_by_a_writer(tmpfs: Path) -> None:
    _v1_store(tmpfs)
    _expected_v1_runs(StoreReader(tmpfs))  # read, not changed
    db = sqlite3.connect(store_path(tmpfs))
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    db.close()
    with Run(tmpfs, name="older", if_exists="replace") as run:  # migrates, then logs
        run.log(0, loss=3.0)
    reader = StoreReader(tmpfs)
    runs = {r["name"]: r for r in reader.runs()}
    assert runs["older"]["id"] == 3  # not 2 again: ids never reused
    assert reader.payload_steps("params", "old") == [0]
    assert json.loads(reader.payload("boundary", "old", 5))["xs"] == [0]
    assert runs["old"]["tags"] == ["acc", "loss"]
    db = sqlite3.connect(store_path(tmpfs))
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    db.close()


def test_a_read_only_schema_1_store_is_read(tmpfs: Path) -> None:
    _v1_store(tmpfs)
    db = sqlite3.connect(store_path(tmpfs))
    db.execute("PRAGMA journal_mode = WAL")  # as schema-1 writers left it
    db.close()
    _read_only(tmpfs)
    _expected_v1_runs(StoreReader(tmpfs))


def test_exceptions_say_what_happened(tmp_path: Path) -> None:
    with Run(tmp_path, name="a") as run:
        run.log(0, loss=1.0)
    reader = StoreReader(tmp_path)
    with pytest.raises(EntryNotFound, match="no graph snapshot 7") as missing:
        reader.graph("a", 7)
    assert not isinstance(missing.value, RunNotFound)  # the run is there; the graph is not
    with pytest.raises(RunNotFound, match="no run named 'b'"):
        reader.graph("b", 7)
    for bad in (-1, True, 2**63, "3"):
        with pytest.raises(InvalidParameter) as info:
            reader.payload("params", "a", bad)  # type: ignore[arg-type]
        assert not isinstance(info.value, InvalidName)
    with pytest.raises(InvalidName):
        reader.scalars("a/b")


def test_one_bad_row_is_an_error_for_its_run_only(tmp_path: Path) -> None:
    with Run(tmp_path, name="good") as run:
        run.log(0, loss=1.0)
    with Run(tmp_path, name="bad") as run:
        run.log(0, loss=1.0)
    db = sqlite3.connect(store_path(tmp_path))  # as another tool might write
    db.execute("UPDATE runs SET hparams = 'not json' WHERE name = 'bad'")
    db.execute("UPDATE scalars SET value = 'text' WHERE run_id = "
               "(SELECT id FROM runs WHERE name = 'bad')")
    db.commit()
    db.close()
    runs = {r["name"]: r for r in StoreReader(tmp_path).runs()}
    assert runs["good"]["error"] is None and runs["good"]["hparams"] == {}
    assert "hyper-parameters are not JSON" in runs["bad"]["error"]
    with pytest.raises(StoreError, match=r"value of 'loss' at step 0 is not a number"):
        StoreReader(tmp_path).scalars("bad")


def test_log_graph_refuses_labels_too_long_to_draw(tmp_path: Path) -> None:
    x = Value(1.0, "x" * 1001)
    y = x * 2.0
    with Run(tmp_path, name="g") as run:
        with pytest.raises(ValueError, match="node 0's label is 1001 characters long"):
            run.log_graph(y, 0)
        x.label = "x" * 1000
        run.log_graph(y, 0)


def test_multiclass_boundaries_and_network_states_round_trip(tmp_path: Path) -> None:
    from microgrboard.training import decision_grid, network_state

    model = MLP(2, [4, 3], seed=0)  # three classes
    X, y = [(0.0, 1.0), (1.0, 0.0), (0.5, 0.5)], [0, 1, 2]
    grid = decision_grid(model, X, resolution=3)
    assert grid.multiclass
    state = network_state(MLP(2, [3, 1], seed=0), X, y, resolution=4)
    with Run(tmp_path, name="m") as run:
        run.log_decision_boundary(0, grid.xs, grid.ys, grid.scores, X, y,
                                  classes=["a", "b", "c"])
        with pytest.raises(ValueError, match="class indices 0..1"):
            run.log_decision_boundary(1, grid.xs, grid.ys, grid.scores, X, y,
                                      classes=["a", "b"])
        run.log_network(0, state)
        broken = {**state, "layers": [{**state["layers"][0], "neurons": [  # type: ignore[index]
            {"name": "L0.N0", "weights": [1.0], "bias": 0.0, "activation": 0.0}]}]}
        with pytest.raises(ValueError, match=r"neurons\[0\] has 1 weights; the layer below has 2"):
            run.log_network(1, broken)
    reader = StoreReader(tmp_path)
    boundary = json.loads(reader.payload("boundary", "m", 0))
    assert boundary["classes"] == ["a", "b", "c"]
    assert {v for row in boundary["scores"] for v in row} <= {0, 1, 2}
    network = json.loads(reader.payload("network", "m", 0))
    assert network["inputs"] == ["x0", "x1"] and [la["name"] for la in network["layers"]] == [
        "L0", "L1"]
    plane = network["plane"]
    assert len(plane["xs"]) == 4 and set(plane["heat"]) == {"L0.N0", "L0.N1", "L0.N2", "L1.N0"}
    # The output neuron's heat map is the model's score on the plane, computed elsewhere.
    scores = decision_grid(MLP(2, [3, 1], seed=0), X, resolution=4).scores
    assert [v for row in plane["heat"]["L1.N0"] for v in row] == pytest.approx(
        [v for row in scores for v in row])
    assert reader.payload_steps("network", "m") == [0]


def test_runs_cost_does_not_grow_with_rows_logged(tmp_path: Path) -> None:
    with Run(tmp_path, name="short") as run:
        run.log(0, loss=1.0)
    reader = StoreReader(tmp_path)
    reader.runs()
    few = reader.statements
    writer = StoreWriter(tmp_path)
    run_id, _ = writer.create_run("long")
    for step in range(2000):
        writer.log_scalars(run_id, step, {"loss": 1.0, "acc": 0.5})
    writer.close()
    reader.statements = 0
    runs = reader.runs()
    assert reader.statements == few  # two runs, thousands of rows: the same statements
    assert runs[1]["tags"] == ["acc", "loss"] and runs[1]["last_step"] == 1999
    db = sqlite3.connect(store_path(tmp_path))
    plan = " ".join(str(r[-1]) for r in db.execute(
        "EXPLAIN QUERY PLAN SELECT run_id, kind, tag, count FROM run_series"))
    assert "scalars" not in plan
    db.close()


def test_loss_graph_is_the_loss_on_a_copy_with_numerical_gradients() -> None:
    from microgrboard.training import batch_loss, loss_graph

    model = MLP(2, [3, 1], seed=4, activation="tanh")
    X, y = [(0.3, -0.2), (-0.5, 0.8), (1.0, 1.0)], [1, 0, 1]
    root = loss_graph(model, X, y, loss="bce", points=2)
    assert root.label == "loss" and root.grad == 1.0
    assert all(p.grad == 0.0 for p in model.parameters())  # the model is untouched
    value, _ = batch_loss(model, X[:2], y[:2], "bce", l2=0.0)
    assert root.data == pytest.approx(value.data)
    leaves = {n["label"]: n["grad"] for n in snapshot(root)["nodes"] if n["op"] == ""}
    weight = model.layers[0].neurons[1].w[0]  # d loss / d L0.N1.w0 by central differences
    h = 1e-6 * max(1.0, abs(weight.data))
    original = weight.data
    weight.data = original + h
    up = batch_loss(model, X[:2], y[:2], "bce", l2=0.0)[0].data
    weight.data = original - h
    down = batch_loss(model, X[:2], y[:2], "bce", l2=0.0)[0].data
    weight.data = original
    assert leaves["L0.N1.w0"] == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-8)


# --- the scalar summary (schema 3) ------------------------------------------------------

def _blocks_from_a_full_scan(db: sqlite3.Connection) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """What ``scalar_blocks`` must hold, computed from every row: per (run, tag, size,
    block) of the points before the run's last block of 16 steps, their count, smallest
    and largest finite value, number of non-finite values and first non-finite step."""
    points: dict[tuple[Any, ...], list[tuple[int, float | None]]] = {}
    for run_id, tag, step, value in db.execute(
            "SELECT scalars.run_id, tag, step, value FROM scalars JOIN runs ON runs.id = run_id "
            "WHERE step < last_step - last_step % 16"):
        for size in BLOCK_SIZES:
            points.setdefault((run_id, tag, size, step // size), []).append((step, value))
    expected = {}
    for key, block in points.items():
        finite = [v for _, v in block if v is not None and math.isfinite(v)]
        gaps = [s for s, v in block if v is None or not math.isfinite(v)]
        expected[key] = (len(block), min(finite, default=None), max(finite, default=None),
                         len(gaps), min(gaps, default=None))
    return expected


def _check_blocks(directory: Path) -> None:
    db = sqlite3.connect(store_path(directory))
    try:
        stored = {}
        for run_id, tag, size, block, count, low_step, low, high_step, high, gaps, gap_step \
                in db.execute("SELECT * FROM scalar_blocks"):
            stored[run_id, tag, size, block] = (count, low, high, gaps, gap_step)
            for step, value in ((low_step, low), (high_step, high)):  # steps of those values
                row = db.execute("SELECT value FROM scalars WHERE run_id = ? AND tag = ? AND "
                                 "step = ?", (run_id, tag, step)).fetchone()
                assert (row is None and value is None) or row[0] == value, (tag, size, block)
        assert stored == _blocks_from_a_full_scan(db)
    finally:
        db.close()


_SUMMARY_VALUES = st.one_of(
    st.floats(-10, 10), st.sampled_from([1e6, -1e6, math.nan, math.inf, -math.inf]))


@given(calls=st.lists(st.tuples(
    st.one_of(st.integers(0, 40), st.integers(0, 3_000), st.integers(0, 40_000)),
    st.dictionaries(st.sampled_from(["loss", "acc"]), _SUMMARY_VALUES, min_size=1)),
    min_size=1, max_size=150))
def test_the_scalar_summary_matches_a_full_scan(
        calls: list[tuple[int, dict[str, float]]]) -> None:
    # Steps in any order, sparse or dense, spikes, NaN and infinities, steps logged again
    # (a re-logged step must not leave its old extreme in its blocks).
    with tempfile.TemporaryDirectory() as directory:
        writer = StoreWriter(directory)
        run_id, _ = writer.create_run("r")
        other, _ = writer.create_run("other")
        for step, values in calls:
            writer.log_scalars(run_id, step, values)
            writer.log_scalars(other, step // 3, {"loss": 1.0})
        writer.close()
        _check_blocks(Path(directory))


def test_a_step_logged_again_takes_its_old_extreme_out_of_the_summary(tmp_path: Path) -> None:
    with Run(tmp_path, name="a") as run:
        for step in range(10_000):
            run.log(step, loss=1.0 + step % 7 / 10)
        run.log(5_000, loss=1e6)   # a spike ...
        run.log(5_000, loss=0.5)   # ... logged again: the curve's maximum is 1.6 again
        run.log(6_000, loss=math.nan)
        run.log(6_000, loss=1.3)   # a gap filled in
    _check_blocks(tmp_path)
    db = sqlite3.connect(store_path(tmp_path))
    assert db.execute("SELECT MAX(max_value), MIN(min_value), SUM(gaps) FROM scalar_blocks "
                      "WHERE size = 4096").fetchone() == (1.6, 0.5, 0)
    db.close()


def _as_schema_2(directory: Path) -> None:
    """Turn a store into what a schema-2 writer left: the same tables, no summary."""
    db = sqlite3.connect(store_path(directory))
    db.executescript("DROP TABLE scalar_blocks; DROP INDEX scalars_gaps; "
                     "PRAGMA user_version = 2;")
    db.close()


def test_a_schema_2_store_is_read_by_scanning_and_summarised_by_a_writer(tmpfs: Path) -> None:
    with Run(tmpfs, name="old") as run:
        for step in range(3_000):
            run.log(step, loss=50.0 if step == 1_234 else math.nan if step == 77 else 1.0,
                    acc=step / 3_000)
    _as_schema_2(tmpfs)
    reader = StoreReader(tmpfs)
    before = reader.scalars("old")
    with reader.read() as view:
        assert view is not None and view.version == 2
        curve = read_curves(view, ["old"], max_points=50)["runs"]["old"]["loss"]
    assert curve["points"] == 3_000 and 1_234 in curve["steps"] and 77 in curve["steps"]
    writer = StoreWriter(tmpfs)  # migrates: the summary of what was logged
    writer.log_scalars(1, 3_000, {"loss": 2.0})
    writer.close()
    db = sqlite3.connect(store_path(tmpfs))
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    db.close()
    _check_blocks(tmpfs)
    after = reader.scalars("old")
    assert after["acc"] == before["acc"] and after["loss"]["steps"] == [*range(3_001)]
    with reader.read() as view:
        assert view is not None and view.version == 3
        summarised = read_curves(view, ["old"], max_points=50)["runs"]["old"]["loss"]
    assert summarised["points"] == 3_001 and summarised["downsampled"] is True
    shown = dict(zip(summarised["steps"], summarised["values"]))
    assert (shown[1_234], shown[77], shown[3_000]) == (50.0, None, 2.0)


def test_a_read_only_schema_2_store_is_read(tmpfs: Path) -> None:
    with Run(tmpfs, name="old") as run:
        for step in range(500):
            run.log(step, loss=9.0 if step == 321 else 1.0)
    _as_schema_2(tmpfs)
    _read_only(tmpfs)
    with StoreReader(tmpfs).read() as view:
        assert view is not None and view.version == 2
        curve = read_curves(view, ["old"], max_points=20)["runs"]["old"]["loss"]
    assert curve["points"] == 500 and len(curve["steps"]) <= 20 and 321 in curve["steps"]
