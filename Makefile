# Baton: every target sets itself up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench lint clean llm-e2e

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,llm]'
	@touch $(STAMP)

demo: setup
	$(BIN)/baton demo

test: lint
	$(BIN)/python -m pytest -q

bench: setup
	@mkdir -p bench/results
	$(BIN)/baton bench --json bench/results/bench.json

# the environment of the LLM agent's real-model test (.venv-llm, from a prebuilt wheel)
llm-e2e: setup
	bash tools/llm_e2e_setup.sh
	$(BIN)/python -m pytest -q tests/test_agents_llm_e2e.py

lint: setup
	$(BIN)/ruff check src tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .venv-llm build *.egg-info .pytest_cache .mypy_cache .ruff_cache artifacts
