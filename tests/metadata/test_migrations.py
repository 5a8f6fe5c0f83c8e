"""Alembic migrations against real SQLite and PostgreSQL: schema matches the models."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from haloscope.platform.db.engine import (
    alembic_config,
    make_engine,
    migrations_dir,
    upgrade_database,
)
from haloscope.platform.db.models import Base, Project
from sqlalchemy import MetaData, inspect, select, text
from sqlalchemy.orm import Session

REPO_ROOT = Path(__file__).resolve().parents[2]


def _schema_diffs(url: str, metadata: MetaData) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


def test_upgrade_from_empty_matches_models(metadata_db_url: str) -> None:
    upgrade_database(metadata_db_url)
    assert _schema_diffs(metadata_db_url, Base.metadata) == []


def test_schema_comparison_detects_drift(metadata_db_url: str) -> None:
    # Guards the test above against passing vacuously: a dropped index must show up.
    upgrade_database(metadata_db_url)
    engine = make_engine(metadata_db_url)
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_web_sessions_expires_at"))
    engine.dispose()
    diffs = _schema_diffs(metadata_db_url, Base.metadata)
    assert [(d[0], d[1].name) for d in diffs] == [("add_index", "ix_web_sessions_expires_at")]


def test_upgrade_is_idempotent_and_keeps_data(metadata_db_url: str) -> None:
    upgrade_database(metadata_db_url)
    engine = make_engine(metadata_db_url)
    with Session(engine) as session:
        session.add(Project(name="kept"))
        session.commit()
    upgrade_database(metadata_db_url)
    with Session(engine) as session:
        assert session.scalars(select(Project.name)).all() == ["kept"]
    with engine.connect() as conn:
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert conn.execute(text("SELECT version_num FROM alembic_version")).all() == [(head,)]
        tables = set(inspect(conn).get_table_names())
    engine.dispose()
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


def test_alembic_cli_upgrades_database_from_env(metadata_db_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "HALOSCOPE_DATABASE_URL": metadata_db_url, "HALOSCOPE_CONFIG": ""}
    alembic = Path(sys.executable).with_name("alembic")
    result = subprocess.run(
        [str(alembic), "-c", str(REPO_ROOT / "migrations" / "alembic.ini"), "upgrade", "head"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert _schema_diffs(metadata_db_url, Base.metadata) == []


def test_clickhouse_ddl_is_not_an_alembic_revision() -> None:
    directory = migrations_dir()
    assert directory == REPO_ROOT / "migrations"
    files = sorted(p.name for p in (directory / "versions").iterdir() if p.is_file())
    assert files and all(name.endswith(".py") for name in files)
    scripts = ScriptDirectory.from_config(alembic_config())
    assert sorted(rev.revision for rev in scripts.walk_revisions()) == [f[:4] for f in files]


def test_concurrent_upgrades_serialise(metadata_db_url: str) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(upgrade_database, [metadata_db_url] * 4))
    assert _schema_diffs(metadata_db_url, Base.metadata) == []
