#!/usr/bin/env bash
# Runs the test-suite against real services: starts the throwaway PostgreSQL cluster first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/postgres.sh start >/dev/null
mkdir -p test-artifacts
exec .venv/bin/pytest --junitxml=test-artifacts/junit.xml "$@"
