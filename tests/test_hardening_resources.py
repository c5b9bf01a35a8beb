"""Class 3 of the hardening review: resources stay bounded on bad input.

Loading a hostile model file costs at most 4× its size (or is refused early), a CSV gets the
same regular-file and size rules, error messages quote at most a short excerpt, explain
answers on graphs with exponentially many long paths, and the commands' caps are stated.
Fuzzing: hypothesis mutates real model files and CSV files; only the documented errors may come out.
"""
import os
import subprocess
import sys
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from micrograd_ws import Value, explain, load, two_hidden_layers
from micrograd_ws.data import DataError, read_csv
from micrograd_ws.serialize import ModelFileError

ENV = {**os.environ, "PYTHONPATH": os.getcwd()}


def _model_text(hidden=3, seed=0):
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m.json")
        two_hidden_layers(hidden=hidden, seed=seed).save(path)
        with open(path, "rb") as f:
            return f.read()


MODEL = _model_text()
CSV = b"x,y\n" + b"".join(b"%r,%r\n" % (k / 10, (k / 10) ** 2) for k in range(-10, 11))


def _peak(fn):
    tracemalloc.start()
    try:
        fn()
    except (ModelFileError, DataError):
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


# --- memory of loading -----------------------------------------------------------------------

def _attack(body: bytes, sizes=b"[1, 1]") -> bytes:
    return (b'{"format": "micrograd_ws.MLP", "version": 1, "sizes": ' + sizes + b', "activation": "relu", '
            b'"parameters": {"w1": ' + body + b', "b1": [0.5]}}')


N = 300_000
ATTACKS = {
    "objects": b"[" + b"{}," * N + b"{}]",
    "lists": b"[" + b"[]," * N + b"[]]",
    "one-number lists": b"[" + b"[1]," * N + b"[1]]",
    "floats": b"[[" + b"0.0," * N + b"0.0]]",
    "strings": b"[" + b'"",' * N + b'""]',
    "nesting": b"[" * N + b"]" * N,
    "huge declared sizes, objects": None,
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_loading_a_hostile_file_stays_within_4x_its_size(tmp_path, attack):
    body = ATTACKS[attack]
    text = _attack(ATTACKS["objects"], b"[1, 1000, 1000, 1]") if body is None else _attack(body)
    path = tmp_path / "attack.json"
    path.write_bytes(text)
    with pytest.raises(ModelFileError):
        load(path)
    peak = _peak(lambda: load(path))
    assert peak <= 4 * len(text), f"{attack}: {peak:,} bytes for a file of {len(text):,}"


def test_loading_a_real_model_costs_its_parameters_and_little_more(tmp_path):
    path = tmp_path / "m.json"
    two_hidden_layers(hidden=100, seed=0).save(path)
    size = path.stat().st_size
    peak = _peak(lambda: load(path))
    net_bytes = _peak(lambda: two_hidden_layers(hidden=100, seed=0))
    # measured: the net plus about 4.5× the file (the parsed numbers, the state dict, the updates)
    assert peak <= 6 * size + net_bytes, (peak, size, net_bytes)


# --- fuzzing: mutations of real files ----------------------------------------------------------

def _mutations(base: bytes):
    position = st.integers(0, len(base))
    byte = st.binary(min_size=1, max_size=8)
    edit = st.one_of(
        st.tuples(st.just("flip"), position, st.integers(0, 255)),
        st.tuples(st.just("insert"), position, byte),
        st.tuples(st.just("delete"), position, st.integers(1, 40)),
        st.tuples(st.just("repeat"), position, st.integers(1, 60), st.integers(2, 50)),
        st.tuples(st.just("insert"), position, st.sampled_from(
            [b"{}", b"[]", b'"', b"\\", b"1e999", b"-0", b"NaN", b",", b"\x00", b"\xff", b"\xe2\x82", b"\n" * 3,
             b'"version": 1.0,', b'"sizes": [1, 1],', b";", b"\t"])),
    )

    def apply(edits):
        data = bytearray(base)
        for e in edits:
            kind, at = e[0], min(e[1], len(data))
            if kind == "flip" and data:
                data[min(at, len(data) - 1)] = e[2]
            elif kind == "insert":
                data[at:at] = e[2]
            elif kind == "delete":
                del data[at:at + e[2]]
            elif kind == "repeat":
                data[at:at] = bytes(data[at:at + e[2]]) * e[3]
        return bytes(data)

    return st.lists(edit, min_size=1, max_size=6).map(apply)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_mutations(MODEL))
def test_fuzzed_model_files_load_or_give_a_model_file_error(tmp_path, data):
    path = tmp_path / "fuzz.json"
    path.write_bytes(data)
    try:
        net = load(path)
    except ModelFileError as e:
        assert str(path) in str(e) and len(str(e)) < 1000 and "\n" not in str(e)
    else:
        assert net.sizes[0] >= 1


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_mutations(CSV))
def test_fuzzed_csv_files_read_or_give_a_data_error(tmp_path, data):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    try:
        ds = read_csv(path)
    except DataError as e:
        assert str(path) in str(e) and len(str(e)) < 1000
    else:
        assert len(ds.xs) == len(ds.ys) >= 1


# --- CSV: the same rules as model files ------------------------------------------------------

def test_csv_from_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "d.csv"
    os.mkfifo(fifo)
    done = subprocess.run([sys.executable, "-m", "micrograd_ws", "train", "--data", str(fifo), "--out",
                           str(tmp_path / "o")], capture_output=True, text=True, timeout=60, env=ENV)
    assert done.returncode == 1 and "named pipe (FIFO)" in done.stderr and "--out" not in done.stderr


def test_csv_from_dev_zero_is_refused_unread():
    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))\n"
            "from micrograd_ws.data import DataError, read_csv\n"
            "try:\n    read_csv('/dev/zero')\nexcept DataError as e:\n    print(e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=ENV)
    assert done.returncode == 0 and "a device, not a regular file" in done.stdout, done.stderr


def test_a_csv_larger_than_the_cap_is_refused_unread(tmp_path):
    from micrograd_ws import data
    big = tmp_path / "big.csv"
    with open(big, "wb") as f:
        f.truncate(data.MAX_CSV_BYTES + 1)
    with pytest.raises(DataError, match="64 MiB.*MAX_CSV_BYTES"):
        read_csv(big)


def test_memory_of_reading_a_csv_is_bounded(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b"x,y\n" + b"0,0\n" * 200_000)
    peak = _peak(lambda: read_csv(path))
    size = path.stat().st_size
    # the bytes and the text, then per row the Dataset's two floats in tuples (64 B), built from
    # 8-byte arrays; no list of lines or of row lists (which cost another ~200 B a row)
    assert peak <= 2 * size + 200_000 * 110


# --- quoted values are capped --------------------------------------------------------------------

def test_error_messages_quote_at_most_an_excerpt(tmp_path):
    huge = "x" * 5_000_000
    path = tmp_path / "m.json"
    path.write_bytes(MODEL.replace(b'"relu"', b'"' + huge.encode() + b'"'))
    with pytest.raises(ModelFileError) as e:
        load(path)
    assert "activation" in str(e.value) and len(str(e.value)) < 600
    csv = tmp_path / "d.csv"
    csv.write_text("x,y\n1,2\n" + "1," + "9" * 100_000 + "z\n")
    with pytest.raises(DataError) as e:
        read_csv(csv)
    assert "line 3" in str(e.value) and len(str(e.value)) < 600
    csv.write_text("x,y\n1,2\n1,\"" + "9" * 200_000 + "\"\n")  # beyond the csv module's field limit
    with pytest.raises(DataError, match="line 3"):
        read_csv(csv)


# --- explain on exponentially many long paths -------------------------------------------------------

def test_explain_on_exponentially_many_long_paths_answers_in_bounded_memory():
    x = Value(1.0, "x")
    y = x
    for _ in range(13):
        y = y * y  # two paths per squaring: 8,192 paths
    for _ in range(5000):
        y = y + 0.0  # each path 5,013 factors long: 41 million factors in all
    y.label = "y"
    y.backward()
    tracemalloc.start()
    e = explain(y, x)
    text = str(e)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert e.paths == () and e.n_paths == 8192 and e.total == 8192.0 == x.grad
    assert "8192 paths, too many to list" in text and "200,000 factors" in text
    assert peak < 20_000_000


# --- caps on the commands -------------------------------------------------------------------------

@pytest.mark.parametrize("argv, words", [
    (["graphs", "--hidden", "100000"], "from 1 to 1000"),
    (["train", "--samples", str(10**8)], "from 2 to 100000"),
    (["train", "--samples", "1"], "from 2 to 100000"),  # (a line through one point: refused by the option itself)
    (["train", "--iters", "100,100000000"], "up to 1,000,000"),  # (10⁸ costs kept: gigabytes)
])
def test_command_line_caps_are_refused_with_the_range(argv, words, capsys):
    from micrograd_ws.cli import main
    with pytest.raises(SystemExit):
        main(argv)
    assert words in capsys.readouterr().err


def test_the_caps_say_why_in_the_help(capsys):
    from micrograd_ws.cli import main
    for command, words in (("graphs", "h² weights"), ("train", "every snapshot runs the net on every sample")):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert words in " ".join(capsys.readouterr().out.split())
