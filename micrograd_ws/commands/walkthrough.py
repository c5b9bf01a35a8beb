"""``micrograd-ws walkthrough``: the handout's tour (:mod:`micrograd_ws.walkthrough`), one slide at a time.

In a terminal each key acts at once, without Enter: Enter (or space, →) shows the next
slide, ``b`` (or ←) the previous one, ``q`` quits; with piped input (not a terminal) it
prints every slide and ends.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys

from ..walkthrough import Slide, two_hidden_layer_slides, two_neuron_slides
from .common import whole_number

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hidden", type=whole_number(1, 12), default=3, metavar="H",
                        help="neurons per hidden layer of the two-hidden-layer slides, 1 to 12 (default 3; the handout trains h = 100)")
    parser.add_argument("--seed", type=whole_number(0), default=2,
                        help="initial weights of the two-hidden-layer net (default 2: one ReLU off in each layer)")
    parser.add_argument("--no-pause", action="store_true",
                        help="print every slide without waiting (automatic when input is not a terminal)")


def run(args: argparse.Namespace) -> int:
    columns = min(shutil.get_terminal_size((80, 24)).columns, 100)
    width = columns - 4  # the slides' text is indented by 2
    slides = list(two_neuron_slides(width)) + list(two_hidden_layer_slides(args.hidden, args.seed, width))
    interactive = not args.no_pause and sys.stdin is not None and sys.stdin.isatty()
    style = _Style(sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb")
    try:
        return _show(slides, interactive, style, columns)
    except BrokenPipeError:  # e.g. `walkthrough | head`: the reader left, nothing more to say
        sys.stdout = open(os.devnull, "w")
        return 0


class _Style:
    def __init__(self, color: bool) -> None:
        self.bold = "\033[1m" if color else ""
        self.dim = "\033[2m" if color else ""
        self.reset = "\033[0m" if color else ""


def _show(slides: list[Slide], interactive: bool, style: _Style, columns: int = 80) -> int:
    k = 0
    while k < len(slides):
        title, body = slides[k]
        counter = f"{k + 1}/{len(slides)}"
        rule = "─" * max(3, columns - len(title) - len(counter) - 7)
        print(f"\n{style.bold}── {title} {rule} {counter}{style.reset}\n")
        print("\n".join("  " + line if line else "" for line in body.strip("\n").splitlines()), flush=True)
        if not interactive:
            k += 1
            continue
        last = k == len(slides) - 1
        hint = "Enter: finish" if last else "Enter: next"
        answer = _answer(f"\n{style.dim}[{hint} · b: back · q: quit]{style.reset} ")
        if answer == "end":  # Ctrl-D or the input closed: stop quietly
            return 0
        if answer == "quit":
            print("Bye! Run it again any time: python -m micrograd_ws walkthrough")
            return 0
        k = max(0, k - 1) if answer == "back" else k + 1
    print("\nThat was the handout, one step end to end.\nNext, do it yourself in the REPL: docs/tutorial.md")
    return 0


#: what a key does at the prompt; other keys are ignored
_KEYS = {"\r": "next", "\n": "next", " ": "next", "\x1b[C": "next",  # → as well
         "b": "back", "\x1b[D": "back",  # ← as well
         "q": "quit", "\x04": "end"}  # Ctrl-D, as at the end of input


def _answer(prompt: str) -> str:
    """Show ``prompt``, then read 'next', 'back', 'quit' or 'end' (input closed): one keypress, no
    Enter needed, when stdin is a terminal with termios (POSIX); else a line ended with Enter."""
    try:
        import termios
        import tty
    except ImportError:  # Windows
        return _answer_line(prompt)
    try:
        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
    except (termios.error, AttributeError, ValueError, OSError):  # not a real terminal after all
        return _answer_line(prompt)
    try:
        tty.setcbreak(fd)  # keys arrive one by one, unechoed; Ctrl-C still interrupts
        print(prompt, end="", flush=True)  # only now: a key pressed before counts as a key, not a line
        while True:
            key = _read_key(fd)
            action = _KEYS.get(key.lower() if len(key) == 1 else key) if key else "end"
            if action:
                print()  # end the prompt's line (cbreak mode does not echo the key)
                return action
    finally:  # also on Ctrl-C: the terminal gets its settings back
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _read_key(fd: int) -> str:
    """One keypress; an arrow key is one escape sequence of three bytes, read whole."""
    import select

    key = os.read(fd, 1)
    if key == b"\x1b":  # a lone Esc, or the start of a sequence that follows at once
        while len(key) < 3 and select.select([fd], [], [], 0.05)[0]:
            key += os.read(fd, 1)
    return key.decode("utf-8", errors="replace")


def _answer_line(prompt: str) -> str:
    try:
        line = input(prompt).strip().lower()
    except EOFError:
        print()
        return "end"
    return "quit" if line in ("q", "quit", "exit") else "back" if line in ("b", "back") else "next"
