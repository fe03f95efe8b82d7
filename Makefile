# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
PG_URL ?= postgresql://postgres@127.0.0.1:5432/registry
# DEMO_DATA=0 make run: an empty registry with only the reference data.
DEMO_DATA ?= 1

# `make run` is development: DEBUG on, links and QR codes on the port it serves.
# The tests need neither (config/test_settings.py).
export PORT
run setup data worker beat check bench bench-postgres bench-passport bench-scale: export DEBUG ?= 1
# The development credential signing key (manage.py credential_devkey), never committed.
run setup bench-passport: export CREDENTIAL_SIGNING_KEYS_FILE ?= $(CURDIR)/var/credential-keys.json

.PHONY: install run setup data test test-postgres lint typecheck format check worker beat bench bench-postgres bench-passport bench-scale fuzz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

setup: install
	$(BIN)/python manage.py migrate --no-input
	$(MAKE) --no-print-directory data
	$(BIN)/python manage.py ensure_admin
	$(BIN)/python manage.py credential_devkey

data: install  ## reference data per version (keeps people's edits); demo data into an empty registry; a sector snapshot of today
	$(BIN)/python manage.py load_reference
ifneq ($(DEMO_DATA),0)
	$(BIN)/python manage.py load_demo
endif
	$(BIN)/python manage.py take_sector_snapshot

run: setup  ## serve on SQLite at http://127.0.0.1:$(PORT)/
	@echo "Serving on http://127.0.0.1:$(PORT)/  (admin: /admin/, API docs: /api/docs/)"
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# --dist loadfile: a module's tests share one worker, so module fixtures (the demo registry)
# are built once.
test: install  ## the whole suite on SQLite
	$(BIN)/pytest -n 2 --dist loadfile -q

test-postgres: install  ## the whole suite on the PostgreSQL at PG_URL (a fresh test database)
	DATABASE_URL=$(PG_URL) $(BIN)/pytest -n 2 --dist loadfile -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install  ## mypy (django-stubs, DRF stubs) over the services and selectors in [tool.mypy]
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check: install
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py check

worker: install  ## a Celery worker; needs CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0)
	$(BIN)/celery -A config worker -l info

beat: install  ## the Celery beat scheduler: run exactly ONE per deployment, beside the workers
	$(BIN)/celery -A config beat -l info

bench: install  ## trace benchmark on SQLite (10,000 companies, 100,000 relationships) vs its floor
	$(BIN)/python manage.py migrate --no-input -v0
	$(BIN)/python manage.py load_reference > /dev/null
	$(BIN)/python manage.py bench_trace

# Two runs side by side: 10,000 companies / 100,000 relationships and ten times that
# (BENCH_LARGE=0 leaves the second out); the last line is the first run's trace / floor.
BENCH_LARGE ?= 1
comma := ,
TRACE_SIZES := 10000:100000$(if $(filter 1,$(BENCH_LARGE)),$(comma)100000:1000000)
bench-postgres: install  ## whole supply_chain() vs the bare-cursor floor, PostgreSQL at PG_URL
	DATABASE_URL=$(PG_URL) $(BIN)/python manage.py migrate --no-input -v0
	DATABASE_URL=$(PG_URL) $(BIN)/python manage.py load_reference > /dev/null
	DATABASE_URL=$(PG_URL) $(BIN)/python manage.py bench_trace --sizes $(TRACE_SIZES)

bench-passport: install  ## passport detail and credential vs a bare psycopg endpoint, by wrk (PostgreSQL)
	DATABASE_URL=$(PG_URL) $(BIN)/python manage.py migrate --no-input -v0
	DATABASE_URL=$(PG_URL) $(BIN)/python manage.py load_reference > /dev/null
	DATABASE_URL=$(PG_URL) $(BIN)/python manage.py load_demo > /dev/null
	$(BIN)/python manage.py credential_devkey > /dev/null
	DATABASE_URL=$(PG_URL) $(BIN)/python manage.py bench_passport

# SCALE=0.1 for a quicker run; BENCH_REPEAT repetitions per route (median); BENCH_ARGS=--keep
# leaves <name>_bench_demo / <name>_bench_large, --reuse measures them again without building.
SCALE ?= 1.0
BENCH_REPEAT ?= 5
bench-scale: install  ## every page and API route on the demo and on a 50,000-company registry (PostgreSQL at PG_URL), side by side
	$(BIN)/python manage.py bench_scale --base-url $(PG_URL) --scale $(SCALE) --repeat $(BENCH_REPEAT) $(BENCH_ARGS)

fuzz: install  ## schemathesis against a live server, anonymous and as a member (FUZZ_EXAMPLES=25)
	bash .ci/services/schemathesis.sh

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache
