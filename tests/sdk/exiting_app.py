"""An instrumented app run as its own process that records spans and exits without flushing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

_APP = """
from haloscope.sdk import init, observe

init(flush_interval=60, flush_at=100_000)

@observe
def step(i):
    return i

for i in range({count}):
    step(i)
"""


def run_app_that_exits_unflushed(
    folder: Path, host: str, public_key: str, secret_key: str, count: int
) -> None:
    """Run an app recording ``count`` spans (outputs ``0..count-1``) in a new interpreter that
    exits without calling ``flush()``; fail unless it exits cleanly."""
    script = folder / "app.py"
    script.write_text(textwrap.dedent(_APP.format(count=count)))
    env = {
        "HALOSCOPE_HOST": host,
        "HALOSCOPE_PUBLIC_KEY": public_key,
        "HALOSCOPE_SECRET_KEY": secret_key,
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, str(script)], env=env, timeout=60, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
