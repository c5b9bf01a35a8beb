"""The benchmark's contenders and tasks, as run inside one fresh worker process each (worker.py).

Each contender imports what it needs when it is built, nothing at module level, so that a process
timing micrograd holds neither micrograd_ws nor torch (worker.py checks `sys.modules`). Every SGD
contender trains the handout's 1 -> h -> h -> 1 ReLU net from the same initial weights on the same
stream of samples, so all follow one loss trajectory (run.py checks).
"""
from __future__ import annotations

import statistics
import sys
import threading
import time
import tracemalloc
from operator import mul
from typing import Callable

import dag

#: the packages that count as foreign in a worker's heap unless its contender needs them
FOREIGN = frozenset({"micrograd_ws", "micrograd", "torch", "numpy"})


class NotAvailable(Exception):
    """The contender cannot run here (e.g. micrograd_ws.compile is not there yet)."""


# --- one SGD step on the handout net, each contender its own way ------------------------------

class Eager:
    """micrograd_ws, the normal eager API: build the graph, backward(), SGD.step()."""

    name = "micrograd_ws eager"
    needs = {"micrograd_ws"}

    def __init__(self, state: dict, alpha: float) -> None:
        import micrograd_ws as mw
        self.mw = mw
        self.net = mw.MLP(1, [len(state["b1"]), len(state["b2"]), 1])
        self.net.load_state_dict(state)
        self.opt = mw.SGD(self.net.parameters(), lr=alpha)
        self.loss = lambda x, y: mw.squared_error(self.net(x), y)

    def step(self, x: float, y: float) -> float:
        self.opt.zero_grad()
        loss = self.loss(x, y)
        loss.backward()
        self.opt.step()
        return loss.data


class LectureLoop:
    """micrograd_ws trained by the loop of Karpathy's micrograd lecture, as most learners copy it:
    ``net.parameters()`` called twice a step, each gradient set to 0.0 by hand after the forward
    pass, ``backward()``, then ``p.data -= alpha * p.grad`` for every parameter (no optimizer)."""

    name = "micrograd_ws lecture loop"
    needs = {"micrograd_ws"}

    def __init__(self, state: dict, alpha: float) -> None:
        import micrograd_ws as mw
        self.mw = mw
        self.net = mw.MLP(1, [len(state["b1"]), len(state["b2"]), 1])
        self.net.load_state_dict(state)
        self.alpha = alpha

    def step(self, x: float, y: float) -> float:
        mw, net, alpha = self.mw, self.net, self.alpha  # a learner's globals
        # the lecture's loop, written as a learner writes it: do not hoist parameters() or fuse the loops
        C = mw.squared_error(net(x), y)
        for p in net.parameters():
            p.grad = 0.0
        C.backward()
        for p in net.parameters():
            p.data -= alpha * p.grad
        return C.data


class DemoLoop(LectureLoop):
    """micrograd_ws trained by the loop of micrograd's own demo notebook: ``model.zero_grad()``
    between the forward pass and ``backward()``, then ``p.data -= alpha * p.grad`` by hand."""

    name = "micrograd_ws demo loop"

    def step(self, x: float, y: float) -> float:
        mw, net, alpha = self.mw, self.net, self.alpha
        C = mw.squared_error(net(x), y)
        net.zero_grad()
        C.backward()
        for p in net.parameters():
            p.data -= alpha * p.grad
        return C.data


class ZeroByHandSGD(Eager):
    """micrograd_ws with the lecture's zeroing loop (``p.grad = 0.0`` for each parameter) and
    ``SGD.step()``: one half of each way."""

    name = "micrograd_ws zero by hand, SGD"

    def step(self, x: float, y: float) -> float:
        for p in self.net.parameters():
            p.grad = 0.0
        loss = self.loss(x, y)
        loss.backward()
        self.opt.step()
        return loss.data


class ZeroGradFirst(LectureLoop):
    """``model.zero_grad()`` before the forward pass, then the update by hand (benchmarks/loops.py)."""

    name = "micrograd_ws zero_grad first, update by hand"

    def step(self, x: float, y: float) -> float:
        mw, net, alpha = self.mw, self.net, self.alpha
        net.zero_grad()
        C = mw.squared_error(net(x), y)
        C.backward()
        for p in net.parameters():
            p.data -= alpha * p.grad
        return C.data


class OptimizerZeroByHandUpdate(Eager):
    """``opt.zero_grad()``, then the update by hand, no ``opt.step()`` (benchmarks/loops.py)."""

    name = "micrograd_ws opt.zero_grad(), update by hand"

    def step(self, x: float, y: float) -> float:
        self.opt.zero_grad()
        loss = self.loss(x, y)
        loss.backward()
        for p in self.net.parameters():
            p.data -= self.opt.lr * p.grad
        return loss.data


class LectureThenEager(Eager):
    """The lecture's loop for 150 steps, then eager SGD: the lists come back (benchmarks/loops.py)."""

    name = "micrograd_ws lecture loop, then eager"

    def __init__(self, state: dict, alpha: float) -> None:
        super().__init__(state, alpha)
        self.lecture, self.steps = LectureLoop(state, alpha), 0
        self.lecture.net = self.net  # (the same net, and the optimizer's)

    def step(self, x: float, y: float) -> float:
        self.steps += 1
        return self.lecture.step(x, y) if self.steps <= 150 else super().step(x, y)


def _compile(mw, *args, **kwargs):
    if not hasattr(mw, "compile"):
        raise NotAvailable("micrograd_ws.compile does not exist in this version")
    return mw.compile(*args, **kwargs)


class CompiledPerCall(Eager):
    """micrograd_ws compiled: loss and SGD update fused (``compile(loss, optimizer=opt)``), one call
    per step (each call reads every weight's .data and writes the moved ones)."""

    name = "micrograd_ws compiled, a call per step"

    def __init__(self, state: dict, alpha: float) -> None:
        super().__init__(state, alpha)
        self.fused = _compile(self.mw, self.loss, optimizer=self.opt)

    def step(self, x: float, y: float) -> float:
        return self.fused(x, y)


class Compiled(CompiledPerCall):
    """The same fused step, a block of samples in one call (``step.run(samples)``: the weights stay in
    lists meanwhile, the Values' .data written at the end): a compiled training loop."""

    name = "micrograd_ws compiled"

    def steps(self, samples: list[tuple[float, float]]) -> list[float]:
        return self.fused.run(samples)


class CompiledLoss(Eager):
    """Only the loss compiled (``loss = step(x, y)``), then ``loss.backward()`` and ``SGD.step()`` as eager."""

    name = "micrograd_ws compiled loss, eager SGD"

    def __init__(self, state: dict, alpha: float) -> None:
        super().__init__(state, alpha)
        self.loss = _compile(self.mw, self.loss)


class Micrograd:
    """micrograd 0.1.0 from PyPI, its own MLP loaded with the same weights."""

    name = "micrograd 0.1.0"
    needs = {"micrograd"}

    def __init__(self, state: dict, alpha: float) -> None:
        import micrograd.nn
        h = len(state["b1"])
        self.net = micrograd.nn.MLP(1, [h, h, 1])
        for layer, l in zip(self.net.layers, (1, 2, 3)):
            for n, row, b in zip(layer.neurons, state[f"w{l}"], state[f"b{l}"]):
                for w, v in zip(n.w, row):
                    w.data = v
                n.b.data = b
        self.params = self.net.parameters()
        self.alpha = alpha

    def step(self, x: float, y: float) -> float:
        C = (self.net([x]) - y) ** 2
        self.net.zero_grad()
        C.backward()
        for p in self.params:
            p.data -= self.alpha * p.grad
        return C.data


class MicrogradTorchHeap(Micrograd):
    """micrograd 0.1.0 with torch imported first, as when both are timed in one process.

    torch adds about 150,000 objects that every full collection of the garbage collector scans
    along with micrograd's graphs: a heavier heap, not a fairer figure (context only).
    """

    name = "micrograd 0.1.0, torch in heap"
    needs = {"micrograd", "torch", "numpy"}

    def __init__(self, state: dict, alpha: float) -> None:
        import torch  # noqa: F401  (imported for its objects in the heap, not used)
        super().__init__(state, alpha)


class Floor:
    """The floor: the handout's forward pass and closed-form gradients by hand, in plain lists.

    Each formula as the handout writes it, e.g. ∂C/∂w2[j][k] = 2(O - O_des)(w3[j] ∂H2[j]/∂z2[j]) H1[k],
    every factor computed (zeros included), idiomatic list comprehensions.
    """

    name = "floor: handout formulas"
    needs: set[str] = set()

    def __init__(self, state: dict, alpha: float) -> None:
        self.alpha = alpha
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
        a = self.alpha
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
    """The same formulas, skipping the rows a dead ReLU zeroes (the best hand-written step)."""

    name = "floor: dead rows skipped"

    def step(self, x: float, y: float) -> float:
        a, w2 = self.alpha, self.w2
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


class TorchLinear:
    """PyTorch CPU, float64, nn.Linear layers (one thread): tensors do the whole layer at once."""

    name = "PyTorch nn.Linear float64"
    needs = {"torch", "numpy"}  # torch imports numpy when it is installed

    def __init__(self, state: dict, alpha: float) -> None:
        import torch
        torch.set_num_threads(1)
        self.torch = torch
        layers = []
        for l in (1, 2, 3):
            w = torch.tensor(state[f"w{l}"], dtype=torch.float64)
            linear = torch.nn.Linear(w.shape[1], w.shape[0], dtype=torch.float64)
            with torch.no_grad():
                linear.weight.copy_(w)
                linear.bias.copy_(torch.tensor(state[f"b{l}"], dtype=torch.float64))
            layers += [linear, torch.nn.ReLU()] if l < 3 else [linear]
        self.net = torch.nn.Sequential(*layers)
        self.opt = torch.optim.SGD(self.net.parameters(), lr=alpha)

    def step(self, x: float, y: float) -> float:
        self.opt.zero_grad()
        C = (self.net(self.torch.tensor([[x]], dtype=self.torch.float64))[0, 0] - y) ** 2
        C.backward()
        self.opt.step()
        return C.item()


class TorchScalar:
    """PyTorch with one 0-d float64 tensor per weight and the handout's formulas: micrograd's granularity."""

    name = "PyTorch 0-d scalars float64"
    needs = {"torch", "numpy"}

    def __init__(self, state: dict, alpha: float) -> None:
        import torch
        torch.set_num_threads(1)
        self.torch = torch
        t = lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True)  # noqa: E731
        self.w1 = [t(r[0]) for r in state["w1"]]
        self.b1 = [t(b) for b in state["b1"]]
        self.w2 = [[t(w) for w in r] for r in state["w2"]]
        self.b2 = [t(b) for b in state["b2"]]
        self.w3 = [t(w) for w in state["w3"][0]]
        self.b3 = t(state["b3"][0])
        params = self.w1 + self.b1 + [w for r in self.w2 for w in r] + self.b2 + self.w3 + [self.b3]
        self.opt = torch.optim.SGD(params, lr=alpha)

    def step(self, x: float, y: float) -> float:
        relu = self.torch.relu
        self.opt.zero_grad()
        H1 = [relu(w * x + b) for w, b in zip(self.w1, self.b1)]
        H2 = [relu(sum(map(mul, row, H1), b)) for row, b in zip(self.w2, self.b2)]
        C = (sum(map(mul, self.w3, H2), self.b3) - y) ** 2
        C.backward()
        self.opt.step()
        return C.item()


SGD_CONTENDERS: dict[str, type] = {c.name: c for c in
                                   (Eager, LectureLoop, DemoLoop, ZeroByHandSGD, ZeroGradFirst,
                                    OptimizerZeroByHandUpdate, LectureThenEager, Compiled, CompiledPerCall,
                                    CompiledLoss, Micrograd, MicrogradTorchHeap, Floor, FloorSkipping, TorchLinear,
                                    TorchScalar)}


def _steps(runner) -> Callable[[list], list[float]]:
    """A block of SGD steps, as a training loop runs them: the contender's own loop if it has one
    (``steps``), else one ``step`` per sample."""
    return getattr(runner, "steps", None) or (lambda samples: [runner.step(x, y) for x, y in samples])


def sgd(job: dict) -> dict:
    """Warm up, then time `blocks` blocks of `block` steps (GC at its defaults): ms per step per block."""
    runner = SGD_CONTENDERS[job["contender"]](job["state"], job["alpha"])
    stream = [tuple(s) for s in job["stream"]]
    steps = _steps(runner)
    losses = steps(stream[:job["warmup"]])
    block_ms = []
    for k in range(job["blocks"]):
        start = job["warmup"] + k * job["block"]
        samples = stream[start:start + job["block"]]
        t = time.perf_counter()
        losses += steps(samples)
        block_ms.append((time.perf_counter() - t) / len(samples) * 1e3)
    return {"block_ms": block_ms, "losses": losses}


def schedule(job: dict) -> dict:
    """Wall seconds to train from the initial weights for each count of the schedule, summed."""
    total, losses = 0.0, []
    for iters in job["iters"]:
        runner = SGD_CONTENDERS[job["contender"]](job["state"], job["alpha"])
        samples = [tuple(s) for s in job["stream"][:iters]]
        t = time.perf_counter()
        losses = _steps(runner)(samples)
        total += time.perf_counter() - t
    return {"seconds": total, "losses": losses}


# --- random +, -, * graphs: µs and bytes per node --------------------------------------------

def _value_class(contender: str) -> Callable:
    if contender == "micrograd_ws":
        from micrograd_ws import Value
    else:
        from micrograd.engine import Value
    return Value


def graph(job: dict) -> dict:
    """µs per node of build + backward (median of repeats), or bytes per node held after backward.

    Runs in a thread with a large stack and a high recursion limit: micrograd's backward recurses
    once per level of the graph.
    """
    value_cls = _value_class(job["contender"])
    leaves, prog = dag.random_program(job["n"], job["seed"])
    out: dict = {}

    def measure() -> None:
        if job["measure"] == "bytes":
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
            nodes = dag.build(value_cls, leaves, prog)
            nodes[-1].backward()
            out["bytes_per_node"] = (tracemalloc.get_traced_memory()[0] - base) / len(prog)
            tracemalloc.stop()
        else:
            times = []
            for _ in range(job["repeats"]):
                t = time.perf_counter()
                nodes = dag.build(value_cls, leaves, prog)
                nodes[-1].backward()
                times.append(time.perf_counter() - t)
                del nodes
            out["us_per_node"] = statistics.median(times) / len(prog) * 1e6

    _in_big_thread(measure)
    return out


def _in_big_thread(fn: Callable[[], None]) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as e:  # reported by the caller, in the main thread
            errors.append(e)

    sys.setrecursionlimit(1_000_000)
    threading.stack_size(1 << 30)
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


# --- micrograd_ws alone: chains and second derivatives ---------------------------------------

def chain(job: dict) -> dict:
    """Median seconds of backward() through a fresh chain of n nodes (built outside the timing)."""
    import micrograd_ws as mw
    times = []
    for _ in range(job["repeats"]):
        v = x = mw.Value(0.5)
        for _ in range(job["n"]):
            v = v * 1.0
        t = time.perf_counter()
        v.backward()
        times.append(time.perf_counter() - t)
        if x.grad != 1.0:
            raise AssertionError(f"chain of {job['n']}: gradient {x.grad}, expected 1.0")
    return {"seconds": statistics.median(times)}


def second_derivatives(job: dict) -> dict:
    """Median seconds on the handout net, one sample: backward(), grad(create_graph=True), hvp."""
    import micrograd_ws as mw
    net = mw.two_hidden_layers(job["hidden"], seed=0)
    params = net.parameters()
    loss = lambda *ps: mw.squared_error(net(0.5), 1.0)  # noqa: E731
    v = [1.0] * len(params)
    runs = {"backward": lambda: loss().backward(),
            "grad_create_graph": lambda: mw.grad(loss(), params, create_graph=True),
            "hvp": lambda: mw.hvp(loss, params, v)}
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(job["repeats"]):
        for k, run in runs.items():
            t = time.perf_counter()
            run()
            times[k].append(time.perf_counter() - t)
    return {k: statistics.median(ts) for k, ts in times.items()}


TASKS: dict[str, Callable[[dict], dict]] = {
    "sgd": sgd, "schedule": schedule, "graph": graph, "chain": chain, "second": second_derivatives}


def needs(job: dict) -> set[str]:
    """The foreign packages the job's contender may hold in its heap."""
    if job["task"] in ("sgd", "schedule"):
        return SGD_CONTENDERS[job["contender"]].needs
    if job["task"] == "graph":
        return {job["contender"]}
    return {"micrograd_ws"}
