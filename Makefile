# The two set-up commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test install dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .

dev: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'

# The main job: a coordinator and 5 node processes on loopback, live view,
# 400 steps, then a summary.
run: install
	$(BIN)/entro-net up --nodes 5 --steps 400

# Tests, ruff (format check and lint) and mypy, in one go.
test: dev
	$(BIN)/python -m ruff format --check entro_net tests benchmarks
	$(BIN)/python -m ruff check entro_net tests benchmarks
	$(BIN)/python -m mypy
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info
