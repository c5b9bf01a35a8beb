"""One op of the replay as lines of Python: its forward from a template here, its local
derivatives from the op's rule in the engine, written down by :class:`Code`.

The engine states each op's derivatives once, in Value operations (``engine.RULES``, e.g.
tanh's ``lambda out, x: (1.0 - out * out,)``).  Called on Codes instead of Values, a rule
writes those operations as source (``1.0 - v3 * v3``): the same operations in the same order
as eager's forward computes its float, hence the same float.  What stays here per op is its
forward, with the engine's refusals (as ``raise _Eager``, the generated code's name for
errors.RunEagerly: the call runs eagerly, for eager's error).

>>> tanh = Code("v3", op="tanh")
>>> RULES["tanh"](tanh, Code("v2"))
(Code('1.0 - v3 * v3'),)
"""
from __future__ import annotations

import math
import numbers
import re
from typing import Callable

from ..custom import user_ops
from ..engine import RULES, Value
from .errors import ReplayError
from .trace import where

__all__ = ["FORWARD", "Code", "writable", "write_op", "layer_rule_fits", "relu_rule_fits"]

#: Each op's forward as lines of the replay, in its operands ``{a}``, ``{b}`` and its result
#: ``{v}``, computed as the engine computes them (``{e}``: the difference squared_error squares, or
#: sigmoid's e**x; ``{m}``: relu's 0/1 mask); the engine's refusals leave the replay with
#: ``raise _Eager``.  ``w·x+b``, ``mean``, ``**n`` (x ** a number) and define_op ops: :func:`write_op`.
FORWARD: dict[str, tuple[str, ...]] = {
    "+": ("{v} = {a} + {b}",),
    "-": ("{v} = {a} - {b}",),
    "*": ("{v} = {a} * {b}",),
    "/": ("if {b} == 0.0: raise _Eager", "{v} = {a} / {b}"),
    "neg": ("{v} = -{a}",),
    "**": ("if {a} <= 0.0: raise _Eager", "{v} = {a} ** {b}"),
    "relu": ("{v} = {a} if {a} > 0.0 else 0.0", "{m} = 1.0 if {a} > 0.0 else 0.0"),
    "square": ("{v} = {a} * {a}",),
    "exp": ("{v} = exp({a})",),
    "log": ("if {a} <= 0.0: raise _Eager", "{v} = log({a})"),
    "tanh": ("{v} = tanh({a})",),
    "sigmoid": ("if {a} >= 0.0: {v} = 1.0 / (1.0 + exp(-{a}))", "else: {e} = exp({a}); {v} = {e} / (1.0 + {e})"),
    "(O-O_des)²": ("{e} = {a} - {b}", "{v} = {e} * {e}"),
}

#: The local derivatives an op's forward computes itself, for a rule that reads ``out.local_grads``.
FORWARD_GRADS: dict[str, tuple[str, ...]] = {"relu": ("{m}",)}


def _is_power(op: str) -> bool:
    return op[:2] == "**" and op != "**"  # x ** a number: the op records the number, "**3"


def writable(v: Value) -> None:
    """Refuse, naming the op and the fix, a node whose op has no replay."""
    op = v.op
    if op == "(O-O_des)²" and len(v.parents) == 1:
        raise ReplayError(
            "compile: squared_error(O, O_des) with O_des a plain number inside fn: the replay cannot "
            "recover that number exactly. Make O_des an argument of fn (lambda x, y: "
            "squared_error(net(x), y)) or a Value (squared_error(O, Value(1.0)))"
        )
    if not (op in FORWARD or op in ("w·x+b", "mean") or own_op(op) is not None or _is_power(op)):
        raise ReplayError(f"compile: {where(v)} was not made by one of the engine's ops or a define_op op "
                          "(made by hand?), so it cannot be replayed; run fn eagerly")


def own_op(op: str):
    """The function on Values that makes nodes of ``op`` when the replay has no template for it: a
    define_op op, or a method of Value with a rule (an op added to engine.py), else None."""
    if op in user_ops:
        return user_ops[op]
    method = getattr(Value, op, None) if op.isidentifier() and op in RULES else None
    return method if callable(method) else None


# --- Code: a rule's Value operations, written down ------------------------------------------

# How tightly Python binds, loosest first: Code writes the parentheses the source needs, no more.
_SUM, _PRODUCT, _UNARY, _POWER, _ATOM = range(5)


class Code:
    """An expression of the generated code, standing in for a Value while a rule runs.

    Arithmetic on Codes (and numbers) makes the Code of the expression: ``1.0 - out * out``
    with ``out = Code('v3')`` is ``Code('1.0 - v3 * v3')``.  ``op`` and ``local_grads`` are the
    result's, for the rules that read them; ``data`` is the Code itself (a replay's numbers are
    floats already).  ``known``: expressions the forward computed into a name already
    (``a0 - a1`` into ``e5``): a rule that computes one again reads the name, as eager's
    forward reuses its local.
    """

    __slots__ = ("text", "binding", "plain", "known", "op", "_grads")

    def __init__(self, text: str, *, op: str = "", local_grads: tuple | None = None, known: dict | None = None,
                 binding: int = _ATOM, plain: bool = True) -> None:
        self.text, self.binding, self.plain = text, binding, plain  # plain: a name or a number
        self.known = {} if known is None else known
        self.op, self._grads = op, local_grads

    def __repr__(self) -> str:
        return f"Code({self.text!r})"

    @property
    def data(self) -> Code:
        return self

    @property
    def local_grads(self) -> tuple:
        if self._grads is None:
            raise ReplayError(f"compile: the rule of {self.op!r} reads out.local_grads, which the replay's "
                              "forward of that op does not compute (see compiled/ops.py FORWARD_GRADS)")
        return self._grads

    def __bool__(self) -> bool:
        raise TypeError("a rule written down by compile() cannot branch on a number (it has none yet)")

    # -- operations ----------------------------------------------------------------------
    def _lift(self, x: object) -> Code:
        return x if isinstance(x, Code) else number(x, self.known)

    def _result(self, text: str, binding: int) -> Code:
        name = self.known.get(text)
        if name is not None:
            return Code(name, known=self.known)
        return Code(text, known=self.known, binding=binding, plain=False)

    def _binary(self, left: object, op: str, right: object, binding: int) -> Code:
        a, b = self._lift(left), self._lift(right)
        if op == "**":  # right to left, and -x binds looser on its left: (-x) ** y, x ** -y
            a_bare, b_bare = a.binding > _POWER, b.binding >= _UNARY
        else:  # left to right: a - (b - c), a * (b * c)
            a_bare, b_bare = a.binding >= binding, b.binding > binding
        return self._result(f"{_wrap(a, a_bare)} {op} {_wrap(b, b_bare)}", binding)

    def __add__(self, other: object) -> Code:
        return self._binary(self, "+", other, _SUM)

    def __radd__(self, other: object) -> Code:
        return self._binary(other, "+", self, _SUM)

    def __sub__(self, other: object) -> Code:
        return self._binary(self, "-", other, _SUM)

    def __rsub__(self, other: object) -> Code:
        return self._binary(other, "-", self, _SUM)

    def __mul__(self, other: object) -> Code:
        return self._binary(self, "*", other, _PRODUCT)

    def __rmul__(self, other: object) -> Code:
        return self._binary(other, "*", self, _PRODUCT)

    def __truediv__(self, other: object) -> Code:
        return self._binary(self, "/", other, _PRODUCT)

    def __rtruediv__(self, other: object) -> Code:
        return self._binary(other, "/", self, _PRODUCT)

    def __pow__(self, other: object) -> Code:
        return self._binary(self, "**", other, _POWER)

    def __rpow__(self, other: object) -> Code:
        return self._binary(other, "**", self, _POWER)

    def __neg__(self) -> Code:
        return self._result(f"-{_wrap(self, self.binding >= _UNARY)}", _UNARY)

    def __pos__(self) -> Code:
        return self

    def _call(self, fn: str) -> Code:
        return self._result(f"{fn}({self.text})", _ATOM)

    def exp(self) -> Code:
        return self._call("exp")

    def log(self) -> Code:
        return self._call("log")

    def tanh(self) -> Code:
        return self._call("tanh")


def _wrap(c: Code, bare: bool) -> str:
    return c.text if bare else f"({c.text})"


def number(x: object, known: dict | None = None) -> Code:
    """A number in a rule (``1.0``, ``-2.0``) as the literal that compiles to the same float."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"compile: a rule gave {type(x).__name__} {x!r} where a number or a Value goes")
    x = float(x)
    if not math.isfinite(x):
        raise ReplayError(f"compile: a rule gave the number {x!r}; a replay's constants are finite")
    text = repr(x)  # (the shortest text that reads back as x, bit for bit)
    return Code(text, known=known, binding=_UNARY if text[0] == "-" else _ATOM)


# --- one op ---------------------------------------------------------------------------------

_ASSIGNMENT = re.compile(r"(\w+) = (.+)")


def write_op(i: int, v: Value, ps: list[str], consts: list[float], user_names: list[str]) -> tuple[list, tuple, list]:
    """Node ``i`` (``v``, its operands' expressions ``ps``) as replay code: ``(lines, derivatives, checked)``.

    ``lines`` compute its value ``v{i}`` and whatever local derivative is not a name or a number
    (into ``d{i}_0``, ``d{i}_1``...); ``derivatives`` are the expressions of ∂v/∂parent, one per parent;
    ``checked``: the names whose finiteness the replay checks (as eager's node() checks each number).
    ``consts`` (the replay's K) and ``user_names`` (its UN) get what the lines refer to.
    """
    op, out = v.op, f"v{i}"
    if op not in FORWARD and own_op(op) is not None:  # a define_op op (or a new method): its function gives both
        k = len(user_names)
        user_names.append(op)
        ds = tuple(f"d{i}_{j}" for j in range(len(ps)))
        return ([f"{out}, ({', '.join(ds)}{',' if len(ds) == 1 else ''}) = _user(UN[{k}], {', '.join(ps)})"],
                ds, [out, *ds])
    grads = None
    if op == "w·x+b":
        n = (len(ps) - 1) // 2
        lines = [f"{out} = add_up(map(mul, ({', '.join(ps[:n])},), ({', '.join(ps[n:2 * n])},)), {ps[-1]})"]
    elif op == "mean":
        consts.append(1.0 / len(ps))
        lines, grads = [f"{out} = _mean(({', '.join(ps)},))"], (f"K[{len(consts) - 1}]",) * len(ps)
    elif _is_power(op):
        lines = _power(out, float(op[2:]), ps[0])
    else:
        names = {"v": out, "a": ps[0], "b": ps[-1], "e": f"e{i}", "m": f"m{i}"}
        lines = [line.format(**names) for line in FORWARD[op]]
        if op in FORWARD_GRADS:
            grads = tuple(g.format(**names) for g in FORWARD_GRADS[op])
    derivatives, checked = [], [out]
    for j, d in enumerate(_rule(v, out, ps, lines, grads)):
        if d.plain:  # a name or a number: used where it is needed
            derivatives.append(d.text)
            continue
        name = f"d{i}_{j}"  # an expression: computed in the forward pass, as eager computes it, and checked
        lines.append(f"{name} = {d.text}")
        derivatives.append(name)
        checked.append(name)
    return lines, tuple(derivatives), checked


def _power(out: str, n: float, a: str) -> list[str]:
    """x ** n for a number n, with the engine's refusals."""
    lines = []
    if n < 0 or 0 < n < 1:
        lines.append(f"if {a} == 0.0: raise _Eager")
    if not n.is_integer():
        lines.append(f"if {a} < 0.0: raise _Eager")
    lines.append(f"{out} = {(Code(a) ** n).text}")
    return lines


def _rule(v: Value, out: str, ps: list[str], lines: list[str], grads: tuple | None) -> list[Code]:
    """The op's local derivatives: its rule in engine.RULES, called on Codes."""
    known = {m[2]: m[1] for line in lines if (m := _ASSIGNMENT.fullmatch(line))}
    rule: Callable = RULES["**n" if _is_power(v.op) else v.op]
    result = Code(out, op=v.op, known=known,
                  local_grads=None if grads is None else tuple(Code(g, known=known) for g in grads))
    ds = tuple(rule(result, *(Code(p, known=known) for p in ps)))
    if len(ds) != len(ps):
        raise ReplayError(f"compile: the rule of {v.op!r} gives {len(ds)} derivatives for {len(ps)} parents")
    return [result._lift(d) for d in ds]


# --- the list code of a layer, against the rules ----------------------------------------------

def layer_rule_fits() -> bool:
    """Does the rule of ``w·x+b`` say what a layer's list code computes: ∂z/∂w_k = x_k, ∂z/∂x_k = w_k,
    ∂z/∂b = 1?  (Asked on symbols; if it ever said otherwise, neurons would be replayed one by one,
    each from the rule.)"""
    w, x, b = Code("w"), Code("x"), Code("b")
    d = tuple(RULES["w·x+b"](Code("z"), w, x, b))
    return len(d) == 3 and d[0] is x and d[1] is w and not isinstance(d[2], Code) and d[2] == 1.0


def relu_rule_fits() -> bool:
    """Does relu's rule say what the list code of a layer's ReLUs computes, ``a if z > 0.0 else 0.0``:
    the gradient times the forward's 0/1 mask (``out.local_grads``)?"""
    mask = Code("m")
    d = tuple(RULES["relu"](Code("h", op="relu", local_grads=(mask,)), Code("z")))
    return len(d) == 1 and d[0] is mask
