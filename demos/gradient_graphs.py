"""The pictures of ∂C/∂w for the handout's two models, with the chain rule written under each.

    python demos/gradient_graphs.py [--out out/graphs] [--format svg|png|pdf|dot] [--hidden 100]

Writes two galleries (open their index.html in a browser):

* ``two_neuron/``: every parameter of Output = w1·input + b1;
* ``handout_net/``: one parameter of each kind of the 1 → 100 → 100 → 1 net, each picture
  timed: building it, and rendering it to SVG with ``dot``.

Both for one sample, input 0.5 and desired output 1: the defaults of ``micrograd-ws graphs``
(``micrograd_ws.commands.common.DEFAULT_INPUT``, ``DEFAULT_DESIRED``).

Each caption's total is checked against ``w.grad`` from ``C.backward()``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from micrograd_ws import draw_grad, render_grads, squared_error, two_hidden_layers, two_neuron  # noqa: E402
from micrograd_ws.commands.common import DEFAULT_DESIRED, DEFAULT_INPUT, DEFAULT_OUT, whole_number  # noqa: E402
from micrograd_ws.handout import HIDDEN  # noqa: E402
from micrograd_ws.viz import FORMATS, DotNotFoundError, one_of_each_kind  # noqa: E402

SAMPLE = f"input {DEFAULT_INPUT:g}, desired output {DEFAULT_DESIRED:g}"


def caption_total(caption: str) -> float:
    return float(caption.rsplit("=", 1)[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=f"{DEFAULT_OUT}/graphs", help="output folder (default: %(default)s)")
    parser.add_argument("--format", choices=FORMATS, default="svg", help="picture format (default: %(default)s)")
    parser.add_argument("--hidden", type=whole_number(1), default=HIDDEN, help="hidden neurons per layer (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        two_neuron_gallery(Path(args.out) / "two_neuron", args.format)
        handout_net_gallery(Path(args.out) / "handout_net", args.format, args.hidden)
    except (DotNotFoundError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def two_neuron_gallery(folder: Path, format: str) -> None:
    """① Output = w1·input + b1: every parameter."""
    net = two_neuron(seed=0)
    C = squared_error(net(DEFAULT_INPUT), DEFAULT_DESIRED)
    C.backward()
    for _, w in net.named_parameters():
        print(draw_grad(C, w).caption, end="\n\n")
    index = render_grads(C, net, folder, format=format, title=f"{net!r}: {SAMPLE}")
    print(f"two-neuron model: open {index}\n")


def handout_net_gallery(folder: Path, format: str, hidden: int) -> None:
    """② The 1 → h → h → 1 net: one parameter of each kind, each picture timed."""
    net = two_hidden_layers(hidden=hidden, seed=0)
    C = squared_error(net(DEFAULT_INPUT), DEFAULT_DESIRED)
    C.backward()
    params = dict(net.named_parameters())
    kinds = one_of_each_kind(params)
    print(f"{net!r}: {len(params)} parameters")
    print(f"{'parameter':>10} {'build':>8} {'to SVG':>8}   caption total − w.grad")
    for pname in kinds:
        w = params[pname]
        start = time.perf_counter()
        g = draw_grad(C, w)
        built = time.perf_counter()
        g.pipe(format="svg")  # what Jupyter does to show it
        done = time.perf_counter()
        print(f"{pname:>10} {built - start:7.3f}s {done - built:7.3f}s   {caption_total(g.caption) - w.grad:+.1e}")
    print(f"\n{draw_grad(C, params['w1[0]']).caption}\n")
    index = render_grads(C, {p: params[p] for p in kinds}, folder, format=format,
                         title=f"{net!r} (seed 0): {SAMPLE}")
    print(f"handout net: open {index}")


if __name__ == "__main__":
    sys.exit(main())
