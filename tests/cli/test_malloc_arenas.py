"""The long-running commands cap glibc's malloc arenas (a flat resident size under load)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = (
    "from haloscope.platform.cli.malloc_arenas import limit_malloc_arenas\n"
    "print(limit_malloc_arenas())\n"
)


def _probe(**env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | env
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=environ, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_arenas_are_capped_unless_the_environment_sets_them() -> None:
    assert _probe() == "True"
    assert _probe(MALLOC_ARENA_MAX="4") == "False"
