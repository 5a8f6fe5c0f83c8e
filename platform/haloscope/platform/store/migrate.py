"""Versioned ClickHouse DDL: apply ``migrations/clickhouse/NNNN_name.sql`` in order, once each.

Applied files are recorded in ``schema_migrations`` with their SHA-256; a recorded file whose
content later changed is refused (write a new migration instead of editing an applied one).
A file may hold several statements, each ending with ``;`` at the end of a line.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from haloscope.platform.store.base import StoreDriver, StoreError

_FILE_NAME = re.compile(r"(\d{4})_([A-Za-z0-9_]+)\.sql")
_STATEMENT_END = re.compile(r";[ \t]*(?:\n|$)")

SCHEMA_MIGRATIONS_DDL = """
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = MergeTree
ORDER BY version
"""


class MigrationError(StoreError):
    """The migration files and the recorded schema history disagree."""


@dataclass(frozen=True)
class Migration:
    """One DDL file."""

    version: int
    name: str
    sql: str
    checksum: str

    def statements(self) -> list[str]:
        """The file's statements, split at ``;`` line ends, blank ones dropped."""
        return [s.strip() for s in _STATEMENT_END.split(self.sql) if s.strip()]


def migrations_dir() -> Path:
    """The repository's ``migrations/clickhouse``, else the copy packaged in the wheel."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "migrations" / "clickhouse"
        if candidate.is_dir():
            return candidate
    packaged = here.parents[1] / "_migrations" / "clickhouse"
    if packaged.is_dir():
        return packaged
    raise MigrationError("cannot find the ClickHouse migrations directory (migrations/clickhouse)")


def load_migrations(directory: Path) -> list[Migration]:
    """Every ``NNNN_name.sql`` in ``directory``, ordered by version; duplicates are an error."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.fullmatch(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path}: version {version} appears twice")
        raw = path.read_bytes()
        found[version] = Migration(
            version, match.group(2), raw.decode(), hashlib.sha256(raw).hexdigest()
        )
    return [found[v] for v in sorted(found)]


def migrate(driver: StoreDriver, directory: Path | None = None) -> list[int]:
    """Apply the pending migrations; return the versions applied now (empty when up to date)."""
    driver.execute(SCHEMA_MIGRATIONS_DDL)
    applied = {
        int(row["version"]): row["checksum"]
        for row in driver.query("SELECT version, checksum FROM schema_migrations")
    }
    pending = []
    for migration in load_migrations(directory or migrations_dir()):
        recorded = applied.get(migration.version)
        if recorded is None:
            pending.append(migration)
        elif recorded != migration.checksum:
            raise MigrationError(
                f"migration {migration.version:04d}_{migration.name}.sql changed after it was "
                f"applied (checksum {recorded[:12]} recorded, {migration.checksum[:12]} now); "
                "add a new migration instead of editing an applied one"
            )
    for migration in pending:
        for statement in migration.statements():
            driver.execute(statement)
        driver.execute(
            "INSERT INTO schema_migrations (version, name, checksum) "
            "VALUES ({version:UInt32}, {name:String}, {checksum:String})",
            {"version": migration.version, "name": migration.name, "checksum": migration.checksum},
        )
    return [m.version for m in pending]
