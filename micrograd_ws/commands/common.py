"""What the commands share: their defaults, argument types, the handout model they build, safe output."""
from __future__ import annotations

import argparse
import errno
import math
import os
import sys
import webbrowser
from pathlib import Path
from typing import Callable

from ..engine import squared_error
from ..nn import two_hidden_layers, two_neuron
from ..serialize import load

__all__ = ["said", "DEFAULT_INPUT", "DEFAULT_DESIRED", "DEFAULT_OUT", "MAX_HIDDEN", "whole_number", "finite_number", "positive_number",
           "UsageError", "handout_cost", "QuietStream", "with_folders", "open_page"]

#: One set of defaults for every command and for ``make demo``: the handout's net
#: (``--model mlp --hidden 100``), one sample i = 0.5 with desired output 1 for the
#: gradient pictures, and everything written under ``out/`` (train: ``out/``, graphs:
#: ``out/graphs/``).  The hidden width is :data:`micrograd_ws.handout.HIDDEN`.
DEFAULT_INPUT = 0.5
DEFAULT_DESIRED = 1.0
DEFAULT_OUT = "out"
#: the widest ``--hidden`` of ``train`` and ``graphs``: the net alone has h² Values in pure Python
#: (1000: a million; beyond, a run takes hours and gigabytes)
MAX_HIDDEN = 1000


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
    if getattr(args, "model_file", None):
        net = _model_from_file(args)
    elif args.model == "two-neuron":
        if args.hidden is not None:
            raise UsageError("--hidden applies to --model mlp only (the two-neuron model has no hidden layer)")
        net = two_neuron(seed=args.seed or 0)
    else:
        net = two_hidden_layers(hidden=args.hidden or default_hidden, seed=args.seed or 0)
    try:  # an input the net's numbers overflow at is a usage error, said in one line
        O = net(args.x)
        C = squared_error(O, args.y)
        C.backward()
    except (ArithmeticError, ValueError) as e:
        if getattr(args, "model_file", None) and not _computes_at_the_handouts_inputs(net):  # the file's numbers
            raise UsageError(f"--model-file {args.model_file} at --x {args.x:g}, --y {args.y:g}: {str(e).rstrip('.')}; "
                             "the model's weights are too large for this input: train it again with a smaller --lr, "
                             "or choose a smaller --x") from None
        raise UsageError(f"--x {args.x:g}, --y {args.y:g}: {str(e).rstrip('.')}; choose inputs of a usual size "
                         "(the handout's are 0.5 and 1.0)") from None
    return net, O, C


def _computes_at_the_handouts_inputs(net) -> bool:
    """The net's C and gradients are finite at i = 0.5, O_des = 1 (else its own numbers are too large)."""
    try:
        squared_error(net(0.5), 1.0).backward()
    except (ArithmeticError, ValueError):
        return False
    return True


def _model_from_file(args: argparse.Namespace):
    """``--model-file``: a model saved by ``net.save`` (``train``, the lab's download), one input and one output."""
    for flag, given in (("--hidden", args.hidden is not None), ("--model two-neuron", args.model == "two-neuron"),
                        ("--seed", getattr(args, "seed", None) is not None)):
        if given:
            raise UsageError(f"--model-file gives the net; {flag} does not apply with it")
    try:
        net = load(args.model_file)
    except (OSError, ValueError) as e:
        raise UsageError(f"--model-file: {said(e)}") from None
    if net.sizes[0] != 1 or net.sizes[-1] != 1:
        raise UsageError(f"--model-file: {args.model_file} holds {net.handout()}; explore runs a net of one input i "
                         "and one output O (the handout's)")
    return net


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


def said(e: Exception) -> str:
    """An error's message without its ``[Errno 2]`` prefix (files.py's errors name the path already)."""
    return e.strerror if isinstance(e, OSError) and e.strerror else str(e)


def with_folders(outputs: list[str], run: Callable[[], int]) -> int:
    """``run()`` with the folders on the way to ``outputs`` that do not exist yet made first, as
    ``train`` makes its ``--out``; those still empty are taken back if it fails (an exit status
    other than 0, an error, Ctrl-C), so a refused page leaves no folder behind."""
    made: list[Path] = []
    for out in outputs:
        if str(out).startswith("~"):  # ('--out=~/x.html', a '~' the shell did not expand: no folder '~' here;
            continue  # the page's own check says the directory does not exist)
        parent = Path(out).parent
        missing = [d for d in (parent, *parent.parents) if not os.path.lexists(d)]
        try:
            for d in reversed(missing):  # (outermost first)
                d.mkdir()
                made.append(d)
        except OSError:  # (a file on the way, a read-only place: the output's own check says so)
            pass
    try:
        code = run()
    except BaseException:
        _take_back(made)
        raise
    if code:
        _take_back(made)
    return code


def _take_back(made: list[Path]) -> None:
    for d in reversed(made):  # (innermost first; one not empty stays, and so do those around it)
        try:
            d.rmdir()
        except OSError:
            return


def open_page(path: Path) -> None:
    """``--open``: the page in the default browser, or a line saying there is none to open it."""
    if not webbrowser.open(path.resolve().as_uri()):
        print(f"(--open: no browser was found to open it here; open {path.resolve()} in one)", file=sys.stderr)
