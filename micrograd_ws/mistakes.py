"""Made-up learner mistakes on the handout's ∂C/∂w, written from the handout's formulas in plain floats.

What a learner gets wrong when writing ∂C/∂w by hand (the kinds of
:data:`micrograd_ws.diagnose.KINDS`): the sign of 2(O − O_des), a factor left out (the 2, a
ReLU gate that is 0), a factor written twice or one that belongs elsewhere (i in ∂C/∂b1), a
wrong factor (z for H, H for w, w2[k][j] for w2[j][k], a gate taken as 0), terms of the sum
over j left out, a slip of the arithmetic, or a number from nowhere.  Each :class:`Mistake`
carries the kind and the factor (handout name) it should be diagnosed as.

This module does not use the engine or :mod:`micrograd_ws.diagnose`: the products are
:mod:`micrograd_ws.handout`'s formulas, so the two can check each other.  The tests measure
how often ``diagnose`` names the kind and factor of these mistakes; the progress demo gives
them to made-up learners.

>>> import random
>>> from micrograd_ws.handout import MLPParams
>>> p = MLPParams(w1=[1.0, -1.0], b1=[0.0, 0.0], w2=[[1.0, 0.5], [-1.0, 2.0]], b2=[0.0, 0.0],
...               w3=[0.5, 1.0], b3=0.0)
>>> m = make_mistake(p, 1.0, 2.0, 'w2[0][1]', 'wrong factor', random.Random(0))
>>> m.factor, m.description      # z1[1] = -1 < 0, so H1[1] = 0: z1[1] written for it
('∂z2[0]/∂w2[0][1]', 'z1[1] written for H1[1]')
"""
from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from typing import Iterator, Optional

from .handout import ALPHA, MLPParams, mlp_forward

__all__ = ["Mistake", "MISTAKE_KINDS", "terms", "right_value", "make_mistake", "made_up_mistakes", "parameters_of"]

MISTAKE_KINDS = ("sign", "missing factor", "extra factor", "wrong factor", "missing paths", "arithmetic slip",
                 "unknown")


@dataclass(frozen=True)
class Mistake:
    """A wrong number for ∂C/∂parameter, and what it should be diagnosed as."""

    parameter: str
    kind: str
    factor: Optional[str]
    value: float
    description: str


def _step(H: float) -> float:
    return 0.0 if H == 0 else 1.0


def parameters_of(h: int) -> list[str]:
    """Every parameter's handout name in a 1 → h → h → 1 net."""
    return ([f"w1[{k}]" for k in range(h)] + [f"b1[{k}]" for k in range(h)]
            + [f"w2[{j}][{k}]" for j in range(h) for k in range(h)] + [f"b2[{j}]" for j in range(h)]
            + [f"w3[{j}]" for j in range(h)] + ["b3"])


def terms(p: MLPParams, i: float, O_des: float, param: str) -> list[list[tuple[str, float]]]:
    """∂C/∂param as the handout writes it: a list of terms (one per j for w1, b1), each a list of
    (factor's handout name, its value)."""
    f = mlp_forward(p, i)
    h = len(p.w1)
    dCdO = ("∂C/∂O", 2 * (f.O - O_des))
    idx = [int(x) for x in re.findall(r"\[(\d+)\]", param)]
    kind = param[:2]
    if param == "b3":
        return [[dCdO, ("∂O/∂b3", 1.0)]]
    if kind == "w3":
        j, = idx
        return [[dCdO, (f"∂O/∂w3[{j}]", f.H2[j])]]
    if kind in ("w2", "b2"):
        j = idx[0]
        head = [dCdO, (f"∂O/∂H2[{j}]", p.w3[j]), (f"∂H2[{j}]/∂z2[{j}]", _step(f.H2[j]))]
        if kind == "w2":
            k = idx[1]
            return [head + [(f"∂z2[{j}]/∂w2[{j}][{k}]", f.H1[k])]]
        return [head + [(f"∂z2[{j}]/∂b2[{j}]", 1.0)]]
    k, = idx
    last = (f"∂z1[{k}]/∂w1[{k}]", i) if kind == "w1" else (f"∂z1[{k}]/∂b1[{k}]", 1.0)
    return [[dCdO, (f"∂O/∂H2[{j}]", p.w3[j]), (f"∂H2[{j}]/∂z2[{j}]", _step(f.H2[j])),
             (f"∂z2[{j}]/∂H1[{k}]", p.w2[j][k]), (f"∂H1[{k}]/∂z1[{k}]", _step(f.H1[k])), last]
            for j in range(h)]


def _first(factor: str) -> int:
    """The first index in a factor's name: the j of ``∂O/∂H2[j]``, ``∂z2[j]/∂H1[k]``."""
    return int(re.search(r"\[(\d+)\]", factor).group(1))


def _value(ts: list[list[tuple[str, float]]]) -> float:
    return math.fsum(math.prod(v for _, v in t) for t in ts)


def right_value(p: MLPParams, i: float, O_des: float, param: str) -> float:
    return _value(terms(p, i, O_des, param))


def _with(ts, position: int, value_of) -> list[list[tuple[str, float]]]:
    """The terms with the factor at ``position`` replaced by ``value_of(j, name, value)`` in every term."""
    return [[(n, value_of(j, n, v)) if m == position else (n, v) for m, (n, v) in enumerate(t)]
            for j, t in enumerate(ts)]


def _every(names: list[str]) -> str:
    """``∂H2[j]/∂z2[j]`` for the same factor in every term of a sum over j."""
    if len(set(names)) == 1:
        return names[0]
    first = names[0]
    # the index of the term is j: the terms differ by the first index of H2/z2/w3/w2
    return re.sub(r"(H2|z2|w3)\[\d+\]", r"\1[j]", re.sub(r"w2\[\d+\]\[", "w2[j][", first))


def _different(a: float, b: float) -> bool:
    """Wrong beyond any tolerance a checker may take (0.25% of the size, 1e-6 near 0)."""
    return abs(a - b) > 2.5e-3 * max(abs(a), abs(b)) + 1e-6


def make_mistake(p: MLPParams, i: float, O_des: float, param: str, kind: str,
                 rng: random.Random) -> Optional[Mistake]:
    """One mistake of ``kind`` on ∂C/∂param, or None when this kind of mistake cannot change this number."""
    ts = terms(p, i, O_des, param)
    right = _value(ts)
    f = mlp_forward(p, i)
    h = len(p.w1)
    options: list[tuple[Optional[str], float, str]] = []  # (factor, value, description)
    L = len(ts[0])
    names = [_every([t[m][0] for t in ts]) for m in range(L)]
    if kind == "sign":
        options.append(("∂C/∂O", -right, "2(O_des − O) written for 2(O − O_des)"))
    elif kind == "missing factor":
        options.append(("∂C/∂O", right / 2, "the 2 of 2(O − O_des) left out"))
        for m in range(L):
            if any(t[m][1] != 1.0 for t in ts):
                gate = "∂H" in names[m]
                options.append((names[m], _value(_with(ts, m, lambda j, n, v: 1.0)),
                                f"{names[m]} left out" + (" (the ReLU gate forgotten)" if gate else "")))
    elif kind == "extra factor":
        for m in range(1, L):
            if any(t[m][1] not in (0.0, 1.0, -1.0) for t in ts) and "∂H" not in names[m]:
                options.append((names[m], _value(_with(ts, m, lambda j, n, v: v * v)), f"{names[m]} written twice"))
        options.append(("α", right * ALPHA, "α multiplied into the gradient"))
        if param.startswith("b1"):
            options.append((names[-1], _value(_with(ts, L - 1, lambda j, n, v: i)), "i multiplied into ∂C/∂b1"))
        if param.startswith("b2"):
            j = int(param[3:-1])
            k = rng.randrange(h)
            options.append((names[-1], right * f.H1[k], f"H1[{k}] multiplied into ∂C/∂b2[{j}]"))
        if param == "b3":
            j = rng.randrange(h)
            options.append(("∂O/∂b3", right * f.H2[j], f"H2[{j}] multiplied into ∂C/∂b3"))
    elif kind == "wrong factor":
        options.append(("∂C/∂O", _value(_with(ts, 0, lambda j, n, v: (v / 2) ** 2)),
                        "(O − O_des)² written for 2(O − O_des)"))
        for m in range(1, L):
            n0 = names[m]
            if n0.startswith("∂O/∂w3") or n0.startswith("∂z2[") and "/∂w2" in n0:  # H for the input: z
                src = f.z2 if n0.startswith("∂O/∂w3") else f.z1
                idx = int(re.findall(r"\[(\d+)\]", n0)[-1])
                layer = "2" if n0.startswith("∂O/∂w3") else "1"
                options.append((n0, _value(_with(ts, m, lambda j, n, v: src[idx])),
                                f"z{layer}[{idx}] written for H{layer}[{idx}]"))
            if "/∂H2[" in n0:  # ∂O/∂H2[j] = w3[j]: H2[j] written for it (j: the term's, or the parameter's)
                options.append((n0, _value(_with(ts, m, lambda j, n, v: f.H2[_first(n)])), "H2[j] written for w3[j]"))
            if "/∂H1[" in n0:  # ∂z2[j]/∂H1[k] = w2[j][k]: w2[k][j] written for it
                k = int(param[3:-1])
                options.append((n0, _value(_with(ts, m, lambda j, n, v: p.w2[k][_first(n)])),
                                "w2[k][j] written for w2[j][k]"))
            if "∂H" in n0 and "/∂z" in n0:  # a gate that is 1 taken as 0
                if all(t[m][1] == 1.0 for t in ts):
                    options.append((n0, _value(_with(ts, m, lambda j, n, v: 0.0)), "a ReLU that is on taken as off"))
    elif kind == "missing paths" and len(ts) > 1:
        live = [j for j, t in enumerate(ts) if math.prod(v for _, v in t) != 0.0]
        if len(live) > 1:
            j = rng.choice(live)
            k = int(param[3:-1])
            options.append((f"∂z2[{j}]/∂H1[{k}]", right - math.prod(v for _, v in ts[j]),
                            f"the term j = {j} left out"))
    elif kind == "arithmetic slip":
        r = rng.random()
        if r < 0.4:
            d = rng.uniform(0.01, 0.08) * rng.choice((-1, 1))
            options.append((None, right * (1 + d), f"the product off by {d:+.1%}"))
        elif r < 0.7:
            s = f"{abs(right):.4g}"
            pos = [q for q, c in enumerate(s) if c.isdigit()]
            sig = [q for q in pos if s[q] != "0" or any(s[r2] != "0" for r2 in pos if r2 < q)]
            if len(sig) >= 2:
                a = rng.randrange(len(sig) - 1)
                chars = list(s)
                chars[sig[a]], chars[sig[a + 1]] = chars[sig[a + 1]], chars[sig[a]]
                options.append((None, math.copysign(float("".join(chars)), right), "two digits swapped"))
        else:
            options.append((None, right * rng.choice((10.0, 0.1)), "the decimal point moved"))
    elif kind == "unknown":
        options.append((None, rng.uniform(-3, 3) * (abs(right) + 0.1) + rng.uniform(-1, 1), "a number from nowhere"))
    options = [o for o in options if _different(o[1], right)]
    if not options:
        return None
    factor, value, description = rng.choice(options)
    return Mistake(param, kind, factor, value, description)


def made_up_mistakes(p: MLPParams, i: float, O_des: float, n: int, rng: random.Random,
                     kinds=MISTAKE_KINDS) -> Iterator[Mistake]:
    """``n`` mistakes on random parameters, the kinds taking turns (a kind that cannot change a
    parameter's number is drawn again on another parameter)."""
    names = parameters_of(len(p.w1))
    made = tries = 0
    while made < n and tries < 50 * n:
        kind = kinds[made % len(kinds)]
        tries += 1
        param = rng.choice([q for q in names if q[:2] in ("w1", "b1")]) if kind == "missing paths" \
            else rng.choice(names)
        m = make_mistake(p, i, O_des, param, kind, rng)
        if m is not None:
            made += 1
            yield m
