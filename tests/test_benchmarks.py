"""Smoke tests of the benchmarks: their --quick runs finish and print their figures.

No timing is asserted (the machine is shared and noisy); the figures live in
benchmarks/RESULTS.md. The benchmark itself checks that both engines computed the
same gradients, and fails if they did not.
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_engine.py"
NUMBER = r"\d+(?:\.\d+)?"


@pytest.fixture(scope="module")
def quick_run() -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    "ratio",
    [
        rf"^ratio demo step, gc on \(as users run it\): {NUMBER}x faster than micrograd",
        rf"^ratio demo step, gc off \(engines alone\): {NUMBER}x faster than micrograd",
        rf"^ratio chain of [\d,]+ nodes: {NUMBER}x faster than micrograd",
        rf"^ratio wide sum of [\d,]+ products: {NUMBER}x faster than micrograd",
        rf"^ratio bytes per node: {NUMBER}x smaller than micrograd \({NUMBER} B vs {NUMBER} B",
        rf"^bytes per node, chain of [\d,]+ nodes: {NUMBER} B",
        # scikit-learn (the data extra) may be absent: then the bench says so
        rf"^digits, a tenth of an epoch \(144 images\): {NUMBER} (ms|s)|^digits epoch: not run",
    ],
)
def test_quick_run_prints_each_ratio(quick_run, ratio):
    assert re.search(ratio, quick_run, re.MULTILINE), quick_run


@pytest.mark.slow
def test_quick_run_compares_with_pytorch_or_says_it_is_not_installed(quick_run):
    if importlib.util.find_spec("torch") is None:
        assert "torch is not installed" in quick_run
    else:
        for mode in ("gc on", "gc off"):
            assert re.search(
                rf"^ratio demo step, {mode} .*: {NUMBER}x faster than PyTorch", quick_run, re.M
            ), quick_run


@pytest.mark.slow
def test_quick_run_checks_that_both_engines_agree(quick_run):
    assert "both engines' losses agree" in quick_run


@pytest.mark.slow
def test_quick_run_without_torch_says_so_and_runs_the_rest():
    # torch hidden from the child: `import torch` fails as when it is not installed.
    code = (
        "import runpy, sys\n"
        "class NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'torch':\n"
        "            raise ModuleNotFoundError(\"No module named 'torch'\")\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "sys.argv = ['bench', '--quick']\n"
        f"runpy.run_path({str(SCRIPT)!r}, run_name='__main__')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "torch is not installed" in done.stdout
    assert "than PyTorch" not in done.stdout
    assert re.search(r"^ratio demo step, gc off .* than micrograd", done.stdout, re.MULTILINE)
    assert re.search(r"^digits, a tenth of an epoch|^digits epoch: not run", done.stdout, re.M)


@pytest.mark.slow
def test_quick_run_skips_micrograd_past_its_recursion_limit_rather_than_crash(quick_run):
    chain = re.findall(r"^chain, n = ([\d,]+) +micrograd (.*)$", quick_run, re.MULTILINE)
    assert [n for n, _ in chain] == ["1,000", "10,000", "20,000"], quick_run
    assert "skipped" not in chain[1][1]
    assert "micrograd skipped: recursion limit" in chain[2][1]


DRAWING_SCRIPT = SCRIPT.with_name("bench_drawing.py")


@pytest.mark.slow
def test_drawing_quick_run_prints_layout_times_for_each_family():
    done = subprocess.run([sys.executable, str(DRAWING_SCRIPT), "--quick"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    timing = rf"pygraphviz +{NUMBER} s \(DOT {NUMBER} \+ layout {NUMBER}\)"
    for family in (r"chain 1,000 +1,000 values", r"tanh d6 +351 values",
                   r"MLP\(2,\[16, 16, 1\]\)x1 +\d[\d,]* values"):
        assert re.search(rf"^{family} .*{timing}", out, re.MULTILINE), out
    assert re.search(rf"^slowest picture of a graph up to 10,000 values: {NUMBER} s", out,
                     re.MULTILINE), out
    assert done.stderr == ""  # Graphviz's own warnings stay in the layout process


@pytest.mark.slow
def test_board_benchmark_quick_run_prints_every_figure():
    script = SCRIPT.parent / "bench_board.py"
    done = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    for what in ("logging, one step of 4 scalars", "curves of a 5,000-step run: first request",
                 "curves of a 5,000-step run: repeated", "curves of a 5,000-step run: size",
                 "curves of a 20,000-step run: first request", "run list, 20 runs x 50 steps",
                 "idle server: server CPU"):
        figure = rf"^{re.escape(what)}.*?\s{NUMBER} ?(µs|ms|KB|%)"
        assert re.search(figure, done.stdout, re.MULTILINE), (what, done.stdout)
