"""`python -m micrograd_ws walkthrough`: through a pseudo-terminal (pexpect) and through a pipe."""
import io
import os
import re
import subprocess
import sys
from argparse import Namespace

import pexpect
import pytest

from micrograd_ws import two_hidden_layers
from micrograd_ws.handout import (ALPHA, MLPParams, mlp_forward, mlp_gradients, sgd_update, two_neuron_forward,
                                  two_neuron_gradients)
from micrograd_ws.commands.walkthrough import run

COMMAND = [sys.executable, "-m", "micrograd_ws", "walkthrough"]
SLIDES = 14
PROMPT = r"\[Enter: (next|finish) · b: back · q: quit\]"


def fmt(x):
    return f"{x:.4g}"


def factor(x):
    return f"({fmt(x)})" if x < 0 else fmt(x)


def spawn(*args, color=False):
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    if not color:
        env["NO_COLOR"] = "1"
    return pexpect.spawn(sys.executable, ["-m", "micrograd_ws", "walkthrough", *args], env=env,
                         encoding="utf-8", dimensions=(24, 80), timeout=30)


def finished(child):
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def test_enter_walks_through_every_slide_and_exits_0():
    child = spawn()
    for k in range(1, SLIDES + 1):
        child.expect(rf"{k}/{SLIDES}\r\n")
        child.expect(PROMPT)
        assert (child.match.group(1) == "finish") == (k == SLIDES)
        child.sendline("")
    child.expect("do it yourself in the REPL")
    assert finished(child) == 0


def test_q_quits_cleanly_on_any_slide():
    child = spawn()
    for _ in range(3):
        child.expect(PROMPT)
        child.sendline("")
    child.expect(PROMPT)
    child.sendline("q")
    child.expect("Bye")
    assert finished(child) == 0
    assert "Traceback" not in child.before


def test_end_of_input_quits_cleanly():
    child = spawn()
    child.expect(PROMPT)
    child.sendeof()
    assert finished(child) == 0


def test_b_goes_back_one_slide():
    child = spawn()
    child.expect(PROMPT)
    child.sendline("")
    child.expect(f"2/{SLIDES}")
    child.expect(PROMPT)
    child.send("b")  # a single key, no Enter
    child.expect(rf"(\d+)/{SLIDES}", timeout=5)
    assert child.match.group(1) == "1"
    child.expect(PROMPT)
    child.send("x")  # not a command: ignored, the slide stays
    child.send("q")
    child.expect("Bye", timeout=5)
    assert f"/{SLIDES}" not in child.before
    assert finished(child) == 0


def test_q_quits_at_once_without_enter():
    child = spawn()
    child.expect(PROMPT)
    child.send("q")
    child.expect("Bye", timeout=5)  # input() would still be waiting for Enter
    assert finished(child) == 0


def test_space_and_arrow_keys_move_too():
    child = spawn()
    child.expect(PROMPT)
    for key, slide in ((" ", 2), ("\x1b[C", 3), ("\x1b[D", 2), ("\n", 3), ("\r", 4)):
        child.send(key)
        child.expect(rf"(\d+)/{SLIDES}\r\n", timeout=5)
        assert child.match.group(1) == str(slide), repr(key)
        child.expect(PROMPT)
    child.send("q")
    assert finished(child) == 0


TERMINAL_AFTER = """
import sys, termios
from micrograd_ws.commands.walkthrough import _answer
try:
    print("answer", _answer("ready> "), flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
lflag = termios.tcgetattr(0)[3]
print("canonical" if lflag & termios.ICANON else "cbreak", "echo" if lflag & termios.ECHO else "noecho")
"""


@pytest.mark.parametrize("press, outcome", [("q", "answer quit"), (None, "interrupted")])
def test_the_terminal_settings_come_back_after_a_key_and_after_ctrl_c(press, outcome):
    child = pexpect.spawn(sys.executable, ["-c", TERMINAL_AFTER], encoding="utf-8", timeout=30)
    child.expect("ready> ")  # shown once the keys are read one by one
    if press:
        child.send(press)
    else:
        child.sendintr()
    child.expect(outcome)
    child.expect("canonical echo")
    assert finished(child) == 0


def test_titles_are_bold_in_a_colour_terminal():
    child = spawn(color=True)
    child.expect(PROMPT)
    assert "\x1b[1m── Two neurons: the handout's first model" in child.before
    child.sendline("q")
    assert finished(child) == 0


def piped(*args, stdin=""):
    return subprocess.run([*COMMAND, *args], input=stdin, capture_output=True, text=True, timeout=120)


def test_piped_input_runs_straight_through_with_the_handouts_numbers():
    result = piped(stdin="q\n")  # piped input is not read: it runs straight through
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.findall(rf"(\d+)/{SLIDES}\n", out) == [str(k) for k in range(1, SLIDES + 1)]
    assert "q: quit" not in out and "Bye" not in out and result.stderr == ""
    # page 1: w1 = 0.5, b1 = 0.1, input 2, desired 1 (the walkthrough's round numbers)
    O = two_neuron_forward(0.5, 0.1, 2.0)
    g = two_neuron_gradients(0.5, 0.1, 2.0, 1.0)
    assert f"Output = w1(input) + b1 = 0.5 · 2 + 0.1 = {fmt(O)}" in out
    assert f"C = (Output − desired_output)² = ({fmt(O)} − 1)² = {fmt((O - 1) ** 2)}" in out
    assert f"∂C/∂Output  = 2(Output − desired_output) = 2({fmt(O)} − 1) = {fmt(2 * (O - 1))}" in out
    for name, old in (("w1", 0.5), ("b1", 0.1)):
        new = sgd_update(old, g[name], ALPHA)
        assert f"{name} = {name} − α ∂C/∂{name} = {fmt(old)} − {ALPHA} · {factor(g[name])} = {fmt(new)}" in out
    new_O = two_neuron_forward(sgd_update(0.5, g["w1"]), sgd_update(0.1, g["b1"]), 2.0)
    assert f"C = {fmt((new_O - 1) ** 2)} (it was {fmt((O - 1) ** 2)})" in out
    assert f"∂C/∂w1 = ∂C/∂O · ∂O/∂w1\n         = 2(O − O_des) · i\n         = {fmt(2 * (O - 1))} · 2" in out


def test_page_two_is_one_step_of_the_handouts_net():
    out = piped("--hidden", "3", "--seed", "2").stdout
    p = MLPParams.from_state_dict(two_hidden_layers(hidden=3, seed=2).state_dict())
    f = mlp_forward(p, 0.5)
    grads = mlp_gradients(p, 0.5, 0.25)
    assert "MLP(1 → 3 → 3 → 1, h = 3: w1 [h×1], b1 [h×1], w2 [h×h], b2 [h×1], w3 [h×1], b3 [1×1])" in out
    for k in range(3):
        off = "    ← off" if f.H1[k] == 0 else ""
        assert f"H1[{k}]  = max(0, z1[{k}]) = {fmt(f.H1[k])}{off}\n" in out
    assert f"C = (O − O_des)² = {fmt((f.O - 0.25) ** 2)}" in out
    w3 = f"w3 = {fmt(p.w3[0])} − {ALPHA} · {factor(grads['w3[0]'])} = {fmt(sgd_update(p.w3[0], grads['w3[0]']))}"
    assert w3.replace("w3 =", "w3[0]     =") in out
    for name in ("w3[0]", "b3", "w2[0][0]", "b2[0]", "w1[0]"):
        assert f"{name}.grad = {fmt(grads[name])} ✓" in out, name
    stepped = MLPParams(
        w1=[sgd_update(w, grads[f"w1[{k}]"]) for k, w in enumerate(p.w1)],
        b1=[sgd_update(b, grads[f"b1[{k}]"]) for k, b in enumerate(p.b1)],
        w2=[[sgd_update(w, grads[f"w2[{j}][{k}]"]) for k, w in enumerate(row)] for j, row in enumerate(p.w2)],
        b2=[sgd_update(b, grads[f"b2[{j}]"]) for j, b in enumerate(p.b2)],
        w3=[sgd_update(w, grads[f"w3[{j}]"]) for j, w in enumerate(p.w3)], b3=sgd_update(p.b3, grads["b3"]))
    new_C = (mlp_forward(stepped, 0.5).O - 0.25) ** 2
    assert f"Forward again: C = {fmt(new_C)} (it was {fmt((f.O - 0.25) ** 2)})" in out


@pytest.mark.parametrize("hidden", ["1", "2", "12"])
def test_any_small_width_works(hidden):
    result = piped("--hidden", hidden, "--seed", "7")
    assert result.returncode == 0, result.stderr
    assert f"Two hidden layers: the handout's second model, h = {hidden}" in result.stdout


@pytest.mark.parametrize("bad", ["0", "13", "three"])
def test_a_bad_width_is_refused_with_the_range(bad):
    result = piped("--hidden", bad)
    assert result.returncode == 2 and "expected a whole number from 1 to 12" in result.stderr


def test_a_reader_that_leaves_early_is_not_an_error(monkeypatch):
    class ClosedPipe(io.StringIO):
        def write(self, s):
            raise BrokenPipeError

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert run(Namespace(hidden=3, seed=2, no_pause=False)) == 0


@pytest.mark.parametrize("hidden", [1, 2, 3, 12])
@pytest.mark.parametrize("seed", [2, 7])
def test_the_first_layer_slide_is_right_for_any_width(hidden, seed):
    from micrograd_ws.walkthrough import two_hidden_layer_slides

    slides = dict(two_hidden_layer_slides(hidden, seed))
    [(title, body)] = [(t, b) for t, b in slides.items() if "The first layer" in t]
    names = dict(two_hidden_layers(hidden=hidden, seed=seed).named_parameters())
    suggested = re.findall(r"explain\(C, '([^']+)'", body)
    assert suggested and all(name in names for name in suggested), (suggested, sorted(names))
    if hidden == 1:  # one z2, so one path: a product, no sum over j
        assert "sum" not in title and "Σ" not in body and "the same product" in body
        assert "∂C/∂w1 = ∂C/∂O · ∂O/∂H2 · ∂H2/∂z2 · ∂z2/∂H1 · ∂H1/∂z1 · ∂z1/∂w1" in body
    else:
        assert "sum over every j" in title and "the same sum" in body
        assert "Σ_j" in body or f"all {hidden} paths are 0" in body
    every = "\n".join(slides.values())
    assert all(name in names for name in re.findall(r"explain\(C, '([^']+)'", every))
    assert max(len(line) for line in every.splitlines() if not line.startswith("MLP(")) <= 78  # 80 indented


def test_without_a_real_terminal_answers_are_lines(monkeypatch, capsys):
    from micrograd_ws.commands.walkthrough import _show, _Style

    slides = [(f"slide {k}", f"body {k}") for k in range(1, 4)]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\nb\n\n\nquit\n"))  # no fileno(): line by line
    assert _show(slides, True, _Style(False)) == 0
    shown = re.findall(r"── (slide \d)", capsys.readouterr().out)
    assert shown == ["slide 1", "slide 2", "slide 1", "slide 2", "slide 3"]


def test_headings_name_the_model_of_each_slide_and_the_counter_counts_slides():
    out = piped("--no-pause").stdout
    headings = re.findall(r"^── (.+?) ─+ (\d+)/(\d+)$", out, re.M)
    assert [int(k) for _, k, _ in headings] == list(range(1, len(headings) + 1))
    assert {int(n) for *_, n in headings} == {len(headings)}
    assert all(t.startswith(("Two neurons", "Two hidden layers")) for t, *_ in headings), headings
    assert "Page" not in "".join(t for t, *_ in headings)
