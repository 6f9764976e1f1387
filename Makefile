# The two commands a newcomer needs: `make run` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install lock dist run test test-sqlite test-postgres system-packages bench

# Exactly the versions (and files: pip checks every hash) in requirements-dev.lock, then the app
# itself, editable. It stops first, saying so, when pyproject.toml's dependencies changed since
# the lock was made: `make lock` refreshes it.
install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock requirements-dev.lock
	@python3 scripts/lock.py check
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(PY) -m pip install --quiet --no-deps -e .
	@# A .venv made before the rename still holds the app as `sight`, which on PyPI is another project.
	@$(PY) -m pip uninstall --quiet --yes sight 2>/dev/null || true
	touch $(STAMP)

# After changing pyproject.toml's dependencies: pins what they resolve to now, with hashes,
# keeping every pin that still fits; `make lock UPGRADE=1` takes the newest each range allows.
export UPGRADE
lock:
	test -x $(PY) || python3 -m venv $(VENV)
	test -x $(VENV)/bin/uv || $(PY) -m pip install --quiet 'uv>=0.13,<0.14'
	$(PY) scripts/lock.py
	$(MAKE) install

# What an operator installs: dist/sight_plus_service-<version>-py3-none-any.whl (and the sdist),
# the distribution sight-plus-service with its templates, static files, migrations and data.
dist: install
	rm -rf dist
	$(PY) -m build --outdir dist

# make run PORT=5050 STRIPE_PORT=8421 when 5000 or 8420 is taken.
export PORT STRIPE_PORT
run: install
	$(PY) scripts/run_dev.py

# Programs the tests drive, from Debian's packages: Chromium, PostgreSQL 15, nginx, Redis, openssl,
# Node and npm (openid-client), PHP (the WordPress plugin).
# Installed when missing (as root); otherwise named. Point at other copies with these variables.
export CHROMIUM PG_BIN NGINX REDIS_SERVER OPENSSL NODE NPM PHP PDFTOTEXT
system-packages:
	@scripts/system_packages.sh
	@scripts/wordpress_packages.sh

test: install system-packages
	$(MAKE) test-sqlite
	$(MAKE) test-postgres

test-sqlite:
	$(PY) -m pytest

test-postgres:
	scripts/with_postgres.sh $(PY) -m pytest

# The chaos replay at full size on both databases; prints its figures (bench/README.md).
.PHONY: chaos
chaos: install system-packages
	CHAOS_PAYMENTS=300 $(PY) -m pytest tests/chaos -q -s
	CHAOS_PAYMENTS=300 scripts/with_postgres.sh $(PY) -m pytest tests/chaos -q -s

# Speed figures as ratios to baselines measured in the same run (bench/README.md); sizes from BENCH_* variables.
bench: install
	@if ! command -v wrk >/dev/null || ! test -x /usr/lib/postgresql/15/bin/initdb; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk postgresql-15 >/dev/null; \
	fi
	scripts/with_postgres.sh $(PY) bench/run.py
