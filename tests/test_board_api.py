"""The board's HTTP API, through Starlette's TestClient, and ``microgrboard board``."""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from argparse import Namespace
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest
from hypothesis import given
from hypothesis import strategies as st

with warnings.catch_warnings():  # Starlette 1.x nags about httpx vs httpx2; httpx works
    warnings.simplefilter("ignore")
    from starlette.requests import Request
    from starlette.testclient import TestClient

from microgrboard import Value
from microgrboard.board.api import run_param, run_params
from microgrboard.board.server import bind_socket, create_app, loopback_hosts, serve
from microgrboard.board.store import (
    InvalidParameter,
    StoreError,
    StoreReader,
    StoreWriter,
    store_path,
)
from microgrboard.board.writer import Run
from microgrboard.examples import apple_tax, neuron
from microgrboard.nn import MLP
from microgrboard.snapshot import snapshot, structure_key, to_json

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def logdir(tmp_path: Path) -> Path:
    model = MLP(2, [2, 1], seed=0)
    with Run(tmp_path, name="good", hparams={"lr": 0.1}) as run:
        for step in range(3):
            run.log(step, loss=1.0 / (step + 1), acc=0.5)
            run.log_graph(neuron().output, step, tag="neuron")
        run.log(3, loss=float("nan"))
        run.log_graph(apple_tax().output, 0, tag="apples")
        run.log_params(model, 0)
        run.log_decision_boundary(0, [0, 1], [0, 1], [[-1, 1], [1, 2]], [(0, 0)], [1])
    return tmp_path


@pytest.fixture
def client(logdir: Path) -> TestClient:
    return TestClient(create_app(logdir))


def test_index_page_is_served_with_security_headers(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    assert 'id="panels"' in response.text and "/vendor/plotly.min.js" in response.text
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_static_files_and_plotly_from_the_plotly_package(client: TestClient) -> None:
    assert "export function formatNumber" in client.get("/static/lib/format.js").text
    assert client.get("/static/board.css").status_code == 200
    plotly = client.get("/vendor/plotly.min.js")
    assert plotly.status_code == 200 and "javascript" in plotly.headers["content-type"]
    assert len(plotly.content) > 1_000_000 and b"plotly.js" in plotly.content[:500]
    assert client.get("/static/../server.py").status_code == 404


def test_runs(client: TestClient, logdir: Path) -> None:
    body = client.get("/api/runs").json()
    assert body["logdir"] == str(logdir)
    [run] = body["runs"]
    assert run["name"] == "good" and run["hparams"] == {"lr": 0.1}
    assert run["tags"] == ["acc", "loss"] and run["status"] == "finished"
    assert (run["graphs"], run["params"], run["boundaries"], run["last_step"]) == (4, 1, 1, 3)


def test_scalars_are_strict_json_with_gaps_for_nan(client: TestClient) -> None:
    response = client.get("/api/scalars", params={"run": "good"})
    assert "NaN" not in response.text
    loss = response.json()["runs"]["good"]["loss"]
    assert loss["steps"] == [0, 1, 2, 3]
    assert loss["values"][:3] == [1.0, 0.5, pytest.approx(1 / 3)] and loss["values"][3] is None


def test_scalars_of_several_runs(client: TestClient, logdir: Path) -> None:
    with Run(logdir, name="other") as run:
        run.log(0, loss=7.0)
    runs = client.get("/api/scalars", params=[("run", "good"), ("run", "other")]).json()["runs"]
    assert runs["other"]["loss"]["values"] == [7.0] and "acc" in runs["good"]


def test_graph_list_snapshot_and_cached_layout(client: TestClient) -> None:
    graphs = client.get("/api/graphs", params={"run": "good"}).json()["graphs"]
    assert [(g["tag"], g["step"]) for g in graphs] == [
        ("apples", 0), ("neuron", 0), ("neuron", 1), ("neuron", 2)]
    first = graphs[1]
    record = client.get("/api/graph", params={"run": "good", "id": first["id"]}).json()
    snap = record["snapshot"]
    assert record["structure_key"] == first["structure_key"]
    assert {"id", "label", "op", "data", "grad"} <= snap["nodes"][0].keys()
    assert snap["nodes"][snap["root"]]["data"] == pytest.approx(0.7071067811865476)

    layouts = client.app.state.layouts  # type: ignore[attr-defined]
    svg = client.get("/api/graph.svg", params={"run": "good", "key": first["structure_key"]})
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    for node in snap["nodes"]:  # every node and its cells are addressable by the page
        assert f'id="n{node["id"]}"' in svg.text
        assert f'id="a_n{node["id"]}&#45;data"' in svg.text
    assert "8.888e&#45;05" in svg.text  # placeholder numbers: the page writes the real ones
    assert layouts.layouts_computed == 1
    for _ in range(3):  # the same structure again: no new layout
        client.get("/api/graph.svg", params={"run": "good", "key": first["structure_key"]})
    assert layouts.layouts_computed == 1
    client.get("/api/graph.svg", params={"run": "good", "key": graphs[0]["structure_key"]})
    assert layouts.layouts_computed == 2


def test_params_and_boundary(client: TestClient) -> None:
    assert client.get("/api/params/steps", params={"run": "good"}).json() == {
        "schema": 1, "steps": [0]}
    params = client.get("/api/params", params={"run": "good", "step": 0}).json()
    assert (params["schema"], params["run"], params["step"]) == (1, "good", 0)
    assert params["names"][:3] == ["L0.N0.w0", "L0.N0.w1", "L0.N0.b"]
    assert len(params["data"]) == len(params["grad"]) == 9
    assert client.get("/api/boundary/steps", params={"run": "good"}).json()["steps"] == [0]
    boundary = client.get("/api/boundary", params={"run": "good", "step": 0}).json()
    assert boundary["scores"] == [[-1, 1], [1, 2]] and boundary["labels"] == [1]
    assert boundary["schema"] == 2 and boundary["classes"] is None


ENDPOINTS = ["/api/scalars", "/api/graphs", "/api/graph", "/api/graph.svg", "/api/graph/player",
             "/api/params/steps", "/api/params", "/api/boundary/steps", "/api/boundary",
             "/api/network/steps", "/api/network"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("name", ["../good", "..", "a/b", "..\\x", "x\x00"])
def test_bad_run_names_are_400(client: TestClient, endpoint: str, name: str) -> None:
    response = client.get(endpoint, params={"run": name, "id": 1, "step": 0, "key": "ab"})
    assert response.status_code == 400
    assert "run name" in response.json()["error"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_unknown_runs_are_404_and_missing_parameters_400(
    client: TestClient, endpoint: str
) -> None:
    response = client.get(endpoint, params={"run": "nope", "id": 1, "step": 0, "key": "ab"})
    assert response.status_code == 404 and "no run named 'nope'" in response.json()["error"]
    assert client.get(endpoint).status_code == 400


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/api/graph", {"run": "good", "id": "x"}, 400, "must be an integer"),
        ("/api/graph", {"run": "good", "id": "-1"}, 400, "must be >= 0"),
        ("/api/graph", {"run": "good", "id": "999"}, 404, "no graph snapshot 999"),
        ("/api/params", {"run": "good", "step": "7"}, 404, "no params at step 7"),
        ("/api/boundary", {"run": "good", "step": "1.5"}, 400, "must be an integer"),
        ("/api/graph.svg", {"run": "good", "key": "../x"}, 400, "structure key"),
        ("/api/graph.svg", {"run": "good", "key": "abc123"}, 404, "no graph with structure"),
        ("/api/graph", {"run": "good", "id": "99999999999999999999999"}, 400, "at most 2**63"),
        ("/api/params", {"run": "good", "step": str(2**63)}, 400, "at most 2**63"),
        ("/api/boundary", {"run": "good", "step": "9" * 5000}, 400, "must be an integer"),
        ("/api/scalars", {"run": "good", "since": str(2**64)}, 400, "at most 2**63"),
    ],
)
def test_bad_parameters(client: TestClient, path: str, params: dict[str, str], status: int,
                        message: str) -> None:
    response = client.get(path, params=params)
    assert response.status_code == status and message in response.json()["error"]


def test_path_like_urls_do_not_reach_files(client: TestClient) -> None:
    for url in ["/api/runs/../../etc/passwd", "/static/%2e%2e/server.py", "/..%2f..%2fetc"]:
        response = client.get(url)
        assert response.status_code == 404 and "root:" not in response.text


def test_user_strings_are_escaped_in_the_page(tmp_path: Path) -> None:
    evil = tmp_path / "<script>alert(1)<\\script>"
    evil.mkdir()
    page = TestClient(create_app(evil)).get("/").text
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;" in page


def test_labels_are_escaped_in_the_drawing(tmp_path: Path) -> None:
    x = Value(1.0, "<img src=x onerror=alert(1)>")
    y = x * 2.0
    y.label = "</text><script>alert(2)</script>"
    y.backward()
    with Run(tmp_path, name="<b onclick=alert(3)>bold") as run:
        run.log_graph(y, 0, tag="<i>t<\\i>")
    client = TestClient(create_app(tmp_path))
    key = client.get("/api/graphs", params={"run": "<b onclick=alert(3)>bold"}).json()["graphs"][0][
        "structure_key"]
    svg = client.get("/api/graph.svg", params={"run": "<b onclick=alert(3)>bold", "key": key}).text
    assert "<script" not in svg and "<img" not in svg
    assert "&lt;img src=x onerror=alert(1)&gt;" in svg


def test_json_is_strict_for_non_finite_graph_numbers(tmp_path: Path) -> None:
    x = Value(-1.0, "x")
    y = x * float("inf")  # data -inf
    y.backward()
    with Run(tmp_path, name="inf") as run:
        run.log_graph(y, 0)
    client = TestClient(create_app(tmp_path))
    response = client.get("/api/graph", params={"run": "inf", "id": 1})
    body = json.loads(response.text, parse_constant=lambda c: pytest.fail(f"bare {c}"))
    assert body["snapshot"]["nodes"][-1]["data"] == "-Infinity"


def test_empty_missing_and_vanishing_log_directories(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        create_app(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    client = TestClient(create_app(empty))
    assert client.get("/api/runs").json()["runs"] == []  # training may not have started
    assert client.get("/").status_code == 200
    assert client.get("/api/scalars", params={"run": "x"}).status_code == 404
    empty.rmdir()
    response = client.get("/api/runs")
    assert response.status_code == 500 and "no longer exists" in response.json()["error"]


def test_a_corrupt_store_is_refused_up_front(tmp_path: Path) -> None:
    store_path(tmp_path).write_bytes(b"garbage" * 1000)
    with pytest.raises(StoreError, match="corrupt"):
        create_app(tmp_path)


def test_the_board_only_reads(client: TestClient, logdir: Path) -> None:
    # A run still writing: its log is in the WAL file, which readers must not touch either.
    live = Run(logdir, name="live")
    live.log(0, loss=1.0)
    db, wal = store_path(logdir), Path(f"{store_path(logdir)}-wal")
    assert wal.stat().st_size > 0

    def state() -> list[tuple[bytes, int, int]]:
        return [(f.read_bytes(), f.stat().st_size, f.stat().st_mtime_ns) for f in (db, wal)]

    before = state()
    time.sleep(0.02)  # so that a write would show in the mtimes
    graph = client.get("/api/graphs", params={"run": "good"}).json()["graphs"][0]
    gets = ["/", "/api/runs", "/api/scalars?run=good&run=live", "/api/scalars?run=good&since=3",
            "/api/graphs?run=good", f"/api/graph?run=good&id={graph['id']}",
            f"/api/graph.svg?run=good&key={graph['structure_key']}", "/api/params/steps?run=good",
            "/api/params?run=good&step=0", "/api/boundary/steps?run=good",
            "/api/boundary?run=good&step=0", "/api/network/steps?run=good", "/api/changes",
            "/api/panels", "/api/scalars?run=good&run=live&start=1&end=2&max_points=2"]
    for path in gets:
        assert client.get(path).status_code == 200, path
    assert client.post("/api/runs").status_code == 405
    assert state() == before
    live.close()


def test_scalars_since_a_cursor(client: TestClient, logdir: Path) -> None:
    body = client.get("/api/scalars", params={"run": "good"}).json()
    cursor = body["cursors"]["good"]
    again = client.get("/api/scalars", params={"run": "good", "since": cursor}).json()
    assert (again["runs"], again["cursors"], again["errors"]) == (
        {"good": {}}, {"good": cursor}, {})
    with Run(logdir, name="other") as other:
        other.log(0, loss=1.0)  # another run's points do not show
    writer = StoreWriter(logdir)  # "good" goes on: a new step, and step 1 logged again
    writer.log_scalars(1, 4, {"loss": 0.2})
    writer.log_scalars(1, 1, {"acc": 0.75})
    writer.close()
    new = client.get("/api/scalars", params={"run": "good", "since": cursor}).json()
    assert new["runs"]["good"] == {
        "loss": {"steps": [4], "values": [0.2], "points": 1, "downsampled": False},
        "acc": {"steps": [1], "values": [0.75], "points": 1, "downsampled": False}}
    assert new["cursors"]["good"] > cursor


def test_a_bad_stored_snapshot_is_a_json_error(tmp_path: Path) -> None:
    writer = StoreWriter(tmp_path)
    run_id, _ = writer.create_run("bad")
    # Written past Run.log_graph's checks (another tool, an older version): edges to nowhere.
    snap = {"version": 1, "root": 0, "seed": 1.0, "edges": [{"parent": 0, "child": 7, "share": 1}],
            "nodes": [{"id": 0, "label": "x", "op": "", "data": 1.0, "grad": 1.0}]}
    writer.log_graph(run_id, 0, "graph", json.dumps(snap), "abc123", 1)
    writer.close()
    client = TestClient(create_app(tmp_path))
    response = client.get("/api/graph.svg", params={"run": "bad", "key": "abc123"})
    assert response.status_code == 500
    assert "stored graph snapshot is invalid" in response.json()["error"]
    assert client.app.state.layouts._key_locks == {}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("bound", "good", "bad"),
    [
        ("127.0.0.1", ["127.0.0.1:6006", "localhost:6006", "localhost"], ["evil.com:6006"]),
        ("127.0.0.2", ["127.0.0.2:6006", "127.0.0.1:6006"], ["127.0.0.3:6006", "evil.com"]),
        ("::1", ["[::1]:6006", "[0:0:0:0:0:0:0:1]:6006", "localhost:6006"],
         ["evil.com:6006", "[::2]:6006", "[::1:6006"]),
    ],
)
def test_the_board_answers_its_own_url_and_only_that(logdir: Path, bound: str, good: list[str],
                                                     bad: list[str]) -> None:
    client = TestClient(create_app(logdir, allowed_hosts=loopback_hosts(bound)))
    for host in good:
        assert client.get("/api/runs", headers={"host": host}).status_code == 200, host
    for host in bad:
        response = client.get("/api/runs", headers={"host": host})
        assert response.status_code == 400 and "Host" in response.json()["error"], host
    assert loopback_hosts("0.0.0.0") is None and loopback_hosts("192.168.1.2") is None


def test_host_header_checked_when_given(logdir: Path) -> None:
    client = TestClient(create_app(logdir, allowed_hosts=["127.0.0.1"]), base_url="http://evil.com")
    assert client.get("/api/runs").status_code == 400
    client = TestClient(create_app(logdir, allowed_hosts=["127.0.0.1"]),
                        base_url="http://127.0.0.1:6006")
    assert client.get("/api/runs").status_code == 200


def test_serve_refuses_a_missing_logdir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = serve(Namespace(logdir=str(tmp_path / "nope"), host="127.0.0.1", port=6006))
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


def test_serve_refuses_a_corrupt_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store_path(tmp_path).write_bytes(b"garbage" * 1000)
    assert serve(Namespace(logdir=str(tmp_path), host="127.0.0.1", port=6006)) == 2
    assert "corrupt" in capsys.readouterr().err


def test_a_busy_port_moves_to_the_next_free_one() -> None:
    first, port = bind_socket("127.0.0.1", 0)
    try:
        second, other = bind_socket("127.0.0.1", port, tries=20)
        second.close()
        assert other != port and port < other < port + 20
        with pytest.raises(OSError, match="all busy"):
            bind_socket("127.0.0.1", port, tries=1)
    finally:
        first.close()


def test_microgrboard_board_command_serves_and_says_where(
    logdir: Path, line_reader: Callable[[IO[str], float], Callable[[], str]]
) -> None:
    # A busy port: the command says so and uses the next one.
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "microgrboard", "board", "--logdir", str(logdir),
         "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        readline = line_reader(process.stdout, 20)
        lines = [readline(), readline()]
        assert f"port {port} is busy" in lines[0], lines
        match = re.search(r"at (http://127\.0\.0\.1:(\d+)/)", lines[1])
        assert match, lines
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(match.group(1) + "api/runs", timeout=2) as response:
                    body = json.load(response)
                break
            except OSError:
                assert time.monotonic() < deadline, "the board did not answer"
                time.sleep(0.1)
        assert [r["name"] for r in body["runs"]] == ["good"]
    finally:
        process.terminate()
        process.wait(10)
        busy.close()


# --- issue 10: panels, downsampling, many runs, cheap polling --------------------------


def test_the_panel_registry_is_served_and_every_route_answers(client: TestClient) -> None:
    from microgrboard.board.panels import PANELS

    body = client.get("/api/panels").json()
    assert body["schema"] == 1
    assert [p["name"] for p in body["panels"]] == ["scalars", "graph", "network", "params",
                                                   "boundary"]
    docs = (ROOT / "docs" / "board.md").read_text()
    served = {route.path for route in client.app.routes}  # type: ignore[attr-defined]
    for panel, described in zip(PANELS, body["panels"]):
        assert described["module"] == f"/static/panels/{panel.name}.js"
        assert described["schema"] == panel.schema and described["routes"] == list(panel.paths)
        for path in panel.paths:
            assert path in served
            assert path.split("{")[0] in docs, f"{path} is not documented in docs/board.md"
        assert f"| `{panel.name}` | {panel.title} | {panel.schema} |" in docs


def _spiky_run(logdir: Path, name: str, steps: int) -> None:
    """``loss`` = a slow curve, with a one-step spike at 3,456 and a NaN at 777."""
    writer = StoreWriter(logdir)
    run_id, _ = writer.create_run(name)
    for step in range(steps):
        loss = 1.0 + 0.1 * math.sin(step / 500)
        loss = 50.0 if step == 3_456 else float("nan") if step == 777 else loss
        writer.log_scalars(run_id, step, {"loss": loss, "lr": 0.1})
    writer.close()


def test_long_curves_are_downsampled_keeping_spikes_and_zoom_is_full_resolution(
    tmp_path: Path,
) -> None:
    _spiky_run(tmp_path, "long", 5_000)
    client = TestClient(create_app(tmp_path))
    body = client.get("/api/scalars", params={"run": "long"}).json()
    loss = body["runs"]["long"]["loss"]
    assert loss["points"] == 5_000 and loss["downsampled"] is True
    assert len(loss["steps"]) <= 2_000 and loss["steps"] == sorted(loss["steps"])
    assert (loss["steps"][0], loss["steps"][-1]) == (0, 4_999)
    shown = dict(zip(loss["steps"], loss["values"]))
    assert shown[3_456] == 50.0  # the one-step spike is there
    assert 777 in shown and shown[777] is None  # and the gap
    assert body["runs"]["long"]["lr"]["points"] == 5_000
    fewer = client.get("/api/scalars", params={"run": "long", "max_points": 100}).json()
    assert len(fewer["runs"]["long"]["loss"]["steps"]) <= 100
    assert 3_456 in fewer["runs"]["long"]["loss"]["steps"]
    zoom = client.get("/api/scalars", params={"run": "long", "start": 3_000, "end": 4_499,
                                              "tag": "loss"}).json()["runs"]["long"]
    assert list(zoom) == ["loss"]
    assert zoom["loss"]["steps"] == list(range(3_000, 4_500))
    assert zoom["loss"]["downsampled"] is False and zoom["loss"]["points"] == 1_500
    # The downsampled curve is kept for the next page, until the run logs again.
    assert len(client.app.state.curves._items) == 5  # type: ignore[attr-defined]
    writer = StoreWriter(tmp_path)
    writer.log_scalars(1, 5_000, {"loss": 99.0})
    writer.log_scalars(1, 5, {"loss": -7.0})  # a step logged again, far back
    writer.close()
    again = client.get("/api/scalars", params={"run": "long"}).json()["runs"]["long"]["loss"]
    assert again["points"] == 5_001 and again["steps"][-1] == 5_000
    assert dict(zip(again["steps"], again["values"]))[5] == -7.0  # the new minimum shows


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"run": "good", "since": 1, "start": 0}, "cannot be combined"),
        ({"run": "good", "start": 5, "end": 4}, "must not be after"),
        ({"run": "good", "max_points": 1}, "must be >= 2"),
        ({"run": "good", "max_points": 20_001}, "at most 20000"),
        ({"run": "good", "tag": ""}, "tag"),
    ],
)
def test_bad_scalar_parameters(client: TestClient, params: dict[str, object],
                               message: str) -> None:
    response = client.get("/api/scalars", params=params)  # type: ignore[arg-type]
    assert response.status_code == 400 and message in response.json()["error"]


def test_many_runs_in_one_request_and_a_poll_with_one_cursor(client: TestClient,
                                                             logdir: Path) -> None:
    for i in range(5):
        with Run(logdir, name=f"r{i}") as run:
            run.log(0, loss=float(i))
    names = ["good", *(f"r{i}" for i in range(5))]
    body = client.get("/api/scalars", params=[("run", n) for n in names]).json()
    assert list(body["runs"]) == names
    assert [body["runs"][f"r{i}"]["loss"]["values"] for i in range(5)] == [[float(i)]
                                                                          for i in range(5)]
    writer = StoreWriter(logdir)
    run_id, _ = writer.create_run("later")  # not asked for: never shows
    writer.log_scalars(run_id, 0, {"loss": 9.0})
    writer.close()
    with Run(logdir, name="r3", if_exists="replace") as run:
        run.log(1, loss=33.0)
    poll = client.get("/api/scalars", params=[("since", body["cursor"]),
                                              *(("run", n) for n in names)]).json()
    assert {n: c for n, c in poll["runs"].items() if c} == {
        "r3": {"loss": {"steps": [1], "values": [33.0], "points": 1, "downsampled": False}}}
    assert poll["cursor"] > body["cursor"]


def test_a_thousand_repeats_cost_one_run(client: TestClient, logdir: Path) -> None:
    once = client.get("/api/scalars", params={"run": "good"})
    app_reader = _reader(client)
    app_reader.statements = 0
    client.get("/api/scalars", params={"run": "good"})
    single = app_reader.statements
    app_reader.statements = 0
    repeated = client.get("/api/scalars", params=[("run", "good")] * 1000)
    assert repeated.status_code == 200 and repeated.json()["runs"] == once.json()["runs"]
    assert app_reader.statements == single  # de-duplicated: the work of one
    too_many = client.get("/api/scalars", params=[("run", f"r{i}") for i in range(501)])
    assert too_many.status_code == 400 and "at most 500" in too_many.json()["error"]


def _reader(client: TestClient) -> StoreReader:
    return client.app.state.reader  # type: ignore[attr-defined,no-any-return]


def test_anything_new_is_a_cheap_question(client: TestClient, logdir: Path) -> None:
    first = client.get("/api/changes").json()
    assert first["changed"] is True and list(first["runs"]) == ["good"]
    reader = _reader(client)
    reader.statements = 0
    same = client.get("/api/changes", params={"token": first["token"]}).json()
    assert same == {"schema": 1, "token": first["token"], "changed": False}
    assert reader.statements <= 8  # a few statements on the runs table, whatever was logged
    with Run(logdir, name="new") as run:
        run.log(0, loss=1.0)
    after = client.get("/api/changes", params={"token": first["token"]}).json()
    assert after["changed"] is True and after["token"] != first["token"]
    assert after["runs"]["good"] == first["runs"]["good"] and "new" in after["runs"]


def test_one_bad_row_is_a_json_error_for_that_run_only(client: TestClient, logdir: Path) -> None:
    with Run(logdir, name="bad") as run:
        run.log(0, loss=1.0)
    db = sqlite3.connect(store_path(logdir))
    db.execute("UPDATE runs SET hparams = '{broken' WHERE name = 'bad'")
    db.execute("UPDATE scalars SET value = 'oops' WHERE run_id = "
               "(SELECT id FROM runs WHERE name = 'bad')")
    db.commit()
    db.close()
    runs = client.get("/api/runs")
    assert runs.status_code == 200
    by_name = {r["name"]: r for r in runs.json()["runs"]}
    assert by_name["good"]["error"] is None and by_name["good"]["hparams"] == {"lr": 0.1}
    assert "not JSON" in by_name["bad"]["error"]
    scalars = client.get("/api/scalars", params=[("run", "good"), ("run", "bad")])
    assert scalars.status_code == 200
    body = scalars.json()
    assert body["runs"]["bad"] == {} and "'oops'" in body["errors"]["bad"]
    assert body["runs"]["good"]["loss"]["steps"] == [0, 1, 2, 3] and "good" not in body["errors"]


def test_an_oversize_stored_label_is_drawn_cut(tmp_path: Path) -> None:
    writer = StoreWriter(tmp_path)  # past Run.log_graph's check, as an older version wrote
    run_id, _ = writer.create_run("long")
    x = Value(1.0, "é" * 20_000)  # past Graphviz's 16 KB limit for an HTML label
    y = x * 2.0
    y.backward()
    snap = snapshot(y)
    writer.log_graph(run_id, 0, "graph", to_json(snap), structure_key(snap), 3)
    writer.close()
    client = TestClient(create_app(tmp_path))
    svg = client.get("/api/graph.svg", params={"run": "long", "key": structure_key(snap)})
    assert svg.status_code == 200 and "é" * 100 in svg.text and "é" * 1000 not in svg.text


def test_the_graph_player_route_plays_a_logged_snapshot(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from microgrboard import player

    played: list[object] = []
    real_payload = player.player_payload

    def counted_payload(*args: object, **options: object) -> dict[str, object]:
        played.append(options.get("style"))
        return real_payload(*args, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(player, "player_payload", counted_payload)
    graph = client.get("/api/graphs", params={"run": "good"}).json()["graphs"][1]
    stored = client.get("/api/graph", params={"run": "good", "id": graph["id"]}).json()
    body = client.get("/api/graph/player", params={"run": "good", "id": graph["id"],
                                                   "style": "book"}).json()
    assert body["player"] == json.loads(json.dumps(real_payload(stored["snapshot"],
                                                                style="book")))
    assert body["svg"].lstrip().startswith(("<?xml", "<svg"))
    assert (body["tag"], body["step"]) == ("neuron", 0)
    calls = len(played)
    assert calls and "book" in played
    client.get("/api/graph/player", params={"run": "good", "id": graph["id"], "style": "book"})
    assert len(played) == calls  # laid out once, then served from the cache
    bad = client.get("/api/graph/player", params={"run": "good", "id": graph["id"],
                                                  "style": "<x>"})
    assert bad.status_code == 400 and "style" in bad.json()["error"]
    script = client.get("/player/player.js")
    assert script.status_code == 200
    assert script.text == player.asset_path("player.js").read_text(encoding="utf-8")
    assert script.headers["content-type"].startswith("text/javascript")
    assert client.get("/player/other.js").status_code == 404


def test_a_missing_optional_package_is_an_import_error(client: TestClient,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from microgrboard.board import server

    monkeypatch.setattr(server, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r"pip install 'microgrboard\[board\]'"):
        server.plotly_js_path()
    response = client.get("/vendor/plotly.min.js")
    assert response.status_code == 500 and "pip install" in response.json()["error"]
    monkeypatch.setitem(sys.modules, "microgrboard.player", None)  # as if not installed
    graph = client.get("/api/graphs", params={"run": "good"}).json()["graphs"][0]
    response = client.get("/api/graph/player", params={"run": "good", "id": graph["id"]})
    assert response.status_code == 500 and "pip install" in response.json()["error"]


def test_the_graph_player_route_with_the_real_player(tmp_path: Path) -> None:
    from microgrboard import player
    from microgrboard.datasets import moons
    from microgrboard.training import loss_graph, neuron_graph

    X, y = moons(20, noise=0.1, seed=1)
    model = MLP(2, [4, 1], seed=1)
    with Run(tmp_path, name="r") as run:
        run.log_graph(neuron_graph(model.layers[0].neurons[0], X[0]), 0, "neuron")
        run.log_graph(loss_graph(model, X, y), 0, "loss")
    client = TestClient(create_app(tmp_path))
    for graph in client.get("/api/graphs", params={"run": "r"}).json()["graphs"]:
        body = client.get("/api/graph/player", params={"run": "r", "id": graph["id"]}).json()
        stored = client.get("/api/graph", params={"run": "r", "id": graph["id"]}).json()
        assert body["player"] == json.loads(json.dumps(
            player.player_payload(stored["snapshot"], style="record")))
        assert body["svg"].lstrip().startswith(("<?xml", "<svg"))
    assert client.get("/player/player.js").text == player.asset_path("player.js").read_text()


def test_a_stored_payload_that_is_not_json_is_a_json_error(tmp_path: Path) -> None:
    writer = StoreWriter(tmp_path)  # another tool, or a damaged file
    run_id, _ = writer.create_run("bad")
    writer.log_payload("params", run_id, 0, "{not json")
    writer.log_payload("boundary", run_id, 0, "[1, 2]")
    writer.log_graph(run_id, 0, "graph", "nope", "abc", 1)
    writer.close()
    client = TestClient(create_app(tmp_path))
    graph_id = client.get("/api/graphs", params={"run": "bad"}).json()["graphs"][0]["id"]
    for path, params, message in [
        ("/api/params", {"run": "bad", "step": 0}, "params at step 0 is not JSON"),
        ("/api/boundary", {"run": "bad", "step": 0}, "is not a JSON object"),
        ("/api/graph", {"run": "bad", "id": graph_id}, f"graph {graph_id} is not JSON"),
        ("/api/graph/player", {"run": "bad", "id": graph_id}, "is not JSON"),
    ]:
        response = client.get(path, params=params)  # type: ignore[arg-type]
        assert response.status_code == 500, path
        assert message in response.json()["error"], (path, response.json())


@given(values=st.lists(st.one_of(st.floats(allow_nan=False, allow_infinity=False,
                                           width=32), st.none()), min_size=1, max_size=600),
       max_points=st.integers(2, 300), data=st.data())
def test_downsampling_keeps_extremes_ends_and_order(values: list[float | None],
                                                    max_points: int, data: st.DataObject) -> None:
    from microgrboard.board.panels.scalars import downsample

    gaps = data.draw(st.lists(st.integers(1, 40), min_size=len(values), max_size=len(values)))
    steps = list(itertools.accumulate(gaps))  # ascending, unevenly spaced
    shown_steps, shown_values = downsample(steps, values, max_points)
    assert len(shown_steps) <= max(max_points, len(steps) if len(steps) <= max_points else 0)
    assert shown_steps == sorted(set(shown_steps)) and set(shown_steps) <= set(steps)
    point = dict(zip(steps, values))
    assert all(point[s] == v for s, v in zip(shown_steps, shown_values))
    assert (shown_steps[0], shown_steps[-1]) == (steps[0], steps[-1])
    finite = [v for v in values if v is not None]
    if finite and max_points >= 8:  # room for the ends, some gaps and a min/max pair
        kept = [v for v in shown_values if v is not None]
        assert min(finite) in kept and max(finite) in kept
    if len(steps) > max_points and values.count(None) <= max_points // 4:
        assert shown_values.count(None) == values.count(None)  # every gap shows


_CURVE_VALUES = st.one_of(
    st.floats(-10, 10), st.sampled_from([1e6, -1e6, math.nan, math.inf, -math.inf]))


@given(points=st.dictionaries(st.integers(0, 6_000), _CURVE_VALUES, min_size=1, max_size=250),
       again=st.dictionaries(st.integers(0, 6_000), _CURVE_VALUES, max_size=20),
       max_points=st.integers(2, 60),
       zoom=st.none() | st.tuples(st.integers(0, 6_000), st.integers(0, 6_000)),
       order=st.randoms(use_true_random=False))
def test_curves_from_the_summary_keep_what_a_full_scan_keeps(
        points: dict[int, float], again: dict[int, float], max_points: int,
        zoom: tuple[int, int] | None, order: random.Random) -> None:
    from microgrboard.board.panels.scalars import _summary_curve, read_curves

    with tempfile.TemporaryDirectory() as directory:
        writer = StoreWriter(directory)
        run_id, _ = writer.create_run("r")
        steps = list(points)
        order.shuffle(steps)  # logged in any order; some steps logged again
        for step in steps:
            writer.log_scalars(run_id, step, {"loss": points[step]})
        for step, value in again.items():
            writer.log_scalars(run_id, step, {"loss": value})
        writer.close()
        start, end = (None, None) if zoom is None else sorted(zoom)
        with StoreReader(directory).read() as view:
            assert view is not None
            curve = read_curves(view, ["r"], start=start, end=end,
                                max_points=max_points)["runs"]["r"].get("loss")
            summary = _summary_curve(view, "r", run_id, "loss", start or 0,
                                     2**63 - 1 if end is None else end, max_points)
    final = {**points, **again}
    in_range = {s: v for s, v in sorted(final.items())
                if start is None or end is None or start <= s <= end}
    if not in_range:
        assert curve is None
        return
    assert curve is not None
    steps = list(in_range)
    if len(steps) > max_points and steps[-1] // 16 - steps[0] // 16 + 1 >= (max_points - 2) // 2:
        assert summary == curve  # answered from the summary
    shown = dict(zip(curve["steps"], curve["values"]))
    assert curve["points"] == len(steps) and curve["steps"] == sorted(shown)
    assert all(shown[s] == (in_range[s] if math.isfinite(in_range[s]) else None) for s in shown)
    assert steps[0] in shown and steps[-1] in shown
    if len(steps) <= max_points:  # a short range: every point
        assert curve["steps"] == steps and curve["downsampled"] is False
    else:
        assert len(shown) <= max_points and curve["downsampled"] is True
    finite = [v for v in in_range.values() if math.isfinite(v)]
    if finite and max_points >= 8:  # room for the ends, some gaps and a min/max pair
        assert min(finite) in shown.values() and max(finite) in shown.values()
    gaps = [s for s in steps if not math.isfinite(in_range[s])]
    if len(gaps) <= max_points // 4:
        assert all(s in shown and shown[s] is None for s in gaps)  # every gap shows


def test_long_curves_from_the_summary_keep_spikes_and_zoom_to_full_resolution(
    tmp_path: Path,
) -> None:
    _spiky_run(tmp_path, "long", 5_000)
    client = TestClient(create_app(tmp_path))

    def loss(**params: object) -> dict[str, object]:
        body = client.get("/api/scalars", params={"run": "long", "tag": "loss", "max_points": 100,
                                                  **params}).json()  # type: ignore[dict-item]
        return body["runs"]["long"]["loss"]  # type: ignore[no-any-return]

    whole = loss()
    shown = dict(zip(whole["steps"], whole["values"]))  # type: ignore[call-overload]
    assert whole["points"] == 5_000 and len(shown) <= 100
    assert (shown[0], shown[3_456], shown[777]) == (1.0, 50.0, None) and 4_999 in shown
    part = loss(start=3_001, end=4_499)  # end blocks cut by the range: their rows
    assert part["points"] == 1_499 and part["downsampled"] is True
    assert min(part["steps"]) == 3_001 and max(part["steps"]) == 4_499  # type: ignore[type-var]
    assert 3_456 in part["steps"]  # type: ignore[operator]
    zoom = loss(start=3_420, end=3_519)
    assert zoom["steps"] == list(range(3_420, 3_520)) and zoom["downsampled"] is False


def test_a_long_run_reads_its_summary_not_its_rows(tmp_path: Path) -> None:
    """A long run (written fast as a schema-2 store, then summarised by a writer's
    migration): its curve costs a fraction of reading its rows, and keeps what it must."""
    from microgrboard.board.panels.scalars import _scanned_curve, read_curves

    steps = 200_000
    writer = StoreWriter(tmp_path)
    run_id, _ = writer.create_run("long")
    writer.close()
    db = sqlite3.connect(store_path(tmp_path))
    db.executescript("DROP TABLE scalar_blocks; DROP INDEX scalars_gaps; PRAGMA user_version = 2")
    db.executemany(
        "INSERT INTO scalars (run_id, tag, step, value, wall_time) VALUES (?, 'loss', ?, ?, 0)",
        ((run_id, s, 50.0 if s == 123_457 else math.nan if s == 99_999 else 1 / (1 + s))
         for s in range(steps)))
    db.execute("UPDATE runs SET last_step = ?", (steps - 1,))
    db.execute("INSERT INTO run_series VALUES (?, 'scalar', 'loss', NULL)", (run_id,))
    db.commit()
    db.close()
    StoreWriter(tmp_path).close()  # migrates to schema 3: summarises the million points

    work = [0]
    with StoreReader(tmp_path).read() as view:
        assert view is not None and view.version == 3
        view.db.set_progress_handler(lambda: work.__setitem__(0, work[0] + 1) or 0, 1_000)
        curve = read_curves(view, ["long"])["runs"]["long"]["loss"]
        summary_work, work[0] = work[0], 0
        zoom = read_curves(view, ["long"], start=100_000, end=101_999)["runs"]["long"]["loss"]
        zoom_work, work[0] = work[0], 0
        _scanned_curve(view, "long", run_id, "loss", 0, steps, 2_000)
        scan_work = work[0]
    shown = dict(zip(curve["steps"], curve["values"]))
    assert curve["points"] == steps and len(shown) <= 2_000 and curve["downsampled"] is True
    assert (shown[0], shown[123_457], shown[99_999], shown[steps - 1]) == (
        1.0, 50.0, None, 1 / steps)
    assert zoom["steps"] == list(range(100_000, 102_000)) and zoom["downsampled"] is False
    # SQLite's work (virtual machine steps): a 200,000-point curve from 12,500 summary
    # rows (of 16 steps) at most; a zoom from its 2,000 rows.
    assert summary_work * 5 < scan_work and zoom_work * 50 < scan_work


@pytest.mark.parametrize("read_runs", [run_param, run_params])
def test_a_missing_run_parameter_is_a_missing_parameter_not_a_bad_name(
        read_runs: Callable[[Request], object]) -> None:
    request = Request({"type": "http", "method": "GET", "path": "/api/scalars",
                       "query_string": b"since=0", "headers": []})
    with pytest.raises(InvalidParameter, match="missing query parameter 'run'") as raised:
        read_runs(request)
    assert type(raised.value) is InvalidParameter  # not InvalidName: no name was given
