"""The explorer's replay of a training run: scrub through the SGD iterations.

``explore(history)`` (or ``micrograd-ws train ... --explore FILE.html``) writes the explorer
page of the trained net with a timeline: at each iteration the run kept (see
:func:`~micrograd_ws.train.replay_iterations`) the page shows the fit, the cost curve with
a cursor, the network view with that moment's weights, and one parameter's value and
∂C/∂w over time.  The numbers come from Python (the fits with :func:`~micrograd_ws.train.fit`,
exactly as the training summary computes them); the page only picks the moment.
"""
from __future__ import annotations

from ..engine import squared_error
from ..nn import MLP
from ..train import MAX_REPLAY_NUMBERS, Moment, fit, replay_room, thin_iterations

__all__ = ["replay_data"]


def _sizes(state: dict) -> list[int]:
    layers = len(state) // 2
    return [len(state["w1"][0]), *(len(state[f"w{l}"]) for l in range(1, layers + 1))]


def replay_data(history) -> tuple[object, dict]:
    """The cost ``C`` of the trained net on the first sample, and the replay's data for its page.

    Uses ``history.moments`` (kept by ``train(record=...)``), or the schedule's snapshots
    when the run kept none (then without gradients); at most
    :func:`~micrograd_ws.train.replay_room` of them (moments × parameters is capped), thinned evenly.
    """
    data = history.data
    if data is None or not history.snapshots:
        raise ValueError("explore(history): this History has no data or snapshots; pass what train() returned")
    moments = history.moments or [Moment(s.iteration, s.state, None) for s in history.snapshots]
    sizes = _sizes(moments[-1].state)
    model = MLP(sizes[0], sizes[1:])
    marked = {s.iteration: s for s in history.snapshots}
    params = dict(model.named_parameters())
    names = list(params)
    kept = len(moments)
    if len(moments) > replay_room(len(names)):  # a History recorded with more: thinned as train --explore thins
        wanted = set(thin_iterations([m.iteration for m in moments], marked, replay_room(len(names))))
        moments = [m for m in moments if m.iteration in wanted]
    rows = []
    for m in moments:
        grads = None
        if m.grads is not None:
            model.load_state_dict(m.grads)
            grads = [float(f"{params[n].data:.7g}") for n in names]  # for a plot: 7 digits are plenty
        model.load_state_dict(m.state)
        s = marked.get(m.iteration)
        loss, _, curve = (s.loss, s.max_error, s.curve) if s is not None else fit(model, data, history.grid)
        rows.append({"it": m.iteration, "loss": loss, "curve": curve, "values": [params[n].data for n in names],
                     "grads": grads})
    C = squared_error(model(data.xs[0]), data.ys[0])
    C.backward()
    last = len(history.losses)
    replay = {
        "names": names, "moments": rows, "losses": history.losses, "last": last,
        "marked": [s.iteration for s in history.snapshots if s.iteration],
        "grid": history.grid, "xs": data.xs, "ys": data.ys,
        "target": [data.target.fn(x) for x in history.grid] if data.target else None,
        "targetText": data.target.formula if data.target else f"data {data.name}",
        "lr": history.lr, "seed": history.seed,
        "thinned": (f"it keeps {len(rows)} of the {kept:,} moments the run recorded: a replay holds at most "
                    f"{MAX_REPLAY_NUMBERS:,} numbers, 2 per parameter per moment") if kept > len(rows) else "",
        # the parameter plotted first: one that training moved most (many never move, behind off ReLUs)
        "param": max(range(len(names)), key=lambda j: abs(rows[-1]["values"][j] - rows[0]["values"][j])),
    }
    return C, replay
