"""The player's payload: its arithmetic is the engine's, its ids are the drawing's.

Expected lines are built here from ``backward_steps()`` and the book's rules (a
multiply node hands each input upstream × the other input; an add node passes it
through), never from the payload itself. The browser half is test_player_browser.py.
"""

from __future__ import annotations

import base64
import json
import math
import re
from typing import Any

import pytest

import microgrboard as mg
from microgrboard import Value, backward_steps, topological_order
from microgrboard.drawing import format_number
from microgrboard.examples import apple_orange, neuron
from microgrboard.player import (
    MAX_PLAY_NODES,
    SCHEMA,
    Player,
    PlayerTooLargeError,
    asset_path,
    play,
    player_payload,
    player_svg,
)
from microgrboard.snapshot import snapshot

SYMBOL = {"*": "×", "+": "+"}


def local_by_the_book(node: Value, k: int) -> float:
    """d node / d operand k for the book's two ops: multiply swaps, add passes 1."""
    a, b = node.parents
    if node.op == "*":
        return b.data if k == 0 else a.data
    assert node.op == "+"
    return 1.0


def test_apple_orange_payload_plays_backward_steps_line_by_line() -> None:
    root = apple_orange().output
    payload = player_payload(root)
    order = topological_order(root)
    names = [n.label for n in order]
    operations = [n for n in order if n.op]
    frames = payload["frames"]
    assert payload["schema"] == SCHEMA == 1 and payload["style"] == "record"
    assert len(frames) == 1 + len(operations) + len(order)  # inputs, ops, backward steps

    # Forward: the inputs at once, then each operation with its arithmetic.
    assert [line["text"] for line in frames[0]["lines"]] == [
        f"{n.label} = {format_number(n.data)}" for n in order if not n.op]
    assert [line["text"] for line in frames[1]["lines"]] == ["apple_price = apple × apple_count"
                                                            " = 100 × 2 = 200"]
    for frame, node in zip(frames[1:], operations):
        a, b = node.parents
        sym = SYMBOL[node.op]
        assert frame["phase"] == "forward" and frame["node"] == order.index(node)
        assert frame["lines"][0]["text"] == (
            f"{node.label} = {a.label} {sym} {b.label} = {format_number(a.data)} {sym} "
            f"{format_number(b.data)} = {format_number(node.data)}")

    # Backward: one frame per backward_steps() step, upstream × local = contribution.
    backward = frames[1 + len(operations):]
    steps = list(backward_steps(root))
    assert len(backward) == len(steps)
    for frame, step in zip(backward, steps):
        node_id = order.index(step.node)
        assert (frame["phase"], frame["step"], frame["node"]) == ("backward", step.index, node_id)
        texts = [line["text"] for line in frame["lines"]]
        assert texts[0] == f"∂price/∂{names[node_id]} = {format_number(step.upstream)}"
        chains = [line["text"] for line in frame["lines"] if line["kind"] == "chain"]
        expected = [
            f"∂price/∂{parent.label} = {format_number(step.upstream)} × "
            f"{format_number(local_by_the_book(step.node, k))} = {format_number(share)}"
            for k, (parent, share) in enumerate(step.contributions)]
        assert chains == expected
    # The book's figures, word for word.
    all_lines = [line["text"] for frame in backward for line in frame["lines"]]
    for line in ["∂price/∂apple = 1.1 × 2 = 2.2", "∂price/∂apple_count = 1.1 × 100 = 110",
                 "∂price/∂orange = 1.1 × 3 = 3.3", "∂price/∂tax = 1 × 650 = 650",
                 "∂price/∂subtotal = 1 × 1.1 = 1.1"]:
        assert line in all_lines


def final_cell_texts(payload: dict[str, Any]) -> dict[str, str]:
    texts = dict(payload["cells"])
    for frame in payload["frames"]:
        texts.update(dict(frame["set"]))
    return texts


def test_no_gradient_is_shown_before_the_first_backward_step() -> None:
    for style in ("record", "book"):
        payload = player_payload(apple_orange().output, style=style)
        forward = [f for f in payload["frames"] if f["phase"] == "forward"]
        grad_cells = [c for c in payload["cells"] if c.endswith("-grad")]
        assert grad_cells and all("?" in payload["cells"][c] for c in grad_cells)
        assert not any(cell.endswith("-grad") for f in forward for cell, _ in f["set"])
        # and every gradient is shown by the end, as backward() computes it
        final = final_cell_texts(payload)
        assert not any("?" in final[c] for c in payload["cells"]), style


def test_running_sum_where_a_value_feeds_several_consumers() -> None:
    x, y, z = Value(2.0, "x"), Value(0.5, "y"), Value(1.5, "z")
    a = x * y
    b = x * z
    a.label, b.label = "a", "b"
    loss = a + b
    loss.label = "L"
    payload = player_payload(loss)
    lines = [line["text"] for f in payload["frames"] for line in f["lines"]]
    # b is processed before a (reverse topological order): x hears 1.5 first.
    assert "∂L/∂L × ∂L/∂b = 1 × 1 = 1" not in lines  # b has one consumer: plain form
    assert "∂L/∂b = 1 × 1 = 1" in lines
    assert "∂L/∂b × (local ∂b/∂x) = 1 × 1.5 = 1.5" in lines
    assert "∂L/∂x so far: 1.5 (1 of 2 paths)" in lines
    assert "∂L/∂a × (local ∂a/∂x) = 1 × 0.5 = 0.5" in lines
    assert "∂L/∂x = 1.5 + 0.5 = 2" in lines  # d(xy + xz)/dx = y + z
    x_step = payload["frames"][-1]  # x is id 0: the last backward step
    assert x_step["node"] == 0 and x_step["lines"][0]["text"] == "∂L/∂x = 1.5 + 0.5 = 2"
    # The record cell shows the partial sum, then the whole.
    sets = [dict(f["set"]).get("a_n0-grad") for f in payload["frames"]]
    assert [s for s in sets if s] == ["grad 1.5", "grad 2"]


def test_a_value_used_twice_by_one_node_sums_both_operands() -> None:
    x = Value(3.0, "x")
    square = x * x
    square.label = "s"
    lines = [line["text"] for f in player_payload(square)["frames"] for line in f["lines"]]
    assert lines.count("∂s/∂s × (local ∂s/∂x) = 1 × 3 = 3") == 2
    assert "∂s/∂x = 3 + 3 = 6" in lines  # d(x²)/dx = 2x


def test_long_running_sums_are_elided() -> None:
    x = Value(1.0, "x")
    total = x
    for _ in range(9):
        total = total + x
    total.label = "t"
    lines = [line["text"] for f in player_payload(total)["frames"] for line in f["lines"]]
    assert "∂t/∂x = 1 + 1 + 1 + … + 1 + 1 (10 terms) = 10" in lines


def test_unlabelled_values_are_named_by_id_in_lines_and_picture() -> None:
    x = Value(0.5, "x")
    y = (x * 2).tanh()
    payload = player_payload(y)
    names = [n["name"] for n in payload["nodes"]]
    assert names == ["x", "v1", "v2", "v3"]
    forward = [f["lines"][0]["text"] for f in payload["frames"][1:3]]
    assert forward == ["v2 = x × v1 = 0.5 × 2 = 1", f"v3 = tanh(v2) = tanh(1) = "
                       f"{format_number(math.tanh(1.0))}"]
    local = 1 - math.tanh(1.0) ** 2
    lines = [line["text"] for f in payload["frames"] for line in f["lines"]]
    assert f"∂v3/∂v2 = 1 × {format_number(local)} = {format_number(local)}" in lines
    assert ">v2<" in player_svg(y)  # the picture carries the same names


def test_negative_numbers_are_parenthesised_after_the_first_operand() -> None:
    a, b = Value(-2.0, "a"), Value(-3.0, "b")
    c = a * b
    c.label = "c"
    lines = [line["text"] for f in player_payload(c)["frames"] for line in f["lines"]]
    assert "c = a × b = -2 × (-3) = 6" in lines
    assert "∂c/∂a = 1 × (-3) = -3" in lines


def linear_snapshot() -> dict[str, Any]:
    """A hand-made n-ary linear node (engine contract: parents (*weights, *inputs, bias))."""
    w, x, b = [0.5, -2.0], [3.0, 4.0], 1.0
    out = w[0] * x[0] + w[1] * x[1] + b
    labels = ["w0", "w1", "x0", "x1", "b"]
    data = [*w, *x, b]
    locals_ = [*x, *w, 1.0]  # d out/d w_i = x_i, d out/d x_i = w_i, d out/d b = 1
    nodes = [{"id": i, "label": label, "op": "", "data": d, "grad": loc}
             for i, (label, d, loc) in enumerate(zip(labels, data, locals_))]
    nodes.append({"id": 5, "label": "y", "op": "linear", "data": out, "grad": 1.0})
    edges = [{"parent": i, "child": 5, "share": loc, "local": loc} for i, loc in enumerate(locals_)]
    return {"version": 2, "root": 5, "seed": 1.0, "nodes": nodes, "edges": edges}


def test_linear_node_arithmetic() -> None:
    payload = player_payload(linear_snapshot())
    lines = [line["text"] for f in payload["frames"] for line in f["lines"]]
    assert "y = w0·x0 + w1·x1 + b = 0.5·3 + (-2)·4 + 1 = -5.5" in lines
    assert "∂y/∂w0 = 1 × 3 = 3" in lines
    assert "∂y/∂w1 = 1 × 4 = 4" in lines
    assert "∂y/∂x0 = 1 × 0.5 = 0.5" in lines
    assert "∂y/∂x1 = 1 × (-2) = -2" in lines
    assert "∂y/∂b = 1 × 1 = 1" in lines


def test_version_1_snapshots_play_with_local_derived_or_left_out() -> None:
    root = apple_orange().output
    snap = json.loads(json.dumps(snapshot(root)))
    for edge in snap["edges"]:
        del edge["local"]
    snap["version"] = 1
    lines = [line["text"] for f in player_payload(snap)["frames"] for line in f["lines"]]
    assert "∂price/∂apple = 1.1 × 2 = 2.2" in lines
    # A zero upstream gradient: the local derivative was never recorded.
    zero = {**snap, "seed": 0.0, "nodes": [{**n, "grad": 0.0} for n in snap["nodes"]],
            "edges": [{**e, "share": 0.0} for e in snap["edges"]]}
    lines = [line["text"] for f in player_payload(zero)["frames"] for line in f["lines"]]
    assert "∂price/∂apple = 0" in lines


def test_every_id_the_payload_names_is_in_the_picture() -> None:
    x = Value(0.3, "x")
    unlabelled = (x * x + x).sigmoid()
    for graph in (apple_orange().output, neuron().output, unlabelled):
        for style in ("record", "book"):
            payload = player_payload(graph, style=style)
            ids = set(re.findall(r' id="([^"]+)"', player_svg(graph, style=style)))
            named = set(payload["cells"]) | {element for element, _ in payload["reveal"]}
            for frame in payload["frames"]:
                named |= set(frame["focus"]) | set(frame["flow"])
                named |= {cell for cell, _ in frame["set"]}
            assert named and named <= ids, (style, sorted(named - ids))


def test_final_picture_shows_the_final_state_without_tooltips() -> None:
    svg = player_svg(apple_orange().output)
    assert svg.startswith("<svg") and "<title>" not in svg and "xlink:title" not in svg
    for text in ("data 715", "grad 2.2", "grad 110", "grad 650"):
        assert f">{text}<" in svg
    prefixed = player_svg(apple_orange().output, id_prefix="p1-")
    assert ' id="p1-a_n0-data"' in prefixed and ' id="a_n0-data"' not in prefixed


def test_play_leaves_gradients_alone_and_plays_one_clean_pass() -> None:
    example = apple_orange()
    example.output.backward()  # a second pass: leaves now hold twice their gradient
    apple = example.inputs["apple"]
    assert math.isclose(apple.grad, 4.4)
    player = play(example.output)
    assert math.isclose(apple.grad, 4.4)  # untouched
    lines = [line["text"] for f in player.payload["frames"] for line in f["lines"]]
    assert "∂price/∂apple = 2.2" in lines


def test_player_html_is_self_contained_and_scoped_per_instance(tmp_path: Any) -> None:
    player = play(apple_orange().output, style="book")
    first, second = player.html(), player.html()
    ids = [re.search(r'class="mgb-player" id="([^"]+)"', h).group(1)  # type: ignore[union-attr]
           for h in (first, second)]
    assert ids[0] != ids[1]
    # The picture travels as a data-URI image (sanitizers keep those, not <svg>).
    encoded = re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', first).group(1)  # type: ignore[union-attr]
    picture = base64.b64decode(encoded).decode("utf-8")
    assert picture.startswith("<svg") and f'id="{ids[0]}-a_n8-seed-grad"' in picture
    assert ">2.2<" in picture  # the final state, for where no script runs
    for html in (first, second):
        assert "export function createPlayer" in html and ".mgb-player" in html
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
        assert "</script" not in html.split('<script type="module">')[1].rsplit("</script>", 1)[0]
    bundle = player._repr_mimebundle_()
    assert set(bundle) == {"text/html", "image/svg+xml"}
    assert bundle["image/svg+xml"].startswith("<svg") and ">2.2<" in bundle["image/svg+xml"]
    path = player.save(tmp_path / "player.html")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "default-src 'none'" in page
    with pytest.raises(ValueError, match=r"\.html"):
        player.save(tmp_path / "player.svg")
    assert repr(player) == "<Player: 9 values, 14 steps, style='book'>"


def test_labels_cannot_break_out_of_the_page() -> None:
    evil = Value(1.0, "</script><script>alert(1)</script>")
    out = evil * 2
    html = play(out).html()
    assert html.count("<script") == 2  # the payload and the player, nothing injected


def test_play_refuses_what_is_not_a_graph() -> None:
    with pytest.raises(TypeError, match=r"play\(\) takes a Value .* got list: \[1, 2\]"):
        play([1, 2])  # type: ignore[arg-type]
    from microgrboard.nn import MLP

    with pytest.raises(TypeError, match=r"got MLP, a model: play what it computes, "
                                        r"e\.g\. play\(model\(\[1\.0, 2\.0\]\)\)$"):
        play(MLP(2, [2, 1], seed=0))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"e\.g\. player_payload\(model\("):
        player_payload(MLP(2, [2, 1], seed=0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="style must be 'record' or 'book', got 'table'"):
        play(Value(1.0), style="table")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="snapshot"):
        play({"nodes": []})


def test_play_refuses_a_graph_too_large_to_step_through() -> None:
    x = Value(1.0, "x")
    total = x
    for _ in range(MAX_PLAY_NODES // 2):
        total = total + 1.0
    assert len(topological_order(total)) > MAX_PLAY_NODES
    count = len(topological_order(total))
    for call in (play, player_payload, player_svg):
        with pytest.raises(PlayerTooLargeError, match=rf"has {count} values.*microgrboard\.draw"):
            call(total)
    payload = player_payload(total, max_nodes=None)  # asked for: no limit
    assert len(payload["frames"]) == 1 + MAX_PLAY_NODES // 2 + count


def test_play_is_a_lazy_top_level_name_and_the_assets_ship() -> None:
    assert mg.play is play
    assert isinstance(play(Value(2.0, "x") * 3), Player)
    assert "export function createPlayer" in asset_path("player.js").read_text(encoding="utf-8")
    assert ".mgb-player" in asset_path("player.css").read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="player.js"):
        asset_path("../core.py")


def test_a_live_linear_node_plays_its_chain_rule() -> None:
    from microgrboard.core import linear

    w = [Value(0.5, "w0"), Value(-2.0, "w1")]
    x = [Value(3.0, "x0"), Value(4.0, "x1")]
    b = Value(1.0, "b")
    y = linear(w, x, b).tanh()
    y.label = "y"
    payload = player_payload(y)
    lines = [line["text"] for f in payload["frames"] for line in f["lines"]]
    assert "v5 = w0·x0 + w1·x1 + b = 0.5·3 + (-2)·4 + 1 = -5.5" in lines
    g = 1 - math.tanh(-5.5) ** 2  # tanh' = 1 - tanh², the upstream at the linear node
    assert f"∂y/∂v5 = 1 × {format_number(g)} = {format_number(g)}" in lines
    for name, local in [("w0", 3.0), ("w1", 4.0), ("x0", 0.5), ("x1", -2.0), ("b", 1.0)]:
        local_text = format_number(local) if local > 0 else f"({format_number(local)})"
        assert f"∂y/∂{name} = {format_number(g)} × {local_text} = {format_number(g * local)}" \
            in lines, name
    ids = set(re.findall(r' id="([^"]+)"', player_svg(y, style="book")))
    assert {"a_e0-5-0-grad", "a_e4-5-4-grad", "e4-5-4"} <= ids  # one edge per operand


def test_transcript_reads_the_steps_as_text() -> None:
    player = play(apple_orange().output)
    backward = player.transcript("backward").splitlines()
    assert backward[0] == "Backward step 1 of 9: price (×)"
    assert "    ∂price/∂apple = 1.1 × 2 = 2.2" in backward
    assert not any(line.startswith("Forward") for line in backward)
    everything = player.transcript()
    assert everything.startswith("Forward pass: the inputs\n    apple = 100")
    assert everything.count("\n") > len(backward)
    with pytest.raises(ValueError, match="phase must be"):
        player.transcript("sideways")


def test_the_local_derivative_reads_apart_from_the_total() -> None:
    # w = (x·x + x)·x: the root consumes x directly, so its local ∂w/∂x (6) and the
    # total ∂w/∂x (16 = 3x² + 2x at x = 2) must not be written the same way.
    x = Value(2.0, "x")
    w = (x * x + x) * x
    w.label = "w"
    w.backward()
    assert x.grad == 16.0
    lines = [line["text"] for f in player_payload(w)["frames"] for line in f["lines"]]
    assert "∂w/∂w × (local ∂w/∂x) = 1 × 6 = 6" in lines
    assert "∂w/∂x so far: 6 (1 of 4 paths)" in lines
    assert lines[-2] == "∂w/∂x = 6 + 2 + 4 + 4 = 16"
    totals = [t for t in lines if t.startswith("∂w/∂x = ")]
    assert totals and all(t.endswith("= 16") for t in totals)  # ∂w/∂x names the total only
    assert not any(" × ∂w/∂x" in t for t in lines)
