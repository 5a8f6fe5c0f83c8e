"""Administrative commands: ``migrate``, ``project create|retention`` and
``keys create|list|revoke``."""

from __future__ import annotations

import argparse
import json

from haloscope.platform.auth import api_keys
from haloscope.platform.cli.common import (
    JSON_OPTION,
    PROJECT_OPTION,
    CommandError,
    emit,
    find_project_id,
    metadata_sessions,
)
from haloscope.platform.config import Settings, load_settings
from haloscope.platform.db.engine import upgrade_database
from haloscope.platform.db.models import Project


def register(sub: argparse._SubParsersAction) -> None:
    """Add the administrative sub-commands to ``sub``."""
    migrate = sub.add_parser("migrate", help="apply metadata-DB and trace-store migrations")
    migrate.set_defaults(handler=run_migrate)

    project = sub.add_parser("project", help="manage projects")
    project_sub = project.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = project_sub.add_parser("create", help="create a project", parents=[JSON_OPTION])
    create.add_argument("name")
    create.set_defaults(handler=run_project_create)
    retention = project_sub.add_parser(
        "retention",
        help="keep a project's traces and scores for fewer days than the default",
        parents=[JSON_OPTION],
    )
    retention.add_argument("name")
    days = retention.add_mutually_exclusive_group(required=True)
    days.add_argument("--days", type=int, help="days to keep (at least 1)")
    days.add_argument("--default", action="store_true", help="use the deployment's retention")
    retention.set_defaults(handler=run_project_retention)

    keys = sub.add_parser("keys", help="manage a project's API keys")
    keys_sub = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    kcreate = keys_sub.add_parser(
        "create",
        help="create an API key pair (secret shown once)",
        parents=[PROJECT_OPTION, JSON_OPTION],
    )
    kcreate.add_argument("--note", default="", help="what the key is for")
    kcreate.set_defaults(handler=run_keys_create)
    klist = keys_sub.add_parser(
        "list", help="list a project's API keys", parents=[PROJECT_OPTION, JSON_OPTION]
    )
    klist.set_defaults(handler=run_keys_list)
    krevoke = keys_sub.add_parser("revoke", help="revoke an API key", parents=[PROJECT_OPTION])
    krevoke.add_argument("key_id", help="the key's id (see `haloscope keys list`)")
    krevoke.set_defaults(handler=run_keys_revoke)


def migrate_all(settings: Settings) -> list[str]:
    """Upgrade the metadata DB and apply trace-store DDL; returns the ClickHouse versions applied."""
    from haloscope.platform.store import open_store

    upgrade_database(settings.resolved_database_url)
    store = open_store(settings)
    try:
        return [
            str(v)
            for v in store.migrate(
                cluster=settings.clickhouse_cluster, retention_days=settings.retention_days
            )
        ]
    finally:
        store.close()


def run_migrate(args: argparse.Namespace) -> int:
    """``haloscope migrate``."""
    applied = migrate_all(load_settings())
    print(f"metadata DB at head; trace store: {len(applied)} migration(s) applied {applied}")
    return 0


def run_project_create(args: argparse.Namespace) -> int:
    """``haloscope project create NAME``."""
    sessions = metadata_sessions(load_settings())
    with sessions.begin() as session:
        try:
            project = api_keys.create_project(session, args.name)
        except (api_keys.ConflictError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        payload = {"id": project.id, "name": project.name}
    emit(args, payload, f"created project {payload['name']!r} (id {payload['id']})")
    return 0


def run_project_retention(args: argparse.Namespace) -> int:
    """``haloscope project retention NAME --days N | --default``."""
    if args.days is not None and args.days < 1:
        raise CommandError(f"--days {args.days}: keep at least 1 day, or use --default")
    settings = load_settings()
    sessions = metadata_sessions(settings)
    with sessions.begin() as session:
        project = session.get(Project, find_project_id(session, args.name))
        project.retention_days = args.days
        payload = {"id": project.id, "name": project.name, "retention_days": args.days}
    kept = f"{args.days} days" if args.days else "the deployment's retention"
    default = settings.retention_days or "forever"
    emit(
        args,
        payload,
        f"project {args.name!r} keeps its data for {kept} (deployment default: {default}; "
        "the daily retention job deletes older data)",
    )
    return 0


def run_keys_create(args: argparse.Namespace) -> int:
    """``haloscope keys create --project NAME``."""
    sessions = metadata_sessions(load_settings())
    with sessions.begin() as session:
        issued = api_keys.create_api_key(session, find_project_id(session, args.project), args.note)
    payload = {"id": issued.id, "public_key": issued.public_key, "secret_key": issued.secret_key}
    text = (
        f"HALOSCOPE_PUBLIC_KEY={issued.public_key}\nHALOSCOPE_SECRET_KEY={issued.secret_key}\n"
        "The secret is shown once; store it now."
    )
    emit(args, payload, text)
    return 0


def run_keys_list(args: argparse.Namespace) -> int:
    """``haloscope keys list --project NAME``."""
    sessions = metadata_sessions(load_settings())
    with sessions.begin() as session:
        keys = api_keys.list_api_keys(
            session, find_project_id(session, args.project), include_revoked=True
        )
        rows = [
            {
                "id": k.id,
                "public_key": k.public_key,
                "secret_hint": k.secret_hint,
                "created_at": k.created_at.isoformat(),
                "revoked": k.revoked_at is not None,
            }
            for k in keys
        ]
    if args.json:
        print(json.dumps(rows))
    for row in [] if args.json else rows:
        state = "revoked" if row["revoked"] else "active"
        print(f"{row['id']}  {row['public_key']}  ...{row['secret_hint']}  {state}")
    return 0


def run_keys_revoke(args: argparse.Namespace) -> int:
    """``haloscope keys revoke --project NAME KEY_ID``."""
    sessions = metadata_sessions(load_settings())
    with sessions.begin() as session:
        if not api_keys.revoke_api_key(
            session, find_project_id(session, args.project), args.key_id
        ):
            raise CommandError(f"no active key {args.key_id!r} in project {args.project!r}")
    print(f"revoked key {args.key_id}")
    return 0
