"""Compile the OTLP decoder's C fast path (``_otlp_wire.c``) into a module beside its source.

Run by the wheel build hook (``hatch_build.py``) on install, and by ``make install``/``make
test`` to rebuild it after the C source changes (nothing is done when the module is newer than
its source). Needs a C compiler and the Python headers; the module is optional: without it,
OTLP ingest decodes in Python (slower), and the install says so once (``--report``).

    .venv/bin/python scripts/build_extension.py [--force] [--report]
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


def main(argv: list[str]) -> int:
    """Build (``--force``: even when up to date). A failed build exits 1 with the fix, or with
    ``--report`` (install time: the decoder is optional) says once that OTLP decodes in Python
    and exits 0."""
    if os.environ.get("HALOSCOPE_NO_EXTENSIONS") == "1":
        return 0
    try:
        print(f"haloscope: OTLP decoder module {build(force='--force' in argv)}")
    except RuntimeError as exc:
        if "--report" not in argv:
            print(f"haloscope: {exc}", file=sys.stderr)
            return 1
        reason = str(exc).splitlines()[0].removesuffix(f"; {FIX}").rstrip(":")
        print(
            f"haloscope: the OTLP decoder's C fast path was not built ({reason}); OTLP ingest "
            f"decodes in Python. To build it: {FIX.split(', or set')[0]}, then run "
            "`make install` again",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
