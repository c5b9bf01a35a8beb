"""``micrograd-ws worksheet --seed N --out sheet.html``: a printable sheet with the learner's numbers, and its key.

The pages are :mod:`micrograd_ws.worksheet`; the sheet holds no answer, the key (written
beside it, ``sheet-key.html``, or ``--key PATH``) every factor and product.
"""
from __future__ import annotations

import argparse
import os
import sys

from ..files import check_writable, quoted, write_together
from ..worksheet import MAX_SHEET_HIDDEN, worksheet_html
from .common import DEFAULT_OUT, said, whole_number, with_folders

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", default=None, metavar="NAME_OR_NUMBER",
                        help="the learner's name or a number: the same seed gives the same numbers (required)")
    parser.add_argument("--out", default=f"{DEFAULT_OUT}/sheet.html", metavar="PATH",
                        help=f"the sheet to write (default: {DEFAULT_OUT}/sheet.html)")
    parser.add_argument("--key", default=None, metavar="PATH",
                        help="the key to write (default: beside the sheet, NAME-key.html)")
    parser.add_argument("--hidden", type=whole_number(1, MAX_SHEET_HIDDEN), default=2, metavar="H",
                        help=f"neurons per hidden layer of the second net, 1 to {MAX_SHEET_HIDDEN} (default: 2)")


def run(args: argparse.Namespace) -> int:
    seed = args.seed
    if seed is None or not str(seed).strip():
        print("micrograd-ws worksheet: give a seed, the learner's name or a number: --seed ada (or --seed 7)",
              file=sys.stderr)
        return 2
    seed = int(seed) if str(seed).strip().isdigit() else seed
    out = args.out
    root, ext = os.path.splitext(out)
    key = args.key or f"{root}-key{ext or '.html'}"
    if os.path.abspath(key) == os.path.abspath(out):
        print(f"micrograd-ws worksheet: the key would overwrite the sheet ({quoted(out)}): give --key another name",
              file=sys.stderr)
        return 2
    return with_folders([out, key], lambda: _write(seed, out, key, args.hidden))  # (as train makes its --out)


def _write(seed, out: str, key: str, hidden: int) -> int:
    try:
        for path in (out, key):
            check_writable(path, example="worksheet.html")
        write_together([(out, worksheet_html(seed, hidden=hidden)),  # both or neither
                        (key, worksheet_html(seed, hidden=hidden, key=True))], example="worksheet.html")
    except (OSError, ValueError) as e:
        print(f"micrograd-ws worksheet: {said(e)}", file=sys.stderr)
        return 1
    print(f"wrote the sheet {out} and its key {key} (seed {seed!r}; print them: A4, print CSS)")
    return 0

