"""The explorer's budgets: page size, and first paint / interactive in headless Chromium.

    python benchmarks/explorer_page.py      # needs Debian's chromium and the playwright package

Budgets (issue 12): the two-neuron page under 300 KB, the h = 100 handout net under 3 MB,
both interactive in under 1 s.  "Interactive" is the moment ``window.explorer`` exists (the
steps, both views and the controls work); the inspector's chain-rule texts arrive after it.
"""
from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from micrograd_ws import explore, squared_error, two_hidden_layers, two_neuron  # noqa: E402


def page(hidden: int | None, folder: Path) -> tuple[Path, float]:
    net = two_neuron(seed=0) if hidden is None else two_hidden_layers(hidden=hidden, seed=0)
    C = squared_error(net(2.0), 1.0)
    C.backward()
    start = time.perf_counter()
    path = explore(C).save(folder / f"h{hidden}.html")
    return path, time.perf_counter() - start


def load_times(browser, path: Path, rounds: int = 5) -> dict[str, float]:
    runs = []
    for _ in range(rounds):
        p = browser.new_page(viewport={"width": 1400, "height": 900})
        p.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
        p.goto(path.as_uri())
        p.wait_for_function("window.explorer !== undefined")
        p.wait_for_function("performance.getEntriesByName('first-contentful-paint').length > 0")
        runs.append(p.evaluate("""explorer.loaded.then(e => ({
            paint: performance.getEntriesByName('first-contentful-paint')[0].startTime,
            interactive: e.readyAt, inspector: e.loadedAt}))"""))
        p.close()
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main() -> int:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        print("chromium is not installed (Debian/Ubuntu: sudo apt-get install chromium)")
        return 1
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        print(f"{'page':<22} {'size':>10} {'budget':>8} {'python s':>9} {'paint ms':>9} {'interactive ms':>15} "
              f"{'inspector ms':>13}")
        for hidden, label, budget in [(None, "two-neuron", 300e3), (100, "h = 100 handout net", 3e6)]:
            path, seconds = page(hidden, Path(tmp))
            t = load_times(browser, path)
            size = path.stat().st_size
            print(f"{label:<22} {size / 1e3:>8.0f}KB {budget / 1e3:>6.0f}KB {seconds:>9.2f} {t['paint']:>9.0f} "
                  f"{t['interactive']:>15.0f} {t['inspector']:>13.0f}")
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
