"""How much does logging to the board cost a training loop?

Prints microseconds per ``Run.log()`` call (three scalars, one committed
transaction each), per ``log_params`` and ``log_graph`` call, and compares
``log()`` with one training step of micrograd's demo (MLP(2, [16, 16, 1]) on
100 moons points, full batch, hinge loss, SGD).

    .venv/bin/python benchmarks/bench_board_log.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable

from microgrboard.board.writer import Run
from microgrboard.datasets import moons
from microgrboard.nn import MLP
from microgrboard.optim import SGD
from microgrboard.training import batch_loss, cyclic_gc_paused, neuron_graph


def per_call(function: Callable[[int], object], calls: int, repeats: int = 5) -> float:
    """Median seconds per call over ``repeats`` batches of ``calls`` calls."""
    times = []
    step = 0
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            function(step)
            step += 1
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times)


def main() -> None:
    X, y = moons(100, noise=0.1, seed=1337)
    model = MLP(2, [16, 16, 1], seed=1337)
    optimizer = SGD(model.parameters(), lr=0.05)

    def train_step(_: int) -> None:
        loss, _accuracy = batch_loss(model, X, y, "hinge")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    with cyclic_gc_paused():
        train_step(0)  # warm up
        step_time = per_call(train_step, calls=2, repeats=3)

    with tempfile.TemporaryDirectory() as logdir, Run(logdir, name="bench") as run:
        log_time = per_call(lambda s: run.log(s, loss=0.5, accuracy=0.9, lr=0.05), calls=500)
        params_time = per_call(lambda s: run.log_params(model, s), calls=50)
        graph = neuron_graph(model.layers[0].neurons[0], X[0])
        graph_time = per_call(lambda s: run.log_graph(graph, s, tag="neuron"), calls=50)

    print(f"one training step (MLP(2, [16, 16, 1]), 100 moons points): {step_time * 1e3:9.1f} ms")
    print(
        f"Run.log(step, loss=, accuracy=, lr=):                       {log_time * 1e6:9.1f} µs"
        f"  ({log_time / step_time:.2%} of a step)"
    )
    print(
        f"Run.log_params(model, step) ({len(model.parameters())} parameters):"
        f"              {params_time * 1e6:9.1f} µs"
    )
    print(f"Run.log_graph(one neuron, step):                           {graph_time * 1e6:9.1f} µs")


if __name__ == "__main__":
    main()
