"""What the generated code calls: an op's floats that are not one line of Python (mean, a
define_op op), and a layer's reverse pass and SGD update as operations on lists.

Each adds what eager adds, in eager's order, so that the replay's numbers are eager's to the bit.
"""
from __future__ import annotations

import math
from itertools import compress, repeat
from operator import itemgetter, mul
from typing import Callable, Iterable, Sequence

from ..checks import to_float
from ..custom import user_ops
from ..engine import Value
from ..floats import add_up
from ..mode import enable_grad
from .. import stores
from .errors import ReplayError, RunEagerly

__all__ = ["lists_ready", "mean_of", "user_op", "as_gradient", "dot", "accumulate", "accumulate_alive",
           "gather", "row_grads", "total", "new_rows", "new_column", "write_rows"]


def lists_ready(ST: list) -> None:
    """Neurons' stores hold their numbers as lists (a loose one gathered back: stores.Store.ready),
    or an error says why not (a pass stepped half-way holds one loose)."""
    if stores.loose_stores and not all([s.ready() for s in ST if s.loose]):
        raise ReplayError("compile: a backward_steps pass over this net is paused half-way, and it holds the "
                          "net's parameters one by one until it ends; finish it (for step in steps: pass) "
                          "or close it (steps.close()) before calling the compiled function")


def mean_of(xs: tuple) -> float:
    """engine.mean's forward, on floats."""
    n = len(xs)
    try:
        return math.fsum(xs) / n
    except OverflowError:
        return math.fsum(x / n for x in xs)


def user_op(name: str, *xs: float) -> tuple:
    """A define_op op (or an op added to engine.py without a replay template) on floats, through the
    op itself (its checks and its errors)."""
    op = user_ops.get(name) or getattr(Value, name, None)
    if op is None:
        raise RunEagerly
    with enable_grad():
        out = op(*(Value(x) for x in xs))
    return out.data, out.local_grads


def as_gradient(g: object) -> float:
    """backward(gradient)'s number, checked as eager checks it."""
    return to_float(g, "backward(gradient)")


def known_finite(ST: list, T: list) -> bool:
    """Every weight of these neurons' stores, at the versions ``T`` read, is known to be finite
    (``Store.checked``: see micrograd_ws/stores.py)."""
    return all([s.checked == t for s, t in zip(ST, T)])


def mark_finite(ST: list, T: list) -> None:
    """The stores' weights at versions ``T`` are known finite now: a sum over all of them was found finite
    (a store changed since: not marked)."""
    for s, t in zip(ST, T):
        if s.version == t:
            s.checked = t


# --- a layer's reverse pass ---------------------------------------------------------------

def dot(G: list, col) -> float:
    """0.0 + G[0]·c[0] + G[1]·c[1] + ..., added left to right as eager's ``+=`` adds them."""
    return add_up(map(mul, G, col), 0.0)


def accumulate(W: list, J: list, G: list) -> list:
    """∂/∂x_k = Σ_j G_j·W[j][k] over the live rows J, adding in J's order (eager's: last neuron first)."""
    return list(map(dot, repeat(G), zip(*[W[j] for j in J])))


#: Above this Σ|G_j| an input's gradient could overflow even behind a dead ReLU, where eager would
#: raise: then every input's gradient is computed, as eager does.  Below it, |Σ G_j·w| < max |w|.
_SAFE_TOTAL = 0.5


def gather(X: list) -> tuple[Callable[[Sequence], Sequence], list[int]]:
    """A function picking, from a row, the entries where X is not 0 (itemgetter: the fastest way),
    and their indices."""
    idx = list(compress(range(len(X)), X))
    return (itemgetter(*idx) if len(idx) > 1 else _Pick(idx)), idx


class _Pick:
    """itemgetter for 0 or 1 index, always returning a tuple."""

    __slots__ = ("idx",)

    def __init__(self, idx: list[int]) -> None:
        self.idx = idx

    def __call__(self, row: Sequence) -> tuple:
        return tuple(row[k] for k in self.idx)


def accumulate_alive(W: list, J: list, G: list, X: list, pick: Callable) -> list:
    """:func:`accumulate` for inputs that are ReLU outputs: only the live ones (a dead one's gradient
    reaches nothing), 0.0 for the others."""
    if not J:
        return [0.0] * len(X)
    if not sum(map(abs, G)) <= _SAFE_TOTAL:
        return accumulate(W, J, G)
    live = iter(list(map(dot, repeat(G), zip(*[pick(W[j]) for j in J]))))
    return [next(live) if x else 0.0 for x in X]


def row_grads(J: list, G: list, X: list) -> list:
    """Each live neuron's weight gradients G_j·x_k (its bias's is G_j)."""
    return [(j, g, list(map(mul, repeat(g), X))) for j, g in zip(J, G)]


def total(rows: list) -> float:
    """A sum of every number in rows of (index, number, list): finite iff all are (or an overflow)."""
    return sum([g + sum(r) for _, g, r in rows])


# --- a layer's SGD step -------------------------------------------------------------------

def new_rows(W: list, B: list, J: list, G: list, X: list, XK: Sequence, pick: Callable, idx: list[int],
             lr: float) -> tuple[list, list, float]:
    """SGD's step on a layer held in lists: new lists (the live rows copied and changed where the
    gradient G_j·x_k is not 0) and the sum of the changed numbers, finite iff each is."""
    W, B = W[:], B[:]
    lo = min(map(abs, XK)) if XK else 0.0
    total = 0.0
    for j, g in zip(J, G):
        total += (b := B[j] - lr * g)
        B[j] = b
        W[j] = row = W[j][:]
        if g * lo:  # every x_k != 0 gives a gradient != 0 (no product underflows)
            for c, x in zip(idx, XK):
                row[c] -= lr * (g * x)
            total += sum(pick(row))
        else:
            for c, x in enumerate(X):
                if t := g * x:
                    row[c] -= lr * t
                    total += row[c]
    return W, B, total


def new_column(W: list, B: list, J: list, G: list, X: list, lr: float) -> tuple[list, list, float]:
    """:func:`new_rows` for neurons of one input x."""
    W, B = W[:], B[:]
    x = X[0]
    total = 0.0
    for j, g in zip(J, G):
        total += (b := B[j] - lr * g)
        B[j] = b
        if t := g * x:
            total += (w := W[j] - lr * t)
            W[j] = w
    return W, B, total


def write_rows(W: list, B: list, rows: Iterable[int], ST: list | None, PW: list, GW: list, PB: list,
               T: list | None = None) -> None:
    """Write a layer's new numbers (``W``, ``B`` as :func:`new_rows` makes them) into its parameters,
    the given rows: a neuron's store takes a new list (nodes keep the one of their forward pass),
    known finite if its version is still ``T``'s, the one read before its numbers (no ``T``: every
    number was checked)."""
    if ST is not None:
        for j in rows:
            row = W[j]
            # (a number set meanwhile, by another thread, moves the version: then the new list is not
            # known finite, and if it was set before it was read, the next forward pass adds it up)
            ST[j].put(data=[*row, B[j]] if type(row) is list else [row, B[j]], finite=T is None or ST[j].version == T[j])
        return
    for j in rows:
        PB[j].data = B[j]
        if type(W[j]) is list:
            for p, w in zip(PW[j], W[j]):
                p.data = w
        else:
            GW[j].data = W[j]
