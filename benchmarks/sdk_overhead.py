"""Caller-side cost of tracing: Haloscope ``@observe`` vs Langfuse v3 ``@observe`` vs OpenTelemetry.

Each SDK traces the same workload, a function calling a nested function, with typical
attributes (captured arguments and result, and an LLM-ish inner span with model and token
usage). Every SDK exports in the background while we measure, doing its normal work:
Haloscope and Langfuse post their batches to a discard HTTP server running in a separate
process on 127.0.0.1 (it answers 200 and drops the body); OpenTelemetry uses a
``BatchSpanProcessor`` whose exporter discards. Figures are microseconds per outer call
(two spans) net of the undecorated baseline, median of 7 repetitions.

    python benchmarks/sdk_overhead.py [--calls 5000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

DISCARD_SERVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Discard(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = b'{"accepted":0,"rejected":[]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Discard).serve_forever()
"""

USAGE = {"prompt_tokens": 412, "completion_tokens": 96}
DOCS = "Paris is the capital and most populous city of France."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_discard_server() -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", DISCARD_SERVER, str(port)])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("discard server did not start")


def baseline_workload() -> Callable[[str], str]:
    def generate(prompt: str, temperature: float) -> str:
        return prompt[:16]

    def answer(question: str) -> str:
        return generate(f"{DOCS}\n\nQ: {question}", temperature=0.2)

    return answer


def haloscope_workload(host: str) -> tuple[Callable[[str], str], Callable[[], None], object]:
    from haloscope import sdk

    client = sdk.init(host, "pk-bench", "sk-bench")

    @sdk.observe(as_type="llm")
    def generate(prompt: str, temperature: float) -> str:
        sdk.update_current_span(model="gpt-4o-mini", provider="openai", usage=USAGE)
        return prompt[:16]

    @sdk.observe(as_type="chain")
    def answer(question: str) -> str:
        return generate(f"{DOCS}\n\nQ: {question}", temperature=0.2)

    return answer, lambda: client.flush(60), client


def langfuse_workload(host: str) -> tuple[Callable[[str], str], Callable[[], None]]:
    from langfuse import Langfuse, observe

    client = Langfuse(
        public_key="pk-lf-bench", secret_key="sk-lf-bench", host=host, tracing_enabled=True
    )

    @observe(as_type="generation")
    def generate(prompt: str, temperature: float) -> str:
        client.update_current_generation(
            model="gpt-4o-mini",
            usage_details={"input": USAGE["prompt_tokens"], "output": USAGE["completion_tokens"]},
        )
        return prompt[:16]

    @observe()
    def answer(question: str) -> str:
        return generate(f"{DOCS}\n\nQ: {question}", temperature=0.2)

    return answer, client.flush


def otel_workload() -> tuple[Callable[[str], str], Callable[[], None]]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class DiscardExporter(SpanExporter):
        def export(self, spans):  # noqa: ANN001, ANN201 - OpenTelemetry's interface
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DiscardExporter()))
    tracer = provider.get_tracer("bench")

    def generate(prompt: str, temperature: float) -> str:
        with tracer.start_as_current_span("generate") as span:
            span.set_attribute("input.value", prompt)
            span.set_attribute("gen_ai.request.model", "gpt-4o-mini")
            span.set_attribute("gen_ai.request.temperature", temperature)
            span.set_attribute("gen_ai.usage.input_tokens", USAGE["prompt_tokens"])
            span.set_attribute("gen_ai.usage.output_tokens", USAGE["completion_tokens"])
            result = prompt[:16]
            span.set_attribute("output.value", result)
            return result

    def answer(question: str) -> str:
        with tracer.start_as_current_span("answer") as span:
            span.set_attribute("input.value", question)
            result = generate(f"{DOCS}\n\nQ: {question}", temperature=0.2)
            span.set_attribute("output.value", result)
            return result

    return answer, lambda: provider.force_flush(60_000)


def time_per_call(fn: Callable[[str], str], calls: int) -> float:
    started = time.perf_counter()
    for i in range(calls):
        fn("What is the capital of France?" if i % 2 else "Who wrote Les Misérables?")
    return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    server, host = start_discard_server()
    try:
        ours, ours_flush, ours_client = haloscope_workload(host)
        langfuse, langfuse_flush = langfuse_workload(host)
        otel, otel_flush = otel_workload()
        contenders = {
            "baseline (undecorated)": (baseline_workload(), lambda: None),
            "haloscope @observe": (ours, ours_flush),
            "langfuse v3 @observe": (langfuse, langfuse_flush),
            "opentelemetry sdk": (otel, otel_flush),
        }
        for fn, flush in contenders.values():  # warm-up
            time_per_call(fn, 200)
            flush()
        samples: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(args.repeats):
            for name, (fn, flush) in contenders.items():
                samples[name].append(time_per_call(fn, args.calls))
                flush()  # do not let one SDK's backlog run into the next measurement
        dropped = ours_client.stats.dropped
    finally:
        server.terminate()
        server.wait()

    base = statistics.median(samples["baseline (undecorated)"])
    net = {name: statistics.median(values) - base for name, values in samples.items()}
    print(
        f"\n{args.calls} calls x {args.repeats} repeats, two nested spans per call "
        f"(python {sys.version.split()[0]}, {os.cpu_count()} CPUs)\n"
    )
    print(f"{'SDK':<26}{'median us/call':>16}{'net of baseline':>18}")
    for name, values in samples.items():
        print(f"{name:<26}{statistics.median(values):>16.2f}{net[name]:>18.2f}")
    ours_net = net["haloscope @observe"]
    print(f"\nours / langfuse = {ours_net / net['langfuse v3 @observe']:.3f}   (target <= 0.200)")
    print(f"ours / otel     = {ours_net / net['opentelemetry sdk']:.3f}")
    print(f"haloscope spans dropped by the bounded queue during the run: {dropped}")


if __name__ == "__main__":
    main()
