"""The Value engine: each op, backward's semantics, depth, no_grad, bad input."""
import copy
import math
import pickle
import sys
import threading

import pytest

from micrograd_ws import SGD, Value, define_op, is_grad_enabled, mean, no_grad, squared_error, weighted_sum
from micrograd_ws.testing import finite_difference, gradcheck

UNARY = {
    "relu": lambda a: a.relu(), "square": lambda a: a.square(), "exp": lambda a: a.exp(),
    "log": lambda a: a.log(), "tanh": lambda a: a.tanh(), "sigmoid": lambda a: a.sigmoid(),
    "neg": lambda a: -a, "pow3": lambda a: a**3, "sqrt": lambda a: a**0.5, "inv": lambda a: a**-1,
}
BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "powv": lambda a, b: a**b,
}


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("x", [0.37, 1.9, 2.5])
def test_unary_op_matches_finite_differences(name, x):
    assert gradcheck(UNARY[name], [x])


@pytest.mark.parametrize("name", ["relu", "square", "exp", "tanh", "sigmoid", "neg", "pow3", "inv"])
def test_unary_op_negative_side(name):
    assert gradcheck(UNARY[name], [-0.8])


@pytest.mark.parametrize("name", BINARY)
def test_binary_op_matches_finite_differences(name):
    assert gradcheck(BINARY[name], [1.3, -0.7 if name != "powv" else 0.6])


def test_numbers_on_either_side():
    v = Value(4.0)
    cases = {2 * v: (8.0, 2.0), v * 2: (8.0, 2.0), 1 - v: (-3.0, -1.0), v - 1: (3.0, 1.0),
             v / 4: (1.0, 0.25), 8 / v: (2.0, -0.5), 3 + v: (7.0, 1.0), v + 3: (7.0, 1.0),
             2**v: (16.0, 16.0 * math.log(2)), -v: (-4.0, -1.0)}
    for out, (data, grad) in cases.items():
        v.grad = 0.0
        out.backward()
        assert (out.data, v.grad) == pytest.approx((data, grad), rel=1e-12)


def test_local_derivatives_are_recorded_per_edge():
    a, b = Value(2.0, "a"), Value(-3.0, "b")
    c = a * b
    assert c.op == "*" and c.parents == (a, b) and c.local_grads == (-3.0, 2.0)
    z = weighted_sum([a, b], [Value(5.0), Value(7.0)], Value(1.0))
    assert z.local_grads == (5.0, 7.0, 2.0, -3.0, 1.0) and z.data == 2 * 5 - 3 * 7 + 1


def test_relu_derivative_is_zero_where_output_is_zero():
    for x, d in [(-1.0, 0.0), (0.0, 0.0), (2.0, 1.0)]:
        h = Value(x).relu()
        assert h.local_grads == (d,)


def test_topological_order_counterexample():
    a = Value(3.0)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad == 4.0


def test_node_reused_many_times_accumulates():
    x = Value(0.7)
    y = x * x * x + x.tanh() * x  # x appears five times
    y.backward()
    assert x.grad == pytest.approx(3 * 0.7**2 + math.tanh(0.7) + 0.7 * (1 - math.tanh(0.7) ** 2), rel=1e-12)


def test_backward_twice_gives_exactly_twice_the_leaf_gradients():
    w = [Value(v) for v in (0.3, -1.7, 2.2)]
    h = (w[0] * w[1] + w[2]).tanh() * w[0] + (w[1] / w[2]).exp() + w[0] * w[0]
    h.backward()
    first = [v.grad for v in w]
    inner = [p.grad for p in h.parents]
    h.backward()
    assert [v.grad for v in w] == [2 * g for g in first]
    assert [p.grad for p in h.parents] == inner  # intermediates are recomputed, not summed


def test_backward_on_subgraph_after_full_backward():
    a = Value(2.0)
    b = a * 3.0
    c = b * b
    c.backward()
    assert a.grad == 2 * 6.0 * 3.0
    a.grad = 0.0
    b.backward()
    assert a.grad == 3.0 and b.grad == 1.0


def test_backward_on_a_leaf_and_with_a_gradient():
    a = Value(2.0)
    a.backward()
    assert a.grad == 1.0
    b = Value(1.5)
    (b * b).backward(gradient=2.0)
    assert b.grad == 6.0


@pytest.fixture
def default_recursion_limit():
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)  # CPython's default
    yield
    sys.setrecursionlimit(previous)


def test_deep_chain_at_default_recursion_limit(default_recursion_limit):
    a = Value(0.5)
    v = a
    for _ in range(1_000_000):
        v = v + 1e-6
    v.backward()
    assert a.grad == 1.0
    assert v.data == pytest.approx(1.5, rel=1e-9)
    del v  # freeing a 10^6-deep graph must not overflow the C stack either


def test_no_grad_records_nothing_and_is_thread_local():
    w = Value(2.0)
    seen = {}

    def other_thread():
        seen["enabled"] = is_grad_enabled()
        seen["parents"] = (w * 3).parents

    with no_grad():
        assert not is_grad_enabled()
        y = w * 3 + 1
        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
    assert is_grad_enabled()
    assert y.data == 7.0 and y.parents == () and y.op == ""
    assert seen == {"enabled": True, "parents": (w, seen["parents"][1])}


def test_backward_from_a_cost_computed_inside_no_grad_is_refused_with_the_fix():
    # a learner who wraps the whole step in no_grad() used to get C.grad = 1 and no weight's gradient, silently
    from micrograd_ws import grad, two_hidden_layers
    net = two_hidden_layers(3, seed=0)
    with no_grad():
        C = squared_error(net(2.0), 1.0)
    for start, where in [(lambda: C.backward(), "backward"), (lambda: C.backward(create_graph=True), "backward"),
                         (lambda: C.backward_steps(), "backward_steps"), (lambda: grad(C, net.parameters()), "grad")]:
        with pytest.raises(RuntimeError, match=rf"^{where}: C = .* inside `with no_grad\(\):`.*outside no_grad\(\)"):
            start()
    assert C.grad == 0.0 and all(p.grad == 0.0 for p in net.parameters())
    # a plain leaf still may be a pass's root, and a pass may run inside no_grad
    w = Value(3.0)
    w.backward()
    assert w.grad == 1.0
    C = squared_error(net(2.0), 1.0)
    with no_grad():
        C.backward()
    assert any(p.grad for p in net.parameters())
    # a copy or pickle of such a result is a plain leaf (only the live object remembers no_grad)
    with no_grad():
        y = w * 2
    assert y.op == "" and type(pickle.loads(pickle.dumps(y)).op) is str and type(copy.deepcopy(y).op) is str


def test_no_grad_restores_state_after_an_error():
    with pytest.raises(ZeroDivisionError):
        with no_grad():
            Value(1.0) / 0
    assert is_grad_enabled()


def test_mean_and_squared_error():
    xs = [Value(1.0), Value(2.0), Value(4.0)]
    m = mean(xs)
    m.backward()
    assert m.data == pytest.approx(7 / 3) and [x.grad for x in xs] == [1 / 3] * 3
    O, y = Value(0.5), Value(2.0)
    C = squared_error(O, y)
    C.backward()
    assert (C.data, O.grad, y.grad) == (2.25, -3.0, 3.0)
    assert squared_error(Value(3.0), 1).data == (Value(3.0) - 1).square().data


# --- bad input ----------------------------------------------------------------------

@pytest.mark.parametrize("bad, kind", [("abc", "str"), (None, "NoneType"), ([1.0], "list"),
                                       (1 + 2j, "complex"), (True, "bool")])
def test_value_rejects_non_numbers_naming_the_type(bad, kind):
    with pytest.raises(TypeError, match=kind):
        Value(bad)


def test_value_of_a_value_is_a_clear_type_error():
    with pytest.raises(TypeError, match="Value itself"):
        Value(Value(1.0))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_value_rejects_nan_and_inf(bad):
    with pytest.raises(ValueError, match="finite"):
        Value(bad)


@pytest.mark.parametrize("op", [lambda v: v + "x", lambda v: "x" + v, lambda v: v * None,
                                lambda v: v - [1], lambda v: v / "2", lambda v: v ** "2"])
def test_operators_reject_non_numbers(op):
    with pytest.raises(TypeError, match="str|NoneType|list"):
        op(Value(1.0))


def test_domain_errors_name_the_op_and_the_value():
    with pytest.raises(ValueError, match=r"log\(z=-2.0\)"):
        Value(-2.0, "z").log()
    with pytest.raises(ValueError, match="log"):
        Value(0.0).log()
    with pytest.raises(ValueError, match=r"-8.0 \*\* 0.5.*negative base"):
        Value(-8.0) ** 0.5
    with pytest.raises(ZeroDivisionError, match=r"w=1.0 / 0.0: division by zero"):
        Value(1.0, "w") / 0
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        1.0 / Value(0.0)
    with pytest.raises(ZeroDivisionError, match="negative power"):
        Value(0.0) ** -1
    with pytest.raises(ValueError, match="positive base"):
        Value(-2.0) ** Value(2.0)


def test_overflow_is_an_error_not_a_silent_inf():
    with pytest.raises(OverflowError, match="exp.*overflows"):
        Value(1000.0).exp()
    with pytest.raises(OverflowError, match=r"\*"):
        Value(1e200) * Value(1e200)
    b = Value(1e-300) + 0.0  # an intermediate node whose gradient, 1e400, overflows
    with pytest.raises(OverflowError, match="overflowed"):
        (b * 1e200 * 1e200).backward()


def test_sgd_refuses_a_non_finite_gradient_and_changes_nothing():
    w, v = Value(1e-300, "w1"), Value(0.5, "b1")
    with pytest.raises(OverflowError, match="∂/∂w1 = inf"):  # ∂/∂w = 1e400 overflows in a leaf
        (w * 1e200 * 1e200 + v).backward()
    assert (w.grad, v.grad) == (0.0, 0.0)
    w.grad, v.grad = math.inf, 1.0  # set by hand: the step still refuses it
    opt = SGD([v, w], lr=0.01)
    with pytest.raises(OverflowError, match=r"w1 - lr·∂C/∂w1 = .*inf.*no parameter was changed.*lower the learning rate"):
        opt.step()
    assert (w.data, v.data) == (1e-300, 0.5)


def test_sgd_refuses_a_step_that_overflows_and_changes_nothing():
    w, b = Value(1.0, "w1"), Value(2.0, "b1")
    (w * 1e300 + b).backward()
    opt = SGD([b, w], lr=1e10)  # 1.0 - 1e10 * 1e300 overflows
    with pytest.raises(OverflowError, match="w1 .*= -inf; no parameter was changed"):
        opt.step()
    assert (w.data, b.data) == (1.0, 2.0)


def test_non_finite_data_set_by_hand_is_named():
    w = Value(1.0, "w3[2]")
    w.data = math.nan
    with pytest.raises(ValueError, match=r"w3\[2\]=nan"):
        w * 2


def test_micrograd_compatible_fields_and_repr():
    a = Value(2.0)
    b = a.relu() + 1
    assert b._prev == b.parents and b._op == "+"
    assert repr(Value(0.5, "w3[4]")) == "Value(data=0.5, grad=0.0, label='w3[4]')"
    assert repr(a * a) == "Value(data=4.0, grad=0.0, op='*')"
    assert a.item() == 2.0


def test_define_op_method_function_and_errors():
    def leaky(x):
        return (x if x > 0 else 0.1 * x), ((1.0 if x > 0 else 0.1),)

    leaky_relu = define_op("leaky_relu_t", leaky)
    v = Value(-2.0)
    y = v.leaky_relu_t()
    y.backward()
    assert (y.data, v.grad, y.op) == (-0.2, 0.1, "leaky_relu_t")
    assert leaky_relu(3.0).data == 3.0
    with pytest.raises(ValueError, match="already a Value attribute"):
        define_op("relu", leaky)
    bad = define_op("bad_arity_t", lambda x: (x, (1.0, 2.0)))
    with pytest.raises(TypeError, match="1 inputs but 2 derivatives"):
        bad(Value(1.0))
    nan_op = define_op("nan_op_t", lambda x: (math.nan, (1.0,)))
    with pytest.raises(ValueError, match="nan_op_t"):
        nan_op(Value(1.0))


def test_finite_difference_helper_agrees_with_calculus():
    assert finite_difference(lambda x: x * x * x, [2.0], 0) == pytest.approx(12.0, rel=1e-8)


def _more_ops(a, b):
    c = a + b
    d = a * b + b**3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g = g + 10.0 / f
    return g


def test_micrograd_expressions_match_pytorch(torch):
    def sanity(x):
        z = 2 * x + 2 + x
        q = z.relu() + z * x
        h = (z * z).relu()
        return h + q + q * x

    for fn, inputs in [(sanity, [-4.0]), (_more_ops, [-4.0, 2.0]),
                       (lambda a, b: (a * b).tanh() + (a / b).sigmoid() * (a * a + 1).log() + b.exp(), [0.3, -1.1])]:
        ours = [Value(x) for x in inputs]
        out = fn(*ours)
        out.backward()
        theirs = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in inputs]
        ref = fn(*theirs)
        ref.backward()
        assert out.data == pytest.approx(ref.item(), rel=1e-12)
        for v, t in zip(ours, theirs):
            assert v.grad == pytest.approx(t.grad.item(), rel=1e-12)


def test_a_failed_backward_leaves_every_leaf_gradient_as_it_was():
    x, k = Value(2.0, "x"), Value(10.0, "k")
    x.grad = 5.0
    y = (x * k) * k
    with pytest.raises(OverflowError, match="overflowed"):
        y.backward(gradient=1e308)  # ∂y/∂(x·k) = 1e309 overflows half-way through the pass
    assert (x.grad, k.grad) == (5.0, 0.0)
    y.backward()
    assert (x.grad, k.grad) == (5.0 + 100.0, 40.0)


def test_edge_cases_of_power_and_division_near_zero_and_underflow():
    x = Value(0.0)
    y = x**0  # constant 1: derivative 0, even at 0 (as PyTorch)
    y.backward()
    assert (y.data, x.grad) == (1.0, 0.0)
    a, b = Value(1e-200), Value(1e-170)  # b² underflows; -a/b² does not
    q = a / b
    q.backward()
    assert (q.data, a.grad, b.grad) == pytest.approx((1e-30, 1e170, -1e140), rel=1e-12)
    with pytest.raises(OverflowError, match="/: the local derivative overflows"):
        Value(1.0) / Value(1e-170)
    with pytest.raises(ValueError, match="integer of about 401 digits"):
        Value(10**400)


def test_help_value_describes_data_and_grad_and_no_source_comment():
    import pydoc

    text = pydoc.render_doc(Value, renderer=pydoc.plaintext)
    assert "``data`` is the number" in text and "``grad`` is ∂root/∂self" in text
    assert "# ---" not in text  # a comment above a method is not its help


def test_sums_differences_and_products_read_as_any_node_and_survive_copies():
    # their parents (and a product's local derivatives) live in slots, not tuples: the reads are the same
    import copy
    import pickle

    a, b = Value(2.0, "a"), Value(-3.0, "b")
    for y, local in [(a + b, (1.0, 1.0)), (a - b, (1.0, -1.0)), (a * b, (-3.0, 2.0)), (3 - a, (1.0, -1.0)),
                     (2 * b, (-3.0, 2.0))]:
        assert isinstance(y, Value) and type(y).__name__ == "Value" and len(y.parents) == 2
        assert y.local_grads == local and any(p is a or p is b for p in y.parents)
        for twin in (copy.deepcopy(y), pickle.loads(pickle.dumps(y))):
            assert (twin.data, twin.op, twin.local_grads) == (y.data, y.op, y.local_grads)
            assert [p.data for p in twin.parents] == [p.data for p in y.parents]
    c = a * b + a - b * 2.0
    c.backward()
    assert (a.grad, b.grad) == (-3.0 + 1.0, 2.0 - 2.0)
    with no_grad():
        assert (a * b).parents == () and (a + b).local_grads == ()
    with pytest.raises(ValueError, match="has two, got"):
        (a * b).local_grads = ()


def test_a_cost_whose_every_leaf_was_computed_inside_no_grad_is_refused():
    # found by review: O = net(x) inside no_grad(), C = (O - y)² outside: backward gave every weight 0,
    # silently (PyTorch refuses a graph where nothing requires a gradient)
    from micrograd_ws import two_neuron
    net = two_neuron(seed=0)
    with no_grad():
        O = net(0.5)
    for make in (lambda: squared_error(O, 1.0), lambda: (O - 1.0) ** 2, lambda: O * 2 + 3):
        C = make()
        with pytest.raises(RuntimeError, match=r"every leaf of this graph was computed inside `with no_grad\(\):` "
                                               r"\(O = .*outside no_grad\(\) to train"):
            C.backward()
        with pytest.raises(RuntimeError, match="every leaf of this graph"):
            list(C.backward_steps())
        with pytest.raises(RuntimeError, match="every leaf of this graph"):
            C.backward(create_graph=True)
    assert O.grad == 0.0 and [p.grad for p in net.parameters()] == [0.0, 0.0]
    w = Value(2.0, "w")  # a leaf of the graph's own besides: the pass is a pass
    squared_error(O * w, 1.0).backward()
    assert w.grad != 0.0
    c = Value(3.0) * 2  # constants only, none from no_grad: as before
    c.backward()
    # micrograd's hand-stepped backprop, node._backward() in reverse order, over a graph with a weight in it
    x = Value(0.5, "x")
    with no_grad():
        t = x * 2.0
    w2 = Value(0.3, "w")
    C = (w2 * x - (t - 1.0)) ** 2
    C.grad = 1.0
    for v in reversed(topo := [v for v in __import__("micrograd_ws").topological_order(C) if v.parents]):
        v._backward()
    assert w2.grad == pytest.approx(2 * (0.3 * 0.5 - 0.0) * 0.5) and topo
    # found by review of the first version: a weight behind a ReLU that is off is not reached, and the
    # pass was refused for that sample (a teacher's target made inside no_grad(), the usual use)
    w = Value(-1.0, label="w")
    with no_grad():
        target = Value(0.3) * 2
    for data in (-1.0, 1.0):
        w.data, w.grad = data, 0.0
        ((w * 1.0).relu() - target).square().backward()
        assert w.grad == (0.0 if data < 0 else 2 * (1.0 - 0.6))
