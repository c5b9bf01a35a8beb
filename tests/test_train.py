"""The training loop, the train command end to end, divergence, and the CSV reader."""
import math
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import micrograd_ws
from micrograd_ws import MLP, is_grad_enabled, two_hidden_layers, two_neuron
from micrograd_ws.cli import main
from micrograd_ws.data import TARGETS, DataError, Dataset, make_dataset, read_csv
from micrograd_ws.handout import ALPHA, sgd_update, two_neuron_gradients
from micrograd_ws.testing import values
from micrograd_ws.train import MAX_REPLAY_NUMBERS, TrainingDiverged, plot, replay_iterations, replay_room, summary, train

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TINY = ["--hidden", "4", "--iters", "5,20", "--samples", "8"]


def _outputs(out: Path):
    """The files in out, each run's name without the hash of its settings at the end."""
    return sorted(re.sub(r"-[0-9a-f]{10}(?=\.)", "", p.name) for p in out.iterdir())


def _file(out: Path, readable: str, ext: str) -> Path:
    """A run's output: its readable name, then the hash of its settings."""
    [found] = [p for p in out.iterdir() if re.fullmatch(re.escape(readable) + r"-[0-9a-f]{10}\." + ext, p.name)]
    return found


# --- the loop -------------------------------------------------------------------------------

def test_each_iteration_is_the_handouts_three_steps_on_one_sample():
    data = Dataset((0.25, -0.5, 0.75), (1.0, 2.0, -1.0), "three")
    model = two_neuron(seed=3)
    w1, b1 = model.parameters()
    expected_w1, expected_b1 = w1.data, b1.data
    order = list(range(3))
    random.Random(11).shuffle(order)  # one pass over the data in a seeded random order
    for k in reversed(order):
        g = two_neuron_gradients(expected_w1, expected_b1, data.xs[k], data.ys[k])
        expected_w1, expected_b1 = sgd_update(expected_w1, g["w1"]), sgd_update(expected_b1, g["b1"])
    history = train(model, data, iters=[3], lr=ALPHA, seed=11)
    assert (w1.data, b1.data) == pytest.approx((expected_w1, expected_b1), rel=1e-12)
    assert len(history.losses) == 3


def test_samples_are_drawn_in_shuffled_passes(monkeypatch):
    n = 7
    data = Dataset(tuple(k / n for k in range(n)), (0.0,) * n, "ramp")
    seen = []
    forward = MLP.__call__

    def spy(self, x):
        if is_grad_enabled():  # a training step; the snapshots evaluate under no_grad
            seen.append(x)
        return forward(self, x)

    monkeypatch.setattr(MLP, "__call__", spy)
    # eager, where each step calls the model (the compiled loop gives the same numbers: test_compile.py)
    train(two_neuron(), data, iters=[3 * n], seed=5, compiled=False)
    passes = [seen[i:i + n] for i in range(0, 3 * n, n)]
    assert all(sorted(p) == list(data.xs) for p in passes)  # every sample once per pass
    assert len({tuple(p) for p in passes}) == 3  # in a new order each pass


def test_the_schedule_is_one_run_with_snapshots_equal_to_fresh_runs():
    data = make_dataset("sin", samples=10)
    long = two_hidden_layers(hidden=5, seed=2)
    history = train(long, data, iters=[30, 10, 60, 30], seed=4)  # unsorted, duplicate: same schedule
    assert [s.iteration for s in history.snapshots] == [0, 10, 30, 60]
    assert len(history.losses) == 60
    for s in history.snapshots[1:]:
        fresh = two_hidden_layers(hidden=5, seed=2)
        train(fresh, data, iters=[s.iteration], seed=4)
        assert fresh.state_dict() == s.state
    assert history.snapshots[-1].state == long.state_dict()


def test_two_neurons_learn_the_line_exactly():
    model = two_neuron(seed=1)
    history = train(model, make_dataset("line"), iters=[100, 500, 5000])
    w1, b1 = (p.data for p in model.parameters())
    assert w1 == pytest.approx(1.5, abs=1e-9) and b1 == pytest.approx(-0.5, abs=1e-9)  # y = 1.5x - 0.5
    losses = [s.loss for s in history.snapshots]
    assert losses == sorted(losses, reverse=True) and losses[-1] < 1e-15


def test_snapshot_loss_is_the_mean_cost_over_the_data():
    data = make_dataset("abs", samples=6)
    model = two_hidden_layers(hidden=3, seed=0)
    history = train(model, data, iters=[7])
    errors = [model(x).data - y for x, y in zip(data.xs, data.ys)]
    last = history.snapshots[-1]
    assert last.loss == pytest.approx(sum(e * e for e in errors) / len(errors), rel=1e-12)
    assert last.max_error == pytest.approx(max(map(abs, errors)), rel=1e-12)
    assert last.curve[0] == model(-1.0).data and last.curve[-1] == model(1.0).data  # drawn over the domain
    assert "iterations" in summary(history) and len(summary(history).splitlines()) == 3


@pytest.mark.parametrize("iters", [[], [0], [-5], [2.5], [True], "100", None])
def test_bad_schedule_is_refused(iters):
    with pytest.raises(ValueError, match="iters must be positive iteration counts"):
        train(two_neuron(), make_dataset("line"), iters=iters)


def test_bad_model_data_or_lr_is_refused():
    data = make_dataset("line")
    with pytest.raises(ValueError, match="one input and one output"):
        train(micrograd_ws.MLP(2, [3, 1]), data, iters=[1])
    with pytest.raises(TypeError, match="data must be a Dataset"):
        train(two_neuron(), [(0.0, 1.0)], iters=[1])
    with pytest.raises(ValueError, match="learning rate must be positive"):
        train(two_neuron(), data, iters=[1], lr=-0.1)


# --- divergence ---------------------------------------------------------------------------------

@pytest.mark.parametrize("model, lr", [(two_neuron, 5.0), (lambda: two_hidden_layers(hidden=6), 3.0),
                                       (two_neuron, 1e200), (two_neuron, 1e308)])
def test_divergence_names_the_iteration_and_a_smaller_lr(model, lr):
    net = model()
    with pytest.raises(TrainingDiverged) as e:
        train(net, make_dataset("sin"), iters=[1000], lr=lr)
    err = e.value
    assert 1 <= err.iteration < 1000 and err.suggested_lr < lr
    assert f"iteration {err.iteration}" in str(err) and f"lr={err.suggested_lr:g}" in str(err)
    assert isinstance(err, ArithmeticError)


def test_divergence_on_large_data_suggests_rescaling():
    data = Dataset((0.0, 500.0, 1000.0), (1000.0, 2e4, -3000.0), "big")
    with pytest.raises(TrainingDiverged, match="rescale x and y"):
        train(two_hidden_layers(hidden=4), data, iters=[100])


def test_cli_reports_divergence_and_plots_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["train", "--model", "two-neuron", "--lr", "5", "--iters", "1000", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert "diverged at iteration" in err and "--lr 5 is too large" in err and "try --lr 0.01" in err
    assert "Nothing was plotted or saved" in err and "Traceback" not in err
    assert _outputs(out) == []


def test_cli_warns_when_the_cost_went_up(tmp_path, capsys):
    # one sample at x = 0: Output = b1 and b1 - y is multiplied by 1 - 2α = -1.001 each step, so
    # the cost grows by e² in 1000 steps: worse than it began, yet far from exploding
    one = tmp_path / "one.csv"
    one.write_text("0,1\n")
    code = main(["train", "--model", "two-neuron", "--data", str(one), "--lr", "1.0005", "--iters", "1000",
                 "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 0 and "the mean cost went UP" in captured.err and "try --lr 0.10005" in captured.err
    assert _file(tmp_path, "two-neuron-one-it1000-lr1.0005", "png").exists()


# --- the command end to end ---------------------------------------------------------------------

def test_cli_end_to_end_writes_a_png_and_a_model_that_reloads_bit_for_bit(tmp_path, capsys):
    out = tmp_path / "results"
    assert main(["train", *TINY, "--seed", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    png, model_file = _file(out, "mlp-sin-h4-n8-it5-20-seed3", "png"), _file(out, "mlp-sin-h4-n8-it5-20-seed3", "json")
    assert sorted(p.name for p in out.iterdir()) == [model_file.name, png.name]
    assert f"figure: {png}" in printed and f"model:  {model_file}" in printed
    for line in ["iterations", "        20  "]:
        assert line in printed  # the summary table
    from matplotlib.image import imread

    assert png.read_bytes()[:8] == PNG_SIGNATURE
    height, width, _ = imread(png).shape
    assert width > 1000 and height > 400
    # the same run through the API gives the same net; the file reproduces it bit for bit
    again = two_hidden_layers(hidden=4, seed=3)
    train(again, make_dataset("sin", samples=8), iters=[5, 20], seed=3)
    loaded = micrograd_ws.load(model_file)
    xs = [k / 10 - 1 for k in range(21)]
    assert [loaded(x).data for x in xs] == [again(x).data for x in xs]


def test_cli_two_neuron_default_target_is_the_line_and_data_from_csv(tmp_path, capsys):
    assert main(["train", "--model", "two-neuron", "--iters", "10", "--out", str(tmp_path)]) == 0
    assert "y = 1.5x - 0.5" in capsys.readouterr().out
    csv = tmp_path / "my points.csv"
    csv.write_text("x,y\n0,1\n0.5,0.5\n1,0\n")
    assert main(["train", "--data", str(csv), "--hidden", "3", "--iters", "10", "--out", str(tmp_path)]) == 0
    assert "data from" in capsys.readouterr().out
    assert _file(tmp_path, "mlp-my_points-h3-it10", "png").exists() and _file(tmp_path, "mlp-my_points-h3-it10", "json")


@pytest.mark.parametrize("args, words", [
    (["--iters", "100,abc"], "--iters: expected positive iteration counts"),
    (["--iters", "0"], "--iters: expected positive iteration counts"),
    (["--lr", "nan"], "--lr: expected a positive number"),
    (["--lr", "-0.1"], "--lr: expected a positive number"),
    (["--hidden", "0"], "--hidden: expected a positive whole number"),
    (["--target", "cubic"], "invalid choice: 'cubic'"),
    (["--target", "sin", "--data", "x.csv"], "not allowed with argument"),
])
def test_cli_rejects_bad_arguments_with_usage_errors(args, words, capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", *args])
    assert e.value.code == 2 and words in capsys.readouterr().err


@pytest.mark.parametrize("args, words", [
    (["--model", "two-neuron", "--hidden", "5"], "two-neuron model has no hidden layer"),
    (["--hidden", "5000"], "too wide"),
    (["--data", "missing.csv"], "missing.csv: no such file"),
    (["--data", "x.csv", "--samples", "5"], "--samples applies to built-in targets"),
])
def test_cli_explains_what_is_wrong(tmp_path, monkeypatch, capsys, args, words):
    monkeypatch.chdir(tmp_path)
    assert main(["train", *args]) in (1, 2)
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_cli_out_must_be_a_directory(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("")
    assert main(["train", *TINY, "--out", str(f)]) == 1
    assert "is a file; give a directory" in capsys.readouterr().err


def test_missing_matplotlib_is_named_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    assert main(["train", *TINY, "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "needs matplotlib" in err and "pip install 'micrograd_ws[train]'" in err
    assert "source " not in err  # (run in the project's venv: no advice to activate it)
    assert _outputs(tmp_path) == []
    venv = Path(__file__).resolve().parents[1] / ".venv"
    if venv.is_dir():  # a Python outside make demo's venv: told to use it (found by a fresh-clone walk-through)
        monkeypatch.setattr(sys, "prefix", str(tmp_path))
        assert main(["train", *TINY, "--out", str(tmp_path)]) == 1
        assert f"or run it in the project's venv, which has them: source {venv}/bin/activate" in capsys.readouterr().err
    with pytest.raises(ImportError, match="matplotlib"):
        plot(None, None)


def test_module_and_console_script_run(tmp_path):
    bin_dir = Path(sys.executable).parent
    script = bin_dir / "micrograd-ws"
    if not script.exists():
        pytest.fail(f"the console script is not installed next to {sys.executable}: pip install -e .")
    help_text = subprocess.run([str(script), "train", "--help"], capture_output=True, text=True, check=True).stdout
    for option in ["--model", "--hidden", "--iters", "--lr", "--target", "--data", "--seed", "--out"]:
        assert option in help_text
    done = subprocess.run([sys.executable, "-m", "micrograd_ws", "train", *TINY, "--out", str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^training: 20 iterations in [\d.]+ s, C≈\S+ over the last 20$", done.stdout, re.M)  # a summary: stdout
    assert done.stdout.count("training: ") == 1 and done.stderr == ""  # not a terminal: one line, no bar redraws
    assert _file(tmp_path, "mlp-sin-h4-n8-it5-20", "png").read_bytes()[:8] == PNG_SIGNATURE


def test_plot_draws_target_data_each_count_and_the_cost():
    data = make_dataset("step", samples=12)
    history = train(two_hidden_layers(hidden=3), data, iters=[4, 8, 16])
    fig = plot(history, data, "title")
    fit, cost = fig.axes
    labels = [t.get_text() for t in fit.get_legend().get_texts()]
    assert labels[0].startswith("target y = 0 for x < 0") and labels[1] == "data (12 samples)"
    assert [x for x in labels if x.startswith("after")] == [
        f"after {n} iterations (mean C {s.loss:.3g})" for n, s in zip([4, 8, 16], history.snapshots[1:])]
    assert cost.get_xscale() == "log" and len(cost.lines[0].get_xdata()) == 16


# --- data ---------------------------------------------------------------------------------------

def test_builtin_targets_are_sampled_evenly_over_their_domain():
    for name, t in TARGETS.items():
        data = make_dataset(name, samples=9)
        assert data.xs[0] == t.domain[0] and data.xs[-1] == t.domain[1] and len(data) == 9
        assert all(y == t.fn(x) for x, y in zip(data.xs, data.ys))
    assert make_dataset("sin", samples=3).ys == (pytest.approx(0.0), 0.0, pytest.approx(0.0))
    with pytest.raises(DataError, match="unknown target 'cos'; choose one of line, sin"):
        make_dataset("cos")
    with pytest.raises(DataError, match="at least 2"):
        make_dataset("sin", samples=1)


@pytest.mark.parametrize("xs, ys, words", [
    ((0.0, 1.0), (1.0,), "as many xs as ys"), ((), (), "at least one"),
    ((0.0, float("nan")), (1.0, 2.0), "xs[1] = nan is not a finite number"),
    ((0.0,), ("1",), "ys[0] = '1' is not a finite number"), ((True,), (1.0,), "xs[0] = True"),
])
def test_a_dataset_made_by_hand_is_checked(xs, ys, words):
    with pytest.raises(DataError, match=re.escape(words)):
        Dataset(xs, ys, "by hand")
    assert Dataset((1, 2), (3, 4.5), "ints").xs == (1.0, 2.0)


@pytest.mark.parametrize("text, words", [
    ("x,y\n0,1\n0.5,abc\n", "line 3: column y is 'abc', not a number"),
    ("0,1\n\n1,2,3\n", "line 3: expected 2 values, got 3"),
    ("x,y\n0.5\n", "line 2: expected 2 values, got 1"),
    ("0,1\nnan,2\n", "line 2: column x is nan; every value must be a finite number"),
    ("0,1\n1,inf\n", "line 2: column y is inf"),
    ("0,1\n1,1e999\n", "line 2: column y is 1e999"),
    ("a,b\n1,2\n", "line 1: the header 'a,b' has no column x or y"),
    ("x,z\n1,2\n", "has no column y"),
    ("x,y\n", "a header but no data rows"),
    ("", "no data rows"),
    ("# only a comment\n\n", "no data rows"),
    ('x,y\n"1,2\n', "line 2: expected 2 values, got 1"),
])
def test_csv_reader_rejects_bad_rows_with_the_line_number(tmp_path, text, words):
    path = tmp_path / "d.csv"
    path.write_text(text)
    with pytest.raises(DataError) as e:
        read_csv(path)
    assert words in str(e.value) and str(path) in str(e.value)


def test_csv_reader_accepts_headers_comments_blank_lines_and_bom(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes("\ufeff# measured\nid, Y ,X\n\n1, 2.5 ,-1\n2,3e-1,  0.5\n".encode())
    data = read_csv(path)
    assert data.xs == (-1.0, 0.5) and data.ys == (2.5, 0.3) and data.name == "d" and data.target is None
    assert data.x_range == (-1.0, 0.5)


def test_csv_reader_refuses_missing_directory_and_binary_files(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_csv(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="is a directory"):
        read_csv(tmp_path)
    (tmp_path / "b.csv").write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(DataError, match="not UTF-8"):
        read_csv(tmp_path / "b.csv")


@settings(max_examples=50)
@given(st.lists(st.tuples(values(-1e308, 1e308), values(-1e308, 1e308)), min_size=1, max_size=20))
def test_csv_round_trips_any_finite_numbers(tmp_path_factory, pairs):
    path = tmp_path_factory.mktemp("csv") / "d.csv"
    path.write_text("x,y\n" + "".join(f"{x!r},{y!r}\n" for x, y in pairs))
    data = read_csv(path)
    assert list(zip(data.xs, data.ys)) == pairs
    assert all(math.isfinite(v) for v in data.xs + data.ys)


def test_runs_with_other_settings_get_other_names_and_a_rerun_says_what_it_replaced(tmp_path, capsys):
    assert main(["train", *TINY, "--out", str(tmp_path)]) == 0
    assert "replaced" not in capsys.readouterr().out
    assert main(["train", *TINY, "--lr", "0.02", "--out", str(tmp_path)]) == 0
    assert "replaced" not in capsys.readouterr().out
    assert _outputs(tmp_path) == ["mlp-sin-h4-n8-it5-20-lr0.02.json", "mlp-sin-h4-n8-it5-20-lr0.02.png",
                                  "mlp-sin-h4-n8-it5-20.json", "mlp-sin-h4-n8-it5-20.png"]
    assert main(["train", *TINY, "--out", str(tmp_path)]) == 0
    said = capsys.readouterr().out
    png, model_file = _file(tmp_path, "mlp-sin-h4-n8-it5-20", "png"), _file(tmp_path, "mlp-sin-h4-n8-it5-20", "json")
    assert f"replaced {png} and {model_file} " \
           "of an earlier run with these settings (the same settings give the same numbers)" in said


def test_the_running_mean_starts_at_the_mean_cost_before_training():
    from micrograd_ws.train import _running_mean

    history = train(two_hidden_layers(hidden=4, seed=0), make_dataset("sin", samples=8), iters=[200], seed=0)
    before = history.snapshots[0].loss
    smooth = _running_mean(history.losses, 10, before)
    assert smooth[0] == pytest.approx((9 * before + history.losses[0]) / 10)
    assert smooth[9] == pytest.approx(sum(history.losses[:10]) / 10) and smooth[-1] == pytest.approx(
        sum(history.losses[-10:]) / 10)


# --- issue 25 item 15: a replay's moments × parameters are capped ------------------------------

@pytest.mark.parametrize("counts, parameters", [(range(1, 301), 10_401), (range(1, 5001), 10_401),
                                                (range(1, 5001), 13), ([10, 100, 1000], 1_000_000)])
def test_replay_iterations_fit_the_cap_keep_the_ends_and_the_counts_first(counts, parameters):
    every = replay_iterations(counts)
    kept = replay_iterations(counts, parameters=parameters)
    room = replay_room(parameters)
    assert len(kept) <= room and 2 * parameters * len(kept) <= max(MAX_REPLAY_NUMBERS, 4 * parameters)
    assert kept[0] == 0 and kept[-1] == max(counts) and set(kept) <= set(every) and kept == sorted(set(kept))
    if len(every) <= room:
        assert kept == every
    else:  # as many schedule counts as fit (room minus the first moment, 0)
        assert len(set(kept) & set(counts)) >= min(len(set(counts)), room - 1)
        assert len(kept) >= min(room, len(every)) - 2  # thinned evenly, not emptied
