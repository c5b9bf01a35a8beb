"""Which factor of the chain rule is wrong: a learner's number for ∂C/∂w, read against explain()'s products.

``diagnose(C, w, answer)`` says whether ``answer`` is ∂C/∂w (within :data:`TOLERANCE`) and, if
not, what is wrong with it in the handout's terms.  It rebuilds the products that
:func:`micrograd_ws.explain` writes (one per path from ``w`` up to ``C``) with one thing
changed the way learners change it — a factor's sign, a factor left out or written twice, z
written for H, the ReLU gate forgotten, a path of the sum left out — and looks for the
learner's number among them.

>>> from micrograd_ws import two_neuron, squared_error
>>> model = two_neuron(); model.load_state_dict({'w1': [[0.5]], 'b1': [0.1]})
>>> C = squared_error(model(3.0), 1.0)   # O = 1.6; ∂C/∂w1 = 2(O − O_des) · i = 1.2 · 3 = 3.6
>>> diagnose(C, 'w1', 3.6).right
True
>>> d = diagnose(C, 'w1', 1.2)           # the factor i forgotten
>>> d.kind, d.factor
('missing factor', '∂O/∂w1')
>>> print(d)
∂C/∂w1 = 1.2 is not right: it looks like ∂O/∂w1 = i left out. Check the factor ∂O/∂w1. (d.show() gives the product)
>>> [(d.kind, d.factor) for d in (diagnose(C, 'w1', a) for a in (-3.6, 1.8, 3.7))]
[('sign', '∂C/∂O'), ('missing factor', '∂C/∂O'), ('arithmetic slip', None)]
>>> print(diagnose(C, 'w1', 1.8).show())
∂C/∂w1 = ∂C/∂O · ∂O/∂w1
       = 2(O − O_des) · i
       = 1.2 · 3
       = 3.6

The message points at the factor and never at the number; ``d.show()`` is the full product
(``explain(C, w)``), for when the learner asks for it.

The kinds (:data:`KINDS`): ``right``; ``sign`` (the whole product, or one path of a sum,
negated: ``2(O_des − O)`` for ``2(O − O_des)``); ``missing factor`` (a factor left out, the 2
of ``2(O − O_des)``, a ReLU gate ∂H/∂z that is 0 taken as 1); ``extra factor`` (a factor
written twice, ``i`` multiplied into ∂C/∂b1, α multiplied in); ``wrong factor`` (z written for H,
H for w, ``w2[k][j]`` for ``w2[j][k]``, a gate that is 1 taken as 0, the cost for its
derivative); ``missing paths`` (paths of a sum over j left out, or only some of them added);
``arithmetic slip`` (every factor right, the multiplication off: digits swapped or mistyped,
the decimal point moved, a few per cent off); ``unknown`` (none of these).

``factor`` names the factor concerned by its handout name, ``∂H2[3]/∂z2[3]``; when the same
mistake is made in every term of a sum over j it reads ``∂H2[j]/∂z2[j]``.  An ``arithmetic
slip`` and ``unknown`` name no factor (None).  When a sign flip of any factor would give the
same number, the factor named is ∂C/∂O (``2(O − O_des)``: the order of O and O_des is the sign
learners get wrong); ``factors`` lists every factor whose change gives the number.
"""
from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, Optional, Sequence, Union

from .engine import Value
from .explain import MAX_ENUMERATED, MAX_LISTED, build_explanation
from .handout import ALPHA
from .notation import did_you_mean, exact, name, partial
from .paths import Analysis, Edge, Graph, path_product

__all__ = ["diagnose", "diagnose_factor", "Diagnosis", "Diagnoser", "Candidate", "KINDS", "TOLERANCE", "STEP",
           "SCALE", "cell", "same_number", "as_number", "question_data", "update_digits"]

#: The kinds of answer :func:`diagnose` tells apart, in the order it prefers them when two
#: mistakes give the same number.
KINDS = ("right", "sign", "missing factor", "wrong factor", "extra factor", "missing paths", "arithmetic slip",
         "unknown")

#: Answers are compared on a grid: ``cell(x) = round(asinh(x / SCALE) / STEP)``, cells of
#: 0.1% relative width for |x| above SCALE, of width STEP·SCALE = 1e-7 around 0.  An answer is
#: right when its cell is the right one's or a neighbour (the hashed checks of
#: :mod:`micrograd_ws.exercises` accept the same cells).
STEP = 1e-3
SCALE = 1e-4
#: The stated tolerance, in words.
TOLERANCE = ("right within 0.1% (always accepted) and never beyond 0.2% (never accepted), of the number's size; "
             "near 0, within 1e-7: give 4 significant digits")

_BASE_RANK = {"sign": 0, "missing factor": 1, "wrong factor": 2, "extra factor": 3, "missing paths": 4}
_EXACT = 1e-9  # relative: a candidate within this of the answer is the mistake itself, not a near miss


def cell(x: float) -> int:
    """The grid cell of a number (see :data:`STEP`): neighbours are within 0.1–0.2% of each other.

    >>> cell(1.0) - cell(1.001), cell(0.0), cell(-2.5) == -cell(2.5)
    (-1, 0, True)
    """
    return round(math.asinh(x / SCALE) / STEP)


def same_number(answer: float, truth: float) -> bool:
    """Is ``answer`` ``truth`` within :data:`TOLERANCE` (the same cell or a neighbour)?

    >>> same_number(0.9358, 0.935812), same_number(0.9385, 0.935812), same_number(0.0, 1e-12)
    (True, False, True)
    """
    return abs(cell(answer) - cell(truth)) <= 1


def as_number(answer: object, what: str = "answer") -> float:
    """A learner's answer as a float: a number, or a string that reads as one (``'−0.25'``, ``'1e-3'``).

    Anything else raises with what to give instead:

    >>> as_number('−0.25'), as_number(3)
    (-0.25, 3.0)
    >>> as_number('0,25')
    Traceback (most recent call last):
    ...
    ValueError: answer: '0,25' is not a number: write the decimal point as a point, 0.25
    """
    if isinstance(answer, bool) or answer is None:
        raise TypeError(f"{what}: expected a number such as 0.25, got {answer!r}")
    if isinstance(answer, Value):
        raise TypeError(f"{what}: expected a plain number such as 0.25, got a Value; give its .data or .grad")
    if isinstance(answer, numbers.Real):
        x = float(answer)
    elif isinstance(answer, str):
        text = answer.strip().replace("−", "-").replace("–", "-").replace(" ", "")
        if "_" in text:  # (float() reads 1_45 as 145: a digit grouping no learner means in an answer)
            raise ValueError(f"{what}: {answer!r} is not a number: write it with digits and a decimal point only, "
                             "such as 0.25")
        if re.fullmatch(r"[-+]?\d+,\d+", text):
            raise ValueError(f"{what}: {answer!r} is not a number: write the decimal point as a point, "
                             f"{text.replace(',', '.')}")
        try:
            x = float(text)
        except ValueError:
            raise ValueError(f"{what}: {answer!r} is not a number; give a number such as 0.25 or -1.5e-3") from None
    else:
        raise TypeError(f"{what}: expected a number such as 0.25, got {type(answer).__name__} {answer!r}")
    if not math.isfinite(x):
        raise ValueError(f"{what}: {answer!r} is not a finite number")
    return x


@dataclass(frozen=True)
class Candidate:
    """A wrong number a learner could write for a question, and what they would have done.

    ``kind`` is one of :data:`KINDS`, ``factor`` the handout name of the factor concerned,
    ``detail`` what was changed (in words, no numbers), ``value`` the number that results,
    ``rank`` the order of preference among candidates giving the same number, ``tie`` among
    those of the same rank (lower first: the factor nearer the weight).
    """

    kind: str
    factor: Optional[str]
    detail: str
    value: float
    rank: float = 0.0
    tie: int = 0

    def as_dict(self) -> dict:
        return {"kind": self.kind, "factor": self.factor, "detail": self.detail, "value": self.value}


@dataclass
class Diagnosis:
    """What :func:`diagnose` found.  ``str(d)`` is the message; ``d.show()`` gives the number away.

    ``right``: the answer is right within :data:`TOLERANCE`; ``kind``: one of :data:`KINDS`;
    ``factor``: the handout name of the factor concerned (None when right, for a slip, or unknown);
    ``factors``: every factor whose change gives the same number; ``detail``: what seems to
    have happened; ``message``: all of it in a sentence, without the right number.
    """

    question: str
    answer: float
    right: bool
    kind: str
    factor: Optional[str]
    message: str
    detail: str = ""
    factors: tuple = ()
    _show: Callable[[], object] = field(default=lambda: None, repr=False, compare=False)

    def show(self):
        """The right number and how it is made, as text: the full product (``explain(C, w)``) — "show me"."""
        return self._show()

    def as_dict(self) -> dict:
        """JSON-able, without the right number (for progress files and pages)."""
        return {"question": self.question, "answer": self.answer, "right": self.right, "kind": self.kind,
                "factor": self.factor, "factors": list(self.factors), "detail": self.detail, "message": self.message}

    def __str__(self) -> str:
        return self.message

    def _repr_markdown_(self) -> str:
        return ("✅ " if self.right else "❌ ") + self.message


# --- what a learner changes in one factor ---------------------------------------------------

def _edge_alternatives(e: Edge, by_label: dict) -> list[tuple[str, str, str, float]]:
    """The wrong values a learner writes for one factor: (key, kind, detail, value)."""
    c, p, local = e.child, e.parent, e.local
    sym = e.symbol
    out: list[tuple[str, str, str, float]] = []
    if c.op == "(O-O_des)²" and e.index == 0:
        o = name(p)
        out.append(("half", "missing factor", f"the 2 of {sym} = 2({o} − O_des) left out", local / 2))
        out.append(("drop", "missing factor", f"{sym} = 2({o} − O_des) left out", 1.0))
        out.append(("cost", "wrong factor", f"the cost ({o} − O_des)² written for its derivative {sym} = "
                                            f"2({o} − O_des)", (local / 2) ** 2))
        out.append(("twoO", "wrong factor", f"2·{o} written for {sym} = 2({o} − O_des): O_des left out",
                    2 * p.data))
        out.append(("double", "extra factor", f"{sym} doubled: 4({o} − O_des) for 2({o} − O_des)", 2 * local))
        return out
    if c.op == "relu":
        z, H = name(p), name(c)
        if local == 0.0:
            out.append(("drop", "missing factor", f"the ReLU gate {sym} left out: it is 0 where {z} ≤ 0, "
                                                  "1 elsewhere", 1.0))
        else:
            out.append(("gate_off", "wrong factor", f"{sym} taken as 0, but the ReLU is on ({z} > 0), so it is 1",
                        0.0))
        out.append(("z_for_gate", "wrong factor", f"{z} written for {sym}: the ReLU's derivative is 0 or 1, "
                                                  f"not {z}", p.data))
        out.append(("H_for_gate", "wrong factor", f"{H} written for {sym}: the ReLU's derivative is 0 or 1, "
                                                  f"not {H}", c.data))
        return out
    other = _other_factor(c, e.index)
    if other is not None:
        role, a = other  # role: what p is (weight, input, bias); a: the node whose value is the local
        if role == "weight":  # local = a, the input it multiplies (H1[k], H2[j], i)
            if a.op == "relu":
                out.append(("z_for_H", "wrong factor", f"{name(a.parents[0])} written for {name(a)} in {sym}: "
                                                       "the ReLU's output H, not its input z", a.parents[0].data))
            out.append(("w_for_a", "wrong factor", f"{name(p)} written for {name(a)} in {sym}: ∂z/∂w is the "
                                                   "input the weight multiplies", p.data))
        elif role == "input":  # local = a, the weight (w3[j], w2[j][k])
            out.append(("a_for_w", "wrong factor", f"{name(p)} written for {name(a)} in {sym}: ∂z/∂H is the "
                                                   "weight, not H", p.data))
            t = _transposed(a, by_label)
            if t is not None and t is not a:
                out.append(("transposed", "wrong factor", f"{name(t)} written for {name(a)} in {sym}: the "
                                                          "indices swapped", t.data))
        elif role == "bias":  # local = 1; a: an input of the same neuron (each one, in a layer)
            n = (len(c.parents) - 1) // 2 if c.op == "w·x+b" else 1
            for q, a in enumerate(c.parents[n:2 * n] if c.op == "w·x+b" else (a,)):
                out.append((f"bias_input{q}", "extra factor", f"{sym} is 1 ({name(p)} is added), but it was "
                                                              f"multiplied by {name(a)} as if it were a weight", a.data))
    if local != 1.0 and not any(k == "drop" for k, *_ in out):
        out.append(("drop", "missing factor", f"{sym} = {e.formula} left out", 1.0))
    if local not in (0.0, 1.0, -1.0):
        out.append(("square", "extra factor", f"{sym} = {e.formula} written twice", local * local))
    return out


def _other_factor(c: Value, i: int):
    """For a weighted sum (or a product) c, what its parent i is and the node its local derivative reads."""
    ps = c.parents
    if c.op == "w·x+b":
        n = (len(ps) - 1) // 2
        if i < n:
            return "weight", ps[i + n]
        if i < 2 * n:
            return "input", ps[i - n]
        return "bias", ps[n]
    if c.op == "*" and len(ps) == 2:
        p, q = ps[i], ps[1 - i]
        return ("weight", q) if p.label[:1] == "w" else ("input", q) if q.label[:1] == "w" else None
    return None


_TWO = re.compile(r"\A(\w+)\[(\d+)\]\[(\d+)\]\Z")


def _transposed(w: Value, by_label: dict) -> Value | None:
    m = _TWO.match(w.label or "")
    if not m or m.group(2) == m.group(3):
        return None
    return by_label.get(f"{m.group(1)}[{m.group(3)}][{m.group(2)}]")


_INDEX = re.compile(r"\[(\d+)\]")


def _template(symbols: Sequence[str]) -> str:
    """One name for the same factor in every term of a sum: the indices that vary become j, k, …

    >>> _template(['∂H2[0]/∂z2[0]', '∂H2[1]/∂z2[1]']), _template(['∂z2[0]/∂H1[3]', '∂z2[1]/∂H1[3]'])
    ('∂H2[j]/∂z2[j]', '∂z2[j]/∂H1[3]')
    """
    if len(set(symbols)) == 1:
        return symbols[0]
    parts = [_INDEX.split(s) for s in symbols]
    if len({tuple(p[0::2]) for p in parts}) != 1:
        return symbols[0] + " (and the same factor in the other terms)"
    letters: dict[tuple, str] = {}
    out = list(parts[0])
    for k in range(1, len(out), 2):
        col = tuple(p[k] for p in parts)
        if len(set(col)) > 1:
            letters.setdefault(col, "jkmnpqrs"[min(len(letters), 7)])
            out[k] = letters[col]
    return "".join(s if k % 2 == 0 else f"[{s}]" for k, s in enumerate(out))


# --- slips ---------------------------------------------------------------------------------

def _typed(x: float) -> str | None:
    """|x| as the learner typed it, in fixed point (``0.0514``), or None for a long computed float."""
    d = Decimal(repr(abs(x)))
    if len(d.normalize().as_tuple().digits) > 7:
        return None
    return format(d.normalize(), "f")


def _slip(answer: float, truth: float) -> str | None:
    """What kind of arithmetic slip turns ``truth`` into ``answer``, if one plausibly does."""
    if truth == 0.0 or answer == 0.0 or (answer > 0) != (truth > 0):
        return None
    ratio = answer / truth
    k = round(math.log10(ratio))
    if k != 0 and same_number(answer, truth * 10.0 ** k):
        return f"the decimal point moved ({'×' if k > 0 else '÷'}{10 ** abs(k)})"
    typed = _typed(answer)
    if typed is not None:
        decimals = len(typed.partition(".")[2])
        want = f"{abs(truth):.{decimals}f}"
        if len(want) == len(typed):  # the point in the same place: compare the digits
            a, b = typed.replace(".", ""), want.replace(".", "")
            diff = [q for q in range(len(a)) if a[q] != b[q]]
            if len(diff) == 1:
                return "one digit of the result mistyped"
            if len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]:
                return "two digits of the result swapped"
        for n in (decimals - 1, decimals + 1):  # a digit dropped or written twice
            if n >= 0:
                want = f"{abs(truth):.{n}f}".replace(".", "")
                bare = typed.replace(".", "")
                if any(bare[:q] + bare[q + 1:] == want for q in range(len(bare))) or \
                        any(want[:q] + want[q + 1:] == bare for q in range(len(want))):
                    return "a digit of the result dropped or written twice"
    if abs(ratio - 1) <= 0.10:
        return f"the product off by about {abs(ratio - 1):.0%}" if abs(ratio - 1) >= 0.01 else \
            "the product off by less than 1%"
    return None


# --- the diagnoser -------------------------------------------------------------------------

_SYMBOL = re.compile(r"\A\s*[∂d]\s*\(?(?P<top>.+?)\)?\s*/\s*[∂d]\s*\(?(?P<bottom>.+?)\)?\s*\Z")


class Diagnoser:
    """Diagnoses many answers about one cost C: its graph is read once.

    >>> from micrograd_ws import two_hidden_layers, squared_error
    >>> net = two_hidden_layers(hidden=4, seed=2)
    >>> C = squared_error(net(0.5), 1.0)
    >>> dx = Diagnoser(C)
    >>> right = C.backward() or net.layers[1].neurons[2].w[1].grad
    >>> dx.diagnose('w2[2][1]', right).right
    True
    """

    def __init__(self, root: Value) -> None:
        if not isinstance(root, Value):
            raise TypeError(f"diagnose: C must be a Value (the cost, e.g. squared_error(net(x), y)), "
                            f"got {type(root).__name__}")
        self.root = root
        self.graph = Graph(root)
        self.by_label: dict[str, Value] = {}
        twice = set()
        for v in self.graph.order:
            if v.label:
                if v.label in self.by_label:
                    twice.add(v.label)
                self.by_label[v.label] = v
        for label in twice:
            del self.by_label[label]
        self._twice = twice

    # --- look-ups ---------------------------------------------------------------------------
    def node(self, w: Union[Value, str], caller: str = "diagnose") -> Value:
        if isinstance(w, Value):
            if w not in self.graph.position:
                raise ValueError(f"{caller}: {name(w)} is not in the graph of {name(self.root)}")
            return w
        if not isinstance(w, str):
            raise TypeError(f"{caller}: w must be a parameter (a Value) or its name such as 'w2[3][1]', "
                            f"got {type(w).__name__} {w!r}")
        label = w.strip()
        if label in self.by_label:
            return self.by_label[label]
        if label in self._twice:
            raise ValueError(f"{caller}: several nodes are named {label!r}; pass the Value itself")
        raise ValueError(f"{caller}: no parameter or node named {w!r} in the graph of {name(self.root)}; "
                         + did_you_mean(label, [v.label for v in self.graph.order]))

    def edge(self, factor: Union[str, tuple], caller: str = "diagnose_factor") -> Edge:
        """The edge of a factor named ``'∂O/∂H2[3]'`` (or ``'dO/dH2[3]'``, or ``('O', 'H2[3]')``)."""
        if isinstance(factor, tuple) and len(factor) == 2:
            top, bottom = factor
        elif isinstance(factor, str) and _SYMBOL.match(factor):
            m = _SYMBOL.match(factor)
            top, bottom = m.group("top"), m.group("bottom")
        else:
            raise ValueError(f"{caller}: a factor is written ∂top/∂bottom, e.g. '∂O/∂H2[3]' (or 'dO/dH2[3]'), "
                             f"got {factor!r}")
        c, p = self.node(top, caller), self.node(bottom, caller)
        for k, q in enumerate(c.parents):
            if q is p:
                return Edge(c, k)
        raise ValueError(f"{caller}: {partial(name(c), name(p))} is not one factor: {name(c)} is not computed "
                         f"directly from {name(p)}; " + did_you_mean(name(p), [name(q) for q in c.parents]))

    # --- candidates -------------------------------------------------------------------------
    def gradient(self, w: Union[Value, str]):
        """(∂C/∂w, the candidates for wrong answers, the explanation maker) for one parameter."""
        w = self.node(w)
        a = Analysis(self.root, w, self.graph)
        show = lambda: build_explanation(self.root, w, False, MAX_LISTED, a).format(check=False)  # noqa: E731
        if not a.nodes:
            return 0.0, [], show, partial(name(self.root), name(w))
        if a.n_paths > MAX_ENUMERATED:
            truth = a.sums.get(self.root, 0.0)
            return truth, self._global(truth, None), show, partial(name(self.root), name(w))
        paths = list(a.paths())
        return (*self._path_candidates(paths), show, partial(name(self.root), name(w)))

    def _global(self, truth: float, first: Optional[str]) -> list[Candidate]:
        factor = first or partial(name(self.root), "…")
        return [Candidate("sign", factor, "the sign of the whole product flipped: 2(O − O_des) has O first, "
                                          "then O_des (and mind the signs of the negative factors)", -truth, 0.0),
                Candidate("extra factor", "α", "α multiplied in: that is the step of the update, α·∂C/∂w, not "
                                               "the gradient", truth * ALPHA, 3.0)]

    def _path_candidates(self, paths: list[tuple[Edge, ...]]) -> tuple[float, list[Candidate]]:
        products = [path_product(p) for p in paths]
        truth = math.fsum(products)
        n = len(paths)
        aligned = len({len(p) for p in paths}) == 1
        length = len(paths[0])
        names = [_template([p[k].symbol for p in paths]) for k in range(length)] if aligned else None
        branch = _branch(paths) if aligned else None
        first = names[0] if aligned and length else (paths[0][0].symbol if paths[0] else None)
        out = self._global(truth, first)
        alts = [[_edge_alternatives(e, self.by_label) for e in p] for p in paths]

        def others(j: int, k: int) -> float:
            g = 1.0
            for m, e in enumerate(paths[j]):
                if m != k:
                    g *= e.local
            return g

        # the same change in every term (or in the one term)
        if aligned:
            for k in range(length):
                keys: dict[str, tuple[str, str]] = {}
                for j in range(n):
                    for key, kind, detail, _ in alts[j][k]:
                        keys.setdefault(key, (kind, detail))
                for key, (kind, detail) in keys.items():
                    total = []
                    for j in range(n):
                        v = next((val for kk, _, _, val in alts[j][k] if kk == key), None)
                        total.append(products[j] if v is None else others(j, k) * v)
                    rank = _BASE_RANK[kind]
                    if names[k] != paths[0][k].symbol:  # varies over j: say it is in every term
                        detail = _every_term(detail, names[k], paths[0][k].symbol)
                        rank += 0.2  # the same slip h times is less likely than once in a shared factor
                    # (tie: the same number from two factors goes to the one nearer the weight, multiplied
                    # last: at i = 2, ∂C/∂O typed again for ∂C/∂w1 is ·i forgotten, not the 2 of 2(O − O_des))
                    out.append(Candidate(kind, names[k], detail, math.fsum(total), rank, length - 1 - k))
        # the change in one term of a sum
        if n > 1:
            for j in range(n):
                for k, e in enumerate(paths[j]):
                    if aligned and names[k] == e.symbol:
                        continue  # a factor shared by every term: changed once, above
                    for key, kind, detail, v in alts[j][k]:
                        if others(j, k) * v == 0.0:
                            continue  # the term made 0: that is the term left out of the sum (below)
                        value = truth - products[j] + others(j, k) * v
                        out.append(Candidate(kind, e.symbol, f"{detail}, in the term through "
                                                             f"{_through(paths[j], branch)}", value,
                                             _BASE_RANK[kind] + 5))  # after a term left out
                if products[j] != 0.0:
                    flip = next((e for e in paths[j] if e.local < 0), paths[j][0])
                    out.append(Candidate("sign", flip.symbol, f"the sign of the term through {_through(paths[j], branch)} "
                                                              f"flipped (check {flip.symbol})",
                                         truth - 2 * products[j], 4.5))
            # paths of the sum left out
            for j in range(n):
                if products[j] == 0.0:
                    continue
                factor = paths[j][branch].symbol if branch is not None else None
                out.append(Candidate("missing paths", factor, f"the term through {_through(paths[j], branch)} left out of "
                                                              "the sum", truth - products[j], 4.0))
                out.append(Candidate("missing paths", factor, f"only the term through {_through(paths[j], branch)} "
                                                              "added: the sum has a term for every path",
                                     products[j], 4.1))
            for m in range(1, n):
                factor = names[branch] if branch is not None else None
                out.append(Candidate("missing paths", factor, f"only the first {m} terms of the sum added "
                                                              f"(of {n})", math.fsum(products[:m]), 4.2))
        self._products = products
        self._paths = paths
        return truth, out

    # --- the verdicts -----------------------------------------------------------------------
    def diagnose(self, w: Union[Value, str], answer: object) -> Diagnosis:
        """Is ``answer`` ∂C/∂w?  If not, which factor is wrong (see :func:`diagnose`)."""
        x = as_number(answer)
        truth, candidates, show, question = self.gradient(w)
        extra = None
        if len(getattr(self, "_paths", ())) > 1:
            extra = lambda: self._pairs(truth, x)  # noqa: E731
        return _verdict(question, x, truth, candidates, show, extra)

    def _pairs(self, truth: float, x: float) -> list[Candidate]:
        """Two terms of the sum left out (looked for only when nothing else fits)."""
        ps, paths = self._products, self._paths
        branch = _branch(paths)
        out = []
        for j in range(len(ps)):
            if ps[j] == 0.0:
                continue
            for k in range(j + 1, len(ps)):
                if ps[k] != 0.0 and same_number(x, truth - ps[j] - ps[k]):
                    out.append(Candidate("missing paths", _template([paths[j][branch].symbol,
                                                                     paths[k][branch].symbol])
                                         if branch is not None else None,
                                         f"the terms through {_through(paths[j], branch)} and {_through(paths[k], branch)} left "
                                         "out of the sum", truth - ps[j] - ps[k], 4.3))
        return out

    def diagnose_factor(self, factor: Union[str, tuple], answer: object) -> Diagnosis:
        """Is ``answer`` the local derivative ``factor`` (``'∂O/∂H2[3]'``)?  If not, what was written for it."""
        e = self.edge(factor)
        x = as_number(answer)
        sym = e.symbol
        candidates = [Candidate("sign", sym, f"the sign of {sym} = {e.formula} flipped", -e.local, 0.0)]
        for key, kind, detail, v in _edge_alternatives(e, self.by_label):
            if key in ("drop", "square", "double"):
                continue  # as one factor: "left out" or "twice" means nothing
            candidates.append(Candidate(kind, sym, detail, v, _BASE_RANK[kind]))
        show = lambda: f"{sym} = {e.formula} = {exact(e.local)}"  # noqa: E731
        return _verdict(sym, x, e.local, candidates, show)

    def diagnose_value(self, v: Union[Value, str], answer: object) -> Diagnosis:
        """Is ``answer`` the forward value of ``v`` (``'H1[2]'``, ``'O'``, ``'C'``)?"""
        node = self.node(v, "diagnose_value")
        x = as_number(answer)
        nm = name(node)
        candidates = [Candidate("sign", nm, f"the sign of {nm} flipped", -node.data, 0.0)]
        if node.op == "relu":
            z = node.parents[0]
            candidates.append(Candidate("wrong factor", nm, f"{name(z)} written for {nm} = max(0, {name(z)}): "
                                                            "the ReLU not applied", z.data, 2.0))
        if node.op == "w·x+b":
            b = node.parents[-1]
            candidates.append(Candidate("missing factor", nm, f"the bias {name(b)} left out of {nm}",
                                        node.data - b.data, 1.0))
        if node.op == "(O-O_des)²":
            e = math.sqrt(node.data)
            candidates += [Candidate("missing factor", nm, f"the square of {nm} = (O − O_des)² left out", e, 1.0),
                           Candidate("missing factor", nm, f"the square of {nm} = (O − O_des)² left out", -e, 1.0),
                           Candidate("wrong factor", nm, "2(O − O_des), the derivative, written for the cost",
                                     node.local_grads[0], 2.0)]
        show = lambda: f"{nm} = {exact(node.data)}"  # noqa: E731
        return _verdict(nm, x, node.data, candidates, show)

    def diagnose_update(self, w: Union[Value, str], answer: object, alpha: float = ALPHA) -> Diagnosis:
        """Is ``answer`` the new value of ``w`` after one step, w − α·∂C/∂w?  (``w.data`` is the old value.)

        The step α·∂C/∂w is small beside w, so the tolerance applies to the step the answer
        takes, ``w − answer``: give the new value with enough digits to show it.
        """
        node = self.node(w, "diagnose_update")
        x = as_number(answer)
        truth, candidates, show, question = self.gradient(node)
        nm = name(node)
        q = f"{nm} − α·{question}"
        step = node.data - x
        own = [Candidate("sign", "α", f"α·{question} added to {nm}: the update subtracts it", -alpha * truth, 0.0),
               Candidate("missing factor", "α", f"α left out: {nm} − {question}", truth, 1.0),
               Candidate("missing factor", nm, f"{nm} left out: the update is {nm} − α·{question}",
                         node.data + alpha * truth, 1.0)]
        right = node.data - alpha * truth
        d = _verdict(q, step, alpha * truth, own, lambda: f"{q} = {exact(right)}", shown=x)
        digits, need = _significant(x), update_digits(node.data, right)
        if not d.right and d.kind in ("arithmetic slip", "unknown") and 2 <= digits < need and x != node.data:
            # too few digits to show the step (-0.8022 for -0.8 − 0.002243): compared as written
            rounded = lambda v: float(f"{v:.{digits}g}") == x  # noqa: E731
            if rounded(right):
                return Diagnosis(q, x, False, "arithmetic slip", None,
                                 f"{q} = {_shown(x)} agrees with the new value to the {digits} digits you wrote, but a "
                                 f"new weight is checked on its step α·{question}, which they do not show: write it to "
                                 f"{need} significant digits (the step to 4)", "too few digits to show the step", (),
                                 d.show)
            for c in sorted(own, key=lambda c: (c.rank, c.tie)):
                if rounded(node.data - c.value):
                    return Diagnosis(q, x, False, c.kind, c.factor, f"{q} = {_shown(x)} is not right: it looks like "
                                     f"{c.detail}. {_hint(c.factor)} (d.show() gives the product)", c.detail,
                                     (c.factor,), d.show)
        if d.right or d.kind not in ("arithmetic slip", "unknown") or alpha == 0:
            return d
        g = _verdict(question, step / alpha, truth, candidates, show)  # the gradient this update used
        if g.kind in ("arithmetic slip", "unknown") or g.right:
            return d
        return Diagnosis(q, x, False, g.kind, g.factor, f"{q} = {_shown(x)} is not right: the update rule is "
                                                        f"right, but the gradient in it is not — it looks like "
                                                        f"{g.detail}. {_hint(g.factor)}", g.detail, g.factors, show)

    def question_data(self, w: Union[Value, str]) -> dict:
        """One question's diagnosis as data a page can use: the grid, the right cell, every candidate.

        The explorer's predict mode (which shows the numbers anyway) can match a learner's
        number to the candidates in the page: ``cell(x) = round(asinh(x / scale) / step)``, a
        candidate fits when its cell is within 1 of the answer's; prefer the lowest ``rank``.
        """
        truth, candidates, _, question = self.gradient(w)
        return {"question": question, "parameter": name(self.node(w)), "step": STEP, "scale": SCALE,
                "right_cell": cell(truth),
                "candidates": [dict(c.as_dict(), cell=cell(c.value), rank=c.rank, tie=c.tie) for c in candidates
                               if not same_number(c.value, truth)]}


def _every_term(detail: str, template: str, first: str) -> str:
    return detail.replace(first, template) + ", in every term of the sum"


def _through(path: tuple[Edge, ...], branch: int | None) -> str:
    """The node that tells one term of a sum from the others (``z2[3]``)."""
    return name(path[branch].child) if branch is not None else "one path"


def _branch(paths: list[tuple[Edge, ...]]) -> int | None:
    """The factor nearest w that differs between the terms: where the sum over j happens."""
    if not paths or len({len(p) for p in paths}) != 1:
        return None
    for k in range(len(paths[0]) - 1, -1, -1):
        if len({p[k].symbol for p in paths}) > 1:
            return k
    return None


def update_digits(old: float, new: float) -> int:
    """Significant digits that write ``new`` with its step from ``old`` (α·∂C/∂w, on which an update
    is checked: :meth:`Diagnoser.diagnose_update`) to 4 significant digits.

    >>> update_digits(-0.8, -0.802243), update_digits(0.5, 0.3), update_digits(0.5, 0.5)
    (6, 4, 4)
    """
    step = old - new
    if not step or not new:
        return 4
    return max(4, 4 + math.floor(math.log10(abs(new))) - math.floor(math.log10(abs(step))))


def _significant(x: float) -> int:
    """How many significant digits the learner wrote (0 for a long computed float)."""
    digits = Decimal(repr(abs(x))).normalize().as_tuple().digits
    return len(digits) if len(digits) <= 7 and x != 0 else 0


def _shown(x: float) -> str:
    return f"{x:.6g}"


def _hint(factor: Optional[str]) -> str:
    if factor is None:
        return ""
    if factor == "α":
        return "Check the update rule: w = w − α·∂C/∂w, α = 0.01."
    return f"Check the factor {factor}."


def _verdict(question: str, x: float, truth: float, candidates: list[Candidate], show,
             extra: Callable[[], list[Candidate]] | None = None, shown: float | None = None) -> Diagnosis:
    """The diagnosis of ``x`` for ``truth``; ``shown``: the learner's number when ``x`` is derived from it."""
    answer = x if shown is None else shown
    if same_number(x, truth):
        return Diagnosis(question, answer, True, "right", None, f"{question} = {_shown(answer)} is right ✓", "", (),
                         show)
    wrong = [c for c in candidates if not same_number(c.value, truth)]
    fits = [c for c in wrong if same_number(x, c.value)]
    if not fits and extra is not None:
        fits = [c for c in extra() if not same_number(c.value, truth)]
    if fits:
        scale = max(abs(x), 1e-300)
        # the mistake itself, or the mistake rounded to the digits the learner wrote: the likeliest
        # kind first; else the nearest
        digits = _significant(x)
        exact_fits = [c for c in fits if abs(c.value - x) <= _EXACT * scale
                      or (digits and float(f"{c.value:.{digits}g}") == x)]
        pool = exact_fits or fits
        best = min(pool, key=lambda c: (c.rank, c.tie, abs(c.value - x)) if exact_fits else (abs(c.value - x), c.rank, c.tie))
        same = tuple(dict.fromkeys(c.factor for c in pool if c.factor is not None and c.kind == best.kind))
        msg = f"{question} = {_shown(answer)} is not right: it looks like {best.detail}. {_hint(best.factor)}"
        return Diagnosis(question, answer, False, best.kind, best.factor, msg.strip() + " (d.show() gives the product)",
                         best.detail, same, show)
    slip = _slip(x, truth)
    if slip:
        msg = (f"{question} = {_shown(answer)} is not right, but close: every factor looks right, so check the "
               f"arithmetic ({slip}). (d.show() gives the product)")
        return Diagnosis(question, answer, False, "arithmetic slip", None, msg, slip, (), show)
    msg = (f"{question} = {_shown(answer)} is not right, and it is none of the usual mistakes: write the product factor "
           "by factor, as in the handout, and check each one (diagnose_factor checks one factor). "
           "(d.show() gives the product)")
    return Diagnosis(question, answer, False, "unknown", None, msg, "", (), show)


def diagnose(C: Value, w: Union[Value, str], answer: object) -> Diagnosis:
    """Is ``answer`` ∂C/∂w (within :data:`TOLERANCE`)?  If not, which factor of the chain rule is wrong.

    ``w``: a parameter (Value) of C's graph or its name (``'w2[3][1]'``); ``answer``: a number
    (or a string that reads as one).  Returns a :class:`Diagnosis`: ``right``, ``kind``
    (:data:`KINDS`), ``factor``, ``message``; ``show()`` gives the full product.  Does not
    need ``C.backward()``.  Many answers about one C: :class:`Diagnoser`.
    """
    return Diagnoser(C).diagnose(w, answer)


def diagnose_factor(C: Value, factor: Union[str, tuple], answer: object) -> Diagnosis:
    """Is ``answer`` the factor ``'∂O/∂H2[3]'`` of C's graph?  (The factors asked one by one.)

    >>> from micrograd_ws import two_hidden_layers, squared_error
    >>> net = two_hidden_layers(hidden=2, seed=1); C = squared_error(net(1.0), 0.5)
    >>> w3 = net.layers[2].neurons[0].w[1].data; H2 = C.parents[0].parents[3].data
    >>> diagnose_factor(C, '∂O/∂H2[1]', w3).right, diagnose_factor(C, '∂O/∂H2[1]', H2).detail
    (True, 'H2[1] written for w3[1] in ∂O/∂H2[1]: ∂z/∂H is the weight, not H')
    """
    return Diagnoser(C).diagnose_factor(factor, answer)


def question_data(C: Value, w: Union[Value, str]) -> dict:
    """:meth:`Diagnoser.question_data`: one question's candidates as JSON-able data."""
    return Diagnoser(C).question_data(w)
