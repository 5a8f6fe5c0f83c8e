"""Ingest throughput: spans/s stored end to end over HTTP into the embedded chDB store.

Starts the real API (uvicorn, one process, fresh data dir), then N client threads POST
pre-built gzip batches of realistic spans (SDK batch format, OTLP protobuf, and with
``--formats`` OTLP JSON) until the target count is sent, and waits until ``count()`` over the
stored spans equals what was sent (stored = visible to queries). With ``--with-phoenix`` the same OTLP batches go to Arize
Phoenix (installed on demand into its own venv) and the ratio is printed.

    .venv/bin/python benchmarks/ingest.py --spans 200000 --repeat 3 [--with-phoenix]
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

REPO = Path(__file__).resolve().parents[1]
PHOENIX_VENV = REPO / "benchmarks" / ".phoenix-venv"
QUESTION = "How do I rotate the API keys of a project without downtime? " * 3
ANSWER = "Create a second key pair, deploy it, then revoke the first one once traffic moved. " * 3


# ---------------------------------------------------------------- server side (--serve mode)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_app(data_dir: Path, port: int, **overrides: object) -> tuple[Any, Any, dict[str, str]]:
    """The API app over a fresh store in ``data_dir`` (settings ``overrides`` applied), its
    store, and a new "bench" project's id and key pair (``project_id``, ``public``,
    ``secret``)."""
    from haloscope.platform.api.app import create_app
    from haloscope.platform.auth.api_keys import create_api_key, create_project
    from haloscope.platform.config import load_settings
    from haloscope.platform.db.engine import make_engine, make_sessionmaker, upgrade_database
    from haloscope.platform.store import open_store

    settings = load_settings(data_dir=str(data_dir), port=port, **overrides)
    upgrade_database(settings.resolved_database_url)
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    with sessions() as session:
        project = create_project(session, "bench")
        key = create_api_key(session, project.id)
        session.commit()
        keys = {"project_id": str(project.id), "public": key.public_key, "secret": key.secret_key}
    store = open_store(settings)
    store.migrate()
    return create_app(settings, store=store, sessionmaker=sessions), store, keys


def serve(data_dir: Path, port: int) -> None:
    """Run the API on 127.0.0.1:port over a fresh store; print the bench project's keys."""
    import uvicorn

    app, store, keys = bench_app(data_dir, port)

    @app.get("/bench/count")
    def count(want: int) -> dict[str, int]:
        """Spans stored: a plain count() while it is below ``want`` (cheap; never below the
        deduplicated count), the exact count over ``spans FINAL`` once it reaches it (FINAL
        costs ~0.2 s of CPU per million rows, which polling would add to the run)."""
        n = 0
        for sql in (
            "SELECT count() AS n FROM spans WHERE project_id = {p:String}",
            "SELECT count() AS n FROM spans FINAL WHERE project_id = {p:String}",
        ):
            n = int(store.driver.query(sql, {"p": keys["project_id"]})[0]["n"])
            if n < want:
                break
        return {"count": n}

    print(json.dumps(keys), flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    store.close()


# ---------------------------------------------------------------- payloads


def _sdk_span(trace_id: str, i: int, t0: int) -> dict:
    return {
        "trace_id": trace_id,
        "span_id": os.urandom(8).hex(),
        "parent_span_id": None if i == 0 else trace_id[:16],
        "name": "chat gpt-4o-mini" if i % 2 else "retrieve",
        "kind": "llm" if i % 2 else "retrieval",
        "start_time": t0 + i * 1000,
        "end_time": t0 + i * 1000 + 800,
        "input": {"messages": [{"role": "user", "content": QUESTION}]},
        "output": ANSWER,
        "model": "gpt-4o-mini",
        "provider": "openai",
        "usage": {"prompt_tokens": 120, "completion_tokens": 40},
        "cost": 0.00012,
        "session_id": "sess-42",
        "user_id": "user-7",
        "release": "1.4.2",
        "tags": ["prod"],
        "metadata": {"route": "/ask"},
    }


def sdk_batches(n_batches: int, batch: int) -> list[bytes]:
    """Gzip SDK batches of ``batch`` spans, 10 spans per trace, all ids unique."""
    t0 = int(time.time() * 1e6) - 3_600_000_000
    out = []
    for _ in range(n_batches):
        spans = []
        for _ in range(batch // 10):
            trace_id = os.urandom(16).hex()
            spans += [_sdk_span(trace_id, i, t0) for i in range(10)]
        out.append(gzip.compress(orjson.dumps({"spans": spans}), 1))
    return out


def _kv(key: str, value: str | int) -> KeyValue:
    any_value = (
        AnyValue(int_value=value) if isinstance(value, int) else AnyValue(string_value=value)
    )
    return KeyValue(key=key, value=any_value)


def otlp_batches(n_batches: int, batch: int) -> list[bytes]:
    """Gzip OTLP protobuf export requests carrying the same spans as ``sdk_batches``."""
    t0 = (int(time.time()) - 3600) * 1_000_000_000
    out = []
    for _ in range(n_batches):
        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.append(_kv("service.name", "bench-app"))
        resource_spans.resource.attributes.append(_kv("service.version", "1.4.2"))
        scope = resource_spans.scope_spans.add()
        scope.scope.name = "bench"
        for _ in range(batch // 10):
            trace_id = os.urandom(16)
            for i in range(10):
                span = scope.spans.add()
                span.trace_id, span.span_id = trace_id, os.urandom(8)
                if i:
                    span.parent_span_id = trace_id[:8]
                span.name = "chat gpt-4o-mini" if i % 2 else "retrieve"
                span.start_time_unix_nano = t0 + i * 1_000_000
                span.end_time_unix_nano = t0 + i * 1_000_000 + 800_000
                span.attributes.extend(
                    [
                        _kv("openinference.span.kind", "LLM" if i % 2 else "RETRIEVER"),
                        _kv("gen_ai.request.model", "gpt-4o-mini"),
                        _kv("gen_ai.system", "openai"),
                        _kv("gen_ai.usage.input_tokens", 120),
                        _kv("gen_ai.usage.output_tokens", 40),
                        _kv("input.value", QUESTION),
                        _kv("output.value", ANSWER),
                        _kv("session.id", "sess-42"),
                        _kv("user.id", "user-7"),
                    ]
                )
        out.append(gzip.compress(request.SerializeToString(), 1))
    return out


def otlp_json_batches(protobuf_batches: list[bytes]) -> list[bytes]:
    """The same requests as OTLP JSON (the proto3 JSON mapping, ids in hex), gzip."""
    out = []
    for body in protobuf_batches:
        request = ExportTraceServiceRequest.FromString(gzip.decompress(body))
        document = json_format.MessageToDict(request)
        spans = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
        messages = request.resource_spans[0].scope_spans[0].spans
        for span, message in zip(spans, messages, strict=True):
            span["traceId"], span["spanId"] = message.trace_id.hex(), message.span_id.hex()
            if message.parent_span_id:
                span["parentSpanId"] = message.parent_span_id.hex()
        out.append(gzip.compress(orjson.dumps(document), 1))
    return out


# ---------------------------------------------------------------- load generation


def send_all(
    url: str, bodies: list[bytes], headers: dict[str, str], clients: int, auth=None
) -> None:
    """POST every body once from ``clients`` threads; any non-2xx response aborts."""
    position = iter(range(len(bodies)))
    lock = threading.Lock()
    errors: list[str] = []

    def worker() -> None:
        with httpx.Client(timeout=120, auth=auth) as http:
            while True:
                with lock:
                    index = next(position, None)
                if index is None or errors:
                    return
                response = http.post(url, content=bodies[index], headers=headers)
                while response.status_code == 503:
                    time.sleep(float(response.headers.get("retry-after", "1")))
                    response = http.post(url, content=bodies[index], headers=headers)
                if response.status_code >= 300:
                    errors.append(f"{response.status_code}: {response.text[:300]}")

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"ingest failed: {errors[0]}")


def cpu_by_process(server: psutil.Process) -> dict[str, float]:
    """CPU seconds so far of the API process (its chDB threads included), of its ingest worker
    processes, and of this client process."""
    workers = 0.0
    for child in server.children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        workers += times.user + times.system
    api, client = server.cpu_times(), psutil.Process().cpu_times()
    return {
        "api": api.user + api.system,
        "workers": workers,
        "client": client.user + client.system,
    }


def measure(
    label: str,
    send: Callable[[], None],
    count: Callable[[int], int],
    expected: int,
    start_count: int,
    cpu: Callable[[], dict[str, float]] | None = None,
) -> float:
    """Send, then poll ``count`` (given the count waited for) until ``expected`` more spans are
    stored; return spans/s.
    With ``cpu`` (CPU seconds by process), also print the CPU each process spent per span."""
    cpu_before = cpu() if cpu else {}
    started = time.perf_counter()
    send()
    sent_at = time.perf_counter() - started
    while count(start_count + expected) < start_count + expected:
        time.sleep(0.05)
        if time.perf_counter() - started > 600:
            raise RuntimeError(f"{label}: spans not all stored after 600 s")
    elapsed = time.perf_counter() - started
    rate = expected / elapsed
    cpu_text = ""
    if cpu:
        spent = {name: seconds - cpu_before[name] for name, seconds in cpu().items()}
        cpu_text = "  CPU µs/span " + " ".join(
            f"{name} {seconds / expected * 1e6:.1f}" for name, seconds in spent.items()
        )
    print(
        f"{label:<28} {expected:>9,} spans  sent {sent_at:6.2f}s  stored {elapsed:6.2f}s  "
        f"{rate:>10,.0f} spans/s{cpu_text}",
        flush=True,
    )
    return rate


def wait_http(url: str, timeout_s: float = 120) -> None:
    """Poll ``url`` until it answers below 500."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def served(script: str, prefix: str) -> Iterator[tuple[subprocess.Popen, str, dict[str, str]]]:
    """Run ``script --serve`` (a benchmark's server mode, see :func:`bench_app`) over a fresh
    data dir named with ``prefix``; yield the process, its base URL once it answers, and the
    keys it printed. Leaving the block stops it."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix=prefix) as data_dir:
        server = subprocess.Popen(
            [sys.executable, script, "--serve", "--port", str(port), "--data-dir", data_dir],
            stdout=subprocess.PIPE,
            env={**os.environ, "HALOSCOPE_DATA_DIR": data_dir},
            cwd=REPO,
        )
        try:
            keys = json.loads(server.stdout.readline())
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/api/health")
            yield server, base, keys
        finally:
            server.terminate()
            server.wait(60)


def parse_or_serve(
    parser: argparse.ArgumentParser, serve: Callable[[Path, int], None]
) -> argparse.Namespace | None:
    """Parse the command line with the hidden server-mode options that :func:`served` passes;
    in server mode run ``serve(data_dir, port)`` and return None, else the arguments."""
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.data_dir, args.port)
        return None
    return args


def run_haloscope(
    args: argparse.Namespace,
    sdk: list[list[bytes]],
    otlp: list[list[bytes]],
    otlp_json: list[list[bytes]],
) -> dict[str, list[float]]:
    """Start our API and measure each format once per repeat (each repeat sends new spans);
    return the spans/s of every run by format."""
    with served(__file__, "haloscope-bench-") as (server, base, keys):
        auth = (keys["public"], keys["secret"])

        def count(want: int) -> int:
            answer = httpx.get(f"{base}/bench/count", params={"want": want}, timeout=60)
            return answer.json()["count"]

        gz = {"Content-Encoding": "gzip"}
        formats = {
            "sdk": ("haloscope SDK batch", "/api/v1/ingest", "application/json", sdk),
            "otlp": ("haloscope OTLP protobuf", "/v1/traces", "application/x-protobuf", otlp),
            "otlp-json": ("haloscope OTLP JSON", "/v1/traces", "application/json", otlp_json),
        }
        results: dict[str, list[float]] = {}
        stored = 0
        for run in range(args.repeat):
            for fmt, (label, path, content_type, batches) in formats.items():
                if fmt not in args.formats.split(","):
                    continue
                send = functools.partial(
                    send_all,
                    f"{base}{path}",
                    batches[run],
                    {**gz, "Content-Type": content_type},
                    args.clients,
                    auth,
                )
                rate = measure(
                    label,
                    send,
                    count,
                    args.spans,
                    stored,
                    functools.partial(cpu_by_process, psutil.Process(server.pid)),
                )
                results.setdefault(fmt, []).append(rate)
                stored += args.spans
        return results


# ---------------------------------------------------------------- Phoenix baseline


def run_phoenix(args: argparse.Namespace, otlp: list[bytes]) -> float:
    """Send the first ``--phoenix-spans`` of the same OTLP batches to a fresh Phoenix server
    and measure until its span count matches (Phoenix stores a few hundred spans/s, so the
    full run would take many minutes)."""
    otlp = otlp[: max(1, args.phoenix_spans // args.batch)]
    python = PHOENIX_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PHOENIX_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "arize-phoenix"], check=True)
    port, grpc_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="phoenix-bench-") as work:
        env = {
            **os.environ,
            "PHOENIX_WORKING_DIR": work,
            "PHOENIX_PORT": str(port),
            "PHOENIX_GRPC_PORT": str(grpc_port),
            "PHOENIX_HOST": "127.0.0.1",
            "PHOENIX_TELEMETRY_ENABLED": "false",
            "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
        }
        server = subprocess.Popen(
            [str(PHOENIX_VENV / "bin" / "phoenix"), "serve"],
            env=env,
            cwd=work,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/healthz")
            # Project.recordCount (phoenix/server/api/types/Project.py) counts a project's spans.
            query = {"query": "{ projects { edges { node { name recordCount } } } }"}

            def count(want: int) -> int:
                data = httpx.post(f"{base}/graphql", json=query, timeout=120).json()
                return sum(e["node"]["recordCount"] for e in data["data"]["projects"]["edges"])

            headers = {"Content-Encoding": "gzip", "Content-Type": "application/x-protobuf"}
            return measure(
                "phoenix OTLP protobuf",
                lambda: send_all(f"{base}/v1/traces", otlp, headers, args.clients),
                count,
                len(otlp) * args.batch,
                0,
            )
        finally:
            server.terminate()
            server.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=200_000, help="spans sent per format")
    parser.add_argument("--batch", type=int, default=1000, help="spans per request")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads")
    parser.add_argument("--formats", default="sdk,otlp", help="comma list: sdk, otlp, otlp-json")
    parser.add_argument("--with-phoenix", action="store_true", help="also measure Arize Phoenix")
    parser.add_argument(
        "--phoenix-spans", type=int, default=10_000, help="spans sent to Phoenix (a prefix)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per format; medians shown")
    args = parse_or_serve(parser, serve)
    if args is None:
        return
    n_batches = args.spans // args.batch
    args.spans = n_batches * args.batch
    print(
        f"building {args.repeat} x {n_batches} batches of {args.batch} spans per format ...",
        flush=True,
    )
    sdk = [sdk_batches(n_batches, args.batch) for _ in range(args.repeat)]
    otlp = [otlp_batches(n_batches, args.batch) for _ in range(args.repeat)]
    # New span ids for JSON: a re-sent span would replace itself and not count again.
    otlp_json = [
        otlp_json_batches(otlp_batches(n_batches, args.batch))
        for _ in range(args.repeat if "otlp-json" in args.formats.split(",") else 0)
    ]
    print(f"load average before: {os.getloadavg()}", flush=True)
    runs = run_haloscope(args, sdk, otlp, otlp_json)
    ours = {fmt: statistics.median(rates) for fmt, rates in runs.items()}
    target = 50_000
    for fmt, rate in ours.items():
        print(
            f"haloscope {fmt}: median {rate:,.0f} spans/s of {args.repeat} runs "
            f"(target {target:,}: {rate / target:.2f}x)"
        )
    if args.with_phoenix:
        try:
            phoenix = run_phoenix(args, otlp[0])
            if "otlp" in ours:
                print(f"haloscope OTLP / phoenix OTLP = {ours['otlp'] / phoenix:.1f}x (target 10x)")
        except Exception as exc:  # the baseline is optional: report and keep our figures
            print(f"phoenix baseline failed: {exc!r}")
    print(f"load average after: {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
