"""Creation numbers, and pickling and copying Values.

Every Value gets a number when it is made (:func:`next_id`): creation order is a topological
order, since an op's result is made after its operands.  Unpickling and ``copy.deepcopy``
restore a Value's parents before it, but not always what else it holds: a ``create_graph``
gradient (``grad``) is a graph of nodes made *after* it, which depend on it, and they are
restored first, while it is still half-built.  So a restored Value takes its number only once
every parent has one: one whose parent is still half-built waits for it, and is numbered right
after it (a copy that fails half-way leaves only its own half-built Values waiting).

>>> import pickle
>>> from micrograd_ws import Value
>>> a = Value(2.0, 'a'); c = pickle.loads(pickle.dumps(a * 3))
>>> c.data, c.parents[0].label, c.parents[0]._id < c._id
(6.0, 'a', True)
"""
from __future__ import annotations

import copyreg
import itertools
import threading
import weakref

__all__ = ["next_id", "Picklable"]

#: the next creation number (thread-safe: itertools.count is atomic in CPython)
next_id = itertools.count().__next__

_load = threading.local()  # per thread: Values made by a load and not restored yet, and those waiting for a number


def _loading() -> weakref.WeakSet:
    """This thread's Values made and not yet restored (weak: a load that fails holds nothing)."""
    made = getattr(_load, "made", None)
    if made is None:
        made = _load.made = weakref.WeakSet()
        _load.waiting = weakref.WeakKeyDictionary()  # a restored Value -> how many of its parents have no number yet
        _load.waiters = weakref.WeakKeyDictionary()  # a Value -> the restored Values waiting for its number
    return made


def _rebuild(cls, *args):
    """``copyreg.__newobj__``, noting the new Value as half-built until its state is restored."""
    v = cls.__new__(cls, *args)
    _loading().add(v)
    return v


class Picklable:
    """What :class:`~micrograd_ws.engine.Value` inherits for pickle and ``copy``: a fresh
    creation number after its parents' (see the module docstring), and no stamp of an earlier
    backward pass."""

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
        self._pass = None
        made = _loading()
        made.discard(self)
        waiting = _load.waiting
        later = [p for p in self._inputs(set()) if p in made or p in waiting]  # (parents that can be nodes)
        if not later:
            return _number(self)
        waiting[self] = len(later)
        for p in later:
            _load.waiters.setdefault(p, []).append(self)


def _number(v) -> None:
    """``v``'s number, then that of every Value that waited only for it (and so on)."""
    ready = [v]
    while ready:
        u = ready.pop()
        u._id = next_id()
        for w in _load.waiters.pop(u, ()):
            left = _load.waiting[w] - 1
            if left:
                _load.waiting[w] = left
            else:
                del _load.waiting[w]
                ready.append(w)
