"""The board's HTTP API, through Starlette's TestClient, and ``microgrboard board``."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from argparse import Namespace
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest

with warnings.catch_warnings():  # Starlette 1.x nags about httpx vs httpx2; httpx works
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from microgrboard import Value
from microgrboard.board.server import bind_socket, create_app, loopback_hosts, serve
from microgrboard.board.store import StoreError, StoreWriter, store_path
from microgrboard.board.writer import Run
from microgrboard.examples import apple_tax, neuron
from microgrboard.nn import MLP

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
    assert '<div id="scalars"' in response.text and "/vendor/plotly.min.js" in response.text
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_static_files_and_plotly_from_the_plotly_package(client: TestClient) -> None:
    assert "function formatNumber" in client.get("/static/board.js").text
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
