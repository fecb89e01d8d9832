# SigmaSight — two commands on a fresh machine with Python >= 3.11:
#   make demo   install, migrate, seed, load prices, run the batch, then serve on 127.0.0.1:8000
#               (make demo SERVE=0 runs the same path without starting the server)
#   make test   ruff, mypy and the pytest suite (SQLite by default; set DATABASE_URL/REDIS_URL for PostgreSQL/Redis)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SERVE ?= 1
PYTEST_ARGS ?=

.PHONY: install demo test lint format clean serve doctor

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

doctor: install
	$(PY) manage.py doctor

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy .
	FAST_PASSWORD_HASHER=1 $(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 logs .pytest_cache .ruff_cache
