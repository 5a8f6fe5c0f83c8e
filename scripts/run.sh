#!/usr/bin/env bash
# The main job on embedded defaults: all-in-one platform with demo traces.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/haloscope up --demo "$@"
