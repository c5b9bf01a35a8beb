"""Training data for the 1-D nets: built-in target functions and a CSV reader.

A :class:`Dataset` is a list of (x, y) pairs, the handout's input ``i`` and desired
output ``O_des``.  Built-in targets are sampled at evenly spaced points of their
domain; ``read_csv`` reads columns ``x`` and ``y`` and names the line of any bad row.

>>> data = make_dataset("abs", samples=5)
>>> data.xs, data.ys
((-1.0, -0.5, 0.0, 0.5, 1.0), (1.0, 0.5, 0.0, 0.5, 1.0))
>>> data.target.formula
'y = |x|'
"""
from __future__ import annotations

import csv
import math
import os
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional, Union

from .files import quoted, read_regular

__all__ = ["Target", "TARGETS", "Dataset", "DataError", "make_dataset", "read_csv", "parse_csv", "MAX_CSV_BYTES"]


@dataclass(frozen=True)
class Target:
    """A known function y = fn(x) on ``domain``, to sample data from and to draw."""

    name: str
    formula: str
    fn: Callable[[float], float]
    domain: tuple[float, float] = (-1.0, 1.0)


#: The built-in 1-D targets (``--target NAME``).
TARGETS: dict[str, Target] = {t.name: t for t in [
    Target("line", "y = 1.5x - 0.5", lambda x: 1.5 * x - 0.5),
    Target("sin", "y = sin(πx)", lambda x: math.sin(math.pi * x)),
    Target("abs", "y = |x|", abs),
    Target("step", "y = 0 for x < 0, 1 for x ≥ 0", lambda x: 0.0 if x < 0 else 1.0),
    Target("square", "y = x²", lambda x: x * x),
]}


@dataclass(frozen=True)
class Dataset:
    """Training pairs (``xs[n]``, ``ys[n]``); ``target`` is the true function when known."""

    xs: tuple[float, ...]
    ys: tuple[float, ...]
    name: str
    target: Optional[Target] = None

    def __post_init__(self) -> None:
        if len(self.xs) != len(self.ys) or not self.xs:
            raise DataError(f"a Dataset needs as many xs as ys, at least one; got {len(self.xs)} and {len(self.ys)}")
        for column in ("xs", "ys"):
            values = getattr(self, column)
            for k, v in enumerate(values):
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise DataError(f"Dataset {column}[{k}] = {v!r} is not a finite number")
            object.__setattr__(self, column, tuple(map(float, values)))

    def __len__(self) -> int:
        return len(self.xs)

    @property
    def x_range(self) -> tuple[float, float]:
        """The interval to draw the fit on: the target's domain, else the data's x range."""
        return self.target.domain if self.target else (min(self.xs), max(self.xs))


class DataError(ValueError):
    """The training data cannot be used; the message names the file, line and fix."""


def make_dataset(target: str = "sin", samples: int = 50) -> Dataset:
    """``samples`` evenly spaced points of a built-in target (see :data:`TARGETS`)."""
    if target not in TARGETS:
        raise DataError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 2:
        raise DataError(f"samples must be an int of at least 2, got {samples!r}")
    t = TARGETS[target]
    lo, hi = t.domain
    xs = tuple(lo + (hi - lo) * k / (samples - 1) for k in range(samples))
    return Dataset(xs, tuple(float(t.fn(x)) for x in xs), target, t)


#: The largest CSV file :func:`read_csv` reads (64 MiB, about 3 million rows of x,y).
MAX_CSV_BYTES = 64 * 2**20
#: The most data rows :func:`read_csv` reads (a Dataset of a million rows takes 64 MB).
MAX_CSV_ROWS = 1_000_000
#: The separators recognised, in this order of preference: comma, semicolon, tab.
SEPARATORS = ",;\t"


def read_csv(path: Union[str, os.PathLike]) -> Dataset:
    """Read (x, y) pairs from a CSV file.

    Either a header row naming columns ``x`` and ``y`` (any order, other columns
    ignored) or no header and exactly two columns x,y.  Blank lines and lines
    starting with ``#`` are skipped.  Values may be separated by commas, or by
    semicolons or tabs (recognised from the first line that is not a comment; with
    semicolons, a decimal comma such as ``0,5`` is read as 0.5).  A bad
    row raises :class:`DataError` naming its line, e.g. ``data.csv, line 4: column y is
    'abc', not a number``.  Only a regular file of at most :data:`MAX_CSV_BYTES` is read
    (a FIFO or a device such as ``/dev/zero`` is refused unread), as for model files.
    """
    p = Path(path)
    try:
        raw = read_regular(p, MAX_CSV_BYTES, error=DataError, what="CSV file",
                           how="give the path of an ordinary CSV file with columns x,y",
                           too_big=lambda n: f"the file has {n:,} bytes, more than the {MAX_CSV_BYTES // 2**20} MiB "
                                             "a CSV file may have, so it was not read (micrograd_ws.data.MAX_CSV_BYTES)")
    except DataError as e:
        raise DataError(f"{p}: {e}") from None
    except FileNotFoundError:
        raise DataError(f"{p}: no such file; give the path of a CSV file with columns x,y") from None
    except IsADirectoryError:
        raise DataError(f"{p} is a directory; give the path of a CSV file with columns x,y") from None
    except OSError as e:  # unreadable (permissions, I/O): the data file's problem, named as such
        raise DataError(f"{p}: cannot read the data file: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:  # the offset is in the whole file: its line and column
        bom = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
        line = raw.count(b"\n", 0, e.start) + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1 - (bom if line == 1 else 0)
        raise DataError(f"{p}, line {line}, column {column}: byte {raw[e.start]:#04x} is not UTF-8 text; "
                        "save the data as a UTF-8 CSV file") from None
    del raw
    return parse_csv(text, p.stem, str(p))


def parse_csv(text: str, name: str = "pasted", where: str = "the pasted data") -> Dataset:
    """(x, y) pairs from CSV text, as :func:`read_csv` reads a file (its rules, its messages, which
    start with ``where``): for data pasted into the lab, or read from anywhere else.

    >>> parse_csv("0, 0.5\\n1, 1.5").ys
    (0.5, 1.5)
    >>> parse_csv("0,0.5\\n1,abc")
    Traceback (most recent call last):
    ...
    micrograd_ws.data.DataError: the pasted data, line 2: column y is 'abc', not a number
    """
    p = where
    text = text[1:] if text.startswith("\ufeff") else text  # (a byte-order mark, as spreadsheets save UTF-8)
    first = next((ln for ln in _lines(text) if ln.strip() and not ln.lstrip().startswith("#")), "")
    # semicolons first: a file that has them separates with them (its commas are decimal commas: 0,5;1,5)
    sep = ";" if ";" in first else next((c for c in SEPARATORS if c in first), ",")
    reader = csv.reader(_lines(text), delimiter=sep)
    xs, ys = array("d"), array("d")  # 8 bytes a number while reading (a list of floats takes 32)
    ix = iy = width = None
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:  # e.g. a field larger than the csv module's limit
            raise DataError(f"{p}, line {reader.line_num}: not a readable CSV row ({e})") from None
        line = reader.line_num
        if not any(c.strip() for c in row) or row[0].lstrip().startswith("#"):
            continue
        if width is None:  # the first row: a header (no cell is a number), or data
            if not any(_is_number(c.replace(",", ".", 1) if sep == ";" else c) for c in row):
                names = [c.strip().lower() for c in row]
                missing = [c for c in ("x", "y") if c not in names]
                if missing:
                    raise DataError(
                        f"{p}, line {line}: the header {quoted(sep.join(row))} has no column {' or '.join(missing)}; "
                        "name the columns x and y (or leave out the header and give exactly two columns x,y)"
                        + _separator_hint(row))
                ix, iy, width = names.index("x"), names.index("y"), len(names)
                continue
            ix, iy, width = 0, 1, 2
        if len(row) != width:
            raise DataError(f"{p}, line {line}: expected {width} values, got {len(row)}: {quoted(sep.join(row))}"
                            + _separator_hint(row))
        if len(xs) == MAX_CSV_ROWS:
            raise DataError(f"{p}, line {line}: more than {MAX_CSV_ROWS:,} data rows, the most read_csv takes "
                            "(micrograd_ws.data.MAX_CSV_ROWS); training visits every row, so use a sample of them")
        if sep == ";":  # a semicolon file may write decimal commas (0,5;0,25), as spreadsheets do in Europe
            row = [c.replace(",", ".", 1) if c.count(",") == 1 and "." not in c else c for c in row]
        xs.append(_number(row[ix], "x", p, line))
        ys.append(_number(row[iy], "y", p, line))
    if width is None:
        raise DataError(f"{p}: no data rows; expected lines of the form x,y such as 0.5,0.25")
    if not xs:
        raise DataError(f"{p}: a header but no data rows; add lines of the form x,y")
    return Dataset(tuple(xs), tuple(ys), name)


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` with their endings, one at a time (no list of all lines in memory)."""
    start, n = 0, len(text)
    while start < n:
        end = text.find("\n", start)
        end = n if end < 0 else end + 1
        yield text[start:end]
        start = end


def _separator_hint(row: list) -> str:
    if len(row) == 1 and any(c in row[0] for c in "|: "):
        return " (the values must be separated by commas, semicolons or tabs)"
    return ""


def _is_number(cell: str) -> bool:
    try:
        float(cell.replace("\u2212", "-"))
    except ValueError:
        return False
    return True


def _number(cell: str, column: str, path: str, line: int) -> float:
    try:
        x = float(cell.replace("\u2212", "-"))  # (−, the minus sign as typeset, is read as -)
    except ValueError:
        hint = " (a decimal comma? write 0.5, not 0,5)" if _is_number(cell.replace(",", ".", 1)) else ""
        raise DataError(f"{path}, line {line}: column {column} is {quoted(cell)}, not a number{hint}") from None
    if not math.isfinite(x):
        shown = cell.strip() if len(cell.strip()) <= 40 else cell.strip()[:39] + "…"
        raise DataError(f"{path}, line {line}: column {column} is {shown}; every value must be a finite number")
    return x
