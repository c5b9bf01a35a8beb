"""Gradients as functions, and gradients that are graphs: ``grad``, ``hessian``, ``hvp``.

``grad(output, inputs)`` returns ∂output/∂input for each input without touching any
``.grad``.  With ``create_graph=True`` each gradient is a Value whose own graph computes
it from the ops' derivatives in Values (written next to each op in
:mod:`micrograd_ws.engine`), so it can be backpropagated, differentiated again, drawn,
stepped and explained like any Value.  ``hessian`` and ``hvp`` are built on it; the
page is docs/higher_order.md.

>>> from micrograd_ws import Value
>>> x = Value(2.0, 'x')
>>> y = x ** 3
>>> [dy] = grad(y, [x], create_graph=True)    # 3x² as a Value
>>> dy.data, grad(dy, [x])                     # and its derivative 6x
(12.0, [12.0])
>>> hessian(lambda a, b: a * a * b, [1.0, 3.0])   # [[2b, 2a], [2a, 0]]
[[6.0, 2.0], [2.0, 0.0]]
"""
from __future__ import annotations

import math
from typing import Callable, Sequence, Union

from .checks import describe, non_finite_grad, to_float
from .compat import run_closures
from .custom import local_derivative_values
from .engine import EXTENSIONS, Value, topological_order
from .mode import enable_grad, reaches_only_unrecorded, recorded
from .safety import refuse_held

__all__ = ["grad", "hessian", "hvp", "backward_create_graph", "GradFloat"]

Input = Union[Value, int, float]
Gradient = Union[Value, float]  # a plain float is a constant while the gradient is being built


class GradFloat(float):
    """The float in ``v.grad`` after ``backward(create_graph=True)``, carrying the Value
    that computes it as ``value`` (read it as ``v.grad_value``).

    It is a float in every other way, so code reading ``grad`` sees no difference; any
    arithmetic on it gives a plain float (without the Value).
    """

    __slots__ = ("value",)

    def __new__(cls, data: float, value: Value) -> GradFloat:
        g = super().__new__(cls, data)
        g.value = value
        return g

    def __reduce__(self):  # pickle and copy it with its Value (the Value may be half-built then: a cycle)
        return GradFloat, (float(self), self.value)


def _times(g: Gradient, d: Gradient) -> Gradient | None:
    """g·d for numbers or Values, with no node for a factor ±1 (None for a constant 0)."""
    if not isinstance(d, Value):
        if d == 1.0:
            return g
        if d == 0.0:
            return None
        if d == -1.0 and isinstance(g, Value):
            return -g
    elif not isinstance(g, Value) and g == 1.0:
        return d
    return g * d


def _gradients(root: Value, seed: float, create_graph: bool) -> tuple[list[Value], dict]:
    """Every node ``root`` depends on (topological order) and a dict node -> ∂root/∂node.

    Nodes absent from the dict have gradient 0.  The same loop as ``backward()``, in the
    same order, so the floats are the same; with ``create_graph`` each term multiplies
    by the op's derivative in Values, so every gradient is a Value (or a constant).
    """
    order = topological_order(root)
    if not create_graph:
        run_closures(order)  # micrograd-style ops: their closures give the floats now, as in backward()
    grads: dict = {root: seed}
    for v in reversed(order):
        g = grads.get(v)
        if g is None or not v.parents:
            continue
        if not create_graph:
            if not g:
                continue  # a zero gradient (behind a dead ReLU) adds nothing
            if not math.isfinite(g):
                raise non_finite_grad(v, g)
        locals_ = local_derivative_values(v) if create_graph else v.local_grads
        for p, d in zip(v.parents, locals_):
            term = _times(g, d)
            if term is not None:
                grads[p] = grads[p] + term if p in grads else term
    return order, grads


def _output(output: object, where: str, must: str = "the output must be") -> Value:
    if isinstance(output, Value):
        return output
    if isinstance(output, (list, tuple)):
        raise TypeError(f"{where}: {must} one Value (a scalar), got a {type(output).__name__} of "
                        f"{len(output)}; take the gradient of each, or of their sum (micrograd_ws.mean for a mean)")
    raise TypeError(f"{where}: {must} a Value, got {type(output).__name__} {output!r}")


def _inputs(inputs: object, where: str) -> list[Value]:
    if isinstance(inputs, Value):
        return [inputs]
    if isinstance(inputs, (str, bytes)) or not hasattr(inputs, "__iter__"):
        raise TypeError(f"{where}: inputs must be a Value or a list of Values, got {type(inputs).__name__} {inputs!r}")
    xs = list(inputs)
    for k, x in enumerate(xs):
        if not isinstance(x, Value):
            raise TypeError(f"{where}: inputs[{k}] must be a Value (the one the output was computed from), "
                            f"got {type(x).__name__} {x!r}")
    return xs


def grad(output: Value, inputs: Value | Sequence[Value], create_graph: bool = False,
         allow_unused: bool = False) -> list:
    """∂output/∂input for each of ``inputs``, as a list; no ``.grad`` anywhere is changed.

    ``create_graph=False``: floats, the same numbers ``output.backward()`` would add.
    ``create_graph=True``: Values whose graph computes each gradient from the inputs
    (through the original graph), ready to be differentiated again.  A gradient may be
    a node of the original graph itself: ∂(x·y)/∂x *is* y.

    An input the output does not depend on (no path from it to the output) is an error,
    as in PyTorch, unless ``allow_unused=True``: then its gradient is 0 (PyTorch gives
    None, or zeros with ``materialize_grads=True``).  A path through a dead ReLU counts
    as a dependence, with gradient 0.

    >>> a, b = Value(2.0, 'a'), Value(-3.0, 'b')
    >>> grad(a * b + a, [a, b])
    [-2.0, 2.0]
    >>> grad(a * 2, [a, b])
    Traceback (most recent call last):
    ...
    ValueError: grad: the output does not depend on inputs[1] (b=-3.0); pass allow_unused=True to get 0 for it
    >>> grad(a * 2, [a, b], allow_unused=True)
    [2.0, 0.0]
    """
    output = recorded(_output(output, "grad"), "grad")
    xs = _inputs(inputs, "grad(output, inputs)")
    order, grads = _gradients(output, 1.0, bool(create_graph))
    reached = set(order)
    result = []
    for k, x in enumerate(xs):
        if x not in reached and not allow_unused:
            raise ValueError(f"grad: the output does not depend on inputs[{k}] ({describe(x)}); "
                             "pass allow_unused=True to get 0 for it")
        g = grads.get(x, 0.0)
        result.append(g if not create_graph or isinstance(g, Value) else Value(g))
    return result


def backward_create_graph(root: Value, gradient: float = 1.0) -> None:
    """``root.backward(gradient, create_graph=True)``: each node's ``grad`` also as a Value.

    Every node ``root`` depends on gets ``grad`` (the float, as ``backward()`` gives it)
    and ``grad_value`` (a Value computing it).  Accumulation is ``backward()``'s: a leaf
    adds this pass to what it held (``grad_value`` becomes the Value of the sum; an
    earlier plain float enters it as a constant), an intermediate node holds this
    pass's gradient.  ``zero_grad()`` or ``v.grad = 0.0`` resets both.  A later
    ``backward()`` without ``create_graph`` leaves plain floats (``grad_value`` None).
    Everything is computed before any ``grad`` changes, so an error changes nothing.

    >>> w = Value(0.5, 'w'); C = (w * 4.0 - 1.0).square()
    >>> C.backward(create_graph=True); w.grad, w.grad_value.op        # 8(4w − 1)
    (8.0, '*')
    >>> C.backward(create_graph=True); w.grad, w.grad_value.op        # accumulated: a sum
    (16.0, '+')
    """
    refuse_held(root)  # (a pass paused half-way, backward_steps, would find its sums replaced)
    order, grads = _gradients(recorded(root), gradient, True)
    if (error := reaches_only_unrecorded([v for v in order if not v.parents])) is not None:  # (every leaf: as
        raise error  # backward() refuses it)
    new = []
    for v in order:
        g = grads.get(v, 0.0)
        if not isinstance(g, Value):
            g = Value(g)
        if not v.parents and v.grad:  # a leaf accumulates
            earlier = v.grad_value
            g = (earlier if earlier is not None else v.grad) + g
        new.append(GradFloat(g.data, g))
    before = [v.grad for v in order]
    try:
        for v, g in zip(order, new):
            v.grad = g
    except BaseException:  # Ctrl-C half-way: every grad as it was
        for v, g in zip(order, before):
            v.grad = g
        raise


# --- functions of Values: Hessian and Hessian-vector product ----------------------------

def _evaluate(f: Callable[..., Value], inputs: Sequence[Input], where: str) -> tuple[Value, list[Value]]:
    """f at ``inputs`` (numbers become fresh leaves, Values are used as they are)."""
    if not callable(f):
        raise TypeError(f"{where}: f must be a function of Values returning one Value, got {type(f).__name__} {f!r}")
    if isinstance(inputs, (str, bytes, Value)) or not hasattr(inputs, "__iter__"):
        raise TypeError(f"{where}: inputs must be a list of numbers (or Values), got {type(inputs).__name__} {inputs!r}")
    xs = [x if isinstance(x, Value) else Value(to_float(x, f"{where} input")) for x in inputs]
    if not xs:
        raise ValueError(f"{where}: no inputs; give one number (or Value) per argument of f")
    return _output(f(*xs), where, "f must return"), xs


def hessian(f: Callable[..., Value], inputs: Sequence[Input]) -> list[list[float]]:
    """The matrix of second derivatives ∂²f/∂x_i∂x_j, a nested list of floats.

    ``f`` takes one Value per input and returns one Value.  Row i is the gradient of
    ∂f/∂x_i (``grad`` with ``create_graph=True``), so the matrix is symmetric up to
    rounding.  An input f does not depend on has a row and column of zeros, as in
    ``torch.autograd.functional.hessian``.

    >>> hessian(lambda w, b: (w * 2.0 + b - 1.0).square(), [0.5, 0.1])  # [[2i², 2i], [2i, 2]], i = 2
    [[8.0, 4.0], [4.0, 2.0]]
    """
    with enable_grad():  # (inside no_grad() too, as torch.autograd.functional: it makes its own graph)
        out, xs = _evaluate(f, inputs, "hessian(f, inputs)")
        first = grad(out, xs, create_graph=True, allow_unused=True)
        return [grad(g, xs, allow_unused=True) for g in first]


def hvp(f: Callable[..., Value], inputs: Sequence[Input], v: Sequence[float]) -> list[float]:
    """The Hessian of f at ``inputs`` times the vector ``v``, without forming the Hessian.

    One backward pass through ∑_i v_i·∂f/∂x_i (the gradient graph) instead of one per
    row.  (``torch.autograd.functional.hvp`` returns f's value too; this returns the
    product only.)

    >>> hvp(lambda w, b: (w * 2.0 + b - 1.0).square(), [0.5, 0.1], [1.0, -2.0])
    [0.0, 0.0]
    """
    with enable_grad():  # (inside no_grad() too, as hessian)
        return _hvp(f, inputs, v)


def _hvp(f: Callable[..., Value], inputs: Sequence[Input], v: Sequence[float]) -> list[float]:
    out, xs = _evaluate(f, inputs, "hvp(f, inputs, v)")
    if isinstance(v, (str, bytes)) or not hasattr(v, "__len__") or len(v) != len(xs):
        raise ValueError(f"hvp(f, inputs, v): v must be a list of {len(xs)} numbers, one per input, got {v!r}")
    weights = [to_float(x, "hvp(f, inputs, v) entry") for x in v]
    total: Gradient | None = None
    for g, w in zip(grad(out, xs, create_graph=True, allow_unused=True), weights):
        term = _times(g, w)
        if term is not None:
            total = term if total is None else total + term
    if not isinstance(total, Value):  # the gradient is constant: f is linear, or v is 0
        return [0.0] * len(xs)
    return grad(total, xs, allow_unused=True)


EXTENSIONS["create_graph"] = backward_create_graph  # Value.backward(create_graph=True)
