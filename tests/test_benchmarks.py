"""The benchmark harness: fresh workers that refuse foreign heaps, the trajectory check, the random
graph's bounds, and a quick run end to end (no timings asserted)."""
import doctest
import importlib.util
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

import micrograd_ws as mw

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
WORKER = BENCH / "worker.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
    mod = sys.modules["bench_run"] = importlib.util.module_from_spec(spec)  # dataclasses look it up
    spec.loader.exec_module(mod)  # puts benchmarks/ on sys.path: contenders, dag
    return mod


bench = _load()
import contenders  # noqa: E402
import dag  # noqa: E402


def _floor_job(hidden=4, steps=3):
    return {"task": "sgd", "contender": contenders.Floor.name, "alpha": 0.01,
            "state": mw.two_hidden_layers(hidden, seed=1).state_dict(),
            "stream": bench.data_stream(steps), "warmup": 1, "block": 1, "blocks": steps - 1}


def _worker(job, preamble="pass"):
    """Run worker.py as run.py does (python -I), after `preamble` in the same process."""
    code = (f"import sys, runpy; sys.path.insert(0, {str(BENCH.parent)!r}); {preamble}; "
            f"sys.argv = [{str(WORKER)!r}]; runpy.run_path({str(WORKER)!r}, run_name='__main__')")
    return subprocess.run([sys.executable, "-I", "-c", code], input=json.dumps(job),
                          capture_output=True, text=True, timeout=60)


def test_worker_refuses_a_package_its_contender_does_not_need():
    clean = _worker(_floor_job())
    assert clean.returncode == 0, clean.stderr
    assert len(json.loads(clean.stdout)["losses"]) == 3
    dirty = _worker(_floor_job(), preamble="import micrograd_ws")
    assert dirty.returncode == 1
    error = json.loads(dirty.stdout)["error"]
    assert "micrograd_ws" in error and contenders.Floor.name in error


def test_run_job_stops_the_run_on_a_crashed_worker():
    with pytest.raises(SystemExit, match="crashed"):
        bench.run_job({"task": "sgd", "contender": "no such contender"})


def test_micrograd_worker_holds_neither_torch_nor_micrograd_ws():
    pytest.importorskip("micrograd")
    out = bench.run_job(dict(_floor_job(), contender=contenders.Micrograd.name))  # raises if not
    assert len(out["losses"]) == 3


def test_trajectory_check_names_the_contender_and_the_step():
    ok = {"floor": [1.0, 0.5, 0.25], "ours": [1.0, 0.5 * (1 + 1e-9), 0.25]}
    bench.check_same_trajectory(ok, "floor")
    for bad in (0.5 * (1 + 1e-6), math.nan):
        with pytest.raises(SystemExit, match="ours left the loss trajectory of floor at step 1"):
            bench.check_same_trajectory({"floor": [1.0, 0.5, 0.25], "ours": [1.0, bad, 0.25]}, "floor")


def test_contenders_follow_the_floors_trajectory_in_their_own_processes():
    """micrograd and torch join in when installed (make bench installs them in its own environment)."""
    state = mw.two_hidden_layers(8, seed=2).state_dict()
    stream = bench.data_stream(4)
    names = [c.name for c in bench.FAST + bench.SLOW
             if bench.installed(c.needs - {"numpy"})]
    losses = {}
    for name in names:
        out = bench.run_job({"task": "sgd", "contender": name, "state": state, "alpha": 0.01,
                             "stream": stream, "warmup": 2, "block": 1, "blocks": 2})
        if "losses" in out:
            losses[name] = out["losses"]
    assert {contenders.Eager.name, contenders.LectureLoop.name, contenders.DemoLoop.name,
            contenders.ZeroByHandSGD.name, contenders.Floor.name, contenders.FloorSkipping.name} <= set(losses)
    bench.check_same_trajectory(losses, contenders.Floor.name)
    net = mw.two_hidden_layers(8, seed=2)  # the reference: the handout net trained by micrograd_ws
    opt = mw.SGD(net.parameters(), lr=0.01)
    for (x, y), floor_loss in zip(stream, losses[contenders.Floor.name]):
        opt.zero_grad()
        loss = mw.squared_error(net(x), y)
        loss.backward()
        opt.step()
        assert loss.data == pytest.approx(floor_loss, rel=1e-12)


def test_compiled_contenders_train_as_eager_does_to_the_bit(monkeypatch):
    state = mw.two_hidden_layers(5, seed=3).state_dict()
    samples = bench.data_stream(30)
    eager = contenders.Eager(state, 0.01)
    expected = contenders._steps(eager)(samples)
    for cls in (contenders.Compiled, contenders.CompiledPerCall, contenders.CompiledLoss):
        runner = cls(state, 0.01)
        assert contenders._steps(runner)(samples) == expected, cls.name
        assert runner.net.state_dict() == eager.net.state_dict(), cls.name
    monkeypatch.delattr(mw, "compile")
    with pytest.raises(contenders.NotAvailable, match="compile"):
        contenders.Compiled(state, 0.01)


def test_lecture_loop_is_the_lectures_loop_and_trains_as_eager_does():
    """The floor's loss trajectory, eager's losses and weights to the bit, and net.parameters() called
    twice a step, as the lecture's loop does (a contender sped up by hoisting it would not be that loop)."""
    state = mw.two_hidden_layers(6, seed=5).state_dict()
    samples = bench.data_stream(12)
    lecture = contenders.LectureLoop(state, 0.05)
    assert contenders.LectureLoop in bench.FAST and not hasattr(lecture, "steps")  # one step() per sample
    parameters, calls = lecture.net.parameters, []
    object.__setattr__(lecture.net, "parameters", lambda: calls.append(1) or parameters())
    losses = contenders._steps(lecture)(samples)
    assert len(calls) == 2 * len(samples)
    floor = contenders.Floor(state, 0.05)
    bench.check_same_trajectory({"floor": [floor.step(x, y) for x, y in samples], "lecture": losses}, "floor")
    eager = contenders.Eager(state, 0.05)
    assert contenders._steps(eager)(samples) == losses
    assert lecture.net.state_dict() == eager.net.state_dict() != state  # it trained, as eager did


def test_floor_matches_the_handout_reference_gradients():
    from micrograd_ws.handout import MLPParams, mlp_gradients

    state = mw.two_hidden_layers(6, seed=4).state_dict()
    floor, skipping = contenders.Floor(state, 0.01), contenders.FloorSkipping(state, 0.01)
    grads = mlp_gradients(MLPParams.from_state_dict(state), 0.7, -0.2)
    floor.step(0.7, -0.2)
    skipping.step(0.7, -0.2)
    for j in range(6):
        for k in range(6):
            expected = state["w2"][j][k] - 0.01 * grads[f"w2[{j}][{k}]"]
            assert abs(floor.w2[j][k] - expected) < 1e-12 and abs(skipping.w2[j][k] - expected) < 1e-12


def test_random_graph_of_a_million_nodes_stays_bounded():
    """Values and gradients far from overflow (and values from zero) at 10^6 nodes; generation only."""
    leaves, prog = dag.random_program(10**6, seed=0)
    assert len(prog) == 10**6 and {op for op, _, _ in prog} == {"+", "-", "*"}
    assert all(a < len(leaves) + i and b < len(leaves) + i for i, (_, a, b) in enumerate(prog))
    top_value, top_grad = dag.magnitudes(leaves, prog)
    assert top_value < 1e3 and top_grad < 1e12


def test_graph_magnitudes_are_those_of_a_real_backward_pass():
    leaves, prog = dag.random_program(25_000, seed=3)  # three blocks and a running total
    nodes = dag.build(mw.Value, leaves, prog)
    nodes[-1].backward()
    top_value, top_grad = dag.magnitudes(leaves, prog)
    assert top_value == max(abs(v.data) for v in nodes)
    assert top_grad == pytest.approx(max(abs(v.grad) for v in nodes), rel=1e-9)


def test_doctests_of_the_benchmark_modules():
    for mod in (bench, dag, contenders):
        assert doctest.testmod(mod).failed == 0


def test_quick_run_prints_every_section_and_the_targets(capsys):
    assert bench.main(["--quick"]) == 0
    out = capsys.readouterr().out
    for section in ("1. One SGD step", "2. The handout schedule", "3. Random +, -, * graph",
                    "4. backward() through a chain", "5. Second derivatives", "Targets"):
        assert section in out
    rows = out.split("\nTargets")[1].splitlines()[1:]
    assert len(rows) >= 4 and all(row.endswith(("PASS", "MISS", "not measured")) for row in rows)
    goals = dict(re.match(r"  (\S.*?)  +.*?([<>]= \S+)", row).groups() for row in rows)  # label: goal
    assert goals["lecture loop step / floor (dead rows skipped)"] == "<= 2.5x"
    assert goals["eager SGD step / floor (dead rows skipped)"] == "<= 1.7x"
    assert goals["compiled, a call per step / floor (dead rows skipped)"] == "<= 1x"
    assert goals["compiled, step.run(samples) / floor (dead rows skipped)"] == "<= 0.9x"
    assert goals["micrograd 0.1.0 step / lecture loop step (fresh processes)"] == ">= 60x"
    assert contenders.LectureLoop.name in out.split("\nTargets")[0]  # measured in section 1


def test_every_loop_of_loops_py_trains_the_net_as_eager_does_to_the_bit():
    # benchmarks/loops.py times the ways a learner writes the loop: each must be the same training
    spec = importlib.util.spec_from_file_location("bench_loops", BENCH / "loops.py")
    loops = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loops)
    state = mw.two_hidden_layers(8, seed=3).state_dict()
    stream = bench.data_stream(12)
    results = {}
    for cls in loops.LOOPS:
        runner = cls(state, 0.01)
        if hasattr(runner, "steps"):
            runner.steps = 145  # (the lecture's loop for 5 steps, then eager's)
        losses = [runner.step(x, y) for x, y in stream]
        results[cls.name] = (losses, [p.data.hex() for p in runner.net.parameters()])
    assert len(results) == 7
    for name, result in results.items():
        assert result == results[contenders.Eager.name], name
