"""Round 3 of the hardening review (issue 25): compile() against eager on random programs, the
sum of a pass with earlier grads, and what the trace cannot follow.

Each test here failed before its fix (see the issue): a compiled call ran ``fn`` on raw floats
when the trace or the replay left the traced path; ints replayed exactly; an error in the trace
ran ``fn`` twice; a compiled backward wrote half its grads under a signal; an earlier grad plus a
pass's overflowed silently.
"""
import math
import signal
import threading
import warnings
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import micrograd_ws as mw
from interrupts import at_line, count_lines
from micrograd_ws import Value, squared_error, two_hidden_layers
from micrograd_ws.cli import main as cli_main
from micrograd_ws.compiled import TraceWarning

# --- random programs, compiled against eager ------------------------------------------------

# numbers at the edges: zeros of both signs, ints past 2**53, overflow, underflow, the domains' ends
EDGES = [0.0, -0.0, 1.0, -1.0, 2, -2, 3, 0.5, -0.5, 1e-300, -1e-300, 1e200, -1e200, 710.0, -710.0,
         2**53 + 1, Fraction(1, 3), 1e308]
NUMBERS = st.one_of(st.sampled_from(EDGES), st.floats(-50, 50, allow_nan=False), st.integers(-10**17, 10**17))
UNARY = ["neg", "relu", "square", "exp", "log", "tanh", "sigmoid", "**2", "**3", "**-1", "**0.5", "**-2", "**0"]
BINARY = ["+", "-", "*", "/", "**", "mean", "sq_err"]


@st.composite
def programs(draw):
    n_in, n_par = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    steps = []
    for k in range(draw(st.integers(1, 7))):
        n = n_in + n_par + k
        if draw(st.booleans()):
            steps.append((draw(st.sampled_from(UNARY)), draw(st.integers(0, n - 1)), None))
        else:
            steps.append((draw(st.sampled_from(BINARY)), draw(st.integers(0, n - 1)),
                          draw(st.one_of(st.integers(0, n - 1), st.sampled_from([2.0, -0.0, 0.5])))))
    return n_in, n_par, steps


def _apply(op, a, b):
    if op[:2] == "**" and op != "**":
        return a ** float(op[2:])
    if op in UNARY:
        return -a if op == "neg" else getattr(a, op)()
    return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b,
            "**": lambda: a ** b if isinstance(b, Value) else a ** b, "mean": lambda: mw.mean([a, b]),
            "sq_err": lambda: squared_error(a, b if isinstance(b, Value) else Value(b))}[op]()


def _make(n_in, params, steps):
    def fn(*xs):
        vals = list(xs) + params
        for op, i, j in steps:
            vals.append(_apply(op, vals[i], vals[j] if isinstance(j, int) else j))
        # the loss depends on every step (work it does not depend on is not replayed: docs/compile.md)
        return vals[-1] if len(steps) == 1 else mw.mean(vals[-len(steps):])
    return fn


def _bits(x):
    return (x, math.copysign(1.0, x)) if isinstance(x, float) else (type(x).__name__, x)


def _outcome(call, params, gradient):
    """What a call does: its error, or its number's bits and then backward's error or grads' bits."""
    try:
        out = call()
    except Exception as e:  # noqa: BLE001 - the point is to compare them
        return ("call raised", type(e).__name__, str(e))
    got = ("data", _bits(out.data), type(out.data).__name__)
    try:
        out.backward(gradient)
    except Exception as e:  # noqa: BLE001
        return got + ("backward raised", type(e).__name__, str(e), [_bits(p.grad) for p in params])
    return got + ("grads", [_bits(p.grad) for p in params])


@settings(max_examples=300, deadline=None)
@given(programs(), st.data())
def test_a_compiled_call_does_what_eager_does_on_random_programs(program, data):
    n_in, n_par, steps = program
    params = [Value(data.draw(st.floats(-3, 3)), f"p{k}") for k in range(n_par)]
    fn = _make(n_in, params, steps)
    compiled = mw.compile(fn)
    for _ in range(2):  # the first call traces, the second replays (or traces a failed trace again)
        xs = [data.draw(NUMBERS) for _ in range(n_in)]
        earlier = [data.draw(st.sampled_from([0.0, -0.0, 1.5, 1.7e308, -1e308])) for _ in params]
        gradient = data.draw(st.sampled_from([1.0, -1.0, 1e300]))
        for p, g in zip(params, earlier):
            p.grad = g
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TraceWarning)
            got = _outcome(lambda: compiled(*xs), params, gradient)
        for p, g in zip(params, earlier):
            p.grad = g
        expected = _outcome(lambda: fn(*[Value(x, f"arg{k + 1}") for k, x in enumerate(xs)]), params, gradient)
        assert got == expected, (steps, xs)


def test_the_issues_repros_raise_eagers_errors():
    cases = [(lambda x, y: x * y + x, (1e200, 1e200), OverflowError, "*(x=1e+200, y=1e+200) = inf"),
             (lambda x: x.log(), (-1.0,), ValueError, "log(x=-1.0): log needs a positive number"),
             (lambda x, y: x ** y, (-2, 2), ValueError, "a Value exponent needs a positive base"),
             (lambda x, y: x / y, (1.0, 0), ZeroDivisionError, "x=1.0 / y=0.0: division by zero")]
    for fn, args, error, words in cases:
        for compiled in (mw.compile(fn), _traced_on_good_numbers(fn, len(args))):
            with pytest.raises(error) as e:
                compiled(*args)
            assert words in str(e.value)


def _traced_on_good_numbers(fn, n):
    compiled = mw.compile(fn)
    compiled(*[2.0] * n)
    return compiled


def test_ints_and_fractions_are_floats_as_in_eager():
    f = mw.compile(lambda x, y: x * y)
    assert f(2**53 + 1, 3).data == 2.7021597764222976e16 and type(f(2**53 + 1, 3).data) is float
    assert f(Fraction(1, 3), 3).data == (Value(Fraction(1, 3)) * 3).data
    assert math.copysign(1.0, f(0, -1).data) == -1.0  # 0.0 * -1.0 is -0.0, as eager's


# --- the trace: fn runs once, errors as they are, threads ----------------------------------

def test_an_error_in_the_trace_is_raised_once_and_fn_is_not_run_again():
    calls = []

    def fn(x):
        calls.append(x.data)
        if len(calls) == 1:
            raise ValueError("once")
        return x * 2

    with pytest.raises(ValueError, match="once"):
        mw.compile(fn)(1.0)
    assert len(calls) == 1


def test_another_thread_inside_no_grad_does_not_fail_a_trace():
    stop, entered = threading.Event(), threading.Event()

    def other():
        while not stop.is_set():
            with mw.no_grad():
                entered.set()
                Value(1.0) * 2

    t = threading.Thread(target=other)
    t.start()
    try:
        entered.wait(5)
        w = Value(0.5)
        for k in range(40):
            assert mw.compile(lambda x, c: x * w + c)(1.0, k).data == 0.5 + k
    finally:
        stop.set()
        t.join()


def test_a_compiled_function_inside_another_is_traced_through():
    inner = mw.compile(lambda x: x * x)
    outer = mw.compile(lambda x: inner(x) * 2)
    w = Value(3.0)
    assert outer(w).data == 18.0
    outer(w).backward()
    assert w.grad == 12.0


def test_a_compiled_value_in_arithmetic_says_what_it_is():
    out = mw.compile(lambda x: x * x)(2.0)
    with pytest.raises(TypeError, match="CompiledValue.*backward"):
        out * 2


# --- what the trace cannot follow, said at the trace ---------------------------------------

def test_reading_data_or_closing_over_a_number_warns_at_the_trace():
    scale = 2.0
    with pytest.warns(TraceWarning, match=r"closes over numbers \(scale = 2.0\)"):
        mw.compile(lambda x: x * scale)(1.0)
    with pytest.warns(TraceWarning, match=r"reads \.data \(test_hardening_round3.py:\d+\)"):
        mw.compile(lambda x: x * 2 if x.data > 0 else -x)(1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net = two_hidden_layers(hidden=2, seed=0)
        mw.compile(lambda x, y: squared_error(net(x), y))(0.5, 1.0)  # the engine's own reads are not fn's
    assert Value.__dict__["data"].__class__.__name__ == "member_descriptor"  # put back


# --- accumulation: the sum with earlier grads is checked too, all or nothing ----------------

def test_an_earlier_grad_plus_this_pass_that_overflows_raises_and_changes_nothing():
    a = Value(1.0, "a")
    y = a * 1.5e308
    y.backward()
    with pytest.raises(OverflowError, match=r"a.grad = 1.5e\+308 \(from earlier passes\) \+ 1.5e\+308"):
        y.backward()
    assert a.grad == 1.5e308
    f = mw.compile(lambda x: a * 1.5e308 + x)
    a.grad = 0.0
    f(0.0).backward()
    assert a.grad == 1.5e308
    with pytest.raises(OverflowError, match=r"a.grad = 1.5e\+308 \(from earlier passes\)"):
        f(0.0).backward()
    assert a.grad == 1.5e308


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([0.0, 1.0, -1.0, 1.7e308, -1.7e308]), min_size=13, max_size=13),
       st.sampled_from([1.0, 1e300, -1e300]), st.booleans())
def test_accumulating_into_a_net_is_all_or_nothing(earlier, gradient, compiled):
    net = two_hidden_layers(hidden=3, seed=2)
    params = net.parameters()
    loss = (mw.compile(lambda x, y: squared_error(net(x), y)) if compiled else
            lambda x, y: squared_error(net(x), y))(0.7, 3.0)
    net.zero_grad()
    loss.backward(gradient)
    this_pass = [p.grad for p in params]
    for p, e in zip(params, earlier[:len(params)]):
        p.grad = e
    before = [p.grad for p in params]
    sums = [e + g if e else g for e, g in zip(before, this_pass)]
    try:
        loss.backward(gradient)
    except OverflowError:
        assert [p.grad for p in params] == before
        assert not all(map(math.isfinite, sums)) or not all(map(math.isfinite, this_pass))
    else:
        assert [p.grad for p in params] == sums and all(map(math.isfinite, sums))


# --- compiled backward under signals: all or nothing, as eager -----------------------------

API = ("micrograd_ws/compiled/api.py", "micrograd_ws/safety.py")


def _net_loss():
    net = two_hidden_layers(3, seed=1)
    params = net.parameters()
    loss = mw.compile(lambda x, y: squared_error(net(x), y))(0.5, 0.3)
    earlier = [0.0 if k % 3 else 0.25 * k for k in range(len(params))]
    return params, loss, earlier


@pytest.mark.parametrize("how", ["signal", "raise"])
def test_an_interrupt_at_every_line_of_a_compiled_backward_leaves_the_grads_as_they_were(how):
    params, loss, earlier = _net_loss()

    def setup():
        for p, g in zip(params, earlier):
            p.grad = g
        loss.grad = 0.0

    setup()
    loss.backward()
    after = [p.grad for p in params]
    setup()
    n = count_lines(loss.backward, API)
    assert n > 10
    for k in range(1, n + 1):
        setup()
        try:
            with at_line(k, API, how):
                loss.backward()
        except KeyboardInterrupt:
            assert [p.grad for p in params] == earlier and loss.grad == 0.0, f"interrupt at line {k} of {n}"
        else:
            assert [p.grad for p in params] == after
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_raising_sigterm_handler_during_a_compiled_backward_changes_nothing():
    params, loss, earlier = _net_loss()

    def handler(signum, frame):
        raise SystemExit("terminated")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        n = count_lines(loss.backward, API)
        for k in range(1, n + 1):
            for p, g in zip(params, earlier):
                p.grad = g
            try:
                with at_line(k, API, "signal"):  # (SIGINT, then the handler below is SIGTERM's)
                    signal.signal(signal.SIGINT, handler)
                    loss.backward()
            except SystemExit:
                assert [p.grad for p in params] == earlier, f"SIGTERM at line {k} of {n}"
            finally:
                signal.signal(signal.SIGINT, signal.default_int_handler)
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_an_interrupt_anywhere_in_a_trace_leaves_compile_working():
    from micrograd_ws.compiled import trace
    files = ("micrograd_ws/compiled/trace.py",)
    w = Value(0.5)
    fn = lambda x: x * w  # noqa: E731
    n = count_lines(lambda: mw.compile(fn)(1.0), files)
    for k in range(1, n + 1):
        with pytest.raises(KeyboardInterrupt):
            with at_line(k, files, "raise"):
                mw.compile(fn)(1.0)
        assert type(mw.compile(fn)(2.0)).__name__ == "CompiledValue"  # not stuck "inside a trace"
    assert Value.__dict__["data"] is trace._SLOT and not trace._tracers


# --- model files: what save writes, load reads (or save refuses) ---------------------------

@settings(max_examples=15, deadline=None)
@given(hidden=st.lists(st.integers(1, 3), min_size=1, max_size=1500), nin=st.integers(1, 3))
def test_any_model_that_saves_loads_back(hidden, nin, tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "model.json"
    model = mw.MLP(nin, hidden + [1])
    model.save(path)
    again = mw.load(path)
    assert again.sizes == model.sizes and again.state_dict() == model.state_dict()


def test_save_refuses_a_model_load_would_refuse(tmp_path, monkeypatch):
    from micrograd_ws import serialize
    monkeypatch.setattr(serialize, "MAX_BYTES", 2000)
    with pytest.raises(ValueError, match="more than the 0 MiB load"):
        mw.MLP(1, [30, 1]).save(tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()


# --- run names: unique per settings and data; the outputs written together -----------------

def _args(**kw):
    import argparse
    from micrograd_ws.handout import ALPHA, TRAINING_ITERS
    base = dict(model="mlp", hidden=None, samples=None, iters=list(TRAINING_ITERS), lr=ALPHA, seed=0, data=None)
    return argparse.Namespace(**{**base, **kw})


@settings(max_examples=80, deadline=None)
@given(st.floats(1e-6, 10), st.floats(1e-6, 10), st.lists(st.integers(1, 10**6), min_size=1, max_size=80))
def test_different_settings_never_share_a_run_name(lr1, lr2, iters):
    from micrograd_ws.commands.train import run_name
    from micrograd_ws.data import make_dataset
    data = make_dataset("sin", 8)
    a, b = run_name(_args(lr=lr1, iters=sorted(set(iters))), data), run_name(_args(lr=lr2, iters=sorted(set(iters))), data)
    assert (a == b) == (lr1 == lr2)
    assert run_name(_args(iters=sorted(set(iters)) + [10**7]), data) != run_name(_args(iters=sorted(set(iters)) + [10**7 + 1]), data)
    assert len(a) < 120


def test_data_files_of_the_same_name_in_other_directories_get_their_own_outputs(tmp_path, capsys):
    out = tmp_path / "out"
    for k, d in enumerate(("w1", "w2")):
        (tmp_path / d).mkdir()
        (tmp_path / d / "data.csv").write_text("x,y\n" + "".join(f"{i / 10},{(k + 1) * i / 10}\n" for i in range(6)))
        assert cli_main(["train", "--data", str(tmp_path / d / "data.csv"), "--hidden", "2", "--iters", "5",
                            "--out", str(out)]) == 0
    assert "replaced" not in capsys.readouterr().out
    assert len(list(out.glob("*.json"))) == 2 and len(list(out.glob("*.png"))) == 2


def test_a_full_disk_while_writing_a_run_leaves_the_old_model_and_figure(tmp_path, monkeypatch):
    import errno
    import os
    from micrograd_ws import files
    model, figure = tmp_path / "m.json", tmp_path / "m.png"
    files.write_together([(model, "old model"), (figure, b"old figure")])
    real_fsync, calls = os.fsync, []

    def fsync(fd):
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError, match="the disk is full"):
        files.write_together([(model, "new model"), (figure, b"new figure")])
    assert model.read_text() == "old model" and figure.read_bytes() == b"old figure"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.png"]


# --- the explore command line: one clear line, nothing written elsewhere --------------------

@pytest.mark.parametrize("argv, words", [
    (["--x", "1e308"], "--x 1e+308, --y 1: (O-O_des)²"),
    (["--y=-1e308", "--x", "1e200"], "overflows a float"),
    (["--out", "{tmp}/page.html/"], "--out: cannot write '{tmp}/page.html/': a path that ends in '/' names a directory; "
                                    "give a file name inside it such as '{tmp}/page.html/explorer.html'"),
    (["--out", "{tmp}"], "--out: cannot write '{tmp}': it is a directory; give a file name inside it such as "
                         "'{tmp}/explorer.html'"),  # (a page: the fix suggests an .html name, not a model's .json)
    (["--out", ""], "--out: cannot write to an empty path: give a file name such as 'explorer.html'"),
])
def test_explore_cli_refuses_bad_options_in_one_line(argv, words, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert cli_main(["explore", "--model", "two-neuron", *argv]) == 2
    err = capsys.readouterr().err
    assert words.replace("{tmp}", str(tmp_path)) in err and "Traceback" not in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_explore_a_model_file_its_errors_name_the_file(tmp_path, capsys):
    net = mw.two_neuron(seed=0)
    good = tmp_path / "model.json"
    net.save(good)
    page = tmp_path / "page.html"
    assert cli_main(["explore", "--model-file", str(good), "--out", str(page)]) == 0
    assert "<html" in page.read_text()[:200].lower()
    capsys.readouterr()
    assert cli_main(["explore", "--model-file", str(tmp_path / "none.json"), "--out", str(page)]) == 2
    assert "--model-file: " in capsys.readouterr().err
    net.w1.data = 1e300  # trained too far: at --x 0.5 the cost overflows, because of the file's numbers
    huge = tmp_path / "huge.json"
    net.save(huge)
    assert cli_main(["explore", "--model-file", str(huge), "--out", str(tmp_path / "p2.html")]) == 2
    err = capsys.readouterr().err
    assert f"--model-file {huge} at --x 0.5, --y 1: " in err and "the model's weights are too large" in err
    assert "choose inputs of a usual size" not in err and len(err.splitlines()) == 1
    assert not (tmp_path / "p2.html").exists()
    # a good model at an input too large: the input is named, not the file
    assert cli_main(["explore", "--model-file", str(good), "--y", "1e300", "--out", str(tmp_path / "p3.html")]) == 2
    err = capsys.readouterr().err
    assert "--x 0.5, --y 1e+300: " in err and "choose inputs of a usual size" in err and "weights are too large" not in err
    # --seed seeds made weights; a file's are given: refused, not silently ignored (--seed 0 too: it was typed)
    for seed in ("3", "0"):
        assert cli_main(["explore", "--model-file", str(good), "--seed", seed, "--out", str(tmp_path / "p4.html")]) == 2
        err = capsys.readouterr().err
        assert "--model-file gives the net; --seed does not apply with it" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "p4.html").exists()
    assert cli_main(["explore", "--model", "two-neuron", "--seed", "3", "--out", str(tmp_path / "p5.html")]) == 0
    assert "(seed 3)" in (tmp_path / "p5.html").read_text()


# --- 17. Ctrl-C while the command starts ------------------------------------------------------------

_STARTING = r"""
import os, signal, sys, threading
sys.argv[0] = "/somewhere/bin/micrograd-ws"      # as the console script runs
n, target = [0], int(sys.argv[1])
def tracer(frame, event, arg):                   # SIGINT at the target-th line run inside micrograd_ws
    if event == "line" and "micrograd_ws" in frame.f_code.co_filename:
        n[0] += 1
        if n[0] == target:
            os.kill(os.getpid(), signal.SIGINT)
    return tracer
sys.settrace(tracer); threading.settrace(tracer)
from micrograd_ws.commands import main
sys.settrace(None)
sys.exit(main(["--help"]))
"""


@pytest.mark.parametrize("line", [40, 400, 4000, 20000])  # (the first ~20 lines install the handler)
def test_ctrl_c_while_the_package_loads_for_the_command_says_interrupted(line, tmp_path):
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-c", _STARTING, str(line)], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr
    if done.returncode != 0:  # (a large line number may come after the import: then --help runs)
        assert done.returncode == 130 and done.stderr.strip().endswith("interrupted")


def test_a_program_that_imports_micrograd_ws_keeps_pythons_ctrl_c():
    import subprocess
    import sys
    code = ("import signal, micrograd_ws; "
            "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "True"
    from micrograd_ws.startup import is_the_command
    assert is_the_command(["/usr/bin/micrograd-ws"], []) and is_the_command(["-m"], ["python3", "-m", "micrograd_ws"])
    assert not is_the_command(["train.py"], ["python3", "train.py"]) and not is_the_command(["-c"], ["python", "-c"])


@pytest.mark.parametrize("written, value", [("-5e-1", "-0.5"), ("-1E-1", "-0.1"), ("-.25", "-0.25"), ("-2", "-2")])
def test_a_negative_number_in_any_notation_is_a_value_not_an_option(tmp_path, capsys, written, value):
    # found by review: Python 3.11's argparse read --x -5e-1 as an option ("expected one argument")
    page = tmp_path / "p.html"
    assert cli_main(["explore", "--model", "two-neuron", "--x", written, "--y", written, "--out", str(page)]) == 0
    assert f"i = {float(value):g}, O_des = {float(value):g}" in page.read_text(encoding="utf-8")
    with pytest.raises(SystemExit) as exit:  # (argparse's own refusal, by the option's type: a value)
        cli_main(["explore", "--model", "two-neuron", "--x", "-inf", "--out", str(page)])
    assert exit.value.code == 2 and "--x: expected a finite number, got '-inf'" in capsys.readouterr().err
