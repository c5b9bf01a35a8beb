"""A neuron's parameters kept as float lists (stores.Store): the same numbers as Values one by one.

A net's weights are Values whose data and grad live in one list per neuron, so that the forward
pass, backward, zero_grad and SGD.step take a list at a time. Every test compares against the
same net whose parameters are plain Values (each neuron's weights replaced by fresh leaves with
the same numbers), which the engine reads one by one, or against the rules a Value promises.
"""
import copy
import math
import pickle
import random

import pytest

import micrograd_ws as mw
from micrograd_ws import SGD, MLP, Value, mean, squared_error, two_hidden_layers
from micrograd_ws.stores import Param as _Param


def plain_copy(net: MLP) -> MLP:
    """The same net with every weight and bias a plain Value (no store): the one-by-one path."""
    twin = copy.deepcopy(net)
    for layer in twin.layers:
        for n in layer.neurons:
            n.w = [Value(w.data, label=w.label) for w in n.w]
            n.b = Value(n.b.data, label=n.b.label)
    assert not any(isinstance(p, _Param) for p in twin.parameters())
    return twin


def half_dead_net() -> MLP:
    """The h = 6 net whose first layer gives H1 = 0.9, 0, 0.9, 0, 0.9, 0 at x = 0.9: the second
    layer's inputs alive and dead in turn."""
    net = two_hidden_layers(6, seed=3)
    for k, n in enumerate(net.layers[0].neurons):
        n.w[0].data, n.b.data = (1.0, -1.0)[k % 2], 0.0
    return net


def bits(net: MLP) -> list[tuple[str, str]]:
    return [(p.data.hex(), p.grad.hex()) for p in net.parameters()]


def samples(n: int, seed: int = 0) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [(x, math.sin(3 * x)) for x in (rng.uniform(-1, 1) for _ in range(n))]


def train(net: MLP, opt: SGD, data, loss=squared_error) -> list[float]:
    out = []
    for x, y in data:
        opt.zero_grad()
        C = loss(net(x), y)
        C.backward()
        opt.step()
        out.append(C.data)
    return out


def test_a_nets_parameters_live_in_one_store_per_neuron():
    net = two_hidden_layers(5, seed=0)
    for layer in net.layers:
        for n in layer.neurons:
            assert all(type(p) is _Param for p in (*n.w, n.b))
            assert {id(p._store) for p in (*n.w, n.b)} == {id(n.b._store)}
            assert n.b._store.data == [p.data for p in (*n.w, n.b)]


@pytest.mark.parametrize("hidden", [1, 7, 30, 100])
def test_training_with_stores_is_bit_identical_to_training_plain_values(hidden):
    net = two_hidden_layers(hidden, seed=hidden)
    twin = plain_copy(net)
    data = samples(60, seed=hidden)
    assert train(net, SGD(net.parameters(), lr=0.05), data) == train(twin, SGD(twin.parameters(), lr=0.05), data)
    assert bits(net) == bits(twin)


def test_batches_an_l2_term_and_earlier_gradients_match_plain_values():
    net = two_hidden_layers(9, seed=3)
    twin = plain_copy(net)
    rng = random.Random(1)
    for p, q in zip(net.parameters(), twin.parameters()):
        p.grad = q.grad = rng.choice([0.0, rng.uniform(-1, 1)])  # some gradients already there

    def loss(model):
        C = mean([squared_error(model(x), y) for x, y in samples(3, seed=5)])
        return C + 1e-2 * sum(p * p for p in model.parameters())

    for model in (net, twin):
        loss(model).backward()
        loss(model).backward()  # twice: added onto the first pass
        SGD(model.parameters(), lr=0.1).step()
    assert bits(net) == bits(twin)


def test_a_partial_or_repeated_parameter_list_matches_plain_values():
    net = two_hidden_layers(6, seed=4)
    twin = plain_copy(net)
    for model in (net, twin):
        ps = model.parameters()
        frozen = {id(p) for p in model.layers[0].neurons[2].w} | {id(model.layers[1].neurons[0].b)}
        chosen = [p for p in ps if id(p) not in frozen] + ps[:3]  # some left out, three twice
        train(model, SGD(chosen, lr=0.05), samples(30, seed=2))
    assert bits(net) == bits(twin)
    assert net.layers[0].neurons[2].w[0].data == two_hidden_layers(6, seed=4).layers[0].neurons[2].w[0].data


def test_changing_sgd_params_after_a_step_is_followed():
    net = two_hidden_layers(4, seed=0)
    opt = SGD(net.parameters(), lr=0.1)
    train(net, opt, samples(3))
    layer1 = {id(p) for p in net.layers[0].parameters()}
    opt.params[:] = [p for p in opt.params if id(p) not in layer1]  # freeze the first layer
    before = [p.data for p in net.layers[0].parameters()]
    train(net, opt, samples(5, seed=1))
    assert [p.data for p in net.layers[0].parameters()] == before
    opt.params = net.parameters()  # and thaw it
    train(net, opt, samples(5, seed=2))
    assert [p.data for p in net.layers[0].parameters()] != before


def test_a_node_keeps_the_weights_of_its_forward_pass():
    # ∂z/∂x_k = w_k as it was when z was made, whatever happens to w before backward
    net = two_hidden_layers(3, seed=1)
    neuron = net.layers[1].neurons[0]
    for change in ("by hand", "by SGD", "by loading"):
        xs = [Value(0.5), Value(1.0), Value(-2.0)]
        z = neuron(xs).parents[0]  # the pre-activation w·x + b, before the ReLU
        weights = [w.data for w in neuron.w]
        if change == "by hand":
            neuron.w[1].data = 42.0
        elif change == "by SGD":
            for w in neuron.w:
                w.grad = 3.0
            SGD(neuron.parameters(), lr=1.0).step()
        else:
            net.load_state_dict(two_hidden_layers(3, seed=9).state_dict())
        assert [w.data for w in neuron.w] != weights
        z.backward()
        assert [x.grad for x in xs] == weights, change
        assert z.local_grads == (0.5, 1.0, -2.0, *weights, 1.0)


def test_grads_set_by_hand_are_stepped_zeroed_and_added_to():
    net = two_hidden_layers(3, seed=2)
    opt = SGD(net.parameters(), lr=0.5)
    w = net.layers[1].neurons[1].w[2]
    w.grad = 2.0
    start = w.data
    opt.step()
    assert w.data == start - 0.5 * 2.0
    C = squared_error(net(0.7), 1.0)
    opt.zero_grad()
    assert all(p.grad == 0.0 for p in net.parameters())
    w.grad = 1.5
    C.backward()
    once = w.grad - 1.5
    C.backward()
    assert w.grad == pytest.approx(1.5 + 2 * once, rel=1e-15, abs=1e-300)
    net.zero_grad()
    assert all(p.grad == 0.0 for p in net.parameters())


def test_micrograds_update_loop_equals_sgd_step():
    net = two_hidden_layers(8, seed=5)
    twin = copy.deepcopy(net)
    for model in (net, twin):
        squared_error(model(0.3), -0.4).backward()
    SGD(net.parameters(), lr=0.01).step()
    for p in twin.parameters():  # the lecture's loop, one Value at a time
        p.data -= 0.01 * p.grad
    assert [p.data for p in net.parameters()] == [p.data for p in twin.parameters()]


@pytest.mark.parametrize("clone", [copy.deepcopy, lambda net: pickle.loads(pickle.dumps(net))])
def test_a_copied_net_has_stores_of_its_own(clone):
    net = two_hidden_layers(4, seed=6)
    squared_error(net(0.2), 1.0).backward()
    twin = clone(net)
    assert bits(twin) == bits(net)
    assert all(type(p) is _Param for p in twin.parameters())
    train(twin, SGD(twin.parameters(), lr=0.1), samples(5))
    assert bits(twin) != bits(net)
    assert [p.data for p in net.parameters()] == [p.data for p in clone(net).parameters()]
    n = twin.layers[1].neurons[0]
    assert n.b._store is n.w[0]._store and n.b._store is not net.layers[1].neurons[0].b._store


def test_an_overflowing_pass_leaves_every_store_as_it_was():
    net = two_hidden_layers(4, seed=0)
    rng = random.Random(0)
    for p in net.parameters():
        p.grad = rng.choice([0.0, rng.uniform(-1, 1)])
    w = net.layers[1].neurons[2].w[1]
    w.data = 1e-10
    grads = [p.grad.hex() for p in net.parameters()]
    loss = squared_error(net(0.5), 0.0) + (w * 1e300) * 1e10  # finite, but ∂loss/∂w = 1e310
    with pytest.raises(OverflowError, match="overflow"):
        loss.backward()
    assert [p.grad.hex() for p in net.parameters()] == grads


def test_a_replaced_weight_takes_the_one_by_one_path_with_the_same_numbers():
    net = two_hidden_layers(5, seed=7)
    twin = plain_copy(net)
    for model in (net, twin):
        n = model.layers[1].neurons[2]
        n.w[3] = Value(n.w[3].data, label=n.w[3].label)  # net: this neuron leaves its store
    data = samples(20, seed=4)
    assert train(net, SGD(net.parameters(), lr=0.05), data) == train(twin, SGD(twin.parameters(), lr=0.05), data)
    assert bits(net) == bits(twin)


@pytest.mark.parametrize("earlier", [-0.0, 0, "create_graph"])
def test_a_pass_reaching_some_of_a_stores_parameters_leaves_the_others_as_they_were(earlier):
    # the L2 term reaches two of a dead neuron's parameters, so its store is set aside; the
    # grads the pass never reached keep their type and sign (-0.0, an int, a create_graph float)
    net = two_hidden_layers(3, seed=0)
    twin = plain_copy(net)
    for model in (net, twin):
        if earlier == "create_graph":
            squared_error(model(0.4), 0.2).backward(create_graph=True)
        else:
            for p in model.parameters():
                p.grad = earlier
        n = model.layers[0].neurons[1]
        n.b.data = -5.0  # dead for x = 0.5: z < 0
        C = squared_error(model(0.5), 0.3) + n.w[0] * n.w[0] + 2.0 * model.layers[1].neurons[0].b
        C.backward()
    assert [(repr(p.grad), type(p.grad)) for p in net.parameters()] == \
        [(repr(p.grad), type(p.grad)) for p in twin.parameters()]
    assert [p.grad_value is None for p in net.parameters()] == [p.grad_value is None for p in twin.parameters()]


def test_sgd_step_moves_and_refuses_what_one_by_one_moves_and_refuses():
    net = two_hidden_layers(3, seed=1)
    twin = plain_copy(net)
    outcomes = []
    for model in (net, twin):
        n = model.layers[1].neurons[2]
        n.w[0] = Value(n.w[0].data, label=n.w[0].label)  # a loose parameter after two stores' in the list
        ps = model.parameters()
        for p in ps:
            p.grad = 0.5
        ps[0].data, ps[0].grad = -0.0, -0.0  # not moved: -0.0 stays -0.0
        ps[1].data, ps[1].grad = 3, 0  # not moved: stays the int it is
        ps[2].data, ps[2].grad = float("nan"), 0.0  # not moved, so not refused
        opt = SGD(ps, lr=0.1)
        opt.step()
        outcomes.append([(repr(p.data), type(p.data)) for p in ps])
        for p in ps[4:]:
            p.grad = 1e308  # every one would overflow: the first in the list is named
        with pytest.raises(OverflowError) as e:
            SGD(ps, lr=1e10).step()
        outcomes.append(str(e.value))
    assert outcomes[:2] == outcomes[2:]


def test_a_non_finite_gradient_is_named_as_one_by_one_names_it():
    # ∂C/∂w = 1e200·x and ∂C/∂x = 1e200·w both overflow: the first leaf the pass reached is named
    messages = []
    for model in (lambda net: net, plain_copy):
        net = model(MLP(1, [1], seed=0))
        w, b = net.layers[0].neurons[0].w[0], net.layers[0].neurons[0].b
        w.data, b.data = 1e150, -(1e150 * 1e150)  # O = 0
        x = Value(1e150, label="x")
        with pytest.raises(OverflowError) as e:
            (net([x]) * 1e200).backward()
        messages.append(str(e.value))
    assert messages[0] == messages[1]
    assert "∂/∂w1 = inf" in messages[0]


@pytest.mark.parametrize("clone", [copy.deepcopy, lambda x: pickle.loads(pickle.dumps(x))])
def test_a_copied_nets_parameters_keep_their_order(clone):
    # a copy's Values are numbered afresh as they are restored: the weights, then the bias, as made
    net = two_hidden_layers(3, seed=2)
    orders = [[v.label or v.op for v in mw.topological_order(squared_error(model(0.5), 1.0))]
              for model in (clone(net), clone(plain_copy(net)))]
    assert orders[0] == orders[1]
    # grads that are graphs holding the parameters themselves (create_graph) are copied too
    squared_error(net(0.3), 0.1).backward(create_graph=True)
    twin = clone(net)
    assert bits(twin) == bits(net)
    b = twin.layers[2].neurons[0].b
    assert b.grad_value.data == b.grad and b in mw.topological_order(twin.layers[2].neurons[0].w[0].grad_value)
    assert all(p._store.params[p._k] is p for p in twin.parameters())


def test_copy_copy_of_a_parameter_is_a_value_of_its_own():
    net = two_hidden_layers(2, seed=0)
    p = net.layers[1].neurons[0].w[1]
    p.grad, p.color = 2.0, "red"
    q = copy.copy(p)
    assert (q.data, q.grad, q.label, vars(q)) == (p.data, 2.0, p.label, {"color": "red"})
    q.data, q.grad = 5.0, 0.0
    assert (p.data, p.grad) != (5.0, 0.0) and q.data == 5.0
    assert [x.data for x in net.layers[1].neurons[0].w] == net.layers[1].neurons[0].b._store.data[:-1]


def test_a_parameters_type_makes_values_as_value_does():
    p = two_hidden_layers(2, seed=0).layers[0].neurons[1].b
    v = type(p)(2.0, label="v")
    assert (v.data, v.grad, v.label, v.parents) == (2.0, 0.0, "v", ())
    v.data = 3.0
    assert p.data != 3.0


def test_zero_grad_resets_what_parameters_lists_in_a_subclass():
    class Scaled(MLP):  # one more parameter
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.scale = Value(1.0, label="scale")

        def named_parameters(self):
            return [*super().named_parameters(), ("scale", self.scale)]

    class FirstFrozen(mw.nn.Layer):  # a layer whose first neuron is not trained
        def named_parameters(self):
            return super().named_parameters()[len(self.neurons[0].w) + 1:]

    net = Scaled(1, [3, 1], seed=0)
    net.layers[0].__class__ = FirstFrozen
    for p in (*net.parameters(), *net.layers[0].neurons[0].parameters()):
        p.grad = 2.0
    net.zero_grad()
    assert net.scale.grad == 0.0 and all(p.grad == 0.0 for p in net.parameters())
    assert [p.grad for p in net.layers[0].neurons[0].parameters()] == [2.0, 2.0]


@pytest.mark.parametrize("hidden", [3, 20])
def test_compiled_steps_on_stores_match_eager_steps_on_plain_values(hidden):
    # compile reads and writes a neuron's store as lists: the same numbers as eager one by one
    net = two_hidden_layers(hidden, seed=hidden)
    twin = plain_copy(net)
    data = samples(40, seed=7)
    want = train(twin, SGD(twin.parameters(), lr=0.05), data[:20])
    step = mw.compile(lambda x, y: squared_error(net(x), y), optimizer=SGD(net.parameters(), lr=0.05))
    assert [step(x, y) for x, y in data[:10]] + step.run(data[10:20]) == want
    assert [p.data.hex() for p in net.parameters()] == [p.data.hex() for p in twin.parameters()]
    loss = mw.compile(lambda x, y: squared_error(net(x), y))
    for model in (net, twin):
        model.zero_grad()
    for x, y in data[20:]:  # unfused: grads accumulated over the samples, through the stores' lists
        loss(x, y).backward()
        squared_error(twin(x), y).backward()
    assert bits(net) == bits(twin)


def _node_bits(root: Value) -> list[str]:
    return [v.data.hex() for v in mw.topological_order(root)]


@pytest.mark.parametrize("seed", range(12))
def test_a_forward_pass_that_leaves_out_dead_inputs_gives_every_number_to_the_bit(seed):
    # neuron_sums adds only the live inputs' w·x once it knows every weight is finite; its sums
    # must be those of every term (the one-by-one path), signed zeros, underflows and biases of
    # ±0.0 included, through several SGD steps
    rng = random.Random(seed)
    net = two_hidden_layers(6, seed=seed)
    odd = [-0.0, 0.0, 1e-300, -1e-300, 5e-324, -5e-324]
    for layer in net.layers[1:]:
        for n in layer.neurons:
            for w in n.w:
                if rng.random() < 0.4:
                    w.data = rng.choice(odd)
            n.b.data = rng.choice([-0.0, 0.0, 1e-300, -1e-300, rng.uniform(-1, 1), -2.0])  # -2: dead neurons
    twin = plain_copy(net)
    opt, opt2 = SGD(net.parameters(), lr=0.05), SGD(twin.parameters(), lr=0.05)
    for _ in range(4):
        x, y = rng.choice([-1e-300, 0.7, -1.3, 2.0]), rng.uniform(-1, 1)
        for model, o in ((net, opt), (twin, opt2)):
            o.zero_grad()
            model.C = squared_error(model(x), y)
            model.C.backward()
        assert _node_bits(net.C) == _node_bits(twin.C)
        assert bits(net) == bits(twin)
        opt.step(), opt2.step()
        assert bits(net) == bits(twin)


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_a_non_finite_weight_behind_a_dead_input_is_still_refused(bad):
    # the same error as ever, though the forward pass leaves out the terms of dead inputs
    net = half_dead_net()  # H1 = 0.9, 0, 0.9, 0, 0.9, 0 at x = 0.9
    x = 0.9
    h1 = [h.data for h in net.layers[0](x)]
    assert h1 == [0.9, 0.0] * 3
    squared_error(net(x), 0.0).backward()  # a first pass: the stores know their weights finite
    k = h1.index(0.0)
    twin = plain_copy(net)
    for model in (net, twin):
        model.layers[1].neurons[0].w[k].data = bad
    with pytest.raises(ValueError, match=f"w2\\[0\\]\\[{k}\\]=-?(inf|nan) is not finite"):
        net(x)
    with pytest.raises(ValueError) as plain:
        twin(x)
    with pytest.raises(ValueError) as stored:
        net(x)
    assert str(stored.value) == str(plain.value)


def test_a_sum_that_starts_from_a_bias_of_minus_zero_keeps_every_term():
    # -0.0 + (-0.0) is -0.0, but adding a dead input's +0.0 makes it +0.0: with a bias of -0.0
    # leaving the dead inputs' terms out would change the sign of z, so every term is added
    net = half_dead_net()  # H1 = 0.9, 0, 0.9, 0, 0.9, 0 at x = 0.9
    neuron = net.layers[1].neurons[0]
    for k, w in enumerate(neuron.w):
        w.data = -0.0 if k % 2 == 0 else 1.0  # -0.0 · 0.9 is -0.0; 1.0 · 0 is +0.0
    neuron.b.data = -0.0
    twin = plain_copy(net)
    for _ in range(2):  # the second pass: the stores know their weights finite
        z, z_plain = (model.layers[1](model.layers[0](0.9))[0].parents[0] for model in (net, twin))
        assert z.data.hex() == z_plain.data.hex() == "0x0.0p+0"


def test_a_shallow_copy_of_a_store_does_not_change_the_original():
    # copy.copy hands the copy the very list of numbers: the copy's first change copies it
    net = MLP(3, [1], seed=0)
    opt = SGD(net.parameters(), lr=0.1)
    n = net.layers[0].neurons[0]
    squared_error(net([1.0, 0.0, 2.0]), 0.0).backward()
    opt.step()  # a new list, not shared
    assert not n.b._store.shared
    before = plain_copy(net)([1.0, 0.0, 2.0]).data
    twin = copy.copy(n.b._store)
    twin.params[1].data = math.inf
    assert n.w[1].data != math.inf and net([1.0, 0.0, 2.0]).data == before


def test_a_weight_replaced_by_a_number_is_refused_at_every_forward_pass():
    net = two_hidden_layers(3, seed=0)
    net(0.5)
    neuron = net.layers[1].neurons[0]
    neuron.w[0] = 0.5  # meant: neuron.w[0].data = 0.5
    for _ in range(2):
        with pytest.raises(TypeError, match=r"w\[0\] is a float, not a Value; set a number with neuron\.w\[0\]\.data = 0\.5"):
            net(0.5)
    neuron.w[0] = Value(0.5)
    assert net(0.5).data == plain_copy(net)(0.5).data


def test_grads_a_pass_leaves_unwritten_are_read_stepped_and_refused_as_written():
    # a pass from zeros leaves a store's grads as (g, inputs) until read (stores.Store.pending):
    # a net whose grads are read before each step, one never read and a plain one move alike
    nets = [two_hidden_layers(6, seed=3) for _ in range(2)]
    for net in nets:  # (a weight of -0.0 behind a dead input stays -0.0: SGD skips those inputs)
        for n in net.layers[1].neurons:
            n.w[0].data = n.w[3].data = -0.0
    nets.append(plain_copy(nets[0]))
    data = [(x, y) for x, y in samples(12, seed=2)] + [(0.0, 0.5), (-0.0, -0.5), (1e-160, 1.0), (3.0, -2.0)]
    for k, net in enumerate(nets):
        opt = SGD(net.parameters(), lr=0.05)
        for x, y in data:
            opt.zero_grad()
            squared_error(net(x), y).backward()
            if k == 0:
                [p.grad for p in net.parameters()]
            opt.step()
            opt.step()  # (twice: the same grads again)
    assert bits(nets[0]) == bits(nets[1]) == bits(nets[2])
    for model in (lambda net: net, plain_copy):  # g < 0 at a dead input: g·0 = -0.0, and -0.0 - lr·-0.0 would be 0.0
        net = model(MLP(2, [1], seed=0))
        net.layers[0].neurons[0].w[0].data = -0.0
        opt = SGD(net.parameters(), lr=0.01)
        (net([0.0, 1.0]) * -1.0).backward()
        opt.step()
        assert repr(net.layers[0].neurons[0].w[0].data) == "-0.0"

    # g finite, g·x not: refused, naming the weight, every grad as it was
    messages = []
    for model in (lambda net: net, plain_copy):
        net = model(MLP(1, [1, 1], seed=0))
        (w1,), (w2,) = net.layers[0].neurons[0].w, net.layers[1].neurons[0].w
        w1.data, net.layers[0].neurons[0].b.data, w2.data = 1.0, 0.0, 1e-200  # H1 = x, ∂C/∂H1 = g·1e-200
        with pytest.raises(OverflowError) as e:
            (net(1e200) * 1e200).backward()  # ∂/∂w2 = 1e200 · 1e200
        messages.append(str(e.value))
        assert [p.grad for p in net.parameters()] == [0.0] * 4
    assert messages[0] == messages[1] and "w2 = inf" in messages[0]


def test_an_overflow_of_earlier_grads_is_named_as_one_by_one_names_it():
    # w1 and the input leaf x both overflow when this pass's grad is added to their earlier one:
    # the first the pass reached is named (w1, before x and b1 in w·x+b), as for plain Values
    messages = []
    for model in (lambda net: net, plain_copy):
        net = model(MLP(1, [1], seed=0))
        n = net.layers[0].neurons[0]
        n.w[0].data, n.b.data = 1.0, 0.0
        x = Value(1.0, label="x")
        n.w[0].grad, x.grad = 1e308, 1e308
        with pytest.raises(OverflowError) as e:
            (net([x]) * 1e308).backward()
        messages.append(str(e.value))
        assert (n.w[0].grad, x.grad, n.b.grad) == (1e308, 1e308, 0.0)
    assert messages[0] == messages[1] and messages[0].startswith("backward: w1.grad = 1e+308")
    # large earlier grads whose sum overflows, none alone: no error
    net = MLP(1, [2], seed=0)
    for p in net.parameters():
        p.grad = 1e308
    (sum(net(1.0)) * 1e-300).backward()
    assert all(math.isfinite(p.grad) for p in net.parameters())


def test_reading_grads_changes_nothing_so_a_reading_thread_cannot_undo_a_pass():
    # a read that wrote the pending grads as a list could, paused by a thread switch, put that
    # list back over a later pass's grads: so a read of p.grad, of the store's list, a pickle or
    # a state_dict leaves the store exactly as it was
    net = two_hidden_layers(3, seed=0)
    squared_error(net(0.3), 0.2).backward()
    store = net.layers[1].neurons[0].b._store
    state = (store.grads, store.pending)
    assert store.pending is not None
    seen = [p.grad for p in net.parameters()], list(store.grad), pickle.dumps(net), net.state_dict()
    assert (store.grads, store.pending) == state and store.grads is state[0] and store.pending is state[1]
    twin = plain_copy(net)
    squared_error(twin(0.3), 0.2).backward()
    assert seen[0] == [p.grad for p in twin.parameters()]


def test_an_inf_set_by_hand_on_an_entry_the_pass_never_reaches_is_left_as_plain_values_leave_it():
    results = []
    for model in (lambda net: net, plain_copy):
        net = model(MLP(1, [2, 1], seed=0))
        n = net.layers[0].neurons[0]
        n.w[0].data, n.b.data = -1.0, -1.0  # dead for x > 0: the pass reaches w[0] only, through the L2 term
        n.b.grad = float("inf")
        (squared_error(net(0.5), 0.3) + n.w[0] * n.w[0]).backward()
        results.append([repr(p.grad) for p in net.parameters()])
    assert results[0] == results[1] and results[0][1] == "inf"


@pytest.mark.parametrize("model", ["stores", "plain"])
def test_a_pass_that_reaches_leaves_a_paused_stepped_pass_holds_is_refused_and_changes_nothing(model):
    # the two passes would each keep the leaves aside and undo each other's sums (once silently wrong
    # grads, for plain Values too): the second is refused until the first is finished or closed
    net = two_hidden_layers(3, seed=1)
    if model == "plain":
        net = plain_copy(net)
    for k, p in enumerate(net.parameters()):
        p.grad = 0.1 * k
    reference = copy.deepcopy(net)
    steps = squared_error(net(0.5), 0.2).backward_steps()
    next(steps)
    held = [p.grad for p in net.parameters()]
    with pytest.raises(RuntimeError, match=r"held by a backward_steps\(\) pass paused half-way.*steps.close\(\)"):
        squared_error(net(-0.3), 0.1).backward()
    assert [p.grad for p in net.parameters()] == held
    for _ in steps:
        pass
    squared_error(net(-0.3), 0.1).backward()
    squared_error(reference(0.5), 0.2).backward()
    squared_error(reference(-0.3), 0.1).backward()
    assert bits(net) == bits(reference)


@pytest.mark.parametrize("model", ["stores", "plain"])
@pytest.mark.parametrize("again", ["C", "O", "C, create_graph"])
def test_a_pass_over_the_very_graph_a_stepped_pass_is_paused_in_is_refused_before_it_changes_a_node(model, again):
    # found by review: C.backward() while C.backward_steps() was paused was refused only when it reached
    # a leaf, after it had set every node's grad to 0; the paused pass, finished as the message says,
    # then gave 0 to w1, b1, w2 and b2, silently
    net = two_hidden_layers(2, seed=0)
    if model == "plain":
        net = plain_copy(net)
    reference = copy.deepcopy(net)
    squared_error(reference(0.5), 1.0).backward()
    O = net(0.5)
    C = squared_error(O, 1.0)
    steps = C.backward_steps()
    shown = [next(steps) for _ in range(3)]
    nodes = [(v, v.grad) for v in mw.topological_order(C) if v.parents]
    with pytest.raises(RuntimeError, match=r"held by a backward_steps\(\) pass paused half-way.*steps.close\(\)"):
        {"C": lambda: C.backward(), "O": lambda: O.backward(),
         "C, create_graph": lambda: C.backward(create_graph=True)}[again]()
    assert [(v, v.grad) for v in mw.topological_order(C) if v.parents] == nodes
    for step in steps:
        shown.append(step)
    assert bits(net) == bits(reference) and len(shown) == len(nodes)
    C.backward()  # once the paused pass has ended, nothing is held
    squared_error(reference(0.5), 1.0).backward()
    assert bits(net) == bits(reference)


_OVERFLOWING = [0.5261835551682854, -0.4279095423370256, -0.21427516210875702, -0.05160223443965528,
                0.6352208290876742, 1e308, -0.5070331193328776, -0.5007546384710998, -0.2285679306456423,
                0.2813649980721692, -0.4616420128307441, -0.46460985417042955, 0.2896655043763431,
                0.015282981944147789, 0.007987402553386924, -0.5718248037141874, -0.1311658324631219,
                -0.22349504860415442, -0.36471181783699086, 0.0998435755002719, 0.3489381047137156,
                1e308, 1e-300, 1e-300, 1e-300]  # MLP(2, [3, 3, 1]): b1[1] and w3[0] 1e308, w3[1:] and b3 1e-300


@pytest.mark.parametrize("trial", range(6))
def test_micrograds_node_backward_names_the_overflow_plain_values_name(trial):
    # found by review: node._backward() of a store's w·x+b kept its inputs (nodes) aside before
    # its weights (in the store), so an overflow named an input where plain Values name a weight
    rng = random.Random(trial)
    net = MLP(2, [3, 3, 1], seed=0)
    for p, v in zip(net.parameters(), _OVERFLOWING):
        p.data = v
    twin = plain_copy(net)
    x, y = [rng.uniform(-1, 1), rng.uniform(-1, 1)], rng.uniform(-1, 1)
    messages = []
    for model in (twin, net):
        C = squared_error(model(x), y)
        topo = mw.topological_order(C)
        C.grad = 1.0
        with pytest.raises(OverflowError) as e:
            for v in reversed(topo):
                v._backward()
        messages.append(str(e.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("loose", [False, True], ids=["lists", "loose"])
def test_an_overflow_of_the_live_terms_shows_the_number_every_term_gives(loose):
    # the forward pass adds only the live inputs' terms once the weights are known finite; when
    # those overflow, the error shows the same inf as plain Values' sum of every term
    net = half_dead_net()  # H1 = 0.9, 0, 0.9, 0, 0.9, 0 at x = 0.9
    twin = plain_copy(net)
    if loose:
        for _ in range(3):
            for p in net.parameters():
                p.grad = 0.0
    for _ in range(2):  # the second pass: the weights known finite
        squared_error(net(0.9), 0.0).backward()
    assert all(n.b._store.loose == loose for layer in net.layers for n in layer.neurons)
    errors = []
    for model in (twin, net):
        neuron = model.layers[1].neurons[0]
        neuron.w[0].data = neuron.w[2].data = 1e308  # both live: 1e308·0.9 twice overflows
        with pytest.raises(OverflowError) as e:
            model(0.9)
        errors.append(str(e.value))
    assert errors[0] == errors[1] and "= inf" in errors[0]
