"""Train the handout's nets on 1-D data: the loop and the figure.

The ``train`` command is :mod:`micrograd_ws.commands.train`.

The handout trains on one sample per iteration (its input ``i`` is [1×1]): each
iteration takes one (x, y) pair and runs ① forward to ``O``, the cost
C = (O - O_des)², ② backward and ③ w ← w - α ∂C/∂w.  Samples are drawn in
shuffled passes over the data: every pair once per pass, in a new random order
each pass (from ``seed``).

A schedule such as the handout's ``iters=(100, 500, 1000, 5000)`` is ONE run of
5000 iterations in which the fit is recorded after 100, 500, 1000 and 5000 of
them, so the pictures show one net learning; the record after 100 iterations is
exactly what a fresh run of 100 iterations (same seed) gives.

>>> from micrograd_ws import two_neuron
>>> from micrograd_ws.data import make_dataset
>>> model = two_neuron(seed=0)
>>> history = train(model, make_dataset("line"), iters=[100, 5000])   # y = 1.5x - 0.5
>>> [s.iteration for s in history.snapshots]                         # 0: before training
[0, 100, 5000]
>>> round(model.state_dict()["w1"][0][0], 6), round(model.state_dict()["b1"][0], 6)
(1.5, -0.5)

Divergence (a cost that overflows or explodes) stops training with
:class:`TrainingDiverged`, naming the iteration and a smaller learning rate.
"""
from __future__ import annotations

import bisect
import importlib.util
import math
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from .compiled import compile as compile_loss
from .data import DataError, Dataset
from .engine import squared_error
from .mode import no_grad
from .handout import ALPHA, TRAINING_ITERS
from .nn import MLP
from .optim import SGD

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Snapshot", "Moment", "History", "TrainingDiverged", "train", "fit", "replay_iterations", "replay_room",
           "thin_iterations", "MAX_REPLAY_NUMBERS", "summary", "plot",
           "schedule", "require", "MAX_SAMPLES"]

_GROWTH_LIMIT = 1e6  # a cost this many times the data's scale means the steps are blowing up
_GRID = 200  # points at which the fit is drawn
#: The most samples ``train`` takes: each snapshot runs the net on every sample, and the h = 100
#: net's forward pass takes about 2 ms, so 100,000 samples cost over 3 minutes per snapshot.
MAX_SAMPLES = 100_000

#: The longest run ``train`` (the command) takes: every iteration's cost is kept for the figure,
#: about 32 bytes each, and the h = 100 net takes about 1 ms an iteration (a million: 17 minutes).
MAX_ITERS = 1_000_000


@dataclass
class Snapshot:
    """The net after ``iteration`` iterations: its fit on the data and on the plotting grid."""

    iteration: int
    loss: float  #: mean C over the whole data set
    max_error: float  #: max |O - O_des| over the data set
    curve: list[float]  #: the net's output O at each point of ``History.grid``
    state: dict  #: ``model.state_dict()`` at that moment
    seconds: float  #: wall-clock time since training started


@dataclass
class Moment:
    """The weights after ``iteration`` iterations and the gradients of that iteration's C (for replay)."""

    iteration: int
    state: dict  #: ``model.state_dict()`` after the iteration's step
    grads: dict | None  #: ∂C/∂w of the iteration's sample, in ``state``'s layout (None before training)


@dataclass
class History:
    """What :func:`train` records: the cost of every iteration and the schedule's snapshots."""

    grid: list[float]  #: the inputs at which each snapshot's ``curve`` is evaluated
    losses: list[float] = field(default_factory=list)  #: C of iteration n at index n - 1
    snapshots: list[Snapshot] = field(default_factory=list)  #: before training, then one per count
    moments: list[Moment] = field(default_factory=list)  #: the iterations ``train(record=...)`` kept
    data: Dataset | None = None  #: what was fitted
    lr: float = ALPHA
    seed: int = 0


class TrainingDiverged(ArithmeticError):
    """Training blew up at ``iteration``; ``suggested_lr`` is a learning rate to try instead."""

    def __init__(self, iteration: int, lr: float, reason: str, data: Dataset) -> None:
        self.iteration, self.lr, self.reason = iteration, lr, reason
        self.suggested_lr = lr / 10 if lr <= 10 * ALPHA else ALPHA
        scale = max(max(map(abs, data.xs)), max(map(abs, data.ys)))
        self.hint = (f" The data reach {scale:.3g}: values far outside [-1, 1] need a much smaller learning "
                     "rate, or rescale x and y." if scale > 10 else "")
        super().__init__(self.describe("lr="))

    def describe(self, lr_flag: str) -> str:
        """The message, spelling the learning rate as ``lr_flag`` (``lr=`` or ``--lr ``)."""
        return (f"training diverged at iteration {self.iteration}: {self.reason}. The learning rate "
                f"{lr_flag}{self.lr:g} is too large for this net and data: try {lr_flag}{self.suggested_lr:g}."
                + self.hint)


def train(model: MLP, data: Dataset, iters: Iterable[int] = TRAINING_ITERS, lr: float = ALPHA,
          seed: int = 0, progress: bool = False, record: Iterable[int] = (), compiled: bool = True) -> History:
    """Train ``model`` in place with SGD, one sample per iteration, recording the fit after each count.

    ``compiled`` (the default) runs the steps with :func:`micrograd_ws.compile`'s fused SGD
    step, several times faster; ``compiled=False`` runs the eager loop (graph, ``backward()``,
    ``SGD.step()``).  The two give the same losses, snapshots, moments and weights, to the bit,
    and the same errors.

    ``progress`` shows a tqdm bar with the running cost (needs tqdm).  Raises
    :class:`TrainingDiverged`, naming the iteration, as soon as the cost or a gradient
    overflows or the cost explodes (a million times the data's scale).  ``record`` lists
    iterations (0: before training) whose weights and gradients are kept in
    ``history.moments``, for the explorer's replay (:func:`replay_iterations` chooses them).
    """
    counts = schedule(iters)
    history, bar = None, None
    try:
        for history in training(model, data, counts, lr, seed, record, compiled):
            if bar is None and progress:  # (after the first snapshot: a failure there is the data's, said alone)
                bar = _progress_bar(counts[-1])
            if bar is not None:
                bar.update(len(history.losses) - bar.n)
                it = len(history.losses)
                if history.losses and (it % 100 == 0 or it == bar.total):
                    bar.set_postfix_str(_recent_cost(history.losses), refresh=False)
    finally:
        if bar is not None:
            bar.update(len(history.losses) - bar.n)  # the iterations done, also when one failed
            if history.losses and bar.n < bar.total:  # stopped: the cost of the iterations it ran, not of the last hundred
                bar.set_postfix_str(_recent_cost(history.losses), refresh=False)
            bar.close()
    return history


def training(model: MLP, data: Dataset, iters: Iterable[int] = TRAINING_ITERS, lr: float = ALPHA,
             seed: int = 0, record: Iterable[int] = (), compiled: bool = True) -> Iterator[History]:
    """:func:`train`, a piece at a time: yields the same :class:`History` after the snapshot before
    training and after each piece of at most 100 iterations, so that a caller can draw, pause
    (stop asking) and go on (ask again).  Run to the end, it is :func:`train`, to the bit.

    >>> from micrograd_ws import two_neuron
    >>> from micrograd_ws.data import make_dataset
    >>> pieces = [len(h.losses) for h in training(two_neuron(seed=0), make_dataset("line"), iters=[150])]
    >>> pieces
    [0, 100, 149, 150]
    """
    counts = schedule(iters)
    if not isinstance(model, MLP) or model.sizes[0] != 1 or model.sizes[-1] != 1:
        raise ValueError(f"train fits 1-D data: the model must be an MLP with one input and one output, "
                         f"such as two_hidden_layers(), got {model!r}")
    if not isinstance(data, Dataset):
        raise TypeError("train(model, data): data must be a Dataset (make_dataset, read_csv or "
                        f"Dataset(xs, ys, name)), got {type(data).__name__}")
    for pname, p in model.named_parameters():  # a weight set by hand to nan or a string: said, not blamed on the data
        if isinstance(p.data, bool) or not isinstance(p.data, (int, float)) or not math.isfinite(p.data):
            raise ValueError(f"{pname} = {p.data!r}: every parameter must be a finite number before training; "
                             "build the net again, or set it to a number")
    opt = SGD(model.parameters(), lr)
    lo, hi = data.x_range
    # lo·(1 - t) + hi·t, not lo + (hi - lo)·t: hi - lo overflows for data near ±1e308
    history = History([lo * (1 - k / (_GRID - 1)) + hi * (k / (_GRID - 1)) for k in range(_GRID)],
                      data=data, lr=lr, seed=seed)
    keep = set(record)
    rng = random.Random(seed)
    start = time.perf_counter()
    predict = _compiled_forward(model) if compiled else None
    try:  # before any step: an overflow here is the data's size, not the learning rate
        history.snapshots.append(_snapshot(model, data, history, 0, start, predict))
        if not math.isfinite(history.snapshots[0].loss):
            raise OverflowError("the cost C = (O - O_des)² is inf")
    except (OverflowError, ValueError) as e:
        raise _too_large(data, e) from None
    if 0 in keep:
        history.moments.append(Moment(0, model.state_dict(), None))
    limit = _GROWTH_LIMIT * max(1.0, history.snapshots[0].loss, max(y * y for y in data.ys))
    yield history
    order: list[int] = []

    def sample() -> int:
        nonlocal order
        if not order:  # a new pass over the data, in a new order
            order = list(range(len(data)))
            rng.shuffle(order)
        return order.pop()

    fused = _fused_step(model, opt, limit) if compiled else None
    it = 0  # the iteration under way
    while it < counts[-1]:
        if fused is not None and it + 1 not in keep and it + 1 < counts[-1]:
            # fused steps up to the next count or hundred, stopping before a recorded iteration and
            # the last one (those leave their gradients in .grad, as eager does)
            stop = min([c for c in counts if c > it] + [k - 1 for k in keep if k - 1 > it]
                       + [(it // 100 + 1) * 100, counts[-1] - 1])
            first, done = it + 1, []
            try:
                fused.run([(data.xs[k], data.ys[k]) for k in [sample() for _ in range(first, stop + 1)]], done)
            except OverflowError as e:
                history.losses += done
                raise _diverged(e, first + len(done), fused.stage == "step", opt, data) from None
            if done and done[-1] > limit:  # that step was not taken
                history.losses += done[:-1]
                raise TrainingDiverged(first + len(done) - 1, opt.lr,
                                       f"the cost C = {done[-1]:.3g} is exploding", data)
            history.losses += done
            it = stop
        else:
            it += 1
            _eager_iteration(model, fused, opt, data, sample(), it, limit, history)
        if it in counts:
            history.snapshots.append(_snapshot(model, data, history, it, start, predict))
        if it in keep:  # the step's gradients are still in .grad
            history.moments.append(Moment(it, model.state_dict(), _grads(model)))
        if fused is not None or it % 100 == 0 or it == counts[-1]:
            yield history


def _fused_step(model: MLP, opt: SGD, limit: float):
    """The compiled SGD step of C = (O - O_des)² for ``model`` (a step whose C exceeds ``limit`` is not taken)."""
    return compile_loss(lambda x, y: squared_error(model(x), y), optimizer=opt, max_loss=limit)


def _compiled_forward(model: MLP) -> Callable[[float], float]:
    """O at x by the compiled forward pass (what a snapshot runs on every sample and grid point)."""
    forward = compile_loss(lambda x: model(x))
    return lambda x: forward(x).data


def _eager_iteration(model: MLP, fused, opt: SGD, data: Dataset, k: int, it: int, limit: float,
                     history: History) -> None:
    """One iteration on sample k, its gradients left in .grad: the compiled loss (unfused) or eager's graph."""
    x, y = data.xs[k], data.ys[k]
    stepping = False
    try:
        C = fused.compiled(x, y) if fused is not None else squared_error(model(x), y)
        if C.data > limit:
            raise TrainingDiverged(it, opt.lr, f"the cost C = {C.data:.3g} is exploding", data)
        opt.zero_grad()
        C.backward()
        stepping = True
        opt.step()
    except OverflowError as e:
        raise _diverged(e, it, stepping, opt, data) from None
    history.losses.append(C.data)


def _diverged(e: OverflowError, it: int, stepping: bool, opt: SGD, data: Dataset) -> ArithmeticError:
    """An overflow at iteration ``it``: the data's size before any step was taken, else divergence."""
    if it == 1 and not stepping:  # no step taken yet: the learning rate played no part
        return _too_large(data, e)
    why = str(e).split(":")[0]  # the engine names the op and its operands first
    return TrainingDiverged(it, opt.lr, f"a number overflowed a float ({why})", data)


def _too_large(data: Dataset, e: Exception) -> DataError:
    """The data overflow the net before any training step: say so, and how to rescale them."""
    why = str(e).split(":")[0]
    scale = max(max(map(abs, data.xs)), max(map(abs, data.ys)))
    return DataError(f"the data are too large for this net: before any training step a number overflows a float "
                     f"({why}; the largest |x| or |y| is {scale:.3g}). Rescale x and y to about [-1, 1], e.g. divide "
                     f"them by {scale:.3g}")


def schedule(iters: Iterable[int]) -> list[int]:
    """A schedule's iteration counts, sorted, each once; ValueError unless they are positive ints.

    >>> schedule([500, 100, 500])
    [100, 500]
    """
    try:
        counts = sorted(set(iters))
    except TypeError:
        counts = []
    if not counts or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in counts):
        raise ValueError(f"iters must be positive iteration counts such as {list(TRAINING_ITERS)}, got {iters!r}")
    return counts


def _snapshot(model: MLP, data: Dataset, history: History, iteration: int, start: float,
              predict: Callable[[float], float] | None = None) -> Snapshot:
    return Snapshot(iteration, *fit(model, data, history.grid, predict), model.state_dict(),
                    time.perf_counter() - start)


def fit(model: MLP, data: Dataset, grid: list[float],
        predict: Callable[[float], float] | None = None) -> tuple[float, float, list[float]]:
    """Mean C over the data, max |O - O_des| and the output at each grid point, as a snapshot records them.

    ``predict(x)`` gives O at x (default: the model's forward pass without a graph; train passes
    the compiled forward, the same numbers).
    """
    if predict is None:
        with no_grad():
            return fit(model, data, grid, lambda x: model(x).data)
    errors = [predict(x) - y for x, y in zip(data.xs, data.ys)]
    curve = [predict(x) for x in grid]
    return math.fsum(e * e for e in errors) / len(errors), max(map(abs, errors)), curve


def _grads(model: MLP) -> dict:
    return {f"{p}{layer.index}": [[w.grad for w in n.w] for n in layer.neurons] if p == "w" else
            [n.b.grad for n in layer.neurons] for layer in model.layers for p in "wb"}


#: a replay holds at most this many parameter numbers: moments × parameters (each moment's weights and
#: gradients, 2 numbers a parameter); the h = 100 net (10,401 parameters) keeps 48 moments
MAX_REPLAY_NUMBERS = 1_000_000


def replay_room(parameters: int) -> int:
    """How many moments a replay of a net of ``parameters`` keeps (:data:`MAX_REPLAY_NUMBERS`; at least 2)."""
    return max(2, MAX_REPLAY_NUMBERS // max(1, 2 * parameters))


def replay_iterations(counts: Iterable[int], per_decade: int = 4, parameters: int = 0) -> list[int]:
    """The iterations a replay keeps: 0, about ``per_decade`` log-spaced ones per decade, and every count;
    for a net of ``parameters``, at most :func:`replay_room` of them (:func:`thin_iterations`).

    >>> replay_iterations([100, 500, 1000, 5000])
    [0, 1, 2, 3, 6, 10, 18, 32, 56, 100, 178, 316, 500, 562, 1000, 1778, 3162, 5000]
    >>> replay_iterations(range(1, 301), parameters=100_000)        # room for 5 moments
    [0, 4, 23, 129, 300]
    """
    counts = schedule(counts)
    last = counts[-1]
    logs = {round(10 ** (k / per_decade)) for k in range(int(math.log10(last) * per_decade) + 1)}
    every = sorted({0, *counts, *(n for n in logs if n <= last)})
    return thin_iterations(every, counts, replay_room(parameters)) if parameters else every


def thin_iterations(iterations: Iterable[int], counts: Iterable[int], room: int) -> list[int]:
    """At most ``room`` (≥ 2) of ``iterations``: the first and the last, then as many of the schedule's
    ``counts`` as fit, then the others, each group thinned evenly on a log scale.

    >>> thin_iterations([0, 1, 2, 3, 6, 10, 18, 32, 56, 100], [10, 100], 4)
    [0, 6, 10, 100]
    """
    every = sorted(set(iterations))
    if len(every) <= room:
        return every
    keep = {every[0], every[-1]}
    for group in ([n for n in every if n in set(counts)], every):
        left = [n for n in group if n not in keep]
        take = room - len(keep)
        if take <= 0:
            break
        if len(left) <= take:
            keep.update(left)
            continue
        # evenly on log(1 + n): the early iterations, where the net changes most, as densely as the late
        logs = [math.log1p(n) for n in left]
        for j in range(take):  # the nearest to each of ``take`` evenly spaced points (bisect: no scan)
            target = logs[0] + (logs[-1] - logs[0]) * (j + 0.5) / take
            i = bisect.bisect_left(logs, target)
            keep.add(left[i if i == 0 or (i < len(left) and logs[i] - target < target - logs[i - 1]) else i - 1])
    return sorted(keep)[:room] if len(keep) > room else sorted(keep)


def summary(history: History) -> str:
    """The snapshots as a table: iterations, mean C over the data, max |O - O_des|, seconds."""
    rows = [f"{'iterations':>10}  {'mean C':>11}  {'max |O - O_des|':>15}  {'seconds':>7}"]
    rows += [f"{s.iteration:>10}  {s.loss:>11.4g}  {s.max_error:>15.4g}  {s.seconds:>7.1f}"
             for s in history.snapshots]
    return "\n".join(rows)


# --- the figure -------------------------------------------------------------------------

def plot(history: History, data: Dataset, title: str = "") -> Figure:
    """Left: the target, the data and the fit after each count; right: the cost per iteration.

    Returns a matplotlib ``Figure`` (shown inline in Jupyter; ``fig.savefig(path)`` to save).
    """
    require("matplotlib")
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 5.2), layout="constrained")
    ax_fit, ax_cost = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.15, 1]})
    before, *after = history.snapshots
    # light to dark in schedule order, the final fit darkest
    colors = [colormaps["viridis"](0.85 * (len(after) - 1 - n) / max(1, len(after) - 1)) for n in range(len(after))]

    if data.target is not None:
        ax_fit.plot(history.grid, [data.target.fn(x) for x in history.grid], color="0.75", lw=7, alpha=0.6,
                    solid_capstyle="round", label=f"target {data.target.formula}", zorder=1)
    ax_fit.plot(data.xs, data.ys, "o", ms=4.5, color="0.45", mfc="white", label=f"data ({len(data)} samples)",
                zorder=5)
    ax_fit.plot(history.grid, before.curve, ":", color="0.6", lw=1.3,
                label=f"before training (mean C {before.loss:.3g})")
    for s, color in zip(after, colors):
        ax_fit.plot(history.grid, s.curve, color=color, lw=2.6 if s is after[-1] else 1.8,
                    label=f"after {s.iteration} iterations (mean C {s.loss:.3g})")
    ax_fit.set(xlabel="input i", ylabel="output O", title="The fit after each count of the schedule")
    ax_fit.legend(fontsize=8.5, loc="best", framealpha=0.9)
    ax_fit.grid(alpha=0.3)

    its = range(1, len(history.losses) + 1)
    window = max(1, min(100, len(history.losses) // 20))
    smooth = _running_mean(history.losses, window, before.loss)
    ax_cost.plot(its, history.losses, ".", ms=2, color="0.6", alpha=0.35, rasterized=True)
    ax_cost.plot([], [], ".", color="0.6", label="C of each iteration's sample")  # a legend-sized marker
    ax_cost.plot(its, smooth, color="C0", lw=1.5, label=f"running mean of {window} iterations "
                                                       "(from the mean C before training)")
    for s, color in zip(after, colors):
        ax_cost.plot(s.iteration, s.loss, "o", ms=9, color=color, mec="black", zorder=5)
        ax_cost.axvline(s.iteration, color=color, lw=1, ls="--", alpha=0.7)
    ax_cost.plot([], [], "o", color="0.5", mec="black", label="mean C over all the data, after each count")
    ax_cost.set_xscale("log")
    positive = [c for c in smooth + [s.loss for s in after] if c > 0]
    if positive:  # log scale, cut below the smoothed cost: single samples fitted exactly would squash the rest
        ax_cost.set_yscale("log")
        ax_cost.set_ylim(bottom=min(positive) / 30)
    ax_cost.set(xlabel="iteration", ylabel="cost C = (O - O_des)²", title="The cost while training")
    ax_cost.legend(fontsize=8.5, loc="best", framealpha=0.9)
    ax_cost.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def _recent_cost(losses: list[float]) -> str:
    """The progress bar's note: the mean cost of the last (up to) 100 iterations, saying over how many.

    >>> _recent_cost([0.5]), _recent_cost([0.5, 0.25])
    ('C = 0.5 at its one iteration', 'C≈0.375 over the last 2')
    """
    recent = losses[-100:]
    if len(recent) == 1:
        return f"C = {recent[0]:.4g} at its one iteration"
    return f"C≈{sum(recent) / len(recent):.4g} over the last {len(recent)}"


def _running_mean(xs: list[float], window: int, start: float) -> list[float]:
    """The mean of the last ``window`` costs; before ``window`` iterations have run, the missing ones
    count as ``start`` (the mean C over all the data before training), so the curve starts where
    the data are instead of at the first sample's cost.

    >>> _running_mean([0.0, 0.0, 0.0, 0.0], 2, 1.0)
    [0.5, 0.0, 0.0, 0.0]
    """
    # fsum per window, not a running total: costs span many decades and subtracting would cancel
    return [math.fsum([*xs[max(0, n - window + 1):n + 1], *[start] * (window - 1 - n)]) / window
            for n in range(len(xs))]


def _progress_bar(total: int):
    """tqdm's bar in a terminal, its widget in Jupyter (with ipywidgets), else one line at the end
    (an exported notebook, a log, a pipe: no screenful of bar redraws)."""
    if "ipykernel.zmqshell" in sys.modules and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm
    elif sys.stderr is not None and sys.stderr.isatty():
        require("tqdm")
        from tqdm import tqdm
    else:
        return _OneLine(total)
    return tqdm(total=total, desc="training", unit="it", mininterval=0.2, file=sys.stderr)


class _OneLine:
    """The progress bar's interface, printing one line when done: how many, how long, the cost."""

    def __init__(self, total: int) -> None:
        self.total, self.n, self.postfix, self.start = total, 0, "", time.perf_counter()

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix_str(self, text: str, refresh: bool = False) -> None:
        self.postfix = text

    def close(self) -> None:
        done = "" if self.n == self.total else f" of {self.total} (stopped)"
        print(f"training: {self.n} iteration{'' if self.n == 1 else 's'}{done} in {time.perf_counter() - self.start:.1f} s"
              + (f", {self.postfix}" if self.postfix else ""), flush=True)  # a summary: stdout


def require(*modules: str) -> None:
    """A clear error naming what to install, before any work is done."""
    missing = []
    for m in modules:
        try:
            __import__(m)
        except ImportError:
            missing.append(m)
    if missing:
        venv = Path(__file__).resolve().parents[1] / ".venv"  # (make demo's, beside the package of a clone)
        there = (f"; or run it in the project's venv, which has them: source {venv}/bin/activate"
                 if venv.is_dir() and Path(sys.prefix).resolve() != venv.resolve() else "")
        raise ImportError(f"training with figures and a progress bar needs {' and '.join(missing)}: "
                          f"pip install 'micrograd_ws[train]' (or pip install {' '.join(missing)}){there}")
