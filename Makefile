# The two set-up commands of the README:
#   make run   installs ditto-live and generates a clip with the embedded default model
#   make test  installs what the tests need and runs them (what CI runs)
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip

.PHONY: install install-dev run test lint pytest node-test slow-test

install:
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e .

install-dev:
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[dev]"

run: install
	ditto-live generate --intensity crescendo --out out/first_clip

lint:
	$(PYTHON) -m ruff check .

pytest:
	$(PYTHON) -m pytest -q

node-test:
	@if [ -f ableton_device/package.json ]; then cd ableton_device && node --test; fi

test: install-dev lint pytest node-test

slow-test:
	$(PYTHON) -m pytest -q -m slow
