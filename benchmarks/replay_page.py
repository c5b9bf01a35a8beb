"""The explorer's replay of the handout's run: training time with and without recording, the
page's size, and how long each frame takes while scrubbing it in headless Chromium.

    python benchmarks/replay_page.py [ITERS]          # default 100,500,1000,5000 at h = 100
    python benchmarks/replay_page.py --page FILE.html # only the browser part, on a page written before

Budgets (issue 13): the h = 100, 5,000-iteration page under 8 MB; recording the replay keeps
the training loop's speed; scrubbing smooth: no frame over 100 ms.  Four ways of scrubbing are
timed at 1440×900 (a projector): the slider moved one step per frame over the whole run,
goto_iteration to every held moment and back, the ← → keys through the held moments, and a
mouse drag along the slider.  For each, the longest task of the page's main thread in
Chromium's performance timeline (a trace: it includes the canvas's raster, which software
rendering does there), the Long Tasks API's tasks over 50 ms, and the longest gap between
animation frames.
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from micrograd_ws import two_hidden_layers  # noqa: E402
from micrograd_ws.commands.train import iteration_counts  # noqa: E402
from micrograd_ws.data import make_dataset  # noqa: E402
from micrograd_ws.explorer import explore  # noqa: E402
from micrograd_ws.train import replay_iterations, train  # noqa: E402

WATCH = """() => {  // long tasks and gaps between animation frames, until collected
  window.__bench = { long: [], gaps: [], last: performance.now(), on: true };
  if (!window.__watching) {  // one observer for the page: each phase's tasks go to that phase's record
    window.__watching = new PerformanceObserver((l) => window.__bench.long.push(...l.getEntries().map((e) => e.duration)));
    window.__watching.observe({ type: 'longtask' });
  }
  const tick = (now) => { const b = window.__bench; b.gaps.push(now - b.last); b.last = now; if (b.on) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
}"""
COLLECT = """async () => { await new Promise((ok) => setTimeout(ok, 100)); const b = window.__bench; b.on = false;
  return { long: b.long, gaps: b.gaps }; }"""
NEXT_FRAME = "new Promise((ok) => requestAnimationFrame(() => setTimeout(ok, 0)))"
SLIDER = """async () => { const s = document.getElementById('replay-k'), n = +s.max;
  for (let i = 0; i <= 240; i++) { s.value = Math.round(n * i / 240); s.dispatchEvent(new Event('input')); await %s; } }""" % NEXT_FRAME
HELD = """async () => { const its = explorer.iterations;
  for (const k of its.concat(its.slice().reverse())) { explorer.goto_iteration(k); await %s; } }""" % NEXT_FRAME


def _main_thread_tasks(raw: bytes) -> list[float]:
    """Durations (ms) of the renderer main thread's tasks in a Chromium trace."""
    events = json.loads(raw)
    events = events["traceEvents"] if isinstance(events, dict) else events
    main = {(e["pid"], e["tid"]) for e in events
            if e.get("ph") == "M" and e.get("name") == "thread_name" and e["args"].get("name") == "CrRendererMain"}
    return [e["dur"] / 1000 for e in events if e.get("ph") == "X" and e.get("name") == "RunTask"
            and (e["pid"], e["tid"]) in main and "dur" in e]


def scrub(path: Path) -> int:
    """Time the four ways of scrubbing the replay page at ``path``; returns how many frames took over 100 ms."""
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    over = 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        p = browser.new_page(viewport={"width": 1440, "height": 900})
        p.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
        p.goto(path.resolve().as_uri())
        p.wait_for_function("window.explorer !== undefined")
        p.evaluate("explorer.loaded.then(() => explorer.goto_iteration(0))")

        def keys():
            p.locator("#view").click(position={"x": 5, "y": 5})  # the page's keys, not the slider's
            for key in ["ArrowRight"] * (len(p.evaluate("explorer.iterations")) - 1) + ["ArrowLeft"] * 5:
                p.keyboard.press(key)
                p.evaluate(NEXT_FRAME)

        def drag():
            box = p.locator("#replay-k").bounding_box()
            y = box["y"] + box["height"] / 2
            p.mouse.move(box["x"] + 2, y)
            p.mouse.down()
            for i in range(61):
                p.mouse.move(box["x"] + 2 + (box["width"] - 4) * i / 60, y)
                p.evaluate(NEXT_FRAME)
            p.mouse.up()

        for what, run in (("slider, one step per frame", lambda: p.evaluate(SLIDER)),
                          ("goto_iteration, every held moment and back", lambda: p.evaluate(HELD)),
                          ("→ / ← through the held moments", keys), ("mouse drag along the slider", drag)):
            p.evaluate("explorer.goto_iteration(0)")
            p.wait_for_timeout(200)
            browser.start_tracing(page=p, categories=["devtools.timeline", "disabled-by-default-devtools.timeline", "toplevel"])
            p.evaluate(WATCH)
            run()
            seen = p.evaluate(COLLECT)
            tasks = sorted(_main_thread_tasks(browser.stop_tracing()), reverse=True)
            gaps = sorted(seen["gaps"], reverse=True)
            over += sum(t > 100 for t in tasks)
            print(f"  {what}: longest main-thread task {tasks[0]:.1f} ms ({sum(t > 100 for t in tasks)} over 100 ms), "
                  f"{len(seen['long'])} long tasks (> 50 ms){': ' + str(sorted(map(round, seen['long']), reverse=True)[:8]) if seen['long'] else ''}; "
                  f"{len(gaps)} frames, longest gap {gaps[0]:.1f} ms")
        browser.close()
    return over


def main(argv: list[str]) -> int:
    if argv[:1] == ["--page"]:
        print(f"{argv[1]}: {Path(argv[1]).stat().st_size / 1e6:.2f} MB; scrubbing at 1440×900:")
        return 1 if scrub(Path(argv[1])) else 0
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
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = explore(history).save(Path(tmp) / "replay.html")
        print(f"{counts[-1]} iterations trained in {seconds:.1f} s; page written in {time.perf_counter() - t0:.1f} s: "
              f"{path.stat().st_size / 1e6:.2f} MB (budget 8 MB), {len(history.moments)} moments held")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
            p = browser.new_page()
            p.goto(path.as_uri())
            p.wait_for_function("window.explorer !== undefined")
            p.evaluate("explorer.loaded")
            for s in history.snapshots:
                got = p.evaluate(f"explorer.goto_iteration({s.iteration}).cost")
                print(f"  iteration {s.iteration:>5}: mean C {got:.10g} in the page, {s.loss:.10g} in the summary"
                      f"{'' if got == s.loss else '  DIFFERENT'}")
            browser.close()
        print("scrubbing at 1440×900:")
        over = scrub(path)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
