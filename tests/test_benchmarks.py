"""The benchmark script runs end to end and its four implementations agree (no timings asserted)."""
import importlib.util
from pathlib import Path


BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_run", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_all_implementations_follow_the_same_loss_trajectory():
    """micrograd joins in when installed (make bench installs it in its own environment)."""
    bench = _load()
    times = bench.sgd_steps(rounds=1, hidden=12)  # raises SystemExit if any trajectory departs
    assert set(times) >= {"micrograd_ws", bench.Floor.name, bench.FloorSkipping.name}


def test_floor_matches_the_handout_reference_gradients():
    bench = _load()
    import micrograd_ws as mw
    from micrograd_ws.handout import MLPParams, mlp_gradients

    state = mw.two_hidden_layers(6, seed=4).state_dict()
    floor, skipping = bench.Floor(state), bench.FloorSkipping(state)
    grads = mlp_gradients(MLPParams.from_state_dict(state), 0.7, -0.2)
    floor.step(0.7, -0.2)
    skipping.step(0.7, -0.2)
    for j in range(6):
        for k in range(6):
            expected = state["w2"][j][k] - 0.01 * grads[f"w2[{j}][{k}]"]
            assert abs(floor.w2[j][k] - expected) < 1e-12 and abs(skipping.w2[j][k] - expected) < 1e-12


def test_quick_run_prints_every_section(capsys):
    assert _load().main(["--quick"]) == 0
    out = capsys.readouterr().out
    for section in ("1. One SGD step", "2. Random binary-op graph", "3. backward() through a chain",
                    "5. Second derivatives"):
        assert section in out
