"""Stochastic gradient descent, the handout's update rule w = w - α ∂C/∂w."""
from __future__ import annotations

import math
from typing import Iterable

from .engine import Value, _to_float

__all__ = ["SGD"]


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
        self.lr = _to_float(lr, "SGD(lr)")
        if self.lr <= 0:
            raise ValueError(f"SGD(lr): the learning rate must be positive, got {self.lr}")

    def step(self) -> None:
        """Update every parameter, or none: refuses if a gradient or a new value is not finite."""
        lr = self.lr
        moving = [p for p in self.params if p.grad]  # most gradients are exactly 0 behind dead ReLUs
        new = [p.data - lr * p.grad for p in moving]
        if not math.isfinite(sum(new)):  # one fast check; the exact one below finds the culprit
            for p, value in zip(moving, new):
                if not math.isfinite(value):
                    raise OverflowError(
                        f"SGD.step: {p.label or 'a parameter'} - lr·∂C/∂{p.label or 'w'} = {p.data} - {lr}·{p.grad} "
                        f"= {value}; no parameter was changed. Training diverged: lower the learning rate "
                        "(e.g. lr=0.001) or scale the inputs."
                    )
        for p, value in zip(moving, new):
            p.data = value

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = 0.0
