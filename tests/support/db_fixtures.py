"""Metadata DB fixtures: a real PostgreSQL server (scripts/postgres.sh) and SQLite files.

``metadata_db_url`` runs a test on both backends, each time on an empty database. If
PostgreSQL cannot be started, the PostgreSQL variants fail with the reason (they never skip).
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from haloscope.platform.db.engine import make_engine, make_sessionmaker, upgrade_database
from psycopg import sql
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker as SessionMaker

POSTGRES_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "postgres.sh"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of the ``haloscope_test`` database on the throwaway server (started if needed)."""
    try:
        result = subprocess.run(
            ["bash", str(POSTGRES_SCRIPT), "start"],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("scripts/postgres.sh start did not finish in 240 s", pytrace=False)
    if result.returncode != 0:
        pytest.fail(
            f"PostgreSQL could not be started (scripts/postgres.sh start exited "
            f"{result.returncode}):\n{result.stderr.strip()}",
            pytrace=False,
        )
    return result.stdout.strip().splitlines()[-1]


def _admin_conninfo(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )


@pytest.fixture
def postgres_database_url(postgres_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"test_{secrets.token_hex(6)}"
    admin = _admin_conninfo(postgres_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def metadata_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty metadata DB: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'metadata' / 'haloscope.db'}"
    return request.getfixturevalue("postgres_database_url")


@pytest.fixture
def sessionmaker(metadata_db_url: str) -> Iterator[SessionMaker[Session]]:
    """A session factory on a freshly migrated metadata DB (both backends)."""
    upgrade_database(metadata_db_url)
    engine = make_engine(metadata_db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def db_session(sessionmaker: SessionMaker[Session]) -> Iterator[Session]:
    """A session on a freshly migrated metadata DB; the test commits what it wants kept."""
    with sessionmaker() as session:
        yield session
