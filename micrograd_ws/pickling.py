"""Creation numbers, and pickling and copying Values.

Every Value gets a number when it is made (:func:`next_id`): creation order is a topological
order, since an op's result is made after its operands.  Unpickling and ``copy.deepcopy``
restore a Value's parents before it, but not always what else it holds: a ``create_graph``
gradient (``grad``) is a graph of nodes made *after* it, which depend on it, and they are
restored first.  So the Values of one load are numbered afresh when the load ends, in the
order of their old numbers: later than anything made before, in their own creation order.

>>> import pickle
>>> from micrograd_ws import Value
>>> a = Value(2.0, 'a'); c = pickle.loads(pickle.dumps(a * 3))
>>> c.data, c.parents[0].label, c.parents[0]._id < c._id
(6.0, 'a', True)
"""
from __future__ import annotations

import copyreg
import itertools
import math
import threading
import weakref

__all__ = ["next_id", "Picklable"]

#: the next creation number (thread-safe: itertools.count is atomic in CPython)
next_id = itertools.count().__next__

_load = threading.local()  # per thread: the Values of the load under way (made, not yet restored), and those done


def _rebuild(cls, *args):
    """``copyreg.__newobj__``, noting the new Value as one of the load under way."""
    v = cls.__new__(cls, *args)
    if getattr(_load, "open", None) is None:
        _load.open, _load.done = weakref.WeakSet(), []  # (weak: a load that fails leaves nothing held)
    _load.open.add(v)
    return v


class Picklable:
    """What :class:`~micrograd_ws.engine.Value` inherits for pickle and ``copy``: a fresh
    creation number, in the old numbers' order (see the module docstring), and no stamp of an
    earlier backward pass."""

    __slots__ = ()

    def __reduce_ex__(self, protocol: int):
        rv = super().__reduce_ex__(protocol)
        if isinstance(rv, tuple) and rv[0] is copyreg.__newobj__:  # (a Value's own; a parameter's is its store's)
            return (_rebuild, *rv[1:])
        return rv

    def __setstate__(self, state) -> None:
        attrs, slots = state if isinstance(state, tuple) else (state, None)
        for key, value in {**(attrs or {}), **(slots or {})}.items():
            setattr(self, key, value)
        self._id = next_id()
        self._pass = None
        pending = getattr(_load, "open", None)
        if pending is None or self not in pending:  # (restored from an older pickle: as it is)
            return
        pending.discard(self)
        old = (slots or {}).get("_id")
        _load.done.append((old if isinstance(old, int) else math.inf, weakref.ref(self)))
        if not pending:  # the load is complete: its Values numbered afresh in their old order
            done, _load.done = sorted(_load.done, key=_first), []
            for _, ref in done:
                v = ref()
                if v is not None:
                    v._id = next_id()


def _first(pair: tuple) -> float:
    return pair[0]
