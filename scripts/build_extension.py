"""Compile the OTLP decoder's C fast path (``_otlp_wire.c``) into a module beside its source.

Run by the wheel build hook (``hatch_build.py``) on install, and by ``make test`` to rebuild it
after the C source changes (nothing is done when the module is newer than its source). Needs a
C compiler and the Python headers; without the module, OTLP ingest decodes in Python (slower).

    .venv/bin/python scripts/build_extension.py
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "platform/haloscope/platform/ingest/_otlp_wire.c"
FIX = (
    "install a C compiler and the Python headers (Debian: apt-get install gcc python3-dev), "
    "or set HALOSCOPE_NO_EXTENSIONS=1 to install without it (OTLP ingest then decodes in "
    "Python, about half as fast)"
)


def module_path(source: Path = SOURCE) -> Path:
    """Where the compiled module of ``source`` goes: beside it, named for this interpreter."""
    return source.with_name(source.stem + sysconfig.get_config_var("EXT_SUFFIX"))


def build(source: Path = SOURCE, *, force: bool = False) -> Path:
    """Compile ``source`` unless its module is newer; ``RuntimeError`` saying how to fix a
    failed compile. The module is replaced atomically, never left half written."""
    target = module_path(source)
    if not force and target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    link = shlex.split(sysconfig.get_config_var("LDSHARED") or "cc -shared")
    include = sysconfig.get_paths()["include"]
    fd, partial = tempfile.mkstemp(suffix=target.suffix, dir=target.parent)
    os.close(fd)
    command = [*link, "-O2", "-fPIC", "-Wall", f"-I{include}", str(source)]
    try:
        done = subprocess.run([*command, "-o", partial], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"compiling {source.name} failed:\n{done.stderr.strip()}\n{FIX}")
        os.replace(partial, target)
    except FileNotFoundError as exc:
        raise RuntimeError(f"no C compiler to build {source.name} ({exc}); {FIX}") from exc
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return target


if __name__ == "__main__":
    if os.environ.get("HALOSCOPE_NO_EXTENSIONS") == "1":
        sys.exit(0)
    try:
        print(f"haloscope: OTLP decoder module {build(force='--force' in sys.argv)}")
    except RuntimeError as exc:
        sys.exit(f"haloscope: {exc}")
