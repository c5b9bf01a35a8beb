"""Graphviz pictures of the graph and of each ∂C/∂w, drawn the way the handout writes them.

Nodes read left to right like the handout (input → z1 → H1 → z2 → H2 → O → C) and
show name, op, ``data`` and ``grad``; each edge carries its local derivative
∂child/∂parent as a symbol, a formula and the number the engine recorded.
:func:`draw_grad` keeps only the paths from one parameter to the cost and adds the
chain-rule product as a caption (the text of :func:`~micrograd_ws.explain.explain`),
whose total equals ``w.grad``.

The functions return a ``graphviz.Digraph``: Jupyter shows it inline, ``.render()``
writes a file, and building one needs no ``dot`` program (rendering does).

>>> from micrograd_ws import squared_error, two_neuron
>>> net = two_neuron(); O = net(2.0); C = squared_error(O, 1.0); C.backward()
>>> g = draw_grad(C, dict(net.named_parameters())['w1'])
>>> print(g.caption)
∂C/∂w1 = ∂C/∂O · ∂O/∂w1
       = 2(O − O_des) · i
       = 1.787 · 2
       = 3.57438484792
>>> dict(net.named_parameters())['w1'].grad                # what backward() computed
3.5743848479231897
"""
from __future__ import annotations

import contextlib
import functools
import html
import math
import re
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, Union
from urllib.parse import quote as url_quote

from .engine import Value, topological_order
from .explain import MAX_LISTED, Explanation, build_explanation, find_label
from .files import quoted, read_regular, write_atomic
from .notation import exact, name, num, partial
from .paths import Analysis, Edge

if TYPE_CHECKING:  # graphviz is optional: imported where it is needed
    import graphviz

__all__ = ["draw_graph", "draw_dot", "draw_grad", "render_grads", "grad_caption", "DotNotFoundError",
           "DotTimeoutError", "run_dot", "DOT_TIMEOUT", "MAX_NODES", "FORMATS", "INSTALL_DOT", "edge_value",
           "one_of_each_kind", "use_layout"]

MAX_NODES = 500  #: larger pictures take dot minutes to lay out and nobody can read them
FORMATS = ("svg", "png", "pdf", "dot")
INSTALL_DOT = ("Install Graphviz: Debian/Ubuntu `sudo apt-get install graphviz`, macOS `brew install "
               "graphviz`, Windows `winget install graphviz` (then open a new terminal so PATH is updated).")
_CAPTION_WIDTH = 100  # caption rows longer than this fold between factors
_NAME_WIDTH = 48  # longer names are shortened in pictures (the DOT stays valid at any length)

# colours: the parameter w, other leaves (parameters, inputs), the cost, folded or zero parts
_W_FILL, _LEAF_FILL, _C_FILL, _GREY, _ZERO = "#fde3c4", "#fdf3e3", "#d3e4f5", "#8c8c8c", "#c0392b"

Params = Union[Mapping[str, Value], Iterable["tuple[str, Value]"], Iterable[Union[Value, str]]]


class DotNotFoundError(RuntimeError):
    """Graphviz's ``dot`` program is not on PATH; the message says how to install it."""

    def __init__(self, saved: str | Path | None = None) -> None:
        msg = "Graphviz's `dot` program was not found on PATH, so the picture could not be rendered. " + INSTALL_DOT
        if saved is not None:
            msg += f" Nothing is lost: the DOT source is saved in {saved}; render it later with `dot -Tsvg -O {saved}`."
        super().__init__(msg)
        self.saved = saved


# --- text: names and numbers as safe HTML-like label content ----------------------------

def _visible(ch: str) -> str:
    """Control characters, surrogates and non-characters (invalid in XML) as Python escapes."""
    if unicodedata.category(ch) in ("Cc", "Cs") or ch in "\ufffe\uffff":
        return ascii(ch)[1:-1]
    return ch


def _text(s: str, width: int | None = None) -> str:
    """Any string as text inside a Graphviz HTML-like label (escaped; shortened past ``width``)."""
    s = "".join(map(_visible, s))
    if width is not None and len(s) > width:
        s = s[: width - 1] + "…"
    # dot expands \N, \G, ... even in HTML-like labels and reads \\ as one backslash
    # and a text that is just "]" is a syntax error to dot: as an entity it is fine anywhere
    return html.escape(s, quote=True).replace("\\", "\\\\").replace("]", "&#93;")


def _html(*lines: str, size: int | None = None, color: str | None = None) -> str:
    """An HTML-like label from already escaped lines."""
    body = "<BR/>".join(lines)
    if size or color:
        attrs = (f' POINT-SIZE="{size}"' if size else "") + (f' COLOR="{color}"' if color else "")
        body = f"<FONT{attrs}>{body}</FONT>"
    return f"<{body}>"


def _node_label(v: Value) -> str:
    rows = [f"<B>{_text(name(v), _NAME_WIDTH)}</B>"]
    if v.op:
        rows.append(f'<FONT POINT-SIZE="10" COLOR="#555555">{_text(v.op, _NAME_WIDTH)}</FONT>')
    rows += [f"data {num(v.data)}", f"grad {num(v.grad)}"]
    return _html(*rows)


def edge_value(e: Edge) -> str:
    """What an edge's local derivative is: ``H1[7] = 0.52``, or just the number when they are the same."""
    number = num(e.local)
    return f"{e.formula} = {number}" if e.formula != number else number


def _edge_label(e: Edge) -> str:
    return _html(_text(e.symbol, 2 * _NAME_WIDTH), _text(f"= {edge_value(e)}", 2 * _NAME_WIDTH), size=9)


def _caption_label(lines: list[str]) -> str:
    """The caption as in a terminal: monospace, so that its rows keep their alignment."""
    rows = "<BR/>".join(map(_text, lines))
    return (f'<<TABLE BORDER="0" CELLPADDING="6"><TR><TD ALIGN="LEFT" BALIGN="LEFT">'
            f'<FONT FACE="monospace">{rows}</FONT></TD></TR></TABLE>>')


# --- graphviz ---------------------------------------------------------------------------

#: Seconds ``dot`` may take for one picture before rendering gives up (the h = 100 net's
#: largest picture takes about 2 s; a hung or pathological layout would block for ever).
DOT_TIMEOUT = 60.0
_layout: list = []  # the one layout function that replaces the dot program, if any (use_layout)


def use_layout(fn) -> None:
    """Lay every picture out with ``fn(source, format) -> str`` instead of Graphviz's ``dot`` program.

    The lab sets Graphviz compiled to WebAssembly (viz-js) here, in the page, where no program can
    run; ``use_layout(None)`` goes back to ``dot``.  ``fn`` gives text formats (svg, dot).
    """
    _layout[:] = [] if fn is None else [fn]


class DotTimeoutError(RuntimeError):
    """Graphviz's ``dot`` did not finish within :data:`DOT_TIMEOUT` seconds (it was stopped)."""


def run_dot(source: str, format: str, *, what: str = "the picture", timeout: float | None = None) -> bytes:
    """Lay out a DOT ``source`` with Graphviz's ``dot`` into ``format`` (svg, png, pdf), within a timeout.

    Raises :class:`DotNotFoundError` without ``dot``, :class:`DotTimeoutError` when it takes
    longer than ``timeout`` (default :data:`DOT_TIMEOUT`) seconds, ``RuntimeError`` with its
    (shortened) message when it fails.
    """
    import shutil
    import subprocess

    if _layout:
        try:
            return str(_layout[0](source, format)).encode("utf-8")
        except Exception as e:  # viz-js's message, as dot's would be
            raise RuntimeError(f"Graphviz (viz-js) failed on {what}: {quoted(str(e), 300)}") from None
    limit = DOT_TIMEOUT if timeout is None else timeout
    exe = shutil.which("dot")
    if exe is None:
        raise DotNotFoundError()
    try:
        done = subprocess.run([exe, f"-T{format}"], input=source.encode("utf-8", "backslashreplace"),
                              capture_output=True, timeout=limit)
    except subprocess.TimeoutExpired:
        raise DotTimeoutError(
            f"Graphviz's dot did not finish {what} within {limit:g} s and was stopped; nothing was written "
            "for it. Draw a smaller graph (fewer parameters with --only, a smaller --hidden), or allow more "
            "time with micrograd_ws.viz.DOT_TIMEOUT") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"Graphviz's dot failed on {what} (exit status {done.returncode}): {quoted(message, 300)}")
    return done.stdout


def _graphviz():
    try:
        import graphviz
    except ImportError:
        raise ImportError(
            "drawing needs the graphviz Python package: pip install graphviz (or pip install "
            "'micrograd_ws[viz]'); rendering also needs Graphviz's dot program. " + INSTALL_DOT
        ) from None
    return graphviz


@functools.lru_cache(maxsize=None)
def _picture_class():
    """``graphviz.Digraph`` whose rendering explains a missing ``dot`` (made on first use)."""
    graphviz = _graphviz()

    class Picture(graphviz.Digraph):
        """A ``graphviz.Digraph`` with the chain-rule ``caption`` as text and a display that needs no trust.

        ``print(g)`` shows the caption, ``g`` at the prompt says what the picture is and how
        to see it; in Jupyter it shows inline as a PNG scaled to the cell's width (also in an
        untrusted notebook, in nbconvert's HTML and on GitHub).
        """

        caption = ""
        ids: dict = {}  # Value -> its DOT node name (and SVG element id)
        what = "a picture"  #: e.g. "draw_grad picture: the derivative graph of ∂C/∂w1[0]", for the repr
        stem = "picture"  #: the file name the repr suggests

        def __repr__(self) -> str:
            stem = re.sub(r"[^A-Za-z0-9.-]+", "_", self.stem).strip("_.") or "picture"
            return (f"<{self.what}.\n In Jupyter it shows inline; print(g) or g.caption gives the chain rule "
                    f"as text;\n g.render('{stem}', format='svg') writes {stem}.svg (or png, pdf)>")

        def __str__(self) -> str:
            return self.caption

        def _repr_mimebundle_(self, include=None, exclude=None, **_):
            """A PNG (crisp at twice the resolution) scaled to the cell's width, with the repr as text.

            PNG, not SVG: Jupyter shows a PNG in an untrusted notebook too (it hides SVG there),
            and every front end (JupyterLab, nbconvert's HTML, GitHub) fits an image output to
            the cell's width, where an SVG output keeps its own width and is cut off.  SVG on
            request (``include=['image/svg+xml']``).  Without ``dot``: the caption and what to install.
            """
            wanted = {"image/png", "text/plain"} if include is None else set(include)
            wanted -= set(exclude or ())
            try:
                bundle, metadata = {}, {}
                if "image/png" in wanted:
                    sharp = self.copy()  # twice the resolution, shown at the SVG's size
                    sharp.graph_attr["dpi"] = "144"
                    png = sharp.pipe(format="png")
                    bundle["image/png"] = png
                    # the width from the PNG's IHDR: 2 px per pt at 144 dpi, 4/3 CSS px per pt
                    metadata["image/png"] = {"width": int.from_bytes(png[16:20], "big") * 2 // 3}
                if "image/svg+xml" in wanted:
                    bundle["image/svg+xml"] = self.pipe(format="svg", encoding="utf-8")
            except DotNotFoundError as e:
                return {"text/plain": f"{self.caption}\n\n({e})"}
            if "text/plain" in wanted:
                bundle["text/plain"] = repr(self)
            return bundle, metadata

        def render(self, *args, **kwargs):
            try:  # graphviz saves the source before it runs dot
                return super().render(*args, **kwargs)
            except graphviz.ExecutableNotFound as e:
                raise DotNotFoundError(self.filepath) from e

        def pipe(self, *args, **kwargs):
            if _layout:  # laid out without the dot program (the lab's viz-js)
                out = run_dot(self.source, kwargs.get("format") or (args[0] if args else self.format))
                return out.decode(kwargs["encoding"]) if kwargs.get("encoding") else out
            try:
                return super().pipe(*args, **kwargs)
            except graphviz.ExecutableNotFound as e:
                raise DotNotFoundError() from e

    return Picture


def _new_picture(caption_lines: list[str], rankdir: str, what: str, stem: str):
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"rankdir must be 'LR' (left to right, like the handout), 'TB', 'RL' or 'BT'; got {rankdir!r}")
    g = _picture_class()(graph_attr={
        "rankdir": rankdir, "labelloc": "t", "labeljust": "l", "fontname": "Helvetica",
        "fontsize": "14", "nodesep": "0.25", "ranksep": "0.6",
    })
    g.node_attr.update(shape="box", style="rounded,filled", fillcolor="white", fontname="Helvetica",
                       fontsize="11", margin="0.08,0.04")
    g.edge_attr.update(fontname="Helvetica", arrowsize="0.6")
    g.attr(label=_caption_label(caption_lines))
    g.caption = "\n".join(caption_lines)
    g.what, g.stem = what, stem
    return g


class _Ids(dict):
    """Short DOT node names n0, n1, ... (labels carry the text, so ids never need escaping).

    A picture keeps them as ``.ids`` (Value -> name); its SVG uses them as element ids,
    ``n3`` for a node and ``n3-n7.1`` for the edge from n3 into parent slot 1 of n7.
    """

    def __missing__(self, v: Value) -> str:
        self[v] = f"n{len(self)}"
        return self[v]


def _edge_id(ids: _Ids, e: Edge) -> str:
    return f"{ids[e.parent]}-{ids[e.child]}.{e.index}"


def _check_value(x: object, what: str) -> Value:
    if not isinstance(x, Value):
        hint = " (call the net first: O = net(x); C = squared_error(O, y))" if hasattr(x, "parameters") else ""
        raise TypeError(f"{what}: expected a Value, got {type(x).__name__}{hint}")
    return x


def _check_count(n: object, what: str, least: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < least:
        raise ValueError(f"{what} must be a whole number ≥ {least}, got {n!r}")
    return n


def _refuse(n: int, what: str, max_nodes: int, narrow: str) -> None:
    raise ValueError(
        f"{what} has {n} nodes, more than max_nodes={max_nodes}: dot would take minutes to lay it out "
        f"and the picture would be unreadable. Narrow it: {narrow}, or raise the limit (max_nodes={n})."
    )


def _no_backward_note(root: Value) -> list[str]:
    if root.parents and root.grad == 0.0:
        return [f"(every grad reads 0: call {name(root)}.backward() first to fill them)"]
    return []


# --- the whole graph ---------------------------------------------------------------------

def draw_graph(root: Value, *, max_nodes: int = MAX_NODES, rankdir: str = "LR") -> "graphviz.Digraph":
    """The whole graph of ``root``: every node (name, op, data, grad) and every local derivative.

    Refuses graphs of more than ``max_nodes`` nodes (the h = 100 handout net has 10,804).

    >>> from micrograd_ws import Value
    >>> a = Value(2.0, 'a'); b = Value(-3.0, 'b'); c = a * b; c.label = 'c'
    >>> g = draw_graph(c)
    >>> print(g.caption)
    c = -6: 3 nodes, 2 edges; each edge reads ∂child/∂parent = formula = number
    (every grad reads 0: call c.backward() first to fill them)
    >>> '∂c/∂a' in g.source
    True
    """
    root = _check_value(root, "draw_graph(root)")
    _check_count(max_nodes, "draw_graph: max_nodes", 1)
    nodes = topological_order(root)
    if len(nodes) > max_nodes:
        _refuse(len(nodes), f"the graph of {name(root)}", max_nodes,
                "draw one gradient with draw_grad(C, w), or build a smaller net (e.g. two_hidden_layers(hidden=4))")
    graph_edges = [Edge(v, i) for v in nodes for i in range(len(v.parents))]
    g = _new_picture([f"{name(root)} = {num(root.data)}: {len(nodes)} nodes, {len(graph_edges)} edges; "
                      "each edge reads ∂child/∂parent = formula = number", *_no_backward_note(root)], rankdir,
                     f"draw_graph picture: the whole graph of {name(root)}, {len(nodes)} nodes", "graph")
    ids = _Ids()
    for v in nodes:  # the SVG keeps id and class: the explorer finds node n3 and edge n3-n7.1 by them
        g.node(ids[v], _node_label(v), fillcolor=_C_FILL if v is root else _LEAF_FILL if not v.parents else "white",
               id=ids[v], **{"class": "leaf" if not v.parents else "op"})
    for e in graph_edges:
        g.edge(ids[e.parent], ids[e.child], _edge_label(e), id=_edge_id(ids, e))
    g.ids = ids
    return g


# --- micrograd's picture ---------------------------------------------------------------------

def draw_dot(root: Value, format: str = "svg", rankdir: str = "LR", *,
             max_nodes: int = MAX_NODES) -> "graphviz.Digraph":
    """micrograd's ``draw_dot``: a record per node (its label, if any, then data and grad),
    an op node per operation, left to right.

    The picture of micrograd's ``trace_graph.ipynb`` and of the lecture, for code that
    calls it; :func:`draw_graph` adds each edge's local derivative and the names.

    >>> from micrograd_ws import Value
    >>> a = Value(2.0, 'a'); b = (a * 3 + 1).relu(); b.backward()
    >>> print(draw_dot(b).source)
    digraph {
    	graph [rankdir=LR]
    	n0 [label="{ a | data 2.0000 | grad 3.0000 }" shape=record]
    	n1 [label="{ data 3.0000 | grad 2.0000 }" shape=record]
    	n2 [label="{ data 6.0000 | grad 1.0000 }" shape=record]
    	n2op [label="*"]
    	n2op -> n2
    	n3 [label="{ data 1.0000 | grad 1.0000 }" shape=record]
    	n4 [label="{ data 7.0000 | grad 1.0000 }" shape=record]
    	n4op [label="+"]
    	n4op -> n4
    	n5 [label="{ data 7.0000 | grad 1.0000 }" shape=record]
    	n5op [label=relu]
    	n5op -> n5
    	n0 -> n2op
    	n1 -> n2op
    	n2 -> n4op
    	n3 -> n4op
    	n4 -> n5op
    }
    <BLANKLINE>
    """
    root = _check_value(root, "draw_dot(root)")
    _check_count(max_nodes, "draw_dot: max_nodes", 1)
    if rankdir not in ("LR", "TB"):
        raise ValueError(f"draw_dot: rankdir is 'LR' (left to right) or 'TB' (top to bottom), got {rankdir!r}")
    nodes = topological_order(root)
    if len(nodes) > max_nodes:
        _refuse(len(nodes), f"the graph of {name(root)}", max_nodes,
                "draw a smaller expression, or one gradient with draw_grad(C, w)")
    g = _picture_class()(format=format, graph_attr={"rankdir": rankdir})
    ids = _Ids()
    for v in nodes:
        fields = ([_record_text(v.label)] if v.label else []) + [f"data {v.data:.4f}", f"grad {v.grad:.4f}"]
        g.node(ids[v], "{ " + " | ".join(fields) + " }", shape="record")
        if v.op:
            g.node(ids[v] + "op", v.op.replace("\\", "\\\\"))  # a plain label: only a backslash is special
            g.edge(ids[v] + "op", ids[v])
    for v in nodes:  # one edge per parent, as micrograd's set of _prev (a + a draws one)
        for p in dict.fromkeys(v.parents):
            g.edge(ids[p], ids[v] + "op")
    return g


def _record_text(s: str) -> str:
    """Text inside a Graphviz record field: its special characters escaped."""
    return re.sub(r"([{}|<>\\])", r"\\\1", "".join(map(_visible, s)))


# --- one gradient: the chain rule ----------------------------------------------------------

def _caption(e: Explanation) -> list[str]:
    """∂C/∂w as :func:`~micrograd_ws.explain.explain` writes it, its total precise enough to equal ``w.grad``."""
    return e.format(_CAPTION_WIDTH, total_digits=12, check=False).splitlines()


def _find(C: Value, w: Value | str, caller: str) -> Value:
    return find_label(C, w, caller) if isinstance(w, str) else _check_value(w, f"{caller}(C, w)")


def grad_caption(C: Value, w: Value | str, *, max_terms: int = MAX_LISTED) -> str:
    """∂C/∂w as the handout writes it: symbols, formulas, numbers, value (one ``=`` per line).

    The text of :func:`~micrograd_ws.explain.explain`, its rows folded at 100 characters,
    without the check line and with the total to 12 significant digits, so that it equals
    ``w.grad`` after ``C.backward()``.  Several paths are summed (``Σ_j`` over a running
    index where the handout has one, one row per path); paths with a zero factor (a ReLU
    that is off) add 0 and are counted in one row; past ``max_terms`` nonzero paths, the
    rest are added up in one row.

    >>> from micrograd_ws import squared_error, two_hidden_layers
    >>> net = two_hidden_layers(hidden=3, seed=2); C = squared_error(net(0.5), 1.0); C.backward()
    >>> print(grad_caption(C, 'w2[0][2]'))
    ∂C/∂w2[0][2] = ∂C/∂O · ∂O/∂H2[0] · ∂H2[0]/∂z2[0] · ∂z2[0]/∂w2[0][2]
                 = 2(O − O_des) · w3[0] · 1 · H1[2]
                 = -4.03 · (-0.06368) · 1 · 0.8074
                 = 0.207208961861
    >>> dict(net.named_parameters())['w2[0][2]'].grad
    0.20720896186099919
    """
    C = _check_value(C, "grad_caption(C, w)")
    _check_count(max_terms, "grad_caption: max_terms", 0)
    return "\n".join(_caption(build_explanation(C, _find(C, w, "grad_caption"), all_paths=False, max_paths=max_terms)))


def draw_grad(C: Value, w: Value | str, *, show_zero_paths: bool = False, max_terms: int = MAX_LISTED,
              max_nodes: int = MAX_NODES, rankdir: str = "LR") -> "graphviz.Digraph":
    """The derivative graph of ∂C/∂w: the paths from ``w`` to ``C`` and the chain rule as caption.

    ``w`` is a Value of C's graph or its label (``'w2[3][7]'``).  Each edge shows its local
    derivative; the caption (also ``.caption``, as text: :func:`grad_caption`) multiplies
    them along each path and sums the paths.  Paths with a zero factor (a ReLU that is off) are folded into one
    grey "n paths contribute 0" node unless ``show_zero_paths``; when every path is zero
    they are all shown, to show why.  As the caption lists the first ``max_terms`` nonzero
    paths and sums the rest in one row, the picture draws those paths and one grey
    "n more paths, together x" node for the rest.

    >>> from micrograd_ws import squared_error, two_hidden_layers
    >>> net = two_hidden_layers(hidden=3, seed=2); C = squared_error(net(0.5), 1.0); C.backward()
    >>> g = draw_grad(C, 'w1[0]')
    >>> print(g.caption)
    ∂C/∂w1[0] = Σ_j ∂C/∂O · ∂O/∂H2[j] · ∂H2[j]/∂z2[j] · ∂z2[j]/∂H1[0] · ∂H1[0]/∂z1[0] · ∂z1[0]/∂w1[0]
              = Σ_j 2(O − O_des) · w3[j] · ∂H2[j]/∂z2[j] · w2[j][0] · 1 · i
                  j = 0:  -4.03 · (-0.06368) · 1 · 0.196 · 1 · 0.5 = 0.02515
                  j = 2:  -4.03 · (-0.5359) · 1 · 0.2575 · 1 · 0.5 = 0.2781
                  1 more path is 0, through the zero factor ∂H2[1]/∂z2[1] = 0 (the ReLU H2[1] is off:
                      z2[1] = -0.06084 ≤ 0)
              = 0.02515 + 0.2781
              = 0.303210499217
    >>> '1 path contributes 0' in g.source     # the folded zero path
    True
    """
    C = _check_value(C, "draw_grad(C, w)")
    _check_count(max_terms, "draw_grad: max_terms", 0)
    _check_count(max_nodes, "draw_grad: max_nodes", 1)
    w = _find(C, w, "draw_grad")
    info = Analysis(C, w)
    fold = info.n_live > 0 and not show_zero_paths  # when every path is zero, show why
    drawn = [v for v in info.nodes if v in info.live] if fold else info.nodes
    if len(drawn) > max_nodes:
        _refuse(len(drawn), f"the graph of {partial(name(C), name(w))}", max_nodes,
                "build a smaller net (e.g. two_hidden_layers(hidden=4))" +
                (", fold the zero paths (show_zero_paths=False)" if show_zero_paths else ""))
    explanation = build_explanation(C, w, all_paths=False, max_paths=max_terms, analysis=info)
    listed = None  # the edges of the paths the caption writes out, when it sums the others in one row
    nonzero = [t for t in explanation.paths if t.product != 0.0]
    if fold and max_terms and len(nonzero) > max_terms:
        listed = {e for t in nonzero[:max_terms] for e in t.edges}
        ends = {e.parent for e in listed} | {e.child for e in listed}
        drawn = [v for v in drawn if v in ends]
    if not info.nodes:  # no path: the two nodes, unconnected
        drawn = [w, C]
    g = _new_picture(_caption(explanation) + _no_backward_note(C), rankdir,
                     f"draw_grad picture: the derivative graph of {explanation.symbol}, {len(drawn)} nodes",
                     name(w))
    ids = _Ids()
    for v in drawn:
        fill = _W_FILL if v is w else _C_FILL if v is C else "white"
        grey = {"color": _GREY, "fontcolor": _GREY} if info.n_live and v not in info.live else {}
        g.node(ids[v], _node_label(v), fillcolor=fill, id=ids[v], **grey)
    folded, more = [], []
    for e in info.edges:
        if e in info.live and listed is not None and e not in listed:
            more.append(e)
        elif e in info.live:
            g.edge(ids[e.parent], ids[e.child], _edge_label(e), id=_edge_id(ids, e))
        elif not fold:
            if e.local == 0.0:
                style = {"color": _ZERO, "fontcolor": _ZERO, "style": "dashed"}
            else:
                style = {"color": _GREY, "fontcolor": _GREY} if info.n_live else {}
            g.edge(ids[e.parent], ids[e.child], _edge_label(e), id=_edge_id(ids, e), **style)
        else:
            folded.append(e)
    kept = set(drawn)
    if folded:
        n_zero = explanation.n_paths - info.n_live
        zero = list(dict.fromkeys(e.symbol for e in folded if e.local == 0.0))
        rows = [f"<B>{n_zero} path{'s' * (n_zero > 1)} contribute{'s' * (n_zero == 1)} 0</B>",
                "each has a zero factor, e.g." if n_zero > 1 else "it has a zero factor:"]
        rows += [f"{_text(s, 2 * _NAME_WIDTH)} = 0" for s in zero[:3]]
        if len(zero) > 3:
            rows.append(f"and {len(zero) - 3} more")
        _draw_fold(g, ids, kept, folded, "folded", rows)
    if more:  # as the caption: the first max_terms live paths drawn, the others in one node
        n_more, rest = len(nonzero) - max_terms, math.fsum(t.product for t in nonzero[max_terms:])
        _draw_fold(g, ids, kept, more, "more", [
            f"<B>{n_more} more path{'s' * (n_more > 1)}, together {num(rest)}</B>",
            f"not drawn: only the first {max_terms} nonzero paths are (max_terms)"])
    g.ids = ids
    return g


def _draw_fold(g, ids: _Ids, kept: set, folded: list[Edge], node: str, rows: list[str]) -> None:
    """One grey node standing for the ``folded`` edges, linked where they leave and rejoin drawn nodes."""
    g.node(node, _html(*rows, color=_GREY), style="rounded,dashed", color=_GREY)
    links = {}  # an ordered set
    for e in folded:
        if e.parent in kept:
            links[ids[e.parent], node] = None
        if e.child in kept:
            links[node, ids[e.child]] = None
    for tail, head in links:
        g.edge(tail, head, style="dashed", color=_GREY, arrowhead="none" if head == node else "normal")


# --- every ∂C/∂w: files and a gallery ------------------------------------------------------

def _named(root: Value, params: Params) -> list[tuple[str, Value]]:
    if hasattr(params, "named_parameters"):
        params = params.named_parameters()
    if isinstance(params, str):  # one label
        params = [params]
    items = list(params.items() if isinstance(params, Mapping) else params)
    out = []
    for k, item in enumerate(items):
        if isinstance(item, Value):
            out.append((name(item), item))
        elif isinstance(item, str):  # a label, as draw_grad takes it
            out.append((item, find_label(root, item, "render_grads")))
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Value):
            out.append((str(item[0]), item[1]))
        else:
            raise TypeError(f"render_grads: parameter {k} is {item!r}; pass net.named_parameters(), "
                            "a dict of name -> Value, a list of Values or of labels such as ['b3', 'w1[0]']")
    if not out:
        raise ValueError("render_grads: no parameters given; pass net.named_parameters()")
    return out


def _slug(label: str, taken: set) -> str:
    """A plain file name for a parameter: ``w2[3][7]`` → ``w2_3_7`` (unique within the gallery)."""
    base = re.sub(r"[^A-Za-z0-9.-]+", "_", label).strip("_.")[:100] or "param"
    slug, n = base, 1
    while slug.lower() in taken or slug.lower() == "index":
        n += 1
        slug = f"{base}-{n}"
    taken.add(slug.lower())
    return slug


def render_grads(root: Value, params: Params, outdir: str | Path, format: str = "svg", *,
                 show_zero_paths: bool = False, max_terms: int = MAX_LISTED, title: str = "") -> Path:
    """Write the picture of ∂root/∂w for every parameter, and an ``index.html`` gallery; returns its path.

    ``params``: ``net.named_parameters()``, a dict name → Value, a list of Values or of their
    labels (``['b3', 'w1[0]']``, looked up in root's graph as :func:`draw_grad` does), or the net.
    Each parameter gets ``NAME.dot`` (the DOT source) and, unless ``format='dot'``,
    ``NAME.svg`` / ``.png`` / ``.pdf`` rendered by Graphviz's ``dot``.  Without ``dot`` all
    sources and the gallery are still written, then :class:`DotNotFoundError` is raised.
    ``title`` describes the model and data at the top of the gallery.  The folder then shows this
    call's pictures: those an earlier call wrote there (its ``index.html`` lists them) and this one
    does not write again are removed; no other file in it is touched.
    """
    root = _check_value(root, "render_grads(root)")
    if format not in FORMATS:
        raise ValueError(f"render_grads: format must be one of {', '.join(FORMATS)}, got {format!r}")
    named = _named(root, params)
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    earlier = _earlier_pictures(out / "index.html")
    entries, taken, missing_dot = [], set(), False
    for label, w in named:
        g = draw_grad(root, w, show_zero_paths=show_zero_paths, max_terms=max_terms)
        slug = _slug(label, taken)
        source = out / f"{slug}.dot"
        picture = source
        write_atomic(source, g.source)  # every file atomically: an interrupt leaves the old one or the new
        if format != "dot" and not missing_dot:
            try:
                picture = out / f"{slug}.{format}"
                write_atomic(picture, run_dot(g.source, format, what=f"the picture of {label}"))
            except DotNotFoundError:  # keep going: every source and the gallery still get written
                missing_dot, picture = True, source
        entries.append((label, w, g.caption, slug, source.name, picture.name))
    index = out / "index.html"
    write_atomic(index, _gallery(root, entries, "dot" if missing_dot else format, title, missing_dot))
    _remove(out, earlier - {name for *_, source, picture in entries for name in (source, picture)})
    if missing_dot:
        raise DotNotFoundError(out / "*.dot")
    return index


# A gallery lists the files it shows in a <meta> of its index.html, so that the next render_grads
# into the same folder removes the ones it does not write again (another --only, --format or
# net): the folder shows one run.  Only those: a file the gallery did not list is never touched.
_LISTED = re.compile(r'<meta name="micrograd-ws-pictures" content="([^"]*)"/>')
_PICTURE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.(?:dot|svg|png|pdf)")


def _earlier_pictures(index: Path) -> set[str]:
    """The pictures an earlier gallery's ``index.html`` listed (none if there is none, or not ours)."""
    try:
        found = _LISTED.search(read_regular(index, 1 << 24).decode("utf-8", "replace"))
    except (OSError, ValueError):
        return set()
    return {n for n in html.unescape(found.group(1)).split() if _PICTURE.fullmatch(n)} if found else set()


def _remove(out: Path, names: set[str]) -> None:
    for n in names:
        path = out / n
        if path.is_file() and not path.is_symlink():
            with contextlib.suppress(OSError):  # (a file that cannot go stays: nothing else depends on it)
                path.unlink()


def _gallery(root: Value, entries: list, format: str, title: str, missing_dot: bool = False) -> str:
    """index.html: one card per parameter with its name, gradient, caption and picture.

    With ``format='dot'`` (chosen, or because ``dot`` is missing) each card links its DOT
    source, and the page says how to render them.
    """
    e = html.escape
    cards = []
    for label, w, caption, slug, source, picture in entries:
        href = url_quote(picture)
        if format in ("svg", "png"):
            shown = f'<a href="{href}"><img src="{href}" alt="{e(f"graph of ∂{name(root)}/∂{label}")}"/></a>\n'
        elif format == "pdf":
            shown = f'<p><a href="{href}">{e(picture)}</a></p>\n'
        else:
            shown = ""  # the DOT source below is the picture
        cards.append(
            f'<section id="{slug}">\n<h2>{e(label)} <span class="grad">∂{e(name(root))}/∂{e(label)} = '
            f'{e(exact(w.grad))}</span></h2>\n<pre>{e(caption)}</pre>\n{shown}'
            f'<p class="src">DOT source: <a href="{url_quote(source)}">{e(source)}</a></p>\n</section>'
        )
    if missing_dot:
        notice = ("<p class=\"notice\">Graphviz's <code>dot</code> program was not found, so the pictures were "
                  "not rendered: each parameter links its DOT source (<code>.dot</code>) instead. "
                  f"{_code(e(INSTALL_DOT))} Then render them in this folder with <code>dot -Tsvg -O *.dot</code>, "
                  "or run this again.</p>\n")
    elif format == "dot":
        notice = ("<p class=\"notice\">The pictures are DOT sources (<code>.dot</code>): render them in this "
                  "folder with Graphviz, <code>dot -Tsvg -O *.dot</code>.</p>\n")
    else:
        notice = ""
    rows = "\n".join(
        f'<tr><td><a href="#{slug}">{e(label)}</a></td><td>{e(exact(w.grad))}</td></tr>'
        for label, w, _, slug, *_ in entries
    )
    heading = f"∂{e(name(root))}/∂w for every parameter"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="micrograd-ws-pictures" content="{e(' '.join(sorted({n for *_, a, b in entries for n in (a, b)})))}"/>
<title>{heading}</title>
<style>
body {{ font-family: Helvetica, Arial, sans-serif; margin: 2em; color: #222; }}
section {{ border-top: 1px solid #ccc; padding: 1em 0; }}
pre {{ background: #f6f6f6; padding: 0.8em; overflow-x: auto; }}
img {{ max-width: 100%; height: auto; }}
.grad {{ font-weight: normal; color: #555; margin-left: 1em; }}
table {{ border-collapse: collapse; }} td {{ padding: 0.1em 1em 0.1em 0; }}
.notice {{ background: #fff4e0; border-left: 4px solid #e8a33d; padding: 0.6em 0.8em; }}
</style>
</head>
<body>
<h1>{heading}</h1>
{notice}<p>{e(title)}</p>
<p>{e(name(root))} = {e(exact(root.data))}. Each picture keeps the paths from one parameter to
{e(name(root))}; every edge carries its local derivative, and the caption multiplies them
along each path and adds the paths: the chain rule. Its total is the gradient the engine's
<code>backward()</code> computed.</p>
<table>
<tr><th>parameter</th><th>gradient</th></tr>
{rows}
</table>
{chr(10).join(cards)}
</body>
</html>
"""


def _code(text: str) -> str:
    """`command` spans (as in the error messages) as HTML <code>."""
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", text)


def one_of_each_kind(names: Iterable[str]) -> list[str]:
    """The first parameter of each kind: ``w1[0], b1[0], w2[0][0], b2[0], w3[0], b3`` for the handout's net."""
    kinds: dict[str, str] = {}
    for n in names:
        kinds.setdefault(re.sub(r"(\[[^\]]*\])+$", "", n), n)
    return list(kinds.values())
