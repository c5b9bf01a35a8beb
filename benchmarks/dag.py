"""Random graphs of +, -, * for the per-node benchmark: generated, built on any Value class, checked.

Standard library only: the benchmark's worker processes import this, and micrograd's must not see
micrograd_ws or torch.

>>> leaves, prog = random_program(2_000)
>>> len(leaves), len(prog), prog[0][0] in "+-*"
(100, 2000, True)
>>> values, grads = magnitudes(leaves, prog)
>>> values < 1e3 and grads < 1e9
True
"""
from __future__ import annotations

import random
from typing import Callable, Sequence

LEAVES = 100
WINDOW = 1_000  # a node's parents are among the 1,000 nodes before it (and the leaves)
BLOCK = 10_000  # nodes per block; the blocks' last nodes are summed into the output

Op = tuple[str, int, int]


def random_program(n: int, seed: int = 0) -> tuple[list[float], list[Op]]:
    """LEAVES leaf values and n ops (+, -, *) on earlier nodes, numbered leaves first.

    Values stay in [0.01, 10] inside a block (each op is one that keeps them there). Gradients
    stay bounded too: on a graph with fan-out, ∂output/∂node sums over paths, whose number grows
    exponentially with depth, so a graph of one piece overflows near 10^6 nodes. Here each block of
    BLOCK nodes reads only itself and the leaves, its last node is added to a running total, and
    the last node of the program is that total: a gradient crosses at most one block (about 30
    levels) and the chain of totals (+, derivative 1). `magnitudes` measures both, exactly.
    """
    rng = random.Random(seed)
    leaves = [rng.uniform(-1.0, 1.0) for _ in range(LEAVES)]
    vals = list(leaves)
    prog: list[Op] = []
    total = None  # node index of the running total of the finished blocks
    start = LEAVES  # first node of the current block
    while len(prog) < n:
        m = len(vals)
        if m - start == BLOCK or (len(prog) == n - 1 and total is not None):
            if total is None:
                total = m - 1
            else:
                prog.append(("+", total, m - 1))
                vals.append(vals[total] + vals[m - 1])
                total = len(vals) - 1
            start = len(vals)
            continue
        lo = max(start, m - WINDOW)
        span = LEAVES + m - lo  # the leaves, then the window
        op, a, b, v = _pick(rng, vals, lo, span)
        prog.append((op, a, b))
        vals.append(v)
    return leaves, prog


def _pick(rng: random.Random, vals: list[float], lo: int, span: int) -> tuple[str, int, int, float]:
    """Two distinct parents and an op whose value lies in [0.01, 10] (the last try if none does)."""
    ops = ["+", "-", "*"]
    for _ in range(20):
        a, b = (j if j < LEAVES else lo + j - LEAVES for j in (rng.randrange(span), rng.randrange(span)))
        if a == b:
            continue
        rng.shuffle(ops)
        for op in ops:
            v = _apply(op, vals[a], vals[b])
            if 0.01 <= abs(v) <= 10.0:
                return op, a, b, v
    return op, a, b, v


def _apply(op: str, x, y):
    return x + y if op == "+" else x - y if op == "-" else x * y


def build(value_cls: Callable, leaves: Sequence[float], prog: Sequence[Op]) -> list:
    """The program's nodes as value_cls objects (micrograd_ws.Value or micrograd's Value)."""
    nodes = [value_cls(v) for v in leaves]
    append = nodes.append
    for op, a, b in prog:
        append(_apply(op, nodes[a], nodes[b]))
    return nodes


def magnitudes(leaves: Sequence[float], prog: Sequence[Op]) -> tuple[float, float]:
    """(largest |value|, largest |∂last/∂node|) over all nodes, in plain floats (a reverse pass)."""
    vals = list(leaves)
    for op, a, b in prog:
        vals.append(_apply(op, vals[a], vals[b]))
    g = [0.0] * len(vals)
    g[-1] = 1.0
    for i in range(len(vals) - 1, len(leaves) - 1, -1):
        op, a, b = prog[i - len(leaves)]
        gi = g[i]
        if op == "*":
            g[a] += gi * vals[b]
            g[b] += gi * vals[a]
        else:
            g[a] += gi
            g[b] += -gi if op == "-" else gi
    return max(map(abs, vals)), max(map(abs, g))
