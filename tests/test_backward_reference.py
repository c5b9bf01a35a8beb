"""The optimised backward against a plain textbook one: gradients must be bit-for-bit equal.

The engine's speed-ups (a layer's shared inputs scanned once, the two-parent fast path,
skipping zero gradients) may change how fast gradients are computed, never their bits.
"""
from hypothesis import given

from micrograd_ws import Value, squared_error, two_hidden_layers
from micrograd_ws.testing import expressions


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
    expected = textbook_backward(root)
    root.backward()
    nodes = {id(v): v for v in _all_nodes(root)}
    for key, g in expected.items():
        assert nodes[key].grad == g or (nodes[key].grad == 0 and g == 0), (nodes[key], g)


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
