"""The handout's first page, "2 Neurons", with numbers: Output = w1(input) + b1.

Run from the repository:  python demos/two_neurons.py

One sample goes through ① forward propagation, ② backward propagation (the engine's
gradients printed next to the handout's chain-rule formulas) and ③ the update
w1 = w1 - α ∂C/∂w1; then the same step, repeated with the handout's schedule, fits
the line y = 1.5x - 0.5.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runs from a clone without installing

from micrograd_ws import SGD, squared_error, two_neuron  # noqa: E402
from micrograd_ws.data import make_dataset  # noqa: E402
from micrograd_ws.handout import ALPHA, TRAINING_ITERS, two_neuron_gradients  # noqa: E402
from micrograd_ws.train import summary, train  # noqa: E402


def main() -> None:
    model = two_neuron(seed=0)
    w1, b1 = model.parameters()
    i, O_des = 0.5, 1.0  # input, desired_output
    print(f"2 Neurons: Output = w1(input) + b1, starting from w1 = {w1.data:.6f}, b1 = {b1.data:.6f}")
    print(f"one sample: input = {i}, desired_output = {O_des}\n")

    print("① Forward propagation")
    O = model(i)
    C = squared_error(O, O_des)
    print(f"   Output = w1(input) + b1 = {w1.data:.6f} * {i} + {b1.data:.6f} = {O.data:.6f}")
    print(f"   C = (Output - desired_output)² = ({O.data:.6f} - {O_des})² = {C.data:.6f}\n")

    print(f"{'② Backward propagation':<53} {'engine':>10}  {'handout':>10}")
    C.backward()
    handout = two_neuron_gradients(w1.data, b1.data, i, O_des)
    rows = [("∂C/∂Output = 2(Output - desired_output)", O.grad, 2 * (O.data - O_des)),
            ("∂C/∂w1 = (input) 2(Output - desired_output)", w1.grad, handout["w1"]),
            ("∂C/∂b1 = 2(Output - desired_output)", b1.grad, handout["b1"])]
    for text, engine, formula in rows:
        print(f"   {text:<50} {engine:>10.6f}  {formula:>10.6f}")

    print(f"\n③ Update weights & biases with α = {ALPHA}")
    before = {"w1": w1.data, "b1": b1.data}
    SGD(model.parameters(), lr=ALPHA).step()
    for name, p in [("w1", w1), ("b1", b1)]:
        print(f"   {name} = {name} - α ∂C/∂{name} = {before[name]:.6f} - {ALPHA} * ({p.grad:.6f}) = {p.data:.6f}")
    print(f"   the cost of the same sample drops: C = {C.data:.6f} -> {squared_error(model(i), O_des).data:.6f}\n")

    data = make_dataset("line")
    print(f"Repeating the step on {len(data)} samples of {data.target.formula}, "
          f"recording the fit after {', '.join(map(str, TRAINING_ITERS))} iterations:")
    history = train(model, data, TRAINING_ITERS, ALPHA)
    print(summary(history))
    print(f"\nlearned w1 = {w1.data:.6f}, b1 = {b1.data:.6f}   (the line: 1.5 and -0.5)")


if __name__ == "__main__":
    main()
