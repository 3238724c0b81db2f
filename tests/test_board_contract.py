"""The board's Python/JavaScript contracts, checked without a browser.

``tests/js/board_contract.json`` pins what both sides must agree on; this file checks
the Python side and runs node's test runner on ``tests/js/`` for the JavaScript side
(node is part of the test setup, ``scripts/test.sh``: a missing node fails, not skips).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from microgrboard.drawing import format_number

ROOT = Path(__file__).resolve().parent.parent
JS_TESTS = ROOT / "tests" / "js"
CONTRACT = json.loads((JS_TESTS / "board_contract.json").read_text(encoding="utf-8"))
STATIC = ROOT / "microgrboard" / "board" / "static"


def _number(x: Any) -> float:
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(x, x)  # type: ignore[no-any-return]


@pytest.mark.parametrize("case", CONTRACT["format_number"],
                         ids=lambda c: f"{c['x']}:{c['precision']}")
def test_python_formats_numbers_as_the_contract_says(case: dict[str, Any]) -> None:
    assert format_number(_number(case["x"]), case["precision"]) == case["text"]


@pytest.mark.parametrize("case", CONTRACT["run_filter"], ids=lambda c: repr(c["filter"]))
def test_run_filter_cases_are_python_regular_expressions(case: dict[str, Any]) -> None:
    # The page filters as TensorBoard does: re.search, case-insensitive. Cases chosen so
    # that Python's and JavaScript's dialects agree, which pins what the fixture means.
    pattern = case["filter"].strip()
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error:
        assert not case["valid"] and case["shown"] == []
        return
    assert case["valid"]
    assert [n for n in case["names"] if compiled.search(n)] == case["shown"]


def test_node_runs_the_javascript_side() -> None:
    node = shutil.which("node")
    assert node is not None, "node is missing: scripts/test.sh installs it (apt-get install nodejs)"
    files = sorted(str(p) for p in JS_TESTS.glob("*.test.js"))
    assert len(files) >= 2
    done = subprocess.run([node, "--test", *files], capture_output=True, text=True, timeout=120,
                          cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    passed = re.search(r"^# pass (\d+)$", done.stdout, re.MULTILINE)
    failed = re.search(r"^# fail (\d+)$", done.stdout, re.MULTILINE)
    assert passed and int(passed.group(1)) >= 10 and failed and failed.group(1) == "0", done.stdout


def test_the_fixture_lists_the_servers_panel_registry() -> None:
    from microgrboard.board.panels import registry

    served = [{k: p[k] for k in ("name", "schema", "module")}
              for p in registry()["panels"]]  # type: ignore[attr-defined]
    assert CONTRACT["panels"] == served
    for panel in served:
        assert (STATIC / panel["module"].removeprefix("/static/")).is_file(), panel


def test_a_zoom_range_is_the_steps_the_server_returns(tmp_path: Path) -> None:
    # The page turns a zoomed axis into start/end (zoom_range cases); the server answers
    # exactly the steps start..end, inclusive, at full resolution.
    from starlette.testclient import TestClient

    from microgrboard.board.server import create_app
    from microgrboard.board.writer import Run

    with Run(tmp_path, name="r") as run:
        for step in range(0, 300, 3):
            run.log(step, loss=float(step))
    client = TestClient(create_app(tmp_path))
    for case in CONTRACT["zoom_range"]:
        if case["range"] is None:
            continue
        start, end = case["range"]["start"], case["range"]["end"]
        answer = client.get("/api/scalars", params={"run": "r", "start": start, "end": end})
        assert answer.status_code == 200, answer.text
        curve = answer.json()["runs"]["r"].get("loss", {"steps": [], "downsampled": False})
        assert curve["steps"] == [s for s in range(0, 300, 3) if start <= s <= end], case
        assert not curve["downsampled"]
