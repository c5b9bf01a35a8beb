"""Shared test set-up: hypothesis profiles and the rule for optional tools.

Profiles: ``ci`` (used when CI is set) is derandomized with a fixed budget, so a CI
run is repeatable and bounded; ``dev`` explores new random examples each run.
Select one with HYPOTHESIS_PROFILE.
"""
import os
import shutil

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=150, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

IN_CI = bool(os.environ.get("CI"))


def _missing(reason: str):
    """Outside CI a missing optional tool skips the test; in CI it is a failure."""
    if IN_CI:
        pytest.fail(f"{reason} (CI must install it: see the Makefile)")
    pytest.skip(reason)


@pytest.fixture
def torch():
    try:
        import torch as _torch
    except ImportError:
        _missing("torch is not installed (pip install torch==2.13.0)")
    return _torch


@pytest.fixture
def dot():
    path = shutil.which("dot")
    if path is None:
        _missing("Graphviz's dot program is not on PATH")
    return path


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium from the system package (Debian's ``chromium``), driven by Playwright.

    Never a downloaded browser: ``make test`` installs the package (see the Makefile).
    """
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        _missing("Chromium is not installed (Debian/Ubuntu: sudo apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright Python package is not installed (pip install playwright)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="session")
def lab_page(tmp_path_factory):
    """The lab page, written once by ``micrograd-ws lab`` (the pinned runtime comes from the npm
    registry the first time, then from the cache outside the repository)."""
    from micrograd_ws.browserlab.runtime import PYODIDE, VIZ, cache_dir
    from micrograd_ws.cli import main
    if shutil.which("npm") is None and not all((cache_dir() / "npm" / p.filename).is_file() for p in (PYODIDE, VIZ)):
        _missing("npm is not installed and the lab's runtime is not cached (Debian/Ubuntu: sudo apt-get install npm)")
    out = tmp_path_factory.mktemp("lab") / "workshop.html"
    assert main(["lab", "--out", str(out)]) == 0
    return out


@pytest.fixture
def micrograd():
    """micrograd 0.1.0 itself, the reference for the drop-in (setup.cfg's dev extra installs it)."""
    try:
        import micrograd.engine
        import micrograd.nn
    except ImportError:
        _missing("micrograd 0.1.0 is not installed (pip install micrograd==0.1.0)")
    return micrograd
