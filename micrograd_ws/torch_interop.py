"""Convert between :class:`~micrograd_ws.MLP` and PyTorch, the way out for nets that outgrow scalars.

``to_torch(model)`` (also ``model.to_torch()``) gives an ``nn.Sequential`` of ``nn.Linear``
layers with ``nn.ReLU`` between them, in float64, holding the same weights: its
outputs and gradients equal the MLP's.  Layer ``l`` is named ``layer{l}``, so the
handout's ``w{l}`` / ``b{l}`` are ``layer{l}.weight`` / ``layer{l}.bias`` (the same
[nout × nin] layout as :meth:`MLP.state_dict`).  ``from_torch(module)`` (also
``MLP.from_torch(module)``) is the reverse and accepts any ``nn.Sequential`` (nested
ones too) of the form Linear, ReLU, Linear, ..., Linear, or a single ``nn.Linear``.

PyTorch is an optional extra (``pip install torch``; the CPU build is enough) and is
imported only when these functions are called.  A worked example is in
``docs/testing.md``.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from .nn import MLP

if TYPE_CHECKING:
    import torch

__all__ = ["to_torch", "from_torch"]


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError(
            "PyTorch is needed to convert to and from torch: pip install torch "
            "(the CPU build is enough), or pip install 'micrograd_ws[torch]'"
        ) from None
    return torch


def to_torch(model: MLP) -> torch.nn.Sequential:
    """An ``nn.Sequential`` (float64) with the MLP's weights: same outputs, same gradients.

    The module is new and independent: training it does not change ``model``.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"to_torch(model): expected a micrograd_ws MLP, got {type(model).__name__}")
    torch = _torch()
    nn = torch.nn
    state = model.state_dict()
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for layer in model.layers:
        l = layer.index
        # skip_init: no random initialisation, so the caller's torch RNG is left untouched.
        linear = nn.utils.skip_init(nn.Linear, layer.nin, layer.nout, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(state[f"w{l}"], dtype=torch.float64))
            linear.bias.copy_(torch.tensor(state[f"b{l}"], dtype=torch.float64))
        layers[f"layer{l}"] = linear
        if not layer.output:
            layers[f"relu{l}"] = nn.ReLU()
    return nn.Sequential(layers)


def _flatten(module, sequential: type, prefix: str = ""):
    """(name, leaf module) pairs of nested ``nn.Sequential``s, in forward order."""
    for name, child in module.named_children():
        if isinstance(child, sequential):
            yield from _flatten(child, sequential, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", child


def from_torch(module: torch.nn.Module) -> MLP:
    """An :class:`MLP` with the weights of ``nn.Sequential(Linear, ReLU, ..., Linear)``.

    Weights of any float dtype or device are read exactly into Python floats; a
    ``Linear`` without bias gets zero biases (the same outputs).  Anything the MLP
    cannot express (another activation, a ReLU after the last layer, mismatched sizes,
    NaN weights) raises an error naming the layer.
    """
    torch = _torch()
    nn = torch.nn
    if isinstance(module, nn.Linear):
        parts = [("linear", module)]
    elif isinstance(module, nn.Sequential):
        parts = list(_flatten(module, nn.Sequential))
    else:
        hint = "; to load weights into an MLP use MLP.load_state_dict" if isinstance(module, dict) else ""
        raise TypeError(
            f"from_torch(module): expected nn.Sequential(Linear, ReLU, ..., Linear) or nn.Linear, "
            f"got {type(module).__name__}{hint}"
        )
    expected = "Linear, ReLU, Linear, ..., ReLU, Linear"
    if not parts:
        raise ValueError(f"from_torch: the Sequential is empty; an MLP is {expected}")
    for pos, (name, part) in enumerate(parts):
        want = nn.Linear if pos % 2 == 0 else nn.ReLU
        if not isinstance(part, want):
            raise ValueError(
                f"from_torch: layer {name!r} is {type(part).__name__} where an MLP has {want.__name__} "
                f"(an MLP is {expected}: ReLU on hidden layers, a linear output)"
            )
    if len(parts) % 2 == 0:
        raise ValueError(f"from_torch: the module ends with ReLU {parts[-1][0]!r}, but an MLP's output "
                         f"layer is linear ({expected})")
    linears = parts[::2]
    for (prev_name, prev), (name, lin) in zip(linears, linears[1:]):
        if lin.in_features != prev.out_features:
            raise ValueError(f"from_torch: layer {name!r} takes {lin.in_features} inputs but layer "
                             f"{prev_name!r} gives {prev.out_features}")
    model = MLP(linears[0][1].in_features, [lin.out_features for _, lin in linears], seed=0)
    state = {}
    for l, (name, lin) in enumerate(linears, start=1):
        weight = lin.weight.detach().to("cpu", torch.float64)
        bias = (lin.bias.detach().to("cpu", torch.float64) if lin.bias is not None
                else torch.zeros(lin.out_features, dtype=torch.float64))
        if not (torch.isfinite(weight).all() and torch.isfinite(bias).all()):
            raise ValueError(f"from_torch: layer {name!r} has NaN or infinite weights; "
                             "micrograd_ws keeps every number finite")
        state[f"w{l}"], state[f"b{l}"] = weight.tolist(), bias.tolist()
    model.load_state_dict(state)
    return model


# model.to_torch() and MLP.from_torch(module): nn knows nothing of torch, this module adds the methods
MLP.to_torch = to_torch
MLP.from_torch = staticmethod(from_torch)
