# The two commands a newcomer needs: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install demo test lint schema-reference bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

# Embedded default: SQLite under var/, ORM broker. Builds a small site, exports it, shows the files.
demo: install
	$(PY) manage.py migrate --verbosity 0
	$(PY) manage.py demo_data --scale small --seed 42 --reset
	$(PY) manage.py export_start --foreground
	$(PY) manage.py export_status

test: install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

schema-reference: install
	$(PY) manage.py schema_reference --write

clean:
	rm -rf var .pytest_cache
