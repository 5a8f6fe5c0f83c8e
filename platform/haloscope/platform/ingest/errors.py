"""Errors that reject a whole ingest request or a single span, and the one a fast path
raises to hand an input back to the reference path."""

from __future__ import annotations


class PayloadError(Exception):
    """The request as a whole cannot be ingested; ``status_code`` is the HTTP status to answer."""

    def __init__(self, status_code: int, reason: str) -> None:
        super().__init__(reason)
        self.status_code = status_code
        self.reason = reason

    def __reduce__(self) -> tuple[type[PayloadError], tuple[int, str]]:
        # Raised in an ingest worker process, it is pickled back to the API process.
        return (PayloadError, (self.status_code, self.reason))


class SpanRejected(ValueError):
    """One span is invalid; the message is the reason reported back to the client."""


class FastPathDeclined(Exception):
    """A fast path does not handle this input (it is not in the form that path reads); the
    reference path it stands in for decides instead. Raised only for such inputs, so any other
    exception from a fast path is a bug and propagates."""
