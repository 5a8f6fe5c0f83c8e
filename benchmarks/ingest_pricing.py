"""Server-side prices on the ingest path: converting an OTLP request (protobuf, gzip; every span
names a model and counts tokens but carries no cost, so each one is priced) with and without
the price table, in one process. Interleaved rounds, medians; the spans of benchmarks/ingest.py.

    .venv/bin/python benchmarks/ingest_pricing.py [--batches 20] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

from haloscope.platform.ingest.conversion import IngestRequest, convert_request
from haloscope.platform.pricing.table import PriceTable, shipped_table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import otlp_batches  # noqa: E402
from otlp_decode import BATCH, per_span_us  # noqa: E402


def converter(prices: PriceTable | None) -> Callable[[bytes], object]:
    """Convert one gzipped OTLP request body to encoded rows, priced with ``prices``."""

    def convert(body: bytes) -> object:
        return convert_request(
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

    return convert


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20, help="requests of 1,000 spans")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds")
    args = parser.parse_args()
    bodies = otlp_batches(args.batches, BATCH)
    plain, priced = converter(None), converter(shipped_table())
    without, with_prices = [], []
    for _ in range(args.rounds):
        without.append(per_span_us(plain, bodies))
        with_prices.append(per_span_us(priced, bodies))
    base, ours = statistics.median(without), statistics.median(with_prices)
    print(f"convert without prices (baseline): {base:.2f} µs/span ({1e6 / base:,.0f} spans/s)")
    print(f"convert with the price table:       {ours:.2f} µs/span ({1e6 / ours:,.0f} spans/s)")
    print(f"ratio (with / without): {ours / base:.3f}x, +{ours - base:.2f} µs/span")


if __name__ == "__main__":
    main()
