"""Explain one gradient as the handout's chain rule (stepping the pass is :mod:`micrograd_ws.stepping`).

The names are :mod:`micrograd_ws.notation`'s; the text, LaTeX and MathML renderings of the
rows are written by :mod:`micrograd_ws.mathtext`.

>>> from micrograd_ws import Value, squared_error
>>> w1, i, b1 = Value(0.5, 'w1'), Value(2.0, 'i'), Value(0.1, 'b1')
>>> O = w1 * i + b1; O.label = 'O'
>>> C = squared_error(O, 1.0)

``explain(C, w)`` writes ∂C/∂w as the product of local derivatives along each path
from ``w`` to ``C``, with the handout's formulas and this graph's numbers:

>>> C.backward()
>>> explain(C, w1)
∂C/∂w1 = ∂C/∂O · ∂O/∂w1·i · ∂w1·i/∂w1
       = 2(O − O_des) · 1 · i
       = 0.2 · 1 · 2
       = 0.4
w1.grad = 0.4 ✓ the same number C.backward() computed
"""
from __future__ import annotations

import html
import math
import re
import shutil
import sys
import textwrap
from dataclasses import dataclass
from functools import cached_property
from typing import Sequence, Union

from .engine import Value, topological_order
from .mathtext import (MathML, Plain, TeX, join_factors, md_escape, mml, mml_num, mml_partial, tex, tex_num,
                       tex_partial, tex_text, xml_text)
from .notation import did_you_mean, name, num, partial, wrap
from .paths import Analysis, Edge, path_product, path_totals

__all__ = ["explain", "Explanation", "PathTerm", "MAX_LISTED", "build_explanation", "find_label"]


# --- explain: ∂C/∂w as a sum over paths of products of local derivatives ---------------

#: Paths are listed one by one up to this many; beyond, the sum is accumulated node by node.
MAX_ENUMERATED = 10_000
#: ... and only while all the paths together have at most this many factors (edges).
MAX_FACTORS = 200_000
#: How many paths with a nonzero product are written out, everywhere (explain, the pictures'
#: captions, the demo, the gallery); the rest are summed in one row that says so.
MAX_LISTED = 4


@dataclass(frozen=True)
class PathTerm:
    """One path from the root down to ``w``: its edges (root first) and their product."""

    edges: tuple[Edge, ...]

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(e.symbol for e in self.edges)

    @property
    def formulas(self) -> tuple[str, ...]:
        return tuple(e.formula for e in self.edges)

    @property
    def locals(self) -> tuple[float, ...]:
        return tuple(e.local for e in self.edges)

    @cached_property  # the layout reads it several times
    def product(self) -> float:
        return path_product(self.edges)


def explain(root: Value, w: Union[Value, str], *, all_paths: bool = False,
            max_paths: int = MAX_LISTED) -> Explanation:
    """∂root/∂w written out as the handout does: factors, formulas, numbers, sum, and ``w.grad``.

    ``w`` is a Value in root's graph, or its label (``'w2[1][0]'``).  Paths whose
    product is 0 (through a ReLU that is off) are folded into one line, and at most
    ``max_paths`` others are listed (:data:`MAX_LISTED`, 4, as in the pictures' captions); ``all_paths=True`` lists every path.  In Jupyter the
    result renders as a formula.

    >>> from micrograd_ws import two_hidden_layers, squared_error
    >>> net = two_hidden_layers(hidden=2, seed=1)
    >>> C = squared_error(net(1.0), 0.5); C.backward()
    >>> e = explain(C, 'w3[1]')
    >>> e.paths[0].formulas, e.total == net.layers[2].neurons[0].w[1].grad
    (('2(O − O_des)', 'H2[1]'), True)
    """
    if not isinstance(root, Value):
        raise TypeError(f"explain(root, w): root must be a Value (e.g. the cost C), got {type(root).__name__}")
    if isinstance(w, str):
        w = find_label(root, w, "explain")
    elif not isinstance(w, Value):
        raise TypeError(f"explain(root, w): w must be a Value or its label, got {type(w).__name__} {w!r}")
    if not isinstance(all_paths, bool):
        raise TypeError(f"explain: all_paths must be True or False, got {all_paths!r}")
    if isinstance(max_paths, bool) or not isinstance(max_paths, int) or max_paths < 1:
        raise ValueError(f"explain: max_paths must be a positive int, got {max_paths!r}")
    return build_explanation(root, w, all_paths, max_paths)


def build_explanation(root: Value, w: Value, all_paths: bool, max_paths: int,
                      analysis: Analysis | None = None) -> Explanation:
    """explain() without the argument checks, reading the analysis of (root, w) when given
    (:mod:`micrograd_ws.viz` and :mod:`micrograd_ws.explorer` pass the one they draw from)."""
    if analysis is None:  # counted first, in a few numbers a node: an Analysis only for paths it will list
        n_paths, factors, total = path_totals(root, w)
        if n_paths > MAX_ENUMERATED or factors > MAX_FACTORS:
            return Explanation(root, w, (), n_paths, total, w.grad, all_paths, max_paths)
    a = analysis if analysis is not None else Analysis(root, w)
    if a.n_paths <= MAX_ENUMERATED and _n_factors(a) <= MAX_FACTORS:
        terms = tuple(PathTerm(p) for p in a.paths())
        total = math.fsum(t.product for t in terms)
    else:  # too many to list: the sum node by node, as backward does
        terms, total = (), a.sums.get(root, 0.0)
    return Explanation(root, w, terms, a.n_paths, total, w.grad, all_paths, max_paths)


def _n_factors(a: Analysis) -> int:
    """How many factors (edges) the paths of ``a`` have together, without listing them: a few
    paths can be very long (8,192 paths through a chain of 5,000 nodes are 41 million factors)."""
    if not a.nodes:
        return 0
    length = {a.w: 0}  # Σ over the paths from w to v of their lengths
    for c in a.nodes[1:]:
        length[c] = sum(length[e.parent] + a.counts[e.parent] for e in a._into[c])
    return length.get(a.root, 0)


def find_label(root: Value, label: str, caller: str) -> Value:
    """The one node of root's graph labelled ``label``; else an error naming the likely ones."""
    order = topological_order(root)
    found = [v for v in order if v.label == label]
    if len(found) == 1:
        return found[0]
    if found:
        raise ValueError(f"{caller}: {len(found)} nodes are labelled {label!r}; pass the Value itself")
    raise ValueError(f"{caller}: no node labelled {label!r} in the graph of {name(root)}; "
                     + did_you_mean(label, [v.label for v in order]))


_INDEX = re.compile(r"\[(\d+)\]")
_LETTERS = "jkmnpqrs"  # j, k as the handout indexes layers 2 and 1


def _template(terms: Sequence[PathTerm]):
    """The handout's Σ_j form when the paths differ only in indices, else None.

    Returns (symbol factors, formula factors, letters, one label per path).  A formula
    that differs between paths other than by an index (a ReLU's 0 or 1) stays a symbol.
    """
    if len(terms) < 2 or len({len(t.edges) for t in terms}) != 1:
        return None
    pieces: dict[Edge, list] = {}  # paths share edges: name each edge once
    for t in terms:
        for e in t.edges:
            if e not in pieces:
                pieces[e] = [_INDEX.split(s) for s in (name(e.child), name(e.parent), e.formula)]
    split = [[p for e in t.edges for p in pieces[e]] for t in terms]
    keep = []  # which strings take part (formulas that vary otherwise are replaced by their symbol)
    for pos in range(len(split[0])):
        skeletons = {tuple(parts[0::2]) for parts in (path[pos] for path in split)}
        if len(skeletons) > 1:
            if pos % 3 != 2:
                return None
            keep.append(False)
        else:
            keep.append(True)
    columns = list(zip(*[[i for pos, parts in enumerate(path) if keep[pos] for i in parts[1::2]] for path in split]))
    groups: dict[tuple, str] = {}
    for col in columns:
        if len(set(col)) > 1 and col not in groups:
            if len(groups) == len(_LETTERS):
                return None
            groups[col] = _LETTERS[len(groups)]
    labels = [", ".join(f"{letter} = {col[k]}" for col, letter in groups.items()) for k in range(len(terms))]
    if len(set(labels)) != len(labels):
        return None
    # rebuild the strings of the first path with the varying indices replaced by letters
    values = iter(groups.get(col) for col in columns)
    templated = []
    for pos, parts in enumerate(split[0]):
        if keep[pos]:
            templated.append("".join(p if k % 2 == 0 else f"[{next(values) or p}]" for k, p in enumerate(parts)))
        else:
            templated.append(None)
    symbols, formulas = [], []
    for k in range(0, len(templated), 3):
        top, bottom, formula = templated[k:k + 3]
        symbols.append(("sym", top, bottom))
        formulas.append(("formula", formula) if formula is not None else ("sym", top, bottom))
    return symbols, formulas, "".join(groups.values()), labels


class Explanation:
    """The result of :func:`explain`; ``str()`` for the terminal, a formula in Jupyter.

    Printed to a terminal, long rows are folded to its width; ``format(width)`` chooses.

    ``paths`` holds the :class:`PathTerm` of every path (none when there are more than
    :data:`MAX_ENUMERATED`), ``n_paths`` counts them, ``total`` is their sum, ``grad``
    the value of ``w.grad`` when explained, ``matches`` whether the two agree.
    """

    def __init__(self, root: Value, w: Value, terms: tuple[PathTerm, ...], n_paths: int, total: float,
                 grad: float, all_paths: bool, max_paths: int) -> None:
        self.root, self.w, self.paths, self.n_paths = root, w, terms, n_paths
        self.total, self.grad = total, grad
        self.all_paths, self.max_paths = all_paths, max_paths
        self._layouts: dict[int, list] = {}

    @property
    def symbol(self) -> str:
        return partial(name(self.root), name(self.w))

    @property
    def matches(self) -> bool:
        """Does ``w.grad`` equal the sum over paths (up to rounding: the orders of the sums differ)?"""
        scale = math.fsum(abs(t.product) for t in self.paths) or abs(self.total)
        return math.isclose(self.grad, self.total, rel_tol=1e-9, abs_tol=1e-12 + 1e-9 * scale)

    # --- layout shared by the terminal and Jupyter renderings ---------------------------
    def _layout(self, total_digits: int = 4):
        """The rows of :meth:`_rows`, worked out once for the text, the formula and the page."""
        if total_digits not in self._layouts:
            self._layouts[total_digits] = self._rows(total_digits)
        return self._layouts[total_digits]

    def _rows(self, total_digits: int):
        """Rows (label, factors, product): label None for "= factors", or ("sigma", letters),
        ("text", words), ("path", label) or ("note", sentence).  The last "= factors" row
        is the total, to ``total_digits`` significant digits."""
        terms, root = self.paths, name(self.root)
        total = (None, [("num", self.total, total_digits)], None)
        if self.n_paths == 0:
            return [total,
                    (("note", f"{root} does not depend on {name(self.w)}: no path leads from "
                              f"{name(self.w)} up to {root}"), [], None)]
        if self.w is self.root:
            return [total, (("note", f"{root} is the root itself"), [], None)]
        if len(terms) == 1:
            t = terms[0]
            rows = [(None, [("sym", name(e.child), name(e.parent)) for e in t.edges], None),
                    (None, [("formula", f) for f in t.formulas], None),
                    (None, [("num", x) for x in t.locals], None)]
            return rows + [total]
        if not terms:  # too many paths, or too many factors along them, to list
            return [(("text", f"the sum over {self.n_paths} path{'s' * (self.n_paths != 1)}, too many to list (more than "
                              f"{MAX_ENUMERATED:,} paths or {MAX_FACTORS:,} factors in all; accumulated node by node, "
                              "as backward() does)"), [], None), total]
        tpl = _template(terms)
        rows = []
        if tpl:
            symbols, formulas, letters, labels = tpl
            rows += [(("sigma", letters), symbols, None), (("sigma", letters), formulas, None)]
        else:
            labels = [f"path {k + 1}" for k in range(len(terms))]
            rows.append((("text", f"the sum over {self.n_paths} paths:"), [], None))
        listed = [(lab, t) for lab, t in zip(labels, terms) if self.all_paths or t.product != 0.0]
        shown = listed if self.all_paths else listed[:self.max_paths]
        for lab, t in shown:
            factors = [("num", x) for x in t.locals] if tpl else \
                [("sym", name(e.child), name(e.parent)) for e in t.edges] + [("eq",)] + \
                [("formula", f) for f in t.formulas] + [("eq",)] + [("num", x) for x in t.locals]
            rows.append((("path", lab), factors, t.product))
        if len(listed) > len(shown):
            more = listed[len(shown):]
            rest = math.fsum(t.product for _, t in more)
            rows.append((("note", f"… and {len(more)} more path{'s' * (len(more) > 1)} with a nonzero product, "
                                  f"together {num(rest)}: only the first {self.max_paths} nonzero paths are "
                                  f"listed; explain(C, w, all_paths=True) lists {'them all' if len(more) > 1 else 'it'}"),
                         [], None))
        zero = [t for t in terms if t.product == 0.0]
        if zero and not self.all_paths:
            rows.append((("note", _zero_note(zero, len(terms))), [], None))
        products = [t.product for _, t in listed]
        if 1 < len(products) <= 6 and len(products) == len(shown):
            rows.append((None, [("sum", products)], None))
        return rows + [total]

    def status(self) -> str:
        """The last line of :meth:`format`: ``w.grad`` checked against the sum over paths."""
        w = wrap(name(self.w))
        call = f"{self.root.label}.backward()" if self.root.label.isidentifier() else "backward()"
        if self.matches:
            return f"{w}.grad = {num(self.grad)} ✓" + (f" the same number {call} computed" if self.n_paths else "")
        if self.grad == 0.0:
            return f"{w}.grad is 0: call {call} to compute it"
        ratio = self.grad / self.total if self.total else 0.0
        if not self.w.parents and round(ratio) >= 2 and math.isclose(ratio, round(ratio), rel_tol=1e-9):
            return (f"{w}.grad = {num(self.grad)} is {round(ratio)} × this: a leaf's .grad adds up over "
                    f"backward() calls (as in PyTorch); call zero_grad() before {call}")
        return (f"{w}.grad = {num(self.grad)} differs: it comes from another backward() or from values "
                f"changed since; call zero_grad(), recompute the graph, then {call}")

    def format(self, width: int | None = None, *, total_digits: int = 4, check: bool = True) -> str:
        """The derivation as text; with ``width``, long rows are folded between factors.

        ``total_digits`` significant digits for the total (12 tell it from ``w.grad`` to
        1e-12 relative); ``check=False`` leaves out the last line, the check against ``w.grad``.

        >>> from micrograd_ws import Value
        >>> x = Value(2.0, 'x'); y = (x * 0.3).tanh(); y.label = 'y'; y.backward()
        >>> print(explain(y, x).format(total_digits=12, check=False))
        ∂y/∂x = ∂y/∂x·0.3 · ∂x·0.3/∂x
              = (1 − tanh²(x·0.3)) · 0.3
              = 0.7116 · 0.3
              = 0.213473328776
        >>> x.grad
        0.21347332877616684
        """
        rows = self._layout(total_digits)
        lhs = self.symbol
        pad = " " * len(lhs)
        label_width = max((len(label[1]) + 1 for label, _, _ in rows if label and label[0] == "path"), default=0)
        lines = []
        for label, factors, product in rows:
            text = join_factors(factors, Plain)
            kind = label[0] if label else None
            if kind is None:
                line = f" = {text}"
            elif kind == "sigma":
                line = f" = Σ_{_group(label[1])} {text}"
            elif kind == "text":
                line = f" = {label[1]}"
            elif kind == "path":
                line = f"     {label[1] + ':':<{label_width}}  {text} = {num(product)}"
            else:
                line = f"     {label[1]}"
            lines.append((pad if lines else lhs) + line)
        if check:
            lines.append(self.status())
        if width:
            hang = lambda line: " " * max(len(line) - len(line.lstrip()) + 4, len(pad) + 5)  # noqa: E731
            lines = [part for line in lines for part in _fold(line, width, hang(line))]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format(_terminal_width())

    __repr__ = __str__  # the REPL shows the derivation

    def _repr_markdown_(self) -> str:
        """The derivation as a LaTeX ``aligned`` block (Jupyter renders it), notes below it."""
        aligned, notes = [], []
        for label, factors, product in self._layout():
            text = join_factors(factors, TeX)
            kind = label[0] if label else None
            if kind is None:
                aligned.append(f"&= {text}")
            elif kind == "sigma":
                aligned.append(rf"&= \sum_{{{','.join(label[1])}}} {text}")
            elif kind == "text":
                aligned.append(rf"&= \text{{{tex_text(label[1])}}}")
            elif kind == "path":
                lab = rf"\text{{{label[1]}}}" if label[1].startswith("path") else tex(label[1])
                aligned.append(rf"&\qquad {lab}:\quad {text} = {tex_num(product)}")
            else:
                notes.append(f"*{md_escape(label[1])}*  ")
        lhs = tex_partial(name(self.root), name(self.w))
        body = " \\\\\n".join(aligned)
        return "\n".join([f"$$\n\\begin{{aligned}}\n{lhs} {body}\n\\end{{aligned}}\n$$", "", *notes,
                          md_escape(self.status())])

    def _repr_html_(self) -> str:
        """The derivation as MathML (renders with no network, in an exported notebook too), the status below."""
        return f"<div>{self.mathml()}<p>{html.escape(self.status())}</p></div>"

    def mathml(self, total_digits: int = 12) -> str:
        """The derivation as one MathML ``<math>`` block (the rows of :meth:`format`), for pages.

        ``total_digits`` significant digits for the total (12: it reads as ``w.grad``).

        >>> from micrograd_ws import Value
        >>> a = Value(2.0, 'a'); b = a * 3; b.label = 'b'; b.backward()
        >>> explain(b, a).mathml().count('<mtr>'), '<mn>3</mn>' in explain(b, a).mathml()
        (4, True)
        """
        rows = []
        for k, (label, factors, product) in enumerate(self._layout(total_digits)):
            text = join_factors(factors, MathML)
            kind = label[0] if label else None
            if kind is None:
                right = f"<mo>=</mo>{text}"
            elif kind == "sigma":
                right = f"<mo>=</mo><munder><mo>∑</mo><mrow>{mml(','.join(label[1]))}</mrow></munder>{text}"
            elif kind == "text":
                right = f"<mo>=</mo><mtext>{xml_text(label[1])}</mtext>"
            elif kind == "path":
                lab = f"<mtext>{xml_text(label[1])}</mtext>" if label[1].startswith("path") else mml(label[1])
                right = f'<mspace width="2em"></mspace>{lab}<mo>:</mo><mspace width="0.6em"></mspace>{text}' \
                        f"<mo>=</mo>{mml_num(product)}"
            else:
                right = f'<mspace width="2em"></mspace><mtext>{xml_text(label[1])}</mtext>'
            left = mml_partial(name(self.root), name(self.w)) if k == 0 else ""
            rows.append(f"<mtr><mtd>{left}</mtd><mtd>{right}</mtd></mtr>")
        return f'<math display="block"><mtable columnalign="right left">{"".join(rows)}</mtable></math>'


def _terminal_width() -> int | None:
    """The terminal's width when output goes to one (as pandas does), else None: no folding."""
    try:
        return shutil.get_terminal_size().columns - 1 if sys.stdout.isatty() else None
    except (AttributeError, ValueError, OSError):  # stdout replaced or closed
        return None


def _fold(line: str, width: int, indent: str) -> list[str]:
    """Wrap a line between factors, indenting the rest: short groups such as ``2(O − O_des)``,
    ``(C, w, all_paths=True)`` and ``x = y`` stay whole (textwrap does not break at a no-break space)."""
    if len(line) <= width:
        return [line]
    kept, opened = list(line), []
    for k, c in enumerate(line):
        if c == "(":
            opened.append(k)
        elif c == ")" and opened:
            start = opened.pop()
            if k - start <= 24:
                kept[start:k] = [("\u00a0" if ch == " " else ch) for ch in kept[start:k]]
    text = "".join(kept).replace(" = ", "\u00a0=\u00a0")
    wrapped = textwrap.wrap(text, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)
    return [part.replace("\u00a0", " ") for part in wrapped]


def _group(letters: str) -> str:
    return letters if len(letters) == 1 else "{" + ",".join(letters) + "}"


def _zero_note(zero: Sequence[PathTerm], n_terms: int) -> str:
    """One sentence for the paths whose product is 0, naming their zero factors."""
    zero_edges = [{e.symbol: e for e in t.edges if e.local == 0.0} for t in zero]
    shared = [e for sym, e in zero_edges[0].items() if all(sym in z for z in zero_edges[1:])]
    factors: dict[str, Edge] = {}
    for z in ([{shared[0].symbol: shared[0]}] if shared else zero_edges):
        for sym, e in list(z.items())[:1]:  # a path's first zero factor from the root (none: underflow)
            factors.setdefault(sym, e)
    edges = list(factors.values())
    if len(zero) == n_terms:
        head = f"all {n_terms} paths are 0"
    else:
        head = "1 more path is 0" if len(zero) == 1 else f"{len(zero)} more paths are 0"
    if not edges:
        return f"{head}: their factors are not 0, but the products are too small for a float (underflow)"
    if len(edges) <= 2:
        described = "; ".join(_describe_zero(e) for e in edges)
    else:  # many: symbols only
        described = ", ".join(f"{e.symbol} = 0" for e in edges[:4]) + \
            (f" and {len(edges) - 4} more" if len(edges) > 4 else "") + \
            (" (ReLUs that are off)" if all(e.child.op == "relu" for e in edges) else "")
    return f"{head}, through the zero factor{'s' if len(edges) > 1 else ''} {described}"


def _describe_zero(e: Edge) -> str:
    text = f"{e.symbol} = 0"
    if e.child.op == "relu":
        text += f" (the ReLU {name(e.child)} is off: {name(e.parent)} = {num(e.parent.data)} ≤ 0)"
    return text
