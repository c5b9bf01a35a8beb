"""An op stated in one place works everywhere: eager backward, create_graph, compile, explain and
the pictures, without touching another file (each reads the op's one statement of its derivative)."""
import math

import pytest

import micrograd_ws as mw
from micrograd_ws import Value, engine
from micrograd_ws.custom import user_ops


@pytest.fixture
def clean_value():
    """Whatever a test adds to Value (a method, a rule, a define_op op) is taken away after it."""
    before = set(vars(Value)), set(engine.RULES), set(user_ops)
    yield
    for name in set(vars(Value)) - before[0]:
        delattr(Value, name)
    for name in set(engine.RULES) - before[1]:
        del engine.RULES[name]
    for name in set(user_ops) - before[2]:
        del user_ops[name]


def everywhere(op_name: str, f, df, d2f) -> None:
    """C = op(w·x)²: its gradient eager, as a graph (a second derivative), compiled; explained and drawn."""
    w, x = Value(0.7, "w"), Value(1.3, "x")
    C = getattr(w * x, op_name)().square()
    C.backward()
    u = 0.7 * 1.3
    assert w.grad == pytest.approx(2 * f(u) * df(u) * 1.3, rel=1e-12)

    [g] = mw.grad(C, [w], create_graph=True)  # d/dw of 2 f(wx) f'(wx) x
    [g2] = mw.grad(g, [w])
    assert g2 == pytest.approx(2 * 1.3 ** 2 * (df(u) ** 2 + f(u) * d2f(u)), rel=1e-9)

    step = mw.compile(lambda x_: getattr(w * x_, op_name)().square())
    w.grad = 0.0
    out = step(1.3)
    out.backward()
    compiled = w.grad
    w.grad = 0.0
    getattr(w * x, op_name)().square().backward()
    assert out.data == C.data and compiled.hex() == w.grad.hex()  # compiled and eager: the same bits

    text = str(mw.explain(C, w))
    assert op_name in text and "✓" in text
    source = mw.draw_grad(C, w).source
    assert op_name in source


def test_an_op_defined_with_define_op_works_everywhere(clean_value):
    mw.define_op("sin", lambda t: (math.sin(t), (math.cos(t),)), derivative=lambda out, t: (t.cos(),))
    mw.define_op("cos", lambda t: (math.cos(t), (-math.sin(t),)), derivative=lambda out, t: (-t.sin(),))
    everywhere("sin", math.sin, math.cos, lambda t: -math.sin(t))


@pytest.mark.filterwarnings("ignore:compile. fn reads .data")  # (the op's own read of .data: it lives in this file, not engine.py)
def test_an_op_added_to_the_engine_as_a_method_and_a_rule_works_everywhere(clean_value):
    # what a learner adds to engine.py: the method (forward and local derivative side by side) and its rule
    def cube(self):
        x = self.data
        return engine.node(x * x * x, (self,), (3.0 * x * x,), "cube")

    Value.cube = cube
    engine.rule("cube", lambda out, x: (3.0 * x * x,))
    everywhere("cube", lambda t: t ** 3, lambda t: 3 * t * t, lambda t: 6 * t)
