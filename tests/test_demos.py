"""The demos run as a user runs them, and the workshop notebook executes top to bottom."""
import json
import re
import subprocess
import sys
from pathlib import Path

from micrograd_ws import load, two_neuron
from micrograd_ws.handout import ALPHA, two_neuron_gradients

DEMOS = Path(__file__).resolve().parents[1] / "demos"


def _run(script, *args, cwd):
    done = subprocess.run([sys.executable, str(DEMOS / script), *args], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_two_neurons_prints_the_handouts_first_page(tmp_path):
    out = _run("two_neurons.py", cwd=tmp_path)
    w1, b1 = (p.data for p in two_neuron(seed=0).parameters())
    i, O_des = 0.5, 1.0
    O = w1 * i + b1
    g = two_neuron_gradients(w1, b1, i, O_des)
    for expected in [f"= {O:.6f}", f"= {(O - O_des) ** 2:.6f}", f"{g['w1']:>10.6f}  {g['w1']:>10.6f}",
                     f"{g['b1']:>10.6f}  {g['b1']:>10.6f}", f"= {w1 - ALPHA * g['w1']:.6f}",
                     f"= {b1 - ALPHA * g['b1']:.6f}", "learned w1 = 1.500000, b1 = -0.500000"]:
        assert expected in out
    for step in ["① Forward propagation", "② Backward propagation", "③ Update weights & biases"]:
        assert step in out


def test_two_hidden_layers_writes_the_figure_and_the_model(tmp_path):
    out = _run("two_hidden_layers.py", "--hidden", "4", "--iters", "10", "30", "--out", "figs", cwd=tmp_path)
    assert "MLP(1 → 4 → 4 → 1" in out and "predicts the same: True" in out
    assert (tmp_path / "figs" / "two_hidden_layers.png").read_bytes()[:4] == b"\x89PNG"
    assert load(tmp_path / "figs" / "two_hidden_layers.json").sizes == [1, 4, 4, 1]


def test_curvature_predicts_the_largest_stable_alpha_and_draws_dC_dw1(tmp_path, dot):
    out = _run("curvature.py", "--out", "figs", cwd=tmp_path)
    i = 2.0  # the demo's sample: input 2, desired output 1
    assert f"∂²C/∂w1² = 2·input²                          = {2 * i * i:.6f}" in out
    assert f"α < 2 / ∂²C/∂w1² = {2 / (2 * i * i):.6g}" in out
    assert f"has largest eigenvalue {2 * (i * i + 1):.6g} = 2(input² + 1): α < 2/10 = {2 / (2 * (i * i + 1)):.6g}" in out
    rows = [line for line in out.splitlines() if "× the limit" in line]
    assert [r.split()[-1] for r in rows] == ["converges", "diverges"] * 2
    assert "the handout's α)   C after 40 steps" in out and out.count("converges") == 4
    assert "C = 0.798514 -> 0\n" in out                      # Newton: one step to C = 0
    assert "w1 = 1.500000, b1 = -0.500000" in out            # and on two samples, the line itself
    assert f"w1.grad after ∂C/∂w1.backward(): {2 * i * i:.6f}" in out
    assert "= i · 2 · 1 · i\n" in out and f"w1.grad = {2 * i * i:g} ✓" in out  # explain: ∂²C/∂w1² = 2i²
    svg = (tmp_path / "figs" / "dC_dw1.svg").read_text()
    assert "<svg" in svg and "∂C/∂w1" in svg and "w1" in svg


def _schedule(out):
    """The iteration counts of the summary table's rows."""
    rows = out.split("seconds\n", 1)[1].split("figure:")[0]
    return [int(line.split()[0]) for line in rows.splitlines()]


def test_two_hidden_layers_reads_the_schedule_as_train_does(tmp_path):
    out = _run("two_hidden_layers.py", "--hidden", "2", "--iters", "20,5", "--out", "o", cwd=tmp_path)
    assert _schedule(out) == [0, 5, 20]  # before training, then each count
    mixed = _run("two_hidden_layers.py", "--hidden", "2", "--iters", "5,20", "10", "--out", "o", cwd=tmp_path)
    assert _schedule(mixed) == [0, 5, 10, 20]
    done = subprocess.run([sys.executable, str(DEMOS / "two_hidden_layers.py"), "--iters", "5,,x"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2 and "separated by commas, such as 100,500,1000,5000" in done.stderr
    assert done.stderr.rstrip().endswith("got '5,,x'")


def _kernel_spec(tmp_path):
    """A kernel spec running THIS interpreter, so the notebook uses the venv under test."""
    spec = tmp_path / "kernels" / "micrograd-ws-test"
    spec.mkdir(parents=True)
    spec.joinpath("kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "micrograd_ws tests", "language": "python",
    }))
    return tmp_path


def test_the_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(DEMOS / "handout.ipynb", as_version=4)
    nbformat.validate(nb)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and "HIDDEN = 100" in params[0].source  # as shipped: the handout's settings
    params[0].source = "HIDDEN = 6\nITERS = [20, 60]\nALPHA = 0.01\nSEED = 1\n"  # quick, same code path
    monkeypatch.setenv("JUPYTER_PATH", str(_kernel_spec(tmp_path)))
    work = tmp_path / "work"
    work.mkdir()
    NotebookClient(nb, timeout=120, kernel_name="micrograd-ws-test",
                   resources={"metadata": {"path": str(work)}}).execute()  # raises on any failing cell

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    text = "".join(o.get("text", "") for o in outputs)
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2 + 3  # both training figures, 3 pictures
    assert "learned w1 = " in text and "same predictions: True" in text
    assert "6 → 6" in text
    worst = float(text.split("largest difference engine vs handout: ")[1].split()[0])
    assert worst < 1e-12
    assert load(work / "out" / "handout_net.json").sizes == [1, 6, 6, 1]
    explorer = [o for o in outputs if "<iframe srcdoc=" in o.get("data", {}).get("text/html", "")]
    assert len(explorer) == 1  # the explorer, on the parameter that moves C most (its chain rule below)
    opened = re.search(r"^∂C/∂(\S+) = ∂C/∂", explorer[0]["data"]["text/plain"], re.M).group(1)
    assert float(re.search(rf"^{re.escape(opened)}\.grad = (\S+) ✓", explorer[0]["data"]["text/plain"], re.M).group(1)) != 0
    # the gradient pictures display inline as PNGs (shown untrusted too), explanations as formulas
    pictures = [o for o in outputs if "draw_grad picture" in o.get("data", {}).get("text/plain", "")]
    assert len(pictures) == 3 and all("image/png" in o["data"] for o in pictures)
    assert all(o["metadata"]["image/png"]["width"] > 0 for o in pictures)  # shown at the SVG's size, fitted
    assert not any("object at 0x" in o.get("data", {}).get("text/plain", "") for o in outputs)
    shown = [o["data"]["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {})]
    assert [re.search(r"\{\\partial ([wb])_\{(\d)\}", m).groups() for m in shown] == [("w", "2"), ("w", "1"), ("b", "2")]
    # the showcase gradients are alive, the third one is 0 on purpose and the text says why
    live = re.findall(r"^∂C/∂(\S+) = (\S+)$", text, re.M)
    assert [n[:2] for n, _ in live] == ["w2", "w1", "b2"] and float(live[0][1]) != 0 != float(live[1][1])
    assert float(live[2][1]) == 0 and "ReLU is off" in "".join(c.source for c in nb.cells)
    # training in a notebook: one line, not a screenful of progress-bar redraws
    errors = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    assert errors == "" and re.search(r"^training: 60 iterations in [\d.]+ s, C≈\S+ over the last 60$", text, re.M)
    # the maths renders with no network: MathML in the markdown cells and the explanations, no $$ left
    prose = "".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "$" not in prose and prose.count("<math") >= 20
    assert all("<math" in o["data"].get("text/html", "") for o in outputs if "text/markdown" in o.get("data", {}))
    assert "same gradients as C.backward(): True" in text and "∂C/∂O += ∂C/∂C · ∂C/∂O = 1 · " in text
