"""Operations of your own: :func:`define_op`, and the derivatives in Values that
``create_graph`` reads for every op (:func:`local_derivative_values`).

An op is defined in one place, one function of floats returning its value and local
derivatives (and, optionally, the same derivatives in Values); from there backward,
``create_graph``, ``compile()``, the explanations and the pictures pick it up.

``BUILTIN_OPS`` lists the engine's own ops by method name, for the rooms above it.
"""
from __future__ import annotations

import numbers
from typing import Callable

from .checks import describe, op_result
from .compat import has_closure
from .engine import RULES, Operand, Value, operand, node, rule

__all__ = ["define_op", "user_ops", "BUILTIN_OPS", "local_derivative_values"]

#: The engine's own operations by method name, for the rooms above it (nn, testing) to call:
#: assigning a method (``Value.tanh = my_tanh``, micrograd's way to add an op) changes what
#: ``x.tanh()`` calls, not these.
BUILTIN_OPS: dict[str, Callable[..., Value]] = {
    name: Value.__dict__[name] for name in (
        "__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
        "__rtruediv__", "__neg__", "__pow__", "__rpow__", "relu", "square", "exp", "log", "tanh", "sigmoid")
}

_BUILTIN = frozenset(dir(Value))

#: name -> the function on Values :func:`define_op` made (compile() calls it for the op's floats).
user_ops: dict[str, Callable[..., Value]] = {}


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
    if name in RULES and name not in user_ops:
        raise ValueError(f"define_op: {name!r} is a built-in operation; choose another name")
    if not callable(fn):
        raise TypeError(f"define_op({name!r}, fn): fn must be callable, got {type(fn).__name__}")
    if derivative is not None and not callable(derivative):
        raise TypeError(f"define_op({name!r}, fn, derivative=...): derivative must be a function "
                        f"(out, x, ...) -> (∂out/∂x, ...) in Values, got {type(derivative).__name__}")

    def op(*args: Operand) -> Value:
        vals = tuple(operand(a, name) for a in args)
        where = f"{name}({', '.join(describe(v) for v in vals)})"
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
        value = op_result(data, f"{where} value")
        return node(value, vals, tuple(op_result(d, f"{where} derivative") for d in derivs), name)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = fn.__doc__
    user_ops[name] = op
    if derivative is not None:
        rule(name, derivative)
    else:  # a new definition without one replaces the old derivative too
        RULES.pop(name, None)
    setattr(Value, name, op)
    return op


def local_derivative_values(v: Value) -> tuple:
    """∂v/∂parent for each parent of ``v`` in Values (numbers for constants), from its op's rule."""
    op = v.op
    d = RULES.get("**n" if op[:2] == "**" and op != "**" else op)
    where = f"{op}({', '.join(describe(p) for p in v.parents)})"
    closure = has_closure(v)  # micrograd-style: floats only, whatever its op's name
    if d is None or closure or len(v.local_grads) != len(v.parents):
        if closure:
            raise TypeError(
                f"create_graph through {where}: a micrograd-style op (Value(data, _children, _op) with a "
                "_backward closure) gives its derivatives as numbers only, so its gradient cannot be "
                "differentiated again. Define the op with define_op(name, fn, derivative=...) instead; "
                "see docs/higher_order.md"
            )
        if op in user_ops:
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
        if op not in user_ops:
            raise
        raise TypeError(f"create_graph through {where}: the derivative given to define_op({op!r}) must "
                        f"take (out, x, ...), the result and the {len(v.parents)} input(s), and return a tuple "
                        f"(∂out/∂x, ...) of Values or numbers: {e}") from e
    except (ArithmeticError, ValueError) as e:
        raise type(e)(f"create_graph through {where}: its derivative is not defined here ({e})") from e
    if op in user_ops:
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
