"""The ``haloscope`` command line."""

from haloscope.platform.cli.main import main

__all__ = ["main"]
