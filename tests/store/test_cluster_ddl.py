"""Cluster mode DDL: the repository migrations rendered as ReplicatedMergeTree + Distributed
tables ``ON CLUSTER``. chDB cannot run a replicated cluster, so the rendered statements are
parsed and normalised by ClickHouse's own parser (``formatQuery``) and checked against the
single-node tables chDB actually created; the single-node path is checked unchanged."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from haloscope.platform.store import StoreDriver, TraceStore
from haloscope.platform.store.cluster_ddl import ClusterDdl, ClusterDdlError
from haloscope.platform.store.migrate import (
    SCHEMA_MIGRATIONS_DDL,
    load_migrations,
    migrations_dir,
    render_statements,
)

CLUSTER = "prod"
DATABASE = "haloscope"


def _formatted(driver: StoreDriver, statement: str) -> str:
    """ClickHouse's normal form of ``statement`` (raises on a syntax error), on one line."""
    text = driver.query("SELECT formatQuery({sql:String}) AS sql", {"sql": statement})[0]["sql"]
    return " ".join(text.split())


def _rendered(driver: StoreDriver, directory: Path | None = None) -> list[str]:
    migrations = load_migrations(directory or migrations_dir())
    by_version = render_statements(migrations, ClusterDdl(CLUSTER, DATABASE))
    return [_formatted(driver, s) for version in sorted(by_version) for s in by_version[version]]


def _single_node_tables(driver: StoreDriver) -> list[dict[str, str]]:
    return driver.query(
        "SELECT name, engine, engine_full, sorting_key, partition_key FROM system.tables "
        "WHERE database = currentDatabase() AND engine LIKE '%MergeTree' "
        "AND name != 'schema_migrations'"
    )


def _columns(driver: StoreDriver, table: str) -> set[str]:
    rows = driver.query(
        "SELECT name FROM system.columns WHERE database = currentDatabase() "
        "AND table = {table:String}",
        {"table": table},
    )
    return {r["name"] for r in rows}


def _engine_args(engine_full: str, engine: str) -> str:
    match = re.match(rf"{engine}(?:\((?P<args>[^)]*)\))?", engine_full)
    assert match is not None
    return match["args"] or ""


def test_every_table_has_a_replicated_local_table_and_a_distributed_twin(
    chdb_store: TraceStore,
) -> None:
    driver = chdb_store.driver
    statements = _rendered(driver)
    tables = _single_node_tables(driver)
    assert {"spans", "scores"} <= {t["name"] for t in tables}
    assert "trace_id" in _columns(driver, "spans") and "trace_id" in _columns(driver, "scores")
    for table in tables:
        name, local = table["name"], f"{table['name']}_local"
        creates = [s for s in statements if re.match(rf"CREATE TABLE IF NOT EXISTS {local} ", s)]
        assert len(creates) == 1, name
        local_ddl = creates[0]
        assert f"{local} ON CLUSTER {CLUSTER} (" in local_ddl
        args = _engine_args(table["engine_full"], table["engine"])
        path = f"'/clickhouse/tables/{{shard}}/{DATABASE}/{local}', '{{replica}}'"
        expected_engine = (
            f"ENGINE = Replicated{table['engine']}({path}{', ' + args if args else ''})"
        )
        assert expected_engine in local_ddl
        assert f"PARTITION BY {table['partition_key']}" in local_ddl
        # The sorting key as last set: by CREATE TABLE, or by a later MODIFY ORDER BY.
        order_by = [f"ORDER BY ({table['sorting_key']})" in local_ddl] + [
            f"MODIFY ORDER BY ({table['sorting_key']})" in s
            for s in statements
            if s.startswith(f"ALTER TABLE {local} ON CLUSTER {CLUSTER} ") and "ORDER BY" in s
        ]
        assert order_by[-1], name
        twin = f"CREATE TABLE IF NOT EXISTS {name} ON CLUSTER {CLUSTER} AS {local} ENGINE = "
        distributed = [s for s in statements if s.startswith(twin)]
        key = "trace_id" if "trace_id" in _columns(driver, name) else "project_id"
        assert distributed == [
            f"{twin}Distributed('{CLUSTER}', '{DATABASE}', '{local}', cityHash64({key}))"
        ]


def test_column_changes_reach_both_tables_and_ttl_only_the_local_one(
    chdb_store: TraceStore,
) -> None:
    alters = [s for s in _rendered(chdb_store.driver) if s.startswith("ALTER TABLE")]
    for table in ("spans", "scores"):
        add = f"ON CLUSTER {CLUSTER} (ADD COLUMN IF NOT EXISTS `retention_days` UInt16 DEFAULT 0)"
        assert f"ALTER TABLE {table}_local {add}" in alters
        assert f"ALTER TABLE {table} {add}" in alters
    ttl = [s for s in alters if "MODIFY TTL" in s]
    assert {s.split()[2] for s in ttl} == {"spans_local", "scores_local"}
    engine_level = [s for s in alters if re.search(r"\b(TTL|PROJECTION|SETTING|ORDER)\b", s)]
    assert engine_level and all(s.split()[2].endswith("_local") for s in engine_level)
    # A sorting key grows by a column added in the same ALTER: the Distributed twin gets the
    # column only.
    add = f"ON CLUSTER {CLUSTER} (ADD COLUMN IF NOT EXISTS `score_id` String"
    assert [s.split()[2] for s in alters if add in s] == ["scores_local", "scores"]
    assert all(f"ON CLUSTER {CLUSTER}" in s for s in alters)


def test_database_and_migration_history_exist_on_every_node(chdb_store: TraceStore) -> None:
    renderer = ClusterDdl("{cluster}", DATABASE)
    assert _formatted(chdb_store.driver, renderer.create_database()) == (
        f"CREATE DATABASE IF NOT EXISTS {DATABASE} ON CLUSTER `{{cluster}}`"
    )
    formatted = _formatted(chdb_store.driver, renderer.replicated_everywhere(SCHEMA_MIGRATIONS_DDL))
    assert formatted.startswith(
        "CREATE TABLE IF NOT EXISTS schema_migrations ON CLUSTER `{cluster}`"
    )
    path = f"'/clickhouse/tables/{DATABASE}/schema_migrations', '{{shard}}-{{replica}}'"
    assert f"ENGINE = ReplicatedMergeTree({path})" in formatted


def test_a_future_rollup_file_is_rendered_too(chdb_store: TraceStore, tmp_path: Path) -> None:
    (tmp_path / "0001_spans.sql").write_text(
        "CREATE TABLE spans (project_id String, trace_id String, start_time DateTime)\n"
        "ENGINE = ReplacingMergeTree ORDER BY (project_id, trace_id);\n"
    )
    (tmp_path / "0003_daily.sql").write_text(
        "-- a daily rollup, kept by a materialized view\n"
        "CREATE TABLE IF NOT EXISTS daily (project_id String, day Date, spans UInt64)\n"
        "ENGINE = SummingMergeTree ORDER BY (project_id, day);\n"
        "CREATE MATERIALIZED VIEW IF NOT EXISTS daily_mv TO daily AS\n"
        "SELECT project_id, toDate(start_time) AS day, count() AS spans\n"
        "FROM spans GROUP BY project_id, day;\n"
        "CREATE VIEW daily_view AS SELECT * FROM daily;\n"
        "DROP TABLE IF EXISTS daily;\n"
    )
    statements = _rendered(chdb_store.driver, tmp_path)
    on = f"ON CLUSTER {CLUSTER}"
    assert "'daily_local', cityHash64(project_id))" in statements[3]
    assert statements[4].startswith(
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS daily_mv {on} TO daily_local"
    )
    assert "FROM spans_local" in statements[4]
    assert statements[5].startswith(f"CREATE VIEW daily_view {on} AS SELECT * FROM daily")
    assert statements[6:] == [
        f"DROP TABLE IF EXISTS daily {on} SYNC",
        f"DROP TABLE IF EXISTS daily_local {on} SYNC",
    ]


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        ("CREATE TABLE t (trace_id String) ENGINE = Memory", "no replicated variant"),
        ("CREATE TABLE t (x UInt8) ENGINE = MergeTree ORDER BY x", "has neither column"),
        ("CREATE MATERIALIZED VIEW v ENGINE = MergeTree ORDER BY x AS SELECT 1", "writes TO"),
        ("ALTER TABLE unknown ADD COLUMN x UInt8", "no earlier migration creates"),
        ("ALTER TABLE spans ADD COLUMN x UInt8, MODIFY TTL toDate(start_time)", "split them"),
        ("SYSTEM STOP MERGES spans", "cannot render"),
    ],
)
def test_statements_cluster_mode_cannot_render_are_refused(statement: str, reason: str) -> None:
    renderer = ClusterDdl(CLUSTER, DATABASE, {"spans"})
    with pytest.raises(ClusterDdlError, match=reason):
        renderer.render(statement)


@pytest.mark.parametrize("cluster", ["", "prod'; DROP TABLE spans; --", "a b"])
def test_unsafe_cluster_names_are_refused(cluster: str) -> None:
    with pytest.raises(ClusterDdlError, match="cluster name"):
        ClusterDdl(cluster, DATABASE)


def test_single_node_path_is_unchanged(chdb_store: TraceStore) -> None:
    migrations = load_migrations(migrations_dir())
    assert render_statements(migrations) == {m.version: m.statements() for m in migrations}
    tables = chdb_store.driver.query(
        "SELECT name, engine FROM system.tables WHERE database = currentDatabase()"
    )
    engines = {t["name"]: t["engine"] for t in tables}
    assert engines["spans"] == "ReplacingMergeTree"
    assert engines["scores"] == "ReplacingMergeTree"
    assert not [n for n, e in engines.items() if n.endswith("_local") or "Distributed" in e]
    assert not [e for e in engines.values() if e.startswith("Replicated")]
