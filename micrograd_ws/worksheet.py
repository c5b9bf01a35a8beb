"""Worksheets on paper: the handout with the learner's numbers and a blank for every factor, and its key.

:func:`worksheet_html` writes one printable page (print CSS, A4) for a seed: the two-neuron
model, then the two-hidden-layer net with h neurons per layer (2 by default, so every product
fits on paper).  The sheet gives the numbers of :class:`micrograd_ws.exercises.HandoutExercise`
and, for each ∂C/∂w, the factors by name and formula with a blank under each; the key
(``key=True``) fills in every factor, product, sum and new weight.  The sheet holds no answer:
a ReLU's derivative is written "0 or 1", never the value, and the checks it carries are the
salted hashes of :meth:`~micrograd_ws.exercises.HandoutExercise.key`.

>>> page = worksheet_html("ada")
>>> page.count('<span class="blank') > 100, "KEY" in page, "KEY" in worksheet_html("ada", key=True)
(True, False, True)
"""
from __future__ import annotations

import html
import json

from .diagnose import update_digits
from .exercises import HandoutExercise
from .explain import explain
from .handout import ALPHA
from .notation import num

__all__ = ["worksheet_html", "MAX_SHEET_HIDDEN"]

MAX_SHEET_HIDDEN = 4  # beyond, the products of ∂C/∂w1[k] have too many terms for paper

_CSS = """
:root { --ink: #111; --soft: #555; --line: #222; --key: #0b5394; }
* { box-sizing: border-box; }
body { font: 11pt/1.45 "DejaVu Serif", Georgia, serif; color: var(--ink); max-width: 190mm; margin: 12mm auto;
       padding: 0 6mm; }
h1 { font-size: 18pt; margin: 0 0 2mm; } h2 { font-size: 14pt; margin: 7mm 0 2mm; border-bottom: 1.5px solid var(--line); }
h3 { font-size: 11.5pt; margin: 4mm 0 1mm; }
.meta { color: var(--soft); font-size: 9.5pt; margin-bottom: 3mm; }
.given { border-collapse: collapse; margin: 1mm 0 2mm; font-size: 10pt; }
.given td, .given th { border: 1px solid #999; padding: 1px 6px; text-align: left; font-family: "DejaVu Sans Mono", monospace; }
.row { margin: 1.2mm 0; break-inside: avoid; }
.product { display: flex; flex-wrap: wrap; gap: 1mm 2.5mm; align-items: flex-end; margin: 1mm 0 3mm 4mm;
           break-inside: avoid; }
.factor { display: flex; flex-direction: column; align-items: center; font-size: 10pt; }
.factor .sym { font-family: "DejaVu Sans Mono", monospace; font-size: 7.5pt; color: var(--soft); }
.factor .formula { font-style: italic; }
.op { align-self: end; padding-bottom: 1mm; }
.blank { display: inline-block; min-width: 15mm; height: 6.5mm; border-bottom: 1.2px solid var(--line);
         text-align: center; font-family: "DejaVu Sans Mono", monospace; vertical-align: bottom; }
.wide { min-width: 21mm; }
.filled { color: var(--key); font-weight: bold; }
.banner { float: right; border: 2px solid var(--key); color: var(--key); padding: 1mm 4mm; font-weight: bold;
          letter-spacing: 1px; }
.term { color: var(--soft); font-size: 9.5pt; margin-left: 4mm; }
.note { font-size: 9.5pt; color: var(--soft); }
section.model { break-inside: auto; }
section.model + section.model { break-before: page; }
@page { size: A4; margin: 12mm; }
@media print {
  body { margin: 0 auto; padding: 0; max-width: none; }
  .filled { color: #000; }
  .banner { border-color: #000; color: #000; }
  h2 { break-after: avoid; } h3 { break-after: avoid; }
}
"""


def _blank(value: float | None, key: bool, wide: bool = False, digits: int = 4) -> str:
    cls = "blank" + (" wide" if wide else "")
    if key and value is not None:
        return f'<span class="{cls} filled">{html.escape(num(value, digits))}</span>'
    return f'<span class="{cls}"></span>'


def _given(ex: HandoutExercise) -> str:
    cells = []
    for k, v in ex.numbers.items():
        shown = json.dumps(v).replace(", ", ", ") if isinstance(v, list) else num(v)
        cells.append(f"<tr><th>{html.escape(k)}</th><td>{html.escape(shown)}</td></tr>")
    return f'<table class="given">{"".join(cells)}</table>'


def _formula(e) -> str:
    """A factor's formula for the sheet: a ReLU's derivative as "0 or 1", never its value."""
    return "0 or 1" if e.child.op == "relu" else e.formula


def _product(edges, key: bool) -> str:
    parts = []
    for k, e in enumerate(edges):
        if k:
            parts.append('<span class="op">·</span>')
        parts.append(f'<span class="factor"><span class="sym">{html.escape(e.symbol)}</span>'
                     f'<span class="formula">{html.escape(_formula(e))}</span>{_blank(e.local, key)}</span>')
    return "".join(parts)


def _model(ex: HandoutExercise, title: str, key: bool) -> str:
    out = [f'<section class="model"><h2>{html.escape(title)}</h2>', "<h3>Your numbers</h3>", _given(ex)]
    out.append("<h3>① Forward propagation</h3>")
    for q in ex.questions:
        if q.kind == "value":
            node = ex.diagnoser.node(q.target)
            formula = _forward_formula(node)
            out.append(f'<div class="row">{html.escape(q.id)} = {html.escape(formula)} = '
                       f'{_blank(node.data, key, True)}</div>')
    out.append("<h3>② Backward propagation: ∂C/∂w, factor by factor</h3>")
    out.append('<p class="note">Under each factor write its number; multiply along each line; add the lines '
               "of a sum.</p>")
    for q in ex.questions:
        if q.kind != "gradient":
            continue
        e = explain(ex.C, q.target, all_paths=True)
        out.append(f'<div class="row"><b>{html.escape(q.id)}</b></div>')
        if len(e.paths) == 1:
            p = e.paths[0]
            out.append(f'<div class="product">{_product(p.edges, key)}<span class="op">=</span>'
                       f'<span class="factor"><span class="sym">∂C/∂{html.escape(q.target)}</span>'
                       f'<span class="formula">&nbsp;</span>{_blank(e.total, key, True)}</span></div>')
        else:
            for n, p in enumerate(e.paths):
                through = p.edges[-3].child.label if len(p.edges) >= 3 else f"path {n + 1}"
                out.append(f'<div class="term">term through {html.escape(through)}</div>'
                           f'<div class="product">{_product(p.edges, key)}<span class="op">=</span>'
                           f'<span class="factor"><span class="sym">term</span><span class="formula">&nbsp;</span>'
                           f'{_blank(p.product, key, True)}</span></div>')
            out.append(f'<div class="row term">sum of the {len(e.paths)} terms: {html.escape(q.id)} = '
                       f'{_blank(e.total, key, True)}</div>')
    out.append(f"<h3>③ Update weights &amp; biases (α = {ALPHA})</h3>")
    out.append('<p class="note">A new weight is checked on its step α·∂C/∂w, which is small beside the weight: '
               "write it with the digits that show the step to 4 significant digits (0.6 − 0.002243 = "
               "0.597757, not 0.5978).</p>")
    for q in ex.questions:
        if q.kind == "update":
            w = ex.params[q.target]
            t = html.escape(q.target)
            new = w.data - ALPHA * w.grad
            out.append(f'<div class="row">new {t} = {t} − α·∂C/∂{t} = {num(w.data)} − {ALPHA}·('
                       f'{_blank(w.grad, key, True)}) = {_blank(new, key, True, update_digits(w.data, new))}</div>')
    out.append("</section>")
    return "\n".join(out)


def _forward_formula(node) -> str:
    label = node.label
    if node.op == "relu":
        return f"max(0, {node.parents[0].label})"
    if node.op == "(O-O_des)²":
        return "(O − O_des)²"
    if node.op == "w·x+b":
        n = (len(node.parents) - 1) // 2
        terms = [f"{node.parents[k].label}·{node.parents[k + n].label}" for k in range(n)]
        return " + ".join(terms + [node.parents[-1].label])
    return label


def worksheet_html(seed, *, hidden: int = 2, key: bool = False) -> str:
    """The printable worksheet (or, ``key=True``, its key) for one seed: a name or a number."""
    if isinstance(hidden, bool) or not isinstance(hidden, int) or not 1 <= hidden <= MAX_SHEET_HIDDEN:
        raise ValueError(f"a worksheet has 1 to {MAX_SHEET_HIDDEN} hidden neurons per layer (the products of "
                         f"∂C/∂w1[k] have h terms), got {hidden!r}")
    first = HandoutExercise("two_neuron", seed)
    second = HandoutExercise("two_hidden_layers", seed, hidden=hidden)
    who = html.escape(first.seed)
    checks = json.dumps({"two_neuron": first.key(), "two_hidden_layers": second.key()}, ensure_ascii=False)
    banner = '<div class="banner">KEY</div>' if key else ""
    title = f"The handout by hand — {'key for ' if key else ''}seed “{who}”"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>{_CSS}</style></head>
<body>
{banner}<h1>Neural net from scratch, by hand</h1>
<div class="meta">Seed “{who}” · the numbers are yours: the same seed gives the same sheet · write 4 significant
digits; a new weight with the digits that show its step α·∂C/∂w to 4 · α = {ALPHA} · check your answers with <code>HandoutExercise(…, seed={first.seed!r}).check(…)</code></div>
{_model(first, "1. Two neurons: Output = w1·input + b1", key)}
{_model(second, f"2. Two hidden layers of h = {hidden} ReLU neurons", key)}
<script type="application/json" id="answer-checks">{html.escape(checks, quote=False)}</script>
</body></html>
"""
