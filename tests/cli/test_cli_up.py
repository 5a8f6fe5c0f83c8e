"""``haloscope up --demo``: the main job, end to end in a real subprocess."""

from __future__ import annotations

import base64
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _read_until(proc: subprocess.Popen[str], marker: str, timeout: float) -> dict[str, str]:
    """Collect KEY=VALUE lines from stdout until a line starts with ``marker``."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    found: dict[str, str] = {}
    while True:
        line = lines.get(timeout=timeout).strip()
        key, sep, value = line.partition("=")
        if sep:
            found[key] = value
        if line.startswith(marker):
            return found


def test_up_demo_serves_seeded_traces_and_stops_cleanly(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "HALOSCOPE_DATA_DIR": str(tmp_path / "hs"), "HALOSCOPE_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "haloscope.platform.cli.main", "up", "--demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        found = _read_until(proc, "HALOSCOPE_SECRET_KEY=", timeout=180)
        base = found["HALOSCOPE_HOST"]
        assert base == f"http://127.0.0.1:{port}"
        token = f"{found['HALOSCOPE_PUBLIC_KEY']}:{found['HALOSCOPE_SECRET_KEY']}"
        auth = {"Authorization": "Basic " + base64.b64encode(token.encode()).decode()}
        with httpx.Client(base_url=base, headers=auth, timeout=30) as client:
            assert "Haloscope" in client.get("/").text
            traces = client.get("/api/v1/traces", params={"limit": 500}).json()["data"]
            assert len(traces) >= 100
            for release in ("v1.3.0", "v1.4.0"):
                assert client.get("/api/v1/traces", params={"release": release}).json()["data"]
            errors = client.get("/api/v1/traces", params={"status": "error"}).json()["data"]
            assert errors, "the demo includes failing requests"
            tree = client.get(f"/api/v1/traces/{traces[0]['trace_id']}").json()
            kinds = {s["kind"] for s in tree["spans"]}
            assert {"chain", "embedding", "retrieval", "llm"} <= kinds
            by_model = client.get(
                "/api/v1/metrics", params={"start": "0", "group_by": "model"}
            ).json()["data"]
            assert {"gpt-4o", "gpt-4o-mini"} <= {row["model"] for row in by_model}
            assert client.get("/api/v1/traces").status_code == 200
            assert httpx.get(f"{base}/api/v1/traces").status_code == 401
    finally:
        proc.send_signal(signal.SIGINT)
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert proc.wait(timeout=30) in (0, -signal.SIGINT)
