"""The fused training step: ``compile(fn, optimizer=SGD(...))``, forward, backward and SGD's
update in one generated function, the gradients kept in lists and never stored in ``.grad``.
"""
from __future__ import annotations

import math
import weakref
from typing import Any, Callable, Iterable, Sequence

from ..checks import to_float
from ..engine import Value
from ..mode import recording
from ..notation import name
from ..optim import SGD
from ..safety import ctrl_c_held
from .api import Compiled
from .errors import ReplayError, RunEagerly
from .runtime import write_rows
from .trace import Program, flatten

__all__ = ["TrainingStep"]


def _trains_inside_no_grad(call: str) -> RuntimeError:
    return RuntimeError(f"{call}: a compiled training step trains (backward, then the optimizer's update), which "
                        "no_grad() is there to prevent: call it outside no_grad(); to evaluate, call fn itself "
                        "(or compile(fn) without an optimizer) inside no_grad()")


class TrainingStep:
    """``compile(fn, optimizer=opt)``: each call ``step(x, y)`` is one SGD step, fused, returning the loss.

    The parameters end as ``opt.zero_grad(); loss = fn(x, y); loss.backward(); opt.step()``
    leaves them, to the bit (including ``SGD.step``'s refusal of a non-finite result), but
    the gradients are used in flat lists and not stored: each ``.grad`` is left as it is.
    Run the unfused loop where you need ``.grad``.  ``max_loss``: a loss above it is
    returned without a step (so training that diverges can stop before the bad step).

    >>> from micrograd_ws import compile, two_hidden_layers, squared_error, SGD
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
        self._checked: weakref.WeakSet[Program] = weakref.WeakSet()  # programs whose parameters it covers
        self._params_seen = optimizer._params_key  # ... as the optimizer's parameters were then
        self.stage = "done"

    def __call__(self, *args: Any) -> float:
        if not recording():
            raise _trains_inside_no_grad("step(...)")
        compiled = self.compiled
        shape, flat = flatten(args)
        self.stage = "forward"
        prog = compiled._traced(shape, flat)  # (an error of fn in the trace is eager's forward error, raised once)
        self._forget_checks_if_params_changed()
        if prog not in self._checked:
            self._check_params(prog)
        if compiled.checks_left or any(isinstance(x, Value) for x in flat):
            return self._unfused(args)
        try:
            return prog.train(self.optimizer.lr, self.max_loss, *flat)
        except (RunEagerly, ArithmeticError, ValueError, TypeError):
            return self._eager(args)

    def run(self, samples: Iterable[Sequence], losses: list[float] | None = None) -> list[float]:
        """One step per sample (each a tuple of fn's arguments), the parameters held in lists meanwhile.

        The same numbers as calling the step on each sample; the Values' ``.data`` are written
        once, at the end (also when a step raises), which is what makes a long run fast.
        Returns the losses (appended to ``losses`` if given: there they are kept when a step
        raises); it stops after a loss above ``max_loss`` (no step for that one).
        """
        if not recording():
            raise _trains_inside_no_grad("step.run(samples)")
        losses = [] if losses is None else losses
        prog = state = None
        self._forget_checks_if_params_changed()
        try:
            for args in samples:
                if not isinstance(args, (tuple, list)):
                    raise TypeError(f"run(samples): each sample is a tuple of fn's arguments, such as (x, y), or (x,) "
                                    f"for a function of one argument; got {type(args).__name__} {args!r}")
                shape, flat = flatten(tuple(args))
                self.stage = "forward"
                now = self.compiled._traced(shape, flat)  # (fn's error in the trace: raised, the state written)
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
                            raise RunEagerly
                        loss, new = prog.train_flat(self.optimizer.lr, self.max_loss, state, *flat)
                    except (RunEagerly, ArithmeticError, ValueError, TypeError):
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

    def _check_params(self, prog: Program) -> None:
        mine = {id(p) for p in self.optimizer.params}
        for p in prog.params:
            if id(p) not in mine:
                raise ReplayError(
                    f"compile(fn, optimizer=...): the loss depends on {name(p)}, which the optimizer does not update; "
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
        return self._step(self.compiled.eager, args)  # (fn on Values, as the trace calls it)

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




def _finite_state(state: list) -> bool:
    total = 0.0
    for part in state:
        total += sum(map(sum, part)) if part and type(part[0]) is list else sum(part)
    return math.isfinite(total) or all(math.isfinite(x) for part in state for row in part
                                        for x in (row if type(row) is list else (row,)))


def _write_state(prog: Program, state: list) -> None:
    """Write :meth:`TrainingStep.run`'s lists into the parameters, with Ctrl-C held until all are."""
    ns = prog.ns
    with ctrl_c_held():
        for p, d in zip(ns["SP"], state[0]):
            p.data = d
        for g, W, B in zip(prog.groups, state[1::2], state[2::2]):
            k = g.k
            write_rows(W, B, range(g.n), ns[f"ST{k}"], ns[f"PW{k}"], ns[f"GW{k}"], ns[f"PB{k}"])

