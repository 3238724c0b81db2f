"""microgrboard's engine against micrograd, side by side, in one process and one run.

    .venv/bin/python benchmarks/bench_engine.py           # the full run (a few minutes)
    .venv/bin/python benchmarks/bench_engine.py --quick   # a smoke run (seconds; rough figures)

micrograd is the ``micrograd`` package on PyPI (the ``bench`` extra). Both engines do the
same work on the same data:

* demo step: micrograd's own demo training step. MLP(2, [16, 16, 1]) with identical
  weights, on 100 seeded moons points: max-margin loss + L2, backward, SGD update.
  "gc on" is the step as a user runs it: consecutive steps in one process with the
  garbage collector enabled, garbage accumulating as in a real loop. "gc off" times the
  engines alone: collector disabled, garbage collected between steps, untimed.
* chain: ``y = y * a + b`` repeated n/2 times (n nodes, depth n), forward + backward.
  micrograd's recursive topological sort cannot go that deep; it is skipped past a
  modestly raised recursion limit.
* wide: a pairwise-summed sum of n products ``sum(w_i * x_i)``, forward + backward.
* memory: bytes per node (tracemalloc) of a wide graph, alive after backward.

Each figure is a median over repeats after a warm-up. The summary ends with lines that
start with ``ratio`` (the smoke test looks for them).
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import micrograd.engine
import micrograd.nn

import microgrboard
import microgrboard.nn

# micrograd's backward recurses once per level of the graph. Raised modestly, and past
# it the benchmark skips micrograd rather than risk the interpreter.
RECURSION_LIMIT = 12_000
MICROGRAD_MAX_DEPTH = RECURSION_LIMIT - 500

SEED = 1337


@dataclass(frozen=True)
class Engine:
    name: str
    Value: Any  # the engine's Value class
    make_mlp: Callable[[int, list[int]], Any]
    parents: Callable[[Any], Sequence[Any]]  # for counting nodes


MICROGRAD = Engine(
    "micrograd",
    micrograd.engine.Value,
    lambda nin, nouts: micrograd.nn.MLP(nin, nouts),
    lambda v: tuple(v._prev),
)
MICROGRBOARD = Engine(
    "microgrboard",
    microgrboard.Value,
    lambda nin, nouts: microgrboard.nn.MLP(nin, nouts, seed=SEED),
    lambda v: v.parents,
)
ENGINES = (MICROGRAD, MICROGRBOARD)


# --- data ----------------------------------------------------------------------------


def moons(n: int, noise: float = 0.1, seed: int = SEED) -> tuple[list[tuple[float, float]], list[int]]:
    """Two interleaving half circles with labels -1 / +1 (micrograd's demo uses ±1)."""
    rng = random.Random(seed)
    X: list[tuple[float, float]] = []
    y: list[int] = []
    for i in range(n):
        angle = math.pi * rng.random()
        if i % 2:
            point = (math.cos(angle), math.sin(angle))
        else:
            point = (1 - math.cos(angle), 0.5 - math.sin(angle))
        X.append((point[0] + rng.gauss(0, noise), point[1] + rng.gauss(0, noise)))
        y.append(1 if i % 2 else -1)
    return X, y


def initial_weights(n_params: int) -> list[float]:
    rng = random.Random(SEED)
    return [rng.uniform(-1, 1) for _ in range(n_params)]


def fresh_mlp(engine: Engine, weights: list[float]) -> Any:
    """MLP(2, [16, 16, 1]) with the given weights (both engines list parameters alike)."""
    model = engine.make_mlp(2, [16, 16, 1])
    params = model.parameters()
    if len(params) != len(weights):
        raise RuntimeError(f"{engine.name}: {len(params)} parameters, expected {len(weights)}")
    for p, w in zip(params, weights):
        p.data = w
    return model


# --- workloads -------------------------------------------------------------------------


def demo_step(engine: Engine, model: Any, X: list[tuple[float, float]], y: list[int], k: int) -> float:
    """One step of micrograd's demo notebook, written as it is there. Returns the loss."""
    V = engine.Value
    inputs = [list(map(V, xrow)) for xrow in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    alpha = 1e-4
    reg_loss = alpha * sum(p * p for p in model.parameters())
    total_loss = data_loss + reg_loss
    accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(y, scores)]
    _ = sum(accuracy) / len(accuracy)
    model.zero_grad()
    total_loss.backward()
    learning_rate = 1.0 - 0.9 * k / 100
    for p in model.parameters():
        p.data -= learning_rate * p.grad
    return float(total_loss.data)


def chain(engine: Engine, n: int) -> float:
    """``y = y * a + b``, n/2 times: n nodes in a line. Returns d(y)/d(b), which is n/2."""
    a, b = engine.Value(1.0), engine.Value(1.0)
    y = engine.Value(0.0)
    for _ in range(n // 2):
        y = y * a + b
    y.backward()
    return float(b.grad)


def tree_sum(values: list[Any]) -> Any:
    """Sum pairwise, so that the graph is wide and shallow (depth log2 n)."""
    while len(values) > 1:
        pairs = [values[i] + values[i + 1] for i in range(0, len(values) - 1, 2)]
        values = pairs + values[-1:] if len(values) % 2 else pairs
    return values[0]


def wide_graph(engine: Engine, n: int) -> tuple[Any, list[Any], list[float]]:
    rng = random.Random(n)
    xs = [rng.uniform(-1, 1) for _ in range(n)]
    ws = [engine.Value(rng.uniform(-1, 1)) for _ in range(n)]
    out = tree_sum([w * engine.Value(x) for w, x in zip(ws, xs)])
    return out, ws, xs


def wide(engine: Engine, n: int) -> float:
    """sum(w_i * x_i) over n products, forward + backward. Returns the largest gradient error."""
    out, ws, xs = wide_graph(engine, n)
    out.backward()
    return max(abs(w.grad - x) for w, x in zip(ws, xs))  # d/dw_i = x_i


# --- timing ----------------------------------------------------------------------------


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def demo_gc_on(engine: Engine, X: Any, y: Any, weights: list[float], steps: int, warmup: int) -> tuple[list[float], list[float]]:
    """Consecutive steps as a user runs them: collector on, garbage left to it."""
    gc.collect()  # start clean: no leftovers of the other engine
    model = fresh_mlp(engine, weights)
    times, losses = [], []
    for k in range(steps):
        seconds, loss = timed(lambda k=k: demo_step(engine, model, X, y, k))
        losses.append(loss)
        if k >= warmup:
            times.append(seconds)
    return times, losses  # type: ignore[return-value]


def demo_gc_off(engine: Engine, X: Any, y: Any, weights: list[float], steps: int, warmup: int) -> tuple[list[float], list[float]]:
    """The engine alone: collector off, each step's garbage collected between steps (untimed)."""
    model = fresh_mlp(engine, weights)
    times, losses = [], []
    gc.disable()
    try:
        for k in range(steps):
            gc.collect()
            seconds, loss = timed(lambda k=k: demo_step(engine, model, X, y, k))
            losses.append(loss)
            if k >= warmup:
                times.append(seconds)
    finally:
        gc.enable()
    return times, losses  # type: ignore[return-value]


def bytes_per_node(engine: Engine, n: int) -> float:
    """Traced bytes of a wide graph of n products, alive after backward, per node."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        out, ws, xs = wide_graph(engine, n)
        out.backward()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    nodes = count_nodes(engine, out)
    del out, ws, xs
    return (after - before) / nodes


def count_nodes(engine: Engine, root: Any) -> int:
    seen = {id(root)}
    stack = [root]
    while stack:
        for parent in engine.parents(stack.pop()):
            if id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
    return len(seen)


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs) if xs else math.nan


def fmt_seconds(s: float) -> str:
    if math.isnan(s):
        return "-"
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


# --- the run ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    args = parser.parse_args(argv)
    quick = args.quick

    sys.setrecursionlimit(max(sys.getrecursionlimit(), RECURSION_LIMIT))
    print(
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores"
        + ("  [--quick: smaller sizes, fewer repeats; figures are rough]" if quick else "")
    )
    results: dict[str, float] = {}

    # --- micrograd's demo step ---
    points = 20 if quick else 100
    rounds, steps, warmup = (1, 3, 1) if quick else (3, 6, 2)
    X, y = moons(points)
    weights = initial_weights(len(MICROGRBOARD.make_mlp(2, [16, 16, 1]).parameters()))
    print(f"\n== demo step: MLP(2, [16, 16, 1]), {points} points, max-margin + L2, backward, SGD ==")
    for mode, run in (("gc on", demo_gc_on), ("gc off", demo_gc_off)):
        times: dict[str, list[float]] = {e.name: [] for e in ENGINES}
        losses: dict[str, list[float]] = {}
        for _ in range(rounds):  # engines interleaved, so that noise hits both alike
            for engine in ENGINES:
                t, losses[engine.name] = run(engine, X, y, weights, steps, warmup)
                times[engine.name].extend(t)
        same = all(
            math.isclose(a, b, rel_tol=1e-9)
            for a, b in zip(losses["micrograd"], losses["microgrboard"])
        )
        mg, mb = median(times["micrograd"]), median(times["microgrboard"])
        results[f"demo {mode}"] = mg / mb
        results[f"demo {mode} microgrboard"] = mb
        results[f"demo {mode} micrograd"] = mg
        print(
            f"{mode:>6}: micrograd {fmt_seconds(mg):>9}   microgrboard {fmt_seconds(mb):>9}   "
            f"{mg / mb:5.1f}x   (median of {len(times['microgrboard'])} steps; "
            f"same losses: {'yes' if same else 'NO'})"
        )

    # --- deep chain ---
    sizes = [1_000, 10_000] if quick else [1_000, 10_000, 100_000, 1_000_000]
    print("\n== chain: y = y * a + b, n nodes deep, forward + backward (gc on) ==")
    for n in sizes:
        repeats = 1 if quick or n >= 1_000_000 else 3
        row = {}
        for engine in ENGINES:
            if engine is MICROGRAD and n > MICROGRAD_MAX_DEPTH:
                row[engine.name] = math.nan
                continue
            gc.collect()
            runs = []
            for _ in range(repeats + (0 if n >= 1_000_000 else 1)):  # +1: warm-up
                try:
                    seconds, db = timed(lambda engine=engine: chain(engine, n))
                except RecursionError:
                    seconds, db = math.nan, n // 2
                if db != n // 2:
                    raise RuntimeError(f"{engine.name}: chain of {n} gave d/db {db}, not {n // 2}")
                runs.append(seconds)
            row[engine.name] = median(runs[-repeats:])
        mg, mb = row["micrograd"], row["microgrboard"]
        note = (
            f"{mg / mb:5.1f}x"
            if not math.isnan(mg)
            else "micrograd skipped: its recursive topological sort would pass "
            f"the recursion limit ({RECURSION_LIMIT})"
        )
        print(f"n={n:>9,}: micrograd {fmt_seconds(mg):>9}   microgrboard {fmt_seconds(mb):>9}   {note}")
        results[f"chain {n}"] = mb
        if not math.isnan(mg):
            results["chain largest shared"] = n
            results["chain largest shared ratio"] = mg / mb

    # --- wide sum of products ---
    sizes = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
    print("\n== wide: sum of n products w_i * x_i (pairwise sums), forward + backward (gc on) ==")
    for n in sizes:
        repeats = 1 if quick else 3
        row = {}
        for engine in ENGINES:
            gc.collect()
            runs = []
            for _ in range(repeats + 1):
                seconds, error = timed(lambda engine=engine: wide(engine, n))
                if error > 1e-12:
                    raise RuntimeError(f"{engine.name}: wide sum of {n} has gradient error {error}")
                runs.append(seconds)
            row[engine.name] = median(runs[1:])
        mg, mb = row["micrograd"], row["microgrboard"]
        print(f"n={n:>9,}: micrograd {fmt_seconds(mg):>9}   microgrboard {fmt_seconds(mb):>9}   {mg / mb:5.1f}x")
        results["wide"] = mg / mb
        results["wide n"] = n

    # --- memory ---
    n = 5_000 if quick else 50_000
    print(f"\n== memory: bytes per node (tracemalloc), wide graph of {n:,} products after backward ==")
    memory = {engine.name: bytes_per_node(engine, n) for engine in ENGINES}
    print(f"micrograd {memory['micrograd']:.0f} B   microgrboard {memory['microgrboard']:.0f} B")

    # --- summary ---
    def verdict(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    print("\n== summary (targets from the tracker) ==")
    on, off = results["demo gc on"], results["demo gc off"]
    print(f"ratio demo step, gc on (as users run it): {on:.1f}x faster than micrograd "
          f"(target >= 10x) {verdict(on >= 10)}")
    print(f"ratio demo step, gc off (engines alone): {off:.1f}x faster than micrograd "
          f"(target >= 2.5x) {verdict(off >= 2.5)}")
    if "chain largest shared ratio" in results:
        print(f"ratio chain of {results['chain largest shared']:,.0f} nodes: "
              f"{results['chain largest shared ratio']:.1f}x faster than micrograd")
    print(f"ratio wide sum of {results['wide n']:,.0f} products: {results['wide']:.1f}x faster than micrograd")
    ratio = memory["micrograd"] / memory["microgrboard"]
    print(f"ratio bytes per node: {ratio:.1f}x smaller than micrograd "
          f"({memory['microgrboard']:.0f} B vs {memory['micrograd']:.0f} B; target <= 200 B) "
          f"{verdict(memory['microgrboard'] <= 200)}")
    if "chain 1000000" in results:
        s = results["chain 1000000"]
        print(f"chain of 1,000,000 nodes, forward + backward: {fmt_seconds(s)} (target < 5 s) {verdict(s < 5)}")
    else:
        print("chain of 1,000,000 nodes: not run (--quick)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
