"""``micrograd-ws lab``: write the lab page, the explorer plus Python running micrograd_ws, offline.

The page is :func:`micrograd_ws.lab`'s (:mod:`micrograd_ws.browserlab`).
"""
from __future__ import annotations

import sys

from ..browserlab import LabBuildError, lab
from ..files import check_target
from .common import DEFAULT_OUT, open_page, said, with_folders

__all__ = ["add_arguments", "run"]


def add_arguments(parser) -> None:
    """Options of ``micrograd-ws lab``."""
    parser.add_argument("--out", default=f"{DEFAULT_OUT}/workshop.html", metavar="FILE.html",
                        help=f"the page to write (default: {DEFAULT_OUT}/workshop.html)")
    parser.add_argument("--open", action="store_true", help="open the page in the default browser")


def run(args) -> int:
    """Fetch (once) and verify the runtime, build the page, print its path."""
    return with_folders([args.out], lambda: _run(args))  # (the folders of --out made, as train makes them)


def _run(args) -> int:
    try:
        check_target(args.out, example="workshop.html")
    except (OSError, ValueError) as e:
        return _fail(f"--out: {said(e).rstrip('.')}", 2)
    try:
        path = lab(args.out, say=lambda s: print(s, file=sys.stderr, flush=True))
    except LabBuildError as e:
        return _fail(str(e), 1)
    except OSError as e:
        return _fail(said(e).rstrip("."), 1)
    print(path.resolve())
    if args.open:
        open_page(path)
    return 0


def _fail(msg: str, code: int) -> int:
    print(f"micrograd-ws lab: error: {msg}", file=sys.stderr)
    return code
