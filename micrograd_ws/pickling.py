"""Creation numbers, and pickling and copying Values.

Every Value gets a number when it is made (:func:`next_id`): creation order is a topological
order, since an op's result is made after its operands.  Unpickling and ``copy.deepcopy``
rebuild the parents first, so giving the rebuilt Value a fresh number keeps that true in this
process, whatever the old numbers were.

>>> import pickle
>>> from micrograd_ws import Value
>>> a = Value(2.0, 'a'); c = pickle.loads(pickle.dumps(a * 3))
>>> c.data, c.parents[0].label, c.parents[0]._id < c._id
(6.0, 'a', True)
"""
from __future__ import annotations

import itertools

__all__ = ["next_id", "Picklable"]

#: the next creation number (thread-safe: itertools.count is atomic in CPython)
next_id = itertools.count().__next__


class Picklable:
    """What :class:`~micrograd_ws.engine.Value` inherits for pickle and ``copy``: a fresh
    creation number, and no stamp of an earlier backward pass."""

    __slots__ = ()

    def __setstate__(self, state) -> None:
        attrs, slots = state if isinstance(state, tuple) else (state, None)
        for key, value in {**(attrs or {}), **(slots or {})}.items():
            setattr(self, key, value)
        self._id = next_id()
        self._pass = None
