# The two commands of the README, and the checks CI runs.
# Only Python is needed: everything else is installed into .venv.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install lint typecheck migrations-check check clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Run the example project: QStash emulator, Celery worker and the admin on :8000.
demo: $(STAMP)
	$(BIN)/python -m example_project.demo

## Run the test suite (suites needing PostgreSQL, Redis or Chromium skip without them).
test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy django_qstash_batch example_project

migrations-check: $(STAMP)
	$(BIN)/python manage.py makemigrations --check --dry-run

check: lint typecheck migrations-check test

clean:
	rm -rf $(VENV) var .tox .mypy_cache .ruff_cache build *.egg-info
