"""A neuron's parameters kept as float lists: its forward pass, its part of backward and
``SGD.step()`` take a list at a time, where a Value per number takes a Python step per weight.

The numbers are the same to the bit as with plain Values (tests/test_stores.py).  The pieces:

* :class:`Store`: a neuron's weights then its bias, as a list of numbers (``data``) and a list of
  gradients (``grad``); its parameters are :class:`Param` Values whose ``data`` and ``grad``
  are entries of those lists.
* :func:`neuron_sums`: the neurons' ``w·x+b`` nodes (:class:`WeightedSum`), whose backward
  step (``_chain``) gives the store's gradients at once: pending as (g, inputs), or as one list.

The rules that keep this exact:

* ``data`` is replaced, never changed in place, once a node keeps it as its local derivatives
  (``shared``): setting one ``p.data`` copies the list first if it is shared.
* ``grad`` is kept aside whole when a pass first reaches the store (safety.Pass.keep_part).
  All zero, it is ``zeros``, one list shared by all stores of its length; setting one ``p.grad``
  copies it first.
* ``pending``: a pass that reached the store from zeros through its ``w·x+b`` node alone leaves
  its gradients unwritten, as ``(g, xd)``: ∂C/∂w_k = g·x_k + 0.0, ∂C/∂b = g.  Reading ``grad``
  makes them a list, changing nothing (``grads`` is the list as held); ``SGD.step`` moves the weights by
  them without the list (w - lr·(g·x_k)), and a pass checks them finite as |g|·(Σ|x_k| + 1).
* ``version`` and ``checked``: every change of ``data`` (a number set by hand, a new list) takes a
  new ``version`` after it is made; ``checked`` is the version whose numbers are known to be finite
  (a forward pass that added all of them found a finite sum, the version unchanged meanwhile).
  While ``checked == version`` a forward pass leaves out the terms of inputs that are 0 (dead
  ReLUs): each is ±0.0, which changes no partial sum unless the bias is ±0.0.  (A number set by
  another thread during the sum leaves ``checked`` behind ``version``: at worst one pass misses it.)
* ``reached``: the entries that pass has added into, when it reached the store only through
  some of its parameters (an L2 term on a dead neuron's weights), else None (its ``w·x+b``
  reached them all).  The others keep their grad exactly as it was.

A loop over ``model.parameters()`` that reads and writes each parameter (the lecture's) would
pay a Python call per access through the lists: after many such accesses the neuron's next
forward pass lets the store go (``Store.scatter``; its parameters become :class:`LooseParam`,
each with its numbers in its own slots), and ``Store.ready`` gathers them back for ``compile``
and pickle, and for SGD and ``zero_grad`` when both are used (one of them with the lecture's
other half, the store stays loose and they go one parameter at a time).  Loose, the neuron's
forward pass still reads its weights into one list, and backward still sums its gradients as
lists (``summing``), written into the parameters when the pass ends (``Store.commit``), or as
soon as a pass reaches one of them by another path (``Store.unsum``).

>>> import random, micrograd_ws as mw
>>> w = mw.Neuron(2, rng=random.Random(0)).w[1]
>>> w.data = 0.5; w.grad = 2.0; (w.data, w.grad, w._store.data[1], w._store.grad[1])
(0.5, 2.0, 0.5, 2.0)
"""
from __future__ import annotations

import math
from itertools import compress, count, repeat
from operator import itemgetter, mul
from typing import Callable

from . import mode
from .checks import non_finite, not_a_number
from .engine import Value, node
from .floats import add_up
from .pickling import next_id
from .safety import ctrl_c_held

__all__ = ["Store", "Param", "LooseParam", "WeightedSum", "neuron_sums", "layer_sum"]

_new = object.__new__
_isfinite = math.isfinite
_ZEROS: dict[int, list[float]] = {}  # length -> the shared list of zeros (never changed)
_change = count(1).__next__  # a store's versions (one count: a version is never reused, even across threads)


class Store:
    """The numbers of one neuron's parameters, its weights and then its bias (see the module docstring).

    While ``loose`` (see :meth:`scatter`), ``data`` and ``grad`` are stale: the parameters hold the
    numbers; :meth:`ready` gathers them back before a list is used.
    """

    __slots__ = ("data", "grads", "pending", "zeros", "params", "shared", "_pass", "reached", "loose", "budget",
                 "allowance", "summing", "version", "checked", "asked")

    def __init__(self, data: list[float]) -> None:
        self.data = data
        self.grad = self.zeros = _ZEROS.setdefault(len(data), [0.0] * len(data))
        self.shared = self.loose = False
        self.version, self.checked = _change(), 0  # (see the module docstring: none checked yet)
        self._pass = self.reached = self.summing = self.asked = None
        self.budget = self.allowance = 2 * len(data)  # single accesses allowed between forward passes
        self.params = tuple(_param(self, k) for k in range(len(data)))

    @property
    def grad(self) -> list[float]:
        """The gradients as a list: made from them if ``pending``, a new list each read (a read
        changes nothing, so a thread that only reads cannot put back grads older than a pass's)."""
        pending = self.pending
        if pending is None:
            return self.grads
        g, xd = pending
        grads = [g * x or 0.0 for x in xd]  # g·x + 0.0: -0.0 made 0.0, as for a leaf (see commit)
        grads.append(g)
        return grads

    @grad.setter
    def grad(self, grads: list[float]) -> None:
        self.grads, self.pending = grads, None

    @staticmethod
    def sums_finite(stores: list[Store]) -> bool:
        """Every gradient of these stores is finite, or maybe not (False: check each one).  A
        pending g·x_k is at most |g|·(Σ|x| + 1) (rounding keeps the order), once per layer's inputs."""
        total, bounds = 0.0, {}
        for store in stores:
            pending = store.pending
            if pending is None:
                total += sum(store.grads)
            else:
                g, xd = pending
                bound = bounds.get(id(xd))
                if bound is None:
                    bound = bounds[id(xd)] = sum(map(abs, xd)) + 1.0
                total += abs(g) * bound
        return _isfinite(total)

    def merged(self, before: list[float]) -> list[float] | tuple | None:
        """The grads at the end of a pass that kept this store aside: its sums plus the grads
        ``before`` it, as a new list (None: the sums are the grads; ``()``: so, still pending, and
        a loose store's parameters are to get them).  Nothing is written: the pass checks every
        sum first (safety.Pass.finish), then :meth:`commit` writes them."""
        if self.loose:  # summed in the lists while loose: the parameters get them (commit)
            if any(before):
                return [g + e for g, e in zip(self.grad, before)]
            return () if self.pending is not None else self.grads
        if before is self.zeros:  # the pass's sums are the grads
            return None
        if self.reached is not None:  # only some entries: the others as they were, the reached ones plus earlier
            grads, new = self.grad, before[:]
            for k in self.reached:
                new[k] = grads[k] + before[k]
            return new
        if any(before):  # (an entry the pass left at 0 gets its earlier grad back)
            return [g + e for g, e in zip(self.grad, before)]
        return None

    def commit(self, new: list[float] | tuple) -> None:
        """Write the grads :meth:`merged` gave (checked finite by the pass); a loose store's into its parameters."""
        if self.loose:
            params = self.params
            if new == ():  # this pass's pending sums (g, inputs), each written into its parameter as it is made
                g, xd = self.pending
                for p, x in zip(params, xd):
                    p.grad = g * x or 0.0  # g·x + 0.0 (0.0 + -0.0 is 0.0, as for a leaf), without the addition
                params[-1].grad = g
                self.grads, self.pending = self.zeros, None  # (stale while loose: the parameters hold them)
                return
            for p, g in zip(params, new):
                p.grad = g
        self.grads, self.pending = new, None

    def restore(self, before: list[float]) -> None:
        """A pass that kept this store aside is undone: its grads as they were (a loose store's
        parameters too, into which :meth:`commit` may have written some)."""
        if self.loose:
            for p, g in zip(self.params, before):
                p.grad = g
        self.grad = before

    def unsum(self, t) -> None:
        """Pass ``t`` reaches one of this loose store's parameters by another path while its sums are in
        the lists (``summing``): the sums so far go into the parameters, each kept as a leaf of ``t``."""
        before = t.drop_part(self)
        t.keep_all(self.params, before)
        stamp = t.stamp
        for p, g in zip(self.params, self.grad):
            p._pass, p.grad = stamp, g
        self.summing = None

    # A loop over model.parameters() (the lecture's ``p.grad = 0`` ... ``p.data -= lr * p.grad``)
    # reads and writes one parameter at a time; through the lists each access is a Python call.  So
    # past ``budget`` such accesses between two forward passes, the neuron's next forward pass lets
    # the store go (``scatter``): each parameter keeps its numbers in its own slots (a LooseParam),
    # and the neuron reads them into a list of its node's own; the lists come back when they are wanted (SGD,
    # zero_grad, compile, pickle: ``ready()``).  Only the neuron's forward pass and those callers
    # switch, so a thread that only reads the weights changes nothing; never in the middle of a
    # pass (backward_steps paused); Ctrl-C is held while the parameters change class.
    #
    # zero_grad() and SGD.step() gather them back only when asked in turn: a loop that uses one of
    # them with the lecture's other half (``model.zero_grad()`` then ``p.data -= lr * p.grad``, as
    # micrograd's demo does; or ``p.grad = 0`` by hand then ``opt.step()``) keeps the store loose
    # and has them work one parameter at a time, at a slot's speed: gathered back, the learner's
    # half would let it go again at the next forward pass, both switches every step.

    def scatter(self) -> None:
        """Let go: every parameter's numbers into its own slots (each slot set before its class changes,
        so a reader in another thread sees the same number either way)."""
        global loose_stores
        stamp = self._pass
        if stamp is not None and not stamp.done:
            self.budget = self.allowance  # (a pass is open: try again later)
            return
        with ctrl_c_held():
            try:
                for p, x, g in zip(self.params, self.data, self.grad):
                    _DATA.__set__(p, x)
                    _GRAD.__set__(p, g)
                    _PASS.__set__(p, None)
                for p in self.params:
                    p.__class__ = LooseParam
                self.loose, self.asked = True, None
                loose_stores += 1
            except BaseException:  # (an exception half-way: the lists stay the numbers)
                for p in self.params:
                    p.__class__ = Param
                self.loose = False
                raise

    def ready(self, asking: str | None = None) -> bool:
        """The lists hold the numbers (gathered back if loose); False while a pass that reached one of
        its parameters is open (then nothing changes: use the parameters one by one).  ``asking``:
        ``"zero_grad"`` or ``"step"``, which gather a loose store back only when the other one asked
        last (see above); else False, and the store stays loose."""
        global loose_stores
        if not self.loose:
            return True
        if asking is not None:
            last, self.asked = self.asked, asking
            if last is None or last == asking:
                return False
        params = self.params
        stamp = self._pass
        if (stamp is not None and not stamp.done) or not all([p._pass is None or p._pass.done for p in params]):
            return False
        with ctrl_c_held():
            try:
                self.data = [p.data for p in params]
                grads = [p.grad for p in params]
                self.grad = self.zeros if all([g == 0.0 and type(g) is float and math.copysign(1.0, g) > 0
                                               for g in grads]) else grads
                self.shared, self._pass, self.reached, self.summing, self.asked = False, None, None, None, None
                self.version = _change()
                for p in params:
                    p.__class__ = Param
                self.loose = False
                self.budget = self.allowance
                loose_stores -= 1
            except BaseException:  # (an exception half-way: the parameters stay the numbers)
                if self.loose:
                    for p in params:
                        p.__class__ = LooseParam
                raise
        return True

    def put(self, data: list[float] | None = None, grad: list[float] | None = None, finite: bool = False) -> None:
        """New lists of numbers or gradients (a new list: nodes keep the one of their forward pass);
        into the parameters one by one if the store has let go meanwhile.  ``finite``: every number
        in ``data`` is known to be finite (``checked``: see the module docstring)."""
        if self.loose:
            for p, x, g in zip(self.params, data or repeat(None), grad or repeat(None)):
                if x is not None:
                    p.data = x
                if g is not None:
                    p.grad = g
            return
        if data is not None:
            self.data, self.shared = data, False
            self.version = version = _change()
            if finite:
                self.checked = version
        if grad is not None:
            self.grad = grad

    def __getstate__(self) -> tuple:
        # its numbers: its parameters are made again, in order (see Param.__reduce__)
        if self.ready():
            return self.data, self.grad, self.zeros, self.shared, len(self.params)
        return [p.data for p in self.params], [p.grad for p in self.params], self.zeros, False, len(self.params)

    def __setstate__(self, state: tuple) -> None:
        self.data, self.grad, self.zeros, _, n = state
        self.shared = True  # (copy.copy hands over the very list: the first change copies it)
        self._pass = self.reached = self.summing = self.asked = None
        self.loose, self.budget = False, 2 * n
        self.version, self.checked = _change(), 0
        self.allowance = 2 * n
        store_param(self, 0, n)  # (its parameters, unless a graph in its grads made them already)


#: How many stores are loose now: while 0, no caller of the lists needs to ask each ``ready()``.
loose_stores = 0


def _param(store: Store, k: int) -> Param:
    p = _new(Param)
    p._store, p._k = store, k
    p.label = p.op = ""
    p.parents = p.local_grads = ()
    p._id = next_id()
    return p


def store_param(store: Store, k: int, n: int) -> Param:
    """Unpickling and ``copy.deepcopy``: the ``k``-th of a store's ``n`` parameters.  They are made
    together when the first is needed, so numbered in order, the weights then the bias, as a
    neuron makes them (maybe before the store's numbers are restored: a ``create_graph``
    gradient in them is a graph that may hold its parameters)."""
    try:
        params = store.params
    except AttributeError:
        params = store.params = tuple(_param(store, i) for i in range(n))
    return params[k]


# A parameter's data and grad, read and written through its store's lists; each access is counted
# against the store's budget (see Store.scatter).

def _get_data(p: Param) -> float:
    store = p._store
    store.budget -= 1
    return store.data[p._k]


def _set_data(p: Param, x: float) -> None:
    store = p._store
    store.budget -= 1
    if store.shared:  # a node holds this list: copy, so that its local derivatives stay as they were
        store.data = store.data[:]
        store.shared = False
    store.data[p._k] = x
    store.version = _change()  # (after the number: any may be set by hand, the next forward pass checks them all)


def _get_grad(p: Param) -> float:
    store = p._store
    store.budget -= 1
    pending, k = store.pending, p._k
    if pending is None:
        return store.grads[k]
    g, xd = pending  # (its one entry, as Store.grad makes them all)
    return (g * xd[k] or 0.0) if k < len(xd) else g


def _set_grad(p: Param, g: float) -> None:
    store = p._store
    store.budget -= 1
    grads = store.grads
    if store.pending is not None:  # pending: made a list first (a new one)
        store.grad = grads = store.grad
    elif grads is store.zeros:  # the shared zeros: a list of its own first
        store.grads = grads = grads[:]
    grads[p._k] = g


def _get_pass(p: Param) -> object:
    store = p._store
    reached = store.reached
    return store._pass if reached is None or p._k in reached else None


def _set_pass(p: Param, stamp: object) -> None:
    store = p._store
    store._pass, store.reached = stamp, None


class Param(Value):
    """A leaf Value whose ``data`` and ``grad`` live in a :class:`Store` (a neuron's weight or bias).

    It is a Value like any other to read, set, use in expressions and pickle; only the fast
    paths (a neuron's forward pass, backward, SGD, compile) see the store.
    """

    __slots__ = ("_store", "_k")
    data = property(_get_data, _set_data)
    grad = property(_get_grad, _set_grad)
    _pass = property(_get_pass, _set_pass)
    _is_node = False

    def __new__(cls, *args, **kwargs) -> Value:
        # type(p)(2.0) makes a plain Value, as for any leaf (a store makes its own parameters: _param)
        return Value(*args, **kwargs)

    def _reach(self, t) -> None:
        """A pass reaches this parameter first: its store is kept aside whole, this entry marked reached."""
        store = self._store
        if store._pass is not t.stamp:
            t.keep_part(store)
            store.reached = set()
        store.reached.add(self._k)

    def __reduce__(self) -> tuple:
        # its store's k-th parameter (pickle and deepcopy keep the store shared), then its label and attributes
        return store_param, (self._store, self._k, len(self._store.params)), (self.__dict__ or None, self.label)

    def __reduce_ex__(self, protocol: int) -> tuple:
        return self.__reduce__()  # (straight: 10,401 of them in the handout's net)

    def __setstate__(self, state: tuple) -> None:
        attrs, self.label = state
        for key, value in (attrs or {}).items():
            setattr(self, key, value)

    def __copy__(self) -> Value:
        # a leaf of its own with the same numbers, as copy.copy of a plain Value (not its store's k-th again)
        v = _new(Value)
        v.__setstate__((self.__dict__, {"data": self.data, "grad": self.grad, "label": self.label, "op": "",
                                        "parents": (), "local_grads": ()}))
        return v


class LooseParam(Param):
    """A parameter of a loose store (see Store.scatter): ``data``, ``grad`` and ``_pass`` in its own
    slots, as a plain Value's, so that a loop over the parameters reads them at full speed."""

    __slots__ = ()
    data = Value.__dict__["data"]  # (Value's slots, which a Param's properties cover)
    grad = Value.__dict__["grad"]
    _pass = Value.__dict__["_pass"]

    def _reach(self, t) -> None:
        store = self._store
        if store.summing is t.stamp:  # its w·x+b summed into the lists first: the sums go to the parameters
            return store.unsum(t)
        t.keep(self)
        store._pass = t.stamp  # (so a w·x+b node of the store knows one of its parameters is reached)


Param.__name__ = LooseParam.__name__ = "Value"
_DATA, _GRAD, _PASS = Value.__dict__["data"], Value.__dict__["grad"], Value.__dict__["_pass"]  # the slots under Param's properties


# --- a neuron's w·x+b --------------------------------------------------------------------------

def layer_sum(wt: tuple, xt: tuple, xd: list, bias: Value, leaves: bool) -> Value:
    """engine.weighted_sum for a layer's neuron whose weights are not one store: ``xt`` and its
    data ``xd`` are shared by all the layer's neurons; ``leaves``: every weight and the bias is a
    leaf (then the node is a :class:`WeightedSum`, whose pass scans the inputs once per layer)."""
    wd = [w.data for w in wt]  # (a comprehension reads slots faster than map(attrgetter))
    try:
        data = add_up(map(mul, wd, xd), bias.data)
        finite = _isfinite(data)
    except (TypeError, ValueError) as e:  # a number set by hand that is not one ('0.5', None, 1j): named
        raise not_a_number((*wt, *xt, bias), (*wd, *xd, bias.data), e) from None
    parents = wt + xt + (bias,)
    if not leaves or not mode.recording():
        return node(data, parents, (*xd, *wd, 1.0), "w·x+b")
    if not finite:
        raise non_finite("w·x+b", parents, data)
    z = _sum_node(data, xt, xd, wd)
    z._parents = parents
    return z


def neuron_sums(stores: list[Store], xt: tuple, xd: list, labels: list[str], then: list[str | None],
                activation: Callable[[Value], Value]) -> list[Value]:
    """engine.weighted_sum for neurons reading the same inputs ``xt`` (their data ``xd``: a layer),
    each with its weights and bias the parameters of one store, in order: each forward pass reads
    them as one list (weights, then the bias last); a loose store's read from its parameters into
    a list of the node's own.  ``then``: for each neuron, the label of its ``activation``'s output,
    made right after its sum (as one neuron at a time makes them), or None for no activation.  One
    loop for the layer: a Python call per neuron only for its activation."""
    out = []
    recording = not mode.threads_inside or mode.state.enabled  # (mode.recording(), for this thread)
    live = list(compress(range(len(xd)), xd))  # the inputs that are not 0 (a dead ReLU's is)
    pick = itemgetter(*live) if 1 < len(live) < len(xd) else None  # a row's entries at those inputs
    xlive = pick(xd) if pick is not None else ()
    for store, label, h_label in zip(stores, labels, then):
        if store.budget < 0 and not store.loose:
            store.scatter()  # many single accesses since the last forward pass: let go (Store.scatter)
        try:
            if store.loose:
                wd = [p.data for p in store.params]
                try:  # every weight finite (a hand-set inf or nan makes the sum so; an int too big for a float raises)
                    live_only = pick is not None and wd[-1] and _isfinite(sum(wd, 0.0))
                except (OverflowError, TypeError):  # (every term, then: the error it always gave)
                    live_only = False
                if live_only:  # the live terms only, as below
                    data = add_up(map(mul, pick(wd), xlive), wd[-1])
                else:
                    data = add_up(map(mul, wd, xd), wd[-1])  # (map stops at the inputs: the weights times the inputs)
            else:
                version = store.version  # (before the numbers: see the module docstring)
                wd = store.data
                store.shared, store.budget = True, store.allowance  # the node keeps this list as its local derivatives: not to be changed in place now
                if store.checked == version and pick is not None and wd[-1]:
                    # the live inputs' terms only: each w·0 left out is ±0.0 (every w is finite), which changes
                    # no partial sum, as none is -0.0 (it takes a bias of -0.0): the same number to the bit
                    data = add_up(map(mul, pick(wd), xlive), wd[-1])  # (overflow or not: ±0.0 changes no inf or nan)
                else:
                    data = add_up(map(mul, wd, xd), wd[-1])
                    if _isfinite(data) and store.version == version:  # (then so is every weight: inf or nan times 0 is nan)
                        store.checked = version
            finite = _isfinite(data)
        except (TypeError, ValueError) as e:  # a number set by hand that is not one ('0.5', None, 1j): named
            params = store.params
            raise not_a_number((*params[:-1], *xt, params[-1]), (*wd[:-1], *xd, wd[-1]), e) from None
        if not recording or not finite:  # (node() raises for the latter)
            z = node(data, _store_parents(store, xt), (*xd, *wd[:-1], 1.0), "w·x+b")
            z.label = label
        else:  # (_sum_node's, inline: once per neuron and forward pass)
            z = _new(WeightedSum)
            z.data, z.grad, z.label, z.op, z._id, z._pass = data, 0.0, label, "w·x+b", next_id(), None
            z._x, z._xd, z._wd, z._store, z._parents, z._local = xt, xd, wd, store, None, None
        if h_label is not None:
            z = activation(z)
            z.label = h_label
        out.append(z)
    return out


def _store_parents(store: Store, xt: tuple) -> tuple:
    params = store.params
    return params[:-1] + xt + params[-1:]  # the weights, the inputs, the bias


def _sum_node(data: float, xt: tuple, xd: list, wd: list) -> Value:
    z = _new(WeightedSum)  # node()'s fields, but local_grads made when first read
    z.data, z.grad, z.label, z.op, z._id, z._pass = data, 0.0, "", "w·x+b", next_id(), None
    z._x, z._xd, z._wd, z._store, z._parents, z._local = xt, xd, wd, None, None, None
    return z


class WeightedSum(Value):
    """A ``w·x+b`` node whose weights and bias are leaves: the nets' pre-activations.

    The same node as any other (``parents``: the weights, the inputs, the bias), keeping its
    parts apart for backward: ``_x`` the inputs (one tuple shared by all the neurons of a
    layer, so a pass scans it once, not once per neuron), ``_xd`` and ``_wd`` their data and
    the weights' (``_wd`` may end with the bias: it is the neuron's store's list, and
    ``_store`` that store, whose grads ``_chain`` gives at once, pending or as one list; else None).
    ``local_grads`` and a store's node's ``parents`` are put together when first read.
    """

    __slots__ = ("_x", "_xd", "_wd", "_store", "_parents", "_local")
    _is_node = True

    @property
    def parents(self) -> tuple:
        if self._parents is None:
            self._parents = _store_parents(self._store, self._x)
        return self._parents

    @parents.setter
    def parents(self, value: tuple) -> None:
        self._parents = value

    @property
    def local_grads(self) -> tuple:
        if self._local is None:  # the 2n + 1 derivatives as one tuple, kept
            xd = self._xd
            self._local = (*xd, *self._wd[:len(xd)], 1.0)
        return self._local

    @local_grads.setter
    def local_grads(self, value: tuple) -> None:
        self._local = value

    def _inputs(self, seen: set) -> tuple:
        """Only the inputs can be nodes (the weights are leaves), and a layer's are scanned once."""
        x = self._x
        if id(x) in seen:
            return ()
        seen.add(id(x))
        return x

    def _chain(self, t) -> None:
        g, stamp, store = self.grad, t.stamp, self._store
        if store is None:  # replaced weights
            return self._one_by_one(t, g)
        if store._pass is not stamp:  # reached first: kept aside (sums from 0, its zeros)
            if not store.loose:
                t.keep_part(store)
            elif t.in_place:  # (micrograd's node._backward(): onto the grads, one by one)
                return self._one_by_one(t, g)
            else:  # a loose store's parameters: their grads kept as a list, the sums in its lists meanwhile
                t.keep_part(store, [p.grad for p in store.params])
                store.summing = stamp
        elif store.loose and store.summing is not stamp:  # some of its parameters reached first, one by one
            return self._one_by_one(t, g)
        # ∂C/∂w_k += g · x_k and ∂C/∂b += g · 1 for all k at once
        if store.grads is store.zeros and store.pending is None:
            store.pending = (g, self._xd)  # (from zeros: made a list only when read, or never)
        else:
            grads = store.grad
            new = [s + g * x for s, x in zip(grads, self._xd)]
            new.append(grads[-1] + g)
            store.grad = new
        store.reached = None  # every entry reached
        self._to_inputs(t, g)

    def _one_by_one(self, t, g: float) -> None:
        """Replaced weights, or a loose store's parameters some of which a pass reached first."""
        stamp, n = t.stamp, len(self._xd)
        parents = self.parents
        for p, d in zip(parents[:n] + parents[-1:], (*self._xd, 1.0)):
            if p._pass is not stamp:
                p._reach(t)
            p.grad += g * d
        self._to_inputs(t, g)

    def _to_inputs(self, t, g: float) -> None:
        """∂C/∂x_k += g · w_k: the inputs' part (zip stops before a store's bias)."""
        parents, local, stamp = self._x, self._wd, t.stamp
        inner = t.memo.get(id(parents))  # the layer's inputs all nodes of this pass (its ReLUs)?
        if inner is None:
            inner = t.memo[id(parents)] = all([p._pass is stamp for p in parents])
        if inner:  # then no leaf among them to keep aside
            for p, d in zip(parents, local):
                p.grad += g * d
            return
        for p, d in zip(parents, local):
            if p._pass is not stamp:
                p._reach(t)
            p.grad += g * d


WeightedSum.__name__ = "Value"  # what messages call it; pickle finds it by __qualname__
