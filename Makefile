# Everything Opsloom needs is installed from here: `make demo` and `make test`
# work on a fresh machine with Python 3.11+ and npm (Node.js); `make test` also
# installs Debian's chromium for the browser tests (apt-get, as root or via sudo).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed

.PHONY: install browser demo test test-sqlite test-postgresql bench bench-flows bench-pages bench-load bench-peers lint typecheck

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# Third-party browser scripts (served at /vendor/), exactly as package-lock.json pins them.
$(NPM_STAMP): package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm is missing: install Node.js with npm (Debian: apt-get install npm), then run make again" >&2; exit 1; }
	npm ci --no-audit --no-fund
	touch $(NPM_STAMP)

install: $(STAMP) $(NPM_STAMP)

browser:
	sh scripts/install-chromium.sh

demo: install
	$(VENV)/bin/opsloom demo

test: install browser
	$(VENV)/bin/mypy
	$(PY) -m pytest -n 2 --dist loadgroup

test-sqlite: install browser
	$(PY) -m pytest -n 2 --dist loadgroup -k "not postgresql"

test-postgresql: install browser
	$(PY) -m pytest -n 2 --dist loadgroup -k "postgresql"

bench: install
	$(PY) bench/records_api.py

bench-flows: install
	$(PY) bench/flows.py --databases postgresql --instances 10000

bench-pages: install
	$(PY) bench/pages.py

bench-load: install
	$(PY) bench/load.py

bench-peers: install
	$(PY) bench/peers.py

typecheck: install
	$(VENV)/bin/mypy

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
