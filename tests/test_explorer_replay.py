"""The explorer's replay of a training run, in a real browser (same set-up as test_explorer_browser).

The default run replays the handout's h = 100 net over a short schedule (100, 500) to stay in
CI's budget; benchmarks/replay_page.py measures the full 100/500/1000/5000 run (size, frame
times while scrubbing).
"""
import contextlib
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import micrograd_ws.commands.train as command
import micrograd_ws.train as training
from micrograd_ws import two_hidden_layers, two_neuron
from micrograd_ws.cli import main
from micrograd_ws.data import make_dataset
from micrograd_ws.explorer import explore
from micrograd_ws.train import replay_iterations, train
from test_explorer_browser import Page


def test_replay_iterations_keep_every_count_and_stay_few():
    kept = replay_iterations([100, 500, 1000, 5000])
    assert kept[0] == 0 and {100, 500, 1000, 5000} <= set(kept) and len(kept) <= 20
    assert kept == sorted(set(kept))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The h = 100 net trained on sin for 100 then 500 iterations, with its replay page."""
    model = two_hidden_layers(hidden=100, seed=0)
    history = train(model, make_dataset("sin", 50), [100, 500], record=replay_iterations([100, 500]))
    path = tmp_path_factory.mktemp("replay") / "replay.html"
    explore(history).save(path)
    return history, path


@pytest.mark.slow
def test_replay_page_costs_at_the_marked_counts_and_scrubbing(browser, run):
    history, path = run
    assert path.stat().st_size < 8_000_000
    page = Page(browser, path).ready()
    held = page.js("explorer.iterations")
    assert held == [m.iteration for m in history.moments] and {0, 100, 500} <= set(held)
    note = page.page.locator("#note").text_content()  # the page says which iterations it holds
    assert ", ".join(f"{k:,}" for k in held) in note
    for s in history.snapshots:  # the cost shown at each count is the training summary's
        got = page.js(f"explorer.goto_iteration({s.iteration})")
        assert got["iteration"] == s.iteration and got["cost"] == s.loss
        assert f"mean C over the data {s.loss:.7g}"[:28] in page.page.locator("#replay-text").text_content()
    moment = history.moments[-3]
    got = page.js(f"explorer.goto_iteration({moment.iteration}, 'w2[3][7]')")
    assert got["value"] == moment.state["w2"][3][7]
    assert got["grad"] == float(f"{moment.grads['w2'][3][7]:.7g}")
    # the network view carries that moment's weights: a line's width follows |w|
    assert page.js("explorer.data.data[explorer.data.names.indexOf('w2[3][7]')]") == moment.state["w2"][3][7]
    # scrubbing with the slider: every input shows the nearest held moment
    slider = page.page.locator("#replay-k")
    slider.focus()
    for _ in range(5):
        page.page.keyboard.press("ArrowRight")
    assert page.js("+document.getElementById('replay-k').value") == moment.iteration + 5
    assert page.page.locator("#replay-panel").is_visible()
    page.clean()


@pytest.mark.slow
@pytest.mark.parametrize("size", [(1440, 900), (1280, 720)])
def test_replay_fits_a_projector_and_says_what_follows_the_moment(browser, run, size):
    history, path = run
    page = Page(browser, path, size=size).ready()
    trained = page.js("explorer.data.dataText.slice()")
    assert page.page.locator("#replay-panel").is_visible()  # a replay page opens on the replay: the fit, the cost
    assert page.page.locator("#replay-fit").is_visible() and page.page.locator("#replay-cost").is_visible()
    assert page.out_of_sight() == []
    page.page.keyboard.press("Home")  # the page's keys: the held moments
    first = history.moments[0]
    assert page.js("+document.getElementById('replay-k').value") == first.iteration
    page.page.keyboard.press("ArrowRight")
    second = history.moments[1]
    assert page.js("+document.getElementById('replay-k').value") == second.iteration
    note = page.page.locator("#current").text_content()
    assert f"after {second.iteration:,} iterations" in note and "trained net's" in note
    assert page.js("document.getElementById('step').disabled") is True  # stepping stays with the trained net
    # the tooltip and the inspector's line show the moment's weight and ∂C/∂w, not the trained net's
    trained_w3 = history.moments[-1].state["w3"][0]
    j = next(j for j, w in enumerate(second.state["w3"][0]) if abs(w - trained_w3[j]) > 1e-3 * abs(w))  # moved
    page.js(f"explorer.select('w3[{j}]')")
    sofar = page.page.locator("#sofar").text_content()
    when, data, grad = re.match(r"at iteration ([\d,]+): data (\S+) · grad (\S+) ", sofar).groups()
    assert when == f"{second.iteration:,}" and "trained net's" in sofar
    assert math.isclose(float(data), second.state["w3"][0][j], rel_tol=1e-6)  # shown to 7 digits
    assert math.isclose(float(grad), second.grads["w3"][0][j], rel_tol=1e-6, abs_tol=1e-300)
    assert page.js("explorer.goto_iteration(%d).param" % second.iteration) == f"w3[{j}]"  # the plotted one now
    page.page.keyboard.press("r")  # leaving the replay: the trained net's numbers, exactly as written
    assert page.js("explorer.data.dataText") == trained
    assert page.js("document.getElementById('step').disabled") is False
    page.clean()


def test_network_view_draws_no_dashes_and_its_legend_says_grey_is_off(browser, run):
    """Dashed lines cost most of a second per frame in software raster: an off ReLU's weights are thin grey."""
    history, path = run
    page = Page(browser, path)
    page.page.add_init_script("""window.__dashes = 0; const set = CanvasRenderingContext2D.prototype.setLineDash;
      CanvasRenderingContext2D.prototype.setLineDash = function (d) { if (this.canvas.id === 'weights' && d.length) window.__dashes++; return set.call(this, d); };""")
    page.page.reload()
    page.ready()
    for k in page.js("explorer.iterations"):
        page.js(f"explorer.goto_iteration({k})")
    page.js("explorer.mode('replay')")
    page.js("explorer.mode('predict')")
    page.js("explorer.goto(explorer.steps)")
    assert page.js("window.__dashes") == 0
    assert "grey" in page.page.locator("#network-legend").text_content()
    assert "off" in page.page.locator("#network-legend").text_content()
    page.clean()


def _explore_run(tmp_path, name, *extra):
    out = tmp_path / name
    argv = ["train", "--model", "two-neuron", "--iters", "10,30", "--out", str(tmp_path / "out"),
            "--explore", str(out), *extra]
    assert main(argv) == 0
    return out


def test_same_seed_same_replay_apart_from_the_timestamp(tmp_path, dot, capsys):
    a, b = _explore_run(tmp_path, "a.html"), _explore_run(tmp_path, "b.html")
    stamp = re.compile(rb'<p id="stamp">recorded [^<]*</p>')
    pa, pb = a.read_bytes(), b.read_bytes()
    assert len(stamp.findall(pa)) == 1
    assert stamp.sub(b"", pa) == stamp.sub(b"", pb)
    c = _explore_run(tmp_path, "c.html", "--seed", "1")  # and a different seed is a different run
    assert stamp.sub(b"", c.read_bytes()) != stamp.sub(b"", pa)
    assert "replay: " in capsys.readouterr().out


def _refused(argv, capsys, out):
    """``train`` stopped with code 2 on --explore, before training: no 'Training' line, no --out folder."""
    assert main(argv) == 2
    err = capsys.readouterr()
    assert err.err.startswith("micrograd-ws train: error: --explore: ") and "before training" in err.err
    assert "Training" not in err.out and not out.exists()
    return err.err


def _train_argv(out, page):
    return ["train", "--model", "two-neuron", "--iters", "10", "--out", str(out), "--explore", str(page)]


def test_explore_path_refused_before_training(tmp_path, capsys):
    out = tmp_path / "out"
    assert "does not exist" in _refused(_train_argv(out, tmp_path / "no-such-dir" / "replay.html"), capsys, out)
    assert "is a directory" in _refused(_train_argv(out, tmp_path), capsys, out)
    parent = tmp_path / "notes.txt"  # the parent is a file
    parent.write_text("x")
    assert "is a file, not a directory" in _refused(_train_argv(out, parent / "replay.html"), capsys, out)


def test_a_replay_inside_the_out_train_makes_is_written(tmp_path, monkeypatch, capsys):
    """--explore out/replay.html in a fresh folder: out is the default --out, which train makes."""
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--model", "two-neuron", "--iters", "10", "--explore", "out/replay.html"]) == 0
    assert (tmp_path / "out" / "replay.html").is_file() and len(list((tmp_path / "out").glob("*.json"))) == 1
    locked = tmp_path / "new" / "sub"  # inside an --out to be made, but not writable after all: refused, nothing left
    assert main(["train", "--model", "two-neuron", "--iters", "10", "--out", str(locked),
                 "--explore", str(locked) + "/r\0.html"]) == 2  # (a NUL: no file may be named so)
    assert "--explore: " in capsys.readouterr().err and not (tmp_path / "new").exists()


@pytest.mark.skipif(not os.path.isdir("/sys/kernel"), reason="needs Linux's /sys")
def test_explore_path_on_a_kernel_file_system_refused_before_training(tmp_path, capsys):
    # os.access says yes to root here, and yet no file can be created: the check really creates one
    out = tmp_path / "out"
    assert "read-only" in _refused(_train_argv(out, "/sys/replay.html"), capsys, out)


# The command as a user runs it; under root it first becomes the user nobody (after its imports:
# this interpreter lives under root's home, which nobody may not read).
_AS_USER = """import os, sys
import locale  # argparse loads it late, for its messages
import micrograd_ws.cli, micrograd_ws.files, micrograd_ws.train
if os.geteuid() == 0:
    os.setgroups([]); os.setgid(65534); os.setuid(65534)
sys.exit(micrograd_ws.cli.main(sys.argv[1:]))
"""


@contextlib.contextmanager
def _locked_and_free():
    """Two directories for the user nobody: ``locked`` it may only read, ``free`` it may write (root may
    write anywhere); not under tmp_path, whose folders are 0700.  Yields them and the command's env."""
    base = Path(tempfile.mkdtemp(prefix="mgw-perm-"))
    try:
        base.chmod(0o755)
        locked, free = base / "locked", base / "free"
        locked.mkdir()
        free.mkdir()
        locked.chmod(0o555)
        free.chmod(0o777)
        yield locked, free, {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "HOME": str(free)}
    finally:
        shutil.rmtree(base)


def test_explore_path_without_write_permission_refused_before_training():
    """As a user hits it: a directory this user may only read."""
    with _locked_and_free() as (locked, free, env):
        out = free / "out"
        r = subprocess.run([sys.executable, "-c", _AS_USER, *_train_argv(out, locked / "replay.html")],
                           capture_output=True, text=True, env=env, cwd=free, timeout=120)
        assert r.returncode == 2, r.stderr
        assert r.stderr.startswith("micrograd-ws train: error: --explore: ") and "read-only" in r.stderr
        assert "before training" in r.stderr
        assert "Training" not in r.stdout and not out.exists() and os.listdir(locked) == []


def test_an_out_directory_without_write_permission_is_refused_before_training():
    """--out as --explore: a directory the user may only read is found out before the run, not after it."""
    with _locked_and_free() as (locked, free, env):
        argv = ["train", "--model", "two-neuron", "--iters", "10", "--out", str(locked)]
        as_user = _AS_USER.replace("import micrograd_ws.cli",  # (train asks for these first, as root)
                                   "import matplotlib.pyplot, tqdm\nimport micrograd_ws.cli")
        r = subprocess.run([sys.executable, "-c", as_user, *argv], capture_output=True, text=True, env=env,
                           cwd=free, timeout=120)
        assert r.returncode == 2, r.stderr
        assert r.stderr.startswith(f"micrograd-ws train: error: --out {locked}: ") and "before training" in r.stderr
        assert "[Errno" not in r.stderr and "Training" not in r.stdout and os.listdir(locked) == []


@pytest.mark.skipif(not os.path.isdir("/sys/kernel"), reason="needs Linux's /sys")
def test_an_out_directory_on_a_kernel_file_system_is_refused_before_training(capsys):
    assert main(["train", "--model", "two-neuron", "--iters", "10", "--out", "/sys"]) == 2
    err = capsys.readouterr()
    assert err.err.startswith("micrograd-ws train: error: --out /sys: ") and "before training" in err.err
    assert "Training" not in err.out


def test_explore_of_a_history_without_recorded_moments_uses_the_snapshots(tmp_path):
    history = train(two_neuron(seed=0), make_dataset("line"), [5, 20])
    page = explore(history)
    assert [m["it"] for m in page.data["replay"]["moments"]] == [0, 5, 20]
    assert page.data["replay"]["moments"][1]["grads"] is None


def test_replay_plots_first_a_parameter_that_training_moved(run):
    history, _ = run
    replay = explore(history).data["replay"]
    name = replay["names"][replay["param"]]
    first, last = ({n: v for n, v in zip(replay["names"], m["values"])} for m in (replay["moments"][0], replay["moments"][-1]))
    assert abs(last[name] - first[name]) == max(abs(last[n] - first[n]) for n in first) > 0
    asked = explore(history, "w2[3][7]").data["replay"]  # or the one asked for
    assert asked["names"][asked["param"]] == "w2[3][7]"


def test_train_explore_thins_the_replay_to_its_cap_and_says_so(tmp_path, dot, capsys, monkeypatch):
    """moments × parameters is capped (issue 25 item 15): the replay keeps the first and last moments and
    as many --iters counts as fit, and train and the page say how many of how many."""
    for module in (training, command):
        monkeypatch.setattr(module, "MAX_REPLAY_NUMBERS", 2 * 13 * 6)  # the 1 → 2 → 2 → 1 net: 6 moments
    out = tmp_path / "r.html"
    argv = ["train", "--hidden", "2", "--iters", ",".join(map(str, range(1, 41))), "--out", str(tmp_path / "o"),
            "--explore", str(out)]
    assert main(argv) == 0
    said = capsys.readouterr().out
    assert "the replay keeps 6 of the 41 moments" in said and "2 per parameter per moment, 13 parameters" in said
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    history = train(two_hidden_layers(2, 0), make_dataset("sin", 8), range(1, 41), 0.01,
                    record=range(0, 41))  # a History recorded in Python with more: the page thins it too
    replay = explore(history).data
    kept = [m["it"] for m in replay["replay"]["moments"]]
    assert len(kept) == 6 and kept[0] == 0 and kept[-1] == 40
    assert "Thinned: it keeps 6 of the 41 moments" in replay["note"]
