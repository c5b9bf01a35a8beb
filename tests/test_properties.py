"""Hypothesis: random expression graphs against finite differences, and algebraic rules."""
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from micrograd_ws import Value
from micrograd_ws.testing import expressions, gradcheck, values


@given(expressions())
def test_random_graphs_over_all_ops_match_finite_differences(expr):
    assert gradcheck(expr, list(expr.inputs), rtol=1e-4, atol=1e-5), str(expr)


@given(expressions(), st.integers(1, 3))
def test_backward_n_times_gives_exactly_n_times_the_gradient(expr, n):
    xs = [Value(x) for x in expr.inputs]
    out = expr(*xs)
    out.backward()
    once = [x.grad for x in xs]
    for _ in range(n - 1):
        out.backward()
    assert [x.grad for x in xs] == [sum([g] * n) for g in once]


def _two_functions_at_one_point(data):
    """Two random one-input expressions, both with their domains checked at the same x."""
    x = data.draw(values(), label="x")
    same_x = expressions(max_inputs=1, inputs=st.just(x))
    return data.draw(same_x, label="f"), data.draw(same_x, label="g"), x


@given(st.data())
def test_sum_rule(data):
    f, g, x = _two_functions_at_one_point(data)
    a = Value(x)
    (f(a) + g(a)).backward()
    fa, ga = Value(x), Value(x)
    f(fa).backward()
    g(ga).backward()
    assert a.grad == pytest.approx(fa.grad + ga.grad, rel=1e-9, abs=1e-12)


@given(st.data())
def test_product_rule(data):
    f, g, x = _two_functions_at_one_point(data)
    a = Value(x)
    (f(a) * g(a)).backward()
    fa, ga = Value(x), Value(x)
    fv, gv = f(fa), g(ga)
    fv.backward()
    gv.backward()
    assert a.grad == pytest.approx(fa.grad * gv.data + fv.data * ga.grad, rel=1e-9, abs=1e-12)


@given(values(), st.integers(2, 30))
def test_a_node_reused_k_times(x, k):
    a = Value(x)
    out = a
    for _ in range(k - 1):
        out = out + a
    out.backward()
    assert a.grad == k and math.isclose(out.data, k * x, rel_tol=1e-12, abs_tol=1e-12)
