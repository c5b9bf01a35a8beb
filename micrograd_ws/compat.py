"""micrograd compatibility: its field names, its ``Value(data, _children, _op)`` ops and their
``_backward`` closures, so that micrograd's notebooks and ``draw_dot`` run on micrograd_ws.

:class:`MicrogradNames` is a mixin :class:`~micrograd_ws.engine.Value` inherits: ``_prev``,
``_op`` and ``_backward``.  An op added micrograd's way (``out = Value(data, (a, b), 'op')``
then ``out._backward = fn``) gets its local derivatives by running the closure once with
``out.grad = 1`` and the parents' grads at 0 (:func:`run_closure`); from then on backward, the
steps, explanations and pictures use them like any built-in op's.  The closure runs again in
every pass (:func:`run_closures`), so, as in micrograd, it reads the ``.data`` of that moment.

>>> from micrograd_ws import Value
>>> a = Value(3.0, 'a')
>>> out = Value(a.data ** 2, (a,), 'sq')
>>> def _backward(): a.grad += 2 * a.data * out.grad
>>> out._backward = _backward
>>> out.local_grads, out._prev
((6.0,), (Value(data=3.0, grad=0.0, label='a'),))
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from types import MethodType
from typing import Callable

from . import mode
from .checks import describe, non_finite, op_result, to_float
from .safety import Pass

__all__ = ["MicrogradNames", "children_and_label", "closure_op", "run_closure", "run_closures", "step"]

#: Set once a _backward closure has been assigned: until then no pass looks for one.
closures_set = False


class MicrogradNames:
    """micrograd's names for a Value's fields (``_prev``, ``_op``) and its step (``_backward``)."""

    __slots__ = ()

    @property
    def _prev(self) -> tuple:
        return self.parents

    @property
    def _op(self) -> str:
        return self.op

    @property
    def _backward(self) -> Callable[[], None]:
        """micrograd's step at one node: ``node._backward()`` adds ``node.grad · ∂node/∂parent``
        into each parent's ``grad``: this node's part of the chain rule, the very step
        :meth:`backward` takes at each node (``Value._chain``), and the one each
        :meth:`backward_steps` step shows, without their set-up: nothing is zeroed or seeded
        first, so stepping by hand works as in micrograd's lecture.

        >>> from micrograd_ws import Value
        >>> x = Value(2.0, 'x'); w = Value(-3.0, 'w'); n = x * w; o = n.tanh()
        >>> o.grad = 1.0
        >>> o._backward(); n.grad                 # 1 · (1 - tanh²(-6))
        2.4576547405286142e-05
        >>> n._backward(); x.grad, w.grad         # n.grad · w, n.grad · x
        (-7.372964221585843e-05, 4.9153094810572284e-05)

        Assigning a function defines an op micrograd's way (see the module docstring).
        """
        return MethodType(step, self)

    @_backward.setter
    def _backward(self, fn: Callable[[], None]) -> None:
        if not callable(fn):
            raise TypeError(f"{self.op or 'Value'}._backward must be a function of no arguments, "
                            f"got {type(fn).__name__} {fn!r}")
        if self.parents:  # on a leaf micrograd's _backward has nothing to pass gradient to
            global closures_set
            closures_set = True
            self._closure = fn
            run_closure(self)


def children_and_label(children, label: str) -> tuple:
    """``Value(2.0, 'a')`` is short for ``Value(2.0, label='a')``; micrograd's ``Value(data, _children, _op)``."""
    if type(children) is str:  # the label, positionally
        if label:
            raise TypeError(f"Value(data, label): the label is given twice ({children!r} and {label!r})")
        children, label = (), children
    if not isinstance(label, str):
        raise TypeError(f"Value label must be a str, got {type(label).__name__} {label!r}")
    return children, label


def step(v) -> None:
    """micrograd's ``node._backward()``: the node's ``_chain`` (backward's step), with no set-up:
    only its parents' grads change, by exactly what the pass would add (all or nothing)."""
    if v.grad and v.parents:
        run_closures((v,))
        t = Pass(in_place=True)  # (sums onto each parent's grad as it is, as micrograd's += does)
        try:
            v._chain(t)
            t.finish((v,))  # (an overflow named in the order of v's parents, as plain Values name it)
        except BaseException:
            t.abort()
            raise


def closure_op(v, data: object, children: Iterable, op: str) -> None:
    """Make ``v`` the result of a micrograd-style op on ``children`` (its closure comes later)."""
    if not isinstance(op, str):
        raise TypeError(f"Value(data, _children, _op): _op names the operation, a str; got {type(op).__name__} {op!r}")
    if type(children) is type(v) or not isinstance(children, Iterable):
        raise TypeError(f"Value(data, _children, _op): _children is a tuple of Values, e.g. (self, other); "
                        f"got {type(children).__name__} {children!r}")
    parents = tuple(dict.fromkeys(children))  # each parent once, as micrograd's set of _prev
    for p in parents:
        if not isinstance(p, MicrogradNames):
            raise TypeError(f"Value(data, _children, {op!r}): every child must be a Value, "
                            f"got {type(p).__name__} {p!r}")
    where = f"{op or 'op'}({', '.join(describe(p) for p in parents)})"
    if isinstance(data, float) and not math.isfinite(data):
        raise non_finite(op or "op", parents, data)
    v.data = to_float(data, f"Value(data, _children, _op): the data of {where}")
    if mode.recording():
        v.op = op
        v.parents = parents
        v.local_grads = (0.0,) * len(parents)  # until _backward is set, as micrograd's default passes nothing
    else:  # under no_grad, as every op: a leaf (see mode.Unrecorded)
        v.op = mode.UNRECORDED
        v.parents = v.local_grads = ()


def run_closure(v) -> None:
    """Set ``v.local_grads`` from its closure: run once with v.grad = 1, the parents' at 0, and read them.

    Every grad involved is put back as it was, so this can run in the middle of a pass.
    """
    parents = v.parents
    earlier = [p.grad for p in parents]
    own = v.grad
    for p in parents:
        p.grad = 0.0
    v.grad = 1.0
    try:
        v._closure()
        found = [p.grad for p in parents]
    except Exception as e:
        if hasattr(e, "add_note"):  # (Python 3.11+)
            e.add_note(f"(in the _backward closure of {v.op!r}, run with {v.op}.grad = 1 to find its "
                       "local derivatives)")
        raise
    finally:
        v.grad = own
        for p, g in zip(parents, earlier):
            p.grad = g
    local = []
    for p, d in zip(parents, found):
        if isinstance(d, MicrogradNames):
            raise TypeError(f"the _backward closure of {v.op!r} added a Value into {describe(p)}.grad; "
                            "a grad is a number: use other.data, not other, in the closure")
        local.append(op_result(d, f"the _backward closure of {v.op!r}: the derivative for {describe(p)}"))
    v.local_grads = tuple(local)


def has_closure(v) -> bool:
    return getattr(v, "_closure", None) is not None


def run_closures(nodes: Iterable) -> None:
    """Before a pass: the micrograd-style ops among ``nodes`` give their local derivatives now."""
    if closures_set:
        for v in nodes:
            if getattr(v, "_closure", None) is not None:
                run_closure(v)
