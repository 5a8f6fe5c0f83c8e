"""SDK settings: explicit ``init()`` arguments first, then ``HALOSCOPE_*`` environment variables."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True, slots=True)
class SdkConfig:
    """Resolved configuration of one :class:`~haloscope.sdk.Client`."""

    host: str | None
    public_key: str | None
    secret_key: str | None
    enabled: bool
    sample_rate: float
    flush_at: int
    flush_interval: float
    max_queue_size: int
    timeout: float
    max_retries: int
    release: str | None
    capture_input: bool
    capture_output: bool
    redact: Callable[[Any], Any] | None
    max_field_bytes: int
    debug: bool

    @property
    def exporting(self) -> bool:
        """Whether spans leave the process (enabled, with a host and both keys)."""
        return self.enabled and bool(self.host and self.public_key and self.secret_key)


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


def _positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")


def resolve_config(
    *,
    host: str | None,
    public_key: str | None,
    secret_key: str | None,
    enabled: bool,
    sample_rate: float | None,
    release: str | None,
    **options: Any,
) -> SdkConfig:
    """Merge arguments with the environment and validate them (bad values raise ``ValueError``)."""
    host = host or os.environ.get("HALOSCOPE_HOST") or None
    if host:
        host = host.rstrip("/")
        if urlsplit(host).scheme not in ("http", "https") or not urlsplit(host).hostname:
            raise ValueError(
                f"host must be an http(s) URL such as http://127.0.0.1:8000, got {host!r}"
            )
    env_enabled = os.environ.get("HALOSCOPE_ENABLED", "").strip().lower() not in _FALSE
    rate = sample_rate if sample_rate is not None else _env_float("HALOSCOPE_SAMPLE_RATE", 1.0)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"sample_rate must be within [0, 1], got {rate!r}")
    for name in ("flush_at", "max_queue_size", "max_field_bytes"):
        _positive(name, options[name])
    for name in ("flush_interval", "timeout"):
        _positive(name, options[name])
    _positive("max_retries", options["max_retries"], allow_zero=True)
    redact = options["redact"]
    if redact is not None and not callable(redact):
        raise ValueError("redact must be a callable value -> value")
    return SdkConfig(
        host=host,
        public_key=public_key or os.environ.get("HALOSCOPE_PUBLIC_KEY") or None,
        secret_key=secret_key or os.environ.get("HALOSCOPE_SECRET_KEY") or None,
        enabled=enabled and env_enabled,
        sample_rate=float(rate),
        release=release or os.environ.get("HALOSCOPE_RELEASE") or None,
        **options,
    )


def disabled_config() -> SdkConfig:
    """A configuration that exports nothing (fallback when the environment is invalid)."""
    return SdkConfig(
        host=None,
        public_key=None,
        secret_key=None,
        enabled=False,
        sample_rate=1.0,
        flush_at=512,
        flush_interval=1.0,
        max_queue_size=10_000,
        timeout=10.0,
        max_retries=5,
        release=None,
        capture_input=True,
        capture_output=True,
        redact=None,
        max_field_bytes=32_768,
        debug=False,
    )
