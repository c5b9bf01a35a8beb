"""Model files: exact round trips, every malformed file refused clearly, atomic saves."""
import gc
import json
import os
import pickle
import struct
import subprocess
import sys
import tracemalloc

import pytest
from hypothesis import given, settings

import micrograd_ws
from micrograd_ws import MLP, serialize, two_hidden_layers, two_neuron
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
    (b"\x89PNG\r\n\x1a\n\x00\x00", "it is a PNG image"),
    (b"\x89PNG\r\n\x1a\n" + b"[" * 5000, r"it is a PNG image \(train writes the figure beside the model: the model is the \.json\)"),
    (b"\xc3\x28 not UTF-8", "not UTF-8"),
    (b"ab\x00" + b"[" * 5000, "it is binary, not text"),
    ('{"format": 1}'.encode("utf-16"), "UTF-16 text; save it as UTF-8"),
    ('{"format": 1}'.encode("utf-16-le"), "UTF-16 text; save it as UTF-8"),
    (b"[" * 100_000, "nested too deeply|not valid JSON|far more than a model file"),
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


# --- what load() reads, and saving through links ---------------------------------------------

def _load_within(path, seconds=10):
    """load(path) in a thread; a load that blocks (on a FIFO) is released by a writer, so the test fails."""
    import threading

    result = {}

    def target():
        try:
            result["model"] = load(path)
        except BaseException as e:  # noqa: BLE001 (the test inspects it)
            result["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():  # blocked opening the FIFO: a writer that closes at once lets it go
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        t.join(seconds)
        pytest.fail(f"load({path}) blocked waiting for a writer")
    return result.get("error")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "f.json"
    os.mkfifo(fifo)
    error = _load_within(fifo)
    assert isinstance(error, ModelFileError)
    assert "named pipe (FIFO)" in str(error) and "not a regular file" in str(error) and str(fifo) in str(error)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_path_that_becomes_a_fifo_after_the_check_is_still_refused(tmp_path, monkeypatch):
    fifo, regular = tmp_path / "f.json", tmp_path / "m.json"
    os.mkfifo(fifo)
    two_neuron().save(regular)
    real_stat = os.stat
    # os.stat sees a regular file (as if the FIFO were swapped in between the check and the open)
    monkeypatch.setattr(os, "stat", lambda p, *a, **k: real_stat(regular if str(p) == str(fifo) else p, *a, **k))
    error = _load_within(fifo)
    assert isinstance(error, ModelFileError) and "named pipe" in str(error)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_is_refused_unread():
    # in a child process with 1 GB of memory: reading /dev/zero without a limit fails there, not here
    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))\n"
            "from micrograd_ws.serialize import ModelFileError, load\n"
            "try:\n    load('/dev/zero')\nexcept ModelFileError as e:\n    print(e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("/dev/zero: this is a device, not a regular file, so it was not read")


def test_a_file_larger_than_the_cap_is_refused_unread(tmp_path, monkeypatch):
    from micrograd_ws import serialize

    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(serialize.MAX_BYTES + 1)  # sparse: no disk space used
    with pytest.raises(ModelFileError) as e:
        load(big)
    assert f"{serialize.MAX_BYTES + 1:,} bytes" in str(e.value) and "32 MiB" in str(e.value)
    assert "MAX_BYTES" in str(e.value)  # says how to read a bigger one


def test_the_cap_can_be_raised_and_a_file_that_grows_past_it_while_read_is_refused(tmp_path, monkeypatch):
    from micrograd_ws import serialize

    path, _ = _valid(tmp_path)
    size = path.stat().st_size
    monkeypatch.setattr(serialize, "MAX_BYTES", size - 1)
    with pytest.raises(ModelFileError, match=f"{size:,} bytes"):
        load(path)
    monkeypatch.setattr(serialize, "MAX_BYTES", size)
    assert load(path).sizes == [1, 3, 3, 1]

    def looks_small(stat):  # the file grows after it is checked: the checks see 10 bytes
        return lambda *args, **kwargs: os.stat_result((*stat(*args, **kwargs)[:6], 10, *stat(*args, **kwargs)[7:]))

    monkeypatch.setattr(os, "stat", looks_small(os.stat))
    monkeypatch.setattr(os, "fstat", looks_small(os.fstat))
    monkeypatch.setattr(serialize, "MAX_BYTES", size - 1)
    with pytest.raises(ModelFileError, match=f"{size:,} bytes"):  # the bytes read are counted too
        load(path)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_save_through_a_symlink_replaces_the_target_and_keeps_the_link(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    target = store / "model.json"
    two_neuron(seed=1).save(target)
    link = tmp_path / "latest.json"
    link.symlink_to(os.path.join("store", "model.json"))  # relative, into another directory
    new = two_hidden_layers(hidden=2, seed=3)
    new.save(link)
    assert link.is_symlink() and os.readlink(link) == os.path.join("store", "model.json")
    assert load(target).state_dict() == new.state_dict() == load(link).state_dict()
    assert sorted(os.listdir(tmp_path)) == ["latest.json", "store"] and os.listdir(store) == ["model.json"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_save_to_a_dangling_symlink_creates_its_target_and_a_loop_is_refused(tmp_path):
    link = tmp_path / "link.json"
    link.symlink_to("made.json")
    two_neuron().save(link)
    assert link.is_symlink() and load(tmp_path / "made.json").sizes == [1, 1]
    loop = tmp_path / "loop.json"
    loop.symlink_to("loop.json")
    with pytest.raises(ModelFileError, match="leads back to itself"):
        two_neuron().save(loop)
    assert loop.is_symlink()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_save_refuses_to_replace_a_fifo(tmp_path):
    fifo = tmp_path / "f.json"
    os.mkfifo(fifo)
    with pytest.raises(ModelFileError, match="not a regular file"):
        two_neuron().save(fifo)
    assert os.listdir(tmp_path) == ["f.json"] and not fifo.is_file()


def test_load_takes_the_net_and_a_few_times_its_file_and_the_cap_bounds_it(tmp_path):
    """A model file loads in about what the net itself takes plus a few times the file (issue 25 item 16:
    the parse's intermediates let go), and MAX_BYTES keeps the largest load under 1 GB."""
    path = tmp_path / "m.json"
    MLP(1, [40, 40, 1]).save(path)
    size = path.stat().st_size
    gc.collect()
    tracemalloc.start()
    try:
        net = MLP(1, [40, 40, 1], seed=0)
        itself = tracemalloc.get_traced_memory()[0]
        del net
        gc.collect()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        load(path)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak <= itself + 6 * size, (peak, itself, size)
    assert serialize.MAX_BYTES * (itself + 6 * size) / size < 2**30


def test_a_model_file_with_a_byte_order_mark_loads(tmp_path):
    # an editor that saves UTF-8 with a BOM (Windows Notepad, some versions) keeps the file a model file
    net = two_hidden_layers(hidden=2, seed=0)
    path = tmp_path / "m.json"
    net.save(path)
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load(bom).state_dict() == net.state_dict()
