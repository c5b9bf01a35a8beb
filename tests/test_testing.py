"""micrograd_ws.testing: gradcheck's verdicts and reports, check_op, and the strategies."""
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from micrograd_ws import MLP, Value, define_op
from micrograd_ws.testing import (OPS, Expression, GradcheckError, MLPCase, check_op, expressions,
                                  finite_difference, gradcheck, mlps, values)

ROOT = Path(__file__).resolve().parents[1]


def _wrong_square(x):
    return x * x, (x,)  # the classic slip: d/dx x² written as x, off by a factor of 2


square_bad = define_op("square_bad_tt", _wrong_square)
sin_good = define_op("sin_tt", lambda x: (math.sin(x), (math.cos(x),)))
leaky = define_op("leaky_tt", lambda x: (x if x > 0 else 0.1 * x, (1.0 if x > 0 else 0.1,)))
abs_op = define_op("abs_tt", lambda x: (abs(x), (0.0 if x == 0 else math.copysign(1.0, x),)))


# --- gradcheck ------------------------------------------------------------------------

def test_gradcheck_passes_correct_functions():
    assert gradcheck(lambda a, b: (a * b).tanh() + (a / b).sigmoid(), [0.3, -1.7]) is True
    assert gradcheck(sin_good, [2.0]) is True


def test_wrong_derivative_report_names_input_both_numbers_and_relative_error():
    with pytest.raises(GradcheckError) as info:
        gradcheck(square_bad, [1.5])
    assert isinstance(info.value, AssertionError)  # fails any test that calls it
    [m] = info.value.failures
    assert (m.input, m.value, m.backward) == ("x0", 1.5, 1.5)
    assert m.numeric == pytest.approx(3.0, rel=1e-8) and m.relative_error == pytest.approx(0.5, rel=1e-6)
    message = str(info.value)
    assert "x0 = 1.5" in message and "backward gives 1.5" in message
    assert re.search(r"finite differences give 2\.99999\d+|finite differences give 3\.0000\d+", message)
    assert "relative error 0.5" in message


def test_only_the_wrong_input_is_reported_by_its_parameter_name():
    def f(weight, bias):
        return square_bad(weight) + bias * 3

    with pytest.raises(GradcheckError) as info:
        gradcheck(f, [2.0, -1.0])
    assert [m.input for m in info.value.failures] == ["weight"]
    assert "weight = 2.0, bias = -1.0" in str(info.value)


def test_kinks_accept_a_slope_between_left_and_right():
    relu = OPS["relu"].fn
    assert gradcheck(relu, [0.0]) and gradcheck(leaky, [0.0]) and gradcheck(abs_op, [0.0])
    assert gradcheck(relu, [4e-7])  # a kink within eps of the input, not at it
    wrong_at_kink = define_op("kink_bad_tt", lambda x: (abs(x), (2.0 if x == 0 else math.copysign(1.0, x),)))
    with pytest.raises(GradcheckError, match=r"kink here, left slope -1\.0, right slope 1\.0"):
        gradcheck(wrong_at_kink, [0.0])
    wrong_leaky = define_op("leaky_bad_tt", lambda x: (x if x > 0 else 0.1 * x, (1.0 if x > 0 else 0.01,)))
    with pytest.raises(GradcheckError, match="backward gives 0.01"):
        gradcheck(wrong_leaky, [-1.0])


def test_value_inputs_are_nudged_in_place_and_restored():
    net = MLP(2, [3, 1], seed=3)
    params = net.parameters()
    before = [(p.data, p.grad) for p in params]
    assert gradcheck(lambda *_: (net([0.5, -2.0]) - 3.0).square(), params)
    assert [(p.data, p.grad) for p in params] == before
    with pytest.raises(GradcheckError) as info:  # the bad op on the output: every gradient is off
        gradcheck(lambda *_: square_bad(net([0.5, -2.0]) - 3.0), params)
    names = [m.input for m in info.value.failures]
    assert "b2" in names and all(re.fullmatch(r"[wb][12](\[\d\])*", n) for n in names)
    assert "(at b2 = " in str(info.value)  # many inputs: each failing one shows its value
    assert [(p.data, p.grad) for p in params] == before


def test_domain_edge_is_a_clear_error():
    with pytest.raises(ValueError, match=r"f is not defined within eps=1e-06 of x = 1e-07 \(log\(-9e-07\).*inside the domain"):
        gradcheck(lambda x: x.log(), [1e-7])


def _suggested_eps(message):
    return float(re.search(r"gradcheck\(f, inputs, eps=([^)]+)\)", message).group(1))


def test_a_steep_function_blames_the_step_and_the_suggested_step_passes():
    steep = lambda x: (x * 1e8).tanh()  # noqa: E731  (backward is right: 1e8 at 0)
    with pytest.raises(GradcheckError) as info:
        gradcheck(steep, [0.0])
    message = str(info.value)
    assert "relative error 99" in message and "eps=1e-08 gives 76159415.6" in message
    assert "may be too coarse: f changes steeply within eps" in message and "which agrees with backward" in message
    assert "wrong local derivative" not in message
    assert gradcheck(steep, [0.0], eps=_suggested_eps(message))
    with pytest.raises(GradcheckError, match="may be too coarse"):  # steeper than any step can follow
        gradcheck(lambda x: (x * 1e14).tanh(), [0.0])


def test_a_wrong_derivative_is_not_blamed_on_the_step():
    for x in (1.5, -0.3, 1e4, 1e10):
        with pytest.raises(GradcheckError) as info:
            gradcheck(square_bad, [x])
        assert "wrong local derivative" in str(info.value) and "eps" not in str(info.value).split("\n", 1)[1], x
    with pytest.raises(GradcheckError) as info:  # one input steep, the other wrong: both said
        gradcheck(lambda a, b: (a * 1e8).tanh() + square_bad(b), [0.0, 1.5])
    message = str(info.value)
    assert "may be too coarse: f changes steeply within eps of the input." in message
    assert "wrong local derivative" in message and [m.input for m in info.value.failures] == ["a", "b"]


def test_a_step_lost_to_rounding_at_a_huge_input_is_said_and_a_proportional_one_passes():
    f = lambda x: (x * 1e-300) * 1e300  # noqa: E731  (the identity, computed the long way)
    with pytest.raises(GradcheckError) as info:
        gradcheck(f, [1e10])
    message = str(info.value)
    assert "eps=1e-06 is tiny next to x = 10000000000.0" in message and "too small for inputs this large" in message
    assert "wrong local derivative" not in message
    assert gradcheck(f, [1e10], eps=_suggested_eps(message))


sq_tt = define_op("sq_tt", lambda x: (x * x, (2 * x,)))
nan_tt = define_op("nan_tt", lambda x: (math.nan if x > 0 else x, (1.0,)))


@pytest.mark.parametrize("f, x, error, words", [
    (sq_tt, 1e200, OverflowError, "the result of sq_tt overflows a float at x0 = 1e+200 (sq_tt(x0=1e+200) value = inf)"),
    (lambda x: x * x, 1e200, OverflowError, "the result of f overflows a float at x = 1e+200 (*(x=1e+200, x=1e+200) = inf)"),
    (lambda x: x.exp(), 709.7827128933, OverflowError,
     "the result of f overflows a float within eps=1e-06 of x = 709.7827128933 (exp("),
    (nan_tt, 1.0, ValueError, "the result of nan_tt is not a number at x0 = 1.0 (nan_tt(x0=1.0) value is nan)"),
    (nan_tt, -1e-7, ValueError, "the result of nan_tt is not a number within eps=1e-06 of x0 = -1e-07"),
    (lambda x: x.log(), -1.0, ValueError, "f is not defined at x = -1.0 (log(x=-1.0): log needs a positive number)"),
])
def test_a_function_without_a_finite_value_is_named_with_the_point(f, x, error, words):
    with pytest.raises(error) as info:
        gradcheck(f, [x])
    message = str(info.value)
    assert message.startswith("gradcheck: ") and words in message
    assert "Check the data for missing" not in message and "training diverged" not in message


def test_check_op_names_the_point_where_an_op_overflows():
    with pytest.raises(OverflowError, match=r"check_op\(sq_tt\), alone: the result of sq_tt overflows a float at "
                                            r"x0 = .*If that is right, pass domain=lambda x: \.\.\."):
        check_op(sq_tt, inputs=values(1e200, 1e300))


def test_no_inputs_or_the_wrong_number_is_refused_before_f_runs():
    calls = []

    def f(x, y):
        calls.append((x, y))
        return x * y

    with pytest.raises(ValueError, match=r"no inputs; give one number \(or Value\) per argument of f"):
        gradcheck(lambda x: x * x, [])
    with pytest.raises(TypeError, match=r"gradcheck: f takes 2 arguments \(x, y\) but 1 input was given"):
        gradcheck(f, [1.0])
    with pytest.raises(TypeError, match=r"takes 2 arguments \(x, y\) but 3 inputs were given"):
        gradcheck(f, [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match=r"f takes 1 argument \(x\) but 2 inputs were given"):
        gradcheck(lambda x: x, [1.0, 2.0])
    assert calls == []
    assert gradcheck(lambda *xs: xs[0] * xs[-1], [1.0, 2.0, 3.0])  # *args takes any number


@pytest.mark.parametrize("call, error, match", [
    (lambda: gradcheck(3.0, [1.0]), TypeError, "f must be a function of Values"),
    (lambda: gradcheck(lambda x: x, "1.0"), TypeError, "inputs must be a list"),
    (lambda: gradcheck(lambda x: x, 1.0), TypeError, "inputs must be a list"),
    (lambda: gradcheck(lambda x: x.data, [1.0]), TypeError, "must return a Value, got float"),
    (lambda: gradcheck(lambda x: x, [math.nan]), ValueError, "finite"),
    (lambda: gradcheck(lambda x: x, [1.0], eps=0), ValueError, "eps must be a positive step"),
    (lambda: gradcheck(lambda x: x, [1.0], rtol=-1), ValueError, "non-negative tolerance"),
])
def test_gradcheck_rejects_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_finite_difference_agrees_with_calculus():
    assert finite_difference(lambda x, y: x.exp() * y, [0.3, 2.0], 0) == pytest.approx(2 * math.exp(0.3), rel=1e-9)
    w = Value(0.7)
    assert finite_difference(lambda v: v.tanh(), [w], 0) == pytest.approx(1 - math.tanh(0.7) ** 2, rel=1e-9)
    assert w.data == 0.7


# --- check_op -----------------------------------------------------------------------------

def test_check_op_passes_correct_ops_and_catches_a_factor_of_two():
    assert check_op(sin_good) and check_op(leaky) and check_op(abs_op)
    with pytest.raises(GradcheckError, match=r"(?s)check_op\(square_bad_tt\), alone: .*relative error 0.5"):
        check_op(square_bad)


def test_check_op_catches_a_derivative_wrong_only_far_from_zero():
    # Right on [-1, 1], wrong outside: some random point finds it.
    bad = define_op("far_bad_tt", lambda x: (x**3, (3 * x * x if abs(x) < 1 else 3 * x,)))
    with pytest.raises(GradcheckError, match="far_bad_tt"):
        check_op(bad)


def test_check_op_with_several_inputs_and_a_domain():
    def _hypot(x, y):
        r = math.hypot(x, y)
        return r, (x / r, y / r)

    hypot = define_op("hypot_tt", _hypot)
    with pytest.raises(TypeError, match="pass arity=N"):
        check_op(hypot)
    with pytest.raises(ZeroDivisionError, match=r"check_op\(hypot_tt\).*pass domain=lambda x, y: \.\.\."):
        check_op(hypot, arity=2)
    assert check_op(hypot, arity=2, domain=lambda x, y: math.hypot(x, y) > 0.1)

    swapped = define_op("hypot_swapped_tt", lambda x, y: (math.hypot(x, y), (y / math.hypot(x, y), x / math.hypot(x, y))))
    with pytest.raises(GradcheckError, match="hypot_swapped_tt"):
        check_op(swapped, arity=2, domain=lambda x, y: math.hypot(x, y) > 0.1)


def test_check_op_reads_arity_from_a_plain_function_and_checks_composition():
    def smooth_max(a, b):  # a function on Values, not a define_op
        return ((a.exp() + b.exp()).log())

    assert check_op(smooth_max)
    with pytest.raises(ValueError, match="domain rejects almost every input"):
        check_op(sin_good, domain=lambda x: x > 1e6)


# --- strategies ---------------------------------------------------------------------------

@given(values(-2.0, 0.5))
def test_values_are_finite_and_in_range(x):
    assert math.isfinite(x) and -2.0 <= x <= 0.5


def _depth(expr):
    depth = [0] * len(expr.inputs)
    for _, args in expr.resolved:
        depth.append(1 + max(depth[a] for a in args))
    return depth


@given(expressions(ops=["log", "/", "**0.5", "*"], max_depth=2, max_inputs=2, max_steps=5))
def test_expressions_respect_ops_depth_and_domains(expr):
    assert 1 <= len(expr.inputs) <= 2 and 1 <= len(expr.resolved) <= 5
    assert {name for name, _ in expr.resolved} <= {"log", "/", "**0.5", "*", "+"}
    assert max(_depth(expr)) <= 2
    nodes = list(expr.inputs)  # replay in plain floats: no log of x < 0.2, no division by |b| < 0.2
    for name, args in expr.resolved:
        a = [nodes[k] for k in args]
        if name == "log":
            assert a[0] >= 0.2
            nodes.append(math.log(a[0]))
        elif name == "/":
            assert abs(a[1]) >= 0.2
            nodes.append(a[0] / a[1])
        elif name == "**0.5":
            assert a[0] >= 0.2
            nodes.append(math.sqrt(a[0]))
        else:
            nodes.append(a[0] * a[1] if name == "*" else a[0] + a[1])
    assert expr(*map(Value, expr.inputs)).data == pytest.approx(nodes[-1], rel=1e-12, abs=1e-12)


@given(expressions(ops={**OPS, "sin": (1, sin_good)}, max_depth=3))
def test_expressions_take_your_own_ops(expr):
    assert gradcheck(expr, list(expr.inputs), rtol=1e-4, atol=1e-5), str(expr)


def test_expression_built_by_hand_and_its_errors():
    e = Expression((2.0, -1.0), (("*", (0, 1)), ("log", (2,)), ("exp", (0,))))
    assert e.resolved == (("*", (0, 1)), ("+", (2, 2)), ("exp", (0,)))  # log(-2) is outside its domain
    assert str(e) == "exp(x0)" and "x0=2.0" in repr(e)
    with pytest.raises(TypeError, match="takes 2 inputs, got 1"):
        e(Value(1.0))
    with pytest.raises(ValueError, match="needs 1 indices"):
        Expression((1.0,), (("tanh", (0, 0)),))
    with pytest.raises(ValueError, match="unknown op 'sinh'"):
        Expression((1.0,), (("sinh", (0,)),))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(ops=["+", "cosh"]), ValueError, r"unknown ops \['cosh'\]"),
    (dict(ops="+"), TypeError, "list of names"),
    (dict(ops={"f": lambda x: x}), TypeError, r"must map to \(arity, fn\)"),
    (dict(max_depth=0), ValueError, "max_depth"),
    (dict(max_steps=-1), ValueError, "max_steps"),
])
def test_expressions_reject_bad_arguments_when_called(kwargs, error, match):
    with pytest.raises(error, match=match):
        expressions(**kwargs)


def _forward(state, x):
    """The net in plain floats, from the state dict (ReLU on all but the last layer)."""
    n = len(state) // 2
    for l in range(1, n + 1):
        x = [sum(w * a for w, a in zip(row, x)) + b for row, b in zip(state[f"w{l}"], state[f"b{l}"])]
        if l < n:
            x = [max(0.0, z) for z in x]
    return x


@given(mlps(max_layers=3, max_width=3, max_batch=3))
def test_mlps_shapes_and_loss(case):
    sizes = case.model.sizes
    assert 1 <= sizes[0] <= 3 and 1 <= sizes[-1] <= 2 and len(sizes) <= 4 and max(sizes[1:-1], default=1) <= 3
    assert 1 <= len(case.inputs) == len(case.targets) <= 3
    state = case.model.state_dict()
    errors = []
    for x, y in zip(case.inputs, case.targets):
        assert len(x) == sizes[0]
        ys = y if sizes[-1] > 1 else [y]
        errors += [(o - t) ** 2 for o, t in zip(_forward(state, x), ys)]
    assert case.loss().data == pytest.approx(sum(errors) / len(errors), rel=1e-9, abs=1e-12)
    assert "state={'w1'" in repr(case)


@given(mlps(nin=1, nout=1, max_batch=2))
def test_mlps_keep_pre_activations_off_the_kink(case):
    state = case.model.state_dict()
    n = case.model.sizes
    for x in case.inputs:
        acts = x
        for l in range(1, len(n) - 1):
            zs = [sum(w * a for w, a in zip(row, acts)) + b for row, b in zip(state[f"w{l}"], state[f"b{l}"])]
            assert all(abs(z) >= 1e-3 - 1e-12 for z in zs)
            acts = [max(0.0, z) for z in zs]


@given(mlps())
def test_random_nets_match_finite_differences(case):
    assert gradcheck(lambda *params: case.loss(), case.model.parameters())


def test_mlps_rejects_bad_arguments():
    with pytest.raises(ValueError, match="nin"):
        mlps(nin=0)
    with pytest.raises(ValueError, match="kink_margin"):
        mlps(kink_margin=-1.0)


def test_mlpcase_loss_is_the_mean_over_samples_and_outputs():
    net = MLP(1, [2], seed=0)  # two outputs, no hidden layer
    net.load_state_dict({"w1": [[1.0], [2.0]], "b1": [0.0, 1.0]})
    case = MLPCase(net, [[1.0], [2.0]], [[0.0, 0.0], [2.0, 5.0]])
    assert case.loss().data == (1 + 9 + 0 + 0) / 4


# --- without hypothesis, and the user's own test file ----------------------------------------

def test_gradcheck_works_without_hypothesis_and_strategies_say_what_to_install():
    code = ("import sys; sys.modules['hypothesis'] = None\n"
            "from micrograd_ws.testing import check_op, expressions, gradcheck, mlps, values\n"
            "assert gradcheck(lambda x: x.tanh(), [0.4])\n"
            "for make in (values, expressions, mlps, lambda: check_op(abs)):\n"
            "    try:\n        make()\n    except ImportError as e:\n        print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("need hypothesis: pip install hypothesis\n") == 4, out.stdout


def _user_test_file() -> str:
    text = (ROOT / "docs" / "testing.md").read_text()
    return re.search(r"<!-- user-test -->\n```python\n(.*?)```", text, re.S).group(1)


def _run_pytest(tmp_path, source):
    (tmp_path / "test_my_ops.py").write_text(source)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_my_ops.py"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_the_documented_user_test_catches_a_wrong_derivative_and_passes_when_fixed(tmp_path):
    source = _user_test_file()
    assert len(source.strip().splitlines()) <= 13 and "micrograd_ws.testing import check_op" in source
    fixed = _run_pytest(tmp_path, source)
    assert fixed.returncode == 0 and "1 passed" in fixed.stdout, fixed.stdout + fixed.stderr
    wrong = _run_pytest(tmp_path, source.replace("(math.cos(x),)", "(-math.cos(x),)"))
    assert wrong.returncode == 1 and "1 failed" in wrong.stdout
    assert "GradcheckError: check_op(sin), alone: gradient check failed for sin" in wrong.stdout


@settings(max_examples=30)
@given(mlps(nin=1, nout=1, max_layers=3, max_width=3, weights=st.sampled_from([1e308, -1e308]),
            inputs=st.sampled_from([3.0, -3.0])))
def test_mlps_draw_nets_whose_sums_overflow(case):
    # weights of ±1e308 make ±inf sums, and inf - inf, while biases are placed; the net is still drawn
    assert {abs(p.data) for p in case.model.parameters() if p.label.startswith("w")} == {1e308}
