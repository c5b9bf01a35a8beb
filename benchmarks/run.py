"""Speed and memory of micrograd_ws against its peers, each measured in its own fresh process.

    python benchmarks/run.py            # or: make bench
    python benchmarks/run.py --quick    # a small net, small graphs, one round (a smoke run)

The protocol (what a learner's training loop sees):
  - every measurement runs in a fresh `python -I benchmarks/worker.py` that imports only what its
    contender needs (the worker refuses to report if, say, torch is in micrograd's heap);
  - the garbage collector at its defaults (no gc.collect() or gc.disable() anywhere);
  - steady state: a warm-up, then blocks of steps timed; a process reports its median block;
  - interleaved: rounds x contenders (each round starting with the next), a fresh process for each
    pair, so that drift in the machine hits all alike; a ratio is the median over rounds of the
    ratio within a round;
  - the same initial weights and stream of samples go to every worker as data, so that all follow
    one loss trajectory (checked against the floor's: a departure beyond 1e-7 stops the run).

Contenders for one SGD step of the handout net 1 -> h -> h -> 1 (benchmarks/contenders.py):
micrograd_ws eager (SGD), micrograd_ws in the lecture loop (Karpathy's micrograd lecture, as
learners copy it: net.parameters() each step, p.grad = 0.0, backward(), p.data -= alpha * p.grad),
the loop of micrograd's demo notebook (model.zero_grad(), then the same update by hand), the
lecture's zeroing loop with SGD.step() (each without a target: reported beside the lecture loop),
micrograd_ws compiled (step.run(samples), a call per step, and the loss alone), micrograd 0.1.0,
the handout's formulas by hand (the floor) and with dead rows skipped (the best hand-written step),
PyTorch nn.Linear and PyTorch with one 0-d tensor per weight (micrograd's granularity), both
float64 on one thread. Then the handout's schedule, random +, -, * graphs of 10^5 and 10^6 nodes
(µs and bytes per node, against micrograd), chains (linear time), second derivatives, and a table
of the targets. A target missed is reported, not an error; a trajectory mismatch or a crashed
worker is (exit status 1).

The targets (per step, each against the best hand-written step, "floor: dead rows skipped"):
compiled with step.run(samples) <= 0.9x, compiled with a call per step <= 1.0x, eager <= 1.7x, the
lecture loop <= 2.5x; micrograd 0.1.0 >= 60x eager's and >= 60x the lecture loop's time per step;
the handout schedule (full runs only) under 5 s compiled and 10 s eager; at most 225 bytes per
node of a random graph, and against micrograd >= 3x its speed and <= 0.33x its bytes per node.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import random
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKER = HERE / "worker.py"
sys.path[:0] = [str(HERE), str(HERE.parent)]

import contenders as C  # noqa: E402
import dag  # noqa: E402
import micrograd_ws as mw  # noqa: E402  (the driver only makes the initial weights)
from micrograd_ws.handout import ALPHA, HIDDEN, TRAINING_ITERS  # noqa: E402

FAST = [C.Eager, C.LectureLoop, C.DemoLoop, C.ZeroByHandSGD, C.Compiled, C.CompiledPerCall, C.CompiledLoss, C.Floor,
        C.FloorSkipping, C.TorchLinear]
SLOW = [C.Micrograd, C.TorchScalar, C.MicrogradTorchHeap]  # 50 to 500 times slower: fewer steps per process


def data_stream(n: int, seed: int = 0) -> list[tuple[float, float]]:
    """(i, O_des) samples of a 1-D target, one per SGD step, as in the handout."""
    rng = random.Random(seed)
    xs = [rng.uniform(-1.0, 1.0) for _ in range(n)]
    return [(x, math.sin(3 * x)) for x in xs]


class WorkerFailed(SystemExit):
    """A worker crashed or refused its heap: the run stops (exit status 1) with its message."""


def run_job(job: dict) -> dict:
    """The job's result from a fresh worker process; WorkerFailed if it crashed or refused."""
    proc = subprocess.run([sys.executable, "-I", str(WORKER)], input=json.dumps(job),
                          capture_output=True, text=True)
    what = f"{job['task']} job for {job.get('contender', 'micrograd_ws')}"
    try:
        result = json.loads(proc.stdout)
    except json.JSONDecodeError:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:]) or f"exit status {proc.returncode}"
        raise WorkerFailed(f"the {what} crashed:\n{tail}") from None
    if "error" in result:
        raise WorkerFailed(f"the {what} failed: {result['error']}")
    return result


def check_same_trajectory(losses: dict[str, list[float]], reference: str) -> None:
    """Stop the run (SystemExit) if any contender's losses leave the reference's by more than 1e-7.

    >>> check_same_trajectory({"a": [1.0, 0.5], "b": [1.0, 0.5 + 1e-12]}, "a")
    >>> check_same_trajectory({"a": [1.0, 0.5], "b": [1.0, 0.6]}, "a")
    Traceback (most recent call last):
    SystemExit: b left the loss trajectory of a at step 1: 0.6 vs 0.5
    """
    ref = losses[reference]
    for name, ls in losses.items():
        for t, (a, b) in enumerate(zip(ls, ref)):
            if not abs(a - b) <= 1e-7 * max(1.0, abs(b)):  # `not <=` catches NaN too
                raise SystemExit(f"{name} left the loss trajectory of {reference} at step {t}: {a!r} vs {b!r}")


@dataclass
class Target:
    """One goal of the issue, with what this run measured."""

    what: str
    measured: float | None  # None: not measured in this run (the contender is not available)
    goal: float
    at_most: bool  # True: measured <= goal passes; False: measured >= goal passes
    unit: str = "x"

    def row(self) -> str:
        goal = f"{'<=' if self.at_most else '>='} {self.goal:g}{self.unit}"
        if self.measured is None:
            return f"  {self.what:60} {'n/a':>10} {goal:>10}  not measured"
        ok = self.measured <= self.goal if self.at_most else self.measured >= self.goal
        return f"  {self.what:60} {f'{self.measured:.3g}{self.unit}':>10} {goal:>10}  {'PASS' if ok else 'MISS'}"


@dataclass
class Sizes:
    """How much of each measurement a run takes (FULL for `make bench`, QUICK for --quick)."""

    rounds: int
    hidden: int
    fast: tuple[int, int, int]  # warm-up steps, steps per block, blocks
    slow: tuple[int, int, int]
    iters: tuple[int, ...]
    graphs: tuple[int, ...]
    chains: tuple[int, ...]
    repeats: int


FULL = Sizes(rounds=7, hidden=HIDDEN, fast=(50, 50, 6), slow=(2, 2, 4), iters=TRAINING_ITERS,
             graphs=(10**5, 10**6), chains=(10**3, 10**4, 10**5, 10**6), repeats=3)
QUICK = Sizes(rounds=1, hidden=12, fast=(5, 5, 2), slow=(1, 1, 2), iters=(5, 10),
              graphs=(5_000,), chains=(10**3, 10**4), repeats=1)


def sgd_steps(sizes: Sizes, available: list[type]) -> dict[str, list[float]]:
    """ms per step of each contender, one figure (the median block) per round; trajectories checked."""
    state = mw.two_hidden_layers(sizes.hidden, seed=0).state_dict()
    plan = {c: sizes.slow if c in SLOW else sizes.fast for c in available}
    stream = data_stream(max(w + b * n for w, b, n in plan.values()))
    medians: dict[str, list[float]] = {c.name: [] for c in available}
    for r in range(sizes.rounds):
        losses = {}
        k = r % len(available)  # each round starts with another contender: no one always goes first
        for c in available[k:] + available[:k]:  # a copy: an unavailable contender leaves the list
            warmup, block, blocks = plan[c]
            result = run_job({"task": "sgd", "contender": c.name, "state": state, "alpha": ALPHA,
                              "stream": stream, "warmup": warmup, "block": block, "blocks": blocks})
            if "unavailable" in result:
                print(f"  {c.name}: not available ({result['unavailable']})")
                available.remove(c)
                del medians[c.name]
                continue
            medians[c.name].append(statistics.median(result["block_ms"]))
            losses[c.name] = result["losses"]
        check_same_trajectory(losses, C.Floor.name)
    return medians


def paired_ratio(times: dict[str, list[float]], a: str, b: str) -> float:
    """The median over rounds of a's time / b's time in the same round (drift cancels within a round).

    >>> paired_ratio({"a": [2.0, 9.0, 4.0], "b": [1.0, 3.0, 1.0]}, "a", "b")
    3.0
    """
    return statistics.median(x / y for x, y in zip(times[a], times[b]))


def schedules(sizes: Sizes, available: list[type]) -> dict[str, float]:
    """Seconds for the whole schedule, eager and compiled, each in its own process."""
    state = mw.two_hidden_layers(sizes.hidden, seed=0).state_dict()
    stream = data_stream(max(sizes.iters), seed=1)
    seconds, losses = {}, {}
    for c in (C.Compiled, C.Eager):
        if c in available:
            result = run_job({"task": "schedule", "contender": c.name, "state": state, "alpha": ALPHA,
                              "stream": stream, "iters": list(sizes.iters)})
            seconds[c.name], losses[c.name] = result["seconds"], result["losses"]
    if losses:
        check_same_trajectory(losses, next(iter(losses)))
    return seconds


def graphs(n: int, repeats: int) -> dict[str, dict]:
    """µs and bytes per node for micrograd_ws and micrograd (if installed) on one random program."""
    out: dict[str, dict] = {}
    for name in ("micrograd_ws", "micrograd"):
        if not installed({name}):
            continue
        try:
            for measure in ("time", "bytes"):
                out.setdefault(name, {}).update(run_job(
                    {"task": "graph", "contender": name, "n": n, "seed": 0, "measure": measure,
                     "repeats": repeats if n < 10**6 else 1}))
        except WorkerFailed as e:
            if name == "micrograd_ws":
                raise
            out[name] = {"failed": str(e).splitlines()[-1]}
    return out


def installed(packages: set[str]) -> bool:
    """Whether all these packages can be imported here (without importing them)."""
    return all(importlib.util.find_spec(p) is not None for p in packages)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a small net, small graphs, one round (a smoke run)")
    args = ap.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    available = [c for c in FAST + SLOW if installed(c.needs - {"numpy"})]
    print(f"python {sys.version.split()[0]}; micrograd {'0.1.0' if installed({'micrograd'}) else 'not installed'}; "
          f"torch {'installed' if installed({'torch'}) else 'not installed'}; one fresh process per measurement")
    targets: list[Target] = []
    h = sizes.hidden

    print(f"\n1. One SGD step on the handout net 1-{h}-{h}-1, one sample: ms per step, the median block of "
          f"each process, {sizes.rounds} round(s) interleaved")
    times = sgd_steps(sizes, available)
    skip, eager, lecture = C.FloorSkipping.name, C.Eager.name, C.LectureLoop.name
    print(f"  {'':38} {'min':>9} {'median':>9} {'/ floor (dead rows skipped)':>28}")
    for name, ts in times.items():
        print(f"  {name:38} {min(ts):9.3f} {statistics.median(ts):9.3f} {paired_ratio(times, name, skip):27.2f}x")
    print("  ratios: the median over rounds of the ratio within a round; "
          "loss trajectories agree (relative 1e-7) in every round")
    ratio = lambda a, b: paired_ratio(times, a, b) if a in times and b in times else None  # noqa: E731
    targets += [Target("compiled, step.run(samples) / floor (dead rows skipped)",
                       ratio(C.Compiled.name, skip), 0.9, True),
                Target("compiled, a call per step / floor (dead rows skipped)",
                       ratio(C.CompiledPerCall.name, skip), 1.0, True),
                Target("eager SGD step / floor (dead rows skipped)", ratio(eager, skip), 1.7, True),
                Target("lecture loop step / floor (dead rows skipped)", ratio(lecture, skip), 2.5, True),
                Target("micrograd 0.1.0 step / eager step (fresh processes)",
                       ratio(C.Micrograd.name, eager), 60.0, False),
                Target("micrograd 0.1.0 step / lecture loop step (fresh processes)",
                       ratio(C.Micrograd.name, lecture), 60.0, False)]

    print(f"\n2. The handout schedule {list(sizes.iters)} ({sum(sizes.iters):,} SGD steps), h = {h}, "
          "from the initial weights each time, one process each")
    seconds = schedules(sizes, available)
    for name, s in seconds.items():
        print(f"  {name}: {s:.1f} s")
    if C.Compiled not in available:
        print("  compiled: not available")
    if not args.quick:
        targets += [Target("handout schedule, compiled", seconds.get(C.Compiled.name), 5.0, True, " s"),
                    Target("handout schedule, eager", seconds[C.Eager.name], 10.0, True, " s")]

    for n in sizes.graphs:
        leaves, prog = dag.random_program(n)
        top_value, top_grad = dag.magnitudes(leaves, prog)
        print(f"\n3. Random +, -, * graph of {n:,} nodes, build + backward from its last node "
              f"(values up to {top_value:.3g}, gradients up to {top_grad:.3g}; each measure in its own process)")
        res = graphs(n, sizes.repeats)
        for name, r in res.items():
            if "failed" in r:
                print(f"  {name:13} cannot do {n:,} nodes here: {r['failed']}")
            else:
                print(f"  {name:13} {r['us_per_node']:6.2f} µs/node  {r['bytes_per_node']:6.0f} bytes/node "
                      "(tracemalloc, after backward)")
        ours, theirs = res["micrograd_ws"], res.get("micrograd", {})
        targets.append(Target(f"bytes per node, micrograd_ws, {n:,} nodes", ours["bytes_per_node"], 225, True, " B"))
        if "us_per_node" in theirs:
            targets += [Target(f"µs per node, micrograd / micrograd_ws, {n:,} nodes",
                               theirs["us_per_node"] / ours["us_per_node"], 3.0, False),
                        Target(f"bytes per node, micrograd_ws / micrograd, {n:,} nodes",
                               ours["bytes_per_node"] / theirs["bytes_per_node"], 0.33, True)]

    print("\n4. backward() through a chain of n nodes (must grow linearly), one process per n")
    for n in sizes.chains:
        dt = run_job({"task": "chain", "n": n, "repeats": sizes.repeats if n < 10**6 else 1})["seconds"]
        print(f"  n = {n:>9,}: {dt * 1e3:9.1f} ms, {dt / n * 1e9:6.0f} ns/node")

    hidden = 10 if args.quick else HIDDEN
    print(f"\n5. Second derivatives on the net 1-{hidden}-{hidden}-1, one sample (forward included)")
    r = run_job({"task": "second", "hidden": hidden, "repeats": sizes.repeats})
    print(f"  backward(): {r['backward'] * 1e3:.1f} ms; grad(create_graph=True): {r['grad_create_graph'] * 1e3:.1f} ms "
          f"({r['grad_create_graph'] / r['backward']:.1f}x); hvp (Hessian times a vector): {r['hvp'] * 1e3:.1f} ms "
          f"({r['hvp'] / r['backward']:.1f}x)")

    print(f"\nTargets{' (a --quick run: small net, not the targets’ sizes)' if args.quick else ''}")
    for t in targets:
        print(t.row())
    return 0


if __name__ == "__main__":
    sys.exit(main())
