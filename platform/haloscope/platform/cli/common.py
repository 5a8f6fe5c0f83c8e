"""What the CLI's command modules share: the user-fixable error, the metadata sessions, the
project lookup, and the ``--project`` / ``--json`` options as argparse parents."""

from __future__ import annotations

import argparse
import json
from typing import Any

from haloscope.platform.auth import api_keys
from haloscope.platform.config import Settings
from haloscope.platform.db.engine import make_engine, make_sessionmaker, upgrade_database


class CommandError(RuntimeError):
    """A command failed for a reason the user can fix; the message says how."""


def _option_parser(*names: str, **options: Any) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument(*names, **options)
    return parser


# Parents for ``add_parser(..., parents=[...])``.
PROJECT_OPTION = _option_parser("--project", required=True, help="project name")
JSON_OPTION = _option_parser("--json", action="store_true", help="print machine-readable JSON")


def project_command(
    sub: argparse._SubParsersAction, name: str, help_text: str, handler: Any
) -> argparse.ArgumentParser:
    """A sub-command taking ``--project`` and ``--json`` that runs ``handler(args)``."""
    parser = sub.add_parser(name, help=help_text, parents=[PROJECT_OPTION, JSON_OPTION])
    parser.set_defaults(handler=handler)
    return parser


def metadata_sessions(settings: Settings) -> Any:
    """A sessionmaker on the metadata DB, migrated to the newest schema first."""
    upgrade_database(settings.resolved_database_url)
    return make_sessionmaker(make_engine(settings.resolved_database_url))


def find_project_id(session: Any, name: str) -> str:
    """The id of the project named ``name``; CommandError with the fix when there is none."""
    project = api_keys.get_project_by_name(session, name)
    if project is None:
        raise CommandError(f"no project named {name!r}; create it with `haloscope project create`")
    return project.id


def emit(args: argparse.Namespace, payload: Any, text: str) -> None:
    """Print ``payload`` as JSON with ``--json``, else ``text``."""
    print(json.dumps(payload) if args.json else text)
