"""``micrograd-ws train``: train the handout's nets on 1-D data, plot the fit, save the model.

The loop and the figure are :mod:`micrograd_ws.train`; ``--explore`` adds the explorer's
replay of the run (:func:`micrograd_ws.explore` of the run's history).
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import sys
import time
from pathlib import Path

from ..notation import printable
from ..data import TARGETS, DataError, make_dataset, read_csv
from ..explorer import explore
from ..files import check_writable, render_figure, write_together
from ..handout import ALPHA, HIDDEN, TRAINING_ITERS
from ..nn import two_hidden_layers, two_neuron
from ..serialize import model_text
from ..train import (MAX_ITERS, MAX_REPLAY_NUMBERS, MAX_SAMPLES, TrainingDiverged, plot, replay_iterations, require,
                     schedule, summary, train)
from .common import DEFAULT_OUT, MAX_HIDDEN, positive_number, said, whole_number

__all__ = ["add_arguments", "run", "run_name", "iteration_counts"]


def iteration_counts(text: str) -> list[int]:
    """The ``--iters`` argument type: ``100,500,1000,5000`` as a sorted schedule."""
    try:
        return schedule(whole_number(1, MAX_ITERS)(part.strip()) for part in text.split(","))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected positive iteration counts up to {MAX_ITERS:,} separated by commas, such as 100,500,1000,5000 "
            f"(every iteration's cost is kept for the figure); got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", choices=["mlp", "two-neuron"], default="mlp",
                        help="mlp: the handout's 1 → h → h → 1 ReLU net; two-neuron: Output = w1·input + b1 "
                             "(default: mlp)")
    parser.add_argument("--hidden", type=whole_number(1), metavar="H",
                        help=f"neurons per hidden layer of the mlp (default: {HIDDEN}, the handout's h)")
    parser.add_argument("--iters", type=iteration_counts, default=list(TRAINING_ITERS), metavar="N,N,...",
                        help="the schedule: one run, the fit is recorded after each count "
                             f"(default: {','.join(map(str, TRAINING_ITERS))})")
    parser.add_argument("--lr", type=positive_number, default=ALPHA, help=f"the learning rate α (default: {ALPHA})")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--target", choices=list(TARGETS),
                        help="a built-in 1-D function to fit: "
                             + "; ".join(f"{t.name}: {t.formula}" for t in TARGETS.values())
                             + " (default: sin for the mlp, line for two-neuron)")
    source.add_argument("--data", metavar="FILE.csv",
                        help="fit your own data: a CSV file with columns x,y (a header row is optional)")
    parser.add_argument("--samples", type=whole_number(2, MAX_SAMPLES), metavar="N",
                        help="evenly spaced samples of a built-in target (default: 50; at most "
                             f"{MAX_SAMPLES:,}, because every snapshot runs the net on every sample)")
    parser.add_argument("--seed", type=whole_number(0), default=0,
                        help="seeds the initial weights and the sample order (default: 0)")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                        help=f"where the figure and model go, named after the settings (default: {DEFAULT_OUT})")
    parser.add_argument("--no-compile", dest="compiled", action="store_false",
                        help="run the eager loop (a graph of Values per step) instead of the compiled step; "
                             "the same numbers, to the bit, several times slower")
    parser.add_argument("--explore", metavar="FILE.html",
                        help="also write the explorer's replay of the run: scrub through the iterations")


def run(args: argparse.Namespace) -> int:
    if args.model == "two-neuron" and args.hidden is not None:
        return _fail("--hidden sets the hidden width of --model mlp; the two-neuron model has no hidden layer", 2)
    if args.hidden is not None and args.hidden > MAX_HIDDEN:
        return _fail(f"--hidden {args.hidden} is too wide for a pure-Python net (h² weights); use at most "
                     f"{MAX_HIDDEN}", 2)
    if args.data is not None and args.samples is not None:
        return _fail("--samples applies to built-in targets; with --data every row of the file is a sample", 2)
    out = Path(args.out)
    # a page inside --out (out/replay.html, the out train makes) is checked once --out is there
    inside = args.explore is not None and os.path.abspath(os.path.dirname(args.explore) or ".") == os.path.abspath(out)
    made = [d for d in (out, *out.parents) if not d.exists()]  # (made below, deepest first: taken back if refused)
    if args.explore is not None and not (inside and made) and (why := _unwritable(args.explore, "replay.html")):
        return _fail(f"--explore: {why} (checked before training, so no run is lost)", 2)
    try:
        require("matplotlib", "tqdm")
        data = (read_csv(args.data) if args.data is not None else
                make_dataset(args.target or ("line" if args.model == "two-neuron" else "sin"), args.samples or 50))
        out.mkdir(parents=True, exist_ok=True)
        if len(data) > MAX_SAMPLES:
            raise DataError(f"{args.data} has {len(data):,} rows, more than the {MAX_SAMPLES:,} samples train "
                            "takes (every snapshot runs the net on every sample); use a sample of the rows")
    except (ImportError, DataError) as e:
        return _fail(str(e))
    except FileExistsError:
        return _fail(f"--out {args.out} is a file; give a directory for the figure and the model")
    except OSError as e:
        return _fail(f"cannot use --out {args.out}: {e.strerror or e}")
    stem = run_name(args, data)
    png, model_file = out / f"{stem}.png", out / f"{stem}.json"
    for target in (model_file, png):  # a real file is created there and removed
        if why := _unwritable(str(target)):
            return _fail(f"--out {args.out}: {why} (checked before training, so no run is lost); "
                         "give a directory you can write to", 2)
    if inside and made and (why := _unwritable(args.explore, "replay.html")):
        with contextlib.suppress(OSError):
            for d in made:
                d.rmdir()  # (empty: nothing was written)
        return _fail(f"--explore: {why} (checked before training, so no run is lost)", 2)

    if args.model == "two-neuron":
        model, about = two_neuron(args.seed), "two-neuron model Output = w1·input + b1"
    else:
        model = two_hidden_layers(args.hidden or HIDDEN, args.seed)
        about = f"{' → '.join(map(str, model.sizes))} ReLU net"
    source = f"target {data.target.formula}" if data.target else f"data from {printable(str(args.data))}"
    print(f"Training the {about} on {source} ({len(data)} samples), α = {args.lr:g}, seed {args.seed}")
    record = replay_iterations(args.iters, parameters=len(model.parameters())) if args.explore else []
    if args.explore and len(record) < len(every := replay_iterations(args.iters)):
        print(f"the replay keeps {len(record)} of the {len(every):,} moments it would record: a replay holds at most "
              f"{MAX_REPLAY_NUMBERS:,} numbers (2 per parameter per moment, {len(model.parameters()):,} parameters); "
              "always the first and the last, then as many --iters counts as fit (fewer --iters counts, or a smaller "
              "--hidden, keep more)")
    try:
        history = train(model, data, args.iters, args.lr, args.seed, progress=True, record=record,
                        compiled=getattr(args, "compiled", True))
    except TrainingDiverged as e:
        return _fail(e.describe("--lr ") + " Nothing was plotted or saved.")
    except DataError as e:
        return _fail(f"{e}. Nothing was plotted or saved.")
    print(summary(history))
    first, last = history.snapshots[0], history.snapshots[-1]
    if last.loss > first.loss:
        print(f"warning: the mean cost went UP, from {first.loss:.4g} before training to {last.loss:.4g}: "
              f"the learning rate is probably too large; try --lr {args.lr / 10:g}", file=sys.stderr)

    replaced = [str(f) for f in (png, model_file) if f.exists()]
    try:  # the model and its figure together: a full disk leaves both old files, never a mix
        figure = render_figure(plot(history, data, f"{about}, {source}; SGD with α = {args.lr!r}, one sample "
                                                   f"per iteration, seed {args.seed}"), png, dpi=110)
        write_together([(model_file, model_text(model)), (png, figure)])
    except (OSError, ValueError) as e:
        return _fail(f"{said(e)}; nothing was written (the model and the figure go together)")
    print(f"figure: {png}\nmodel:  {model_file}   (load it with micrograd_ws.load({str(model_file)!r}))")
    if replaced:
        same = "the same settings give the same numbers" if args.data is None else \
            f"the same numbers from {args.data} as then"
        print(f"replaced {' and '.join(replaced)} of an earlier run with these settings ({same}); "
              "other settings or data get other names (the hash at the end)")
    if args.explore is not None:
        start = time.perf_counter()
        print(f"recording the replay of the run ({len(history.moments or history.snapshots)} moments) into "
              f"{args.explore}…", flush=True)
        try:
            page = explore(history).save(args.explore)
            print(f"  done in {time.perf_counter() - start:.1f} s", flush=True)
        except OSError as e:
            return _fail(f"cannot write --explore {args.explore}: {e}")
        print(f"replay: {page}   (open it in a browser)")
    return 0


def run_name(args: argparse.Namespace, data) -> str:
    """The outputs' name: model and data, each setting that differs from the defaults, then a
    short hash of all the settings and the data's numbers.

    The readable part may be cut or rounded (``lr0.1000001``, two ``data.csv`` in other
    directories, a long ``--iters``); the hash is not, so runs with different settings or data
    never overwrite each other, and a run with the same name really had the same settings and
    data (training is deterministic: the same numbers), which is what the message on
    replacing says.
    """
    hidden = None if args.model == "two-neuron" else (args.hidden or HIDDEN)
    samples = None if args.data is not None else (args.samples if args.samples is not None else 50)
    parts = [args.model, data.name]
    if hidden is not None and hidden != HIDDEN:
        parts.append(f"h{hidden}")
    if samples is not None and samples != 50:
        parts.append(f"n{samples}")
    if list(args.iters) != list(TRAINING_ITERS):
        parts.append("it" + "-".join(map(str, args.iters)))
    if args.lr != ALPHA:
        parts.append(f"lr{args.lr!r}")
    if args.seed != 0:
        parts.append(f"seed{args.seed}")
    settings = repr((args.model, hidden, samples, list(args.iters), float(args.lr).hex(), args.seed,
                     [float(x).hex() for x in data.xs], [float(y).hex() for y in data.ys]))
    digest = hashlib.sha256(settings.encode("utf-8", "backslashreplace")).hexdigest()[:10]
    return re.sub(r"[^\w.-]+", "_", "-".join(parts))[:100] + "-" + digest


def _unwritable(path: str, example: str = "model.json") -> str:
    """Why a file could not be written at ``path`` ('' if it can): a file is really created there and removed."""
    try:
        check_writable(path, example)
    except OSError as e:
        return e.strerror or str(e)
    except ValueError as e:  # UnsafeTargetError too: a pipe, a link loop, hard links
        return str(e)
    return ""


def _fail(message: str, code: int = 1) -> int:
    print(f"micrograd-ws train: error: {message}", file=sys.stderr)
    return code
