"""Class 4 of the hardening review: extreme or malformed input gets a one-line error naming the cause.

Each case is one the review found as a traceback, a false diagnosis or a silent acceptance.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction

import pytest

import micrograd_ws as mw
from micrograd_ws.data import DataError, read_csv
from micrograd_ws.serialize import ModelFileError, load, save
from micrograd_ws.train import train


def _cli(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "micrograd_ws", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def _one_line_error(r: subprocess.CompletedProcess) -> str:
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_graphs_with_an_input_that_overflows_the_net(tmp_path):
    line = _one_line_error(_cli("graphs", "--x", "1e308", "--out", "g", cwd=tmp_path))
    assert "overflows" in line and "--x" in line


def test_graphs_only_naming_nothing(tmp_path):
    line = _one_line_error(_cli("graphs", "--only", ",,,", "--out", "g", cwd=tmp_path))
    assert "names no parameter" in line


def test_data_that_overflow_before_training_are_not_called_divergence(tmp_path):
    f = tmp_path / "extreme.csv"
    f.write_text("x,y\n1e308,1\n-1e308,2\n")
    with pytest.raises(DataError, match="before any training step") as e:
        train(mw.two_hidden_layers(4, seed=0), read_csv(f), [10])
    assert "lr" not in str(e.value)  # not the "diverged, try a smaller --lr" advice


def test_a_bad_byte_far_into_a_csv_is_reported_at_its_line(tmp_path):
    f = tmp_path / "bad.csv"
    rows = "".join(f"{i / 1000},{i / 2000}\n" for i in range(20_000))
    f.write_bytes(b"x,y\n" + rows.encode() + b"0.5,\xff\n")  # the bad byte is on line 20,002
    with pytest.raises(DataError, match=r"line 20002, column 5: byte 0xff"):
        read_csv(f)


def test_semicolon_separated_csv_with_decimal_commas(tmp_path):
    f = tmp_path / "semi.csv"
    f.write_text("x;y\n0,5;1,0\n1,5;2,0\n")
    d = read_csv(f)
    assert list(d.xs) == [0.5, 1.5] and list(d.ys) == [1.0, 2.0]


@pytest.fixture
def model_doc(tmp_path):
    save(mw.two_neuron(seed=0), tmp_path / "m.json")
    return (tmp_path / "m.json").read_text()


def test_duplicate_keys_in_a_model_file_are_refused(tmp_path, model_doc):
    f = tmp_path / "dup.json"
    f.write_text(model_doc.replace("{", '{"version": 1, ', 1))
    with pytest.raises(ModelFileError, match="'version' appears twice"):
        load(f)


@pytest.mark.parametrize("version", [1.0, True, "1"])
def test_a_version_that_only_looks_like_1_is_refused(tmp_path, model_doc, version):
    doc = json.loads(model_doc)
    doc["version"] = version
    f = tmp_path / "v.json"
    f.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="version"):
        load(f)


def test_save_takes_numpy_scalars_and_refuses_a_huge_int_by_name(tmp_path):
    np = pytest.importorskip("numpy")
    net = mw.two_neuron(seed=0)
    w = dict(net.named_parameters())["w1"]
    w.data = np.float32(0.25)
    save(net, tmp_path / "f32.json")
    assert dict(load(tmp_path / "f32.json").named_parameters())["w1"].data == 0.25
    w.data = 10**400
    with pytest.raises(ValueError, match="w1 = an integer of 401 digits") as e:
        save(net, tmp_path / "big.json")
    assert "nothing was written" in str(e.value) and not (tmp_path / "big.json").exists()


def test_a_fraction_beyond_float_range_is_named():
    with pytest.raises(ValueError, match=r"a Fraction of about 10\*\*399 is beyond the range of a float"):
        mw.Value(Fraction(10**400, 3))


def test_the_mean_of_huge_values_is_their_finite_mean():
    assert mw.mean([mw.Value(1e308), mw.Value(1e308)]).data == 1e308
    assert mw.mean([mw.Value(1.5e308), mw.Value(-0.5e308), mw.Value(1e308)]).data == pytest.approx(1.5e308 / 3 - 0.5e308 / 3 + 1e308 / 3)


def test_a_0d_array_is_one_input():
    np = pytest.importorskip("numpy")
    net = mw.two_hidden_layers(4, seed=0)
    assert net(np.array(0.5)).data == net(0.5).data


def _loose(net):
    for _ in range(3):  # enough single accesses for every store to let go at the next forward pass
        for p in net.parameters():
            p.grad = 0.0
    net(0.5)
    assert all(type(p).__name__ == "Value" and type(p) is not mw.Value for p in net.parameters())


@pytest.mark.parametrize("kind", ["stores", "loose parameters", "plain Values"])
@pytest.mark.parametrize("bad", ["0.5", None, [1.0]])
def test_a_weight_set_by_hand_to_what_is_not_a_number_is_named_with_the_fix(kind, bad):
    from test_stores import plain_copy
    net = mw.two_hidden_layers(4, seed=1)
    if kind == "plain Values":
        net = plain_copy(net)
    elif kind == "loose parameters":
        _loose(net)
    before = net(0.7).data
    for label in ("w2[1][2]", "b2[3]", "w1[0]", "b3"):
        p = dict(net.named_parameters())[label]
        good, p.data = p.data, bad
        with pytest.raises(TypeError) as e:
            net(0.7)
        what = "None" if bad is None else f"the {type(bad).__name__} {bad!r}"
        assert str(e.value) == f"{label}.data is {what}, not a real number; set one, e.g. {label}.data = 0.5"
        p.data = good
        assert net(0.7).data == before  # nothing else changed on the way


def _three_kinds(seed=1):
    from test_stores import plain_copy
    loose = mw.two_hidden_layers(4, seed=seed)
    _loose(loose)
    return {"stores": mw.two_hidden_layers(4, seed=seed), "loose parameters": loose,
            "plain Values": plain_copy(mw.two_hidden_layers(4, seed=seed))}


def _error(net, x=0.7):
    with pytest.raises(TypeError) as e:
        net(x)
    return str(e.value)


def test_the_number_named_is_the_one_that_does_not_compute_not_one_that_does():
    np = pytest.importorskip("numpy")
    for kind, net in _three_kinds().items():
        d = dict(net.named_parameters())
        d["w2[1][0]"].data, d["w2[1][1]"].data = np.True_, np.array(0.25)  # not floats, but they compute
        ok = net(0.7).data
        w, b = d["w2[1][3]"].data, d["b2[2]"].data
        d["w2[1][3]"].data = "0.5"
        assert _error(net).startswith("w2[1][3].data is the str '0.5', not a real number"), kind
        d["w2[1][3]"].data = w
        d["b2[2]"].data = 1 + 2j  # a number, but not a real one
        assert _error(net) == "b2[2].data is the complex (1+2j), not a real number; set one, e.g. b2[2].data = 0.5", kind
        d["b2[2]"].data = np.array([0.5, 0.5])  # many numbers
        assert _error(net).startswith("b2[2].data is the ndarray array([0.5, 0.5]), not a real number"), kind
        d["b2[2]"].data = b
        assert net(0.7).data == ok, kind  # as before: nothing left half-changed


def test_two_bad_numbers_name_the_first_in_the_order_of_the_nodes_parents_weights_inputs_bias():
    for kind, net in _three_kinds().items():
        x = mw.Value(0.7, label="x")
        x.data = "0.7"
        dict(net.named_parameters())["b1[0]"].data = None
        assert _error(net, [x]) == "x.data is the str '0.7', not a real number; set one, e.g. x.data = 0.5", kind


def test_an_unlabelled_parameter_is_named_by_its_place_in_the_neuron():
    n = mw.Neuron(3)
    n.w[1].data = "0.5"
    with pytest.raises(TypeError, match=r"^w·x\+b: weight w\[1\]\.data is the str '0\.5', not a real number; "
                                        r"set one, e\.g\. neuron\.w\[1\]\.data = 0\.5$"):
        n([0.1, 0.2, 0.3])
    n.w[1].data, n.b.data = 0.5, None
    with pytest.raises(TypeError, match=r"^w·x\+b: bias b\.data is None, not a real number; set one, e\.g\. neuron\.b\.data = 0\.5$"):
        n([0.1, 0.2, 0.3])


def test_a_long_text_set_as_a_weight_is_shown_shortened_in_the_message():
    for kind, net in _three_kinds().items():
        dict(net.named_parameters())["w2[0][1]"].data = "0.5 " * 5000  # a file's contents pasted by mistake
        message = _error(net)
        assert len(message) < 200, (kind, len(message))
        assert message.startswith("w2[0][1].data is the str '0.5 0.5"), kind
        assert message.endswith("not a real number; set one, e.g. w2[0][1].data = 0.5"), kind


def test_review_small_messages_name_the_right_thing(tmp_path, capsys):
    # found by review: load('') spoke of '.', a directory; a progress folder got the advice for reading
    # a room; '1_45' was read as 145 (and diagnosed as a decimal point moved); explore, lab and worksheet
    # refused an --out in a new folder that train makes
    from micrograd_ws import load
    from micrograd_ws.cli import main
    from micrograd_ws.exercises import HandoutExercise
    from micrograd_ws.progress import ProgressError
    with pytest.raises(ValueError, match=r"^load\(''\): the path is empty; give the model file's name"):
        load("")
    with pytest.raises(ProgressError, match=r"is a folder: give this learner's progress file, such as '.*progress.json'"):
        HandoutExercise("two_neuron", seed="zed", progress=tmp_path)
    with pytest.raises(ValueError, match=r"'1_45' is not a number"):
        HandoutExercise("two_neuron", seed="zed").check("O", "1_45")
    for argv, made in [(["explore", "--model", "two-neuron", "--out"], "a/b/page.html"),
                       (["worksheet", "--seed", "ada", "--out"], "c/sheet.html")]:
        assert main([*argv, str(tmp_path / made)]) == 0
        assert (tmp_path / made).read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    # no folder made for a '~' the shell did not expand (found by review)
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert main(["explore", "--model", "two-neuron", "--out", "~/zz/p.html"]) == 2
    finally:
        os.chdir(here)
    assert not (tmp_path / "~").exists()
    # a refused run takes back the folders it made, and leaves no file
    assert main(["explore", "--model", "two-neuron", "--param", "w9", "--out", str(tmp_path / "d" / "e" / "p.html")]) == 2
    assert not (tmp_path / "d").exists()
    capsys.readouterr()
