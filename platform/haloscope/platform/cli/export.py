"""``haloscope export scores``: a project's scores and annotations as CSV or JSONL.

Reads ``GET /api/v1/scores/export`` of a running platform with a key pair of the project, as
``haloscope eval`` and ``dataset --push`` do (``HALOSCOPE_HOST``, ``HALOSCOPE_PUBLIC_KEY``,
``HALOSCOPE_SECRET_KEY``): the server owns the trace store (the embedded chDB store cannot be
opened by a second process), and the key decides the project. The download is streamed to
``--output`` (written under a temporary name and renamed once complete, so a failed export
never leaves a file that looks whole) or to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Any

from haloscope.platform.cli.common import CommandError
from haloscope.platform.evals.platform_client import PlatformClient, PlatformError

EXPORT_PATH = "/api/v1/scores/export"
NOT_CONFIGURED = (
    "export reads the scores from a running Haloscope server: set HALOSCOPE_HOST (e.g. "
    "http://127.0.0.1:8000), HALOSCOPE_PUBLIC_KEY and HALOSCOPE_SECRET_KEY to a key pair of the "
    "project (`haloscope keys create --project NAME` issues one)"
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``export scores`` to the ``haloscope`` command."""
    export = sub.add_parser("export", help="download a project's data")
    what = export.add_subparsers(dest="what", required=True, metavar="WHAT")
    scores = what.add_parser(
        "scores",
        help="scores and annotations as CSV or JSONL (the key pair's project)",
        description="Every score of the key pair's project matching the filters, newest "
        "target first (docs/api.md, GET /api/v1/scores/export).",
    )
    scores.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    scores.add_argument("--name", action="append", default=[], help="score name (repeatable)")
    scores.add_argument(
        "--source",
        action="append",
        default=[],
        help="api, sdk, annotation or judge (repeatable)",
    )
    scores.add_argument("--trace-id", help="only the scores of this trace")
    scores.add_argument("--author", help="only this author's scores")
    scores.add_argument(
        "--since", help="target started at or after: ISO 8601 (2025-01-31T00:00:00Z) or epoch µs"
    )
    scores.add_argument("--until", help="target started before: ISO 8601 or epoch µs")
    scores.add_argument("--min-value", type=float, help="numeric value at least")
    scores.add_argument("--max-value", type=float, help="numeric value at most")
    scores.add_argument(
        "--deleted", action="store_true", help="the tombstones of deleted scores instead"
    )
    scores.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")
    scores.set_defaults(handler=run_export_scores)


def export_params(args: argparse.Namespace) -> dict[str, Any]:
    """The export's query parameters from the command's options (unset ones left out)."""
    params: dict[str, Any] = {"format": args.format, "name": args.name, "source": args.source}
    for option, param in (
        ("trace_id", "trace_id"),
        ("author", "author"),
        ("since", "start"),
        ("until", "end"),
        ("min_value", "min_value"),
        ("max_value", "max_value"),
    ):
        value = getattr(args, option)
        if value is not None:
            params[param] = value
    if args.deleted:
        params["deleted"] = "true"
    return params


def run_export_scores(args: argparse.Namespace) -> int:
    """``haloscope export scores``: stream the download to ``--output`` or stdout."""
    client = PlatformClient.from_env()
    if client is None:
        raise CommandError(NOT_CONFIGURED)
    try:
        if args.output is None:
            client.download(EXPORT_PATH, export_params(args), sys.stdout.buffer)
            sys.stdout.flush()
            return 0
        written = _download_to(client, args.output, export_params(args))
    except PlatformError as exc:
        raise CommandError(f"export failed: {exc}") from exc
    finally:
        client.close()
    print(f"wrote {written:,} bytes of {args.format} to {args.output}", file=sys.stderr)
    return 0


def _download_to(client: PlatformClient, output: Path, params: dict[str, Any]) -> int:
    """Download into ``output`` through a temporary file beside it, renamed when complete."""
    partial = output.with_name(output.name + ".part")
    try:
        with partial.open("wb") as sink:
            written = client.download(EXPORT_PATH, params, sink)
        os.replace(partial, output)
    except OSError as exc:
        raise CommandError(f"cannot write {output}: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return written
