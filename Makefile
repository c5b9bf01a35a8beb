# Two commands for a fresh machine:  `make demo`  and  `make test`.
# Each creates .venv and installs what it needs into it (`demo`: only the demo's packages,
# the `demo` extra; `test`: the rest as well, torch and the test tools), and installs
# Graphviz's `dot` with the system package manager when it is missing and that is permitted.
# The demo recipe is what the README tells Windows users to type (tests/test_readme.py checks).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# torch is a test oracle only; 2.13.0 is the CPU build (pip takes it from local wheels here).
TORCH  ?= torch==2.13.0

.PHONY: demo test lab bench dot chromium npm venv clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# --no-compile: Python compiles what the demo imports when it first runs (about a third
# less install time than compiling all of matplotlib and numpy up front)
$(VENV)/.demo: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install -q --no-compile -e ".[demo]"
	touch $@

$(VENV)/.dev: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev,torch]"
	touch $@

venv: $(VENV)/.dev

# `apt-get install $(1)` as root or with password-less sudo, saying so first; false where neither
# is possible (or the install fails), so the caller can try another way or say what to do.
apt_install = { command -v apt-get >/dev/null 2>&1 && \
	if [ "$$(id -u)" = 0 ]; then sudo=; elif sudo -n true 2>/dev/null; then sudo=sudo; else false; fi && \
	echo "installing $(1) ($${sudo:+sudo }apt-get install $(1))" && \
	$$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null; }

# Graphviz's `dot` program renders the gradient graphs.
dot:
	@if command -v dot >/dev/null 2>&1; then :; \
	elif $(call apt_install,graphviz); then :; \
	elif command -v brew >/dev/null 2>&1; then \
		echo "installing Graphviz (brew install graphviz)"; brew install graphviz; \
	else \
		echo "Graphviz's 'dot' is missing and cannot be installed from here. Install it, then run again:"; \
		echo "  Debian/Ubuntu: sudo apt-get install graphviz   macOS: brew install graphviz"; \
		echo "  Windows: winget install graphviz (or choco install graphviz)"; \
	fi

# Debian's Chromium runs the explorer's browser tests (Playwright drives it; no browser download).
chromium:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then :; \
	elif $(call apt_install,chromium); then :; \
	else \
		echo "Chromium is missing and cannot be installed from here; the explorer's browser tests need it:"; \
		echo "  Debian/Ubuntu: sudo apt-get install chromium"; \
	fi

# npm fetches the lab's pinned runtime (Pyodide, viz-js) from the npm registry once; it is then cached
# outside the repository (~/.cache/micrograd_ws, or $$MICROGRAD_WS_CACHE).
npm:
	@if command -v npm >/dev/null 2>&1; then :; \
	elif $(call apt_install,npm); then :; \
	elif command -v brew >/dev/null 2>&1; then \
		echo "installing Node.js and npm (brew install node)"; brew install node; \
	else \
		echo "npm is missing and cannot be installed from here; the lab needs it once to fetch its runtime:"; \
		echo "  Debian/Ubuntu: sudo apt-get install npm   macOS: brew install node   Windows: winget install OpenJS.NodeJS"; \
	fi

test: $(VENV)/.dev dot chromium npm
	$(BIN)/python -m pytest

demo: $(VENV)/.demo dot
	$(BIN)/micrograd-ws train
	$(BIN)/micrograd-ws graphs
	$(BIN)/micrograd-ws explore
	@echo "The explorer of the handout net (h = 100): open out/explorer.html in a browser (f: present mode)"
	@echo "  (or: $(BIN)/micrograd-ws explore --open)"

# The lab: one offline page, the explorer plus Python running micrograd_ws (Pyodide); open it from anywhere.
lab: $(VENV)/.demo dot npm
	$(BIN)/micrograd-ws lab --out out/workshop.html
	@echo "The lab: open out/workshop.html in a browser (no network needed; Start Python runs micrograd_ws in the page)"

# micrograd 0.1.0, the baseline, goes only into the benchmark's own environment.
BENCH := .venv-bench
$(BENCH)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(BENCH)
	$(BENCH)/bin/python -m pip install -q "$(TORCH)"
	$(BENCH)/bin/python -m pip install -q -e ".[bench,torch]"
	touch $@

bench: $(BENCH)/.installed
	$(BENCH)/bin/python benchmarks/run.py

clean:
	rm -rf $(VENV) $(BENCH) out .pytest_cache .hypothesis
