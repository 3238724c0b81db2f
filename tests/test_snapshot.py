"""The snapshot format shared by drawing and the board."""

import json
import math

import pytest

from microgrboard import Value
from microgrboard.examples import apple_tax
from microgrboard.snapshot import (
    backward_order,
    check_snapshot,
    grads_at_step,
    snapshot,
    structure_key,
    to_json,
)


def test_apple_tax_snapshot_carries_the_books_numbers():
    snap = snapshot(apple_tax().output)
    by_label = {n["label"]: n for n in snap["nodes"]}
    assert [n["id"] for n in snap["nodes"]] == list(range(5)) and snap["root"] == 4
    assert by_label["price"]["data"] == pytest.approx(220)
    assert by_label["tax"]["grad"] == pytest.approx(200)
    shares = {(snap["nodes"][e["parent"]]["label"], snap["nodes"][e["child"]]["label"]): e["share"]
              for e in snap["edges"]}
    assert shares == pytest.approx({
        ("apple", "apple_price"): 2.2, ("apple_count", "apple_price"): 110,
        ("apple_price", "price"): 1.1, ("tax", "price"): 200,
    })


def test_grads_at_each_step_of_the_backward_pass():
    snap = snapshot(apple_tax().output)
    assert backward_order(snap) == [4, 3, 2, 1, 0]
    first = grads_at_step(snap, 0)  # the price node has handed on its gradient
    assert first[4] == 1.0 and first[2] == pytest.approx(1.1) and first[0] is None
    last = grads_at_step(snap, 4)
    assert last == pytest.approx({n["id"]: n["grad"] for n in snap["nodes"]})
    with pytest.raises(ValueError, match="step must be in 0..4"):
        grads_at_step(snap, 5)


def test_structure_key_ignores_numbers_but_not_shape():
    def graph(a, b, op="*"):
        x, y = Value(a, "x"), Value(b, "y")
        out = x * y if op == "*" else x + y
        out.backward()
        return snapshot(out)

    assert structure_key(graph(1.0, 2.0)) == structure_key(graph(5.0, -3.0))
    assert structure_key(graph(1.0, 2.0)) != structure_key(graph(1.0, 2.0, op="+"))


def test_strict_json_and_the_check_round_trip():
    x = Value(-1.0)
    y = x ** Value(2.0)  # the exponent's gradient at a negative base is nan
    y.backward()
    snap = snapshot(y)
    assert any(math.isnan(e["share"]) for e in snap["edges"])
    text = to_json(snap)
    assert "NaN" in text and "nan" not in text.replace("NaN", "")
    back = check_snapshot(json.loads(text))
    assert to_json(back) == text


@pytest.mark.parametrize("bad", [None, [], {"nodes": []}, {"nodes": [], "edges": [], "root": 0}])
def test_check_snapshot_says_what_is_wrong(bad):
    with pytest.raises(ValueError, match="snapshot"):
        check_snapshot(bad)


def test_edges_carry_the_local_derivative() -> None:
    x = Value(0.5, "x")
    y = Value(-3.0, "y")
    out = (x * y).tanh()
    out.backward()
    snap = snapshot(out)
    assert snap["version"] == 2
    by_pair = {(e["parent"], e["child"]): e for e in snap["edges"]}
    assert by_pair[(0, 2)]["local"] == -3.0 and by_pair[(1, 2)]["local"] == 0.5  # the swap
    tanh_edge = by_pair[(2, 3)]
    assert tanh_edge["local"] == pytest.approx(1 - math.tanh(-1.5) ** 2)
    for edge in snap["edges"]:  # share = child's gradient × local
        child_grad = snap["nodes"][edge["child"]]["grad"]
        assert edge["share"] == pytest.approx(child_grad * edge["local"])


def test_a_local_derivative_that_does_not_exist_is_nan() -> None:
    x = Value(0.0, "x")
    root = x.sqrt()  # d sqrt(x)/dx is infinite at 0: the rule raises
    snap = snapshot(root, seed=1.0)
    assert math.isnan(snap["edges"][0]["local"]) and math.isnan(snap["edges"][0]["share"])
    assert math.isnan(check_snapshot(json.loads(to_json(snap)))["edges"][0]["local"])


def test_seed_records_one_clean_pass_and_leaves_grads_alone() -> None:
    example = apple_tax()
    example.output.backward()  # accumulates: leaves now hold twice their gradient
    apple = example.inputs["apple"]
    assert apple.grad == pytest.approx(4.4)
    clean = snapshot(example.output, seed=1.0)
    assert clean["nodes"][0]["grad"] == pytest.approx(2.2) and clean["seed"] == 1.0
    assert apple.grad == pytest.approx(4.4)
    assert snapshot(example.output)["nodes"][0]["grad"] == pytest.approx(4.4)
    doubled = snapshot(example.output, seed=2.0)
    assert [e["share"] for e in doubled["edges"]] == pytest.approx(
        [2 * e["share"] for e in clean["edges"]])


def test_version_1_snapshots_are_still_read() -> None:
    snap = json.loads(to_json(snapshot(apple_tax().output)))
    for edge in snap["edges"]:
        del edge["local"]
    snap["version"] = 1
    snap["edges"].append({"parent": 1, "child": 3, "share": 0.0})  # into a node of grad 0
    snap["nodes"][3]["grad"] = 0.0
    checked = check_snapshot(snap)
    assert checked["version"] == 2
    locals_ = [e["local"] for e in checked["edges"]]
    assert locals_[:2] == pytest.approx([2.0, 100.0])  # apple: × count; count: × apple
    assert locals_[-1] is None  # share / grad is undefined: not recorded, not made up


@pytest.mark.parametrize("bad", [{"version": 3}, {"version": True}])
def test_unknown_versions_are_refused(bad):
    snap = {**json.loads(to_json(snapshot(apple_tax().output))), **bad}
    with pytest.raises(ValueError, match="it reads versions 1, 2"):
        check_snapshot(snap)


def test_a_local_must_be_a_number_or_null() -> None:
    snap = json.loads(to_json(snapshot(apple_tax().output)))
    snap["edges"][0]["local"] = "steep"
    with pytest.raises(ValueError, match="edge 0 local must be a number"):
        check_snapshot(snap)
