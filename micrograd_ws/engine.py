"""The engine: `Value`, its operations and `backward` — the chain rule, in one file to read top to bottom.

Each operation computes its result *and* the local derivative of each edge (∂out/∂parent), side
by side, and stores both on the new node; the line after it states the same derivative in Values
(``rule``), which second derivatives, ``compile()`` and the explanations read: each derivative is
stated here once.  ``backward()`` is then one loop: from the root down, each node adds
``grad(node) · local`` into each parent (``_chain``).

>>> a = Value(2.0, label='a'); b = Value(-3.0, label='b')
>>> c = a * b + a
>>> c.parents[0].local_grads        # ∂(a*b)/∂a = b and ∂(a*b)/∂b = a
(-3.0, 2.0)
>>> c.backward()
>>> a.grad, b.grad                  # ∂c/∂a = b + 1, ∂c/∂b = a
(-2.0, 2.0)

A *leaf* (a parameter, an input) **accumulates**: each ``backward()`` adds its gradient, as in
PyTorch (reset with ``zero_grad()``); an intermediate node holds the latest pass's.  Every number
is finite: an overflow raises an error naming the op, and a failed pass changes no leaf's grad.

What is not autodiff lives in rooms a reader can skip (docs/reading.md): mode.py, checks.py,
safety.py, compat.py, pickling.py, compact.py, stores.py and custom.py.
"""
from __future__ import annotations

import math
from operator import attrgetter, mul
from typing import Callable, Sequence, Union

from . import mode
from .checks import (NUMBER, check_divisor, check_finite, check_local, check_number, check_positive, check_power,
                     check_power_value, check_weighted_sum, exp_or_inf, fmt, non_finite, non_finite_grad, to_float)
from .compat import MicrogradNames, children_and_label, closure_op, run_closures
from .floats import add_up  # sum(), left to right on every Python (3.12's sum() compensates rounding)
from .mode import enable_grad, is_grad_enabled, no_grad  # (engine's names before mode.py had them)
from .pickling import Picklable, next_id
from .safety import Pass, PassHooks, Stamp

__all__ = ["Value", "weighted_sum", "mean", "squared_error", "topological_order", "pass_order", "RULES", "rule", "node",
           "operand", "EXTENSIONS", "no_grad", "enable_grad", "is_grad_enabled"]

Number = Union[int, float]
Operand = Union["Value", int, float]
_isfinite = math.isfinite

#: op -> its local derivatives in Values, ``d(out, *parents) -> (∂out/∂parent, ...)`` (a number
#: for a constant), registered by :func:`rule` on the line after each op's forward.
RULES: dict[str, Callable[..., tuple]] = {}
rule: Callable[[str, Callable[..., tuple]], None] = RULES.__setitem__  # rule(op, d)
#: What rooms above the engine add to Value's methods: ``create_graph`` (functional.py) and
#: ``backward_steps`` (stepping.py), registered when imported (``import micrograd_ws`` does).
EXTENSIONS: dict[str, Callable] = {}


def node(data: float, parents: tuple, local_grads: tuple, op: str) -> Value:
    """The result node of an op: its number, its parents and ∂out/∂parent for each (a leaf under no_grad)."""
    if not _isfinite(data):
        raise non_finite(op, parents, data)
    v = Value.__new__(Value)
    v.data, v.grad, v.label, v._id, v._pass = data, 0.0, "", next_id(), None
    if not mode.threads_inside or mode.state.enabled:  # (mode.recording(), inlined: it runs per node)
        v.op, v.parents, v.local_grads = op, parents, local_grads
    else:  # a leaf, whose op tells backward() that it was made inside no_grad()
        v.op, v.parents, v.local_grads = mode.UNRECORDED, (), ()
    return v


# How the nodes of a + b, a - b and a * b are made; compact.py puts in smaller ones (memory only).
def make_binary(data: float, a: Value, b: Value, local_grads: tuple, op: str) -> Value:
    return node(data, (a, b), local_grads, op)


def make_product(a: Value, b: Value) -> Value:  # ∂(a·b)/∂a = b, ∂(a·b)/∂b = a
    return node(a.data * b.data, (a, b), (b.data, a.data), "*")


ADD, SUB, ON, OFF = (1.0, 1.0), (1.0, -1.0), (1.0,), (0.0,)  # shared local-derivative tuples


class Value(MicrogradNames, PassHooks, Picklable):
    """A scalar that remembers how it was computed: ``data`` is the number (a finite float);
    ``grad`` is ∂root/∂self after ``root.backward()``; ``label`` its name in pictures; ``op`` the
    operation that made it (``''`` for a leaf); ``parents``, and ``local_grads`` (∂self/∂parent).
    """

    # _pass: the pass that last set this node up (safety.py); __dict__: your own attributes (p.m for Adam)
    __slots__ = ("data", "grad", "label", "op", "parents", "local_grads", "_id", "_pass",
                 "__dict__", "__weakref__")

    def __init__(self, data: Number, _children=(), _op: str = "", label: str = "") -> None:
        """``Value(data, label='')``, or micrograd's ``Value(data, _children, _op)`` (compat.py)."""
        _children, label = children_and_label(_children, label)  # (Value(2.0, 'a') too: compat.py)
        self.grad, self.label, self._id, self._pass = 0.0, label, next_id(), None
        if _children:
            return closure_op(self, data, _children, _op)
        self.data = to_float(data, "Value()")
        self.op, self.parents, self.local_grads = "", (), ()

    def item(self) -> float: return self.data  # noqa: E704  (the plain float, as torch's .item())

    def __repr__(self) -> str:
        extra = (f", label={self.label!r}" if self.label else "") + (f", op={self.op!r}" if self.op else "")
        return f"Value(data={self.data!r}, grad={self.grad!r}{extra})"

    # Each op: the forward value and local derivatives side by side; its rule in Values below.

    def __add__(self, other: Operand) -> Value:
        other = other if isinstance(other, Value) else operand(other, "+")
        return make_binary(self.data + other.data, self, other, ADD, "+")  # ∂/∂a = 1, ∂/∂b = 1
    rule("+", lambda out, a, b: (1.0, 1.0))

    def __sub__(self, other: Operand) -> Value:
        other = other if isinstance(other, Value) else operand(other, "-")
        return make_binary(self.data - other.data, self, other, SUB, "-")  # ∂/∂a = 1, ∂/∂b = -1
    rule("-", lambda out, a, b: (1.0, -1.0))

    def __mul__(self, other: Operand) -> Value:
        other = other if isinstance(other, Value) else operand(other, "*")
        return make_product(self, other)  # ∂(a·b)/∂a = b, ∂(a·b)/∂b = a
    rule("*", lambda out, a, b: (b, a))

    def __radd__(self, other: Operand) -> Value: return operand(other, "+") + self  # noqa: E704
    def __rsub__(self, other: Operand) -> Value: return operand(other, "-") - self  # noqa: E704
    def __rmul__(self, other: Operand) -> Value: return operand(other, "*") * self  # noqa: E704
    def __rtruediv__(self, other: Operand) -> Value: return operand(other, "/") / self  # noqa: E704
    def __pos__(self) -> Value: return self  # noqa: E704

    def __truediv__(self, other: Operand) -> Value:
        a, b = self, operand(other, "/")
        check_divisor(a, b)  # (not 0; and 1 / inf is 0: a non-finite .data set by hand is refused)
        q = a.data / b.data
        return check_local(node(q, (a, b), (1.0 / b.data, -q / b.data), "/"))  # 1/b, -a/b² (as -q/b: no underflow)
    rule("/", lambda q, a, b: (1.0 / b, -q / b))

    def __neg__(self) -> Value:
        return node(-self.data, (self,), (-1.0,), "neg")
    rule("neg", lambda out, x: (-1.0,))

    def __pow__(self, other: Operand) -> Value:
        """x ** n for a number n: derivative n·x**(n-1); x ** y for a Value y: see ``__rpow__``."""
        if isinstance(other, Value):
            return _power_value(self, other)
        n, a = to_float(other, "Value ** exponent"), self.data
        check_power(self, n)  # (0 to a negative power, a negative base to a fractional one: checks.py)
        try:
            data, local = a**n, (n * a ** (n - 1) if n else 0.0)  # x**0 is constant: 0, even at 0
        except OverflowError:
            data = local = math.inf
        return check_local(node(data, (self,), (local,), f"**{fmt(n)}"))
    rule("**n", lambda out, x: (_power_rule(float(out.op[2:]), x),))  # the op "**n" records n exactly

    def __rpow__(self, other: Operand) -> Value:
        return _power_value(operand(other, "**"), self)
    rule("**", lambda out, a, b: (b * a ** (b - 1.0), out * a.log()))  # see _power_value

    def relu(self) -> Value:
        """max(0, x); its derivative is 0 where the output is 0 (at x = 0 too), as in the handout."""
        if self.data > 0.0:  # on: H = z, ∂H/∂z = 1 (an inf set by hand is refused by node())
            return node(self.data, (self,), ON, "relu")
        check_finite(self, "relu")  # (nan > 0 is False: a NaN set by hand would silently become 0)
        return node(0.0, (self,), OFF, "relu")  # off: H = 0, ∂H/∂z = 0
    rule("relu", lambda out, x: out.local_grads)  # the 0/1 mask, a constant: relu'' = 0

    def square(self) -> Value:
        x = self.data
        return node(x * x, (self,), (2.0 * x,), "square")  # x², 2x
    rule("square", lambda out, x: (2.0 * x,))

    def exp(self) -> Value:
        e = exp_or_inf(check_finite(self, "exp"))  # (e**-inf is 0: a non-finite .data is refused)
        return node(e, (self,), (e,), "exp")  # e**x, e**x
    rule("exp", lambda out, x: (out,))

    def log(self) -> Value:
        """Natural log, derivative 1/x; defined for x > 0 only."""
        x = check_positive(self, "log")
        return check_local(node(math.log(x), (self,), (1.0 / x,), "log"))
    rule("log", lambda out, x: (1.0 / x,))

    def tanh(self) -> Value:
        t = math.tanh(check_finite(self, "tanh"))  # (tanh(inf) is 1: a non-finite .data is refused)
        return node(t, (self,), (1.0 - t * t,), "tanh")  # tanh x, 1 - tanh²x
    rule("tanh", lambda out, x: (1.0 - out * out,))

    def sigmoid(self) -> Value:
        """1 / (1 + e**-x), derivative s(1 - s); computed without overflow for any x."""
        x = check_finite(self, "sigmoid")
        s = 1.0 / (1.0 + math.exp(-x)) if x >= 0.0 else math.exp(x) / (1.0 + math.exp(x))
        return node(s, (self,), (s * (1.0 - s),), "sigmoid")
    rule("sigmoid", lambda out, x: (out * (1.0 - out),))

    # Reverse mode: backward, and the chain rule at one node.

    def backward(self, gradient: Number = 1.0, create_graph: bool = False) -> None:
        """Fill ``grad`` of every node this Value depends on with ∂self/∂node (leaves add it).
        ``create_graph=True``: each gradient a Value too, ``v.grad_value`` (docs/higher_order.md).

        >>> a = Value(3.0); b = a + a; c = b + b   # the reason for a topological order
        >>> c.backward(); a.grad
        4.0
        >>> c.backward(); a.grad                   # twice: exactly twice the gradient
        8.0
        """
        g = to_float(gradient, "backward(gradient)")
        if create_graph:
            return EXTENSIONS["create_graph"](self, g)
        t = Pass(self)  # (refused at once if a pass paused half-way holds what this one would reach)
        nodes = pass_order(self, t.stamp)
        run_closures(nodes)  # micrograd-style ops give their local derivatives now (compat.py)
        try:  # all or nothing: a failure or Ctrl-C leaves every leaf's grad as it was (safety.py)
            t.begin()
            for v in nodes:  # this pass's sums start from 0, the root's from the gradient asked for
                v.grad = 0.0
            if not nodes:  # (a leaf root: refused if made inside no_grad(), mode.py)
                t.keep(mode.recorded(self))
            self.grad = g
            for v in nodes:  # the chain rule, root first: each node passes its gradient on
                if g := v.grad:  # (a zero gradient, behind a dead ReLU, passes nothing)
                    if not _isfinite(g):
                        raise non_finite_grad(v, g)
                    v._chain(t)
            t.finish(nodes)
        except BaseException:
            t.abort()
            raise

    def _chain(self, t: Pass) -> None:
        """This node's step of the chain rule: ∂root/∂parent += ∂root/∂self · ∂self/∂parent."""
        g, stamp, local = self.grad, t.stamp, self.local_grads
        if local is OFF:  # a ReLU that is off passes nothing back: its gate is closed
            return
        for p, d in zip(self.parents, local):
            if p._pass is not stamp:  # a leaf this pass reaches first: its earlier grad is kept aside
                p._reach(t)  # (safety.py)
            p.grad += g * d

    def backward_steps(self, gradient: Number = 1.0):
        """The reverse pass one node at a time, a generator of steps (stepping.py)."""
        return EXTENSIONS["backward_steps"](self, gradient)

    @property
    def grad_value(self) -> Value | None:
        """``grad`` as a Value whose graph computes it, after ``backward(create_graph=True)``; else None."""
        return getattr(self.grad, "value", None)  # the float subclass functional.GradFloat carries it


def operand(x: Operand, op: str) -> Value:
    """A Value for the other side of an operator: a number becomes a constant leaf."""
    if isinstance(x, Value):
        return x
    c = Value(check_number(x, op))
    c.label = NUMBER  # no label, but pictures and explanations name it by its number
    return c


def _power_rule(n: float, x: Value):
    return n * x ** (n - 1.0) if n else 0.0  # ∂(x**n)/∂x in Values, as the forward pass computes it


def _power_value(a: Value, b: Value) -> Value:
    """a ** b with a Value exponent: ∂/∂a = b·a**(b-1), ∂/∂b = a**b·ln a (needs a > 0)."""
    check_power_value(a, b)
    try:
        data = a.data**b.data
        local = (b.data * a.data ** (b.data - 1.0), data * math.log(a.data))
    except OverflowError:
        data, local = math.inf, ()
    return check_local(node(data, (a, b), local, "**"))


# N-ary ops at the handout's granularity.
def weighted_sum(weights: Sequence[Value], inputs: Sequence[Value], bias: Value) -> Value:
    """z = w·x + b as ONE node, the handout's pre-activation; ∂z/∂w_k = x_k, ∂z/∂x_k = w_k, ∂z/∂b = 1.

    >>> z = weighted_sum([Value(2.0), Value(-1.0)], [Value(3.0), Value(4.0)], Value(0.5))
    >>> z.data, z.local_grads        # parents: the weights, the inputs, the bias
    (2.5, (3.0, 4.0, 2.0, -1.0, 1.0))
    """
    wt, xt = tuple(weights), tuple(inputs)
    check_weighted_sum(wt, xt, bias, Value)
    wd, xd = [w.data for w in wt], [x.data for x in xt]
    return node(add_up(map(mul, wd, xd), bias.data), wt + xt + (bias,), (*xd, *wd, 1.0), "w·x+b")
rule("w·x+b", lambda z, *p: (*p[len(p) // 2:-1], *p[:len(p) // 2], 1.0))  # x, then w, then 1


def mean(values: Sequence[Value]) -> Value:
    """The mean of Values as one node, each edge ∂mean/∂v = 1/n."""
    values = [v if isinstance(v, Value) else operand(v, "mean") for v in values]
    if not values:
        raise ValueError("mean of no values: pass at least one Value")
    n = len(values)
    try:
        m = math.fsum(v.data for v in values) / n
    except OverflowError:  # the sum overflows, the mean need not (two 1e308s): divide first
        m = math.fsum(v.data / n for v in values)
    except ValueError:  # inf - inf: a non-finite .data set by hand, named by node()
        m = math.nan
    return node(m, tuple(values), (1.0 / n,) * n, "mean")
rule("mean", lambda out, *values: out.local_grads)  # 1/n each, constants


def squared_error(output: Value, desired: Operand) -> Value:
    """The handout's cost C = (O - O_des)² as one node, so ∂C/∂O = 2(O - O_des) is one edge.

    >>> C = squared_error(Value(0.5), 2.0); C.data, C.local_grads, C.label
    (2.25, (-3.0,), 'C')
    """
    output = operand(output, "squared_error")
    if isinstance(desired, Value):
        e = output.data - desired.data
        C = node(e * e, (output, desired), (2.0 * e, -2.0 * e), "(O-O_des)²")
    else:
        e = output.data - to_float(desired, "squared_error(desired)")
        C = node(e * e, (output,), (2.0 * e,), "(O-O_des)²")
    C.label = "C"
    return C
rule("(O-O_des)²", lambda C, O, *des: (2.0 * (e := O - des[0]), -2.0 * e) if des  # e = O - O_des, once
     else (2.0 * (O - (O.data - 0.5 * C.local_grads[0])),))  # O_des a number: read back from 2(O - O_des)


_by_id = attrgetter("_id")  # (the order of the pass: creation order is a topological order)


def topological_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on (leaves too), parents before children, root last.

    >>> a = Value(1.0, label='a'); c = a * 2 + a; [v.label or v.op for v in topological_order(c)]
    ['a', '', '*', '+']
    """
    seen, stack = {root}, [root]
    while stack:
        for p in stack.pop().parents:
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return sorted(seen, key=_by_id)  # creation order is a topological order


def pass_order(root: Value, stamp: Stamp) -> list[Value]:
    """The nodes (not the leaves) ``root`` depends on, root first, each before its parents; those below
    the root marked with the pass's ``stamp`` as they are found (``_pass``), so each is found once."""
    found, seen = [root] if root.parents else [], set()  # (seen: layers' inputs scanned, stores.py)
    for v in found:  # (a work list: what it finds is appended, and visited in turn)
        for p in v.parents if type(v) is Value else v._inputs(seen):
            if (p.parents if type(p) is Value else p._is_node) and p._pass is not stamp:
                p._pass = stamp
                found.append(p)
    found.sort(key=_by_id, reverse=True)
    return found

