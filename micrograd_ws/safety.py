"""All or nothing: a backward pass that fails leaves every leaf's ``grad`` exactly as it was.

A pass can fail half-way: a gradient overflows, a ``_backward`` closure raises, Ctrl-C.  The
promise, and how :class:`Pass` keeps it:

* a leaf is *kept* (:meth:`Pass.keep`) when the pass first adds into it: its earlier grad is
  recorded before its grad changes, and the pass's sum starts from 0.  So a pass costs
  nothing for leaves it never reaches (a dead ReLU's weights), and the undo knows every change.
  A neuron's parameters are kept as one list (:meth:`Pass.keep_part`, stores.py).
* :meth:`Pass.finish` checks that every new leaf gradient is finite, then computes each sum
  with the earlier grad and checks those too (accumulating over passes can overflow), and only
  then writes them: a non-finite gradient or sum is refused before anything is committed.
* :meth:`Pass.abort` only *assigns* values recorded before any change, so running it again, or
  after a half-done finish, gives the same result; Ctrl-C is held while it runs.
* In the main thread the pass installs :class:`Interrupts`: Ctrl-C raises KeyboardInterrupt as
  usual, but one that comes while the undo runs is held and delivered once the grads are
  consistent again.

>>> from micrograd_ws import Value
>>> a = Value(1.0, 'a'); a.grad = 5.0
>>> (a * 1e300).backward(gradient=1e300)
Traceback (most recent call last):
OverflowError: backward: ∂/∂a = inf overflowed a float; every leaf's grad is left as it was. Lower the learning rate or scale the inputs
>>> a.grad
5.0
"""
from __future__ import annotations

import math
import signal
import sys
import threading
from operator import attrgetter

from .checks import NumberLabel, accumulated_grad, held_by_open_pass, non_finite_grad
from .mode import UNRECORDED, reaches_only_unrecorded

__all__ = ["Pass", "PassHooks", "Stamp", "Interrupts", "ctrl_c_held", "refuse_held"]

_isfinite = math.isfinite
_grad = attrgetter("grad")


class PassHooks:
    """What a pass asks of each Value besides its ``_chain`` (the engine's step): a mixin Value
    inherits, whose methods the node types of compact.py and stores.py override."""

    __slots__ = ()

    def _reach(self, t: Pass) -> None:
        """This leaf is reached first by pass ``t``: its earlier grad kept aside (a neuron's
        parameter keeps its whole store aside: stores.py)."""
        t.keep(self)

    def _inputs(self, seen: set) -> tuple:
        """The parents among which a pass may find nodes (a neuron's w·x+b: its inputs only)."""
        return self.parents

    @property
    def _is_node(self) -> bool:
        """Made by an op (compact.py and stores.py answer without making a parents tuple)."""
        return bool(self.parents)


#: How many backward_steps() passes are open now, paused between two steps: while none is, no node
#: or leaf can be held by another pass, and a pass starts without looking (:func:`refuse_held`);
#: while one is (a generator left paused in a notebook), every pass first walks its graph.
open_steps = 0
_count_lock = threading.Lock()


def refuse_held(root) -> None:
    """Raise if a pass paused half-way holds ``root`` or anything it depends on.  Looked for before
    a new pass changes anything: found only when reached, it was too late, the new pass had
    already reset the nodes it shares with the paused one (whose gradients then came out 0)."""
    if not open_steps:
        return
    seen, stack = {root}, [root]
    while stack:
        v = stack.pop()
        if (other := v._pass) is not None and not other.done:
            raise held_by_open_pass(v)
        for p in v.parents:
            if p not in seen:
                seen.add(p)
                stack.append(p)


class Stamp:
    """A pass's mark on the nodes it has set up (``Value._pass``); ``done`` once it is finished or undone."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = False


class Pass:
    """One backward pass's changes to leaves, recorded before they are made.

    ``stamp`` marks the nodes this pass has set up (``Value._pass``); ``touched``/``earlier``:
    the leaves it has added into, in the order it reached them, and their grads before (two
    lists, no tuple per leaf for the garbage collector to chase); ``parts``/``before``: the same
    for neurons' parameter stores, each kept whole with its list of grads (``part.commit``).

    Used as ``t = Pass()``, then ``try: t.begin(); ...; t.finish()`` and ``except: t.abort(); raise``
    (a ``with`` block would leave a gap: an interrupt can land between its end and ``__exit__``).
    """

    __slots__ = ("stamp", "touched", "earlier", "parts", "before", "guard", "memo", "in_place", "stepwise")

    def __init__(self, root=None, in_place: bool = False) -> None:
        """``root``: where the pass starts; refused here, before anything changes, if a pass paused
        half-way (backward_steps) holds a node or leaf this one would reach (:func:`refuse_held`)."""
        if open_steps and root is not None:
            refuse_held(root)
        self.stepwise = False
        self.stamp = Stamp()
        self.touched: list = []
        self.earlier: list[float] = []
        self.parts: list = []
        self.before: list[list[float]] = []
        self.guard: Interrupts | None = None
        self.memo: dict = {}  # what a node type notes for the rest of this pass (stores.py)
        self.in_place = in_place  # sums onto the grads as they are (micrograd's node._backward()), not from 0

    def begin(self) -> None:
        """Hold Ctrl-C to this pass's rules (the main thread only): call it first in the ``try``."""
        self.guard = Interrupts.install()

    def begin_steps(self) -> None:
        """A pass that pauses between its steps (backward_steps): counted open until it ends."""
        global open_steps
        with _count_lock:
            self.stepwise = True
            open_steps += 1

    def release(self) -> None:
        global open_steps
        if self.stepwise:  # (idempotent: counted once)
            with _count_lock:
                if self.stepwise:
                    self.stepwise = False
                    open_steps -= 1
        if self.guard is not None:
            self.guard.release()  # (idempotent)

    def keep(self, leaf) -> None:
        """``leaf`` is reached for the first time: record its grad, then its sum starts from 0
        (refused while another pass, paused half-way, holds it: the two would undo each other)."""
        if (other := leaf._pass) is not None and not other.done:
            raise held_by_open_pass(leaf)
        self.earlier.append(leaf.grad)
        self.touched.append(leaf)
        leaf._pass = self.stamp
        if not self.in_place:
            leaf.grad = 0.0

    def keep_all(self, leaves, grads: list[float]) -> None:
        """Leaves none of which this pass has reached yet, with their ``grads`` before it, as
        :meth:`keep` records them one by one; the caller marks each and sets its sum next."""
        self.touched.extend(leaves)
        self.earlier.extend(grads)

    def keep_part(self, part, grads: list[float] | None = None) -> None:
        """A neuron's store (stores.py) reached for the first time: record its list of grads (or
        ``grads``, its loose parameters'), then this pass's sums start from its list of zeros (a
        fresh list: the recorded one is kept)."""
        if (other := part._pass) is not None and not other.done:
            raise held_by_open_pass(part.params[0])
        if grads is None:
            grads = part.grad  # (pending: made a list, to record)
        self.parts.append(part)
        self.before.append(grads)
        part._pass = self.stamp
        if self.in_place:  # (after the record: the recorded list is never changed)
            part.grad = part.grad[:]
        else:
            part.grads, part.pending = part.zeros, None

    def drop_part(self, part) -> list[float]:
        """No longer a part of this pass (stores.Store.unsum): its recorded grads."""
        k = next(k for k, p in enumerate(self.parts) if p is part)
        before = self.before[k]
        del self.parts[k], self.before[k]  # (one statement: the two lists never out of step)
        return before

    def finish(self, nodes=()) -> None:
        """Check every leaf gradient of this pass, then add the earlier gradients back.

        ``nodes``: the pass's nodes, root first, to name the first non-finite one in the order
        the pass reached it."""
        touched, parts = self.touched, self.parts
        first = touched[0] if touched and nodes and not parts and not self.in_place else None  # (looked at only then:
        # no cost otherwise; not for micrograd's node._backward() by hand, one node of a graph it cannot see whole)
        if first is not None and (first.op is UNRECORDED or isinstance(first.label, NumberLabel)):
            if (error := reaches_only_unrecorded(touched, nodes[0])) is not None:
                raise error
        if not (_isfinite(sum(map(_grad, touched))) and (not parts or parts[0].sums_finite(parts))):
            for part in [part for part in parts if part.summing is self.stamp]:  # (a loose store's sums, into
                part.unsum(self)  # its parameters: the first culprit is named in the order the pass reached it)
            for p in _reached_leaves(nodes, every=self.in_place) if nodes else touched:
                if not _isfinite(p.grad) and not isinstance(p.label, NumberLabel):  # (not a number made a Value)
                    raise non_finite_grad(p, p.grad)
            for part in parts:
                for p, g in zip(part.params, part.grad):
                    if not _isfinite(g):
                        raise non_finite_grad(p, g)
        if self.in_place:  # the sums were made onto the earlier grads: nothing to add back
            self.stamp.done = True
            return self.release()
        # the sums with the earlier grads: all computed and checked before the first is written
        sums = [(leaf, leaf.grad + e) for leaf, e in zip(touched, self.earlier) if e] if any(self.earlier) else ()
        merged = [(part, new, before) for part, before in zip(parts, self.before)  # (from zeros: the sums are the grads)
                  if before is not part.zeros and (new := part.merged(before)) is not None] if parts else ()
        if (sums and not _isfinite(sum([s for _, s in sums]))) or \
                (merged and not _isfinite(sum(map(sum, [new for _, new, _ in merged])))):
            self._name_overflow(nodes, sums, merged)
        for leaf, s in sums:
            leaf.grad = s
        for part, new, _ in merged:
            part.commit(new)
        self.stamp.done = True
        self.release()  # the last call: a Ctrl-C that comes until here still undoes the pass

    def _name_overflow(self, nodes, sums: list, merged: list) -> None:
        """Raise for the first leaf, in the order the pass reached it, whose earlier grad plus this
        pass's overflows (a neuron's parameters as plain Values would be named)."""
        culprits = {id(leaf): (leaf, e, leaf.grad) for (leaf, s), e in zip(sums, [e for e in self.earlier if e])
                    if not _isfinite(s)}
        for part, new, before in merged:
            reached = part.reached  # (an entry this pass never reached keeps its grad, even an inf set by hand)
            for k, (p, s, e, g) in enumerate(zip(part.params, new, before, part.grad)):
                if not _isfinite(s) and (reached is None or k in reached):
                    culprits[id(p)] = (p, e, g)
        if not culprits:  # (the sum of them all overflowed, none alone: nothing to refuse)
            return
        in_order = [p for p in _reached_leaves(nodes) if id(p) in culprits] if nodes else []
        leaf, e, g = culprits[id(in_order[0])] if in_order else next(iter(culprits.values()))
        raise accumulated_grad(leaf, e, g)

    def abort(self) -> None:
        """Give every leaf the grad it had before the pass (idempotent; Ctrl-C held meanwhile)."""
        try:
            with ctrl_c_held():
                self._undo()
        except BaseException:  # (a Ctrl-C that came before the hold was in, too: the undo all the same)
            self._undo()
            raise
        finally:
            self.release()  # (delivers a Ctrl-C held during the undo)

    def _undo(self) -> None:  # (only assigns what was recorded: running it twice changes nothing)
        for leaf, earlier in zip(self.touched, self.earlier):
            leaf.grad = earlier
        for part, before in zip(self.parts, self.before):
            part.restore(before)
        self.stamp.done = True


def _reached_leaves(nodes, every: bool = False) -> list:
    """The leaves a pass over ``nodes`` (root first) added into, in the order it reached them
    (``every``: the nodes among their parents too, which micrograd's ``node._backward()`` keeps as leaves)."""
    seen: set = set()
    leaves = []
    for v in nodes:
        if v.grad:
            for p in v.parents:
                if (every or not p.parents) and p not in seen:
                    seen.add(p)
                    leaves.append(p)
    return leaves


_MAIN_THREAD = threading.main_thread().ident
_get_ident = threading.get_ident
try:  # the C functions under signal.signal/getsignal, without its enum conversions (a few µs per pass)
    import _signal as _sig
except ImportError:  # pragma: no cover - not CPython
    _sig = signal
_SIGINT = int(signal.SIGINT)


class Interrupts:
    """SIGINT (Ctrl-C) during a pass in the main thread: the pass is finished or undone, never half.

    The handler raises KeyboardInterrupt as the usual one does, while the pass can still be
    undone; once an exception is on its way to that undo (this handler raised one, or an
    ``except`` clause is handling one) further SIGINTs are *held*, and :meth:`release` delivers
    them when every grad is consistent again.  Outside the main thread (where Python never runs
    signal handlers) nothing is installed.
    """

    __slots__ = ("previous", "held", "holding", "outer")

    @classmethod
    def install(cls, holding: bool = False) -> Interrupts | None:
        if _get_ident() != _MAIN_THREAD:
            return None
        self = cls()
        self.previous = _sig.getsignal(_SIGINT)
        if not callable(self.previous):  # ignored, default (terminate) or not set from Python
            return None
        self.held, self.holding, self.outer = None, holding, sys.exc_info()[1]
        try:
            _sig.signal(_SIGINT, self._handler)
            return self
        except BaseException:  # the handler raised at once: put the old one back
            _sig.signal(_SIGINT, self.previous)
            raise

    def _handler(self, signum: int, frame) -> None:
        if self.holding or sys.exc_info()[1] is not self.outer:
            self.held = frame
            return
        self.holding = True  # from here the pass is being undone: hold the next ones
        self.previous(signum, frame)  # KeyboardInterrupt, normally
        self.holding = False

    def release(self) -> None:
        """Put the previous handler back and deliver a held SIGINT to it (idempotent)."""
        previous = self.previous
        _sig.signal(_SIGINT, previous)
        if self.held is not None:
            frame, self.held = self.held, None
            previous(_SIGINT, frame)


class ctrl_c_held:
    """``with ctrl_c_held():`` the block's writes are all made, or none: a Ctrl-C that comes
    meanwhile waits for the block's end, then raises as usual (the main thread only)."""

    __slots__ = ("guard",)

    def __enter__(self) -> None:
        self.guard = Interrupts.install(holding=True)

    def __exit__(self, *exc_info) -> None:
        if self.guard is not None:
            self.guard.release()  # (delivers the Ctrl-C, if one came)
