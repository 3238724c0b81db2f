"""``microgrboard demo``: the book's examples, then an MLP trained on two moons.

1. Prints the computational-graph examples (apple tax, ...) with their gradients, and
   writes the apple-tax and apple-orange pictures (both styles) and a player page of
   apple-orange into a new numbered folder of ``--out`` (``demo_output/001``,
   ``002``, ...), so a run never overwrites an earlier run's files.
2. Trains ``MLP(2, [16, 16, 1])`` on 100 moons points, as micrograd's demo does
   (max-margin loss + 1e-4 · L2; with SGD, lr = 1.0 - 0.9·k/100), showing loss and
   accuracy in a progress bar, and saves the decision boundary as a PNG.
3. Logs that run (scalars, parameters, one neuron's graph, the decision boundary)
   to the board's store in ``--logdir`` and prints the command that opens the board.

tqdm and matplotlib (the ``demo`` extra) are imported only here, when training and
plotting run; ``run_demo`` checks for them before it starts.
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from microgrboard.core import Value
from microgrboard.datasets import Dataset, moons
from microgrboard.examples import EXAMPLES, describe
from microgrboard.nn import MLP
from microgrboard.optim import OPTIMIZERS, CosineAnnealingLR, LinearLR, Optimizer, Schedule
from microgrboard.training import (
    DecisionGrid,
    History,
    StepRecord,
    board_views,
    decision_grid,
    train_classifier,
)

N_POINTS = 100
NOISE = 0.1
HIDDEN = [16, 16, 1]
L2 = 1e-4
POINT_COLORS = ("#d7191c", "#2b83ba")  # class 0, class 1
REGION_COLORS = ("#fdd0a2", "#c6dbef")  # the same hues, light
DEMO_MODULES = ("tqdm", "matplotlib")  # what the ``demo`` extra installs

# Settings that reach 100% training accuracy on the default moons (seed 1337) within
# 100 steps. SGD is micrograd's own recipe; momentum keeps its effective rate
# lr / (1 - μ) = 1.0; the adaptive methods were tuned by hand, with a cosine decay.
DEMO_SETTINGS: dict[str, tuple[dict[str, Any], Callable[[int], Schedule]]] = {
    "sgd": ({"lr": 1.0}, lambda steps: LinearLR(1.0, 0.1, total_iters=steps)),
    "momentum": ({"lr": 0.1, "momentum": 0.9}, lambda steps: LinearLR(1.0, 0.1, steps)),
    "nesterov": ({"lr": 0.1, "momentum": 0.9}, lambda steps: LinearLR(1.0, 0.1, steps)),
    "adagrad": ({"lr": 0.5}, lambda steps: CosineAnnealingLR(T_max=steps)),
    "rmsprop": ({"lr": 0.02}, lambda steps: CosineAnnealingLR(T_max=steps)),
    "adam": ({"lr": 0.1}, lambda steps: CosineAnnealingLR(T_max=steps)),
    "adamw": ({"lr": 0.1}, lambda steps: CosineAnnealingLR(T_max=steps)),
}


def make_optimizer(name: str, parameters: Sequence[Value], steps: int) -> Optimizer:
    """The demo's optimizer ``name`` with its tuned learning rate and schedule."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    kwargs, schedule = DEMO_SETTINGS[name]
    return OPTIMIZERS[name](parameters, schedule=schedule(steps), **kwargs)


def plot_decision_boundary(
    grid: DecisionGrid,
    X: Sequence[Sequence[float]],
    y: Sequence[int],
    path: str | Path,
    title: str = "",
) -> Path:
    """Save a model's regions (from :func:`~microgrboard.training.decision_grid`) and the points."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4), dpi=120)
    try:
        if grid.multiclass:
            ax.contourf(grid.xs, grid.ys, grid.scores, cmap="tab10", alpha=0.3,
                        vmin=0, vmax=9)
            colors: list[Any] = [plt.get_cmap("tab10")(k) for k in y]
        else:
            regions = [[float(s > 0) for s in row] for row in grid.scores]
            ax.contourf(grid.xs, grid.ys, regions, levels=[-0.5, 0.5, 1.5],
                        colors=REGION_COLORS)
            ax.contour(grid.xs, grid.ys, grid.scores, levels=[0.0], colors="k", linewidths=1)
            colors = [POINT_COLORS[int(k > 0)] for k in y]
        ax.scatter([p[0] for p in X], [p[1] for p in X], c=colors, s=20, edgecolors="k",
                   linewidths=0.5)
        ax.set_xlim(grid.xs[0], grid.xs[-1])
        ax.set_ylim(grid.ys[0], grid.ys[-1])
        ax.set_title(title)
        fig.tight_layout()
        out = Path(path)
        fig.savefig(out)
    finally:
        plt.close(fig)
    return out


def moons_data(seed: int = 1337) -> Dataset:
    """The demo's training set: 100 noisy moons points."""
    return moons(N_POINTS, noise=NOISE, seed=seed)


def train_moons(
    optimizer: str = "sgd",
    steps: int = 100,
    seed: int = 1337,
    on_step: Callable[[StepRecord], None] | None = None,
    progress: bool = True,
    data: Dataset | None = None,
) -> tuple[MLP, Dataset, History]:
    """Train the demo's MLP on moons; returns ``(model, data, history)``.

    ``seed`` initialises the MLP and, unless ``data`` is given, draws the data set
    (:func:`moons_data`). ``on_step`` is passed on to
    :func:`~microgrboard.training.train_classifier`.
    """
    if data is None:
        data = moons_data(seed)
    model = MLP(2, HIDDEN, seed=seed)
    opt = make_optimizer(optimizer, model.parameters(), steps)
    callback = on_step
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, desc=f"moons ({optimizer})", unit="step", file=sys.stderr)

        def callback(record: StepRecord) -> None:
            bar.set_postfix(loss=f"{record.loss:.4f}", acc=f"{record.accuracy:.0%}",
                            lr=f"{record.lr:.3g}", refresh=False)
            bar.update()
            if on_step is not None:
                on_step(record)

    try:
        history = train_classifier(model, data.X, data.y, opt, steps, loss="hinge", l2=L2,
                                   on_step=callback)
    finally:
        if bar is not None:
            bar.close()
    return model, data, history


def missing_demo_modules() -> list[str]:
    """The modules of the ``demo`` extra that do not import here."""
    missing = []
    for name in DEMO_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def run_demo(args: argparse.Namespace) -> int:
    if not args.examples_only:  # check everything before printing or training anything
        if args.optimizer not in OPTIMIZERS:
            print(f"microgrboard demo: unknown optimizer {args.optimizer!r}; "
                  f"choose one of {', '.join(OPTIMIZERS)}", file=sys.stderr)
            return 2
        if args.steps < 1:
            print(f"microgrboard demo: --steps must be at least 1, got {args.steps}",
                  file=sys.stderr)
            return 2
        missing = missing_demo_modules()
        if missing:
            print(f"microgrboard demo: training needs {' and '.join(missing)}, which "
                  "did not import; install them with:\n"
                  "  pip install 'microgrboard[demo]'\n"
                  "(or run `microgrboard demo --examples-only`)", file=sys.stderr)
            return 2
    for name in EXAMPLES:
        print(describe(name))
        print()
    out_dir = new_run_folder(Path(args.out))
    for path in write_example_pictures(out_dir):
        print(f"wrote {path}")
    if args.examples_only:
        return 0

    print(f"Training MLP(2, {HIDDEN}) on {N_POINTS} moons points "
          f"with {args.optimizer} for {args.steps} steps (seed {args.seed})")
    from microgrboard.board.writer import Run

    started = time.perf_counter()
    data = moons_data(args.seed)
    hparams = {"optimizer": args.optimizer, "steps": args.steps, "seed": args.seed,
               "layers": [2, *HIDDEN], "points": N_POINTS}
    with Run(args.logdir, name=f"moons-{args.optimizer}", hparams=hparams) as run:
        log_step = run.training_callback(board_views(data.X, data.y), total_steps=args.steps)
        model, data, history = train_moons(args.optimizer, args.steps, args.seed,
                                           on_step=log_step, data=data)
    correct = round(history.final_accuracy * len(data.y))  # a count: 99.6% never shows as 100%
    print(f"final: loss {history.final_loss:.4f}, training accuracy {correct}/{len(data.y)} "
          f"({time.perf_counter() - started:.1f} s)")

    grid = decision_grid(model, data.X)
    path = plot_decision_boundary(
        grid, data.X, data.y, out_dir / f"moons_{args.optimizer}.png",
        title=f"{args.optimizer}, {args.steps} steps: {correct}/{len(data.y)} correct",
    )
    print(f"decision boundary saved to {path}")
    print(f"run logged as {run.name!r} in {args.logdir}/; open the board on it with:\n"
          f"  {board_command(args.logdir)}")
    return 0


def new_run_folder(base: Path) -> Path:
    """A new, empty folder ``base/NNN``, numbered one past the highest already there."""
    base.mkdir(parents=True, exist_ok=True)
    taken = [int(p.name) for p in base.iterdir() if p.name.isdigit()]
    number = max(taken, default=0) + 1
    while True:  # another demo may take the same number meanwhile: try the next
        folder = base / f"{number:03d}"
        try:
            folder.mkdir()
        except FileExistsError:
            number += 1
            continue
        return folder


def write_example_pictures(folder: Path) -> list[Path]:
    """The apple-tax and apple-orange drawings (record and book style, PNG) and a
    player page of apple-orange, written into ``folder``."""
    from microgrboard.drawing import draw
    from microgrboard.player import play

    written = []
    for name in ("apple-tax", "apple-orange"):
        for style in ("record", "book"):
            picture = draw(EXAMPLES[name]().output, style=style)
            written.append(picture.save(folder / f"{name}_{style}.png"))
    written.append(play(EXAMPLES["apple-orange"]().output, style="book")
                   .save(folder / "apple-orange_player.html"))
    return written


def board_command(logdir: str) -> str:
    """The shell command that opens the board on ``logdir``, spelled the way this
    program was started (``.venv/bin/microgrboard`` when it is not on PATH)."""
    program = Path(sys.argv[0])
    if program.name != "microgrboard":  # e.g. `python -m microgrboard`, or a test
        launcher = f"{shlex.quote(sys.executable)} -m microgrboard"
    elif shutil.which("microgrboard") == str(program.absolute()):
        launcher = "microgrboard"
    else:
        launcher = shlex.quote(sys.argv[0])
    return f"{launcher} board --logdir {shlex.quote(logdir)}"
