"""Check gradients: finite differences and hypothesis strategies for random graphs.

Needs ``hypothesis`` (``pip install micrograd_ws[dev]``) for the strategies.

>>> gradcheck(lambda a, b: a * b.tanh() + a.square(), [0.3, -1.2])
True
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from hypothesis import strategies as st

from .engine import Value, squared_error, weighted_sum

__all__ = [
    "GradcheckError", "finite_difference", "gradcheck", "values", "Expression", "expressions", "OPS",
]


class GradcheckError(AssertionError):
    """The engine's gradient disagrees with finite differences (the report says where)."""


def finite_difference(f: Callable[..., Value], inputs: Sequence[float], i: int, eps: float = 1e-6) -> float:
    """Central difference (f(x + eps·e_i) - f(x - eps·e_i)) / 2eps of f's ``data``."""
    up = [Value(x + eps if k == i else x) for k, x in enumerate(inputs)]
    down = [Value(x - eps if k == i else x) for k, x in enumerate(inputs)]
    return (f(*up).data - f(*down).data) / (2 * eps)


def gradcheck(f: Callable[..., Value], inputs: Sequence[float], eps: float = 1e-6,
              atol: float = 1e-6, rtol: float = 1e-5) -> bool:
    """Compare ``backward()`` with central finite differences for every input.

    Returns True, or raises :class:`GradcheckError` naming the input, both numbers and
    the relative error.
    """
    leaves = [Value(x, label=f"x{k}") for k, x in enumerate(inputs)]
    out = f(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck: f must return a Value, got {type(out).__name__}")
    out.backward()
    for i, leaf in enumerate(leaves):
        numeric = finite_difference(f, inputs, i, eps)
        err = abs(leaf.grad - numeric)
        if err > atol + rtol * abs(numeric):
            rel = err / max(abs(numeric), 1e-300)
            raise GradcheckError(
                f"gradient of input {i} (x{i} = {inputs[i]!r}): backward gives {leaf.grad!r}, "
                f"finite differences give {numeric!r}; relative error {rel:.3g}"
            )
    return True


def values(min_value: float = -3.0, max_value: float = 3.0) -> st.SearchStrategy[float]:
    """Finite floats in a range where finite differences are accurate."""
    return st.floats(min_value, max_value, allow_nan=False, allow_infinity=False)


#: op name -> (arity, function on Values, domain check on the operands' floats).
#: A domain check keeps away from singular points and kinks by a margin, so that
#: finite differences stay valid in a neighbourhood.
OPS: dict[str, tuple[int, Callable[..., Value], Callable[..., bool]]] = {
    "+": (2, lambda a, b: a + b, lambda a, b: True),
    "-": (2, lambda a, b: a - b, lambda a, b: True),
    "*": (2, lambda a, b: a * b, lambda a, b: True),
    "/": (2, lambda a, b: a / b, lambda a, b: abs(b) >= 0.2),
    "**2": (1, lambda a: a**2, lambda a: True),
    "**3": (1, lambda a: a**3, lambda a: True),
    "**0.5": (1, lambda a: a**0.5, lambda a: a >= 0.2),
    "**-1": (1, lambda a: a**-1, lambda a: abs(a) >= 0.2),
    "**v": (2, lambda a, b: a**b, lambda a, b: 0.2 <= a <= 5 and abs(b) <= 3),
    "neg": (1, lambda a: -a, lambda a: True),
    "relu": (1, lambda a: a.relu(), lambda a: abs(a) >= 1e-3),
    "square": (1, lambda a: a.square(), lambda a: True),
    "exp": (1, lambda a: a.exp(), lambda a: a <= 4),
    "log": (1, lambda a: a.log(), lambda a: a >= 0.2),
    "tanh": (1, lambda a: a.tanh(), lambda a: True),
    "sigmoid": (1, lambda a: a.sigmoid(), lambda a: True),
    "wsum": (3, lambda a, b, c: weighted_sum([a, b], [b, c], c), lambda a, b, c: True),
    "sqerr": (2, lambda a, b: squared_error(a, b), lambda a, b: True),
}


@dataclass(frozen=True)
class Expression:
    """A random expression graph: ``steps`` apply ops to earlier nodes (reuse allowed).

    The domain of each op is checked once, at ``inputs``; an op outside its domain
    there (or whose result is large) is replaced by ``+``, so the same graph is used
    at nearby points.  Call it with Values (one per input); the result is the last node.
    """

    inputs: tuple[float, ...]
    steps: tuple[tuple[str, tuple[int, ...]], ...]
    resolved: tuple[tuple[str, tuple[int, ...]], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        nodes = [Value(x) for x in self.inputs]
        resolved = []
        for name, args in self.steps:
            _, fn, ok = OPS[name]
            operands = [nodes[a] for a in args]
            result = None
            if ok(*(v.data for v in operands)):
                result = fn(*operands)
                if abs(result.data) > 1e3:
                    result = None
            if result is None:
                name, args = "+", (args[0], args[-1])
                result = nodes[args[0]] + nodes[args[1]]
            nodes.append(result)
            resolved.append((name, args))
        object.__setattr__(self, "resolved", tuple(resolved))

    def __call__(self, *xs: Value) -> Value:
        nodes = list(xs)
        for name, args in self.resolved:
            nodes.append(OPS[name][1](*(nodes[a] for a in args)))
        return nodes[-1]

    def __str__(self) -> str:
        names = [f"x{k}" for k in range(len(self.inputs))]
        for name, args in self.resolved:
            names.append(f"{name}({', '.join(names[a] for a in args)})")
        return names[-1]


@st.composite
def expressions(draw, ops: Sequence[str] | None = None, max_inputs: int = 3, max_steps: int = 8,
                inputs: st.SearchStrategy[float] | None = None) -> Expression:
    """Random expression graphs over the engine's ops (all of :data:`OPS` by default)."""
    names = sorted(ops if ops is not None else OPS)
    unknown = set(names) - set(OPS)
    if unknown:
        raise ValueError(f"expressions(ops=...): unknown ops {sorted(unknown)}; choose from {sorted(OPS)}")
    n = draw(st.integers(1, max_inputs))
    xs = tuple(draw(inputs if inputs is not None else values()) for _ in range(n))
    steps = []
    for s in range(draw(st.integers(1, max_steps))):
        name = draw(st.sampled_from(names))
        arity = OPS[name][0]
        args = tuple(draw(st.integers(0, n + s - 1)) for _ in range(arity))
        steps.append((name, args))
    return Expression(xs, tuple(steps))
