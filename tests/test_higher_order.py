"""Higher-order gradients: each op's derivative in Values, grad / hessian / hvp,
backward(create_graph=True), gradgradcheck, the kink, bad input.  (PyTorch as the
oracle for second derivatives is in test_torch.py.)"""
import math

import pytest
from hypothesis import given

from micrograd_ws import (MLP, Value, define_op, draw_graph, grad, hessian, hvp, mean, no_grad, squared_error,
                          topological_order, two_neuron)
from micrograd_ws.custom import local_derivative_values as _local_derivative_values
from micrograd_ws.testing import GradcheckError, expressions, gradcheck, gradgradcheck, values


def nodes_of(expr, xs):
    """Every node of expr's graph at the Values xs, inputs first."""
    nodes = list(xs)
    for name, args in expr.resolved:
        nodes.append(expr._op(name).fn(*(nodes[a] for a in args)))
    return nodes


@given(expressions())
def test_each_ops_derivative_in_values_is_the_float_it_records(expr):
    """The two forms of every op's local derivative (float in the forward, Value for create_graph) agree."""
    for v in nodes_of(expr, [Value(x) for x in expr.inputs]):
        if v.parents:
            ds = _local_derivative_values(v)
            got = tuple(d.data if isinstance(d, Value) else d for d in ds)
            assert got == v.local_grads, f"{v.op}: {got} vs the forward's {v.local_grads}"


@given(values(-3, 3), values(-3, 3))
def test_squared_error_with_a_number_target_reads_it_back(o, t):
    O = Value(o)
    C = squared_error(O, t)
    [d] = _local_derivative_values(C)
    assert d.data == pytest.approx(C.local_grads[0], rel=1e-15, abs=1e-15)
    assert grad(d, [O]) == [2.0]


@given(expressions())
def test_grad_gives_backwards_numbers_and_touches_no_grad(expr):
    xs = [Value(x) for x in expr.inputs]
    out = expr(*xs)
    floats = grad(out, xs, allow_unused=True)
    as_values = grad(out, xs, create_graph=True, allow_unused=True)
    assert all(x.grad == 0.0 for x in xs) and out.grad == 0.0  # nothing touched
    out.backward()
    assert floats == [x.grad for x in xs]                       # the same loop, the same floats
    assert [g.data for g in as_values] == floats
    assert all(isinstance(g, Value) for g in as_values)


@given(expressions())
def test_backward_create_graph_sets_the_same_floats_and_their_values(expr):
    a = [Value(x) for x in expr.inputs]
    b = [Value(x) for x in expr.inputs]
    expr(*a).backward()
    out = expr(*b)
    out.backward(create_graph=True)
    assert [x.grad for x in a] == [x.grad for x in b]
    used = set(topological_order(out))
    for x in b:  # an input out does not depend on is left alone, as backward() leaves it
        assert (x.grad_value.data == x.grad) if x in used else (x.grad_value is None and x.grad == 0.0)


@given(expressions(max_inputs=2, max_steps=5))
def test_random_expressions_pass_gradgradcheck(expr):
    assert gradgradcheck(expr, list(expr.inputs), atol=1e-5, rtol=1e-4)


# --- closed forms -------------------------------------------------------------------

def nth_derivative(f, x, n):
    v = Value(x)
    g = f(v)
    for _ in range(n):
        [g] = grad(g, [v], create_graph=True)
    return g.data


@pytest.mark.parametrize("x", [-1.3, 0.0, 0.4, 2.0])
def test_third_derivatives_of_closed_forms(x):
    t = math.tanh(x)
    assert nth_derivative(lambda v: v**3, x, 3) == 6.0
    assert nth_derivative(lambda v: v * v * v, x, 3) == 6.0
    assert nth_derivative(lambda v: v.exp(), x, 3) == pytest.approx(math.exp(x), rel=1e-15)
    assert nth_derivative(lambda v: v.tanh(), x, 3) == pytest.approx(-2 * (1 - t * t) * (1 - 3 * t * t), rel=1e-13)
    assert nth_derivative(lambda v: v**3, x, 4) == 0.0
    if x > 0:
        assert nth_derivative(lambda v: v.log(), x, 3) == pytest.approx(2 / x**3, rel=1e-13)
        assert nth_derivative(lambda v: v**0.5, x, 2) == pytest.approx(-0.25 * x**-1.5, rel=1e-13)
    s = 1 / (1 + math.exp(-x))
    assert nth_derivative(lambda v: v.sigmoid(), x, 2) == pytest.approx(s * (1 - s) * (1 - 2 * s), rel=1e-12, abs=1e-15)


def assert_matrix_close(H, expected, rel):
    assert len(H) == len(expected)
    for row, want in zip(H, expected):
        assert row == pytest.approx(want, rel=rel, abs=rel), f"{H} vs {expected}"


def two_neuron_hessian(i):
    """C = (w1·i + b1 − O_des)²: ∂²C/∂w1² = 2i², ∂²C/∂w1∂b1 = 2i, ∂²C/∂b1² = 2."""
    return [[2 * i * i, 2 * i], [2 * i, 2.0]]


@pytest.mark.parametrize("i, O_des", [(0.5, 1.0), (2.0, -1.0), (-1.5, 0.3)])
def test_two_neuron_hessian_is_its_closed_form(i, O_des):
    model = two_neuron(seed=0)
    H = hessian(lambda w1, b1: squared_error(model(i), O_des), model.parameters())
    assert_matrix_close(H, two_neuron_hessian(i), 1e-15)
    assert all(p.grad == 0.0 for p in model.parameters())
    v = [0.3, -0.7]
    assert hvp(lambda w1, b1: squared_error(model(i), O_des), model.parameters(), v) == \
        pytest.approx([sum(h * x for h, x in zip(row, v)) for row in two_neuron_hessian(i)], rel=1e-15)


def test_two_neuron_hessian_of_the_mean_cost_over_samples():
    model = two_neuron(seed=1)
    samples = [(0.5, 1.0), (-1.0, 0.2), (2.0, 0.0)]
    H = hessian(lambda w1, b1: mean([squared_error(model(i), y) for i, y in samples]), model.parameters())
    expected = [[sum(two_neuron_hessian(i)[r][c] for i, _ in samples) / 3 for c in range(2)] for r in range(2)]
    assert_matrix_close(H, expected, 1e-14)


def test_hessian_on_a_net_is_symmetric_and_hvp_is_its_product():
    net = MLP(2, [3, 1], seed=4)
    params = net.parameters()
    f = lambda *ps: squared_error(net([0.7, -0.4]).tanh(), 0.2)  # tanh: a curved output
    H = hessian(f, params)
    n = len(params)
    assert all(abs(H[r][c] - H[c][r]) <= 1e-12 for r in range(n) for c in range(n))
    v = [0.1 * (k % 5) - 0.2 for k in range(n)]
    assert hvp(f, params, v) == pytest.approx([sum(h * x for h, x in zip(row, v)) for row in H], rel=1e-12, abs=1e-14)
    assert hvp(f, params, [0.0] * n) == [0.0] * n


# --- the kink --------------------------------------------------------------------------

@pytest.mark.parametrize("x, first", [(-0.5, 0.0), (0.0, 0.0), (0.5, 1.0)])
def test_relu_second_derivative_is_0_and_at_the_kink_both_are_0(x, first):
    v = Value(x)
    [d] = grad(v.relu(), [v], create_graph=True)
    assert d.data == first and not d.parents  # the 0/1 mask, a constant
    assert grad(d, [v], allow_unused=True) == [0.0]
    assert hessian(lambda a: a.relu() * a.relu(), [x]) == [[2.0 * first]]  # (relu x)² = x² on the right


def test_relu_kink_passes_gradgradcheck_away_from_it():
    assert gradgradcheck(lambda a: a.relu() * a.tanh(), [0.4])
    assert gradgradcheck(lambda a: a.relu() * a.tanh(), [-0.4])


# --- backward(create_graph=True): accumulation -------------------------------------------

def test_backward_create_graph_accumulates_on_leaves_like_backward():
    w = Value(0.5, "w")
    C = (w * 4.0 - 1.0).square()
    C.backward(create_graph=True)
    first = w.grad_value
    C.backward(create_graph=True)
    assert w.grad == 16.0 and w.grad_value.data == 16.0 and w.grad_value.parents[0] is first
    assert grad(w.grad_value, [w]) == [2 * 32.0]  # twice d(8(4w − 1))/dw
    w.grad = 0.0
    assert w.grad_value is None
    C.backward()                                     # an earlier plain float enters as a constant
    C.backward(create_graph=True)
    assert w.grad == 16.0 and grad(w.grad_value, [w]) == [32.0]
    C.backward()                                     # a plain backward leaves a plain float
    assert w.grad == 24.0 and w.grad_value is None and type(w.grad) is float


def test_backward_create_graph_intermediates_hold_this_pass():
    x = Value(2.0)
    h = x * x
    y = h * 3.0
    y.backward(create_graph=True)
    y.backward(create_graph=True)
    assert h.grad == 3.0 and h.grad_value.data == 3.0 and x.grad == 24.0
    assert y.grad_value.data == 1.0


def test_gradient_values_can_be_stepped_explained_and_drawn():
    model = two_neuron(seed=0)
    w1, b1 = model.parameters()
    C = squared_error(model(2.0), 1.0)
    [g] = grad(C, [w1], create_graph=True)
    g.label = "∂C/∂w1"
    steps = list(g.backward_steps())
    assert steps and w1.grad == 2 * 2.0 * 2.0            # ∂(∂C/∂w1)/∂w1 = 2i²
    assert "∂C/∂w1" in draw_graph(g).source and "w1" in draw_graph(g).source
    from micrograd_ws import explain
    assert explain(g, w1).total == 8.0


# --- bad input -------------------------------------------------------------------------

def test_grad_refuses_a_non_scalar_output_and_non_value_inputs():
    a = Value(1.0)
    with pytest.raises(TypeError, match=r"one Value \(a scalar\), got a list of 2; take the gradient of each"):
        grad([a * 2, a * 3], [a])
    with pytest.raises(TypeError, match="the output must be a Value, got float"):
        grad(3.0, [a])
    with pytest.raises(TypeError, match=r"inputs\[1\] must be a Value .* got float 2.0"):
        grad(a * 2, [a, 2.0])
    assert grad(a * 2, a) == [2.0]  # one Value is a list of one
    with pytest.raises(TypeError, match="f must return one Value"):
        hessian(lambda x, y: [x, y], [1.0, 2.0])


def test_an_input_the_output_does_not_depend_on():
    a, b = Value(1.0, "a"), Value(2.0, "b")
    with pytest.raises(ValueError, match=r"does not depend on inputs\[1\] \(b=2.0\); pass allow_unused=True"):
        grad(a * 3, [a, b])
    with pytest.raises(ValueError, match="does not depend on"):
        grad(a * 3, [a, b], create_graph=True)
    assert grad(a * 3, [a, b], allow_unused=True) == [3.0, 0.0]
    g = grad(a * 3, [a, b], create_graph=True, allow_unused=True)
    assert [v.data for v in g] == [3.0, 0.0] and all(isinstance(v, Value) for v in g)
    # a path through a dead ReLU is a dependence, with gradient 0 (as in PyTorch)
    assert grad((a * -1.0).relu(), [a]) == [0.0]
    assert hessian(lambda x, y: x * x, [1.0, 5.0]) == [[2.0, 0.0], [0.0, 0.0]]


def test_create_graph_through_a_user_op_without_a_value_derivative():
    quart = define_op("quart_nod", lambda x: (x**4, (4 * x**3,)))
    x = Value(0.5)
    y = quart(x) * 2.0
    assert grad(y, [x]) == [1.0]  # first order needs only fn's floats
    y.backward()
    before = x.grad
    with pytest.raises(TypeError, match=r"create_graph through quart_nod\(0.5\): the op 'quart_nod' has no "
                                        r"derivative in Values\. Give one .*define_op\('quart_nod', fn, derivative="):
        y.backward(create_graph=True)
    assert x.grad == before  # nothing changed
    with pytest.raises(TypeError, match="no derivative in Values"):
        hessian(lambda v: quart(v), [0.5])


def test_a_user_op_with_a_value_derivative_goes_through_and_is_checked():
    quart = define_op("quart_d", lambda x: (x**4, (4 * x**3,)), derivative=lambda out, x: (4 * x**3,))
    assert hessian(lambda v: quart(v), [0.5]) == [[pytest.approx(12 * 0.25)]]
    assert gradgradcheck(lambda v: quart(v.tanh()), [0.3])
    wrong = define_op("quart_wrong", lambda x: (x**4, (4 * x**3,)), derivative=lambda out, x: (3 * x**3,))
    with pytest.raises(ValueError, match=r"derivative in Values gives ∂out/∂arg1 = 0.375 but fn's float "
                                         r"derivative is 0.5; the two must be the same function"):
        grad(wrong(Value(0.5)), [Value(0.5)], create_graph=True, allow_unused=True)
    arity = define_op("quart_arity", lambda x: (x**4, (4 * x**3,)), derivative=lambda x: (4 * x**3,))
    with pytest.raises(TypeError, match=r"must take \(out, x, ...\), the result and the 1 input"):
        hessian(lambda v: arity(v), [0.5])
    shape = define_op("quart_shape", lambda x: (x**4, (4 * x**3,)), derivative=lambda out, x: 4 * x**3)
    with pytest.raises(TypeError, match="must take"):
        hessian(lambda v: shape(v), [0.5])
    with pytest.raises(TypeError, match="derivative must be a function"):
        define_op("quart_bad", lambda x: (x**4, (4 * x**3,)), derivative=3)
    with pytest.raises(ValueError, match="'mean' is a built-in operation"):
        define_op("mean", lambda x: (x, (1.0,)))


def test_a_node_without_recorded_derivatives_is_refused_for_create_graph():
    x = Value(1.0)
    y = Value(2.0, (x,), "f")  # a node made by hand, micrograd's way, whose op defines no derivative
    with pytest.raises(TypeError, match=r"create_graph through f\(1.0\): this node records no derivative"):
        grad(y, [x], create_graph=True)


def test_a_derivative_undefined_where_the_forward_is_defined():
    x = Value(0.0)
    y = x**1.5  # y' = 1.5 x**0.5 is fine at 0, y'' is infinite
    assert grad(y, [x]) == [0.0]
    with pytest.raises(ZeroDivisionError, match=r"create_graph through \*\*1.5\(0.0\): its derivative is not defined here"):
        grad(y, [x], create_graph=True)


def test_hessian_and_hvp_argument_errors():
    f = lambda a, b: a * b
    with pytest.raises(ValueError, match=r"v must be a list of 2 numbers"):
        hvp(f, [1.0, 2.0], [1.0])
    with pytest.raises(TypeError, match="f must be a function"):
        hessian(3, [1.0])
    with pytest.raises(ValueError, match="no inputs"):
        hessian(f, [])
    with pytest.raises(ValueError, match="finite"):
        hvp(f, [1.0, 2.0], [1.0, math.nan])


def test_gradgradcheck_reports_a_wrong_second_derivative():
    # value right at every point, slope wrong: 2·x.data is a constant, so ∂²/∂x² reads 0
    sq = define_op("sq_const", lambda x: (x * x, (2 * x,)), derivative=lambda out, x: (2 * x.data,))
    assert gradcheck(lambda a, b: sq(a) * b, [0.5, 2.0])  # first order is right
    with pytest.raises(GradcheckError) as e:
        gradgradcheck(lambda a, b: sq(a) * b, [0.5, 2.0])
    text = str(e.value)
    assert text.startswith("second-derivative check of f (gradgradcheck):\ngradient check failed for ∂f/∂a at "
                           "a = 0.5, b = 2.0:\n  ∂/∂a: backward gives 0.0, finite differences give 4.0")
    assert "A wrong derivative in Values" in text
    assert [m.input for m in e.value.failures] == ["a, a"]
    with pytest.raises(TypeError, match=r"gradgradcheck: f takes 2 arguments \(a, b\) but 1 input was given"):
        gradgradcheck(lambda a, b: a * b, [1.0])
    with pytest.raises(ValueError, match=r"gradgradcheck\(eps=0\)"):
        gradgradcheck(lambda a: a, [1.0], eps=0)


def test_grad_inside_no_grad_gives_numbers_without_a_graph():
    x = Value(2.0)
    y = x * x * x
    with no_grad():
        [g] = grad(y, [x], create_graph=True)
    assert g.data == 12.0 and not g.parents


def test_a_gradient_value_survives_pickling_and_copying():
    import copy
    import pickle

    w = Value(0.5, "w")
    (w * 4.0 - 1.0).square().backward(create_graph=True)  # grad_value's graph leads back to w: a cycle
    for again in (pickle.loads(pickle.dumps(w)), copy.deepcopy(w)):
        assert again.grad == 8.0 and again.grad_value.data == 8.0
        assert grad(again.grad_value, [again]) == [32.0]


def test_a_micrograd_style_closure_op_gives_first_derivatives_and_refuses_create_graph():
    a, b = Value(2.0, "a"), Value(3.0, "b")
    out = Value(a.data * b.data, (a, b), "*")  # named like the built-in *, but a closure of its own

    def _backward():
        a.grad += b.data * out.grad
        b.grad += a.data * out.grad
    out._backward = _backward
    assert grad(out, [a, b]) == [3.0, 2.0] and a.grad == b.grad == 0.0
    with pytest.raises(TypeError, match=r"create_graph through \*\(a=2.0, b=3.0\): a micrograd-style op .* "
                                        r"define_op\(name, fn, derivative=...\) instead"):
        grad(out, [a, b], create_graph=True)
    with pytest.raises(TypeError, match="micrograd-style op"):
        out.backward(create_graph=True)


def test_a_copied_or_pickled_graph_keeps_its_second_derivatives():
    # found by review: a node's create_graph gradient is a graph of nodes made after it, which the
    # copy restored first and so numbered first: the copy's creation order was no longer a
    # topological order, and its second derivatives came out wrong (0.0 for -2.5588), silently
    import copy
    import pickle
    x = Value(0.5, "x")
    t = (x * 2.0).tanh()
    t.backward(create_graph=True)
    want = grad(x.grad_value, [x])
    assert want[0] == pytest.approx(-8 * math.tanh(1.0) * (1 - math.tanh(1.0) ** 2))
    for twin in (copy.deepcopy(t), pickle.loads(pickle.dumps(t))):
        x2 = twin.parents[0].parents[0]
        assert x2.grad == x.grad and grad(x2.grad_value, [x2]) == want
        order = topological_order(x2.grad_value)
        assert all(p._id < v._id for v in order for p in v.parents)
    import threading  # a copy that failed half-way, its error kept (as a notebook keeps the last one), changes nothing
    broken = Value(1.0)
    broken.lock = threading.Lock()
    with pytest.raises(TypeError):
        copy.deepcopy(broken * 2)
    twin = copy.deepcopy(t)
    x2 = twin.parents[0].parents[0]
    assert grad(x2.grad_value, [x2]) == want
    net = MLP(1, [3, 3, 1], seed=0)
    squared_error(net(0.5), 1.0).backward(create_graph=True)
    ps = list(net.parameters())
    row = grad(ps[0].grad_value, ps)
    for twin in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        qs = list(twin.parameters())
        assert grad(qs[0].grad_value, qs) == row


def test_hessian_and_hvp_make_their_own_graph_inside_no_grad():
    # found by review: inside no_grad() they refused their own f(x) as "computed inside no_grad()";
    # torch.autograd.functional turns grad mode on for its own graph
    f = lambda w, b: (w * 2.0 + b - 1.0).square()  # noqa: E731
    with no_grad():
        assert hessian(f, [0.5, 0.1]) == [[8.0, 4.0], [4.0, 2.0]]
        assert hvp(f, [0.5, 0.1], [1.0, 0.0]) == [8.0, 4.0]
        assert not (Value(1.0) * 2).parents  # and no_grad() holds again after them
