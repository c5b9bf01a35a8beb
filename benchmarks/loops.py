"""Every way of writing the training loop, each timed in its own fresh process, against the floor.

    python benchmarks/loops.py              # three rounds; --rounds N for more

The loops a learner writes with micrograd_ws on the handout net 1-100-100-1, one sample a step:
the lecture's, micrograd's demo notebook's, each half of the lecture's with one of the library's
(zero_grad, SGD.step), eager SGD, and the lecture's for a while then eager.  `make bench` times
the lecture's, the demo's and zeroing by hand with SGD.step() with its full protocol; this script
is the quick look at all of them.  Prints ms per step (the median of five blocks of 200 steps
after 300 warm-up steps, median over rounds) and the ratio to the best hand-written step
(contenders.FloorSkipping) in the same round.
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


def _loops(mw, net, opt, alpha: float) -> dict:
    def lecture(x, y):
        C = mw.squared_error(net(x), y)
        for p in net.parameters():
            p.grad = 0.0
        C.backward()
        for p in net.parameters():
            p.data -= alpha * p.grad

    def demo(x, y):  # micrograd's demo notebook: zero_grad between the forward and backward passes
        C = mw.squared_error(net(x), y)
        net.zero_grad()
        C.backward()
        for p in net.parameters():
            p.data -= alpha * p.grad

    def zero_grad_first(x, y):
        net.zero_grad()
        C = mw.squared_error(net(x), y)
        C.backward()
        for p in net.parameters():
            p.data -= alpha * p.grad

    def optimizer_zero_by_hand_update(x, y):
        opt.zero_grad()
        C = mw.squared_error(net(x), y)
        C.backward()
        for p in net.parameters():
            p.data -= alpha * p.grad

    def zero_by_hand_sgd_step(x, y):
        for p in net.parameters():
            p.grad = 0.0
        C = mw.squared_error(net(x), y)
        C.backward()
        opt.step()

    def eager(x, y):
        opt.zero_grad()
        C = mw.squared_error(net(x), y)
        C.backward()
        opt.step()

    steps = [0]

    def lecture_then_eager(x, y):  # the lecture's for the warm-up's first half, then eager
        steps[0] += 1
        (lecture if steps[0] <= 150 else eager)(x, y)

    return {f.__name__: f for f in (lecture, demo, zero_grad_first, optimizer_zero_by_hand_update,
                                    zero_by_hand_sgd_step, eager, lecture_then_eager)}


NAMES = ["lecture", "demo", "zero_grad_first", "optimizer_zero_by_hand_update", "zero_by_hand_sgd_step",
         "eager", "lecture_then_eager"]


def measure(name: str) -> float:
    """ms per step of one loop, in this process."""
    import contenders
    import micrograd_ws as mw
    state = mw.two_hidden_layers(100, seed=0).state_dict()
    rng = random.Random(1)
    data = [(x, math.sin(3 * x)) for x in (rng.uniform(-1.0, 1.0) for _ in range(1300))]
    if name == "floor":
        floor = contenders.FloorSkipping(state, 0.01)
        step = floor.step
    else:
        net = mw.MLP(1, [100, 100, 1])
        net.load_state_dict(state)
        step = _loops(mw, net, mw.SGD(net.parameters(), lr=0.01), 0.01)[name]
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
    times: dict[str, list[float]] = {n: [] for n in ["floor", *NAMES]}
    ratios: dict[str, list[float]] = {n: [] for n in NAMES}
    for _ in range(args.rounds):
        for name in times:
            out = subprocess.run([sys.executable, "-I", __file__, "--one", name], capture_output=True, text=True,
                                 check=True)
            times[name].append(float(out.stdout))
        for name in NAMES:
            ratios[name].append(times[name][-1] / times["floor"][-1])
    print(f"{'loop':32} {'ms per step':>12} {'/ floor (dead rows skipped)':>28}")
    print(f"{'floor: dead rows skipped':32} {statistics.median(times['floor']):12.3f} {1:27.2f}x")
    for name in NAMES:
        print(f"{name:32} {statistics.median(times[name]):12.3f} {statistics.median(ratios[name]):27.2f}x")


if __name__ == "__main__":
    main()
