"""Engine construction: SQLite pragmas and file placement, PostgreSQL driver, UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from haloscope.platform.db.engine import make_engine, normalize_url
from haloscope.platform.db.models import Project
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session, sessionmaker


def test_sqlite_file_gets_parent_dir_wal_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "haloscope.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 1000
    engine.dispose()
    assert path.is_file()


@pytest.mark.parametrize(
    "url", ["postgresql://u@h:5432/d", "postgres://u@h/d", "postgresql+psycopg://u@h/d"]
)
def test_postgres_urls_use_psycopg3(url: str) -> None:
    assert normalize_url(url).drivername == "postgresql+psycopg"


def test_timestamps_round_trip_as_aware_utc(sessionmaker: sessionmaker[Session]) -> None:
    plus_two = timezone(timedelta(hours=2))
    created = datetime(2025, 3, 1, 14, 30, 15, 123456, tzinfo=plus_two)
    with sessionmaker() as session:
        session.add(Project(name="tz", created_at=created))
        session.commit()
    with sessionmaker() as session:
        stored = session.scalar(select(Project.created_at).where(Project.name == "tz"))
    assert stored == created
    assert stored.tzinfo == UTC
    assert stored.hour == 12


def test_naive_timestamps_are_refused(db_session: Session) -> None:
    db_session.add(Project(name="naive", created_at=datetime(2025, 1, 1)))
    with pytest.raises(StatementError, match="naive datetime"):
        db_session.flush()
