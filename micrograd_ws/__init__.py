"""micrograd_ws: the workshop handout's neural net, as a scalar autograd engine you can read.

>>> from micrograd_ws import Value, MLP
>>> x = Value(2.0); y = x * x + 3 * x; y.backward(); x.grad
7.0
"""
from . import startup  # Ctrl-C while the command line starts: "interrupted", no traceback
from .engine import Value, mean, squared_error, topological_order, weighted_sum
from .mode import enable_grad, is_grad_enabled, no_grad
from . import compact  # smaller nodes for + - *, installed in the engine
from .custom import define_op
from .functional import grad, hessian, hvp
from . import stepping  # Value.backward_steps()
from .nn import MLP, Layer, Module, Neuron, two_hidden_layers, two_neuron
from .optim import SGD
from .compiled import compile
from .serialize import load, save  # also net.save(path)
from .torch_interop import from_torch, to_torch  # also net.to_torch(), MLP.from_torch(module)
from .explain import explain
from .diagnose import diagnose  # which factor of a learner's ∂C/∂w is wrong
from .viz import draw_dot, draw_graph, draw_grad, render_grads
from .explorer import explore
from .browserlab import lab  # one offline page: the explorer and Python running micrograd_ws (Pyodide)
from . import micrograd  # micrograd's module layout: micrograd_ws.micrograd.engine, .nn

__version__ = "0.1.0"

__all__ = [
    "Value", "define_op", "enable_grad", "is_grad_enabled", "mean", "no_grad", "squared_error",
    "topological_order", "weighted_sum", "MLP", "Layer", "Module", "Neuron",
    "two_hidden_layers", "two_neuron", "SGD", "load", "save", "to_torch", "from_torch", "explain", "draw_dot",
    "draw_graph", "draw_grad", "render_grads", "explore", "lab", "grad", "hessian", "hvp", "compile", "diagnose",
]
