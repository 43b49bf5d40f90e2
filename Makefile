# Two commands matter: `make run` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := CLINIC_ENV=development $(BIN)/flask --app wsgi
STAMP := $(VENV)/.installed

.PHONY: run test lint format translations translations-update setup clean bench bench-messages \
	bench-reports screenshots

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP) translations

# Compiled catalogues are build output, made from the .po files under version control.
translations: $(STAMP)
	$(BIN)/pybabel compile -d clinic/translations

# pybabel skips folders starting with _ by default, which would leave templates/_macros out.
EXTRACT_DIRS := --ignore-dirs '.*'

translations-update: $(STAMP)
	$(BIN)/pybabel extract --no-location --sort-output -F babel.cfg -k _l $(EXTRACT_DIRS) -o clinic/translations/messages.pot .
	$(BIN)/pybabel update -i clinic/translations/messages.pot -d clinic/translations --no-fuzzy-matching

# The outbox worker runs beside the server (and sweeps the seat offers); in development it
# writes each message to instance/letterbox/ instead of sending it. It stops with the server.
run: setup
	$(FLASK) db upgrade
	$(FLASK) seed-demo
	@echo "Messages to youth are written to instance/letterbox/"
	$(FLASK) outbox run --loop & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT; trap 'exit 130' INT TERM; \
	$(FLASK) run --host 127.0.0.1 --port 5000

# The suite runs on SQLite, then again on PostgreSQL when a server answers. CI sets
# REQUIRE_POSTGRES=1 so that a missing server fails the run instead of skipping the pass.
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
# Tests run in parallel, one pytest-xdist worker per core (each worker has its own databases);
# TEST_WORKERS=0 runs them in one process, as for a debugger.
TEST_WORKERS ?= auto
PYTEST := $(BIN)/pytest -n $(TEST_WORKERS) -m "not exclusive" $(PYTEST_ARGS)
# Tests marked exclusive stop a service every other test uses (the PostgreSQL restart): they run
# on their own after the parallel run. Exit 5 is "none selected" (a -k that matches none of
# them); with your own -m in PYTEST_ARGS, you choose, and this step is left out.
EXCLUSIVE := $(if $(findstring -m ,$(PYTEST_ARGS)),true,$(BIN)/pytest -n 0 -m exclusive $(PYTEST_ARGS) || [ $$? -eq 5 ])

test: setup
	@echo "== Test suite on SQLite =="
	TEST_DATABASE_URL= $(PYTEST)
	TEST_DATABASE_URL= $(EXCLUSIVE)
	@if $(BIN)/python -m tests.support.postgres_available "$(PG_TEST_URL)"; then \
		echo "== Test suite on PostgreSQL ($(PG_TEST_URL)) =="; \
		TEST_DATABASE_URL="$(PG_TEST_URL)" $(PYTEST) && \
		TEST_DATABASE_URL="$(PG_TEST_URL)" $(EXCLUSIVE); \
	elif [ -n "$(REQUIRE_POSTGRES)" ]; then \
		echo "!! PostgreSQL is required here (REQUIRE_POSTGRES) but does not answer."; exit 1; \
	else \
		echo ""; \
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
		echo "!! SKIPPED the PostgreSQL pass: no server at $(PG_TEST_URL)"; \
		echo "!! Production runs on PostgreSQL; CI runs this pass. Set PG_TEST_URL to use another."; \
		echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
	fi

# The pure rules are the typed core: checked strictly. The import contracts (layers, pure
# rules, independent blueprints, no cycles) are in pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict --follow-imports=silent clinic/rules clinic/permissions.py clinic/reports
	$(BIN)/lint-imports --no-cache
	$(BIN)/bandit -c pyproject.toml -r clinic migrations config.py wsgi.py --severity-level medium -q

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache

# Not a test: several minutes of load on this machine (see bench/README.md); writes
# bench/RESULTS.md.
bench: setup
	$(BIN)/python bench/run.py

# The reports on five years of clinic history (seed-demo --scale large), on SQLite and
# PostgreSQL: render times against the targets, statements per range; writes its section of
# bench/RESULTS.md.
bench-reports: setup
	$(BIN)/python bench/reports.py

# Booking -> confirmation received, through a real SMTP server and an `outbox run --loop` worker.
bench-messages: setup
	$(BIN)/python -m bench.outbox_latency

# The README's pictures (docs/screenshots/), taken by the browser suite on its seeded clinic.
screenshots: setup
	SCREENSHOTS=1 CI=1 $(BIN)/pytest -n0 -q -p no:randomly tests/e2e/test_e2e_accessibility.py \
		-k test_readme_screenshots
