"""micrograd 0.1.0's ``micrograd.nn`` on micrograd_ws: the same classes, the same initialisation.

Each weight is ``random.uniform(-1, 1)`` from Python's global ``random`` (in micrograd's
order: neuron by neuron, layer by layer) and each bias starts at 0; hidden layers are
ReLU, the last layer linear; ``parameters()`` lists each neuron's weights then its bias;
the reprs are micrograd's.  So a notebook seeded with ``random.seed(...)`` reproduces
micrograd's numbers.  The classes are micrograd_ws's own underneath (the handout's names
as labels, ``named_parameters()``, ``state_dict()``, ``save()``, ``to_torch()``), and a
neuron's ``w·x + b`` is one node (see docs/micrograd.md).

>>> import random
>>> random.seed(1337)
>>> model = MLP(2, [2, 1])
>>> model
MLP of [Layer of [ReLUNeuron(2), ReLUNeuron(2)], Layer of [LinearNeuron(2)]]
>>> [round(p.data, 4) for p in model.parameters()]
[0.2355, 0.0665, 0.0, -0.2683, 0.1716, 0.0, -0.6686, 0.6487, 0.0]
"""
from __future__ import annotations

import random

from .. import nn as base

__all__ = ["Module", "Neuron", "Layer", "MLP"]

Module = base.Module


class Neuron(base.Neuron):
    """micrograd's Neuron: weights ``random.uniform(-1, 1)``, bias 0, ReLU if ``nonlin``."""

    @staticmethod
    def _initial(nin: int, r: random.Random) -> tuple[list[float], float]:
        return [r.uniform(-1, 1) for _ in range(nin)], 0.0


class Layer(base.Layer):
    """micrograd's Layer: ``nout`` of its Neurons."""

    neuron_class = Neuron

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(base.MLP):
    """micrograd's MLP: ReLU hidden layers, a linear output layer, micrograd's initialisation."""

    layer_class = Layer

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"
