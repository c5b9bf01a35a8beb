"""The explorer's learning modes, as data for the page: predict then check, nudge a weight.

*Predict*: for each backward step, the question in the handout's names (``∂C/∂z2[3]``), its
answer, one factor to ask on request, and the handout's product with the numbers plugged
in (``∂C/∂H2[3] · ∂H2[3]/∂z2[3] = 0.5 · 1``), so the page checks and shows, never derives.

*Nudge*: what the page needs to run an MLP's forward pass itself (the handout's formulas):
the desired output ``O_des`` of ``C = (O − O_des)²`` and how this Python adds a weighted
sum, so the page's floats equal the engine's.

>>> from micrograd_ws import squared_error, two_neuron
>>> net = two_neuron(seed=0); C = squared_error(net(2.0), 1.0); C.backward()
>>> from micrograd_ws.paths import Graph
>>> g = Graph(C); q = predict_steps(C, g, [4, 3], [0.0, 0.0, 0.0, C.parents[0].grad, C.grad])
>>> q[1]["q"], q[1]["formula"]
('∂C/∂O', '2(O − O_des)')
"""
from __future__ import annotations

import math
import sys

from .. import viz
from ..engine import Value
from ..explain import _num, _product
from ..paths import Edge, Graph, name, partial

__all__ = ["predict_steps", "desired_output", "SUM_ORDER"]

_TERMS_SHOWN = 3  # terms of a long sum written out; the rest are counted

#: how ``sum(map(mul, w, x), b)`` adds: left to right before Python 3.12, compensated after
SUM_ORDER = "neumaier" if sys.version_info >= (3, 12) else "plain"


def predict_steps(C: Value, graph: Graph, nodes: list[int], grads: list[float]) -> list[dict]:
    """One question per backward step: ∂C/∂v = ? for each node ``graph.order[k]``, k in ``nodes``.

    ``nodes`` are the steps of ``backward_steps()`` (topological positions, in its order),
    ``grads`` the pass's final gradients by position.  Each entry: ``q`` the
    question's symbol, ``value`` its answer, ``formula`` the chain rule in symbols,
    ``numbers`` the same with the numbers plugged in, ``locals`` each factor's formula and
    value (the second hint), ``factor`` one factor to ask on its own, and ``dead`` for a
    gradient that is 0 because a ReLU on the way is off.
    """
    pos, top = graph.position, name(C)
    out = []
    for k in nodes:
        v = graph.order[k]
        g = grads[pos[v]]
        q = partial(top, name(v))
        if v is C:
            out.append({"q": q, "value": 1.0, "formula": "1", "numbers": "1", "locals": [],
                        "factor": None, "dead": False,
                        "why": f"the backward pass starts with {q} = 1"})
            continue
        edges = [Edge(c, k) for c in dict.fromkeys(graph.children.get(v, ()))
                 for k, p in enumerate(c.parents) if p is v]
        terms = [(partial(top, name(e.child)), e.symbol, grads[pos[e.child]], e.local) for e in edges]
        shown, more = terms[:_TERMS_SHOWN], len(terms) - _TERMS_SHOWN
        tail = f" + … ({more} more terms)" if more > 0 else ""
        if len(edges) == 1 and edges[0].child is C:  # ∂C/∂O: the cost's own edge, 2(O − O_des)
            formula, numbers = edges[0].formula, _num(edges[0].local)
        else:
            formula = " + ".join(f"{a} · {b}" for a, b, _, _ in shown) + tail
            numbers = " + ".join(_product([x, y]) for _, _, x, y in shown) + tail
        first = edges[0]
        out.append({
            "q": q, "value": g, "formula": formula, "numbers": numbers,
            "locals": [f"{e.symbol} = {viz.edge_value(e)}" for e in edges[:_TERMS_SHOWN]]
            + [f"{a} = {_num(x)}" for a, _, x, _ in shown],
            "factor": {"q": first.symbol, "value": first.local, "text": viz.edge_value(first)},
            "dead": g == 0.0,  # in a ReLU net: an off ReLU on every path from v to C
            "why": "",
        })
    return out


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
