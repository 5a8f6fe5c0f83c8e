"""Drift and alert commands: ``drift run|show|pin|unpin`` and
``alerts list|create|delete|defaults|history``."""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from typing import Any

from haloscope.platform.cli.common import (
    CommandError,
    emit,
    find_project_id,
    metadata_sessions,
    project_command,
)
from haloscope.platform.config import load_settings


def register(sub: argparse._SubParsersAction) -> None:
    """Add the drift and alert commands to ``sub``."""
    drift = sub.add_parser("drift", help="drift reports and the pinned baseline")
    drift_sub = drift.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = project_command(drift_sub, "run", "compute a drift report now (on a worker)", run_drift)
    run.add_argument("--window-hours", type=int, default=24, help="current window length")
    run.add_argument("--end", help="end of the current window, ISO 8601 (default: now)")
    run.add_argument("--wait", type=float, default=0, help="seconds to wait for the report")
    project_command(drift_sub, "show", "show the pinned baseline and the latest report", show_drift)
    pin = project_command(drift_sub, "pin", "pin a baseline window for drift reports", pin_drift)
    pin.add_argument("--start", required=True, help="ISO 8601 time, e.g. 2025-11-20T00:00:00Z")
    pin.add_argument("--end", required=True, help="ISO 8601 time, e.g. 2025-11-21T00:00:00Z")
    pin.add_argument("--note", default="", help="why this window is the reference")
    project_command(drift_sub, "unpin", "compare against the previous window again", unpin_drift)

    alerts = sub.add_parser("alerts", help="alert rules and alert history")
    alerts_sub = alerts.add_subparsers(dest="action", required=True, metavar="ACTION")
    project_command(alerts_sub, "list", "list a project's alert rules", list_alerts)
    create = project_command(alerts_sub, "create", "create an alert rule", create_alert)
    create.add_argument("--name", required=True, help="rule name (unique in the project)")
    create.add_argument("--metric", required=True, help="see `GET /api/v1/alert-metrics`")
    create.add_argument("--threshold", type=float, help="default: the metric's default")
    mode = create.add_mutually_exclusive_group()
    mode.add_argument("--relative", action="store_true", default=None, help="x baseline")
    mode.add_argument("--absolute", dest="relative", action="store_false", help="a fixed limit")
    create.add_argument("--window-hours", type=int, default=24, help="current window")
    create.add_argument("--baseline-days", type=int, default=7, help="baseline before it")
    _add_channels(create)
    delete = project_command(
        alerts_sub, "delete", "delete an alert rule and its history", delete_alert
    )
    delete.add_argument("rule", help="rule name or id")
    defaults = project_command(
        alerts_sub, "defaults", "add the default rules the project lacks", install_defaults
    )
    defaults.add_argument(
        "--not-factual", action="store_true", help="skip the hallucination-rate rule"
    )
    _add_channels(defaults)
    history = project_command(
        alerts_sub, "history", "show alert firings, newest first", alert_history
    )
    history.add_argument("--rule", help="only this rule (name or id)")
    history.add_argument("--limit", type=int, default=20, help="at most this many")


def _add_channels(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--webhook", action="append", default=[], help="URL (repeatable)")
    parser.add_argument("--no-log", action="store_true", help="do not log firings")


def _channels(args: argparse.Namespace) -> list[dict[str, str]]:
    channels = [{"type": "webhook", "url": url} for url in args.webhook]
    if not args.no_log:
        channels.append({"type": "log"})
    if not channels:
        raise CommandError("a rule needs a channel: add --webhook URL or drop --no-log")
    return channels


def _time(value: str, flag: str) -> datetime:
    from haloscope.platform.jobs.baselines import BaselineError, parse_time

    try:
        return parse_time(value, flag)
    except BaselineError as exc:
        raise CommandError(str(exc)) from exc


def run_drift(args: argparse.Namespace) -> int:
    """``haloscope drift run``: enqueue a report; with ``--wait``, print it when stored."""
    from haloscope.platform.db.models import DriftReportRecord
    from haloscope.platform.jobs import create_celery_app
    from haloscope.platform.jobs.drift_job import report_as_dict
    from haloscope.platform.jobs.tasks import find_drift_report, start_drift_report

    if not 1 <= args.window_hours <= 24 * 31:
        raise CommandError("--window-hours must be in [1, 744]")
    end = _time(args.end, "--end") if args.end else None
    settings = load_settings()
    sessions = metadata_sessions(settings)
    with sessions() as session:
        project_id = find_project_id(session, args.project)
    windows = start_drift_report(
        create_celery_app(settings), sessions, project_id, end=end, window_hours=args.window_hours
    )
    deadline = time.monotonic() + args.wait
    while True:
        with sessions() as session:
            report_id = find_drift_report(session, project_id, windows)
            if report_id is not None:
                report = report_as_dict(session.get(DriftReportRecord, report_id))
                emit(args, report, _report_text(report))
                return 0
        if time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    window = windows.as_dict()
    emit(
        args,
        {"status": "queued", **window},
        f"drift report queued: {window['current']} against {window['baseline']}",
    )
    return 0


def _report_text(report: dict[str, Any]) -> str:
    baseline = report["baseline"]
    lines = [
        f"drift report {report['id']}: {report['current']['start']} .. "
        f"{report['current']['end']} against {baseline['start']} .. {baseline['end']}"
        f"{' (pinned)' if baseline['pinned'] else ''}",
        f"drifted: {', '.join(report['drifted']) or 'none'}",
    ]
    for name, feature in sorted(report["features"].items()):
        p_adjusted = feature["p_adjusted"]
        p_text = "-" if p_adjusted is None else f"{p_adjusted:.3g}"
        lines.append(
            f"  {name:<28} {feature['status']:<18} {feature['test']:<16} p_adj {p_text:<9} "
            f"n {feature['n_reference']}/{feature['n_current']}"
        )
    return "\n".join(lines)


def show_drift(args: argparse.Namespace) -> int:
    """``haloscope drift show``: the pinned baseline and the latest report."""
    from haloscope.platform.jobs.baselines import baseline_as_dict, get_baseline
    from haloscope.platform.jobs.drift_job import list_reports, report_as_dict

    with metadata_sessions(load_settings())() as session:
        project_id = find_project_id(session, args.project)
        pinned = get_baseline(session, project_id)
        latest = list_reports(session, project_id, limit=1)
        payload = {
            "baseline": None if pinned is None else baseline_as_dict(pinned),
            "report": report_as_dict(latest[0]) if latest else None,
        }
    lines = [
        "baseline: previous window"
        if pinned is None
        else f"baseline: pinned {payload['baseline']['start']} .. {payload['baseline']['end']}"
    ]
    report = payload["report"]
    lines.append(
        _report_text(report)
        if report
        else f"no drift report yet; run `haloscope drift run --project {args.project} --wait 60`"
    )
    emit(args, payload, "\n".join(lines))
    return 0


def pin_drift(args: argparse.Namespace) -> int:
    """``haloscope drift pin``."""
    from haloscope.platform.jobs.baselines import BaselineError, baseline_as_dict, pin_baseline

    start, end = _time(args.start, "--start"), _time(args.end, "--end")
    with metadata_sessions(load_settings())() as session:
        try:
            pinned = pin_baseline(
                session, find_project_id(session, args.project), start, end, args.note
            )
        except BaselineError as exc:
            raise CommandError(str(exc)) from exc
        session.commit()
        payload = baseline_as_dict(pinned)
    emit(args, payload, f"drift baseline pinned: {payload['start']} .. {payload['end']}")
    return 0


def unpin_drift(args: argparse.Namespace) -> int:
    """``haloscope drift unpin``."""
    from haloscope.platform.jobs.baselines import clear_baseline

    with metadata_sessions(load_settings())() as session:
        if not clear_baseline(session, find_project_id(session, args.project)):
            raise CommandError(f"project {args.project!r} has no pinned drift baseline")
        session.commit()
    emit(args, {"baseline": None}, "drift baseline unpinned: comparing the previous window")
    return 0


def _rule_line(rule: dict[str, Any]) -> str:
    limit = f"> {rule['threshold']:g}{' x baseline' if rule['relative'] else ''}"
    channels = ",".join(c.get("url", c["type"]) for c in rule["channels"])
    state = "" if rule["enabled"] else "  (disabled)"
    return f"{rule['id']}  {rule['name']}  {rule['metric']} {limit}  -> {channels}{state}"


def list_alerts(args: argparse.Namespace) -> int:
    """``haloscope alerts list``."""
    from haloscope.platform.jobs.alert_rules import alert_rule_as_dict, list_alert_rules

    with metadata_sessions(load_settings())() as session:
        project_id = find_project_id(session, args.project)
        found = [alert_rule_as_dict(r) for r in list_alert_rules(session, project_id)]
    emit(args, found, "\n".join(map(_rule_line, found)) or "no alert rules")
    return 0


def create_alert(args: argparse.Namespace) -> int:
    """``haloscope alerts create``."""
    from haloscope.platform.jobs.alert_rules import (
        AlertRuleError,
        alert_rule_as_dict,
        create_alert_rule,
    )

    with metadata_sessions(load_settings())() as session:
        try:
            rule = create_alert_rule(
                session,
                find_project_id(session, args.project),
                name=args.name,
                metric=args.metric,
                threshold=args.threshold,
                relative=args.relative,
                window_hours=args.window_hours,
                baseline_days=args.baseline_days,
                channels=_channels(args),
            )
        except AlertRuleError as exc:
            raise CommandError(str(exc)) from exc
        session.commit()
        payload = alert_rule_as_dict(rule)
    emit(args, payload, f"alert rule created: {_rule_line(payload)}")
    return 0


def install_defaults(args: argparse.Namespace) -> int:
    """``haloscope alerts defaults``: the default rules the project lacks."""
    from haloscope.platform.jobs.alert_rules import (
        AlertRuleError,
        alert_rule_as_dict,
        install_default_rules,
    )

    with metadata_sessions(load_settings())() as session:
        try:
            added = install_default_rules(
                session,
                find_project_id(session, args.project),
                _channels(args),
                factual=not args.not_factual,
            )
        except AlertRuleError as exc:
            raise CommandError(str(exc)) from exc
        session.commit()
        payload = [alert_rule_as_dict(r) for r in added]
    text = "\n".join(f"added: {_rule_line(r)}" for r in payload) or "every default rule exists"
    emit(args, payload, text)
    return 0


def delete_alert(args: argparse.Namespace) -> int:
    """``haloscope alerts delete``."""
    from haloscope.platform.jobs.alert_rules import find_alert_rule

    with metadata_sessions(load_settings())() as session:
        rule = find_alert_rule(session, find_project_id(session, args.project), args.rule)
        if rule is None:
            raise CommandError(
                f"no alert rule {args.rule!r} in project {args.project!r}; "
                f"see `haloscope alerts list --project {args.project}`"
            )
        session.delete(rule)
        session.commit()
    emit(args, {"deleted": args.rule}, f"alert rule {args.rule!r} deleted")
    return 0


def alert_history(args: argparse.Namespace) -> int:
    """``haloscope alerts history``."""
    from haloscope.platform.jobs.alert_rules import (
        alert_event_as_dict,
        find_alert_rule,
        list_alert_events,
    )

    if not 1 <= args.limit <= 1000:
        raise CommandError("--limit must be in [1, 1000]")
    with metadata_sessions(load_settings())() as session:
        project_id = find_project_id(session, args.project)
        rule_id = None
        if args.rule:
            rule = find_alert_rule(session, project_id, args.rule)
            if rule is None:
                raise CommandError(f"no alert rule {args.rule!r} in project {args.project!r}")
            rule_id = rule.id
        events = [
            alert_event_as_dict(e)
            for e in list_alert_events(session, project_id, rule_id, args.limit)
        ]
    lines = []
    for event in events:
        delivered = ", ".join(
            f"{d['type']} {'ok' if d['ok'] else 'FAILED'}" for d in event["deliveries"]
        )
        lines.append(f"{event['created_at']}  {event['message']}  [{delivered}]")
    emit(args, events, "\n".join(lines) or "no alerts fired")
    return 0
