"""Smaller nodes for ``a + b``, ``a - b`` and ``a * b``: the same nodes, a sixth less memory.

A tuple of two parents costs 56 bytes; two slots cost 16.  So the node of ``a + b`` or
``a - b`` (:class:`Binary`) keeps its parents in two slots, and the node of ``a * b``
(:class:`Product`) its local derivatives too (b's data and a's); the first of each pair in the
slot of Value's that the property covers (``parents``, ``local_grads``), one slot less per pair.  ``parents`` and
``local_grads`` make their tuples when read, so nothing else can tell them from a plain node;
their :meth:`_chain` reads the slots.  Importing this module installs them in the engine
(``engine.make_binary``, ``engine.make_product``), as ``import micrograd_ws`` does.

>>> from micrograd_ws import Value
>>> c = Value(2.0) * Value(3.0)
>>> type(c).__name__, c.parents[1].data, c.local_grads
('Value', 3.0, (3.0, 2.0))
"""
from __future__ import annotations

import math

from . import engine, mode
from .engine import Value, node
from .pickling import next_id

__all__ = ["Binary", "Product", "binary", "product"]

_isfinite = math.isfinite
_new = object.__new__


class Binary(Value):
    """A node of ``a + b`` or ``a - b``, its two parents in the slots ``_a`` and ``_b``."""

    __slots__ = ("_b",)
    _a = Value.__dict__["parents"]  # (Value's slot under the parents property: no tuple kept in it)
    _is_node = True

    @property
    def parents(self) -> tuple:
        return (self._a, self._b)

    @parents.setter
    def parents(self, value: tuple) -> None:
        self._a, self._b = _two(value, "parents")

    def _inputs(self, seen: set) -> tuple:
        return (self._a, self._b)

    def _chain(self, t) -> None:
        g, stamp = self.grad, t.stamp
        for p, d in zip((self._a, self._b), self.local_grads):
            if p._pass is not stamp:
                p._reach(t)
            p.grad += g * d


class Product(Binary):
    """A node of ``a * b``: its local derivatives (b's data, a's data) in two more slots."""

    __slots__ = ("_db",)
    _da = Value.__dict__["local_grads"]  # (Value's slot under the local_grads property)

    @property
    def local_grads(self) -> tuple:
        return (self._da, self._db)

    @local_grads.setter
    def local_grads(self, value: tuple) -> None:
        self._da, self._db = _two(value, "local_grads")

    def _chain(self, t) -> None:
        g, stamp, a, b = self.grad, t.stamp, self._a, self._b
        if a._pass is not stamp:
            a._reach(t)
        a.grad += g * self._da
        if b._pass is not stamp:
            b._reach(t)
        b.grad += g * self._db


def _two(value: tuple, name: str) -> tuple:
    if len(value) != 2:
        raise ValueError(f"{name}: a node of a + b, a - b or a * b has two, got {value!r}; "
                         "for another node make a Value of your own (Value(data, _children, _op))")
    return value


Binary.__name__ = Product.__name__ = "Value"  # what messages call them; pickle finds them by __qualname__


def binary(data: float, a: Value, b: Value, local_grads: tuple, op: str) -> Value:
    """engine.make_binary: the node of a + b or a - b, as engine.node makes it, in slots."""
    if not _isfinite(data) or (mode.threads_inside and not mode.state.enabled):
        return node(data, (a, b), local_grads, op)
    v = _new(Binary)
    v.data, v.grad, v.label, v.op, v._a, v._b = data, 0.0, "", op, a, b
    v.local_grads, v._id, v._pass = local_grads, next_id(), None
    return v


def product(a: Value, b: Value) -> Value:
    """engine.make_product: the node of a * b, in slots."""
    x, y = a.data, b.data
    data = x * y
    if not _isfinite(data) or (mode.threads_inside and not mode.state.enabled):
        return node(data, (a, b), (y, x), "*")
    v = _new(Product)
    v.data, v.grad, v.label, v.op, v._a, v._b, v._da, v._db = data, 0.0, "", "*", a, b, y, x
    v._id, v._pass = next_id(), None
    return v


engine.make_binary, engine.make_product = binary, product
