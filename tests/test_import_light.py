"""``import microgrboard`` stays light: no drawing, board, plotting or test libraries.

Checked in a fresh interpreter, since this test process has imported them all already.
"""

import json
import subprocess
import sys

HEAVY = (
    "graphviz",
    "pygraphviz",
    "matplotlib",
    "sqlite3",
    "starlette",
    "plotly",
    "hypothesis",
    "tqdm",
    "numpy",
)


def modules_after(code: str) -> set[str]:
    """The top-level packages in ``sys.modules`` after running ``code`` in a fresh Python."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    return {name.split(".")[0] for name in json.loads(done.stdout.splitlines()[-1])}


def test_import_microgrboard_pulls_in_no_heavy_library():
    loaded = modules_after("import microgrboard")
    assert "microgrboard" in loaded  # the import did happen
    assert sorted(loaded.intersection(HEAVY)) == []


def test_building_and_differentiating_a_graph_stays_light():
    code = (
        "import microgrboard\n"
        "x = microgrboard.Value(2.0)\n"
        "y = x ** 3\n"
        "y.backward()\n"
        "assert x.grad == 12.0, x.grad\n"
        "(dy,) = microgrboard.grad(y, [x], create_graph=True)\n"
        "assert microgrboard.grad(dy, [x])[0].data == 12.0\n"
    )
    assert sorted(modules_after(code).intersection(HEAVY)) == []


def test_the_check_would_notice_a_heavy_import():
    # Guards the test itself: a library that is imported does show up.
    assert "sqlite3" in modules_after("import microgrboard, sqlite3")
