"""``haloscope user create``: dashboard accounts, optionally with a project membership."""

from __future__ import annotations

import argparse
import sys

from haloscope.platform.auth import api_keys
from haloscope.platform.auth.errors import AuthServiceError
from haloscope.platform.auth.users import add_member, create_user
from haloscope.platform.cli.common import CommandError
from haloscope.platform.config import load_settings
from haloscope.platform.db.engine import make_engine, make_sessionmaker, upgrade_database
from haloscope.platform.db.models import Role


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``user create`` to ``sub``."""
    user = sub.add_parser("user", help="manage dashboard users")
    user_sub = user.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = user_sub.add_parser("create", help="create a dashboard user")
    create.add_argument("--email", required=True)
    secret = create.add_mutually_exclusive_group(required=True)
    secret.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    secret.add_argument("--password", help="the password (visible in the process list)")
    create.add_argument("--name", default="", help="display name")
    create.add_argument("--project", help="also make the user a member of this project")
    create.add_argument(
        "--role",
        default=Role.OWNER.value,
        choices=[r.value for r in Role],
        help="role in --project (default: owner)",
    )
    create.set_defaults(handler=run_user_create)


def _password(args: argparse.Namespace) -> str:
    if not args.password_stdin:
        return args.password
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CommandError("no password on standard input")
    return password


def run_user_create(args: argparse.Namespace) -> int:
    """``haloscope user create --email E (--password-stdin | --password P)``."""
    settings = load_settings()
    upgrade_database(settings.resolved_database_url)
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    password = _password(args)
    try:
        with sessions.begin() as session:
            user = create_user(session, args.email, password, args.name)
            membership = ""
            if args.project:
                project = api_keys.get_project_by_name(session, args.project)
                if project is None:
                    raise CommandError(
                        f"no project named {args.project!r}; "
                        "create it with `haloscope project create`"
                    )
                add_member(session, user.id, project.id, args.role)
                membership = f", {args.role} of project {args.project!r}"
            email, user_id = user.email, user.id
    except AuthServiceError as exc:
        raise CommandError(str(exc)) from exc
    print(f"created user {email} (id {user_id}){membership}")
    return 0
