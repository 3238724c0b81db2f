"""microgrboard's engine against micrograd and PyTorch, side by side, in one process and one run.

    .venv/bin/python benchmarks/bench_engine.py           # the full run (a few minutes)
    .venv/bin/python benchmarks/bench_engine.py --quick   # a smoke run (seconds; rough figures)
    .venv/bin/python benchmarks/bench_engine.py --markdown table.md   # + a Markdown table

micrograd is the ``micrograd`` package on PyPI and PyTorch the ``torch`` CPU build (both
in the ``bench`` extra; without torch the run says so and skips it). The engines do the
same work on the same data, and the run stops with an error if their results differ:

* demo step: micrograd's own demo training step. MLP(2, [16, 16, 1]) with identical
  weights, on 100 seeded moons points: max-margin loss + L2, backward, SGD update.
  PyTorch runs it as a scalar autograd engine, as micrograd does: one float64 0-d tensor
  per number, each neuron ``sum(w_i * x_i) + b``. "gc on" is the step as a user runs it:
  consecutive steps in one process with the garbage collector enabled, garbage
  accumulating as in a real loop. "gc off" times the engines alone: collector disabled,
  each step's garbage collected between steps, untimed.
* digits epoch: one epoch of MLP(64, [32, 10]) on the 1,437 training images of
  ``datasets.digits()`` (scikit-learn's bundled 8x8 digits, the ``data`` extra), batches
  of 32, softmax cross-entropy, Adam; microgrboard alone, collector on.
* chain: ``y = y * a + b`` repeated n/2 times (n nodes, n deep), forward + backward.
  micrograd's recursive topological sort cannot go that deep: past a modestly raised
  recursion limit it is skipped (and said so) rather than risk the interpreter.
* wide: a pairwise-summed sum of n products ``w_i * x_i``, forward + backward.
* memory: bytes per node (tracemalloc) of a wide graph and of a chain, alive after
  backward.

Times are the best of several repeats after a warm-up (the machine is shared: the best
is the run least disturbed by other work); engines take turns, so that noise from other
processes hits them alike. The summary lines start with ``ratio``.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import math
import os
import platform
import random
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
TARGETS = {"gc on": 40.0, "gc off": 8.0, "torch": 15.0, "digits epoch": 2.0, "bytes": 200}


@dataclass(frozen=True)
class Engine:
    name: str
    Value: Any  # the engine's Value class (or what makes one number)
    make_mlp: Callable[[list[float]], Any]  # MLP(2, [16, 16, 1]) with these weights
    parents: Callable[[Any], Sequence[Any]]  # to count a graph's nodes


def with_weights(model: Any, weights: list[float]) -> Any:
    """``model`` with the given weights (both engines list parameters alike)."""
    params = model.parameters()
    if len(params) != len(weights):
        raise RuntimeError(f"{type(model)}: {len(params)} parameters, expected {len(weights)}")
    for p, w in zip(params, weights):
        p.data = w
    return model


MICROGRAD = Engine(
    "micrograd",
    micrograd.engine.Value,
    lambda weights: with_weights(micrograd.nn.MLP(SIZES[0], SIZES[1:]), weights),
    lambda v: tuple(v._prev),
)
MICROGRBOARD = Engine(
    "microgrboard",
    microgrboard.Value,
    lambda weights: with_weights(microgrboard.nn.MLP(SIZES[0], SIZES[1:], seed=SEED), weights),
    lambda v: v.parents,
)
ENGINES = (MICROGRAD, MICROGRBOARD)
Points = list[tuple[float, float]]


def torch_engine() -> Engine | None:
    """PyTorch as a scalar autograd engine, or None (said so) when torch is not installed."""
    try:
        import torch
    except ImportError:
        print("torch is not installed: the PyTorch comparison is skipped (pip install torch)")
        return None
    torch.set_num_threads(1)  # scalar ops: threads only add overhead on a shared machine

    def number(x: float, requires_grad: bool = False) -> Any:
        return torch.tensor(float(x), dtype=torch.float64, requires_grad=requires_grad)

    class Neuron:  # micrograd's Neuron, on 0-d tensors
        def __init__(self, weights: list[float], relu: bool) -> None:
            self.w = [number(w, requires_grad=True) for w in weights[:-1]]
            self.b = number(weights[-1], requires_grad=True)
            self.relu = relu

        def __call__(self, x: list[Any]) -> Any:
            act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
            return act.relu() if self.relu else act

        def parameters(self) -> list[Any]:
            return [*self.w, self.b]

    class MLP:
        def __init__(self, weights: list[float]) -> None:
            self.layers, at = [], 0
            for i, (nin, nout) in enumerate(zip(SIZES, SIZES[1:])):
                relu = i < len(SIZES) - 2
                layer = []
                for _ in range(nout):
                    layer.append(Neuron(weights[at : at + nin + 1], relu))
                    at += nin + 1
                self.layers.append(layer)

        def __call__(self, x: list[Any]) -> Any:
            for layer in self.layers:
                x = [neuron(x) for neuron in layer]
            return x[0] if len(x) == 1 else x

        def parameters(self) -> list[Any]:
            return [p for layer in self.layers for n in layer for p in n.parameters()]

        def zero_grad(self) -> None:
            for p in self.parameters():
                p.grad = None

    return Engine(f"PyTorch {torch.__version__}", number, MLP, lambda v: ())


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


def chain_graph(engine: Engine, n: int) -> tuple[Any, Any]:
    """``y = y * a + b``, n/2 times: n nodes in a line. Returns y and b."""
    a, b = engine.Value(1.0), engine.Value(1.0)
    y = engine.Value(0.0)
    for _ in range(n // 2):
        y = y * a + b
    return y, b


def chain(engine: Engine, n: int) -> None:
    """The chain, forward + backward. Checks d(y)/d(b) = n/2."""
    y, b = chain_graph(engine, n)
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


def bytes_per_node(engine: Engine, make: Callable[[], Any]) -> float:
    """Traced bytes of the graph ``make()`` builds (its root first), alive after
    backward, per node."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        graph = make()
        graph[0].backward()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return (after - before) / count_nodes(engine, graph[0])


def count_nodes(engine: Engine, root: Any) -> int:
    seen = {id(root)}
    stack = [root]
    while stack:
        for parent in engine.parents(stack.pop()):
            if id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
    return len(seen)


def digits_epoch(model: Any, optimizer: Any, train: Any, batch_size: int, seed: int) -> float:
    """One epoch of mini-batch training, as the book's chapter 5 does. Returns the mean loss."""
    from microgrboard.losses import softmax_cross_entropy

    X, y = train
    order = list(range(len(y)))
    random.Random(seed).shuffle(order)
    total = 0.0
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        loss = softmax_cross_entropy([model(X[i]) for i in batch], [y[i] for i in batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.data * len(batch)
    return total / len(order)


def test_accuracy(model: Any, test: Any) -> float:
    X, y = test
    with microgrboard.no_grad():
        right = 0
        for x, label in zip(X, y):
            scores = [s.data for s in model(x)]
            right += scores.index(max(scores)) == label
    return right / len(y)


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
    model = engine.make_mlp(weights)
    times, losses = [], []
    for k in range(steps):
        start = time.perf_counter()
        losses.append(demo_step(engine, model, *data, k))
        if k >= warmup:
            times.append(time.perf_counter() - start)
    return times, losses


def demo_gc_off(
    engines: Sequence[Engine],
    data: tuple[Points, list[int]],
    weights: list[float],
    steps: dict[str, int],
    warmup: int,
) -> dict[str, tuple[list[float], list[float]]]:
    """The engines alone: collector off, garbage collected between steps (untimed).

    The engines take turns step by step, so that the load of other processes hits them
    alike (an engine with fewer ``steps`` stops taking turns early). Returns, per
    engine, the times of the steps after the warm-up and the losses.
    """
    models = {engine.name: engine.make_mlp(weights) for engine in engines}
    results: dict[str, tuple[list[float], list[float]]] = {e.name: ([], []) for e in engines}
    gc.disable()
    try:
        for k in range(max(steps.values())):
            for engine in engines:
                if k >= steps[engine.name]:
                    continue
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
        f"{row.workload:<40} micrograd {row.micrograd:>9}   microgrboard {row.microgrboard:>9}"
        f"   {row.ratio}{'   ' + row.target if row.target else ''}"
    )


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


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
    torch = torch_engine()
    rows: list[Row] = []
    summary: list[str] = []

    def report(row: Row) -> None:
        rows.append(row)
        print_row(row)

    # micrograd's demo step
    points = 20 if quick else 100
    engines = (*ENGINES, torch) if torch else ENGINES
    # Steps per round, of which warm-up; rounds. PyTorch's step takes ~50x ours: fewer.
    steps = {e.name: 3 if quick else 8 for e in ENGINES}
    if torch:
        steps[torch.name] = 3 if quick else 5
    warmup, rounds = (1, 1) if quick else (2, 3)
    data = moons(points)
    rng = random.Random(SEED)
    weights = [rng.uniform(-1, 1) for _ in MICROGRBOARD.make_mlp([0.0] * 337).parameters()]
    print(
        f"\n== demo step: MLP(2, [16, 16, 1]) on {points} points, max-margin + L2, backward, SGD =="
    )
    for collector, mode in ((True, "gc on (as users run it)"), (False, "gc off (engines alone)")):
        times: dict[str, list[float]] = {e.name: [] for e in engines}
        losses: dict[str, list[float]] = {}
        for _ in range(rounds):
            if collector:
                for engine in engines:
                    t, losses[engine.name] = demo_gc_on(
                        engine, data, weights, steps[engine.name], warmup
                    )
                    times[engine.name].extend(t)
            else:
                results = demo_gc_off(engines, data, weights, steps, warmup)
                for name, (t, losses[name]) in results.items():
                    times[name].extend(t)
        for engine in engines[1:]:
            for a, b in zip(losses["micrograd"], losses[engine.name]):
                if not math.isclose(a, b, rel_tol=1e-9):
                    raise RuntimeError(
                        f"the demo losses of micrograd and {engine.name} differ: {a} vs {b}"
                    )
        best = {name: min(t) for name, t in times.items()}
        mg, mb = best["micrograd"], best["microgrboard"]
        goal = TARGETS["gc on" if collector else "gc off"]
        ok = verdict(mg / mb >= goal)
        report(
            Row(
                f"demo step, {mode}",
                fmt_seconds(mg),
                fmt_seconds(mb),
                f"{mg / mb:.2f}x faster",
                f">= {goal:g}x: {ok}",
            )
        )
        summary.append(
            f"ratio demo step, {mode}: {mg / mb:.2f}x faster than micrograd "
            f"(target >= {goal:g}x) {ok}"
        )
        if torch:
            pt, goal = best[torch.name], TARGETS["torch"]
            ok = verdict(pt / mb >= goal)
            print(
                f"{'':<40} {torch.name} {fmt_seconds(pt)}: microgrboard is {pt / mb:.1f}x "
                f"faster   >= {goal:g}x: {ok}"
            )
            summary.append(
                f"ratio demo step, {mode}: {pt / mb:.1f}x faster than {torch.name}'s scalar "
                f"autograd (target >= {goal:g}x) {ok}"
            )
    agree = "both engines' losses agree" + ("; PyTorch's too" if torch else "")
    best_of_steps = rounds * (steps["microgrboard"] - warmup)
    print(f"(best of {best_of_steps} steps; engines take turns; {agree})")

    # one epoch of digits
    train_digits(quick, summary)

    # deep chain
    print("\n== chain: y = y * a + b, n nodes deep, forward + backward, gc on ==")
    # --quick still goes past micrograd's reach (20,000), so the skip path runs too.
    sizes = [1_000, 10_000, 20_000] if quick else [1_000, 10_000, 100_000, 1_000_000]
    shared = None
    for n in sizes:
        repeats = 1 if quick or n >= 1_000_000 else 3
        warm = 0 if n >= 1_000_000 else 1
        best_of: dict[str, float] = {}
        for engine in ENGINES:
            if engine is MICROGRAD and n > MICROGRAD_MAX_DEPTH:
                best_of[engine.name] = math.nan
                continue
            gc.collect()
            try:
                runs = [seconds(partial(chain, engine, n)) for _ in range(warm + repeats)]
                best_of[engine.name] = min(runs[warm:])
            except RecursionError:
                best_of[engine.name] = math.nan
        mg, mb = best_of["micrograd"], best_of["microgrboard"]
        if math.isnan(mg):
            ratio = f"micrograd skipped: recursion limit {RECURSION_LIMIT} < depth"
        else:
            ratio, shared = f"{mg / mb:.1f}x faster", (n, mg / mb)
        target = ""
        if n == 1_000_000:
            target = f"< 5 s: {verdict(mb < 5)}"
            summary.append(
                f"chain of 1,000,000 nodes, forward + backward: {fmt_seconds(mb)} "
                f"(target < 5 s) {verdict(mb < 5)}"
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
        best_of = {}
        for engine in ENGINES:
            gc.collect()
            runs = [seconds(partial(wide, engine, n)) for _ in range(1 + repeats)]
            best_of[engine.name] = min(runs[1:])
        mg, mb = best_of["micrograd"], best_of["microgrboard"]
        report(Row(f"wide, n = {n:,}", fmt_seconds(mg), fmt_seconds(mb), f"{mg / mb:.1f}x faster"))
    summary.append(
        f"ratio wide sum of {sizes[-1]:,} products: {mg / mb:.1f}x faster than micrograd"
    )

    # memory
    n = 5_000 if quick else 50_000
    print("\n== memory: bytes per node (tracemalloc), alive after backward ==")
    goal = TARGETS["bytes"]
    mg, mb = (bytes_per_node(engine, partial(wide_graph, engine, n)) for engine in ENGINES)
    report(
        Row(
            f"bytes per node, wide ({n:,} products)",
            f"{mg:.0f} B",
            f"{mb:.0f} B",
            f"{mg / mb:.1f}x smaller",
            f"<= {goal} B: {verdict(mb <= goal)}",
        )
    )
    summary.append(
        f"ratio bytes per node: {mg / mb:.1f}x smaller than micrograd "
        f"({mb:.0f} B vs {mg:.0f} B; target <= {goal} B) {verdict(mb <= goal)}"
    )
    n = 4 * n  # as many nodes as the wide graph; micrograd's recursion cannot go this deep
    mb = bytes_per_node(MICROGRBOARD, partial(chain_graph, MICROGRBOARD, n))
    report(
        Row(
            f"bytes per node, chain ({n:,} nodes)",
            "-",
            f"{mb:.0f} B",
            "",
            f"<= {goal} B: {verdict(mb <= goal)}",
        )
    )
    summary.append(
        f"bytes per node, chain of {n:,} nodes: {mb:.0f} B (target <= {goal} B) "
        f"{verdict(mb <= goal)}"
    )

    print("\n== summary (targets from the tracker) ==")
    print("\n".join(summary))
    if args.markdown:
        write_markdown(args.markdown, machine, quick, rows)
        print(f"\nwrote {args.markdown}")
    return 0


def train_digits(quick: bool, summary: list[str]) -> None:
    """Time one epoch of MLP(64, [32, 10]) on the digits (a subset with --quick)."""
    from microgrboard.datasets import digits
    from microgrboard.optim import Adam

    try:
        train, test = digits(seed=0, test_fraction=0.2)
    except ImportError as error:
        print(f"\n{error}: the digits epoch is skipped")
        summary.append("digits epoch: not run (scikit-learn is not installed)")
        return
    if quick:  # a tenth of an epoch: a smoke run
        train = type(train)(train.X[:144], train.y[:144])
    print(
        f"\n== digits epoch: MLP(64, [32, 10]) on {len(train.y):,} training images, batch 32, "
        "softmax cross-entropy, Adam, gc on =="
    )
    model = microgrboard.nn.MLP(64, [32, 10], seed=0, init="he")
    optimizer = Adam(model.parameters(), lr=0.01)
    epochs = 1 if quick else 3
    times = []
    for epoch in range(epochs):
        gc.collect()
        start = time.perf_counter()
        loss = digits_epoch(model, optimizer, train, batch_size=32, seed=epoch)
        times.append(time.perf_counter() - start)
        accuracy = test_accuracy(model, test)
        print(
            f"epoch {epoch + 1}: {fmt_seconds(times[-1])}, mean loss {loss:.3f}, "
            f"test accuracy {accuracy:.1%}"
        )
    goal = TARGETS["digits epoch"]
    if quick:
        summary.append(
            f"digits, a tenth of an epoch ({len(train.y):,} images): {fmt_seconds(min(times))} "
            f"(--quick: not compared with the target of {goal:g} s per epoch)"
        )
        return
    summary.append(
        f"digits, one epoch of {len(train.y):,} images: {fmt_seconds(min(times))} "
        f"(best of {epochs}; target <= {goal:g} s) {verdict(min(times) <= goal)}"
    )


def write_markdown(path: Path, machine: str, quick: bool, rows: list[Row]) -> None:
    lines = [
        "# Engine benchmark: microgrboard against micrograd",
        "",
        f"Measured {datetime.date.today().isoformat()} on {machine}, micrograd "
        f"{_version('micrograd')}, with `benchmarks/bench_engine.py{' --quick' if quick else ''}`"
        " (one process, one run; best of repeats; the machine was shared with other work).",
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
