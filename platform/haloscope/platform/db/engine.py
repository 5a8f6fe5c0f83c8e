"""Engines and sessions for the metadata DB, and schema upgrades through Alembic.

SQLite (the embedded default) is opened in WAL mode with foreign keys enforced and a busy
timeout, so that the API, worker and CLI processes can share one file. PostgreSQL URLs
(``postgresql://`` or ``postgres://``) are served by psycopg 3.
"""

from __future__ import annotations

import fcntl
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import haloscope.platform
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 10_000
ALEMBIC_VERSION_TABLE = "alembic_version"
# pg_advisory_xact_lock key serialising schema upgrades (ASCII "HALOMIGR").
MIGRATION_LOCK_KEY = 0x48414C4F4D494752


def normalize_url(url: str) -> URL:
    """Parse a database URL, selecting psycopg 3 for PostgreSQL URLs without a driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _enable_sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def make_engine(url: str) -> Engine:
    """Create an engine for ``url`` (SQLite file or memory, or PostgreSQL).

    For a SQLite file the parent directory is created when missing.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _enable_sqlite_pragmas)
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to ``engine``; objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def migrations_dir() -> Path:
    """The Alembic script directory: the repository's ``migrations/`` or the packaged copy."""
    package_dir = Path(haloscope.platform.__file__).resolve().parent
    candidates = (package_dir.parents[2] / "migrations", package_dir / "_migrations")
    for candidate in candidates:
        if (candidate / "env.py").is_file():
            return candidate
    searched = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"Alembic migrations not found (searched {searched})")


def alembic_config() -> Config:
    """An Alembic configuration built in code, pointing at ``migrations_dir()``."""
    config = Config()
    script_location = migrations_dir()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("version_locations", str(script_location / "versions"))
    config.set_main_option("path_separator", "os")
    return config


@contextmanager
def _exclusive_migration(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that holds the database's migration lock.

    Replicas starting together then migrate one after the other: on PostgreSQL through a
    transaction-scoped advisory lock, on a SQLite file through a lock file next to it.
    """
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
            yield connection
        return
    database = engine.url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        with engine.begin() as connection:
            yield connection
        return
    with open(f"{database}.migrate-lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        with engine.begin() as connection:
            yield connection


def upgrade_database(url: str) -> None:
    """Bring the metadata DB at ``url`` to the newest schema (idempotent, concurrency-safe)."""
    config = alembic_config()
    engine = make_engine(url)
    try:
        with _exclusive_migration(engine) as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()
