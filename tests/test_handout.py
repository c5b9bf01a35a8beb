"""The engine against the handout's closed-form gradients, for every parameter."""
import random

import pytest

from micrograd_ws import SGD, squared_error, two_hidden_layers, two_neuron
from micrograd_ws.handout import ALPHA, MLPParams, mlp_forward, mlp_gradients, sgd_update, two_neuron_gradients


def rel_close(a: float, b: float, rel: float = 1e-9) -> bool:
    return abs(a - b) <= rel * max(abs(a), abs(b)) or abs(a - b) <= 1e-300


@pytest.mark.parametrize("seed, i, O_des", [(0, 0.5, 1.0), (1, -2.0, 0.3), (2, 3.7, -5.0), (3, 0.0, 2.0)])
def test_two_neuron_model_matches_the_handout(seed, i, O_des):
    model = two_neuron(seed=seed)
    O = model(i)
    C = squared_error(O, O_des)
    C.backward()
    w1, b1 = model.layers[0].neurons[0].w[0], model.layers[0].neurons[0].b
    expected = two_neuron_gradients(w1.data, b1.data, i, O_des)
    assert O.data == w1.data * i + b1.data
    assert rel_close(w1.grad, expected["w1"]) and rel_close(b1.grad, expected["b1"])
    # ③ the update: w1 = w1 - α ∂C/∂w1
    before = w1.data
    SGD(model.parameters(), lr=ALPHA).step()
    assert w1.data == sgd_update(before, w1.grad)


def _check_mlp(net, i, O_des):
    O = net(i)
    C = squared_error(O, O_des)
    C.backward()
    p = MLPParams.from_state_dict(net.state_dict())
    f = mlp_forward(p, i)
    assert rel_close(O.data, f.O)
    expected = mlp_gradients(p, i, O_des)
    params = dict(net.named_parameters())
    assert set(params) == set(expected)
    bad = [(n, params[n].grad, g) for n, g in expected.items() if not rel_close(params[n].grad, g)]
    assert not bad, bad[:5]
    return f


@pytest.mark.parametrize("hidden, seed, i, O_des", [(100, 0, 0.5, 1.0), (100, 7, -1.3, -0.4),
                                                    (3, 1, 2.0, 10.0), (17, 2, 0.0, 1.0), (8, 5, -4.0, 0.0)])
def test_two_hidden_layer_net_matches_the_handout(hidden, seed, i, O_des):
    f = _check_mlp(two_hidden_layers(hidden, seed=seed), i, O_des)
    if hidden == 100:  # the handout's size exercises both branches of ∂H/∂z
        assert 0 < sum(h == 0 for h in f.H1 + f.H2) < 2 * hidden


def test_dead_relus_and_a_relu_exactly_at_zero():
    net = two_hidden_layers(6, seed=3)
    first = net.layers[0].neurons
    first[0].b.data = -first[0].w[0].data * 0.5  # z1[0] = 0 exactly at i = 0.5: derivative 0
    for n in first[1:3]:  # dead for every positive input
        n.w[0].data, n.b.data = -1.0, -0.1
    net.layers[1].neurons[2].b.data = -100.0  # a dead second-layer neuron
    f = _check_mlp(net, 0.5, 2.0)
    assert f.z1[0] == 0.0 and f.H1[1] == f.H1[2] == 0.0 and f.H2[2] == 0.0


def test_random_initialisations_match_the_handout():
    rng = random.Random(42)
    for _ in range(5):
        net = two_hidden_layers(rng.randint(2, 12), seed=rng.randint(0, 10**6))
        for p in net.parameters():
            p.data = rng.uniform(-2, 2)
        _check_mlp(net, rng.uniform(-3, 3), rng.uniform(-3, 3))


def test_the_handouts_settings_are_the_defaults():
    import argparse
    import inspect

    from micrograd_ws import train as training
    from micrograd_ws.commands import train as train_command
    from micrograd_ws.handout import HIDDEN, TRAINING_ITERS

    assert (ALPHA, TRAINING_ITERS, HIDDEN) == (0.01, (100, 500, 1000, 5000), 100)  # the handout's numbers
    assert inspect.signature(two_hidden_layers).parameters["hidden"].default == HIDDEN
    defaults = inspect.signature(training.train).parameters
    assert defaults["iters"].default == TRAINING_ITERS and defaults["lr"].default == ALPHA
    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    args = parser.parse_args([])
    assert args.iters == list(TRAINING_ITERS) and args.lr == ALPHA and args.hidden is None  # None: HIDDEN
    assert sgd_update(1.0, 2.0) == 1.0 - 0.01 * 2.0


def test_the_reference_page_links_functions_and_tests_that_exist():
    """docs/handout.md: every linked function is in micrograd_ws.handout, every linked test exists."""
    import re
    from pathlib import Path

    from micrograd_ws import handout

    root = Path(__file__).resolve().parents[1]
    page = (root / "docs" / "handout.md").read_text(encoding="utf-8")
    links = re.findall(r"\[`(\w+)`\]\(\.\./([\w/]+\.py)\)", page)
    assert len(links) > 20
    for name, path in links:
        source = (root / path).read_text(encoding="utf-8")
        if path == "micrograd_ws/handout.py":
            assert name in handout.__all__ and hasattr(handout, name), name
        else:
            assert re.search(rf"^def {name}\(", source, re.M), (name, path)
    linked = {name for name, _ in links}
    assert {"two_neuron_forward", "two_neuron_gradients", "mlp_forward", "mlp_gradients", "sgd_update",
            "ALPHA", "TRAINING_ITERS", "HIDDEN"} <= linked
