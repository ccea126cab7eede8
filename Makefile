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

# Embedded default: SQLite under var/, ORM broker. Builds a small site, then exports it the way
# production does: queued for a real task cluster (qcluster), followed to the end; shows the files.
demo: install
	$(PY) manage.py migrate --verbosity 0
	$(PY) manage.py demo_data --scale small --seed 42 --reset
	@$(PY) manage.py qcluster > var/qcluster.log 2>&1 & cluster=$$!; \
	trap 'kill -TERM $$cluster 2>/dev/null; wait $$cluster 2>/dev/null' EXIT; \
	$(PY) manage.py export_start --wait --wait-timeout 300
	$(PY) manage.py export_status

test: install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The export benchmark (bench/README.md): builds or reuses the PostgreSQL site dp_bench (full scale)
# and a SQLite one under var/bench/; extra options through BENCH_ARGS, e.g. BENCH_ARGS="--skip-latency".
bench: install
	$(PY) -m bench $(BENCH_ARGS)

schema-reference: install
	$(PY) manage.py schema_reference --write

clean:
	rm -rf var .pytest_cache
