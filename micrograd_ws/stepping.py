"""Stepping through the reverse pass: :func:`backward_steps`, one node of ``backward()`` at a time.

Each :class:`BackwardStep` is what the engine does at one node (micrograd's
``node._backward()``): the gradient arriving at the node, and each edge's
contribution ``grad · local`` added into a parent.  The text of a step uses the
handout's names (``∂C/∂z2[0] += ∂C/∂H2[0] · ∂H2[0]/∂z2[0] = …``); explaining one
∂C/∂w as a sum over paths is :mod:`micrograd_ws.explain`'s job.

>>> from micrograd_ws import Value, squared_error
>>> w1, i, b1 = Value(0.5, 'w1'), Value(2.0, 'i'), Value(0.1, 'b1')
>>> O = w1 * i + b1; O.label = 'O'
>>> C = squared_error(O, 1.0)
>>> steps = C.backward_steps()
>>> next(steps)
∂C/∂O += ∂C/∂C · ∂C/∂O = 1 · 0.2 = 0.2
>>> next(steps)
∂C/∂w1·i += ∂C/∂O · ∂O/∂w1·i = 0.2 · 1 = 0.2
∂C/∂b1   += ∂C/∂O · ∂O/∂b1   = 0.2 · 1 = 0.2
>>> for step in steps: pass          # the rest; w1.grad is now complete
>>> w1.grad
0.40000000000000036
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Union

from .checks import non_finite_grad, to_float
from .compat import run_closures
from .engine import EXTENSIONS, Value, pass_order, topological_order
from .mode import recorded
from .safety import Pass
from .notation import name, num, partial, product
from .paths import Edge

__all__ = ["backward_steps", "BackwardStep", "Contribution"]


# --- the reverse pass, one node at a time ---------------------------------------------

@dataclass(frozen=True)
class Contribution:
    """What one edge adds in a step: ∂root/∂parent += ∂root/∂node · ∂node/∂parent.

    ``so_far`` is the parent's gradient in this pass after the addition (parents
    reached from several children collect one contribution from each).
    """

    edge: Edge
    added: float
    so_far: float

    @property
    def parent(self) -> Value:
        return self.edge.parent

    @property
    def local(self) -> float:
        return self.edge.local


@dataclass(frozen=True, repr=False)
class BackwardStep:
    """One node of the reverse pass: the gradient arriving at ``node``, passed on to its parents.

    ``index`` counts from 0 up to ``total - 1`` in the order the engine processes nodes.
    A node whose gradient is 0 passes nothing on (``skipped``), as in the engine.
    """

    root: Value
    node: Value
    grad: float
    contributions: tuple[Contribution, ...]
    index: int
    total: int

    @property
    def skipped(self) -> bool:
        return self.grad == 0.0

    def describe(self, limit: int | None = 8) -> str:
        """The step as text, one line per parent; ``limit`` lines at most (``None``: all)."""
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValueError(f"describe(limit): a positive int or None, got {limit!r}")
        top = name(self.root)
        if self.skipped:
            parents = [name(c.parent) for c in self.contributions]
            shown = ", ".join(parents[:limit] if limit else parents)
            more = ", …" if limit and len(parents) > limit else ""
            return f"{partial(top, name(self.node))} = 0: nothing to pass on to {shown}{more} (skipped)"
        cs = self.contributions if limit is None else self.contributions[:limit]
        rows = [(partial(top, name(c.parent)), c.edge.symbol, c) for c in cs]
        w_lhs = max(len(r[0]) for r in rows)
        w_sym = max(len(r[1]) for r in rows)
        incoming = partial(top, name(self.node))
        lines = [
            f"{lhs:<{w_lhs}} += {incoming} · {sym:<{w_sym}} = {product([self.grad, c.local])} = {num(c.added)}"
            + (f"  (so far {num(c.so_far)})" if c.so_far != c.added else "")
            for lhs, sym, c in rows
        ]
        hidden = len(self.contributions) - len(cs)
        if hidden:
            lines.append(f"… and {hidden} more parents, each {partial(top, 'p')} += {incoming} · "
                         f"{partial(name(self.node), 'p')} "
                         "(step.describe(limit=None) lists them all)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.describe()

    __repr__ = __str__  # so that next(steps) at the REPL shows the equation


def backward_steps(root: Value, gradient: Union[int, float] = 1.0) -> Iterator[BackwardStep]:
    """The reverse pass as a generator: one :class:`BackwardStep` per node, in the engine's order.

    Each step has already been applied when it is yielded, so after ``next(steps)`` the
    parents' ``grad`` include it; a step is what ``node._backward()`` (micrograd's name)
    does.  Running every step leaves exactly the gradients of
    ``root.backward(gradient)``.  Until the pass ends, a leaf's ``grad`` shows only this
    pass's part; its earlier gradient is added back with the last step.

    A pass that does not reach its last step leaves no trace: when the generator is
    closed (``steps.close()``), dropped (garbage collected) or interrupted by an
    exception, every ``grad`` it touched, leaves and intermediate nodes, is rolled back
    to what it was before the pass.

    >>> a = Value(3.0, 'a'); b = a * a; b.label = 'b'
    >>> for step in b.backward_steps():
    ...     print(step)
    ∂b/∂a += ∂b/∂b · ∂b/∂a = 1 · 3 = 3
    ∂b/∂a += ∂b/∂b · ∂b/∂a = 1 · 3 = 3  (so far 6)
    >>> a.grad
    6.0
    >>> c = b + a; c.label = 'c'; c.backward(); a.grad     # 6 + ∂c/∂a = 6 + (2a + 1)
    13.0
    >>> steps = c.backward_steps(); _ = next(steps); a.grad   # half-way: this pass's part so far
    1.0
    >>> steps.close(); a.grad, b.grad                         # rolled back: as before the pass
    (13.0, 1.0)
    """
    if not isinstance(root, Value):
        raise TypeError(f"backward_steps(root): root must be a Value (e.g. the cost C), got {type(root).__name__}")
    return _steps(recorded(root, "backward_steps"), to_float(gradient, "backward_steps(gradient)"))


def _steps(root: Value, gradient: float) -> Iterator[BackwardStep]:
    """backward()'s pass (the same ``_chain`` at each node), yielding after each node.

    Every leaf is kept aside first, so that until the pass ends a leaf shows only this pass's part."""
    t = Pass(root)
    nodes = pass_order(root, t.stamp)
    earlier = [(v, v.grad) for v in nodes]  # to roll back an unfinished pass
    finished = False
    try:
        t.begin_steps()  # (until it ends, another pass looks first for what this one holds)
        stamp = t.stamp
        for leaf in topological_order(root):
            if not leaf.parents and leaf._pass is not stamp:
                leaf._reach(t)
        for v in nodes:
            v._pass, v.grad = stamp, 0.0
        root.grad = gradient
        last = len(nodes) - 1
        if last < 0:  # a leaf root: the pass is complete with no step
            t.finish()
            finished = True
        for index, v in enumerate(nodes):
            g = v.grad
            sums = {}  # each parent's sum so far, as the step adds into it
            added = []
            if g:
                if not math.isfinite(g):
                    raise non_finite_grad(v, g)
                run_closures((v,))  # a micrograd-style op, as backward does
                for p, d in zip(v.parents, v.local_grads):
                    a = g * d
                    sums[p] = sums.get(p, p.grad) + a  # what v._chain(t) adds, in the same order
                    added.append((a, sums[p]))
                v._chain(t)
            else:
                added = [(0.0, p.grad) for p in v.parents]
            if index == last:  # complete the leaves before the last step is shown
                t.finish(nodes)
                finished = True
            contributions = tuple(Contribution(Edge(v, k), a, so_far) for k, (a, so_far) in enumerate(added))
            yield BackwardStep(root, v, g, contributions, index, last + 1)
    finally:  # closed, dropped or failed half-way (an overflow, Ctrl-C): roll the whole pass back
        if not finished:
            t.abort()
            for v, grad in earlier:
                v.grad = grad


EXTENSIONS["backward_steps"] = backward_steps  # Value.backward_steps()
