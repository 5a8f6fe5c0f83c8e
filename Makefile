# Haloscope developer entry points. `make run` and `make test` work on a fresh machine.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HALOSCOPE_PORT ?= 3000

.PHONY: install system-deps run test lint format audit bench clean

# The OTLP decoder's C module is rebuilt here when its source is newer (install builds it).
install: $(STAMP)
	@$(BIN)/python scripts/build_extension.py --report >/dev/null

$(STAMP): pyproject.toml sdk/pyproject.toml scripts/install.sh hatch_build.py scripts/build_extension.py
	bash scripts/install.sh
	touch $(STAMP)

system-deps:
	bash scripts/install_system_deps.sh

run: install
	bash scripts/run.sh

test: install system-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	bash scripts/test.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Known vulnerabilities in the installed dependencies (needs PyPI's JSON API or OSV; it says
# SKIPPED and exits 0 where neither answers). Reviewed exceptions: scripts/audit-allowlist.txt.
audit: install
	bash scripts/audit.sh

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .haloscope .pytest_cache .ruff_cache test-artifacts
