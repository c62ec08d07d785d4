# One line each: `make demo` runs the system, `make test` runs the tests.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test demo bench pictures lint clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,emulator,demo]'
	touch $(STAMP)

venv: $(STAMP)

## make test: lint, type-check and run every test (needs mosquitto on PATH: apt-get install mosquitto mosquitto-clients)
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

## make demo: broker + publisher (sample history) + a display node drawing in this terminal; Ctrl-C stops all
demo: $(STAMP)
	$(BIN)/fdc demo

## make pictures: regenerate the README's PNGs of the emulated matrix, the Home Assistant card and fdc web's page (needs chromium)
pictures: $(STAMP)
	$(BIN)/python scripts/make_pictures.py
	$(BIN)/python scripts/make_dashboard_picture.py
	$(BIN)/python scripts/make_web_picture.py

## make bench: every benchmark at full size, a few minutes; writes BENCHMARKS.md (python -m benchmarks --help)
bench: $(STAMP)
	$(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build *.egg-info
