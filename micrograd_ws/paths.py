"""Paths from a parameter to the cost: the handout's chain-rule products, read off the graph.

Each edge of the graph carries the local derivative ∂child/∂parent that the engine
recorded in the forward pass.  ∂C/∂w is the sum, over every path from ``w`` up to
``C``, of the product of the local derivatives along it; this module finds those
edges and paths and names them the way the handout writes them.  One
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

import math
import re
from dataclasses import dataclass
from difflib import SequenceMatcher, get_close_matches
from typing import Iterable, Iterator

from .engine import Value, _NumberLabel, topological_order

__all__ = ["Edge", "Graph", "Analysis", "name", "expression", "subgraph", "edges", "paths", "count_paths",
           "path_product", "suggest_labels", "did_you_mean"]


def name(v: Value, depth: int = 2) -> str:
    """A node's name: its label, or a short expression of its parents.

    A number in an expression (the ``3`` of ``a * 3``) is labelled with itself; a Value
    you made without a label reads ``Value(2)``, never a bare number that would look
    like a constant.  Parts deeper than ``depth`` read ``…``, an operation with many
    inputs by its op (label a node to give it a name of your own).

    >>> a = Value(2.0, 'a')
    >>> name(a), name(Value(3.0)), name(a * 3), name((a * 3).tanh())
    ('a', 'Value(3)', 'a·3', 'tanh(a·3)')
    >>> q = Value(2.0); name(q * q)
    'Value(2)·Value(2)'
    >>> from micrograd_ws import mean
    >>> name(a * 3 * 3 * 3), name(mean([a, a, a]) * 2)
    ('…·3·3', 'mean(…)·2')
    """
    if v.label:
        return v.label
    return expression(v, depth)


def expression(v: Value, depth: int = 2) -> str:
    """What computed ``v``, from its parents' names, whatever its label: ``expression(z)`` is ``a·3``.

    >>> a = Value(2.0, 'a'); z = a * 3; z.label = 'z'
    >>> expression(z), expression(a)
    ('a·3', '2')
    """
    if not v.parents:
        # a number, or a labelled leaf's value; a Value made without a label reads Value(2)
        return f"{v.data:g}" if v.label or type(v.label) is _NumberLabel else f"Value({v.data:g})"
    if depth == 0:
        return "…"
    if len(v.parents) > 2:
        return f"{v.op}(…)" if v.op.isidentifier() else v.op
    args = [name(p, depth - 1) for p in v.parents]
    if v.op in ("+", "-", "*", "/") and len(args) == 2:
        a, b = (_wrap(x) if v.op != "+" else x for x in args)
        return f"{a} {v.op} {b}" if v.op in "+-" else f"{a}{'·' if v.op == '*' else '/'}{b}"
    if v.op == "neg":
        return f"−{_wrap(args[0])}"
    if v.op.startswith("**"):
        return f"{_wrap(args[0])}^{_wrap(args[1]) if len(args) == 2 else v.op[2:]}"
    return f"{v.op}({', '.join(args)})"


_INDICES = re.compile(r"(\[[^\]]*\])+$")


def _stem(label: str) -> str:
    """A label without its indices, lower case: ``W2[3][1]`` → ``w2``."""
    return _INDICES.sub("", label).lower()


def suggest_labels(wanted: str, labels: Iterable[str], n: int = 3) -> list[str]:
    """The labels a user most likely meant by ``wanted``, best first (at most ``n``).

    One rule for every look-up by name (``explain``, ``draw_grad``, the command line's
    ``--only``): the same name in another case first (``W1[0]`` → ``w1[0]``), then
    the name with an index dropped or added (``b3[0]`` → ``b3``, ``w1`` → ``w1[0]``),
    then close spellings, those of the same kind (first letter) before others; when
    nothing is close, the first name of each kind with the same letter, else of every
    kind, so there is always something to try.

    >>> names = ['w1[0]', 'w1[1]', 'b1[0]', 'z1[0]', 'w3[0]', 'b2[0]', 'b3', 'O', 'C']
    >>> suggest_labels('b3[0]', names), suggest_labels('W1[0]', names)
    (['b3', 'b2[0]', 'b1[0]'], ['w1[0]', 'w1[1]', 'w3[0]'])
    >>> suggest_labels('w9', names)
    ['w1[0]', 'w3[0]']
    """
    wanted = wanted.strip()
    low, stem = wanted.lower(), _stem(wanted)
    names = [s for s in dict.fromkeys(labels) if s]
    by_lower: dict[str, str] = {}
    for s in names:
        by_lower.setdefault(s.lower(), s)
    close = [by_lower[m] for m in get_close_matches(low, list(by_lower), n=max(n, 10), cutoff=0.6)]
    close.sort(key=lambda s: s[:1].lower() != low[:1])  # stable: the same kind first
    kinds: dict[str, str] = {}  # the first name of each kind
    for s in names:
        kinds.setdefault(_stem(s), s)
    same_stem = sorted((s for s in names if _stem(s) == stem),  # the closest index first
                       key=lambda s: -SequenceMatcher(None, low, s.lower()).ratio())
    tiers = ([s for s in names if s.lower() == low], same_stem, close)
    found = list(dict.fromkeys(s for tier in tiers for s in tier))
    if not found:
        found = [s for s in kinds.values() if s[:1].lower() == low[:1]] or list(kinds.values())
    return found[:n]


def did_you_mean(label: str, labels: Iterable[str]) -> str:
    """``did you mean b3, b2[0] or b1[0]?``: the hint of every look-up by name (:func:`suggest_labels`).

    >>> did_you_mean('b3[0]', ['w1', 'b1', 'b3']), did_you_mean('W1[0]', ['w1[0]', 'w1[1]', 'z1[0]'])
    ('did you mean b3?', 'did you mean w1[0], w1[1] or z1[0]?')
    """
    close = suggest_labels(label, labels)
    if not close:
        return "nothing in it has a label: pass the Value itself, or label it (Value(2.0, label='x'))"
    return "did you mean " + (", ".join(close[:-1]) + " or " if len(close) > 1 else "") + close[-1] + "?"


def partial(top: str, bottom: str) -> str:
    """``∂top/∂bottom``, bracketing expression names: ``partial('C', 'a·b + c')`` is ``∂C/∂(a·b + c)``."""
    return f"∂{_wrap(top)}/∂{_wrap(bottom)}"


def _wrap(s: str) -> str:
    return f"({s})" if " " in s else s


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
        return _formula(self.child, self.index)


def _formula(c: Value, i: int) -> str:
    op, ps = c.op, c.parents
    arg = name(ps[i])  # inside f(…) as it is; as a factor or a base in parentheses if it has spaces
    x = _wrap(arg)
    if op == "+":
        return "1"
    if op == "-":
        return "1" if i == 0 else "−1"
    if op == "neg":
        return "−1"
    if op == "*":
        return name(ps[1 - i])
    if op == "/":
        a, b = _wrap(name(ps[0])), _wrap(name(ps[1]))
        return f"1/{b}" if i == 0 else f"−{a}/{b}²"
    if op == "w·x+b":
        n = (len(ps) - 1) // 2
        return "1" if i == 2 * n else name(ps[i + n] if i < n else ps[i - n])
    if op == "(O-O_des)²":
        target = name(ps[1]) if len(ps) == 2 else "O_des"
        o = name(ps[0])
        return f"2({o} − {target})" if i == 0 else f"−2({o} − {target})"
    if op == "relu":  # the handout's ∂H/∂z: 0 where H = 0, else 1
        return f"{c.local_grads[i]:g}"
    if op == "square":
        return f"2·{x}"
    if op.startswith("**") and len(ps) == 1:
        n = float(op[2:])
        return f"{op[2:]}·{x}^{n - 1:g}" if n != 2 else f"2·{x}"
    if op == "**":
        a, b = _wrap(name(ps[0])), _wrap(name(ps[1]))
        return f"{b}·{a}^({b} − 1)" if i == 0 else f"{a}^{b}·ln {a}"
    simple = {"exp": f"exp({arg})", "log": f"1/{x}", "tanh": f"1 − tanh²({arg})",
              "sigmoid": f"σ({arg})(1 − σ({arg}))", "mean": f"1/{len(ps)}"}
    if op in simple:
        return simple[op]
    return f"∂{op}/∂arg{i + 1}" if len(ps) > 1 else f"{op}′({arg})"


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
