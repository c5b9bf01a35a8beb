"""backward_steps (the reverse pass one node at a time) and explain (∂C/∂w as the handout writes it)."""
import gc
import math
import re
import sys
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from micrograd_ws import Value, explain, squared_error, topological_order, two_hidden_layers, two_neuron
from micrograd_ws.handout import MLPParams, mlp_forward, mlp_gradients, two_neuron_gradients
from micrograd_ws.testing import expressions, values

# A net with a ReLU off in each hidden layer (H1[1] = 0 and H2[1] = 0 at i = 1.0), others on.
H, SEED, X, Y = 3, 2, 1.0, 0.25


def handout_net(hidden=H, seed=SEED, x=X, y=Y):
    net = two_hidden_layers(hidden=hidden, seed=seed)
    C = squared_error(net(x), y)
    C.backward()
    return net, C, dict(net.named_parameters())


def fmt(x):
    """How the explanations print a number: 4 significant digits."""
    return f"{x:.4g}"


def factor(x):
    """A number after the first in a product: negative ones in parentheses."""
    return f"({fmt(x)})" if x < 0 else fmt(x)


# --- backward_steps ----------------------------------------------------------------

def _graph(expr):
    xs = [Value(x, label=f"x{k}") for k, x in enumerate(expr.inputs)]
    return xs, expr(*xs)


@given(expressions(max_steps=10))
def test_steps_visit_each_inner_node_once_in_reverse_topological_order(expr):
    _, out = _graph(expr)
    inner = [v for v in topological_order(out) if v.parents]
    order = [step.node for step in out.backward_steps()]
    assert sorted(map(id, order)) == sorted(map(id, inner))
    done = set()
    for v in order:  # every node that uses v as a parent was processed before v
        users = [u for u in inner if any(p is v for p in u.parents)]
        assert all(id(u) in done for u in users)
        done.add(id(v))
    if inner:
        assert order[0] is out


@given(expressions(max_steps=10), st.lists(values(), min_size=3, max_size=3), values().filter(bool))
def test_running_all_steps_leaves_exactly_the_gradients_of_backward(expr, earlier, seed):
    xs_a, out_a = _graph(expr)
    xs_b, out_b = _graph(expr)
    for xa, xb, g in zip(xs_a, xs_b, earlier):  # leaves holding earlier gradients accumulate
        xa.grad = xb.grad = g
    out_a.backward(seed)
    steps = list(out_b.backward_steps(seed))
    nodes_a, nodes_b = topological_order(out_a), topological_order(out_b)
    assert [v.grad for v in nodes_b] == [v.grad for v in nodes_a]  # bit for bit
    for step in steps:
        assert step.grad == step.node.grad or step.node is out_b and not out_b.parents
        for c in step.contributions:
            assert c.added == (step.grad * c.local if step.grad else 0.0)


def _first_steps_then(action, k):
    """A graph with an earlier backward's gradients, k steps of a second pass, then ``action``."""
    w = [Value(v, label=f"w{n}") for n, v in enumerate((0.3, -1.2, 2.0))]
    out = ((w[0] * w[1]).tanh() + w[2] * w[0]) * w[1]
    out.backward()
    nodes = topological_order(out)
    before = [v.grad for v in nodes]
    gen = out.backward_steps()
    for _ in range(k):
        next(gen)
    if k:
        assert [v.grad for v in nodes] != before  # half-way, the pass shows
    action(gen)
    return nodes, before


def _interrupt(gen):
    with pytest.raises(KeyboardInterrupt):
        gen.throw(KeyboardInterrupt)


@pytest.mark.parametrize("k", [0, 1, 2, 3])
@pytest.mark.parametrize("how", ["close", "drop", "interrupt"])
def test_an_abandoned_pass_leaves_no_trace(k, how):
    def close(gen):
        gen.close()

    def drop(gen):
        del gen
        gc.collect()

    nodes, before = _first_steps_then({"close": close, "drop": drop, "interrupt": _interrupt}[how], k)
    assert [v.grad for v in nodes] == before  # leaves and intermediate nodes, as before the pass


def test_the_issue_s_case_b3_and_w1_agree_after_an_abandoned_pass():
    net = two_hidden_layers(hidden=3, seed=2)
    C = squared_error(net(0.5), 1.0)
    C.backward()
    params = dict(net.named_parameters())
    once = {n: p.grad for n, p in params.items()}
    steps = C.backward_steps()
    next(steps), next(steps)
    steps.close()
    assert {n: p.grad for n, p in params.items()} == once  # not b3 twice and w1[0] once


def test_after_the_last_step_the_leaves_are_complete_without_exhausting():
    a = Value(2.0, label="a")
    a.grad = 1.0
    b = a * a
    steps = b.backward_steps()
    next(steps)  # the only step: no further next() needed
    assert a.grad == 1.0 + 4.0


def test_steps_on_a_leaf_root():
    a = Value(2.0)
    a.grad = 0.5
    assert list(a.backward_steps()) == [] and a.grad == 1.5


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="root must be a Value"):
        from micrograd_ws.stepping import backward_steps
        backward_steps(3.0)
    with pytest.raises(ValueError, match="backward_steps.gradient"):
        Value(1.0).backward_steps(float("nan"))


def test_overflow_is_reported_and_the_earlier_gradients_survive():
    x = Value(3.0, label="x")
    x.grad = 5.0
    y = (x * 10.0) * 10.0
    with pytest.raises(OverflowError, match="overflowed"):
        list(y.backward_steps(1e308))
    assert x.grad == 5.0


def test_one_parent_step_reads_like_the_chain_rule():
    net, C, params = handout_net()
    f = mlp_forward(MLPParams.from_state_dict(net.state_dict()), X)
    dC_dO = 2 * (f.O - Y)
    steps = {step.node.label: step for step in C.backward_steps()}
    assert str(steps["C"]) == f"∂C/∂O += ∂C/∂C · ∂C/∂O = 1 · {factor(dC_dO)} = {fmt(dC_dO)}"
    j = 0  # H2[0] is on: ∂H2/∂z2 = 1
    g = dC_dO * params["w3[0]"].data
    assert str(steps[f"H2[{j}]"]) == f"∂C/∂z2[0] += ∂C/∂H2[0] · ∂H2[0]/∂z2[0] = {fmt(g)} · 1 = {fmt(g)}"
    assert steps["H1[1]"].contributions[0].local == 0.0  # H1[1] is off
    assert str(steps["z1[1]"]) == "∂C/∂z1[1] = 0: nothing to pass on to w1[1], i, b1[1] (skipped)"
    assert steps["z1[1]"].skipped and not steps["z1[0]"].skipped


def test_many_parent_step_one_line_each_and_a_summary_beyond_the_limit():
    net, C, params = handout_net()
    step = next(s for s in C.backward_steps() if s.node.label == "z2[0]")
    assert len(step.contributions) == 2 * H + 1
    full = step.describe(limit=None).splitlines()
    assert len(full) == 2 * H + 1
    assert re.fullmatch(r"∂C/∂w2\[0\]\[0\] \+= ∂C/∂z2\[0\] · ∂z2\[0\]/∂w2\[0\]\[0\] = \S+ · \S+ = \S+", full[0])
    assert full[-1].startswith("∂C/∂b2[0]    += ")
    short = step.describe(limit=2).splitlines()
    assert len(short) == 3 and short[:2] == full[:2]
    assert f"{2 * H + 1 - 2} more parents" in short[2] and "limit=None" in short[2]


def test_a_parent_reached_twice_shows_its_running_sum():
    net, C, _ = handout_net()
    lines = [line for s in C.backward_steps() for line in str(s).splitlines() if line.startswith("∂C/∂H1[0]")]
    # one line from each z2[j] whose ReLU H2[j] is on (z2[1] is skipped: ∂C/∂z2[1] = 0)
    assert len(lines) == H - 1 and "so far" not in lines[0] and "so far" in lines[1]
    first, second = (float(line.split(" = ")[-1].split()[0]) for line in lines)
    assert float(lines[1].split("so far ")[1].rstrip(")")) == pytest.approx(first + second, rel=1e-3)


# --- explain ------------------------------------------------------------------------

def test_two_neuron_explanations_are_the_handouts_first_page():
    model = two_neuron()
    w1, b1 = model.parameters()
    w1.data, b1.data = 0.5, 0.1
    C = squared_error(model(2.0), 1.0)
    C.backward()
    expected = two_neuron_gradients(w1=0.5, b1=0.1, i=2.0, O_des=1.0)
    e = explain(C, w1)
    [path] = e.paths
    assert path.symbols == ("∂C/∂O", "∂O/∂w1") and path.formulas == ("2(O − O_des)", "i")
    assert path.locals == pytest.approx((2 * (1.1 - 1.0), 2.0))
    assert e.total == pytest.approx(expected["w1"], rel=1e-12) and e.matches
    assert str(e).splitlines() == [
        "∂C/∂w1 = ∂C/∂O · ∂O/∂w1",
        "       = 2(O − O_des) · i",
        "       = 0.2 · 2",
        "       = 0.4",
        "w1.grad = 0.4 ✓ the same number C.backward() computed",
    ]
    [path] = explain(C, b1).paths
    assert path.symbols == ("∂C/∂O", "∂O/∂b1") and path.formulas == ("2(O − O_des)", "1")
    assert explain(C, b1).total == pytest.approx(expected["b1"], rel=1e-12)


def _handout_factors(name, f, h):
    """The factors (symbol, formula) of each path of ∂C/∂name, from the handout's formulas."""
    on = lambda H_: "1" if H_ != 0 else "0"  # noqa: E731  (∂H/∂z: 0 if H(z) = 0, else 1)
    top = [("∂C/∂O", "2(O − O_des)")]
    if name == "b3":
        return [top + [("∂O/∂b3", "1")]]
    layer, idx = name[:2], [int(n) for n in re.findall(r"\d+", name[2:])]
    if layer == "w3":
        return [top + [(f"∂O/∂w3[{idx[0]}]", f"H2[{idx[0]}]")]]

    def down_to_z2(j):
        return top + [(f"∂O/∂H2[{j}]", f"w3[{j}]"), (f"∂H2[{j}]/∂z2[{j}]", on(f.H2[j]))]

    if layer == "w2":
        j, k = idx
        return [down_to_z2(j) + [(f"∂z2[{j}]/∂w2[{j}][{k}]", f"H1[{k}]")]]
    if layer == "b2":
        j = idx[0]
        return [down_to_z2(j) + [(f"∂z2[{j}]/∂b2[{j}]", "1")]]
    k = idx[0]
    last = (f"∂z1[{k}]/∂w1[{k}]", "i") if layer == "w1" else (f"∂z1[{k}]/∂b1[{k}]", "1")
    return [down_to_z2(j) + [(f"∂z2[{j}]/∂H1[{k}]", f"w2[{j}][{k}]"), (f"∂H1[{k}]/∂z1[{k}]", on(f.H1[k])), last]
            for j in range(h)]


@pytest.mark.parametrize("seed", [SEED, 0, 5])
def test_factor_lists_match_the_handouts_formulas_for_every_parameter(seed):
    net, C, params = handout_net(seed=seed)
    p = MLPParams.from_state_dict(net.state_dict())
    f = mlp_forward(p, X)
    reference = mlp_gradients(p, X, Y)
    for name, w in params.items():
        e = explain(C, w)
        got = [list(zip(t.symbols, t.formulas)) for t in e.paths]
        assert got == _handout_factors(name, f, H), name
        assert e.total == pytest.approx(w.grad, rel=1e-12, abs=1e-15) and e.matches, name
        assert e.total == pytest.approx(reference[name], rel=1e-9, abs=1e-12), name


def test_the_numbers_of_a_w2_path_are_the_handouts():
    net, C, params = handout_net()
    p = MLPParams.from_state_dict(net.state_dict())
    f = mlp_forward(p, X)
    [path] = explain(C, "w2[2][0]").paths
    assert path.locals == pytest.approx((2 * (f.O - Y), p.w3[2], 1.0, f.H1[0]), rel=1e-12)


def test_w2_reads_like_the_handout():
    net, C, params = handout_net()
    lines = str(explain(C, params["w2[2][0]"])).splitlines()
    assert lines[0] == "∂C/∂w2[2][0] = ∂C/∂O · ∂O/∂H2[2] · ∂H2[2]/∂z2[2] · ∂z2[2]/∂w2[2][0]"
    assert lines[1].strip() == "= 2(O − O_des) · w3[2] · 1 · H1[0]"
    assert lines[2].strip().startswith("= ") and lines[2].count("·") == 3
    assert lines[3].strip() == f"= {fmt(params['w2[2][0]'].grad)}"
    assert lines[4].startswith(f"w2[2][0].grad = {fmt(params['w2[2][0]'].grad)} ✓")


def test_w1_sums_over_j_and_folds_the_paths_through_a_dead_relu():
    net, C, params = handout_net()
    text = str(explain(C, "w1[0]"))
    lines = text.splitlines()
    assert lines[0] == ("∂C/∂w1[0] = Σ_j ∂C/∂O · ∂O/∂H2[j] · ∂H2[j]/∂z2[j] · ∂z2[j]/∂H1[0] "
                        "· ∂H1[0]/∂z1[0] · ∂z1[0]/∂w1[0]")
    assert lines[1].strip() == "= Σ_j 2(O − O_des) · w3[j] · ∂H2[j]/∂z2[j] · w2[j][0] · 1 · i"
    assert [line.split(":")[0].strip() for line in lines if re.match(r"\s+j = \d:", line)] == ["j = 0", "j = 2"]
    assert "1 more path is 0, through the zero factor ∂H2[1]/∂z2[1] = 0 (the ReLU H2[1] is off" in text
    every = str(explain(C, "w1[0]", all_paths=True))
    assert [m for m in re.findall(r"j = (\d):", every)] == ["0", "1", "2"]
    assert "more path" not in every


@pytest.mark.parametrize("seed", [SEED, 0])
def test_format_with_a_precise_total_and_without_the_check(seed):
    net, C, params = handout_net(seed=seed)
    for name, w in params.items():
        e = explain(C, w)
        full = e.format().splitlines()
        short = e.format(total_digits=12, check=False).splitlines()
        assert short[:-1] == full[:-2] and full[-1].startswith(f"{name}.grad = ")  # only the total differs
        assert short[-1].startswith(" " * len(f"∂C/∂{name}") + " = ")
        assert float(short[-1].split(" = ")[1]) == pytest.approx(w.grad, rel=1e-11, abs=1e-15), name
        assert float(full[-2].split(" = ")[1]) == pytest.approx(w.grad, rel=1e-3, abs=1e-15), name


@pytest.mark.parametrize("width", [50, 64, 80])
def test_format_folds_long_rows_between_factors_without_losing_any(width):
    net, C, params = handout_net()
    e = explain(C, "w1[0]")
    folded = e.format(width=width).splitlines()
    assert all(len(line) <= width for line in folded)
    assert " ".join(" ".join(folded).split()) == " ".join(e.format().split())  # the same words, in order
    assert not any(line.rstrip().endswith("2(O") for line in folded)  # 2(O − O_des) stays whole


def test_a_dead_first_layer_relu_makes_every_path_zero():
    net, C, params = handout_net()
    e = explain(C, "b1[1]")
    assert e.total == 0.0 == params["b1[1]"].grad
    assert "all 3 paths are 0, through the zero factor ∂H1[1]/∂z1[1] = 0" in str(e)


def test_many_nonzero_paths_are_capped_with_a_pointer_to_all_paths():
    net = two_hidden_layers(hidden=12, seed=5)
    C = squared_error(net(1.0), 0.0)
    C.backward()
    p = MLPParams.from_state_dict(net.state_dict())
    f = mlp_forward(p, 1.0)
    assert f.H1[0] > 0
    live = [j for j in range(12) if f.H2[j] != 0]  # the handout's nonzero paths, in order of j
    assert len(live) > 3
    for shown in (2, len(live) - 1):
        e = explain(C, "w1[0]", max_paths=shown)
        text = " ".join(e.format().split())
        assert [int(j) for j in re.findall(r"j = (\d+):", text)] == live[:shown]
        rest = live[shown:]
        together = math.fsum(2 * f.O * p.w3[j] * p.w2[j][0] * 1.0 for j in rest)
        if len(rest) > 1:
            tail = f"… and {len(rest)} more paths with a nonzero product, together {fmt(together)}: " \
                   f"only the first {shown} nonzero paths are listed; explain(C, w, all_paths=True) lists them all"
        else:
            tail = f"… and 1 more path with a nonzero product, together {fmt(together)}: " \
                   f"only the first {shown} nonzero paths are listed; explain(C, w, all_paths=True) lists it"
        assert tail in text
        assert e.matches


def test_many_dead_relus_are_summarised_in_one_line():
    net = two_hidden_layers(hidden=30, seed=0)
    C = squared_error(net(0.5), 0.3)
    C.backward()
    f = mlp_forward(MLPParams.from_state_dict(net.state_dict()), 0.5)
    dead = [j for j in range(30) if f.H2[j] == 0]
    k = next(k for k in range(30) if f.H1[k] > 0)
    assert len(dead) > 4
    notes = [line for line in str(explain(C, f"w1[{k}]")).splitlines() if "more paths are 0" in line]
    listed = ", ".join(f"∂H2[{j}]/∂z2[{j}] = 0" for j in dead[:4])
    assert notes == [f"              {len(dead)} more paths are 0, through the zero factors {listed} "
                     f"and {len(dead) - 4} more (ReLUs that are off)"]


def test_grad_status_says_what_to_do():
    model = two_neuron()
    w1 = model.parameters()[0]
    C = squared_error(model(2.0), 1.0)
    assert "w1.grad is 0: call C.backward()" in str(explain(C, w1))
    C.backward()
    C.backward()
    text = str(explain(C, w1))
    assert "is 2 × this" in text and "zero_grad()" in text
    w1.grad = 123.0
    assert "differs" in str(explain(C, w1))


def test_no_path_root_itself_and_bad_arguments():
    a, b = Value(2.0, label="a"), Value(3.0, label="b")
    c = a * a
    c.label = "c"
    e = explain(c, b)
    assert e.n_paths == 0 and e.total == 0.0 and "c does not depend on b" in str(e)
    assert explain(c, c).total == 1.0
    with pytest.raises(ValueError, match=r"no node labelled 'w9' in the graph of c; did you mean a or c\?$"):
        explain(c, "w9")
    with pytest.raises(ValueError, match=r"^explain: no node labelled 'w1\[12\]' .*did you mean w1\[1\], w1\[2\]"):
        explain(squared_error(two_hidden_layers(hidden=12)(1.0), 0.0), "w1[12]")
    with pytest.raises(TypeError, match="w must be a Value or its label"):
        explain(c, 2.0)
    with pytest.raises(TypeError, match="root must be a Value"):
        explain(2.0, a)
    with pytest.raises(ValueError, match="max_paths"):
        explain(c, a, max_paths=0)
    with pytest.raises(TypeError, match="all_paths must be True or False"):
        explain(c, a, all_paths="yes")
    step = next(c.backward_steps())
    with pytest.raises(ValueError, match="positive int or None"):
        step.describe(limit=0)


def test_exponentially_many_paths_are_summed_without_listing():
    x = Value(1.5, label="x")
    y = x
    for _ in range(60):
        y = y + y
    y.backward()
    e = explain(y, x)
    assert e.n_paths == 2**60 and e.total == 2.0**60 == x.grad
    assert "too many to list" in str(e) and len(str(e).splitlines()) < 5


@given(expressions(max_steps=8))
def test_explain_total_equals_grad_on_random_graphs(expr):
    xs, out = _graph(expr)
    out.backward()
    for x in xs:
        e = explain(out, x)
        assert e.matches, (str(expr), str(e))
        assert e.total == pytest.approx(x.grad, rel=1e-9, abs=1e-9)


# --- Jupyter ------------------------------------------------------------------------

def _math_rows(markdown):
    m = re.search(r"\$\$\n\\begin\{aligned\}\n(.*)\n\\end\{aligned\}\n\$\$", markdown, re.S)
    assert m, markdown
    return m.group(1).split(" \\\\\n")


def _assert_valid_tex(markdown):
    from matplotlib.mathtext import MathTextParser

    parser = MathTextParser("path")
    for row in _math_rows(markdown):
        assert row.count("{") - row.count(r"\{") == row.count("}") - row.count(r"\}")
        # drop the alignment marks; mathtext lacks \& (valid LaTeX), so check it as \#
        parser.parse("$" + re.sub(r"(?<!\\)&", "", row).replace(r"\&", r"\#") + "$")


def test_markdown_renders_the_handout_formula_in_latex():
    net, C, params = handout_net()
    md = explain(C, "w2[2][0]")._repr_markdown_()
    rows = _math_rows(md)
    assert rows[0] == (r"\frac{\partial C}{\partial w_{2}[2][0]} &= \frac{\partial C}{\partial O} \cdot "
                       r"\frac{\partial O}{\partial H_{2}[2]} \cdot \frac{\partial H_{2}[2]}{\partial z_{2}[2]} "
                       r"\cdot \frac{\partial z_{2}[2]}{\partial w_{2}[2][0]}")
    assert rows[1] == r"&= 2(O-O_{\mathrm{des}}) \cdot w_{3}[2] \cdot 1 \cdot H_{1}[0]"
    for name, w in params.items():
        _assert_valid_tex(explain(C, w)._repr_markdown_())
    assert r"\sum_{j}" in explain(C, "w1[0]")._repr_markdown_()


def test_markdown_escapes_any_label():
    a = Value(2.0, label="we$ird_{x}#%&~\\^*")
    b = Value(3.0, label="β_1_2")
    c = (a * b).tanh() ** 2 + a.exp() - b.log() + a.sigmoid() / b + a**b
    c.label = "my cost"
    c.backward()
    for w in (a, b):
        md = explain(c, w)._repr_markdown_()
        _assert_valid_tex(md)
        status = md.splitlines()[-1]  # Markdown text: no unescaped math, emphasis, code or links
        assert not re.search(r"(?<!\\)[$*_`\[\]]", status) and status.startswith(("we\\$ird\\_", "β\\_1")), status


def test_jupyter_gets_the_formula_and_the_text():
    from IPython.core.formatters import DisplayFormatter

    net, C, params = handout_net()
    e = explain(C, "w3[0]")
    data, _ = DisplayFormatter().format(e)
    assert data["text/markdown"].startswith("$$\n\\begin{aligned}\n\\frac{\\partial C}{\\partial w_{3}[0]}")
    assert data["text/plain"] == str(e)


# --- paths: order and depth -----------------------------------------------------------

def _paths_by_recursion(v, w):
    """The oracle: every path from v down to w, parents in order, depth first."""
    if v is w:
        return [[]]
    return [[(v, i)] + rest for i, p in enumerate(v.parents) for rest in _paths_by_recursion(p, w)]


@given(expressions(max_steps=8))
def test_paths_lists_every_path_in_depth_first_parent_order(expr):
    from micrograd_ws.paths import paths

    xs, out = _graph(expr)
    for x in xs:
        got = [[(e.child, e.index) for e in p] for p in paths(out, x)]
        assert got == _paths_by_recursion(out, x)
        assert all(isinstance(p, tuple) for p in paths(out, x))


def test_a_twenty_thousand_deep_chain_is_explained():
    x = Value(0.5, label="x")
    y = x
    for _ in range(20_000):
        y = y * 1.0
    y = y * 3.0
    y.label = "y"
    y.backward()
    e = explain(y, x)
    [path] = e.paths
    assert len(path.edges) == 20_001 and e.total == 3.0 == x.grad and e.matches
    text = str(e)
    assert text.startswith("∂y/∂x = ∂y/∂") and text.endswith("x.grad = 3 ✓ the same number y.backward() computed")


def test_a_failed_stepped_pass_leaves_every_leaf_gradient_as_it_was():
    from micrograd_ws import Value

    x, q = Value(5.0, "x"), Value(1.0, "q")
    x.grad = 5.0
    r = x + (q * 1e-300) * 1e300
    with pytest.raises(OverflowError, match="overflowed"):
        for _ in r.backward_steps(1e300):  # ∂r/∂(q·1e-300) = 1e600 overflows half-way
            pass
    assert (x.grad, q.grad) == (5.0, 0.0)


def test_a_long_chain_is_counted_before_anything_is_listed(monkeypatch):
    """Past MAX_FACTORS explain sums node by node in a few numbers a node, never building the paths'
    Analysis (issue 25 item 16: a chain of 2·10^6 nodes peaked at 3.9 GiB; now about 170 bytes a node)."""
    module = sys.modules["micrograd_ws.explain"]  # (micrograd_ws.explain is the function)
    monkeypatch.setattr(module, "MAX_FACTORS", 1_000)

    def refused(*args, **kwargs):
        raise AssertionError("an Analysis of a chain too long to list")
    monkeypatch.setattr(module, "Analysis", refused)
    x = Value(0.5, "x")
    y = x
    for k in range(20_000):
        y = y * 1.0000001 if k % 2 else y + 0.1
    y.label = "C"
    y.backward()
    tracemalloc.start()
    try:
        e = explain(y, x)
        text = str(e)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert e.n_paths == 1 and e.paths == () and e.matches and e.total == x.grad
    assert "the sum over 1 path, too many to list" in text
    assert peak < 400 * 20_000, peak
