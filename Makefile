PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

WORKERS ?= 1
# API processes; more than one run behind `oms front` on OMS_API_PORT (docs/performance.md).
API ?= 1

.PHONY: dev dev-bench test test-fast test-smoke lint fmt clean chromium pgbouncer

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

dev: $(STAMP)
	$(BIN)/oms dev --api $(API) --workers $(WORKERS)

# The system as oms bench needs it: no simulator delays, no cancel window, no risk holds.
dev-bench: $(STAMP)
	OMS_SIM_SHIP_DELAY_S=0 OMS_SIM_CARRIER_STEP_S=0 OMS_RELEASE_DELAY_S=0 OMS_RISK_HOLD_SCORE=0 \
		$(BIN)/oms dev --api $(API) --workers $(WORKERS)

# Unit, workflow (time-skipping), integration, replay and browser tests. The whole-system
# smoke tests (they boot `oms dev`) are `make test-smoke`; CI runs both (.ci/run).
# docs/testing.md has the layers and their times.
test: $(STAMP) chromium pgbouncer
	$(BIN)/python -m pytest --ignore=tests/smoke $(PYTEST_ARGS)

# The browser tests (tests/browser) drive Debian's Chromium at /usr/bin/chromium: installed
# here when missing and we can (root, apt-get); otherwise say why those tests will be skipped.
OMS_CHROMIUM ?= /usr/bin/chromium
chromium:
	@if [ -x "$(OMS_CHROMIUM)" ]; then :; \
	elif [ "$(OMS_CHROMIUM)" != /usr/bin/chromium ]; then \
		echo "make test: $(OMS_CHROMIUM) (OMS_CHROMIUM) is missing: the browser tests (tests/browser) will be skipped"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "make test: installing Debian's chromium for the browser tests (tests/browser)"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
		|| { apt-get update -q >/dev/null && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } \
		|| echo "make test: apt-get could not install chromium: the browser tests (tests/browser) will be skipped"; \
	elif command -v apt-get >/dev/null 2>&1; then \
		echo "make test: $(OMS_CHROMIUM) is missing and installing it needs root (sudo apt-get install chromium): the browser tests (tests/browser) will be skipped"; \
	else \
		echo "make test: $(OMS_CHROMIUM) is missing and there is no apt-get to install it: the browser tests (tests/browser) will be skipped"; \
	fi

# PgBouncer (tests/integration/test_pgbouncer.py: the OMS behind a pooler in transaction
# mode): Debian's, installed here when missing and we can, as Chromium above.
pgbouncer:
	@if command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "make test: installing Debian's pgbouncer for tests/integration/test_pgbouncer.py"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer >/dev/null \
		|| { apt-get update -q >/dev/null && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer >/dev/null; } \
		|| echo "make test: apt-get could not install pgbouncer: tests/integration/test_pgbouncer.py will be skipped"; \
	else \
		echo "make test: pgbouncer is missing and installing it needs root and apt-get (sudo apt-get install pgbouncer): tests/integration/test_pgbouncer.py will be skipped"; \
	fi

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
