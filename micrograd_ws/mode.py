"""Grad mode: :func:`no_grad` and :func:`enable_grad`, per thread, like ``torch.no_grad``.

A room of its own so that the engine reads one flag: :func:`recording` is True unless this
thread is inside :func:`no_grad`.  While no thread is inside ``no_grad`` it answers without
the (slower) thread-local look-up.

>>> from micrograd_ws import Value
>>> with no_grad():
...     y = Value(3.0) * 2
>>> y.parents, is_grad_enabled()
((), True)
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from .checks import NumberLabel

__all__ = ["no_grad", "enable_grad", "is_grad_enabled", "recording", "no_grad_entries", "state", "threads_inside",
           "Unrecorded", "UNRECORDED", "recorded", "reaches_only_unrecorded"]


class Unrecorded(str):
    """The ``op`` of a result made inside :func:`no_grad`: equal to ``''`` (a leaf's) everywhere,
    told apart only by ``backward()``, which refuses to start from it (:func:`recorded`): it
    has no graph to go back through, and a pass from it would silently reach no weight."""

    __slots__ = ()

    def __reduce__(self) -> tuple:  # pickled and deep-copied as a plain leaf's op
        return str, ("",)


#: the one :class:`Unrecorded` op
UNRECORDED = Unrecorded()


def recorded(root, where: str = "backward"):
    """``root``, refused as where a pass starts if it was made inside :func:`no_grad` (as PyTorch
    refuses a tensor without ``grad_fn``): its gradient would be 1 and every weight's 0, silently."""
    if root.op is UNRECORDED:
        raise RuntimeError(
            f"{where}: {_named(root)} was computed inside `with no_grad():`, which records no graph, so there is "
            "nothing to go back through (no weight would get a gradient). Compute it outside no_grad() to "
            "train; no_grad() is for evaluating")
    return root


def reaches_only_unrecorded(leaves, root=None) -> RuntimeError | None:
    """The error for a pass whose every leaf (numbers an operator made Values aside) was made inside
    :func:`no_grad`, as when the net's output was: no weight could get a gradient, silently.
    ``leaves``: those the pass reached, and then every leaf of the graph below ``root`` is looked at too
    (a weight behind a ReLU that is off is not reached, and makes it a pass like any other); without
    ``root``, ``leaves`` are every leaf of the graph already."""
    leaf = next((v for v in leaves if v.op is UNRECORDED), None)
    if leaf is None or not all(map(_frozen, leaves)):
        return None
    seen, stack = {root}, [root] if root is not None else []
    while stack:
        for p in stack.pop().parents:
            if p not in seen:
                seen.add(p)
                if p.parents:
                    stack.append(p)
                elif not _frozen(p):
                    return None
    return RuntimeError(
        f"backward: every leaf of this graph was computed inside `with no_grad():` ({_named(leaf)}) or is a number, so "
        "no weight would get a gradient. Compute the net's output outside no_grad() to train; no_grad() is "
        "for evaluating (a weight computed there, w = Value(0.9) / 3, is such a result too: make it Value(0.9 / 3))")


def _named(v) -> str:
    return f"{v.label} = {v.data!r}" if v.label else f"Value({v.data!r})"


def _frozen(v) -> bool:
    """A leaf made inside no_grad(), or a number an operator made a Value: not a weight."""
    return v.op is UNRECORDED or isinstance(v.label, NumberLabel)


class _GradMode(threading.local):
    enabled = True
    entries = 0  # how many times this thread entered no_grad() (compile's trace tells by it that fn used it)


#: this thread's mode (``state.enabled``), and how many threads are inside ``no_grad`` now: while
#: that is 0, the engine records without the thread-local look-up (``recording()``, inlined there).
state = _GradMode()
threads_inside = 0
_lock = threading.Lock()


def recording() -> bool:
    """True when an op should record its parents: this thread is not inside :func:`no_grad`."""
    return not threads_inside or state.enabled


def is_grad_enabled() -> bool:
    """True unless inside :func:`no_grad` (in this thread)."""
    return state.enabled


def no_grad_entries() -> int:
    """How many times this thread has entered :func:`no_grad` (a counter, for compile's trace)."""
    return state.entries


@contextmanager
def no_grad() -> Iterator[None]:
    """Evaluate without recording the graph (per thread): results made inside are leaves.

    >>> from micrograd_ws import Value
    >>> w = Value(3.0)
    >>> with no_grad():
    ...     y = w * 2
    >>> y.parents, y.data
    ((), 6.0)
    """
    global threads_inside
    previous = state.enabled
    state.entries += 1
    with _lock:
        threads_inside += 1
    try:  # everything after the count is undone in finally, even on an interrupt
        state.enabled = False
        yield
    finally:
        state.enabled = previous
        with _lock:
            threads_inside -= 1


@contextmanager
def enable_grad() -> Iterator[None]:
    """Record the graph again inside :func:`no_grad` (per thread, like ``torch.enable_grad``).

    >>> from micrograd_ws import Value
    >>> with no_grad():
    ...     with enable_grad():
    ...         y = Value(3.0) * 2
    >>> y.op
    '*'
    """
    previous = state.enabled
    try:
        state.enabled = True
        yield
    finally:
        state.enabled = previous
