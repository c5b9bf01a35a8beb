"""What :func:`~micrograd_ws.compile` returns: :class:`Compiled`, a function replaying ``fn``'s
traces (one per shape of the arguments), and :class:`CompiledValue`, the loss of one call,
whose ``backward()`` writes the replay's gradients into the leaves.  ``check=True`` runs eager
beside the first calls and compares, node by node and bit by bit.
"""
from __future__ import annotations

import math
from typing import Any, Callable

from .. import nn
from ..checks import to_float
from ..engine import Value, topological_order
from ..mode import recording
from ..notation import name
from ..safety import Interrupts, ctrl_c_held
from .codegen import generate
from .errors import ReplayError, RunEagerly
from .trace import Program, arg_names, flatten, tracing, unflatten

__all__ = ["Compiled", "CompiledValue", "CHECKED_CALLS", "MAX_TRACES"]

#: How many calls ``check=True`` compares with eager.
CHECKED_CALLS = 3
#: Traces kept per compiled function, one per shape of the arguments.
MAX_TRACES = 8


class Compiled:
    """What :func:`compile` returns: call it like ``fn``; each call returns a :class:`CompiledValue`.

    ``params``: the parameters the trace found (leaves made before it); ``code``: the
    generated Python of the replay, to read.
    """

    def __init__(self, fn: Callable, check: bool | int = False) -> None:
        if not callable(fn):
            raise TypeError(f"compile(fn): fn must be a function building a loss, got {type(fn).__name__} {fn!r}")
        self.fn = fn
        self.checks_left = CHECKED_CALLS if check is True else int(check or 0)
        self._programs: dict[tuple, Program] = {}
        self._structure = nn.structure_changes

    def _program(self, shape: tuple, flat: list) -> Program:
        prog = self._programs.pop(shape, None)
        if prog is not None:
            self._programs[shape] = prog  # (most recently used last)
        else:
            if len(self._programs) >= MAX_TRACES:  # the shape used longest ago makes room
                del self._programs[next(iter(self._programs))]
            data = [x.data if isinstance(x, Value) else x for x in flat]
            prog = Program(self.fn, shape, data, arg_names(self.fn, shape))
            generate(prog)
            self._programs[shape] = prog
        return prog

    @property
    def params(self) -> list[Value]:
        """The parameters of the latest trace, in the order the graph reaches them."""
        return list(next(reversed(self._programs.values())).params) if self._programs else []

    @property
    def code(self) -> str:
        """The generated Python of the latest trace (forward, with backward inside it)."""
        return next(reversed(self._programs.values())).source if self._programs else ""

    def _traced(self, shape: tuple, flat: list) -> Program:
        """The program for this shape, tracing it if need be.

        An error ``fn`` raises during the trace is eager's error (the trace *is* an eager call, on
        Values): it is raised as it is, once, and ``fn`` does not run again.  A net whose make-up
        changed since the traces (a weight Value or a neuron replaced: ``nn.structure_changes``)
        is traced again, so the replay follows the net as it is.
        """
        if self._structure != nn.structure_changes:
            self._programs.clear()
            self._structure = nn.structure_changes
        return self._program(shape, flat)

    def eager(self, *args: Any) -> Value:
        """``fn`` called as the trace calls it, eagerly: each number argument a leaf Value labelled
        with fn's parameter name (a Value argument as it is).  A compiled call that cannot be
        replayed runs this, so it raises exactly this call's error, or returns its Value."""
        shape, flat = flatten(args)
        return self._eager_call(shape, flat)

    def _eager_call(self, shape: tuple, flat: list) -> Value:
        names = arg_names(self.fn, shape)
        leaves = [x if isinstance(x, Value) else Value(x, label=n) for x, n in zip(flat, names)]
        return self.fn(*unflatten(shape, leaves))

    def __call__(self, *args: Any) -> CompiledValue | Value:
        shape, flat = flatten(args)  # (numbers become floats here, as Value() makes them)
        if tracing():  # inside another compiled function's trace: a graph of Values, for that trace
            return self._eager_call(shape, flat)
        if not recording():  # inside no_grad(): fn as eager runs it there (its result a leaf, no trace)
            return self._eager_call(shape, flat)
        prog = self._traced(shape, flat)
        values = [x for x in flat if isinstance(x, Value)]
        if values and not _replayable_values(values, prog):
            return self._eager_call(shape, flat)  # eager: a Value argument with a graph behind it, or given twice
        data = [x.data if isinstance(x, Value) else x for x in flat]
        try:
            result, backward = prog.forward(*data)
        except (RunEagerly, ArithmeticError, ValueError, TypeError):
            return self._eager_call(shape, flat)  # eager: raises eager's error (or, an edge case, gives eager's result)
        out = CompiledValue(prog, result, backward, flat, args, self)
        if self.checks_left:
            self.checks_left -= 1
            out._eager = _compare_graphs(self, prog, flat, result)
        return out

    def __repr__(self) -> str:
        return f"<compiled {getattr(self.fn, '__qualname__', self.fn)!s}: {len(self._programs)} trace(s)>"


def _replayable_values(values: list[Value], prog: Program) -> bool:
    """Value arguments replay as traced if each is a leaf, given once, and not a parameter."""
    ids = {id(v) for v in values}
    return (len(ids) == len(values) and all(not v.parents for v in values)
            and not any(id(p) in ids for p in prog.params))


class CompiledValue:
    """The loss of one compiled call: ``data``, ``item()``, ``backward()`` as a Value's.

    ``backward()`` fills every parameter's ``.grad`` (and a Value argument's) with exactly the
    numbers eager's ``backward()`` gives: leaves add up over calls, the loss's own ``grad``
    is the gradient it was seeded with.  A failed pass (a non-finite gradient, Ctrl-C) leaves
    every grad as it was.
    """

    __slots__ = ("prog", "data", "grad", "_backward", "_flat", "_args", "_fn", "_eager")

    def __init__(self, prog: Program, data: float, backward: Callable, flat: list, args: tuple,
                 fn: Compiled) -> None:
        self.prog, self.data, self._backward, self._flat, self._args, self._fn = prog, data, backward, flat, args, fn
        self.grad = 0.0
        self._eager: Value | None = None

    @property
    def label(self) -> str:
        return self.prog.root_node.label

    @property
    def op(self) -> str:
        return self.prog.root_node.op

    def item(self) -> float:
        """The plain float, as ``torch.Tensor.item()``."""
        return self.data

    def backward(self, gradient: float = 1.0, create_graph: bool = False) -> None:
        """Fill the parameters' ``.grad`` with ∂self/∂parameter, to the bit as eager would."""
        if create_graph:
            raise ReplayError("a compiled loss has no graph to differentiate again; for create_graph=True "
                              "call fn eagerly (loss = fn(x, y); loss.backward(create_graph=True))")
        if self._eager is not None:  # check=True: eager's gradients, then ours, compared
            return _compare_grads(self, gradient)
        try:
            sp, rows, ins = self._backward(gradient)
        except RunEagerly:
            return self._eager_backward(gradient)
        writes = _sums(self.prog, sp, rows, ins, self._flat)
        if writes is None:  # a sum with an earlier grad overflows (eager's pass names it, changing nothing),
            # or a -0.0 set by hand, which eager keeps or not by whether its pass reached the leaf
            return self._eager_backward(gradient)
        writes.append((self, to_float(gradient, "backward(gradient)")))  # the loss's own grad, with the rest
        _commit(writes)

    def _eager_backward(self, gradient: float) -> None:
        """A non-finite gradient: eager's pass raises its error (naming the node) and changes no grad."""
        eager = self._fn.eager(*self._args)
        if eager.data != self.data:
            raise OverflowError("backward: a gradient is not finite, and the parameters changed since the "
                                "forward pass, so eager cannot name it; every leaf's grad is left as it was")
        old, self.grad = self.grad, to_float(gradient, "backward(gradient)")
        try:
            eager.backward(gradient)  # (an overflow only of our check's sum: eager's pass is the result)
        except BaseException:
            self.grad = old
            raise

    def _no_graph(self, *other: object) -> None:
        raise TypeError("a CompiledValue is the loss of one compiled call, with no graph to compute on: call "
                        ".backward() on it, or read its number as .data. To use a compiled function inside "
                        "another, compile the outer one (the inner call is traced through) or call fn eagerly")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _no_graph
    __truediv__ = __rtruediv__ = __pow__ = __rpow__ = __neg__ = _no_graph

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"CompiledValue(data={self.data!r}, grad={self.grad!r}{label}, op={self.op!r})"


def _sums(prog: Program, sp: list, rows: list, ins: list, flat: list) -> list | None:
    """Each leaf (or neuron store) and its new grad, the pass's gradient plus its earlier grad,
    computed as eager computes it and nothing written yet; None if one is not finite."""
    # eager: a leaf's grad is the pass's sum (from 0.0, so never -0.0) plus its earlier grad; a leaf the
    # pass did not reach keeps its grad: a sum of 0.0 is not written (t + e is e), except over a -0.0 set
    # by hand, which eager makes 0.0 if (and only if) the pass reached the leaf: eager's pass decides
    sp_leaves = prog.ns["SP"]
    if any(not t and _negative_zero(p.grad) for p, t in zip(sp_leaves, sp)) or any(
            not t and _negative_zero(x.grad) for x, t in zip(flat, ins) if isinstance(x, Value)):
        return None
    writes = [(p, t + p.grad) for p, t in zip(sp_leaves, sp) if t]
    for k, group_rows in rows:
        pw, pb, stores = prog.ns[f"PW{k}"], prog.ns[f"PB{k}"], prog.ns[f"ST{k}"]
        for j, gj, grads in group_rows:  # (t + 0.0: a product g·0.0 may be -0.0, the sum is not)
            if stores is not None and stores[j].ready():  # (a loose store's parameters: one by one, below)
                earlier = stores[j].grad
                new = [t + 0.0 + e for t, e in zip(grads, earlier)]
                new.append(gj + earlier[-1])
                writes.append((stores[j], new))
                continue
            writes += [(p, t + 0.0 + p.grad) for p, t in zip(pw[j], grads)]
            writes.append((pb[j], gj + pb[j].grad))
    writes += [(x, t + x.grad) for x, t in zip(flat, ins) if t and isinstance(x, Value)]
    total = sum([sum(g) if type(g) is list else g for _, g in writes])
    if not math.isfinite(total) and not all(math.isfinite(x) for _, g in writes
                                            for x in (g if type(g) is list else (g,))):
        return None
    return writes


def _negative_zero(g: float) -> bool:
    return g == 0.0 and math.copysign(1.0, g) < 0.0


def _commit(writes: list) -> None:
    """Write the new grads, all or nothing: an exception on the way (Ctrl-C, a signal handler
    that raises) puts back every grad already written, then goes on, as eager's pass does."""
    earlier = [leaf.grad for leaf, _ in writes]
    guard = None
    try:
        guard = Interrupts.install()  # Ctrl-C raises as usual until every grad is written
        for leaf, g in writes:
            leaf.grad = g
        if guard is not None:
            guard.release()  # (the last call: a Ctrl-C that comes until here undoes the writes)
    except BaseException:
        try:
            with ctrl_c_held():
                for (leaf, _), g in zip(writes, earlier):
                    leaf.grad = g
        finally:
            if guard is not None:
                guard.release()  # (delivers a Ctrl-C held during the undo)
        raise


# --- check=True: the replay beside eager -------------------------------------------------

def _compare_graphs(compiled: Compiled, prog: Program, flat: list, result: float) -> Value:
    """Build the call's graph eagerly and compare it, node by node, with the trace."""
    leaves = [x if isinstance(x, Value) else Value(x, label=n)
              for x, n in zip(flat, arg_names(compiled.fn, prog.shape))]
    eager = compiled.fn(*unflatten(prog.shape, leaves))
    if not isinstance(eager, Value):
        raise ReplayError(f"check: fn returned {type(eager).__name__} this time, not a Value")
    nodes = topological_order(eager)
    index = {id(v): i for i, v in enumerate(nodes)}
    given = {id(v): k for k, v in enumerate(leaves)}
    for i, (v, t) in enumerate(zip(nodes, prog.nodes)):
        kind = prog.kind[i]
        where = name(v)
        if kind[0] == "param" and v is not t:
            raise ReplayError(f"check: {where}: node {i} is not the traced parameter {name(t)} (a parameter "
                              "replaced, or fn chose other Values by .data); compile fn again")
        if kind[0] == "in" and given.get(id(v)) != kind[1]:
            raise ReplayError(f"check: {where}: node {i} is not argument {kind[1] + 1} as in the trace")
        if kind[0] == "const" and (v.parents or v.data != prog.constants_at_trace[kind[1]]):
            raise ReplayError(f"check: {where}: a constant was {prog.constants_at_trace[kind[1]]!r} in the trace "
                              f"and is {v.data!r} now: fn computes it from .data, which a replay cannot follow")
        if kind[0] == "op" and (v.op != t.op or [index.get(id(p)) for p in v.parents]
                                != [prog.index[id(p)] for p in t.parents]):
            raise ReplayError(f"check: the graph differs from the trace at node {i}: {_what(v)} now, {_what(t)} "
                              "in the trace; fn takes another path on these numbers (Python control flow on "
                              ".data), which a replay cannot follow: run fn eagerly")
    if len(nodes) != len(prog.nodes):
        raise ReplayError(f"check: the graph has {len(nodes)} nodes now and {len(prog.nodes)} in the trace: fn "
                          "takes another path on these numbers (Python control flow on .data)")
    if eager.data != result:
        raise ReplayError(f"check: {name(eager)} = {eager.data!r} eagerly but {result!r} replayed")
    return eager


def _what(v: Value) -> str:
    return f"{name(v)} ({f'op {v.op!r}' if v.op else 'a leaf'})"


def _compare_grads(out: CompiledValue, gradient: float) -> None:
    """Eager's backward first (its grads kept), then the replay's on the same earlier grads: the same bits."""
    prog, eager = out.prog, out._eager
    leaves = prog.params + [x for x in out._flat if isinstance(x, Value)]
    earlier = [p.grad for p in leaves]
    eager.backward(gradient)
    expected = [p.grad for p in leaves]
    for p, g in zip(leaves, earlier):
        p.grad = g
    out._eager = None
    try:
        out.backward(gradient)
    finally:
        got = [p.grad for p in leaves]
        for p, g in zip(leaves, expected):
            p.grad = g
    for p, a, b in zip(leaves, got, expected):
        if _bits(a) != _bits(b):
            raise ReplayError(f"check: ∂{name(prog.root_node)}/∂{name(p)} = {b!r} eagerly but {a!r} replayed")


def _bits(x: float) -> tuple:
    return (x, math.copysign(1.0, x))

