"""Neurons, layers and multi-layer perceptrons with the handout's shapes and names.

Layer ``l`` (counting from 1) has weights ``w{l}`` of shape [nout × nin] and biases
``b{l}`` [nout × 1]; its pre-activations are ``z{l}[k]`` and, on hidden layers, the
ReLU outputs ``H{l}[k]``; the last layer's output is ``O``.  An index over a
dimension of size 1 is dropped, as the handout writes ``w1[k]``, ``w3[j]``, ``b3``.

>>> net = two_hidden_layers(hidden=3, seed=0)
>>> net
MLP(1 → 3 → 3 → 1, h = 3: w1 [h×1], b1 [h×1], w2 [h×h], b2 [h×1], w3 [h×1], b3 [1×1])
>>> [name for name, _ in net.named_parameters()][:4]      # micrograd's order: each neuron's w, then its b
['w1[0]', 'b1[0]', 'w1[1]', 'b1[1]']
>>> O = net(0.5); O.label, O.parents[0].label
('O', 'w3[0]')
"""
from __future__ import annotations

import math
import numbers
import random
from typing import Sequence, Union

from .checks import to_float
from .custom import BUILTIN_OPS
from .engine import Value
from .safety import ctrl_c_held
from .stores import Param, Store, layer_sum, neuron_sums

__all__ = ["Module", "Neuron", "Layer", "MLP", "two_neuron", "two_hidden_layers"]

Input = Union[Value, int, float]
_relu = BUILTIN_OPS["relu"]  # the engine's, even if Value.relu is reassigned


def _index(name: str, *idx: tuple[int, int]) -> str:
    """``name[i][j]`` keeping only the indices over dimensions larger than 1."""
    return name + "".join(f"[{i}]" for i, size in idx if size > 1)


#: How many times a net's make-up has changed: a weight or bias Value replaced, a neuron's ReLU
#: switched on or off, a neuron or a layer added, removed or replaced (never a change of ``.data``).  ``compile()`` traces again
#: when it moves, so that a compiled step always follows the net as it is now.
structure_changes = 0

_PARTS = frozenset({"w", "b", "nonlin", "neurons", "layers"})  # the attributes that make up a net
_NOTES = frozenset({"_cached_at", "_wt", "_leaves", "_store", "_stores", "_then", "_listed_at", "_listed"})  # made again


def _changed() -> None:
    global structure_changes
    structure_changes += 1


class CountingList(list):
    """A list that calls its ``_changed()`` on every change of its items (a subclass says what to count)."""

    def _changed(self) -> None:
        raise NotImplementedError


def _counting(name: str):
    change = getattr(list, name)

    def method(self, *args):
        self._changed()
        return change(self, *args)

    method.__name__ = name
    return method


for _name in ("__setitem__", "__delitem__", "__iadd__", "__imul__", "append", "extend", "insert", "pop",
              "remove", "clear", "sort", "reverse"):
    setattr(CountingList, _name, _counting(_name))


class _Parts(CountingList):
    """A list of a net's parts (a neuron's weights, a layer's neurons, a net's layers) that counts
    every change of its items in :data:`structure_changes`."""

    def _changed(self) -> None:
        _changed()

    def __reduce_ex__(self, protocol):  # pickled and copied as the plain list it is
        return (_Parts, (list(self),))


class Module:
    """Base class: ``parameters()``, ``named_parameters()``, ``zero_grad()``.

    Parameters come in micrograd's order: layer by layer, neuron by neuron, each
    neuron's weights then its bias (so weight lists copy between the two as they are).
    """

    def __setattr__(self, name: str, value) -> None:
        if name in _PARTS:  # a part of the net: its lists count their changes, and so does replacing it
            if name in self.__dict__:
                _changed()
            if isinstance(value, list):
                value = _Parts(value)
        object.__setattr__(self, name, value)

    def __getstate__(self) -> dict:
        """Pickled and copied without what a part notes for its forward passes (``_cache``): those
        notes hold when :data:`structure_changes` is as it was, a count another process restarts."""
        return {k: v for k, v in self.__dict__.items() if k not in _NOTES}

    def named_parameters(self) -> list[tuple[str, Value]]:
        return []

    def parameters(self) -> list[Value]:
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0


def _lists_its_own(module: Module, cls: type) -> bool:
    """``module.parameters()`` is ``cls``'s own list (a subclass may list others): then zero_grad
    may hand the work to its parts, down to each neuron zeroing its store as one list."""
    t = type(module)
    return t.parameters is cls.parameters and t.named_parameters is cls.named_parameters


class Neuron(Module):
    """z = w·x + b (one node), then ReLU if ``nonlin`` (micrograd's Neuron).

    Weights and bias start uniform in ±1/√nin (PyTorch's default for Linear), a
    scale at which the handout's α = 0.01 trains the 100-wide net stably.  They are Values
    whose numbers the neuron keeps as one list (a ``stores.Store``), so its forward and
    backward pass and ``SGD.step()`` take a list at a time; replaced by other Values, they
    are read one by one.
    """

    def __init__(self, nin: int, nonlin: bool = True, *, rng: random.Random | None = None) -> None:
        if isinstance(nin, bool) or not isinstance(nin, int) or nin < 1:
            raise ValueError(f"Neuron(nin): nin must be a positive int, got {nin!r}")
        weights, bias = self._initial(nin, rng if rng is not None else random)
        *self.w, self.b = Store([*weights, bias]).params
        self.nonlin = nonlin

    @staticmethod
    def _initial(nin: int, r: random.Random) -> tuple[list[float], float]:
        """The starting weights and bias, drawn from ``r`` (weights first)."""
        bound = 1.0 / math.sqrt(nin)
        return [r.uniform(-bound, bound) for _ in range(nin)], r.uniform(-bound, bound)

    def __call__(self, x: Sequence[Input]) -> Value:
        xt = tuple(_as_values(x, len(self.w)))
        return self._forward(xt, [x.data for x in xt], "", "")

    _cached_at = -1  # structure_changes when the tuple below was made

    def _forward(self, xt: tuple[Value, ...], xd: list[float], z_label: str, h_label: str) -> Value:
        if self._cached_at != structure_changes:  # a net's make-up changed (maybe this neuron's)
            self._cache()
        store = self._store
        if store is not None:  # its weights and bias one store's (stores.py)
            return neuron_sums([store], xt, xd, [z_label], [h_label if self.nonlin else None], _relu)[0]
        z = layer_sum(self._wt, xt, xd, self.b, self._leaves)  # its weights one by one (replaced ones)
        z.label = z_label
        if not self.nonlin:
            return z
        h = _relu(z)
        h.label = h_label
        return h

    def _cache(self) -> None:
        """The weights as one tuple for every forward pass, whether they and the bias are
        leaves (then backward never scans them: see stores.WeightedSum), and the store that
        holds them all in order, if one does; made again after any change of a net's make-up
        (:data:`structure_changes`), as of ``self.w`` or ``self.b``."""
        wt = tuple(self.w)
        params = (*wt, self.b)
        for k, p in enumerate(params):
            if not isinstance(p, Value):
                name = f"w[{k}]" if k < len(wt) else "b"
                raise TypeError(f"Neuron: its {name} is a {type(p).__name__}, not a Value; set a number with "
                                f"neuron.{name}.data = {p!r}, or put a Value there")
        self._wt, self._leaves = wt, not any(p.parents for p in params)
        store = self.b._store if isinstance(self.b, Param) else None
        self._store = store if store is not None and store.params == params else None
        self._cached_at = structure_changes  # (last: a make-up refused above is checked again next time)

    def zero_grad(self) -> None:
        if not _lists_its_own(self, Neuron):
            return super().zero_grad()
        if self._cached_at != structure_changes:
            self._cache()
        store = self._store
        if store is None:
            super().zero_grad()
        elif store.ready("zero_grad"):  # its weights and bias: one list of zeros
            store.put(grad=store.zeros)
        else:  # loose (stores.Store.ready), or a paused pass holds them: one by one
            for p in store.params:
                p.grad = 0.0

    def named_parameters(self) -> list[tuple[str, Value]]:
        return [*((f"w[{k}]", w) for k, w in enumerate(self.w)), ("b", self.b)]

    def __repr__(self) -> str:
        return f"{'ReLU' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer(Module):
    """``nout`` neurons reading the same inputs; ``index`` is its 1-based number in a net."""

    neuron_class = Neuron  # what a layer is made of (micrograd_ws.micrograd's layers differ in their init)

    def __init__(self, nin: int, nout: int, *, index: int = 1, output: bool = False,
                 rng: random.Random | None = None, **kwargs) -> None:
        if isinstance(nout, bool) or not isinstance(nout, int) or nout < 1:
            raise ValueError(f"Layer(nin, nout): nout must be a positive int, got {nout!r}")
        self.neurons = [self.neuron_class(nin, rng=rng, **kwargs) for _ in range(nout)]
        self.nin, self.nout, self.index, self.output = nin, nout, index, output
        self._name_parameters()

    def _name_parameters(self) -> None:
        """Label every weight and bias with its handout name, and precompute forward labels."""
        l, nin, nout = self.index, self.nin, self.nout
        for j, n in enumerate(self.neurons):
            for k, w in enumerate(n.w):
                w.label = _index(f"w{l}", (j, nout), (k, nin))
            n.b.label = _index(f"b{l}", (j, nout))
        if self.output:
            self._z = [_index("O", (j, nout)) for j in range(nout)]
        else:
            self._z = [_index(f"z{l}", (j, nout)) for j in range(nout)]
        self._h = [_index(f"H{l}", (j, nout)) for j in range(nout)]
        self._cached_at = -1  # (the labels in the cache: made again)

    def __call__(self, x: Sequence[Input]) -> list[Value] | Value:
        out = self._forward(_as_values(x, self.nin))
        return out[0] if len(out) == 1 else out

    _cached_at = -1  # structure_changes when _stores was made

    def _forward(self, xs: Sequence[Value]) -> list[Value]:
        xt = tuple(xs)
        xd = [x.data for x in xt]  # read once for all the neurons
        if self._cached_at != structure_changes:
            self._cache()
        if self._stores is None:  # some neuron's weights replaced: each neuron its own way
            return [n._forward(xt, xd, z, h) for n, z, h in zip(self.neurons, self._z, self._h)]
        return neuron_sums(self._stores, xt, xd, self._z, self._then, _relu)  # every neuron's w·x+b, in one loop (stores.py)

    def _cache(self) -> None:
        """Each neuron's store, if every neuron has one and is a plain Neuron's forward pass (else None),
        and the label of each neuron's ReLU (None: no ReLU)."""
        for n in self.neurons:
            n._cache()
        stores = [n._store for n in self.neurons]
        plain = all(type(n)._forward is Neuron._forward for n in self.neurons)
        self._stores = stores if plain and all(s is not None for s in stores) else None
        self._then = [h if n.nonlin else None for n, h in zip(self.neurons, self._h)]
        self._cached_at = structure_changes  # (last, as Neuron._cache)

    def named_parameters(self) -> list[tuple[str, Value]]:
        return [(p.label, p) for n in self.neurons for p in (*n.w, n.b)]

    def zero_grad(self) -> None:
        if not _lists_its_own(self, Layer):
            return super().zero_grad()
        for n in self.neurons:
            n.zero_grad()

    def __repr__(self) -> str:
        return f"Layer(w{self.index} [{self.nout}×{self.nin}], b{self.index} [{self.nout}×1])"


class MLP(Module):
    """Multi-layer perceptron: ReLU hidden layers, a linear output layer (micrograd's MLP).

    ``MLP(nin, nouts)``: ``nouts`` lists the layer widths, the last being the output size.
    ``seed`` makes the initialisation reproducible (``None``: Python's global ``random``).
    Calling the net with one number (or a list of ``nin`` numbers) returns ``O``
    (a list when there are several outputs).
    """

    layer_class = Layer

    def __init__(self, nin: int, nouts: Sequence[int], *, seed: int | None = None) -> None:
        if isinstance(nin, bool) or not isinstance(nin, int) or nin < 1:
            raise ValueError(f"MLP(nin, nouts): nin must be a positive int, got {nin!r}")
        if isinstance(nouts, (int, str)) or not hasattr(nouts, "__iter__"):
            raise TypeError(f"MLP(nin, nouts): nouts is a list of layer widths, e.g. MLP(1, [100, 100, 1]); "
                            f"got {type(nouts).__name__} {nouts!r}")
        nouts = list(nouts)
        if not nouts:
            raise ValueError("MLP(nin, nouts): nouts needs at least one layer width, e.g. [100, 100, 1]")
        if isinstance(seed, int) and seed < 0:  # (random.Random(-5) is random.Random(5): two seeds, one net)
            raise ValueError(f"MLP(..., seed={seed}): a seed is a whole number from 0; Python's random gives "
                             f"{seed} the same weights as {-seed}")
        rng = random.Random(seed) if seed is not None else None
        sizes = [nin, *nouts]
        last = len(nouts) - 1
        self.layers = [
            self.layer_class(sizes[i], sizes[i + 1], index=i + 1, output=i == last, nonlin=i != last, rng=rng)
            for i in range(len(nouts))
        ]
        self.nin = nin
        self._inputs = [_index("i", (k, nin)) for k in range(nin)]

    @property
    def sizes(self) -> list[int]:
        """Widths from input to output, e.g. [1, 100, 100, 1]."""
        return [self.nin, *(layer.nout for layer in self.layers)]

    def __call__(self, x: Sequence[Input] | Input) -> list[Value] | Value:
        if isinstance(x, (Value, numbers.Real)):  # one input; a list, tuple or array is several
            x = [x]
        elif getattr(x, "ndim", None) == 0:  # a 0-d array such as np.array(0.5): one number
            x = [x.item()]
        xs = _as_values(x, self.nin, self._inputs)
        for layer in self.layers:
            xs = layer._forward(xs)
        return xs[0] if len(xs) == 1 else xs

    def named_parameters(self) -> list[tuple[str, Value]]:
        return [item for layer in self.layers for item in layer.named_parameters()]

    _listed_at = -1  # structure_changes when the list below was made

    def parameters(self) -> list[Value]:
        """Every weight and bias, in micrograd's order (a new list each call, made from one kept
        until the net's make-up changes: the lecture's loop calls this twice per step)."""
        if not _lists_its_own(self, MLP):  # a subclass lists other parameters
            return super().parameters()
        if self._listed_at != structure_changes:
            self._listed = [p for layer in self.layers for n in layer.neurons for p in (*n.w, n.b)]
            self._listed_at = structure_changes
        return self._listed[:]

    def zero_grad(self) -> None:
        """Every gradient set to 0, or none: a Ctrl-C that comes meanwhile waits for the last (as SGD's)."""
        if not _lists_its_own(self, MLP):
            return super().zero_grad()
        with ctrl_c_held():
            for layer in self.layers:
                layer.zero_grad()

    def state_dict(self) -> dict[str, list]:
        """Plain floats by handout name: ``w{l}`` as [nout][nin] lists, ``b{l}`` as [nout]."""
        state: dict[str, list] = {}
        for layer in self.layers:
            state[f"w{layer.index}"] = [[w.data for w in n.w] for n in layer.neurons]
            state[f"b{layer.index}"] = [n.b.data for n in layer.neurons]
        return state

    def load_state_dict(self, state: dict[str, list]) -> None:
        """Set every weight from :meth:`state_dict`'s layout, checking names and shapes first."""
        expected = {f"{p}{layer.index}" for layer in self.layers for p in "wb"}
        if not isinstance(state, dict) or set(state) != expected:
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"state dict keys {got} do not match this net's {sorted(expected)}")
        updates = []
        for layer in self.layers:
            l, rows, bs = layer.index, state[f"w{layer.index}"], state[f"b{layer.index}"]
            if not _shape_ok(rows, layer.nout, layer.nin) or not _shape_ok([bs], 1, layer.nout):
                raise ValueError(f"w{l} must be [{layer.nout}×{layer.nin}] and b{l} [{layer.nout}] lists of numbers")
            for n, row, b in zip(layer.neurons, rows, bs):
                updates += [(w, to_float(x, w.label)) for w, x in zip(n.w, row)]
                updates.append((n.b, to_float(b, n.b.label)))
        for p, x in updates:  # all checked before any is changed
            p.data = x

    # --- the handout's names in a REPL: net.w1, net.w2[3][7], net.b3; shapes as the handout writes them ---

    def handout_shapes(self) -> list[tuple[str, str]]:
        """Each parameter's name and shape as the handout writes them: ``('w3', '[h×1]')``.

        The output layer's weights are the column the handout writes (w3 [h×1], not [1×h]); a
        width shared by every hidden layer is ``h``.
        """
        hidden = {layer.nout for layer in self.layers[:-1]}
        h = hidden.pop() if len(hidden) == 1 else None
        size = lambda n: "h" if h is not None and h > 1 and n == h else str(n)  # noqa: E731
        out = []
        for layer in self.layers:
            rows, cols = (layer.nin, 1) if layer.nout == 1 and layer.nin > 1 else (layer.nout, layer.nin)
            out += [(f"w{layer.index}", f"[{size(rows)}×{size(cols)}]"), (f"b{layer.index}", f"[{size(layer.nout)}×1]")]
        return out

    def handout(self) -> str:
        """``MLP(1 → h → h → 1, h = 100: w1 [h×1], b1 [h×1], w2 [h×h], b2 [h×1], w3 [h×1], b3 [1×1])``."""
        hidden = {layer.nout for layer in self.layers[:-1]}
        h = hidden.pop() if len(hidden) == 1 else None
        arrows = " → ".join("h" if h is not None and h > 1 and k not in (0, len(self.sizes) - 1) else str(n)
                            for k, n in enumerate(self.sizes))
        shapes = ", ".join(f"{n} {shape}" for n, shape in self.handout_shapes())
        return f"MLP({arrows}{f', h = {h}' if h is not None and h > 1 else ''}: {shapes})"

    def __getattr__(self, attr: str):
        """``net.w1``, ``net.w2[3][7]``, ``net.b3``: the handout's names reach the weights (a list per index)."""
        if attr.startswith("_") or "layers" not in self.__dict__:
            raise AttributeError(attr)
        params = [(n, p) for n, p in self.named_parameters() if n == attr or n.startswith(attr + "[")]
        if not params:
            names = ", ".join(n for n, _ in self.handout_shapes())
            raise AttributeError(f"{type(self).__name__} has no attribute {attr!r}. The handout's names reach the "
                                 f"weights: {names} (e.g. net.w2[3][7]); or dict(net.named_parameters())['w2[3][7]']")
        if len(params) == 1 and params[0][0] == attr:
            return params[0][1]
        shape = dict(self.handout_shapes()).get(attr, "")
        top = HandoutArray(attr, shape)
        for n, p in params:
            idx = [int(i) for i in n[len(attr):].strip("[]").split("][")]
            row = top
            for i in idx[:-1]:
                while len(row) <= i:
                    row.append(HandoutArray(f"{attr}[{len(row)}]", ""))
                row = row[i]
            row.append(p)
        return top

    def __repr__(self) -> str:
        """The widths, then each parameter's shape as the handout writes it (w3 [h×1], a column)."""
        hidden = {layer.nout for layer in self.layers[:-1]}
        h = f", h = {min(hidden)}" if len(hidden) == 1 and min(hidden) > 1 else ""
        shapes = ", ".join(f"{n} {shape}" for n, shape in self.handout_shapes())
        return f"MLP({' → '.join(map(str, self.sizes))}{h}: {shapes})"


class HandoutArray(list):
    """``net.w2``: the Values of one of the handout's vectors or matrices, printed with its name and shape."""

    def __init__(self, name: str, shape: str) -> None:
        super().__init__()
        self.name, self.shape = name, shape

    def __repr__(self) -> str:
        return f"{self.name} {self.shape} = {list.__repr__(self)}".replace("  ", " ")


def _shape_ok(rows: object, nrows: int, ncols: int) -> bool:
    return (isinstance(rows, list) and len(rows) == nrows
            and all(isinstance(r, list) and len(r) == ncols for r in rows))


def _as_values(x: Sequence[Input], n: int, labels: Sequence[str] | None = None) -> list[Value]:
    """Inputs as Values (numbers become labelled leaves), checking the count; one number is one input."""
    if n == 1 and isinstance(x, (Value, numbers.Real)) and not isinstance(x, bool):
        x = [x]
    if isinstance(x, (str, bytes)) or not hasattr(x, "__len__"):
        expected = "a number or a list of 1 number" if n == 1 else f"a list of {n} numbers"
        raise TypeError(f"expected {expected}, got {type(x).__name__} {x!r}")
    if len(x) != n:
        raise ValueError(f"expected {n} input{'s' if n != 1 else ''}, got {len(x)}")
    return [xi if isinstance(xi, Value) else Value(xi, labels[k] if labels else "") for k, xi in enumerate(x)]


def two_neuron(seed: int = 0) -> MLP:
    """The handout's first model, Output = w1·input + b1 (parameters ``w1``, ``b1``).

    >>> m = two_neuron(); [name for name, _ in m.named_parameters()]
    ['w1', 'b1']
    """
    return MLP(1, [1], seed=seed)


def two_hidden_layers(hidden: int = 100, seed: int = 0) -> MLP:
    """The handout's net 1 → h → h → 1 with ReLU hidden layers (h = 100 in the handout)."""
    return MLP(1, [hidden, hidden, 1], seed=seed)

