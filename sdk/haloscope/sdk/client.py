"""The SDK client: configuration, the exporter, and the process-wide current client."""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable
from typing import Any

from ._logging import log_once, logger
from .config import SdkConfig, disabled_config, resolve_config
from .exporter import BatchExporter, ExportStats
from .ids import sampling_threshold
from .spans import Span
from .transport import IngestTransport
from .wire import SpanEncoder

EXIT_FLUSH_TIMEOUT_S = 5.0


class Client:
    """Holds one configuration and, when exporting, the background exporter."""

    def __init__(self, config: SdkConfig) -> None:
        self.config = config
        self.sampling_threshold = sampling_threshold(config.sample_rate)
        self._exporter: BatchExporter | None = None
        if config.exporting:
            assert config.host and config.public_key and config.secret_key
            self._exporter = BatchExporter(
                IngestTransport(config.host, config.public_key, config.secret_key, config.timeout),
                SpanEncoder(config.max_field_bytes, config.redact, config.release),
                flush_at=config.flush_at,
                flush_interval=config.flush_interval,
                max_queue_size=config.max_queue_size,
                max_retries=config.max_retries,
            )
        self._stats = self._exporter.stats if self._exporter is not None else ExportStats()
        #: Where finished sampled spans go (``None`` when nothing is exported).
        self.sink: Callable[[Span], None] | None = (
            self._exporter.enqueue if self._exporter is not None else None
        )

    @property
    def stats(self) -> ExportStats:
        """Export counters: sent, dropped, failed, rejected, retries, batches."""
        return self._stats

    def flush(self, timeout: float | None = None) -> bool:
        """Send every span finished so far; ``True`` when done within ``timeout``."""
        if self._exporter is None:
            return True
        try:
            return self._exporter.flush(timeout)
        except Exception:
            logger.debug("haloscope: flush failed", exc_info=True)
            return False

    def shutdown(self, timeout: float = EXIT_FLUSH_TIMEOUT_S) -> bool:
        """Flush (bounded by ``timeout``) and stop the exporter; later spans are not exported."""
        exporter, self._exporter = self._exporter, None
        self.sink = None
        if exporter is None:
            return True
        try:
            return exporter.shutdown(timeout)
        except Exception:
            logger.debug("haloscope: shutdown failed", exc_info=True)
            return False


_client: Client | None = None
_client_lock = threading.Lock()


def init(
    host: str | None = None,
    public_key: str | None = None,
    secret_key: str | None = None,
    *,
    enabled: bool = True,
    sample_rate: float | None = None,
    flush_at: int = 512,
    flush_interval: float = 1.0,
    max_queue_size: int = 10_000,
    timeout: float = 10.0,
    max_retries: int = 5,
    release: str | None = None,
    capture_input: bool = True,
    capture_output: bool = True,
    redact: Callable[[Any], Any] | None = None,
    max_field_bytes: int = 32_768,
    debug: bool = False,
) -> Client:
    """Configure the SDK (arguments override ``HALOSCOPE_*`` env vars) and return the client.

    Without a host and both keys the SDK runs disabled: spans are created, nothing is sent.
    Calling ``init`` again replaces (and shuts down) the previous client.
    """
    config = resolve_config(
        host=host,
        public_key=public_key,
        secret_key=secret_key,
        enabled=enabled,
        sample_rate=sample_rate,
        release=release,
        flush_at=flush_at,
        flush_interval=flush_interval,
        max_queue_size=max_queue_size,
        timeout=timeout,
        max_retries=max_retries,
        capture_input=capture_input,
        capture_output=capture_output,
        redact=redact,
        max_field_bytes=max_field_bytes,
        debug=debug,
    )
    if debug:
        logger.setLevel(logging.DEBUG)
        if not logger.handlers:
            logger.addHandler(logging.StreamHandler())
    if config.enabled and not config.exporting:
        log_once(
            "disabled",
            "haloscope: no HALOSCOPE_HOST/HALOSCOPE_PUBLIC_KEY/HALOSCOPE_SECRET_KEY configured; "
            "tracing runs without export",
        )
    return _install(Client(config))


def _install(client: Client) -> Client:
    global _client
    with _client_lock:
        previous, _client = _client, client
    if previous is not None:
        previous.shutdown()
    return client


def get_client() -> Client:
    """The current client, created from the environment on first use."""
    client = _client
    if client is not None:
        return client
    try:
        return init()
    except ValueError as exc:
        log_once("env-config", "haloscope: invalid configuration (%s); tracing disabled", exc)
        return _install(Client(disabled_config()))


def flush(timeout: float | None = None) -> bool:
    """Block until every finished span is delivered (or ``timeout`` seconds pass)."""
    client = _client
    return client.flush(timeout) if client is not None else True


def shutdown(timeout: float = EXIT_FLUSH_TIMEOUT_S) -> None:
    """Flush and stop exporting; the decorators keep working without export."""
    client = _client
    if client is not None:
        client.shutdown(timeout)


atexit.register(shutdown)
