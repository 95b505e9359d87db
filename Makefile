# forumdb developer commands. `make setup` once, then `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup test lint format unit bench clean

## setup: venv, the package with its test extras, and the test tools (helm, kubectl, etcd,
## kube-apiserver) into .tools/ -- idempotent, safe to run again
setup:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	PYTHONPATH=tests $(BIN)/python -m harness.provision

## test: lint, format check, then the whole suite (kind and live-AWS tests skip with a reason)
test: lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup --durations=15

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## demo: the whole stack on this machine (forumctl dev up); `.venv/bin/forumctl dev down` stops it
.PHONY: demo
demo:
	$(BIN)/forumctl dev up

## unit: the fast layer only
unit:
	$(BIN)/python -m pytest tests/unit -q

clean:
	rm -rf $(VENV) .tools .pytest_cache .ruff_cache .hypothesis
