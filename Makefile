# The two set-up commands of the README:
#   make run   installs ditto-live and generates a clip with the embedded default model
#   make test  installs what the tests need (system packages first: scripts/install_system_deps.sh) and runs
#              ruff, the figures check, mypy, pytest and the device's node tests (what CI runs)
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip

.PHONY: install install-dev run test system-deps lint typecheck pytest node-test slow-test

install:
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e .

install-dev:
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[dev]"

run: install
	@if [ -f ditto_live/assets/default/base/model.json ]; then \
		ditto-live generate --intensity crescendo --out out/first_clip; \
	else \
		echo "NOTE: no trained default model is bundled: running the tiny UNTRAINED preset (noise-like audio)."; \
		echo "      Build the default bundle with scripts/train_all.sh."; \
		ditto-live generate --model tiny-untrained --intensity crescendo --out out/first_clip; \
	fi

# JACK, PortAudio, FluidSynth, liblo-tools, Node.js: apt installs the missing ones (sudo when not root); without
# apt it stops here with one line naming what is missing and how to get it, not deep inside a test
system-deps:
	@bash scripts/install_system_deps.sh

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) scripts/figures.py --check

typecheck:
	$(PYTHON) scripts/typecheck.py

pytest:
	$(PYTHON) -m pytest -q

node-test:
	@if [ -f ableton_device/package.json ]; then cd ableton_device && node --test; fi

test: system-deps install-dev lint typecheck pytest node-test

slow-test:
	$(PYTHON) -m pytest -q -m slow
