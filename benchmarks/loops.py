"""Every way of writing the training loop, each timed in its own fresh process, against the floor.

    python benchmarks/loops.py              # three rounds; --rounds N for more

The loops a learner writes with micrograd_ws on the handout net 1-100-100-1, one sample a step
(benchmarks/contenders.py): the lecture's, micrograd's demo notebook's, each half of the
lecture's with one of the library's (zero_grad, SGD.step), eager SGD, and the lecture's for a
while, then eager.  `make bench` times the lecture's, the demo's and zeroing by hand with
SGD.step() with its full protocol; this script is the quick look at all of them.  Prints ms per
step (the median of five blocks of 200 steps after 300 warm-up steps, the median over rounds)
and the ratio to the best hand-written step (contenders.FloorSkipping) in the same round.
"""
from __future__ import annotations

import argparse
import math
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import contenders as C  # noqa: E402

LOOPS = [C.LectureLoop, C.DemoLoop, C.ZeroGradFirst, C.OptimizerZeroByHandUpdate, C.ZeroByHandSGD, C.Eager,
         C.LectureThenEager]


def measure(name: str) -> float:
    """ms per step of one loop (or the floor), in this process."""
    import micrograd_ws as mw
    state = mw.two_hidden_layers(100, seed=0).state_dict()
    rng = random.Random(1)
    data = [(x, math.sin(3 * x)) for x in (rng.uniform(-1.0, 1.0) for _ in range(1300))]
    step = C.SGD_CONTENDERS[name](state, 0.01).step
    for x, y in data[:300]:
        step(x, y)
    blocks = []
    for b in range(5):
        t = time.perf_counter()
        for x, y in data[300 + 200 * b:500 + 200 * b]:
            step(x, y)
        blocks.append((time.perf_counter() - t) / 200 * 1e3)
    return statistics.median(blocks)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--one", help=argparse.SUPPRESS)  # (a worker: time this loop, print ms per step)
    args = ap.parse_args()
    if args.one:
        print(measure(args.one))
        return
    floor, names = C.FloorSkipping.name, [c.name for c in LOOPS]
    times: dict[str, list[float]] = {n: [] for n in [floor, *names]}
    for _ in range(args.rounds):
        for name in times:
            out = subprocess.run([sys.executable, "-I", __file__, "--one", name], capture_output=True, text=True,
                                 check=True)
            times[name].append(float(out.stdout))
    print(f"{'loop':48} {'ms per step':>12} {'/ floor':>8}")
    for name in [floor, *names]:
        ratio = statistics.median(t / f for t, f in zip(times[name], times[floor]))
        print(f"{name:48} {statistics.median(times[name]):12.3f} {ratio:7.2f}x")


if __name__ == "__main__":
    main()
