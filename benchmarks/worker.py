"""Run one benchmark job in this (fresh) process: a JSON job on stdin, a JSON result on stdout.

    echo '{"task": "chain", "n": 1000, "repeats": 3}' | python -I benchmarks/worker.py

run.py starts one of these per (round, contender), with `python -I` so that nothing from the
environment (PYTHONPATH, PYTHONSTARTUP, user site) loads into the heap. The result is refused
(exit status 1, an "error" naming the packages) if a package the job's contender does not need,
say torch in micrograd's process, is in `sys.modules` after the job: its objects would sit in the
heap that the garbage collector scans, and the timing would not be the contender's alone.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # contenders.py, dag.py; micrograd_ws from this checkout

import contenders  # noqa: E402


def foreign_modules(allowed: set[str]) -> list[str]:
    """The foreign packages (contenders.FOREIGN) loaded in this process and not in `allowed`."""
    loaded = {name.partition(".")[0] for name in sys.modules}
    return sorted((loaded & contenders.FOREIGN) - allowed)


def main() -> int:
    job = json.load(sys.stdin)
    try:
        result = contenders.TASKS[job["task"]](job)
    except contenders.NotAvailable as e:
        result = {"unavailable": str(e)}
    foreign = foreign_modules(contenders.needs(job))
    if foreign:
        result = {"error": f"{', '.join(foreign)} imported into the heap of a {job['task']} job "
                           f"for {job.get('contender', 'micrograd_ws')}, which must not hold them"}
    json.dump(result, sys.stdout)
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
