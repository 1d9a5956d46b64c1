# hvsec.hypervisor: one entry point. Every target installs what it needs itself.
# Quick start:  make audit   (per-control report of this machine)
#               make test    (the whole suite: lint, sanity, units, e2e, lab + Molecule)
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := $(CURDIR)/.venv
SVENV := $(CURDIR)/.venv-sanity
MVENV := $(CURDIR)/.venv-mutation
BIN := $(VENV)/bin
COLLECTIONS := $(CURDIR)/.build/collections
COLL_LINK := $(COLLECTIONS)/ansible_collections/hvsec/hypervisor
# ansible-test enumerates files with git when it finds a .git above the collection, so the
# copy it tests must live outside this (git-ignored) checkout or it sees no files at all.
TEST_ROOT ?= /tmp/hvsec-ansible-test-$(shell printf '%s' '$(CURDIR)' | md5sum | cut -c1-10)
TEST_TREE := $(TEST_ROOT)/ansible_collections/hvsec/hypervisor
INVENTORY ?= $(CURDIR)/playbooks/inventory/localhost.yml
AUDIT_ARGS ?=

export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PATH := $(BIN):$(PATH)

.PHONY: help venv audit-venv sanity-venv collection test-tree audit test lint sanity units docs docs-check \
        e2e test-safety mutation bench-fleet deps lab-deps lab-image lab-up lab-down lab-ssh lab-amd test-lab-full molecule bench bench-harden build clean

help:
	@echo "make audit      audit this machine (INVENTORY=file to audit an inventory)"
	@echo "make test       run the whole test suite (lint, sanity, units, e2e, lab + Molecule)"
	@echo "make lint | sanity | units | test-safety | docs | e2e | molecule | bench | bench-fleet | build"
	@echo "make mutation AREA=parsers   (mutation score of one area, docs/testing.md)"
	@echo "make lab-up | lab-down | lab-ssh   (LAB_IOMMU=amd for the AMD-Vi variant)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# make audit installs only what the audit needs (requirements-audit.txt: ansible-core, jmespath,
# netaddr; 11 packages). Everything else (tests, lint, docs, Molecule, packaging) is in
# requirements.txt, a superset with the same pins, installed by the targets that need it.
$(VENV)/.stamp-audit: requirements-audit.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-audit.txt
	touch $@
audit-venv: $(VENV)/.stamp-audit

$(VENV)/.stamp: requirements.txt requirements-audit.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@
venv: $(VENV)/.stamp

$(SVENV)/.stamp: requirements-sanity.txt tests/sanity/pip_bootstrap.py
	$(PYTHON) -m venv $(SVENV)
	$(SVENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-sanity.txt
	@# ansible-test downloads a pip bootstrap script from a host outside the package
	@# registries; ours does the same from ensurepip (see the script's docstring).
	mkdir -p $(HOME)/.ansible/test/cache
	v=$$(sed -n "s/^ *pip='\\([0-9.]*\\)',/\\1/p" $(SVENV)/lib/python3.11/site-packages/ansible_test/_internal/python_requirements.py); \
	  test -n "$$v" && cp tests/sanity/pip_bootstrap.py $(HOME)/.ansible/test/cache/get_pip_$${v//./_}.py
	touch $@
sanity-venv: $(SVENV)/.stamp

# Ansible resolves hvsec.hypervisor.* through a collections path that links to this tree.
collection:
	@mkdir -p $(dir $(COLL_LINK))
	@ln -sfn $(CURDIR) $(COLL_LINK)

# ansible-test needs a real ansible_collections/hvsec/hypervisor directory.
test-tree:
	@rm -rf $(TEST_TREE) && mkdir -p $(TEST_TREE)
	@tar -C $(CURDIR) --exclude=./.git --exclude=./.venv --exclude=./.venv-sanity --exclude=./.venv-mutation --exclude=./.build \
	  --exclude=./.lab --exclude=./reports --exclude=./tests/output --exclude=./bench/results \
	  --exclude=__pycache__ --exclude=./.cache --exclude=.pytest_cache --exclude=./.hypothesis -cf - . | tar -C $(TEST_TREE) -xf -

# Exit status (docs/audit.md): 0 audited, no gate tripped; 2 a host failed (gate, refused settings,
# facts module failed); 4 a host was unreachable.
audit: audit-venv collection
	ansible-playbook -i $(INVENTORY) $(CURDIR)/playbooks/audit.yml $(AUDIT_ARGS)

lint: venv collection
	ansible-lint --profile production --offline

# Installs shellcheck if missing; fails when ansible-test skips a test for a missing tool.
sanity: sanity-venv test-tree
	bash tests/run-sanity.sh $(TEST_TREE) $(SVENV)/bin/ansible-test

units: sanity-venv test-tree
	cd $(TEST_TREE) && $(SVENV)/bin/ansible-test units --local --python 3.11 --color no

docs: venv
	$(BIN)/python tools/gen_docs.py

docs-check: venv
	$(BIN)/python tools/gen_docs.py --check

# tests/e2e/test_bad_input.py runs in test-safety (also part of `make test`), not twice.
e2e: venv collection
	$(BIN)/pytest -q tests/e2e --ignore=tests/e2e/test_bad_input.py

# Safety proofs without the lab (issue 9): bad input refused before any change, the collection's
# own security (no_log, file modes, no temporary files left), parsers fuzzed. One summary line.
test-safety: venv collection
	bash tests/run-safety.sh

deps:
	@bash lab/deps.sh

lab-image: deps venv
	@bash lab/build-image.sh

lab-up: deps venv
	@bash lab/up.sh

lab-down:
	@bash lab/down.sh

lab-ssh:
	@bash lab/ssh.sh

molecule: deps venv collection
	bash lab/run-molecule.sh

# Everything the lab can prove, beyond make test's time budget: the scenario with fault injection
# and the extended role-run proofs, then the AMD-Vi variant.
test-lab-full: deps venv collection
	HVSEC_MOLECULE_FAULTS=1 HVSEC_MOLECULE_SHAPES=1 HVSEC_LAB_EXTENDED=1 bash lab/run-molecule.sh
	bash lab/run-lab-amd.sh

# The AMD-Vi variant of the lab: boot, facts/harness/audit tests, stop.
lab-amd: deps venv collection
	bash lab/run-lab-amd.sh

# Mutation testing (docs/testing.md): a measurement like the benchmarks, not part of `make test`.
# One area at a time, at the lowest CPU priority; the summary goes to tests/output/mutation/AREA.txt.
AREA ?= parsers
MUTATION_JOBS ?= 2
MUTATION_ROOT ?= /tmp/hvsec-mutation-$(shell printf '%s' '$(CURDIR)' | md5sum | cut -c1-10)
$(MVENV)/.stamp: requirements-mutation.txt
	$(PYTHON) -m venv $(MVENV)
	$(MVENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-mutation.txt
	touch $@
# MUTATION_REV=HEAD (the default) measures that commit; MUTATION_REV= (empty) the work tree.
MUTATION_REV ?= HEAD
mutation: $(MVENV)/.stamp
	@if [ -n "$(MUTATION_REV)" ]; then \
	  rm -rf $(MUTATION_ROOT)/$(AREA) && mkdir -p $(MUTATION_ROOT)/$(AREA)/ansible_collections/hvsec/hypervisor && \
	  git archive $(MUTATION_REV) | tar -C $(MUTATION_ROOT)/$(AREA)/ansible_collections/hvsec/hypervisor -xf -; \
	else $(MAKE) --no-print-directory test-tree TEST_ROOT=$(MUTATION_ROOT)/$(AREA); fi
	nice -n 19 $(MVENV)/bin/python tools/mutation.py --area $(AREA) --root $(MUTATION_ROOT)/$(AREA) \
	  --jobs $(MUTATION_JOBS) --out $(CURDIR)/tests/output/mutation --source $(CURDIR) --rev '$(MUTATION_REV)'

# make bench: the audit on localhost, then (BENCH_LAB=1, the default) hardening at audit cost on the
# lab VM (bench-harden: boots, prepares and hardens the lab, ~35 min of TCG). BENCH_LAB=0: localhost only.
BENCH_LAB ?= 1
bench: venv collection
	$(BIN)/python bench/audit_bench.py
	@if [ "$(BENCH_LAB)" = 1 ]; then $(MAKE) --no-print-directory bench-harden; fi

# Audit, full harden re-run and skipping harden re-run on the hardened lab VM (bench/harden_bench.py).
bench-harden: deps venv collection
	HVSEC_MOLECULE_BENCH=1 HVSEC_MOLECULE_LAB_DIR=$(CURDIR)/.lab/bench bash lab/run-molecule.sh

# Fleet benchmark: N hosts on 127.0.x.x served by local sshd instances, audit vs a naive baseline;
# FLEET_ARGS='--sizes 100,500 --baseline-sizes ""' for 500 hosts, '--slices 4' for a sliced run merged.
bench-fleet: audit-venv collection
	$(BIN)/python bench/fleet.py $(FLEET_ARGS)

build: venv
	mkdir -p .build/dist
	ansible-galaxy collection build --force --output-path .build/dist .

test: venv sanity-venv collection
	bash tests/run-all.sh

clean: lab-down
	rm -rf .build reports tests/output
