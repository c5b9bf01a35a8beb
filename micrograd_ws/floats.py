"""Adding floats the same way on every Python: left to right, one rounding per addition.

Python 3.12's built-in ``sum()`` of floats compensates rounding (Neumaier's algorithm), so
``sum(map(mul, w, x), b)`` differs in its last bits between Python 3.11 and 3.12+, and with it
every number a net computes.  The engine means w·x + b as the handout writes it, one product
added after another, as a learner's own loop adds them; :func:`add_up` is that sum on every
version, so a net gives the same bits natively and in the lab's page (Pyodide runs 3.14).
Up to 3.11 it is ``sum`` itself (no cost); from 3.12 ``functools.reduce(operator.add, ...)``.

>>> add_up([1e16, 1.0, -1e16], 0.0)      # 1e16 + 1 rounds to 1e16: a plain left-to-right sum
0.0
"""
from __future__ import annotations

from functools import partial, reduce
from operator import add

__all__ = ["add_up", "COMPENSATED_SUM"]

#: whether this Python's sum() of floats compensates rounding (3.12 and later)
COMPENSATED_SUM = sum([1e16, 1.0, -1e16]) != 0.0

#: ``add_up(iterable, start)``: start + x0 + x1 + ..., left to right in plain doubles
add_up = partial(reduce, add) if COMPENSATED_SUM else sum
