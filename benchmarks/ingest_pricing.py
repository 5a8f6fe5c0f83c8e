"""Server-side prices on the ingest path: converting an OTLP request (protobuf, gzip; every span
names a model and counts tokens but carries no cost, so each one is priced) with and without
the price table, in one process. Interleaved rounds, medians; the spans of benchmarks/ingest.py.

    .venv/bin/python benchmarks/ingest_pricing.py [--batches 20] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from haloscope.platform.ingest.conversion import IngestRequest, convert_request
from haloscope.platform.pricing.table import PriceTable, shipped_table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import otlp_batches  # noqa: E402

BATCH = 1000


def per_span_us(bodies: list[bytes], prices: PriceTable | None) -> float:
    """Mean µs per span to convert ``bodies`` into encoded rows."""
    started = time.perf_counter()
    for body in bodies:
        convert_request(
            IngestRequest(
                fmt="otlp",
                body=body,
                content_encoding="gzip",
                media_kind="application/x-protobuf",
                project_id="bench",
                max_bytes=1 << 26,
                max_spans=BATCH,
                max_field_bytes=1 << 20,
                prices=prices,
            )
        )
    return (time.perf_counter() - started) / (len(bodies) * BATCH) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20, help="requests of 1,000 spans")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds")
    args = parser.parse_args()
    bodies = otlp_batches(args.batches, BATCH)
    table = shipped_table()
    without, with_prices = [], []
    for _ in range(args.rounds):
        without.append(per_span_us(bodies, None))
        with_prices.append(per_span_us(bodies, table))
    base, ours = statistics.median(without), statistics.median(with_prices)
    print(f"convert without prices (baseline): {base:.2f} µs/span ({1e6 / base:,.0f} spans/s)")
    print(f"convert with the price table:       {ours:.2f} µs/span ({1e6 / ours:,.0f} spans/s)")
    print(f"ratio (with / without): {ours / base:.3f}x, +{ours - base:.2f} µs/span")


if __name__ == "__main__":
    main()
