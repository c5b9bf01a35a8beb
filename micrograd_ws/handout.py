"""The handout, executable: its two models and every gradient it writes, in plain floats.

No `Value` here: these are the closed-form formulas of the handout (``docs/handout.md``), the
reference the engine is tested against.  Symbols follow the handout: input ``i``,
``z1 = w1*i + b1``, ``H1 = max(0, z1)``, ``z2 = w2 H1 + b2``, ``H2 = max(0, z2)``,
``O = w3 H2 + b3``, cost ``C = (O - O_des)²``; ``w2[j][k]`` connects ``H1[k]`` to ``z2[j]``.

>>> two_neuron_gradients(w1=0.5, b1=0.1, i=2.0, O_des=1.0)   # O = 1.1, ∂C/∂O = 0.2
{'w1': 0.40000000000000036, 'b1': 0.20000000000000018}
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ALPHA", "TRAINING_ITERS", "HIDDEN", "two_neuron_forward", "two_neuron_gradients",
    "MLPParams", "MLPForward", "mlp_forward", "mlp_gradients", "sgd_update",
]

ALPHA = 0.01  #: the handout's learning rate α
TRAINING_ITERS = (100, 500, 1000, 5000)  #: the handout's training schedule
HIDDEN = 100  #: neurons per hidden layer, h


def two_neuron_forward(w1: float, b1: float, i: float) -> float:
    """Output = w1(input) + b1."""
    return w1 * i + b1


def two_neuron_gradients(w1: float, b1: float, i: float, O_des: float) -> dict[str, float]:
    """∂C/∂w1 = (input)·2(Output - desired_output), ∂C/∂b1 = 2(Output - desired_output)."""
    dC_dO = 2 * (two_neuron_forward(w1, b1, i) - O_des)
    return {"w1": i * dC_dO, "b1": dC_dO}


@dataclass
class MLPParams:
    """w1 [h×1] (as a list of h), b1 [h], w2 [h×h], b2 [h], w3 [h] (the output weights), b3."""

    w1: list[float]
    b1: list[float]
    w2: list[list[float]]
    b2: list[float]
    w3: list[float]
    b3: float

    @classmethod
    def from_state_dict(cls, state: dict) -> MLPParams:
        """From :meth:`micrograd_ws.MLP.state_dict` of a 1 → h → h → 1 net."""
        return cls(
            w1=[row[0] for row in state["w1"]], b1=list(state["b1"]),
            w2=[list(row) for row in state["w2"]], b2=list(state["b2"]),
            w3=list(state["w3"][0]), b3=state["b3"][0],
        )


@dataclass
class MLPForward:
    z1: list[float]
    H1: list[float]
    z2: list[float]
    H2: list[float]
    O: float


def mlp_forward(p: MLPParams, i: float) -> MLPForward:
    """① Forward propagation of the two-hidden-layer net."""
    z1 = [p.w1[k] * i + p.b1[k] for k in range(len(p.w1))]
    H1 = [max(0.0, z) for z in z1]
    z2 = [sum((w * h for w, h in zip(row, H1)), b) for row, b in zip(p.w2, p.b2)]
    H2 = [max(0.0, z) for z in z2]
    O = sum((w * h for w, h in zip(p.w3, H2)), p.b3)
    return MLPForward(z1, H1, z2, H2, O)


def _step(H: float) -> float:
    """∂H/∂z: 0 if H(z) = 0, 1 if H(z) ≠ 0."""
    return 0.0 if H == 0 else 1.0


def mlp_gradients(p: MLPParams, i: float, O_des: float) -> dict[str, float]:
    """② Backward propagation: every ∂C/∂w as the handout writes it, keyed by handout name.

    ∂C/∂w3[j] = 2(O-O_des) H2[j]                       ∂C/∂b3 = 2(O-O_des)
    ∂C/∂w2[j][k] = 2(O-O_des) (w3[j] ∂H2[j]/∂z2[j]) H1[k]
    ∂C/∂b2[j] = 2(O-O_des) w3[j] ∂H2[j]/∂z2[j]
    ∂C/∂w1[k] = 2(O-O_des) Σ_j ((w3[j] ∂H2[j]/∂z2[j]) w2[j][k]) ∂H1[k]/∂z1[k] i
    ∂C/∂b1[k] = the same without the factor i
    """
    f = mlp_forward(p, i)
    h = len(p.w1)
    dC_dO = 2 * (f.O - O_des)
    back2 = [p.w3[j] * _step(f.H2[j]) for j in range(h)]  # w3 * ∂H2/∂z2
    grads: dict[str, float] = {}
    for k in range(h):
        grads[f"w1[{k}]"] = dC_dO * sum(back2[j] * p.w2[j][k] for j in range(h)) * _step(f.H1[k]) * i
    for k in range(h):
        grads[f"b1[{k}]"] = dC_dO * sum(back2[j] * p.w2[j][k] for j in range(h)) * _step(f.H1[k])
    for j in range(h):
        for k in range(h):
            grads[f"w2[{j}][{k}]"] = dC_dO * back2[j] * f.H1[k]
    for j in range(h):
        grads[f"b2[{j}]"] = dC_dO * back2[j]
    for j in range(h):
        grads[f"w3[{j}]"] = dC_dO * f.H2[j]
    grads["b3"] = dC_dO
    return grads


def sgd_update(value: float, grad: float, alpha: float = ALPHA) -> float:
    """③ Update: w = w - α ∂C/∂w."""
    return value - alpha * grad
