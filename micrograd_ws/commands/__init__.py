"""The command line: ``python -m micrograd_ws COMMAND`` or ``micrograd-ws COMMAND``.

Each command lives in its own module here, which provides ``add_arguments(parser)`` and
``run(args) -> int``; the library below imports optional packages (graphviz, matplotlib,
tqdm) only where they are used, so that ``--help`` works without them.  Shared defaults and
argument types: :mod:`micrograd_ws.commands.common`.
"""
from __future__ import annotations

import argparse
import re
import sys
from types import ModuleType
from typing import Sequence

from . import explore, graphs, lab, progress, train, walkthrough, worksheet
from ..startup import finishing, started
from .common import QuietStream

__all__ = ["main", "COMMANDS"]

#: command name -> (module, one-line help)
COMMANDS: dict[str, tuple[ModuleType, str]] = {
    "explore": (explore, "write the explorer page: watch the forward and backward pass step by step"),
    "train": (train, "train the handout's nets on a 1-D target, plot the fit, save the model"),
    "graphs": (graphs, "render the derivative graph of every ∂C/∂w with Graphviz"),
    "walkthrough": (walkthrough, "a paced tour of the handout: forward, cost, gradients, update"),
    "worksheet": (worksheet, "write a printable worksheet with a learner's own numbers, and its key"),
    "lab": (lab, "write the lab page: the explorer plus Python running micrograd_ws in the page, offline"),
    "progress": (progress, "a room's progress from the learners' progress files: a table and a chart"),
}


def main(argv: Sequence[str] | None = None) -> int:
    started()  # (Ctrl-C before this point: startup.py)
    try:  # Ctrl-C anywhere, from the parser's set-up on: one word, exit status 130, no traceback
        return _main(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        finishing()


class _Parser(argparse.ArgumentParser):
    """argparse, reading ``--x -5e-1`` and ``--x -inf`` as a value as it reads ``--x -0.5`` (Python
    3.11's argparse took them for options: "expected one argument"); the commands' subparsers too."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$|^-(?:inf|infinity|nan)$",
                                                   re.IGNORECASE)


def _main(argv: Sequence[str] | None) -> int:
    parser = _Parser(
        prog="micrograd-ws", description="The workshop handout's neural net, executable and explorable."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    args, extra = parser.parse_known_args(argv)
    if args.command is None:  # no command: say which there are
        parser.print_help(sys.stderr)
        return 2
    if extra:  # an unknown option belongs to the command: its usage, not the top level's
        hint = " (the training schedule is --iters 100,500,1000,5000)" if "--epochs" in extra else ""
        sub.choices[args.command].error(f"unrecognized arguments: {' '.join(extra)}{hint}")
    streams = sys.stdout, sys.stderr
    if not isinstance(sys.stdout, QuietStream):
        sys.stdout, sys.stderr = QuietStream(sys.stdout), QuietStream(sys.stderr)
    try:
        return args._run(args) or 0
    finally:
        sys.stdout.flush()  # a closed pipe is found here at the latest, quietly
        sys.stdout, sys.stderr = streams
