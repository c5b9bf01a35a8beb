"""The handout's "2 Hidden Layers" net trained with its schedule, and the figure.

Run from the repository:  python demos/two_hidden_layers.py [--hidden H] [--iters N,N,...] [--out DIR]

The 1 → h → h → 1 ReLU net (h = 100) learns y = sin(πx) with α = 0.01, one sample per
iteration; the fit is recorded after 100, 500, 1000 and 5000 iterations.  The figure
(target, data, each recorded fit, the cost) and the trained model go to DIR (out/).
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runs from a clone without installing

import micrograd_ws  # noqa: E402
from micrograd_ws import two_hidden_layers  # noqa: E402
from micrograd_ws.commands.common import whole_number  # noqa: E402
from micrograd_ws.commands.train import iteration_counts  # noqa: E402
from micrograd_ws.data import make_dataset  # noqa: E402
from micrograd_ws.files import write_figure  # noqa: E402
from micrograd_ws.handout import ALPHA, HIDDEN, TRAINING_ITERS  # noqa: E402
from micrograd_ws.train import plot, summary, train  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=whole_number(1), default=HIDDEN, metavar="H",
                        help=f"neurons per hidden layer (default {HIDDEN})")
    # each word read as `micrograd-ws train --iters` reads its value, so 100,500 and 100 500 both work
    parser.add_argument("--iters", type=iteration_counts, nargs="+", default=[list(TRAINING_ITERS)], metavar="N",
                        help="the schedule: counts separated by commas as for micrograd-ws train, or by spaces "
                             f"(default: {','.join(map(str, TRAINING_ITERS))})")
    parser.add_argument("--out", type=Path, default=Path("out"), help="output directory (default: out)")
    args = parser.parse_args(argv)
    args.iters = sorted({n for part in args.iters for n in part})

    net = two_hidden_layers(hidden=args.hidden, seed=0)
    data = make_dataset("sin")
    print(net)
    print(f"fitting {data.target.formula} from {len(data)} samples, α = {ALPHA}, one sample per iteration")
    history = train(net, data, args.iters, ALPHA, seed=0, progress=True)
    print(summary(history))

    args.out.mkdir(parents=True, exist_ok=True)
    figure, model_file = args.out / "two_hidden_layers.png", args.out / "two_hidden_layers.json"
    title = f"The handout's {' → '.join(map(str, net.sizes))} ReLU net, α = {ALPHA}"
    write_figure(plot(history, data, title), figure, dpi=110)
    net.save(model_file)
    same = micrograd_ws.load(model_file)(0.25).data == net(0.25).data
    print(f"figure: {figure}\nmodel:  {model_file}  (loaded back, it predicts the same: {same})")


if __name__ == "__main__":
    main()
