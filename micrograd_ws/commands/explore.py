"""``micrograd-ws explore``: write the explorer page of the handout's model on one sample.

The page is :func:`micrograd_ws.explore`'s (:mod:`micrograd_ws.explorer`).
"""
from __future__ import annotations

import sys
import time

from ..explorer import MAX_NODES, explore
from ..files import check_target
from .common import (DEFAULT_DESIRED, DEFAULT_INPUT, DEFAULT_OUT, UsageError, finite_number, handout_cost, open_page,
                     said, whole_number, with_folders)

__all__ = ["add_arguments", "run"]


def add_arguments(parser) -> None:
    """Options of ``micrograd-ws explore``."""
    parser.add_argument("--model", choices=("two-neuron", "mlp"), default="mlp",
                        help="the handout's two-neuron model or its 1 → h → h → 1 net (default: mlp)")
    parser.add_argument("--hidden", type=whole_number(1), default=None, metavar="H",
                        help="hidden neurons per layer for --model mlp (default: 100, the handout's h)")
    parser.add_argument("--model-file", metavar="FILE.json", default=None,
                        help="a saved model instead (net.save, train's model file, the lab's download)")
    parser.add_argument("--x", type=finite_number, default=DEFAULT_INPUT, help=f"the input i (default: {DEFAULT_INPUT})")
    parser.add_argument("--y", type=finite_number, default=DEFAULT_DESIRED,
                        help=f"the desired output O_des (default: {DEFAULT_DESIRED})")
    parser.add_argument("--seed", type=whole_number(0), default=None,
                        help="seed of the initial weights (default: 0; not with --model-file, whose weights are given)")
    parser.add_argument("--param", metavar="NAME", default=None,
                        help="a parameter to inspect first and to draw in the graph view, e.g. 'w2[3][7]'")
    parser.add_argument("--out", default=f"{DEFAULT_OUT}/explorer.html", metavar="FILE.html",
                        help=f"the page to write (default: {DEFAULT_OUT}/explorer.html)")
    parser.add_argument("--open", action="store_true", help="open the page in the default browser")


def run(args) -> int:
    """Build the model, run both passes, write the explorer page and print its path."""
    return with_folders([args.out], lambda: _run(args))  # (the folders of --out made, as train makes them)


def _run(args) -> int:
    try:  # the page's path as given ('page.html/' names a directory, '' nothing), before any work
        check_target(args.out, example="explorer.html")
    except (OSError, ValueError) as e:
        return _fail(f"--out: {_why(e)}", 2)
    h = args.hidden or 100
    if args.model == "mlp" and not args.model_file and h * h + 8 * h + 4 > MAX_NODES:  # the 1 → h → h → 1 net's graph, before building it
        return _fail(f"--hidden {h:,}: the net's graph has {h * h + 8 * h + 4:,} nodes, more than a page holds "
                     f"({MAX_NODES:,}, up to --hidden {_widest():,}); explore a smaller net, or explain one "
                     "parameter's gradient in Python: micrograd_ws.explain(C, 'w2[3][7]')")
    try:
        net, _, C = handout_cost(args, default_hidden=100)
    except UsageError as e:
        return _fail(str(e))
    made = f"from {args.model_file}" if args.model_file else f"(seed {args.seed or 0})"
    title = f"{net.handout()} {made}: i = {args.x:g}, O_des = {args.y:g}"  # C shows once it is computed
    start = time.perf_counter()
    nodes = sum(1 for _ in net.parameters())
    print(f"writing the explorer page of {net.handout()} ({nodes:,} parameters; both passes, each chain rule, "
          f"and the SGD steps of the engine)…", file=sys.stderr, flush=True)
    try:
        page = explore(C, args.param, title=title)
    except ValueError as e:
        return _fail(str(e).replace("explore: ", "--param: ", 1))
    try:
        path = page.save(args.out)
    except OSError as e:
        return _fail(_why(e), 1)
    print(f"  done in {time.perf_counter() - start:.1f} s ({path.stat().st_size / 1e6:.1f} MB)", file=sys.stderr, flush=True)
    print(path.resolve())
    if args.open:
        open_page(path)
    return 0


def _widest() -> int:
    """The widest --hidden whose page fits (MAX_NODES)."""
    h = 1
    while (h + 1) ** 2 + 8 * (h + 1) + 4 <= MAX_NODES:
        h += 1
    return h


def _why(e: Exception) -> str:
    """An error of files.py in one line: it names the path already (no errno, no second prefix)."""
    return said(e).rstrip(".")


def _fail(msg: str, code: int = 2) -> int:
    print(f"micrograd-ws explore: error: {msg}", file=sys.stderr)
    return code
