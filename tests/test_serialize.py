"""Model files: exact round trips, every malformed file refused clearly, atomic saves."""
import json
import os
import pickle
import struct

import pytest
from hypothesis import given, settings

import micrograd_ws
from micrograd_ws import MLP, two_hidden_layers, two_neuron
from micrograd_ws.serialize import ModelFileError, load, save
from micrograd_ws.testing import mlps, values


def _bits(model):
    """Every parameter as its exact IEEE-754 bit pattern (tells 0.0 from -0.0)."""
    return [struct.pack("<d", p.data) for p in model.parameters()]


def _valid(tmp_path, model=None):
    path = tmp_path / "model.json"
    (model or two_hidden_layers(hidden=3, seed=1)).save(path)
    return path, json.loads(path.read_text())


def _write(tmp_path, doc):
    path = tmp_path / "bad.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


@settings(max_examples=40)
@given(mlps(nin=1, nout=1, weights=values(-1e308, 1e308)))
def test_round_trip_is_bit_identical_for_any_floats(tmp_path_factory, case):
    path = tmp_path_factory.mktemp("rt") / "m.json"
    case.model.save(path)
    loaded = micrograd_ws.load(path)
    assert loaded.sizes == case.model.sizes
    assert _bits(loaded) == _bits(case.model)
    assert [n for n, _ in loaded.named_parameters()] == [n for n, _ in case.model.named_parameters()]


def test_awkward_floats_survive_exactly(tmp_path):
    model = two_hidden_layers(hidden=2, seed=0)
    awkward = [-0.0, 5e-324, 1.7976931348623157e308, 0.1, 1 / 3, -2.2250738585072014e-308, 1e-300]
    for p, x in zip(model.parameters(), awkward):
        p.data = x
    model.save(tmp_path / "m.json")
    assert _bits(load(tmp_path / "m.json")) == _bits(model)


def test_loaded_model_predicts_bit_for_bit_the_same(tmp_path):
    net = two_hidden_layers(hidden=20, seed=7)
    net.save(tmp_path / "net.json")
    copy = load(str(tmp_path / "net.json"))  # str or Path
    xs = [k / 17 - 1.3 for k in range(40)]
    assert [copy(x).data for x in xs] == [net(x).data for x in xs]


def test_file_records_architecture_names_and_version(tmp_path):
    path, doc = _valid(tmp_path, MLP(2, [3, 2], seed=0))
    assert doc["format"] == "micrograd_ws.MLP" and doc["version"] == 1
    assert doc["sizes"] == [2, 3, 2] and doc["activation"] == "relu"
    assert list(doc["parameters"]) == ["w1", "b1", "w2", "b2"]
    assert len(doc["parameters"]["w1"]) == 3 and len(doc["parameters"]["w1"][0]) == 2
    assert "w1" in path.read_text().splitlines()[6]  # readable: one key or row per line


def test_two_neuron_model_round_trips(tmp_path):
    m = two_neuron(seed=4)
    m.save(tmp_path / "m.json")
    assert load(tmp_path / "m.json").state_dict() == m.state_dict()


def test_loading_does_not_touch_the_global_random_state(tmp_path):
    import random

    path, _ = _valid(tmp_path)
    random.seed(123)
    expected = random.random()
    random.seed(123)
    load(path)
    assert random.random() == expected


# --- malformed files ----------------------------------------------------------------------

def _mutations():
    """(name, change to a valid document, words the error must contain)."""
    def set_(key, value):
        return lambda d: d.__setitem__(key, value)

    def param(key, value):
        return lambda d: d["parameters"].__setitem__(key, value)

    def weight(value):
        return lambda d: d["parameters"]["w2"][1].__setitem__(2, value)

    return [
        ("extra key", set_("comment", "hi"), ["unexpected key 'comment'"]),
        ("missing key", lambda d: d.pop("sizes"), ["missing key 'sizes'"]),
        ("wrong format", set_("format", "pytorch"), ["not a micrograd_ws model file"]),
        ("not an object", lambda d: d.clear(), ["not a micrograd_ws model file"]),
        ("newer version", set_("version", 2), ["newer", "upgrade"]),
        ("version as text", set_("version", "1"), ["version '1'"]),
        ("version as bool", set_("version", True), ["version True"]),
        ("activation", set_("activation", "tanh"), ["activation 'tanh'"]),
        ("sizes not ints", set_("sizes", [1, 3.0, 3, 1]), ["sizes must be"]),
        ("sizes bools", set_("sizes", [True, 3, 3, 1]), ["sizes must be"]),
        ("sizes zero", set_("sizes", [1, 0, 3, 1]), ["sizes must be"]),
        ("sizes too short", set_("sizes", [1]), ["sizes must be"]),
        ("sizes mismatch", set_("sizes", [1, 4, 3, 1]), ["w1 must be [4×1]"]),
        ("huge sizes", set_("sizes", [1, 10**9, 10**9, 1]), ["w1 must be [1000000000×1]"]),
        ("extra parameter", param("w4", [[1.0]]), ["parameters must have exactly the keys"]),
        ("missing parameter", lambda d: d["parameters"].pop("b2"), ["parameters must have exactly the keys"]),
        ("row too short", lambda d: d["parameters"]["w2"][0].pop(), ["w2 must be [3×3]"]),
        ("bias too long", lambda d: d["parameters"]["b3"].append(0.5), ["b3 must be a list of 1"]),
        ("string weight", weight("0.5"), ["w2[1][2]", "'0.5'", "not a number"]),
        ("null weight", weight(None), ["w2[1][2]", "None"]),
        ("bool weight", weight(True), ["w2[1][2]", "True"]),
        ("nested weight", weight([0.5]), ["w2[1][2]", "list"]),
        ("huge integer", weight(10**350), ["w2[1][2]", "overflows a float"]),
        ("parameters not a dict", set_("parameters", [1, 2]), ["parameters must have exactly the keys"]),
    ]


@pytest.mark.parametrize("name, mutate, words", _mutations(), ids=[m[0] for m in _mutations()])
def test_mismatched_or_wrongly_typed_files_are_refused_by_name(tmp_path, name, mutate, words):
    _, doc = _valid(tmp_path)
    mutate(doc)
    path = _write(tmp_path, doc)
    with pytest.raises(ModelFileError) as e:
        load(path)
    for w in words:
        assert w in str(e.value)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("token, words", [("1e400", "overflows a float"), ("-1e999", "overflows a float"),
                                          ("NaN", "contains NaN"), ("Infinity", "contains Infinity"),
                                          ("-Infinity", "contains -Infinity"),
                                          ("1" * 5000, "too large")])
def test_numbers_json_allows_but_floats_cannot_hold_are_refused(tmp_path, token, words):
    path, _ = _valid(tmp_path)
    text = path.read_text()
    first = json.dumps(json.loads(text)["parameters"]["b1"][0])
    path.write_text(text.replace(first, token, 1))
    with pytest.raises(ModelFileError, match=words):
        load(path)


def test_every_truncation_of_a_model_file_is_refused(tmp_path):
    path, _ = _valid(tmp_path, two_hidden_layers(hidden=2, seed=0))
    text = path.read_text()
    cut = tmp_path / "cut.json"
    for n in range(len(text.rstrip())):
        cut.write_text(text[:n])
        with pytest.raises(ModelFileError, match="not valid JSON|not a micrograd_ws model file"):
            load(cut)


@pytest.mark.parametrize("content, words", [
    (b"", "not valid JSON"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8"),
    (b"[" * 100_000, "nested too deeply|not valid JSON"),
    (b'{"format": "micrograd_ws.MLP", "version": 1', "not valid JSON"),
    (b"null", "not a micrograd_ws model file"),
])
def test_garbage_is_refused(tmp_path, content, words):
    path = tmp_path / "g.json"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=words):
        load(path)


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))  # unpickling this would create the marker file


def test_a_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.json"
    path.write_bytes(pickle.dumps(_Exploit(str(marker))))
    with pytest.raises(ModelFileError):
        load(path)
    assert not marker.exists()


def test_missing_file_and_directory_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file at"):
        load(tmp_path / "nope.json")
    with pytest.raises(IsADirectoryError, match="is a directory, not a model file"):
        load(tmp_path)


# --- saving ---------------------------------------------------------------------------------

def test_save_refuses_bad_targets_and_models(tmp_path):
    net = two_neuron()
    with pytest.raises(IsADirectoryError, match="it is a directory"):
        net.save(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        net.save(tmp_path / "no" / "such" / "dir.json")
    with pytest.raises(TypeError, match="must be an MLP"):
        save({"w1": [[1.0]]}, tmp_path / "x.json")


def test_non_finite_parameter_is_not_saved_and_the_old_file_survives(tmp_path):
    path, _ = _valid(tmp_path)
    before = path.read_bytes()
    net = two_hidden_layers(hidden=3, seed=2)
    net.layers[1].neurons[2].w[0].data = float("nan")  # set by hand: the engine never makes one
    with pytest.raises(ValueError, match=r"w2\[2\]\[0\] = nan"):
        net.save(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize("fail_at", ["os.fsync", "os.replace"])
@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_a_crash_during_save_leaves_the_old_file_intact(tmp_path, monkeypatch, fail_at, error):
    path, _ = _valid(tmp_path)
    before = path.read_bytes()

    def crash(*args):
        raise error

    monkeypatch.setattr(fail_at, crash)
    with pytest.raises(type(error)):
        two_hidden_layers(hidden=5, seed=9).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.json"]  # no temporary file left behind
    load(path)


def test_save_replaces_the_old_file_and_keeps_normal_permissions(tmp_path):
    path, _ = _valid(tmp_path)
    new = two_hidden_layers(hidden=4, seed=5)
    new.save(path)
    assert load(path).state_dict() == new.state_dict()
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
