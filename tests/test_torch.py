"""PyTorch as the oracle (random expressions and random nets, float64, to 1e-9) and the
MLP <-> nn.Module conversion.  Tests taking the ``torch`` fixture skip without torch
locally and fail in CI."""
import re
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from micrograd_ws import SGD, MLP, Value, squared_error, two_hidden_layers
from micrograd_ws.testing import OPS, MLPCase, expressions, mlps
from micrograd_ws.torch_interop import from_torch, to_torch

ROOT = Path(__file__).resolve().parents[1]
TOL = 1e-9

# The torch fixture returns the module itself, so sharing it across examples is safe.
fixture_ok = settings(suppress_health_check=[*settings().suppress_health_check, HealthCheck.function_scoped_fixture])


def close(ours: float, theirs: float) -> bool:
    return abs(ours - theirs) <= TOL * max(1.0, abs(theirs))


def torch_ops(torch):
    """Each op of OPS written independently in torch."""
    return {
        "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b,
        "**2": lambda a: a * a, "**3": lambda a: a * a * a, "**0.5": torch.sqrt, "**-1": torch.reciprocal,
        "**v": torch.pow, "neg": torch.neg, "relu": torch.relu, "square": torch.square, "exp": torch.exp,
        "log": torch.log, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
        "wsum": lambda a, b, c: a * b + b * c + c,          # weighted_sum([a, b], [b, c], c)
        "sqerr": lambda a, b: (a - b) ** 2,                  # squared_error(a, b)
    }


def test_every_op_has_a_torch_counterpart(torch):
    assert set(torch_ops(torch)) == set(OPS)


@fixture_ok
@given(expressions())
def test_random_expressions_match_torch(torch, expr):
    ours = [Value(x) for x in expr.inputs]
    out = expr(*ours)
    out.backward()
    theirs = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in expr.inputs]
    ref = expr(*theirs, ops=torch_ops(torch))
    if ref.requires_grad:  # False when the result does not depend on any input
        ref.backward()
    assert close(out.data, ref.item()), str(expr)
    for v, t in zip(ours, theirs):
        g = t.grad.item() if t.grad is not None else 0.0
        assert close(v.grad, g), f"{expr}: {v.grad} vs torch {g}"


def grads_by_layer(model):
    """Our parameter gradients in state-dict layout: w{l} [nout][nin], b{l} [nout]."""
    out = {}
    for layer in model.layers:
        out[f"w{layer.index}"] = [[w.grad for w in n.w] for n in layer.neurons]
        out[f"b{layer.index}"] = [n.b.grad for n in layer.neurons]
    return out


def torch_grads_by_layer(module, n_layers):
    out = {}
    for l in range(1, n_layers + 1):
        linear = getattr(module, f"layer{l}")
        out[f"w{l}"], out[f"b{l}"] = linear.weight.grad.tolist(), linear.bias.grad.tolist()
    return out


def assert_nested_close(ours, theirs, what):
    if isinstance(ours, dict):
        assert ours.keys() == theirs.keys(), what
        for key in ours:
            assert_nested_close(ours[key], theirs[key], key)
    elif isinstance(ours, list):
        assert len(ours) == len(theirs), what
        for k, (a, b) in enumerate(zip(ours, theirs)):
            assert_nested_close(a, b, f"{what}[{k}]")
    else:
        assert close(ours, theirs), f"{what}: {ours} vs torch {theirs}"


@fixture_ok
@given(mlps(kink_margin=0.0))  # kinks included: both sides use ∂H/∂z = 0 at z = 0
def test_random_nets_match_torch(torch, case):
    model = case.model
    module = to_torch(model)
    xs = [[Value(x) for x in sample] for sample in case.inputs]  # leaves, for ∂C/∂input too
    loss = MLPCase(model, xs, case.targets).loss()
    loss.backward()
    X = torch.tensor(case.inputs, dtype=torch.float64, requires_grad=True)
    Y = torch.tensor(case.targets, dtype=torch.float64).reshape(len(case.inputs), -1)
    O = module(X)
    ref = torch.nn.functional.mse_loss(O, Y)
    ref.backward()

    assert close(loss.data, ref.item())
    outs = [model(x) for x in case.inputs]
    assert_nested_close([[o.data for o in (out if isinstance(out, list) else [out])] for out in outs],
                        O.tolist(), "outputs")
    assert_nested_close(grads_by_layer(model), torch_grads_by_layer(module, len(model.layers)), "grad")
    assert_nested_close([[v.grad for v in sample] for sample in xs], X.grad.tolist(), "input grad")


@fixture_ok
@given(mlps(kink_margin=0.0))
def test_round_trip_keeps_weights_outputs_and_gradients(torch, case):
    model = case.model
    back = MLP.from_torch(model.to_torch())
    assert back.state_dict() == model.state_dict()  # exact: float64 holds every float
    assert repr(back) == repr(model)
    again = MLPCase(back, case.inputs, case.targets)
    case.loss().backward()
    again.loss().backward()
    assert close(again.loss().data, case.loss().data)
    assert_nested_close(grads_by_layer(back), grads_by_layer(model), "round-trip grad")


def test_module_layout_names_and_independence(torch):
    net = MLP(3, [4, 2], seed=7)
    state_before = torch.random.get_rng_state()
    module = net.to_torch()
    assert torch.equal(torch.random.get_rng_state(), state_before)  # no random init was drawn
    assert [name for name, _ in module.named_children()] == ["layer1", "relu1", "layer2"]
    assert module.layer1.weight.dtype == torch.float64 and module.layer1.weight.shape == (4, 3)
    assert module.layer2.bias.tolist() == [n.b.data for n in net.layers[1].neurons]
    with torch.no_grad():
        module.layer1.weight.add_(1.0)
    assert net.state_dict() == MLP(3, [4, 2], seed=7).state_dict()  # the MLP is untouched


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_from_torch_reads_modules_built_in_torch(torch, dtype):
    torch.manual_seed(0)
    nn = torch.nn
    module = nn.Sequential(nn.Linear(2, 5), nn.ReLU(inplace=True),
                           nn.Sequential(nn.Linear(5, 3), nn.ReLU()), nn.Linear(3, 1, bias=False))
    module = module.to(getattr(torch, dtype))
    net = from_torch(module)
    assert net.sizes == [2, 5, 3, 1]
    assert net.layers[2].neurons[0].b.data == 0.0  # a Linear without bias: zero biases, same outputs
    x = [[0.3, -1.2], [2.0, 0.5], [-0.7, -0.1]]
    ref = module.double()(torch.tensor(x, dtype=torch.float64)).flatten().tolist()
    assert all(close(net(xi).data, r) for xi, r in zip(x, ref))
    assert from_torch(nn.Linear(3, 2)).sizes == [3, 2]


def test_one_sgd_step_matches_torch_on_the_handout_net(torch):
    net = two_hidden_layers(hidden=100, seed=1)  # the handout's 1 → 100 → 100 → 1
    module = net.to_torch()
    C = squared_error(net(0.8), 0.3)
    C.backward()
    SGD(net.parameters(), lr=0.01).step()
    opt = torch.optim.SGD(module.parameters(), lr=0.01)
    ((module(torch.tensor([[0.8]], dtype=torch.float64)) - 0.3) ** 2).sum().backward()
    opt.step()
    after = net.state_dict()
    for l in (1, 2, 3):
        assert_nested_close(after[f"w{l}"], getattr(module, f"layer{l}").weight.tolist(), f"w{l}")
        assert_nested_close(after[f"b{l}"], getattr(module, f"layer{l}").bias.tolist(), f"b{l}")


def test_from_torch_errors_name_the_layer(torch):
    nn = torch.nn
    cases = [
        (nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)), ValueError, "layer '1' is Tanh where an MLP has ReLU"),
        (nn.Sequential(nn.Linear(3, 4), nn.ReLU()), ValueError, "ends with ReLU '1'.*output layer is linear"),
        (nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(5, 1)), ValueError, "layer '2' takes 5 inputs but layer '0' gives 4"),
        (nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1)), ValueError, "layer '1' is Linear where an MLP has ReLU"),
        (nn.Sequential(), ValueError, "empty"),
        (nn.Conv1d(1, 1, 1), TypeError, "got Conv1d"),
        ({"layer1.weight": 0}, TypeError, "MLP.load_state_dict"),
    ]
    for module, error, match in cases:
        with pytest.raises(error, match=match):
            from_torch(module)
    bad = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    with torch.no_grad():
        bad[2].weight[0, 1] = float("nan")
    with pytest.raises(ValueError, match="layer '2' has NaN or infinite weights"):
        from_torch(bad)
    with pytest.raises(TypeError, match="expected a micrograd_ws MLP, got Sequential"):
        to_torch(bad)


def test_documented_torch_example_runs(torch):
    text = (ROOT / "docs" / "testing.md").read_text()
    block = re.search(r"<!-- torch-example -->\n```python\n(.*?)```", text, re.S).group(1)
    exec(compile(block, "docs/testing.md (torch example)", "exec"), {})


def test_without_torch_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(ImportError, match=r"pip install torch"):
        MLP(1, [2, 1], seed=0).to_torch()
    with pytest.raises(ImportError, match=r"pip install torch"):
        MLP.from_torch(object())


# --- second derivatives (micrograd_ws.grad with create_graph, hessian, hvp) ----------------

def torch_hessian_rows(torch, expr, theirs):
    """torch.autograd.grad(create_graph=True) twice: row k is the gradient of ∂out/∂x_k."""
    out = expr(*theirs, ops=torch_ops(torch))
    n = len(theirs)
    if not out.requires_grad:
        return [[0.0] * n for _ in range(n)]
    first = torch.autograd.grad(out, theirs, create_graph=True, allow_unused=True)
    rows = []
    for g in first:
        if g is None or not g.requires_grad:  # unused, or a constant gradient
            rows.append([0.0] * n)
            continue
        second = torch.autograd.grad(g, theirs, retain_graph=True, allow_unused=True)
        rows.append([0.0 if s is None else s.item() for s in second])
    return rows


@fixture_ok
@given(expressions())
def test_second_derivatives_of_random_expressions_match_torch(torch, expr):
    from micrograd_ws import grad, hessian

    ours = [Value(x) for x in expr.inputs]
    first = grad(expr(*ours), ours, create_graph=True, allow_unused=True)
    rows = [grad(g, ours, allow_unused=True) for g in first]         # grad twice, as torch below
    theirs = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in expr.inputs]
    assert_nested_close(rows, torch_hessian_rows(torch, expr, theirs), str(expr))
    ref = torch.autograd.functional.hessian(lambda *ts: expr(*ts, ops=torch_ops(torch)),
                                            tuple(torch.tensor(x, dtype=torch.float64) for x in expr.inputs))
    assert_nested_close(hessian(expr, list(expr.inputs)), [[h.item() for h in row] for row in ref], str(expr))


@fixture_ok
@given(expressions(max_inputs=2, max_steps=6))
def test_backward_create_graph_then_backward_matches_torch(torch, expr):
    """x.grad_value from backward(create_graph=True), backpropagated: the Hessian's row sums."""
    ours = [Value(x) for x in expr.inputs]
    expr(*ours).backward(create_graph=True)
    values = [x.grad_value for x in ours]
    for x in ours:
        x.grad = 0.0
    total = sum((v for v in values if v is not None), Value(0.0))
    total.backward()
    theirs = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in expr.inputs]
    rows = torch_hessian_rows(torch, expr, theirs)
    assert_nested_close([x.grad for x in ours], [sum(col) for col in zip(*rows)], str(expr))


def test_hessian_of_a_three_input_expression_equals_torch(torch):
    from micrograd_ws import hessian

    def f(a, b, c, ops=None):
        t = torch if ops else None
        if t:
            return torch.tanh(a * b) * c + torch.exp(c) * a + torch.sigmoid(a / c) + b ** 3 * torch.log(c)
        return (a * b).tanh() * c + c.exp() * a + (a / c).sigmoid() + b ** 3 * c.log()

    point = [0.3, -0.2, 0.5]
    ours = hessian(f, point)
    ref = torch.autograd.functional.hessian(lambda a, b, c: f(a, b, c, ops=True),
                                            tuple(torch.tensor(x, dtype=torch.float64) for x in point))
    assert_nested_close(ours, [[h.item() for h in row] for row in ref], "hessian")
    assert all(abs(ours[r][c] - ours[c][r]) <= 1e-15 for r in range(3) for c in range(3))


@pytest.mark.parametrize("x", [-0.5, 0.0, 0.5])
def test_relu_derivatives_at_and_away_from_the_kink_match_torch(torch, x):
    from micrograd_ws import grad

    v = Value(x)
    [d] = grad(v.relu() * v, [v], create_graph=True)  # x·relu(x): d = relu(x) + x·mask, d' = 2·mask
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    [dt] = torch.autograd.grad(torch.relu(t) * t, [t], create_graph=True)
    [d2t] = torch.autograd.grad(dt, [t])
    assert d.data == dt.item() and grad(d, [v]) == [d2t.item()]


@fixture_ok
@given(mlps(nout=1, max_layers=2, max_width=3, max_batch=2, kink_margin=0.0))
def test_hvp_on_random_nets_matches_torch(torch, case):
    from micrograd_ws import hvp

    model = case.model
    # torch's layout: per layer, the weight matrix row by row, then the biases
    params = [p for layer in model.layers for p in [w for n in layer.neurons for w in n.w] + [n.b for n in layer.neurons]]
    v = [((k * 7) % 5 - 2) / 3 for k in range(len(params))]
    ours = hvp(lambda *ps: case.loss(), params, v)
    module = to_torch(model)
    X = torch.tensor(case.inputs, dtype=torch.float64)
    Y = torch.tensor(case.targets, dtype=torch.float64).reshape(len(case.inputs), -1)
    tps = [p for layer in model.layers for p in (getattr(module, f"layer{layer.index}").weight,
                                                 getattr(module, f"layer{layer.index}").bias)]
    loss = torch.nn.functional.mse_loss(module(X), Y)
    grads = torch.autograd.grad(loss, tps, create_graph=True)
    flat_v = torch.tensor(v, dtype=torch.float64)
    vs, k = [], 0
    for p in tps:
        vs.append(flat_v[k:k + p.numel()].reshape(p.shape))
        k += p.numel()
    dot = sum((g * w).sum() for g, w in zip(grads, vs))
    theirs = [] if not dot.requires_grad else torch.autograd.grad(dot, tps, allow_unused=True)
    flat = torch.cat([t.reshape(-1) for t in theirs]).tolist() if theirs else [0.0] * len(params)
    assert_nested_close(ours, flat, "hvp")
