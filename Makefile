# The commands a newcomer needs: `make demo`, `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
# Where `make run` listens: `make run PORT=8001` or `make run ADDRESS=0.0.0.0`.
ADDRESS ?= 127.0.0.1
PORT ?= 8000

.PHONY: install install-dev native demo run test lint schema-reference bench clean

# The runtime only (requirements.txt): what the site, the demo and `make run` need.
$(VENV)/.installed: requirements.txt
	@test -x $(PY) || { echo "== Creating the virtualenv $(VENV) ($(PYTHON))"; $(PYTHON) -m venv $(VENV); }
	@echo "== Installing the runtime requirements (requirements.txt: Django, DRF, django-q2, gunicorn, ...)"
	@$(PIP) -r requirements.txt
	@echo "== Collecting the static files (compressed, hashed) into var/static"
	@$(PY) manage.py collectstatic --noinput --verbosity 0
	@touch $@

# The test and lint tools on top (requirements-dev.txt: pytest, ruff, pandas, DuckDB, PySpark, Playwright, ...).
$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	@echo "== Installing the test tools (requirements-dev.txt: pytest, ruff, pandas, DuckDB, PySpark, Playwright, ...)"
	@$(PIP) -r requirements-dev.txt
	@touch $@

# The streaming Parquet writer (C++, against the installed pyarrow): row groups of 100,000 rows in little memory.
# Without a C++ compiler Parquet exports still work, with pyarrow's writer (see datapipeline/native/__init__.py).
# Checked on every install (a fraction of a second when it is there): built when missing or out of date.
native: $(VENV)/.installed
	@echo "== The streaming Parquet writer (datapipeline/native/dpq.cc, C++ against pyarrow)"
	@$(PY) -m datapipeline.native ensure || echo "   (continuing without it)"

install: $(VENV)/.installed native
install-dev: $(VENV)/.installed-dev native

# Embedded default: SQLite under var/, ORM broker. Builds a small site, then exports it the way
# production does: queued for a real task cluster (qcluster), followed to the end; shows the files.
demo: install
	@echo "== Applying the database migrations (SQLite, var/db.sqlite3)"
	@$(PY) manage.py migrate --verbosity 0
	@echo "== Building the small demo site (seed 42, dated up to now)"
	@$(PY) manage.py demo_data --scale small --seed 42 --reset
	@echo "== Starting a task cluster (log: var/qcluster.log) and exporting through it"
	@$(PY) manage.py qcluster > var/qcluster.log 2>&1 & cluster=$$!; \
	trap 'kill -TERM $$cluster 2>/dev/null; wait $$cluster 2>/dev/null' EXIT; \
	$(PY) manage.py export_start --wait --wait-timeout 300
	@echo "== The export, as export_status shows it"
	@$(PY) manage.py export_status

# The site for real, in the foreground: gunicorn and one qcluster; prints the URL and how to sign in.
run: install
	@$(PY) manage.py run_site --address $(ADDRESS) --port $(PORT)

test: install-dev
	$(PY) -m pytest -q -n auto

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The export benchmark (bench/README.md): builds or reuses the PostgreSQL site dp_bench (full scale)
# and a SQLite one under var/bench/; extra options through BENCH_ARGS, e.g. BENCH_ARGS="--skip-latency".
bench: install-dev
	$(PY) -m bench $(BENCH_ARGS)

schema-reference: install
	$(PY) manage.py schema_reference --write

clean:
	rm -rf var .pytest_cache
