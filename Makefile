PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test test-pg15 demo dev clean-db

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/pytest -q --durations=15

# The warehouse tests again on PostgreSQL 15, the oldest server supported (a throwaway cluster).
test-pg15: $(STAMP)
	altus_pipeline_tests/pg15.sh

demo: $(STAMP)
	$(BIN)/altus demo

dev: $(STAMP)
	$(BIN)/altus dev

clean-db:
	rm -rf .altus
