"""How long does ``draw()`` take to give a picture? ``python benchmarks/bench_drawing.py``.

Prints, for graphs from 100 to 10,000 values, the time to build the DOT (``draw()``)
and to lay it out and render SVG (``.svg()``), with the system Graphviz (``dot``) and
with the one bundled in pygraphviz, as a user gets it: default arguments, so a graph
past ``max_nodes`` is folded (the line says so). Three families:

* chains: ``y = tanh(y · 1.0001)`` repeated (three values a step);
* the n-th derivative of tanh built by ``grad(..., create_graph=True)`` (DeZero's step
  35 draws the 7th: 935 values);
* expanded MLP graphs (``MLP(..., expand=True)``: a ``*`` and a ``+`` node per weight)
  of a squared-error loss over a few points, drawn with ``group=None`` (every value);
* the same shapes in the book style (``style="book"``: values on labelled arrows, which
  Graphviz lays out as extra nodes), around where ``max_nodes`` folds them.

The 7th derivative of tanh is also rendered to PNG (a second layout, at 192 dpi).

The targets (issue 9): every graph up to 10,000 values within 5 s, the 7th derivative
of tanh within 2 s. ``--compare`` also lays out the 7th derivative and a 2,276-value MLP
graph with Graphviz's default settings, the measurement behind the settings
``drawing`` uses. ``--quick`` runs a few small cases (the test suite's smoke run).
Timings are wall-clock on whatever else the machine is doing: run it on a quiet one.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable

from microgrboard import Value
from microgrboard.drawing import draw
from microgrboard.examples import tanh_derivative
from microgrboard.layout import LayoutTimeout, run_graphviz
from microgrboard.nn import MLP
from microgrboard.snapshot import snapshot


def chain(values: int) -> Value:
    y = Value(0.5, "x")
    for _ in range((values - 1) // 3):
        y = (y * Value(1.0001)).tanh()
    y.backward()
    return y


def mlp_loss(sizes: list[int], points: int) -> Value:
    model = MLP(2, sizes, seed=0, expand=True)
    loss = Value(0.0, "loss")
    for i in range(points):
        out = model([i / points, 1 - i / points])
        assert isinstance(out, Value)
        loss = loss + (out - 1) ** 2
    loss.backward()
    return loss


Case = tuple[str, Callable[[], Value], dict[str, object]]
PNG_CASES = {"tanh d7", "tanh d7 book"}  # also timed as PNG


def cases(quick: bool) -> list[Case]:
    chains = [100, 1_000] if quick else [100, 1_000, 3_000, 10_000]
    orders = range(1, 7) if quick else range(1, 8)
    mlps = [([8, 1], 1), ([16, 16, 1], 1)] if quick else [
        ([8, 1], 1), ([16, 16, 1], 1), ([16, 16, 1], 3), ([16, 16, 1], 8), ([16, 16, 1], 15)]
    found: list[Case] = [(f"chain {n:,}", lambda n=n: chain(n), {}) for n in chains]
    found += [(f"tanh d{k}", lambda k=k: tanh_derivative(k).output, {}) for k in orders]
    found += [(f"MLP(2,{s})x{p}", lambda s=s, p=p: mlp_loss(s, p), {"group": None})
              for s, p in mlps]
    book: list[Case] = [("tanh d6 book", lambda: tanh_derivative(6).output, {"style": "book"})]
    if not quick:
        book += [("tanh d7 book", lambda: tanh_derivative(7).output, {"style": "book"}),
                 ("tanh d8 book", lambda: tanh_derivative(8).output, {"style": "book"}),
                 ("chain 2,800 book", lambda: chain(2_800), {"style": "book"}),
                 ("chain 3,000 book", lambda: chain(3_000), {"style": "book"}),
                 ("MLP(2,[16,16,1])x3 book", lambda: mlp_loss([16, 16, 1], 3),
                  {"group": None, "style": "book"})]
    return found + book


def renderers() -> list[str]:
    return (["dot"] if shutil.which("dot") else []) + ["pygraphviz"]


def measure(case: Case, names: list[str]) -> dict[str, float]:
    label, build, options = case
    root = build()
    values = len(snapshot(root)["nodes"])
    worst = 0.0
    parts = []
    for renderer in names:
        started = time.perf_counter()
        picture = draw(root, renderer=renderer, **options)  # type: ignore[arg-type]
        built = time.perf_counter() - started
        picture.svg()
        total = time.perf_counter() - started
        worst = max(worst, total)
        parts.append(f"{renderer} {total:5.2f} s (DOT {built:.2f} + layout "
                     f"{picture.layout_seconds or 0.0:.2f})")
        if label in PNG_CASES:
            started = time.perf_counter()
            picture.pipe("png")
            parts[-1] += f" PNG {time.perf_counter() - started:.2f}"
    folded = "  folded" if picture.folded else ""
    print(f"{label:24} {values:>7,} values  {picture.node_count:>6,} drawn  "
          + "  ".join(parts) + folded, flush=True)
    return {"values": values, "worst": worst}


def compare_settings(names: list[str]) -> None:
    """Our settings against Graphviz's defaults, on the same graph."""
    import microgrboard.drawing as drawing

    print("\nGraphviz settings (same DOT, SVG, 60 s limit):")
    for label, root in (("tanh d7", tanh_derivative(7).output), ("MLP(2,[16,16,1])x3",
                                                          mlp_loss([16, 16, 1], 3))):
        ours = draw(root, group=None, max_nodes=None).source
        settings = drawing._layout_attributes(10**9)
        plain = ours
        for key, value in settings.items():
            plain = plain.replace(f" {key}={value}", "")
        for renderer in names:
            times = []
            for name, source in (("defaults", plain), ("ours", ours)):
                try:
                    seconds = run_graphviz(source, "svg", renderer=renderer,  # type: ignore[arg-type]
                                           time_limit=60).seconds
                    times.append(f"{name} {seconds:.2f} s")
                except LayoutTimeout:
                    times.append(f"{name} > 60 s")
            print(f"  {label:18} {renderer:10} " + ", ".join(times), flush=True)
    print("  ours: " + " ".join(f"{k}={v}" for k, v in drawing._layout_attributes(10**9).items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few small cases only")
    parser.add_argument("--compare", action="store_true",
                        help="also time Graphviz's default settings on two big graphs")
    args = parser.parse_args(argv)
    names = renderers()
    print(f"renderers: {', '.join(names)}; times are draw() + .svg(), wall clock")
    results = {case[0]: measure(case, names) for case in cases(args.quick)}
    up_to_10k = max(r["worst"] for r in results.values() if r["values"] <= 10_000)
    print(f"\nslowest picture of a graph up to 10,000 values: {up_to_10k:.2f} s (target 5 s)")
    for name in ("tanh d7", "tanh d7 book"):
        if name in results:
            print(f"7th derivative of tanh (DeZero step 35{name[7:]}), "
                  f"{results[name]['values']:,.0f} values: {results[name]['worst']:.2f} s "
                  "(target 2 s)")
    if args.compare:
        compare_settings(names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
