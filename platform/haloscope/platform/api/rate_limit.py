"""Per-API-key rate limiting: one token bucket per public key, refilled continuously.

A request takes one token; a key whose bucket is empty is answered 429 with the whole seconds
until its next token in ``Retry-After``. Buckets live in the API process, so with N API
replicas a key may send up to N times the configured rate in total.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_IDLE_BUCKETS = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets of ``burst`` tokens refilled at ``rate_per_s``; a rate of 0 disables it."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = rate_per_s
        self._burst = float(max(1, burst))
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """Whether requests are limited at all."""
        return self._rate > 0

    def acquire(self, key: str) -> float:
        """Take a token for ``key``: 0.0 when granted, else the seconds until one is free."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= MAX_IDLE_BUCKETS:
                    self._drop_full_buckets(now)
                bucket = self._buckets[key] = _Bucket(self._burst, now)
            else:
                bucket.tokens = min(
                    self._burst, bucket.tokens + (now - bucket.updated) * self._rate
                )
                bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self._rate

    def _drop_full_buckets(self, now: float) -> None:
        """Forget keys whose bucket has refilled: a fresh bucket would be the same."""
        refill_s = self._burst / self._rate
        for key in [k for k, b in self._buckets.items() if now - b.updated >= refill_s]:
            del self._buckets[key]


def retry_after_header(wait_s: float) -> dict[str, str]:
    """``Retry-After`` in whole seconds (at least 1), rounded up so the retry finds a token."""
    return {"Retry-After": str(max(1, math.ceil(wait_s)))}
