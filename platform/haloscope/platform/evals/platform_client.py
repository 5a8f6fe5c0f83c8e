"""Recording runs, verdicts and dataset versions in a Haloscope platform over its API.

Configured by ``HALOSCOPE_HOST``, ``HALOSCOPE_PUBLIC_KEY`` and ``HALOSCOPE_SECRET_KEY``; the
key pair's project owns everything recorded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from haloscope.platform.evals.gate import GateReport
from haloscope.platform.evals.runs import RunRecord

TIMEOUT_S = 30.0


class PlatformError(RuntimeError):
    """The platform refused or could not be reached; the message has its reason."""


class PlatformClient:
    """A small client for the eval and dataset routes (docs/ci-gate.md)."""

    def __init__(self, host: str, public_key: str, secret_key: str) -> None:
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

    def _send(self, method: str, path: str, body: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise PlatformError(f"{method} {path}: {exc}") from exc
        if response.status_code >= 400:
            try:
                reason = response.json().get("error", response.text)
            except ValueError:
                reason = response.text
            raise PlatformError(f"{method} {path}: HTTP {response.status_code}: {reason}")
        return response.json()

    def record_run(self, run: RunRecord) -> dict[str, Any]:
        """Store the run's identity and summary (not its items) in the platform."""
        return self._send("POST", "/api/v1/eval-runs", run_summary_body(run))

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

    def get_dataset_version(self, name: str, version: int | None) -> dict[str, Any]:
        """A stored version (default: the latest) with its items."""
        suffix = "latest" if version is None else str(version)
        return self._send("GET", f"/api/v1/datasets/{name}/versions/{suffix}", None)


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
