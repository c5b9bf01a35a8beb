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

The package, each file a concern, each importing only those above it in this list:
errors.py (ReplayError), runtime.py (what the generated code calls), trace.py (fn's graph
as a program, the arguments flat), ops.py (one op as code: its forward, and its derivatives
from the engine's rules), codegen.py (the whole replay), api.py (Compiled, CompiledValue,
check=True), step.py (the fused training step).
"""
from __future__ import annotations

from typing import Callable

from ..engine import Value
from ..optim import SGD
from .api import CHECKED_CALLS, MAX_TRACES, Compiled, CompiledValue
from .errors import ReplayError, TraceWarning
from .step import TrainingStep

__all__ = ["compile", "Compiled", "CompiledValue", "TrainingStep", "ReplayError", "TraceWarning", "CHECKED_CALLS", "MAX_TRACES"]


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

