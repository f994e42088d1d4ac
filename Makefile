# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench bench-quix faults clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/wapipe demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy pipeline

# Three test processes: most tests wait on brokers and sockets, not on the 2 CPUs; one file
# stays in one process so module-scoped brokers are shared by its tests.
PYTEST_WORKERS ?= 3

test: $(STAMP) lint
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadfile

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

# Issue 6's comparison: the engagement agent and the same fold as a Quix Streams app, one run.
QUIX := .venv-quix
$(QUIX)/.installed: bench/quix-requirements.txt
	$(PYTHON) -m venv $(QUIX)
	$(QUIX)/bin/python -m pip install --quiet -r bench/quix-requirements.txt
	touch $(QUIX)/.installed

bench-quix: $(STAMP) $(QUIX)/.installed
	$(BIN)/python bench/engagement.py --quix $(QUIX)/bin/python

# The fault scenarios at the issue's size (50,000 events); -s shows each scenario's counts.
# Each takes several minutes there, beyond the suite's 300 s per-test timeout.
faults: $(STAMP)
	WAPIPE_FAULTS_SCALE=full $(BIN)/python -m pytest -q -s -p no:cacheprovider --timeout=3600 tests/faults

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
