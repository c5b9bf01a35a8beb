"""``compile(fn)``: record a loss's graph once, replay it as generated straight-line Python.

The eager engine builds a new graph of Values on every call.  ``compile`` calls ``fn`` once
with Values for its arguments (the *trace*), and turns the graph it built into two plain
Python functions over flat lists of floats, one for the forward pass and one for the
backward pass, with each op's formula exactly as the engine computes it.  Later calls run
those on new inputs and the parameters' current ``.data``: the same numbers as eager, to the
bit, several times faster.

>>> from micrograd_ws import two_hidden_layers, squared_error
>>> net = two_hidden_layers(hidden=3, seed=0)
>>> step = compile(lambda x, y: squared_error(net(x), y))
>>> loss = step(0.5, 1.0)
>>> loss
CompiledValue(data=0.17781553229613..., grad=0.0, label='C', op='(O-O_des)²')
>>> loss.backward()
>>> eager = squared_error(net(0.5), 1.0)
>>> grads = [p.grad for p in net.parameters()]; net.zero_grad(); eager.backward()
>>> grads == [p.grad for p in net.parameters()] and loss.data == eager.data
True

The contract, as for ``torch.jit.trace``: the trace records the *operations* ``fn`` ran,
not the Python that chose them.  What is replayed:

* the inputs: each call's arguments (numbers, Values, or lists of them, nested as a batch of
  samples may be, shaped as at the trace: a call shaped otherwise is traced anew);
* the parameters: every leaf Value made *before* the trace (weights, biases) is read
  afresh on every call, so SGD updates and edits of ``.data`` are seen;
* ReLU's branch and the skipping of zero gradients, decided on each call's numbers.

What is not: Python control flow on ``.data`` (``if x.data > 0: ...``), numbers read from
``.data`` into new Values, a parameter Value replaced by another object in a container of
your own after the trace (compile again; in a micrograd_ws net a replaced weight, neuron or
layer is traced again by itself), and work in ``fn`` that the loss does not depend on (nor
its errors).
``compile(fn, check=True)`` runs ``fn`` eagerly beside the first calls and raises
:class:`ReplayError` naming the first node where the graph or a number differs.  A call that
cannot be replayed as traced at all (an overflow, log of a negative number, a Value argument
that is not a leaf) runs eagerly instead, with eager's errors.

``compile(fn, optimizer=SGD(...))`` fuses a whole SGD step, see :class:`TrainingStep`.
"""
from __future__ import annotations

import builtins
import math
import numbers
import weakref
from itertools import compress, repeat
from operator import add, itemgetter, mul
from typing import Any, Callable, Iterable, Sequence

from . import mode, nn
from .checks import to_float
from .custom import user_ops
from .engine import Value, topological_order
from .mode import enable_grad
from .pickling import next_id
from .safety import Interrupts
from .stores import Store, WeightedSum
from .optim import SGD
from .notation import name as _name

__all__ = ["compile", "Compiled", "CompiledValue", "TrainingStep", "ReplayError"]

#: How many calls ``check=True`` compares with eager.
CHECKED_CALLS = 3
#: Traces kept per compiled function, one per shape of the arguments.
MAX_TRACES = 8


class ReplayError(RuntimeError):
    """A call's graph is not the traced one (``check=True``), or ``fn`` cannot be traced."""


class _Eager(Exception):
    """Internal: this call leaves the traced path (an error or an edge case); run it eagerly."""


# sum() of floats adds left to right in plain doubles up to Python 3.11; 3.12 compensates.
# The backward pass may use sum() for a run of ``+=`` only where the two agree.
_PLAIN_SUM = sum([1e16, 1.0, -1e16]) == 0.0


def _mean(xs: tuple) -> float:
    """engine.mean's forward, on floats."""
    n = len(xs)
    try:
        return math.fsum(xs) / n
    except OverflowError:
        return math.fsum(x / n for x in xs)


def _user(name: str, *xs: float) -> tuple:
    """A define_op op on floats, through the op itself (its checks and its errors)."""
    op = user_ops.get(name)
    if op is None:
        raise _Eager
    with enable_grad():
        out = op(*xs)
    return out.data, out.local_grads


# --- the trace: the graph as a program -------------------------------------------------

class _Program:
    """One trace of ``fn``: the graph's nodes sorted into inputs, parameters, constants and ops,
    and the generated source of its replay."""

    def __init__(self, fn: Callable, shape: tuple, flat: list, names: list[str]) -> None:
        self.shape = shape
        mark = next_id()  # Values numbered below this were made before the trace
        leaves = [Value(x, label=n) for x, n in zip(flat, names)]
        entered = mode.no_grad_entries()
        try:
            with enable_grad():
                out = fn(*_unflatten(shape, leaves))
        except TypeError as e:
            e.add_note("(compile traces fn with Values for its arguments: inside fn use Value operations, "
                       "not math.sin(x), float(x) or max(x, ...))")
            raise
        if mode.no_grad_entries() != entered:
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
        self.kind: list[tuple] = []  # per node: ('in', k) | ('param', k) | ('const', k) | ('op', op)
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
            _replayable(v, mark)
            self.kind.append(("op", v.op))
        self.n_inputs = len(leaves)
        self.constants_at_trace = list(self.consts)
        _Codegen(self).generate()


def _replayable(v: Value, mark: int) -> None:
    """Refuse, naming the op and the fix, a node the replay cannot recompute."""
    where = f"{v.op or 'op'}({', '.join(_name(p) for p in v.parents[:4])}{', ...' if len(v.parents) > 4 else ''})"
    if getattr(v, "_closure", None) is not None:
        raise ReplayError(
            f"compile: {where} is a micrograd-style op (Value(data, _children, _op) with a _backward closure); "
            "its closure reads .data of the moment and cannot be replayed on new inputs. Define it with "
            f"micrograd_ws.define_op({v.op or 'name'!r}, fn) instead (fn returns the value and the local "
            "derivatives), or run fn eagerly"
        )
    if v._id < mark:
        raise ReplayError(
            f"compile: fn uses {_name(v)}, the result of {where} computed before the trace; a replay cannot "
            "recompute it. Compute it inside fn (or make it a leaf: Value(x.data))"
        )
    op = v.op
    if op in _TEMPLATES or op in user_ops or (op.startswith("**") and op != "**"):
        if op == "(O-O_des)²" and len(v.parents) == 1:
            raise ReplayError(
                "compile: squared_error(O, O_des) with O_des a plain number inside fn: the replay cannot "
                "recover that number exactly. Make O_des an argument of fn (lambda x, y: "
                "squared_error(net(x), y)) or a Value (squared_error(O, Value(1.0)))"
            )
        return
    raise ReplayError(f"compile: {where} was not made by one of the engine's ops or a define_op op "
                      "(made by hand?), so it cannot be replayed; run fn eagerly")


# Scalar op templates: (forward lines, local derivatives), in terms of the operands a, b,
# the node's value v and its locals; each formula exactly as the engine computes it.
_TEMPLATES: dict[str, tuple[list[str], tuple[str, ...]]] = {
    "+": (["{v} = {a} + {b}"], ("1.0", "1.0")),
    "-": (["{v} = {a} - {b}"], ("1.0", "-1.0")),
    "*": (["{v} = {a} * {b}"], ("{b}", "{a}")),
    "/": (["if {b} == 0.0: raise _Eager", "{v} = {a} / {b}", "{d0} = 1.0 / {b}", "{d1} = -{v} / {b}"],
          ("{d0}", "{d1}")),
    "neg": (["{v} = -{a}"], ("-1.0",)),
    "**": (["if {a} <= 0.0: raise _Eager", "{v} = {a} ** {b}", "{d0} = {b} * {a} ** ({b} - 1.0)",
            "{d1} = {v} * log({a})"], ("{d0}", "{d1}")),
    "relu": (["{v} = {a} if {a} > 0.0 else 0.0", "{d0} = 1.0 if {a} > 0.0 else 0.0"], ("{d0}",)),
    "square": (["{v} = {a} * {a}", "{d0} = 2.0 * {a}"], ("{d0}",)),
    "exp": (["{v} = exp({a})"], ("{v}",)),
    "log": (["if {a} <= 0.0: raise _Eager", "{v} = log({a})", "{d0} = 1.0 / {a}"], ("{d0}",)),
    "tanh": (["{v} = tanh({a})", "{d0} = 1.0 - {v} * {v}"], ("{d0}",)),
    "sigmoid": (["if {a} >= 0.0: {v} = 1.0 / (1.0 + exp(-{a}))",
                 "else: {d1} = exp({a}); {v} = {d1} / (1.0 + {d1})", "{d0} = {v} * (1.0 - {v})"], ("{d0}",)),
    "(O-O_des)²": (["{d1} = {a} - {b}", "{v} = {d1} * {d1}", "{d0} = 2.0 * {d1}", "{d1} = -2.0 * {d1}"],
                   ("{d0}", "{d1}")),
    "w·x+b": ([], ()),  # n-ary: see _Codegen._weighted_sum
    "mean": ([], ()),
}


class _Group:
    """A layer: weighted sums over one shared input tuple, replayed as list operations.

    ``members``: node indices (creation order); ``xs``: the input nodes; ``relus``: the ReLU of
    each member when each member feeds exactly one ReLU and nothing else (else None).
    """

    def __init__(self, k: int, members: list[int], xs: list[int]) -> None:
        self.k, self.members, self.xs = k, members, xs
        self.relus: list[int] | None = None
        self.stores: list[Store] | None = None  # each member's parameter store, if all have one
        self.n, self.m = len(members), len(xs)
        self.z, self.h = f"Z{k}", f"H{k}"  # the members' values and their ReLUs' values


class _Codegen:
    """Writes the replay of a :class:`_Program` as Python source and compiles it."""

    def __init__(self, prog: _Program) -> None:
        self.prog = prog
        self.ns: dict[str, Any] = {
            "mul": mul, "add": add, "compress": compress, "repeat": repeat, "isfinite": math.isfinite,
            "exp": math.exp, "log": math.log, "tanh": math.tanh, "_mean": _mean, "_user": _user,
            "_Eager": _Eager, "K": prog.consts, "UN": [], "_accumulate": _accumulate,
            "_accumulate_alive": _accumulate_alive, "_row_grads": _row_grads, "_total": _total,
            "_gather": _gather, "_new_rows": _new_rows, "_new_column": _new_column, "_dot": _dot,
            "_write_rows": _write_rows,
            "_hold": lambda: Interrupts.install(holding=True),
            "_to_float": lambda g: to_float(g, "backward(gradient)"),
        }
        self.locals_: dict[int, tuple[str, ...]] = {}  # each scalar op's local derivatives, as expressions

    # -- layout ---------------------------------------------------------------------------
    def _find_groups(self) -> None:
        prog, nodes, index, uses = self.prog, self.prog.nodes, self.prog.index, self.prog.uses
        by_shared: dict[int, list[int]] = {}  # a layer's neurons share one tuple of inputs, the node's _x
        for i, v in enumerate(nodes):
            if v.op == "w·x+b" and getattr(v, "_x", None) and prog.kind[i][0] == "op":
                by_shared.setdefault(id(v._x), []).append(i)
        self.groups: list[_Group] = []
        self.group_of: dict[int, tuple[_Group, int]] = {}  # member node -> (group, row)
        self.relu_of: dict[int, tuple[_Group, int]] = {}
        for members in by_shared.values():
            shared = nodes[members[0]]._x
            m = len(shared)
            xs = [index[id(x)] for x in shared]
            ok = len(set(xs)) == m and all(uses[x] == len(members) for x in xs)
            for i in members:
                v = nodes[i]
                ok = ok and len(v.parents) == 2 * m + 1 and all(a is b for a, b in zip(v.parents[m:2 * m], shared))
                leaves = [index[id(p)] for p in (*v.parents[:m], v.parents[-1])]
                ok = ok and all(prog.kind[j][0] == "param" and uses[j] == 1 for j in leaves)
            if not ok:
                continue
            g = _Group(len(self.groups), members, xs)
            stores = [nodes[i]._store if type(nodes[i]) is WeightedSum else None for i in members]
            g.stores = None if None in stores else stores  # a neuron's parameters as one list each: read as lists
            self.groups.append(g)
            for row, i in enumerate(members):
                self.group_of[i] = (g, row)
        consumers: dict[int, list[int]] = {}
        for i, v in enumerate(nodes):
            for p in v.parents:
                consumers.setdefault(index[id(p)], []).append(i)
        for g in self.groups:
            relus = [consumers.get(i, [None])[0] for i in g.members]
            if all(uses[i] == 1 and r is not None and nodes[r].op == "relu" for i, r in zip(g.members, relus)):
                g.relus = relus
                for row, r in enumerate(relus):
                    self.relu_of[r] = (g, row)
        # a group's inputs that are exactly another group's outputs (or their ReLUs), in order
        for g in self.groups:
            g.x_vector = None
            for h in self.groups:
                if g.xs == h.members:
                    g.x_vector = (h, h.z)
                elif h.relus is not None and g.xs == h.relus:
                    g.x_vector = (h, h.h)
        self.vector_acc: set[str] = set()  # vectors whose gradients are kept as a list
        for g in self.groups:
            if g.relus is not None:
                self.vector_acc.add(g.z)
            if g.x_vector is not None:
                self.vector_acc.add(g.x_vector[1])

    def val(self, i: int) -> str:
        """The expression of node i's value in the replay."""
        kind = self.prog.kind[i]
        if kind[0] == "in":
            return f"a{kind[1]}"
        if kind[0] == "param":
            return f"S[{self.sp_slot[kind[1]]}]"
        if kind[0] == "const":
            return f"K[{kind[1]}]"
        if i in self.group_of:
            g, row = self.group_of[i]
            return f"{g.z}[{row}]"
        if i in self.relu_of:
            g, row = self.relu_of[i]
            return f"{g.h}[{row}]"
        return f"v{i}"

    def acc(self, i: int) -> str | None:
        """The name of node i's gradient accumulator in a scalar slot (None: a constant, or in a list)."""
        kind = self.prog.kind[i]
        if kind[0] == "in":
            return f"ga{kind[1]}"
        if kind[0] == "param":  # (a layer's weights have theirs in the layer's rows)
            return f"gs{self.sp_slot[kind[1]]}" if kind[1] in self.sp_slot else None
        if kind[0] == "const":
            return None
        return f"g{i}"

    # -- generation -------------------------------------------------------------------------
    def generate(self) -> None:
        prog = self.prog
        self._find_groups()
        in_group = {self.prog.index[id(p)] for g in self.groups for i in g.members
                    for p in (*prog.nodes[i].parents[:g.m], prog.nodes[i].parents[-1])}
        scalar_params = [k for i, (kind, k) in enumerate(prog.kind) if kind == "param" and i not in in_group]
        self.sp_slot = {k: s for s, k in enumerate(scalar_params)}
        self.ns["SP"] = [prog.params[k] for k in scalar_params]
        for g in self.groups:
            rows = [prog.nodes[i].parents for i in g.members]
            self.ns[f"PW{g.k}"] = [list(r[:g.m]) for r in rows]
            self.ns[f"GW{g.k}"] = [w for r in rows for w in r[:g.m]]
            self.ns[f"PB{g.k}"] = [r[-1] for r in rows]
            self.ns[f"ST{g.k}"] = g.stores
            self.ns[f"RREV{g.k}"] = range(g.n - 1, -1, -1)
        # each unit of the replay sits where its first node was made: a layer at its first
        # neuron, its ReLUs at the first ReLU; every other op at its own node
        self.units: list[tuple[int, str, Any]] = []
        for i, (kind, _) in enumerate(prog.kind):
            if kind != "op":
                continue
            if i in self.group_of:
                g, row = self.group_of[i]
                if row == 0:
                    self.units.append((i, "group", g))
            elif i in self.relu_of:
                g, row = self.relu_of[i]
                if i == min(g.relus):
                    self.units.append((i, "relus", g))
            else:
                self.units.append((i, "op", None))
        self.units.sort(key=lambda u: u[0])
        fwd, checks = self._forward()
        fwd.append(_finite_check(checks))
        root = self.val(len(prog.nodes) - 1)
        ins = ", ".join(f"a{k}" for k in range(prog.n_inputs))
        src = [f"def forward({ins}):", *("    " + line for line in fwd), "    def backward(gradient):",
               *("        " + line for line in self._backward(fused=False)), f"    return {root}, backward"]
        train = [f"def train(lr, max_loss{', ' if ins else ''}{ins}):", *("    " + line for line in fwd),
                 f"    if {root} > max_loss: return {root}", *("    " + line for line in self._backward(fused=True))]
        state = ", ".join(["S", *(f"W{g.k}, B{g.k}" for g in self.groups)])
        flat = [f"def train_flat(lr, max_loss, state{', ' if ins else ''}{ins}):", f"    {state}, = state",
                *("    " + line for k, line in enumerate(fwd) if k >= self.n_reads
                  for line in self.compressed.get(k, line).split("\n")),
                f"    if {root} > max_loss: return {root}, None",
                *("    " + line for line in self._backward(fused="flat"))]
        reads = ["def state():", *("    " + line for line in fwd[:self.n_reads]), f"    return [{state}]"]
        prog.source, prog.train_source = "\n".join(src) + "\n", "\n".join(train) + "\n"
        prog.flat_source = "\n".join(flat) + "\n"
        prog.state_source = "\n".join(reads) + "\n"
        for text in (prog.source, prog.train_source, prog.flat_source, prog.state_source):  # indices and templates only
            exec(builtins.compile(text, "<micrograd_ws.compile>", "exec"), self.ns)  # noqa: S102
        prog.groups = self.groups
        prog.forward, prog.train, prog.train_flat, prog.state, prog.ns = (
            self.ns["forward"], self.ns["train"], self.ns["train_flat"], self.ns["state"], self.ns)

    def _forward(self) -> tuple[list[str], list[str]]:
        prog = self.prog
        lines = ["S = [p.data for p in SP]"]
        checks = ["sum(S)"]  # a non-finite .data set by hand is refused as eager refuses it
        for g in self.groups:
            k = g.k
            if g.stores is not None:  # a neuron's store holds its weights, then its bias
                rows = f"[s.data[0] for s in ST{k}]" if g.m == 1 else f"[s.data[:-1] for s in ST{k}]"
                lines.append(f"W{k} = {rows}; B{k} = [s.data[-1] for s in ST{k}]")
            else:
                rows = f"[p.data for p in GW{k}]" if g.m == 1 else f"[[p.data for p in r] for r in PW{k}]"
                lines.append(f"W{k} = {rows}; B{k} = [p.data for p in PB{k}]")
        self.n_reads = len(lines)
        self.compressed: dict[int, str] = {}
        for i, unit, g in self.units:
            if unit == "group":
                x = self._x_list(g, lines)
                k = g.k
                if g.m == 1:  # b + w·x, one input: sum(map(mul, [w], [x]), b) in one map
                    lines.append(f"{g.z} = list(map(add, B{k}, map(mul, W{k}, repeat({x}[0]))))")
                    lines.append(f"XK{k} = {x} if {x}[0] else []")
                    checks.append(f"sum({g.z})")
                    continue
                lines.append(f"IG{k}, IX{k} = _gather({x}); XK{k} = IG{k}({x})")  # the inputs that are not 0
                lines.append(f"{g.z} = [sum(map(mul, w, {x}), b) for w, b in zip(W{k}, B{k})]")
                if g.x_vector is not None and g.x_vector[1].startswith("H"):
                    # In train_flat's lists every weight is finite (checked when read, and each new one):
                    # behind a dead ReLU a product w·0.0 adds nothing, unless a bias is 0 (-0.0 + 0.0 is
                    # +0.0), so the live inputs suffice.
                    self.compressed[len(lines) - 1] = (
                        f"if 0.0 in B{k}: {lines[-1]}\n"
                        f"else: {g.z} = [sum(map(mul, IG{k}(w), XK{k}), b) for w, b in zip(W{k}, B{k})]")
                checks.append(f"sum({g.z})")
            elif unit == "relus":
                lines.append(f"{g.h} = [z if z > 0.0 else 0.0 for z in {g.z}]")
            else:
                lines += self._scalar_forward(i, checks)
        return lines, checks

    def _x_list(self, g: _Group, lines: list[str]) -> str:
        if g.x_vector is not None:
            return g.x_vector[1]
        lines.append(f"X{g.k} = [{', '.join(self.val(x) for x in g.xs)}]")
        return f"X{g.k}"

    def _scalar_forward(self, i: int, checks: list[str]) -> list[str]:
        v = self.prog.nodes[i]
        op = v.op
        ps = [self.val(self.prog.index[id(p)]) for p in v.parents]
        out = f"v{i}"
        checks.append(out)
        if op == "w·x+b":
            n = (len(ps) - 1) // 2
            self.locals_[i] = (*ps[n:2 * n], *ps[:n], "1.0")
            return [f"{out} = sum(map(mul, ({', '.join(ps[:n])},), ({', '.join(ps[n:2 * n])},)), {ps[-1]})"]
        if op == "mean":
            k = len(self.prog.consts)
            self.prog.consts.append(1.0 / len(ps))
            self.locals_[i] = (f"K[{k}]",) * len(ps)
            return [f"{out} = _mean(({', '.join(ps)},))"]
        if op in user_ops and op not in _TEMPLATES:
            k = len(self.ns["UN"])
            self.ns["UN"].append(op)
            ds = tuple(f"d{i}_{j}" for j in range(len(ps)))
            self.locals_[i] = ds
            checks.extend(ds)
            return [f"{out}, ({', '.join(ds)}{',' if len(ds) == 1 else ''}) = _user(UN[{k}], {', '.join(ps)})"]
        if op.startswith("**") and op != "**":
            return self._power(i, float(op[2:]), ps[0], checks)
        lines, ds = _TEMPLATES[op]
        names = {"v": out, "a": ps[0], "b": ps[-1], "d0": f"d{i}_0", "d1": f"d{i}_1"}
        src = [line.format(**names) for line in lines]
        self.locals_[i] = tuple(d.format(**names) for d in ds)
        checks.extend(d for d in self.locals_[i] if d.startswith("d"))
        return src

    def _power(self, i: int, n: float, a: str, checks: list[str]) -> list[str]:
        """x ** n for a number n, with the engine's refusals (as _Eager) and its formulas."""
        k = len(self.prog.consts)
        self.prog.consts += [n, n - 1]
        lines = []
        if n < 0 or 0 < n < 1:
            lines.append(f"if {a} == 0.0: raise _Eager")
        if not n.is_integer():
            lines.append(f"if {a} < 0.0: raise _Eager")
        lines.append(f"v{i} = {a} ** K[{k}]")
        if n:
            lines.append(f"d{i}_0 = K[{k}] * {a} ** K[{k + 1}]")
            checks.append(f"d{i}_0")
            self.locals_[i] = (f"d{i}_0",)
        else:
            self.locals_[i] = ("0.0",)
        return lines

    def _backward(self, fused: bool) -> list[str]:
        """The reverse pass: units in reverse creation order, a zero gradient skipped, then checks."""
        prog = self.prog
        root = len(prog.nodes) - 1
        lines = [] if fused else ["gradient = _to_float(gradient)"]
        scalars = [a for i in range(len(prog.nodes)) if (a := self.acc(i)) is not None and not self._in_vector(i)]
        scalars += [f"ga{k}" for k in range(prog.n_inputs) if f"ga{k}" not in scalars]  # (an argument fn ignores)
        if scalars:
            lines.append(" = ".join(scalars) + " = 0.0")
        checks = [s for s in scalars if s.startswith("g")]
        if self.acc(root) is not None:
            lines.append(f"{self.acc(root)} = {'1.0' if fused else 'gradient'}")
        groups = []
        for i, unit, g in reversed(self.units):
            if unit == "group":
                lines += self._group_backward(g, checks, fused)
                groups.append(g)
            elif unit == "relus":
                a = self._vector_grads(g.h, g.relus, lines)
                lines.append(f"A{g.z} = [a if z > 0.0 else 0.0 for a, z in zip({a}, {g.z})]")
                if g.h not in self.vector_acc:  # (a layer's inputs are checked by the layer)
                    checks.append(f"sum({a})")
            else:
                lines += self._scalar_backward(i)
        lines.append(_finite_check(checks))
        n_sp = len(self.ns["SP"])
        if not fused:
            rows = ", ".join(f"({g.k}, rows{g.k})" for g in groups)
            lines.append(f"return [{', '.join(f'gs{s}' for s in range(n_sp))}], [{rows}], "
                         f"[{', '.join(f'ga{k}' for k in range(prog.n_inputs))}]")
            return lines
        # SGD.step: p.data - lr * p.grad for each parameter whose gradient is not 0, in new lists
        # (flat: kept for the next step; else written into the parameters, once all are finite)
        gs = ", ".join(f"gs{s}" for s in range(n_sp))
        lines.append(f"S = [d - lr * g if g else d for d, g in zip(S, ({gs}{',' if n_sp == 1 else ''}))]")
        new = ["S", *(f"W{g.k}, B{g.k}" for g in self.groups)]  # in the order of ``state``
        for g in groups:
            tail = f"{self._x_name(g)}, lr" if g.m == 1 else f"{self._x_name(g)}, XK{g.k}, IG{g.k}, IX{g.k}, lr"
            lines.append(f"W{g.k}, B{g.k}, f{g.k} = _new_{'column' if g.m == 1 else 'rows'}(W{g.k}, B{g.k}, "
                         f"J{g.k}, G{g.k}, {tail})")
        lines.append(f"if not isfinite(sum(S){''.join(f' + f{g.k}' for g in groups)}): raise _Eager")
        if fused == "flat":
            lines.append(f"return {self.val(root)}, [{', '.join(new)}]")
            return lines
        lines.append("guard = _hold()")  # Ctrl-C waits until every parameter is written
        lines.append("try:")
        lines.append("    for p, d, g in zip(SP, S, (" + gs + ("," if n_sp == 1 else "") + ")):")
        lines.append("        if g: p.data = d")
        lines += [f"    _write_rows(W{g.k}, B{g.k}, J{g.k}, ST{g.k}, PW{g.k}, GW{g.k}, PB{g.k})" for g in groups]
        lines.append("finally:")
        lines.append("    if guard is not None: guard.release()")
        lines.append(f"return {self.val(root)}")
        return lines

    def _x_name(self, g: _Group) -> str:
        return g.x_vector[1] if g.x_vector is not None else f"X{g.k}"

    def _in_vector(self, i: int) -> bool:
        """Is node i's gradient kept in a list (a layer's output or ReLU feeding a layer or ReLUs)?"""
        if i in self.group_of:
            return self.group_of[i][0].z in self.vector_acc
        if i in self.relu_of:
            return self.relu_of[i][0].h in self.vector_acc
        return False

    def _vector_grads(self, vector: str, members: list[int], lines: list[str]) -> str:
        """The name of the list of gradients of ``vector``'s nodes, gathering scalar slots if need be."""
        if vector not in self.vector_acc:
            lines.append(f"A{vector} = [{', '.join(self.acc(i) for i in members)}]")
        return f"A{vector}"

    def _group_backward(self, g: _Group, checks: list[str], fused: bool) -> list[str]:
        """A layer's reverse pass: its live neurons (last made first) into its inputs and weights."""
        lines: list[str] = []
        az = self._vector_grads(g.z, g.members, lines)
        x = self._x_name(g)
        k = g.k
        lines.append(f"J{k} = [j for j in RREV{k} if {az}[j]]; G{k} = [{az}[j] for j in J{k}]")
        # fused, the gradients of inputs behind dead ReLUs are not needed, only proved finite
        relu_x = fused and g.x_vector is not None and g.x_vector[1].startswith("H")
        if g.m == 1:
            lines.append(f"A{x} = [_dot(G{k}, [W{k}[j] for j in J{k}])]")
        elif relu_x:
            lines.append(f"A{x} = _accumulate_alive(W{k}, J{k}, G{k}, {x}, IG{k})")
        else:
            lines.append(f"A{x} = _accumulate(W{k}, J{k}, G{k}) if J{k} else [0.0] * {g.m}")
        checks.append(f"sum(A{x})")
        if not fused:
            lines.append(f"rows{k} = _row_grads(J{k}, G{k}, {x})")
            checks.append(f"_total(rows{k})")
        if g.x_vector is None:  # hand the inputs' gradients to their scalar slots
            for j, xi in enumerate(g.xs):
                a = self.acc(xi)
                if a is not None:
                    lines.append(f"{a} += A{x}[{j}]")
        return lines

    def _scalar_backward(self, i: int) -> list[str]:
        v = self.prog.nodes[i]
        gi = self.acc(i)
        body = []
        for p, d in zip(v.parents, self.locals_[i]):
            a = self.acc(self.prog.index[id(p)])
            if a is not None:
                body.append(f"    {a} += {gi}" if d == "1.0" else f"    {a} += {gi} * {d}")
        return [f"if {gi}:", *body] if body else []


# --- the list operations of a layer's reverse pass and update (called by the generated code) --

def _finite_check(terms: list[str]) -> str:
    """The generated line that leaves the replay (for eager) unless every term is finite: a + b + ...,
    or for a long graph one sum over a flat tuple (a chain of thousands of + nests too deep to compile)."""
    if not terms:
        return "pass"
    total = " + ".join(terms) if len(terms) <= 64 else f"sum(({', '.join(terms)},))"
    return f"if not isfinite({total}): raise _Eager"


def _sequential_dot(G: list, col) -> float:
    total = 0.0
    for g, w in zip(G, col):
        total += g * w
    return total


def _plain_dot(G: list, col) -> float:
    return sum(map(mul, G, col), 0.0)


#: 0.0 + G[0]·c[0] + G[1]·c[1] + ..., added left to right as eager's ``+=`` adds them
_dot = _plain_dot if _PLAIN_SUM else _sequential_dot


def _accumulate(W: list, J: list, G: list) -> list:
    """∂/∂x_k = Σ_j G_j·W[j][k] over the live rows J, adding in J's order (eager's: last neuron first)."""
    return list(map(_dot, repeat(G), zip(*[W[j] for j in J])))


#: Above this Σ|G_j| an input's gradient could overflow even behind a dead ReLU, where eager would
#: raise: then every input's gradient is computed, as eager does.  Below it, |Σ G_j·w| < max |w|.
_SAFE_TOTAL = 0.5


def _gather(X: list) -> tuple[Callable[[Sequence], Sequence], list[int]]:
    """A function picking, from a row, the entries where X is not 0 (itemgetter: the fastest way),
    and their indices."""
    idx = list(compress(range(len(X)), X))
    return (itemgetter(*idx) if len(idx) > 1 else _Pick(idx)), idx


class _Pick:
    """itemgetter for 0 or 1 index, always returning a tuple."""

    __slots__ = ("idx",)

    def __init__(self, idx: list[int]) -> None:
        self.idx = idx

    def __call__(self, row: Sequence) -> tuple:
        return tuple(row[k] for k in self.idx)


def _accumulate_alive(W: list, J: list, G: list, X: list, gather: Callable) -> list:
    """:func:`_accumulate` for inputs that are ReLU outputs: only the live ones (a dead one's gradient
    reaches nothing), 0.0 for the others."""
    if not J:
        return [0.0] * len(X)
    if not sum(map(abs, G)) <= _SAFE_TOTAL:
        return _accumulate(W, J, G)
    live = iter(list(map(_dot, repeat(G), zip(*[gather(W[j]) for j in J]))))
    return [next(live) if x else 0.0 for x in X]


def _row_grads(J: list, G: list, X: list) -> list:
    """Each live neuron's weight gradients G_j·x_k (its bias's is G_j)."""
    return [(j, g, list(map(mul, repeat(g), X))) for j, g in zip(J, G)]


def _total(rows: list) -> float:
    """A sum of every number in rows of (index, number, list): finite iff all are (or an overflow)."""
    return sum([g + sum(r) for _, g, r in rows])


def _new_rows(W: list, B: list, J: list, G: list, X: list, XK: Sequence, gather: Callable, idx: list[int],
              lr: float) -> tuple[list, list, float]:
    """SGD's step on a layer held in lists: new lists (the live rows copied and changed where the
    gradient G_j·x_k is not 0) and the sum of the changed numbers, finite iff each is."""
    W, B = W[:], B[:]
    lo = min(map(abs, XK)) if XK else 0.0
    total = 0.0
    for j, g in zip(J, G):
        total += (b := B[j] - lr * g)
        B[j] = b
        W[j] = row = W[j][:]
        if g * lo:  # every x_k != 0 gives a gradient != 0 (no product underflows)
            for c, x in zip(idx, XK):
                row[c] -= lr * (g * x)
            total += sum(gather(row))
        else:
            for c, x in enumerate(X):
                if t := g * x:
                    row[c] -= lr * t
                    total += row[c]
    return W, B, total


def _new_column(W: list, B: list, J: list, G: list, X: list, lr: float) -> tuple[list, list, float]:
    """:func:`_new_rows` for neurons of one input x."""
    W, B = W[:], B[:]
    x = X[0]
    total = 0.0
    for j, g in zip(J, G):
        total += (b := B[j] - lr * g)
        B[j] = b
        if t := g * x:
            total += (w := W[j] - lr * t)
            W[j] = w
    return W, B, total


def _write_rows(W: list, B: list, rows: Iterable[int], ST: list | None, PW: list, GW: list, PB: list) -> None:
    """Write a layer's new numbers (``W``, ``B`` as :func:`_new_rows` makes them) into its parameters,
    the given rows: a neuron's store takes a new list (nodes keep the one of their forward pass)."""
    if ST is not None:
        for j in rows:
            row = W[j]
            ST[j].data = [*row, B[j]] if type(row) is list else [row, B[j]]
            ST[j].shared = False
        return
    for j in rows:
        PB[j].data = B[j]
        if type(W[j]) is list:
            for p, w in zip(PW[j], W[j]):
                p.data = w
        else:
            GW[j].data = W[j]


def _finite_state(state: list) -> bool:
    total = 0.0
    for part in state:
        total += sum(map(sum, part)) if part and type(part[0]) is list else sum(part)
    return math.isfinite(total) or all(math.isfinite(x) for part in state for row in part
                                        for x in (row if type(row) is list else (row,)))


def _write_state(prog: _Program, state: list) -> None:
    """Write :meth:`TrainingStep.run`'s lists into the parameters, with Ctrl-C held until all are."""
    ns = prog.ns
    guard = Interrupts.install(holding=True)
    try:
        for p, d in zip(ns["SP"], state[0]):
            p.data = d
        for g, W, B in zip(prog.groups, state[1::2], state[2::2]):
            k = g.k
            _write_rows(W, B, range(g.n), ns[f"ST{k}"], ns[f"PW{k}"], ns[f"GW{k}"], ns[f"PB{k}"])
    finally:
        if guard is not None:
            guard.release()


# --- arguments --------------------------------------------------------------------------

def _flatten(args: tuple) -> tuple[tuple, list]:
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


def _unflatten(shape: tuple, flat: list) -> list:
    items = iter(flat)

    def build(s: tuple | None) -> object:
        return next(items) if s is None else [build(x) for x in s]

    return [build(s) for s in shape]


def _arg_names(fn: Callable, shape: tuple) -> list[str]:
    """Labels for the traced input leaves: fn's parameter names (``x``, ``y``; ``xs[0]``, ``xs[0][1]``)."""
    try:
        import inspect

        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []

    def names(s: tuple | None, base: str) -> list[str]:
        return [base] if s is None else [n for j, x in enumerate(s) for n in names(x, f"{base}[{j}]")]

    return [n for k, s in enumerate(shape) for n in names(s, params[k] if k < len(params) else f"arg{k + 1}")]


# --- the compiled function and its results ------------------------------------------------

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
        self._programs: dict[tuple, _Program] = {}
        self._structure = nn.structure_changes

    def _program(self, shape: tuple, flat: list) -> _Program:
        prog = self._programs.pop(shape, None)
        if prog is not None:
            self._programs[shape] = prog  # (most recently used last)
        else:
            if len(self._programs) >= MAX_TRACES:  # the shape used longest ago makes room
                del self._programs[next(iter(self._programs))]
            data = [x.data if isinstance(x, Value) else x for x in flat]
            prog = self._programs[shape] = _Program(self.fn, shape, data, _arg_names(self.fn, shape))
        return prog

    @property
    def params(self) -> list[Value]:
        """The parameters of the latest trace, in the order the graph reaches them."""
        return list(next(reversed(self._programs.values())).params) if self._programs else []

    @property
    def code(self) -> str:
        """The generated Python of the latest trace (forward, with backward inside it)."""
        return next(reversed(self._programs.values())).source if self._programs else ""

    def _traced(self, shape: tuple, flat: list) -> _Program | None:
        """The program for this shape, tracing it if need be; None if the trace failed on these
        numbers (an overflow...): the caller runs fn eagerly, for eager's error in eager's words.

        A net whose make-up changed since the traces (a weight Value or a neuron replaced:
        ``nn.structure_changes``) is traced again, so the replay follows the net as it is.
        """
        if self._structure != nn.structure_changes:
            self._programs.clear()
            self._structure = nn.structure_changes
        try:
            return self._program(shape, flat)
        except (ArithmeticError, ValueError):
            return None

    def __call__(self, *args: Any) -> CompiledValue | Value:
        shape, flat = _flatten(args)
        prog = self._traced(shape, flat)
        if prog is None:
            return self.fn(*args)
        values = [x for x in flat if isinstance(x, Value)]
        if values and not _replayable_values(values, prog):
            return self.fn(*args)  # eager: a Value argument with a graph behind it, or given twice
        data = [x.data if isinstance(x, Value) else x for x in flat]
        try:
            result, backward = prog.forward(*data)
        except (_Eager, ArithmeticError, ValueError, TypeError):
            return self.fn(*args)  # eager: raises eager's error (or, an edge case, gives eager's result)
        out = CompiledValue(prog, result, backward, flat, args, self.fn)
        if self.checks_left:
            self.checks_left -= 1
            out._eager = _compare_graphs(self, prog, flat, result)
        return out

    def __repr__(self) -> str:
        return f"<compiled {getattr(self.fn, '__qualname__', self.fn)!s}: {len(self._programs)} trace(s)>"


def _replayable_values(values: list[Value], prog: _Program) -> bool:
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

    def __init__(self, prog: _Program, data: float, backward: Callable, flat: list, args: tuple,
                 fn: Callable) -> None:
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
        except _Eager:
            return self._eager_backward(gradient)
        _commit(self.prog, sp, rows, ins, self._flat)
        self.grad = to_float(gradient, "backward(gradient)")

    def _eager_backward(self, gradient: float) -> None:
        """A non-finite gradient: eager's pass raises its error (naming the node) and changes no grad."""
        eager = self._fn(*self._args)
        if eager.data != self.data:
            raise OverflowError("backward: a gradient is not finite, and the parameters changed since the "
                                "forward pass, so eager cannot name it; every leaf's grad is left as it was")
        eager.backward(gradient)
        self.grad = eager.grad  # (an overflow only of our check's sum: eager's pass is the result)

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"CompiledValue(data={self.data!r}, grad={self.grad!r}{label}, op={self.op!r})"


def _commit(prog: _Program, sp: list, rows: list, ins: list, flat: list) -> None:
    """Add the pass's gradients into the leaves, with Ctrl-C held until all are written."""
    guard = Interrupts.install(holding=True)
    try:
        # eager: a leaf's grad is the pass's sum (from 0.0, so never -0.0) plus its earlier grad
        for p, t in zip(prog.ns["SP"], sp):
            p.grad = t + p.grad
        for k, group_rows in rows:
            pw, pb, stores = prog.ns[f"PW{k}"], prog.ns[f"PB{k}"], prog.ns[f"ST{k}"]
            for j, gj, grads in group_rows:  # (t + 0.0: a product g·0.0 may be -0.0, the sum is not)
                if stores is not None:
                    earlier = stores[j].grad
                    new = [t + 0.0 + e for t, e in zip(grads, earlier)]
                    new.append(gj + earlier[-1])
                    stores[j].grad = new
                    continue
                for p, t in zip(pw[j], grads):
                    p.grad = t + 0.0 + p.grad
                pb[j].grad = gj + pb[j].grad
        for x, t in zip(flat, ins):
            if isinstance(x, Value):
                x.grad = t + x.grad
    finally:
        if guard is not None:
            guard.release()


# --- check=True: the replay beside eager -------------------------------------------------

def _compare_graphs(compiled: Compiled, prog: _Program, flat: list, result: float) -> Value:
    """Build the call's graph eagerly and compare it, node by node, with the trace."""
    leaves = [x if isinstance(x, Value) else Value(x, label=n)
              for x, n in zip(flat, _arg_names(compiled.fn, prog.shape))]
    eager = compiled.fn(*_unflatten(prog.shape, leaves))
    if not isinstance(eager, Value):
        raise ReplayError(f"check: fn returned {type(eager).__name__} this time, not a Value")
    nodes = topological_order(eager)
    index = {id(v): i for i, v in enumerate(nodes)}
    given = {id(v): k for k, v in enumerate(leaves)}
    for i, (v, t) in enumerate(zip(nodes, prog.nodes)):
        kind = prog.kind[i]
        where = _name(v)
        if kind[0] == "param" and v is not t:
            raise ReplayError(f"check: {where}: node {i} is not the traced parameter {_name(t)} (a parameter "
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
        raise ReplayError(f"check: {_name(eager)} = {eager.data!r} eagerly but {result!r} replayed")
    return eager


def _what(v: Value) -> str:
    return f"{_name(v)} ({f'op {v.op!r}' if v.op else 'a leaf'})"


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
            raise ReplayError(f"check: ∂{_name(prog.root_node)}/∂{_name(p)} = {b!r} eagerly but {a!r} replayed")


def _bits(x: float) -> tuple:
    return (x, math.copysign(1.0, x))


def compile(fn: Callable[..., Value], *, check: bool | int = False, optimizer: SGD | None = None,
            max_loss: float | None = None) -> Compiled | TrainingStep:
    """Trace ``fn`` once and return a function replaying it (see the module docstring).

    ``check=True`` compares the first few calls with eager (``check=n``: the first n).
    With ``optimizer`` (an :class:`~micrograd_ws.SGD` over the traced parameters) each call
    is a whole SGD step, see :class:`TrainingStep`.
    """
    compiled = Compiled(fn, check)
    if optimizer is None:
        if max_loss is not None:
            raise TypeError("compile(fn, max_loss=...): max_loss applies to a training step, with optimizer=SGD(...)")
        return compiled
    return TrainingStep(compiled, optimizer, max_loss)


# --- the fused training step -------------------------------------------------------------

class TrainingStep:
    """``compile(fn, optimizer=opt)``: each call ``step(x, y)`` is one SGD step, fused, returning the loss.

    The parameters end as ``opt.zero_grad(); loss = fn(x, y); loss.backward(); opt.step()``
    leaves them, to the bit (including ``SGD.step``'s refusal of a non-finite result), but
    the gradients are used in flat lists and not stored: each ``.grad`` is left as it is.
    Run the unfused loop where you need ``.grad``.  ``max_loss``: a loss above it is
    returned without a step (so training that diverges can stop before the bad step).

    >>> from micrograd_ws import two_hidden_layers, squared_error, SGD
    >>> net = two_hidden_layers(hidden=4, seed=0); twin = two_hidden_layers(hidden=4, seed=0)
    >>> step = compile(lambda x, y: squared_error(net(x), y), optimizer=SGD(net.parameters(), lr=0.01))
    >>> opt = SGD(twin.parameters(), lr=0.01)
    >>> for x, y in [(0.5, 1.0), (-0.25, 0.0), (0.75, 0.5)]:
    ...     loss = step(x, y)
    ...     opt.zero_grad(); C = squared_error(twin(x), y); C.backward(); opt.step()
    ...     assert loss == C.data
    >>> net.state_dict() == twin.state_dict()
    True
    """

    def __init__(self, compiled: Compiled, optimizer: SGD, max_loss: float | None = None) -> None:
        if type(optimizer) is not SGD:
            raise TypeError(f"compile(fn, optimizer=...): a fused step needs micrograd_ws.SGD, got "
                            f"{type(optimizer).__name__}; for other optimizers use the unfused loop")
        self.compiled, self.optimizer = compiled, optimizer
        self.max_loss = math.inf if max_loss is None else to_float(max_loss, "compile(max_loss)")
        self._checked: weakref.WeakSet[_Program] = weakref.WeakSet()  # programs whose parameters it covers
        self._params_seen = optimizer._params_key  # ... as the optimizer's parameters were then
        self.stage = "done"

    def __call__(self, *args: Any) -> float:
        compiled = self.compiled
        shape, flat = _flatten(args)
        prog = compiled._traced(shape, flat)
        if prog is None:
            return self._eager(args)
        self._forget_checks_if_params_changed()
        if prog not in self._checked:
            self._check_params(prog)
        if compiled.checks_left or any(isinstance(x, Value) for x in flat):
            return self._unfused(args)
        try:
            return prog.train(self.optimizer.lr, self.max_loss, *flat)
        except (_Eager, ArithmeticError, ValueError, TypeError):
            return self._eager(args)

    def run(self, samples: Iterable[Sequence], losses: list[float] | None = None) -> list[float]:
        """One step per sample (each a tuple of fn's arguments), the parameters held in lists meanwhile.

        The same numbers as calling the step on each sample; the Values' ``.data`` are written
        once, at the end (also when a step raises), which is what makes a long run fast.
        Returns the losses (appended to ``losses`` if given: there they are kept when a step
        raises); it stops after a loss above ``max_loss`` (no step for that one).
        """
        losses = [] if losses is None else losses
        prog = state = None
        self._forget_checks_if_params_changed()
        try:
            for args in samples:
                if not isinstance(args, (tuple, list)):
                    raise TypeError(f"run(samples): each sample is a tuple of fn's arguments, such as (x, y), or (x,) "
                                    f"for a function of one argument; got {type(args).__name__} {args!r}")
                shape, flat = _flatten(tuple(args))
                now = self.compiled._traced(shape, flat)
                if now is None:  # the trace failed on these numbers: this step eagerly
                    if state is not None:
                        _write_state(prog, state)
                        state = None
                    losses.append(loss := self._eager(tuple(args)))
                    if loss > self.max_loss:
                        break
                    continue
                if now is not prog:
                    if state is not None:
                        _write_state(prog, state)
                    prog, state = now, None
                    if prog not in self._checked:
                        self._check_params(prog)
                if self.compiled.checks_left or any(isinstance(x, Value) for x in flat):
                    loss, new = None, None
                else:
                    if state is None:
                        state = prog.state()
                        if not _finite_state(state):  # a .data set by hand to inf or nan: eager refuses it
                            state = None
                    try:
                        if state is None:
                            raise _Eager
                        loss, new = prog.train_flat(self.optimizer.lr, self.max_loss, state, *flat)
                    except (_Eager, ArithmeticError, ValueError, TypeError):
                        loss, new = None, None
                if new is None and loss is None:  # this step eagerly (or unfused), on the Values
                    if state is not None:
                        _write_state(prog, state)
                        state = None
                    loss = self._unfused(tuple(args)) if self.compiled.checks_left else self._eager(tuple(args))
                elif new is not None:
                    state = new
                losses.append(loss)
                if loss > self.max_loss:
                    break
        finally:
            if state is not None:
                _write_state(prog, state)
        return losses

    def _check_params(self, prog: _Program) -> None:
        mine = {id(p) for p in self.optimizer.params}
        for p in prog.params:
            if id(p) not in mine:
                raise ReplayError(
                    f"compile(fn, optimizer=...): the loss depends on {_name(p)}, which the optimizer does not update; "
                    "a fused step updates every parameter of the loss. Give the optimizer model.parameters(), or, to "
                    "keep some fixed, fuse nothing: loss = compile(fn)(x, y); loss.backward(); opt.step()")
        self._checked.add(prog)

    def _forget_checks_if_params_changed(self) -> None:
        """Forget the checks if ``optimizer.params`` changed (a part frozen or added since)."""
        if self.optimizer._params_key != self._params_seen:
            self._checked = weakref.WeakSet()
            self._params_seen = self.optimizer._params_key

    def _unfused(self, args: tuple) -> float:
        return self._step(self.compiled, args)

    def _eager(self, args: tuple) -> float:
        return self._step(self.compiled.fn, args)

    def _step(self, fn: Callable, args: tuple) -> float:
        """``loss = fn(*args)``, then zero_grad, backward and SGD.step, as eager does; ``stage`` says
        which was running when an error came (train tells a data error from divergence by it)."""
        self.stage = "forward"
        loss = fn(*args)
        if loss.data > self.max_loss:
            return loss.data
        self.stage = "backward"
        self.optimizer.zero_grad()
        loss.backward()
        self.stage = "step"
        self.optimizer.step()
        self.stage = "done"
        return loss.data

    @property
    def code(self) -> str:
        """The generated Python of the fused step."""
        return next(reversed(self.compiled._programs.values())).train_source if self.compiled._programs else ""

    def __repr__(self) -> str:
        return f"<fused SGD step (lr={self.optimizer.lr:g}) of {self.compiled!r}>"


