"""The network view: draw(module) shows layers as columns, weights as edges, activations."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pygraphviz
import pytest

from microgrboard import Value, draw
from microgrboard.drawing import format_number
from microgrboard.layout import LayoutTimeout
from microgrboard.network import NEGATIVE, POSITIVE
from microgrboard.nn import MLP, Layer, Module, Neuron

SVG = "{http://www.w3.org/2000/svg}"


def hex_colour(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def parsed(picture) -> pygraphviz.AGraph:
    return pygraphviz.AGraph(string=picture.source)


def position(graph: pygraphviz.AGraph, name: str) -> tuple[float, float]:
    x, y = graph.get_node(name).attr["pos"].rstrip("!").split(",")
    return float(x), float(y)


def circles(graph: pygraphviz.AGraph) -> list[str]:
    return [n for n in graph.nodes() if n.attr.get("shape") != "plaintext"]


@pytest.fixture
def model() -> MLP:
    return MLP(2, [3, 2], seed=4)


def test_layers_are_columns_with_one_node_per_neuron(model):
    graph = parsed(draw(model))
    names = sorted(circles(graph))
    assert names == sorted(["x0", "x1", "L0.N0", "L0.N1", "L0.N2", "L1.N0", "L1.N1"])
    columns = [["x0", "x1"], ["L0.N0", "L0.N1", "L0.N2"], ["L1.N0", "L1.N1"]]
    xs = [{position(graph, n)[0] for n in column} for column in columns]
    assert all(len(x) == 1 for x in xs)  # each column is vertical
    assert xs[0].pop() < xs[1].pop() < xs[2].pop()  # inputs, then the layers in order
    ys = [position(graph, n)[1] for n in columns[1]]
    assert ys == sorted(ys, reverse=True)  # neurons top to bottom in order


def test_one_edge_per_weight_named_by_the_parameter(model):
    graph = parsed(draw(model))
    edges = {e.attr["id"]: (e[0], e[1]) for e in graph.edges()}
    weights = {name for name, _ in model.named_parameters() if not name.endswith(".b")}
    assert set(edges) == weights
    assert edges["L0.N2.w1"] == ("x1", "L0.N2")
    assert edges["L1.N0.w2"] == ("L0.N2", "L1.N0")


def edge_attributes(graph: pygraphviz.AGraph) -> dict[str, tuple[str, float]]:
    return {e.attr["id"]: (e.attr["color"], float(e.attr["penwidth"])) for e in graph.edges()}


def check_edges_follow(graph: pygraphviz.AGraph, shown: dict[str, float]) -> None:
    attributes = edge_attributes(graph)
    for name, value in shown.items():
        colour, _ = attributes[name]
        assert colour.startswith(hex_colour(POSITIVE if value >= 0 else NEGATIVE)), (name, value)
    by_size = sorted(shown, key=lambda name: abs(shown[name]))
    widths = [attributes[name][1] for name in by_size]
    assert widths == sorted(widths) and widths[0] < widths[-1]  # thicker for larger |w|
    opacity = [int(attributes[name][0][7:9], 16) for name in by_size]
    assert opacity == sorted(opacity)


def test_edges_are_coloured_and_sized_by_weight(model):
    weights = {name: p.data for name, p in model.named_parameters() if ".w" in name}
    assert any(w < 0 for w in weights.values()) and any(w > 0 for w in weights.values())
    check_edges_follow(parsed(draw(model)), weights)


def test_with_grad_the_edges_show_gradients(model):
    out = model([0.5, -1.0])
    loss = sum((o * o for o in out), Value(0.0))  # type: ignore[union-attr]
    loss.backward()
    grads = {name: p.grad for name, p in model.named_parameters() if ".w" in name}
    weights = {name: p.data for name, p in model.named_parameters() if ".w" in name}
    assert any(math.copysign(1, grads[n]) != math.copysign(1, weights[n]) for n in grads)
    picture = draw(model, grad=True)
    check_edges_follow(parsed(picture), grads)
    assert "gradients, blue positive" in picture.source


def test_x_fills_each_neuron_by_its_activation(model):
    x = [0.5, -1.0]
    graph = parsed(draw(model, x=x))
    hidden = [n(x).data for n in model.layers[0].neurons]
    outputs = [n(hidden).data for n in model.layers[1].neurons]
    for names, activations in ((["x0", "x1"], x), ([f"L0.N{i}" for i in range(3)], hidden),
                               (["L1.N0", "L1.N1"], outputs)):
        scale = max(abs(a) for a in activations)
        for name, a in zip(names, activations):
            node = graph.get_node(name)
            fill = node.attr["fillcolor"]
            if a == 0:
                assert fill == "#ffffff"
            else:  # the sign's hue, as strong as |a| against the column's largest
                target = POSITIVE if a > 0 else NEGATIVE
                channel = int(fill[1:3], 16)
                expected = round(255 + (target[0] - 255) * abs(a) / scale)
                assert channel == expected, (name, a, fill)
            assert node.attr["label"] == format_number(a, 3)  # the number, as there is room
    legend = graph.get_node("legend").attr["label"]
    assert "activation on x" in legend
    assert "|a| ≤" in graph.get_node("column1").attr["label"]


def test_wide_networks_render(no_dot):
    model = MLP(64, [32, 10], seed=0)
    picture = draw(model, x=[i / 64 for i in range(64)])
    svg = ET.fromstring(picture.svg())
    groups = {g.get("id"): g.get("class") for g in svg.iter(f"{SVG}g")}
    assert sum(1 for c in groups.values() if c == "edge") == 64 * 32 + 32 * 10
    assert {"x63", "L0.N31", "L1.N9", "legend"} <= set(groups)
    assert picture.messages == []


def test_a_layer_and_a_neuron_draw_too():
    layer = parsed(draw(Layer(3, 2, seed=0)))
    assert sorted(circles(layer)) == ["L.N0", "L.N1", "x0", "x1", "x2"]
    neuron = parsed(draw(Neuron(2, seed=0), x=[1.0, 2.0]))
    assert len(circles(neuron)) == 3 and len(neuron.edges()) == 2


def test_bad_modules_and_inputs_are_named(model):
    class Custom(Module):
        def __call__(self, x):
            return x

    with pytest.raises(TypeError, match=r"draws an MLP, a Layer or a Neuron; got Custom"):
        draw(Custom())
    with pytest.raises(ValueError, match="x must have 2 numbers"):
        draw(model, x=[1.0])
    with pytest.raises(TypeError, match=r"x\[1\] must be a number, got str 'a'"):
        draw(model, x=[1.0, "a"])
    with pytest.raises(TypeError, match="x must be a sequence of 2 numbers, got float"):
        draw(model, x=1.0)


def test_the_network_view_runs_under_the_time_limit(model):
    with pytest.raises(LayoutTimeout):
        draw(model, time_limit=0.01).svg()


@pytest.mark.parametrize("option", [{"style": "book"}, {"step": 1}, {"step": 0},
                                    {"rankdir": "TB"}, {"group": None}, {"collapse": False},
                                    {"max_nodes": None}])
def test_graph_options_are_refused_not_ignored(model, option):
    (name, value), = option.items()
    with pytest.raises(ValueError, match=rf"^{name}={value!r}: option of a graph drawing, "
                                         r"unused by the network view of MLP"):
        draw(model, **option)


def test_several_ignored_options_are_all_named(model):
    with pytest.raises(ValueError, match=r"^style='book', step=1: options of a graph drawing"):
        draw(model, style="book", step=1)
    # the defaults, spelled out, are not options it ignores
    assert draw(model, style="record", rankdir="LR", step=None, group="auto").node_count > 0


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_x_must_be_finite(model, bad):
    with pytest.raises(ValueError, match=rf"x\[0\] must be a finite number, got {bad!r}"):
        draw(model, x=[bad, 1.0])


def test_grad_before_backward_says_there_are_no_gradients_yet():
    fresh = MLP(2, [3, 1], seed=0)
    graph = parsed(draw(fresh, grad=True))  # kept: its nodes read from it
    legend = graph.get_node("legend").attr["label"]
    assert "no gradients yet: call backward()" in legend and "largest" not in legend
    out = fresh([0.5, -1.0])
    assert isinstance(out, Value)
    out.backward()
    graph = parsed(draw(fresh, grad=True))
    legend = graph.get_node("legend").attr["label"]
    assert "gradients, blue positive" in legend and "no gradients yet" not in legend
