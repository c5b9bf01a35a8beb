"""The explorer page in a real browser: headless Chromium (Debian's package) driven by Playwright.

Every request but the page's own file is blocked and counted; any console error or page
error fails the test.  In CI these tests run (the ``browser`` fixture fails, not skips,
when Chromium or Playwright is missing).
"""
import math
import re

import pytest

from micrograd_ws import SGD, Value, explore, squared_error, two_hidden_layers, two_neuron
from micrograd_ws.cli import main
from offline import OfflinePage


class Page(OfflinePage):
    """A loaded explorer page, with the errors and the outside requests it caused."""

    def __init__(self, browser, path, hash="#0", size=(1400, 900), **context):
        """``hash``: the step to open on; "#0" opens still at the start, "" as a viewer does (the first pass plays)."""
        super().__init__(browser, path.resolve().as_uri() + hash, size, **context)

    def ready(self):
        self.page.wait_for_function("window.explorer !== undefined")
        self.page.evaluate("explorer.loaded.then(() => true)")
        return self

    def clean(self):
        assert self.errors == [] and self.blocked == []
        self.context.close()


    def out_of_sight(self):
        """The controls of the bar and of the side panel that a viewer cannot see without scrolling:
        below the window, or outside a box that scrolls."""
        return self.js("""() => [...document.querySelectorAll('#bar button, #bar input, #side input, #side button, #side canvas')]
          .filter((e) => e.offsetParent).filter((e) => {
            const r = e.getBoundingClientRect();
            if (r.bottom > innerHeight || r.right > innerWidth) return true;
            for (let p = e.parentElement; p; p = p.parentElement) {
              const q = p.getBoundingClientRect();
              if (getComputedStyle(p).overflowY !== 'visible' && (r.bottom > q.bottom + 1 || r.top < q.top - 1)) return true;
            }
            return false; }).map((e) => e.id || e.textContent)""")


def _write(tmp_path, argv):
    out = tmp_path / "page.html"
    assert main(["explore", *argv, "--out", str(out)]) == 0
    return out


def _grads(net, x, y):
    C = squared_error(net(x), y)
    C.backward()
    return {n: p.grad for n, p in net.named_parameters()}, C


def _shown_number(text):
    return float(text.split()[-1])


def test_two_neuron_page_steps_to_the_engines_gradients(browser, dot, tmp_path):
    path = _write(tmp_path, ["--model", "two-neuron", "--x", "2", "--y", "1"])
    engine, C = _grads(two_neuron(seed=0), 2.0, 1.0)
    page = Page(browser, path).ready()
    steps = page.js("explorer.steps")
    assert steps == 4
    assert page.js("explorer.current().grads") == {}  # nothing before the backward pass

    def data_shown(name):
        texts = page.page.locator(f'#graph-box g.node[data-name="{name}"] text').all_text_contents()
        return next(t for t in texts if t.startswith("data "))

    def edge_label(parent):  # the last line of the label on the edge from `parent`
        node_id = page.page.locator(f'#graph-box g.node[data-name="{parent}"]').get_attribute("id")
        return page.page.locator(f'#graph-box g.edge[id^="{node_id}-"] text').all_text_contents()[-1]

    page.js("explorer.goto(1)")  # forward, engine order: O first, C not yet
    assert page.js("explorer.current().node") == "O" and data_shown("C") == "data …"
    # before the backward pass crosses them, the local derivatives keep their formulas, no number
    assert (edge_label("w1"), edge_label("b1"), edge_label("i")) == ("= i = …", "= …", "= w1 = …")
    assert data_shown("O") == f"data {float(f'{C.parents[0].data:.4g}'):g}"
    page.js("explorer.goto(2)")
    assert data_shown("C") == f"data {float(f'{C.data:.4g}'):g}"
    page.js(f"explorer.goto({steps})")
    assert (edge_label("w1"), edge_label("b1"), edge_label("i")) == ("= i = 2", "= 1", f"= w1 = {float(f'{C.parents[0].parents[0].data:.4g}'):g}")
    shown = page.js("explorer.current().grads")
    assert {n: shown[n] for n in engine} == engine
    assert shown["C"] == 1.0
    for name, g in engine.items():  # what the graph view prints, to its 4 digits
        text = page.page.locator(f'#graph-box g.node[data-name="{name}"] text').all_text_contents()
        assert float(next(t for t in text if t.startswith("grad ")).split()[1]) == float(f"{g:.4g}")
    text = page.js("explorer.select('w1')")
    assert "∂C/∂w1 = ∂C/∂O · ∂O/∂w1" in text
    assert math.isclose(_total(text), engine["w1"], rel_tol=1e-11)
    assert page.page.locator("#inspector math").count() == 1
    page.clean()


def _total(text):
    """The last '= number' row of the explanation: its total, to 12 digits."""
    return float([line for line in text.splitlines() if line.strip().startswith("= ")][-1].split("=")[-1])


@pytest.fixture(scope="module")
def handout_page(tmp_path_factory):
    """The h = 100 handout net's page, as the Must-show command writes it."""
    out = tmp_path_factory.mktemp("h100") / "page.html"
    assert main(["explore", "--model", "mlp", "--hidden", "100", "--x", "2", "--y", "1", "--out", str(out)]) == 0
    return out


@pytest.mark.slow
def test_handout_net_page_gradients_and_the_chain_rule_of_w2_3_7(browser, handout_page, tmp_path):
    assert handout_page.stat().st_size < 4_500_000  # the size budget (about 1.4 MB of it the engine's 3 SGD steps with both passes)
    net = two_hidden_layers(hidden=100, seed=0)
    engine, C = _grads(net, 2.0, 1.0)
    page = Page(browser, handout_page).ready()
    assert page.js("explorer.view") == "network"  # 10,804 nodes: the network view first
    steepest = max(engine, key=lambda n: abs(engine[n]))  # the graph view: the paths of the one that moves C most
    assert page.page.locator(f'#graph-box g.node[data-name="{steepest}"]').count() == 1
    assert page.page.locator("#inspector h2").text_content() == steepest
    assert page.js("explorer.steps") == 804
    page.js("explorer.goto(402 + 1)")  # C's step: ∂C/∂O arrives
    assert page.js("explorer.current()")["node"] == "C"
    page.js("explorer.goto(explorer.steps)")
    shown = page.js("explorer.current().grads")
    assert {n: shown[n] for n in engine} == engine
    text = page.js("explorer.select('w2[3][7]')")
    assert "∂C/∂w2[3][7] = ∂C/∂O · ∂O/∂H2[3] · ∂H2[3]/∂z2[3] · ∂z2[3]/∂w2[3][7]" in text
    assert math.isclose(_total(text), engine["w2[3][7]"], rel_tol=1e-11, abs_tol=1e-300)
    text = page.js("explorer.select('w1[0]')")  # 100 paths, the dead ones folded
    assert "Σ_j" in text and math.isclose(_total(text), engine["w1[0]"], rel_tol=1e-11)
    page.page.screenshot(path=str(tmp_path / "network.png"))
    assert (tmp_path / "network.png").read_bytes()[:4] == b"\x89PNG"
    page.clean()


def test_keyboard_and_url_hash_navigation(browser, dot, tmp_path):
    path = _write(tmp_path, ["--hidden", "2"])
    page = Page(browser, path, hash="#5").ready()
    n = page.js("explorer.steps")
    assert page.js("explorer.current().step") == 5
    keys = page.page.keyboard
    assert page.js("explorer.current().grain") == "layer"  # an MLP with layers: → steps a layer at a time
    keys.press("l")  # node by node
    keys.press("ArrowRight")
    assert page.js("explorer.current().step") == 6 and page.js("location.hash") == "#6"
    keys.press("ArrowLeft")
    keys.press("ArrowLeft")
    assert page.js("explorer.current().step") == 4
    keys.press("End")
    assert page.js("explorer.current().step") == n and page.js("location.hash") == f"#{n}"
    keys.press("Home")
    assert page.js("explorer.current()")["phase"] == "start"
    page.js("location.hash = '#12'")
    page.page.wait_for_function("explorer.current().step === 12")
    keys.press(" ")  # play
    page.page.wait_for_function("explorer.current().step > 12")
    keys.press(" ")  # pause
    stopped = page.js("explorer.current().step")
    page.page.wait_for_timeout(800)
    assert page.js("explorer.current().step") == stopped
    assert page.js("explorer.goto(10 ** 6)") == n and page.js("explorer.back()") == n - 1
    page.clean()


def test_network_view_hover_click_and_paths(browser, dot, tmp_path):
    path = _write(tmp_path, ["--hidden", "4"])
    page = Page(browser, path).ready()
    page.js("explorer.showView('network')")
    ringed = "() => [...document.querySelectorAll('#neurons circle.current')].map((c) => c.dataset.name)"
    page.js("explorer.goto(0)")
    assert page.js(ringed) == []  # no step yet: nothing is the current node (the input and C neither)
    page.js("explorer.gotoStop(0)")  # the first layer: its z1 and H1, not i or C
    assert page.js(ringed) and all(n.startswith(("z1", "H1")) for n in page.js(ringed)), page.js(ringed)
    page.js("explorer.goto(explorer.steps)")
    circle = page.page.locator('#neurons circle[data-name="H1[0]"]')
    circle.hover()
    tip = page.page.locator("#tooltip").text_content()
    assert tip.startswith("H1[0]\ndata ") and "grad " in tip
    circle.click()
    assert page.page.locator("#inspector h2").text_content() == "H1[0]"
    text = page.js("explorer.select('w1[0]')")
    page.js("explorer.showView('graph')")
    page.page.locator("#paths").check()
    lit = page.js("[...document.querySelectorAll('#graph-box g.node.on-path')].map(e => e.dataset.name)")
    net = two_hidden_layers(hidden=4, seed=0)
    _, C = _grads(net, 2.0, 1.0)
    from micrograd_ws.paths import Analysis, name
    a = Analysis(C, dict(net.named_parameters())["w1[0]"])
    assert sorted(lit) == sorted(name(v) for v in a.nodes if v in a.live)
    assert "w1[0]" in text
    page.page.screenshot(path=str(tmp_path / "paths.png"))
    page.clean()


def test_labels_with_markup_stay_text(browser, dot, tmp_path):
    evil = '<img src=x onerror="window.pwned=1">'
    a, b = Value(1.5, evil), Value(-2.0, '</script><script>window.pwned=2</script>')
    c = Value(0.5, '"∂é漢\'')
    y = a * b + c
    y.label = "y"
    y.backward()
    path = tmp_path / "evil.html"
    explore(y, evil).save(path)
    page = Page(browser, path).ready()
    assert page.js("window.pwned") is None
    names = page.js("[...document.querySelectorAll('#graph-box [data-name]')].map(e => e.dataset.name)")
    assert set(names) >= {evil, '</script><script>window.pwned=2</script>', '"∂é漢\''}
    assert evil in page.js(f"explorer.select({evil!r})")
    assert page.page.locator("#inspector h2").text_content() == evil
    page.clean()


def test_jupyter_output_runs_and_falls_back_without_scripts(browser, dot, tmp_path):
    C = squared_error(two_neuron(seed=0)(2.0), 1.0)
    C.backward()
    cell = explore(C, "w1")._repr_html_()
    path = tmp_path / "cell.html"
    path.write_text(f"<!DOCTYPE html><html><body>{cell}</body></html>", encoding="utf-8")
    page = Page(browser, path)
    page.page.wait_for_function("document.querySelector('.mgws-static').style.display === 'none'")
    frame = page.page.frames[1]
    frame.wait_for_function("window.explorer !== undefined")
    assert frame.evaluate("explorer.steps") == 4
    page.clean()
    still = Page(browser, path, java_script_enabled=False)  # an untrusted notebook, GitHub
    assert still.page.locator(".mgws-static").is_visible()
    assert "∂C/∂w1" in still.page.locator(".mgws-static pre").text_content()
    assert still.page.locator(".mgws-static svg").count() == 1
    still.clean()


def test_graph_view_without_dot_says_how_to_install_and_network_works(browser, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    path = _write(tmp_path, ["--hidden", "2"])
    page = Page(browser, path).ready()
    assert page.js("explorer.view") == "network"
    assert "Install Graphviz" in page.page.locator("#graph-message").text_content()
    page.js("explorer.goto(explorer.steps)")
    assert page.page.locator("#neurons circle").count() == 1 + 2 + 2 + 1 + 1
    page.clean()


@pytest.mark.slow
def test_handout_page_opens_alive_and_steps_a_layer_at_a_time(browser, handout_page):
    """make demo's page: a nonzero gradient selected, the network view, the first pass playing;
    then from the start, the handout's columns: the first backward step in at most 8 presses."""
    net = two_hidden_layers(hidden=100, seed=0)
    engine, C = _grads(net, 2.0, 1.0)
    page = Page(browser, handout_page, hash="", size=(1920, 1080)).ready()
    assert page.js("explorer.view") == "network"
    selected = page.page.locator("#inspector h2").text_content()
    assert selected == max(engine, key=lambda n: abs(engine[n])) and engine[selected] != 0.0
    assert page.js("explorer.playingFirstPass")  # it moves on its own ...
    page.page.wait_for_function("explorer.current().layer >= 2")
    page.page.keyboard.press("Home")  # ... until a key is pressed
    assert not page.js("explorer.playingFirstPass") and page.js("explorer.current().step") == 0
    presses = 0
    while page.js("explorer.current().phase") != "backward":
        page.page.keyboard.press("ArrowRight")
        presses += 1
        assert presses <= 8
    banner = page.page.locator("#current").text_content()
    assert "∂C/∂O" in banner and f"{C.parents[0].grad:.4g}" in banner
    seen = []
    page.page.keyboard.press("Home")
    for _ in range(page.js("explorer.stops")):  # each column of h numbers, with the handout's shapes
        page.page.keyboard.press("ArrowRight")
        seen.append(page.page.locator("#current").text_content())
    assert [t.split(":")[0].split("· ")[-1] for t in seen[:6]] == [
        "Forward, z1 [h×1]  (h = 100)", "Forward, H1 [h×1]  (h = 100)", "Forward, z2 [h×1]  (h = 100)",
        "Forward, H2 [h×1]  (h = 100)", "Forward, O [1×1]", "Forward, C [1×1]"]
    assert any("∂C/∂w2 [h×h]" in t for t in seen) and any("∂C/∂w3 [h×1]" in t for t in seen)
    assert page.js("explorer.current().grads") == {**page.js("explorer.current().grads"), **engine}
    page.page.keyboard.press("b")  # the backward pass in one key
    assert page.js("explorer.current().phase") == "backward"
    page.js(f"explorer.select({selected!r})")
    page.page.locator("#goto-step").click()  # its own step: the one that completes its gradient
    assert page.js("explorer.current().grads")[selected] == engine[selected]
    assert page.js("explorer.back()") and selected not in page.js("explorer.current().grads")
    page.clean()


def test_two_neuron_page_opens_on_w1_in_the_graph_and_plays(browser, dot, tmp_path):
    path = _write(tmp_path, ["--model", "two-neuron", "--x", "2", "--y", "1"])
    engine, C = _grads(two_neuron(seed=0), 2.0, 1.0)
    page = Page(browser, path, hash="", size=(1280, 720)).ready()
    assert page.js("explorer.view") == "graph"
    assert page.page.locator("#inspector h2").text_content() == "w1" and engine["w1"] != 0.0
    page.page.wait_for_function("explorer.current().step === explorer.steps && !explorer.playingFirstPass")
    assert page.js("explorer.current().grads") == {**engine, "O": C.parents[0].grad, "C": 1.0, "i": 0.6888437030500962 * C.parents[0].grad}
    assert f"{C.data:.4g}" not in page.page.title()  # C's value waits for C to be computed
    page.clean()


def test_present_mode_type_for_a_wall(browser, dot, tmp_path):
    path = _write(tmp_path, ["--model", "two-neuron", "--x", "2", "--y", "1"])
    page = Page(browser, path, size=(1920, 1080)).ready()
    normal = page.js("parseFloat(getComputedStyle(document.getElementById('current')).fontSize)")
    page.page.keyboard.press("f")
    page.js("explorer.goto(explorer.steps)")
    size = lambda sel: page.js(f"parseFloat(getComputedStyle(document.querySelector({sel!r})).fontSize)")  # noqa: E731
    assert size("#current") >= 28 and size("#inspector") >= 28 and size("#inspector .meta") >= 28 > normal
    texts = page.js("""[...document.querySelectorAll('#graph-box text')].filter(t => t.textContent.trim())
        .map(t => [parseFloat(getComputedStyle(t).fontSize), t.getBoundingClientRect().height])""")
    assert min(f for f, _ in texts) >= 16 and min(h for _, h in texts) >= 16  # as styled, and as drawn
    fill = page.js("""(() => { const b = document.getElementById('graph-box').getBoundingClientRect(),
        g = document.querySelector('#graph-box svg g').getBoundingClientRect(); return g.width / b.width; })()""")
    assert fill > 0.9
    page.page.set_viewport_size({"width": 3840, "height": 2160})
    assert size("#current") > 1.8 * 28  # it scales with the window
    page.clean()


@pytest.mark.parametrize("model", [["--model", "two-neuron"], ["--hidden", "3"]])
def test_three_sgd_steps_of_the_page_are_the_engines(browser, dot, tmp_path, model):
    path = _write(tmp_path, [*model, "--x", "2", "--y", "1"])
    net = two_neuron(seed=0) if "two-neuron" in model else two_hidden_layers(hidden=3, seed=0)
    opt = SGD(net.parameters(), lr=0.01)
    page = Page(browser, path).ready()
    costs = [page.js("explorer.current().C")]
    for _ in range(3):
        net.zero_grad()
        squared_error(net(2.0), 1.0).backward()
        opt.step()
        page.page.locator("#sgd-bar").click()
        shown = page.js("explorer.params()")
        assert shown.keys() == dict(net.named_parameters()).keys()
        assert max(abs(shown[n] - p.data) for n, p in net.named_parameters()) <= 1e-12
        costs.append(page.js("explorer.current().C"))
        assert costs[-1] == squared_error(net(2.0), 1.0).data < costs[-2]  # C falls on each
    text = page.page.locator("#sgd-out").text_content()
    assert " → ".join(f"{c:.4g}" for c in costs) in text and "← " in text and "α·∂C/∂" in text
    page.page.wait_for_function("explorer.current().step === explorer.steps && !explorer.playingFirstPass")
    net.zero_grad()
    squared_error(net(2.0), 1.0).backward()  # both passes again at the new weights: their gradients on the page
    grads = page.js("explorer.current().grads")
    assert {n: grads[n] for n, _ in net.named_parameters()} == {n: p.grad for n, p in net.named_parameters()}
    page.clean()


def test_no_answer_is_visible_while_it_is_asked(browser, dot, tmp_path):
    """Every question of the h = 3 page, in turn: its answer (4 significant digits) nowhere in the page's text."""
    path = _write(tmp_path, ["--hidden", "3", "--x", "2", "--y", "1"])
    page = Page(browser, path).ready()
    page.js("explorer.mode('predict')")
    page.js("explorer.select('w2[1][2]')")
    asked = 0
    for _ in range(200):
        if page.js("document.getElementById('ask-form').hidden"):
            if page.js("explorer.current().step") >= page.js("explorer.steps"):
                break
            page.js("explorer.step()")
            continue
        q = page.js("document.getElementById('ask-q').textContent")
        value = page.js("""(q) => { for (const p of explorer.data.predict) for (const a of [...p.asks, ...(p.picks || []).flat()])
            if (a.q + ' = ?' === q) return a.value; }""", q)
        text = page.page.locator("body").inner_text() + page.page.title()  # (the network view: its neurons' numbers)
        page.js("explorer.showView('graph')")
        text += page.page.locator("body").inner_text()
        for node in page.page.locator("#graph-box g.node").all()[:40]:  # tooltips too
            node.hover()
            text += page.page.locator("#tooltip").inner_text()
        page.js("explorer.showView('network')")
        if value != 0.0:  # as a number of its own (-0.25 is not in -0.2519)
            numbers = set(re.findall(r"[-−]?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text.replace("−", "-")))
            assert f"{value:.4g}" not in numbers and f"{float(f'{value:.4g}'):g}" not in numbers, q
        asked += 1
        page.js(f"explorer.answer({value!r})")
    assert asked >= 5 and page.js("explorer.score().right") == asked
    page.clean()


def test_a_graph_that_is_not_an_mlp_has_no_network_tab_to_break(browser, dot, tmp_path):
    # issue 25, 12: the network tab threw a TypeError on every non-MLP page; 9 and 10: a title of
    # placeholders, and lone surrogates in a label, are text like any other
    a, b = Value(1.5, "a\ud800"), Value(-2.0, "{{script}}")
    y = (a * b).tanh()
    y.label = "y"
    y.backward()
    path = tmp_path / "plain.html"
    explore(y, title="{{style}} {{data}} {{script}}").save(path)
    source = path.read_text(encoding="utf-8")
    assert "<title>{{style}} {{data}} {{script}}</title>" in source  # filled in once, never read again
    page = Page(browser, path).ready()
    assert page.js("document.getElementById('tab-network').disabled") is True
    page.js("explorer.showView ? explorer.showView('network') : document.getElementById('tab-network').click()")
    page.page.locator("#tab-network").dispatch_event("click")
    assert page.js("explorer.view") == "graph"
    assert "a\ufffd" in page.js("explorer.data.names")
    page.clean()  # no console errors, no requests
