"""The explorer page in a classroom: what the learner selects is what the views show, the plots and
the banner stay readable from the back of the room, and the wording follows the handout.

Headless Chromium (Debian's package) driven by Playwright, every request but the page's own file
blocked, any console error failing the test (tests/offline.py).  The numbers the page should show
come from the engine here, never from the page's own data.
"""
import math
import re

import pytest

from micrograd_ws import SGD, explore, squared_error, two_hidden_layers, two_neuron, viz
from micrograd_ws.paths import Edge, name
from offline import OfflinePage

SIZES = [(1280, 720), (1024, 768), (1920, 1080)]

# every 2D-canvas path and text drawn, with the canvas it was drawn on (the plots' geometry, as drawn)
CANVAS_LOG = """(() => {
  const P = CanvasRenderingContext2D.prototype, log = [];
  window.__canvasLog = log;
  let path = [];
  const wrap = (n, f) => { const o = P[n]; P[n] = function (...a) { f(this, a); return o.apply(this, a); }; };
  wrap("beginPath", () => { path = []; });
  wrap("moveTo", (c, a) => path.push(["M", a[0], a[1]]));
  wrap("lineTo", (c, a) => path.push(["L", a[0], a[1]]));
  wrap("arc", (c, a) => path.push(["A", a[0], a[1], a[2]]));
  const drawn = (kind, s) => (c) => log.push({ kind, canvas: c.canvas.id, colour: String(c[s]), path: path.slice() });
  wrap("stroke", drawn("stroke", "strokeStyle"));
  wrap("fill", drawn("fill", "fillStyle"));
  wrap("fillText", (c, a) => { const m = c.measureText(a[0]);
    log.push({ kind: "text", canvas: c.canvas.id, text: a[0], x: a[1], y: a[2], w: m.width,
               up: m.actualBoundingBoxAscent, down: m.actualBoundingBoxDescent, font: c.font }); });
})();"""


class Page(OfflinePage):
    """A loaded explorer page; ``log_canvas``: every canvas path and text drawn is kept in window.__canvasLog."""

    def __init__(self, browser, path, size=(1400, 900), log_canvas=False):
        super().__init__(browser, "about:blank", size)
        if log_canvas:  # (in place before the page's script runs)
            self.page.add_init_script(CANVAS_LOG)
        self.page.goto(path.resolve().as_uri() + "#0")
        self.page.wait_for_function("window.explorer !== undefined")
        self.page.evaluate("explorer.loaded.then(() => true)")

    def clean(self):
        assert self.errors == [] and self.blocked == []
        self.context.close()

    def banner(self):
        return self.page.locator("#current").text_content()


def _net_and_cost(hidden=None, backward=True):
    net = two_neuron(seed=0) if hidden is None else two_hidden_layers(hidden=hidden, seed=0)
    C = squared_error(net(2.0), 1.0)
    if backward:
        C.backward()
    return net, C


def _page(tmp_path, hidden=None, file="page.html"):
    _, C = _net_and_cost(hidden, backward=False)
    path = tmp_path / file
    explore(C).save(path)
    return path


def _n4(x):
    return f"{x:.4g}"


# --- 1. a large net's graph view follows the selection -------------------------------------------

@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """The handout's h = 100 net (10,804 nodes: the graph view draws one parameter's paths)."""
    net, C = _net_and_cost(100)  # (explore leaves the gradients as they are)
    path = tmp_path_factory.mktemp("h100") / "page.html"
    explore(C).save(path)
    return path, net, C


def _drawn(page):
    """The graph view's drawing: its nodes' names, its edges as (parent, child, slot), its edges' last label line."""
    return page.js("""() => {
      const names = explorer.data.names, box = document.getElementById('graph-box');
      const nodes = [...box.querySelectorAll('g.node[data-name]')].map((g) => g.dataset.name);
      const byId = new Map([...box.querySelectorAll('g.node[data-k]')].map((g) => [g.id, names[+g.dataset.k]]));
      const edges = [...box.querySelectorAll('g.edge')].map((g) => {
        const m = /^(n\\d+)-(n\\d+)\\.(\\d+)$/.exec(g.id), t = [...g.querySelectorAll('text')];
        return [byId.get(m[1]), byId.get(m[2]), +m[3], t[t.length - 1].textContent]; });
      const visible = box.getBoundingClientRect().width > 0 && !!box.querySelector('svg');
      return { nodes, edges, text: box.textContent, visible };
    }""")


def _draw_grad(C, w):
    """What viz.draw_grad draws of ∂C/∂w: node names, edges (parent, child, slot), folded nodes' first rows."""
    g = viz.draw_grad(C, w)
    back = {i: v for v, i in g.ids.items()}
    edges = {(name(back[p]), name(back[c]), int(j)) for p, c, j in re.findall(r'id="?(n\d+)-(n\d+)\.(\d+)', g.source)}
    rows = re.findall(r"<B>(\d+ (?:more )?paths?[^<]*)</B>", g.source)
    return {name(v) for v in g.ids}, edges, rows


def _assert_drawing_is_draw_grads(page, C, w):
    shown = _drawn(page)
    nodes, edges, rows = _draw_grad(C, w)
    assert shown["visible"] and set(shown["nodes"]) == nodes, (w, shown["nodes"])
    assert {(p, c, j) for p, c, j, _ in shown["edges"]} == edges
    for row in rows:  # the folded paths: "49 paths contribute 0", "47 more paths, together 0.005724"
        assert row in shown["text"], row
    nodes = {name(v): v for v in _nodes(C)}
    for p, c, j, label in shown["edges"]:  # each edge's local derivative, as the engine has it now
        assert label == f"= {viz.edge_value(Edge(nodes[c], j))}", (p, c, j, label)


def _nodes(C):
    seen, out, stack = set(), [], [C]
    while stack:
        v = stack.pop()
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
            stack.extend(v.parents)
    return out


@pytest.mark.slow
def test_large_graph_view_follows_the_selected_weight(browser, dot, big):
    path, net, C = big
    page = Page(browser, path)
    first = page.page.locator("#inspector h2").text_content()  # the page opens on the steepest parameter
    page.js("explorer.goto(explorer.steps)")
    page.js("explorer.showView('graph')")
    _assert_drawing_is_draw_grads(page, C, first)
    for w in ["w2[3][7]", "w1[0]", "b1[5]", "w3[4]"]:  # one path (all zero), 100 paths folded and summed, ...
        page.js(f"explorer.select({w!r})")
        _assert_drawing_is_draw_grads(page, C, w)
    page.js(f"explorer.select({first!r})")  # back to the first: dot's drawing again
    _assert_drawing_is_draw_grads(page, C, first)

    # a click on a weight's line in the network view selects it, and the graph view follows
    page.js("explorer.showView('network')")
    x, y = page.js("""() => { const r = document.getElementById('neurons').getBoundingClientRect(),
        c = (n) => document.querySelector(`#neurons circle[data-name="${n}"]`),
        a = c('H1[50]'), b = c('H2[50]'), at = (e, xy) => +e.getAttribute(xy);
        return [r.left + (at(a, 'cx') + at(b, 'cx')) / 2, r.top + (at(a, 'cy') + at(b, 'cy')) / 2]; }""")
    page.page.mouse.click(round(x), round(y))
    clicked = page.page.locator("#inspector h2").text_content()
    assert clicked.startswith("w2[") and clicked != first
    page.js("explorer.showView('graph')")
    _assert_drawing_is_draw_grads(page, C, clicked)

    # after an SGD step: the selection is followed still, with the numbers after the step
    page.page.locator("#sgd-bar").click()
    page.js("explorer.goto(explorer.steps)")
    opt = SGD(net.parameters(), lr=0.01)
    opt.step()
    net.zero_grad()
    C2 = squared_error(net(2.0), 1.0)
    C2.backward()
    page.js("explorer.select('w2[3][8]')")
    shown = _drawn(page)
    assert "w2[3][8]" in shown["nodes"]
    nodes = {name(v): v for v in _nodes(C2)}
    for p, c, j, label in shown["edges"]:
        assert label == f"= {viz.edge_value(Edge(nodes[c], j))}", (p, c, j, label)
    page.clean()


# --- 2. the nudge plot's legend is clear of the curves ---------------------------------------------

def _crossings(log, box):
    """How many points of the curves drawn (sampled along each segment, and the dot) fall in ``box``."""
    x0, x1, y0, y1 = box
    n = 0
    for e in log:
        if e["kind"] not in ("stroke", "fill") or e["colour"].lower() not in ("#0072b2", "#e69f00", "#cc79a7"):
            continue
        last = None
        for s in e["path"]:
            if s[0] == "A":
                cx, cy, r = s[1], s[2], s[3]
                n += x0 - r <= cx <= x1 + r and y0 - r <= cy <= y1 + r
                continue
            if s[0] == "L" and last is not None:
                for t in (i / 12 for i in range(13)):
                    px, py = last[0] + t * (s[1] - last[0]), last[1] + t * (s[2] - last[1])
                    n += x0 <= px <= x1 and y0 <= py <= y1
            last = (s[1], s[2])
    return n


@pytest.mark.parametrize("size", SIZES)
def test_nudge_plot_legend_where_no_curve_goes(browser, dot, tmp_path, size):
    path = _page(tmp_path, hidden=3)
    page = Page(browser, path, size, log_canvas=True)
    page.js("explorer.goto(explorer.steps)")
    page.js("explorer.mode('nudge')")
    plot = "document.getElementById('nudge-plot')"
    W, H = page.js(f"[{plot}.clientWidth, {plot}.clientHeight]")
    for w, dw in [("b2[2]", -0.8), ("w2[2][0]", 0.5), ("w3[1]", 0.5), ("w3[1]", -0.05)]:  # rising right, left, flat
        page.js("window.__canvasLog.length = 0")
        assert "error" not in page.js(f"explorer.nudge({w!r}, {dw})")
        log = [e for e in page.js("window.__canvasLog") if e["canvas"] == "nudge-plot"]
        texts = [e for e in log if e["kind"] == "text"]
        legend = [t for t in texts if "actual" in t["text"] or "tangent" in t["text"]]
        assert len(legend) == 2, texts
        for t in texts:  # the title and the legend: on the plot, and no curve through them
            box = (t["x"], t["x"] + t["w"], t["y"] - t["up"], t["y"] + t["down"])
            assert 0 <= box[0] and box[1] <= W and 0 <= box[2] and box[3] <= H, (t["text"], box, W, H)
            assert _crossings(log, box) == 0, (w, dw, t["text"], size)
    page.page.screenshot(path=str(tmp_path / f"nudge-{size[0]}.png"))
    page.clean()


# --- 3. the SGD history stays when the page has no more steps ---------------------------------------

def test_sgd_history_keeps_showing_after_the_last_step(browser, dot, tmp_path):
    path = _page(tmp_path, hidden=3)
    net, C = _net_and_cost(3, backward=False)
    opt = SGD(net.parameters(), lr=0.01)
    costs = [C.data]
    page = Page(browser, path, (1280, 720))
    held = None
    for press in range(12):
        page.page.locator("#sgd-bar").click()
        text = page.page.locator("#sgd-out").text_content()
        if page.js("explorer.sgdSteps") == press:  # refused: the page holds no more steps
            held = press
            break
        net.zero_grad()
        squared_error(net(2.0), 1.0).backward()
        opt.step()
        costs.append(squared_error(net(2.0), 1.0).data)
    assert held == 10
    history = " → ".join(_n4(c) for c in costs)  # C before the steps and after each of the 10
    assert history in text, text
    assert "10 SGD steps" in text  # why there is no 11th, as a note under the history
    assert page.page.locator("#sgd-out").is_visible()
    page.page.keyboard.press("s")  # again, by its key: still the history
    assert history in page.page.locator("#sgd-out").text_content()
    page.clean()


# --- 4. the first backward step as the handout writes it ---------------------------------------------

@pytest.mark.parametrize("hidden", [None, 3])
def test_first_backward_step_reads_as_the_handout(browser, dot, tmp_path, hidden):
    path = _page(tmp_path, hidden)
    _, C = _net_and_cost(hidden)
    O = C.parents[0]
    page = Page(browser, path)
    page.js("explorer.grain('node')")
    F = page.js("explorer.data.forward.length")
    page.js(f"explorer.goto({F + 1})")
    banner = page.banner()
    assert banner.splitlines()[1:] == [f"∂C/∂O = 2(O − O_des) = {_n4(2 * (O.data - 1.0))}"], banner
    assert math.isclose(O.grad, 2 * (O.data - 1.0))
    assert "∂C/∂C" not in banner and "+=" not in banner
    page.js(f"explorer.goto({F + 2})")  # the next steps keep the chain rule's +=
    second = page.banner().splitlines()[1:]
    assert second and all(" += ∂C/∂" in line for line in second if not line.startswith("…")), second
    page.js("explorer.grain('layer')")  # by layer, the cost's column says it the same way
    page.js("explorer.backward()")
    assert "∂C/∂O [1×1] = 2(O − O_des)" in page.banner()
    page.clean()


# --- 5. paths: the selected weight's own line is part of its path -----------------------------------

def test_paths_mode_draws_the_selected_weights_own_line_like_its_path(browser, dot, tmp_path):
    path = _page(tmp_path, hidden=3)
    net, C = _net_and_cost(3)
    params = dict(net.named_parameters())
    page = Page(browser, path, (1920, 1080), log_canvas=True)
    page.js("explorer.goto(explorer.steps)")
    page.js("explorer.showView('network')")
    page.page.locator("#paths").check()

    def own_line(w, frm, to):
        page.js("window.__canvasLog.length = 0")
        page.js(f"explorer.select({w!r})")
        a, b = (page.js(f"""(() => {{ const c = document.querySelector('#neurons circle[data-name="{n}"]');
                                return [+c.getAttribute('cx'), +c.getAttribute('cy')]; }})()""") for n in (frm, to))
        strokes = [e for e in page.js("window.__canvasLog") if e["canvas"] == "weights" and e["kind"] == "stroke"]
        mine = [e["colour"].lower() for e in strokes for s, t in zip(e["path"], e["path"][1:])
                if s[0] == "M" and t[0] == "L" and math.dist(s[1:3], a) < 0.5 and math.dist(t[1:3], b) < 0.5]
        return mine[-1]  # the last drawn is on top

    w = "w2[0][0]"  # H1[0] → z2[0]; its path z2[0] → H2[0] → O → C is live, and its gradient is not 0
    assert params[w].grad != 0.0 and params[w].data > 0
    assert own_line(w, "H1[0]", "H2[0]") == "#0072b2"  # blue, as w > 0: the path's colour, not the grey of a dead line
    path_line = page.js("""(() => { const p = explorer.data.paths[explorer.data.names.indexOf('w2[0][0]')];
                            return p.live.map((k) => explorer.data.names[k]); })()""")
    assert path_line == ["w2[0][0]", "z2[0]", "H2[0]", "O", "C"]
    dead = "w2[0][1]"  # from H1[1], a ReLU that is off: its gradient is 0, its line stays grey
    assert params[dead].grad == 0.0
    assert own_line(dead, "H1[1]", "H2[0]") == "#9a9a9a"
    page.page.screenshot(path=str(tmp_path / "paths.png"))
    page.js("explorer.select('w2[0][0]')")  # the graph view too: its edge into z2[0] on the path
    page.js("explorer.showView('graph')")
    assert page.js("""(() => { const n = (x) => document.querySelector(`#graph-box g.node[data-name="${x}"]`).id;
        return document.getElementById(n('w2[0][0]') + '-' + n('z2[0]') + '.0').classList.contains('on-path'); })()""")
    page.clean()


# --- 6. an SGD step by node: the passes again, node by node -----------------------------------------

@pytest.mark.parametrize("hidden", [None, 3])
def test_sgd_step_by_node_plays_node_by_node(browser, dot, tmp_path, hidden):
    path = _page(tmp_path, hidden)
    page = Page(browser, path, (1280, 720))
    F = page.js("explorer.data.forward.length")
    page.js("explorer.goto(explorer.steps)")
    page.js("explorer.grain('node')")
    page.page.locator("#sgd-bar").click()
    assert page.js("explorer.current().grain") == "node"
    banner, counter = page.banner(), page.page.locator("#counter").text_content()
    assert banner.startswith(f"Forward 1 of {F}:"), banner  # the node grain's words, not "Layer 1 of ..."
    assert "Layer" not in banner and "layer" not in counter and page.js("explorer.current().layer") is None
    page.page.wait_for_function("explorer.current().step >= 2")  # it plays on, a node at a time
    assert page.banner().startswith(("Forward 2 of", "Forward 3 of", "Backward"))
    page.page.keyboard.press("Home")  # a key stops it
    page.js("explorer.grain('layer')")  # by layer, the layer's words (as before)
    page.page.locator("#sgd-bar").click()
    assert page.banner().startswith("Layer 1 of ")
    page.clean()


# --- 7. a banner longer than its box says there is more --------------------------------------------

@pytest.mark.parametrize("size", SIZES)
def test_a_long_layer_step_shows_that_the_banner_has_more(browser, dot, tmp_path, size):
    path = _page(tmp_path, hidden=3)
    page = Page(browser, path, size)
    longest = page.js("explorer.data.stops.map((s) => s.text.split('\\n').length)")
    j = longest.index(max(longest))
    assert max(longest) >= 7
    page.js(f"explorer.gotoStop({j})")
    state = """() => { const c = document.getElementById('current'), r = c.getBoundingClientRect();
      const cue = ['::after', '::before'].map((p) => getComputedStyle(c, p))
        .find((s) => s.content.includes('more') && s.display !== 'none' && s.visibility !== 'hidden');
      const last = document.createRange(); last.selectNodeContents(c);
      const lines = [...last.getClientRects()];
      return { over: c.scrollHeight - c.clientHeight, cue: !!cue, top: c.scrollTop,
               lastShown: lines.length ? lines[lines.length - 1].bottom <= r.bottom + 1 : true }; }"""
    s = page.js(state)
    if s["over"] > 1:  # it scrolls: a cue says so, and the last line is reached by scrolling
        assert s["cue"], (size, s)
        page.js("document.getElementById('current').scrollTop = 10 ** 6")
        page.page.wait_for_timeout(100)
        s = page.js(state)
        assert s["lastShown"] and not s["cue"], (size, s)
    else:  # it fits: nothing to cue
        assert s["lastShown"] and not s["cue"]
    page.page.screenshot(path=str(tmp_path / f"banner-{size[0]}.png"))
    page.clean()


# --- 8. the bar: one row on a 1280×720 projector, whole rows of controls on smaller screens ------------

BAR = """() => {
  const bar = document.getElementById('bar');
  const shown = [...bar.querySelectorAll('button, input, select, label, #counter')].filter((e) => e.offsetParent);
  const boxes = shown.map((e) => { const r = e.getBoundingClientRect();
    return { id: e.id || e.textContent.trim(), top: r.top, bottom: r.bottom, left: r.left, right: r.right, h: r.height }; });
  const rows = [];  // a control lying wholly under the row so far starts a new row
  for (const b of [...boxes].sort((p, q) => p.top - q.top)) {
    const row = rows[rows.length - 1];
    if (row && b.top < Math.max(...row.map((x) => x.bottom)) - 2) row.push(b); else rows.push([b]);
  }
  const overlaps = [];
  for (const a of boxes) for (const b of boxes) {
    if (a.id < b.id && a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1 &&
        !(a.id === 'speed' || b.id === 'speed' || a.id === 'paths' || b.id === 'paths')) overlaps.push([a.id, b.id]);
  }
  const button = Math.max(...boxes.filter((b) => b.id === 'home').map((b) => b.h));
  return { rows: rows.map((row) => row.map((b) => b.id)), overlaps, height: bar.getBoundingClientRect().height, tallest: Math.max(...boxes.map((b) => b.h)), button,
           outside: boxes.filter((b) => b.left < 0 || b.right > innerWidth).map((b) => b.id),
           below: bar.getBoundingClientRect().bottom - document.getElementById('current').getBoundingClientRect().top,
           scrollsSideways: document.documentElement.scrollWidth > innerWidth };
}"""


@pytest.fixture(scope="module")
def replay_page(tmp_path_factory):
    """A replay page of the h = 3 net (its bar has the replay button too)."""
    from micrograd_ws.data import make_dataset
    from micrograd_ws.train import replay_iterations, train
    history = train(two_hidden_layers(hidden=3, seed=0), make_dataset("sin", 20), [100, 500],
                    record=replay_iterations([100, 500]))
    path = tmp_path_factory.mktemp("replay3") / "replay.html"
    explore(history).save(path)
    return path


def _bar_states(page):
    """The bar in the states a lesson passes through: the start, a layer, the last step, playing, by node."""
    page.js("explorer.goto(0)")
    yield "start"
    if page.js("explorer.stops"):
        page.js("explorer.gotoStop(explorer.stops - 1)")
        yield "last layer"
    page.js("explorer.goto(explorer.steps)")
    yield "last step"
    page.js("explorer.play()")
    yield "playing"
    page.js("explorer.pause()")
    page.js("explorer.grain()")
    yield "the other grain"
    page.js("explorer.grain()")


@pytest.mark.parametrize("which", ["two-neuron", "h3", "replay"])
def test_the_bar_is_one_row_at_1280x720_and_1920x1080(browser, dot, tmp_path, replay_page, which):
    path = replay_page if which == "replay" else _page(tmp_path, None if which == "two-neuron" else 3)
    for size in [(1280, 720), (1920, 1080)]:
        page = Page(browser, path, size)
        for present in (False, True):
            page.js(f"explorer.present({str(present).lower()})")
            heights = set()
            for state in _bar_states(page):
                bar = page.js(BAR)
                assert len(bar["rows"]) == 1, (which, size, present, state, bar["rows"])
                assert bar["tallest"] <= 1.5 * bar["button"], (which, size, present, state, bar)  # nothing wraps inside
                assert not bar["overlaps"] and not bar["outside"] and bar["below"] <= 0 and not bar["scrollsSideways"], bar
                heights.add(round(bar["height"]))
            assert len(heights) == 1, (which, size, present, heights)  # it does not jump while it plays
        page.clean()


@pytest.mark.slow
def test_the_bar_of_the_handout_net_is_one_row_at_1280x720(browser, big):
    path, _, _ = big  # its counter is the longest: step 804 of 804
    page = Page(browser, path, (1280, 720))
    for state in _bar_states(page):
        bar = page.js(BAR)
        assert len(bar["rows"]) == 1 and not bar["overlaps"] and not bar["outside"], (state, bar["rows"], bar)
    page.clean()


@pytest.mark.parametrize("size, most", [((1024, 768), 2), ((800, 600), 3)])
def test_the_bar_wraps_whole_groups_on_smaller_screens(browser, dot, tmp_path, size, most):
    path = _page(tmp_path, hidden=3)
    page = Page(browser, path, size)
    for state in _bar_states(page):
        bar = page.js(BAR)
        assert len(bar["rows"]) <= most, (size, state, bar["rows"])
        assert not bar["overlaps"] and not bar["outside"] and bar["below"] <= 0 and not bar["scrollsSideways"], bar
        assert bar["tallest"] <= 1.5 * bar["button"], bar  # no control broken over two lines
        # the stepping buttons stay together, as do the views' and the modes'
        for group in (["home", "back", "play", "step", "end"], ["tab-graph", "tab-network"], ["mode-predict", "mode-nudge"]):
            assert any(set(group) <= set(row) for row in bar["rows"]), (group, bar["rows"])
    page.clean()


# --- 9. the nudge plot: a curve to read from the back of the room -----------------------------------

CURVES = ("#0072b2", "#e69f00")  # the actual ΔC (blue) and the tangent (orange)


def _in_sight(page, selectors):
    """Which of ``selectors`` are not wholly in the window, or are cut by a box that scrolls."""
    return page.js("""(sels) => sels.filter((sel) => {
        const e = document.querySelector(sel), r = e.getBoundingClientRect();
        if (!e.offsetParent || r.height < 1 || r.top < 0 || r.left < 0 || r.bottom > innerHeight || r.right > innerWidth) return true;
        for (let p = e.parentElement; p; p = p.parentElement) {
          const q = p.getBoundingClientRect();
          if (getComputedStyle(p).overflowY !== 'visible' && (r.bottom > q.bottom + 1 || r.top < q.top - 1)) return true;
        }
        return false; })""", selectors)


@pytest.mark.parametrize("which", ["h3", pytest.param("h100", marks=pytest.mark.slow)])
@pytest.mark.parametrize("size", [(1280, 720), (1024, 768), (1920, 1080)])
def test_nudge_plot_is_tall_enough_to_read_from_the_back(browser, dot, tmp_path, request, which, size):
    path = request.getfixturevalue("big")[0] if which == "big" or which == "h100" else _page(tmp_path, hidden=3)
    page = Page(browser, path, size, log_canvas=True)
    page.js("explorer.goto(explorer.steps)")  # the last step: a banner of four lines
    page.js("explorer.mode('nudge')")
    for w, dw in [("w2[2][0]", 0.5), ("b3", -0.8), ("w3[1]", 0.05)]:
        page.js("window.__canvasLog.length = 0")
        assert "error" not in page.js(f"explorer.nudge({w!r}, {dw})")
        log = [e for e in page.js("window.__canvasLog") if e["canvas"] == "nudge-plot"]
        points = [s[1:3] for e in log if e["kind"] == "stroke" and e["colour"].lower() in CURVES for s in e["path"] if s[0] in "ML"]
        xs, ys = [x for x, _ in points], [y for _, y in points]
        # the curves' area, as drawn
        assert max(ys) - min(ys) >= 120, (which, size, w, max(ys) - min(ys))
        texts = [e for e in log if e["kind"] == "text"]
        assert {"actual", "tangent"} <= {word for t in texts for word in t["text"].split()}
        px = min(float(re.search(r"([\d.]+)px", t["font"]).group(1)) for t in texts)
        assert px >= (15 if size[0] < 1920 else 17), (size, [t["font"] for t in texts])  # the labels as large as the page's type
        # both axes named and numbered: ΔC and its numbers left of the curves, Δw and its numbers under them
        assert any(t["text"].startswith("ΔC") and t["x"] < min(xs) for t in texts)
        under = [t["text"] for t in texts if t["y"] - t["up"] > max(ys)]
        assert "Δw" in under and "0" in under and len(under) >= 4, under
        left = [t["text"] for t in texts if t["x"] + t["w"] < min(xs) and t["y"] - t["up"] < max(ys)]
        assert len(left) >= 2 and all(re.fullmatch(r"-?[\d.]+(e[-+]\d+)?", t) for t in left if not t.startswith("ΔC")), left
    # nothing essential pushed out of sight: the bar, the banner, the panel's controls, the inspector's name, the view
    assert _in_sight(page, ["#bar", "#current", "#nudge-name", "#nudge-dw", "#nudge-slider", "#nudge-out", "#nudge-plot", "#sgd",
                            "#inspector h2", "#view"]) == []
    assert page.js("document.getElementById('view').getBoundingClientRect().height") >= 0.55 * size[1]
    page.page.screenshot(path=str(tmp_path / f"nudge-{which}-{size[0]}.png"))
    page.clean()


# --- 10. a small net's first view: every word of it readable on a wall, without present mode -------------

FIRST_VIEW = """() => {
  const view = explorer.view, box = document.getElementById('view').getBoundingClientRect();
  const sel = view === 'graph' ? '#graph-box text' : '#neurons text';
  const texts = [...document.querySelectorAll(sel)].filter((t) => t.textContent.trim()).map((t) => {
    const r = t.getBoundingClientRect();
    return { text: t.textContent, h: r.height, left: r.left, right: r.right, top: r.top, bottom: r.bottom }; });
  const circles = [...document.querySelectorAll('#neurons circle')].map((c) => {
    const r = c.getBoundingClientRect(); return { name: c.dataset.name, left: r.left, right: r.right, top: r.top, bottom: r.bottom }; });
  return { view, texts, circles, box: { left: box.left, right: box.right, top: box.top, bottom: box.bottom },
           names: explorer.data.names };
}"""


def _inside(r, box):
    return box["left"] - 1 <= r["left"] and r["right"] <= box["right"] + 1 and box["top"] - 1 <= r["top"] and r["bottom"] <= box["bottom"] + 1


def _apart(a, b, gap=0):
    """Boxes ``a`` and ``b`` do not overlap (and, side by side, are ``gap`` px apart at least)."""
    return a["right"] + gap <= b["left"] or b["right"] + gap <= a["left"] or a["bottom"] <= b["top"] + 1 or b["bottom"] <= a["top"] + 1


@pytest.mark.parametrize("hidden", [1, 3, 4])
@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_a_small_net_opens_on_a_view_whose_words_a_wall_can_read(browser, dot, tmp_path, hidden, size):
    net, C = _net_and_cost(hidden)
    path = _page(tmp_path, hidden)
    page = Page(browser, path, size)
    page.js("explorer.goto(explorer.steps)")  # every number shown
    shown = page.js(FIRST_VIEW)
    least = 14 if size[1] < 1080 else 16  # the page's own type: 15 px at 1280×720, 16.5 px at 1920×1080
    heights = sorted(t["h"] for t in shown["texts"])
    assert heights and heights[0] >= least, (hidden, size, shown["view"], heights[:5])  # every word, as drawn
    assert all(_inside(t, shown["box"]) for t in shown["texts"]), [t["text"] for t in shown["texts"] if not _inside(t, shown["box"])]
    if shown["view"] == "network":  # the whole net, each neuron named with its value and gradient, no word on another
        labels = [t for t in shown["texts"] if t["text"] not in ("i", "H1", "H2", "O", "C") or t["top"] > shown["box"]["top"] + 40]
        named = {c["name"] for c in shown["circles"]}
        assert named == {name(v) for v in _nodes(C) if v.label and (v.label in ("i", "O", "C") or v.label.startswith("H"))}
        for c in shown["circles"]:
            assert _inside(c, shown["box"])
            mine = [t["text"] for t in labels if t["text"].startswith(c["name"])]
            assert mine, c["name"]
        for k, a in enumerate(labels):
            assert all(_apart(a, b) for b in labels[k + 1:]), a
            assert all(_apart(a, c) for c in shown["circles"]), a
        grads = {name(v): v.grad for v in _nodes(C)}
        text = " ".join(t["text"] for t in labels)
        for n in named:  # the numbers are the engine's, as the page writes them (4 digits)
            assert f"{n} " in text or n in text
            assert f"grad {float(f'{grads[n]:.4g}'):g}" in text or f"grad {grads[n]:.4g}" in text, (n, grads[n], text)
    page.page.screenshot(path=str(tmp_path / f"first-h{hidden}-{size[0]}.png"))
    page.clean()


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_in_present_mode_the_neurons_words_stay_apart(browser, dot, tmp_path, size):
    page = Page(browser, _page(tmp_path, 3), size)
    page.js("explorer.goto(explorer.steps)")
    page.js("explorer.present(true)")  # words 1.3 times as large: fewer of them, none on another
    shown = page.js(FIRST_VIEW)
    assert shown["view"] == "network" and len(shown["texts"]) >= 5 + 9  # the columns' titles, the neurons' names at least
    for k, a in enumerate(shown["texts"]):
        assert _inside(a, shown["box"]) and all(_apart(a, b) for b in shown["texts"][k + 1:]), a
        assert a["h"] >= 18
    page.clean()


@pytest.mark.parametrize("size", SIZES)
def test_a_small_nets_replay_names_its_neurons_and_no_word_runs_into_another(browser, replay_page, size):
    page = Page(browser, replay_page, size)
    for it in page.js("explorer.iterations"):  # each held moment: its numbers are written to 7 digits
        page.js(f"explorer.goto_iteration({it})")
        shown = page.js(FIRST_VIEW)
        assert shown["view"] == "network"
        words = [t["text"] for t in shown["texts"]]
        assert all(c["name"] in words for c in shown["circles"]), words
        for k, a in enumerate(shown["texts"]):
            assert _inside(a, shown["box"]) and all(_apart(a, b, 6) for b in shown["texts"][k + 1:]), (it, a)
    page.clean()


def test_the_two_neuron_model_still_opens_on_its_graph(browser, dot, tmp_path):
    page = Page(browser, _page(tmp_path), (1280, 720))
    assert page.js("explorer.view") == "graph"
    shown = page.js(FIRST_VIEW)
    assert min(t["h"] for t in shown["texts"]) >= 14  # its drawing fills its pane
    page.clean()


# --- 11. paths after an SGD step on the handout's net: the selected weight's paths at the new weights ----------

def _lit(page):
    """What paths mode shows: the graph view's nodes on a live path and on a dead one, the network view's dimmed neurons."""
    page.js("explorer.showView('graph')")
    graph = page.js("""(() => { const box = document.getElementById('graph-box'), on = (c) =>
        [...box.querySelectorAll('g.node.' + c)].map((g) => g.dataset.name);
      return { mode: box.classList.contains('pathmode'), live: on('on-path'), dead: on('dead-path'),
               drawn: [...box.querySelectorAll('g.node[data-name]')].map((g) => g.dataset.name) }; })()""")
    page.js("explorer.showView('network')")
    graph["dimmed"] = page.js("[...document.querySelectorAll('#neurons circle.off-path')].map((c) => c.dataset.name)")
    graph["circles"] = page.js("[...document.querySelectorAll('#neurons circle')].map((c) => c.dataset.name)")
    return graph


@pytest.mark.slow
def test_paths_after_an_sgd_step_on_the_handout_net_are_the_new_weights_paths(browser, big):
    from micrograd_ws.paths import Analysis
    path = big[0]
    net = two_hidden_layers(hidden=100, seed=0)  # (the fixture's own net may have been stepped by another test)
    C = squared_error(net(2.0), 1.0)
    C.backward()
    params = dict(net.named_parameters())
    off = lambda C: {name(v) for v in _nodes(C) if v.op == "relu" and v.data == 0.0}  # noqa: E731
    was_off = off(C)
    on = [k for k in range(100) if f"H1[{k}]" not in was_off][:2]  # (a weight w2[j][k] from an H1 that is on)
    # a few weights into each ReLU that turns on or off in the step (their paths change), and three others
    names = ["b3", "b1[5]"] + [f"w3[{j}]" for j in range(100) if f"H2[{j}]" not in was_off][:3]
    live = lambda C, n: (lambda a: {name(v) for v in a.nodes if v in a.live})(Analysis(C, params[n]))  # noqa: E731
    before = {n: live(C, n) for n in names}
    SGD(net.parameters(), lr=0.01).step()
    net.zero_grad()
    C2 = squared_error(net(2.0), 1.0)
    C2.backward()
    flipped = was_off ^ off(C2)
    names += [f"w2[{r[3:-1]}][{k}]" for r in sorted(flipped) if r.startswith("H2") for k in on]
    names += [f"w1[{r[3:-1]}]" for r in sorted(flipped) if r.startswith("H1")]
    before.update({n: live(C, n) for n in names if n not in before})
    after = {n: live(C2, n) for n in names}
    moved = [n for n in names if before[n] != after[n]]  # a ReLU turned on or off on its paths
    same = [n for n in names[:5] if before[n] == after[n] and after[n]]
    assert moved and same, (flipped, names)

    page = Page(browser, path, (1400, 900))
    page.js("explorer.goto(explorer.steps)")
    page.page.locator("#paths").check()
    page.page.locator("#sgd-bar").click()
    page.js("explorer.goto(explorer.steps)")  # (stops the passes playing again)
    assert page.js("explorer.sgdSteps") == 1
    for w in [*same[-2:], *moved[:3]]:
        page.js(f"explorer.select({w!r})")
        shown, a = _lit(page), Analysis(C2, params[w])
        assert shown["mode"], w  # paths mode is on
        drawn = set(shown["drawn"])
        assert set(shown["live"]) == after[w] & drawn and (set(shown["live"]) or w in moved), (w, shown["live"])
        assert set(shown["dead"]) == ({name(v) for v in a.nodes} - after[w]) & drawn, w
        on_paths = {name(v) for v in a.nodes}
        lit = set(shown["circles"]) - set(shown["dimmed"])  # a neuron is lit when its H or its z is on the paths
        assert lit and all(n in on_paths or n.replace("H", "z") in on_paths for n in lit), (w, lit)
        assert all(n not in on_paths and n.replace("H", "z") not in on_paths for n in shown["dimmed"]), w
    page.clean()
