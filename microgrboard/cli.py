"""The ``microgrboard`` command: ``demo``, ``draw`` and ``board``.

Each sub-command imports what it needs only when it runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    from microgrboard import __version__
    from microgrboard.examples import EXAMPLES

    parser = argparse.ArgumentParser(
        prog="microgrboard",
        description="A scalar autodiff engine you can see: examples, drawings and a board.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser("demo", help="print the book's examples and train on moons")
    demo.add_argument("--optimizer", default="sgd", help="sgd, momentum, nesterov, adagrad, "
                      "rmsprop, adam or adamw (default: sgd)")
    demo.add_argument("--steps", type=int, default=100, help="training steps (default: 100)")
    demo.add_argument("--seed", type=int, default=1337, help="random seed (default: 1337)")
    demo.add_argument("--out", default="demo_output", help="directory for pictures "
                      "(default: demo_output)")
    demo.add_argument("--logdir", default="runs", help="board log directory (default: runs)")
    demo.add_argument("--examples-only", action="store_true",
                      help="print the book's examples and stop")

    draw = commands.add_parser("draw", help="draw a built-in example's graph to a file")
    draw.add_argument("example", choices=sorted(EXAMPLES))
    draw.add_argument("-o", "--output", required=True,
                      help="output file; its suffix picks the format (.svg, .png, .pdf, .dot)")
    draw.add_argument("--style", choices=["record", "book"], default="record")
    draw.add_argument("--no-grad", action="store_true", help="show forward values only")

    board = commands.add_parser("board", help="serve the web board over a log directory")
    board.add_argument("--logdir", default="runs", help="log directory (default: runs)")
    board.add_argument("--host", default="127.0.0.1", help="address (default: 127.0.0.1)")
    board.add_argument("--port", type=int, default=6006, help="port (default: 6006)")
    return parser


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
        from microgrboard.drawing import draw_example

        return int(draw_example(args))
    if args.command == "board":
        from microgrboard.board.server import serve

        return int(serve(args))
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
