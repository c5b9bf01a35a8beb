"""The optimised backward against a plain textbook one: gradients must be bit-for-bit equal.

The engine's speed-ups (a layer's shared inputs scanned once, leaves set aside only when a
pass reaches them, a net's w·x+b nodes keeping their parts apart, skipping zero gradients)
may change how fast gradients are computed, never their bits.
"""
import random

import pytest
from hypothesis import given, strategies as st

from micrograd_ws import MLP, Value, mean, squared_error, two_hidden_layers
from micrograd_ws.engine import pass_order
from micrograd_ws.safety import Pass
from micrograd_ws.testing import expressions, mlps


def textbook_backward(root: Value) -> dict[int, float]:
    """Every node's gradient by the plainest reverse pass, in the engine's order, into a dict."""
    seen, stack = {id(root): root}, [root]
    while stack:
        for p in stack.pop().parents:
            if id(p) not in seen:
                seen[id(p)] = p
                stack.append(p)
    order = sorted(seen.values(), key=lambda v: v._id)  # creation order is topological
    grad = {id(v): 0.0 for v in order}
    grad[id(root)] = 1.0
    for v in reversed(order):
        for p, d in zip(v.parents, v.local_grads):
            grad[id(p)] += grad[id(v)] * d
    return grad


def assert_bitwise_equal(root: Value) -> None:
    """backward() against the textbook pass; a leaf adds its earlier grad to the pass's sum."""
    nodes = {id(v): v for v in _all_nodes(root)}
    earlier = {key: v.grad for key, v in nodes.items() if not v.parents}
    expected = textbook_backward(root)
    for key, g in earlier.items():
        if g:  # (0.0 + x would turn a -0.0 sum into 0.0; the engine adds only a nonzero earlier grad)
            expected[key] += g
    root.backward()
    for key, g in expected.items():
        assert nodes[key].grad.hex() == g.hex() or (nodes[key].grad == 0 and g == 0), (nodes[key], g)


def _all_nodes(root: Value) -> list[Value]:
    out, stack, seen = [], [root], {id(root)}
    while stack:
        v = stack.pop()
        out.append(v)
        for p in v.parents:
            if id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
    return out


def test_handout_net_gradients_are_bit_identical_to_the_textbook_pass():
    for seed, x, y in [(0, 0.5, 1.0), (3, -1.2, 0.4), (9, 2.0, -3.0)]:
        net = two_hidden_layers(40, seed=seed)
        assert_bitwise_equal(squared_error(net(x), y))


@given(expressions(max_steps=12))
def test_random_graph_gradients_are_bit_identical_to_the_textbook_pass(expr):
    assert_bitwise_equal(expr(*[Value(x) for x in expr.inputs]))


def test_nets_with_batches_regularisation_and_earlier_gradients_are_bit_identical():
    # each weight reached by several nodes (a batch, an L2 term), leaves holding gradients already
    rng = random.Random(4)
    net = two_hidden_layers(12, seed=2)
    for p in net.parameters():
        p.grad = rng.choice([0.0, 0.0, rng.uniform(-1, 1)])
    loss = mean([squared_error(net(x), y) for x, y in [(0.3, 1.0), (-0.8, 0.2), (1.5, -1.0)]])
    loss = loss + 1e-3 * sum(p * p for p in net.parameters())
    assert_bitwise_equal(loss)
    assert_bitwise_equal(loss)  # twice: the second pass adds onto the first


@given(mlps(max_batch=3), st.randoms(use_true_random=False))
def test_random_nets_with_earlier_gradients_are_bit_identical(case, rng):
    for p in case.model.parameters():
        p.grad = rng.choice([0.0, rng.uniform(-2, 2)])
    assert_bitwise_equal(case.loss())


def test_a_neuron_whose_weights_are_not_leaves_is_still_differentiated_through_them():
    net = MLP(2, [1], seed=0)  # O = w·x + b: no ReLU to switch the weight off
    scale = Value(2.0, label="scale")
    neuron = net.layers[0].neurons[0]
    base = neuron.w[0]
    neuron.w[0] = base * scale  # weight tying, computed weights: the forward sees the new list
    C = squared_error(net([0.5, -1.0]), 0.3)
    assert_bitwise_equal(C)
    assert scale.grad != 0.0 and scale.grad == pytest.approx(base.grad * base.data / scale.data, rel=1e-12)
    neuron.w[0] = Value(0.7, label="w1[1][0]")  # another leaf in its place
    C = squared_error(net([0.5, -1.0]), 0.3)
    assert_bitwise_equal(C)
    assert neuron.w[0].grad != 0.0


def test_a_pass_touches_only_the_leaves_it_reaches():
    # the weights behind a dead ReLU are never read, let alone written, by the pass
    net = two_hidden_layers(8, seed=1)
    layer2 = net.layers[1].neurons
    for n in layer2[:4]:
        n.b.data = -100.0  # z2[0..3] < 0: H2[0..3] are dead
    for n in layer2[4:]:
        n.b.data = 100.0  # and H2[4..7] alive
    C = squared_error(net(0.5), 2.0)
    t = Pass()
    nodes = pass_order(C, t.stamp)  # backward()'s loop, stopped before the pass is finished
    for v in nodes:
        v.grad = 0.0
    C.grad = 1.0
    for v in nodes:
        if v.grad:
            v._chain(t)
    dead = {id(p) for n in layer2[:4] for p in (*n.w, n.b)}
    live = {id(p) for n in layer2[4:] for p in (*n.w, n.b)}
    touched = {id(p) for p in (*t.touched, *(p for store in t.parts for p in store.params))}
    assert not touched & dead and live <= touched
