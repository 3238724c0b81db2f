"""Drawing graphs: the book's numbers, rendering with and without `dot`, steps, big graphs."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import xml.etree.ElementTree as ET

import pytest

from microgrboard import Value, topological_order
from microgrboard.drawing import (
    RenderError,
    draw,
    format_number,
    render,
)
from microgrboard.examples import apple_orange, apple_tax
from microgrboard.nn import MLP
from microgrboard.snapshot import snapshot, to_json

SVG = "{http://www.w3.org/2000/svg}"
FORWARD = ["100", "2", "200", "1.1", "220"]
GRADIENTS = ["2.2", "110", "200"]


def svg_texts(svg: str) -> dict[str, str]:
    """Every SVG group with an id -> the text it shows (joined)."""
    root = ET.fromstring(svg)
    return {
        g.get("id", ""): " ".join(t.text or "" for t in g.iter(f"{SVG}text"))
        for g in root.iter(f"{SVG}g")
    }


def grad_cells(source: str) -> dict[str, str]:
    """Record style DOT: node id -> the text of its grad cell."""
    cells = re.findall(r'ID="(n\d+)-grad"[^>]*>(?:<FONT[^>]*>)?grad ([^<]*)<', source)
    return dict(cells)


# --- the book's numbers ----------------------------------------------------------------


def test_record_dot_has_the_books_forward_values_and_gradients():
    source = draw(apple_tax().output).source
    for number in FORWARD:
        assert f"data {number}<" in source
    for number in GRADIENTS:
        assert f"grad {number}<" in source
    assert "220.00000000000003" not in source


def test_book_style_puts_values_on_the_edges():
    source = draw(apple_tax().output, style="book").source
    edge_cells = dict(re.findall(r'ID="(e[\d-]+|n\d+-seed)-(?:data|grad)"[^>]*>(?:<FONT[^>]*>)?'
                                 r"([^<]*)<", source))
    assert edge_cells  # the regex found the cells
    data = dict(re.findall(r'ID="([en][\d-]+(?:-seed)?)-data"[^>]*>([^<]*)<', source))
    grads = dict(re.findall(r'ID="([en][\d-]+(?:-seed)?)-grad"[^>]*><FONT[^>]*>([^<]*)<', source))
    # apple (0) and apple_count (1) feed apple_price (2); it and tax (3) feed price (4).
    assert data == {"e0-2-0": "100", "e1-2-1": "2", "e2-4-0": "200", "e3-4-1": "1.1",
                    "n4-seed": "220"}
    assert grads == {"e0-2-0": "2.2", "e1-2-1": "110", "e2-4-0": "1.1", "e3-4-1": "200",
                     "n4-seed": "1"}


@pytest.mark.parametrize("style", ["record", "book"])
def test_rendered_svg_parses_and_shows_the_numbers(no_dot, style):
    svg = draw(apple_tax().output, style=style).svg()
    texts = svg_texts(svg)
    shown = " ".join(texts.values()).split()
    for number in FORWARD + GRADIENTS:
        assert number in shown
    # The ids the board looks up are in the SVG.
    for node_id in range(5):
        assert f"n{node_id}" in texts
    if style == "record":
        assert texts["a_n0-data"] == "data 100"
        assert texts["a_n0-grad"] == "grad 2.2"
        assert texts["a_n4-data"] == "data 220"
    else:
        assert texts["a_e0-2-0-data"] == "100"
        assert texts["a_e0-2-0-grad"] == "2.2"


def test_apple_orange_numbers():
    source = draw(apple_orange().output).source
    for number in ["150", "3", "450", "650", "715"]:
        assert f"data {number}<" in source
    for number in ["2.2", "110", "3.3", "165", "650", "1.1"]:
        assert f"grad {number}<" in source


def test_no_grad_shows_forward_values_only():
    for style in ("record", "book"):
        source = draw(apple_tax().output, style=style, grad=False).source
        assert "-grad" not in source
        assert "2.2" not in source and "110" not in source
        assert "220" in source


@pytest.mark.parametrize(
    ("x", "precision", "text"),
    [(220.00000000000003, 4, "220"), (2.2, 4, "2.2"), (110.00000000000001, 4, "110"),
     (0.7071067811865476, 4, "0.7071"), (0.7071067811865476, 2, "0.71"), (1e-7, 4, "1e-07"),
     (-0.0, 4, "0"), (float("nan"), 4, "nan"), (float("-inf"), 4, "-inf")],
)
def test_format_number(x, precision, text):
    assert format_number(x, precision) == text


# --- rendering paths -------------------------------------------------------------------


def test_renders_without_dot_through_pygraphviz(no_dot):
    picture = draw(apple_tax().output)
    assert picture.renderer == "auto"
    ET.fromstring(picture.svg())  # valid XML
    assert picture.pipe("png").startswith(b"\x89PNG\r\n\x1a\n")
    assert picture.pipe("pdf").startswith(b"%PDF")


def test_forcing_dot_without_dot_says_what_to_install(no_dot):
    with pytest.raises(RenderError, match="pip install pygraphviz"):
        render(draw(apple_tax().output).source, "svg", renderer="dot")


def test_no_renderer_at_all_is_one_clear_error(no_dot, monkeypatch):
    monkeypatch.setitem(sys.modules, "pygraphviz", None)  # import pygraphviz now fails
    with pytest.raises(RenderError) as error:
        draw(apple_tax().output).svg()
    message = str(error.value)
    assert "no Graphviz `dot` program on PATH" in message
    assert "pip install pygraphviz" in message and "graphviz.org" in message


def test_renders_with_the_dot_program():
    if shutil.which("dot") is None:
        if os.environ.get("CI"):  # scripts/test.sh installs graphviz: both paths run in CI
            pytest.fail("no system `dot` in CI: the graphviz path would go untested")
        pytest.skip("no system `dot` here: only the pygraphviz path is tested")
    svg = draw(apple_tax().output, renderer="dot").svg()
    # Table-cell ids need a newer Graphviz than some distributions ship (Debian 12 has
    # 2.43), so check the numbers and the node ids, which every version writes.
    texts = svg_texts(svg)
    assert texts["n0"] == "apple data 100 grad 2.2"
    assert "grad 200" in texts["n3"] and "data 220" in texts["n4"]


def test_save_by_suffix(tmp_path, no_dot):
    picture = draw(apple_tax().output, style="book")
    assert (picture.save(tmp_path / "a.svg")).read_text(encoding="utf-8").lstrip().startswith("<")
    assert picture.save(tmp_path / "a.PNG").read_bytes().startswith(b"\x89PNG")
    assert picture.save(tmp_path / "a.pdf").read_bytes().startswith(b"%PDF")
    assert picture.save(tmp_path / "a.dot").read_text(encoding="utf-8") == picture.source
    with pytest.raises(ValueError, match="unsupported suffix '.jpg'"):
        picture.save(tmp_path / "a.jpg")


def test_jupyter_display_protocol(no_dot):
    picture = draw(apple_tax().output)
    bundle = picture._repr_mimebundle_()
    assert set(bundle) == {"image/svg+xml"}
    ET.fromstring(bundle["image/svg+xml"])
    assert picture._repr_svg_() == bundle["image/svg+xml"]


# --- ids and inputs --------------------------------------------------------------------


def test_same_graph_same_dot_and_ids_from_graph_position():
    first, second = draw(apple_tax().output).source, draw(apple_tax().output).source
    assert first == second
    # One DOT node per value, named by its snapshot id; the op is a cell of its node.
    assert re.findall(r"^\s*(n\d+\w*) \[", first, re.M) == ["n0", "n1", "n2", "n3", "n4"]
    assert 'id=n0' in first
    assert re.search(r'n2 \[label=<<TABLE[^\n]*<B>×</B></TD><TD>apple_price</TD>', first)


def test_draws_a_snapshot_dict_like_the_live_graph():
    root = apple_tax().output
    assert draw(snapshot(root)).source == draw(root).source
    assert draw(snapshot(root), style="book").source == draw(root, style="book").source


def test_bad_input_is_named():
    with pytest.raises(TypeError, match=r"takes a Value, a snapshot dict or an nn Module .*"
                                        r"got float 3.0$"):
        draw(3.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"got list \[1, 2, 3\]$"):
        draw([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"got str 'x{8}x*\.\.\.$"):
        draw("x" * 500)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="x= is an input for a Module"):
        draw(apple_tax().output, x=[1.0])
    with pytest.raises(ValueError, match="style must be"):
        draw(apple_tax().output, style="fancy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="step must be in 0..4"):
        draw(apple_tax().output, step=5)
    with pytest.raises(ValueError, match="precision"):
        draw(apple_tax().output, precision=0)


def test_non_finite_numbers_draw(no_dot):
    x = Value(float("nan"), "x")
    y = x * Value(float("inf"), "big")
    y.backward()
    svg = draw(y).svg()
    assert "data nan" in svg and "data inf" in svg
    # A snapshot that went through strict JSON (as the board stores it) draws the same.
    stored = json.loads(to_json(snapshot(y)))
    assert stored["nodes"][0]["data"] == "NaN"
    assert draw(stored).source == draw(y).source
    stored["nodes"][0]["data"] = "lots"
    with pytest.raises(ValueError, match="node 0 data must be a number, got 'lots'"):
        draw(stored)


# --- backward step-through -------------------------------------------------------------


def test_step_through_ends_with_the_gradients_of_backward():
    root = apple_tax().output
    final = grad_cells(draw(root).source)
    assert final == {"n0": "2.2", "n1": "110", "n2": "1.1", "n3": "200", "n4": "1"}
    last = len(snapshot(root)["nodes"]) - 1
    assert grad_cells(draw(root, step=last).source) == final


def test_step_through_reveals_gradients_one_node_at_a_time():
    # backward order: price(4), tax(3), apple_price(2), apple_count(1), apple(0)
    root = apple_tax().output
    unknown = [draw(root, step=k).source.count("grad ?") for k in range(5)]
    assert unknown == [2, 2, 0, 0, 0]
    step0 = draw(root, step=0).source
    assert grad_cells(step0) == {"n0": "?", "n1": "?", "n2": "1.1", "n3": "200", "n4": "1"}
    highlighted = re.findall(r"^\s*(n\d+\w*) \[[^\n]*#ffd966", draw(root, step=2).source, re.M)
    assert highlighted == ["n2"]


def test_step_through_shows_partial_sums():
    x = Value(3.0, "x")
    y = x * x
    y.label = "y"
    z = y + x  # x receives a share from z first, then two from y: dz/dx = 2x + 1 = 7
    z.label = "z"
    z.backward()
    assert grad_cells(draw(z, step=0).source)["n0"] == "1"  # only z's share so far
    assert grad_cells(draw(z, step=1).source)["n0"] == "7"
    assert x.grad == 7.0


# --- big graphs ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mlp_pass() -> Value:
    model = MLP(2, [16, 16, 1], seed=0)
    out = model([0.5, -1.0])
    out.backward()
    return out


def test_expanded_mlp_draws_every_value_within_the_default_budget(mlp_pass):
    picture = draw(mlp_pass, group=None)
    assert picture.folded is None
    assert picture.node_count == len(snapshot(mlp_pass)["nodes"])


@pytest.mark.parametrize("style", ["record", "book"])
@pytest.mark.parametrize("group", [None, "neuron", "layer"])
@pytest.mark.parametrize("collapse", [True, False])
def test_the_counted_nodes_are_the_drawn_nodes(tiny_loss, style, group, collapse):
    picture = draw(tiny_loss[0], style=style, group=group, collapse=collapse)
    drawn = [line for line in picture.source.splitlines() if " shape=" in line]
    assert picture.node_count == len(drawn) > 0


def test_mlp_draws_collapsed_by_default(mlp_pass, no_dot):
    picture = draw(mlp_pass)
    assert picture.node_count < 100
    for name in ["L0.N0", "L0.N15", "L1.N15", "L2.N0"]:
        assert f"<B>{name}</B>" in picture.source
    assert ".w0" not in picture.source  # parameters are inside the neuron boxes
    texts = svg_texts(picture.svg())
    root_id = len(snapshot(mlp_pass)["nodes"]) - 1
    assert texts[f"a_n{root_id}-grad"] == "grad 1"


@pytest.fixture
def tiny_loss() -> tuple[Value, MLP]:
    model = MLP(2, [3, 1], seed=0)
    x = [Value(0.5, "x0"), Value(-1.0, "x1")]
    loss = (model(x) - 1) ** 2  # type: ignore[operator]
    loss.backward()
    return loss, model


def test_neuron_group_keeps_inputs_and_loss_explicit(tiny_loss):
    loss, model = tiny_loss
    source = draw(loss).source
    assert "<B>L0.N2</B>" in source and "<B>L1.N0</B>" in source
    assert ">x0<" in source and ">x1<" in source  # the inputs stay as their own nodes
    assert "**2" in source  # the loss graph above the network stays
    # A collapsed neuron carries its output's id, so the board can update its numbers.
    out_id = next(n["id"] for n in snapshot(loss)["nodes"] if n["label"] == "L1.N0")
    assert f'ID="n{out_id}-grad"' in source


def test_clusters_and_layers_and_user_scopes(tiny_loss):
    loss, _ = tiny_loss
    clusters = draw(loss, collapse=False).source
    assert clusters.count("subgraph cluster_") == 4  # one per neuron
    assert "L0.N1.w0" in clusters
    layers = draw(loss, group="layer").source
    assert "<B>L0</B><BR/>3 outputs" in layers and "<B>L1</B>" in layers

    def scope(node):
        return "inputs" if node["label"] in ("x0", "x1") else None

    scoped = draw(loss, group=scope).source
    assert "<B>inputs</B><BR/>2 outputs" in scoped
    assert ">x0<" not in scoped


def test_two_forward_passes_share_parameters_but_not_boxes(no_dot):
    model = MLP(1, [2, 1], seed=1)
    loss = sum(((model([x]) - y) ** 2 for x, y in [(0.5, 1.0), (-0.5, 0.0)]), Value(0.0))
    loss.backward()
    source = draw(loss).source
    assert "<B>L0.N0 #0</B>" in source and "<B>L0.N0 #1</B>" in source
    names = dict(re.findall(r"^\s*(n\d+) \[label=<<TABLE[^\n]*?<B>(L[^<]*)</B>", source, re.M))
    edges = re.findall(r"^\s*(n\d+) -> (n\d+)", source, re.M)
    for parent, child in edges:  # the first pass never feeds the second
        if parent in names and child in names:
            assert names[parent].split(" #")[1] == names[child].split(" #")[1]
    ET.fromstring(draw(loss).svg())


def test_a_parameter_used_outside_its_neuron_is_drawn():
    model = MLP(1, [1], seed=0)
    out = model([2.0])
    w = model.parameters()[0]
    loss = out + w * w  # weight decay uses the weight outside the neuron
    loss.backward()
    source = draw(loss).source
    assert ">L0.N0.w0<" in source
    assert "L0.N0.b" not in source  # the bias is used only inside: hidden


def test_drawing_does_not_import_the_examples():
    # Choosing an example by name is the command line's job; drawing draws what it gets.
    import subprocess

    code = ("import sys, microgrboard.drawing, microgrboard.network; "
            "print('microgrboard.examples' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "False"


def test_book_style_mlp_draws_neurons_as_a_grid_not_a_ribbon_of_labels():
    # 256 arrows between two collapsed 16-neuron layers: labelled, Graphviz stacked their
    # labels into a 589 × 12,517 pt ribbon. Unlabelled, the numbers go into the boxes.
    model = MLP(2, [16, 16, 1], seed=0)
    out = model([0.87, -0.34])
    assert isinstance(out, Value)
    out.backward()
    picture = draw(out, style="book")
    assert "<TABLE" not in picture.source  # no arrow carries a label (no rank doubling)
    svg = picture.svg()
    width, height = (float(v) for v in re.search(
        r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg).groups())  # type: ignore[union-attr]
    assert height < 1_500 and width < 1_200, (width, height)
    texts = svg_texts(svg)
    ids = {n["label"]: n["id"] for n in snapshot(out)["nodes"]}
    hidden = model.layers[1].neurons[5]
    value = hidden([n([0.87, -0.34]).data for n in model.layers[0].neurons])
    assert isinstance(value, Value)
    box = texts[f"n{ids['L1.N5']}"].split()
    assert box[:3] == ["L1.N5", "relu", format_number(value.data)]
    assert texts[f"n{ids['L2.N0']}_out"].split() == ["L2.N0", format_number(out.data), "1"]
    x0 = next(v for v in topological_order(out) if v.label == "x0")
    assert texts[f"n{ids['x0']}"].split() == ["x0", "0.87", format_number(x0.grad)]


def test_book_style_keeps_arrow_labels_between_a_few_groups():
    out = MLP(2, [3, 1], seed=0)([0.5, -1.0])
    assert isinstance(out, Value)
    out.backward()
    source = draw(out, style="book").source
    assert source.count("<TABLE") >= 3 + 6 + 1  # hidden → output, inputs → hidden, the seed


@pytest.mark.parametrize("style", ["record", "book"])
def test_collapsed_neurons_are_drawn_in_their_natural_order(style):
    out = MLP(2, [16, 16, 1], seed=0)([0.87, -0.34])
    assert isinstance(out, Value)
    out.backward()
    tops: dict[str, float] = {}
    for g in ET.fromstring(draw(out, style=style).svg()).iter(f"{SVG}g"):
        texts = list(g.iter(f"{SVG}text")) if g.get("class") == "node" else []
        found = re.search(r"\bL[01]\.N\d+\b", " ".join(t.text or "" for t in texts))
        if found:
            tops[found.group()] = min(float(t.get("y", "0")) for t in texts)
    for layer in ("L0", "L1"):  # top to bottom: N0, N1, ..., N15 (not N10..N15 first)
        shown = sorted((name for name in tops if name.startswith(layer)), key=tops.__getitem__)
        assert shown == [f"{layer}.N{k}" for k in range(16)], shown


def test_book_style_loss_over_an_mlp_puts_every_number_in_its_node():
    # One labelled arrow anywhere would make Graphviz double every rank and spread the
    # unlabelled arrows between layers again: the loss arithmetic shows its numbers too.
    model = MLP(2, [16, 16, 1], seed=0)
    out = model([0.87, -0.34])
    assert isinstance(out, Value)
    loss = (out - 1.0) ** 2
    loss.label = "loss"
    loss.backward()
    picture = draw(loss, style="book")
    assert "<TABLE" not in picture.source
    texts = svg_texts(picture.svg())
    ids = {n["label"]: n["id"] for n in snapshot(loss)["nodes"]}
    assert texts[f"n{ids['loss']}"].split() == ["**2", "loss", format_number(loss.data), "1"]
    diff = out.data - 1.0
    assert any(t.split() == ["−", format_number(diff), format_number(2 * diff)]
               for t in texts.values())  # d loss / d(out − 1) = 2 (out − 1)
