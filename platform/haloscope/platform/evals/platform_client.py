"""Recording runs, verdicts and dataset versions in a Haloscope platform over its API.

Configured by ``HALOSCOPE_HOST``, ``HALOSCOPE_PUBLIC_KEY`` and ``HALOSCOPE_SECRET_KEY``; the
key pair's project owns everything recorded.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO
from urllib.parse import urlencode

import httpx
import orjson
from haloscope.platform.evals.gate import GateReport
from haloscope.platform.evals.runs import RunRecord

TIMEOUT_S = 30.0
# Item uploads: at most this many items, and about this many bytes, per request.
ITEM_BATCH_ROWS = 1000
ITEM_BATCH_BYTES = 4 * 1024 * 1024
ITEM_UPLOADS_IN_FLIGHT = 2


class PlatformError(RuntimeError):
    """The platform refused or could not be reached; the message has its reason."""


class PlatformClient:
    """A small client for the eval and dataset routes (docs/ci-gate.md) and the downloads of
    the CLI (``haloscope export``)."""

    def __init__(self, host: str, public_key: str, secret_key: str) -> None:
        self.host = host.rstrip("/")
        self._http = httpx.Client(
            base_url=host.rstrip("/"), auth=(public_key, secret_key), timeout=TIMEOUT_S
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PlatformClient | None:
        """A client when host and both keys are set, else None (offline mode)."""
        env = os.environ if env is None else env
        host = env.get("HALOSCOPE_HOST", "")
        public, secret = env.get("HALOSCOPE_PUBLIC_KEY", ""), env.get("HALOSCOPE_SECRET_KEY", "")
        return cls(host, public, secret) if host and public and secret else None

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def _send(
        self, method: str, path: str, body: Any, *, raw: bytes | None = None
    ) -> dict[str, Any]:
        """``body`` as JSON, or ``raw`` bytes already encoded as JSON."""
        options: dict[str, Any] = (
            {"json": body}
            if raw is None
            else {"content": raw, "headers": {"Content-Type": "application/json"}}
        )
        try:
            response = self._http.request(method, path, **options)
        except httpx.HTTPError as exc:
            raise PlatformError(f"{method} {path}: {exc}") from exc
        if response.status_code >= 400:
            raise PlatformError(
                f"{method} {path}: HTTP {response.status_code}: {_reason(response)}"
            )
        return response.json()

    def download(self, path: str, params: Mapping[str, Any], sink: BinaryIO) -> int:
        """Stream the body of ``GET path`` into ``sink`` as it arrives; the bytes written."""
        written = 0
        try:
            with self._http.stream("GET", path, params=params) as response:
                if response.status_code >= 400:
                    response.read()
                    raise PlatformError(
                        f"GET {path}: HTTP {response.status_code}: {_reason(response)}"
                    )
                for chunk in response.iter_bytes():
                    sink.write(chunk)
                    written += len(chunk)
        except httpx.HTTPError as exc:
            raise PlatformError(f"GET {path}: {exc}") from exc
        return written

    def record_run(self, run: RunRecord) -> dict[str, Any]:
        """Store the run's identity and summary (not its items) in the platform."""
        return self._send("POST", "/api/v1/eval-runs", run_summary_body(run))

    def record_items(self, run_id: str, items: Iterable[Mapping[str, Any]]) -> int:
        """Upload the run's items (``evals.items.upload_items``) in batches of at most
        ITEM_BATCH_ROWS items and about ITEM_BATCH_BYTES, ITEM_UPLOADS_IN_FLIGHT requests at a
        time (the next batch is encoded and sent while the platform stores the previous one);
        the items sent. Re-sending is safe: the platform keeps one row per run and item."""
        path = f"/api/v1/eval-runs/{run_id}/items"
        sent = 0
        in_flight: deque[tuple[int, Future[dict[str, Any]]]] = deque()
        with ThreadPoolExecutor(max_workers=ITEM_UPLOADS_IN_FLIGHT) as pool:
            for count, body in item_batches(items):
                if len(in_flight) >= ITEM_UPLOADS_IN_FLIGHT:
                    done, answer = in_flight.popleft()
                    answer.result()
                    sent += done
                in_flight.append((count, pool.submit(self._send, "POST", path, None, raw=body)))
            for done, answer in in_flight:
                answer.result()
                sent += done
        return sent

    def compare_url(self, project_id: str, run_ids: Sequence[str]) -> str:
        """The dashboard's item-by-item comparison of ``run_ids`` (the first is the baseline)."""
        query = urlencode([("run", run_id) for run_id in run_ids])
        return f"{self.host}/projects/{project_id}/datasets/compare?{query}"

    def record_verdict(self, report: GateReport) -> dict[str, Any]:
        """Attach the gate's verdict to the recorded run."""
        return self._send("PUT", f"/api/v1/eval-runs/{report.run_id}/gate", report.to_json())

    def push_dataset(
        self, name: str, items: Sequence[Mapping[str, Any]], source: str
    ) -> dict[str, Any]:
        """Import ``items`` as a new version of dataset ``name``."""
        return self._send(
            "POST", f"/api/v1/datasets/{name}/versions", {"items": list(items), "source": source}
        )

    def dataset_from_traces(self, name: str, trace_ids: Sequence[str]) -> dict[str, Any]:
        """A new version of ``name`` built from production traces."""
        return self._send(
            "POST", f"/api/v1/datasets/{name}/versions/from-traces", {"trace_ids": list(trace_ids)}
        )

    def get_judge(self, name: str, version: str | None) -> tuple[dict[str, Any], int]:
        """A stored custom judge's spec and version (default: the latest)."""
        path = f"/api/v1/judges/{name}" + (f"/versions/{version}" if version else "")
        judge = self._send("GET", path, None)
        return judge["spec"], int(judge["version"])

    def get_dataset_version(self, name: str, version: int | None) -> dict[str, Any]:
        """A stored version (default: the latest) with its items."""
        suffix = "latest" if version is None else str(version)
        return self._send("GET", f"/api/v1/datasets/{name}/versions/{suffix}", None)


def _reason(response: httpx.Response) -> str:
    """The ``error`` of an API error answer, else its text."""
    try:
        return response.json().get("error", response.text)
    except ValueError:
        return response.text


def _item_json(item: Mapping[str, Any]) -> bytes:
    try:
        return orjson.dumps(item)
    except TypeError:  # an integer beyond 64 bits in a dataset value
        return json.dumps(item, ensure_ascii=False, allow_nan=False).encode()


def item_batches(items: Iterable[Mapping[str, Any]]) -> Iterator[tuple[int, bytes]]:
    """``(item count, {"items": [...]} body)`` batches of at most ITEM_BATCH_ROWS items and
    about ITEM_BATCH_BYTES each (an item larger than that travels alone)."""
    batch: list[bytes] = []
    size = 0
    for item in items:
        encoded = _item_json(item)
        if batch and (len(batch) >= ITEM_BATCH_ROWS or size + len(encoded) > ITEM_BATCH_BYTES):
            yield len(batch), b'{"items":[' + b",".join(batch) + b"]}"
            batch, size = [], 0
        batch.append(encoded)
        size += len(encoded) + 1
    if batch:
        yield len(batch), b'{"items":[' + b",".join(batch) + b"]}"


def run_summary_body(run: RunRecord) -> dict[str, Any]:
    """The JSON body that records ``run``."""
    return {
        "run_id": run.run_id,
        "dataset": run.dataset.get("name", ""),
        "dataset_version": str(run.dataset.get("version", "")),
        "target": run.target,
        "git_commit": run.git.get("commit", ""),
        "git_branch": run.git.get("branch", ""),
        "item_count": len(run.items),
        "summary": run.summary,
    }
