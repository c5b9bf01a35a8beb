"""The trace: ``fn`` called once on Values, and the graph it built sorted into a program.

A :class:`Program` holds the graph's nodes in creation order, each an input (an argument), a
parameter (a leaf made before the trace), a constant, or an op; codegen.py writes its replay.
Here too: a call's arguments as one flat list and a shape (:func:`flatten`), and back, each
number a float as ``Value()`` makes it; and what the trace cannot follow, said at the trace with a
:class:`~micrograd_ws.compiled.TraceWarning`: ``fn`` reading ``.data`` (a branch on a number, a
number copied into a new Value) or closing over numbers (a later change of one is not seen).
"""
from __future__ import annotations

import inspect
import math
import numbers
import os
import sys
import threading
import warnings
from typing import Callable

from ..checks import to_float
from ..engine import Value, topological_order
from ..mode import enable_grad, no_grad_entries
from ..notation import name
from ..pickling import next_id
from .errors import ReplayError, TraceWarning

__all__ = ["Program", "flatten", "unflatten", "arg_names", "where", "tracing"]


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
        watching = _Watching()
        try:
            reads = watching.start()
            with enable_grad():
                out = fn(*unflatten(shape, leaves))
        except TypeError as e:
            e.add_note("(compile traces fn with Values for its arguments: inside fn use Value operations, "
                       "not math.sin(x), float(x) or max(x, ...))")
            raise
        finally:
            watching.stop()
        _warn_what_a_replay_cannot_follow(fn, reads)
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


# --- what the trace cannot follow, said at the trace ---------------------------------------

_here = threading.local()  # .reads: where this thread's trace saw fn read .data (the first few)
_SLOT = Value.__dict__["data"]  # Value's own slot, under the watching descriptor while a trace runs
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_tracers: set[int] = set()  # the threads tracing now (the descriptor is in place while there are any)
_get_ident = threading.get_ident
_READS_KEPT = 16


def tracing() -> bool:
    """True while this thread runs a trace's call of fn (a compiled function called there runs eagerly).

    Told by the stack (a Program being made), so no flag can be left set by an interrupt."""
    return _get_ident() in _tracers and _inside_trace(sys._getframe(1))


def _inside_trace(frame) -> bool:
    while frame is not None:
        if frame.f_code is _TRACE_CODE:
            return True
        frame = frame.f_back
    return False


class _WatchedData:
    """``Value.data`` while a trace runs: a read from code outside micrograd_ws in a tracing thread
    (fn's own ``x.data``) is noted with its file and line; the engine's reads are not."""

    def __get__(self, obj: Value | None, owner: type | None = None) -> object:
        if obj is None:
            return self
        if _get_ident() in _tracers:
            frame = sys._getframe(1)
            if not frame.f_code.co_filename.startswith(_PACKAGE):
                reads = _here.reads
                if len(reads) < _READS_KEPT:
                    reads.append((frame.f_code.co_filename, frame.f_lineno))
        return _SLOT.__get__(obj, owner)

    def __set__(self, obj: Value, value: object) -> None:
        _SLOT.__set__(obj, value)

    def __delete__(self, obj: Value) -> None:
        _SLOT.__delete__(obj)


class _Watching:
    """While this thread traces, between :meth:`start` and :meth:`stop` (in a ``finally``):
    ``Value.data`` is watched, the reads listed.  A trace inside a trace (a compiled function's)
    shares the outer one's list.

    No lock (an interrupt inside a ``with lock`` can leave it held): set operations are atomic; at
    worst a trace that starts while another ends goes unwatched (a warning missed), and an
    interrupt inside :meth:`stop` leaves the descriptor in place until the next trace ends (slower
    ``.data`` meanwhile, nothing else: :func:`tracing` is told by the stack)."""

    def __init__(self) -> None:  # (made in Program.__init__: the stack above that frame)
        self.outer = _get_ident() in _tracers and _inside_trace(sys._getframe(2))

    def start(self) -> list:
        if not self.outer:
            _here.reads = []
        _tracers.add(_get_ident())
        if Value.__dict__["data"] is _SLOT:
            Value.data = _WatchedData()
        return _here.reads

    def stop(self) -> None:
        if not self.outer:
            _tracers.discard(_get_ident())
            if not _tracers:
                Value.data = _SLOT


def _warn_what_a_replay_cannot_follow(fn: Callable, reads: list) -> None:
    """A :class:`TraceWarning` if fn read ``.data`` or closes over numbers: the replay keeps what
    the trace saw, and (after ``check=True``'s calls) nothing would tell you it changed."""
    said = []
    if reads:
        places = sorted(set(reads), key=reads.index)
        shown = ", ".join(f"{os.path.basename(f)}:{n}" for f, n in places[:3]) + (", ..." if len(places) > 3 else "")
        said.append(f"fn reads .data ({shown}): a branch on a number, or a number copied into a new Value, is "
                    "replayed as it was at the trace")
    numbers_seen = _numbers_fn_closes_over(fn)
    if numbers_seen:
        shown = ", ".join(f"{n} = {v!r}" for n, v in numbers_seen[:3]) + (", ..." if len(numbers_seen) > 3 else "")
        said.append(f"fn closes over numbers ({shown}): a replay keeps the values they had at the trace, and "
                    "a later change is not seen")
    if said:
        warnings.warn(f"compile: {'; '.join(said)}. Pass such numbers as arguments of fn, or compile again after "
                      "changing them (or run fn eagerly); check=True compares the first calls with eager",
                      TraceWarning, stacklevel=6)


def _numbers_fn_closes_over(fn: Callable) -> list[tuple[str, object]]:
    """The numbers in fn's closure cells, and in the globals its code names."""
    code, found = getattr(fn, "__code__", None), []
    if code is None:
        return found
    for n, cell in zip(code.co_freevars, getattr(fn, "__closure__", None) or ()):
        try:
            v = cell.cell_contents
        except ValueError:  # (an empty cell)
            continue
        if _is_number(v):
            found.append((n, v))
    env = getattr(fn, "__globals__", {})
    found += [(n, env[n]) for n in code.co_names if n in env and _is_number(env[n])]
    return found


def _is_number(v: object) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and not isinstance(v, Value)


_TRACE_CODE = Program.__init__.__code__  # the frame of a trace: fn is being called from it


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
    """An argument's number as a float, as eager's ``Value(x)`` makes it (an int or a Fraction is
    not replayed in exact arithmetic), with Value()'s error if it cannot be one; a Value as it is."""
    if isinstance(x, Value) or (type(x) is float and _isfinite(x)):
        return x
    if getattr(x, "ndim", None) == 0:
        x = x.item()
    if isinstance(x, (bool, str, bytes)) or not isinstance(x, numbers.Real):
        raise TypeError(f"compiled step: {where} is a {type(x).__name__} {x!r}; pass a number, a Value, "
                        "or a list of them, shaped as at the trace")
    return to_float(x, "Value()")


_isfinite = math.isfinite


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
