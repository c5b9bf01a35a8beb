"""Speed and memory of micrograd_ws, as ratios against baselines measured in the same run.

    python benchmarks/run.py            # or: make bench
    python benchmarks/run.py --quick    # fewer rounds (a smoke run)

Also timed: second derivatives (grad with create_graph=True, hvp) against one backward().

Compared, interleaved round by round on the same data stream and initial weights:
  1. micrograd_ws, the normal eager API (build graph, backward(), SGD.step());
  2. micrograd 0.1.0 from PyPI (pip install micrograd==0.1.0);
  3. the floor: the handout's formulas written by hand in plain Python lists;
  4. PyTorch CPU tensors, float64, for context (if installed).
All four must follow the same loss trajectory (checked; a mismatch stops the run).
"""
from __future__ import annotations

import argparse
import gc
import math
import random
import statistics
import sys
import time
import tracemalloc
from operator import mul
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import micrograd_ws as mw  # noqa: E402
from micrograd_ws.handout import ALPHA, HIDDEN, TRAINING_ITERS  # noqa: E402

try:
    import micrograd.engine
    import micrograd.nn
except ImportError:  # pragma: no cover - reported in the output
    micrograd = None
try:
    import torch
except ImportError:  # pragma: no cover
    torch = None


def data_stream(n: int, seed: int = 0) -> list[tuple[float, float]]:
    """(i, O_des) samples of a 1-D target, one per SGD step, as in the handout."""
    rng = random.Random(seed)
    xs = [rng.uniform(-1.0, 1.0) for _ in range(n)]
    return [(x, math.sin(3 * x)) for x in xs]


# --- the four implementations of one SGD step on 1 -> h -> h -> 1 ----------------------

class Ours:
    name = "micrograd_ws"

    def __init__(self, state: dict) -> None:
        self.net = mw.MLP(1, [len(state["b1"]), len(state["b2"]), 1])
        self.net.load_state_dict(state)
        self.opt = mw.SGD(self.net.parameters(), lr=ALPHA)

    def step(self, x: float, y: float) -> float:
        C = mw.squared_error(self.net(x), y)
        self.opt.zero_grad()
        C.backward()
        self.opt.step()
        return C.data


class Micrograd:
    name = "micrograd 0.1.0"

    def __init__(self, state: dict) -> None:
        h = len(state["b1"])
        self.net = micrograd.nn.MLP(1, [h, h, 1])
        for layer, l in zip(self.net.layers, (1, 2, 3)):
            for n, row, b in zip(layer.neurons, state[f"w{l}"], state[f"b{l}"]):
                for w, v in zip(n.w, row):
                    w.data = v
                n.b.data = b
        self.params = self.net.parameters()

    def step(self, x: float, y: float) -> float:
        C = (self.net([x]) - y) ** 2
        self.net.zero_grad()
        C.backward()
        for p in self.params:
            p.data -= ALPHA * p.grad
        return C.data


class Floor:
    """The floor: the handout's forward pass and closed-form gradients by hand, in plain lists.

    Each formula as the handout writes it, e.g. ∂C/∂w2[j][k] = 2(O - O_des)(w3[j] ∂H2[j]/∂z2[j]) H1[k],
    every factor computed (zeros included), idiomatic list comprehensions.
    """

    name = "floor: handout formulas"

    def __init__(self, state: dict) -> None:
        self.w1 = [r[0] for r in state["w1"]]
        self.b1 = list(state["b1"])
        self.w2 = [list(r) for r in state["w2"]]
        self.b2 = list(state["b2"])
        self.w3 = list(state["w3"][0])
        self.b3 = state["b3"][0]

    def forward(self, x: float) -> tuple:
        z1 = [w * x + b for w, b in zip(self.w1, self.b1)]
        H1 = [max(0.0, z) for z in z1]
        z2 = [sum(map(mul, row, H1), b) for row, b in zip(self.w2, self.b2)]
        H2 = [max(0.0, z) for z in z2]
        return H1, H2, sum(map(mul, self.w3, H2), self.b3)

    def step(self, x: float, y: float) -> float:
        a = ALPHA
        H1, H2, O = self.forward(x)
        dC_dO = 2.0 * (O - y)
        back2 = [w * (0.0 if h == 0 else 1.0) for w, h in zip(self.w3, H2)]  # w3 ∂H2/∂z2
        # ∂C/∂H1[k] = 2(O - O_des) Σ_j (w3[j] ∂H2[j]/∂z2[j]) w2[j][k]; ∂C/∂z1[k] adds ∂H1/∂z1
        dz1 = [dC_dO * sum(map(mul, back2, col)) * (0.0 if h == 0 else 1.0) for col, h in zip(zip(*self.w2), H1)]
        self.w2 = [[w - a * (dC_dO * b * h) for w, h in zip(row, H1)] for row, b in zip(self.w2, back2)]
        self.b2 = [bias - a * (dC_dO * b) for bias, b in zip(self.b2, back2)]
        self.w3 = [w - a * (dC_dO * h) for w, h in zip(self.w3, H2)]
        self.b3 -= a * dC_dO
        self.w1 = [w - a * (g * x) for w, g in zip(self.w1, dz1)]
        self.b1 = [b - a * g for b, g in zip(self.b1, dz1)]
        return (O - y) ** 2


class FloorSkipping(Floor):
    """The same formulas, skipping the rows a dead ReLU zeroes (a hand-optimised lower bound)."""

    name = "floor: dead rows skipped"

    def step(self, x: float, y: float) -> float:
        a, w2 = ALPHA, self.w2
        H1, H2, O = self.forward(x)
        dC_dO = 2.0 * (O - y)
        g2 = [dC_dO * w if h > 0.0 else 0.0 for w, h in zip(self.w3, H2)]  # ∂C/∂z2[j]
        gH1 = [0.0] * len(H1)
        for g, row in zip(g2, w2):
            if g:
                gH1 = [s + g * w for s, w in zip(gH1, row)]
        g1 = [g if h > 0.0 else 0.0 for g, h in zip(gH1, H1)]  # ∂C/∂z1[k]
        self.w3 = [w - a * (dC_dO * h) for w, h in zip(self.w3, H2)]
        self.b3 -= a * dC_dO
        for j, g in enumerate(g2):
            if g:
                w2[j] = [w - a * (g * h) for w, h in zip(w2[j], H1)]
        self.b2 = [b - a * g for b, g in zip(self.b2, g2)]
        self.w1 = [w - a * (g * x) for w, g in zip(self.w1, g1)]
        self.b1 = [b - a * g for b, g in zip(self.b1, g1)]
        return (O - y) ** 2


class Torch:
    name = "PyTorch (CPU, float64)"

    def __init__(self, state: dict) -> None:
        torch.set_num_threads(1)
        net = mw.MLP(1, [len(state["b1"]), len(state["b2"]), 1])
        net.load_state_dict(state)
        self.net = net.to_torch()  # float64 throughout, the same weights bit for bit
        self.opt = torch.optim.SGD(self.net.parameters(), lr=ALPHA)

    def step(self, x: float, y: float) -> float:
        C = (self.net(torch.tensor([[x]], dtype=torch.float64))[0, 0] - y) ** 2
        self.opt.zero_grad()
        C.backward()
        self.opt.step()
        return C.item()


def sgd_steps(rounds: int, hidden: int) -> dict[str, list[float]]:
    """ms per step for each implementation, per round, interleaved; checks trajectories agree."""
    impls: list[type] = [Ours, Floor, FloorSkipping] + ([Micrograd] if micrograd else []) + ([Torch] if torch else [])
    steps = {Ours: 60, Floor: 60, FloorSkipping: 60, Micrograd: 2, Torch: 60}
    state = mw.two_hidden_layers(hidden, seed=0).state_dict()
    runners = [cls(state) for cls in impls]
    n_total = max(steps.values()) * rounds
    stream = data_stream(n_total)
    times: dict[str, list[float]] = {r.name: [] for r in runners}
    losses: dict[str, list[float]] = {r.name: [] for r in runners}
    for _ in range(rounds):
        for r in runners:
            k = steps[type(r)]
            start = len(losses[r.name])
            t = time.perf_counter()
            for x, y in stream[start:start + k]:
                losses[r.name].append(r.step(x, y))
            times[r.name].append((time.perf_counter() - t) / k * 1e3)
            gc.collect()  # so that one implementation's garbage is not collected on another's time
    check_same_trajectory(losses)
    return times


def check_same_trajectory(losses: dict[str, list[float]]) -> None:
    ref = losses[Floor.name]
    for name, ls in losses.items():
        for t, (a, b) in enumerate(zip(ls, ref)):
            if abs(a - b) > 1e-7 * max(1.0, abs(b)):
                raise SystemExit(f"{name} left the floor's loss trajectory at step {t}: {a!r} vs {b!r}")
    print(f"  loss trajectories agree (relative 1e-7) over {min(map(len, losses.values()))}+ steps")


# --- random binary-op graphs: time and bytes per node ----------------------------------

def random_program(n: int, seed: int = 0) -> list[tuple[str, int, int]]:
    """n binary ops (+, -, *) on earlier nodes (a window of 1000), values kept bounded."""
    rng = random.Random(seed)
    vals = [rng.uniform(-1, 1) for _ in range(100)]
    prog = []
    for _ in range(n):
        a = rng.randrange(max(0, len(vals) - 1000), len(vals))
        b = rng.randrange(max(0, len(vals) - 1000), len(vals))
        op = rng.choice("+-*")
        v = {"+": vals[a] + vals[b], "-": vals[a] - vals[b], "*": vals[a] * vals[b]}[op]
        if abs(v) > 10 or (op == "*" and abs(v) < 1e-3):
            op, v = "-", vals[a] - vals[b]
        prog.append((op, a, b))
        vals.append(v)
    return prog


def build(value_cls: Callable, prog: list[tuple[str, int, int]]) -> list:
    rng = random.Random(0)
    nodes = [value_cls(rng.uniform(-1, 1)) for _ in range(100)]
    for op, a, b in prog:
        x, y = nodes[a], nodes[b]
        nodes.append(x + y if op == "+" else x - y if op == "-" else x * y)
    return nodes


def graph_time(value_cls: Callable, prog: list, repeats: int) -> float:
    """Best µs per node of building the graph and backward from its last node."""
    best = math.inf
    for _ in range(repeats):
        gc.collect()
        t = time.perf_counter()
        nodes = build(value_cls, prog)
        nodes[-1].backward()
        best = min(best, time.perf_counter() - t)
        del nodes
    return best / len(prog) * 1e6


def graph_bytes(value_cls: Callable, prog: list) -> float:
    """Bytes per recorded node held by the graph (tracemalloc, after backward)."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    nodes = build(value_cls, prog)
    nodes[-1].backward()
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del nodes
    return held / len(prog)


def chain_backward(n: int, repeats: int) -> float:
    """Best seconds for backward() through a fresh chain of n nodes."""
    best = math.inf
    for _ in range(repeats):
        v = x = mw.Value(0.5)
        for _ in range(n):
            v = v * 1.0
        gc.collect()
        t = time.perf_counter()
        v.backward()
        best = min(best, time.perf_counter() - t)
        assert x.grad == 1.0
    return best


def second_derivatives(hidden: int, repeats: int) -> tuple[float, float, float]:
    """Best seconds on the handout net, one sample: backward(), grad(create_graph=True), hvp."""
    net = mw.two_hidden_layers(hidden, seed=0)
    params = net.parameters()
    loss = lambda *ps: mw.squared_error(net(0.5), 1.0)  # noqa: E731
    v = [1.0] * len(params)
    best = [math.inf] * 3
    for _ in range(repeats):
        for k, run in enumerate((lambda: loss().backward(),
                                 lambda: mw.grad(loss(), params, create_graph=True),
                                 lambda: mw.hvp(loss, params, v))):
            gc.collect()
            t = time.perf_counter()
            run()
            best[k] = min(best[k], time.perf_counter() - t)
    return best[0], best[1], best[2]


def schedule() -> float:
    """Wall seconds to train the handout net for each count of the handout's schedule."""
    total = 0.0
    for iters in TRAINING_ITERS:
        runner = Ours(mw.two_hidden_layers(HIDDEN, seed=0).state_dict())
        t = time.perf_counter()
        for x, y in data_stream(iters, seed=1):
            runner.step(x, y)
        total += time.perf_counter() - t
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="few rounds and small graphs (a smoke run)")
    args = ap.parse_args(argv)
    print(f"python {sys.version.split()[0]}; micrograd {'0.1.0' if micrograd else 'not installed'}; "
          f"torch {torch.__version__ if torch else 'not installed'}")

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)  # micrograd's backward recurses
    try:
        report(args.quick)
    finally:
        sys.setrecursionlimit(limit)
    return 0


def report(quick: bool) -> None:
    rounds, nodes, repeats = (2, 5_000, 1) if quick else (7, 100_000, 3)
    print(f"\n1. One SGD step on the handout net 1-{HIDDEN}-{HIDDEN}-1, one sample (ms per step)")
    times = sgd_steps(rounds, HIDDEN)
    ours = statistics.median(times["micrograd_ws"])
    print(f"  {'':24} {'min':>9} {'median':>9} {'vs micrograd_ws':>16}")
    for name, ts in times.items():
        print(f"  {name:24} {min(ts):9.3f} {statistics.median(ts):9.3f} {statistics.median(ts) / ours:15.2f}x")
    floor = statistics.median(times[Floor.name])
    skipping = statistics.median(times[FloorSkipping.name])
    print(f"  micrograd_ws is {ours / floor:.2f}x the floor (target: at most 3x); "
          f"{ours / skipping:.2f}x the dead-row-skipping floor")
    if micrograd:
        print(f"  micrograd_ws is {statistics.median(times['micrograd 0.1.0']) / ours:.0f}x faster than "
              "micrograd (target: at least 50x)")

    print(f"\n2. Random binary-op graph of {nodes:,} nodes (+, -, *): forward + backward")
    prog = random_program(nodes)
    ours_t, ours_b = graph_time(mw.Value, prog, repeats), graph_bytes(mw.Value, prog)
    print(f"  micrograd_ws: {ours_t:.2f} µs/node, {ours_b:.0f} bytes/node")
    if micrograd:
        mg_t = graph_time(micrograd.engine.Value, prog, repeats)
        mg_b = graph_bytes(micrograd.engine.Value, prog)
        print(f"  micrograd:    {mg_t:.2f} µs/node, {mg_b:.0f} bytes/node")
        print(f"  micrograd_ws is {mg_t / ours_t:.1f}x faster per node (target: at least 3x) and uses "
              f"{ours_b / mg_b:.2f} of its bytes per node (target: at most 0.33)")

    print("\n3. backward() through a chain of n nodes (must grow linearly)")
    sizes = [10**3, 10**4, 10**5] + ([] if quick else [10**6])
    for n in sizes:
        dt = chain_backward(n, repeats=3 if n < 10**6 else 1)
        print(f"  n = {n:>9,}: {dt * 1e3:9.1f} ms, {dt / n * 1e9:6.0f} ns/node")

    if not quick:
        print(f"\n4. The handout schedule {list(TRAINING_ITERS)} ({sum(TRAINING_ITERS):,} SGD steps), h = {HIDDEN}")
        print(f"  {schedule():.1f} s (target: under 30 s)")

    hidden = 10 if quick else HIDDEN
    print(f"\n5. Second derivatives on the net 1-{hidden}-{hidden}-1, one sample (forward included)")
    eager, graph, product = second_derivatives(hidden, repeats)
    print(f"  backward(): {eager * 1e3:.1f} ms; grad(create_graph=True): {graph * 1e3:.1f} ms "
          f"({graph / eager:.1f}x); hvp (Hessian times a vector): {product * 1e3:.1f} ms ({product / eager:.1f}x)")


if __name__ == "__main__":
    sys.exit(main())
