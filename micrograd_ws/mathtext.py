"""Writing an explanation's rows: plain text, LaTeX (Jupyter) and MathML (the explorer page).

A row is a list of factors: ``("sym", top, bottom)`` for ∂top/∂bottom, ``("formula", text)``,
``("num", x)`` (or ``("num", x, digits)``), ``("sum", [x, ...])``, and ``("eq",)`` between
the parts of a row.  :func:`join_factors` writes one in a style (:class:`Plain`,
:class:`TeX`, :class:`MathML`); :func:`tex` and :func:`mml` write any name or handout
formula (``w2[3][7]``, ``2(O − O_des)``) as maths.

>>> join_factors([("sym", "C", "O"), ("formula", "2(O − O_des)"), ("num", -0.5)], Plain)
'∂C/∂O · 2(O − O_des) · (-0.5)'
>>> tex("w2[3][7]"), tex("O_des")
('w_{2}[3][7]', 'O_{\\\\mathrm{des}}')
"""
from __future__ import annotations

import functools
import html
import re

from .notation import num, partial, wrap

__all__ = ["Plain", "TeX", "MathML", "join_factors", "tex", "tex_num", "tex_partial", "tex_text", "md_escape",
           "xml_text", "mml", "mml_num", "mml_partial"]


def _has_top_level_sum(formula: str) -> bool:
    """``1 − tanh²(x)`` needs parentheses inside a product; ``2(O − O_des)`` does not."""
    depth = 0
    for k, c in enumerate(formula):
        depth += (c == "(") - (c == ")")
        if depth == 0 and c in "+-−" and formula[k - 1:k] == " ":
            return True
    return False


class Plain:
    dot, partial, formula, num = "·", staticmethod(partial), staticmethod(str), staticmethod(num)
    eq, sign, wrap = "=", staticmethod(str), staticmethod("({})".format)


def join_factors(factors, style) -> str:
    """A row's factors joined by the style's dot: ("sym", top, bottom), ("formula", text),
    ("num", x), ("sum", [x, ...]); ("eq",) separates the parts of a row."""
    out: list[str] = []
    for f in factors:
        kind = f[0]
        if kind == "eq":
            out.append(style.eq)
            continue
        if kind == "sym":
            s = style.partial(f[1], f[2])
        elif kind == "formula":
            s = style.formula(f"({f[1]})" if len(factors) > 1 and _has_top_level_sum(f[1]) else f[1])
        elif kind == "sum":
            s = " ".join(style.num(x) if k == 0 else f"{style.sign('-' if x < 0 else '+')} {style.num(abs(x))}"
                         for k, x in enumerate(f[1]))
        else:
            x = f[1]  # ("num", x) or ("num", x, significant digits)
            s = style.num(*f[1:]) if not out or out[-1] == style.eq or x >= 0 else style.wrap(style.num(*f[1:]))
        if out and out[-1] != style.eq:
            out.append(style.dot)
        out.append(s)
    return " ".join(out)


# --- LaTeX, for Jupyter ---------------------------------------------------------------

_TEX_WORDS = {"tanh": r"\tanh", "exp": r"\exp", "log": r"\log", "ln": r"\ln", "max": r"\max"}
_TEX_CHARS = {
    "·": r"\cdot", "−": "-", "²": "^{2}", "σ": r"\sigma", "∂": r"\partial", "′": "'", "Σ": r"\sum",
    "×": r"\times", "≤": r"\le", "…": r"\ldots", "#": r"\#", "$": r"\$", "%": r"\%", "&": r"\&",
    "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\sim", "\\": r"\backslash",
}
_TEX_SAFE = set("()[]+-/=,.;:!?'|<>*@0123456789")
_TOKEN = re.compile(r"(?P<num>\d+(?:\.\d+)?(?:e[+-]?\d+)?)|(?P<word>[A-Za-z][A-Za-z0-9_]*)|(?P<ch>\S)")


def tex(s: str) -> str:
    """Any name or handout formula as LaTeX math: ``w2[3][7]`` → ``w_{2}[3][7]``; specials escaped."""
    return _tex_join(_tex_tokens(list(_TOKEN.finditer(s))))


def _tex_join(parts: list[str]) -> str:
    """Concatenate, with a space only where a command or letter would run into a letter."""
    out = ""
    for p in parts:
        out += " " + p if out and out[-1].isalpha() and p[:1].isalpha() else p
    return out


def _exponent(tokens, k: int):
    """The tokens of an exponent starting at ``tokens[k]`` (a (group), a signed atom or one atom),
    and the index after it."""
    end = k
    if end < len(tokens) and tokens[end].group() == "(":
        depth = 0
        for end in range(k, len(tokens)):
            depth += {"(": 1, ")": -1}.get(tokens[end].group(), 0)
            if depth == 0:
                break
        return tokens[k + 1:end], end + 1
    if end < len(tokens) and tokens[end].group() in "-−":
        end += 1
    return tokens[k:end + 1], end + 1


def _tex_tokens(tokens) -> list[str]:
    out: list[str] = []
    k = 0
    while k < len(tokens):
        m = tokens[k]
        k += 1
        if m.group() == "^":
            inner, k = _exponent(tokens, k)
            # a second superscript in a row (a label with ^ or ²) goes on an empty base
            base = "{}" if out and out[-1].startswith(("^", "{}^")) else ""
            out.append(base + "^{" + _tex_join(_tex_tokens(inner)) + "}")
        elif m.lastgroup == "num":
            out.append(_tex_number_text(m.group()))
        elif m.lastgroup == "word":
            out.append(_tex_word(m.group()))
        else:
            c = m.group()
            tex = _TEX_CHARS.get(c, c if c in _TEX_SAFE else rf"\text{{{c}}}")
            out.append("{}" + tex if tex.startswith("^") and out and out[-1].startswith(("^", "{}^")) else tex)
    return out


def _tex_word(word: str) -> str:
    r"""``w2`` → ``w_{2}``, ``O_des`` → ``O_{\mathrm{des}}``, ``tanh`` → ``\tanh``, ``input`` → ``\mathrm{input}``."""
    if word in _TEX_WORDS:
        return _TEX_WORDS[word]
    base, _, sub = word.partition("_")
    if sub and "_" not in sub:
        return rf"{_tex_word(base)}_{{\mathrm{{{sub}}}}}"
    m = re.fullmatch(r"([A-Za-z]+)(\d*)", word)
    if m is None:
        return rf"\mathrm{{{word.replace('_', _TEX_CHARS['_'])}}}"
    letters, digits = m.groups()
    head = letters if len(letters) == 1 else rf"\mathrm{{{letters}}}"
    return head + (f"_{{{digits}}}" if digits else "")


def _tex_number_text(s: str) -> str:
    mantissa, _, exponent = s.partition("e")
    return f"{mantissa} \\times 10^{{{int(exponent)}}}" if exponent else mantissa


def tex_num(x: float, digits: int = 4) -> str:
    s = num(x, digits)
    return "-" + _tex_number_text(s[1:]) if s.startswith("-") else _tex_number_text(s)


def tex_partial(top: str, bottom: str) -> str:
    return rf"\frac{{\partial {tex(wrap(top))}}}{{\partial {tex(wrap(bottom))}}}"


def tex_text(s: str) -> str:
    return "".join(_TEX_CHARS.get(c, c) if c in "#$%&_{}~\\" else c for c in s)


class TeX(Plain):
    dot, partial, formula, num = r"\cdot", staticmethod(tex_partial), staticmethod(tex), staticmethod(tex_num)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>$~&])")


def md_escape(s: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", s)


# --- MathML, for the explorer page (browsers typeset it natively) ------------------------

@functools.lru_cache(maxsize=1 << 16)  # names and formulas repeat across the parameters of a page
def xml_text(s: str) -> str:
    """Text for HTML/MathML: escaped, control characters as Python escapes (never markup)."""
    return html.escape("".join(c if c.isprintable() or c == " " else ascii(c)[1:-1] for c in s), quote=True)


_MML_WORDS = {"tanh", "exp", "log", "ln", "max", "relu"}


@functools.lru_cache(maxsize=1 << 16)
def mml(s: str) -> str:
    """Any name or handout formula as MathML: ``w2[3][7]`` → w with subscript 2, then [3][7]."""
    return "".join(_mml_tokens(list(_TOKEN.finditer(s))))


def _mml_tokens(tokens) -> list[str]:
    out: list[str] = []
    k = 0
    while k < len(tokens):
        m = tokens[k]
        k += 1
        c = m.group()
        if c in ("^", "²"):  # the exponent: a (group), a signed atom or one atom; ² is ^2
            if c == "²":
                exponent = "<mn>2</mn>"
            else:
                inner, k = _exponent(tokens, k)
                exponent = "".join(_mml_tokens(inner))
            base = out.pop() if out else "<mrow></mrow>"
            out.append(f"<msup>{base}<mrow>{exponent}</mrow></msup>")
        elif m.lastgroup == "num":
            out.append(_mml_number(c))
        elif m.lastgroup == "word":
            out.append(_mml_word(c))
        else:
            out.append(f"<mi>{xml_text(c)}</mi>" if c.isalpha() else f"<mo>{xml_text(c)}</mo>")
    return out


def _mml_word(word: str) -> str:
    """``w2`` → w₂, ``O_des`` → O with subscript des; words such as ``tanh`` upright."""
    if word in _MML_WORDS:
        return f"<mi>{word}</mi>"
    base, _, sub = word.partition("_")
    if sub and "_" not in sub:
        return f"<msub>{_mml_word(base)}<mi>{xml_text(sub)}</mi></msub>"
    m = re.fullmatch(r"([A-Za-z]+)(\d+)", word)
    if m:
        return f"<msub><mi>{m.group(1)}</mi><mn>{m.group(2)}</mn></msub>"
    return f"<mi>{xml_text(word)}</mi>"


def _mml_number(s: str) -> str:
    mantissa, _, exponent = s.partition("e")
    if not exponent:
        return f"<mn>{mantissa}</mn>"
    return f"<mrow><mn>{mantissa}</mn><mo>×</mo><msup><mn>10</mn><mn>{int(exponent)}</mn></msup></mrow>"


def mml_num(x: float, digits: int = 4) -> str:
    s = num(x, digits)
    return f"<mrow><mo>-</mo>{_mml_number(s[1:])}</mrow>" if s.startswith("-") else _mml_number(s)


def mml_partial(top: str, bottom: str) -> str:
    return (f"<mfrac><mrow><mo>∂</mo>{mml(wrap(top))}</mrow>"
            f"<mrow><mo>∂</mo>{mml(wrap(bottom))}</mrow></mfrac>")


class MathML(Plain):
    dot, partial, formula, num, eq = "<mo>·</mo>", staticmethod(mml_partial), staticmethod(mml), \
        staticmethod(mml_num), "<mo>=</mo>"
    sign, wrap = staticmethod("<mo>{}</mo>".format), staticmethod("<mrow><mo>(</mo>{}<mo>)</mo></mrow>".format)
