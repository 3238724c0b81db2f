"""The ``microgrboard`` command: ``demo``, ``draw``, ``play``, ``train`` and ``board``.

Each sub-command imports what it needs only when it runs. Choosing a built-in example
by name happens here: :mod:`microgrboard.drawing` draws whatever graph it is given.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any


def _add_example_arguments(command: argparse.ArgumentParser, examples: Iterable[str]) -> None:
    command.add_argument("example", choices=sorted(examples),
                         help="the built-in graph: " + ", ".join(sorted(examples)))
    command.add_argument("--style", choices=["record", "book"], default="record",
                         help="record: micrograd's boxes (op | label | data | grad); book: the "
                              "textbook's circles with values on the arrows (default: record)")


def build_parser() -> argparse.ArgumentParser:
    from microgrboard import __version__
    from microgrboard.examples import EXAMPLES

    parser = argparse.ArgumentParser(
        prog="microgrboard",
        description="A scalar autodiff engine you can see: examples, drawings and a board.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser("demo", help="print the book's examples, draw them, and train "
                               "on moons")
    demo.add_argument("--optimizer", default="sgd", help="sgd, momentum, nesterov, adagrad, "
                      "rmsprop, adam or adamw (default: sgd)")
    demo.add_argument("--steps", type=int, default=100, help="training steps (default: 100)")
    demo.add_argument("--seed", type=int, default=1337, help="random seed (default: 1337)")
    demo.add_argument("--out", default="demo_output", help="each run writes its pictures and "
                      "player page into a new numbered folder inside this one, so no run "
                      "overwrites another's (default: demo_output)")
    demo.add_argument("--logdir", default="runs", help="board log directory (default: runs)")
    demo.add_argument("--examples-only", action="store_true",
                      help="print and draw the book's examples, then stop (no training)")

    draw = commands.add_parser("draw", help="draw a built-in example's graph to a file")
    _add_example_arguments(draw, EXAMPLES)
    draw.add_argument("-o", "--output", required=True,
                      help="output file; its suffix picks the format (.svg, .png, .pdf, .dot)")
    draw.add_argument("--no-grad", action="store_true", help="show forward values only")
    draw.add_argument("--step", type=int, metavar="K",
                      help="show the backward pass after step K (0 = the output's own step): "
                           "the node being processed is highlighted and gradients not "
                           "computed yet read '?'")

    play = commands.add_parser("play", help="write a built-in example as a step-through "
                               "player page (one self-contained HTML file, works offline)")
    _add_example_arguments(play, EXAMPLES)
    play.add_argument("-o", "--output", required=True, help="the HTML file to write")

    train = commands.add_parser(
        "train", help="train the book's TwoLayerNet on the handwritten digits",
        description="Train MLP(64, [hidden, 10]) on scikit-learn's 8x8 digits, print the "
        "train/test accuracy per epoch and log the run to the board.")
    train.add_argument("dataset", choices=["digits"],
                       help="the data set: digits (scikit-learn's 1,797 8x8 images)")
    defaults = inspect.signature(train_digits_recipe()).parameters
    for flag, kind, text in (("--epochs", _positive(int), "passes over the training images"),
                             ("--hidden", _positive(int), "hidden ReLU neurons"),
                             ("--batch-size", _positive(int), "images per update"),
                             ("--lr", _positive(float), "Adam's learning rate (cosine decay)"),
                             ("--seed", int, "seed of the split, the weights and the batches")):
        default = defaults[flag[2:].replace("-", "_")].default
        train.add_argument(flag, type=kind, default=argparse.SUPPRESS,
                           help=f"{text} (default: {default})")
    train.add_argument("--logdir", default="runs", help="board log directory (default: runs)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    board = commands.add_parser("board", help="serve the web board over a log directory")
    board.add_argument("--logdir", default="runs", help="log directory (default: runs)")
    board.add_argument("--host", default="127.0.0.1", help="address (default: 127.0.0.1)")
    board.add_argument("--port", type=int, default=6006, help="port (default: 6006)")
    return parser


def _fail(command: str, message: str, status: int = 1) -> int:
    print(f"microgrboard {command}: {message}", file=sys.stderr)
    return status


def draw_command(args: argparse.Namespace) -> int:
    """``microgrboard draw EXAMPLE -o PATH [--style] [--no-grad] [--step K]``."""
    from microgrboard.drawing import FORMATS, RenderError, draw
    from microgrboard.examples import EXAMPLES

    output = Path(args.output)
    if output.suffix.lower() not in FORMATS:
        return _fail("draw", f"cannot write {str(output)!r}: unsupported suffix "
                     f"{output.suffix!r}; use one of {', '.join(FORMATS)}", 2)
    if args.step is not None and args.no_grad:
        return _fail("draw", f"--step {args.step} shows the backward pass's gradients; it "
                     "cannot be combined with --no-grad (drop one of them)", 2)
    example = EXAMPLES[args.example]()
    try:
        picture = draw(example.output, style=args.style, grad=not args.no_grad, step=args.step)
    except ValueError as error:  # e.g. a step past the last one
        return _fail("draw", str(error), 2)
    try:
        picture.save(output)
    except (RenderError, OSError) as error:
        return _fail("draw", str(error))
    print(f"wrote {output}")
    return 0


def play_command(args: argparse.Namespace) -> int:
    """``microgrboard play EXAMPLE -o PATH.html [--style]``."""
    from microgrboard.examples import EXAMPLES
    from microgrboard.player import play

    try:
        path = play(EXAMPLES[args.example]().output, style=args.style).save(args.output)
    except ValueError as error:  # e.g. not an .html name
        return _fail("play", str(error), 2)
    except OSError as error:
        return _fail("play", str(error))
    print(f"wrote {path}; open it in a browser")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "demo":
        from microgrboard.demo import run_demo

        return int(run_demo(args))
    if args.command == "draw":
        return draw_command(args)
    if args.command == "play":
        return play_command(args)
    if args.command == "board":
        from microgrboard.board.server import serve

        return int(serve(args))
    if args.command == "train":
        return train_command(args)
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover
    return 2


def _positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its error message
    return parse


def train_digits_recipe() -> Callable[..., Any]:
    from microgrboard.training import train_digits

    return train_digits


def train_command(args: argparse.Namespace) -> int:
    """``microgrboard train digits``: train, print the accuracies, log the run."""
    recipe = {k: v for k, v in vars(args).items()
              if k in ("epochs", "hidden", "batch_size", "lr", "seed")}
    try:
        import sklearn  # noqa: F401  (digits() reads its bundled images)

        if not args.quiet:
            import tqdm  # noqa: F401
    except ImportError as error:
        extra = "data" if error.name == "sklearn" else "demo"
        print(f"microgrboard train: {error.name} did not import; install it with:\n"
              f"  pip install 'microgrboard[{extra}]'", file=sys.stderr)
        return 2
    from microgrboard.board.writer import Run
    from microgrboard.demo import board_command
    from microgrboard.training import EpochRecord

    hparams = {**{k: p.default for k, p in
                  inspect.signature(train_digits_recipe()).parameters.items()
                  if k in ("epochs", "hidden", "batch_size", "lr", "init", "seed")}, **recipe}
    print(f"Training MLP(64, [{hparams['hidden']}, 10]) on the digits: {hparams}")
    with Run(args.logdir, name="digits", hparams=hparams) as run:
        def log_epoch(record: EpochRecord) -> None:
            run.log(record.step, train_accuracy=record.train_accuracy,
                    test_accuracy=record.test_accuracy)
            if args.quiet:  # otherwise the progress bar prints the same line
                print(f"epoch {record.epoch}: train accuracy {record.train_accuracy:.1%}, "
                      f"test accuracy {record.test_accuracy:.1%}", flush=True)

        _, history = train_digits_recipe()(
            **recipe, progress=not args.quiet, on_epoch=log_epoch,
            on_step=run.training_callback(params_every=50))
    epochs = len(history.epochs)
    print(f"test accuracy {history.test_accuracy[-1]:.1%} after {epochs} "
          f"epoch{'s' * (epochs != 1)} ({history.seconds:.0f} s); run logged as "
          f"{run.name!r} in {args.logdir}/; open the board with:\n"
          f"  {board_command(args.logdir)}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
