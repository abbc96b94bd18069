# The two commands a fresh machine needs are `make run` and `make test`; everything else
# here is what they are made of.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# These targets are a developer's machine: DEBUG on (production, which starts the portal its
# own way, gets DEBUG off by default). DEBUG=false make run tries the production settings.
export DEBUG ?= true

.PHONY: venv run test lint pytest bench migrate seed worker beat web clean lock

venv: $(STAMP)

$(STAMP): requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	touch $(STAMP)

# Regenerate the lock after changing dependencies in pyproject.toml.
lock:
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --extra dev --generate-hashes --strip-extras -o requirements.lock pyproject.toml

migrate: venv
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

# Web, Celery worker and beat together; Ctrl-C stops all three.
# e.g. make run RUN_ARGS="--port 8001 --noreload"
run: seed
	$(BIN)/python manage.py run_portal $(RUN_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

pytest: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint pytest

bench: venv
	$(BIN)/python tests/bench/run.py $(BENCH_ARGS)

# Stops the embedded PostgreSQL first if a killed process left it running.
clean:
	test ! -x $(BIN)/python || $(BIN)/python -c 'import sys; from pathlib import Path; from portal.local_db import stop; stop(Path(sys.argv[1]))' "$${PORTAL_VAR_DIR:-var}"
	rm -rf $(VENV) var
