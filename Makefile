# The two commands of the README: `make run` and `make test`. Both set up what they need.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Every dependency is pinned with its hashes (pyproject.toml keeps the ranges); `make lock`
# writes the locks again after a change to pyproject.toml.
LOCK_FLAGS := --generate-hashes --universal --python-version 3.11 --quiet --custom-compile-command "make lock"

.PHONY: install run test lint unit bench lock clean

$(VENV)/.installed: requirements-dev.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.installed

# Embedded Postgres, mock exchange, gateway and demo data; Ctrl-C stops everything.
run: install
	$(PY) -m gateway up

# Lint and type-check, then the whole suite against a real Postgres the tests start.
test: lint unit

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

unit: install
	$(PY) -m pytest

bench: install
	$(PY) bench/run.py

# The runtime lock (the image) takes the dev lock's versions, so tests run what ships;
# it adds setuptools, the build backend the Dockerfile builds the project with.
lock: install
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev $(LOCK_FLAGS) -o requirements-dev.lock
	echo "setuptools>=68" | $(VENV)/bin/uv pip compile pyproject.toml - -c requirements-dev.lock \
		$(LOCK_FLAGS) -o requirements.lock

clean:
	rm -rf $(VENV) .local .pytest_cache .mypy_cache .ruff_cache
