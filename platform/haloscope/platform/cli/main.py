"""Argument parsing and dispatch for the ``haloscope`` command."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from haloscope.platform.cli import (
    admin,
    evals,
    evaluators,
    export,
    jobs,
    monitoring,
    prices,
    server,
    users,
)
from haloscope.platform.cli.common import CommandError
from haloscope.platform.config import ConfigError


def build_parser() -> argparse.ArgumentParser:
    """The full ``haloscope`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="haloscope", description="Haloscope LLMOps observability platform."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    server.register(sub)
    admin.register(sub)
    users.register(sub)
    jobs.register(sub)
    monitoring.register(sub)
    evals.register(sub)
    evaluators.register(sub)
    export.register(sub)
    prices.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``haloscope`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.handler(args) or 0)
    except ConfigError as exc:
        print(f"haloscope: configuration error: {exc}", file=sys.stderr)
        return 2
    except CommandError as exc:
        print(f"haloscope: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
