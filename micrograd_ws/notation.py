"""The handout's notation: how nodes, partial derivatives, local derivatives and numbers are written.

One place for the names every reader of a graph shows (explain, the pictures, the
explorer, the stepped backward pass): a node by its label or a short expression of its
parents (:func:`name`), ``∂top/∂bottom`` (:func:`partial`), what a local derivative is
per op (:func:`local_formula`), numbers to 4 or 12 significant digits (:func:`num`,
:func:`exact`), and the hint of every look-up by name (:func:`did_you_mean`).

>>> from micrograd_ws import Value
>>> a = Value(2.0, 'a'); b = a * 3; b.label = 'b'
>>> partial(name(b), name(a)), local_formula(b, 0), num(2 / 3), exact(2 / 3)
('∂b/∂a', '3', '0.6667', '0.666666666667')
"""
from __future__ import annotations

import re
from difflib import SequenceMatcher, get_close_matches
from typing import TYPE_CHECKING, Iterable, Sequence

from .checks import NumberLabel

if TYPE_CHECKING:
    from .engine import Value

__all__ = ["num", "exact", "product", "name", "printable", "expression", "partial", "wrap", "local_formula",
           "suggest_labels", "did_you_mean"]


# --- numbers ------------------------------------------------------------------------------

def num(x: float, digits: int = 4) -> str:
    """A number for reading, 4 significant digits (the objects keep the exact floats)."""
    s = f"{x:.{digits}g}"
    return "0" if s == "-0" else s


def exact(x: float) -> str:
    """A gradient to 12 significant digits (``w.grad`` to 1e-12 relative)."""
    return num(x, 12)


def product(xs: Sequence[float]) -> str:
    """``a · b · (-c)``: negative factors after the first in parentheses."""
    return " · ".join(num(x) if k == 0 or x >= 0 else f"({num(x)})" for k, x in enumerate(xs))


# --- names --------------------------------------------------------------------------------

def name(v: Value, depth: int = 2) -> str:
    """A node's name: its label, or a short expression of its parents.

    A number in an expression (the ``3`` of ``a * 3``) is labelled with itself; a Value
    you made without a label reads ``Value(2)``, never a bare number that would look
    like a constant.  Parts deeper than ``depth`` read ``…``, an operation with many
    inputs by its op (label a node to give it a name of your own).

    >>> from micrograd_ws import Value
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
        return printable(v.label)
    return expression(v, depth)


LONGEST = 120  # characters of a label that pictures, pages and explanations show


def printable(text: str, limit: int = LONGEST) -> str:
    """``text`` as pictures, pages and figures can show it: a lone surrogate (a file name's undecodable
    byte, ``'\\udcff'``) becomes U+FFFD, and past ``limit`` characters the middle gives way to
    ``…`` and the count (a label of 8,000 characters would be a picture Graphviz refuses).

    >>> printable('d\\udcff.csv'), printable('w' * 200, 30)
    ('d\ufffd.csv', 'wwwwwwwwwwwww…(200 characters)')
    """
    if not text.isascii():
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if len(text) > limit:
        tail = f"…({len(text)} characters)"
        text = text[:max(1, limit - len(tail))] + tail
    return text


def expression(v: Value, depth: int = 2) -> str:
    """What computed ``v``, from its parents' names, whatever its label: ``expression(z)`` is ``a·3``.

    >>> from micrograd_ws import Value
    >>> a = Value(2.0, 'a'); z = a * 3; z.label = 'z'
    >>> expression(z), expression(a)
    ('a·3', '2')
    """
    if not v.parents:
        # a number, or a labelled leaf's value; a Value made without a label reads Value(2)
        return f"{v.data:g}" if v.label or type(v.label) is NumberLabel else f"Value({v.data:g})"
    if depth == 0:
        return "…"
    if len(v.parents) > 2:
        return f"{v.op}(…)" if v.op.isidentifier() else v.op
    args = [name(p, depth - 1) for p in v.parents]
    if v.op in ("+", "-", "*", "/") and len(args) == 2:
        a, b = (wrap(x) if v.op != "+" else x for x in args)
        return f"{a} {v.op} {b}" if v.op in "+-" else f"{a}{'·' if v.op == '*' else '/'}{b}"
    if v.op == "neg":
        return f"−{wrap(args[0])}"
    if v.op.startswith("**"):
        return f"{wrap(args[0])}^{wrap(args[1]) if len(args) == 2 else v.op[2:]}"
    return f"{v.op}({', '.join(args)})"


def partial(top: str, bottom: str) -> str:
    """``∂top/∂bottom``, bracketing expression names: ``partial('C', 'a·b + c')`` is ``∂C/∂(a·b + c)``."""
    return f"∂{wrap(top)}/∂{wrap(bottom)}"


def wrap(s: str) -> str:
    """A name in parentheses when it has spaces (``a·b + c``), as a factor or a base."""
    return f"({s})" if " " in s else s


def local_formula(c: Value, i: int) -> str:
    """What the local derivative ∂c/∂c.parents[i] is, as the handout writes it: ``H1[7]``, ``2(O − O_des)``."""
    op, ps = c.op, c.parents
    arg = name(ps[i])  # inside f(…) as it is; as a factor or a base in parentheses if it has spaces
    x = wrap(arg)
    if op == "+":
        return "1"
    if op == "-":
        return "1" if i == 0 else "−1"
    if op == "neg":
        return "−1"
    if op == "*":
        return name(ps[1 - i])
    if op == "/":
        a, b = wrap(name(ps[0])), wrap(name(ps[1]))
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
        a, b = wrap(name(ps[0])), wrap(name(ps[1]))
        return f"{b}·{a}^({b} − 1)" if i == 0 else f"{a}^{b}·ln {a}"
    simple = {"exp": f"exp({arg})", "log": f"1/{x}", "tanh": f"1 − tanh²({arg})",
              "sigmoid": f"σ({arg})(1 − σ({arg}))", "mean": f"1/{len(ps)}"}
    if op in simple:
        return simple[op]
    return f"∂{op}/∂arg{i + 1}" if len(ps) > 1 else f"{op}′({arg})"


# --- look-up by name: what the user most likely meant ---------------------------------------

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
