"""Model price commands: ``prices list|add|delete|reprice``. A project price applies to spans
ingested from then on (within the API's price cache time, 10 s); the spans already stored that
it covers are recomputed by a worker (the ``haloscope.reprice_spans`` task)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from haloscope.platform.cli.common import (
    CommandError,
    emit,
    find_project_id,
    metadata_sessions,
    project_command,
)
from haloscope.platform.config import Settings, load_settings
from haloscope.platform.pricing import project_prices
from haloscope.platform.pricing.project_prices import PriceError
from haloscope.platform.pricing.table import PER_MILLION


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``prices`` commands to ``sub``."""
    prices = sub.add_parser("prices", help="model prices spans are costed with")
    actions = prices.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = project_command(actions, "list", "list the project's and shipped prices", list_cmd)
    listing.add_argument("--model", help="show the price that applies to this model now")
    add = project_command(actions, "add", "add a project price and reprice stored spans", add_cmd)
    add.add_argument("--pattern", required=True, help="regular expression, full match")
    add.add_argument("--input", type=float, required=True, help="USD per 1M input tokens")
    add.add_argument("--output", type=float, required=True, help="USD per 1M output tokens")
    add.add_argument("--cached-input", type=float, help="USD per 1M cached input tokens")
    add.add_argument("--effective-from", help="YYYY-MM-DD or ISO 8601 time (default: now)")
    add.add_argument("--note", default="", help="where the price comes from")
    delete = project_command(actions, "delete", "delete a project price", delete_cmd)
    delete.add_argument("price_id", help="the id `prices list` shows")
    reprice = project_command(actions, "reprice", "recompute stored span costs", reprice_cmd)
    reprice.add_argument("--pattern", required=True, help="models to recompute (full match)")
    reprice.add_argument("--since", required=True, help="YYYY-MM-DD or ISO 8601 time")


def list_cmd(args: argparse.Namespace) -> int:
    """``haloscope prices list``: the project's prices, then the shipped ones."""
    with metadata_sessions(load_settings())() as session:
        project_id = find_project_id(session, args.project)
        own = [
            project_prices.record_as_dict(r)
            for r in project_prices.list_prices(session, project_id)
        ]
        table = project_prices.project_table(session, project_id)
    if args.model:
        price = table.price_at(args.model, int(datetime.now(UTC).timestamp() * PER_MILLION))
        view = None if price is None else project_prices.price_as_dict(price)
        text = f"{args.model}: no price" if view is None else f"{args.model}: {_line(view)}"
        emit(args, view, text)
        return 0
    shipped = [project_prices.price_as_dict(p) for p in table.prices if p.source == "shipped"]
    lines = [f"{p['id']}  {_line(p)}  {p['note']}" for p in own] or ["(no project prices)"]
    lines += ["shipped:"] + [f"  {_line(p)}" for p in shipped]
    emit(args, {"project": own, "shipped": shipped}, "\n".join(lines))
    return 0


def add_cmd(args: argparse.Namespace) -> int:
    """``haloscope prices add``: store the price, then queue the repricing of stored spans."""
    settings = load_settings()
    fields = {
        "model_pattern": args.pattern,
        "input_per_million": args.input,
        "output_per_million": args.output,
        "cached_input_per_million": args.cached_input,
        "effective_from": args.effective_from,
        "note": args.note,
    }
    with metadata_sessions(settings)() as session:
        project_id = find_project_id(session, args.project)
        try:
            record = project_prices.add_price(session, project_id, fields)
        except PriceError as exc:
            raise CommandError(str(exc)) from exc
        session.commit()
        view = project_prices.record_as_dict(record)
    _queue_reprice(settings, project_id, args.pattern, record.effective_from)
    emit(args, view, f"added {view['id']}: {_line(view)}; stored spans are repriced by a worker")
    return 0


def delete_cmd(args: argparse.Namespace) -> int:
    """``haloscope prices delete``: remove a project price and reprice what it covered."""
    settings = load_settings()
    with metadata_sessions(settings)() as session:
        project_id = find_project_id(session, args.project)
        record = project_prices.find_price(session, project_id, args.price_id)
        if record is None:
            raise CommandError(f"no price {args.price_id!r} in {args.project!r}; see `prices list`")
        pattern, since = record.model_pattern, record.effective_from
        session.delete(record)
        session.commit()
    _queue_reprice(settings, project_id, pattern, since)
    emit(
        args, {"deleted": args.price_id}, f"deleted {args.price_id}; spans are repriced by a worker"
    )
    return 0


def reprice_cmd(args: argparse.Namespace) -> int:
    """``haloscope prices reprice``: queue a recomputation of stored span costs."""
    settings = load_settings()
    try:
        since = project_prices.parse_effective_from(args.since)
    except PriceError as exc:
        raise CommandError(f"--since: {exc}") from exc
    with metadata_sessions(settings)() as session:
        project_id = find_project_id(session, args.project)
    _queue_reprice(settings, project_id, args.pattern, since)
    emit(args, {"queued": True}, "queued: a worker recomputes the stored span costs")
    return 0


def _queue_reprice(settings: Settings, project_id: str, pattern: str, since: datetime) -> None:
    from haloscope.platform.jobs import create_celery_app

    since_us = int(since.timestamp() * PER_MILLION)
    create_celery_app(settings).send_task(
        "haloscope.reprice_spans", args=[project_id, pattern, since_us]
    )


def _line(price: dict) -> str:
    cached = price["cached_input_per_million"]
    cached_text = "" if cached is None else f", cached {cached:g}"
    return (
        f"{price['model_pattern']}  in {price['input_per_million']:g} / out "
        f"{price['output_per_million']:g}{cached_text} USD per 1M tokens from "
        f"{price['effective_from'][:10]}"
    )
