"""The replay of a traced :class:`~micrograd_ws.compiled.trace.Program`, written as Python source.

:func:`generate` writes four functions over flat lists of floats and execs them:

* ``forward(a0, a1, ...)``: the loss, and ``backward(gradient)`` inside it, returning the
  gradients in lists (``Compiled``: api.py writes them into the leaves' ``.grad``);
* ``train(lr, max_loss, ...)``: forward, backward and SGD's step in one (``TrainingStep``),
  writing the parameters' ``.data``;
* ``train_flat(lr, max_loss, state, ...)`` and ``state()``: the same step on the parameters
  held in lists (``TrainingStep.run``).

Each scalar op is written by ops.py (its forward template, its derivatives from the engine's
rule).  A layer, the neurons ``w·x+b`` over one shared tuple of inputs, is written as list
operations (runtime.py), with its ReLUs; a zero gradient is skipped as eager's backward skips it,
so a dead ReLU's row costs nothing.
"""
from __future__ import annotations

import builtins
import math
from itertools import compress, repeat
from operator import add, mul
from typing import Any

from ..floats import add_up
from ..safety import ctrl_c_held
from ..stores import Store, WeightedSum
from . import runtime
from .errors import RunEagerly
from .ops import layer_rule_fits, relu_rule_fits, writable, write_op
from .trace import Program

__all__ = ["generate"]


def generate(prog: Program) -> None:
    """Write and compile ``prog``'s replay: its ``forward``, ``train``, ``train_flat`` and ``state``
    (and their sources, to read), set on ``prog``."""
    for v, (kind, _) in zip(prog.nodes, prog.kind):
        if kind == "op":
            writable(v)
    _Codegen(prog).generate()


#: What the generated code calls, by the names it calls them (underscored: apart from fn's names).
_RUNTIME = {
    "_Eager": RunEagerly, "_ready": runtime.lists_ready, "_to_float": runtime.as_gradient, "_hold": ctrl_c_held,
    "_mean": runtime.mean_of, "_user": runtime.user_op, "_dot": runtime.dot, "_accumulate": runtime.accumulate,
    "_accumulate_alive": runtime.accumulate_alive, "_gather": runtime.gather, "_row_grads": runtime.row_grads,
    "_total": runtime.total, "_new_rows": runtime.new_rows, "_new_column": runtime.new_column,
    "_write_rows": runtime.write_rows, "_known_finite": runtime.known_finite, "_mark_finite": runtime.mark_finite,
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
    """Writes the replay of a :class:`Program` as Python source and compiles it."""

    def __init__(self, prog: Program) -> None:
        self.prog = prog
        self.ns: dict[str, Any] = {
            "mul": mul, "add": add, "add_up": add_up, "compress": compress, "repeat": repeat, "isfinite": math.isfinite,
            "exp": math.exp, "log": math.log, "tanh": math.tanh, "K": prog.consts, "UN": [], **_RUNTIME,
        }
        self.locals_: dict[int, tuple[str, ...]] = {}  # each scalar op's local derivatives, as expressions

    # -- layout ---------------------------------------------------------------------------
    def _find_groups(self) -> None:
        prog, nodes, index, uses = self.prog, self.prog.nodes, self.prog.index, self.prog.uses
        by_shared: dict[int, list[int]] = {}  # a layer's neurons share one tuple of inputs, the node's _x
        for i, v in enumerate(nodes if layer_rule_fits() else ()):  # (else each neuron by itself, from the rule)
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
        for g in self.groups if relu_rule_fits() else ():  # (else each ReLU by itself, from the rule)
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
        # train reads the weights at each call: a layer leaves out its dead inputs' terms when its stores
        # know their weights finite, and once its sums are found finite, they are known so
        marks = [f"if not FIN{k}: _mark_finite(ST{k}, T{k})" for k in self.checked_groups]
        train = [f"def train(lr, max_loss{', ' if ins else ''}{ins}):",
                 *("    " + line for k, line in enumerate(fwd) for line in self.per_call.get(k, line).split("\n")),
                 *("    " + line for line in marks),
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
        lines = ["S = [p.data for p in SP]"]
        checks = ["sum(S)"]  # a non-finite .data set by hand is refused as eager refuses it
        for g in self.groups:
            k = g.k
            if g.stores is not None:  # a neuron's store holds its weights, then its bias
                lines.append(f"_ready(ST{k}); T{k} = [s.version for s in ST{k}]")  # (versions before numbers)
                rows = f"[s.data[0] for s in ST{k}]" if g.m == 1 else f"[s.data[:-1] for s in ST{k}]"
                lines.append(f"W{k} = {rows}; B{k} = [s.data[-1] for s in ST{k}]")
            else:
                rows = f"[p.data for p in GW{k}]" if g.m == 1 else f"[[p.data for p in r] for r in PW{k}]"
                lines.append(f"W{k} = {rows}; B{k} = [p.data for p in PB{k}]")
        self.n_reads = len(lines)
        self.compressed: dict[int, str] = {}
        self.per_call: dict[int, str] = {}
        self.checked_groups: list[int] = []  # the layers whose per-call sums ask the stores (FIN{k})
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
                lines.append(f"{g.z} = [add_up(map(mul, w, {x}), b) for w, b in zip(W{k}, B{k})]")
                if g.x_vector is not None and g.x_vector[1].startswith("H"):
                    # In train_flat's lists every weight is finite (checked when read, and each new one):
                    # behind a dead ReLU a product w·0.0 adds nothing, unless a bias is 0 (-0.0 + 0.0 is
                    # +0.0), so the live inputs suffice.
                    live = f"{g.z} = [add_up(map(mul, IG{k}(w), XK{k}), b) for w, b in zip(W{k}, B{k})]"
                    self.compressed[len(lines) - 1] = f"if 0.0 in B{k}: {lines[-1]}\nelse: {live}"
                    if g.stores is not None:  # train's: so are the weights of stores known finite (stores.py)
                        self.per_call[len(lines) - 1] = (f"FIN{k} = 0.0 not in B{k} and _known_finite(ST{k}, T{k})\n"
                                                         f"if not FIN{k}: {lines[-1]}\nelse: {live}")
                        self.checked_groups.append(k)
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
        ps = [self.val(self.prog.index[id(p)]) for p in v.parents]
        lines, self.locals_[i], checked = write_op(i, v, ps, self.prog.consts, self.ns["UN"])
        checks += checked
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
        lines.append("with _hold():")  # Ctrl-C waits until every parameter is written
        lines.append("    for p, d, g in zip(SP, S, (" + gs + ("," if n_sp == 1 else "") + ")):")
        lines.append("        if g: p.data = d")
        lines += [f"    _write_rows(W{g.k}, B{g.k}, J{g.k}, ST{g.k}, PW{g.k}, GW{g.k}, PB{g.k}{f', T{g.k}' if g.stores is not None else ''})"
                  for g in groups]
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


def _finite_check(terms: list[str]) -> str:
    """The generated line that leaves the replay (for eager) unless every term is finite: a + b + ...,
    or for a long graph one sum over a flat tuple (a chain of thousands of + nests too deep to compile)."""
    if not terms:
        return "pass"
    total = " + ".join(terms) if len(terms) <= 64 else f"sum(({', '.join(terms)},))"
    return f"if not isfinite({total}): raise _Eager"
