"""Errors of the evaluation tooling."""

from __future__ import annotations


class EvalUsageError(ValueError):
    """A configuration or usage error; the message says how to fix it (CLI exit status 2)."""
