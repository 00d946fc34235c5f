# Two commands on a fresh Debian machine with Python 3.11:
#   make run    create .venv, install, build the demo data if missing, serve the apps on 127.0.0.1
#   make test   install what the tests need (Debian's chromium included) and run the whole suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8866
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test install chromium postgresql jupyterhub demo bench clean-data

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	# lenscat's catalogue only: its declared dependency ligo.skymap is heavy and unused here
	$(PY) -m pip install --quiet --no-deps lenscat==1.1.3
	touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/lensfinder serve --port $(PORT)

chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "Installing Debian's chromium for the browser tests"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; \
	fi

postgresql:
	@if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then \
	  echo "Installing Debian's postgresql for the store tests (each test run starts its own throwaway server)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql; \
	fi

jupyterhub:
	@if ! command -v configurable-http-proxy >/dev/null 2>&1; then \
	  echo "Installing Debian's configurable-http-proxy, JupyterHub's proxy, for the JupyterHub test (deploy/jupyterhub)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq node-configurable-http-proxy; \
	fi

test: install chromium postgresql jupyterhub
	# two workers: the suite takes under 3 minutes on a 2-core machine instead of about 4
	$(PY) -m pytest -n 2

demo: install
	$(VENV)/bin/lensfinder demo

bench: install
	$(PY) benchmarks/bench_store.py

clean-data:
	rm -rf data/lensfinder.duckdb* data/images data/cubes data/demo_truth.csv
