# The two commands: `make demo` (install + run on the embedded defaults) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
PG_URL ?= postgres://postgres@127.0.0.1:5432/guanwei
PYTEST_ARGS ?=
# -n 2: the machines have two cores. A test hanging 10 minutes fails (pytest-timeout) rather
# than stalling the whole run.
PYTEST := $(BIN)/pytest -q -n 2 --timeout=600

.PHONY: demo install test test-sqlite test-postgres browser-deps lint bench clean

$(BIN)/guanwei: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,dev]"
	touch $(BIN)/guanwei

install: $(BIN)/guanwei

demo: install
	$(BIN)/guanwei demo --port $(PORT)

# Debian's Chromium for the browser tests (Playwright may not download its own browser here), and
# axe-core from npm (package.json pins it; tests/browser/axe.py injects it from node_modules, never
# from a CDN).
AXE := node_modules/axe-core/axe.min.js
browser-deps: $(AXE)
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk) >/dev/null \
	      || echo "!! could not install chromium: browser tests will be skipped"; \
	  else \
	    echo "!! /usr/bin/chromium missing and not root: run 'sudo apt-get install chromium fonts-noto-cjk'; browser tests will be skipped"; \
	  fi; \
	fi

$(AXE): package.json package-lock.json
	@if ! command -v npm >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm) >/dev/null \
	    || echo "!! could not install npm: the accessibility tests will fail"; \
	fi
	npm ci --no-audit --no-fund --loglevel=error
	touch $(AXE)

test: install browser-deps test-sqlite test-postgres

# pytest exits 5 when a selection (PYTEST_ARGS="-k …") collects nothing: not a failure.
# Browser tests (marked `browser`, all in tests/browser/ so they share one session browser) run
# after the rest in one process without xdist: Playwright's sync API starts once per process.
# With PYTEST_ARGS (a developer's selection) everything runs in one go.
SQLITE_ENV := GUANWEI_ENV=test DATABASE_URL=sqlite:///$(CURDIR)/var/test.db
test-sqlite: install
ifeq ($(strip $(PYTEST_ARGS)),)
	$(SQLITE_ENV) $(PYTEST) -m "not browser" || [ $$? -eq 5 ]
	@echo "== browser tests"
	$(SQLITE_ENV) $(BIN)/pytest -q --timeout=600 -p no:xdist -m browser || [ $$? -eq 5 ]
else
	$(SQLITE_ENV) $(PYTEST) $(PYTEST_ARGS) || [ $$? -eq 5 ]
endif

# Runs again on PostgreSQL when one answers at 127.0.0.1:5432 (skipped, with a note, otherwise).
# The server is probed through its `postgres` database; pytest-django creates test_<name>_gwN.
test-postgres: install
	@if $(BIN)/python -c "import sys, psycopg; from urllib.parse import urlsplit; \
	    psycopg.connect(urlsplit(sys.argv[1])._replace(path='/postgres').geturl(), connect_timeout=3).close()" \
	    '$(PG_URL)' 2>/dev/null; then \
	  echo "== again on PostgreSQL"; \
	  GUANWEI_ENV=test DATABASE_URL=$(PG_URL) $(PYTEST) -m "not browser" $(PYTEST_ARGS) || [ $$? -eq 5 ]; \
	else \
	  echo "== PostgreSQL not reachable at 127.0.0.1:5432: skipping the PostgreSQL run"; \
	fi

lint: install
	$(BIN)/ruff check guanwei tests bench
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/textkit.py --quick
	$(BIN)/python bench/sandbox.py --quick

clean:
	rm -rf $(VENV) var node_modules
