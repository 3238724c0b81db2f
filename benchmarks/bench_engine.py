"""microgrboard's engine against micrograd, side by side, in one process and one run.

    .venv/bin/python benchmarks/bench_engine.py           # the full run (a few minutes)
    .venv/bin/python benchmarks/bench_engine.py --quick   # a smoke run (seconds; rough figures)
    .venv/bin/python benchmarks/bench_engine.py --markdown table.md   # + a Markdown table

micrograd is the ``micrograd`` package on PyPI (the ``bench`` extra). Both engines do the
same work on the same data, and the run stops with an error if their results differ:

* demo step: micrograd's own demo training step. MLP(2, [16, 16, 1]) with identical
  weights, on 100 seeded moons points: max-margin loss + L2, backward, SGD update.
  "gc on" is the step as a user runs it: consecutive steps in one process with the
  garbage collector enabled, garbage accumulating as in a real loop. "gc off" times the
  engines alone: collector disabled, each step's garbage collected between steps, untimed.
* chain: ``y = y * a + b`` repeated n/2 times (n nodes, n deep), forward + backward.
  micrograd's recursive topological sort cannot go that deep: past a modestly raised
  recursion limit it is skipped (and said so) rather than risk the interpreter.
* wide: a pairwise-summed sum of n products ``w_i * x_i``, forward + backward.
* memory: bytes per node (tracemalloc) of a wide graph, alive after backward.

Figures are medians over repeats after a warm-up; engines take turns, so that noise
from other processes hits both alike. The summary lines start with ``ratio``.
"""

from __future__ import annotations

import argparse
import datetime
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
from functools import partial
from pathlib import Path
from typing import Any

import micrograd.engine
import micrograd.nn

import microgrboard
import microgrboard.nn

# micrograd's backward recurses once per level of the graph: allow it some depth, and
# skip it for deeper graphs (a RecursionError is caught too, should the margin be short).
RECURSION_LIMIT = 12_000
MICROGRAD_MAX_DEPTH = RECURSION_LIMIT - 500
SEED = 1337
SIZES = [2, 16, 16, 1]  # micrograd's demo: MLP(2, [16, 16, 1])


@dataclass(frozen=True)
class Engine:
    name: str
    Value: Any  # the engine's Value class
    make_mlp: Callable[[], Any]  # MLP(2, [16, 16, 1])
    parents: Callable[[Any], Sequence[Any]]  # to count a graph's nodes


MICROGRAD = Engine(
    "micrograd",
    micrograd.engine.Value,
    lambda: micrograd.nn.MLP(SIZES[0], SIZES[1:]),
    lambda v: tuple(v._prev),
)
MICROGRBOARD = Engine(
    "microgrboard",
    microgrboard.Value,
    lambda: microgrboard.nn.MLP(SIZES[0], SIZES[1:], seed=SEED),
    lambda v: v.parents,
)
ENGINES = (MICROGRAD, MICROGRBOARD)
Points = list[tuple[float, float]]


# --- data ------------------------------------------------------------------------------


def moons(n: int, noise: float = 0.1, seed: int = SEED) -> tuple[Points, list[int]]:
    """Two interleaving half circles, labelled -1 and +1 as micrograd's demo wants."""
    rng = random.Random(seed)
    X: Points = []
    y: list[int] = []
    for i in range(n):
        angle = math.pi * rng.random()
        upper = i % 2 == 1
        cx, cy = (
            (math.cos(angle), math.sin(angle))
            if upper
            else (1 - math.cos(angle), 0.5 - math.sin(angle))
        )
        X.append((cx + rng.gauss(0, noise), cy + rng.gauss(0, noise)))
        y.append(1 if upper else -1)
    return X, y


def fresh_mlp(engine: Engine, weights: list[float]) -> Any:
    """The demo's MLP with the given weights (both engines list parameters alike)."""
    model = engine.make_mlp()
    params = model.parameters()
    if len(params) != len(weights):
        raise RuntimeError(f"{engine.name}: {len(params)} parameters, expected {len(weights)}")
    for p, w in zip(params, weights):
        p.data = w
    return model


# --- workloads ---------------------------------------------------------------------------


def demo_step(engine: Engine, model: Any, X: Points, y: list[int], k: int) -> float:
    """Step k of micrograd's demo notebook, written as it is there. Returns the loss."""
    inputs = [list(map(engine.Value, xrow)) for xrow in X]
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


def chain(engine: Engine, n: int) -> None:
    """``y = y * a + b``, n/2 times: n nodes in a line. Checks d(y)/d(b) = n/2."""
    a, b = engine.Value(1.0), engine.Value(1.0)
    y = engine.Value(0.0)
    for _ in range(n // 2):
        y = y * a + b
    y.backward()
    if b.grad != n // 2:
        raise RuntimeError(f"{engine.name}: chain of {n} gave d/db = {b.grad}, not {n // 2}")


def wide_graph(engine: Engine, n: int) -> tuple[Any, list[Any], list[float]]:
    """``sum(w_i * x_i)`` over n products, summed pairwise: wide and log2(n) deep."""
    rng = random.Random(n)
    xs = [rng.uniform(-1, 1) for _ in range(n)]
    ws = [engine.Value(rng.uniform(-1, 1)) for _ in range(n)]
    terms = [w * engine.Value(x) for w, x in zip(ws, xs)]
    while len(terms) > 1:
        pairs = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        terms = pairs + terms[-1:] if len(terms) % 2 else pairs
    return terms[0], ws, xs


def wide(engine: Engine, n: int) -> None:
    """The wide graph, forward + backward. Checks d/dw_i = x_i."""
    out, ws, xs = wide_graph(engine, n)
    out.backward()
    error = max(abs(w.grad - x) for w, x in zip(ws, xs))
    if error > 1e-12:
        raise RuntimeError(f"{engine.name}: wide sum of {n} has gradient error {error}")


def bytes_per_node(engine: Engine, n: int) -> float:
    """Traced bytes of the wide graph of n products, alive after backward, per node."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        out, ws, xs = wide_graph(engine, n)
        out.backward()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return (after - before) / count_nodes(engine, out)


def count_nodes(engine: Engine, root: Any) -> int:
    seen = {id(root)}
    stack = [root]
    while stack:
        for parent in engine.parents(stack.pop()):
            if id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
    return len(seen)


# --- timing ------------------------------------------------------------------------------


def seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def demo_gc_on(
    engine: Engine, data: tuple[Points, list[int]], weights: list[float], steps: int, warmup: int
) -> tuple[list[float], list[float]]:
    """As a user runs it: a fresh model, consecutive steps, garbage left to the collector.

    Returns the times of the steps after the warm-up, and every step's loss.
    """
    gc.collect()  # start clean: no garbage left by the other engine
    model = fresh_mlp(engine, weights)
    times, losses = [], []
    for k in range(steps):
        start = time.perf_counter()
        losses.append(demo_step(engine, model, *data, k))
        if k >= warmup:
            times.append(time.perf_counter() - start)
    return times, losses


def demo_gc_off(
    data: tuple[Points, list[int]], weights: list[float], steps: int, warmup: int
) -> dict[str, tuple[list[float], list[float]]]:
    """The engines alone: collector off, garbage collected between steps (untimed).

    The engines take turns step by step, so that the load of other processes hits both
    alike. Returns, per engine, the times of the steps after the warm-up and the losses.
    """
    models = {engine.name: fresh_mlp(engine, weights) for engine in ENGINES}
    results: dict[str, tuple[list[float], list[float]]] = {e.name: ([], []) for e in ENGINES}
    gc.disable()
    try:
        for k in range(steps):
            for engine in ENGINES:
                gc.collect()
                times, losses = results[engine.name]
                start = time.perf_counter()
                losses.append(demo_step(engine, models[engine.name], *data, k))
                if k >= warmup:
                    times.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return results


def fmt_seconds(s: float) -> str:
    if math.isnan(s):
        return "-"
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


@dataclass
class Row:
    workload: str
    micrograd: str
    microgrboard: str
    ratio: str
    target: str = ""


def print_row(row: Row) -> None:
    print(
        f"{row.workload:<34} micrograd {row.micrograd:>9}   microgrboard {row.microgrboard:>9}"
        f"   {row.ratio}{'   ' + row.target if row.target else ''}"
    )


# --- the run -----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument(
        "--markdown", type=Path, help="also write the results as a Markdown table to this file"
    )
    args = parser.parse_args(argv)
    quick = args.quick

    sys.setrecursionlimit(max(sys.getrecursionlimit(), RECURSION_LIMIT))
    machine = (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()} ({platform.python_implementation()})"
    )
    print(machine + ("  [--quick: small sizes, few repeats; rough figures]" if quick else ""))
    rows: list[Row] = []
    summary: list[str] = []

    def report(row: Row) -> None:
        rows.append(row)
        print_row(row)

    # micrograd's demo step
    points = 20 if quick else 100
    # (rounds, steps per round, of which warm-up): gc off is cheap, so it gets more rounds.
    plan = {True: (1, 3, 1), False: (1, 3, 1)} if quick else {True: (3, 6, 2), False: (4, 8, 2)}
    data = moons(points)
    rng = random.Random(SEED)
    weights = [rng.uniform(-1, 1) for _ in MICROGRBOARD.make_mlp().parameters()]
    print(
        f"\n== demo step: MLP(2, [16, 16, 1]) on {points} points, max-margin + L2, backward, SGD =="
    )
    for collector, mode in ((True, "gc on (as users run it)"), (False, "gc off (engines alone)")):
        times: dict[str, list[float]] = {e.name: [] for e in ENGINES}
        losses: dict[str, list[float]] = {}
        rounds, steps, warmup = plan[collector]
        for _ in range(rounds):
            if collector:
                for engine in ENGINES:
                    t, losses[engine.name] = demo_gc_on(engine, data, weights, steps, warmup)
                    times[engine.name].extend(t)
            else:
                for name, (t, losses[name]) in demo_gc_off(data, weights, steps, warmup).items():
                    times[name].extend(t)
        for a, b in zip(losses["micrograd"], losses["microgrboard"]):
            if not math.isclose(a, b, rel_tol=1e-9):
                raise RuntimeError(f"the engines' demo losses differ: {a} vs {b}")
        mg, mb = statistics.median(times["micrograd"]), statistics.median(times["microgrboard"])
        goal = 10.0 if collector else 2.5
        verdict = "ok" if mg / mb >= goal else "MISSED"
        report(
            Row(
                f"demo step, {mode}",
                fmt_seconds(mg),
                fmt_seconds(mb),
                f"{mg / mb:.2f}x faster",
                f">= {goal:g}x: {verdict}",
            )
        )
        summary.append(
            f"ratio demo step, {mode}: {mg / mb:.2f}x faster than micrograd "
            f"(target >= {goal:g}x) {verdict}"
        )
    print("(medians over steps; engines take turns; both engines' losses agree)")

    # deep chain
    print("\n== chain: y = y * a + b, n nodes deep, forward + backward, gc on ==")
    # --quick still goes past micrograd's reach (20,000), so the skip path runs too.
    sizes = [1_000, 10_000, 20_000] if quick else [1_000, 10_000, 100_000, 1_000_000]
    shared = None
    for n in sizes:
        repeats = 1 if quick or n >= 1_000_000 else 3
        warm = 0 if n >= 1_000_000 else 1
        median_of: dict[str, float] = {}
        for engine in ENGINES:
            if engine is MICROGRAD and n > MICROGRAD_MAX_DEPTH:
                median_of[engine.name] = math.nan
                continue
            gc.collect()
            try:
                runs = [seconds(partial(chain, engine, n)) for _ in range(warm + repeats)]
                median_of[engine.name] = statistics.median(runs[warm:])
            except RecursionError:
                median_of[engine.name] = math.nan
        mg, mb = median_of["micrograd"], median_of["microgrboard"]
        if math.isnan(mg):
            ratio = f"micrograd skipped: recursion limit {RECURSION_LIMIT} < depth"
        else:
            ratio, shared = f"{mg / mb:.1f}x faster", (n, mg / mb)
        target = ""
        if n == 1_000_000:
            target = f"< 5 s: {'ok' if mb < 5 else 'MISSED'}"
            summary.append(
                f"chain of 1,000,000 nodes, forward + backward: {fmt_seconds(mb)} "
                f"(target < 5 s) {'ok' if mb < 5 else 'MISSED'}"
            )
        report(Row(f"chain, n = {n:,}", fmt_seconds(mg), fmt_seconds(mb), ratio, target))
    if shared:
        summary.append(
            f"ratio chain of {shared[0]:,} nodes: {shared[1]:.1f}x faster than micrograd"
        )
    if 1_000_000 not in sizes:
        summary.append("chain of 1,000,000 nodes: not run (--quick)")

    # wide sum of products
    print("\n== wide: sum of n products w_i * x_i, summed pairwise, forward + backward, gc on ==")
    sizes = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
    for n in sizes:
        repeats = 1 if quick else 3
        median_of = {}
        for engine in ENGINES:
            gc.collect()
            runs = [seconds(partial(wide, engine, n)) for _ in range(1 + repeats)]
            median_of[engine.name] = statistics.median(runs[1:])
        mg, mb = median_of["micrograd"], median_of["microgrboard"]
        report(Row(f"wide, n = {n:,}", fmt_seconds(mg), fmt_seconds(mb), f"{mg / mb:.1f}x faster"))
    summary.append(
        f"ratio wide sum of {sizes[-1]:,} products: {mg / mb:.1f}x faster than micrograd"
    )

    # memory
    n = 5_000 if quick else 50_000
    print(
        f"\n== memory: bytes per node (tracemalloc), wide graph of {n:,} products, "
        "after backward =="
    )
    mg, mb = (bytes_per_node(engine, n) for engine in ENGINES)
    verdict = "ok" if mb <= 200 else "MISSED"
    report(
        Row(
            "bytes per node",
            f"{mg:.0f} B",
            f"{mb:.0f} B",
            f"{mg / mb:.1f}x smaller",
            f"<= 200 B: {verdict}",
        )
    )
    summary.append(
        f"ratio bytes per node: {mg / mb:.1f}x smaller than micrograd "
        f"({mb:.0f} B vs {mg:.0f} B; target <= 200 B) {verdict}"
    )

    print("\n== summary (targets from the tracker) ==")
    print("\n".join(summary))
    if args.markdown:
        write_markdown(args.markdown, machine, quick, rows)
        print(f"\nwrote {args.markdown}")
    return 0


def write_markdown(path: Path, machine: str, quick: bool, rows: list[Row]) -> None:
    lines = [
        "# Engine benchmark: microgrboard against micrograd",
        "",
        f"Measured {datetime.date.today().isoformat()} on {machine}, micrograd "
        f"{_version('micrograd')}, with `benchmarks/bench_engine.py{' --quick' if quick else ''}`"
        " (one process, one run; medians; the machine was shared with other work).",
        "",
        "| workload | micrograd | microgrboard | microgrboard is | target |",
        "| --- | --: | --: | --- | --- |",
    ]
    lines += [
        f"| {r.workload} | {r.micrograd} | {r.microgrboard} | {r.ratio} | {r.target} |"
        for r in rows
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _version(distribution: str) -> str:
    from importlib.metadata import version

    return version(distribution)


if __name__ == "__main__":
    raise SystemExit(main())
