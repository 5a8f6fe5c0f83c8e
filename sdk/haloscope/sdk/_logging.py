"""The SDK's own logger, with at-most-once reporting per kind of problem."""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger("haloscope.sdk")

_reported: set[str] = set()
_reported_lock = threading.Lock()


def log_once(kind: str, message: str, *args: object, level: int = logging.WARNING) -> None:
    """Log ``message`` the first time a problem of ``kind`` happens in this process."""
    with _reported_lock:
        if kind in _reported:
            return
        _reported.add(kind)
    logger.log(level, message, *args)


def reset_log_once() -> None:
    """Forget which kinds were reported (used when the SDK is re-initialised)."""
    with _reported_lock:
        _reported.clear()
