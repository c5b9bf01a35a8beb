"""The explorer's learning modes, as data for the page: predict then check, nudge a weight.

*Predict*: before each backward step, the gradients it completes, in the handout's names
(H2[3]'s step completes ``∂C/∂z2[3]``), their answers, one factor to ask on request, and the
handout's product with the numbers plugged in (``∂C/∂H2[3] · ∂H2[3]/∂z2[3] = 0.5 · 0``), so
the page checks and shows, never derives.  Each question also carries the mistakes
:mod:`micrograd_ws.diagnose` knows for it (``diag``, see :func:`add_diagnoses`): on a wrong
answer the page finds the learner's number among them by its grid cell and names the factor.

*Nudge*: what the page needs to run an MLP's forward pass itself (the handout's formulas):
the desired output ``O_des`` of ``C = (O − O_des)²`` and how this Python adds a weighted
sum, so the page's floats equal the engine's.

>>> from micrograd_ws import squared_error, two_neuron
>>> net = two_neuron(seed=0); C = squared_error(net(2.0), 1.0); C.backward()
>>> from micrograd_ws.paths import Graph
>>> g, O = Graph(C), C.parents[0]
>>> steps = predict_steps(C, g, [g.position[C], g.position[O]], [v.grad for v in g.order], inputs=[O.parents[1]])
>>> [q["q"] for q in steps[0]["asks"]]          # C's step completes ∂C/∂O (∂C/∂C = 1 is not asked)
['∂C/∂O']
>>> [q["q"] for q in steps[1]["asks"]]          # O's: w1 (b1's is ∂C/∂O · 1, on the page; i is the input)
['∂C/∂w1']
>>> w1 = steps[1]["asks"][0]; w1["formula"], w1["handout"]
('∂C/∂O · ∂O/∂w1', '2(O − O_des) · i')
"""
from __future__ import annotations

import functools
import math
from typing import Iterable

from .. import viz
from ..checks import NumberLabel
from ..diagnose import SCALE, STEP, Diagnoser
from ..engine import Value
from ..notation import name, num, partial, product
from ..paths import Edge, Graph, factors_to_root

__all__ = ["predict_steps", "add_diagnoses", "desired_output", "GRID", "MAX_CANDIDATES",
           "MAX_DIAGNOSED_FACTORS"]

_TERMS_SHOWN = 3  # terms of a long sum written out; the rest are counted
_ASK_ALL = 3  # a step completing at most this many parameters asks for each; more: the bias and one weight

#: the diagnosis grid the page computes cells on: ``cell(x) = round(asinh(x / scale) / step)``
GRID = {"step": STEP, "scale": SCALE}
#: candidate mistakes kept per question (the likeliest: lowest rank), so that a question whose sum
#: has 100 terms (∂C/∂w1[3] on the h = 100 page: 800 candidates) keeps the page small
MAX_CANDIDATES = 24
#: a question is diagnosed when its chain rule written out has at most this many factors (the diagnoser
#: tries each factor of each path, in time factors × path length: ∂C/∂x at the foot of a long chain is
#: asked, not diagnosed) ...
MAX_DIAGNOSED_FACTORS = 128
#: ... while the page's diagnosed questions have at most this many factors in all
_DIAGNOSED_BUDGET = 20_000

def predict_steps(C: Value, graph: Graph, nodes: list[int], grads: list[float],
                  inputs: Iterable[Value] = ()) -> list[dict]:
    """What predict mode asks before each backward step is revealed, step by step.

    ``nodes`` are the steps of ``backward_steps()`` (topological positions, in its order),
    ``grads`` the pass's final gradients by position, ``inputs`` the leaves that are data,
    not parameters (the net's input i).  A gradient ∂C/∂v is asked before the step that
    completes it (the step of v's last child), so that nothing on the page shows it yet:
    C's step asks ∂C/∂O, O's step ∂C/∂w1 (∂C/∂C = 1 is never asked).  A question whose
    chain rule is one edge of local derivative ±1 (a bias, a ReLU that is on) is not asked:
    its answer is a number already on the page.

    Each step's ``asks`` are its questions in order; when a step completes more than three
    of one kind (O's step: the 100 ∂C/∂H2[j] and the 100 ∂C/∂w3[j]), ``picks`` holds each
    kind's questions, the largest |gradient| first: the page asks one of each (the one
    selected in the inspector, else the first), and ``rest`` says how the others follow.

    Each question: ``q`` its symbol, ``node`` the position of the node asked about,
    ``value`` and ``valueText`` its answer, ``formula`` the chain rule in symbols,
    ``handout`` with each local derivative's formula, ``numbers`` with the numbers plugged
    in, ``locals`` each factor's formula and value (the second hint), ``factor`` one factor
    to ask on its own, and ``dead`` for a gradient that is 0 because a ReLU on the way is off.
    """
    order, pos = graph.order, graph.position
    step_of = {order[k]: s for s, k in enumerate(nodes)}
    data = set(inputs)
    completes: dict[int, list[Value]] = {}  # step -> the nodes whose gradient it completes
    for v in order:
        if v is C or v in data or type(v.label) is NumberLabel or v not in graph.children:
            continue
        completes.setdefault(max(step_of[c] for c in graph.children[v]), []).append(v)
    said: dict[Value, str] = {C: "1"}  # a gradient's formula when it has no ∂ in it: 2(O − O_des)
    ask = functools.partial(_question, C, graph, grads, said)
    out = []
    for s, k in enumerate(nodes):
        v = order[k]
        entry: dict = {"asks": []}
        kinds: dict[str, list[Value]] = {}
        first: dict[Value, int] = {}  # each parent's first edge into v (read once: a mean has 10,000)
        for j, q in enumerate(v.parents):
            first.setdefault(q, j)
        for p in sorted(completes.get(s, ()), key=lambda p: (first.get(p, len(v.parents)), pos[p])):
            kinds.setdefault(_kind(p), []).append(p)
        picks, rest = [], []
        for kind, ps in kinds.items():
            asked = [q for q in map(ask, ps) if not q.pop("trivial")]
            if len(asked) <= _ASK_ALL:
                entry["asks"] += asked
            else:
                picks.append(sorted(asked, key=lambda q: -abs(q["value"])))
                g = partial(name(C), name(v))
                rest.append(f"The other {len(asked) - 1} of {kind} get their gradients the same way, each "
                            f"{partial(name(C), kind)}[…] = {g} · {partial(name(v), kind)}[…].")
        if picks:
            entry["picks"] = picks
            entry["rest"] = " ".join(rest) + " Select one in the inspector before this step to be asked for it instead."
        out.append(entry)
    return out


def add_diagnoses(C: Value, steps: list[dict], graph: Graph, picked: Iterable[int] | None = None) -> None:
    """Put into each question of ``steps`` (:func:`predict_steps`) the mistakes a learner makes on it.

    ``diag``: a list of ``{"kind", "factor", "message", "cell", "rank"}``, lowest rank first,
    from :meth:`micrograd_ws.diagnose.Diagnoser.question_data` — the wrong number's grid cell
    (:data:`GRID`), never a number, and the message naming the factor, never the answer.  The
    page takes a wrong answer's cell, keeps the candidates within 1 of it, and shows the one of
    lowest rank.  α multiplied in is a mistake of a parameter's update, so a node's question
    (∂C/∂z2[3]) leaves it out.  A mistake the page would accept (within 0.5%) is left out; of candidates in one
    cell only the likeliest is kept (the page could not pick another), then at most
    :data:`MAX_CANDIDATES`.

    Of a pick (one of many asked, e.g. the 100 w2[3][·] of a step) every question is diagnosed
    when ``picked`` is None; else its first (the one asked by default) and those whose node is
    in ``picked`` (the page's selected parameter), the rest get ``diag: None``.

    >>> from micrograd_ws import squared_error, two_neuron
    >>> net = two_neuron(seed=0); C = squared_error(net(2.0), 1.0); C.backward()
    >>> g = Graph(C); steps = predict_steps(C, g, [g.position[C], g.position[C.parents[0]]], [v.grad for v in g.order])
    >>> add_diagnoses(C, steps, g)
    >>> [(c["kind"], c["factor"]) for c in steps[1]["asks"][0]["diag"]][:2]   # ∂C/∂w1 = 2(O − O_des) · i
    [('sign', '∂C/∂O'), ('missing factor', '∂O/∂w1')]
    >>> print(steps[1]["asks"][0]["diag"][1]["message"])  # (at i = 2, also the 2 of 2(O − O_des): the later factor is named)
    missing factor ∂O/∂w1: it looks like ∂O/∂w1 = i left out.
    """
    dx = Diagnoser(C)
    order = graph.order
    chosen = None if picked is None else set(picked)
    cost, budget = factors_to_root(graph), [_DIAGNOSED_BUDGET]

    def diagnosed(q: dict) -> list[dict] | None:  # None: past the caps (the page then shows the chain rule only)
        v = order[q["node"]]
        if cost[v] > min(MAX_DIAGNOSED_FACTORS, budget[0]):
            return None
        budget[0] -= cost[v]
        return _candidates(dx, v, q["value"])

    for step in steps:
        for q in step["asks"]:
            q["diag"] = diagnosed(q)
        for pick in step.get("picks", ()):
            for n, q in enumerate(pick):
                wanted = chosen is None or n == 0 or q["node"] in chosen
                q["diag"] = diagnosed(q) if wanted else None


def _candidates(dx: Diagnoser, v: Value, truth: float) -> list[dict]:
    """One question's candidates as the page uses them (see :func:`add_diagnoses`)."""
    data = dx.question_data(v)
    out, cells = [], set()
    for c in sorted(data["candidates"], key=lambda c: (c["rank"], c["tie"])):  # stable: the diagnoser's order among equals
        if _accepted(c["value"], truth) or c["cell"] in cells or (c["factor"] == "α" and v.parents):
            continue
        cells.add(c["cell"])
        head = c["kind"] + (f" {c['factor']}" if c["factor"] else "")
        out.append({"kind": c["kind"], "factor": c["factor"], "message": f"{head}: it looks like {c['detail']}.",
                    "cell": c["cell"], "rank": c["rank"]})
        if len(out) == MAX_CANDIDATES:
            break
    return out


def _accepted(x: float, truth: float) -> bool:
    """The page's own check of an answer (explorer.js ``close``): within 0.5%, or 1e-9 of a 0."""
    return abs(x) <= 1e-9 if truth == 0 else abs(x - truth) <= 0.005 * abs(truth)


def _kind(v: Value) -> str:
    """``w2[3][7]`` → ``w2``: the handout's name of the vector or matrix a node belongs to."""
    label = v.label if isinstance(v.label, str) else ""
    return label.split("[", 1)[0] or name(v)


def _question(C: Value, graph: Graph, grads: list[float], said: dict, v: Value) -> dict:
    """∂C/∂v = ?: the chain rule over v's edges to its children, whose gradients are known."""
    pos, top = graph.position, name(C)
    g = grads[pos[v]]
    asked = {"q": partial(top, name(v)), "node": pos[v], "value": g, "valueText": num(g), "dead": g == 0.0}
    edges = [Edge(c, k) for c, k in graph.uses.get(v, ())]  # (not a scan of each child's parents: a mean has 10,000)
    shown, more = edges[:_TERMS_SHOWN], len(edges) - _TERMS_SHOWN
    tail = f" + … ({more} more terms)" if more > 0 else ""
    if len(edges) == 1 and edges[0].child is C:  # ∂C/∂O: the cost's own edge, 2(O − O_des)
        formula = handout = said[v] = edges[0].formula
        numbers = num(edges[0].local)
    else:
        formula = " + ".join(f"{partial(top, name(e.child))} · {e.symbol}" for e in shown) + tail
        handout = " + ".join(f"{_factor(said.get(e.child, partial(top, name(e.child))))} · {_factor(e.formula)}"
                             for e in shown) + tail
        numbers = " + ".join(product([grads[pos[e.child]], e.local]) for e in shown) + tail
    first = edges[0]
    return {**asked, "formula": formula, "handout": handout, "numbers": numbers,
            "locals": [f"{e.symbol} = {viz.edge_value(e)}" for e in shown]
            + [f"{partial(top, name(e.child))} = {num(grads[pos[e.child]])}" for e in shown],
            "factor": None if first.child is C else {"q": first.symbol, "value": first.local,
                                                     "text": viz.edge_value(first)},
            "why": "", "trivial": len(edges) == 1 and abs(first.local) == 1.0}


def _factor(formula: str) -> str:
    """A formula as a factor of a product: ``1 − tanh²(a)`` in parentheses, ``2(O − O_des)`` as it is.

    >>> _factor('1 − tanh²(a)'), _factor('2(O − O_des)'), _factor('−1'), _factor('∂C/∂O')
    ('(1 − tanh²(a))', '2(O − O_des)', '(−1)', '∂C/∂O')
    """
    depth, top = 0, formula.startswith("−")
    for k, ch in enumerate(formula):
        depth += (ch == "(") - (ch == ")")
        top = top or (depth == 0 and formula[k:k + 3] in (" + ", " − "))
    return f"({formula})" if top else formula


def desired_output(C: Value) -> float | None:
    """``O_des`` of the handout's cost node ``C = (O − O_des)²``, exactly as the engine used it.

    The engine keeps e = O − O_des (as ∂C/∂O = 2e, exact); the float y with O − y == e is
    the target (None if C is not that node or no float fits).
    """
    if C.op != "(O-O_des)²":
        return None
    if len(C.parents) == 2:
        return C.parents[1].data
    O, e = C.parents[0].data, C.local_grads[0] / 2.0
    y = O - e
    for _ in range(4):  # rounding may put the first guess an ulp or two away
        if O - y == e:
            return y
        y = math.nextafter(y, -math.inf if O - y < e else math.inf)
    return None
