"""The explorer's learning modes in a real browser: predict then check, nudge a weight.

Same set-up as test_explorer_browser (Debian's Chromium via Playwright, every outside
request blocked, console errors fail).  Expected numbers come from the engine here, never
from the page's own data.
"""
import random

import pytest

from micrograd_ws import Value, explore, squared_error, two_hidden_layers, two_neuron
from micrograd_ws.engine import topological_order
from micrograd_ws.paths import Edge, name
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


def _engine_grads(C):
    """Every node's gradient by its handout name after the engine's own backward pass, and its steps."""
    n = sum(1 for _ in backward_steps(C))
    return {name(v): v.grad for v in topological_order(C)}, n


def _asked(page):
    """The name in the question the page asks now: ∂C/∂w1 = ? → w1."""
    assert page.page.locator("#ask-form").is_visible()
    q = page.page.locator("#ask-q").text_content()
    assert q.startswith("∂C/∂") and q.endswith(" = ?"), q
    return q[len("∂C/∂"):-len(" = ?")]


@pytest.mark.parametrize("right", [True, False])
def test_predict_asks_dC_dO_then_w1_with_a_second_try_on_the_two_neuron_page(browser, dot, tmp_path, right):
    path = _write(tmp_path, ["--model", "two-neuron", "--x", "2", "--y", "1"])
    net = two_neuron(seed=0)
    engine, C = _grads(net, 2.0, 1.0)
    dC_dO, i = C.parents[0].grad, 2.0
    page = Page(browser, path, size=(1440, 900)).ready()
    page.page.keyboard.press("p")
    page.js("explorer.goto(1)")  # still in the forward pass: answer() moves to the first question
    r = page.js(f"explorer.answer({dC_dO!r})")
    assert r["question"] == "∂C/∂O" and r["accepted"] is True  # never ∂C/∂C = 1
    assert page.js("explorer.current().grads")["O"] == dC_dO  # C's step revealed: → asks the next
    page.js("explorer.step()")
    assert _asked(page) == "w1"  # O's step completes w1 (b1's is ∂C/∂O · 1: on the page already, not asked)
    assert "w1" not in page.js("explorer.current().grads")
    page.js("explorer.select('w1')")  # the inspector keeps the answer back until it is given
    assert page.page.locator("#inspector h2").is_visible() and not page.page.locator("#inspector .total").is_visible()
    assert f"{engine['w1']:.4g}" not in page.page.locator("body").inner_text()
    assert page.js("explorer.factor()") == "∂O/∂w1"  # one factor on request: i
    factor = page.js(f"explorer.answer({i!r})")
    assert factor["accepted"] is True and factor["counted"] is False
    typed = engine["w1"] if right else engine["w1"] * 1.02
    r = page.js(f"explorer.answer({typed!r})")
    assert r["question"] == "∂C/∂w1" and r["accepted"] is right and r["counted"] is True
    if not right:  # a second try, the answer still hidden
        assert r["retry"] is True and _asked(page) == "w1" and "w1" not in page.js("explorer.current().grads")
        assert f"{engine['w1']:.4g}" not in page.page.locator("body").inner_text()
        r = page.js(f"explorer.answer({engine['w1']!r})")
        assert r["accepted"] is True and r["counted"] is False
    assert r["product"] == (f"∂C/∂w1 = ∂C/∂O · ∂O/∂w1\n      = 2(O − O_des) · i\n"
                            f"      = {dC_dO:.4g} · {i:.4g}\n      = {engine['w1']:.4g}")
    assert r["product"] in page.page.locator("#learn-result").text_content()
    assert page.js("explorer.score().text") == f"{1 + right} of 2 on the first try"
    shown = page.js("explorer.current().grads")  # the step revealed: the engine's gradients
    assert page.page.locator("#ask-form").is_hidden() and page.page.locator("#inspector .total").is_visible()
    assert shown["w1"] == engine["w1"] and shown["b1"] == engine["b1"]
    page.clean()


def test_predict_mode_from_the_keyboard_refuses_twice_then_shows(browser, dot, tmp_path):
    path = _write(tmp_path, ["--model", "two-neuron", "--x", "2", "--y", "1"])
    net = two_neuron(seed=0)
    O = net(2.0)
    dC_dO = 2 * (O.data - 1.0)
    page = Page(browser, path).ready()
    page.page.keyboard.press("p")  # predict mode from the keyboard
    page.page.keyboard.press("ArrowRight")  # the forward pass is shown, not asked
    page.page.keyboard.press("ArrowRight")
    page.page.keyboard.press("ArrowRight")  # the first backward step: asked, not revealed
    assert page.page.locator("#ask-q").text_content() == "∂C/∂O = ?"
    assert page.js("explorer.current().grads") == {}
    text = page.page.locator("body").inner_text()  # the answer nowhere: banner, views, edge labels, inspector
    assert f"{dC_dO:.4g}" not in text and "…" in page.page.locator('#graph-box g.edge text').all_text_contents()[-1]
    hint = page.js("explorer.answer('what?')")  # not a number: a hint, no penalty
    assert hint["accepted"] is False and hint["counted"] is False and "2(O − O_des)" in hint["hint"]
    assert page.js("explorer.score().answered") == 0
    page.page.keyboard.type(repr(dC_dO * 1.02))  # 2% off: refused, a second try
    page.page.keyboard.press("Enter")
    assert page.js("explorer.score()")["text"] == "0 of 1 on the first try"
    assert "O" not in page.js("explorer.current().grads") and f"{dC_dO:.4g}" not in page.page.locator("body").inner_text()
    wrong = page.js(f"explorer.answer({dC_dO * 1.02!r})")  # refused again: now shown
    assert wrong["accepted"] is False and wrong["counted"] is False
    assert wrong["product"] == f"∂C/∂O = 2(O − O_des)\n      = {dC_dO:.4g}"
    assert page.js("explorer.score()")["text"] == "0 of 1 on the first try"
    assert page.js("explorer.current().grads")["O"] == dC_dO  # revealed
    page.clean()


def test_predict_mode_jumps_ask_before_they_reveal_and_escape_gives_the_keys_back(browser, dot, tmp_path):
    """b (to the backward pass), a layer at a time and play ask the gradients they would reveal."""
    path = _write(tmp_path, ["--model", "two-neuron", "--x", "2", "--y", "1"])
    O = two_neuron(seed=0)(2.0)
    dC_dO = 2 * (O.data - 1.0)
    page = Page(browser, path).ready()
    page.page.keyboard.press("p")
    page.page.keyboard.press("b")  # the backward pass: its first question, not its answer
    assert page.page.locator("#ask-q").text_content() == "∂C/∂O = ?"
    assert page.js("explorer.current().grads") == {}
    assert f"{dC_dO:.4g}" not in page.page.locator("body").inner_text()
    page.page.keyboard.press("Escape")  # out of the answer box: the page's keys work again
    page.page.keyboard.press("End")  # an explicit jump: it shows, and the question is no longer asked
    assert page.js("explorer.current().step") == page.js("explorer.steps")
    assert page.page.locator("#ask-form").is_hidden() and "not revealed yet" not in page.page.locator("#current").text_content()
    page.page.keyboard.press("b")  # still open: asked again
    assert page.page.locator("#ask-q").text_content() == "∂C/∂O = ?" and page.js("explorer.current().grads") == {}
    for _ in range(5):  # every question shown: b goes to the backward pass's first step, as outside predict mode
        if page.page.locator("#ask-form").is_visible():
            page.page.locator("#ask-show").click()
        else:
            page.js("explorer.step()")
    page.page.keyboard.press("Home")
    page.page.keyboard.press("b")
    assert page.js("explorer.current().step") == page.js("explorer.data.forward.length") + 1
    assert page.page.locator("#ask-form").is_hidden()
    page.clean()

    page = Page(browser, path).ready()  # an SGD step in predict mode: its first pass plays, and stops at a question
    page.page.keyboard.press("p")
    page.js("explorer.sgdStep()")
    page.page.wait_for_function("document.getElementById('ask-form').hidden === false", timeout=15000)
    assert page.page.locator("#ask-q").text_content() == "∂C/∂O = ?" and page.js("explorer.current().grads") == {}
    page.clean()

    path = _write(tmp_path, ["--hidden", "3", "--x", "2", "--y", "1"])
    page = Page(browser, path).ready()
    page.js("explorer.grain('layer')")
    page.page.keyboard.press("p")
    presses = 0
    while page.page.locator("#ask-form").is_hidden() and presses < 40:
        page.page.keyboard.press("ArrowRight")  # a layer at a time through the forward pass, which asks nothing
        presses += 1
    assert presses == page.js("explorer.data.stops.filter((s) => s.phase === 'forward').length") + 1
    assert page.page.locator("#ask-q").text_content() == "∂C/∂O = ?" and page.js("explorer.current().grads") == {}
    page.page.keyboard.press("Escape")
    page.page.keyboard.press("PageDown")  # a layer further: refused while a question is open
    assert page.js("explorer.current().grads") == {} and "first" in page.page.locator("#learn-result").text_content()
    page.js("explorer.answer(%r)" % (2 * (two_hidden_layers(hidden=3, seed=0)(2.0).data - 1.0)))
    page.page.keyboard.press("PageDown")  # the next layer's first question
    assert page.page.locator("#ask-form").is_visible() and set(page.js("explorer.current().grads")) == {"C", "O"}
    page.clean()


def test_predict_accepts_within_half_a_percent_and_fractions(browser, dot, tmp_path):
    path = _write(tmp_path, ["--hidden", "2", "--x", "2", "--y", "1"])
    net = two_hidden_layers(hidden=2, seed=0)
    C = squared_error(net(2.0), 1.0)
    truth, n = _engine_grads(C)
    page = Page(browser, path).ready()
    page.js("explorer.mode('predict')")
    page.js("explorer.goto(%d)" % (page.js("explorer.steps") - n))
    nxt = "() => { for (let i = 0; i < 50 && document.getElementById('ask-form').hidden; i++) explorer.step(); }"
    page.js(nxt)
    g = truth[_asked(page)]
    assert page.js(f"explorer.answer('{2 * g!r}/2')")["accepted"] is True  # a fraction
    page.js(nxt)
    g = truth[_asked(page)]
    assert page.js(f"explorer.answer({g * 1.004!r})")["accepted"] is True  # 0.4% off: within 0.5%
    page.js(nxt)
    g = truth[_asked(page)]
    assert page.js(f"explorer.answer({g * 1.006!r})")["accepted"] is (g == 0)  # a second try, or the next
    page.js(nxt)
    asked = page.js("explorer.factor()")  # one factor of the question, e.g. ∂H2[1]/∂z2[1]
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
    nodes, steps = zip(*((s.node, s.grad) for s in backward_steps(C)))  # (one pass: a leaf's grad adds up over passes)
    path = tmp_path_factory.mktemp("learn") / "h100.html"
    explore(C).save(path)
    return net, nodes, steps, path


def _handout_questions(nodes, selected=None):
    """The questions the handout net's page should ask, by the rule its help states, with the
    engine's answers: before each step, the gradients it completes (of the nodes whose last child
    is the step's node), but not one that is a number on the page already (one edge whose local
    derivative is ±1); of a kind with more than 3 (w2[j][0..99]) the one selected, else the largest."""
    step = {v: s for s, v in enumerate(nodes)}
    children = {}
    for v in nodes:
        for k, p in enumerate(v.parents):
            children.setdefault(p, []).append((v, k))
    completes = {}
    for u, edges in children.items():
        if u.label != "i":
            completes.setdefault(max(step[c] for c, _ in edges), []).append(u)
    asked = []
    for s, v in enumerate(nodes):
        kinds = {}
        for u in sorted(completes.get(s, ()), key=lambda u: next(k for k, p in enumerate(v.parents) if p is u)):
            edges = children[u]
            if len(edges) == 1 and abs(Edge(*edges[0]).local) == 1.0:
                continue
            kinds.setdefault(u.label.split("[")[0], []).append(u)
        few = [u for us in kinds.values() if len(us) <= 3 for u in us]
        many = [next((u for u in us if u.label == selected), max(us, key=lambda u: abs(u.grad)))
                for us in kinds.values() if len(us) > 3]
        asked += [(name(u), u.grad) for u in few + many]
    return asked


@pytest.mark.slow
def test_dead_paths_skipped_in_one_action_on_the_handout_net(browser, handout):
    net, nodes, steps, path = handout
    asked = _handout_questions(nodes)
    zero = sum(g == 0.0 for _, g in asked)
    assert zero > 0 and len(asked) - zero > 0
    page = Page(browser, path).ready()
    page.js("explorer.mode('predict')")
    page.js("explorer.goto(explorer.steps - %d)" % len(steps))
    assert page.page.locator("#skip-dead").text_content() == f"skip the {zero} dead paths"
    assert page.js("explorer.skipDead()") == zero  # one action
    seen = page.js("""(g) => { const seen = [], form = document.getElementById('ask-form');
        for (let s = 0; s < 5000 && explorer.current().step < explorer.steps; s++) {
          if (form.hidden) { explorer.step(); continue; }
          const q = document.getElementById('ask-q').textContent.slice(4, -4);
          seen.push(q); explorer.answer(g[q]);
        } return seen; }""", dict(asked))
    assert seen == [n for n, g in asked if g != 0.0]  # every live question asked, in order; no dead one
    assert page.js("explorer.score().text") == f"{len(seen)} of {len(seen)} on the first try · {zero} dead paths skipped"
    assert page.js("explorer.current().grads")["b3"] == dict(net.named_parameters())["b3"].grad
    page.clean()


@pytest.mark.slow
def test_handout_net_asks_the_weight_selected_of_a_neurons_100(browser, handout):
    net, nodes, steps, path = handout
    params = dict(net.named_parameters())
    order = [name(v) for v in nodes]
    last = max(order.index(f"z2[{j}]") for j in range(100))  # the last z2 step also completes ∂C/∂H1
    j = next(j for j in range(100) if params[f"b2[{j}]"].grad != 0.0 and order.index(f"z2[{j}]") != last)
    weights = [params[f"w2[{j}][{k}]"] for k in range(100)]
    top = max(weights, key=lambda w: abs(w.grad))
    chosen = next(w for w in weights if w.grad != 0.0 and w is not top)  # not the page's default
    page = Page(browser, path, size=(1440, 900)).ready()
    page.js("explorer.mode('predict')")
    page.js(f"explorer.select({chosen.label!r})")
    page.js("explorer.goto(explorer.steps - %d + %d)" % (len(steps), order.index(f"z2[{j}]")))
    page.js("explorer.step()")
    assert _asked(page) == chosen.label  # the weight selected in the inspector, of the step's 100 (b2[j]: ∂C/∂z2[j] · 1)
    assert f"{chosen.grad:.4g}" not in page.page.locator("body").inner_text()
    assert page.js("explorer.factor()") == f"∂z2[{j}]/∂{chosen.label}"
    assert page.js("explorer.answer(1e9)")["counted"] is False  # a wrong factor is not scored
    assert page.js(f"explorer.answer({chosen.grad * 1.01!r})")["accepted"] is False
    page2 = Page(page.context.browser, path).ready()  # a fresh look at the same step: the right answer accepted
    page2.js("explorer.mode('predict')")
    page2.js(f"explorer.select({chosen.label!r})")
    page2.js("explorer.goto(explorer.steps - %d + %d)" % (len(steps), order.index(f"z2[{j}]")))
    r = page2.js(f"explorer.answer({chosen.grad!r})")
    assert r["accepted"] is True, r
    assert r["question"] == f"∂C/∂{chosen.label}" and r["product"].endswith(f"= {chosen.grad:.4g}")
    assert page2.js("explorer.current().grads")[chosen.label] == chosen.grad  # the step revealed
    assert "other 99 of w2" in page2.page.locator("#learn-result").text_content()
    page.clean()
    page2.clean()


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
    r = page.js("explorer.nudge('b1', -0.5)")  # a scripted nudge shows in the panel too, the slider with it
    assert page.page.locator("#nudge-out").text_content().startswith(f"b1 = {r['w']:.7g},  Δw = -0.5")
    assert page.js("Number(document.getElementById('nudge-slider').value)") == -0.5
    page.page.locator("#nudge-dw").fill("0.25")  # Δw typed: the slider follows
    assert page.js("Number(document.getElementById('nudge-slider').value)") == 0.25
    sgd = page.js("explorer.sgdStep()")
    for label, p in net.named_parameters():
        p.data -= 0.01 * grads[label]
    assert _rel(sgd["C1"], squared_error(net(2.0), 1.0).data) <= 1e-12
    # refused: a step that overflows, a forward that leaves the finite range, not a parameter
    assert "not a finite step" in page.js("explorer.nudge('w1', 1e308 * 10)")["error"]
    assert "finite range" in page.js("explorer.nudge('w1', 1e300)")["error"]
    assert "not a parameter" in page.js("explorer.nudge('O', 1)")["error"]
    page.clean()


@pytest.mark.slow
def test_nudge_a_weight_of_the_handout_net(browser, handout):
    net, nodes, _, path = handout  # backward_steps() left every grad as backward() does
    C = nodes[0]  # the first step is the cost's
    params = dict(net.named_parameters())
    live = [n for n in ("w2[3][7]", "w1[0]", "w3[5]", "b2[10]") if params[n].grad != 0.0]
    assert live
    page = Page(browser, path).ready()
    for label in live:
        r = page.js(f"explorer.nudge({label!r}, 1e-4)")
        assert _rel(r["predicted"], params[label].grad * 1e-4) <= 1e-9, label
        assert _rel(r["actual"], _cost_at(net, 2.0, 1.0, label, 1e-4) - C.data) <= 1e-9, label
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
