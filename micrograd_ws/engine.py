"""The scalar autograd engine: `Value`, its operations, and reverse-mode `backward`.

Every operation computes its result *and* the local derivative of each edge
(∂out/∂parent) in the forward pass, side by side, and stores both on the new node.
Backward is then one generic loop: visit nodes in reverse topological order and
add ``grad(node) * local`` into each parent.  The same numbers label the edges of
the gradient pictures and make up the handout's chain-rule products.

>>> a = Value(2.0, label='a'); b = Value(-3.0, label='b')
>>> c = a * b + a
>>> c.parents[0].local_grads        # ∂(a*b)/∂a = b and ∂(a*b)/∂b = a
(-3.0, 2.0)
>>> c.backward()
>>> a.grad, b.grad                  # ∂c/∂a = b + 1, ∂c/∂b = a
(-2.0, 2.0)

An op added micrograd's way, ``Value(data, _children, _op)`` with an ``out._backward``
closure, gets its local derivatives from running the closure (see ``Value._backward``).

Gradient semantics (the same as PyTorch's ``.grad`` with ``retain_graph=True``):

* a *leaf* (a Value no operation made: a parameter, an input, a constant)
  **accumulates**: every ``backward()`` adds its freshly computed gradient, so
  calling ``backward()`` twice gives exactly twice the gradient.  Reset with
  ``zero_grad()`` (on a model or optimizer) or ``v.grad = 0.0``.
* an *intermediate* node's ``grad`` holds ∂root/∂node of the *latest* backward
  through it; it is recomputed from zero on each call, never summed twice.

A net's weights and biases (:mod:`micrograd_ws.nn`) are Values like any other to read, set
and compute with; each neuron keeps their numbers in one list (a ``_Store``), so that its
forward pass, its part of backward and ``SGD.step()`` take a list at a time, not a Python
step per weight, with the same numbers to the bit.

Numbers are always finite: ``Value(nan)`` and ``Value(inf)`` raise ``ValueError``,
and an operation whose result would overflow raises ``OverflowError`` naming the
operation and its operands (training that diverges stops at the first bad
number instead of filling the graph with NaN).

Each op's derivative is also written *in Values*, on the line after its forward
(``_derivative(op, d)``): ``d(out, *parents)`` returns ∂out/∂parent as Value
expressions of the operands and the result (tanh: ``1 - out * out``; a plain number
is a constant).  ``backward(create_graph=True)`` and :func:`micrograd_ws.grad` build
the gradient from these, so the gradient is itself a graph (docs/higher_order.md);
the float path above never calls them.
"""
from __future__ import annotations

import itertools
import math
import numbers
import signal
import sys
import threading
from contextlib import contextmanager
from operator import attrgetter, mul
from types import MethodType
from typing import Callable, Iterable, Iterator, List, Sequence, Tuple, Union

__all__ = [
    "Value", "no_grad", "enable_grad", "is_grad_enabled", "weighted_sum", "mean", "squared_error",
    "define_op", "topological_order",
]

Number = Union[int, float]
Operand = Union["Value", int, float]

_isfinite = math.isfinite
_new = object.__new__
_next_id = itertools.count().__next__  # creation order is a topological order (renewed on unpickling)


class _GradMode(threading.local):
    enabled = True


_mode = _GradMode()
_threads_in_no_grad = 0  # while 0, no thread needs the (slower) thread-local look-up
_no_grad_entries = 0  # how many times no_grad() was entered (compile's trace tells by it that fn used it)
_no_grad_lock = threading.Lock()


def is_grad_enabled() -> bool:
    """True unless inside :func:`no_grad` (in this thread)."""
    return _mode.enabled


@contextmanager
def no_grad() -> Iterator[None]:
    """Evaluate without recording the graph (per thread, like ``torch.no_grad``).

    Results made inside are leaves: no parents, nothing to backpropagate.

    >>> w = Value(3.0)
    >>> with no_grad():
    ...     y = w * 2
    >>> y.parents, y.data
    ((), 6.0)
    """
    global _threads_in_no_grad, _no_grad_entries
    previous = _mode.enabled
    with _no_grad_lock:
        _threads_in_no_grad += 1
        _no_grad_entries += 1
    try:  # everything after the count is undone in finally, even on an interrupt
        _mode.enabled = False
        yield
    finally:
        _mode.enabled = previous
        with _no_grad_lock:
            _threads_in_no_grad -= 1


@contextmanager
def enable_grad() -> Iterator[None]:
    """Record the graph again inside :func:`no_grad` (per thread, like ``torch.enable_grad``).

    >>> with no_grad():
    ...     with enable_grad():
    ...         y = Value(3.0) * 2
    >>> y.op
    '*'
    """
    previous = _mode.enabled
    try:
        _mode.enabled = True
        yield
    finally:
        _mode.enabled = previous


def _to_float(x: object, where: str) -> float:
    """Check a user-supplied number: a finite real, not a bool, not a string."""
    if type(x) is float:
        f = x
    elif type(x) is not int and (isinstance(x, bool) or not isinstance(x, numbers.Real)):
        hint = " (use the Value itself, or its .data)" if isinstance(x, Value) else ""
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


def _magnitude(x: numbers.Real) -> str:
    """How big a number too large for a float is, without str() (refused for huge ints)."""
    if isinstance(x, numbers.Rational):
        if x.denominator == 1:
            return f"an integer of about {int(abs(x.numerator).bit_length() * math.log10(2)) + 1} digits"
        bits = abs(x.numerator).bit_length() - x.denominator.bit_length()
        return f"a {type(x).__name__} of about 10**{int(bits * math.log10(2))}"
    return f"a {type(x).__name__} this large"


def _describe(v: Value) -> str:
    return f"{v.label}={v.data!r}" if v.label else repr(v.data)


def _node(data: float, parents: tuple, local_grads: tuple, op: str) -> Value:
    """Make the result node of an operation (no validation of types: internal)."""
    if not _isfinite(data):
        raise _non_finite(op, parents, data)
    v = _new(Value)
    v.data = data
    v.grad = 0.0
    v.label = ""
    if not _threads_in_no_grad or _mode.enabled:
        v.op = op
        v.parents = parents
        v.local_grads = local_grads
    else:
        v.op = ""
        v.parents = v.local_grads = ()
    v._id = _next_id()
    v._pass = None
    return v


_ADD, _SUB = (1.0, 1.0), (1.0, -1.0)  # the local derivatives of a + b and a - b, shared by all their nodes


def _binary(data: float, a: Value, b: Value, local_grads: tuple, op: str) -> Value:
    """The node of ``a + b`` or ``a - b``: :func:`_node`, its two parents kept in two slots (:class:`_Binary`)."""
    if not _isfinite(data) or (_threads_in_no_grad and not _mode.enabled):
        return _node(data, (a, b), local_grads, op)
    v = _new(_Binary)
    v.data = data
    v.grad = 0.0
    v.label = ""
    v.op = op
    v._a, v._b = a, b
    v.local_grads = local_grads
    v._id = _next_id()
    v._pass = None
    return v


def _product(a: Value, b: Value) -> Value:
    """The node of ``a * b``: its parents and local derivatives (b's data and a's) in four slots (:class:`_Mul`)."""
    x, y = a.data, b.data
    data = x * y
    if not _isfinite(data) or (_threads_in_no_grad and not _mode.enabled):
        return _node(data, (a, b), (y, x), "*")
    v = _new(_Mul)
    v.data = data
    v.grad = 0.0
    v.label = ""
    v.op = "*"
    v._a, v._b, v._da, v._db = a, b, y, x
    v._id = _next_id()
    v._pass = None
    return v


def _non_finite(op: str, parents: Sequence[Value], data: float) -> ArithmeticError:
    bad = [p for p in parents if not _isfinite(p.data)]
    if bad:  # someone assigned a non-finite .data by hand
        return ValueError(f"{op}: operand {_describe(bad[0])} is not finite; reset that .data to a finite number")
    shown = ", ".join(_describe(p) for p in parents[:4]) + (", ..." if len(parents) > 4 else "")
    return OverflowError(
        f"{op}({shown}) = {data}: the result overflows a float. Numbers this large usually mean "
        "training diverged: lower the learning rate or scale the inputs."
    )


def _operand(x: Operand, op: str) -> Value:
    """A Value for the other side of a binary operator (numbers become constant leaves)."""
    if isinstance(x, Value):
        return x
    if isinstance(x, (str, bytes, bool)) or not isinstance(x, numbers.Real):
        raise TypeError(
            f"unsupported operand for Value {op} ...: {type(x).__name__} {x!r}; "
            "use an int, a float or a Value"
        )
    c = Value(x)
    c.label = _NUMBER  # still no label, but pictures and explanations name it by its number
    return c


class _NumberLabel(str):
    """The empty label of a number that an operator turned into a Value (``3`` in ``a * 3``):
    equal to ``''`` everywhere, told apart by ``paths.name``, which shows the number instead
    of ``Value(3)`` (the name of a Value made without a label)."""


_NUMBER = _NumberLabel()


_ON, _OFF = (1.0,), (0.0,)  # relu's local derivatives, one tuple each for all its nodes

#: op -> its local derivatives in Values, d(out, *parents) -> (∂out/∂parent, ...), each
#: entry registered by ``_derivative`` on the line after its op's forward.
_value_derivatives: dict[str, Callable[..., tuple]] = {}


def _derivative(op: str, d: Callable[..., tuple]) -> None:
    _value_derivatives[op] = d


class Value:
    """A scalar that remembers how it was computed.

    ``data`` is the number (a finite float); ``grad`` is ∂root/∂self after
    ``root.backward()`` (0.0 before: a leaf adds up over backward calls, see the module
    docstring).  Also ``label`` (its name in pictures and explanations), ``op`` (the
    operation that made it, ``''`` for a leaf), ``parents`` and ``local_grads``
    (∂self/∂parent for each parent, in the same order).

    >>> x = Value(3.0, label='x')
    >>> y = (x * x).relu()
    >>> y
    Value(data=9.0, grad=0.0, op='relu')
    >>> y.backward(); x.grad
    6.0
    """

    # _pass: the backward pass that last touched this node (see _propagate: a leaf's earlier
    # gradient is set aside when a pass first reaches it, so no pass scans leaves it never reaches).
    # __dict__ and __weakref__: your own attributes (v.color, p.m for Adam) and weak references;
    # the dict is only made when first used.  A micrograd-style op keeps its _backward function
    # there too, as _closure (the engine's own ops have none: no slot to fill for each node).
    __slots__ = ("data", "grad", "label", "op", "parents", "local_grads", "_id", "_pass",
                 "__dict__", "__weakref__")

    def __init__(self, data: Number, _children: Iterable[Value] | str = (), _op: str = "",
                 label: str = "") -> None:
        """``Value(data, label='')``, or micrograd's ``Value(data, _children, _op)`` for an op of your own.

        ``Value(2.0, 'a')`` is short for ``Value(2.0, label='a')``.  With ``_children`` the
        Value is the result of an operation on them, whose derivatives its ``_backward``
        closure gives (see :attr:`_backward` and docs/micrograd.md).
        """
        if type(_children) is str:  # Value(2.0, 'a'): the label, positionally
            if label:
                raise TypeError(f"Value(data, label): the label is given twice ({_children!r} and {label!r})")
            _children, label = (), _children
        if not isinstance(label, str):
            raise TypeError(f"Value label must be a str, got {type(label).__name__} {label!r}")
        self.grad = 0.0
        self.label = label
        self._id = _next_id()
        self._pass = None
        if _children:
            _closure_op(self, data, _children, _op)
            return
        self.data = _to_float(data, "Value()")
        self.op = ""
        self.parents: tuple[Value, ...] = ()
        self.local_grads: tuple[float, ...] = ()

    # micrograd's names for the same fields, so its draw_dot and notebooks work.
    @property
    def _prev(self) -> tuple[Value, ...]:
        return self.parents

    @property
    def _op(self) -> str:
        return self.op

    @property
    def _backward(self) -> Callable[[], None]:
        """micrograd's step at one node: ``node._backward()`` adds ``node.grad · ∂node/∂parent``
        into each parent's ``grad``, this node's part of the chain rule.

        It is the step :meth:`backward` takes at each node, and the one each
        :meth:`backward_steps` step shows, without their set-up: nothing is zeroed or
        seeded first, so stepping by hand works as in micrograd's lecture, and stepping
        a node twice adds its part twice.

        >>> x = Value(2.0, 'x'); w = Value(-3.0, 'w'); n = x * w; o = n.tanh()
        >>> o.grad = 1.0
        >>> o._backward(); n.grad                 # 1 · (1 - tanh²(-6))
        2.4576547405286142e-05
        >>> n._backward(); x.grad, w.grad         # n.grad · w, n.grad · x
        (-7.372964221585843e-05, 4.9153094810572284e-05)

        Assigning a function defines an op micrograd's way (``out._backward = fn`` on
        ``out = Value(data, (a, b), 'op')``, with ``fn`` adding into ``a.grad`` and
        ``b.grad`` in proportion to ``out.grad``).  The engine runs ``fn`` once with
        ``out.grad = 1`` and the parents' grads at 0 and reads them: those are the edges'
        local derivatives, which backward, the steps, explanations and pictures then use
        like any built-in op's.  ``fn`` is run again in every backward pass (and by
        ``_backward()``), so, as in micrograd, it reads the ``.data`` of that moment.
        """
        return MethodType(_backward_step, self)

    @_backward.setter
    def _backward(self, fn: Callable[[], None]) -> None:
        if not callable(fn):
            raise TypeError(f"{self.op or 'Value'}._backward must be a function of no arguments, "
                            f"got {type(fn).__name__} {fn!r}")
        if self.parents:  # on a leaf micrograd's _backward has nothing to pass gradient to
            global _closures_set
            _closures_set = True
            self._closure = fn
            _run_closure(self)

    def __setstate__(self, state) -> None:
        """Unpickling and ``copy.deepcopy`` rebuild parents first: a fresh creation number
        here keeps the order topological in this process, whatever the old numbers were."""
        attrs, slots = state if isinstance(state, tuple) else (state, None)
        for key, value in {**(attrs or {}), **(slots or {})}.items():
            setattr(self, key, value)
        self._id = _next_id()
        self._pass = None

    def item(self) -> float:
        """The plain float, as ``torch.Tensor.item()``."""
        return self.data

    def __repr__(self) -> str:
        extra = (f", label={self.label!r}" if self.label else "") + (f", op={self.op!r}" if self.op else "")
        return f"Value(data={self.data!r}, grad={self.grad!r}{extra})"

    # --- binary operators: forward value and local derivatives side by side -------
    def __add__(self, other: Operand) -> Value:
        """self + other, local derivatives 1 and 1 (the other operators likewise: forward and derivatives side by side)."""
        if not isinstance(other, Value):
            other = _operand(other, "+")
        return _binary(self.data + other.data, self, other, _ADD, "+")

    def __radd__(self, other: Operand) -> Value:
        if not isinstance(other, Value):
            other = _operand(other, "+")
        return _binary(other.data + self.data, other, self, _ADD, "+")
    _derivative("+", lambda out, a, b: (1.0, 1.0))

    def __sub__(self, other: Operand) -> Value:
        if not isinstance(other, Value):
            other = _operand(other, "-")
        return _binary(self.data - other.data, self, other, _SUB, "-")

    def __rsub__(self, other: Operand) -> Value:
        if not isinstance(other, Value):
            other = _operand(other, "-")
        return _binary(other.data - self.data, other, self, _SUB, "-")
    _derivative("-", lambda out, a, b: (1.0, -1.0))

    def __mul__(self, other: Operand) -> Value:
        if not isinstance(other, Value):
            other = _operand(other, "*")
        return _product(self, other)

    def __rmul__(self, other: Operand) -> Value:
        if not isinstance(other, Value):
            other = _operand(other, "*")
        return _product(other, self)
    _derivative("*", lambda out, a, b: (b, a))  # each factor's derivative is the other factor

    def __truediv__(self, other: Operand) -> Value:
        return _divide(self, _operand(other, "/"))

    def __rtruediv__(self, other: Operand) -> Value:
        return _divide(_operand(other, "/"), self)
    _derivative("/", lambda q, a, b: (1.0 / b, -q / b))  # see _divide

    def __neg__(self) -> Value:
        return _node(-self.data, (self,), (-1.0,), "neg")
    _derivative("neg", lambda out, x: (-1.0,))

    def __pos__(self) -> Value:
        return self

    def __pow__(self, other: Operand) -> Value:
        if isinstance(other, Value):
            return _power_value(self, other)
        n = _to_float(other, "Value ** exponent")
        a = self.data
        if not _isfinite(a):  # nan ** 0 is 1.0: refuse a non-finite .data set by hand
            raise _non_finite(f"**{_fmt(n)}", (self,), a)
        if a == 0.0 and n < 0:
            raise ZeroDivisionError(f"{_describe(self)} ** {n}: zero to a negative power")
        if a < 0.0 and not n.is_integer():
            raise ValueError(
                f"{_describe(self)} ** {n}: a negative base to a fractional power is not a real number"
            )
        if a == 0.0 and 0 < n < 1:
            raise ZeroDivisionError(f"{_describe(self)} ** {n}: the derivative n·x**(n-1) is infinite at 0")
        try:
            data, local = a**n, (n * a ** (n - 1) if n else 0.0)  # x**0 is constant: 0, even at 0
        except OverflowError:
            data = local = math.inf
        out = _node(data, (self,), (local,), f"**{_fmt(n)}")
        _check_local(out)
        return out
    _derivative("**n", lambda out, x: _power_derivative(float(out.op[2:]), x))  # op "**n" records n exactly

    def __rpow__(self, other: Operand) -> Value:
        return _power_value(_operand(other, "**"), self)
    _derivative("**", lambda out, a, b: (b * a ** (b - 1.0), out * a.log()))  # see _power_value

    # --- unary operations ---------------------------------------------------------
    def relu(self) -> Value:
        """max(0, x); its derivative is 0 where the output is 0 (at x = 0 too), as in the handout."""
        x = self.data
        if not _isfinite(x):  # nan > 0 is False: a NaN set by hand would silently become 0
            raise _non_finite("relu", (self,), x)
        return _node(x, (self,), _ON, "relu") if x > 0.0 else _node(0.0, (self,), _OFF, "relu")
    _derivative("relu", lambda out, x: out.local_grads)  # the 0/1 mask, a constant: relu'' = 0

    def square(self) -> Value:
        """x², derivative 2x."""
        x = self.data
        return _node(x * x, (self,), (2.0 * x,), "square")
    _derivative("square", lambda out, x: (2.0 * x,))

    def exp(self) -> Value:
        """e**x, derivative e**x."""
        if not _isfinite(self.data):  # e**-inf is 0: refuse a non-finite .data set by hand
            raise _non_finite("exp", (self,), self.data)
        try:
            e = math.exp(self.data)
        except OverflowError:
            e = math.inf
        return _node(e, (self,), (e,), "exp")
    _derivative("exp", lambda out, x: (out,))

    def log(self) -> Value:
        """Natural log, derivative 1/x; defined for x > 0 only."""
        x = self.data
        if x <= 0.0:
            raise ValueError(f"log({_describe(self)}): log needs a positive number")
        out = _node(math.log(x), (self,), (1.0 / x,), "log")
        _check_local(out)
        return out
    _derivative("log", lambda out, x: (1.0 / x,))

    def tanh(self) -> Value:
        """tanh x, derivative 1 - tanh²x."""
        if not _isfinite(self.data):  # tanh(inf) is 1: refuse a non-finite .data set by hand
            raise _non_finite("tanh", (self,), self.data)
        t = math.tanh(self.data)
        return _node(t, (self,), (1.0 - t * t,), "tanh")
    _derivative("tanh", lambda out, x: (1.0 - out * out,))

    def sigmoid(self) -> Value:
        """1 / (1 + e**-x), derivative s(1 - s); computed without overflow for any x."""
        x = self.data
        if not _isfinite(x):  # sigmoid(inf) is 1: refuse a non-finite .data set by hand
            raise _non_finite("sigmoid", (self,), x)
        if x >= 0.0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:
            e = math.exp(x)
            s = e / (1.0 + e)
        return _node(s, (self,), (s * (1.0 - s),), "sigmoid")
    _derivative("sigmoid", lambda out, x: (out * (1.0 - out),))

    # --- reverse mode -------------------------------------------------------------
    def backward(self, gradient: Number = 1.0, create_graph: bool = False) -> None:
        """Fill ``grad`` of every node this Value depends on with ∂self/∂node.

        Iterative (no recursion), so graphs of any depth work.  Leaves accumulate
        (see the module docstring); intermediate gradients are recomputed.
        ``create_graph=True`` also builds each gradient as a Value, ``v.grad_value``,
        that can be differentiated again (:func:`micrograd_ws.functional.backward_create_graph`).

        >>> a = Value(3.0); b = a + a; c = b + b   # the reason for a topological order
        >>> c.backward(); a.grad
        4.0
        >>> c.backward(); a.grad                   # twice: exactly twice the gradient
        8.0
        """
        g = _to_float(gradient, "backward(gradient)")
        if create_graph:
            from .functional import backward_create_graph

            return backward_create_graph(self, g)
        nodes: list[Value] = []
        saved = Saved()
        guard = None
        try:  # an exception or Ctrl-C anywhere in here leaves every leaf's grad as it was
            guard = _Interrupts.install()
            _prepare_backward(self, g, nodes, saved)
            _propagate(nodes, saved)
            _finish_backward(saved, nodes)
            if guard is not None:
                guard.release()  # the last call: a Ctrl-C held until here still undoes the pass
        except BaseException:
            _abort_backward(saved)
            if guard is not None:
                guard.release()  # delivers a Ctrl-C that came during the undo
            raise

    def backward_steps(self, gradient: Number = 1.0):
        """The reverse pass one node at a time, a generator of steps (see :mod:`micrograd_ws.stepping`).

        Running all steps leaves the same gradients as :meth:`backward`.
        """
        from .stepping import backward_steps

        return backward_steps(self, gradient)

    @property
    def grad_value(self) -> Value | None:
        """``grad`` as a Value whose graph computes it, after ``backward(create_graph=True)``; else None.

        >>> x = Value(3.0); y = x * x * x
        >>> y.backward(create_graph=True); x.grad, x.grad_value.data   # 3x²
        (27.0, 27.0)
        >>> g = x.grad_value; x.grad = 0.0                             # (this resets grad_value too)
        >>> g.backward(); x.grad                                       # d(3x²)/dx = 6x
        18.0
        """
        return getattr(self.grad, "value", None)  # the float subclass functional.GradFloat carries it


class _Binary(Value):
    """A node of ``a + b`` or ``a - b``: the same node as any other, its two parents kept in two slots
    instead of a tuple (a tuple of two costs 56 bytes, the slots 16), so that a graph of a million
    such nodes takes a sixth less memory.  ``parents`` makes the tuple when read."""

    __slots__ = ("_a", "_b")

    @property
    def parents(self) -> tuple:
        return (self._a, self._b)

    @parents.setter
    def parents(self, value: tuple) -> None:
        self._a, self._b = _two(value, "parents")


class _Mul(_Binary):
    """A node of ``a * b``: its local derivatives (b's data, a's data) in two more slots, not a tuple."""

    __slots__ = ("_da", "_db")

    @property
    def local_grads(self) -> tuple:
        return (self._da, self._db)

    @local_grads.setter
    def local_grads(self, value: tuple) -> None:
        self._da, self._db = _two(value, "local_grads")


def _two(value: tuple, name: str) -> tuple:
    if len(value) != 2:
        raise ValueError(f"{name}: a node of a + b, a - b or a * b has two, got {value!r}; "
                         "for another node make a Value of your own (Value(data, _children, _op))")
    return value


_Binary.__name__ = _Mul.__name__ = "Value"  # what messages call them; pickle finds them by __qualname__


#: The engine's own operations by method name, for its own modules (nn, testing) to call:
#: assigning a method (``Value.tanh = my_tanh``, micrograd's way to add an op) changes what
#: ``x.tanh()`` calls, not these.
BUILTIN_OPS: dict[str, Callable[..., Value]] = {
    name: Value.__dict__[name] for name in (
        "__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
        "__rtruediv__", "__neg__", "__pow__", "__rpow__", "relu", "square", "exp", "log", "tanh", "sigmoid")
}


# --- micrograd-style operations: Value(data, _children, _op) and a _backward closure --------

#: Set once a _backward closure has been assigned: until then backward looks for none.
_closures_set = False


def _closure_op(v: Value, data: object, children: Iterable[Value], op: str) -> None:
    """Make ``v`` the result of a micrograd-style op on ``children`` (its closure comes later)."""
    if not isinstance(op, str):
        raise TypeError(f"Value(data, _children, _op): _op names the operation, a str; got {type(op).__name__} {op!r}")
    if isinstance(children, Value) or not isinstance(children, Iterable):
        raise TypeError(f"Value(data, _children, _op): _children is a tuple of Values, e.g. (self, other); "
                        f"got {type(children).__name__} {children!r}")
    parents = tuple(dict.fromkeys(children))  # each parent once, as micrograd's set of _prev
    for p in parents:
        if not isinstance(p, Value):
            raise TypeError(f"Value(data, _children, {op!r}): every child must be a Value, "
                            f"got {type(p).__name__} {p!r}")
    where = f"{op or 'op'}({', '.join(_describe(p) for p in parents)})"
    if isinstance(data, float) and not _isfinite(data):
        raise _non_finite(op or "op", parents, data)
    v.data = _to_float(data, f"Value(data, _children, _op): the data of {where}")
    if not _threads_in_no_grad or _mode.enabled:
        v.op = op
        v.parents = parents
        v.local_grads = (0.0,) * len(parents)  # until _backward is set, as micrograd's default passes nothing
    else:  # under no_grad, as every op: a leaf
        v.op = ""
        v.parents = v.local_grads = ()


def _run_closure(v: Value) -> None:
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
        if hasattr(e, "add_note"):
            e.add_note(f"(in the _backward closure of {v.op!r}, run with {v.op}.grad = 1 to find its "
                       "local derivatives)")
        raise
    finally:
        v.grad = own
        for p, g in zip(parents, earlier):
            p.grad = g
    local = []
    for p, d in zip(parents, found):
        if isinstance(d, Value):
            raise TypeError(f"the _backward closure of {v.op!r} added a Value into {_describe(p)}.grad; "
                            "a grad is a number: use other.data, not other, in the closure")
        local.append(_op_result(d, f"the _backward closure of {v.op!r}: the derivative for {_describe(p)}"))
    v.local_grads = tuple(local)


def _backward_step(v: Value) -> None:
    """Add v.grad · ∂v/∂parent into each parent's grad (see :attr:`Value._backward`)."""
    g = v.grad
    if g and v.parents:
        if getattr(v, "_closure", None) is not None:
            _run_closure(v)
        for p, d in zip(v.parents, v.local_grads):
            p.grad += g * d


def _fmt(x: float) -> str:
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def _check_local(out: Value) -> None:
    for d in out.local_grads:
        if not _isfinite(d):
            raise OverflowError(
                f"{out.op}: the local derivative overflows a float at "
                f"{', '.join(_describe(p) for p in out.parents)}"
            )


def _divide(a: Value, b: Value) -> Value:
    if not _isfinite(b.data):  # 1 / inf is 0: refuse a non-finite .data set by hand
        raise _non_finite("/", (a, b), b.data)
    if b.data == 0.0:
        raise ZeroDivisionError(f"{_describe(a)} / {_describe(b)}: division by zero")
    q = a.data / b.data
    out = _node(q, (a, b), (1.0 / b.data, -q / b.data), "/")  # -a/b² without b² underflowing
    _check_local(out)
    return out


def _power_derivative(n: float, x: Value) -> tuple:
    """∂(x**n)/∂x = n·x**(n-1) in Values (0 for n = 0), as the forward pass computes it."""
    return (n * x ** (n - 1.0) if n else 0.0,)


def _power_value(a: Value, b: Value) -> Value:
    """a ** b with a Value exponent: ∂/∂a = b·a**(b-1), ∂/∂b = a**b·ln a (needs a > 0)."""
    if not (_isfinite(a.data) and _isfinite(b.data)):
        raise _non_finite("**", (a, b), math.nan)
    if a.data <= 0.0:
        raise ValueError(
            f"{_describe(a)} ** {_describe(b)}: a Value exponent needs a positive base "
            "(ln a appears in ∂/∂b); for a fixed power use a plain number exponent"
        )
    try:
        data = a.data**b.data
        locals_ = (b.data * a.data ** (b.data - 1.0), data * math.log(a.data))
    except OverflowError:
        data, locals_ = math.inf, ()
    out = _node(data, (a, b), locals_, "**")
    _check_local(out)
    return out


# --- a neuron's parameters, kept as float lists ----------------------------------------------

class _Store:
    """The numbers of one neuron's parameters, its weights and then its bias, as two lists.

    Each parameter is a :class:`_Param`, a Value whose ``data`` and ``grad`` are its entries
    here (``params``, in the same order).  So a forward pass reads a neuron's weights as one
    list, and backward, ``zero_grad()`` and ``SGD.step()`` set whole lists, where a Value per
    number would take a Python step per weight.  The rules that keep this exact:

    * ``data`` is replaced, never changed in place, once a node keeps it as its local
      derivatives (``shared``): a node remembers the weights of its forward pass.  Setting one
      ``p.data`` copies the list first if it is shared.
    * ``grad`` is set aside whole when a backward pass first reaches the store (``_pass``
      is that pass's stamp, as a leaf's; see :func:`_set_aside`).  All zero, it is ``zeros``,
      one list shared by all stores of its length (so zeroing and finding the zero stores is
      one step each); setting one ``p.grad`` copies it first.
    * ``reached``: the entries that pass has added into, when it reached the store only
      through some of its parameters (an L2 term on a dead neuron's weights), else None (its
      ``w·x+b`` reached them all).  The others keep their grad exactly as it was (-0.0, an
      int, a ``create_graph`` float), as a leaf that a pass never reaches does.
    """

    __slots__ = ("data", "grad", "zeros", "params", "shared", "_pass", "reached")

    def __init__(self, data: list[float]) -> None:
        self.data = data
        self.grad = self.zeros = _ZEROS.setdefault(len(data), [0.0] * len(data))
        self.shared = False
        self._pass = self.reached = None
        self.params = tuple(_param(self, k) for k in range(len(data)))

    def __getstate__(self) -> tuple:
        # its numbers: its parameters are made again, in order (see _Param.__reduce__)
        return self.data, self.grad, self.zeros, self.shared, len(self.params)

    def __setstate__(self, state: tuple) -> None:
        self.data, self.grad, self.zeros, self.shared, n = state
        self._pass = self.reached = None
        _store_param(self, 0, n)  # (its parameters, unless a graph in its grads made them already)


_ZEROS: dict[int, list[float]] = {}  # length -> the shared list of zeros (never changed)


def _param(store: _Store, k: int) -> _Param:
    p = _new(_Param)
    p._store, p._k = store, k
    p.label = ""
    p.op = ""
    p.parents = p.local_grads = ()
    p._id = _next_id()
    return p


def _store_param(store: _Store, k: int, n: int) -> _Param:
    """Unpickling and ``copy.deepcopy``: the ``k``-th of a store's ``n`` parameters.  They are made
    together when the first is needed, so numbered in order, the weights then the bias, as a
    neuron makes them (maybe before the store's numbers are restored: a ``create_graph``
    gradient in them is a graph that may hold its parameters)."""
    try:
        params = store.params
    except AttributeError:
        params = store.params = tuple(_param(store, i) for i in range(n))
    return params[k]


def _get_data(p: _Param) -> float:
    return p._store.data[p._k]


def _set_data(p: _Param, x: float) -> None:
    store = p._store
    if store.shared:  # a node holds this list: copy, so that its local derivatives stay as they were
        store.data = store.data[:]
        store.shared = False
    store.data[p._k] = x


def _get_grad(p: _Param) -> float:
    return p._store.grad[p._k]


def _set_grad(p: _Param, g: float) -> None:
    store = p._store
    if store.grad is store.zeros:  # the shared zeros: copy first
        store.grad = store.zeros[:]
    store.grad[p._k] = g


def _get_pass(p: _Param) -> object:
    store = p._store
    reached = store.reached
    return store._pass if reached is None or p._k in reached else None


def _set_pass(p: _Param, stamp: object) -> None:
    store = p._store
    store._pass, store.reached = stamp, None


class _Param(Value):
    """A leaf Value whose ``data`` and ``grad`` live in a :class:`_Store` (a neuron's weight or bias).

    It is a Value like any other to read, set, use in expressions and pickle; only the
    engine's fast paths (a neuron's forward pass, backward, SGD) see the store.

    >>> import micrograd_ws as mw
    >>> w = mw.Neuron(2, rng=__import__("random").Random(0)).w[1]
    >>> w.data = 0.5; w.grad = 2.0; (w.data, w.grad, w._store.data[1], w._store.grad[1])
    (0.5, 2.0, 0.5, 2.0)
    """

    __slots__ = ("_store", "_k")
    data = property(_get_data, _set_data)
    grad = property(_get_grad, _set_grad)
    _pass = property(_get_pass, _set_pass)

    def __new__(cls, *args, **kwargs) -> Value:
        # type(p)(2.0) makes a plain Value, as for any leaf (a store makes its own parameters: _param)
        return Value(*args, **kwargs)

    def __reduce__(self) -> tuple:
        # its store's k-th parameter (pickle and deepcopy keep the store shared), then its label and attributes
        return _store_param, (self._store, self._k, len(self._store.params)), (self.__dict__ or None, self.label)

    def __setstate__(self, state: tuple) -> None:
        attrs, self.label = state
        for key, value in (attrs or {}).items():
            setattr(self, key, value)

    def __copy__(self) -> Value:
        # a leaf of its own with the same numbers, as copy.copy of a plain Value (not its store's k-th again)
        v = _new(Value)
        v.__setstate__((self.__dict__, {"data": self.data, "grad": self.grad, "label": self.label, "op": "",
                                        "parents": (), "local_grads": ()}))
        return v


_Param.__name__ = "Value"  # what messages call it; pickle finds it by __qualname__


def _set_aside(store: _Store, saved: Saved) -> None:
    """A pass reaches ``store`` for the first time through one of its parameters: its grads are
    recorded in ``saved``, then this pass's sums start from 0 (a fresh list: the recorded one
    is never changed), none of its entries reached yet."""
    saved.stores.append(store)
    saved.before.append(store.grad)
    store._pass, store.reached = saved.stamp, set()
    store.grad = store.zeros  # (copied by the first p.grad += ...)


# --- n-ary operations that keep the handout's granularity ----------------------------

def weighted_sum(weights: Sequence[Value], inputs: Sequence[Value], bias: Value) -> Value:
    """z = w·x + b as ONE node, the handout's pre-activation of a neuron.

    Its edges carry the local derivatives ∂z/∂w_k = x_k, ∂z/∂x_k = w_k, ∂z/∂b = 1
    (parents in that order: the weights, the inputs, the bias).

    >>> w = [Value(2.0), Value(-1.0)]; x = [Value(3.0), Value(4.0)]
    >>> z = weighted_sum(w, x, Value(0.5))
    >>> z.data, z.local_grads
    (2.5, (3.0, 4.0, 2.0, -1.0, 1.0))
    """
    wt, xt = tuple(weights), tuple(inputs)
    if len(wt) != len(xt):
        raise ValueError(f"weighted_sum: {len(wt)} weights but {len(xt)} inputs")
    for v in (*wt, *xt, bias):
        if not isinstance(v, Value):
            raise TypeError(f"weighted_sum takes Values, got {type(v).__name__} {v!r}")
    return _weighted_sum(wt, xt, [x.data for x in xt], bias, _all_leaves(wt) and not bias.parents)


def _all_leaves(values: tuple) -> bool:
    return not any(v.parents for v in values)


def _weighted_sum(wt: tuple, xt: tuple, xd: list, bias: Value, leaves: bool) -> Value:
    """weighted_sum for a layer: ``xt`` and its data ``xd`` are shared by all its neurons.

    ``leaves``: every weight and the bias is a leaf (the caller knows, as a Neuron does for
    its own parameters); then the node is a :class:`_WeightedSum`, which keeps its parts.
    """
    wd = [w.data for w in wt]  # (a comprehension reads slots faster than map(attrgetter))
    data = sum(map(mul, wd, xd), bias.data)
    parents = wt + xt + (bias,)
    if not leaves or (_threads_in_no_grad and not _mode.enabled):
        return _node(data, parents, (*xd, *wd, 1.0), "w·x+b")
    if not _isfinite(data):
        raise _non_finite("w·x+b", parents, data)
    z = _weighted_sum_node(data, xt, xd, wd, None, "")
    z.parents = parents
    return z


def _store_weighted_sum(store: _Store, xt: tuple, xd: list, label: str) -> Value:
    """weighted_sum for a neuron whose weights and bias are the parameters of ``store``, in order:
    its forward pass reads them as one list (weights, then the bias last)."""
    wd = store.data
    store.shared = True  # the node keeps this list as its local derivatives: not to be changed in place now
    data = sum(map(mul, wd, xd), wd[-1])  # (map stops at the inputs: the weights times the inputs)
    if (_threads_in_no_grad and not _mode.enabled) or not _isfinite(data):  # (_node raises for the latter)
        z = _node(data, _store_parents(store, xt), (*xd, *wd[:-1], 1.0), "w·x+b")
        z.label = label
        return z
    return _weighted_sum_node(data, xt, xd, wd, store, label)


def _store_parents(store: _Store, xt: tuple) -> tuple:
    params = store.params
    return params[:-1] + xt + params[-1:]  # the weights, the inputs, the bias


def _weighted_sum_node(data: float, xt: tuple, xd: list, wd: list, store: _Store | None, label: str) -> Value:
    z = _new(_WeightedSum)  # _node's fields, but local_grads (and, for a store's, parents) made when first read
    z.data = data
    z.grad = 0.0
    z.label = label
    z.op = "w·x+b"
    z._x, z._xd, z._wd, z._store = xt, xd, wd, store
    z._id = _next_id()
    z._pass = None
    return z


class _WeightedSum(Value):
    """A ``w·x+b`` node whose weights and bias are leaves, the nets' pre-activations.

    The same node as any other (``parents``: the weights, the inputs, the bias), keeping its
    parts apart for backward: ``_x`` the inputs (one tuple shared by all the neurons of a
    layer, so a pass scans it once, not once per neuron), ``_xd`` and ``_wd`` their data and
    the weights' (``_wd`` may end with the bias: it is the neuron's :class:`_Store` list, and
    ``_store`` that store, whose grads backward then sets as one list; else None).
    ``local_grads`` (x then w then 1) is put together when first read, not in every forward
    pass, and so are a store's node's ``parents`` (backward reads ``_x`` and the store instead).
    """

    __slots__ = ("_x", "_xd", "_wd", "_store")

    @property
    def parents(self) -> tuple:
        try:
            return _PARENTS.__get__(self)
        except AttributeError:  # first read of a store's node
            parents = _store_parents(self._store, self._x)
            _PARENTS.__set__(self, parents)
            return parents

    @parents.setter
    def parents(self, value: tuple) -> None:
        _PARENTS.__set__(self, value)

    @property
    def local_grads(self) -> tuple:
        try:
            return _LOCAL_GRADS.__get__(self)
        except AttributeError:  # first read: the 2n + 1 derivatives as one tuple, kept
            xd = self._xd
            local = (*xd, *self._wd[:len(xd)], 1.0)
            _LOCAL_GRADS.__set__(self, local)
            return local

    @local_grads.setter
    def local_grads(self, value: tuple) -> None:
        _LOCAL_GRADS.__set__(self, value)


_WeightedSum.__name__ = "Value"  # what messages call it ("got Value ..."); pickle finds it by __qualname__
_NEVER_LEAVES = frozenset({_Binary, _Mul, _WeightedSum})  # (made only when recording a graph)
_LOCAL_GRADS = Value.__dict__["local_grads"]  # the slots under _WeightedSum's properties
_PARENTS = Value.__dict__["parents"]


def _weighted_sum_derivative(z: Value, *parents: Value) -> tuple:
    n = (len(parents) - 1) // 2  # parents: the weights, the inputs, the bias
    return (*parents[n:2 * n], *parents[:n], 1.0)  # ∂z/∂w_k = x_k, ∂z/∂x_k = w_k, ∂z/∂b = 1


_derivative("w·x+b", _weighted_sum_derivative)


def mean(values: Sequence[Value]) -> Value:
    """The mean of Values as one node, each edge ∂mean/∂v = 1/n.

    >>> m = mean([Value(1.0), Value(2.0), Value(6.0)]); m.data
    3.0
    """
    values = [v if isinstance(v, Value) else _operand(v, "mean") for v in values]
    if not values:
        raise ValueError("mean of no values: pass at least one Value")
    n = len(values)
    try:
        m = math.fsum(v.data for v in values) / n
    except OverflowError:  # the sum overflows, the mean need not (two 1e308s): divide first
        m = math.fsum(v.data / n for v in values)
    except ValueError:  # inf - inf: a non-finite .data set by hand, named by _node
        m = math.nan
    return _node(m, tuple(values), (1.0 / n,) * n, "mean")


_derivative("mean", lambda out, *values: out.local_grads)  # 1/n each, constants


def squared_error(output: Value, desired: Operand) -> Value:
    """The handout's cost C = (O - O_des)² as one node, so ∂C/∂O = 2(O - O_des) is one edge.

    (``(O - O_des).square()`` gives the same numbers with one more node.)  Labelled ``C``.

    >>> O = Value(0.5); C = squared_error(O, 2.0); C.data, C.local_grads, C.label
    (2.25, (-3.0,), 'C')
    """
    output = _operand(output, "squared_error")
    if isinstance(desired, Value):
        e = output.data - desired.data
        C = _node(e * e, (output, desired), (2.0 * e, -2.0 * e), "(O-O_des)²")
    else:
        e = output.data - _to_float(desired, "squared_error(desired)")
        C = _node(e * e, (output,), (2.0 * e,), "(O-O_des)²")
    C.label = "C"
    return C


def _squared_error_derivative(C: Value, O: Value, desired: Value | None = None) -> tuple:
    """2(O − O_des) and −2(O − O_des) in Values."""
    if desired is None:  # O_des was a number, not a node: read it back from the recorded 2(O − O_des)
        return (2.0 * (O - (O.data - 0.5 * C.local_grads[0])),)
    e = O - desired
    return 2.0 * e, -2.0 * e


_derivative("(O-O_des)²", _squared_error_derivative)


# --- user-defined operations -----------------------------------------------------

_BUILTIN = frozenset(dir(Value))
_user_ops: dict[str, Callable] = {}


def define_op(name: str, fn: Callable | None = None, *, derivative: Callable[..., tuple] | None = None):
    """Add an operation from one function that returns its value and local derivatives.

    ``fn`` takes floats and returns ``(value, (∂out/∂arg1, ...))``.  The op becomes a
    function on Values (returned) and a method ``Value.<name>``; the graph, the
    pictures and explanations pick it up.  Also usable as ``@define_op("name")``.

    ``derivative(out, arg1, ...)``, optional, gives the same local derivatives in
    Values (``out`` is the op's result), so that ``create_graph=True`` can go through
    the op (second derivatives, :func:`micrograd_ws.hessian`); without it
    ``create_graph`` through the op is refused with an error saying so.

    >>> def _cube(x):
    ...     return x**3, (3 * x**2,)
    >>> cube = define_op("cube", _cube, derivative=lambda out, x: (3 * x**2,))
    >>> y = Value(2.0).cube(); y.backward(); y.data, y.parents[0].grad
    (8.0, 12.0)
    """
    if fn is None:
        return lambda f: define_op(name, f, derivative=derivative)
    if not (isinstance(name, str) and name.isidentifier()):
        raise ValueError(f"define_op: the name must be a Python identifier, got {name!r}")
    if name in _BUILTIN or name.startswith("_"):
        raise ValueError(f"define_op: {name!r} is already a Value attribute; choose another name")
    if name in _value_derivatives and name not in _user_ops:
        raise ValueError(f"define_op: {name!r} is a built-in operation; choose another name")
    if not callable(fn):
        raise TypeError(f"define_op({name!r}, fn): fn must be callable, got {type(fn).__name__}")
    if derivative is not None and not callable(derivative):
        raise TypeError(f"define_op({name!r}, fn, derivative=...): derivative must be a function "
                        f"(out, x, ...) -> (∂out/∂x, ...) in Values, got {type(derivative).__name__}")

    def op(*args: Operand) -> Value:
        vals = tuple(_operand(a, name) for a in args)
        where = f"{name}({', '.join(_describe(v) for v in vals)})"
        try:
            result = fn(*[v.data for v in vals])
        except (ArithmeticError, ValueError) as e:
            raise type(e)(f"{where}: {e}") from e
        try:
            data, derivs = result
            derivs = tuple(derivs)
        except (TypeError, ValueError):
            raise TypeError(f"{where}: the op function must return (value, (derivative, ...)), got {result!r}") from None
        if len(derivs) != len(vals):
            raise TypeError(f"{where}: {len(vals)} inputs but {len(derivs)} derivatives returned")
        value = _op_result(data, f"{where} value")
        out = _node(value, vals, tuple(_op_result(d, f"{where} derivative") for d in derivs), name)
        return out

    op.__name__ = op.__qualname__ = name
    op.__doc__ = fn.__doc__
    _user_ops[name] = op
    if derivative is not None:
        _derivative(name, derivative)
    else:  # a new definition without one replaces the old derivative too
        _value_derivatives.pop(name, None)
    setattr(Value, name, op)
    return op


def _op_result(x: object, where: str) -> float:
    """A number returned by a user op's function: a finite float, or an error naming the op."""
    if isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isinf(x):
        raise OverflowError(f"{where} = {x}: the result overflows a float")
    return _to_float(x, where)


def _local_derivative_values(v: Value) -> tuple:
    """∂v/∂parent for each parent of ``v`` in Values (numbers for constants), for create_graph."""
    op = v.op
    d = _value_derivatives.get("**n" if op[:2] == "**" and op != "**" else op)
    where = f"{op}({', '.join(_describe(p) for p in v.parents)})"
    closure = getattr(v, "_closure", None) is not None  # micrograd-style: floats only, whatever its op's name
    if d is None or closure or len(v.local_grads) != len(v.parents):
        if closure:
            raise TypeError(
                f"create_graph through {where}: a micrograd-style op (Value(data, _children, _op) with a "
                "_backward closure) gives its derivatives as numbers only, so its gradient cannot be "
                "differentiated again. Define the op with define_op(name, fn, derivative=...) instead; "
                "see docs/higher_order.md"
            )
        if op in _user_ops:
            raise TypeError(
                f"create_graph through {where}: the op {op!r} has no derivative in Values. Give one when "
                f"defining it, e.g. define_op({op!r}, fn, derivative=lambda out, x: (3 * x**2,)) for x**3: "
                "a function of the op's result and inputs (Values) returning (∂out/∂x, ...)"
            )
        raise TypeError(
            f"create_graph through {where}: this node records no derivative in Values (made by hand?), "
            "so its gradient cannot be differentiated again. Define the op with "
            "define_op(name, fn, derivative=...) to give one; see docs/higher_order.md"
        )
    try:
        ds = tuple(d(v, *v.parents))
    except TypeError as e:
        if op not in _user_ops:
            raise
        raise TypeError(f"create_graph through {where}: the derivative given to define_op({op!r}) must "
                        f"take (out, x, ...), the result and the {len(v.parents)} input(s), and return a tuple "
                        f"(∂out/∂x, ...) of Values or numbers: {e}") from e
    except (ArithmeticError, ValueError) as e:
        raise type(e)(f"create_graph through {where}: its derivative is not defined here ({e})") from e
    if op in _user_ops:
        _check_user_derivative(where, op, ds, v.local_grads)
    return ds


def _check_user_derivative(where: str, op: str, ds: tuple, floats: tuple) -> None:
    """A user's derivative in Values must return one Value (or number) per input, equal to fn's floats."""
    if len(ds) != len(floats) or not all(isinstance(d, (Value, numbers.Real)) and not isinstance(d, bool)
                                         for d in ds):
        raise TypeError(f"create_graph through {where}: the derivative given to define_op({op!r}) returned "
                        f"{ds!r}; it must return {len(floats)} Value(s) or number(s), one per input")
    for k, (d, f) in enumerate(zip(ds, floats)):
        x = d.data if isinstance(d, Value) else float(d)
        if not abs(x - f) <= 1e-9 + 1e-7 * abs(f):
            raise ValueError(f"create_graph through {where}: the derivative in Values gives ∂out/∂arg{k + 1} = "
                             f"{x!r} but fn's float derivative is {f!r}; the two must be the same function")


# --- graph traversal ---------------------------------------------------------------

_by_id = attrgetter("_id")


def topological_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on (leaves too), parents before children, root last.

    >>> a = Value(1.0, label='a'); b = a * 2; c = b + a
    >>> [v.label or v.op for v in topological_order(c)]
    ['a', '', '*', '+']
    """
    seen = {root}
    stack = [root]
    while stack:
        for p in stack.pop().parents:
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return sorted(seen, key=_by_id)


# --- the reverse pass, in four steps that callers (backward, backward_steps) compose --------
#
# The promise: a pass that fails (an overflow, a non-finite gradient, Ctrl-C at any
# point) leaves every leaf's grad exactly as it was.  How it is kept:
#
# * _prepare_backward first *plans* (reads only, into the caller's ``nodes`` and ``saved``,
#   which exist before the call), then sets ``saved.started`` and only then zeroes the
#   intermediate nodes and seeds the root.  It never looks at the leaves (a net's weights):
# * a leaf is set aside when the pass first adds into it (_propagate): its earlier grad is
#   recorded in ``saved`` *before* its grad changes, the pass's sum starts from 0 and
#   _finish_backward adds the earlier grad back.  So a pass costs nothing for leaves behind
#   a zero gradient (a dead ReLU's weights), and the caller's undo knows every change.
# * _abort_backward only *assigns* values taken before any change (no sums), so running it
#   again, or after a half-done _finish_backward, gives the same result; it holds Ctrl-C
#   while it runs.
# * _finish_backward checks that every leaf's new gradient is finite before it adds the
#   earlier gradients back, so a non-finite gradient fails (and is undone) before anything
#   is committed.
# * In the main thread, backward() installs _Interrupts for the pass: a Ctrl-C raises
#   KeyboardInterrupt as usual, but one that comes while an exception is on its way to the
#   undo is held and delivered once the grads are consistent again.


class Saved:
    """What a pass changes on the leaves, recorded before it changes it.

    ``touched``: the leaves the pass has added into, in the order it reached them, and
    ``earlier``: their grads before (two lists, no tuple per leaf for the garbage collector
    to chase); ``stores`` and ``before``: the same for neurons' parameter stores (:class:`_Store`),
    each set aside whole with its list of grads; ``stamp``: this pass's mark on the nodes it
    has set up (``Value._pass``); ``started``: the pass has begun to change grads.
    """

    __slots__ = ("touched", "earlier", "stores", "before", "stamp", "started")

    def __init__(self) -> None:
        self.touched: list[Value] = []
        self.earlier: list[float] = []
        self.stores: list[_Store] = []
        self.before: list[list[float]] = []
        self.stamp = object()
        self.started = False


_MAIN_THREAD = threading.main_thread().ident
_get_ident = threading.get_ident
try:  # the C functions under signal.signal/getsignal, without its enum conversions (a few µs per pass)
    import _signal as _sig
except ImportError:  # pragma: no cover - not CPython
    _sig = signal
_SIGINT = int(signal.SIGINT)


class _Interrupts:
    """SIGINT (Ctrl-C) during a backward pass in the main thread: the pass is finished or undone, never half.

    The handler raises KeyboardInterrupt as the usual one does, while the pass can still be
    undone by the caller's ``except``; once an exception is on its way to that undo (this
    handler raised one, or the pass's ``except`` clause is handling one) further SIGINTs are
    *held*, and :meth:`release` delivers them when every grad is consistent again.
    Outside the main thread (where Python never runs signal handlers) nothing is installed.
    """

    __slots__ = ("previous", "held", "holding", "outer")

    @classmethod
    def install(cls, holding: bool = False) -> _Interrupts | None:
        if _get_ident() != _MAIN_THREAD:
            return None
        self = cls()
        self.previous = _sig.getsignal(_SIGINT)
        if not callable(self.previous):  # ignored, default (terminate) or not set from Python
            return None
        self.held, self.holding, self.outer = None, holding, sys.exc_info()[1]
        try:
            _sig.signal(_SIGINT, self._handler)
            return self
        except BaseException:  # the handler raised at once: put the old one back
            _sig.signal(_SIGINT, self.previous)
            raise

    def _handler(self, signum: int, frame) -> None:
        if self.holding or sys.exc_info()[1] is not self.outer:
            self.held = frame
            return
        self.holding = True  # from here the pass is being undone: hold the next ones
        self.previous(signum, frame)  # KeyboardInterrupt, normally
        self.holding = False

    def release(self) -> None:
        """Put the previous handler back and deliver a held SIGINT to it (idempotent)."""
        previous = self.previous
        _sig.signal(_SIGINT, previous)
        if self.held is not None:
            frame, self.held = self.held, None
            previous(_SIGINT, frame)


def _prepare_backward(root: Value, gradient: float, nodes: list[Value], saved: Saved,
                      every_leaf: bool = False) -> None:
    """Plan the pass, then zero this pass's intermediate nodes and seed the root.

    Fills ``nodes``, the non-leaf nodes in topological order (root last), and ``saved``
    (:class:`Saved`).  Leaves are set aside later, as the pass reaches them
    (:func:`_propagate`); with ``every_leaf`` every leaf ``root`` depends on is set aside
    here instead, for a caller that adds into leaves itself (backward_steps).
    ``nodes`` and ``saved`` come in empty, made *before* the call (as :meth:`Value.backward`
    makes them) so that an undo with :func:`_abort_backward` covers an interrupt inside this call
    too; nothing is changed until the plan is complete.
    """
    touched, earlier, stamp = saved.touched, saved.earlier, saved.stamp
    if not root.parents:  # backward on a leaf: d root/d root
        earlier.append(root.grad)
        touched.append(root)
        saved.started = True
        root._pass = stamp
        root.grad = gradient
        return
    seen = {root}
    shared_seen: set[int] = set()
    found = [root]
    for v in found:  # (a work list: what it finds is appended, and visited in turn)
        t = type(v)
        if t is Value:
            group = v.parents
        elif t is _WeightedSum and not every_leaf:  # its weights and bias are leaves: only its inputs
            group = v._x
            if id(group) in shared_seen:  # the layer's inputs, scanned once for all its neurons
                continue
            shared_seen.add(id(group))
        elif t is _Binary or t is _Mul:
            group = (v._a, v._b)
        else:
            group = v.parents
        for p in group:
            if (p.parents if type(p) is Value else type(p) in _NEVER_LEAVES or p.parents):  # (no tuple made to know)
                if p not in seen:
                    seen.add(p)
                    found.append(p)
            elif every_leaf and p not in seen:
                seen.add(p)
                earlier.append(p.grad)
                touched.append(p)
    found.sort(key=_by_id)
    nodes.extend(found)
    saved.started = True  # from here on grads change; the plan above is complete
    for leaf in touched:
        leaf._pass = stamp
        leaf.grad = 0.0
    for v in found:
        v._pass = stamp
        v.grad = 0.0
    root.grad = gradient


def _propagate(nodes: list[Value], saved: Saved) -> None:
    """The reverse pass proper: each node passes grad · local derivative to each parent.

    A parent not yet marked with this pass's stamp is a leaf reached for the first time:
    its earlier grad is recorded in ``saved`` and this pass's sum for it starts from 0 (for a
    neuron's parameter, its whole store's: :func:`_set_aside`).  A neuron's ``w·x+b`` whose
    parameters are a store adds ``grad · x`` into the store's grads as one list.
    """
    if _closures_set:  # micrograd-style ops: their closures give their local derivatives now
        for v in nodes:
            if getattr(v, "_closure", None) is not None:
                _run_closure(v)
    stamp, touched, earlier = saved.stamp, saved.touched, saved.earlier
    set_aside, before = saved.stores.append, saved.before.append
    inner: dict[int, bool] = {}  # a layer's inputs (by id): all nodes of this pass (no leaf among them)?
    for v in reversed(nodes):
        g = v.grad
        if not g:  # a zero gradient (e.g. behind a dead ReLU) adds nothing: its edges are not walked
            continue
        if not _isfinite(g):
            raise _non_finite_grad(v, g)
        t = type(v)
        if t is Value:
            local = v.local_grads
            if local is _OFF:  # a ReLU that is off: adding g · 0 into its input would change no sum
                continue
            parents = v.parents
            if local is _ON and parents[0]._pass is stamp:  # a ReLU that is on: g · 1 into its input
                parents[0].grad += g
                continue
        elif t is _WeightedSum:
            store = v._store
            if store is not None:  # ∂C/∂w_k += g · x_k and ∂C/∂b += g · 1 for all k at once
                if store._pass is not stamp:  # reached first: set aside (as _set_aside), sums from 0
                    set_aside(store)
                    before(store.grad)
                    store._pass = stamp
                    new = [g * x + 0.0 for x in v._xd]  # (0.0 + -0.0 is 0.0, as for a leaf)
                    new.append(g)
                else:
                    grads = store.grad
                    new = [s + g * x for s, x in zip(grads, v._xd)]
                    new.append(grads[-1] + g)
                store.grad, store.reached = new, None  # every entry reached
                parents, local = v._x, v._wd  # then the inputs, ∂z/∂x_k = w_k (zip stops before the bias)
                known = inner.get(id(parents))
                if known is None:
                    known = inner[id(parents)] = all([p._pass is stamp for p in parents])
                if known:  # the inputs are all nodes of this pass (a layer's ReLUs): no leaf to set aside
                    for p, d in zip(parents, local):
                        p.grad += g * d
                    continue
            else:  # (its local_grads, made here and dropped; kept on the node, they would cost
                # every live node a 2n + 1 tuple that outlives the pass: 4% of an SGD step)
                parents, local = v.parents, (*v._xd, *v._wd, 1.0)
        elif t is _Binary:
            parents, local = (v._a, v._b), v.local_grads
        elif t is _Mul:
            parents, local = (v._a, v._b), (v._da, v._db)
        else:
            parents, local = v.parents, v.local_grads
        for p, d in zip(parents, local):
            if p._pass is stamp:  # an intermediate node, or a leaf this pass has already reached
                p.grad += g * d
            elif type(p) is _Param:  # a neuron's parameter, reached for the first time: its store set aside
                store = p._store
                if store._pass is not stamp:
                    _set_aside(store, saved)
                store.reached.add(p._k)
                p.grad += g * d
            else:  # a leaf, reached for the first time: its earlier grad recorded before it changes
                earlier.append(p.grad)
                touched.append(p)
                p._pass = stamp
                p.grad = 0.0 + g * d  # this pass's sum starts from 0 (and 0.0 + -0.0 is 0.0)


def _non_finite_grad(v: Value, g: float) -> ArithmeticError:
    what = "is NaN (two infinite contributions cancelled)" if g != g else "overflowed a float"
    return OverflowError(
        f"backward: ∂/∂{_describe_node(v)} = {g} {what}; every leaf's grad is left as it was. "
        "Lower the learning rate or scale the inputs"
    )


def _describe_node(v: Value) -> str:
    return v.label or (f"({v.op} node, data={v.data!r})" if v.op else f"(leaf, data={v.data!r})")


def _check_leaves(saved: Saved, nodes: Sequence[Value] = ()) -> None:
    """Every gradient this pass gave a leaf is finite, or an error names the first that is not
    (the first the pass over ``nodes`` reached, as if each parameter were a leaf of its own)."""
    stores = saved.stores
    if _isfinite(sum(map(_grad, saved.touched))) and (not stores or _isfinite(sum(map(sum, map(_grad, stores))))):
        return
    leaves = _reached_leaves(nodes) if stores and nodes else (*saved.touched, *(p for s in stores for p in s.params))
    for p in leaves:  # the sum overflowed or is inf/nan
        g = p.grad
        if not _isfinite(g) and not isinstance(p.label, _NumberLabel):  # (not a number an op made a Value)
            raise _non_finite_grad(p, g)


def _reached_leaves(nodes: Sequence[Value]) -> list[Value]:
    """The leaves a pass over ``nodes`` added into, in the order :func:`_propagate` first reached
    them (``Saved.touched`` keeps the order of loose leaves only, not that of a store's parameters)."""
    seen: set[Value] = set()
    leaves = []
    for v in reversed(nodes):
        if v.grad:
            for p in v.parents:
                if type(p) is not _WeightedSum and not p.parents and p not in seen:
                    seen.add(p)
                    leaves.append(p)
    return leaves


_grad = attrgetter("grad")


def _finish_backward(saved: Saved, nodes: Sequence[Value] = ()) -> None:
    """Check this pass's leaf gradients (``nodes``: the pass's, to name a culprit in order), then
    add the earlier gradients back (the pass is complete)."""
    _check_leaves(saved, nodes)
    if any(saved.earlier):
        for leaf, earlier in zip(saved.touched, saved.earlier):
            if earlier:
                leaf.grad += earlier
    for store, before in zip(saved.stores, saved.before):
        if before is store.zeros:  # the pass's sums are the grads
            continue
        reached = store.reached
        if reached is not None:  # only some entries: the others as they were, the reached ones plus earlier
            grads, new = store.grad, before[:]
            for k in reached:
                new[k] = grads[k] + before[k]
            store.grad = new
        elif any(before):  # (an entry the pass left at 0 gets its earlier grad back)
            store.grad = [g + e for g, e in zip(store.grad, before)]


def _abort_backward(saved: Saved) -> None:
    """Undo a failed pass on the leaves: give back the grads they had before it.

    Only assigns values recorded before the pass changed anything, so it is idempotent, and
    Ctrl-C is held while it runs (delivered at its end).
    """
    if not saved.started:
        return
    guard = _Interrupts.install(holding=True)
    try:
        for leaf, earlier in zip(saved.touched, saved.earlier):
            leaf.grad = earlier
        for store, before in zip(saved.stores, saved.before):
            store.grad = before
    finally:
        if guard is not None:
            guard.release()
