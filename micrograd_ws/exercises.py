"""Exercises for the handout, in Python: the learner's own numbers from a seed, and their own code.

**By hand** (REPL, notebook, pytest): :class:`HandoutExercise` draws the two-neuron model's
or the two-hidden-layer net's numbers from a seed — the learner's name or a number — and
asks for the forward values, the factors, each ∂C/∂w as in the handout, and the weights
after one step with α = 0.01.  ``check`` answers with :func:`micrograd_ws.diagnose`: right,
or which factor is wrong, never the number; ``show`` gives the number ("show me").

>>> ex = HandoutExercise("two_neuron", seed="ada")
>>> ex.numbers
{'w1': 0.9, 'b1': 0.1, 'i': 1.5, 'O_des': 0.2, 'α': 0.01}
>>> [q.id for q in ex.questions]
['O', 'C', '∂C/∂O', '∂O/∂w1', '∂O/∂b1', '∂C/∂w1', '∂C/∂b1', 'new w1', 'new b1']
>>> O = 0.9 * 1.5 + 0.1; ex.check("O", O).right          # O = w1·i + b1
True
>>> print(ex.check("dC/dw1", 2 * (O - 0.2)))             # forgot ∂O/∂w1 = i
∂C/∂w1 = 2.5 is not right: it looks like ∂O/∂w1 = i left out. Check the factor ∂O/∂w1. (d.show() gives the product)
>>> ex.check("dC/dw", 1.0)
Traceback (most recent call last):
...
ValueError: no question 'dC/dw' in this exercise; did you mean ∂C/∂w1, ∂C/∂O or ∂O/∂w1?

**Checks that hold no answers**: :meth:`HandoutExercise.key` is what a notebook or a page
ships: salted hashes of the answers' grid cells (:func:`micrograd_ws.diagnose.cell`), so
:func:`check_with_key` accepts the right number and its neighbours without the number being
anywhere in the text.

**Code** (:func:`check_code`): an op's forward and local derivative (``relu``, ``square``,
``tanh``, ``exp``), a neuron's forward (``neuron``), the handout's backward by hand
(``backward``), a backward loop over a topological order (``backward_loop``), each checked
against the engine with hypothesis.  A failure shows the smallest input that breaks it and
``explain()`` at that input, not a traceback.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import secrets
import traceback
from dataclasses import dataclass
from typing import Callable, Optional, Union

from .diagnose import SCALE, STEP, Diagnoser, Diagnosis, as_number, cell
from .engine import Value, squared_error, topological_order
from .explain import explain
from .handout import ALPHA, MLPParams
from .mistakes import make_mistake
from .nn import two_hidden_layers, two_neuron
from .notation import did_you_mean, exact, num
from .progress import Progress, ProgressError, load_progress

__all__ = ["EXERCISES", "CODE_EXERCISES", "learner_seed", "Question", "HandoutExercise", "check_with_key",
           "answer_hash", "check_code", "CodeCheck", "notebook", "simulate_learner", "MAX_HIDDEN"]

EXERCISES = ("two_neuron", "two_hidden_layers")
CODE_EXERCISES = ("relu", "square", "tanh", "exp", "neuron", "backward", "backward_loop")
MAX_HIDDEN = 100  # the handout's h: every ∂C/∂w of it can be asked (10,401)


def learner_seed(seed: Union[str, int, None]) -> tuple[str, int]:
    """(the seed as written, a number for the random draws) from a learner's name or a number.

    >>> learner_seed(" Ada  Lovelace "), learner_seed(7)
    (('Ada Lovelace', 394233311), ('7', 7))
    """
    if seed is None or (isinstance(seed, str) and not seed.strip()):
        raise ValueError("a seed is needed: your name or a number, e.g. HandoutExercise('two_neuron', seed='ada') "
                         "or --seed 7; the same seed gives the same numbers")
    if isinstance(seed, bool) or not isinstance(seed, (int, str)):
        raise TypeError(f"the seed is a name or a whole number, got {type(seed).__name__} {seed!r}")
    if isinstance(seed, int):
        if seed < 0:
            raise ValueError(f"the seed is a name or a whole number from 0, got {seed}")
        return str(seed), seed
    text = " ".join(seed.split())
    if text.isdigit():
        return text, int(text)
    digest = hashlib.sha256(text.casefold().encode("utf-8")).digest()
    return text, int.from_bytes(digest[:4], "big")


@dataclass(frozen=True)
class Question:
    """``id``: as asked (``'∂C/∂w2[0][1]'``); ``kind``: value, factor, gradient or update;
    ``target``: the node, factor or parameter; ``section``: ① forward, ② backward, ③ update."""

    id: str
    kind: str
    target: str
    section: str


def _tenth(rng: random.Random, low: float, high: float, nonzero: bool = False) -> float:
    while True:
        x = round(rng.randint(round(low * 10), round(high * 10)) / 10, 1)
        if x != 0 or not nonzero:
            return x


#: inputs i: not ±1 (a missing i would be a sign flip, or nothing) nor ±2 (the 2 of 2(O − O_des))
_INPUTS = (-2.5, -1.5, -0.5, 0.5, 1.5, 2.5)


def _draw(exercise: str, number: int, hidden: int) -> dict:
    """The learner's numbers: tenths, so a calculator gives every answer exactly; a ReLU off and one
    on in each layer (h ≥ 2), and no z within 0.05 of the kink."""
    rng = random.Random(f"{exercise}:{hidden}:{number}")
    for _ in range(10_000):
        if exercise == "two_neuron":
            d = {"w1": _tenth(rng, -1.5, 1.5, True), "b1": _tenth(rng, -1, 1), "i": rng.choice(_INPUTS), "O_des": _tenth(rng, -2, 2)}
            if abs(d["w1"] * d["i"] + d["b1"] - d["O_des"]) >= 0.2:
                return d
            continue
        h = hidden
        d = {"w1": [_tenth(rng, -1, 1, True) for _ in range(h)], "b1": [_tenth(rng, -1, 1) for _ in range(h)],
             "w2": [[_tenth(rng, -1, 1, True) for _ in range(h)] for _ in range(h)],
             "b2": [_tenth(rng, -1, 1) for _ in range(h)], "w3": [_tenth(rng, -1, 1, True) for _ in range(h)],
             "b3": _tenth(rng, -1, 1), "i": rng.choice(_INPUTS),
             "O_des": _tenth(rng, -2, 2)}
        z1 = [w * d["i"] + b for w, b in zip(d["w1"], d["b1"])]
        H1 = [max(0.0, z) for z in z1]
        z2 = [sum(w * x for w, x in zip(row, H1)) + b for row, b in zip(d["w2"], d["b2"])]
        O = sum(w * max(0.0, z) for w, z in zip(d["w3"], z2)) + d["b3"]
        kinks = min(abs(z) for z in z1 + z2) >= 0.05
        mixed = h < 2 or (min(z1) < 0 < max(z1) and min(z2) < 0 < max(z2))
        if kinks and mixed and abs(O - d["O_des"]) >= 0.2:
            return d
    raise RuntimeError("no numbers found for this seed")  # pragma: no cover (never seen)


def answer_hash(salt: str, question: str, c: int) -> str:
    """The salted hash of one grid cell of an answer (16 hex digits)."""
    return hashlib.sha256(f"{salt}|{question}|{c}".encode("utf-8")).hexdigest()[:16]


def check_with_key(key: dict, question: str, answer: object) -> bool:
    """Is ``answer`` right, by the hashes of :meth:`HandoutExercise.key` alone (the cell or a neighbour)?"""
    if not isinstance(key, dict) or not isinstance(key.get("questions"), dict) or "salt" not in key:
        raise ValueError("not an answer key: it should have 'salt' and 'questions' (HandoutExercise.key())")
    entry = key["questions"].get(question)
    if entry is None:
        raise ValueError(f"no question {question!r} in this key; " + did_you_mean(question, key["questions"]))
    x = as_number(answer)
    if "from" in entry:  # an update: the step it takes, w − answer
        x = entry["from"] - x
    c = cell(x)
    return any(answer_hash(key["salt"], question, c + d) == entry["hash"] for d in (-1, 0, 1))


_D = re.compile(r"\Ad(?=[^/]+/d)|(?<=/)d")


class HandoutExercise:
    """The handout worked by hand with the learner's own numbers (see the module's docstring).

    ``exercise``: ``'two_neuron'`` or ``'two_hidden_layers'`` (``hidden`` neurons per layer, 2 by
    default, the handout's 100 at most); ``seed``: a name or a number; ``progress``: a file
    that records every attempt (:mod:`micrograd_ws.progress`); ``factors``: ask each factor
    too (default: for h ≤ 3).
    """

    def __init__(self, exercise: str = "two_neuron", seed: Union[str, int, None] = None, *, hidden: int = 2,
                 progress: Union[str, os.PathLike, None] = None, factors: Optional[bool] = None) -> None:
        if exercise not in EXERCISES:
            raise ValueError(f"no exercise {exercise!r}; " + did_you_mean(str(exercise), EXERCISES))
        if isinstance(hidden, bool) or not isinstance(hidden, int) or not 1 <= hidden <= MAX_HIDDEN:
            raise ValueError(f"hidden must be a whole number from 1 to {MAX_HIDDEN}, got {hidden!r}")
        self.exercise, self.hidden = exercise, hidden if exercise == "two_hidden_layers" else None
        self.seed, number = learner_seed(seed)
        d = _draw(exercise, number, hidden)
        if exercise == "two_neuron":
            self.net = two_neuron()
            self.net.load_state_dict({"w1": [[d["w1"]]], "b1": [d["b1"]]})
            self.numbers = {"w1": d["w1"], "b1": d["b1"], "i": d["i"], "O_des": d["O_des"], "α": ALPHA}
        else:
            self.net = two_hidden_layers(hidden=hidden)
            self.net.load_state_dict({"w1": [[w] for w in d["w1"]], "b1": d["b1"], "w2": d["w2"], "b2": d["b2"],
                                      "w3": [d["w3"]], "b3": [d["b3"]]})
            self.numbers = {**{k: d[k] for k in ("w1", "b1", "w2", "b2", "w3", "b3", "i", "O_des")}, "α": ALPHA}
        self.C = squared_error(self.net(d["i"]), d["O_des"])
        self.C.backward()
        self.diagnoser = Diagnoser(self.C)
        self.params = dict(self.net.named_parameters())
        self.questions = self._questions(factors if factors is not None else (hidden <= 3))
        self._by_id = {q.id: q for q in self.questions}
        self.progress = self._open(progress)

    # --- the questions ------------------------------------------------------------------------
    def _questions(self, factors: bool) -> list[Question]:
        qs: list[Question] = []
        order = topological_order(self.C)
        forward = [v.label for v in order if v.parents and v.label]
        qs += [Question(label, "value", label, "① forward") for label in forward]
        if factors:
            seen = []
            for v in reversed(order):  # from C down, as the backward pass goes
                for k, p in enumerate(v.parents):
                    if v.label and p.label and p.label not in ("O_des", "i"):  # not ∂z1/∂i: i is given
                        sym = f"∂{v.label}/∂{p.label}"
                        if sym not in seen:
                            seen.append(sym)
            qs += [Question(s, "factor", s, "② backward: the factors") for s in seen]
        names = [n for n, _ in self.net.named_parameters()]
        backward_order = sorted(names, key=lambda n: -int(n[1]))  # w3, b3 first: the handout's order
        qs += [Question(f"∂C/∂{n}", "gradient", n, "② backward: ∂C/∂w") for n in backward_order]
        qs += [Question(f"new {n}", "update", n, "③ update") for n in names]
        return qs

    def question(self, question: str) -> Question:
        """The question asked as ``question`` (``'dC/dw1'`` is ``'∂C/∂w1'``); else a did-you-mean."""
        if isinstance(question, Question):
            return question
        if not isinstance(question, str):
            raise TypeError(f"a question is named by text such as '∂C/∂w1', got {type(question).__name__}")
        q = " ".join(question.split())
        q = _D.sub("∂", q).replace(" /", "/").replace("/ ", "/")
        if q in self._by_id:
            return self._by_id[q]
        raise ValueError(f"no question {question!r} in this exercise; " + did_you_mean(q, list(self._by_id)))

    def truth(self, question) -> float:
        q = self.question(question)
        if q.kind == "value":
            return self.diagnoser.node(q.target).data
        if q.kind == "factor":
            return self.diagnoser.edge(q.target).local
        w = self.params[q.target]
        return w.grad if q.kind == "gradient" else w.data - ALPHA * w.grad

    # --- checking -----------------------------------------------------------------------------
    def check(self, question, answer) -> Diagnosis:
        """Right, or which factor is wrong (:func:`micrograd_ws.diagnose`); recorded in the progress file."""
        q = self.question(question)
        if answer is None or answer is Ellipsis:
            return Diagnosis(q.id, math.nan, False, "unanswered", None,
                             f"{q.id}: not answered yet — write your number in place of the ...")
        x = as_number(answer, f"your answer to {q.id}")
        dx = self.diagnoser
        if q.kind == "value":
            d = dx.diagnose_value(q.target, x)
        elif q.kind == "factor":
            d = dx.diagnose_factor(q.target, x)
        elif q.kind == "gradient":
            d = dx.diagnose(q.target, x)
        else:
            d = dx.diagnose_update(q.target, x)
        if self.progress is not None:
            self.progress.record(q.id, x, right=d.right, kind=d.kind, factor=d.factor)
        return d

    def show(self, question) -> str:
        """"Show me": the number, with how it is made (recorded as shown in the progress file)."""
        q = self.question(question)
        if self.progress is not None:
            self.progress.record_shown(q.id)
        if q.kind == "value":
            return f"{q.id} = {exact(self.truth(q))}"
        if q.kind == "factor":
            e = self.diagnoser.edge(q.target)
            return f"{q.id} = {e.formula} = {exact(e.local)}"
        text = explain(self.C, q.target).format(check=False)
        if q.kind == "update":
            w = self.params[q.target]
            text += f"\n{q.target} − α·∂C/∂{q.target} = {num(w.data)} − {ALPHA}·{exact(w.grad)} = {exact(self.truth(q))}"
        return text

    def key(self, salt: Optional[str] = None) -> dict:
        """What may ship to learners: salted hashes of every answer's cell (see :func:`check_with_key`)."""
        salt = salt or secrets.token_hex(8)
        out = {}
        for q in self.questions:
            if q.kind == "update":
                w = self.params[q.target]
                out[q.id] = {"hash": answer_hash(salt, q.id, cell(ALPHA * w.grad)), "from": w.data}
            else:
                out[q.id] = {"hash": answer_hash(salt, q.id, cell(self.truth(q)))}
        return {"salt": salt, "step": STEP, "scale": SCALE, "questions": out}

    def _open(self, path) -> Optional[Progress]:
        if path is None:
            return None
        ids = [q.id for q in self.questions]
        name = self.exercise + (f" h={self.hidden}" if self.hidden else "")
        if os.path.isdir(path):  # (load_progress's advice is for reading a room's folder; this one writes a file)
            raise ProgressError(f"progress={os.fspath(path)!r} is a folder: give this learner's progress file, "
                                f"such as {os.path.join(os.fspath(path), 'progress.json')!r}")
        if os.path.exists(path):
            p = load_progress(path)
            if p.exercise != name or p.seed != self.seed:
                raise ProgressError(f"{path!s} holds the progress of {p.exercise!r} with the seed {p.seed!r}, not "
                                    f"of {name!r} with {self.seed!r}: give another file name")
            return p
        p = Progress(os.fspath(path), learner=self.seed, exercise=name, seed=self.seed, questions=ids)
        p.save()
        return p

    def __repr__(self) -> str:
        given = ", ".join(f"{k} = {v}" for k, v in self.numbers.items())
        return (f"HandoutExercise({self.exercise!r}, seed={self.seed!r}): {len(self.questions)} questions; "
                f"your numbers: {given}")


# --- code exercises ---------------------------------------------------------------------------

@dataclass
class CodeCheck:
    """The result of :func:`check_code`: true when the code agrees with the engine everywhere tried."""

    exercise: str
    passed: bool
    message: str
    example: Optional[dict] = None
    explanation: str = ""

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.message + (f"\n\nexplain() at that input:\n{self.explanation}" if self.explanation else "")

    __repr__ = __str__


class _Mismatch(Exception):
    pass


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def _call(func: Callable, *args):
    """The learner's function called; an exception becomes a message naming its line, not a traceback."""
    try:
        return func(*args), None
    except Exception as e:  # the learner's code: any error is a finding
        frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename != __file__]
        where = f" (line {frames[-1].lineno}: {frames[-1].line})" if frames else ""
        return None, f"raised {type(e).__name__}: {e}{where}"


def _op_case(op: str, func: Callable, x: float) -> Optional[tuple[str, str]]:
    v = Value(x, "x")
    y = getattr(v, op)()
    y.label = "y"
    got, err = _call(func, x)
    if err:
        return f"{op}({x!r}) {err}", ""
    if not (isinstance(got, (tuple, list)) and len(got) == 2):
        return f"{op}({x!r}) returned {got!r}: return two numbers, (y, dy/dx)", ""
    y_got, d_got = got
    y.backward()
    if not isinstance(y_got, (int, float)) or not _close(float(y_got), y.data):
        return f"{op}({x!r}): your y = {y_got!r} is not the engine's", explain(y, v).format(check=False)
    if not isinstance(d_got, (int, float)) or not _close(float(d_got), y.local_grads[0]):
        return (f"{op}({x!r}): your dy/dx = {d_got!r} is not the local derivative the engine records "
                f"(∂y/∂x = {_op_formula(op)})"), explain(y, v).format(check=False)
    return None


def _op_formula(op: str) -> str:
    return {"relu": "0 where x ≤ 0, 1 where x > 0", "square": "2·x", "tanh": "1 − tanh²(x)", "exp": "exp(x)"}[op]


def _neuron_case(func: Callable, case) -> Optional[tuple[str, str]]:
    w, x, b = case
    ws = [Value(v, f"w[{k}]") for k, v in enumerate(w)]
    xs = [Value(v, f"x[{k}]") for k, v in enumerate(x)]
    z = sum((wi * xi for wi, xi in zip(ws, xs)), Value(b, "b"))
    z.label = "z"
    H = z.relu()
    H.label = "H"
    got, err = _call(func, list(w), list(x), b)
    if err:
        return f"neuron(w={w}, x={x}, b={b}) {err}", ""
    if not (isinstance(got, (tuple, list)) and len(got) == 2):
        return f"neuron(w={w}, x={x}, b={b}) returned {got!r}: return (z, H)", ""
    if not _close(float(got[0]), z.data):
        return f"neuron(w={w}, x={x}, b={b}): your z = {got[0]!r} is not w·x + b", ""
    if not _close(float(got[1]), H.data):
        return f"neuron(w={w}, x={x}, b={b}): your H = {got[1]!r} is not max(0, z) (z = {num(z.data)})", ""
    return None


def _net_from(p: MLPParams):
    h = len(p.w1)
    net = two_hidden_layers(hidden=h)
    net.load_state_dict({"w1": [[w] for w in p.w1], "b1": list(p.b1), "w2": [list(r) for r in p.w2],
                         "b2": list(p.b2), "w3": [list(p.w3)], "b3": [p.b3]})
    return net


def _describe(p: MLPParams, i: float, O_des: float, net) -> str:
    C = squared_error(net(i), O_des)
    zs = [v for v in topological_order(C) if v.label[:1] == "z"]
    negative = ", ".join(f"{v.label} = {num(v.data)}" for v in zs if v.data < 0)
    return (f"h = {len(p.w1)}, i = {i!r}, O_des = {O_des!r}, w1 = {p.w1}, b1 = {p.b1}, w2 = {p.w2}, b2 = {p.b2}, "
            f"w3 = {p.w3}, b3 = {p.b3}" + (f"\n  there: {negative} (below 0: those ReLUs are off)" if negative else ""))


def _backward_case(func: Callable, case, full: bool = True) -> Optional[tuple[str, str]]:
    """None when the learner's backward agrees with the engine at ``case``; else (message, explain());
    ``full=False``: a cheap verdict while hypothesis searches and shrinks."""
    p, i, O_des = case
    net = _net_from(p)
    C = squared_error(net(i), O_des)
    C.backward()
    got, err = _call(func, p, i, O_des)
    where = _describe(p, i, O_des, net) if full else ""
    if err:
        return f"your backward {err}\n  at {where}", ""
    if not isinstance(got, dict):
        return f"your backward returned {type(got).__name__}, not a dict of gradients by handout name " \
               f"({{'w1[0]': …, 'b3': …}})", ""
    names = [n for n, _ in net.named_parameters()]
    unknown = [k for k in got if k not in names]
    if unknown:
        return f"your backward returned {unknown[0]!r}, not a parameter of the net; " + \
            did_you_mean(str(unknown[0]), names), ""
    for name, w in net.named_parameters():
        if name not in got:
            return f"your backward returned no {name!r} (a dict with every parameter: " \
                   f"{', '.join(names[:3])}, …)", ""
        try:
            g = as_number(got[name], f"your ∂C/∂{name}")
        except (TypeError, ValueError) as e:
            return str(e), ""
        if not _close(g, w.grad):
            if not full:
                return "mismatch", ""
            d = Diagnoser(C).diagnose(name, g)
            return (f"your backward disagrees with the engine at the smallest input found:\n  {where}\n"
                    f"  ∂C/∂{name}: yours = {g!r} — {d.message.split(' is not right: ', 1)[-1]}"
                    ), explain(C, name).format(check=False)
    return None


def _loop_case(func: Callable, case, full: bool = True) -> Optional[tuple[str, str]]:
    p, i, O_des = case
    mine, ref = _net_from(p), _net_from(p)
    C_mine = squared_error(mine(i), O_des)
    C_ref = squared_error(ref(i), O_des)
    C_ref.backward()
    for v in topological_order(C_mine):
        v.grad = 0.0
    _, err = _call(func, C_mine)
    where = _describe(p, i, O_des, ref) if full else ""
    if err:
        return f"your backward loop {err}\n  at {where}", ""
    for (name, w), (_, r) in zip(mine.named_parameters(), ref.named_parameters()):
        if not _close(w.grad, r.grad):
            if not full:
                return "mismatch", ""
            if w.grad == 0.0:
                return (f"after your loop, {name}.grad is still 0, but ∂C/∂{name} is not, at the smallest input "
                        f"found:\n  {where}\n  the loop never reached {name}: set C.grad = 1 first, then go "
                        "through every node from C down (reverse topological order), adding node.grad · local "
                        "into each parent's grad"), explain(C_ref, name).format(check=False)
            d = Diagnoser(C_ref).diagnose(name, w.grad)
            return (f"after your loop, {name}.grad = {w.grad!r} is not ∂C/∂{name} at the smallest input found:\n"
                    f"  {where}\n  {d.message.split(' is not right: ', 1)[-1]}"
                    "\n  (the loop: C.grad = 1, then for each node from C down, in reverse topological order, "
                    "add node.grad · local into each parent's grad)"), explain(C_ref, name).format(check=False)
    return None


def check_code(exercise: str, func: Callable, *, max_examples: int = 100) -> CodeCheck:
    """Check a learner's function against the engine on many inputs (hypothesis), shrinking a failure.

    ``relu``/``square``/``tanh``/``exp``: ``func(x) -> (y, dy/dx)``.  ``neuron``:
    ``func(w, x, b) -> (z, H)`` with lists ``w``, ``x``.  ``backward``: ``func(p, i, O_des) ->
    {'w1[0]': ∂C/∂w1[0], …}`` for every parameter, ``p`` an :class:`micrograd_ws.handout.MLPParams`
    (``p.w1[k]``, ``p.w2[j][k]``, …; h = 2).  ``backward_loop``: ``func(C)`` sets ``.grad`` of
    every node of C's graph from ``node.parents`` and ``node.local_grads``.

    Inputs stay 0.01 away from a ReLU's kink at z = 0 (where its derivative is a convention).

    >>> check_code("relu", lambda x: (max(0.0, x), 1.0 if x > 0 else 0.0)).passed
    True
    >>> print(check_code("square", lambda x: (x * x, x)))
    square(1.0): your dy/dx = 1.0 is not the local derivative the engine records (∂y/∂x = 2·x)
    <BLANKLINE>
    explain() at that input:
    ∂y/∂x = ∂y/∂x
          = 2·x
          = 2
          = 2
    """
    try:
        from hypothesis import HealthCheck, Phase, Verbosity, assume, given, settings, strategies as st
    except ImportError:
        raise ImportError("check_code needs hypothesis: pip install hypothesis") from None
    if exercise not in CODE_EXERCISES:
        raise ValueError(f"no code exercise {exercise!r}; " + did_you_mean(str(exercise), CODE_EXERCISES))
    if not callable(func):
        raise TypeError(f"check_code({exercise!r}, func): func must be your function, got {type(func).__name__}")
    number = st.integers(-20, 20).map(lambda n: n / 10)  # tenths from -2 to 2: readable, and quick to shrink
    if exercise in ("relu", "square", "tanh", "exp"):
        strategy = st.floats(-5, 5, allow_nan=False, allow_subnormal=False)
        run = lambda x: _op_case(exercise, func, x)  # noqa: E731
    elif exercise == "neuron":
        strategy = st.integers(1, 3).flatmap(lambda n: st.tuples(st.lists(number, min_size=n, max_size=n),
                                                                 st.lists(number, min_size=n, max_size=n), number))
        run = lambda case: _neuron_case(func, case)  # noqa: E731
    else:
        row = st.tuples(number, number).map(list)  # h = 2: small enough to read, a sum over j all the same
        params = st.builds(MLPParams, w1=row, b1=row, w2=st.tuples(row, row).map(list), b2=row, w3=row, b3=number)
        strategy = st.tuples(params, number, number)
        check = _backward_case if exercise == "backward" else _loop_case
        run = lambda case, full=True: check(func, case, full)  # noqa: E731
    found: dict = {}

    @settings(max_examples=max_examples, deadline=None, database=None, derandomize=True, verbosity=Verbosity.quiet,
              suppress_health_check=list(HealthCheck), print_blob=False, phases=[Phase.generate, Phase.shrink])
    @given(strategy)
    def prop(case):
        if exercise in ("backward", "backward_loop"):
            assume(_away_from_kinks(*case))
        problem = run(case, False) if exercise in ("backward", "backward_loop") else run(case)
        if problem:
            found["case"] = case  # the last one is the smallest: hypothesis replays it after shrinking
            raise _Mismatch()

    try:
        prop()
    except _Mismatch:
        message, explanation = run(found["case"])
        return CodeCheck(exercise, False, message, {"input": found["case"]}, explanation)
    except Exception as e:  # hypothesis could not run it (e.g. too many inputs rejected)
        return CodeCheck(exercise, False, f"could not check {exercise}: {type(e).__name__}: {e}")
    return CodeCheck(exercise, True, f"{exercise}: agrees with the engine on {max_examples} inputs ✓")


def _away_from_kinks(p: MLPParams, i: float, O_des: float) -> bool:
    z1 = [w * i + b for w, b in zip(p.w1, p.b1)]
    H1 = [max(0.0, z) for z in z1]
    z2 = [sum(w * x for w, x in zip(row, H1)) + b for row, b in zip(p.w2, p.b2)]
    return min(abs(z) for z in z1 + z2) >= 0.01


# --- a notebook, and made-up learners -----------------------------------------------------------

def notebook(exercise: str = "two_hidden_layers", seed: Union[str, int, None] = None, *, hidden: int = 2,
             progress: Optional[str] = None) -> str:
    """A Jupyter notebook (.ipynb text) of the exercise for one learner: their numbers, a cell per
    question, the code exercises; no answers in it (the checks recompute them from the seed)."""
    ex = HandoutExercise(exercise, seed, hidden=hidden)
    given = "\n".join(f"- `{k}` = {v}" for k, v in ex.numbers.items())
    args = f"{exercise!r}, seed={ex.seed!r}" + (f", hidden={hidden}" if exercise == "two_hidden_layers" else "") \
        + (f", progress={progress!r}" if progress else "")
    cells = [_md(f"# The handout by hand: {exercise.replace('_', ' ')}\n\nYour numbers (seed {ex.seed!r}):\n\n{given}"
                 "\n\nReplace each `...` by your number and run the cell: the check says whether it is right and, "
                 "if not, which factor of the chain rule to look at. `ex.show(question)` gives the number."),
             _code(f"from micrograd_ws.exercises import HandoutExercise, check_code\nex = HandoutExercise({args})")]
    section = None
    for q in ex.questions:
        if q.section != section:
            section = q.section
            cells.append(_md(f"## {section}"))
        cells.append(_code(f"ex.check({q.id!r}, ...)"))
    cells.append(_md("## Your own code\n\nEach check tries your function on many inputs against the engine; a "
                     "failure shows the smallest input that breaks it."))
    cells.append(_code("def relu(x):\n    return ..., ...   # (y, dy/dx)\n\ncheck_code('relu', relu)"))
    cells.append(_code("def backward(p, i, O_des):\n    grads = {}\n    ...   # every ∂C/∂w as in the handout\n"
                       "    return grads\n\ncheck_code('backward', backward)"))
    nb = {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                                      "name": "python3"},
                                       "micrograd_ws": {"exercise": exercise, "seed": ex.seed, "key": ex.key()}},
          "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(nb, ensure_ascii=False, indent=1) + "\n"


def _md(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(text: str) -> dict:
    return {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": text}


def simulate_learner(path, name: str, rng: random.Random, *, exercise: str = "two_hidden_layers",
                     hidden: int = 2) -> Progress:
    """A made-up learner working through the exercise with mistakes (:mod:`micrograd_ws.mistakes`),
    their attempts in the progress file ``path``: for demos and tests of ``micrograd-ws progress``."""
    ex = HandoutExercise(exercise, name, hidden=hidden)
    ex.progress = Progress(None, learner=ex.seed, exercise=ex.exercise + (f" h={ex.hidden}" if ex.hidden else ""),
                           seed=ex.seed, questions=[q.id for q in ex.questions])  # in memory: saved once, below
    skill = rng.uniform(0.35, 0.95)
    stop = max(1, int(len(ex.questions) * rng.betavariate(2.2, 1.6)))
    p = MLPParams.from_state_dict(ex.net.state_dict()) if exercise == "two_hidden_layers" else None
    clock = [rng.randint(0, 600)]
    for q in ex.questions[:stop]:
        for _ in range(3):
            right = ex.truth(q)
            if rng.random() < skill:
                ex.check(q, float(f"{right:.4g}"))
                break
            wrong = None
            if q.kind == "gradient" and p is not None:
                kind = rng.choice(["sign", "missing factor", "missing factor", "wrong factor", "extra factor",
                                   "missing paths", "arithmetic slip"])
                m = make_mistake(p, ex.numbers["i"], ex.numbers["O_des"], q.target, kind, rng)
                wrong = m.value if m else None
            if wrong is None:
                wrong = _made_up_slip(ex, q, right, rng)
            ex.check(q, float(f"{wrong:.4g}"))
            clock[0] += rng.randint(20, 200)
        if rng.random() < 0.03:
            ex.show(q)
    ex.progress.path = os.fspath(path)
    ex.progress.save()
    return ex.progress


def _made_up_slip(ex: HandoutExercise, q: Question, right: float, rng: random.Random) -> float:
    """A wrong number a learner writes for a value, a factor or an update (for :func:`simulate_learner`)."""
    options = [-right, right * rng.choice([1.06, 0.95]), rng.uniform(-3, 3)]
    if q.kind == "value":
        node = ex.diagnoser.node(q.target)
        if node.op == "relu" and node.parents[0].data < 0:
            options += [node.parents[0].data] * 3  # z for H: the ReLU not applied
    elif q.kind == "factor":
        e = ex.diagnoser.edge(q.target)
        if e.child.op == "(O-O_des)²":
            options += [e.local / 2] * 2  # the 2 forgotten
        elif e.child.op == "relu":
            options += [1.0 - e.local] * 3  # the gate the wrong way round
    elif q.kind == "update":
        w = ex.params[q.target]
        options += [w.data + ALPHA * w.grad] * 2 + [w.data - w.grad]
    return rng.choice(options)
