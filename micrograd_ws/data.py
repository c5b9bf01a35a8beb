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
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Union

__all__ = ["Target", "TARGETS", "Dataset", "DataError", "make_dataset", "read_csv"]


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


def read_csv(path: Union[str, os.PathLike]) -> Dataset:
    """Read (x, y) pairs from a CSV file.

    Either a header row naming columns ``x`` and ``y`` (any order, other columns
    ignored) or no header and exactly two columns x,y.  Blank lines and lines
    starting with ``#`` are skipped.  A bad row raises :class:`DataError` naming
    its line, e.g. ``data.csv, line 4: column y is 'abc', not a number``.
    """
    p = Path(path)
    try:
        with open(p, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            rows = [(reader.line_num, row) for row in reader]
    except FileNotFoundError:
        raise DataError(f"{p}: no such file; give the path of a CSV file with columns x,y") from None
    except IsADirectoryError:
        raise DataError(f"{p} is a directory; give the path of a CSV file with columns x,y") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{p}: not UTF-8 text (byte {e.start}); save the data as a UTF-8 CSV file") from None
    except csv.Error as e:
        raise DataError(f"{p}: not a readable CSV file ({e})") from None
    rows = [(n, row) for n, row in rows if any(c.strip() for c in row) and not row[0].lstrip().startswith("#")]
    if not rows:
        raise DataError(f"{p}: no data rows; expected lines of the form x,y such as 0.5,0.25")
    ix, iy, width = 0, 1, 2
    line, first = rows[0]
    if not any(map(_is_number, first)):  # a header: no cell is a number
        names = [c.strip().lower() for c in first]
        missing = [c for c in ("x", "y") if c not in names]
        if missing:
            raise DataError(
                f"{p}, line {line}: the header {','.join(first)!r} has no column {' or '.join(missing)}; "
                "name the columns x and y (or leave out the header and give exactly two columns x,y)"
            )
        ix, iy, width = names.index("x"), names.index("y"), len(names)
        rows = rows[1:]
    xs, ys = [], []
    for line, row in rows:
        if len(row) != width:
            raise DataError(f"{p}, line {line}: expected {width} values, got {len(row)}: {','.join(row)!r}")
        xs.append(_number(row[ix], "x", p, line))
        ys.append(_number(row[iy], "y", p, line))
    if not xs:
        raise DataError(f"{p}: a header but no data rows; add lines of the form x,y")
    return Dataset(tuple(xs), tuple(ys), p.stem)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _number(cell: str, column: str, path: Path, line: int) -> float:
    try:
        x = float(cell)
    except ValueError:
        raise DataError(f"{path}, line {line}: column {column} is {cell!r}, not a number") from None
    if not math.isfinite(x):
        raise DataError(f"{path}, line {line}: column {column} is {cell.strip()}; every value must be a finite number")
    return x
