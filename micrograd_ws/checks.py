"""Number checks and the messages they give: every number micrograd_ws keeps is a finite float.

A room of its own so that the engine's ops read as maths: an op calls :func:`to_float` on what
a user gives it, and :func:`non_finite` / :func:`non_finite_grad` make the one message for a
result or gradient that overflowed.  Also how a node is named in those messages
(:func:`describe`), how a power is written (:func:`fmt`), and :class:`NumberLabel`, the label
of a plain number an operator turned into a Value.

>>> to_float(3, "Value()")
3.0
>>> to_float(float("inf"), "Value()")
Traceback (most recent call last):
ValueError: Value(): got inf; micrograd_ws keeps every number finite. Check the data for missing or infinite entries.
"""
from __future__ import annotations

import math
import numbers
import reprlib
from typing import Sequence

__all__ = ["to_float", "op_result", "describe", "describe_node", "fmt", "non_finite", "non_finite_grad",
           "check_local", "check_power", "check_power_value", "check_finite", "check_divisor",
           "check_positive", "check_number", "exp_or_inf",
           "check_weighted_sum", "not_a_number", "accumulated_grad", "NumberLabel", "NUMBER"]

_isfinite = math.isfinite


def to_float(x: object, where: str) -> float:
    """Check a user-supplied number: a finite real, not a bool, not a string; as a float."""
    if type(x) is float:
        f = x
    elif type(x) is not int and (isinstance(x, bool) or not isinstance(x, numbers.Real)):
        hint = " (use the Value itself, or its .data)" if hasattr(x, "local_grads") else ""
        raise TypeError(
            f"{where}: expected a real number (int or float), got {type(x).__name__} {x!r}{hint}"
        )
    else:
        try:
            f = float(x)
        except OverflowError:  # an int (or a Fraction, Decimal, ...) beyond float range
            raise ValueError(f"{where}: {_magnitude(x)} is beyond the range of a float "
                             "(at most about 1.8e308)") from None
    if not _isfinite(f):
        raise ValueError(
            f"{where}: got {f}; micrograd_ws keeps every number finite. "
            "Check the data for missing or infinite entries."
        )
    return f


def op_result(x: object, where: str) -> float:
    """A number returned by a user's function (an op, a closure): a finite float, or an error naming it."""
    if isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isinf(x):
        raise OverflowError(f"{where} = {x}: the result overflows a float")
    return to_float(x, where)


def _magnitude(x: numbers.Real) -> str:
    """How big a number too large for a float is, without str() (refused for huge ints)."""
    if isinstance(x, numbers.Rational):
        if x.denominator == 1:
            return f"an integer of about {int(abs(x.numerator).bit_length() * math.log10(2)) + 1} digits"
        bits = abs(x.numerator).bit_length() - x.denominator.bit_length()
        return f"a {type(x).__name__} of about 10**{int(bits * math.log10(2))}"
    return f"a {type(x).__name__} this large"


def describe(v) -> str:
    """A node in a message: its label and number (``a=2.0``), or its number."""
    return f"{v.label}={v.data!r}" if v.label else repr(v.data)


def describe_node(v) -> str:
    """A node in a gradient message: its label, or what it is (``(relu node, data=0.5)``)."""
    return v.label or (f"({v.op} node, data={v.data!r})" if v.op else f"(leaf, data={v.data!r})")


def fmt(x: float) -> str:
    """An exponent as an op's name writes it: ``2`` for 2.0, else the float's repr."""
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def non_finite(op: str, parents: Sequence, data: float) -> ArithmeticError:
    """The error for an op whose result is not finite: an operand set to inf/nan by hand, or an overflow."""
    bad = [p for p in parents if not _isfinite(p.data)]
    if bad:  # someone assigned a non-finite .data by hand
        return ValueError(f"{op}: operand {describe(bad[0])} is not finite; reset that .data to a finite number")
    shown = ", ".join(describe(p) for p in parents[:4]) + (", ..." if len(parents) > 4 else "")
    return OverflowError(
        f"{op}({shown}) = {data}: the result overflows a float. Numbers this large usually mean "
        "training diverged: lower the learning rate or scale the inputs."
    )


def non_finite_grad(v, g: float) -> OverflowError:
    """The one error for a gradient that is not finite, whichever pass (backward, steps, grad) found it."""
    what = "is NaN (two infinite contributions cancelled)" if g != g else "overflowed a float"
    return OverflowError(
        f"backward: ∂/∂{describe_node(v)} = {g} {what}; every leaf's grad is left as it was. "
        "Lower the learning rate or scale the inputs"
    )


def held_by_open_pass(v) -> RuntimeError:
    """A pass reaches a leaf that another pass, paused half-way (backward_steps), still holds."""
    return RuntimeError(
        f"backward: {describe_node(v)} is held by a backward_steps() pass paused half-way (until that pass "
        "ends, its leaves show only its part of their grads); finish it (for step in steps: pass) or close "
        "it (steps.close()) first. Every leaf's grad is left as it was"
    )


def check_finite(x, op: str) -> float:
    """``x.data``, refused if it is not finite (set by hand: an op would hide it, tanh(inf) = 1)."""
    a = x.data
    if not _isfinite(a):
        raise non_finite(op, (x,), a)
    return a


def check_positive(x, op: str) -> float:
    """``x.data``, refused unless positive (log)."""
    a = x.data
    if a <= 0.0:
        raise ValueError(f"{op}({describe(x)}): {op} needs a positive number")
    return a


def check_number(x: object, op: str):
    """The number on the other side of a Value's operator: an int or float (not a bool or a str)."""
    if isinstance(x, (str, bytes, bool)) or not isinstance(x, numbers.Real):
        raise TypeError(f"unsupported operand for Value {op} ...: {type(x).__name__} {x!r}; use an int, a float or a Value")
    return x


def exp_or_inf(x: float) -> float:
    """e**x, or inf where it overflows (the op then refuses it, naming itself)."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def check_divisor(a, b) -> None:
    """Refuse ``a / b`` for b = 0, or a non-finite b set by hand (1 / inf would hide it)."""
    if not _isfinite(b.data):
        raise non_finite("/", (a, b), b.data)
    if b.data == 0.0:
        raise ZeroDivisionError(f"{describe(a)} / {describe(b)}: division by zero")


def check_power(x, n: float) -> None:
    """Refuse ``x ** n`` where it has no finite real value or derivative."""
    a = x.data
    if not _isfinite(a):  # nan ** 0 is 1.0: refuse a non-finite .data set by hand
        raise non_finite(f"**{fmt(n)}", (x,), a)
    if a == 0.0 and n < 0:
        raise ZeroDivisionError(f"{describe(x)} ** {n}: zero to a negative power")
    if a < 0.0 and not n.is_integer():
        raise ValueError(f"{describe(x)} ** {n}: a negative base to a fractional power is not a real number")
    if a == 0.0 and 0 < n < 1:
        raise ZeroDivisionError(f"{describe(x)} ** {n}: the derivative n·x**(n-1) is infinite at 0")


def check_power_value(a, b) -> None:
    """Refuse ``a ** b`` with a Value exponent unless a > 0 (ln a appears in ∂/∂b)."""
    if not (_isfinite(a.data) and _isfinite(b.data)):
        raise non_finite("**", (a, b), math.nan)
    if a.data <= 0.0:
        raise ValueError(f"{describe(a)} ** {describe(b)}: a Value exponent needs a positive base "
                         "(ln a appears in ∂/∂b); for a fixed power use a plain number exponent")


def check_weighted_sum(wt: tuple, xt: tuple, bias, value_type: type) -> None:
    """weighted_sum takes as many weights as inputs, all Values."""
    if len(wt) != len(xt):
        raise ValueError(f"weighted_sum: {len(wt)} weights but {len(xt)} inputs")
    for v in (*wt, *xt, bias):
        if not isinstance(v, value_type):
            raise TypeError(f"weighted_sum takes Values, got {type(v).__name__} {v!r}")


def not_a_number(parents: Sequence, data: Sequence, error: Exception) -> Exception:
    """The error for a w·x+b whose numbers gave ``error`` (a TypeError or ValueError): the first of
    its ``parents`` (the weights, the inputs, the bias) whose number in ``data`` (as the sum read
    it), set by hand (``w.data = '0.5'``), does not compute as a real number, named; else ``error``.

    >>> from micrograd_ws import Value
    >>> w, x, b = Value(1.0, label="w2[0][1]"), Value(2.0), Value(0.0); w.data = "0.5"
    >>> str(not_a_number([w, x, b], ["0.5", 2.0, 0.0], TypeError()))
    "w2[0][1].data is the str '0.5', not a real number; set one, e.g. w2[0][1].data = 0.5"
    """
    n = len(parents) // 2
    for k, (v, x) in enumerate(zip(parents, data)):
        try:  # (as the sum uses it: a numpy bool or 0-d array computes, a complex or an array of many does not)
            bad = not isinstance(x * 1.0 + 0.0, numbers.Real)
        except (TypeError, ValueError):
            bad = True
        if bad:
            what = "None" if x is None else f"the {type(x).__name__} {reprlib.repr(x)}"  # (shortened: a page of text)
            if v.label:
                where = example = v.label
            else:  # by its place, as a Neuron names it
                where, example = ((f"weight w[{k}]", f"neuron.w[{k}]") if k < n else
                                  (f"input x[{k - n}]", f"x[{k - n}]") if k < 2 * n else ("bias b", "neuron.b"))
                where = f"w·x+b: {where}"
            return TypeError(f"{where}.data is {what}, not a real number; set one, e.g. {example}.data = 0.5")
    return error


def accumulated_grad(v, earlier: float, new: float) -> OverflowError:
    """The error for a leaf whose grad, this pass's gradient added to the one it held, is not finite."""
    return OverflowError(
        f"backward: {describe_node(v)}.grad = {earlier!r} (from earlier passes) + {new!r} (this pass) "
        "overflows a float; every leaf's grad is left as it was. Reset the grads between passes "
        "(zero_grad() or v.grad = 0.0), lower the learning rate or scale the inputs"
    )


def check_local(out) -> None:
    """Refuse a node whose local derivative overflowed (1/x at a tiny x, say)."""
    for d in out.local_grads:
        if not _isfinite(d):
            raise OverflowError(
                f"{out.op}: the local derivative overflows a float at "
                f"{', '.join(describe(p) for p in out.parents)}"
            )
    return out


class NumberLabel(str):
    """The empty label of a number that an operator turned into a Value (``3`` in ``a * 3``):
    equal to ``''`` everywhere, told apart by ``paths.name``, which shows the number instead
    of ``Value(3)`` (the name of a Value made without a label)."""


NUMBER = NumberLabel()
