# forumdb developer commands. On a fresh machine, `make demo` runs the whole stack and
# `make test` the whole suite; each sets itself up first (venv, package, test tools), and that
# set-up is near-free when nothing changed (a stamp newer than pyproject.toml and the provisioner).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.forumdb-setup

.PHONY: setup test lint format unit demo bench clean

## setup: venv, the package with its dev and test extras, and the test tools (helm, kubectl,
## etcd, kube-apiserver; for the real-node tier kubelet, kube-controller-manager, kube-scheduler,
## kube-proxy, and as root the node's Debian packages) into .tools/ -- idempotent; `make test`
## and `make demo` run it as needed
setup:
	rm -f $(STAMP)
	$(MAKE) $(STAMP)

$(STAMP): pyproject.toml tests/harness/provision.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	PYTHONPATH=tests $(BIN)/python -m harness.provision
	touch $@

## test: set-up if needed, lint and format check, then the whole suite (the real-node tier
## runs as root, in one worker; kind, node without root/containerd, and live-AWS tests skip
## with a reason)
test: $(STAMP) lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup --durations=15

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## demo: set-up if needed, then the whole stack on this machine (forumctl dev up);
## `.venv/bin/forumctl dev down` stops it
demo: $(STAMP)
	$(BIN)/forumctl dev up

## unit: the fast layer only
unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit -q

clean:
	rm -rf $(VENV) .tools .pytest_cache .ruff_cache .hypothesis
