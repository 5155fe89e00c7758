# finops-pipeline: `make demo` then `make test` on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
VENV := .venv
PY := $(VENV)/bin/python
FINOPS := $(VENV)/bin/finops
export DAGSTER_HOME := $(CURDIR)/.dagster
# Under Debian's faketime (how the suite is checked on other dates), libfaketime 0.9.10 also fakes
# CLOCK_MONOTONIC and every timed wait (threading.Condition.wait, botocore's retry token bucket) then
# never returns. Only the calendar is the input under test: keep the monotonic clock real (and see
# finops_pipeline_tests/faketime_compat for the time.sleep that this breaks). No effect without faketime.
export FAKETIME_DONT_FAKE_MONOTONIC := 1
SANDBOX_PID_FILE ?= .sandbox/sandbox.pid
SANDBOX_ENV = $(dir $(SANDBOX_PID_FILE))sandbox.env
SANDBOX := $(FINOPS) sandbox --pid-file $(SANDBOX_PID_FILE)
DEMO_REGIONS := us-east-1,us-west-2,eu-west-1
# A sandbox started (in the background) and its client environment, and nothing else of the shell's AWS
# configuration (a profile, a session token, a role or an endpoint would send calls elsewhere), with the
# demo's scan regions: the demo and `make ui` run against the same target.
SANDBOX_UP = unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ROLE_ARN ASSUME_ROLE_ARN AWS_ENDPOINT_URL \
    $${!AWS_ENDPOINT_URL_*}; \
  $(SANDBOX) --background >/dev/null || exit 1; \
  set -a; source $(SANDBOX_ENV); set +a; \
  export FINOPS_SCAN_REGIONS=$${FINOPS_SCAN_REGIONS:-$(DEMO_REGIONS)};
UI_TARGET ?= sandbox
UI_PORT ?= 3000

.PHONY: help install browser demo test ui recover check check-product-install lint format bench sandbox sandbox-stop dagster-home

help:
	@echo "make demo     install, start the sandbox, run the whole pipeline into data/finops.duckdb, summarise"
	@echo "make test     run the test suite (starts its own sandboxes on loopback)"
	@echo "make ui       Dagster webserver + daemon on http://127.0.0.1:3000 against the demo's sandbox (UI_TARGET=aws: AWS)"
	@echo "make recover  fail runs whose process died, so their pool and queue slots are freed"
	@echo "make check    dg check defs;  make lint / format;  make bench;  make sandbox (foreground)"
	@echo "make check-product-install   the product alone, without the sandbox or moto, loads and checks"
	@echo "make doctor   finops doctor (AWS permissions, JSON);  make security-scan (pip-audit of uv.lock)"

$(UV):
	python3 -m pip install --user --quiet uv

# The workspace with its dev group: the product, the sandbox package (sandbox/, with moto), pytest, ruff.
install: $(UV)
	@$(UV) sync --frozen --quiet --compile-bytecode

# The product alone (no dev group: no sandbox, no moto) in a temporary venv: imports and dg check defs.
check-product-install: install
	$(VENV)/bin/pytest -q finops_pipeline_tests/test_product_install.py

dagster-home:
	@mkdir -p $(DAGSTER_HOME) && cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

# The sandbox's export lines go to its env file only (stdout dropped); DAGSTER_LOG_LEVEL=DEBUG shows
# Dagster's whole event stream (one line per partition per asset) instead of one line per step.
DAGSTER_LOG_LEVEL ?= INFO
demo: install dagster-home
	@$(SANDBOX) stop >/dev/null 2>&1 || true
	@$(FINOPS) recover-runs
	@$(SANDBOX_UP) \
	  $(PY) -m finops_pipeline.demo --dagster-log-level $(DAGSTER_LOG_LEVEL); status=$$?; \
	  $(SANDBOX) stop; exit $$status

# Under faketime (it sets FAKETIME) the suite runs serially: with libfaketime preloaded, a pytest-xdist
# worker crashed in putenv (os.environ) while execnet's thread ran, and the run then hung.
test: install browser
	PYTHONPATH=$(CURDIR)/finops_pipeline_tests/faketime_compat$${PYTHONPATH:+:$$PYTHONPATH} $(VENV)/bin/pytest $(if $(FAKETIME),-n 0)

# Headless Chromium for the HTML report tests (screenshots); Debian's package, installed once.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "installing chromium (apt-get) for the HTML report tests"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

# The UI runs against what the demo ran against: a sandbox (the same world, the demo's scan regions)
# started with the UI and stopped with it (Ctrl-C). UI_TARGET=aws uses the shell's AWS credentials
# instead; a warehouse filled from the sandbox then refuses those runs (point FINOPS_DUCKDB_PATH elsewhere).
ui: install dagster-home
	@$(FINOPS) recover-runs
ifeq ($(UI_TARGET),sandbox)
	@$(SANDBOX) stop >/dev/null 2>&1 || true
	@$(SANDBOX_UP) trap '$(SANDBOX) stop' EXIT; \
	  echo "make ui: runs go to the sandbox, scan regions $$FINOPS_SCAN_REGIONS (UI_TARGET=aws for AWS)"; \
	  $(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(UI_PORT)
else ifeq ($(UI_TARGET),aws)
	$(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(UI_PORT)
else
	$(error UI_TARGET=$(UI_TARGET): use sandbox (the default, as make demo) or aws (the shell's credentials))
endif

# Runs whose process died (kill -9, OOM, restart) hold the duckdb pool and the run queue: fail them.
recover: install dagster-home
	$(FINOPS) recover-runs

check: install
	$(VENV)/bin/dg check defs

lint: install
	$(VENV)/bin/ruff check finops_pipeline finops_pipeline_tests sandbox bench
	$(VENV)/bin/ruff format --check finops_pipeline finops_pipeline_tests sandbox bench

format: install
	$(VENV)/bin/ruff check --fix finops_pipeline finops_pipeline_tests sandbox bench
	$(VENV)/bin/ruff format finops_pipeline finops_pipeline_tests sandbox bench

bench: install
	@for script in bench/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

sandbox: install
	$(FINOPS) sandbox

sandbox-stop:
	$(SANDBOX) stop

doctor: install
	$(FINOPS) doctor

# Audits every locked dependency against the PyPI / OSV advisory databases (needs network access).
security-scan: $(UV)
	@requirements=$$(mktemp); trap 'rm -f $$requirements' EXIT; \
	  $(UV) export --frozen --format requirements-txt --no-emit-project --quiet > $$requirements && \
	  $(UV) tool run pip-audit --strict --disable-pip --no-deps --progress-spinner off -r $$requirements
