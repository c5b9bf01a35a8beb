"""The explorer: watch backprop happen, in one self-contained HTML page or inline in Jupyter.

``explore(C)`` records the forward pass (engine order) and the reverse pass (exactly the
steps of :meth:`Value.backward_steps`), lays the graph out with Graphviz, and writes names,
formulas, numbers and the chain-rule products (MathML, from :func:`~micrograd_ws.explain.explain`)
into the page as data.  The page's script only shows them: it never formats a number or
derives a formula.  Two views: the graph (``dot``'s layout, for graphs up to a few hundred
nodes) and the network (any MLP: neurons in layers, weights as lines).

>>> from micrograd_ws import squared_error, two_neuron
>>> net = two_neuron(seed=0); C = squared_error(net(2.0), 1.0); C.backward()
>>> page = explore(C)
>>> page.steps                       # 2 forward (O, C), 2 backward (C, O)
4
>>> page.html.startswith('<!DOCTYPE html>') and 'http' not in page.html.split('<body')[0]
True
"""
from __future__ import annotations

import base64
import gzip
import html
import json
import math
import re
import time
from importlib import resources
from pathlib import Path
from typing import Union

from .. import viz
from ..checks import NumberLabel
from ..engine import Value, squared_error
from ..explain import MAX_LISTED, build_explanation, find_label
from ..files import write_atomic
from ..handout import ALPHA
from ..mathtext import xml_text
from ..nn import MLP
from ..notation import exact, expression, name, num, partial, printable
from ..optim import SGD
from ..paths import Analysis, Edge, Graph, factors_to_root
from ..stepping import backward_steps
from ..train import History
from .learn import GRID, add_diagnoses, desired_output, predict_steps
from .replay import replay_data

__all__ = ["explore", "Explorer", "ExploreError", "fill_template", "gzip_base64", "script_safe", "MAX_GRAPH_NODES", "SGD_STEPS", "MAX_NODES", "MAX_EXPLAINED",
           "MAX_EXPLAINED_FACTORS"]

#: the graph view draws at most this many nodes (dot's layout and the browser stay quick)
MAX_GRAPH_NODES = 500
#: SGD steps the page holds (the engine's, each with both passes after it): (small graphs, larger)
SGD_STEPS = (10, 3)
#: graphs up to this many nodes (the two-neuron model) open in the graph view, spread to fill its pane, their
#: words 16 px and up at 1280×720; larger MLPs (h = 1 and up: dot's drawing, fitted to the pane, writes them in
#: 4 to 9 px) open in the network view, its neurons named and numbered at the page's size where there is room
GRAPH_FIRST = 12
#: a page holds graphs up to this many nodes (the 1 → 300 → 300 → 1 net has 92,704); beyond, explain one
#: parameter (``micrograd_ws.explain(C, 'w2[3][7]')``) or explore a smaller net
MAX_NODES = 120_000
#: the inspector writes out the chain rule of at most this many parameters ...
MAX_EXPLAINED = 12_000
#: ... whose chain rules have at most this many factors in all (the shortest first; the handout's h = 100
#: net needs about 230,000 to write out every one); the others
#: show their value and gradient, and ``explore(C, param)`` or ``explain(C, param)`` gives one's chain rule
MAX_EXPLAINED_FACTORS = 240_000
_EDGES_SHOWN = 8  # the inspector lists this many edges of a node, then says how many more


class ExploreError(ValueError):
    """The graph cannot be explored as asked; the message names the fix."""


# --- recording the two passes ------------------------------------------------------------

def _record(C: Value, graph: Graph) -> tuple[list[dict], list[float], bool]:
    """Run ``backward_steps()`` once, recording each step; leave every grad as it was.

    Returns the steps, each node's gradient in this pass (by topological position), and
    whether explore ran the first backward (then the grads it filled are kept, as
    ``C.backward()`` would leave them).
    """
    order, pos = graph.order, graph.position
    fresh = C.grad == 0.0 and not any(v.grad for v in order)
    before = [v.grad for v in order]
    grads = [0.0] * len(order)
    steps = []
    for step in backward_steps(C):
        k = pos[step.node]
        grads[k] = step.grad
        so_far = [c.so_far for c in step.contributions]
        for v, g in zip(step.node.parents, so_far):
            grads[pos[v]] = g
        text, said = step.describe(), _handout_text(step)
        steps.append({"node": k, "grad": step.grad, "gradText": num(step.grad), "text": text,
                      "soFar": so_far, "soFarText": [num(g) for g in so_far], **({"banner": said} if said else {})})
    if not fresh:  # explore looks, it does not touch: the grads as the user left them
        for v, g in zip(order, before):
            v.grad = g
    return steps, grads, fresh


def _handout_text(step) -> str | None:
    """The page's banner for the first step of the handout's cost, as the handout writes it:
    ``∂C/∂O = 2(O − O_des) = -1.25``.  None for every other step: the page shows ``step.describe()``,
    ``∂C/∂z2[0] += ∂C/∂H2[0] · ∂H2[0]/∂z2[0] = …``.  (The first step's describe(),
    ∂C/∂O += ∂C/∂C · ∂C/∂O = 1 · …, says nothing a learner needs, and ∂C/∂O is not a sum there.)"""
    C, cs = step.root, step.contributions
    if (step.node is not C or C.op != "(O-O_des)²" or step.grad != 1.0 or not cs
            or len({id(c.parent) for c in cs}) != len(cs)):
        return None
    rows = [(partial(name(C), name(c.parent)), c.edge.formula, num(c.added)) for c in cs]
    width = max(len(lhs) for lhs, _, _ in rows)
    return "\n".join(f"{lhs:<{width}} = " + (f"{formula} = {number}" if formula != number else number)
                     for lhs, formula, number in rows)


def _forward_text(v: Value) -> str:
    """``z1[3] = w1[3]·i + b1[3] = 0.52``: the node, what computed it, its value."""
    ps = v.parents
    if v.op == "w·x+b":
        n = (len(ps) - 1) // 2
        terms = [f"{name(ps[k])}·{name(ps[n + k])}" for k in range(n)]
        shown = terms if n <= 3 else [terms[0], terms[1], "…", terms[-1]]
        expr = " + ".join([*shown, name(ps[-1])])
    elif v.op == "(O-O_des)²":
        expr = f"({name(ps[0])} − {name(ps[1]) if len(ps) == 2 else 'O_des'})²"
    elif v.op == "relu":
        expr = f"max(0, {name(ps[0])})"
    else:
        expr = expression(v)
    return f"{name(v)} = {expr} = {num(v.data)}" if v.label else f"{expr} = {num(v.data)}"


# --- the network view: an MLP's layers, found in the graph -------------------------------

def _network(graph: Graph) -> dict | None:
    """Columns of neurons (i, H1, H2, O, C) and the weights between them, or None if not an MLP.

    A layer is the weighted sums (``w·x+b`` nodes) that read the same inputs; each
    layer's inputs must be the previous layer's outputs (its ReLUs, or the sums).
    """
    pos = graph.position
    layers: dict[tuple, list[Value]] = {}
    for v in graph.order:
        if v.op == "w·x+b":
            n = (len(v.parents) - 1) // 2
            layers.setdefault(tuple(map(id, v.parents[n:2 * n])), []).append(v)
    if not layers:
        return None
    groups = sorted(layers.values(), key=lambda zs: pos[zs[0]])
    n_in = (len(groups[0][0].parents) - 1) // 2
    inputs = list(groups[0][0].parents[n_in:2 * n_in])
    columns = [{"title": _prefix(inputs[0]) or "input", "neurons": [{"node": pos[x], "z": -1} for x in inputs]}]
    links = []
    previous = inputs
    for zs in groups:
        n = (len(zs[0].parents) - 1) // 2
        if list(zs[0].parents[n:2 * n]) != previous:
            return None  # not a chain of layers
        outs = []
        for z in zs:
            relus = [c for c in graph.children.get(z, ()) if c.op == "relu"]
            outs.append(relus[0] if len(relus) == 1 else z)
        columns.append({"title": _prefix(outs[0]) or f"layer {len(columns)}",
                        "neurons": [{"node": pos[h], "z": pos[z], "bias": pos[z.parents[-1]]}
                                    for h, z in zip(outs, zs)]})
        links.append({"nin": n, "w": [pos[z.parents[k]] for z in zs for k in range(n)]})
        previous = outs
    root = graph.root
    if root not in previous:
        columns.append({"title": _prefix(root) or name(root), "neurons": [{"node": pos[root], "z": -1}]})
    return {"columns": columns, "links": links}


def _prefix(v: Value) -> str:
    """``H1[3]`` → ``H1``: a column's title from its neurons' handout names."""
    return re.sub(r"\[.*", "", v.label)


def _network_svg(network: dict, order: list[Value], dead: set, width: int = 900, height: int = 460) -> str:
    """A still picture of the network view, for where the page's script cannot run.

    Layers of more than 2,000 weights are summarised in words (the page draws them all).
    """
    cols = network["columns"]
    top, bottom = 30, 12
    pos = []
    for ci, c in enumerate(cols):
        x = 40 + ci * (width - 80) / max(1, len(cols) - 1)
        n = len(c["neurons"])
        gap = min((height - top - bottom) / n, 40)
        y0 = top + (height - top - bottom - gap * (n - 1)) / 2
        pos.append([(x, y0 + j * gap if n > 1 else (top + height - bottom) / 2) for j in range(n)])
    r = max(2.0, min(9.0, (height - top - bottom) / max(len(c["neurons"]) for c in cols) / 2.6))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif">']
    for li, link in enumerate(network["links"]):
        nin, ws = link["nin"], link["w"]
        if len(ws) > 2000:
            (x0, _), (x1, _) = pos[li][0], pos[li + 1][0]
            out.append(f'<text x="{(x0 + x1) / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle" font-size="13">'
                       f'{len(ws):,} weights</text>')
            continue
        biggest = max(abs(order[w].data) for w in ws) or 1.0
        for idx, w in enumerate(ws):
            j, i = divmod(idx, nin)
            (xa, ya), (xb, yb) = pos[li][i], pos[li + 1][j]
            off = cols[li]["neurons"][i]["node"] in dead or cols[li + 1]["neurons"][j]["node"] in dead
            # as the page draws it: a weight into or out of an off ReLU thin and grey, whatever its w
            colour = "#9a9a9a" if off else "#0072B2" if order[w].data >= 0 else "#E69F00"
            width = 0.75 if off else 0.4 + 3 * abs(order[w].data) / biggest
            out.append(f'<line x1="{xa:.1f}" y1="{ya:.1f}" x2="{xb:.1f}" y2="{yb:.1f}" stroke="{colour}" '
                       f'stroke-width="{width:.2f}"/>')
    for ci, c in enumerate(cols):
        out.append(f'<text x="{pos[ci][0][0]:.0f}" y="18" text-anchor="middle" font-size="15">{xml_text(c["title"])}</text>')
        for (x, y), nr in zip(pos[ci], c["neurons"]):
            v = order[nr["node"]]
            style = 'fill="#ddd" stroke="#8c8c8c" stroke-dasharray="3 2"' if nr["node"] in dead else \
                'fill="#56B4E9" stroke="#1a1a1a"'
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" {style}><title>{xml_text(name(v))}: data '
                       f'{num(v.data)}, grad {num(v.grad)}</title></circle>')
    out.append("</svg>")
    return "".join(out)


# --- the graph view: dot's layout as SVG -------------------------------------------------

def _graph_view(C: Value, graph: Graph, w: Value | None) -> dict:
    """The SVG of the whole graph, or, when it is too large, of the paths from ``w`` to C; or why not."""
    pos = graph.position
    n = len(graph.order)
    if w is None and n > MAX_GRAPH_NODES:
        return {"message": (f"The graph of {name(C)} has {n:,} nodes, too many for the graph view (at most "
                            f"{MAX_GRAPH_NODES}). Use the network view, or draw the paths of one parameter "
                            "(explore(C, param='w2[3][7]'), or --param NAME on the command line), "
                            "or build a smaller net (e.g. --hidden 4).")}
    whole = n <= MAX_GRAPH_NODES
    try:
        if whole:
            g = viz.draw_graph(C, max_nodes=MAX_GRAPH_NODES)
        else:
            g = viz.draw_grad(C, w, max_nodes=MAX_GRAPH_NODES)
        _for_a_wall(g, small=n <= GRAPH_FIRST)
        svg = g.pipe(format="svg", encoding="utf-8")
    except ImportError as e:
        return {"message": f"The graph view needs Graphviz. {e}"}
    except viz.DotNotFoundError:
        return {"message": "The graph view needs Graphviz's dot program to lay the graph out. " + viz.INSTALL_DOT
                + " The network view works without it."}
    except ValueError as e:  # too large even as one parameter's paths
        return {"message": f"{e} The network view shows the whole net."}
    ids = {dot_id: pos[v] for v, dot_id in g.ids.items()}

    def mark(m: re.Match) -> str:
        k = ids.get(m.group(1))
        if k is None:
            return m.group(0)
        return f'{m.group(0)} data-k="{k}" data-name="{xml_text(name(graph.order[k]))}"'

    svg = svg[svg.index("<svg"):]
    svg = re.sub(r'<g id="(n\d+)" class="node[^"]*"', mark, svg)
    edges = [f"{ids[m.group(2)]}.{m.group(3)}" for m in re.finditer(r'<g id="(n\d+)&#45;(n\d+)\.(\d+)" class="edge"', svg)
             if m.group(2) in ids]
    return {"svg": svg, "ids": {str(k): dot_id for dot_id, k in ids.items()}, "edges": edges,
            "scope": "all" if whole else f"the paths from {name(w)} to {name(C)}"}


def _for_a_wall(g, small: bool = False) -> None:
    """The page's copy of the drawing: type of 16 points and up (readable on a projector once the
    drawing fills its pane), no caption (the page's banner says it; it held C's value before C is computed).
    A small graph (the two-neuron model) is spread to about its pane's shape, so that it fills the pane."""
    if small:
        g.attr(ratio="0.55", nodesep="0.6")  # (height / width of a pane beside the inspector)
    g.node_attr.update(fontsize="18")
    g.edge_attr.update(fontsize="16")
    g.body[:] = [line.replace('POINT-SIZE="9"', 'POINT-SIZE="16"').replace('POINT-SIZE="10"', 'POINT-SIZE="16"')
                 for line in g.body]
    g.attr(label="")


# --- the inspector: what a click on a node shows ------------------------------------------

def _inspector(C: Value, v: Value, graph: Graph, grad: float, drawn: set | None = None) -> tuple[str, str, dict | None]:
    """The inspector's HTML and text for ``v``, and for a leaf the nodes on its paths to C.

    With ``drawn`` (a graph too large for the graph view): also what the graph view draws of the
    leaf's paths when it is selected (:func:`_drawing`), its edges added to ``drawn``."""
    e = xml_text
    head = [f"data {num(v.data)}", f"grad {exact(grad)}", f"op {v.op}" if v.op else "a leaf"]
    rows_html = [f'<h2 class="name">{e(name(v))}</h2>', f'<p class="meta">{" · ".join(map(e, head))}</p>']
    rows_text = [name(v), " · ".join(head)]
    # only the edges shown are written (a mean of 10,000 Values: 8 lines, not 10,000)
    if v.parents:
        n = len(v.parents)
        lines = [f"{partial(name(v), name(p))} = {viz.edge_value(Edge(v, k))}"
                 for k, p in enumerate(v.parents[:_EDGES_SHOWN])]
        title = "local derivatives of its edges"
    else:
        uses = graph.uses.get(v, ())
        n = len(uses)
        lines = [f"{partial(name(c), name(v))} = {viz.edge_value(Edge(c, k))}" for c, k in uses[:_EDGES_SHOWN]]
        title = "local derivative of its edge" + ("s" * (n != 1)) + " to its children"
    shown = lines + ([f"… and {n - _EDGES_SHOWN} more"] if n > _EDGES_SHOWN else [])
    if shown:
        rows_html.append(f'<p class="edges-title">{e(title)}</p><ul class="edges">'
                         + "".join(f"<li>{e(s)}</li>" for s in shown) + "</ul>")
        rows_text += [title + ":", *shown]
    paths = None
    if not v.parents:
        a = Analysis(C, v, graph)
        x = build_explanation(C, v, all_paths=False, max_paths=10, analysis=a)
        status = x.status()
        rows_html.append(f'<div class="math">{x.mathml()}</div>'
                         f'<p class="total">total <span class="num">{e(exact(x.total))}</span> · '
                         f'{e(name(v))}.grad <span class="num">{e(exact(v.grad))}</span></p>'
                         f'<p class="status">{e(status)}</p>')
        rows_text.append(x.format(total_digits=12))
        pos = graph.position
        paths = {"nodes": [pos[u] for u in a.nodes], "live": [pos[u] for u in a.nodes if u in a.live],
                 "n": a.n_paths, "nLive": a.n_live}
        if drawn is not None and a.nodes:
            spec, edges = _drawing(a, x, pos)
            drawn.update(edges)
            if spec:
                paths["draw"] = spec
    return "".join(rows_html), "\n".join(rows_text), paths


def _drawing(a: Analysis, x, pos: dict) -> tuple[dict, list[Edge]]:
    """What the graph view of a large graph draws when a parameter is selected: its paths to C as
    :func:`~micrograd_ws.viz.draw_grad` draws them (the page lays them out, as dot lays out the first).

    Paths with a zero factor fold into one grey node, unless every path is zero (then they show, their
    zero edges dashed); of more than ``MAX_LISTED`` nonzero paths the first are drawn, the rest one node.
    Returns the parts that differ from "every node and edge of ``a``" (``nodes``, ``edges`` as
    ``"child.k"``, ``fold`` and ``more`` with their rows and links), and the edges drawn.  (Which edges
    are zero is the page's ``edgeLabels``: the same for every parameter.)
    """
    fold = a.n_live > 0  # as draw_grad: when every path is zero, show why
    nodes = [v for v in a.nodes if v in a.live] if fold else list(a.nodes)
    nonzero = [t for t in x.paths if t.product != 0.0]
    listed = None
    if fold and len(nonzero) > MAX_LISTED:
        listed = {e for t in nonzero[:MAX_LISTED] for e in t.edges}
        ends = {e.parent for e in listed} | {e.child for e in listed}
        nodes = [v for v in nodes if v in ends]
    edges, folded, more = [], [], []
    for e in a.edges:
        if e in a.live:
            (more if listed is not None and e not in listed else edges).append(e)
        elif not fold:
            edges.append(e)
        else:
            folded.append(e)
    key = lambda e: f"{pos[e.child]}.{e.index}"  # noqa: E731
    spec: dict = {}
    if len(nodes) != len(a.nodes):
        spec["nodes"] = [pos[v] for v in nodes]
    if len(edges) != len(a.edges):
        spec["edges"] = [key(e) for e in edges]
    kept = set(nodes)

    def links(es: list[Edge]) -> dict:  # where the folded edges leave and rejoin drawn nodes (draw_grad's _draw_fold)
        return {"in": list(dict.fromkeys(pos[e.parent] for e in es if e.parent in kept)),
                "out": list(dict.fromkeys(pos[e.child] for e in es if e.child in kept))}

    if folded:
        n_zero = x.n_paths - a.n_live
        symbols = list(dict.fromkeys(e.symbol for e in folded if e.local == 0.0))
        rows = [f"{n_zero} path{'s' * (n_zero > 1)} contribute{'s' * (n_zero == 1)} 0",
                "each has a zero factor, e.g." if n_zero > 1 else "it has a zero factor:"]
        rows += [f"{s} = 0" for s in symbols[:3]] + ([f"and {len(symbols) - 3} more"] if len(symbols) > 3 else [])
        spec["fold"] = {"rows": rows, **links(folded)}
    if more:
        n_more, rest = len(nonzero) - MAX_LISTED, math.fsum(t.product for t in nonzero[MAX_LISTED:])
        spec["more"] = {"rows": [f"{n_more} more path{'s' * (n_more > 1)}, together {num(rest)}",
                                 f"not drawn: the first {MAX_LISTED} nonzero paths are"], **links(more)}
    return spec, edges


# --- the page --------------------------------------------------------------------------------

def _static(filename: str) -> str:
    return resources.files(__package__).joinpath(filename).read_text(encoding="utf-8")


#: read by the page after it is interactive: the inspector's texts, each leaf's paths (the bulk),
#: the SGD steps, and what only scripts building on the page use (each node's op)
_LATER = ("inspect", "paths", "ops", "predict", "replay", "sgd", "edgeLabels")


def gzip_base64(raw: bytes, level: int = 6) -> str:
    """base64 of the gzip of ``raw``: a file inlined in a page, unpacked by the browser's DecompressionStream."""
    return base64.b64encode(gzip.compress(raw, level, mtime=0)).decode("ascii")


def _packed(data: dict) -> str:
    """JSON, gzipped, as base64."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return gzip_base64(text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode("utf-8"))  # (a lone surrogate: U+FFFD)


def script_safe(text: str) -> str:
    """Text that cannot end the <script> element it sits in."""
    return text.replace("</", "<\\/")


def fill_template(template: str, values: dict) -> str:
    """``{{name}}`` filled from ``values`` in one pass: what is filled in is never read again (a title
    "{{script}}" stays text), and a name without a value stays as it is."""
    return re.sub(r"\{\{(\w+)\}\}", lambda m: values.get(m[1], m[0]), template)


class Explorer:
    """The explorer page of one cost: ``.save(path)``, ``.html``; Jupyter shows it inline.

    ``steps`` counts the forward steps (one per computed node, engine order) and the
    backward steps (one per :meth:`~micrograd_ws.engine.Value.backward_steps` step).
    Where scripts cannot run (an untrusted notebook, GitHub), a static picture and
    ``text`` show instead.
    """

    def __init__(self, data: dict, text: str, svg: str | None) -> None:
        self.data, self.text, self._svg = data, text, svg
        self.steps = len(data["forward"]) + len(data["backward"])
        self.names = data["names"]
        self._html: str | None = None
        self.stamp = ""  #: when a replay's run was recorded, shown in the page's header

    @property
    def html(self) -> str:
        """The whole page: one HTML file with its data, styles and script inlined."""
        if self._html is None:
            core = {k: v for k, v in self.data.items() if k not in _LATER}
            later = {k: self.data[k] for k in _LATER if k in self.data}
            fill = {"title": html.escape(printable(self.data["title"], 10_000)), "stamp": html.escape(self.stamp),
                    "style": _static("explorer.css"), "data": _packed(core), "inspect": _packed(later),
                    "script": script_safe(_static("explorer.js"))}
            self._html = fill_template(_static("page.html"), fill)
        return self._html

    def save(self, path: Union[str, Path]) -> Path:
        """Write the page (atomically: never a half-written file); returns its path."""
        p = Path(path)
        write_atomic(p, self.html, example="explorer.html")
        return p

    def _repr_html_(self) -> str:
        """The page in an iframe; the static picture and text stay when scripts cannot run."""
        page = html.escape(self.html, quote=True)
        static = self._static_html()
        # the onload handler (stripped with scripts in untrusted output) hides the static copy
        return (f'<div class="mgws-explorer">{static}'
                f'<iframe srcdoc="{page}" style="width:100%;height:760px;border:1px solid #ccc" '
                f'onload="this.previousElementSibling.style.display=\'none\'" '
                f'title="micrograd_ws explorer"></iframe></div>')

    def _static_html(self) -> str:
        picture = f'<div style="overflow:auto;max-height:480px">{self._svg}</div>' if self._svg else ""
        return f'<div class="mgws-static">{picture}<pre>{html.escape(self.text)}</pre></div>'

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        bundle = {"text/html": self._repr_html_(), "text/plain": self.text}
        if self._svg:
            bundle["image/svg+xml"] = self._svg
        return bundle

    def __repr__(self) -> str:
        return self.text


def explore(C: Value, param: Union[Value, str, None] = None, *, title: str = "", leave_grads: bool = False) -> Explorer:
    """The explorer page of ``C``: watch the forward and backward pass, step by step.

    ``param`` (a Value or its label, e.g. ``'w2[3][7]'``) is selected in the inspector
    and, for graphs too large for the graph view, drawn there as the paths from it to C.
    If ``C.backward()`` has not been called, explore runs it (and the page says so);
    otherwise every ``grad`` is left as it was.  ``leave_grads=True``: every ``grad`` is left as
    it was in any case (the page still shows the gradients): for a learner who means to work
    out ∂C/∂w by hand, then check ``.grad`` (the lab).
    """
    if isinstance(C, History):
        return _replay(C, param, title)
    if not isinstance(C, Value):
        hint = " (call the net first: O = net(x); C = squared_error(O, y))" if hasattr(C, "parameters") else ""
        raise TypeError(f"explore(C): C must be a Value, the cost to explore; got {type(C).__name__}{hint}")
    if not C.parents:
        raise ExploreError(f"explore(C): {name(C)} = {num(C.data)} is a leaf, with no graph to explore; pass the "
                           "cost computed from it, e.g. C = squared_error(net(x), y)")
    if isinstance(param, str):
        param = find_label(C, param, "explore")
    elif param is not None and not isinstance(param, Value):
        raise TypeError(f"explore(C, param): param must be a Value or its label, got {type(param).__name__}")
    graph = Graph(C)
    before = [v.grad for v in graph.order] if leave_grads else None  # (put back at the end)
    if len(graph.order) > MAX_NODES:
        raise ExploreError(f"explore(C): the graph of {name(C)} has {len(graph.order):,} nodes, more than a page holds "
                           f"(MAX_NODES = {MAX_NODES:,}); explain one parameter's gradient instead "
                           "(micrograd_ws.explain(C, 'w2[3][7]')), or explore a smaller net (e.g. --hidden 100)")
    if param is not None and param not in graph.position:
        raise ExploreError(f"explore(C, param): {name(param)} is not in the graph of {name(C)}")
    order, pos = graph.order, graph.position
    network = _network(graph)
    if network is not None:  # what the page's own forward pass (nudge) needs besides the weights
        network.update(desired=desired_output(C))
    inputs = [order[n["node"]] for n in network["columns"][0]["neurons"]] if network else []  # data, not parameters
    small = len(order) <= MAX_GRAPH_NODES
    drawable: set[Edge] | None = None if small else set()  # a large graph's view draws the selected parameter's paths
    state, grads, fresh = _state(C, graph, inputs, small, drawable=drawable)
    asked = param is not None
    if param is None:  # the parameter that moves C most: the page opens on a gradient that is not 0
        param = _steepest(graph, grads, inputs)
    if param is not None and not param.parents and pos[param] not in state["paths"]:  # past the cap: this one too
        page_html, text, p = _inspector(C, param, graph, grads[pos[param]], drawable)
        state["inspect"][pos[param]] = {"html": page_html, "text": text}
        state["paths"][pos[param]] = p
    # the mistakes predict mode recognises; of a large page's picks, the default question's and the selected one's
    add_diagnoses(C, state["predict"], graph, None if small else [pos[param]] if param is not None else [])
    forward = [k for k, v in enumerate(order) if v.parents]
    view = _graph_view(C, graph, param)
    drawn = [tuple(map(int, e.split("."))) for e in view.get("edges", ())]
    if drawable and view.get("svg"):  # the other parameters' drawings: their edges' labels, and numbers at each step
        state["edgeLabels"], texts = _edge_labels(graph, drawable)
        drawn = list(dict.fromkeys(drawn + texts))
    state["edgeText"] = _edge_texts(graph, drawn)
    head = title or f"{name(C)}: {len(order):,} nodes, {len(forward)} forward and {len(state['backward'])} backward steps"
    note = "" if not fresh else f"{name(C)}.backward() had not been called: " + (
        f"the explorer computed the gradients it shows; your .grad values are as you left them ({name(C)}.backward() "
        "fills them)." if leave_grads else "explore ran it.")
    if state["unexplained"]:
        note = (note + " " if note else "") + _cap_note(C, state["unexplained"], len(state["paths"]))
    first = "graph" if view.get("svg") and (network is None or len(order) <= GRAPH_FIRST) else \
        "network" if network is not None else "graph"
    data = {
        "title": head, "note": note, "root": pos[C],
        "names": [name(v) for v in order], "ops": [v.op for v in order],
        "parents": [[pos[p] for p in v.parents] for v in order],
        "forward": forward, **state,
        "graph": view, "network": network, "view": first,
        "select": pos[param] if param is not None else None, "asked": asked,
        "grid": GRID,
        "stops": _stops(C, graph, forward, [st["node"] for st in state["backward"]], state["completeAt"], grads, network),
        "sgd": _descent(C, graph, network, inputs, small, forward, drawn, state["paths"]),
    }
    still = view.get("svg") or (_network_svg(network, order, set(data["dead"])) if network else None)
    page = Explorer(data, _summary(C, order, state["backward"], grads, param, graph, note), still)
    if fresh and before is not None:  # (the SGD steps above compared the rebuilt net's grads with these)
        for v, g in zip(order, before):
            v.grad = g
    return page


def _state(C: Value, graph: Graph, inputs: list, small: bool, explained: bool = True,
           asked: bool = True, drawable: set | None = None) -> tuple[dict, list[float], bool]:
    """What the page shows of one set of weights: every value and gradient, both passes, the inspector.

    Of a large graph the inspector explains the parameters only (``explained``) or no node;
    ``asked``: with predict mode's questions; ``drawable``: each explained parameter's paths as the
    graph view draws them when it is selected (:func:`_drawing`), their edges collected in it.
    """
    order = graph.order
    steps, grads, fresh = _record(C, graph)
    inspect, paths = {}, {}
    chosen, unexplained = _explained(graph), 0
    for k, v in enumerate(order):
        if not small and (v.parents or not explained):  # the h = 100 page: its parameters' chain rules
            inspect[k] = _inspector_short(v, grads[k])
            continue
        if not v.parents and k not in chosen:  # past the page's cap: said in the note
            inspect[k] = _inspector_short(v, grads[k], C)
            unexplained += 1
            continue
        page_html, text, p = _inspector(C, v, graph, grads[k], drawable)
        inspect[k] = {"html": page_html, "text": text}
        if p is not None:
            paths[k] = p
    step_of = {order[st["node"]]: s for s, st in enumerate(steps)}
    complete = [max((step_of[c] for c in graph.children.get(v, ())), default=-1) for v in order]
    return {
        "C": C.data, "CText": num(C.data),
        "data": [v.data for v in order], "dataText": [num(v.data) for v in order],
        "grads": grads, "gradText": [num(g) for g in grads], "completeAt": complete,
        "dead": [k for k, v in enumerate(order) if v.op == "relu" and v.local_grads[0] == 0.0],
        "forwardText": [_forward_text(v) for v in order if v.parents],
        "backward": steps, "inspect": inspect, "paths": paths, "unexplained": unexplained,
        **({"predict": predict_steps(C, graph, [st["node"] for st in steps], grads, inputs)} if asked else {}),
    }, grads, fresh


def _explained(graph: Graph) -> set[int]:
    """The leaves whose chain rule the inspector writes out: the shortest first (each costs time and bytes
    in proportion to its factors, :func:`~micrograd_ws.paths.factors_to_root`), within the page's caps."""
    cost, budget, chosen = factors_to_root(graph), MAX_EXPLAINED_FACTORS, set()
    for c, k in sorted((cost[v], k) for k, v in enumerate(graph.order) if not v.parents):
        if c > budget or len(chosen) >= MAX_EXPLAINED:
            break
        budget -= c
        chosen.add(k)
    return chosen


def _inspector_short(v: Value, grad: float, C: Value | None = None) -> dict:
    """A node of a large graph in the inspector: its value and gradient (its chain rule: explain(C, name)).

    With ``C``, a parameter past the page's cap: where to find its chain rule."""
    head = f"data {num(v.data)} · grad {exact(grad)} · op {v.op}"
    more = "" if C is None else (f"Its chain rule is not on this page (past the cap of {MAX_EXPLAINED:,} chain rules "
                                 f"or {MAX_EXPLAINED_FACTORS:,} factors): explore({name(C)}, param='{name(v)}') "
                                 f"opens on it, or explain({name(C)}, '{name(v)}') writes it out.")
    return {"html": f'<h2 class="name">{xml_text(name(v))}</h2><p class="meta">{xml_text(head)}</p>'
                    + (f'<p class="status">{xml_text(more)}</p>' if more else ""),
            "text": f"{name(v)}\n{head}" + (f"\n{more}" if more else "")}


def _cap_note(C: Value, unexplained: int, explained: int) -> str:
    """The page's note when the inspector's chain rules are capped: how many, and the way around it."""
    return (f"The inspector writes out the chain rule of {explained:,} parameters; the other {unexplained:,} show "
            f"their value and gradient (a page holds at most {MAX_EXPLAINED:,} chain rules or "
            f"{MAX_EXPLAINED_FACTORS:,} factors in all): explore({name(C)}, param=NAME) opens on one of them, "
            f"explain({name(C)}, NAME) writes its chain rule out.")


def _parameters(graph: Graph, inputs: list) -> list[Value]:
    data = set(inputs)
    return [v for v in graph.order if not v.parents and v not in data and type(v.label) is not NumberLabel]


def _steepest(graph: Graph, grads: list[float], inputs: list) -> Value | None:
    """The parameter whose gradient is largest in size (None if every gradient is 0)."""
    pos = graph.position
    best = max(_parameters(graph, inputs), key=lambda v: abs(grads[pos[v]]), default=None)
    return best if best is not None and grads[pos[best]] != 0.0 else None


# --- the handout's ③: SGD steps, each followed by both passes, all by the engine ------------

def _edge_labels(graph: Graph, edges: set) -> tuple[dict, list[tuple[int, int]]]:
    """The labels of the edges the graph view draws for a selected parameter, by ``"child.k"``.

    Each: the symbol, the formula before its number (``= H1[7] = ``, or ``= `` when the formula is the
    number), whether the edge is 0 (dashed when every path is), and the position of the node whose data
    the number is (a weighted sum's ∂z/∂w = x, in every SGD step) or -1: then ``edgeText`` has the number,
    and the edge is in the list returned.
    """
    pos, out, texts = graph.position, {}, []
    for e in sorted(edges, key=lambda e: (pos[e.child], e.index)):
        formula, c, k = e.formula, e.child, e.index
        n = (len(c.parents) - 1) // 2
        q = (c.parents[n + k] if k < n else c.parents[k - n]) if c.op == "w·x+b" and k < 2 * n else None
        ref = pos[q] if q is not None and name(q) == formula and q.data == e.local else -1
        if ref < 0:
            texts.append((pos[c], k))
        out[f"{pos[c]}.{k}"] = [e.symbol, f"= {formula} = " if formula != num(e.local) else "= ",
                                int(e.local == 0.0), ref]
    return out, texts


def _edge_texts(graph: Graph, drawn: list[tuple[int, int]]) -> dict:
    """The graph view's edge labels' numbers, ``= i = 2``, by ``"child.k"`` (they change with the weights)."""
    return {f"{c}.{k}": f"= {viz.edge_value(Edge(graph.order[c], k))}" for c, k in drawn}


def _descent(C: Value, graph: Graph, network: dict | None, inputs: list, small: bool, forward: list[int],
             drawn: list[tuple[int, int]], paths: dict) -> dict:
    """``SGD(lr=α)`` steps of the engine from the page's weights, each with both passes after it.

    Only for the handout's nets (an MLP and C = (O − O_des)²): the net is rebuilt from the
    graph's weights (an ``MLP`` of the same sizes whose names and numbers must match the graph's
    exactly), then each step is ``opt.step()``, ``zero_grad()``, a new forward and backward pass.
    Returns ``{"lr", "lrText", "states"}`` (each state as :func:`_state` gives it), or ``{"why"}``.
    A large net's states hold, of the paths, what changed since the page's weights (:func:`_live_changes`).
    """
    if network is None or network.get("desired") is None:
        return {"why": "The SGD step needs the handout's net: an MLP and its cost C = (O − O_des)²."}
    order = graph.order
    cols = network["columns"]
    sizes = [len(c["neurons"]) for c in cols[:len(network["links"]) + 1]]
    model = MLP(sizes[0], sizes[1:])
    found = {name(v): v for v in order}
    params = model.named_parameters()
    if any(n not in found for n, _ in params):
        return {"why": "The SGD step needs the net's parameters named as MLP names them (w1[0], b1[0], …)."}
    for n, p in params:
        p.data = found[n].data
    x, y = [v.data for v in inputs], network["desired"]
    names = [name(v) for v in order]
    opt = SGD(model.parameters(), lr=ALPHA)
    cost = squared_error(model(x if len(x) > 1 else x[0]), y)
    cost.backward()
    if cost.data != C.data or any(p.grad != found[n].grad for n, p in params):
        return {"why": "The SGD step needs the page's net to be the one it rebuilds: its numbers differ."}
    states, seen = [], {}
    for _ in range(SGD_STEPS[0] if small else SGD_STEPS[1]):
        opt.step()
        model.zero_grad()
        cost = squared_error(model(x if len(x) > 1 else x[0]), y)
        g = Graph(cost)
        if [name(v) for v in g.order] != names:
            break
        state, grads, _ = _state(cost, g, [g.order[graph.position[v]] for v in inputs], small, explained=small,
                                 asked=small)
        state["stops"] = _stops(cost, g, forward, [st["node"] for st in state["backward"]], state["completeAt"], grads,
                                network)
        state["edgeText"] = _edge_texts(g, drawn)
        if not small:  # the h = 100 page: predict mode and the chain rules stay with the weights it opened on
            del state["paths"], state["inspect"]  # the page shows each node's data and grad
            state["pathsLive"] = _live_changes(graph, g, cost, paths, seen)  # paths mode: the live paths at these weights
        else:
            add_diagnoses(cost, state["predict"], g)
        states.append(state)
    return {"lr": ALPHA, "lrText": f"{ALPHA:g}", "states": states}


def _live_changes(graph: Graph, g: Graph, cost: Value, paths: dict, seen: dict) -> dict:
    """Paths mode after an SGD step on a large net: ``{k: [live nodes, live paths]}`` of each parameter whose
    live paths differ from those at the page's weights (``paths``, from :func:`_state`), by position.

    A path is live when none of its local derivatives is 0; a step changes that only across an edge whose
    local derivative became 0 or stopped being 0 (a ReLU turned off or on).  The parameters whose paths
    cross one are those upstream of it: only their paths are found again (a few hundred of the h = 100
    net's 10,401), by the same :class:`~micrograd_ws.paths.Analysis` that found the first ones; and only
    once for the steps that changed the same edges (``seen``, by the edges: liveness is theirs alone).
    """
    changed = tuple((k, j) for k, (c, c0) in enumerate(zip(g.order, graph.order))
                    for j, (a, b) in enumerate(zip(c.local_grads, c0.local_grads)) if (a == 0.0) != (b == 0.0))
    if changed in seen:
        return seen[changed]
    upstream, stack = set(), [g.order[k].parents[j] for k, j in changed]
    while stack:  # each node the changed edges' parents depend on, and those parents
        v = stack.pop()
        if v not in upstream:
            upstream.add(v)
            stack.extend(v.parents)
    pos, out = g.position, {}
    for v in sorted(upstream, key=pos.__getitem__):
        k = pos[v]
        if v.parents or k not in paths:
            continue
        a = Analysis(cost, v, g)
        live = [pos[u] for u in a.nodes if u in a.live]
        if live != paths[k]["live"] or a.n_live != paths[k]["nLive"]:
            out[k] = [live, a.n_live]
    seen[changed] = out
    return out


# --- layer by layer: the handout's columns z1, H1, z2, H2, O, C and their gradients ----------

def _kind(v: Value) -> str:
    """``w2[3][7]`` → ``w2``: the vector or matrix of the handout a node belongs to."""
    return re.sub(r"\[.*", "", v.label) if isinstance(v.label, str) and v.label else name(v)


def _shape(vs: list[Value], h: int) -> str:
    """The handout's shape of a column or matrix, with h for the hidden width: [h×1], [h×h], [1×1]."""
    rows, cols = set(), set()
    for v in vs:
        idx = re.findall(r"\[(\d+)\]", v.label if isinstance(v.label, str) else "")
        rows.add(idx[0] if idx else 0)
        cols.add(idx[1] if len(idx) > 1 else 0)
    size = lambda n: "h" if h > 1 and n == h else str(n)  # noqa: E731
    return f"[{size(len(rows))}×{size(len(cols))}]"


def _numbers(xs: list[float], shown: int = 5) -> str:
    """``0.4, −0.3, 0, … (100 numbers, 37 of them 0)``."""
    head = ", ".join(num(x) for x in xs[:shown])
    if len(xs) <= shown:
        return head
    zeros = sum(x == 0.0 for x in xs)
    return f"{head}, … ({len(xs):,} numbers" + (f", {zeros:,} of them 0)" if zeros else ")")


def _stops(C: Value, graph: Graph, forward: list[int], steps: list[int], complete: list[int], grads: list[float],
           network: dict | None) -> list[dict]:
    """Where layer-by-layer stepping stops: each forward column (z1, H1, …, C) computed, then each
    column of gradients complete (∂C/∂O, then ∂C/∂H2 with ∂C/∂w3 and ∂C/∂b3, …).

    Each stop: ``phase``, ``nodes`` (what it adds: values computed, or gradients complete),
    ``k`` (the node-by-node step it sits at) and ``text`` (the banner, with its numbers).
    """
    order = graph.order
    h = max((len(c["neurons"]) for c in network["columns"][1:-1]), default=1) if network else 1
    hnote = f"  (h = {h})" if h > 1 else ""
    groups: dict[str, list[int]] = {}
    for s, k in enumerate(forward):
        groups.setdefault(_kind(order[k]), []).append(s)
    stops = []
    for kind, ss in groups.items():
        vs = [order[forward[s]] for s in ss]
        v = vs[0]
        if v.op == "w·x+b":
            n = (len(v.parents) - 1) // 2
            formula = f"{kind} = {_kind(v.parents[0])}·{_kind(v.parents[n])} + {_kind(v.parents[-1])}"
        elif v.op == "relu":
            formula = f"{kind} = max(0, {_kind(v.parents[0])})"
        elif v.op == "(O-O_des)²":
            formula = f"{kind} = ({_kind(v.parents[0])} − O_des)²"
        else:
            formula = _forward_text(v).rsplit(" = ", 1)[0] if len(vs) == 1 else kind
        stops.append({"phase": "forward", "nodes": [forward[s] for s in ss], "k": max(ss) + 1,
                      "text": f"Forward, {kind} {_shape(vs, h)}{hnote if len(vs) > 1 else ''}:  {formula}\n{kind} = "
                              + _numbers([u.data for u in vs])})
    return stops + _backward_stops(C, graph, steps, complete, grads, h, hnote, len(forward))


def _backward_stops(C: Value, graph: Graph, steps: list[int], complete: list[int], grads: list[float], h: int,
                    hnote: str, F: int) -> list[dict]:
    """The backward stops: the steps grouped by their node's column, each group's gradients completed."""
    order = graph.order
    groups: dict[str, list[int]] = {}
    for s, k in enumerate(steps):
        groups.setdefault(_kind(order[k]), []).append(s)
    completed: dict[int, list[int]] = {}  # step -> the nodes whose gradient it completes
    for k, s in enumerate(complete):
        completed.setdefault(s, []).append(k)
    stops, reached = [], -1
    for kind, ss in groups.items():
        nodes = sorted(k for s in ss for k in completed.get(s, ()))
        reached = max(reached, *ss)
        if not nodes:
            continue
        lines = []
        kinds: dict[str, list[int]] = {}
        for k in nodes:
            kinds.setdefault(_kind(order[k]), []).append(k)
        for what, ks in kinds.items():
            vs = [order[k] for k in ks]
            many = len(graph.children[vs[0]]) > 1
            rule = Edge(C, 0).formula if order[steps[ss[0]]] is C and len(C.parents) <= 2 else (f"Σ over the {_kind(graph.children[vs[0]][0])} of ∂{name(C)}/∂{kind} · ∂{kind}/∂{what}" if many
                    else f"∂{name(C)}/∂{kind} · ∂{kind}/∂{what}")
            lines.append(f"∂{name(C)}/∂{what} {_shape(vs, h)} = {rule}\n   = " + _numbers([grads[k] for k in ks]))
        stops.append({"phase": "backward", "nodes": nodes, "k": F + reached + 1,
                      "text": f"Backward, the steps of {kind}{hnote}:\n" + "\n".join(lines)})
    return stops


def _replay(history, param, title: str) -> Explorer:
    """``explore(history)``: the trained net's page with the run's timeline."""
    C, replay = replay_data(history)
    held = [m["it"] for m in replay["moments"]]
    n = len(history.losses)
    head = title or (f"Replay of {n:,} SGD iterations (α = {history.lr:g}, seed {history.seed}) on "
                     f"{replay['targetText']}: the net after them, on the sample i = {history.data.xs[0]:g}")
    page = explore(C, param, title=head)
    if page.data["asked"] and page.names[page.data["select"]] in replay["names"]:
        replay["param"] = replay["names"].index(page.names[page.data["select"]])  # the one asked for
    page.data["replay"] = replay
    page.data["note"] = (f"The page holds the weights at {len(held)} of the {n + 1:,} moments: iterations "
                         + ", ".join(f"{k:,}" for k in held) + "."
                         + (f" (Thinned: {replay['thinned']}.)" if replay.get("thinned") else ""))
    page.stamp = time.strftime("recorded %Y-%m-%d %H:%M UTC", time.gmtime())  # the one part that differs per run
    page._html = None
    return page


def _summary(C: Value, order: list, steps: list, grads: list, param, graph: Graph, note: str) -> str:
    """The text shown where the page cannot run: the passes in brief and one explanation."""
    lines = [f"micrograd_ws explorer: {name(C)} = {exact(C.data)}, {len(order):,} nodes, "
             f"{len(steps)} backward steps (open the page: .save('explorer.html'))"]
    if note:
        lines.append(note)
    leaves = [(v, g) for v, g in zip(order, grads) if not v.parents]
    lines += [f"  ∂{name(C)}/∂{name(v)} = {exact(g)}" for v, g in leaves[:12]]
    if len(leaves) > 12:
        lines.append(f"  … and {len(leaves) - 12} more")
    if param is not None:
        lines += ["", build_explanation(C, param, False, MAX_LISTED, Analysis(C, param, graph)).format(total_digits=12)]
    return "\n".join(lines)
