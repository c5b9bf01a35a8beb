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
file intact.

>>> import os, tempfile
>>> from micrograd_ws import two_hidden_layers
>>> net = two_hidden_layers(hidden=2, seed=0)
>>> with tempfile.TemporaryDirectory() as d:
...     net.save(os.path.join(d, "net.json"))
...     copy = load(os.path.join(d, "net.json"))
>>> copy
MLP(1 → 2 → 2 → 1: w1 [2×1], b1 [2×1], w2 [2×2], b2 [2×1], w3 [1×2], b3 [1×1])
>>> copy.state_dict() == net.state_dict()
True
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
from pathlib import Path
from typing import Union

from .nn import MLP

__all__ = ["FORMAT", "VERSION", "ModelFileError", "save", "load"]

FORMAT = "micrograd_ws.MLP"
VERSION = 1
_ACTIVATION = "relu"
_KEYS = ("format", "version", "sizes", "activation", "parameters")
_MAX_INT_DIGITS = 400  # larger integers cannot be floats anyway; refuse before converting

PathLike = Union[str, os.PathLike]


class ModelFileError(ValueError):
    """A model file is malformed, truncated, from a newer version or does not match its architecture."""


def save(model: MLP, path: PathLike) -> None:
    """Write ``model`` to ``path`` as JSON, atomically (see the module docstring)."""
    if not isinstance(model, MLP):
        raise TypeError(f"save(model, path): model must be an MLP, got {type(model).__name__}")
    for name, p in model.named_parameters():
        if isinstance(p.data, bool) or not isinstance(p.data, (int, float)) or not math.isfinite(p.data):
            raise ValueError(f"cannot save: {name} = {p.data!r} is not a finite number; nothing was written")
    _write_atomically(Path(path), _dumps(model))


def load(path: PathLike) -> MLP:
    """Read a model written by :func:`save`; raises :class:`ModelFileError` naming what is wrong."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"no model file at {str(p)!r}; save one with model.save(path)") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{str(p)!r} is a directory, not a model file") from None
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant, parse_int=_parse_int)
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


def _dumps(model: MLP) -> str:
    lines = [f'  "{k}": {json.dumps(v)}' for k, v in
             [("format", FORMAT), ("version", VERSION), ("sizes", model.sizes), ("activation", _ACTIVATION)]]
    params = []
    for name, value in model.state_dict().items():
        if name.startswith("w"):  # one row per line keeps the file readable and diffable
            value_text = "[\n      " + ",\n      ".join(map(json.dumps, value)) + "\n    ]"
        else:
            value_text = json.dumps(value)
        params.append(f'    "{name}": {value_text}')
    lines.append('  "parameters": {\n' + ",\n".join(params) + "\n  }")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _write_atomically(path: Path, text: str) -> None:
    if path.is_dir():
        raise IsADirectoryError(f"cannot save to {str(path)!r}: it is a directory; give a file name such as "
                                f"{str(path / 'model.json')!r}")
    directory = path.parent
    if not directory.is_dir():
        raise FileNotFoundError(f"cannot save to {str(path)!r}: the directory {str(directory)!r} does not exist")
    tmp = directory / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # 0o666: the umask applies, as for open()
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())  # the data is on disk before the rename makes it the model
        os.replace(tmp, path)
    except BaseException:  # KeyboardInterrupt too: never leave a half-written temporary behind
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


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
        raise ModelFileError("".join([f"unexpected key {extra[0]!r}; " if extra else "",
                                      f"missing key {missing[0]!r}; " if missing else "",
                                      f"a model file has exactly the keys {', '.join(_KEYS)}"]))
    version = doc["version"]
    if version != VERSION or isinstance(version, bool):
        newer = isinstance(version, int) and not isinstance(version, bool) and version > VERSION
        raise ModelFileError(f"format version {version!r} " + (
            "was written by a newer micrograd_ws; upgrade micrograd_ws to read it" if newer
            else f"is not one this micrograd_ws reads (version {VERSION})"))
    if doc["activation"] != _ACTIVATION:
        raise ModelFileError(f"activation {doc['activation']!r} is not supported; only {_ACTIVATION!r}")
    sizes = doc["sizes"]
    if (not isinstance(sizes, list) or len(sizes) < 2
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in sizes)):
        raise ModelFileError(f"sizes must be a list of at least two positive ints (input to output), got {sizes!r}")
    params = doc["parameters"]
    expected = [f"{p}{l}" for l in range(1, len(sizes)) for p in "wb"]
    if not isinstance(params, dict) or sorted(params) != sorted(expected):
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise ModelFileError(f"parameters must have exactly the keys {expected} for sizes {sizes}, got {got}")
    state = {}
    for l in range(1, len(sizes)):  # every shape and number is checked before a net is built
        nin, nout = sizes[l - 1], sizes[l]
        w, b = params[f"w{l}"], params[f"b{l}"]
        if not (isinstance(w, list) and len(w) == nout and all(isinstance(r, list) and len(r) == nin for r in w)):
            raise ModelFileError(f"w{l} must be [{nout}×{nin}] (a list of {nout} lists of {nin} numbers) "
                                 f"for sizes {sizes}")
        if not (isinstance(b, list) and len(b) == nout):
            raise ModelFileError(f"b{l} must be a list of {nout} numbers for sizes {sizes}")
        state[f"w{l}"] = [[_number(x, f"w{l}[{j}][{k}]") for k, x in enumerate(row)] for j, row in enumerate(w)]
        state[f"b{l}"] = [_number(x, f"b{l}[{j}]") for j, x in enumerate(b)]
    model = MLP(sizes[0], sizes[1:], seed=0)  # seeded: loading must not touch the global random state
    model.load_state_dict(state)
    return model


def _number(x: object, where: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise ModelFileError(f"{where} is {x!r} (a {type(x).__name__}), not a number")
    try:
        f = float(x)
    except OverflowError:
        f = math.inf
    if not math.isfinite(f):
        raise ModelFileError(f"{where} = {x!r} overflows a float; every parameter must be a finite number")
    return f
