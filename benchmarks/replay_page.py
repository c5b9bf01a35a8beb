"""The explorer's replay of the handout's run: training time with and without recording, the
page's size, and frame times while scrubbing it in headless Chromium.

    python benchmarks/replay_page.py [ITERS]    # default 100,500,1000,5000 at h = 100

Budgets (issue 13): the h = 100, 5,000-iteration page under 8 MB; recording the replay keeps
the training loop's speed; scrubbing smooth (no frame over 100 ms).  Frames are timed with
requestAnimationFrame deltas and the Long Tasks API while the slider moves one step per frame.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from micrograd_ws import two_hidden_layers  # noqa: E402
from micrograd_ws.data import make_dataset  # noqa: E402
from micrograd_ws.explorer import explore  # noqa: E402
from micrograd_ws.train import iteration_counts, replay_iterations, train  # noqa: E402

SCRUB = """async () => {
  const s = document.getElementById('replay-k'), n = +s.max, deltas = [], long = [];
  new PerformanceObserver((l) => long.push(...l.getEntries().map((e) => e.duration))).observe({ type: 'longtask' });
  let last = performance.now();
  for (let i = 0; i <= 240; i++) {
    s.value = Math.round(n * i / 240); s.dispatchEvent(new Event('input'));
    await new Promise((ok) => requestAnimationFrame(ok));
    const now = performance.now(); deltas.push(now - last); last = now;
  }
  await new Promise((ok) => setTimeout(ok, 50));
  deltas.sort((a, b) => a - b);
  return { frames: deltas.length, median: deltas[deltas.length >> 1], p95: deltas[Math.floor(deltas.length * 0.95)],
           max: deltas[deltas.length - 1], longTasks: long.length, longest: Math.max(0, ...long),
           tasks: long.sort((a, b) => b - a).map(Math.round) };
}"""


def main(argv: list[str]) -> int:
    from playwright.sync_api import sync_playwright

    counts = iteration_counts(argv[0]) if argv else [100, 500, 1000, 5000]
    data = make_dataset("sin", 50)
    t0 = time.perf_counter()
    train(two_hidden_layers(100, seed=0), data, counts[:2])
    plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    train(two_hidden_layers(100, seed=0), data, counts[:2], record=replay_iterations(counts[:2]))
    recorded = time.perf_counter() - t0
    print(f"training {counts[1]} iterations at h = 100: {plain:.2f} s plain, {recorded:.2f} s recording "
          f"the replay ({recorded / plain:.3f}×)")
    t0 = time.perf_counter()
    history = train(two_hidden_layers(100, seed=0), data, counts, record=replay_iterations(counts))
    seconds = time.perf_counter() - t0
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        t0 = time.perf_counter()
        path = explore(history).save(Path(tmp) / "replay.html")
        print(f"{counts[-1]} iterations trained in {seconds:.1f} s; page written in {time.perf_counter() - t0:.1f} s: "
              f"{path.stat().st_size / 1e6:.2f} MB (budget 8 MB), {len(history.moments)} moments held")
        browser = pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        p = browser.new_page(viewport={"width": 1400, "height": 900})
        p.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
        p.goto(path.as_uri())
        p.wait_for_function("window.explorer !== undefined")
        p.evaluate("explorer.loaded.then(() => explorer.goto_iteration(0))")
        for s in history.snapshots:
            got = p.evaluate(f"explorer.goto_iteration({s.iteration}).cost")
            print(f"  iteration {s.iteration:>5}: mean C {got:.10g} in the page, {s.loss:.10g} in the summary"
                  f"{'' if got == s.loss else '  DIFFERENT'}")
        r = p.evaluate(SCRUB)
        print(f"scrubbing {r['frames']} frames: median {r['median']:.1f} ms, 95th percentile {r['p95']:.1f} ms, "
              f"longest {r['max']:.1f} ms; {r['longTasks']} long tasks (> 50 ms): {r['tasks']} ms")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
