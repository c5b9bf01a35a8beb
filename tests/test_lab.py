"""The lab without a browser: its Python side (the session the page drives), the wheel it carries,
the pinned runtime, the one sum on every Python, and the command that writes the page.

The page itself, in Chromium, offline: tests/test_lab_browser.py.
"""
import json
import subprocess
import sys
import zipfile

import pytest
from hypothesis import given, strategies as st

from micrograd_ws import Value, load, squared_error, two_hidden_layers, two_neuron, weighted_sum
from micrograd_ws.browserlab import MAX_PAGE_BYTES, runtime
from micrograd_ws.browserlab.session import MAX_POINTS, STARTER, STARTER_H100, Session, ticks
from micrograd_ws.browserlab.wheel import wheel_of
from micrograd_ws.cli import main
from micrograd_ws.engine import topological_order
from micrograd_ws.data import make_dataset
from micrograd_ws.floats import add_up
from micrograd_ws.serialize import model_text
from micrograd_ws.train import train, training


def call(s, method, *args):
    return json.loads(s.call(method, json.dumps(list(args))))


# --- the code cell ------------------------------------------------------------------------------

def test_run_gives_stdout_the_last_expressions_repr_and_keeps_variables():
    s = Session()
    r = s.run("x = 3\nprint('hello', x)\nx * 2")
    assert r == {"stdout": "hello 3\n", "result": "6", "error": None}
    assert s.run("x + 1")["result"] == "4"  # the variables stay, as in a notebook
    assert s.run("y = 1")["result"] is None
    assert s.run("None")["result"] is None


def test_errors_are_the_engines_message_with_the_line_of_the_learners_code():
    s = Session()
    r = s.run("a = Value(2.0)\nb = a / 0")
    assert r["error"].startswith("ZeroDivisionError: ") and r["error"].endswith("(line 2 of your code)")
    assert "division by zero" in r["error"] and "Traceback" not in r["error"]
    r = s.run("net = two_neuron(seed=0)\nnet(float('inf'))")
    assert r["error"].startswith("ValueError: ") and "finite" in r["error"]
    r = s.run("def f(:\n  pass")
    assert r["error"].startswith("SyntaxError: ") and "line 1" in r["error"]
    r = s.run("print('before')\nundefined_name")
    assert r["stdout"] == "before\n" and r["error"] == "NameError: name 'undefined_name' is not defined (line 2 of your code)"


def test_the_starters_run_and_their_explorer_is_the_one_explore_writes():
    s = Session()
    out = s.run(STARTER)
    assert out["error"] is None
    net = two_neuron(seed=0)
    C = squared_error(net(0.5), 1.0)
    C.backward()
    # it prints C, not the gradients the explorer's predict mode asks for, and says where they are
    assert out["stdout"] == f"C = {C.data}\n" and "print(net.w1.grad, net.b1.grad)" in STARTER
    assert s.ns["C"].data == C.data and s.ns["net"].w1.grad == net.w1.grad
    view = call(s, "view")
    assert "error" not in view and view["nodes"] == 5
    assert view["html"].startswith("<!DOCTYPE html>") and f"Your code: C = {C.data:.6g}, MLP(1 → 1" in view["html"]
    assert s.run(STARTER_H100)["error"] is None
    assert len(s.ns["net"].parameters()) == 10_401


def test_odd_exceptions_keep_the_output_the_type_and_the_line():
    s = Session()
    r = s.run("print('before')\nraise SystemExit(1)")
    assert r == {"stdout": "before\n", "result": None, "error": "SystemExit: 1 (line 2 of your code)"}
    r = s.run("class B(BaseException): pass\nraise B('boo')")
    assert r["error"] == "B: boo (line 2 of your code)"
    r = s.run("class E(Exception):\n    def __str__(self): raise RuntimeError('no')\nraise E()")
    assert r["error"] == "E: (its message cannot be shown: str() raised RuntimeError) (line 3 of your code)"
    assert s.run("1 + 1")["result"] == "2"  # and the session goes on


def test_the_explorers_title_names_the_net_only_when_c_comes_from_it():
    s = Session()
    s.run("net = two_neuron(seed=0)\na = Value(1.5, 'a')\nC = a * a + 0.5")
    title = call(s, "view")["html"].split("<title>")[1].split("</title>")[0]
    assert title == "Your code: C = 2.75"
    s.run("C = squared_error(net(0.5), 1.0)")
    assert ", MLP(1 → 1" in call(s, "view")["html"].split("</title>")[0]
    s.run("C.data = 'x'")
    assert call(s, "view")["error"] == "C.data is 'x', not a finite number: compute C again"


def test_the_view_is_drawn_again_only_for_a_new_c_and_never_with_weights_changed_since():
    s = Session()
    s.run(STARTER)
    assert "html" in call(s, "view")
    s.run("print(net(0.5).data)")  # C not computed again: the explorer stays as it is, nothing computed
    again = call(s, "view")
    assert again["same"] is True and "html" not in again and "stale" not in again
    # an SGD step by hand: C's nodes are the old weights' numbers, its leaves the new ones
    s.run("for p in net.parameters():\n    p.data -= 0.01 * p.grad")
    r = call(s, "view")
    assert r["same"] and r["stale"] and "html" not in r and "compute C again" in r["text"]
    s.run("C = squared_error(net(i), O_des)")  # computed again: drawn, with the new weights' numbers
    r = call(s, "view")
    net = two_neuron(seed=0)
    squared_error(net(0.5), 1.0).backward()
    for p in net.parameters():
        p.data -= 0.01 * p.grad
    assert f"Your code: C = {squared_error(net(0.5), 1.0).data:.6g}," in r["html"].split("</title>")[0]
    # a new C whose weights change in the same code is not drawn either
    s.run("C = squared_error(net(i), O_des)\nnet.b1.data += 0.5")
    assert "compute C again" in call(s, "view")["error"]
    # training changes the weights: the C drawn before no longer matches them
    s.run("C = squared_error(net(i), O_des)")
    assert "html" in call(s, "view")
    r = call(s, "train_start", "50")
    while not r["done"]:
        r = call(s, "train_more", 0.05)
    assert call(s, "view")["stale"] is True
    # after a held moment the explorer shows that moment, so the learner's C is drawn again
    call(s, "moment", 50)
    s.run("C = squared_error(net(i), O_des)")
    assert "html" in call(s, "view") and call(s, "view")["same"] is True


def test_the_view_leaves_every_grad_as_the_learner_left_it():
    """explore(C) runs C.backward() when it has not been called; the lab's view puts every .grad back."""
    s = Session()
    s.run("net = two_neuron(seed=0)\nC = squared_error(net(0.5), 1.0)")
    order = topological_order(s.ns["C"])
    assert len(order) == 5 and all(v.grad == 0.0 for v in order)
    assert "html" in call(s, "view")
    assert [v.grad for v in order] == [0.0] * 5
    assert s.run("print(net.w1.grad)")["stdout"] == "0.0\n"
    # the page still shows the gradients: C.backward() by hand gives them, and the view leaves them
    s.run("C = squared_error(net(0.5), 1.0)\nC.backward()\nnet.w1.grad = 7.0")
    order = topological_order(s.ns["C"])
    grads = [v.grad for v in order]
    assert "html" in call(s, "view") and [v.grad for v in topological_order(s.ns["C"])] == grads
    assert s.ns["net"].w1.grad == 7.0


def test_view_and_model_say_what_is_missing():
    s = Session()
    assert "name it C" in call(s, "view")["error"]
    s.run("C = 3")
    assert "C is a int, not a Value" in call(s, "view")["error"]
    assert "name it net" in call(s, "export")["error"]
    s.run("a = two_neuron(seed=0)\nb = two_neuron(seed=1)")
    assert "there are 2 models" in call(s, "export")["error"]
    s.run("net = b")
    assert json.loads(call(s, "export")["text"])["sizes"] == [1, 1]
    # net named, but not a model: what it is, and the fix
    s.run("net = two_neuron")
    assert call(s, "train_start", "100")["error"] == "net is the function two_neuron, not a model: call it, net = two_neuron()"
    s.run("net = [a, b]")
    assert call(s, "export")["error"] == "net is a list of 2 models, not a model: name the one to use net, e.g. net = net[0]"
    s.run("net = 3")
    assert "net is a int, not a model: name a model net" in call(s, "export")["error"]


def test_export_is_the_model_file_load_reads(tmp_path):
    s = Session()
    s.run(STARTER_H100)
    out = call(s, "export")
    p = tmp_path / out["name"]
    p.write_text(out["text"])
    native = load(p)
    assert native(0.37).data == s.ns["net"](0.37).data
    assert out["text"] == model_text(two_hidden_layers(hidden=100, seed=0))


# --- the learner's points ------------------------------------------------------------------------

def test_points_pasted_or_clicked_and_bad_ones_named():
    s = Session()
    assert "built-in target y = sin(πx), 50 samples" in call(s, "points")["text"]
    r = call(s, "paste", "x,y\n0,1\n0.5,0.25\n1,0")
    assert r["xs"] == [0.0, 0.5, 1.0] and r["ys"] == [1.0, 0.25, 0.0] and "3 points of yours" in r["text"]
    assert call(s, "paste", "0,1\n1,abc")["error"] == "the pasted points, line 2: column y is 'abc', not a number"
    assert "no points" in call(s, "paste", "   ")["error"]
    assert "no data rows" in call(s, "paste", "# only a comment")["error"]
    many = "\n".join(f"{k / 1e5},{k % 7}" for k in range(100_000))
    assert f"at most {MAX_POINTS:,}" in call(s, "paste", many)["error"]
    assert f"at most {MAX_POINTS:,}" in call(s, "paste", "\n".join(f"{k},1" for k in range(MAX_POINTS + 1)))["error"]
    assert call(s, "points")["xs"] == [0.0, 0.5, 1.0]  # a refused paste keeps the points there were
    assert "4 points of yours" in call(s, "add_point", 0.25, 0.5)["text"]
    assert "not a finite number" in call(s, "add_point", 1e309, 0.5)["error"]
    assert "not a finite number" in call(s, "add_point", "1", 0.5)["error"]
    # finite, but too far apart for the plot's range: refused, and not kept (a click after it works)
    said = call(s, "paste", "1e308,1\n-1e308,1")["error"]
    assert said.startswith("the points' x go from -1e+308 to 1e+308: too wide a range to plot")
    assert call(s, "points")["xs"] == [0.0, 0.5, 1.0, 0.25]
    assert "error" not in call(s, "add_point", 0.1, 0.1)
    call(s, "paste", "0,1")
    assert "the points' y go from -1.7e+308 to 1: too wide" in call(s, "add_point", 0.0, -1.7e308)["error"]
    assert "built-in" in call(s, "clear_points")["text"]
    assert "Training data: 1 point of yours" in call(s, "add_point", 0.0, 0.0)["text"]
    # as spreadsheets write them: a byte-order mark, semicolons with decimal commas, the typeset minus sign
    assert call(s, "paste", "\ufeffx,y\n0,1")["xs"] == [0.0]
    assert call(s, "paste", "0,5;1,5\n1;−2")["ys"] == [1.5, -2.0]


def test_the_plot_shows_the_nets_fit_before_training():
    s = Session()
    assert call(s, "points")["curve"] is None  # no model yet
    s.run("net = two_neuron(seed=0)")
    r = call(s, "points")
    net = two_neuron(seed=0)
    assert r["curve"] == [net(x).data for x in r["grid"]] and r["grid"][0] == r["axes"]["x"][0]


def test_ticks_are_round_numbers_inside_the_range():
    assert [t for _, t in ticks(-1.1, 1.1)] == ["-1", "-0.5", "0", "0.5", "1"]
    for lo, hi in [(0.001, 0.0037), (-3e-9, 7e-9), (-200, 13_000), (5, 5.000001)]:
        vs = [v for v, _ in ticks(lo, hi)]
        assert vs and all(lo - 1e-12 <= v <= hi + 1e-12 for v in vs) and len(vs) <= 6


# --- training, a piece at a time -------------------------------------------------------------------

def test_training_in_pieces_is_train_to_the_bit():
    data = make_dataset("sin")
    a, b = two_hidden_layers(hidden=8, seed=3), two_hidden_layers(hidden=8, seed=3)
    whole = train(a, data, iters=[100, 250], record=[0, 100, 250])
    pieces = list(training(b, data, iters=[100, 250], record=[0, 100, 250]))
    assert len(pieces) >= 4 and pieces[-1] is pieces[0]  # the same History, growing
    assert pieces[-1].losses == whole.losses and model_text(a) == model_text(b)
    assert [m.iteration for m in pieces[-1].moments] == [0, 100, 250]


def test_the_labs_training_is_train_and_pauses_between_pieces():
    s = Session()
    s.run("net = two_hidden_layers(hidden=6, seed=1)")
    assert "no training under way" in call(s, "train_more")["error"]
    assert "no training to stop" in call(s, "train_stop")["error"]
    r = call(s, "train_start", "100, 300", 0.01)
    assert r["it"] == 0 and r["held"] == [0] and not r["done"]
    r = call(s, "train_more", 0)  # one piece, then back to the page
    assert 0 < r["it"] < 300 and not r["done"]
    while not r["done"]:
        r = call(s, "train_more", 0.05)
    assert r["it"] == 300 and r["held"] == [0, 100, 300] and r["heldText"]["300"] == "300" and "note" not in r
    native = two_hidden_layers(hidden=6, seed=1)
    train(native, make_dataset("sin"), iters=[100, 300])
    assert model_text(native) == call(s, "export")["text"]
    assert len(r["curve"]) == len(r["grid"]) and r["cost"]["line"][-1][0] == 300
    page = call(s, "moment", 100)
    assert "The net after 100 SGD iterations" in page["html"]
    assert "no held moment at iteration 7" in call(s, "moment", 7)["error"]
    assert "Training net further" in call(s, "train_start", "10")["note"]  # the same net again: said


def test_training_settings_are_checked():
    s = Session()
    s.run("net = two_neuron(seed=0)")
    assert "iteration counts separated by commas" in call(s, "train_start", "100, lots")["error"]
    assert "positive iteration counts" in call(s, "train_start", [0])["error"]
    assert "at most 100000" in call(s, "train_start", "1000000")["error"]
    # a thousands separator or two counts? refused, both readings offered; the page's counts have none
    for text, a, b in (("1,500", "1", "500"), ("100, 1,000", "1", "000"), ("100,500,1000", "100", "500")):
        said = call(s, "train_start", text)["error"]
        assert f"Write {a}{b}, or {a}, {b} with a space" in said and repr(text) in said
    r = call(s, "train_start", "100, 1500")
    while not r["done"]:
        r = call(s, "train_more", 0.05)
    assert "iteration 1500 of 1500 (done)" in r["text"] and r["heldText"]["1500"] == "1500"
    assert r["cost"]["xticks"][-1] == [1500, "1500"] and "," not in "".join(r["heldText"].values())
    assert "error" not in call(s, "train_start", "1, 500")
    assert "learning rate" in call(s, "train_start", "100", -1)["error"]
    assert call(s, "train_start", "100", "0,01")["error"] == "the learning rate α is '0,01', not a number (write 0.01 with a point)"
    assert "not a number" in call(s, "train_start", "100", "abc")["error"]
    assert "positive number such as 0.01, got 'Infinity'" in call(s, "train_start", "100", "Infinity")["error"]
    assert call(s, "train_start", "100", "")["error"] == "the learning rate α is '', not a number"
    assert "iteration counts separated by commas" in call(s, "train_start", "²")["error"]
    s.run("net.parameters()[0].data = float('nan')")
    assert call(s, "train_start", "100")["error"].startswith("w1 = nan: every parameter must be a finite number")
    s.run("net = MLP(2, [3, 1], seed=0)")
    assert "one input and one output" in call(s, "train_start", "100")["error"]
    s.run("net = two_neuron(seed=0)")
    r = call(s, "train_start", "100", 50.0)
    while "error" not in r and not r["done"]:
        r = call(s, "train_more", 0.05)
    assert "diverged" in r.get("error", "") or r["done"]


def test_a_diverged_run_puts_the_weights_back_and_words_the_advice_with_alpha():
    s = Session()
    s.run("net = two_hidden_layers(hidden=6, seed=1)")
    before = model_text(two_hidden_layers(hidden=6, seed=1))
    r = call(s, "train_start", "5000", "10")
    while "error" not in r and not r["done"]:
        r = call(s, "train_more", 0.05)
    assert "training diverged at iteration" in r["error"] and "lr=" not in r["error"]
    assert "α = 10 is too large" in r["error"] and "try α = 0.01" in r["error"]
    assert "back as they were before this run" in r["error"] and r["text"].startswith("Training stopped at iteration")
    assert call(s, "export")["text"] == before
    r = call(s, "train_start", "300", "0.01")  # a run at a sensible α starts from the weights before, as train() does
    while not r["done"]:
        r = call(s, "train_more", 0.05)
    native = two_hidden_layers(hidden=6, seed=1)
    train(native, make_dataset("sin"), iters=[300])
    assert call(s, "export")["text"] == model_text(native)


# --- one sum on every Python --------------------------------------------------------------------------

finite = st.floats(-1e6, 1e6, allow_nan=False)


@given(st.lists(finite, max_size=40), finite)
def test_add_up_adds_left_to_right_in_plain_doubles(xs, start):
    total = start
    for x in xs:
        total += x
    assert add_up(xs, start) == total


@given(st.lists(st.tuples(finite, finite), min_size=1, max_size=30), finite)
def test_a_weighted_sum_is_the_handouts_sum_on_every_python(pairs, b):
    """z = b + w0·x0 + w1·x1 + ..., each product added in turn (3.12's compensated sum() would differ)."""
    z = weighted_sum([Value(w) for w, _ in pairs], [Value(x) for _, x in pairs], Value(b))
    total = b
    for w, x in pairs:
        total += w * x
    assert z.data == total


# --- the wheel the page carries ----------------------------------------------------------------------

def test_the_wheel_holds_the_package_and_pip_installs_it(tmp_path):
    name, data = wheel_of("micrograd_ws")
    assert name == "micrograd_ws-0.1.0-py3-none-any.whl"
    path = tmp_path / name
    path.write_bytes(data)
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    assert "micrograd_ws/engine.py" in names and "micrograd_ws/explorer/explorer.js" in names
    assert "micrograd_ws/browserlab/lab.js" in names and not any("__pycache__" in n for n in names)
    assert wheel_of("micrograd_ws")[1] == data  # the same sources, the same bytes
    target = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target",
                           str(target), str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr  # pip checks RECORD's hashes
    code = "import micrograd_ws, sys; print(micrograd_ws.__file__); print(micrograd_ws.Value(2.0).relu().data)"
    out = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {code}"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [str(target / "micrograd_ws" / "__init__.py"), "2.0"]


# --- the pinned runtime ----------------------------------------------------------------------------------

FAKE_BYTES = b"a tarball"
FAKE = runtime.Package("fake-pkg", "1.0.0", runtime.integrity_of(FAKE_BYTES), (), "MIT")


def test_a_cached_tarball_whose_hash_differs_is_refused_and_fetched_again(tmp_path, monkeypatch):
    (tmp_path / "npm").mkdir()
    (tmp_path / "npm" / FAKE.filename).write_bytes(b"tampered")
    monkeypatch.setattr(runtime, "_npm_pack", lambda pkg, where: FAKE_BYTES)
    said = []
    assert runtime.tarball(FAKE, said.append, cache=tmp_path) == FAKE_BYTES
    assert said[0].startswith("refusing the cached") and "fetched fake-pkg@1.0.0" in said[1]
    assert (tmp_path / "npm" / FAKE.filename).read_bytes() == FAKE_BYTES
    said.clear()
    runtime.tarball(FAKE, said.append, cache=tmp_path)
    assert said == [f"using fake-pkg@1.0.0 from {tmp_path / 'npm' / FAKE.filename} (sha512 verified)"]


def test_a_fetched_tarball_whose_hash_differs_is_refused_and_not_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(runtime, "_npm_pack", lambda pkg, where: b"something else")
    with pytest.raises(runtime.RuntimeFetchError, match="refusing fake-pkg@1.0.0 from the npm registry: its sha512"):
        runtime.tarball(FAKE, lambda s: None, cache=tmp_path)
    assert not (tmp_path / "npm" / FAKE.filename).exists()


def test_without_npm_the_build_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(runtime.shutil, "which", lambda name: None)
    with pytest.raises(runtime.RuntimeFetchError, match="npm is not installed. Install Node.js's npm"):
        runtime.tarball(FAKE, lambda s: None, cache=tmp_path)
    monkeypatch.setenv("MICROGRAD_WS_CACHE", str(tmp_path))
    assert main(["lab", "--out", str(tmp_path / "w.html")]) == 1  # the real packages are not cached there
    assert not (tmp_path / "w.html").exists()


def test_the_pins_are_the_registrys_published_integrity():
    """The hashes written in runtime.py, against what npm's registry publishes (npm view), when npm is here."""
    import shutil
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    for pkg in (runtime.PYODIDE, runtime.VIZ):
        done = subprocess.run(["npm", "view", pkg.spec, "dist.integrity"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == pkg.integrity


# --- the command -----------------------------------------------------------------------------------------

def test_lab_command_writes_one_page_under_the_size_limit(lab_page, tmp_path, capsys):
    size = lab_page.stat().st_size
    assert 5_000_000 < size <= MAX_PAGE_BYTES
    text = lab_page.read_text(encoding="utf-8")
    assert text.count("<script") == text.count("</script>")
    assert "https://cdn" not in text and "src=\"http" not in text  # nothing fetched from a network
    (tmp_path / "f").write_text("a file, where the page's folder would be")
    assert main(["lab", "--out", str(tmp_path / "f" / "w.html")]) == 2
    assert "is a file, not a directory" in capsys.readouterr().err
