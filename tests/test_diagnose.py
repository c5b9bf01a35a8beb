"""diagnose(): right within the tolerance, and the wrong factor named, on made-up mistakes.

The mistakes come from micrograd_ws.mistakes, which writes the handout's products in plain
floats (micrograd_ws.handout), not from the candidates diagnose builds from the graph.
"""
import json
import random

import pytest
from hypothesis import given, settings, strategies as st

from micrograd_ws import diagnose, squared_error, two_hidden_layers, two_neuron
from micrograd_ws.diagnose import Diagnoser, as_number, cell, diagnose_factor, question_data, same_number
from micrograd_ws.handout import MLPParams, mlp_forward
from micrograd_ws.mistakes import MISTAKE_KINDS, made_up_mistakes, right_value


def handout_case(h, seed):
    rng = random.Random(1000 + seed)
    net = two_hidden_layers(hidden=h, seed=seed)
    i, O_des = rng.uniform(-2, 2), rng.uniform(-2, 2)
    C = squared_error(net(i), O_des)
    return net, C, MLPParams.from_state_dict(net.state_dict()), i, O_des, rng


def measure(cases, n, rounded):
    total = named = called_right = 0
    by_kind = {k: [0, 0] for k in MISTAKE_KINDS}
    for h, seed in cases:
        net, C, p, i, O_des, rng = handout_case(h, seed)
        dx = Diagnoser(C)
        for m in made_up_mistakes(p, i, O_des, n, rng):
            answer = float(f"{m.value:.4g}") if rounded else m.value  # as a learner writes it: 4 digits
            d = dx.diagnose(m.parameter, answer)
            total += 1
            called_right += d.right
            ok = d.kind == m.kind and d.factor == m.factor
            named += ok
            by_kind[m.kind][0] += ok
            by_kind[m.kind][1] += 1
    return total, named, called_right, by_kind


@pytest.mark.parametrize("rounded", [False, True], ids=["full precision", "4 digits"])
def test_diagnose_names_the_kind_and_factor_of_made_up_mistakes(rounded):
    cases = [(4, s) for s in range(6)] + [(100, 0)]
    total, named, called_right, by_kind = measure(cases, 60, rounded)
    rate = named / total
    print(f"\ndiagnose named kind and factor of {named}/{total} = {rate:.1%} made-up mistakes "
          f"({'4 digits' if rounded else 'full precision'}); by kind: "
          + ", ".join(f"{k} {a}/{b}" for k, (a, b) in by_kind.items()))
    assert called_right == 0, "a wrong number was called right"
    assert total >= 400 and all(b >= 40 for _, b in by_kind.values()), by_kind
    assert rate >= 0.95, (rate, by_kind)


def test_every_right_gradient_is_called_right_and_nothing_else():
    net, C, p, i, O_des, rng = handout_case(4, 7)
    C.backward()
    dx = Diagnoser(C)
    for name, w in net.named_parameters():
        assert right_value(p, i, O_des, name) == pytest.approx(w.grad, rel=1e-9, abs=1e-12)
        assert dx.diagnose(name, w.grad).right
        assert dx.diagnose(w, float(f"{w.grad:.4g}")).right  # 4 significant digits are enough
        assert not dx.diagnose(name, w.grad * 1.003 + 1e-6).right  # 0.3% off never is


@settings(max_examples=60, deadline=None)
@given(st.floats(-50, 50), st.floats(0.0025, 10))
def test_a_wrong_number_is_never_called_right(offset_sign, rel):
    net = two_neuron(seed=3)
    C = squared_error(net(1.5), -0.5)
    C.backward()
    g = net.layers[0].neurons[0].w[0].grad
    wrong = g + (1 if offset_sign >= 0 else -1) * max(abs(g) * rel, 1e-6)
    assert not diagnose(C, "w1", wrong).right


def two_neuron_cost(w1=0.5, b1=0.1, i=3.0, O_des=1.0):
    m = two_neuron()
    m.load_state_dict({"w1": [[w1]], "b1": [b1]})
    return squared_error(m(i), O_des)  # O = 1.6: ∂C/∂O = 1.2, ∂C/∂w1 = 3.6, ∂C/∂b1 = 1.2


@pytest.mark.parametrize("answer, kind, factor", [
    (3.6, "right", None), (3.6004, "right", None),
    (-3.6, "sign", "∂C/∂O"), (1.8, "missing factor", "∂C/∂O"), (1.2, "missing factor", "∂O/∂w1"),
    (10.8, "extra factor", "∂O/∂w1"), (0.036, "extra factor", "α"), (0.36, "arithmetic slip", None),
    (3.06, "arithmetic slip", None), (6.3, "arithmetic slip", None), (3.7, "arithmetic slip", None),
    (-17.0, "unknown", None),
])
def test_the_two_neuron_model_by_hand(answer, kind, factor):
    d = diagnose(two_neuron_cost(), "w1", answer)
    assert (d.kind, d.factor, d.right) == (kind, factor, kind == "right")
    verdict = d.message.split(" is ", 1)[1]  # after "∂C/∂w1 = <the learner's number> is"
    assert "3.6" not in verdict and "1.2" not in verdict  # never the number, nor ∂C/∂O's
    assert "3.6" in d.show()  # "show me" does


def test_b1_with_the_factor_i_is_an_extra_factor_and_the_cost_for_its_derivative_a_wrong_one():
    C = two_neuron_cost()
    d = diagnose(C, "b1", 3.6)  # 1.2 · i
    assert (d.kind, d.factor) == ("extra factor", "∂O/∂b1")
    d = diagnose(C, "b1", 0.36)  # (O − O_des)² = 0.36 for 2(O − O_des)
    assert (d.kind, d.factor) == ("wrong factor", "∂C/∂O")


def test_the_relu_gate_forgotten_z_for_h_and_a_path_left_out_on_a_small_net():
    net, C, p, i, O_des, _ = handout_case(4, 2)
    f = mlp_forward(p, i)
    dCdO = 2 * (f.O - O_des)
    dead = [j for j in range(4) if f.z2[j] < 0]
    neg1 = [k for k in range(4) if f.z1[k] < 0]
    assert dead and neg1, "this net has a ReLU off in each layer"
    j, k = dead[0], 0
    # ∂C/∂b2[j] with the gate that is 0 left out: 2(O − O_des) · w3[j]
    d = diagnose(C, f"b2[{j}]", dCdO * p.w3[j])
    assert (d.kind, d.factor) == ("missing factor", f"∂H2[{j}]/∂z2[{j}]")
    assert "ReLU" in d.message
    live = [jj for jj in range(4) if f.z2[jj] > 0][0]
    k = neg1[0]
    d = diagnose(C, f"w2[{live}][{k}]", dCdO * p.w3[live] * f.z1[k])  # z1[k] written for H1[k]
    assert (d.kind, d.factor) == ("wrong factor", f"∂z2[{live}]/∂w2[{live}][{k}]")
    assert f"z1[{k}] written for H1[{k}]" in d.message


def test_factors_one_by_one_values_and_updates():
    net, C, p, i, O_des, _ = handout_case(4, 2)
    f = mlp_forward(p, i)
    dx = Diagnoser(C)
    assert dx.diagnose_factor("∂O/∂H2[3]", p.w3[3]).right
    assert dx.diagnose_factor("dO/dH2[3]", p.w3[3]).right
    d = dx.diagnose_factor("∂O/∂H2[3]", f.H2[3])
    assert (d.kind, d.factor) == ("wrong factor", "∂O/∂H2[3]") and not d.right
    assert dx.diagnose_factor("∂C/∂O", f.O - O_des).kind == "missing factor"
    neg = [k for k in range(4) if f.z1[k] < 0][0]
    d = dx.diagnose_value(f"H1[{neg}]", f.z1[neg])
    assert d.kind == "wrong factor" and "ReLU not applied" in d.message
    C.backward()
    w = dict(net.named_parameters())["w3[1]"]
    g = w.grad
    assert dx.diagnose_update("w3[1]", w.data - 0.01 * g).right
    assert dx.diagnose_update("w3[1]", w.data + 0.01 * g).kind == "sign"
    assert dx.diagnose_update("w3[1]", w.data - g).factor == "α"
    d = dx.diagnose_update("w3[1]", w.data - 0.01 * g / 2)  # the 2 of 2(O − O_des) lost in the gradient
    assert (d.kind, d.factor) == ("missing factor", "∂C/∂O")


def test_bad_input_gets_a_clear_message():
    C = two_neuron_cost()
    with pytest.raises(ValueError, match="did you mean w1"):
        diagnose(C, "W1", 3.6)
    with pytest.raises(ValueError, match="not a number"):
        diagnose(C, "w1", "three")
    with pytest.raises(ValueError, match="decimal point as a point, 3.6"):
        diagnose(C, "w1", "3,6")
    with pytest.raises(TypeError, match="expected a number"):
        diagnose(C, "w1", None)
    with pytest.raises(ValueError, match="finite"):
        diagnose(C, "w1", float("nan"))
    with pytest.raises(ValueError, match="∂top/∂bottom"):
        diagnose_factor(C, "O/H2", 1.0)
    with pytest.raises(TypeError, match="must be a Value"):
        diagnose(3.0, "w1", 1.0)
    assert diagnose(C, "w1", "3.6").right and as_number("−1.5") == -1.5


def test_question_data_is_json_and_holds_the_diagnosed_candidates():
    C = two_neuron_cost()
    data = json.loads(json.dumps(question_data(C, "w1")))
    assert data["question"] == "∂C/∂w1" and data["right_cell"] == cell(3.6)
    kinds = {(c["kind"], c["factor"]) for c in data["candidates"] if same_number(c["value"], 1.8)}
    assert ("missing factor", "∂C/∂O") in kinds


def test_a_star_import_gives_diagnose_and_every_other_public_function_of_the_package():
    # `from micrograd_ws import *` in a notebook: __all__ lists every public function and class
    import types

    import micrograd_ws
    namespace: dict = {}
    exec("from micrograd_ws import *", namespace)
    public = [n for n, v in vars(micrograd_ws).items()
              if not n.startswith("_") and not isinstance(v, types.ModuleType)]
    assert "diagnose" in namespace
    assert [n for n in public if n not in namespace] == []


def test_a_tie_between_two_left_out_factors_names_the_one_nearer_the_weight():
    # at i = 2, ∂C/∂O typed again for ∂C/∂w1 is both "·i left out" and "the 2 of 2(O − O_des) left out":
    # the learner who just answered ∂C/∂O most likely forgot the new factor, ∂O/∂w1 = i
    net = two_neuron(seed=0)
    C = squared_error(net(2.0), 1.0)
    C.backward()
    d = diagnose(C, "w1", C.parents[0].grad)
    assert not d.right and d.factor == "∂O/∂w1" and "∂O/∂w1 = i left out" in d.message
