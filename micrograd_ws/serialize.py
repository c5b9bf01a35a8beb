"""Save and load models as JSON: architecture, handout names, exact floats.

A model file (format version 1) is plain JSON, one weight row per line::

    {
      "format": "micrograd_ws.MLP",
      "version": 1,
      "sizes": [1, 2, 2, 1],
      "activation": "relu",
      "parameters": {
        "w1": [
          [0.6888437030500962],
          [-0.15885683833831]
        ],
        "b1": [0.515908805880605, -0.4821664994140733],
        "w2": [
        ...

``sizes`` are the layer widths from input to output; hidden layers use ReLU and the
output layer is linear.  ``parameters`` holds :meth:`MLP.state_dict`: ``w{l}`` as
[nout][nin] lists and ``b{l}`` as [nout] lists, so the handout's ``w2[j][k]`` is
``parameters["w2"][j][k]`` and ``w1[k]`` is ``parameters["w1"][k][0]``.  Numbers are
written with ``repr``, which reads back as the identical float.

Loading only parses JSON (it never executes anything) and checks every key, shape
and number before building the net; saving writes a temporary file next to the
target and renames it over the target, so an interrupted save leaves the previous
file intact.  Saving to a symbolic link writes through it: the file the link points
to is replaced (atomically, in its own directory) and the link stays.  Loading reads
only regular files of at most :data:`MAX_BYTES` (32 MiB: the net in memory is about 14 times its file).  ``net.save(path)`` is
:func:`save`: this module adds the method to :class:`~micrograd_ws.MLP`.

>>> import os, tempfile
>>> from micrograd_ws import two_hidden_layers
>>> net = two_hidden_layers(hidden=2, seed=0)
>>> with tempfile.TemporaryDirectory() as d:
...     net.save(os.path.join(d, "net.json"))
...     copy = load(os.path.join(d, "net.json"))
>>> copy
MLP(1 → 2 → 2 → 1, h = 2: w1 [h×1], b1 [h×1], w2 [h×h], b2 [h×1], w3 [h×1], b3 [1×1])
>>> copy.state_dict() == net.state_dict()
True
"""
from __future__ import annotations

import json
import math
import numbers
import os
import re
from pathlib import Path
from typing import Union

from .files import UnsafeTargetError, quoted, read_regular, write_atomic
from .nn import MLP

__all__ = ["FORMAT", "VERSION", "MAX_BYTES", "ModelFileError", "save", "load", "model_text"]

FORMAT = "micrograd_ws.MLP"
VERSION = 1
_ACTIVATION = "relu"
_KEYS = ("format", "version", "sizes", "activation", "parameters")
_MAX_INT_DIGITS = 400  # larger integers cannot be floats anyway; refuse before converting
#: The largest model file :func:`load` reads: 32 MiB, room for about 1.5 million parameters (the widest net
#: train makes, h = 1000, is 1,004,001 parameters and about 22 MB).  A net in memory is about 290 bytes a
#: parameter (each a Value), 14 times its file: loading a 32 MiB file peaks near 0.6 GB.
MAX_BYTES = 32 * 2**20

PathLike = Union[str, os.PathLike]


class ModelFileError(ValueError):
    """A model file is malformed, truncated, from a newer version or does not match its architecture
    (or its path names no ordinary file: a pipe, a device, a file too large)."""


def save(model: MLP, path: PathLike) -> None:
    """Write ``model`` to ``path`` as JSON, atomically (see the module docstring)."""
    if not isinstance(model, MLP):
        raise TypeError(f"save(model, path): model must be an MLP, got {type(model).__name__}")
    text = model_text(model)
    try:
        write_atomic(path, text)
    except UnsafeTargetError as e:
        raise ModelFileError(str(e)) from None


def model_text(model: MLP) -> str:
    """What :func:`save` writes, checked as it checks it (for writing it with other files: train)."""
    for name, p in model.named_parameters():
        _saveable(name, p.data)
    text = _dumps(model)
    if len(text) > MAX_BYTES:  # (ASCII: characters are bytes) what load would refuse is not written
        raise ValueError(f"cannot save: the model file would have {len(text):,} bytes, more than the "
                         f"{MAX_BYTES // 2**20} MiB load() reads (micrograd_ws.serialize.MAX_BYTES); nothing was written")
    return text


MLP.save = save  # net.save(path): nn knows nothing of files, this module adds the method


def _saveable(name: str, x: object) -> float:
    """A parameter's .data as the float the file will hold, or a one-line error naming it."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise ValueError(f"cannot save: {name} = {quoted(x)} (a {type(x).__name__}) is not a number; "
                         "nothing was written")
    try:
        f = float(x)  # numpy scalars, Fractions, ints: the float the net computes with
    except OverflowError:
        f = math.inf
    if not math.isfinite(f):
        raise ValueError(f"cannot save: {name} = {quoted(x)} is not a finite float; nothing was written")
    return f


def load(path: PathLike) -> MLP:
    """Read a model written by :func:`save`; raises :class:`ModelFileError` naming what is wrong.

    Only a regular file of at most :data:`MAX_BYTES` is read: a FIFO, a device such as
    ``/dev/zero`` or an oversized file is refused before anything is read from it.
    """
    if isinstance(path, bytes):  # a path as the OS gives it, bytes: its str form
        path = os.fsdecode(path)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"load(path): path is a file name (str or pathlib.Path), got {type(path).__name__} {path!r}")
    if not os.fspath(path):  # (Path('') is '.', a directory: the message would name the wrong thing)
        raise ModelFileError("load(''): the path is empty; give the model file's name, such as 'model.json'")
    p = Path(path)
    try:
        doc = _parse(_read_model_file(p))
    except UnicodeDecodeError:
        raise ModelFileError(f"{p}: not a JSON model file (the bytes are not UTF-8 text)") from None
    except json.JSONDecodeError as e:
        raise ModelFileError(
            f"{p}: not valid JSON (truncated or damaged?): {e.msg} at line {e.lineno}, column {e.colno}"
        ) from None
    except RecursionError:
        raise ModelFileError(f"{p}: not a model file (JSON nested too deeply)") from None
    except ModelFileError as e:
        raise ModelFileError(f"{p}: {e}") from None
    try:
        return _from_document(doc)
    except ModelFileError as e:
        raise ModelFileError(f"{p}: {e}") from None


def _read_model_file(p: Path) -> bytes:
    """The bytes of a regular file of at most MAX_BYTES; anything else is refused unread."""
    try:
        return read_regular(p, MAX_BYTES, error=ModelFileError, what="model file", too_big=_too_big,
                            how="a model file is an ordinary file written by model.save(path): pass its path")
    except FileNotFoundError:
        raise FileNotFoundError(f"no model file at {str(p)!r}; save one with model.save(path)") from None


def _too_big(size: int) -> str:
    return (
        f"the file has {size:,} bytes, more than the {MAX_BYTES // 2**20} MiB a model file may have "
        "(the handout's h = 100 net takes about 0.2 MB, h = 1000 about 22 MB; in memory a net takes about 14 "
        "times its file), so it was not read. Check that this is the model file you meant; a bigger one needs "
        "micrograd_ws.serialize.MAX_BYTES raised (and 14 times its size in memory)"
    )


def _dumps(model: MLP) -> str:
    lines = [f'  "{k}": {json.dumps(v)}' for k, v in
             [("format", FORMAT), ("version", VERSION), ("sizes", model.sizes), ("activation", _ACTIVATION)]]
    params = []
    for name, value in model.state_dict().items():
        if name.startswith("w"):  # one row per line keeps the file readable and diffable
            rows = ([float(x) for x in row] for row in value)  # numpy scalars set by hand, too
            value_text = "[\n      " + ",\n      ".join(map(json.dumps, rows)) + "\n    ]"
        else:
            value_text = json.dumps([float(x) for x in value])
        params.append(f'    "{name}": {value_text}')
    lines.append('  "parameters": {\n' + ",\n".join(params) + "\n  }")
    return "{\n" + ",\n".join(lines) + "\n}\n"


# --- parsing within bounds ------------------------------------------------------------------
#
# json.loads builds a Python object per value: `{}` costs ~64 bytes for 3 bytes of file, so a
# file of `[{}, {}, …]` would take 20× its size.  The budget comes from the file itself: the
# `sizes` it declares fix how many lists, numbers, strings and objects a model file has, so
# anything beyond that (with a little slack, so that near misses still get their precise
# error) is refused while parsing, before it costs memory: objects and numbers are counted
# by the parser's hooks as they are made, lists and strings by counting bytes first.

_SIZES = re.compile(rb'"sizes"\s*:\s*\[([\s\d,]*)\]')  # (any length, as save writes it: linear, a run stops at the first other byte)
_SLACK = 64


class _Budget:
    """How many JSON values of each kind the declared sizes allow; counts numbers and objects as they are parsed."""

    def __init__(self, raw: bytes) -> None:
        m = _SIZES.search(raw)
        try:
            sizes = [int(n) for n in m.group(1).split(b",")] if m else []
        except ValueError:
            sizes = []
        pairs = list(zip(sizes, sizes[1:]))
        n_params = sum(nin * nout + nout for nin, nout in pairs)
        n_lists = 1 + sum(1 + nout for _, nout in pairs) + len(pairs)
        n_strings = 7 + 2 * len(pairs)  # keys, format and activation
        self.numbers = 2 * (n_params + len(sizes) + 1) + _SLACK
        self.objects = 2
        self.declared = f"sizes {[int(n) for n in sizes]}" if sizes else "no readable sizes"
        lists, strings = raw.count(b"["), raw.count(b'"') // 2
        if lists > 2 * n_lists + _SLACK:
            self.refuse(f"{lists:,} lists")
        if strings > 2 * n_strings + _SLACK:
            self.refuse(f"{strings:,} strings")

    def refuse(self, what: str) -> None:
        raise ModelFileError(f"not a model file: it holds {what}, far more than a model file with {self.declared} "
                             "has; it was not parsed any further")

    def number(self, text: str, convert) -> object:
        self.numbers -= 1
        if self.numbers < 0:
            self.refuse("more numbers than its parameters")
        return convert(text)

    def object(self, pairs: list) -> dict:
        self.objects -= 1
        if self.objects < 0:
            self.refuse("more JSON objects than the two of a model file")
        doc = dict(pairs)
        if len(doc) != len(pairs):
            seen: set = set()
            twice = next(k for k, _ in pairs if k in seen or seen.add(k))
            raise ModelFileError(f"the key {quoted(twice)} appears twice in one object; a model file names each "
                                 "key once (which one was meant cannot be known)")
        return doc


#: the first bytes of files a model file is mistaken for, and what to call them
_BINARY = {b"\x89PNG": "a PNG image (train writes the figure beside the model: the model is the .json)",
           b"%PDF": "a PDF document", b"PK\x03\x04": "a zip archive", b"\xff\xd8\xff": "a JPEG image"}


def _parse(raw: bytes) -> object:
    """The JSON document of a model file, refused early when it holds more than its sizes allow."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or raw[:2] in (b"{\0", b"\0{"):  # (Windows PowerShell's > writes it)
        raise ModelFileError("the model file is UTF-16 text; save it as UTF-8 (as micrograd_ws writes it)")
    kind = next((what for magic, what in _BINARY.items() if raw.startswith(magic)), None)
    if kind is not None or b"\0" in raw[:4096]:  # (not text: said so, before its bytes are counted as JSON's)
        raise ModelFileError(f"not a JSON model file: it is {kind or 'binary, not text'}")
    budget = _Budget(raw)
    text = raw.decode("utf-8-sig")  # (a byte-order mark, as some editors put first, is not the JSON's)
    del raw  # the text replaces the bytes: about 2× the file size at the peak, not 3×
    return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=budget.object,
                      parse_int=lambda t: budget.number(t, _parse_int),
                      parse_float=lambda t: budget.number(t, float))


def _reject_constant(name: str) -> float:
    raise ModelFileError(f"the file contains {name}; every parameter must be a finite number")


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise ModelFileError(f"an integer with {len(text)} digits is too large for a parameter or a size")
    return int(text)


def _from_document(doc: object) -> MLP:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelFileError(f"not a micrograd_ws model file (expected a JSON object with \"format\": \"{FORMAT}\")")
    extra = [k for k in doc if k not in _KEYS]
    missing = [k for k in _KEYS if k not in doc]
    if extra or missing:
        raise ModelFileError("".join([f"unexpected key {quoted(extra[0])}; " if extra else "",
                                      f"missing key {quoted(missing[0])}; " if missing else "",
                                      f"a model file has exactly the keys {', '.join(_KEYS)}"]))
    version = doc["version"]
    if type(version) is not int or version != VERSION:  # 1.0 and true are not the version 1
        newer = type(version) is int and version > VERSION
        raise ModelFileError(f"format version {quoted(version)} " + (
            "was written by a newer micrograd_ws; upgrade micrograd_ws to read it" if newer
            else f"is not one this micrograd_ws reads (version {VERSION})"))
    if doc["activation"] != _ACTIVATION:
        raise ModelFileError(f"activation {quoted(doc['activation'])} is not supported; only {_ACTIVATION!r}")
    sizes = doc["sizes"]
    if (not isinstance(sizes, list) or len(sizes) < 2
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in sizes)):
        raise ModelFileError(f"sizes must be a list of at least two positive ints (input to output), got {quoted(sizes)}")
    params = doc["parameters"]
    expected = [f"{p}{l}" for l in range(1, len(sizes)) for p in "wb"]
    if not isinstance(params, dict) or sorted(params) != sorted(expected):
        got = quoted(sorted(params), 200) if isinstance(params, dict) else type(params).__name__
        raise ModelFileError(f"parameters must have exactly the keys {quoted(expected, 200)} for sizes "
                             f"{quoted(sizes)}, got {got}")
    state = {}
    for l in range(1, len(sizes)):  # every shape and number is checked before a net is built
        nin, nout = sizes[l - 1], sizes[l]
        w, b = params[f"w{l}"], params[f"b{l}"]
        if not (isinstance(w, list) and len(w) == nout and all(isinstance(r, list) and len(r) == nin for r in w)):
            raise ModelFileError(f"w{l} must be [{nout}×{nin}] (a list of {nout} lists of {nin} numbers) "
                                 f"for sizes {quoted(sizes)}")
        if not (isinstance(b, list) and len(b) == nout):
            raise ModelFileError(f"b{l} must be a list of {nout} numbers for sizes {quoted(sizes)}")
        state[f"w{l}"] = [[_number(x, f"w{l}[{j}][{k}]") for k, x in enumerate(row)] for j, row in enumerate(w)]
        state[f"b{l}"] = [_number(x, f"b{l}[{j}]") for j, x in enumerate(b)]
        params[f"w{l}"] = params[f"b{l}"] = None  # the parsed lists let go as each layer is checked
    model = MLP(sizes[0], sizes[1:], seed=0)  # seeded: loading must not touch the global random state
    model.load_state_dict(state)
    return model


def _number(x: object, where: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise ModelFileError(f"{where} is {quoted(x)} (a {type(x).__name__}), not a number")
    try:
        f = float(x)
    except OverflowError:
        f = math.inf
    if not math.isfinite(f):
        raise ModelFileError(f"{where} = {quoted(x)} overflows a float; every parameter must be a finite number")
    return f
