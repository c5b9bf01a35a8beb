"""The command line: ``python -m micrograd_ws COMMAND`` or ``micrograd-ws COMMAND``.

Each command lives in its own module, which provides ``add_arguments(parser)`` and
``run(args) -> int``; modules import optional packages (graphviz, matplotlib, tqdm)
inside ``run`` so that ``--help`` works without them.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import math
import os
import sys
from typing import Callable, Sequence

#: One set of defaults for every command and for ``make demo``: the handout's net
#: (``--model mlp --hidden 100``), one sample i = 0.5 with desired output 1 for the
#: gradient pictures, and everything written under ``out/`` (train: ``out/``, graphs:
#: ``out/graphs/``).  The hidden width is :data:`micrograd_ws.handout.HIDDEN`.
DEFAULT_INPUT = 0.5
DEFAULT_DESIRED = 1.0
DEFAULT_OUT = "out"

#: command name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "explore": ("micrograd_ws.explorer", "write the explorer page: watch the forward and backward pass step by step"),
    "train": ("micrograd_ws.train", "train the handout's nets on a 1-D target, plot the fit, save the model"),
    "graphs": ("micrograd_ws.viz", "render the derivative graph of every ∂C/∂w with Graphviz"),
    "walkthrough": ("micrograd_ws.walkthrough", "a paced tour of the handout: forward, cost, gradients, update"),
}


# --- argument types shared by the commands ----------------------------------------------

def whole_number(low: int = 1, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` (to ``high``).

    >>> whole_number(1, 12)("3")
    3
    """
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            n = None
        if n is None or n < low or (high is not None and n > high):
            wanted = f"a whole number from {low} to {high}" if high is not None else \
                "a positive whole number" if low == 1 else f"a whole number of at least {low}"
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
        return n

    return parse


def finite_number(text: str) -> float:
    """An argparse type: a finite float."""
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(x):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return x


def positive_number(text: str) -> float:
    """An argparse type: a finite float above 0 (a learning rate)."""
    try:
        x = finite_number(text)
    except argparse.ArgumentTypeError:
        x = 0.0
    if x <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number such as 0.01, got {text!r}")
    return x


class UsageError(ValueError):
    """A command's options do not go together; the message says which and why."""


def handout_cost(args: argparse.Namespace, default_hidden: int):
    """The handout model named by ``--model``/``--hidden``/``--seed``, its output O at ``--x`` and
    C = (O − ``--y``)², backward done: ``(net, O, C)``."""
    from .engine import squared_error
    from .nn import two_hidden_layers, two_neuron

    if args.model == "two-neuron":
        if args.hidden is not None:
            raise UsageError("--hidden applies to --model mlp only (the two-neuron model has no hidden layer)")
        net = two_neuron(seed=args.seed)
    else:
        net = two_hidden_layers(hidden=args.hidden or default_hidden, seed=args.seed)
    O = net(args.x)
    C = squared_error(O, args.y)
    C.backward()
    return net, O, C


# --- output that a closed pipe cannot break ------------------------------------------------

class QuietStream:
    """``sys.stdout`` / ``sys.stderr`` for a command: a reader that goes away ends the output, not the command.

    ``micrograd-ws train | head -1`` closes the pipe after one line; a write then fails with
    BrokenPipeError.  This wrapper drops that output (and all later output to the stream)
    instead, so the command goes on to save its results and exits normally.  A stream that
    was closed before the start (``>&-``: Python then has ``None``) writes nowhere.
    """

    _LOST = (errno.EPIPE, errno.EBADF, errno.EINVAL, errno.ECONNRESET)

    def __init__(self, stream) -> None:
        self._stream = stream if stream is not None else open(os.devnull, "w")
        self.lost = stream is None

    def write(self, text: str) -> int:
        if not self.lost:
            try:
                return self._stream.write(text)
            except (OSError, ValueError) as e:
                self._lose(e)
        return len(text)

    def flush(self) -> None:
        if not self.lost:
            try:
                self._stream.flush()
            except (OSError, ValueError) as e:
                self._lose(e)

    def isatty(self) -> bool:
        return not self.lost and self._stream.isatty()

    def __getattr__(self, name: str):
        return getattr(self._stream, name)

    def _lose(self, e: Exception) -> None:
        if isinstance(e, OSError) and e.errno not in self._LOST:
            raise e
        self.lost = True
        try:  # what is still buffered goes to /dev/null at exit, not into a traceback
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="micrograd-ws", description="The workshop handout's neural net, executable and explorable."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(module_name)
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
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        sys.stdout.flush()  # a closed pipe is found here at the latest, quietly
        sys.stdout, sys.stderr = streams
