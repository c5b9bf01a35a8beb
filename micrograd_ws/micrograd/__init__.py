"""micrograd's module layout on micrograd_ws: change ``micrograd.`` to ``micrograd_ws.micrograd.``.

``micrograd_ws.micrograd.engine.Value`` is :class:`micrograd_ws.Value` itself, and
``micrograd_ws.micrograd.nn`` has micrograd 0.1.0's ``Module``, ``Neuron``, ``Layer`` and
``MLP`` with micrograd's initialisation, drawn from Python's ``random`` exactly as micrograd
draws it (each weight ``random.uniform(-1, 1)``, each bias 0), so a seeded micrograd notebook
gives micrograd's numbers.  ``micrograd_ws.MLP`` keeps the handout's own initialisation;
docs/micrograd.md says when to use which.

>>> import random
>>> from micrograd_ws.micrograd import nn
>>> from micrograd_ws.micrograd.engine import Value
>>> random.seed(1337)
>>> n = nn.Neuron(2)
>>> n, [p.data for p in n.parameters()]
(ReLUNeuron(2), [0.23550571390294128, 0.06653114721000164, 0.0])
>>> y = n([Value(1.0), Value(-2.0)]); y.backward(); y.data
0.102443419482938
"""
from . import engine, nn
from .engine import Value
from ..viz import draw_dot

__all__ = ["engine", "nn", "Value", "draw_dot"]
