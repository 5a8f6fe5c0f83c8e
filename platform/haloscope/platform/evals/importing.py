"""Resolving ``module:function`` references given on the command line or in a config."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from haloscope.platform.evals.errors import EvalUsageError


def import_callable(spec: str, what: str) -> Callable[..., Any]:
    """The callable named by ``module:function`` (dotted attributes allowed after the colon).

    The working directory is importable, as with ``python -m``, so a project's own modules
    resolve without installing them.
    """
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise EvalUsageError(f"{what} {spec!r} must have the form 'module:function'")
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise EvalUsageError(
            f"{what} {spec!r}: cannot import module {module_name!r} ({exc}); run from the "
            "directory that contains it or add it to PYTHONPATH"
        ) from exc
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise EvalUsageError(f"{what} {spec!r}: {module_name} has no {attribute!r}") from exc
    if not callable(obj):
        raise EvalUsageError(f"{what} {spec!r} is not callable")
    return obj
