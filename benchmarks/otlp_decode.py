"""OTLP request conversion in one process, per span: the Python view against the compiled
decoder (protobuf), and json_format against the fast encoder (JSON), both ending in the encoded
insert rows. Interleaved rounds, medians; the same spans as benchmarks/ingest.py.

    .venv/bin/python benchmarks/otlp_decode.py [--batches 20] [--rounds 7]
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson
from haloscope.platform.ingest import otlp_json
from haloscope.platform.ingest.otlp import JSON, parse_json_document, protobuf_body
from haloscope.platform.ingest.otlp_mapping import convert_otlp_request
from haloscope.platform.store.encoding import encode_spans

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import otlp_batches, otlp_json_batches  # noqa: E402

BATCH = 1000


def rows_bytes(body: bytes, compiled: bool) -> bytes:
    """Protobuf request bytes to encoded insert rows."""
    batch = convert_otlp_request(
        body, "bench", max_spans=BATCH, max_field_bytes=1 << 20, compiled=compiled
    )
    return encode_spans(batch.rows)


def json_format_body(body: bytes) -> bytes:
    """OTLP JSON to protobuf bytes by json_format alone (what protobuf_body did before)."""
    return parse_json_document(orjson.loads(body)).SerializeToString()


def per_span_us(convert: Callable[[bytes], object], bodies: list[bytes]) -> float:
    started = time.perf_counter()
    for body in bodies:
        convert(body)
    return (time.perf_counter() - started) / (len(bodies) * BATCH) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20, help="requests of 1,000 spans")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds")
    args = parser.parse_args()
    gzipped = otlp_batches(args.batches, BATCH)
    protobuf = [gzip.decompress(body) for body in gzipped]
    documents = [gzip.decompress(body) for body in otlp_json_batches(gzipped)]
    same = rows_bytes(protobuf[0], True) == rows_bytes(protobuf[0], False)
    same_json = protobuf_body(documents[0], JSON) == otlp_json.encode_request(
        orjson.loads(documents[0])
    )
    cases = {
        "protobuf, Python view": lambda b: rows_bytes(b, False),
        "protobuf, compiled decoder": lambda b: rows_bytes(b, True),
        "JSON, json_format": lambda b: rows_bytes(json_format_body(b), True),
        "JSON, fast encoder": lambda b: rows_bytes(protobuf_body(b, JSON), True),
    }
    inputs = {name: documents if name.startswith("JSON") else protobuf for name in cases}
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, convert in cases.items():
            times[name].append(per_span_us(convert, inputs[name]))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, value in medians.items():
        print(f"{name:<28} {value:7.2f} µs/span (median of {args.rounds})")
    print(f"same rows from both protobuf decoders: {same}; JSON fast path taken: {same_json}")
    view, compiled = medians["protobuf, Python view"], medians["protobuf, compiled decoder"]
    print(f"protobuf: compiled decoder / Python view = {view / compiled:.2f}x faster")
    slow, fast = medians["JSON, json_format"], medians["JSON, fast encoder"]
    print(f"JSON: fast encoder / json_format = {slow / fast:.2f}x faster")


if __name__ == "__main__":
    main()
