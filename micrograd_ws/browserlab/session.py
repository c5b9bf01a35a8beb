"""The lab's Python side: what the page's buttons ask of micrograd_ws, running in the page (Pyodide).

The page's script (``lab.js``) calls :meth:`Session.call` with a method's name and its
arguments as JSON and shows the JSON it gets back: texts, numbers and whole explorer pages,
all computed here by the engine itself.  The same class runs natively, which is how the
tests check it without a browser.

>>> s = Session()
>>> out = s.run("from micrograd_ws import *\\nnet = two_neuron(seed=0)\\nC = squared_error(net(2.0), 1.0)\\nC.data")
>>> out["error"], out["result"] is not None
(None, True)
>>> print(s.run("x = 1\\nValue(float('nan'))")["error"])
ValueError: Value(): got nan; micrograd_ws keeps every number finite. Check the data for missing or infinite entries. (line 2 of your code)
"""
from __future__ import annotations

import ast
import contextlib
import importlib.metadata
import io
import json
import math
import re
import sys
import time
import traceback
from operator import mul

from ..compiled import compile as compile_fn
from ..data import Dataset, make_dataset, parse_csv
from ..engine import Value, squared_error, topological_order
from ..explorer import explore
from ..floats import add_up
from ..handout import ALPHA, TRAINING_ITERS
from ..mode import no_grad
from ..nn import MLP
from ..serialize import model_text
from ..train import TrainingDiverged, schedule, training

__all__ = ["Session", "STARTER", "STARTER_H100", "MAX_POINTS", "LabError"]

#: the code cell when the lab starts: the handout's two-neuron model, O = w1·i + b1
STARTER = """\
# The handout's two-neuron model, O = w1·i + b1.
# Change anything, then Run (Ctrl+Enter).
from micrograd_ws import *

net = two_neuron(seed=0)
i, O_des = 0.5, 1.0           # the input and the desired output
O = net(i)                    # ① forward
C = squared_error(O, O_des)   # C = (O − O_des)²
C.backward()                  # ② backward: every ∂C/∂w
print("C =", C.data)
# ∂C/∂w1 and ∂C/∂b1 are in net.w1.grad and net.b1.grad: work them out (or predict them
# in the explorer) first, then print(net.w1.grad, net.b1.grad) shows them.
"""

#: the handout's net, one click away
STARTER_H100 = """\
# The handout's net: 1 → h → h → 1, h = 100 ReLU neurons a layer.
# Change anything, then Run (Ctrl+Enter).
from micrograd_ws import *

net = two_hidden_layers(hidden=100, seed=0)
i, O_des = 0.5, 1.0           # the input and the desired output
O = net(i)                    # ① forward: z1, H1, z2, H2, O
C = squared_error(O, O_des)   # C = (O − O_des)²
C.backward()                  # ② backward: all 10,401 ∂C/∂w
print("C =", C.data)
"""

#: the lab trains on at most this many points (each snapshot runs the net on every one of them)
MAX_POINTS = 1_000
_CELL = "<your code>"


class LabError(ValueError):
    """What the learner asked cannot be done as asked; the message says what to do instead."""


class Session:
    """The learner's variables (as in a notebook: kept from one run to the next) and a training run."""

    def __init__(self) -> None:
        self.ns: dict = {"__name__": "__lab__"}
        exec("from micrograd_ws import *", self.ns)  # noqa: S102 (the learner's own session)
        self.points: Dataset | None = None  # the learner's points; None: the built-in target sin(πx)
        self._steps = None  # the training under way (a generator of pieces), or None
        self.history = None  # the last training's History
        self._net: MLP | None = None  # the net being trained
        self._forward = None  # its compiled forward pass (the live fit)
        self._total = 0  # the iterations the training runs to
        self._before: dict | None = None  # the net's weights when the run under way started
        self._shown = None  # the C the explorer shows now (None: another page, e.g. a held moment)

    # --- the page's one entry point -------------------------------------------------------
    def call(self, method: str, args_json: str = "[]") -> str:
        """Run ``method(*args)``; its result as JSON, or ``{"error": message}`` for what it refused."""
        try:
            out = getattr(self, "do_" + method)(*json.loads(args_json))
        except (ValueError, TypeError, ArithmeticError) as e:  # (LabError, DataError, TrainingDiverged among them)
            out = {"error": str(e)}
        return json.dumps(out, allow_nan=False)

    # --- the code cell ------------------------------------------------------------------------
    def run(self, code: str) -> dict:
        """Run ``code`` in the learner's variables: ``{stdout, result, error}``, ``result`` being the
        last expression's value as ``repr`` (None when there is none, or it is None)."""
        out = io.StringIO()
        result = error = None
        try:
            tree = ast.parse(code, _CELL, "exec")
        except SyntaxError as e:
            return {"stdout": "", "result": None, "error": f"SyntaxError: {e.msg} (line {e.lineno} of your code)"}
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                exec(compile(tree, _CELL, "exec"), self.ns)  # noqa: S102
                if last is not None:
                    value = eval(compile(ast.Expression(last.value), _CELL, "eval"), self.ns)  # noqa: S307
                    result = None if value is None else repr(value)
            except BaseException as e:  # the engine's message, and the line of the learner's code it came from
                error = said(e)  # (SystemExit too: the page's Python goes on)
        return {"stdout": out.getvalue(), "result": result, "error": error}

    def do_run(self, code: str) -> dict:
        return self.run(code)

    def do_hello(self) -> dict:
        try:
            version = importlib.metadata.version("micrograd_ws")
        except importlib.metadata.PackageNotFoundError:
            version = "(not installed)"
        return {"text": f"micrograd_ws {version} on Python {sys.version.split()[0]}, in this page"}

    def do_starter(self, which: str = "two-neuron") -> dict:
        return {"code": STARTER_H100 if which == "h100" else STARTER}

    # --- the explorer of the learner's cost ------------------------------------------------------
    def do_view(self, heading: str = "") -> dict:
        """The explorer page of the cost ``C`` in the learner's variables, as the engine computed it.

        The C the explorer shows already is not drawn again (``{"same": True, "text": ...}``: nothing
        to compute); a C computed before its weights changed is never drawn (its nodes' numbers would
        not match its weights): the message says to compute C again."""
        C = self.ns.get("C")
        if not isinstance(C, Value):
            raise LabError("there is no cost C to explore: name it C, e.g. C = squared_error(net(i), O_des)"
                           if C is None else f"C is a {type(C).__name__}, not a Value: C = squared_error(net(i), O_des)")
        if isinstance(C.data, bool) or not isinstance(C.data, (int, float)) or not math.isfinite(C.data):
            raise LabError(f"C.data is {C.data!r}, not a finite number: compute C again")
        if C is self._shown:
            if stale(C):
                return {"same": True, "stale": True, "text": STALE + "; the explorer still shows C as it was computed."}
            return {"same": True, "text": "The explorer still shows your C: this code did not compute C again."}
        if stale(C):
            raise LabError(STALE + "; the explorer is left as it was.")
        net = self.ns.get("net")
        first = net.parameters()[0] if isinstance(net, MLP) else None
        theirs = first is not None and any(v is first for v in topological_order(C))
        title = f"{heading or 'Your code'}: C = {C.data:.6g}" + (f", {net.handout()}" if theirs else "")
        start = time.perf_counter()
        page = explore(C, title=title, leave_grads=True)  # (a learner's .grad as they left it)
        self._shown = C
        return {"html": page.html, "seconds": round(time.perf_counter() - start, 2), "nodes": len(page.names)}

    # --- the model --------------------------------------------------------------------------------
    def model(self) -> MLP:
        """The current model: ``net``, else the one MLP among the learner's variables."""
        net = self.ns.get("net")
        if isinstance(net, MLP):
            return net
        if net is not None:  # the name the page uses, given to something else: said what it is
            raise LabError(not_a_model(net))
        nets = [v for k, v in self.ns.items() if isinstance(v, MLP) and not k.startswith("_")]
        if len(nets) == 1:
            return nets[0]
        raise LabError("there is no model to use: name it net, e.g. net = two_hidden_layers(hidden=100, seed=0)"
                       if not nets else f"there are {len(nets)} models: name the one to use net")

    def do_export(self) -> dict:
        """The model as the project's JSON model file (``micrograd_ws.load`` reads it)."""
        net = self.model()
        return {"text": model_text(net), "name": f"mlp-{'-'.join(map(str, net.sizes))}.json"}

    # --- the learner's data -------------------------------------------------------------------------
    def data(self) -> Dataset:
        return self.points or make_dataset("sin")

    def _points_reply(self) -> dict:
        d = self.data()
        what = (f"{len(d):,} point{'s' if len(d) != 1 else ''} of yours" if self.points else f"the built-in target {d.target.formula}, "
                f"{len(d)} samples (click the plot to put your own points)")
        grid, curve = self._current_fit(d)
        return {"xs": list(d.xs), "ys": list(d.ys), "text": f"Training data: {what}.", "grid": grid, "curve": curve,
                "axes": fit_axes(d.xs, d.ys, curve or ())}

    def _current_fit(self, d: Dataset) -> tuple:
        """The model's O on the plot's x range now (before training), or ``(None, None)`` without a 1 → 1 model."""
        try:
            net = self.model()
        except LabError:
            return None, None
        if net.sizes[0] != 1 or net.sizes[-1] != 1:
            return None, None
        (lo, hi), n = fit_axes(d.xs, d.ys)["x"], 60
        grid = [lo + (hi - lo) * k / (n - 1) for k in range(n)]
        try:
            with no_grad():
                return grid, [net(x).data for x in grid]
        except (ArithmeticError, ValueError, TypeError):
            return None, None

    def do_points(self) -> dict:
        return self._points_reply()

    def do_paste(self, text: str) -> dict:
        """Points pasted as lines ``x,y`` (or a CSV with columns x and y)."""
        if not isinstance(text, str) or not text.strip():
            raise LabError("no points: paste lines of the form x,y such as 0.5,0.25 (one point a line)")
        if text.count("\n") > 10 * MAX_POINTS:  # refuse before reading it all
            raise LabError(f"about {text.count(chr(10)) + 1:,} lines: the lab trains on at most {MAX_POINTS:,} points; "
                           "use a sample of them, or train natively: micrograd-ws train --data FILE.csv")
        d = parse_csv(text, "your points", "the pasted points")
        self._set_points(list(d.xs), list(d.ys))
        return self._points_reply()

    def do_add_point(self, x: object, y: object) -> dict:
        xs, ys = (list(self.points.xs), list(self.points.ys)) if self.points else ([], [])
        for what, v in (("x", x), ("y", y)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise LabError(f"the point's {what} is {v!r}, not a finite number")
        self._set_points(xs + [float(x)], ys + [float(y)])
        return self._points_reply()

    def do_clear_points(self) -> dict:
        self.points = None
        return self._points_reply()

    def _set_points(self, xs: list, ys: list) -> None:
        if len(xs) > MAX_POINTS:
            raise LabError(f"{len(xs):,} points: the lab trains on at most {MAX_POINTS:,} (each snapshot runs the net "
                           "on every one); use a sample of them, or train natively: micrograd-ws train --data FILE.csv")
        axes = fit_axes(xs, ys) if xs else None  # the plot's ranges (a margin added): their widths must be floats
        for what, vs in (("x", xs), ("y", ys)):
            if axes and not all(math.isfinite(v) for v in (*axes[what], axes[what][1] - axes[what][0],
                                                              *(t for t, _ in axes[what + "ticks"]))):
                raise LabError(f"the points' {what} go from {min(vs):.3g} to {max(vs):.3g}: too wide a range to plot "
                               "(its width overflows a float); rescale them, e.g. divide them by 1e6")
        self.points = Dataset(tuple(xs), tuple(ys), "your points")

    # --- training, a piece at a time -------------------------------------------------------------------
    def do_train_start(self, iters: object = list(TRAINING_ITERS), lr: object = ALPHA) -> dict:
        """Start training the model with SGD (compiled), on the points, for the schedule ``iters``."""
        counts = schedule(_counts(iters))
        lr = _learning_rate(lr)
        net = self.model()
        if net.sizes[0] != 1 or net.sizes[-1] != 1:
            raise LabError(f"the lab trains nets with one input and one output on (x, y) points; net is {net.handout()}")
        data = self.data()
        again = net is self._net and self.history is not None
        self._net, self._total = net, counts[-1]
        self._forward = compile_fn(lambda x: net(x))
        # the moments the page can step through afterwards: before training and each count of the schedule
        self._before = net.state_dict()  # put back if this run diverges
        self._steps = training(net, data, counts, lr, seed=0, record=[0, *counts])
        self.history = next(self._steps)
        out = self._progress(done=False)
        if again:
            out["note"] = ("Training net further, from the weights the last run left (run your code again for a fresh "
                           "net)…")
        return out

    def do_train_more(self, seconds: float = 0.2) -> dict:
        """Train for about ``seconds`` more (at least one piece); what to draw."""
        if self._steps is None:
            raise LabError("no training under way: press Train")
        end = time.perf_counter() + float(seconds)
        done = False
        try:
            while True:
                self.history = next(self._steps)
                if time.perf_counter() >= end:
                    break
        except StopIteration:
            done = True
            self._steps = None
        except TrainingDiverged as e:  # the weights it left are blown up: net gets back those it had
            self._steps = None
            self._net.load_state_dict(self._before)
            back = "The weights of net are back as they were before this run."
            return {"error": f"{e.describe('α = ')} {back}",
                    "text": f"Training stopped at iteration {e.iteration} of {self._total}: it diverged (α = {e.lr:g}). {back}"}
        return self._progress(done)

    def do_train_stop(self) -> dict:
        if self.history is None:
            raise LabError("no training to stop: press Train")
        self._steps = None
        return self._progress(done=True)

    def _progress(self, done: bool) -> dict:
        """What the page draws: the fit now (on every other grid point), the cost so far, the held moments."""
        h = self.history
        it = len(h.losses)
        grid = h.grid[::2] + ([h.grid[-1]] if len(h.grid) % 2 == 0 else [])
        curve = [self._forward(x).data for x in grid]
        recent = h.losses[-100:]
        last = h.snapshots[-1]
        text = (f"iteration {it} of {self._total}" + (" (done)" if done and it == self._total else "")
                + (f": C over the last {len(recent)} iterations ≈ {math.fsum(recent) / len(recent):.4g}" if recent else "")
                + f". Mean C over the data: {last.loss:.4g} after {last.iteration} iterations (α = {h.lr:g}).")
        held = [m.iteration for m in h.moments]
        return {"it": it, "done": done, "curve": curve, "grid": grid, "xs": list(h.data.xs), "ys": list(h.data.ys),
                "held": held, "heldText": {k: f"{k}" for k in held}, "text": text,
                "axes": fit_axes(h.data.xs, h.data.ys, curve), "cost": cost_line(h.losses, self._total)}

    # --- the held moments -------------------------------------------------------------------------------
    def do_moment(self, iteration: int) -> dict:
        """The explorer page of the net as it was after ``iteration`` iterations, on the first point."""
        h = self.history
        found = [m for m in (h.moments if h else []) if m.iteration == iteration]
        if not found:
            raise LabError(f"no held moment at iteration {iteration}: train first; the moments are "
                           f"{[m.iteration for m in h.moments] if h else []}")
        net = self._net
        model = MLP(net.sizes[0], net.sizes[1:])
        model.load_state_dict(found[0].state)
        x, y = h.data.xs[0], h.data.ys[0]
        C = squared_error(model(x), y)
        C.backward()
        self._shown = None  # the explorer shows this moment now, not the learner's C
        page = explore(C, title=f"The net after {iteration} SGD iterations (α = {h.lr:g}), on the point "
                                f"i = {x:.4g}, O_des = {y:.4g}")
        return {"html": page.html}


#: the fit plot shows at least this much (the built-in target's x and y): a click puts a point where it
#: was clicked, and the plot grows, never shrinks, as points are put beyond it
PLOT_AT_LEAST = ((-1.1, 1.1), (-1.25, 1.25))


def fit_axes(xs, ys, curve=()) -> dict:
    """The fit plot's ranges and tick texts: :data:`PLOT_AT_LEAST` and the data, y also the curve
    (the curve within three times the data's spread, so that a wild start does not flatten the data)."""
    (xlo, xhi), (ylo, yhi) = PLOT_AT_LEAST
    lo, hi = min(xlo, *xs), max(xhi, *xs)
    pad = 0.0 if (lo, hi) == (xlo, xhi) else (hi - lo) * 0.05
    x = [lo - pad, hi + pad]
    lo, hi = min(ylo, *ys), max(yhi, *ys)
    spread = hi - lo
    kept = [c for c in curve if lo - 3 * spread <= c <= hi + 3 * spread]
    lo2, hi2 = min([lo, *kept]), max([hi, *kept])
    pad = 0.0 if (lo2, hi2) == (ylo, yhi) else (hi2 - lo2) * 0.08
    y = [lo2 - pad, hi2 + pad]
    return {"x": x, "y": y, "xticks": ticks(*x), "yticks": ticks(*y),
            "title": "blue: O = net(i); orange: the points (click to put yours)"}


def ticks(lo: float, hi: float, most: int = 6) -> list:
    """Round numbers between lo and hi (steps of 1, 2 or 5 times a power of ten), each with its text.

    >>> [t for _, t in ticks(-1.1, 1.1)]
    ['-1', '-0.5', '0', '0.5', '1']
    """
    raw = (hi - lo) / max(1, most - 1)
    if not raw > 0 or not math.isfinite(raw):
        return [[lo, f"{lo:.3g}"]]
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step)
    out = []
    for k in range(first, math.floor(hi / step) + 1):
        v = k * step
        out.append([v, f"{round(v, 12):g}"])
    return out


def cost_line(losses, total: int, points: int = 300) -> dict | None:
    """The cost plot: C averaged over blocks of iterations (one sample an iteration is noisy), as
    (iteration, log10 C) pairs, with the plot's ranges and tick texts (a tick at powers of ten)."""
    if not losses:
        return None
    block = max(1, -(-total // points))
    line = []
    for k in range(0, len(losses), block):
        part = losses[k:k + block]
        line.append([k + len(part), math.log10(max(math.fsum(part) / len(part), 1e-12))])
    lo, hi = math.floor(min(y for _, y in line)), math.ceil(max(y for _, y in line))
    hi = hi if hi > lo else lo + 1
    every = max(1, -(-(hi - lo) // 4))  # at most 5 ticks
    return {"line": line, "x": [0, total], "y": [lo, hi],
            "xticks": [[0, "0"], [total, f"{total}"]],
            "yticks": [[k, f"{10.0 ** k:g}"] for k in range(lo, hi + 1, every)],
            "title": f"C, averaged over each {block} iterations (log scale)" if block > 1 else "C (log scale)"}


def _learning_rate(lr: object) -> float:
    """α from the page's box (text) or from a script (a number): a positive, finite number."""
    given = lr
    if isinstance(lr, str):
        text = lr.strip().replace("\u2212", "-")
        try:
            lr = float(text)
        except ValueError:
            hint = " (write 0.01 with a point)" if re.fullmatch(r"-?\d*,\d+", text) else ""
            raise LabError(f"the learning rate α is {given!r}, not a number{hint}") from None
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (0 < lr < math.inf):
        raise LabError(f"the learning rate α must be a positive number such as 0.01, got {given!r}")
    return float(lr)


def _counts(iters: object) -> list:
    """The schedule from the page: a list of counts, or text such as ``100, 500, 1000, 5000`` (a comma
    between digits followed by three digits, as in 1,500, is refused: a count written with a
    thousands separator, or two counts?  The page writes its own counts without one)."""
    if isinstance(iters, str):
        grouped = re.search(r"(\d+),(\d{3})(?!\d)", iters)  # 1,500: one count written with a separator, or two?
        if grouped:
            a, b = grouped.groups()
            raise LabError(f"the schedule {iters!r}: is {a},{b} the count {a}{b}, or the counts {a} and {b}? "
                           f"Write {a}{b}, or {a}, {b} with a space")
        parts = [p for p in re.split(r"[,\s]+", iters.strip()) if p]
        if not parts or not all(re.fullmatch(r"[0-9]+", p) for p in parts):
            raise LabError(f"the schedule is iteration counts separated by commas, such as 100, 500, 1000, 5000; "
                           f"got {iters!r}")
        iters = [int(p) for p in parts]
    if isinstance(iters, list) and iters and max(iters) > 100_000:
        raise LabError(f"{max(iters)} iterations: the lab runs at most 100000 in the page; train natively for more "
                       "(micrograd-ws train --iters ...)")
    return iters


def not_a_model(net: object) -> str:
    """What ``net`` is, when it is not a model, and how to make it one."""
    if isinstance(net, (list, tuple)):
        kind = type(net).__name__
        if net and all(isinstance(v, MLP) for v in net):
            return (f"net is a {kind} of {len(net)} models, not a model: name the one to use net, e.g. net = net[0]")
        return f"net is a {kind}, not a model: name a model net, e.g. net = two_neuron(seed=0)"
    if callable(net):
        fn = getattr(net, "__name__", "") or type(net).__name__
        return f"net is the function {fn}, not a model: call it, net = {fn}()"
    return f"net is a {type(net).__name__}, not a model: name a model net, e.g. net = two_neuron(seed=0)"


STALE = "C was computed before the weights changed: compute C again to see them"


def stale(C: Value) -> bool:
    """Whether a node of C's graph no longer is what its op makes of its parents' numbers now: the
    weights (or inputs) were changed after C was computed (an SGD step, training).  Checked for the
    ops a net's cost is made of (w·x+b, +, -, *, relu, the cost), computed as the engine computes them
    (``==``: a dead ReLU's term left out is ±0.0); other ops are not checked."""
    try:
        for v in topological_order(C):
            ps, op = v.parents, v.op
            if not ps:
                continue
            if op == "w·x+b":
                n = (len(ps) - 1) // 2
                now = add_up(map(mul, [p.data for p in ps[:n]], [p.data for p in ps[n:2 * n]]), ps[-1].data)
            elif len(ps) == 2 and op in ("+", "-", "*", "(O-O_des)²"):
                a, b = ps[0].data, ps[1].data
                now = a + b if op == "+" else a - b if op == "-" else a * b if op == "*" else (a - b) * (a - b)
            elif op == "relu" and len(ps) == 1:
                now = ps[0].data if ps[0].data > 0.0 else 0.0
            else:
                continue
            if now != v.data:
                return True
    except (TypeError, ValueError, ArithmeticError):  # a number set by hand that is not one: explore names it
        return False
    return False


def said(e: BaseException) -> str:
    """``Type: message (line N of your code)``: the engine's message and where the learner's code raised it."""
    lines = [f.lineno for f in traceback.extract_tb(e.__traceback__) if f.filename == _CELL]
    where = f" (line {lines[-1]} of your code)" if lines else ""
    try:
        message = str(e)
    except Exception as inner:  # an exception whose str() fails: say so, keep its type and line
        message = f"(its message cannot be shown: str() raised {type(inner).__name__})"
    return f"{type(e).__name__}: {message}{where}" if message else f"{type(e).__name__}{where}"
