"""Paths from a parameter to the cost: the handout's chain-rule products, read off the graph.

Each edge of the graph carries the local derivative ∂child/∂parent that the engine
recorded in the forward pass.  ∂C/∂w is the sum, over every path from ``w`` up to
``C``, of the product of the local derivatives along it; this module finds those
edges and paths, named the way the handout writes them (:mod:`micrograd_ws.notation`).  One
:class:`Analysis` of (C, w) holds all of it, computed once; the explanations
(:mod:`micrograd_ws.explain`), the pictures (:mod:`micrograd_ws.viz`) and the
explorer page (:mod:`micrograd_ws.explorer`) read it.

>>> from micrograd_ws import Value, squared_error
>>> w, i, b = Value(0.5, 'w1'), Value(2.0, 'i'), Value(0.1, 'b1')
>>> O = w * i + b; O.label = 'O'
>>> C = squared_error(O, 1.0)
>>> [path] = paths(C, w)
>>> ' · '.join(e.symbol for e in path)
'∂C/∂O · ∂O/∂w1·i · ∂w1·i/∂w1'
>>> ' · '.join(e.formula for e in path)
'2(O − O_des) · 1 · i'
"""
from __future__ import annotations

import bisect
import math
from array import array
from dataclasses import dataclass
from itertools import islice
from typing import Iterator

from .engine import Value, topological_order
from .notation import did_you_mean, expression, local_formula, name, partial, suggest_labels

# name, expression, suggest_labels and did_you_mean are notation's, here too as before
__all__ = ["Edge", "Graph", "Analysis", "name", "expression", "subgraph", "edges", "paths", "count_paths",
           "path_product", "factors_to_root", "path_totals", "suggest_labels", "did_you_mean"]


@dataclass(frozen=True)
class Edge:
    """The edge from ``child.parents[index]`` to ``child``, carrying ∂child/∂parent."""

    child: Value
    index: int

    @property
    def parent(self) -> Value:
        return self.child.parents[self.index]

    @property
    def local(self) -> float:
        """The local derivative ∂child/∂parent, as the engine recorded it."""
        return self.child.local_grads[self.index]

    @property
    def symbol(self) -> str:
        """``∂child/∂parent`` in the handout's names, e.g. ``∂z2[3]/∂w2[3][7]``."""
        return partial(name(self.child), name(self.parent))

    @property
    def formula(self) -> str:
        """What the local derivative is, as the handout writes it, e.g. ``H1[7]`` or ``2(O − O_des)``."""
        return local_formula(self.child, self.index)


class Graph:
    """The graph of ``root`` read once: its nodes in topological order and each node's children.

    Analyses of many parameters of one cost (the explorer, a gallery) share it, so each
    one walks only its own subgraph, not the whole net again.
    """

    def __init__(self, root: Value) -> None:
        self.root = root
        self.order = topological_order(root)
        self.position = {v: k for k, v in enumerate(self.order)}
        self.children: dict[Value, list[Value]] = {}
        self.uses: dict[Value, list[tuple[Value, int]]] = {}  # p -> each (child, k) with child.parents[k] is p
        for c in self.order:
            for k, p in enumerate(c.parents):
                self.uses.setdefault(p, []).append((c, k))
            for p in dict.fromkeys(c.parents):  # a node used twice (a * a) is one child
                self.children.setdefault(p, []).append(c)


class Analysis:
    """The chain rule for one (root, w), computed once; explain, draw_grad and explore all read it.

    ``nodes``: the subgraph from ``w`` to ``root`` in topological order (empty when root
    does not depend on w); ``edges``: its edges, grouped by child; ``counts[v]``: how many
    paths lead from w to v; ``sums[v]``: ∂v/∂w, the sum over those paths of the products,
    accumulated node by node as backward does; ``live``: the nodes and edges on a path whose
    factors are all nonzero (the rest lie behind a ReLU that is off); ``n_live``: how many
    such paths reach root.

    >>> a = Value(2.0, 'a'); b = a * a; b.label = 'b'; c = b.relu() + a; c.label = 'c'
    >>> x = Analysis(c, a)
    >>> [v.label or v.op for v in x.nodes], x.n_paths, x.n_live, x.sums[c]
    (['a', 'b', 'relu', 'c'], 3, 3, 5.0)
    """

    def __init__(self, root: Value, w: Value, graph: Graph | None = None) -> None:
        g = graph if graph is not None and graph.root is root else Graph(root)
        self.root, self.w, self.graph = root, w, g
        found = {w} if w in g.position else set()
        stack = list(found)
        while stack:  # w's descendants: in root's graph, each one lies on a path to root
            for c in g.children.get(stack.pop(), ()):
                if c not in found:
                    found.add(c)
                    stack.append(c)
        self.nodes: list[Value] = sorted(found, key=g.position.__getitem__) if root in found else []
        keep = set(self.nodes)
        pos = g.position
        # the edges grouped by child, children in topological order, each child's in parent order
        self.edges = sorted((Edge(c, k) for p in self.nodes for c, k in g.uses.get(p, ()) if c in keep),
                            key=lambda e: (pos[e.child], e.index))
        self._into: dict[Value, list[Edge]] = {}
        for e in self.edges:
            self._into.setdefault(e.child, []).append(e)
        self.counts: dict[Value, int] = {w: 1} if self.nodes else {}
        self.sums: dict[Value, float] = {w: 1.0} if self.nodes else {}
        live_count, reach = {w: 1}, {w}
        for c in self.nodes[1:]:  # forward from w: each parent is complete before its children
            mine = self._into[c]
            self.counts[c] = sum(self.counts[e.parent] for e in mine)
            self.sums[c] = math.fsum(self.sums[e.parent] * e.local for e in mine)
            alive = [e.parent for e in mine if e.local != 0.0 and e.parent in reach]
            if alive:
                live_count[c] = sum(live_count[p] for p in alive)
                reach.add(c)
        back = {root} if self.nodes else set()
        for e in reversed(self.edges):  # backward from root through nonzero edges
            if e.local != 0.0 and e.child in back:
                back.add(e.parent)
        live = {v for v in self.nodes if v in reach and v in back}
        self.live = live | {e for e in self.edges if e.local != 0.0 and e.parent in live and e.child in live}
        self.n_paths = self.counts.get(root, 0)
        self.n_live = live_count.get(root, 0) if root in live else 0

    def paths(self) -> Iterator[tuple[Edge, ...]]:
        """Each path from root down to w as its edges, root first (see :func:`paths`)."""
        root, w, into = self.root, self.w, self._into
        if not self.nodes:
            return
        if root is w:
            yield ()
            return
        path: list[Edge] = []  # the edges from root down to the node on top of the stack
        stack = [iter(into[root])]  # each node's edges still to try
        while stack:
            for e in stack[-1]:
                if e.parent is w:
                    yield (*path, e)
                else:
                    path.append(e)
                    stack.append(iter(into[e.parent]))
                    break
            else:  # every edge tried: step back up
                stack.pop()
                if path:
                    path.pop()


def factors_to_root(graph: Graph, cap: int = 10**12) -> dict[Value, int]:
    """For each node, how many factors its chain rule has written out: the lengths of all its paths
    to the root, added (at most ``cap``; a graph can have exponentially many paths).

    One pass over the graph, root first, so a page can know what each explanation would cost
    before building any (``Analysis(root, v)`` and its listing take time in proportion to it).

    >>> a = Value(2.0, 'a'); b = a * a; b.label = 'b'; c = b.relu() + a; c.label = 'c'
    >>> f = factors_to_root(Graph(c)); f[a], f[b], f[c]
    (7, 2, 0)
    """
    count: dict[Value, int] = {graph.root: 1}
    length: dict[Value, int] = {graph.root: 0}
    for v in reversed(graph.order[:-1]):
        n = f = 0
        for c, _ in graph.uses.get(v, ()):
            n += count[c]
            f += length[c] + count[c]
        count[v], length[v] = min(n, cap), min(f, cap)
    return length


def path_totals(root: Value, w: Value, cap: int = 10**12) -> tuple[int, int, float]:
    """(how many paths lead from ``w`` to ``root``, their factors together, ∂root/∂w summed node by node as
    :class:`Analysis` sums it) in one pass and a few numbers per node, without the edges and maps of an
    Analysis: whether the paths are few enough to list is known before any is (a chain of two million
    nodes then takes about 0.3 GB, not 4). Paths are counted exactly, as Analysis counts them; factors stop at ``cap``.

    >>> a = Value(2.0, 'a'); b = a * a; b.label = 'b'; c = b.relu() + a; c.label = 'c'
    >>> path_totals(c, a), path_totals(a, c)
    ((3, 7, 5.0), (0, 0, 0.0))
    """
    order = topological_order(root)
    start = bisect.bisect_left(order, w._id, key=lambda v: v._id)  # creation order: w's place, found by its id
    if start == len(order) or order[start] is not w:
        return 0, 0, 0.0
    at = {w: 0}  # node -> its slot in the three columns (only w's descendants have one)
    count, length, sums = [1], [0], array("d", [1.0])
    for c in islice(order, start + 1, None):
        n = f = 0
        parts = []
        for k, p in enumerate(c.parents):
            j = at.get(p)
            if j is not None:
                n += count[j]
                f += length[j] + count[j]
                parts.append(sums[j] * c.local_grads[k])
        if parts:
            at[c] = len(count)
            count.append(n)
            length.append(min(f, cap))
            sums.append(math.fsum(parts))
    j = at.get(root)
    return (0, 0, 0.0) if j is None else (count[j], length[j], sums[j])


def subgraph(root: Value, w: Value) -> list[Value]:
    """The nodes on some path from ``w`` to ``root``, in topological order (``w`` first).

    Empty when ``root`` does not depend on ``w`` (then ∂root/∂w = 0).
    """
    return Analysis(root, w).nodes


def edges(root: Value, w: Value) -> list[Edge]:
    """Every edge on a path from ``w`` to ``root``."""
    return Analysis(root, w).edges


def paths(root: Value, w: Value) -> Iterator[tuple[Edge, ...]]:
    """Each path from ``root`` down to ``w`` as its edges, root first (lazily: there can be many).

    Depth first, parents in order; one path list is extended and shortened as the search
    goes, so listing the paths costs time in proportion to their total length.

    >>> a = Value(1.0, 'a'); b = a * a; b.label = 'b'
    >>> [[(e.child.label, e.index) for e in p] for p in paths(b, a)]
    [[('b', 0)], [('b', 1)]]
    """
    return Analysis(root, w).paths()


def count_paths(root: Value, w: Value) -> int:
    """How many paths lead from ``w`` to ``root`` (without listing them)."""
    return Analysis(root, w).n_paths


def path_product(path: tuple[Edge, ...]) -> float:
    """The product of the local derivatives along a path, root first (as backward multiplies)."""
    g = 1.0
    for e in path:
        g *= e.local
    return g
