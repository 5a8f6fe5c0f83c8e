"""Carrying the current span into threads (``contextvars`` do not cross threads by themselves)."""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def wrap_context(fn: Callable[P, R]) -> Callable[P, R]:
    """Bind ``fn`` to a copy of the caller's context, so spans it opens nest under the
    current span even when it runs in another thread (``threading.Thread(target=...)``)."""
    ctx = contextvars.copy_context()

    @functools.wraps(fn)
    def run_in_context(*args: P.args, **kwargs: P.kwargs) -> R:
        return ctx.copy().run(fn, *args, **kwargs)

    return run_in_context


class ContextExecutor(ThreadPoolExecutor):
    """A ``ThreadPoolExecutor`` whose submitted work runs in the submitter's context.

    ``executor.map`` goes through ``submit`` and is covered as well.
    """

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        """Schedule ``fn(*args, **kwargs)`` in a copy of the current context."""
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)
