"""The command line: ``python -m micrograd_ws COMMAND`` or ``micrograd-ws COMMAND``.

Each command lives in its own module, which provides ``add_arguments(parser)`` and
``run(args) -> int``; modules import optional packages (graphviz, matplotlib, tqdm)
inside ``run`` so that ``--help`` works without them.
"""
from __future__ import annotations

import argparse
import importlib
from typing import Sequence

#: command name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("micrograd_ws.train", "train the handout's nets on a 1-D target, plot the fit, save the model"),
    "graphs": ("micrograd_ws.viz", "render the derivative graph of every ∂C/∂w with Graphviz"),
    "walkthrough": ("micrograd_ws.walkthrough", "a paced tour of the handout: forward, cost, gradients, update"),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="micrograd-ws", description="The workshop handout's neural net, executable and explorable."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(module_name)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    args = parser.parse_args(argv)
    try:
        return args._run(args) or 0
    except KeyboardInterrupt:
        print("interrupted")
        return 130
