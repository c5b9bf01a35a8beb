"""``micrograd-ws progress FILES…``: a room's progress from the learners' progress files, as a table and a chart.

Who is where, and the most common mistakes by factor of the chain rule
(:mod:`micrograd_ws.progress`).  A folder stands for the ``*.json`` files in it.  A file that
cannot be read (another version, edited by hand into nonsense, not a progress file) is named
and skipped; one whose checksum does not match is counted and marked "edited by hand".
"""
from __future__ import annotations

import argparse
import glob
import os
import sys

from ..files import check_writable, figure_file
from ..progress import room_chart, room_table, summarise
from .common import DEFAULT_OUT, said, whole_number, with_folders

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", metavar="FILES", help="the learners' progress files, or folders of them")
    parser.add_argument("--chart", default=f"{DEFAULT_OUT}/progress.png", metavar="PATH",
                        help=f"the chart to write, .png, .svg or .pdf; .png if none (default: {DEFAULT_OUT}/progress.png)")
    parser.add_argument("--no-chart", action="store_true", help="print the table only (no matplotlib needed)")
    parser.add_argument("--top", type=whole_number(1, 50), default=10, metavar="N",
                        help="how many of the most common mistakes to list (default: 10)")


def run(args: argparse.Namespace) -> int:
    if not args.files:
        print("micrograd-ws progress: give the learners' progress files (or a folder of them), "
              "e.g. micrograd-ws progress room/*.json", file=sys.stderr)
        return 2
    paths = []
    for f in args.files:
        if os.path.isdir(f):
            found = sorted(glob.glob(os.path.join(f, "*.json")))
            if not found:
                print(f"micrograd-ws progress: the folder {f} has no .json files", file=sys.stderr)
            paths += found
        else:
            paths.append(f)
    summary = summarise(paths)
    if not summary.learners:
        for _, message in summary.problems:
            print(f"micrograd-ws progress: {message}", file=sys.stderr)
        print("micrograd-ws progress: no progress file could be read", file=sys.stderr)
        return 1
    print(room_table(summary, args.top))
    if not args.no_chart:
        chart = figure_file(args.chart)  # (out/room is out/room.png, as matplotlib names it)
        return with_folders([chart], lambda: _chart(summary, chart, args.top))  # (as train makes its --out)
    return 0


def _chart(summary, chart: str, top: int) -> int:
    try:
        check_writable(chart, example="progress.png")
        written = room_chart(summary, chart, top=top)
    except (OSError, ValueError, ImportError) as e:
        print(f"micrograd-ws progress: no chart: {said(e)}", file=sys.stderr)
        return 1
    print(f"\nchart: {written}")
    return 0

