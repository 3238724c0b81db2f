"""Big graphs fold instead of hanging; Graphviz runs under a time limit and quietly;
long labels are cut; PNGs are crisp; the n-ary linear op is one node."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET

import pygraphviz
import pytest

from microgrboard import Value
from microgrboard.core import linear
from microgrboard.drawing import SUMMARY_NODES, LayoutTimeout, draw, render
from microgrboard.examples import apple_tax, tanh_derivative
from microgrboard.layout import FONTCONFIG_FILE, child_environment, run_graphviz
from microgrboard.nn import MLP
from microgrboard.snapshot import snapshot

SVG = "{http://www.w3.org/2000/svg}"


def renderers() -> list[str]:
    found = ["pygraphviz"]
    if shutil.which("dot"):
        found.append("dot")
    elif os.environ.get("CI"):  # scripts/test.sh installs graphviz: both paths run in CI
        pytest.fail("no system `dot` in CI: the graphviz path would go untested")
    return found


def chain(values: int) -> Value:
    """x, then (y · c).tanh() repeated: three values (a constant, ×, tanh) a step."""
    y = x = Value(0.5, "x")
    for _ in range((values - 1) // 3):
        y = (y * Value(1.0001)).tanh()
    y.backward()
    assert x.grad != 0
    return y


def svg_ids(svg: str) -> set[str]:
    return {g.get("id", "") for g in ET.fromstring(svg).iter(f"{SVG}g")}


def dot_nodes(source: str) -> list[str]:
    names = re.findall(r"^\s*(\w+) \[", source, re.M)
    return [name for name in names if name not in ("graph", "node", "edge")]


# --- folding ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def twenty_thousand() -> Value:
    return chain(20_000)


def test_a_20000_value_graph_draws_a_summary_that_says_what_was_folded(twenty_thousand):
    root_id = len(snapshot(twenty_thousand)["nodes"]) - 1
    picture = draw(twenty_thousand)
    assert picture.folded is not None
    assert re.search(r"19,999 nodes are more than max_nodes=3,000", picture.folded)
    assert f"the other {19_999 - SUMMARY_NODES:,}" in picture.folded
    assert "max_nodes=None" in picture.folded  # how to expand it
    # The values nearest the output are drawn with their usual ids, plus one box.
    nodes = dot_nodes(picture.source)
    assert len(nodes) == picture.node_count == SUMMARY_NODES + 1
    assert f"n{root_id}" in nodes and "folded" in nodes
    assert "n0" not in nodes and min(int(n[1:]) for n in nodes if n != "folded") > 19_000
    box = re.search(r"^\s*folded \[label=<(.*)> ", picture.source, re.M)
    assert box is not None
    label = box.group(1)
    assert f"⋯ {19_999 - SUMMARY_NODES:,} more values" in label
    assert "tanh" in label and "×" in label and "inputs: x" in label
    assert "max_nodes=None" in label
    # Its edges into the drawn part are there, and it renders.
    assert re.search(r"folded -> n\d+ \[color=gray50 id=\"folded-\d+\"", picture.source)
    ids = svg_ids(picture.svg())
    assert {"folded", f"n{root_id}"} <= ids


def test_max_nodes_none_never_folds():
    root = chain(301)
    assert draw(root, max_nodes=None).folded is None
    assert draw(root, max_nodes=50).folded is not None


def test_an_nn_graph_folds_per_neuron_then_per_layer_before_a_summary(no_dot):
    model = MLP(2, [8, 8, 1], seed=0)
    out = model([0.5, -1.0])
    out.backward()
    everything = draw(out, group=None)
    assert everything.folded is None and "<B>L0.N0</B>" not in everything.source
    per_neuron = draw(out, group=None, max_nodes=40)
    assert per_neuron.folded is not None and "group='neuron'" in per_neuron.folded
    assert "<B>L0.N0</B>" in per_neuron.source and "<B>L1.N7</B>" in per_neuron.source
    per_layer = draw(out, group=None, max_nodes=8)
    assert per_layer.folded is not None and "group='layer'" in per_layer.folded
    assert "<B>L0</B>" in per_layer.source
    summary = draw(out, group=None, max_nodes=3)
    assert summary.folded is not None and "max_nodes=3" in summary.folded
    assert "folded [" in summary.source
    ET.fromstring(per_neuron.svg())


def test_long_edges_count_towards_the_budget():
    # DeZero's step 35 (935 values) is drawn in full; the 8th derivative (2,587 values,
    # most of them used far from where they are made: about 200,000 virtual nodes for
    # Graphviz, measured to run past 20 s) is folded before any layout is tried.
    seventh = draw(tanh_derivative(7).output)
    assert seventh.folded is None and seventh.node_count == 935
    eighth = draw(tanh_derivative(8).output)
    assert eighth.folded is not None
    match = re.search(r"^2,587 nodes with their long edges \(layout size ([\d,]+)\) are more "
                      r"than max_nodes=3,000", eighth.folded)
    assert match and int(match.group(1).replace(",", "")) > 2_587 + 3_000
    chain_size = draw(chain(2_002), max_nodes=2_000)  # a chain has no long edges
    assert chain_size.folded is not None and chain_size.folded.startswith("2,002 nodes")


def test_book_style_counts_its_labelled_arrows():
    root = chain(301)  # 301 values, 300 labelled arrows: a twentieth of a node each
    assert draw(root, style="record", max_nodes=310).folded is None
    book = draw(root, style="book", max_nodes=310)
    assert book.folded is not None
    assert re.search(r"labelled arrows and long edges \(layout size 317\)", book.folded)
    assert draw(root, style="book", max_nodes=317).folded is None


def test_book_style_draws_dezero_step_35_in_full_and_folds_the_8th():
    # Measured (benchmarks/bench_drawing.py): the 7th derivative lays out in the book
    # style in under a second; the 8th takes 6 s or more.
    seventh = draw(tanh_derivative(7).output, style="book")
    assert seventh.folded is None and seventh.node_count == 936  # 935 values + end point
    eighth = draw(tanh_derivative(8).output, style="book")
    assert eighth.folded is not None and "max_nodes=3,000" in eighth.folded


# --- a time limit, never a hang --------------------------------------------------------


@pytest.mark.parametrize("renderer", renderers())
def test_a_layout_out_of_time_becomes_the_summary(renderer):
    root = tanh_derivative(6).output  # 351 values
    picture = draw(root, renderer=renderer, time_limit=0.01)
    assert picture.folded is None  # small enough to try in full
    svg = picture.svg()  # the child process cannot even start in 10 ms
    assert picture.folded is not None
    assert "did not lay out all 351 nodes within time_limit=0.01 s" in picture.folded
    assert "folded" in svg_ids(svg)
    assert picture.node_count == SUMMARY_NODES + 1
    # Lifting max_nodes would not help: the advice is to wait, in words and in the box.
    assert "draw(..., time_limit=None) draws them all (it may take minutes)" in picture.folded
    assert "max_nodes=None" not in picture.folded
    assert "time_limit=None) draws them all" in picture.source
    assert "max_nodes=None" not in picture.source


def test_a_timeout_with_max_nodes_none_suggests_time_limit_none():
    picture = draw(tanh_derivative(6).output, max_nodes=None, time_limit=0.01)
    picture.svg()
    assert picture.folded is not None
    assert "draw(..., time_limit=None) draws them all" in picture.folded
    assert "max_nodes=None" not in picture.folded and "max_nodes=None" not in picture.source


def test_a_small_graph_out_of_time_is_drawn_whole_with_a_note():
    picture = draw(apple_tax().output, time_limit=0.001)
    svg = picture.svg()
    assert picture.folded is not None and "time_limit=0.001 s" in picture.folded
    assert "folded" not in svg_ids(svg) and {f"n{i}" for i in range(5)} <= svg_ids(svg)


@pytest.mark.parametrize("renderer", renderers())
def test_render_under_a_tiny_time_limit_raises_instead_of_blocking(renderer):
    source = draw(tanh_derivative(5).output).source
    with pytest.raises(LayoutTimeout, match=r"did not finish the layout within 0\.01 s"):
        render(source, "svg", renderer=renderer, time_limit=0.01)
    assert render(source, "svg", renderer=renderer).startswith(b"<?xml")


def test_bigger_graphs_get_faster_graphviz_settings():
    small = draw(apple_tax().output).source
    assert "nslimit" not in small and "splines" not in small  # Graphviz's defaults
    big = draw(tanh_derivative(7).output).source
    for setting in ("nslimit=0.05", "nslimit1=0.05", "mclimit=0.01", "splines=line"):
        assert setting in big


def test_bad_budgets_are_named():
    with pytest.raises(ValueError, match="max_nodes must be a positive int or None, got 0"):
        draw(apple_tax().output, max_nodes=0)
    with pytest.raises(ValueError, match="time_limit must be a positive number"):
        draw(apple_tax().output, time_limit=-1)


# --- labels past Graphviz's limit --------------------------------------------------------


@pytest.mark.parametrize("style", ["record", "book"])
def test_a_label_over_16_kb_is_drawn_cut(style, no_dot):
    a = Value(2.0, "a" * 20_000)
    b = a * Value(3.0, "b")
    b.label = "é" * 17_000
    b.backward()
    picture = draw(b, style=style)
    svg = picture.svg()
    assert picture.messages == []
    assert "(+19,800 characters)" in svg and "(+16,800 characters)" in svg
    assert len(picture.source) < 10_000


# --- crisp and quiet ------------------------------------------------------------------------


@pytest.mark.parametrize("renderer", renderers())
def test_png_is_rendered_at_twice_the_resolution(renderer):
    png = draw(apple_tax().output, renderer=renderer).pipe("png")
    width, height = struct.unpack(">II", png[16:24])
    assert width >= 900, width
    default = run_graphviz(draw(apple_tax().output).source, "png", renderer=renderer,
                           args=["-Gdpi=96"]).output
    assert width >= 1.9 * struct.unpack(">II", default[16:24])[0]


QUIET_SCRIPT = """
import microgrboard as mg
from microgrboard.examples import apple_orange
from microgrboard.nn import MLP
root = apple_orange().output
for style in ("record", "book"):
    picture = mg.draw(root, style=style)
    picture.svg(); picture.pipe("png"); picture.pipe("pdf")
model = MLP(2, [16, 16, 1], seed=0)
out = model([0.5, -1.0]); out.backward()
big = mg.draw(out, group=None)  # over 1,000 nodes: Graphviz warns about layout time
big.svg()
assert big.renderer == "auto" and big.node_count > 100
mg.draw(model, x=[0.5, -1.0]).svg()
print("drawn")
"""


def test_nothing_reaches_stderr_without_system_graphviz(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}  # no `dot` anywhere on PATH
    env.pop("FONTCONFIG_FILE", None)
    done = subprocess.run([sys.executable, "-c", QUIET_SCRIPT], capture_output=True, text=True,
                          env=env, timeout=240, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "drawn"
    assert done.stderr == ""


def test_the_bundled_graphviz_gets_the_package_fontconfig_unless_the_user_set_one(monkeypatch):
    monkeypatch.delenv("FONTCONFIG_FILE", raising=False)
    monkeypatch.delenv("FONTCONFIG_PATH", raising=False)
    assert child_environment()["FONTCONFIG_FILE"] == str(FONTCONFIG_FILE)
    assert FONTCONFIG_FILE.is_file() and "<fontconfig>" in FONTCONFIG_FILE.read_text()
    monkeypatch.setenv("FONTCONFIG_FILE", "/home/me/fonts.conf")
    assert child_environment()["FONTCONFIG_FILE"] == "/home/me/fonts.conf"
    monkeypatch.delenv("FONTCONFIG_FILE")
    monkeypatch.setenv("FONTCONFIG_PATH", "/home/me/fontconfig")
    assert "FONTCONFIG_FILE" not in child_environment()
    import os as os_module

    assert "FONTCONFIG_FILE" not in os_module.environ  # ours is never set in this process


def test_the_package_fontconfig_finds_the_fonts_drawings_use(no_dot):
    svg = draw(apple_tax().output).svg()
    # Without fonts Graphviz sizes text by a guess and says so; with them, it measures.
    picture = draw(apple_tax().output)
    picture.svg()
    assert picture.messages == [], picture.messages
    assert "Helvetica" in svg


# --- the n-ary linear op -----------------------------------------------------------------


def linear_snapshot() -> dict:
    """A hand-made snapshot of y = linear([w0, w1], [x0, x1], b), as the engine makes it."""
    names = ["w0", "w1", "x0", "x1", "b"]
    data = [2.0, -1.0, 3.0, 4.0, 0.5]
    grads = [3.0, 4.0, 2.0, -1.0, 1.0]  # x for w, w for x, 1 for b
    nodes = [{"id": i, "label": n, "op": "", "data": d, "grad": g}
             for i, (n, d, g) in enumerate(zip(names, data, grads))]
    nodes.append({"id": 5, "label": "y", "op": "linear", "data": 2.5, "grad": 1.0})
    edges = [{"parent": i, "child": 5, "share": g} for i, g in enumerate(grads)]
    return {"version": 1, "root": 5, "seed": 1.0, "nodes": nodes, "edges": edges}


@pytest.mark.parametrize("style", ["record", "book"])
def test_linear_is_one_node_in_both_styles(style, no_dot):
    hand_made = draw(linear_snapshot(), style=style)
    w, x, b = [Value(2.0, "w0"), Value(-1.0, "w1")], [Value(3.0, "x0"), Value(4.0, "x1")], Value(
        0.5, "b")
    y = linear(w, x, b)
    y.label = "y"
    y.backward()
    assert draw(y, style=style).source == hand_made.source  # the engine's node draws the same
    source = hand_made.source
    assert source.count("Σ w·x + b") == 1
    assert len(dot_nodes(source)) == 6 + (style == "book")  # 5 leaves + 1 node (+ end point)
    # One edge per operand, in the contract's order (*weights, *inputs, bias).
    assert re.findall(r'id="?(e\d+-5-\d+)', source) == [f"e{k}-5-{k}" for k in range(5)]
    svg = hand_made.svg()
    assert "Σ w·x + b" in svg
    if style == "book":
        cells = dict(re.findall(r'ID="(e\d-5-\d)-grad"[^>]*><FONT[^>]*>([^<]*)<', source))
        assert cells == {"e0-5-0": "3", "e1-5-1": "4", "e2-5-2": "2", "e3-5-3": "-1",
                         "e4-5-4": "1"}
    pygraphviz.AGraph(string=source)  # valid DOT
