"""The explorer's learning modes in a real browser: predict then check, nudge a weight.

Same set-up as test_explorer_browser (Debian's Chromium via Playwright, every outside
request blocked, console errors fail).  Expected numbers come from the engine here, never
from the page's own data.
"""
import math
import random

import pytest

from micrograd_ws import Value, explore, squared_error, two_hidden_layers, two_neuron
from micrograd_ws.stepping import backward_steps
from test_explorer_browser import Page, _grads, _write


def _rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def _cost_at(net, x, y, name, dw):
    """The engine's C with parameter ``name`` moved by ``dw`` (then put back)."""
    p = dict(net.named_parameters())[name]
    w = p.data
    p.data = w + dw
    try:
        return squared_error(net(x), y).data
    finally:
        p.data = w


def test_predict_mode_accepts_refuses_and_keeps_score(browser, dot, tmp_path):
    path = _write(tmp_path, ["--model", "two-neuron", "--x", "2", "--y", "1"])
    net = two_neuron(seed=0)
    O = net(2.0)
    dC_dO = 2 * (O.data - 1.0)
    page = Page(browser, path).ready()
    page.page.keyboard.press("p")  # predict mode from the keyboard
    page.page.keyboard.press("ArrowRight")  # the forward pass is shown, not asked
    page.page.keyboard.press("ArrowRight")
    page.page.keyboard.press("ArrowRight")  # the first backward step: asked, not revealed
    assert page.page.locator("#ask-q").text_content() == "∂C/∂C = ?"
    assert page.js("explorer.current().grads") == {}
    page.page.keyboard.type("1")
    page.page.keyboard.press("Enter")  # keyboard only: type, Enter
    assert page.js("explorer.current().grads")["C"] == 1.0
    assert page.js("explorer.score().text") == "1 of 1 on the first try"
    page.page.keyboard.press("ArrowRight")  # the answer box is gone with its question: → asks the next
    assert page.page.locator("#ask-q").text_content() == "∂C/∂O = ?"
    hint = page.js("explorer.answer('what?')")  # not a number: a hint, no penalty
    assert hint["accepted"] is False and hint["counted"] is False and "2(O − O_des)" in hint["hint"]
    assert page.js("explorer.score().answered") == 1
    wrong = page.js(f"explorer.answer({dC_dO * 1.02!r})")  # 2% off: refused
    assert wrong["accepted"] is False and wrong["counted"] is True
    assert wrong["product"] == f"∂C/∂O = 2(O − O_des)\n      = {dC_dO:.4g}"
    assert page.js("explorer.score()")["text"] == "1 of 2 on the first try"
    assert page.js("explorer.current().grads")["O"] == dC_dO  # revealed either way
    page.clean()


def test_predict_accepts_within_half_a_percent_and_fractions(browser, dot, tmp_path):
    path = _write(tmp_path, ["--hidden", "2", "--x", "2", "--y", "1"])
    net = two_hidden_layers(hidden=2, seed=0)
    C = squared_error(net(2.0), 1.0)
    truth = [s.grad for s in backward_steps(C)]
    page = Page(browser, path).ready()
    page.js("explorer.mode('predict')")
    page.js("explorer.goto(%d)" % (page.js("explorer.steps") - len(truth)))
    assert page.js("explorer.answer('2/2')")["accepted"] is True  # ∂C/∂C = 1 as a fraction
    assert page.js(f"explorer.answer({truth[1] * 1.004!r})")["accepted"] is True  # 0.4% off: within 0.5%
    assert page.js(f"explorer.answer({truth[2] * 1.006!r})")["accepted"] is (truth[2] == 0)
    asked = page.js("explorer.factor()")  # one factor of the next step, e.g. ∂H2[1]/∂z2[1]
    assert asked.startswith("∂") and page.page.locator("#ask-q").text_content() == asked + " = ?"
    factor = page.js("explorer.answer(1e9)")
    assert factor["accepted"] is False and factor["counted"] is False and factor["product"].startswith("✗")
    assert page.js("explorer.score().answered") == 3
    page.clean()


@pytest.fixture(scope="module")
def handout(tmp_path_factory):
    """The h = 100 net at i = 2, O_des = 1 (seed 0), its page and the engine's numbers."""
    net = two_hidden_layers(hidden=100, seed=0)
    C = squared_error(net(2.0), 1.0)
    steps = [s.grad for s in backward_steps(C)]
    path = tmp_path_factory.mktemp("learn") / "h100.html"
    explore(C).save(path)
    return net, C, steps, path


@pytest.mark.slow
def test_dead_paths_skipped_in_one_action_on_the_handout_net(browser, handout):
    net, C, steps, path = handout
    zero = sum(g == 0.0 for g in steps)
    assert zero > 0
    page = Page(browser, path).ready()
    page.js("explorer.mode('predict')")
    page.js("explorer.goto(explorer.steps - %d)" % len(steps))
    assert page.page.locator("#skip-dead").text_content() == f"skip the {zero} dead paths"
    assert page.js("explorer.skipDead()") == zero  # one action
    asked = page.js("""(() => { const seen = []; const g = %s;
        for (let s = 0; s < 2000 && explorer.current().step < explorer.steps; s++) {
          explorer.step(); const q = document.getElementById('ask-q').textContent;
          if (!document.getElementById('ask-form').hidden) { seen.push(q); explorer.answer(g[seen.length - 1]); }
        } return seen; })()""" % [g for g in steps if g != 0.0])
    assert len(asked) == len(steps) - zero  # every live step asked, no dead one
    assert page.js("explorer.score().text") == f"{len(asked)} of {len(asked)} on the first try · {zero} dead paths skipped"
    page.clean()


def test_nudge_w1_on_two_neuron_predicted_and_actual(browser, dot, tmp_path):
    path = _write(tmp_path, ["--model", "two-neuron", "--x", "2", "--y", "1"])
    net = two_neuron(seed=0)
    grads, C = _grads(net, 2.0, 1.0)
    page = Page(browser, path).ready()
    r = page.js("explorer.nudge('w1', 1e-4)")
    assert _rel(r["predicted"], grads["w1"] * 1e-4) <= 1e-9
    assert _rel(r["actual"], _cost_at(net, 2.0, 1.0, "w1", 1e-4) - C.data) <= 1e-9
    assert r["C0"] == C.data
    # the panel, by keyboard: n opens it, the numbers shown
    page.page.keyboard.press("n")
    out = page.page.locator("#nudge-out").text_content()
    assert out.startswith("w1 = ") and "predicted" in out and "actual" in out
    sgd = page.js("explorer.sgdStep()")
    for name, p in net.named_parameters():
        p.data -= 0.01 * grads[name]
    assert _rel(sgd["C1"], squared_error(net(2.0), 1.0).data) <= 1e-12
    # refused: a step that overflows, a forward that leaves the finite range, not a parameter
    assert "not a finite step" in page.js("explorer.nudge('w1', 1e308 * 10)")["error"]
    assert "finite range" in page.js("explorer.nudge('w1', 1e300)")["error"]
    assert "not a parameter" in page.js("explorer.nudge('O', 1)")["error"]
    page.clean()


@pytest.mark.slow
def test_nudge_a_weight_of_the_handout_net(browser, handout):
    net, C, steps, path = handout  # backward_steps() left every grad as backward() does
    params = dict(net.named_parameters())
    live = [n for n in ("w2[3][7]", "w1[0]", "w3[5]", "b2[10]") if params[n].grad != 0.0]
    assert live
    page = Page(browser, path).ready()
    for name in live:
        r = page.js(f"explorer.nudge({name!r}, 1e-4)")
        assert _rel(r["predicted"], params[name].grad * 1e-4) <= 1e-9, name
        assert _rel(r["actual"], _cost_at(net, 2.0, 1.0, name, 1e-4) - C.data) <= 1e-9, name
    page.clean()


@pytest.mark.slow
def test_page_forward_equals_the_engine_at_random_weights_and_inputs(browser, handout, dot, tmp_path):
    rng = random.Random(13)
    small = two_hidden_layers(hidden=4, seed=0)
    small_path = tmp_path / "h4.html"
    explore(squared_error(small(2.0), 1.0)).save(small_path)
    for net, path in ((small, small_path), (handout[0], handout[3])):
        page = Page(browser, path).ready()
        for _ in range(5):
            values = {n: rng.uniform(-2, 2) for n, _ in net.named_parameters()}
            x = rng.uniform(-3, 3)
            got = page.js("([v, x]) => explorer.forward(v, x)", [values, x])
            for n, p in net.named_parameters():
                p.data = values[n]
            O = net(x)
            C = squared_error(O, 1.0)
            assert _rel(got["O"], O.data) <= 1e-12 and _rel(got["C"], C.data) <= 1e-12
            assert got["O"] == O.data  # the same float operations in the same order: equal
        page.clean()
    two_hidden_layers(hidden=100, seed=0)  # (the fixture's net was changed: nothing else reads it)


def test_nudge_says_it_needs_a_net_for_other_graphs(browser, dot, tmp_path):
    a, b = Value(1.5, "a"), Value(-2.0, "b")
    y = (a * b).tanh()
    y.label = "y"
    y.backward()
    path = tmp_path / "expr.html"
    explore(y).save(path)
    page = Page(browser, path).ready()
    assert "needs a net" in page.js("explorer.nudge('a', 0.1)")["error"]
    page.js("explorer.mode('nudge')")
    assert "needs a net" in page.page.locator("#nudge-out").text_content()
    page.clean()


@pytest.mark.parametrize("size", [(1440, 900), (1280, 720)])  # a projector, a small one
def test_each_mode_fits_a_projector_without_scrolling(browser, dot, tmp_path, size):
    path = _write(tmp_path, ["--model", "two-neuron", "--x", "2", "--y", "1"])
    page = Page(browser, path, size=size).ready()
    page.page.keyboard.press("p")
    for _ in range(3):
        page.page.keyboard.press("ArrowRight")
    page.js("explorer.hint()")
    assert page.page.locator("#ask-input").is_visible() and page.out_of_sight() == []
    page.js("explorer.mode('nudge')")  # (n would be typed into the answer box, which has the focus)
    assert page.page.locator("#nudge-panel").is_visible() and "predicted" in page.page.locator("#nudge-out").text_content()
    assert page.out_of_sight() == [], "nudge"  # the plot and the SGD button included
    assert page.js("document.getElementById('nudge-plot').width") > 300  # drawn at its size, not stretched
    page.clean()
