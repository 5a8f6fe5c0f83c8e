"""Job commands: ``worker``, ``beat``, ``rules create|list|delete`` and ``sample run``."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from haloscope.platform.cli.common import (
    JSON_OPTION,
    PROJECT_OPTION,
    CommandError,
    emit,
    find_project_id,
    metadata_sessions,
)
from haloscope.platform.cli.malloc_arenas import limit_malloc_arenas
from haloscope.platform.config import load_settings


def register(sub: argparse._SubParsersAction) -> None:
    """Add the job commands to ``sub``."""
    worker = sub.add_parser("worker", help="run a Celery worker (scale-out)")
    worker.add_argument("--queues", default="default,judge", help="queues to consume")
    worker.add_argument("--concurrency", type=int, default=None, help="pool processes")
    worker.set_defaults(handler=run_worker)
    beat = sub.add_parser("beat", help="run the Celery beat scheduler (one per deployment)")
    beat.set_defaults(handler=run_beat)

    rules = sub.add_parser("rules", help="manage sampling rules")
    rules_sub = rules.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = rules_sub.add_parser(
        "create", help="create a sampling rule", parents=[PROJECT_OPTION, JSON_OPTION]
    )
    create.add_argument("--name", required=True, help="rule name (unique in the project)")
    size = create.add_mutually_exclusive_group(required=True)
    size.add_argument("--rate", type=float, help="share of matching spans to score, (0, 1]")
    size.add_argument("--per-day", type=int, help="number of spans to score per day")
    for flag, help_text in (
        ("--kind", "span kind (repeatable)"),
        ("--span-name", "span name (repeatable)"),
        ("--model", "model (repeatable)"),
        ("--tag", "required tag (repeatable)"),
        ("--meta", "metadata KEY=VALUE (repeatable)"),
        (
            "--evaluator",
            "evaluator NAME[@VERSION] (repeatable; default: the hallucination detector)",
        ),
    ):
        create.add_argument(flag, action="append", default=[], help=help_text)
    create.add_argument("--release", default="", help="release to match")
    create.add_argument(
        "--evaluator-config", default="{}", help='JSON: {"evaluator name": {config}}'
    )
    create.add_argument("--cap", type=int, default=1000, help="max spans per run")
    create.add_argument("--window-hours", type=int, default=24, help="look-back window")
    create.add_argument("--batch-size", type=int, default=16, help="spans per judge batch")
    create.add_argument("--seed", type=int, default=0, help="sampling seed")
    create.set_defaults(handler=run_rules_create)
    listing = rules_sub.add_parser(
        "list", help="list a project's sampling rules", parents=[PROJECT_OPTION, JSON_OPTION]
    )
    listing.set_defaults(handler=run_rules_list)
    delete = rules_sub.add_parser(
        "delete", help="delete a sampling rule and its runs", parents=[PROJECT_OPTION]
    )
    delete.add_argument("rule", help="rule name or id")
    delete.set_defaults(handler=run_rules_delete)

    sample = sub.add_parser("sample", help="sampling runs")
    sample_sub = sample.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = sample_sub.add_parser(
        "run", help="start a sampling run of a rule now", parents=[PROJECT_OPTION, JSON_OPTION]
    )
    run.add_argument("--rule", required=True, help="rule name or id")
    run.add_argument("--wait", type=float, default=0, help="seconds to wait for completion")
    run.set_defaults(handler=run_sample)


def run_worker(args: argparse.Namespace) -> int:
    """``haloscope worker``: a Celery worker on the configured broker."""
    from haloscope.platform.jobs import create_celery_app

    limit_malloc_arenas()
    app = create_celery_app(load_settings())
    argv = ["worker", "-Q", args.queues, "--loglevel", "INFO"]
    if args.concurrency:
        argv += ["--concurrency", str(args.concurrency)]
    app.worker_main(argv)
    return 0


def run_beat(args: argparse.Namespace) -> int:
    """``haloscope beat``: the scheduler of the daily jobs."""
    from haloscope.platform.jobs import create_celery_app

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_celery_app(settings)
    app.start(["beat", "-s", str(settings.data_dir / "celerybeat-schedule"), "--loglevel", "INFO"])
    return 0


def _evaluator_specs(names: list[str], config_json: str) -> list[dict[str, Any]] | None:
    try:
        configs = json.loads(config_json)
    except json.JSONDecodeError as exc:
        raise CommandError(f"--evaluator-config is not valid JSON: {exc}") from exc
    if not isinstance(configs, dict):
        raise CommandError("--evaluator-config must be a JSON object keyed by evaluator name")
    specs = []
    for entry in names:
        name, _, version = entry.partition("@")
        specs.append({"name": name, "version": version or None, "config": configs.get(name, {})})
    return specs or None


def _metadata(pairs: list[str]) -> dict[str, str]:
    metadata = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"--meta {pair!r}: use KEY=VALUE")
        metadata[key] = value
    return metadata


def run_rules_create(args: argparse.Namespace) -> int:
    """``haloscope rules create``."""
    from haloscope.platform.jobs.rules import RuleError, RuleSpec, create_rule, rule_as_dict

    spec_values: dict[str, Any] = {
        "name": args.name,
        "filters": {
            "kinds": args.kind,
            "names": args.span_name,
            "models": args.model,
            "tags": args.tag,
            "release": args.release,
            "metadata": _metadata(args.meta),
        },
        "sample_rate": args.rate,
        "per_day": args.per_day,
        "max_items_per_run": args.cap,
        "window_hours": args.window_hours,
        "batch_size": args.batch_size,
        "seed": args.seed,
    }
    evaluators = _evaluator_specs(args.evaluator, args.evaluator_config)
    if evaluators:
        spec_values["evaluators"] = tuple(evaluators)
    with metadata_sessions(load_settings())() as session:
        try:
            rule = create_rule(
                session, find_project_id(session, args.project), RuleSpec(**spec_values)
            )
        except RuleError as exc:
            raise CommandError(str(exc)) from exc
        session.commit()
        payload = rule_as_dict(rule)
    emit(args, payload, f"sampling rule {rule.name!r} created: {rule.id}")
    return 0


def run_rules_list(args: argparse.Namespace) -> int:
    """``haloscope rules list``."""
    from haloscope.platform.jobs.rules import list_rules, rule_as_dict

    with metadata_sessions(load_settings())() as session:
        rules = [
            rule_as_dict(r) for r in list_rules(session, find_project_id(session, args.project))
        ]
    if args.json:
        print(json.dumps(rules))
        return 0
    for rule in rules:
        size = f"rate {rule['sample_rate']}" if rule["sample_rate"] else f"{rule['per_day']}/day"
        evaluators = ",".join(e["name"] for e in rule["evaluators"])
        print(
            f"{rule['id']}  {rule['name']}  {size}  cap {rule['max_items_per_run']}  {evaluators}"
        )
    return 0


def run_rules_delete(args: argparse.Namespace) -> int:
    """``haloscope rules delete``."""
    from haloscope.platform.jobs.rules import delete_rule

    with metadata_sessions(load_settings())() as session:
        if not delete_rule(session, find_project_id(session, args.project), args.rule):
            raise CommandError(f"no sampling rule {args.rule!r} in project {args.project!r}")
        session.commit()
    print(f"sampling rule {args.rule!r} deleted")
    return 0


def run_sample(args: argparse.Namespace) -> int:
    """``haloscope sample run``: enqueue a run of the rule; with ``--wait``, report its end."""
    from haloscope.platform.db.models import SamplingRun
    from haloscope.platform.jobs import create_celery_app
    from haloscope.platform.jobs.rules import find_rule
    from haloscope.platform.jobs.sampling import run_as_dict
    from haloscope.platform.jobs.tasks import start_sampling_run

    settings = load_settings()
    sessions = metadata_sessions(settings)
    with sessions() as session:
        rule = find_rule(session, find_project_id(session, args.project), args.rule)
        if rule is None:
            raise CommandError(f"no sampling rule {args.rule!r} in project {args.project!r}")
    run_id = start_sampling_run(create_celery_app(settings), sessions, rule, "cli")
    deadline = time.monotonic() + args.wait
    while True:
        with sessions() as session:
            run = session.get(SamplingRun, run_id)
            assert run is not None
        if run.status != "running" or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    payload = run_as_dict(run)
    print(
        json.dumps(payload)
        if args.json
        else (
            f"sampling run {run_id}: {run.status}, {run.selected} selected, {run.scored} scored, "
            f"{run.failed} failed"
        )
    )
    return 0 if run.status != "failed" else 1
