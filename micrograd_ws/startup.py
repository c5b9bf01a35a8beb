"""Ctrl-C while the ``micrograd-ws`` command starts: the one word ``interrupted``, exit status 130.

The command's own ``main`` turns Ctrl-C into that (:mod:`micrograd_ws.commands`), but Python
imports the package before ``main`` runs (about 0.15 s), and a Ctrl-C then would print a
traceback.  When this process is the command (its script, or ``python -m micrograd_ws``), the
package's first import installs a handler that says ``interrupted`` and exits; ``main`` puts
Python's own handler back (:func:`started`) and this one again when it returns (:func:`finishing`,
for a Ctrl-C while Python shuts down).  A Ctrl-C in Python's own start-up, before the package's
first line runs (about 30 ms: ``site``, the launcher script's imports), is Python's.  A program that imports micrograd_ws is not touched.
"""
from __future__ import annotations

import os
import signal
import sys

__all__ = ["started", "finishing", "is_the_command"]


def is_the_command(argv: list | None = None, orig_argv: list | None = None) -> bool:
    """Whether this process is the command line: ``micrograd-ws ...`` or ``python -m micrograd_ws ...``."""
    argv = sys.argv if argv is None else argv
    orig = getattr(sys, "orig_argv", []) if orig_argv is None else orig_argv
    script = os.path.basename(argv[0]) if argv else ""
    if script in ("micrograd-ws", "micrograd-ws.exe", "micrograd-ws-script.py"):
        return True
    return "-m" in orig and orig.index("-m") + 1 < len(orig) and orig[orig.index("-m") + 1] == "micrograd_ws"


def _interrupted(signum, frame) -> None:
    try:
        sys.stderr.write("interrupted\n")
        sys.stderr.flush()
    finally:
        os._exit(130)


def started() -> None:
    """The command's ``main`` is running: Ctrl-C raises KeyboardInterrupt again, which ``main`` handles."""
    if signal.getsignal(signal.SIGINT) is _interrupted:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def finishing() -> None:
    """The command's ``main`` is returning: a Ctrl-C while Python shuts down says ``interrupted`` too."""
    if is_the_command() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupted)


if is_the_command() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    signal.signal(signal.SIGINT, _interrupted)
