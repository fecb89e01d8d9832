# SigmaSight — two commands on a fresh machine with Python >= 3.11:
#   make demo   install, migrate, seed, load prices, run the batch, then serve on 127.0.0.1:8000
#               (make demo SERVE=0 runs the same path without starting the server)
#   make test   ruff, mypy and the pytest suite (SQLite by default; set DATABASE_URL/REDIS_URL for PostgreSQL/Redis)
# Generated files (database, logs, reports, archives, the demo's local SECRET_KEY) live in var/ (DATA_DIR).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SERVE ?= 1
PYTEST_ARGS ?=
# pytest-xdist workers for make test (0: one process). Whole files go to a worker (--dist loadfile: a file's
# module fixtures, such as a served demo database, are built once), in collection order (the slow files
# first, see conftest.py); each worker has its own test database, data folder and Redis database.
PYTEST_WORKERS ?= 2

.PHONY: install demo test lint lint-deploy format clean serve dev stop doctor

$(VENV)/.installed: pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "SigmaSight needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test]"
	@touch $@

install: $(VENV)/.installed

demo: install
	$(PY) manage.py demo $(if $(filter 0 no false,$(SERVE)),--no-serve,)

serve: install
	$(PY) manage.py serve

# Development: one daphne process (HTTP and websockets) that restarts when the code changes.
dev: install
	$(PY) manage.py serve --reload

stop: install
	$(PY) manage.py stop

doctor: install
	$(PY) manage.py doctor

lint: install lint-deploy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The Docker files, checked without Docker: hadolint, and the Compose file against the vendored spec schema.
lint-deploy: install
	$(VENV)/bin/hadolint Dockerfile
	$(VENV)/bin/check-jsonschema --schemafile .ci/schemas/compose-spec.json docker-compose.yml

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: install
	$(VENV)/bin/ruff check .
	DEBUG=true $(VENV)/bin/mypy .  # the Django plugin loads the settings: DEBUG lets them start without a key
	FAST_PASSWORD_HASHER=1 $(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
