"""Fixtures for SDK tests: a recording test double of the ingest API on 127.0.0.1."""

from __future__ import annotations

import base64
import gzip
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import haloscope.sdk as sdk
import pytest

PUBLIC_KEY = "pk-test"
SECRET_KEY = "sk-test"


class RecordingIngestServer:
    """Serves ``POST /api/v1/ingest`` and ``POST /api/v1/scores``, records each decoded batch
    (span batches in ``batches``, score batches in ``score_batches``), answers scripted
    statuses.

    ``script(status, times=n, headers=..., body=...)`` queues replies used before the
    default ``200``; a scripted reply does not record the batch (the platform did not
    store it) unless it is a ``207``.
    """

    def __init__(self) -> None:
        self.public_key = PUBLIC_KEY
        self.secret_key = SECRET_KEY
        #: The Basic ``Authorization`` header the SDK must send for this key pair.
        self.expected_auth = (
            "Basic " + base64.b64encode(f"{PUBLIC_KEY}:{SECRET_KEY}".encode()).decode()
        )
        self.batches: list[dict[str, Any]] = []
        self.score_batches: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self._script: list[tuple[int, dict[str, str], bytes]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                server._handle(self, raw)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def script(
        self,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next ``times`` requests with ``status``."""
        payload = json.dumps(body if body is not None else {"error": "scripted"}).encode()
        with self._lock:
            self._script.extend([(status, headers or {}, payload)] * times)

    def _handle(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        body = gzip.decompress(raw) if handler.headers.get("Content-Encoding") == "gzip" else raw
        batch = json.loads(body)
        auth = handler.headers.get("Authorization", "")
        with self._lock:
            self.requests.append({"time": time.monotonic(), "auth": auth, "path": handler.path})
            status, headers, payload = self._script.pop(0) if self._script else (200, {}, b"")
            scores = handler.path.endswith("/api/v1/scores")
            if status in (200, 207):
                (self.score_batches if scores else self.batches).append(batch)
            if status == 200:
                items = batch["scores"] if scores else batch["spans"]
                payload = json.dumps({"accepted": len(items), "rejected": []}).encode()
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    @property
    def spans(self) -> list[dict[str, Any]]:
        """Every recorded span, in arrival order."""
        with self._lock:
            return [span for batch in self.batches for span in batch["spans"]]

    @property
    def scores(self) -> list[dict[str, Any]]:
        """Every recorded score, in arrival order."""
        with self._lock:
            return [score for batch in self.score_batches for score in batch["scores"]]

    def by_name(self) -> dict[str, dict[str, Any]]:
        """Recorded spans keyed by name (the last one wins)."""
        return {span["name"]: span for span in self.spans}

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until at least ``count`` spans arrived; returns them."""
        deadline = time.monotonic() + timeout
        while len(self.spans) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.spans

    def close(self) -> None:
        """Stop serving."""
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def ingest_server() -> Iterator[RecordingIngestServer]:
    server = RecordingIngestServer()
    yield server
    server.close()


@pytest.fixture
def make_client(ingest_server: RecordingIngestServer) -> Iterator[Any]:
    """``make_client(**init_options)``: an SDK client exporting to the recording server."""

    def make(**options: Any) -> sdk.Client:
        options.setdefault("flush_interval", 0.05)
        return sdk.init(ingest_server.url, PUBLIC_KEY, SECRET_KEY, **options)

    yield make
    sdk.shutdown(timeout=2.0)


@pytest.fixture
def client(make_client: Any) -> sdk.Client:
    """An SDK client with default options exporting to the recording server."""
    return make_client()
