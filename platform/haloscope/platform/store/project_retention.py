"""Per-project retention: deleting a project's rows older than its cutoff.

The table TTL (``retention_days``, see migrate.py) applies the deployment's retention to every
row. A project may keep its data for fewer days: the daily retention job deletes what is older
than the project's cutoff with lightweight ``DELETE``s (in cluster mode on every node's local
table). The cutoff is a whole UTC day, so whole overview-rollup hours and days go with their
spans.
"""

from __future__ import annotations

from haloscope.platform.store.base import StoreDriver
from haloscope.platform.store.cluster_ddl import LOCAL_SUFFIX, ClusterDdl

DAY_US = 86_400 * 1_000_000
# Each table holding project data, with the time column its rows expire by.
RETAINED_TABLES: tuple[tuple[str, str], ...] = (
    ("spans", "start_time"),
    ("scores", "timestamp"),
    ("span_hourly_rollup", "hour"),
    ("span_daily_rollup", "day"),
)
# Table and column names come from RETAINED_TABLES only; the values are bound.
DELETE_SQL = (
    "DELETE FROM {target}{on_cluster} WHERE project_id = {{project_id:String}} "
    "AND {column} < fromUnixTimestamp64Micro({{cutoff_us:Int64}}, 'UTC')"
)


def retention_cutoff_us(now_us: int, retention_days: int) -> int:
    """The start of the oldest UTC day kept: rows before it are deleted."""
    if retention_days < 1:
        raise ValueError(f"retention_days={retention_days}: a project keeps at least 1 day")
    return (now_us // DAY_US - retention_days + 1) * DAY_US


def delete_project_rows_before(
    driver: StoreDriver, project_id: str, cutoff_us: int, cluster: str = ""
) -> None:
    """Delete every row of ``project_id`` older than ``cutoff_us`` (a day boundary, µs)."""
    on_cluster = ""
    if cluster:
        database = driver.query("SELECT currentDatabase() AS db")[0]["db"]
        on_cluster = f" {ClusterDdl(cluster, database).on_cluster}"
    for table, column in RETAINED_TABLES:
        target = f"{table}{LOCAL_SUFFIX}" if cluster else table
        sql = DELETE_SQL.format(target=target, on_cluster=on_cluster, column=column)
        driver.execute(sql, {"project_id": project_id, "cutoff_us": cutoff_us})
