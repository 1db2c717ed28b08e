# Two entry points for a fresh machine:  make demo  (set up + train + deploy)  and  make test
# (make test-fast: the suite without its slow tests).
# The environment lives in .venv/ and is reused while requirements.txt and pyproject.toml are unchanged.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.neuromap-installed
# Lava runs only on Python 3.10: take it from PATH or from pyenv.
PYTHON310 ?= $(shell for p in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then command -v $$p; break; fi; done)

.PHONY: demo test test-fast env train deploy clean-env

demo: env
	$(PY) -m neuromap.train
	$(PY) -m neuromap.deploy --target sim

test: env
	$(PY) -m pytest -q tests

# day-to-day: every test but those marked slow (tests/conftest.py, SLOW), under 2 minutes on 2 cores
test-fast: env
	$(PY) -m pytest -q -m "not slow" tests

env: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@if [ -z "$(PYTHON310)" ]; then echo "error: Python 3.10 not found (lava-nc runs only on 3.10); install it, e.g. 'pyenv install 3.10', or set PYTHON310=/path/to/python3.10" >&2; exit 2; fi
	@if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then rm -rf $(VENV); $(PYTHON310) -m venv $(VENV); fi
	$(PY) -m pip install -q --upgrade pip
	grep -vE '^(lava-nc|lava-dl)' requirements.txt > $(VENV)/requirements-deps.txt
	$(PY) -m pip install -q -r $(VENV)/requirements-deps.txt
	# lava-dl declares unittest2, whose 'argparse' backport shadows the standard library and
	# breaks pytest; nothing imports it, so install the Lava packages without their declared deps.
	$(PY) -m pip install -q --no-deps $$(grep -E '^(lava-nc|lava-dl)==' requirements.txt)
	$(PY) -m pip uninstall -q -y unittest2 argparse 2>/dev/null || true
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	$(PY) -c 'import lava.lib.dl.netx, neuromap; print("environment ready")'
	touch $(STAMP)

train: env
	$(PY) -m neuromap.train

deploy: env
	$(PY) -m neuromap.deploy --target sim

clean-env:
	rm -rf $(VENV)
