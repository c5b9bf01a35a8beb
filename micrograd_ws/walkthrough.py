"""The slides of ``python -m micrograd_ws walkthrough``: a paced tour of the handout with real numbers.

First the handout's two-neuron model: forward, cost, each derivative, the reverse
pass, the chain rule, the update with α = 0.01.  Then one training step of its
two-hidden-layer net with a small h.  Each slide's heading names its model, and the
counter (``3/14``) counts slides.  Showing them one at a time, key by key, is the
command's (:mod:`micrograd_ws.commands.walkthrough`).
"""
from __future__ import annotations

import textwrap
from typing import Iterator

from .engine import Value, squared_error, topological_order
from .explain import explain
from .handout import ALPHA
from .notation import num, product
from .nn import two_hidden_layers, two_neuron
from .optim import SGD

__all__ = ["Slide", "two_neuron_slides", "two_hidden_layer_slides"]

Slide = tuple[str, str]  # (title, body)

# The two-neuron slides' numbers: small and round, so each step can be checked by hand.
W1, B1, INPUT, DESIRED = 0.5, 0.1, 2.0, 1.0
# The two-hidden-layer slides: with seed 2 and h = 3 one ReLU is off in each hidden layer at i = 0.5.
NET_INPUT, NET_DESIRED = 0.5, 0.25


def _repl(*lines: str) -> str:
    """Lines of a REPL session: code after '>>> ', output as is."""
    return "\n".join(lines)


def two_neuron_slides(width: int = 76) -> Iterator[Slide]:
    """The handout's first page, Output = w1(input) + b1, with w1 = 0.5, b1 = 0.1, input 2, desired 1."""
    model = two_neuron()
    w1, b1 = model.parameters()
    w1.data, b1.data = W1, B1
    yield "Two neurons: the handout's first model", f"""
The handout's first model has one weight and one bias:

    Output = w1(input) + b1

{_repl(">>> from micrograd_ws import *", ">>> model = two_neuron()", ">>> model", repr(model),
       ">>> w1, b1 = model.parameters()", f">>> w1.data, b1.data = {W1}, {B1}    # round numbers to follow by hand")}

We teach it that input = {num(INPUT)} should give desired_output = {num(DESIRED)}.
Every number below is computed live, by the same code you can call yourself.
"""
    O = model(INPUT)
    yield "Two neurons · ① Forward propagation", f"""
    Output = w1(input) + b1 = {num(W1)} · {num(INPUT)} + {num(B1)} = {num(O.data)}

{_repl(f">>> O = model({INPUT})", ">>> O", repr(O))}

A Value holds a number (data), its gradient (grad, 0 until the backward pass),
its handout name (label) and the operation that made it (op).
"""
    C = squared_error(O, DESIRED)
    yield "Two neurons · The cost", f"""
How wrong is the output?  The handout's cost squares the error:

    C = (Output − desired_output)² = ({num(O.data)} − {num(DESIRED)})² = {num(C.data)}

{_repl(f">>> C = squared_error(O, {DESIRED})", ">>> C", repr(C))}
"""
    dC_dO = C.local_grads[0]
    yield "Two neurons · ② Backward propagation: the local derivatives", f"""
Each operation wrote down its local derivatives when it ran forward:

    ∂C/∂Output  = 2(Output − desired_output) = 2({num(O.data)} − {num(DESIRED)}) = {num(dC_dO)}
    ∂Output/∂w1 = input = {num(INPUT)}
    ∂Output/∂b1 = 1

{_repl(">>> C.local_grads", repr(C.local_grads),
       ">>> [p.label for p in O.parents]", repr([p.label for p in O.parents]),
       ">>> O.local_grads        # ∂O/∂w1 = i, ∂O/∂i = w1, ∂O/∂b1 = 1", repr(O.local_grads))}
"""
    steps = "\n".join(str(step) for step in C.backward_steps())
    yield "Two neurons · ② Backward propagation: the reverse pass", f"""
The backward pass starts at C with ∂C/∂C = 1 and walks back, node by node,
multiplying the gradient that arrives by each local derivative:

{_repl(">>> for step in C.backward_steps():", "...     print(step)", steps)}

(C.backward() does exactly this in one call.)
"""
    yield "Two neurons · Chain rule", f"""
The handout multiplies the local derivatives along the way from C down to w1:

{explain(C, w1).format(width)}

{explain(C, b1).format(width)}
"""
    old_w1, old_b1, old_C = w1.data, b1.data, C.data
    SGD(model.parameters(), lr=ALPHA).step()
    new_C = squared_error(model(INPUT), DESIRED).data
    yield "Two neurons · ③ Update weights & biases", f"""
Step against the gradient with the learning rate α = {ALPHA}:

    w1 = w1 − α ∂C/∂w1 = {num(old_w1)} − {product([ALPHA, w1.grad])} = {num(w1.data)}
    b1 = b1 − α ∂C/∂b1 = {num(old_b1)} − {product([ALPHA, b1.grad])} = {num(b1.data)}

{_repl(f">>> SGD(model.parameters(), lr={ALPHA}).step()", ">>> w1.data, b1.data", repr((w1.data, b1.data)))}

Forward again: Output = {num(model(INPUT).data)} and C = {num(new_C)} (it was {num(old_C)}).
The cost went down: that is one step of training.  Training repeats it.
"""


def two_hidden_layer_slides(hidden: int = 3, seed: int = 2, width: int = 76) -> Iterator[Slide]:
    """One step of the handout's 1 → h → h → 1 net: forward, every kind of gradient, the update."""
    net = two_hidden_layers(hidden=hidden, seed=seed)
    params = dict(net.named_parameters())
    yield f"Two hidden layers: the handout's second model, h = {hidden}", f"""
    z1 = w1 * i + b1      H1 = max(0, z1)       w1 [h×1], b1 [h×1]
    z2 = w2 H1 + b2       H2 = max(0, z2)       w2 [h×h], b2 [h×1]
    O  = w3 H2 + b3                             w3, b3: h weights and one bias

{_repl(f">>> net = two_hidden_layers(hidden={hidden}, seed={seed})", ">>> net", repr(net))}

{len(params)} parameters here; the handout's h = 100 has {100 * 100 + 4 * 100 + 1:,}.
Each hidden neuron is z = w·a + b, then the ReLU H = max(0, z).
"""
    O = net(NET_INPUT)
    C = squared_error(O, NET_DESIRED)
    yield "Two hidden layers · " + "① Forward propagation", f"""
With i = {num(NET_INPUT)} and O_des = {num(NET_DESIRED)}:   >>> C = squared_error(net({NET_INPUT}), {NET_DESIRED})

{_layer_table(C, 'z1', 'H1', hidden)}

{_layer_table(C, 'z2', 'H2', hidden)}

    O = w3 H2 + b3 = {num(O.data)}        C = (O − O_des)² = {num(C.data)}

A ReLU that is off (H = 0) passes no gradient back: ∂H/∂z = 0 there.
"""
    order = [step.node for step in C.backward_steps()]
    names = [v.label or v.op for v in order]
    yield "Two hidden layers · " + "② Backward propagation: the reverse pass", f"""
>>> C.backward()

backward() visits the {len(order)} operations in reverse order, each one after
every node that uses it:

{_wrap_words(" → ".join(names), width - 4, "    ")}

then every parameter's .grad holds ∂C/∂parameter.  The handout writes these
gradients as products along the paths from C down to each parameter:
"""
    j_on = _first_on(C, "H2", hidden)
    k_on = _first_on(C, "H1", hidden)
    yield "Two hidden layers · " + "② The output layer: ∂C/∂w3, ∂C/∂b3", f"""
{explain(C, params[_name('w3', j_on, hidden)]).format(width)}

{explain(C, params['b3']).format(width)}
"""
    yield "Two hidden layers · " + "② The second layer: ∂C/∂w2, ∂C/∂b2", f"""
{explain(C, params[_name('w2', j_on, hidden, k_on)]).format(width)}

{explain(C, params[_name('b2', j_on, hidden)]).format(width)}
"""
    w1, b1 = params[_name("w1", k_on, hidden)], params[_name("b1", k_on, hidden)]
    if hidden == 1:  # one z2, so one path from w1 up to C: a product, no sum
        title, same = "② The first layer: ∂C/∂w1, ∂C/∂b1", "the same product"
        more = ("With h = 1 there is one path from w1 up to C, so no sum over j (with h neurons\n"
                "there is one path per j: try --hidden 2).  Try it yourself: explain(C, 'b1').")
    else:
        title, same = "② The first layer: ∂C/∂w1, ∂C/∂b1 sum over every j", "the same sum"
        other = _name("w1", (k_on + 1) % hidden, hidden)
        more = (f"Try any other yourself: explain(C, '{b1.label}'), or\n"
                f"explain(C, '{other}', all_paths=True), which lists the paths that are 0 too.")
    yield f"Two hidden layers · {title}", f"""
{explain(C, w1).format(width)}

∂C/∂{b1.label} is {same} with ∂z1/∂b1 = 1 in place of i: {num(b1.grad)}.
{more}
"""
    before = {name: (p.data, p.grad) for name, p in params.items()}
    SGD(net.parameters(), lr=ALPHA).step()
    new_C = squared_error(net(NET_INPUT), NET_DESIRED).data
    shown = [_name("w3", j_on, hidden), "b3", _name("w2", j_on, hidden, k_on), _name("w1", k_on, hidden)]
    rows = "\n".join(f"    {name:<9} = {num(before[name][0])} − {product([ALPHA, before[name][1]])} = "
                     f"{num(params[name].data)}" for name in shown)
    yield "Two hidden layers · " + "③ Update weights & biases", f"""
All {len(params)} parameters take the same step, w = w − α ∂C/∂w, with α = {ALPHA}:

{rows}
    …

{_repl(f">>> SGD(net.parameters(), lr={ALPHA}).step()")}

Forward again: C = {num(new_C)} (it was {num(C.data)}).  The handout repeats this
step 100, 500, 1000 and 5000 times: python -m micrograd_ws train

Watch the backward pass move through the h = 100 net in a browser:
python -m micrograd_ws explore --hidden 100 --out explorer.html --open
"""


def _name(layer: str, j: int, hidden: int, k: int | None = None) -> str:
    """A parameter's handout name; indices over a dimension of size 1 are dropped, as in nn."""
    if hidden == 1:
        return layer
    return f"{layer}[{j}]" + (f"[{k}]" if k is not None else "")


def _nodes(C: Value, prefix: str, hidden: int) -> list[Value]:
    labels = [prefix] if hidden == 1 else [f"{prefix}[{k}]" for k in range(hidden)]
    found = {v.label: v for v in topological_order(C) if v.label}
    return [found[label] for label in labels]


def _first_on(C: Value, H: str, hidden: int) -> int:
    """The first neuron of a hidden layer whose ReLU is on (0 if all are off)."""
    return next((k for k, v in enumerate(_nodes(C, H, hidden)) if v.data > 0), 0)


def _layer_table(C: Value, z: str, H: str, hidden: int) -> str:
    zs, Hs = _nodes(C, z, hidden), _nodes(C, H, hidden)
    rows = [f"    {zv.label:<6} = {num(zv.data):>8}    {Hv.label:<6} = max(0, {zv.label}) = {num(Hv.data)}"
            + ("" if Hv.data > 0 else "    ← off") for zv, Hv in zip(zs, Hs)]
    return "\n".join(rows)


def _wrap_words(text: str, width: int, indent: str) -> str:
    return "\n".join(textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=indent,
                                   break_on_hyphens=False))
