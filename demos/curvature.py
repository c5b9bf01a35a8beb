"""The next chapter of the handout: how curved is C, and what that says about α.

    python demos/curvature.py [--out out/curvature] [--format svg|png|pdf|dot]

On the two-neuron model Output = w1·input + b1 with one sample (input 2, desired output 1):

① the curvature ∂²C/∂w1² (the gradient of the gradient, micrograd_ws.grad with
  create_graph=True) and the largest stable learning rate α < 2/curvature it implies,
  checked by training at α just below and just above it; then the same for w1 and b1
  together, from the Hessian's largest eigenvalue;
② Newton's method, w1 ← w1 − (∂C/∂w1)/(∂²C/∂w1²), landing on C = 0 in one step;
③ the graph of ∂C/∂w1 itself, drawn with draw_graph (written to --out), and its own
  derivative ∂²C/∂w1² explained as a chain-rule product.

The page is docs/higher_order.md.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from micrograd_ws import SGD, draw_graph, explain, grad, hessian, mean, squared_error, two_neuron  # noqa: E402
from micrograd_ws.handout import ALPHA  # noqa: E402
from micrograd_ws.viz import FORMATS, DotNotFoundError  # noqa: E402

INPUT, DESIRED = 2.0, 1.0
STEPS = 40  # training steps on the one sample, at each α


def cost_after(alpha: float, steps: int, which: str) -> float:
    """C of the sample after ``steps`` SGD steps at ``alpha`` on w1 alone or on w1 and b1."""
    model = two_neuron(seed=0)
    w1, b1 = model.parameters()
    opt = SGD([w1] if which == "w1" else [w1, b1], lr=alpha)
    for _ in range(steps):
        C = squared_error(model(INPUT), DESIRED)
        opt.zero_grad()
        C.backward()
        opt.step()
    return squared_error(model(INPUT), DESIRED).data


def largest_eigenvalue(H: list[list[float]]) -> float:
    """Of a symmetric 2×2 matrix [[a, b], [b, d]]."""
    (a, b), (_, d) = H
    return (a + d) / 2 + math.hypot((a - d) / 2, b)


def stability(alpha_max: float, which: str, C0: float) -> None:
    for alpha in (ALPHA, 0.9 * alpha_max, 1.1 * alpha_max, 1.0):
        C = cost_after(alpha, STEPS, which)
        verdict = "converges" if C < C0 else "diverges"
        note = " (the handout's α)" if alpha == ALPHA else f" ({alpha / alpha_max:.1f} × the limit)" if alpha != 1.0 else ""
        print(f"   α = {alpha:<6.4g}{note:<20} C after {STEPS} steps = {C:<12.6g} {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/curvature", help="output folder (default: %(default)s)")
    parser.add_argument("--format", choices=FORMATS, default="svg", help="picture format (default: %(default)s)")
    args = parser.parse_args(argv)

    model = two_neuron(seed=0)
    w1, b1 = model.parameters()
    i = INPUT
    C = squared_error(model(i), DESIRED)
    print(f"Output = w1·input + b1 at w1 = {w1.data:.6f}, b1 = {b1.data:.6f}; one sample: input = {i}, "
          f"desired_output = {DESIRED}; C = {C.data:.6f}\n")

    print("① Curvature: the derivative of the derivative")
    [dC_dw1] = grad(C, [w1], create_graph=True)  # a Value: 2(O − O_des)·i, with its own graph
    [d2C_dw1] = grad(dC_dw1, [w1])
    print(f"   ∂C/∂w1   = 2(Output − desired_output)·input = {dC_dw1.data:.6f}")
    print(f"   ∂²C/∂w1² = 2·input²                          = {d2C_dw1:.6f}   (closed form {2 * i * i:.6f})")
    alpha_w1 = 2 / d2C_dw1
    print(f"   A step on w1 multiplies Output − desired_output by 1 − α·∂²C/∂w1², so it shrinks only while\n"
          f"   α < 2 / ∂²C/∂w1² = {alpha_w1:.6g}. Training w1 alone ({STEPS} steps from C = {C.data:.6g}):")
    stability(alpha_w1, "w1", C.data)

    H = hessian(lambda w, b: squared_error(model(i), DESIRED), [w1, b1])
    lam = largest_eigenvalue(H)
    alpha_both = 2 / lam
    print(f"\n   Training w1 and b1 together, the Hessian [[∂²C/∂w1², ∂²C/∂w1∂b1], [·, ∂²C/∂b1²]] = {H}\n"
          f"   has largest eigenvalue {lam:.6g} = 2(input² + 1): α < 2/{lam:.6g} = {alpha_both:.6g}.")
    stability(alpha_both, "both", C.data)

    print("\n② Newton's method: w1 ← w1 − (∂C/∂w1) / (∂²C/∂w1²)")
    C_before = C.data
    w1.data -= dC_dw1.data / d2C_dw1
    C_after = squared_error(model(i), DESIRED)
    print(f"   one step: w1 = {w1.data:.6f}, Output = {model(i).data:.6f}, C = {C_before:.6g} -> {C_after.data:.6g}"
          "\n   (C is a parabola in w1, and Newton's step jumps to the bottom of the parabola through the point)")
    samples = [(0.5, 0.25), (2.0, 2.5)]  # on the line 1.5·input − 0.5
    f = lambda w, b: mean([squared_error(model(x), y) for x, y in samples])  # noqa: E731
    g = grad(f(w1, b1), [w1, b1])
    (a, b), (_, d) = H2 = hessian(f, [w1, b1])
    det = a * d - b * b
    step = [(d * g[0] - b * g[1]) / det, (a * g[1] - b * g[0]) / det]  # H⁻¹ ∇C
    w1.data -= step[0]
    b1.data -= step[1]
    print(f"   w1 and b1 on one sample: the Hessian {H} is singular (one equation, two unknowns);\n"
          f"   on two samples of the line 1.5·input − 0.5 it is {H2}, and one step [w1, b1] −= H⁻¹ ∇C\n"
          f"   gives w1 = {w1.data:.6f}, b1 = {b1.data:.6f}, mean C = {f(w1, b1).data:.3g}")

    print("\n③ The graph of ∂C/∂w1 (a Value like any other), at the starting w1 and b1")
    model = two_neuron(seed=0)
    w1, _ = model.parameters()
    [dC_dw1] = grad(squared_error(model(i), DESIRED), [w1], create_graph=True)
    dC_dw1.label = "(∂C/∂w1)"  # in brackets, so that an edge reads ∂(∂C/∂w1)/∂i
    dC_dw1.backward()  # fills each node's grad with ∂(∂C/∂w1)/∂node: w1's is ∂²C/∂w1²
    picture = draw_graph(dC_dw1)
    print("   " + picture.caption.replace("\n", "\n   "))
    print(f"   w1.grad after ∂C/∂w1.backward(): {w1.grad:.6f} = ∂²C/∂w1²; as the chain rule (explain):")
    print("   " + str(explain(dC_dw1, w1)).replace("\n", "\n   "))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    source = out / "dC_dw1.dot"
    try:
        if args.format == "dot":
            picture.save(source)
            written = source
        else:
            written = Path(picture.render(filename=source, format=args.format, outfile=out / f"dC_dw1.{args.format}"))
    except DotNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"   wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
