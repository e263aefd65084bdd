# query-audit: `make demo` shows the tool on a throwaway server and the sample app; `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test demo bench lint docs clean

install: $(STAMP)

$(STAMP): pyproject.toml setup.py query_audit/analyze/_literal_scan.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

# One worker per core, whole files to a worker (tests/conftest.py starts each worker's own servers).
test: install
	$(BIN)/python -m pytest -q -n auto --dist loadfile

demo: install
	$(BIN)/python fixtures/demo.py

bench: install
	$(BIN)/python bench/run.py

# docs/rules.md is generated from the rule modules (tests/test_advise_rules.py fails when it is stale).
docs: install
	$(BIN)/python -m query_audit.advise.docs

lint: install
	$(BIN)/python -m pip install -q ruff
	$(BIN)/ruff check query_audit tests fixtures bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache bench/out
