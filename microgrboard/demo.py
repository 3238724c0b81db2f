"""``microgrboard demo``: the main job.

Prints the book's computational-graph examples with their gradients. (Training on
moons and logging to the board are added by the training and board work.)
"""

from __future__ import annotations

import argparse

from microgrboard.examples import EXAMPLES, describe


def run_demo(args: argparse.Namespace) -> int:
    for name in EXAMPLES:
        print(describe(name))
        print()
    return 0
