"""Predict mode's diagnosis in a real browser: a wrong answer's factor named, from the page's data.

Same set-up as test_explorer_browser (Debian's Chromium via Playwright, every outside request
blocked, console errors fail).  The wrong answers are made up here from the engine's numbers
(a sign flipped, the 2 of 2(O − O_des) lost, a ReLU gate dropped), and what the page names is
checked against the kind and factor expected and against ``micrograd_ws.diagnose``'s own verdict.
"""
import math

import pytest

from micrograd_ws import explore, squared_error, two_hidden_layers, two_neuron
from micrograd_ws.diagnose import STEP, SCALE, cell, diagnose
from micrograd_ws.engine import topological_order
from micrograd_ws.paths import name
from test_explorer_browser import Page, _write

NEXT = "() => { for (let i = 0; i < 80 && document.getElementById('ask-form').hidden; i++) explorer.step(); }"


def _engine(net, x=2.0, y=1.0):
    """The engine's C and every node by its handout name (after C.backward())."""
    C = squared_error(net(x), y)
    C.backward()
    return C, {name(v): v for v in topological_order(C)}


def _asked(page):
    q = page.page.locator("#ask-q").text_content()
    assert page.page.locator("#ask-form").is_visible() and q.startswith("∂C/∂") and q.endswith(" = ?"), q
    return q[len("∂C/∂"):-len(" = ?")]


def _to(page, target, nodes):
    """Answer every question before ∂C/∂target right (first tries), then stop at it; how many were answered."""
    page.js("explorer.mode('predict')")
    page.js("explorer.goto(0)")
    return _to_next(page, target, nodes)


def _hidden_everywhere(page, truth, typed):
    """The right number is nowhere on the page while it is asked (the diagnosis gives no number),
    but where the learner's own number is echoed (a sign flipped has the right digits)."""
    text = page.page.locator("body").inner_text().replace(f"you typed {typed!r}", "")
    assert f"{truth:.4g}" not in text and f"{truth:.3g}" not in text


def _shown(page, kind, factor):
    box = page.page.locator("#learn-diagnosis")
    assert box.is_visible()
    assert box.text_content().startswith(f"{kind} {factor}: it looks like ")
    return box.text_content()


def test_the_page_data_holds_cells_and_messages_never_the_numbers(dot):
    net = two_hidden_layers(hidden=4, seed=0)
    C, nodes = _engine(net)
    data = explore(C).data
    assert data["grid"] == {"step": STEP, "scale": SCALE}
    questions = [q for s in data["predict"] for q in [*s["asks"], *(q for pk in s.get("picks", ()) for q in pk)]]
    assert len(questions) > 20 and all(q["diag"] for q in questions if not q["dead"])
    for q in questions:
        truth, right = q["value"], cell(q["value"])
        for c in q["diag"]:
            assert set(c) == {"kind", "factor", "message", "cell", "rank"}  # no value, no detail: cells only
            assert abs(c["cell"] - right) > 1
            assert truth == 0 or f"{abs(truth):.3g}" not in c["message"] and q["valueText"] not in c["message"]
        assert len({c["cell"] for c in q["diag"]}) == len(q["diag"])
    for s in data["sgd"]["states"]:  # each SGD step's questions too
        assert all("diag" in q for q in s["predict"][0]["asks"])


def test_two_neuron_the_2_of_2_O_minus_O_des_lost_then_a_sign_flipped(browser, dot, tmp_path):
    path = _write(tmp_path, ["--model", "two-neuron", "--x", "2", "--y", "1"])
    C, nodes = _engine(two_neuron(seed=0))
    dC_dO, dC_dw1 = nodes["O"].grad, nodes["w1"].grad
    page = Page(browser, path, size=(1440, 900)).ready()
    assert _to(page, "O", nodes) == 0
    lost = nodes["O"].data - 1.0  # (O − O_des): the 2 of 2(O − O_des) lost
    r = page.js(f"explorer.answer({lost!r})")
    assert r["accepted"] is False and r["retry"] is True and r["counted"] is True
    assert r["diagnosis"]["kind"] == "missing factor" and r["diagnosis"]["factor"] == "∂C/∂O"
    assert (r["diagnosis"]["kind"], r["diagnosis"]["factor"]) == (diagnose(C, "O", lost).kind, diagnose(C, "O", lost).factor)
    assert "the 2 of ∂C/∂O = 2(O − O_des) left out" in _shown(page, "missing factor", "∂C/∂O")
    _hidden_everywhere(page, dC_dO, lost)
    assert "O" not in page.js("explorer.current().grads")
    r = page.js(f"explorer.answer({dC_dO!r})")  # the second try: right, not counted
    assert r["accepted"] is True and r["counted"] is False and r["diagnosis"] is None
    page.js(NEXT)
    assert _asked(page) == "w1" and page.page.locator("#learn-diagnosis").is_hidden()  # the next question: none shown
    r = page.js(f"explorer.answer({-dC_dw1!r})")  # the sign flipped
    assert (r["diagnosis"]["kind"], r["diagnosis"]["factor"]) == ("sign", "∂C/∂O") == (
        diagnose(C, "w1", -dC_dw1).kind, diagnose(C, "w1", -dC_dw1).factor)
    _shown(page, "sign", "∂C/∂O")
    _hidden_everywhere(page, dC_dw1, -dC_dw1)
    r = page.js(f"explorer.answer({-dC_dw1!r})")  # wrong again: the answer shown, with the diagnosis
    assert r["accepted"] is False and r["counted"] is False and r["diagnosis"]["kind"] == "sign"
    assert "sign ∂C/∂O: it looks like" in page.page.locator("#learn-result").text_content()
    assert page.js("explorer.score().text") == "0 of 2 on the first try"
    page.clean()


@pytest.mark.parametrize("x", [2.0, 2.002])
def test_the_page_names_the_factor_python_names_when_two_factors_give_near_or_equal_numbers(browser, dot, tmp_path, x):
    """At i = 2 "·i left out" and "the 2 of 2(O − O_des) left out" give the same number (the one nearer the
    weight is named); at i = 2.002 they fall in neighbouring cells, and the exact one is named."""
    path = _write(tmp_path, ["--model", "two-neuron", "--x", repr(x), "--y", "1"])
    C, nodes = _engine(two_neuron(seed=0), x=x)
    d = nodes["O"].data - 1.0
    for typed in (2 * d, d * x):  # ∂C/∂O typed again (i left out); the 2 left out
        page = Page(browser, path, size=(1440, 900)).ready()
        _to(page, "w1", nodes)
        r = page.js(f"explorer.answer({typed!r})")
        mine = diagnose(C, "w1", typed)
        assert (r["diagnosis"]["kind"], r["diagnosis"]["factor"]) == (mine.kind, mine.factor), (x, typed, r)
        page.clean()
    assert diagnose(C, "w1", 2 * d).factor == "∂O/∂w1"
    assert diagnose(C, "w1", d * x).factor == ("∂O/∂w1" if x == 2.0 else "∂C/∂O")


def test_h4_a_relu_gate_dropped_an_unknown_number_and_a_right_answer_that_counts(browser, dot, tmp_path):
    net = two_hidden_layers(hidden=4, seed=0)
    C, nodes = _engine(net)
    assert nodes["z2[0]"].data < 0 < nodes["z1[0]"].data  # H2[0]'s ReLU is off: ∂C/∂z2[0] = ∂C/∂H2[0] · 0
    path = _write(tmp_path, ["--hidden", "4", "--x", "2", "--y", "1"])
    page = Page(browser, path).ready()
    before = _to(page, "z2[0]", nodes)
    dropped = nodes["H2[0]"].grad  # the gate ∂H2[0]/∂z2[0] = 0 taken as 1
    assert nodes["z2[0]"].grad == 0.0 and dropped != 0.0
    r = page.js(f"explorer.answer({dropped!r})")
    d = diagnose(C, "z2[0]", dropped)
    assert (r["diagnosis"]["kind"], r["diagnosis"]["factor"]) == ("missing factor", "∂H2[0]/∂z2[0]") == (d.kind, d.factor)
    assert "ReLU gate" in _shown(page, "missing factor", "∂H2[0]/∂z2[0]")
    r = page.js("explorer.answer(0)")
    assert r["accepted"] is True and r["counted"] is False
    page.js(NEXT)
    odd = nodes[_asked(page)].grad * 1.37 + 0.0123  # none of the usual mistakes: nothing named
    r = page.js(f"explorer.answer({odd!r})")
    assert r["retry"] is True and r["diagnosis"] is None and page.page.locator("#learn-diagnosis").is_hidden()
    page.js(f"explorer.answer({nodes[_asked(page)].grad!r})")
    page.js(NEXT)
    r = page.js(f"explorer.answer({nodes[_asked(page)].grad!r})")  # a right first answer still counts
    assert r["accepted"] is True and r["counted"] is True and r["diagnosis"] is None
    _to_more = _to_next(page, "w1[0]", nodes)
    # ∂C/∂w1[0] is a sum over j of ∂C/∂O · w3[j] · ∂H2[j]/∂z2[j] · w2[j][0] · ∂H1[0]/∂z1[0] · i: every H2 gate taken as 1
    w3, w2 = (lambda j: nodes[f"w3[{j}]"].data), (lambda j: nodes[f"w2[{j}][0]"].data)
    no_gate = math.fsum(nodes["O"].grad * w3(j) * w2(j) * 2.0 for j in range(4))
    assert not math.isclose(no_gate, nodes["w1[0]"].grad, rel_tol=0.01)
    r = page.js(f"explorer.answer({no_gate!r})")
    d = diagnose(C, "w1[0]", no_gate)
    assert r["diagnosis"]["kind"] == "missing factor" and r["diagnosis"]["factor"].startswith("∂H2[")
    assert (r["diagnosis"]["kind"], r["diagnosis"]["factor"]) == (d.kind, d.factor)
    _hidden_everywhere(page, nodes["w1[0]"].grad, no_gate)
    page.js(f"explorer.answer({nodes['w1[0]'].grad!r})")
    n = before + _to_more + 4
    assert page.js("explorer.score().text") == f"{n - 3} of {n} on the first try"
    page.clean()


def _to_next(page, target, nodes):
    """From the question after the current one, answer right until ∂C/∂target is asked."""
    for n in range(200):
        page.js(NEXT)
        asked = _asked(page)
        if asked == target:
            return n
        r = page.js(f"explorer.answer({nodes[asked].grad!r})")
        assert r["accepted"] is True and r["diagnosis"] is None, r
    raise AssertionError(f"∂C/∂{target} never asked")


def test_the_page_takes_the_lowest_rank_within_one_cell(browser, dot, tmp_path):
    """The page's rule (docs/exercises.md): candidates whose cell is within 1 of the answer's, the lowest rank."""
    path = _write(tmp_path, ["--model", "two-neuron", "--x", "2", "--y", "1"])
    C, nodes = _engine(two_neuron(seed=0))
    page = Page(browser, path).ready()
    _to(page, "w1", nodes)
    x = nodes["w1"].grad * 0.7  # no mistake of the diagnoser's: three made up, around its cell
    made_up = [{"cell": cell(x) + 2, "rank": 0, "kind": "sign", "factor": "far", "message": "two cells away"},
               {"cell": cell(x) + 1, "rank": 2, "kind": "wrong factor", "factor": "near", "message": "a higher rank"},
               {"cell": cell(x) - 1, "rank": 1, "kind": "missing factor", "factor": "∂X/∂Y", "message": "the one"}]
    page.js("""(made) => { for (const p of explorer.data.predict) for (const q of p.asks)
                             if (q.q === '∂C/∂w1') q.diag = made; }""", made_up)
    r = page.js(f"explorer.answer({x!r})")
    assert r["diagnosis"] == {"kind": "missing factor", "factor": "∂X/∂Y", "message": "the one"}
    assert page.page.locator("#learn-diagnosis").text_content() == "the one"
    page.clean()


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_the_diagnosis_is_in_sight_on_a_projector(browser, dot, tmp_path, size):
    path = _write(tmp_path, ["--model", "two-neuron", "--x", "2", "--y", "1"])
    C, nodes = _engine(two_neuron(seed=0))
    page = Page(browser, path, size=size).ready()
    page.js("explorer.mode('predict')")
    page.js("explorer.goto(0)")
    page.js(f"explorer.answer({nodes['O'].grad!r})")
    page.js(NEXT)
    page.page.locator("#ask-input").fill(repr(-nodes["w1"].grad))  # typed, as a learner does
    page.page.locator("#ask-input").press("Enter")
    _shown(page, "sign", "∂C/∂O")
    box = page.page.locator("#learn-diagnosis").bounding_box()
    assert box["y"] + box["height"] <= size[1] and box["x"] + box["width"] <= size[0]
    assert page.out_of_sight() == []
    page.page.screenshot(path=str(tmp_path / f"diagnosis-{size[0]}.png"))
    assert (tmp_path / f"diagnosis-{size[0]}.png").read_bytes()[:4] == b"\x89PNG"
    page.clean()
