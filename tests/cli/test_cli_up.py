"""``haloscope up --demo``: the main job, end to end in a real subprocess."""

from __future__ import annotations

import base64
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _read_until(proc: subprocess.Popen[str], marker: str, timeout: float) -> dict[str, str]:
    """Collect KEY=VALUE lines (and the demo summary, as ``demo``) from stdout until a line
    starts with ``marker``."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    found: dict[str, str] = {}
    while True:
        line = lines.get(timeout=timeout).strip()
        key, sep, value = line.partition("=")
        if "OTLP decoder: " in line:
            found["decoder"] = line.split("OTLP decoder: ", 1)[1]
        elif line.startswith("demo project"):
            found["demo"] = line
        elif line.startswith("dashboard sign-in: "):
            found["sign-in"] = line.removeprefix("dashboard sign-in: ")
        elif sep:
            found[key] = value
        if line.startswith(marker):
            return found


DEMO_SUMMARY = re.compile(
    r"(?P<wrong>\d+) of (?P<answers>\d+) answers \((?P<share>[\d.]+)%\) contradict their "
    r"retrieved passages; sampling run (?P<run>\w+) judges every answer"
)
OVERVIEW_RATE = re.compile(r"hallucination rate (?P<rate>[\d.]+)% of (?P<judged>[\d,]+) judged")


def _demo_sampling_run(client: httpx.Client, run_id: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        run = client.get(f"/api/v1/sampling-runs/{run_id}").json()
        if run["status"] != "running" or time.monotonic() > deadline:
            return run
        time.sleep(2)


@pytest.mark.timeout(900)
def test_up_demo_serves_seeded_traces_and_stops_cleanly(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "HALOSCOPE_DATA_DIR": str(tmp_path / "hs"), "HALOSCOPE_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "haloscope.platform.cli.main", "up", "--demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        found = _read_until(proc, "dashboard sign-in: ", timeout=180)
        base = found["HALOSCOPE_HOST"]
        assert base == f"http://127.0.0.1:{port}"
        assert found["decoder"] == "compiled C fast path"  # logged once at start
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

            # The sampling run over every answer reports the share of contradicting answers.
            seeded = DEMO_SUMMARY.search(found["demo"])
            assert seeded, found["demo"]
            answers, wrong = int(seeded["answers"]), int(seeded["wrong"])
            assert 0 < wrong < answers / 4
            run = _demo_sampling_run(client, seeded["run"], timeout=600)
            assert run["status"] == "completed", run
            # The failed LLM calls have no answer to judge and are not sampled; no item fails.
            assert (run["scored"], run["failed"]) == (answers, 0), run
        with httpx.Client(base_url=base, timeout=30, follow_redirects=True) as browser:
            email, password = found["sign-in"].split(" / ")
            form = browser.get("/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]
            browser.post("/login", data={"email": email, "password": password, "csrf_token": token})
            overview = browser.get("/", params={"range": "30d"})
            assert overview.url.path.endswith("/overview")
            overview = browser.get(overview.url.path, params={"range": "30d"}).text
        shown = OVERVIEW_RATE.search(overview)
        assert shown, "the overview shows no hallucination rate"
        assert int(shown["judged"].replace(",", "")) == answers
        assert abs(float(shown["rate"]) - float(seeded["share"])) <= 0.5, (shown[0], seeded[0])

    finally:
        proc.send_signal(signal.SIGINT)
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert proc.wait(timeout=30) in (0, -signal.SIGINT)
