"""Check gradients: finite differences, and hypothesis strategies for random graphs and nets.

``gradcheck(f, inputs)`` compares ``backward()`` with central finite differences and
raises :class:`GradcheckError` (an ``AssertionError``) naming the input, both numbers
and the relative error; ``gradgradcheck(f, inputs)`` does the same for second
derivatives (the gradient built with ``create_graph=True``).  ``check_op(op)`` property-tests a new op: it runs gradcheck at
many random points and inside random expressions.  The strategies ``values()``,
``expressions()`` and ``mlps()`` need ``hypothesis`` (``pip install hypothesis``);
everything else here is standard library.  The recipe is in ``docs/testing.md``.

>>> gradcheck(lambda a, b: a * b.tanh() + a.square(), [0.3, -1.2])
True
>>> gradcheck(lambda a: a.relu(), [0.0])   # a kink: 0 lies between the slopes 0 and 1
True
"""
from __future__ import annotations

import inspect
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, NamedTuple, Sequence, Union

from .checks import to_float
from .custom import BUILTIN_OPS
from .engine import Value, mean, squared_error, weighted_sum
from .mode import enable_grad, no_grad
from .functional import grad
from .nn import MLP

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = [
    "GradcheckError", "Mismatch", "finite_difference", "gradcheck", "gradgradcheck", "check_op", "values",
    "Op", "OPS", "Expression", "expressions", "MLPCase", "mlps",
]

Input = Union[float, int, Value]


class Mismatch(NamedTuple):
    """One input whose gradient failed the check."""

    input: str
    value: float
    backward: float
    numeric: float
    relative_error: float


class GradcheckError(AssertionError):
    """The engine's gradient disagrees with finite differences; the message says where.

    ``failures`` lists a :class:`Mismatch` per failing input.
    """

    def __init__(self, message: str, failures: Sequence[Mismatch] = ()) -> None:
        super().__init__(message)
        self.failures = list(failures)


# --- finite differences ---------------------------------------------------------------

def _leaf(x: Input, label: str = "") -> Value:
    return x if isinstance(x, Value) else Value(x, label=label)


def _evaluate(f: Callable[..., Value], inputs: Sequence[Input], i: int, x: float) -> float:
    """f's value with input ``i`` set to ``x``, without recording a graph.

    A float input becomes a fresh Value; a Value input (a model's parameter) is
    nudged in place and restored, so ``f`` may ignore its arguments and read the model.
    """
    target = inputs[i]
    old = target.data if isinstance(target, Value) else None
    with no_grad():
        try:
            if old is not None:
                target.data = x
            args = [Value(x) if k == i and old is None else _leaf(v) for k, v in enumerate(inputs)]
            return _output(f, f(*args)).data
        finally:
            if old is not None:
                target.data = old


def finite_difference(f: Callable[..., Value], inputs: Sequence[Input], i: int, eps: float = 1e-6) -> float:
    """Central difference (f(x + eps·e_i) - f(x - eps·e_i)) / 2eps of f's ``data``.

    >>> round(finite_difference(lambda x, y: x * y, [3.0, 4.0], 0), 6)   # ∂(xy)/∂x = y
    4.0
    """
    x = _data(inputs[i])
    return (_evaluate(f, inputs, i, x + eps) - _evaluate(f, inputs, i, x - eps)) / (2 * eps)


def _data(x: Input) -> float:
    return x.data if isinstance(x, Value) else to_float(x, "gradcheck input")


def _output(f: Callable, out: object) -> Value:
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck: {_fname(f)} must return a Value, got {type(out).__name__} {out!r}")
    return out


def _fname(f: Callable) -> str:
    if isinstance(f, (Expression, _Partial)):
        return str(f)
    name = getattr(f, "__name__", "")
    return name if name.isidentifier() else "f"


def _input_names(f: Callable, inputs: Sequence[Input]) -> list[str]:
    """Labels of Value inputs, else f's parameter names, else x0, x1, ..."""
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        params = []
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) != len(inputs) or any(p.kind == p.VAR_POSITIONAL for p in params):
        positional = [f"x{k}" for k in range(len(inputs))]
    return [x.label if isinstance(x, Value) and x.label else name for x, name in zip(inputs, positional)]


def _one_sided(f: Callable[..., Value], inputs: Sequence[Input], i: int, h: float, f0: float):
    """The slopes (left, right) of f at input ``i`` over a step h; None where f is undefined."""
    x = _data(inputs[i])
    slopes = []
    for step in (-h, h):
        try:
            slopes.append((_evaluate(f, inputs, i, x + step) - f0) / step)
        except (ArithmeticError, ValueError):
            slopes.append(None)
    return slopes


def _close(a: float, b: float, atol: float, rtol: float) -> bool:
    return abs(a - b) <= atol + rtol * abs(b)


def gradcheck(f: Callable[..., Value], inputs: Sequence[Input], eps: float = 1e-6,
              atol: float = 1e-6, rtol: float = 1e-5) -> bool:
    """Compare ``backward()`` with central finite differences for every input.

    ``f`` takes one Value per input and returns a Value.  ``inputs`` are numbers (each
    becomes a fresh leaf) or Values such as ``model.parameters()`` (nudged in place and
    restored, their ``grad`` left as it was).  A gradient passes when
    ``|backward - numeric| <= atol + rtol·|numeric|``.  Where f has a kink (ReLU at 0,
    |x| at 0) any value between the left and right slopes passes, as in the handout's
    ∂H/∂z = 0 at z = 0.

    Returns True, or raises :class:`GradcheckError` naming the input, both numbers and
    the relative error; when the step looks to blame rather than the derivative (f steep
    within ``eps``, or ``eps`` lost to rounding next to a huge input) it says so and
    suggests a step.  Raises ``OverflowError`` / ``ValueError`` naming the point when f
    overflows or is undefined at or within ``eps`` of it, and refuses no inputs or a
    number of inputs f cannot take before calling f.

    >>> gradcheck(lambda x: x * x, [3.0])
    True
    >>> gradcheck(lambda x: x ** 3, [2.0], eps=0.0)
    Traceback (most recent call last):
    ...
    ValueError: gradcheck(eps=0.0): eps must be a positive step, e.g. 1e-6
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this function's
    inputs, names, leaves = _checked(f, inputs, eps, atol, rtol, "gradcheck")
    few = len(leaves) <= 6  # name the whole point, else only the failing inputs
    at = ", ".join(f"{n} = {leaf.data!r}" for n, leaf in zip(names, leaves)) if few else f"{len(leaves)} inputs"
    saved = [leaf.grad for leaf in leaves]
    try:
        for leaf in leaves:
            leaf.grad = 0.0
        try:
            out = _output(f, f(*leaves))
        except (ArithmeticError, ValueError) as e:
            raise _cannot_evaluate(f, e, f"at {at}") from e
        try:
            out.backward()
        except OverflowError as e:
            raise OverflowError(f"gradcheck: the gradient of {_fname(f)} overflows a float at {at} "
                                f"({_what(e)}): check it at smaller inputs") from e
        analytic = [leaf.grad for leaf in leaves]
    finally:
        for leaf, g in zip(leaves, saved):
            leaf.grad = g
    # Perturb the inputs as given (a float input stays a float: each call gets fresh leaves).
    points = [x if isinstance(x, Value) else leaf.data for x, leaf in zip(inputs, leaves)]

    failures, notes, steps = [], [], {"coarse": [], "tiny": []}  # steps: the ones to suggest
    for i, (name, backward) in enumerate(zip(names, analytic)):
        try:
            numeric = finite_difference(f, points, i, eps)
        except (ArithmeticError, ValueError) as e:
            raise _cannot_evaluate(f, e, f"within eps={eps} of {name} = {leaves[i].data!r}") from e
        if _close(backward, numeric, atol, rtol):
            continue
        verdict = _look_closer(f, points, i, name, out.data, eps, backward, numeric, atol, rtol)
        if verdict is None:
            continue
        note, kind, step = verdict
        if note:
            notes.append(f"{name}: {note}")
        if kind:
            steps[kind].append(step)
        rel = abs(backward - numeric) / abs(numeric) if numeric else math.inf
        failures.append(Mismatch(name, leaves[i].data, backward, numeric, rel))
    if failures:
        lines = [f"gradient check failed for {_fname(f)} at {at}:"]
        lines += [f"  ∂/∂{m.input}{'' if few else f' (at {m.input} = {m.value!r})'}: backward gives "
                  f"{m.backward!r}, finite differences give {m.numeric!r} (relative error {m.relative_error:.3g})"
                  for m in failures]
        lines += [f"  ({note})" for note in notes]
        coarse, tiny = steps["coarse"], steps["tiny"]
        if coarse:
            lines.append(f"The finite-difference step eps={eps} may be too coarse: f changes steeply within eps "
                         f"of the input{'s' if len(coarse) > 1 else ''}. Try a smaller one, e.g. "
                         f"gradcheck(f, inputs, eps={min(coarse):g}).")
        if tiny:
            lines.append(f"The finite-difference step eps={eps} is too small for inputs this large: try one "
                         f"in proportion, e.g. gradcheck(f, inputs, eps={max(tiny):g}).")
        if len(coarse) + len(tiny) < len(failures):
            lines.append(_usual_cause(f))
        raise GradcheckError("\n".join(lines), failures)
    return True


def _checked(f: Callable, inputs: Sequence[Input], eps: float, atol: float, rtol: float,
             where: str) -> tuple[list[Input], list[str], list[Value]]:
    """The checks' arguments checked: the inputs as a list, their names, and a leaf for each."""
    if not callable(f):
        raise TypeError(f"{where}(f, inputs): f must be a function of Values, got {type(f).__name__} {f!r}")
    if isinstance(inputs, (str, bytes, Value)) or not hasattr(inputs, "__iter__"):
        raise TypeError(f"{where}(f, inputs): inputs must be a list of numbers (or Values), "
                        f"got {type(inputs).__name__} {inputs!r}")
    inputs = list(inputs)
    for name, tol in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if to_float(tol, f"{where}({name})") < 0 or (name == "eps" and tol == 0):
            example = "a positive step, e.g. 1e-6" if name == "eps" else "a non-negative tolerance"
            raise ValueError(f"{where}({name}={tol!r}): {name} must be {example}")
    names = _input_names(f, inputs)
    leaves = [_leaf(x, name) for x, name in zip(inputs, names)]
    _check_arity(f, leaves, where)
    return inputs, names, leaves


def _usual_cause(f: Callable) -> str:
    if isinstance(f, _Partial):
        return ("A wrong derivative in Values (the one create_graph uses, next to each op's forward) "
                "is the usual cause.")
    return "A wrong local derivative in an op's forward pass is the usual cause."


class _Partial:
    """∂f/∂x_j as a function of the inputs: a Value whose graph computes it (create_graph)."""

    def __init__(self, f: Callable[..., Value], j: int, names: Sequence[str]) -> None:
        self.f, self.j, self.names = f, j, names

    def __call__(self, *xs: Value) -> Value:
        with enable_grad():  # finite differences evaluate under no_grad; the gradient needs f's graph
            out = _output(self.f, self.f(*xs))
            return grad(out, [xs[self.j]], create_graph=True, allow_unused=True)[0]

    def __str__(self) -> str:
        return f"∂{_fname(self.f)}/∂{self.names[self.j]}"


def gradgradcheck(f: Callable[..., Value], inputs: Sequence[Input], eps: float = 1e-6,
                  atol: float = 1e-6, rtol: float = 1e-5) -> bool:
    """Compare second derivatives with finite differences of the gradient, for every pair of inputs.

    For each input x_j, :func:`gradcheck` checks the gradient ∂f/∂x_j, a Value from
    ``grad(f(...), [x_j], create_graph=True)``: backpropagating through it gives
    ∂²f/∂x_i∂x_j, and finite differences of its value are the reference.  Arguments,
    tolerances and kinks as in :func:`gradcheck`.  Returns True, or raises
    :class:`GradcheckError` with every failing ∂/∂x_i of every ∂f/∂x_j (each
    :class:`Mismatch` names its pair as ``"x_j, x_i"``).

    >>> gradgradcheck(lambda a, b: a * b.tanh() + a.square() * b, [0.3, -1.2])
    True
    """
    __tracebackhide__ = True
    inputs, names, leaves = _checked(f, inputs, eps, atol, rtol, "gradgradcheck")
    # Float inputs go in as their labelled leaves, so that each report names them as f does.
    points = [x if isinstance(x, Value) else leaf for x, leaf in zip(inputs, leaves)]
    messages, failures = [], []
    for j in range(len(points)):
        try:
            gradcheck(_Partial(f, j, names), points, eps, atol, rtol)
        except GradcheckError as e:
            messages.append(str(e))
            failures += [m._replace(input=f"{names[j]}, {m.input}") for m in e.failures]
    if failures:
        raise GradcheckError(f"second-derivative check of {_fname(f)} (gradgradcheck):\n" + "\n".join(messages),
                             failures)
    return True


def _look_closer(f: Callable, points: Sequence[Input], i: int, name: str, f0: float, eps: float,
                 backward: float, numeric: float, atol: float, rtol: float) -> tuple[str, str, float] | None:
    """After a mismatch at input ``i``: None if it passes on a closer look (a kink), else
    (note, kind, step): what the finite differences show, and whether the step is to blame
    (kind 'coarse' or 'tiny', with a step to suggest) or not (kind '')."""
    x = _data(points[i])
    # Look closer, 100 times: a kink (ReLU at 0) near the input bends the difference quotient.
    fine = eps / 100
    numeric_fine = finite_difference(f, points, i, fine)
    if _close(backward, numeric_fine, atol, rtol):
        return None  # the kink was within eps of the input, not at it
    left, right = _one_sided(f, points, i, fine, f0)
    if left is not None and right is not None and not _close(left, right, atol, rtol):
        slack = atol + rtol * max(abs(left), abs(right))
        if min(left, right) - slack <= backward <= max(left, right) + slack:
            return None  # a kink at the input, and backward picked a slope between the two sides
        return f"f has a kink here, left slope {left!r}, right slope {right!r}", "", 0.0
    proportional = 1e-6 * abs(x)
    if eps < 1e-9 * abs(x) and _agrees_at(f, points, i, proportional, backward, atol, rtol):
        # the step is lost to rounding next to so large an input; a step in proportion agrees
        return (f"eps={eps:g} is tiny next to {name} = {x!r}, so rounding swamps the finite difference; "
                f"eps={proportional:g} agrees with backward", "tiny", proportional)
    if fine >= _smallest_step(x) and not _close(numeric_fine, numeric, atol, rtol) and \
            abs(numeric_fine - backward) < abs(numeric - backward):
        # a smaller step moves the estimate towards backward: f is steep for this step
        note, step = _finer_steps(f, points, i, eps, numeric, backward, atol, rtol)
        return note, "coarse", step
    return "", "", 0.0


def _check_arity(f: Callable, leaves: Sequence[Value], where: str) -> None:
    """A clear error when f cannot take one argument per input."""
    if not leaves:
        raise ValueError(f"{where}(f, inputs): no inputs; give one number (or Value) per argument of f, "
                         f"e.g. {where}(f, [0.5, -1.0]) for f(a, b)")
    try:
        signature = inspect.signature(f)
    except (TypeError, ValueError):  # some builtins have none: calling f will tell
        return
    try:
        signature.bind(*leaves)
    except TypeError:
        params = [p.name for p in signature.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        n = len(leaves)
        raise TypeError(f"{where}: {_fname(f)} takes {len(params)} argument{'s' * (len(params) != 1)} "
                        f"({', '.join(params)}) but {n} input{' was' if n == 1 else 's were'} given; "
                        "give one input per argument") from None


def _what(e: Exception) -> str:
    """An engine error's first clause, which names the operation and its operands (not its advice)."""
    text = re.split(r"[.;] ", str(e), maxsplit=1)[0]
    return text.replace(": the result overflows a float", "").replace(": got ", " is ")


def _cannot_evaluate(f: Callable, e: Exception, where: str) -> Exception:
    """Why f has no value ``where``: its result overflows, is not a number, or is undefined.

    The error's ``reason`` is its first sentence without the advice (check_op words its own).
    """
    non_finite = re.search(r": got (-?inf|nan);", str(e))  # an op's function returned inf or nan
    if isinstance(e, OverflowError) or (non_finite and non_finite.group(1) != "nan"):
        what = "a local derivative of" if "derivative" in str(e) else "the result of"
        kind, reason = OverflowError, f"{what} {_fname(f)} overflows a float {where} ({_what(e)})"
        advice = "Finite differences need f finite at and around each input: check it at smaller inputs."
    elif non_finite:
        kind, reason = ValueError, f"the result of {_fname(f)} is not a number {where} ({_what(e)})"
        advice = "Check the op's function there, or check f at other inputs."
    else:
        kind, reason = type(e), f"{_fname(f)} is not defined {where} ({e})"
        advice = ("Finite differences need f defined at and around each input: move the input further "
                  "inside the domain (or use a smaller eps).")
    try:
        error = kind(f"gradcheck: {reason}. {advice}")
    except TypeError:  # an exception class that takes other arguments
        error = ValueError(f"gradcheck: {reason}. {advice}")
    error.reason = reason
    return error


def _smallest_step(x: float) -> float:
    """Below this step, rounding x ± step (or f's value) swamps a finite difference at x."""
    return max(1e-13, 1e4 * math.ulp(x))


def _agrees_at(f: Callable, points: Sequence[Input], i: int, step: float, backward: float, atol: float,
               rtol: float) -> bool:
    try:
        return _close(backward, finite_difference(f, points, i, step), atol, rtol)
    except (ArithmeticError, ValueError):  # f is not defined that far away
        return False


def _finer_steps(f: Callable, points: Sequence[Input], i: int, eps: float, numeric: float, backward: float,
                 atol: float, rtol: float) -> tuple[str, float]:
    """How the estimate moves with smaller steps, and a step to suggest: the first that agrees, else the smallest."""
    x = _data(points[i])
    seen = [f"eps={eps:g} gives {numeric:.10g}"]
    step = eps
    while step / 100 >= _smallest_step(x):
        step /= 100
        estimate = finite_difference(f, points, i, step)
        seen.append(f"eps={step:g} gives {estimate:.10g}")
        if _close(backward, estimate, atol, rtol):
            return f"finite differences change with the step: {', '.join(seen)}, which agrees with backward", step
    return f"finite differences change with the step: {', '.join(seen)}", step


# --- hypothesis strategies ------------------------------------------------------------

def _hypothesis():
    try:
        import hypothesis
    except ImportError:
        raise ImportError(
            "micrograd_ws.testing's strategies and check_op need hypothesis: pip install hypothesis"
        ) from None
    return hypothesis


def _check_int(value: object, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return value


def values(min_value: float = -3.0, max_value: float = 3.0) -> SearchStrategy[float]:
    """Finite floats in [min_value, max_value], a range where finite differences are accurate."""
    lo, hi = to_float(min_value, "values(min_value)"), to_float(max_value, "values(max_value)")
    if lo > hi:
        raise ValueError(f"values({lo}, {hi}): min_value must not exceed max_value")
    return _hypothesis().strategies.floats(lo, hi, allow_nan=False, allow_infinity=False)


def _anywhere(*args: float) -> bool:
    return True


class Op(NamedTuple):
    """An entry of :data:`OPS`: arity, function on Values, and where it may be applied."""

    arity: int
    fn: Callable[..., Value]
    domain: Callable[..., bool] = _anywhere


#: op name -> Op(arity, function on Values, domain check on the operands' floats).
#: A domain check keeps away from singular points and kinks by a margin, so that
#: finite differences stay valid in a neighbourhood.
OPS: dict[str, Op] = {
    "+": Op(2, BUILTIN_OPS["__add__"]),
    "-": Op(2, BUILTIN_OPS["__sub__"]),
    "*": Op(2, BUILTIN_OPS["__mul__"]),
    "/": Op(2, BUILTIN_OPS["__truediv__"], lambda a, b: abs(b) >= 0.2),
    "**2": Op(1, lambda a: BUILTIN_OPS["__pow__"](a, 2)),
    "**3": Op(1, lambda a: BUILTIN_OPS["__pow__"](a, 3)),
    "**0.5": Op(1, lambda a: BUILTIN_OPS["__pow__"](a, 0.5), lambda a: a >= 0.2),
    "**-1": Op(1, lambda a: BUILTIN_OPS["__pow__"](a, -1), lambda a: abs(a) >= 0.2),
    "**v": Op(2, BUILTIN_OPS["__pow__"], lambda a, b: 0.2 <= a <= 5 and abs(b) <= 3),
    "neg": Op(1, BUILTIN_OPS["__neg__"]),
    "relu": Op(1, BUILTIN_OPS["relu"], lambda a: abs(a) >= 1e-3),
    "square": Op(1, BUILTIN_OPS["square"]),
    "exp": Op(1, BUILTIN_OPS["exp"], lambda a: a <= 4),
    "log": Op(1, BUILTIN_OPS["log"], lambda a: a >= 0.2),
    "tanh": Op(1, BUILTIN_OPS["tanh"]),
    "sigmoid": Op(1, BUILTIN_OPS["sigmoid"]),
    "wsum": Op(3, lambda a, b, c: weighted_sum([a, b], [b, c], c)),
    "sqerr": Op(2, lambda a, b: squared_error(a, b)),
}

#: Results larger than this are replaced by ``+`` so that gradients stay well conditioned.
_MAX_ABS = 1e3


@dataclass(frozen=True)
class Expression:
    """A random expression graph: ``steps`` apply ops to earlier nodes (reuse allowed).

    Nodes 0 … n-1 are the inputs; step s makes node n + s.  The domain of each op is
    checked once, at ``inputs``; an op outside its domain there (or whose result is
    larger than 1000) is replaced by ``+``, so the same graph is used at nearby points.
    Call it with one Value per input; the result is the last node.  ``ops`` is the
    table the names refer to (:data:`OPS` by default).

    >>> e = Expression((0.5, 2.0), (("*", (0, 1)), ("tanh", (2,)), ("log", (0,))))
    >>> str(e)                       # log(0.5) is kept: 0.5 is inside log's domain
    'log(x0)'
    >>> e(Value(0.5), Value(2.0)).data == math.log(0.5)
    True
    """

    inputs: tuple[float, ...]
    steps: tuple[tuple[str, tuple[int, ...]], ...]
    resolved: tuple[tuple[str, tuple[int, ...]], ...] = field(init=False, repr=False)
    ops: Mapping[str, Op] = field(default_factory=lambda: OPS, compare=False, repr=False)

    def __post_init__(self) -> None:
        nodes = [Value(x) for x in self.inputs]
        resolved = []
        for s, (name, args) in enumerate(self.steps):
            arity, fn, ok = self._op(name)
            if len(args) != arity or not all(isinstance(a, int) and 0 <= a < len(nodes) for a in args):
                raise ValueError(f"Expression step {s}: {name} needs {arity} indices of earlier nodes "
                                 f"(0 … {len(nodes) - 1}), got {args!r}")
            operands = [nodes[a] for a in args]
            result = fn(*operands) if ok(*(v.data for v in operands)) else None
            if result is None or abs(result.data) > _MAX_ABS:
                name, args = "+", (args[0], args[-1])
                result = nodes[args[0]] + nodes[args[1]]
            nodes.append(result)
            resolved.append((name, args))
        object.__setattr__(self, "resolved", tuple(resolved))

    def _op(self, name: str) -> Op:
        if name in self.ops:
            return self.ops[name]
        if name == "+":  # the fallback is always available
            return OPS["+"]
        raise ValueError(f"Expression: unknown op {name!r}; known ops: {sorted(self.ops)}")

    def __call__(self, *xs: Any, ops: Mapping[str, Callable] | None = None) -> Any:
        """Evaluate on ``xs`` (Values, or e.g. torch tensors with ``ops`` giving each op for them)."""
        if len(xs) != len(self.inputs):
            raise TypeError(f"this expression takes {len(self.inputs)} inputs, got {len(xs)}")
        nodes = list(xs)
        for name, args in self.resolved:
            fn = ops[name] if ops is not None else self._op(name).fn
            nodes.append(fn(*(nodes[a] for a in args)))
        return nodes[-1]

    def __str__(self) -> str:
        names = [f"x{k}" for k in range(len(self.inputs))]
        for name, args in self.resolved:
            names.append(f"{name}({', '.join(names[a] for a in args)})")
        return names[-1]

    def __repr__(self) -> str:
        at = ", ".join(f"x{k}={x!r}" for k, x in enumerate(self.inputs))
        return f"<Expression {self} at {at}>"


def _op_table(ops: Sequence[str] | Mapping[str, Any] | None) -> tuple[dict[str, Op], list[str]]:
    """The table and the list of names to draw from (a repeated name is drawn more often)."""
    if ops is None:
        return dict(OPS), sorted(OPS)
    if isinstance(ops, Mapping):
        table = {}
        for name, spec in ops.items():
            if isinstance(spec, tuple) and len(spec) in (2, 3) and isinstance(spec[0], int) and callable(spec[1]):
                arity, fn, *domain = spec
                table[name] = Op(_check_int(arity, f"expressions: arity of {name!r}", 1), fn, *domain)
            else:
                raise TypeError(f"expressions(ops={{...}}): {name!r} must map to (arity, fn) or "
                                f"(arity, fn, domain), e.g. (1, sin, lambda x: True); got {spec!r}")
        if not table:
            raise ValueError("expressions(ops={}): give at least one op")
        return table, sorted(table)
    if isinstance(ops, str):
        raise TypeError(f"expressions(ops={ops!r}): ops is a list of names, e.g. ['+', '*', 'tanh']")
    names = list(ops)
    unknown = sorted({n for n in names if n not in OPS}, key=str)
    if unknown or not names:
        raise ValueError(f"expressions(ops=...): unknown ops {unknown}; choose from {sorted(OPS)}, "
                         "or pass a dict {name: (arity, fn, domain)} for your own")
    return {n: OPS[n] for n in names}, sorted(names)


def expressions(ops: Sequence[str] | Mapping[str, Any] | None = None, max_depth: int | None = None,
                max_inputs: int = 3, max_steps: int = 8,
                inputs: SearchStrategy[float] | None = None) -> SearchStrategy[Expression]:
    """Random expression graphs (:class:`Expression`) over the engine's ops, domains respected.

    ``ops``: names from :data:`OPS` (all by default; repeat a name to draw it more often),
    or a dict ``{name: (arity, fn)}`` / ``{name: (arity, fn, domain)}`` that may add your
    own ops, e.g. ``{**OPS, "sin": (1, sin)}``.  ``max_depth`` bounds the longest chain of
    ops from an input to a node (None: only ``max_steps`` bounds it).  ``inputs`` draws
    the input floats (default :func:`values`).
    """
    table, names = _op_table(ops)
    for name, limit, low in (("max_inputs", max_inputs, 1), ("max_steps", max_steps, 1)):
        _check_int(limit, f"expressions({name})", low)
    if max_depth is not None:
        _check_int(max_depth, "expressions(max_depth)", 1)
    st = _hypothesis().strategies
    return st.composite(_draw_expression)(table, names, max_depth, max_inputs, max_steps,
                                          inputs if inputs is not None else values())


def _draw_expression(draw, table, names, max_depth, max_inputs, max_steps, inputs) -> Expression:
    st = _hypothesis().strategies
    n = draw(st.integers(1, max_inputs))
    xs = tuple(draw(inputs) for _ in range(n))
    depth = [0] * n
    steps = []
    for _ in range(draw(st.integers(1, max_steps))):
        name = draw(st.sampled_from(names))
        usable = [k for k, d in enumerate(depth) if max_depth is None or d < max_depth]
        args = tuple(draw(st.sampled_from(usable)) for _ in range(table[name].arity))
        steps.append((name, args))
        depth.append(1 + max(depth[a] for a in args))
    return Expression(xs, tuple(steps), ops=table)


# --- property-testing a new op --------------------------------------------------------

def _arity(op: Callable) -> int | None:
    """How many inputs ``op`` takes, when its signature says so (None for ``*args``)."""
    try:
        params = inspect.signature(op).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return None
    required = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]
    return len(required) or None


def _with_margin(domain: Callable[..., bool], margin: float) -> Callable[..., bool]:
    """``domain`` holding at the point and at each input moved by ±margin (where finite differences look)."""
    def ok(*xs: float) -> bool:
        points = [xs] + [xs[:k] + (x + d,) + xs[k + 1:] for k, x in enumerate(xs) for d in (-margin, margin)]
        return all(domain(*p) for p in points)
    return ok


def check_op(op: Callable[..., Value], *, arity: int | None = None, domain: Callable[..., bool] | None = None,
             inputs: SearchStrategy[float] | None = None, max_examples: int | None = None) -> bool:
    """Property-test an op's derivative: gradcheck it at random points and inside random expressions.

    ``op`` is a function on Values, typically from :func:`micrograd_ws.define_op`.
    ``arity``: its number of inputs (read from its signature when it has one, else 1).
    ``domain(*floats) -> bool``: where the op is defined (default: everywhere).
    ``inputs``: the strategy for input floats (default ``values()``, i.e. [-3, 3]).
    ``max_examples``: per property (default: the hypothesis profile's).

    Returns True, or raises :class:`GradcheckError` with the simplest failing input
    hypothesis found.

    >>> from micrograd_ws import define_op
    >>> cube = define_op("cube_doc", lambda x: (x**3, (3 * x**2,)))
    >>> check_op(cube)
    True
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this function's
    hypothesis = _hypothesis()
    st, given, assume = hypothesis.strategies, hypothesis.given, hypothesis.assume
    if not callable(op):
        raise TypeError(f"check_op(op): op must be a function on Values, got {type(op).__name__} {op!r}")
    name = _fname(op)
    n = _check_int(arity, "check_op(arity)", 1) if arity is not None else _arity(op)
    guessed, n = n is None, n or 1
    inside = domain or _anywhere
    cfg = hypothesis.settings(
        deadline=None, report_multiple_bugs=False, database=None,  # one op's failures are no seed for another's
        suppress_health_check=[*hypothesis.settings().suppress_health_check,
                               hypothesis.HealthCheck.filter_too_much],  # a narrow domain is fine if satisfiable
        max_examples=_check_int(max_examples, "check_op(max_examples)", 1)
        if max_examples is not None else hypothesis.settings().max_examples)

    floats = inputs if inputs is not None else values()
    point = st.tuples(*[floats] * n)
    near = _with_margin(inside, 4e-6)  # gradcheck's stencils reach 2·eps from the point

    @cfg
    @given(point)
    def alone(xs):
        assume(near(*xs))
        gradcheck(op, list(xs))

    # The op among all of OPS, drawn as often as all of them together; its domain with a
    # margin, since the finite-difference steps move its operands.
    table = {**OPS, name: Op(n, op, _with_margin(inside, 1e-3))}

    @cfg
    @given(st.composite(_draw_expression)(table, sorted(OPS) + [name] * len(OPS), 4, 3, 6, floats))
    def composed(expr):
        assume(any(step == name for step, _ in expr.resolved))
        gradcheck(expr, list(expr.inputs), atol=1e-5, rtol=1e-4)

    for prop, where in ((alone, "alone"), (composed, "inside random expressions")):
        try:
            prop()
        except GradcheckError as e:
            raise GradcheckError(f"check_op({name}), {where}: {e}", e.failures) from None
        except hypothesis.errors.Unsatisfiable:
            raise ValueError(f"check_op({name}): the domain rejects almost every input drawn; "
                             "pass inputs=values(lo, hi) with a range inside the domain") from None
        except hypothesis.errors.HypothesisException:
            raise
        except TypeError as e:
            if guessed:
                raise TypeError(f"check_op: could not call {name} with 1 input ({e}); "
                                "pass arity=N, the number of inputs it takes") from None
            raise
        except (ArithmeticError, ValueError) as e:
            if hasattr(e, "__notes__"):  # hypothesis's long description of the strategy
                del e.__notes__
            args = ", ".join("xyzuvw"[k] if k < 6 else f"x{k}" for k in range(n))
            reason = getattr(e, "reason", None)  # gradcheck's, naming the point
            message = (f"check_op({name}), {where}: {reason}. If that is right, pass domain=lambda {args}: ..., "
                       f"True where {name} is defined" if reason else
                       f"check_op({name}), {where}: {e}. If {name} is not defined there, pass "
                       f"domain=lambda {args}: ..., True where it is defined")
            try:
                again = type(e)(message)
            except TypeError:  # an exception class that takes other arguments
                again = ValueError(message)
            raise again from e
    return True


# --- small nets -----------------------------------------------------------------------

class MLPCase:
    """A small net with a batch of inputs and targets (drawn by :func:`mlps`).

    ``inputs`` is a list of samples, each a list of ``model.nin`` floats; ``targets`` has
    one entry per sample: a float for a one-output net, else a list of floats.

    >>> net = MLP(2, [3, 1], seed=0)
    >>> case = MLPCase(net, [[0.5, -1.0], [1.0, 2.0]], [1.0, 0.0])
    >>> gradcheck(lambda *params: case.loss(), net.parameters())
    True
    """

    def __init__(self, model: MLP, inputs: list[list[float]], targets: list) -> None:
        self.model, self.inputs, self.targets = model, inputs, targets

    def loss(self) -> Value:
        """Mean squared error over every sample and output (``torch.nn.MSELoss()``)."""
        errors = []
        for x, y in zip(self.inputs, self.targets):
            out = self.model(x)
            outs, ys = (out, y) if isinstance(out, list) else ([out], [y])
            errors += [squared_error(o, t) for o, t in zip(outs, ys)]
        return mean(errors)

    def __repr__(self) -> str:  # everything needed to rebuild a failing case
        return (f"MLPCase({self.model!r}, state={self.model.state_dict()!r}, "
                f"inputs={self.inputs!r}, targets={self.targets!r})")


def mlps(nin: int | None = None, nout: int | None = None, max_layers: int = 3, max_width: int = 4,
         max_batch: int = 4, weights: SearchStrategy[float] | None = None,
         inputs: SearchStrategy[float] | None = None, kink_margin: float = 1e-3) -> SearchStrategy[MLPCase]:
    """Small random nets (:class:`MLPCase`): ReLU hidden layers, a linear output, inputs and targets.

    ``nin`` / ``nout``: fixed sizes (default: drawn, 1-3 inputs and 1-2 outputs);
    ``max_layers`` counts the weight layers (hidden ones + the output); hidden widths are
    1 … ``max_width``; batches have 1 … ``max_batch`` samples.  ``weights`` draws every
    weight and bias (default ``values(-1, 1)``), ``inputs`` the inputs and targets
    (default ``values()``).

    ``kink_margin``: each hidden bias is moved (as little as possible) so that every
    pre-activation z is at least this far from ReLU's kink at 0 on every sample, where
    finite differences cannot see the derivative.  Pass 0 to allow kinks, e.g. when
    comparing with PyTorch, which uses the same ∂H/∂z = 0 at z = 0.
    """
    for name, v in (("nin", nin), ("nout", nout)):
        if v is not None:
            _check_int(v, f"mlps({name})", 1)
    for name, v in (("max_layers", max_layers), ("max_width", max_width), ("max_batch", max_batch)):
        _check_int(v, f"mlps({name})", 1)
    if to_float(kink_margin, "mlps(kink_margin)") < 0:
        raise ValueError(f"mlps(kink_margin={kink_margin!r}): the margin must be >= 0")
    st = _hypothesis().strategies
    return st.composite(_draw_mlp)(nin, nout, max_layers, max_width, max_batch,
                                   weights if weights is not None else values(-1.0, 1.0),
                                   inputs if inputs is not None else values(), float(kink_margin))


def _away_from_kink(bias: float, sums: list[float], margin: float) -> float:
    """The bias nearest ``bias`` with every ``s + bias`` at least ``margin`` from 0.

    The step away from a kink grows with |s| so that it is not lost to rounding when the
    sums are huge; with non-finite sums (overflowing weights) the bias is left as it is.
    """
    candidates = [bias] + [-s + d for s in sums for d in (-1.5 * margin * max(1.0, abs(s)),
                                                          1.5 * margin * max(1.0, abs(s)))]
    valid = [c for c in candidates if all(abs(s + c) >= margin for s in sums)]
    return min(valid, key=lambda c: abs(c - bias)) if valid else bias


def _dot(row: list[float], act: list[float]) -> float:
    """w·a in plain floats: exact when finite, else ±inf or nan (huge weights overflow)."""
    try:
        return math.fsum(w * a for w, a in zip(row, act))
    except (OverflowError, ValueError):  # fsum refuses inf - inf and an overflowing partial sum
        return sum(w * a for w, a in zip(row, act))


def _draw_mlp(draw, nin, nout, max_layers, max_width, max_batch, weights, inputs, margin) -> MLPCase:
    st = _hypothesis().strategies

    def floats(strategy, n: int) -> list[float]:
        return draw(st.lists(strategy, min_size=n, max_size=n))

    nin = nin or draw(st.integers(1, 3))
    nout = nout or draw(st.integers(1, 2))
    hidden = draw(st.lists(st.integers(1, max_width), max_size=max_layers - 1))
    model = MLP(nin, [*hidden, nout], seed=0)
    batch = draw(st.integers(1, max_batch))
    xs = [floats(inputs, nin) for _ in range(batch)]
    ys = [floats(inputs, nout) for _ in range(batch)]

    state, acts = {}, xs
    for layer in model.layers:  # forward in plain floats, layer by layer, to place the biases
        rows = [floats(weights, layer.nin) for _ in range(layer.nout)]
        biases = floats(weights, layer.nout)
        sums = [[_dot(row, act) for act in acts] for row in rows]
        if margin and not layer.output:
            biases = [_away_from_kink(b, s, margin) for b, s in zip(biases, sums)]
        acts = [[max(0.0, s[n] + b) for s, b in zip(sums, biases)] for n in range(batch)]
        state[f"w{layer.index}"], state[f"b{layer.index}"] = rows, biases
    model.load_state_dict(state)
    return MLPCase(model, xs, [y[0] for y in ys] if nout == 1 else ys)
