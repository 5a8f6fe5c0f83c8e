"""ClickHouse migrations: ordered, recorded, idempotent, and guarded against edited files."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from haloscope.platform.config import Settings
from haloscope.platform.store import StoreDriver, open_driver
from haloscope.platform.store.migrate import (
    MigrationError,
    load_migrations,
    migrate,
    migrations_dir,
)


@pytest.fixture
def fresh_driver(store_settings: Settings) -> Iterator[StoreDriver]:
    """A driver on a database nobody else uses."""
    driver = open_driver(store_settings.replace(clickhouse_database=f"m_{uuid.uuid4().hex}"))
    yield driver
    driver.close()


def write(directory: Path, name: str, sql: str) -> None:
    (directory / name).write_text(sql)


def test_repository_migrations_apply_once(fresh_driver: StoreDriver) -> None:
    versions = [m.version for m in load_migrations(migrations_dir())]
    assert versions == sorted(versions) and versions[:2] == [1, 2]
    assert migrate(fresh_driver) == versions
    assert migrate(fresh_driver) == []
    tables = {
        r["name"]
        for r in fresh_driver.query(
            "SELECT name FROM system.tables WHERE database = currentDatabase()"
        )
    }
    assert {"spans", "scores", "schema_migrations"} <= tables
    recorded = fresh_driver.query("SELECT version, name FROM schema_migrations ORDER BY version")
    assert [(r["version"], r["name"]) for r in recorded] == [
        (m.version, m.name) for m in load_migrations(migrations_dir())
    ]


def test_new_files_apply_in_order_with_several_statements(
    fresh_driver: StoreDriver, tmp_path: Path
) -> None:
    write(tmp_path, "0002_b.sql", "ALTER TABLE a ADD COLUMN y UInt8 DEFAULT 7;\n")
    write(
        tmp_path,
        "0001_a.sql",
        "-- two statements\nCREATE TABLE a (x UInt8) ENGINE = "
        "MergeTree ORDER BY x;\nINSERT INTO a (x) VALUES (1);\n",
    )
    assert migrate(fresh_driver, tmp_path) == [1, 2]
    write(tmp_path, "0003_c.sql", "INSERT INTO a (x) VALUES (2)")
    assert migrate(fresh_driver, tmp_path) == [3]
    assert migrate(fresh_driver, tmp_path) == []
    rows = fresh_driver.query("SELECT x, y FROM a ORDER BY x")
    assert rows == [{"x": 1, "y": 7}, {"x": 2, "y": 7}]


def test_edited_applied_migration_is_refused(fresh_driver: StoreDriver, tmp_path: Path) -> None:
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (x UInt8) ENGINE = MergeTree ORDER BY x")
    migrate(fresh_driver, tmp_path)
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (x UInt16) ENGINE = MergeTree ORDER BY x")
    write(tmp_path, "0002_b.sql", "CREATE TABLE b (x UInt8) ENGINE = MergeTree ORDER BY x")
    with pytest.raises(MigrationError, match="0001_a.sql changed after it was applied"):
        migrate(fresh_driver, tmp_path)
    tables = fresh_driver.query("SELECT name FROM system.tables WHERE database = currentDatabase()")
    assert "b" not in {r["name"] for r in tables}


@pytest.mark.parametrize("name", ["1_a.sql", "0001-a.sql", "abcd_a.sql"])
def test_badly_named_file_is_refused(tmp_path: Path, name: str) -> None:
    write(tmp_path, name, "SELECT 1")
    with pytest.raises(MigrationError, match="NNNN_name.sql"):
        load_migrations(tmp_path)


def test_duplicate_version_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "0001_a.sql", "SELECT 1")
    write(tmp_path, "0001_b.sql", "SELECT 2")
    with pytest.raises(MigrationError, match="twice"):
        load_migrations(tmp_path)
