"""The lab page in a real browser, offline: headless Chromium (Debian's package) driven by Playwright,
opened from file:// with every other request aborted and counted; a console error fails the test.

One page starts Python once for the module (``lab``); the tests run code in it, click its buttons
and compare what the page's engine computed with the native engine, to the bit.
Screenshots go to $LAB_SCREENSHOTS (default: the test's tmp directory).
"""
import json
import os
import time
from pathlib import Path

import pytest

from micrograd_ws import SGD, compile, load, squared_error, two_hidden_layers, two_neuron
from micrograd_ws.browserlab import MAX_PAGE_BYTES
from micrograd_ws.browserlab.session import MAX_POINTS
from micrograd_ws.data import make_dataset
from micrograd_ws.serialize import model_text
from micrograd_ws.train import train
from offline import OfflinePage

READY_SECONDS = 15  # the bound, on a 2-core machine


class LabPage(OfflinePage):
    def __init__(self, browser, path, shots, size=(1600, 900)):
        super().__init__(browser, path.resolve().as_uri(), size, accept_downloads=True)
        self.shots = shots

    def run(self, code):
        return self.js("(code) => lab.run(code)", code)

    def explorer(self):
        """The explorer's document, inside the page's iframe."""
        return self.page.frame_locator("#lab-explorer")

    def click_then_wait_status(self, selector, text, timeout=120_000):
        """Click, then wait for a status saying ``text`` set after the click (not an earlier one's)."""
        self.js("document.querySelector('#lab-status').textContent = ''")
        self.page.click(selector)
        self.wait_status(text, timeout)

    def wait_status(self, text, timeout=120_000):
        self.page.wait_for_function("(t) => document.querySelector('#lab-status').textContent.includes(t)", arg=text,
                                    timeout=timeout)

    def shot(self, name):
        where = Path(os.environ.get("LAB_SCREENSHOTS") or self.shots)
        where.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(where / f"{name}.png"))

    def clean(self):
        assert self.errors == [] and self.blocked == []


@pytest.fixture(scope="module")
def lab(browser, lab_page, tmp_path_factory):
    page = LabPage(browser, lab_page, tmp_path_factory.mktemp("shots"))
    start = time.perf_counter()
    page.ready_seconds = page.js("lab.start()")
    page.wall_seconds = time.perf_counter() - start
    yield page
    page.clean()
    page.context.close()


def test_the_explorer_is_usable_before_python_starts(browser, lab_page, tmp_path):
    page = LabPage(browser, lab_page, tmp_path, size=(1280, 720))
    frame = page.explorer()
    frame.locator("#counter").filter(has_text="step").wait_for()
    assert page.js("lab.ready") is False
    frame.locator("#step").click()  # the explorer steps at once, with no Python
    assert "step" in frame.locator("#counter").inner_text()
    # the model the page opens on is the starter's, written natively when the page was built
    assert page.js("lab.exportModel()") == model_text(two_neuron(seed=0))
    assert page.page.locator("#lab-start").is_visible() and page.page.locator("#lab-work").is_hidden()
    page.shot("lab-before-start-1280x720")
    assert lab_page.stat().st_size <= MAX_PAGE_BYTES
    page.clean()


def test_python_starts_offline_within_the_bound(lab):
    assert lab.ready_seconds <= READY_SECONDS and lab.wall_seconds <= READY_SECONDS + 2
    status = lab.page.locator("#lab-status").inner_text()
    assert status.startswith("Python is ready (") and "micrograd_ws 0.1.0 on Python 3." in status
    assert lab.blocked == [] and lab.errors == []
    assert lab.page.locator("#lab-code").input_value().startswith("# The handout's two-neuron model")


def test_the_handout_net_gives_every_gradient_bit_identical_to_the_native_engine(lab):
    code = ("from micrograd_ws import *\nnet = two_hidden_layers(hidden=100, seed=0)\n"
            "C = squared_error(net(0.5), 1.0)\nC.backward()\n[p.grad.hex() for p in net.parameters()]")
    r = lab.run(code)
    assert r["error"] is None
    net = two_hidden_layers(hidden=100, seed=0)
    C = squared_error(net(0.5), 1.0)
    C.backward()
    assert json.loads(r["result"].replace("'", '"')) == [p.grad.hex() for p in net.parameters()]


def test_the_same_sum_is_what_makes_the_bits_equal(lab):
    """With Python's own sum() (compensated since 3.12: the page runs 3.14) the page's numbers differ
    from the native engine's; micrograd_ws adds left to right on every Python (floats.add_up)."""
    code = ("import micrograd_ws.engine as e, micrograd_ws.stores as s\n"
            "from micrograd_ws import two_hidden_layers, squared_error\n"
            "e.add_up = s.add_up = sum\n"
            "try:\n"
            "    net = two_hidden_layers(hidden=100, seed=0); C = squared_error(net(0.5), 1.0); C.backward()\n"
            "    got = [p.grad.hex() for p in net.parameters()]\n"
            "finally:\n"
            "    from micrograd_ws.floats import add_up\n"
            "    e.add_up = s.add_up = add_up\n"
            "got")
    r = lab.run(code)
    net = two_hidden_layers(hidden=100, seed=0)
    C = squared_error(net(0.5), 1.0)
    C.backward()
    native = [p.grad.hex() for p in net.parameters()]
    page = json.loads(r["result"].replace("'", '"'))
    assert sum(a != b for a, b in zip(page, native)) > 0  # (32 of the 10,401 on the day it was written)


def test_100_compiled_sgd_steps_give_the_native_losses_bit_identical(lab):
    code = ("from micrograd_ws import *\nfrom micrograd_ws.data import make_dataset\n"
            "net = two_hidden_layers(hidden=100, seed=0)\nopt = SGD(net.parameters(), lr=0.01)\n"
            "step = compile(lambda x, y: squared_error(net(x), y), optimizer=opt)\nd = make_dataset('sin')\n"
            "[float(step(d.xs[k * 7 % 50], d.ys[k * 7 % 50])).hex() for k in range(100)]")
    r = lab.run(code)
    assert r["error"] is None
    net = two_hidden_layers(hidden=100, seed=0)
    opt = SGD(net.parameters(), lr=0.01)
    step = compile(lambda x, y: squared_error(net(x), y), optimizer=opt)
    d = make_dataset("sin")
    native = [float(step(d.xs[k * 7 % 50], d.ys[k * 7 % 50])).hex() for k in range(100)]
    assert json.loads(r["result"].replace("'", '"')) == native


def test_the_exported_model_loads_natively_and_gives_the_same_output(lab, tmp_path):
    assert lab.run("net = two_hidden_layers(hidden=100, seed=4)\nnet.w2[3][7].data = 0.125")["error"] is None
    text = lab.js("lab.exportModel()")
    (tmp_path / "m.json").write_text(text)
    native = load(tmp_path / "m.json")
    assert native.w2[3][7].data == 0.125
    for x in (0.5, -0.3, 2.0):
        assert lab.run(f"net({x}).data.hex()")["result"] == repr(native(x).data.hex())
    # the download button gives the same file
    with lab.page.expect_download() as got:
        lab.page.click("#lab-download")
    path = tmp_path / got.value.suggested_filename
    got.value.save_as(path)
    assert path.read_text() == text and path.suffix == ".json"


def test_a_python_error_shows_as_the_engines_message(lab):
    r = lab.run("from micrograd_ws import Value\nValue(2.0).log() + Value(-1.0).log()")
    assert r["error"].startswith("ValueError: ") and "log" in r["error"] and r["error"].endswith("(line 2 of your code)")
    lab.page.fill("#lab-code", "net = two_neuron(seed=0)\nC = squared_error(net(float('nan')), 1.0)")
    lab.page.click("#lab-run")
    lab.wait_status("Your code raised an error")
    out = lab.page.locator("#lab-out")
    assert "error" in out.get_attribute("class") and out.inner_text().startswith("ValueError: ")
    assert "Traceback" not in out.inner_text() and "JsException" not in out.inner_text()


def test_run_re_renders_every_view_from_the_pages_engine(lab):
    code = "net = two_neuron(seed=3)\ni, O_des = 1.5, -0.25\nC = squared_error(net(i), O_des)\nC.backward()"
    lab.page.fill("#lab-code", code)
    lab.page.click("#lab-run")
    lab.wait_status("The explorer shows your C")
    net = two_neuron(seed=3)
    C = squared_error(net(1.5), -0.25)
    C.backward()
    frame = lab.explorer()
    assert f"C = {C.data:.6g}" in frame.locator("#title").inner_text()
    svg = frame.locator("#graph-box svg")  # laid out by viz-js in the page
    svg.wait_for()
    assert frame.locator("#graph-box svg g.node").count() == 5
    frame.locator("#end").click()
    frame.locator('#graph-box [data-name="w1"]').click()
    inspector = frame.locator("#inspector").inner_text()
    assert f"{net.w1.grad:.12g}"[:10] in inspector.replace("\u2212", "-")
    lab.shot("lab-run-two-neuron-1600x900")


def test_the_explorer_shows_the_gradients_and_leaves_the_learners_grad_alone(lab):
    lab.page.fill("#lab-code", "net = two_neuron(seed=0)\nC = squared_error(net(0.5), 1.0)")  # no C.backward()
    lab.page.click("#lab-run")
    lab.wait_status("The explorer shows your C")
    frame = lab.explorer()  # (the new page's note, once the iframe has it: the status is set as it starts loading)
    frame.locator("#note").filter(has_text="your .grad values are as you left them").wait_for(timeout=30_000)
    net = two_neuron(seed=0)
    squared_error(net(0.5), 1.0).backward()
    frame.locator("#end").click()
    frame.locator('#graph-box [data-name="w1"]').click()
    assert f"{net.w1.grad:.12g}"[:8] in frame.locator("#inspector").inner_text().replace("\u2212", "-")
    assert lab.run("[v.grad for v in topological_order(C)]")["result"] == repr([0.0] * 5)


def test_run_leaves_the_explorer_as_it_is_when_c_was_not_computed_again(lab):
    lab.click_then_wait_status("#lab-h100", "The explorer shows your C", timeout=180_000)
    lab.explorer().locator("#title").filter(has_text="h = 100").wait_for(timeout=60_000)  # (the iframe's new page)
    title = lab.explorer().locator("#title").inner_text()
    lab.page.fill("#lab-code", "net.b3.data")
    start = time.perf_counter()
    lab.page.click("#lab-run")
    lab.wait_status("did not compute C again")
    assert time.perf_counter() - start < 2.0  # nothing computed (drawing the h = 100 net's page takes ~8 s)
    # an SGD step by hand: the page says C is out of date, and draws no mix of old and new numbers
    lab.page.fill("#lab-code", "for p in net.parameters():\n    p.data -= 0.01 * p.grad")
    lab.page.click("#lab-run")
    lab.wait_status("C was computed before the weights changed: compute C again to see them")
    assert "error" in lab.page.locator("#lab-status").get_attribute("class")
    assert lab.explorer().locator("#title").inner_text() == title
    lab.shot("lab-stale-c-1600x900")


def test_train_live_the_handout_schedule_at_h100_pause_and_step_each_held_moment(lab):
    lab.click_then_wait_status("#lab-h100", "The explorer shows your C", timeout=180_000)
    lab.page.fill("#lab-iters", "100, 500, 1000, 5000")
    lab.page.click("#lab-train")
    lab.page.wait_for_function("document.querySelector('#lab-held').textContent.includes('100')", timeout=60_000)
    lab.page.click("#lab-train")  # pause
    lab.wait_status("Paused")
    paused_at = lab.js("document.querySelector('#lab-train-text').textContent")
    time.sleep(1.0)
    assert lab.js("document.querySelector('#lab-train-text').textContent") == paused_at  # it really stopped
    assert lab.page.locator("#lab-train").inner_text() == "go on"
    lab.page.click("#lab-train")  # go on
    lab.wait_status("Trained", timeout=300_000)
    assert "iteration 5000 of 5000 (done)" in lab.page.locator("#lab-train-text").inner_text()
    held = [b.inner_text() for b in lab.page.locator("#lab-held button").all()]
    assert held == ["0", "100", "500", "1000", "5000"]
    lab.shot("lab-trained-h100-1600x900")
    native = two_hidden_layers(hidden=100, seed=0)
    train(native, make_dataset("sin"), iters=[100, 500, 1000, 5000])
    assert lab.js("lab.exportModel()") == model_text(native)  # the page trained as train() does, to the bit
    lab.page.locator("#lab-held button", has_text="1000").click()
    lab.wait_status("The explorer shows the net after 1000 iterations", timeout=180_000)
    frame = lab.explorer()
    assert "The net after 1000 SGD iterations" in frame.locator("#title").inner_text()
    frame.locator("#step").click()  # steppable
    assert "step" in frame.locator("#counter").inner_text()


def test_a_held_moment_opens_while_training_runs_and_stop_ends_the_run(lab):
    lab.run("net = two_hidden_layers(hidden=100, seed=0)")
    lab.page.fill("#lab-iters", "100, 100000")
    lab.page.click("#lab-train")
    lab.page.locator("#lab-held button", has_text="100").click()  # (the buttons are not rebuilt under the click)
    lab.wait_status("The explorer shows the net after 100 iterations", timeout=180_000)
    assert "The net after 100 SGD iterations" in lab.explorer().locator("#title").inner_text()
    assert lab.page.locator("#lab-train").inner_text() == "pause"  # the run went on meanwhile
    lab.page.click("#lab-train")
    lab.wait_status("Paused")
    lab.page.click("#lab-stop")
    lab.wait_status("Stopped")
    assert lab.page.locator("#lab-train").inner_text() == "train" and lab.page.locator("#lab-stop").is_hidden()
    it = int(lab.page.locator("#lab-train-text").inner_text().split()[1].replace(",", ""))
    assert 100 <= it < 100000


def test_the_fit_plot_follows_each_run(lab):
    lab.js("lab.call('clear_points')")  # (the built-in points)
    for code, net in (("net = two_neuron(seed=0)", two_neuron(seed=0)),
                      ("net = two_hidden_layers(hidden=8, seed=2)", two_hidden_layers(hidden=8, seed=2)),
                      ("net = MLP(2, [3, 1])", None)):
        lab.page.fill("#lab-code", code)
        lab.page.click("#lab-run")
        lab.page.wait_for_function("!document.querySelector('#lab-run').disabled")
        drawn = lab.js("lab.plotted")
        if net is None:  # two inputs: no curve to draw
            assert drawn["curve"] is None
        else:
            assert drawn["curve"] == [net(x).data for x in drawn["grid"]]


def test_a_new_window_size_draws_the_plots_again_and_clicks_land_where_they_are_shown(lab):
    lab.js("lab.call('clear_points')")
    lab.page.set_viewport_size({"width": 1280, "height": 720})
    lab.page.fill("#lab-code", "net = two_neuron(seed=0)")
    lab.page.click("#lab-run")
    lab.page.wait_for_function("!document.querySelector('#lab-run').disabled")
    small = lab.js("lab.plotted.width")
    lab.page.set_viewport_size({"width": 1920, "height": 1080})  # full screen on a projector
    lab.page.wait_for_timeout(300)
    size = lab.js("""() => { const c = document.querySelector('#lab-fit'), r = c.getBoundingClientRect();
      return {css: [c.clientWidth, c.clientHeight], bitmap: [c.width / devicePixelRatio, c.height / devicePixelRatio],
              at: [r.left + c.clientLeft, r.top + c.clientTop]}; }""")
    assert size["css"][0] > small and size["bitmap"] == size["css"]  # drawn again at its new size, not stretched
    shown = lab.js("lab.plotted")
    (x0, x1), (y0, y1), box = shown["axes"]["x"], shown["axes"]["y"], shown["box"]
    assert [shown["width"], shown["height"]] == size["css"] and box["right"] == shown["width"] - 14
    # click where the plot shows (0, 0)
    px = box["left"] + (0 - x0) / (x1 - x0) * (box["right"] - box["left"])
    py = box["bottom"] - (0 - y0) / (y1 - y0) * (box["bottom"] - box["top"])
    lab.page.mouse.click(size["at"][0] + px, size["at"][1] + py)
    got = lab.js("lab.call('points')")
    assert len(got["xs"]) == 1 and abs(got["xs"][0]) < 0.01 and abs(got["ys"][0]) < 0.01
    lab.shot("lab-resized-1920x1080")
    lab.js("lab.call('clear_points')")
    lab.page.set_viewport_size({"width": 1600, "height": 900})


def test_a_function_for_net_and_points_too_far_apart_are_named(lab):
    lab.run("net = two_neuron")
    lab.page.click("#lab-train")
    assert lab.page.locator("#lab-status").inner_text() == ("net is the function two_neuron, not a model: call it, "
                                                            "net = two_neuron()")
    lab.run("net = two_neuron(seed=0)")
    lab.js("lab.call('clear_points')")
    lab.page.locator("#lab-paste-box summary").click()
    lab.page.fill("#lab-points", "1e308,1\n-1e308,1")
    lab.page.click("#lab-use-points")
    said = lab.page.locator("#lab-data-text").inner_text()
    assert "too wide a range to plot" in said and "serializ" not in said
    box = lab.page.locator("#lab-fit").bounding_box()
    lab.page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)  # the points were not kept
    assert "Training data: 1 point of yours" in lab.page.locator("#lab-data-text").inner_text()
    lab.page.locator("#lab-paste-box summary").click()
    lab.js("lab.call('clear_points')")


def test_tab_indents_the_code_and_escape_then_tab_moves_on(lab):
    lab.page.fill("#lab-code", "")
    lab.page.focus("#lab-code")
    lab.page.keyboard.press("Tab")
    assert lab.js("document.activeElement.id") == "lab-code" and lab.page.input_value("#lab-code") == "    "
    lab.page.keyboard.press("Escape")
    lab.page.keyboard.press("Tab")
    assert lab.js("document.activeElement.id") == "lab-iters" and lab.page.input_value("#lab-code") == "    "
    lab.page.focus("#lab-code")  # back in the cell: Tab indents again
    lab.page.keyboard.press("Tab")
    assert lab.js("document.activeElement.id") == "lab-code" and lab.page.input_value("#lab-code") == "        "
    assert "Escape, then Tab" in lab.page.locator("#lab-code").get_attribute("title")


def test_a_diverged_run_gives_net_its_weights_back_and_says_so(lab):
    lab.run("net = two_hidden_layers(hidden=6, seed=1)")
    lab.page.fill("#lab-iters", "5000")
    lab.page.fill("#lab-lr", "10")
    lab.page.click("#lab-train")
    lab.wait_status("training diverged")
    status = lab.page.locator("#lab-status").inner_text()
    assert "try α = 0.01" in status and "lr=" not in status and "back as they were before this run" in status
    text = lab.page.locator("#lab-train-text").inner_text()
    assert text.startswith("Training stopped at iteration") and "iteration 0 of" not in text
    assert lab.js("lab.exportModel()") == model_text(two_hidden_layers(hidden=6, seed=1))
    assert lab.page.locator("#lab-train").inner_text() == "train"
    assert lab.page.locator("#lab-cost").is_hidden()  # no empty box: the run never got to a cost to draw
    lab.shot("lab-diverged-1600x900")
    lab.page.fill("#lab-lr", "0.01")


def test_your_own_points_clicked_pasted_and_refused(lab):
    lab.run("net = two_neuron(seed=0)")
    box = lab.page.locator("#lab-fit").bounding_box()
    for fx, fy in ((0.3, 0.7), (0.5, 0.4), (0.7, 0.3)):
        lab.page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
    assert "Training data: 3 points of yours" in lab.page.locator("#lab-data-text").inner_text()
    xs = lab.js("lab.call('points').xs")
    assert len(xs) == 3 and xs[0] < xs[1] < xs[2]
    lab.page.locator("#lab-paste-box summary").click()
    for text, said in (("0,1\n1,abc", "line 2: column y is 'abc', not a number"), ("", "no points"),
                       ("\n".join(f"{k},{k % 3}" for k in range(100_000)), f"at most {MAX_POINTS:,}")):
        lab.js("(t) => { document.querySelector('#lab-points').value = t; }", text)  # (as a paste would)
        lab.page.click("#lab-use-points")
        assert said in lab.page.locator("#lab-data-text").inner_text()
    lab.page.fill("#lab-points", "-1,0.5\n0,-0.5\n1,0.5")
    lab.page.click("#lab-use-points")
    assert "3 points of yours" in lab.page.locator("#lab-data-text").inner_text()
    lab.page.fill("#lab-iters", "200")
    lab.page.click("#lab-train")
    lab.wait_status("Trained")
    assert "iteration 200 of 200 (done)" in lab.page.locator("#lab-train-text").inner_text()
    lab.shot("lab-own-points-1600x900")


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720), (820, 1000)])
def test_the_lab_fits_the_window(lab, size):
    lab.page.set_viewport_size({"width": size[0], "height": size[1]})
    lab.page.wait_for_timeout(300)
    lost = lab.js("""() => [...document.querySelectorAll('#lab-panel button, #lab-panel input, #lab-panel textarea')]
      .filter((e) => e.offsetParent).filter((e) => e.getBoundingClientRect().right > innerWidth + 1)
      .map((e) => e.id || e.textContent)""")
    assert lost == []
    frame = lab.js("document.querySelector('#lab-explorer').getBoundingClientRect().width")
    assert frame >= (0.6 * size[0] if size[0] >= 1280 else 0.95 * size[0] - 20)
    lab.shot(f"lab-{size[0]}x{size[1]}")
    lab.page.set_viewport_size({"width": 1600, "height": 900})


def test_when_python_itself_crashes_the_page_says_to_reload(browser, lab_page, tmp_path):
    """A recursion deeper than the page's C stack kills Pyodide (native Python raises RecursionError);
    the page says so once, and every later call gets the same words, not a JavaScript error."""
    page = LabPage(browser, lab_page, tmp_path)
    page.js("lab.start()")
    r = page.run("l = []\nfor _ in range(100000):\n    l = [l]\nl")
    assert "Python in this page has crashed" in r["error"] and "reload the page" in r["error"]
    assert "crashed" in page.page.locator("#lab-status").inner_text()
    assert page.run("1 + 1")["error"] == r["error"]
    page.page.click("#lab-train")
    assert "crashed" in page.page.locator("#lab-status").inner_text()
    page.page.fill("#lab-code", "1 + 1")  # Run: the status still says what happened, and to reload
    page.page.click("#lab-run")
    page.page.wait_for_function("!document.querySelector('#lab-run').disabled")
    assert page.page.locator("#lab-status").inner_text() == r["error"]
    assert page.blocked == []
    pyodides_report = ("fatal error", "pyodide", "maximum call stack size exceeded")  # what Pyodide logs as it dies
    assert [e for e in page.errors if not any(w in e.lower() for w in pyodides_report)] == []
    page.context.close()
