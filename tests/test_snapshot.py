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
