PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

WORKERS ?= 1

.PHONY: dev dev-bench test test-fast test-smoke lint fmt clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

dev: $(STAMP)
	$(BIN)/oms dev --workers $(WORKERS)

# The system as oms bench needs it: no simulator delays and no cancel window.
dev-bench: $(STAMP)
	OMS_SIM_SHIP_DELAY_S=0 OMS_SIM_CARRIER_STEP_S=0 OMS_RELEASE_DELAY_S=0 \
		$(BIN)/oms dev --workers $(WORKERS)

# Unit, workflow (time-skipping), integration and replay tests: under 4 minutes on two
# cores. The whole-system smoke tests (they boot `oms dev`) are `make test-smoke`; CI runs
# both (.ci/run). docs/testing.md has the layers and their times.
test: $(STAMP)
	$(BIN)/python -m pytest --ignore=tests/smoke $(PYTEST_ARGS)

# Unit tests and the order workflow on Temporal's time-skipping server: seconds, no PostgreSQL.
test-fast: $(STAMP)
	$(BIN)/python -m pytest tests/workflows tests/unit tests/channels $(PYTEST_ARGS)

test-smoke: $(STAMP)
	$(BIN)/python -m pytest tests/smoke $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .oms
