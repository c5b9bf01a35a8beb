"""The trace: ``fn`` called once on Values, and the graph it built sorted into a program.

A :class:`Program` holds the graph's nodes in creation order, each an input (an argument), a
parameter (a leaf made before the trace), a constant, or an op; codegen.py writes its replay.
Here too: a call's arguments as one flat list and a shape (:func:`flatten`), and back.
"""
from __future__ import annotations

import inspect
import numbers
from typing import Callable

from ..engine import Value, topological_order
from ..mode import enable_grad, no_grad_entries
from ..notation import name
from ..pickling import next_id
from .errors import ReplayError

__all__ = ["Program", "flatten", "unflatten", "arg_names", "where"]


class Program:
    """One trace of ``fn``: the graph's nodes sorted into inputs, parameters, constants and ops.

    ``kind[i]`` says what node i is: ``('in', k)`` argument k, ``('param', k)`` ``params[k]``,
    ``('const', k)`` ``consts[k]``, ``('op', op)``.  codegen.generate adds the replay: the
    generated sources and the functions ``forward``, ``train``, ``train_flat``, ``state``.
    """

    def __init__(self, fn: Callable, shape: tuple, flat: list, names: list[str]) -> None:
        self.shape = shape
        mark = next_id()  # Values numbered below this were made before the trace
        leaves = [Value(x, label=n) for x, n in zip(flat, names)]
        entered = no_grad_entries()
        try:
            with enable_grad():
                out = fn(*unflatten(shape, leaves))
        except TypeError as e:
            e.add_note("(compile traces fn with Values for its arguments: inside fn use Value operations, "
                       "not math.sin(x), float(x) or max(x, ...))")
            raise
        if no_grad_entries() != entered:
            raise ReplayError("compile: fn enters no_grad(): what it computes there is a leaf, a number a replay "
                              "would keep at its value in the trace. Compute it outside fn and pass it in as an "
                              "argument, or run fn eagerly")
        if not isinstance(out, Value):
            raise TypeError(f"compile: fn must return a Value (the loss), got {type(out).__name__} {out!r}")
        self.root_node = out
        self.nodes = nodes = topological_order(out)
        self.index = index = {id(v): i for i, v in enumerate(nodes)}
        inputs = {id(v): k for k, v in enumerate(leaves)}
        self.params: list[Value] = []
        self.consts: list[float] = []
        self.kind: list[tuple] = []
        uses = [0] * len(nodes)
        for v in nodes:
            for p in v.parents:
                uses[index[id(p)]] += 1
        self.uses = uses
        for v in nodes:
            if not v.parents:
                if id(v) in inputs:
                    self.kind.append(("in", inputs[id(v)]))
                elif v._id < mark:
                    self.kind.append(("param", len(self.params)))
                    self.params.append(v)
                else:
                    self.kind.append(("const", len(self.consts)))
                    self.consts.append(v.data)
                continue
            _recomputable(v, mark)
            self.kind.append(("op", v.op))
        self.n_inputs = len(leaves)
        self.constants_at_trace = list(self.consts)


def where(v: Value) -> str:
    """An op node as the messages name it: ``op(parent, parent, ...)``."""
    return f"{v.op or 'op'}({', '.join(name(p) for p in v.parents[:4])}{', ...' if len(v.parents) > 4 else ''})"


def _recomputable(v: Value, mark: int) -> None:
    """Refuse, naming the op and the fix, a node whose number a replay cannot recompute from its parents."""
    if getattr(v, "_closure", None) is not None:
        raise ReplayError(
            f"compile: {where(v)} is a micrograd-style op (Value(data, _children, _op) with a _backward closure); "
            "its closure reads .data of the moment and cannot be replayed on new inputs. Define it with "
            f"micrograd_ws.define_op({v.op or 'name'!r}, fn) instead (fn returns the value and the local "
            "derivatives), or run fn eagerly"
        )
    if v._id < mark:
        raise ReplayError(
            f"compile: fn uses {name(v)}, the result of {where(v)} computed before the trace; a replay cannot "
            "recompute it. Compute it inside fn (or make it a leaf: Value(x.data))"
        )


# --- arguments --------------------------------------------------------------------------

def flatten(args: tuple) -> tuple[tuple, list]:
    """The call's shape and its numbers and Values, flat: each argument's shape is None (a
    number) or a tuple of its items' shapes (a list, of numbers or of lists, as a batch of samples)."""
    flat: list = []

    def walk(a: object, where: str) -> tuple | None:
        if isinstance(a, (list, tuple)):
            return tuple(walk(x, f"{where}[{j}]") for j, x in enumerate(a))
        flat.append(_scalar(a, where))
        return None

    return tuple(walk(a, f"argument {k + 1}") for k, a in enumerate(args)), flat


def _scalar(x: object, where: str) -> object:
    if isinstance(x, Value) or type(x) is float:
        return x
    if getattr(x, "ndim", None) == 0:
        x = x.item()
    if isinstance(x, (bool, str, bytes)) or not isinstance(x, numbers.Real):
        raise TypeError(f"compiled step: {where} is a {type(x).__name__} {x!r}; pass a number, a Value, "
                        "or a list of them, shaped as at the trace")
    return x


def unflatten(shape: tuple, flat: list) -> list:
    """The arguments again, from :func:`flatten`'s shape and a flat list (of numbers or Values)."""
    items = iter(flat)

    def build(s: tuple | None) -> object:
        return next(items) if s is None else [build(x) for x in s]

    return [build(s) for s in shape]


def arg_names(fn: Callable, shape: tuple) -> list[str]:
    """Labels for the traced input leaves: fn's parameter names (``x``, ``y``; ``xs[0]``, ``xs[0][1]``)."""
    try:
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []

    def names(s: tuple | None, base: str) -> list[str]:
        return [base] if s is None else [n for j, x in enumerate(s) for n in names(x, f"{base}[{j}]")]

    return [n for k, s in enumerate(shape) for n in names(s, params[k] if k < len(params) else f"arg{k + 1}")]
