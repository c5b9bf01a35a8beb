"""``micrograd-ws graphs``: the derivative graph of every ∂C/∂w with Graphviz, and a gallery.

The pictures are :mod:`micrograd_ws.viz` (:func:`~micrograd_ws.viz.render_grads`).
"""
from __future__ import annotations

import os
import sys

from ..files import quoted
from ..handout import HIDDEN
from ..notation import did_you_mean
from ..viz import FORMATS, DotNotFoundError, DotTimeoutError, one_of_each_kind, render_grads
from .common import (DEFAULT_DESIRED, DEFAULT_INPUT, DEFAULT_OUT, MAX_HIDDEN, UsageError, finite_number, handout_cost,
                     whole_number)

__all__ = ["add_arguments", "run"]


def add_arguments(parser) -> None:
    """Options of ``python -m micrograd_ws graphs`` (defaults: :data:`~micrograd_ws.commands.common.DEFAULT_INPUT` ...)."""
    parser.add_argument("--model", choices=("two-neuron", "mlp"), default="mlp",
                        help="the handout's two-neuron model or its 1 → h → h → 1 net (default: mlp)")
    parser.add_argument("--hidden", type=whole_number(1, MAX_HIDDEN), default=None, metavar="H",
                        help=f"hidden neurons per layer for --model mlp (default: {HIDDEN}, the handout's h; "
                             f"at most {MAX_HIDDEN}: the net has h² weights in pure Python)")
    parser.add_argument("--out", default=f"{DEFAULT_OUT}/graphs", metavar="DIR",
                        help=f"output folder (default: {DEFAULT_OUT}/graphs)")
    parser.add_argument("--format", choices=FORMATS, default="svg", help="picture format (default: svg)")
    parser.add_argument("--x", type=finite_number, default=DEFAULT_INPUT,
                        help=f"the input i (default: {DEFAULT_INPUT})")
    parser.add_argument("--y", type=finite_number, default=DEFAULT_DESIRED,
                        help=f"the desired output O_des (default: {DEFAULT_DESIRED})")
    parser.add_argument("--seed", type=whole_number(0), default=0, help="seed of the initial weights (default: 0)")
    parser.add_argument("--only", metavar="NAMES", default=None,
                        help="comma-separated parameter names to draw, e.g. 'w1[0],w2[0][0],b3' "
                             "(default: all, or one of each kind past --max-params)")
    parser.add_argument("--show-zero-paths", action="store_true",
                        help="draw paths through ReLUs that are off instead of folding them")
    parser.add_argument("--max-params", type=whole_number(1), default=500, metavar="N",
                        help="without --only, a net with more than N parameters gets one picture of each kind "
                             "(w1[0], b1[0], w2[0][0], ...) (default: 500)")


def run(args) -> int:
    """Build the model, run forward and backward, and write every ∂C/∂w picture with a gallery."""
    try:
        net, O, C = handout_cost(args, default_hidden=HIDDEN)
    except UsageError as e:
        return _fail(str(e))
    except (OverflowError, ValueError) as e:  # finite but extreme --x / --y
        return _fail(f"--x {args.x:g} with --y {args.y:g} overflows this net: {str(e).split(':')[0]} is beyond a "
                     "float. Use inputs of a size the handout uses, such as --x 2")
    params = dict(net.named_parameters())
    if args.only is not None:
        wanted = [s.strip() for s in args.only.split(",") if s.strip()]
        if not wanted:
            return _fail(f"--only {quoted(args.only)} names no parameter; give names separated by commas, "
                         f"such as {','.join(list(params)[:3])}")
        unknown = [s for s in wanted if s not in params]
        if unknown:
            return _fail(f"--only: no parameter named {unknown[0]!r}; {did_you_mean(unknown[0], list(params))}")
        params = {s: params[s] for s in wanted}
    elif len(params) > args.max_params:
        kinds = one_of_each_kind(params)
        print(f"This net has {len(params)} parameters, more than --max-params {args.max_params}: drawing one of "
              f"each kind ({', '.join(kinds)}). Pick others with --only 'w1[5],w2[3][7]' or raise --max-params.")
        params = {s: params[s] for s in kinds}
    title = f"{net!r} (seed {args.seed}): i = {args.x:g}, O = {O.data:.6g}, O_des = {args.y:g}, C = {C.data:.6g}"
    print(title)
    before = _files_in(args.out)
    try:
        index = render_grads(C, params, args.out, format=args.format, show_zero_paths=args.show_zero_paths,
                             title=title)
    except (DotNotFoundError, DotTimeoutError, ImportError) as e:
        return _fail(str(e), 1)
    except FileExistsError:  # (out.mkdir: a file where the folder goes)
        return _fail(f"--out {args.out} is a file; give a directory for the pictures and their index.html", 1)
    except NotADirectoryError:  # (a file on the way to it)
        return _fail(f"--out {args.out}: a folder on its way is a file; give a directory for the pictures", 1)
    except PermissionError as e:
        return _fail(f"cannot write to {args.out}: {e.strerror or e}; give a directory you can write to", 1)
    except (OSError, ValueError) as e:  # ValueError: UnsafeTargetError (a pipe where a file goes), a NUL byte
        return _fail(f"cannot write to {args.out}: {e.strerror if isinstance(e, OSError) and e.strerror else e}", 1)
    n = len(params)
    what = "DOT source" if args.format == "dot" else f"{args.format.upper()} picture"
    print(f"wrote {n} {what}{'s' * (n != 1)} of ∂C/∂w to {args.out}; open {index}")
    gone = len(before - _files_in(args.out))
    if gone:
        print(f"removed {gone} file{'s' * (gone != 1)} an earlier run drew there and this one does not (its index "
              "listed them), so that the folder shows this run")
    return 0


def _files_in(folder: str) -> set[str]:
    try:
        return set(os.listdir(folder))
    except OSError:
        return set()


def _fail(msg: str, code: int = 2) -> int:
    print(f"micrograd-ws graphs: error: {msg}", file=sys.stderr)
    return code
