"""Stochastic gradient descent, the handout's update rule w = w - α ∂C/∂w."""
from __future__ import annotations

import math
from collections import Counter
from itertools import chain
from typing import Iterable

from .checks import to_float
from .engine import Value
from .nn import CountingList
from .safety import ctrl_c_held
from . import stores
from .stores import Param, Store

__all__ = ["SGD"]


class _ParamList(CountingList):
    """``SGD.params``: a list that counts its changes, so that the optimizer regroups after one."""

    version = 0

    def _changed(self) -> None:
        self.version += 1


class SGD:
    """``SGD(params, lr=0.01)``: ``step()`` applies w ← w - lr·w.grad, ``zero_grad()`` resets.

    >>> w = Value(1.0); opt = SGD([w], lr=0.1)
    >>> (w * 3).backward(); opt.step(); w.data
    0.7
    """

    def __init__(self, params: Iterable[Value], lr: float = 0.01) -> None:
        if hasattr(params, "parameters") and not isinstance(params, (list, tuple)):
            raise TypeError(f"SGD: pass the parameters, SGD({type(params).__name__.lower()}.parameters(), lr=...), "
                            f"not the {type(params).__name__} itself")
        self.params = list(params)
        for i, p in enumerate(self.params):
            if not isinstance(p, Value):
                raise TypeError(f"SGD: parameter {i} is a {type(p).__name__}, not a Value; pass model.parameters()")
        if not self.params:
            raise ValueError("SGD: no parameters to optimise; pass model.parameters()")
        self.lr = to_float(lr, "SGD(lr)")
        if self.lr <= 0:
            raise ValueError(f"SGD(lr): the learning rate must be positive, got {self.lr}")

    @property
    def params(self) -> list[Value]:
        """The parameters it updates (change them, or the list, at any time)."""
        return self._params

    @params.setter
    def params(self, params: Iterable[Value]) -> None:
        self._params = _ParamList(params)
        self._grouped = None

    @property
    def _params_key(self) -> tuple:
        """Equal as long as ``params`` is the same list, unchanged (compared by identity first)."""
        return self._params, self._params.version

    def _group(self) -> None:
        """Neurons' stores whose parameters are all here, once each, are updated a list at a time;
        the other parameters one by one (``_loose``)."""
        self._grouped = self._params_key  # what this grouping was made for
        count = Counter(map(id, self._params))
        stores = {id(p._store): p._store for p in self._params if isinstance(p, Param)}
        whole: dict[int, Store] = {k: s for k, s in stores.items() if all(count[id(q)] == 1 for q in s.params)}
        self._stores = list(whole.values())
        self._loose = [p for p in self._params if not isinstance(p, Param) or id(p._store) not in whole]

    def _parts(self, asking: str) -> tuple[list[Store], list[Value]]:
        """The stores to update as lists, and the parameters to update one by one: a loose store's
        lists are gathered back first, or its parameters go one by one (stores.Store.ready: ``asking``
        is ``"step"`` or ``"zero_grad"``)."""
        if self._grouped != self._params_key:
            self._group()
        if not stores.loose_stores or not any([s.loose for s in self._stores]):  # (the count may include
            return self._stores, self._loose  # loose stores of nets since dropped: ours are asked, at a slot read each)
        ready = [s for s in self._stores if s.ready(asking)]
        return ready, [*self._loose, *chain.from_iterable([s.params for s in self._stores if s.loose])]

    def step(self) -> None:
        """Update every parameter, or none: refuses if a gradient or a new value is not finite."""
        whole, loose = self._parts("step")
        lr = self.lr
        moving = [p for p in loose if p.grad]  # most gradients are exactly 0 behind dead ReLUs
        new = [p.data - lr * p.grad for p in moving]
        # a store's new list, w - lr·g for each entry whose g is not 0 (the others stay as they are:
        # -0.0 - lr·-0.0 is 0.0); pending grads g·x_k (stores.py) without their list, only where x_k
        # is not 0 (a dead ReLU's input: g·0 is ±0), the live inputs found once per layer
        rows, live = [], {}
        for store in whole:
            pending = store.pending
            if pending is None:
                grads = store.grads
                if grads is not store.zeros and any(grads):
                    rows.append((store, [w - lr * g if g else w for w, g in zip(store.data, grads)]))
            elif g := pending[0]:
                xd = pending[1]
                if (inputs := live.get(id(xd))) is None:
                    inputs = live[id(xd)] = [(k, x) for k, x in enumerate(xd) if x]
                row = store.data[:]
                row[-1] -= lr * g
                for k, x in inputs:
                    if d := g * x:
                        row[k] -= lr * d
                rows.append((store, row))
        if not math.isfinite(sum(new) + sum([sum(row) for _, row in rows])):  # one fast check; the exact one finds the culprit
            for p in self.params:  # in their order, each moved one (an unmoved nan set by hand is no culprit)
                if p.grad and not math.isfinite(value := p.data - lr * p.grad):
                    raise OverflowError(
                        f"SGD.step: {p.label or 'a parameter'} - lr·∂C/∂{p.label or 'w'} = {p.data} - {lr}·{p.grad} "
                        f"= {value}; no parameter was changed. Training diverged: lower the learning rate "
                        "(e.g. lr=0.001) or scale the inputs."
                    )
        with ctrl_c_held():  # a Ctrl-C waits for the last write: every parameter moves, or none
            for p, value in zip(moving, new):
                p.data = value
            for store, row in rows:  # (ready: not loose; only a forward pass lets a store go)
                store.data, store.shared = row, False  # a new list: nodes keep the one of their forward pass

    def zero_grad(self) -> None:
        whole, loose = self._parts("zero_grad")
        with ctrl_c_held():  # as in step(): every gradient reset, or none
            for store in whole:  # (ready: none of them is loose)
                store.grads, store.pending = store.zeros, None
            for p in loose:
                p.grad = 0.0
