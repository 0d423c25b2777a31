# Everything Opsloom needs is installed from here: `make demo` and `make test`
# work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test test-sqlite test-postgresql bench bench-flows lint

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/opsloom demo

test: install
	$(PY) -m pytest -n 2 --dist loadgroup

test-sqlite: install
	$(PY) -m pytest -n 2 -k "not postgresql"

test-postgresql: install
	$(PY) -m pytest -n 2 -k "postgresql"

bench: install
	$(PY) bench/records_api.py

bench-flows: install
	$(PY) bench/flows.py --databases postgresql --instances 10000

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
