"""HTTP POST of one gzip-compressed batch to the ingest or score endpoint (``http.client``,
keep-alive)."""

from __future__ import annotations

import base64
import email.utils
import http.client
import time
from typing import NamedTuple
from urllib.parse import urlsplit

from ._version import __version__

INGEST_PATH = "/api/v1/ingest"
SCORES_PATH = "/api/v1/scores"
MAX_RETRY_AFTER_S = 60.0


class IngestResponse(NamedTuple):
    """Status, parsed ``Retry-After`` (seconds, if any) and body of an ingest reply."""

    status: int
    retry_after: float | None
    body: bytes


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


class IngestTransport:
    """One persistent connection to ``host`` (its API paths), re-opened after errors."""

    def __init__(self, host: str, public_key: str, secret_key: str, timeout: float) -> None:
        parts = urlsplit(host)
        self._https = parts.scheme == "https"
        self._netloc = parts.netloc
        self._base_path = parts.path.rstrip("/")
        self._timeout = timeout
        token = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode("ascii")
        self._headers = {
            "Authorization": f"Basic {token}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "User-Agent": f"haloscope-python/{__version__}",
        }
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._netloc, timeout=self._timeout)
        return self._conn

    def post(self, gzipped_body: bytes, path: str = INGEST_PATH) -> IngestResponse:
        """Send one batch to ``path``; raises ``OSError``/``http.client.HTTPException`` on
        transport errors."""
        conn = self._connection()
        try:
            conn.request("POST", self._base_path + path, body=gzipped_body, headers=self._headers)
            reply = conn.getresponse()
            body = reply.read()
        except BaseException:
            self.close()
            raise
        if reply.will_close:
            self.close()
        return IngestResponse(reply.status, parse_retry_after(reply.getheader("Retry-After")), body)

    def close(self) -> None:
        """Drop the connection (the next post opens a new one)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
