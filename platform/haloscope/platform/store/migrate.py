"""Versioned ClickHouse DDL: apply ``migrations/clickhouse/NNNN_name.sql`` in order, once each.

Applied files are recorded in ``schema_migrations`` with their SHA-256; a recorded file whose
content later changed is refused (write a new migration instead of editing an applied one).
A file may hold several statements, each ending with ``;`` at the end of a line.

The files are written for a single node. With a cluster name the same files are rendered for a
sharded, replicated cluster (see :mod:`haloscope.platform.store.cluster_ddl`); checksums are of
the files, so one history describes either layout. After the files, the ``retention_days``
column default follows the configured retention (see ``0004_retention.sql``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from haloscope.platform.store.base import StoreDriver, StoreError
from haloscope.platform.store.cluster_ddl import ClusterDdl

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
# Tables whose rows carry ``retention_days`` (added by 0004_retention.sql), and its UInt16 range.
RETENTION_TABLES: tuple[str, ...] = ("spans", "scores")
MAX_RETENTION_DAYS = 65535


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


def render_statements(
    migrations: list[Migration], cluster: ClusterDdl | None = None
) -> dict[int, list[str]]:
    """Each migration's statements by version: as written for a single node, or rendered by
    ``cluster`` (which then knows every table the migrations create)."""
    if cluster is None:
        return {m.version: m.statements() for m in migrations}
    return {
        m.version: [rendered for s in m.statements() for rendered in cluster.render(s)]
        for m in migrations
    }


def apply_retention_default(
    driver: StoreDriver, retention_days: int, cluster: ClusterDdl | None = None
) -> list[str]:
    """Make ``retention_days`` the column default of every retention table whose default
    differs (through ``cluster`` in cluster mode); returns the tables changed. Rows inserted
    without a ``retention_days`` value take the default."""
    if not 0 <= retention_days <= MAX_RETENTION_DAYS:
        raise MigrationError(
            f"retention_days={retention_days}: use 0 (keep forever) to {MAX_RETENTION_DAYS}"
        )
    rows = driver.query(
        "SELECT table, default_expression FROM system.columns "
        "WHERE database = currentDatabase() AND name = 'retention_days' "
        "AND table IN {tables:Array(String)}",
        {"tables": list(RETENTION_TABLES)},
    )
    stale = sorted(r["table"] for r in rows if r["default_expression"] != str(retention_days))
    for table in stale:
        # A column default is schema: the range-checked integer is part of the DDL.
        statement = f"ALTER TABLE {table} MODIFY COLUMN retention_days DEFAULT {retention_days}"
        for rendered in cluster.render(statement) if cluster else [statement]:
            driver.execute(rendered)
    return stale


def migrate(
    driver: StoreDriver,
    directory: Path | None = None,
    *,
    cluster: str = "",
    retention_days: int | None = None,
) -> list[int]:
    """Apply the pending migrations, single-node or ``ON CLUSTER cluster``; then, unless
    ``retention_days`` is None, make it the retention column default. Returns the versions
    applied now (empty when up to date)."""
    migrations = load_migrations(directory or migrations_dir())
    renderer = None
    if cluster:
        database = driver.query("SELECT currentDatabase() AS db")[0]["db"]
        renderer = ClusterDdl(cluster, database)
        driver.execute(renderer.create_database())
    statements = render_statements(migrations, renderer)
    driver.execute(
        renderer.replicated_everywhere(SCHEMA_MIGRATIONS_DDL) if renderer else SCHEMA_MIGRATIONS_DDL
    )
    applied = {
        int(row["version"]): row["checksum"]
        for row in driver.query("SELECT version, checksum FROM schema_migrations")
    }
    pending = []
    for migration in migrations:
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
        for statement in statements[migration.version]:
            driver.execute(statement)
        driver.execute(
            "INSERT INTO schema_migrations (version, name, checksum) "
            "VALUES ({version:UInt32}, {name:String}, {checksum:String})",
            {"version": migration.version, "name": migration.name, "checksum": migration.checksum},
        )
    if retention_days is not None:
        apply_retention_default(driver, retention_days, renderer)
    return [m.version for m in pending]
