"""The micrograd drop-in: the lecture's hand-stepping, micrograd-style ops, own attributes,
micrograd's parameter order and initialisation, and training that reproduces micrograd 0.1.0."""
import gc
import math
import random
import weakref

import pytest

import micrograd_ws
from micrograd_ws import MLP, SGD, Value, draw_dot, draw_graph, explain, squared_error, two_hidden_layers
from micrograd_ws.custom import BUILTIN_OPS
from micrograd_ws.testing import OPS, gradcheck


# --- the lecture's neuron, stepped by hand -------------------------------------------------

def lecture_neuron():
    """The lecture's x1*w1 + x2*w2 + b through tanh, built and labelled as in its notebook."""
    x1 = Value(2.0, label='x1')
    x2 = Value(0.0, label='x2')
    w1 = Value(-3.0, label='w1')
    w2 = Value(1.0, label='w2')
    b = Value(6.8813735870195432, label='b')
    x1w1 = x1*w1; x1w1.label = 'x1*w1'
    x2w2 = x2*w2; x2w2.label = 'x2*w2'
    x1w1x2w2 = x1w1 + x2w2; x1w1x2w2.label = 'x1*w1 + x2*w2'
    n = x1w1x2w2 + b; n.label = 'n'
    o = n.tanh(); o.label = 'o'
    return dict(x1=x1, x2=x2, w1=w1, w2=w2, b=b, x1w1=x1w1, x2w2=x2w2, x1w1x2w2=x1w1x2w2, n=n, o=o)


def test_the_lectures_hand_stepping_gives_the_lectures_gradients():
    v = lecture_neuron()
    assert v['o'].data == pytest.approx(0.7071067811865476, rel=1e-15)
    v['o'].grad = 1.0
    v['o']._backward()
    assert v['n'].grad == pytest.approx(0.5, rel=1e-15)  # 1 - o.data**2, the lecture's 0.4999999999999999
    v['n']._backward()
    assert v['x1w1x2w2'].grad == v['b'].grad == v['n'].grad
    v['b']._backward()  # a leaf: nothing to pass on
    v['x1w1x2w2']._backward()
    v['x2w2']._backward()
    v['x1w1']._backward()
    got = {k: v[k].grad for k in ('x1', 'w1', 'x2', 'w2')}
    assert got == pytest.approx({'x1': -1.5, 'w1': 1.0, 'x2': 0.5, 'w2': 0.0}, rel=1e-15)
    # the same numbers as backward() on a fresh copy: _backward is backward's step
    fresh = lecture_neuron()
    fresh['o'].backward()
    assert {k: fresh[k].grad for k in got} == got


def test_stepping_by_hand_is_the_step_backward_steps_takes():
    by_steps, by_hand = lecture_neuron(), lecture_neuron()
    steps = list(by_steps['o'].backward_steps())
    by_hand['o'].grad = 1.0
    for step in steps:  # backward_steps' node order, applied by hand with _backward()
        node = next(v for k, v in by_hand.items() if v.label == step.node.label)
        assert node.grad == step.grad
        node._backward()
    assert {k: v.grad for k, v in by_hand.items()} == {k: v.grad for k, v in by_steps.items()}
    assert Value._backward.__doc__ and "backward_steps" in Value._backward.__doc__


def test_backward_then_stepping_again_accumulates_as_micrograd():
    v = lecture_neuron()  # the notebook runs o.backward() before its hand-stepping cells
    v['o'].backward()
    v['o'].grad = 1.0
    v['o']._backward()
    assert v['n'].grad == pytest.approx(1.0)  # 0.5 from backward + 0.5 from the step
    v['n']._backward()
    assert v['b'].grad == pytest.approx(1.5)


# --- micrograd-style operations ---------------------------------------------------------------

def mg_tanh(self):
    """The lecture's tanh, micrograd's way (math.tanh for the value)."""
    t = math.tanh(self.data)
    out = Value(t, (self, ), 'tanh')

    def _backward():
        self.grad += (1 - t**2) * out.grad
    out._backward = _backward

    return out


def mg_exp(self):
    """The lecture's exp, with its video's slip (= instead of +=), which the engine's probe survives."""
    out = Value(math.exp(self.data), (self, ), 'exp')

    def _backward():
        self.grad = out.data * out.grad
    out._backward = _backward

    return out


def f_builtin(x, w):
    n = x * w + x.exp(); n.label = 'n'
    return (n.tanh() * n).exp() + n.tanh()  # n and tanh(n) are used twice: += matters


def f_closures(x, w):
    n = x * w + mg_exp(x); n.label = 'n'
    return mg_exp(mg_tanh(n) * n) + mg_tanh(n)


def test_closure_ops_give_the_builtins_gradients_steps_explanations_and_pictures():
    xs, ws = Value(0.3, 'x'), Value(-0.8, 'w')
    xc, wc = Value(0.3, 'x'), Value(-0.8, 'w')
    yb, yc = f_builtin(xs, ws), f_closures(xc, wc)
    yb.label = yc.label = 'y'
    assert yc.data == pytest.approx(yb.data, rel=1e-15)
    assert [v.op for v in micrograd_ws.topological_order(yc)] == [v.op for v in micrograd_ws.topological_order(yb)]
    steps_b = [str(s) for s in yb.backward_steps()]
    steps_c = [str(s) for s in yc.backward_steps()]
    assert steps_c == steps_b and len(steps_b) == 8  # x·w, exp(x), n, 2 tanh(n), ·, exp, +
    assert (xc.grad, wc.grad) == pytest.approx((xs.grad, ws.grad), rel=1e-14)
    assert str(explain(yc, xc)) == str(explain(yb, xs))
    assert draw_graph(yc).source == draw_graph(yb).source
    assert draw_dot(yc).source == draw_dot(yb).source
    assert micrograd_ws.explore(yc).html == micrograd_ws.explore(yb).html
    # backward() itself, once more: leaves accumulate alike
    yb.backward(); yc.backward()
    assert (xc.grad, wc.grad) == pytest.approx((xs.grad, ws.grad), rel=1e-14)
    assert gradcheck(lambda x, w: f_closures(x, w), [0.3, -0.8])


def test_a_closure_op_stores_its_local_derivatives_like_a_builtin():
    a = Value(0.5)
    out = mg_tanh(a)
    assert out.op == 'tanh' and out.parents == (a,) and out._prev == (a,)
    assert out.local_grads == pytest.approx((1 - math.tanh(0.5) ** 2,), rel=1e-15)
    assert a.grad == 0.0 and out.grad == 0.0  # finding them left every grad as it was
    pair = Value(1.0, (a, a), '+')  # one child twice: one parent, as micrograd's set
    pair._backward = lambda: setattr(a, 'grad', a.grad + 2 * pair.grad)
    assert pair.parents == (a,) and pair.local_grads == (2.0,)
    never_set = Value(3.0, (a,), 'mystery')  # micrograd's default closure passes nothing on
    never_set.backward()
    assert a.grad == 0.0


def test_closures_run_when_backward_reaches_them_and_read_the_data_of_that_moment():
    a, b = Value(2.0, 'a'), Value(3.0, 'b')

    def mg_mul(x, y):
        out = Value(x.data * y.data, (x, y), '*')

        def _backward():
            x.grad += y.data * out.grad
            y.grad += x.data * out.grad
        out._backward = _backward
        return out

    built_in, closure = a * b, mg_mul(a, b)
    b.data = 10.0  # changed after the forward pass
    built_in.backward()
    assert a.grad == 3.0  # the engine's op kept the derivative of its forward pass
    a.grad = 0.0
    closure.backward()
    assert a.grad == 10.0 and closure.local_grads == (10.0, 2.0)  # micrograd's: the closure reads b.data now


def test_closure_mistakes_get_clear_errors():
    a = Value(1.0, 'a')
    with pytest.raises(TypeError, match="every child must be a Value"):
        Value(2.0, (a, 3.0), '+')
    with pytest.raises(TypeError, match="_op names the operation, a str"):
        Value(2.0, (a,), 7)
    with pytest.raises(OverflowError, match=r"cube\(a=1.0\) = inf"):
        Value(math.inf, (a,), 'cube')
    out = Value(2.0, (a,), 'double')
    with pytest.raises(TypeError, match="must be a function of no arguments"):
        out._backward = 2.0

    def uses_a_value():
        a.grad += a * out.grad  # should be a.data
    with pytest.raises(TypeError, match=r"added a Value into a=1.0.grad; .*use other.data"):
        out._backward = uses_a_value
    with pytest.raises(TypeError, match="given twice"):
        Value(1.0, 'a', label='b')


def test_overwriting_a_builtin_method_leaves_the_engines_own_use_intact(monkeypatch):
    def broken(self, *args):
        raise AssertionError("the engine called a method a user replaced")

    for name in ('relu', 'tanh', 'exp', 'log', 'square', 'sigmoid', '__add__', '__mul__', '__sub__',
                 '__truediv__', '__pow__', '__neg__'):
        monkeypatch.setattr(Value, name, broken)
    monkeypatch.setattr(Value, 'tanh', mg_tanh)
    net = two_hidden_layers(hidden=3, seed=0)
    C = squared_error(net(0.5), 1.0)
    C.backward()
    assert any(p.grad for p in net.parameters())
    assert all(OPS[k].fn is BUILTIN_OPS[m] for k, m in [('relu', 'relu'), ('tanh', 'tanh'), ('+', '__add__')])
    assert OPS['tanh'].fn(Value(0.5)).op == 'tanh' and OPS['**2'].fn(Value(3.0)).data == 9.0
    y = Value(0.5).tanh()  # the user's tanh is what users get
    assert y.local_grads == pytest.approx((1 - math.tanh(0.5) ** 2,))


# --- attributes and weak references -----------------------------------------------------------

def test_values_take_attributes_of_their_own_and_weak_references():
    v = Value(1.0, 'v')
    v.color = 'red'
    assert v.color == 'red' and vars(v) == {'color': 'red'}
    y = v * 2
    y.backward()
    assert v.grad == 2.0 and v.color == 'red'
    r = weakref.ref(y)
    cache = weakref.WeakValueDictionary(y=y)
    assert r() is y and cache['y'] is y
    del y
    gc.collect()
    assert r() is None and 'y' not in cache


def test_adam_keeps_its_state_on_the_parameters():
    net = micrograd_ws.micrograd.nn.MLP(1, [4, 1])
    for p in net.parameters():
        p.m, p.v = 0.0, 0.0
    b1, b2, lr, losses = 0.9, 0.999, 0.05, []
    for t in range(1, 41):
        C = squared_error(net(0.5), 1.0)
        net.zero_grad()
        C.backward()
        for p in net.parameters():
            p.m = b1 * p.m + (1 - b1) * p.grad
            p.v = b2 * p.v + (1 - b2) * p.grad ** 2
            p.data -= lr * (p.m / (1 - b1 ** t)) / (math.sqrt(p.v / (1 - b2 ** t)) + 1e-8)
        losses.append(C.data)
    assert losses[-1] < losses[0] / 10


# --- parameter order and initialisation against micrograd 0.1.0 -------------------------------

def test_parameter_order_and_initialisation_are_micrograds(micrograd):
    for seed, nin, nouts in [(0, 3, [4, 4, 1]), (1337, 2, [16, 16, 1]), (5, 1, [1]), (7, 2, [3, 2])]:
        random.seed(seed)
        theirs = micrograd.nn.MLP(nin, nouts)
        after_theirs = random.random()
        random.seed(seed)
        ours = micrograd_ws.micrograd.nn.MLP(nin, nouts)
        assert random.random() == after_theirs  # the same number of draws
        assert [p.data for p in ours.parameters()] == [p.data for p in theirs.parameters()]
        assert repr(ours) == repr(theirs)
        assert [repr(layer) for layer in ours.layers] == [repr(layer) for layer in theirs.layers]
        assert [n.nonlin for layer in ours.layers for n in layer.neurons] == \
            [n.nonlin for layer in theirs.layers for n in layer.neurons]
        x = [random.uniform(-1, 1) for _ in range(nin)]
        out_o, out_t = ours(x), theirs(x)
        outs_o = out_o if isinstance(out_o, list) else [out_o]
        outs_t = out_t if isinstance(out_t, list) else [out_t]
        assert [o.data for o in outs_o] == [t.data for t in outs_t]  # the same sums, in the same order
    random.seed(3)
    n_o, l_o = micrograd_ws.micrograd.nn.Neuron(3), micrograd_ws.micrograd.nn.Layer(3, 2, nonlin=False)
    random.seed(3)
    n_t, l_t = micrograd.nn.Neuron(3), micrograd.nn.Layer(3, 2, nonlin=False)
    assert [p.data for p in n_o.parameters() + l_o.parameters()] == [p.data for p in n_t.parameters() + l_t.parameters()]
    assert (repr(n_o), repr(l_o)) == (repr(n_t), repr(l_t))


def test_micrograd_weights_copy_into_the_handout_mlp_in_parameters_order(micrograd, torch):
    random.seed(11)
    theirs = micrograd.nn.MLP(2, [3, 3, 1])
    ours = MLP(2, [3, 3, 1], seed=0)
    names = [name for name, _ in ours.named_parameters()]
    assert [p for _, p in ours.named_parameters()] == ours.parameters()
    assert names[:6] == ['w1[0][0]', 'w1[0][1]', 'b1[0]', 'w1[1][0]', 'w1[1][1]', 'b1[1]']
    for p, q in zip(ours.parameters(), theirs.parameters()):
        p.data = q.data
    x = [0.4, -0.7]
    assert ours(x).data == theirs([micrograd.engine.Value(0.4), micrograd.engine.Value(-0.7)]).data
    # every other reader of the weights agrees: state_dict, model files, torch
    assert ours.state_dict()['w2'][1] == [w.data for w in theirs.layers[1].neurons[1].w]
    module = ours.to_torch()
    assert module(torch.tensor([x], dtype=torch.float64)).item() == pytest.approx(ours(x).data, rel=1e-15)
    back = MLP.from_torch(module)
    assert [p.data for p in back.parameters()] == [p.data for p in ours.parameters()]


def test_a_model_file_keeps_every_weight_in_place(tmp_path):
    net = micrograd_ws.micrograd.nn.MLP(2, [3, 1])
    net.save(tmp_path / 'm.json')
    copy = micrograd_ws.load(tmp_path / 'm.json')
    assert [p.data for p in copy.parameters()] == [p.data for p in net.parameters()]
    assert [n for n, _ in copy.named_parameters()] == [n for n, _ in net.named_parameters()]


# --- training: micrograd's numbers -------------------------------------------------------------

def moons(n, rng):
    """Two interleaved half-circles with noise (make_moons without scikit-learn)."""
    xs, ys = [], []
    for i in range(n):
        t = math.pi * rng.random()
        if i % 2:
            xs.append([math.cos(t) + rng.gauss(0, 0.1), math.sin(t) + rng.gauss(0, 0.1)]); ys.append(1)
        else:
            xs.append([1 - math.cos(t) + rng.gauss(0, 0.1), 0.5 - math.sin(t) + rng.gauss(0, 0.1)]); ys.append(-1)
    return xs, ys


def train_demo_loop(engine, nn, X, y, steps):
    """micrograd's demo.ipynb loop: max-margin loss, L2 regularisation, decaying learning rate."""
    random.seed(1337)
    model = nn.MLP(2, [8, 8, 1])
    out = []
    for k in range(steps):
        inputs = [list(map(engine.Value, xrow)) for xrow in X]
        scores = list(map(model, inputs))
        losses = [(1 + -yi*scorei).relu() for yi, scorei in zip(y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = 1e-4 * sum((p*p for p in model.parameters()))
        total_loss = data_loss + reg_loss
        accuracy = sum((yi > 0) == (s.data > 0) for yi, s in zip(y, scores)) / len(y)
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9*k/steps
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        out.append((total_loss.data, accuracy))
    return out, [p.data for p in model.parameters()]


@pytest.mark.slow
def test_a_seeded_micrograd_training_loop_gives_micrograds_losses(micrograd):
    X, y = moons(30, random.Random(0))
    theirs, their_params = train_demo_loop(micrograd.engine, micrograd.nn, X, y, 15)
    ours, our_params = train_demo_loop(micrograd_ws.micrograd.engine, micrograd_ws.micrograd.nn, X, y, 15)
    assert [a for _, a in ours] == [a for _, a in theirs]
    for (mine, _), (ref, _) in zip(ours, theirs):
        assert mine == pytest.approx(ref, rel=1e-12, abs=0)
    assert our_params == pytest.approx(their_params, rel=1e-9, abs=1e-12)
    assert ours[-1][0] < ours[0][0]


def test_the_top_level_mlp_keeps_the_handouts_initialisation():
    random.seed(1337)
    handout = MLP(2, [16, 16, 1])
    random.seed(1337)
    mg = micrograd_ws.micrograd.nn.MLP(2, [16, 16, 1])
    assert all(p.data == 0.0 for p in mg.parameters()[2::3][:16])  # micrograd's first-layer biases
    assert max(abs(p.data) for p in handout.parameters()[:48]) <= 1 / math.sqrt(2)
    assert isinstance(mg, MLP) and mg.layers[0].neurons[0].w[1].label == 'w1[0][1]'
    opt = SGD(mg.parameters(), lr=0.01)  # the whole micrograd_ws API works on micrograd's classes
    squared_error(mg([0.1, 0.2]), 1.0).backward()
    opt.step()


def test_micrograds_module_layout():
    from micrograd_ws.micrograd import draw_dot as dd, engine, nn

    assert engine.Value is Value and dd is draw_dot and nn.Module is micrograd_ws.Module
    assert {'Module', 'Neuron', 'Layer', 'MLP'} <= set(vars(nn))


def test_draw_dot_is_micrograds_picture_and_renders(dot):
    x = Value(1.0, label='x{1}|<a>')
    y = (x * 2 + 1).relu()
    y.backward()
    g = draw_dot(y)
    records = [line for line in g.body if 'shape=record' in line]
    ops = [line for line in g.body if '[label=' in line and 'shape=record' not in line]
    assert len(records) == 6 and len(ops) == 3  # x, 2, x·2, 1, +, relu; ops *, +, relu
    assert r'{ x\{1\}\|\<a\> | data 1.0000 | grad 2.0000 }' in g.source
    a = Value(3.0); b = a + a; b.backward()
    assert draw_dot(b).source.count('->') == 2  # a + a: one edge, as micrograd draws it
    svg = g.pipe(format='svg').decode()
    assert svg.count('data 1.0000') == 2 and 'grad 2.0000' in svg and '>relu<' in svg
    with pytest.raises(ValueError, match="rankdir is 'LR'"):
        draw_dot(y, rankdir='XX')
