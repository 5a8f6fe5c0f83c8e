"""Cluster mode: the single-node DDL of ``migrations/clickhouse`` rewritten for a sharded,
replicated ClickHouse cluster.

Every ``CREATE TABLE t`` of a MergeTree-family engine becomes two tables created ``ON CLUSTER``:
``t_local`` with the Replicated variant of the engine (one replication group per shard) and
``t`` itself as a ``Distributed`` table over the ``t_local`` of every shard, sharded by a hash of
``trace_id`` (so every span and score of a trace lives on one shard and ReplacingMergeTree
deduplication stays shard-local), else of ``project_id``. Queries and inserts keep using ``t``.
``ALTER TABLE t`` column changes go to both tables, engine-level changes (TTL, indexes, settings)
to ``t_local`` only; materialized views read and write the local tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from haloscope.platform.store.base import StoreError

LOCAL_SUFFIX = "_local"
# Server macros each node defines in its <macros> section.
SHARD_MACRO = "{shard}"
REPLICA_MACRO = "{replica}"

_CLUSTER_NAME = re.compile(r"[A-Za-z0-9_.\-]+|\{[A-Za-z0-9_]+\}")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FLAGS = re.IGNORECASE | re.DOTALL
_CREATE_TABLE = re.compile(
    r"CREATE\s+TABLE\s+(?P<if_not_exists>IF\s+NOT\s+EXISTS\s+)?(?P<name>\w+)\s*\(", _FLAGS
)
_ENGINE = re.compile(r"\s*ENGINE\s*=\s*(?P<engine>\w+)\s*", _FLAGS)
_MATERIALIZED_VIEW = re.compile(
    r"CREATE\s+MATERIALIZED\s+VIEW\s+(?P<if_not_exists>IF\s+NOT\s+EXISTS\s+)?(?P<name>\w+)"
    r"(?P<to>\s+TO\s+(?P<target>\w+))?(?P<rest>.*)",
    _FLAGS,
)
_VIEW = re.compile(
    r"CREATE\s+(?:OR\s+REPLACE\s+)?VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>\w+)", _FLAGS
)
_ALTER_TABLE = re.compile(r"ALTER\s+TABLE\s+(?P<name>\w+)\s+(?P<actions>.+)", _FLAGS)
_DROP_TABLE = re.compile(r"DROP\s+TABLE\s+(?P<if_exists>IF\s+EXISTS\s+)?(?P<name>\w+)\s*", _FLAGS)
_INSERT = re.compile(r"INSERT\s+INTO\s", _FLAGS)
# ALTER actions that change the column list, which the Distributed twin must mirror.
_COLUMN_ACTION = re.compile(r"(ADD|DROP|MODIFY|RENAME|COMMENT)\s+COLUMN\s", re.IGNORECASE)
# The one engine-level action that may share an ALTER with column changes: a sorting key may
# only grow by columns added in the same statement.
_MODIFY_ORDER_BY = re.compile(r"MODIFY\s+ORDER\s+BY\s", re.IGNORECASE)
_TABLE_REFERENCE = re.compile(r"\b(FROM|JOIN)\s+(\w+)\b", re.IGNORECASE)
_NOT_A_COLUMN = re.compile(r"(INDEX|PROJECTION|CONSTRAINT)\s", re.IGNORECASE)
_SHARDING_COLUMNS = ("trace_id", "project_id")


class ClusterDdlError(StoreError):
    """A DDL statement cannot be rendered for cluster mode; the message says why."""


def strip_comments(sql: str) -> str:
    """``sql`` without ``--`` comments (quoted text is left alone)."""
    out: list[str] = []
    quote = ""
    i = 0
    while i < len(sql):
        char = sql[i]
        if quote:
            if char == "\\":
                out.append(sql[i : i + 2])
                i += 2
                continue
            if char == quote:
                quote = ""
        elif char in "'`\"":
            quote = char
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = len(sql) if end < 0 else end
            continue
        out.append(char)
        i += 1
    return "".join(out).strip()


def _split_top_level(text: str) -> tuple[list[str], int]:
    """Split ``text`` at commas outside brackets and quotes, up to the bracket that closes an
    opening one before ``text`` began; returns the parts and the index of that closing bracket
    (``len(text)`` when there is none)."""
    parts: list[str] = []
    depth = 0
    quote = ""
    start = 0
    i = 0
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "'`\"":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            if depth == 0:
                break
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
        i += 1
    parts.append(text[start:i].strip())
    return [p for p in parts if p], i


def _column_names(columns_body: str) -> list[str]:
    names = []
    for element in _split_top_level(columns_body)[0]:
        if not _NOT_A_COLUMN.match(element):
            names.append(element.split(None, 1)[0].strip('`"'))
    return names


def _table_parts(sql: str, match: re.Match[str]) -> tuple[str, str, tuple[str, str], str]:
    """(``CREATE TABLE [IF NOT EXISTS]``, column body, (engine, its arguments), the rest)."""
    body_and_rest = sql[match.end() :]
    _, close = _split_top_level(body_and_rest)
    body = body_and_rest[:close].strip()
    rest = body_and_rest[close + 1 :]
    engine = _ENGINE.match(rest)
    if engine is None:
        raise ClusterDdlError(f"table {match['name']}: no ENGINE clause")
    name = engine["engine"]
    if not name.endswith("MergeTree") or name.startswith("Replicated"):
        raise ClusterDdlError(
            f"table {match['name']}: engine {name} has no replicated variant to render "
            "(cluster mode renders single-node MergeTree-family engines)"
        )
    rest = rest[engine.end() :]
    args = ""
    if rest.startswith("("):
        args_text, close = _split_top_level(rest[1:])
        args = ", ".join(args_text)
        rest = rest[close + 2 :]
    head = "CREATE TABLE IF NOT EXISTS" if match["if_not_exists"] else "CREATE TABLE"
    return head, body, (name, args), f"\n{rest.strip()}" if rest.strip() else ""


def _replicated_engine(engine_args: tuple[str, str], path: str, replica: str) -> str:
    engine, args = engine_args
    extra = f", {args}" if args else ""
    return f"ENGINE = Replicated{engine}('{path}', '{replica}'{extra})"


@dataclass
class ClusterDdl:
    """Renders single-node statements for ``cluster`` in ``database``, in migration order (it
    remembers the tables created so far, which later ALTERs and views refer to)."""

    cluster: str
    database: str
    tables: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not _CLUSTER_NAME.fullmatch(self.cluster):
            raise ClusterDdlError(
                f"cluster name {self.cluster!r}: use letters, digits, '_', '.', '-' or a "
                "'{macro}'"
            )
        if not _IDENTIFIER.fullmatch(self.database):
            raise ClusterDdlError(f"database name {self.database!r} is not a plain identifier")

    @property
    def on_cluster(self) -> str:
        """The ``ON CLUSTER`` clause."""
        return f"ON CLUSTER '{self.cluster}'"

    def create_database(self) -> str:
        """``CREATE DATABASE`` on every node (the driver creates it on its own node only)."""
        return f"CREATE DATABASE IF NOT EXISTS {self.database} {self.on_cluster}"

    def zookeeper_path(self, local_table: str, *, sharded: bool = True) -> str:
        """Keeper path of a replicated table: one replication group per shard, or one for the
        whole cluster when ``sharded`` is false."""
        shard = f"{SHARD_MACRO}/" if sharded else ""
        return f"/clickhouse/tables/{shard}{self.database}/{local_table}"

    def render(self, statement: str) -> list[str]:
        """The cluster statements replacing one single-node statement."""
        sql = strip_comments(statement)
        if match := _CREATE_TABLE.match(sql):
            return self._create_table(sql, match)
        if match := _MATERIALIZED_VIEW.match(sql):
            return [self._materialized_view(match)]
        if match := _VIEW.match(sql):
            return [f"{sql[: match.end()]} {self.on_cluster}{sql[match.end() :]}"]
        if match := _ALTER_TABLE.match(sql):
            return self._alter_table(match)
        if match := _DROP_TABLE.fullmatch(sql):
            return self._drop_table(match)
        if _INSERT.match(sql):
            return [sql]
        first_line = sql.splitlines()[0] if sql else ""
        raise ClusterDdlError(f"cluster mode cannot render the statement {first_line!r}")

    def replicated_everywhere(self, statement: str) -> str:
        """A ``CREATE TABLE`` of a small MergeTree table (the migration history) as one
        replicated table on every node of the cluster, not sharded."""
        sql = strip_comments(statement)
        match = _CREATE_TABLE.match(sql)
        if match is None:
            raise ClusterDdlError("replicated_everywhere takes a CREATE TABLE statement")
        name = match["name"]
        replica = f"{SHARD_MACRO}-{REPLICA_MACRO}"
        head, body, engine_args, tail = _table_parts(sql, match)
        engine = _replicated_engine(engine_args, self.zookeeper_path(name, sharded=False), replica)
        return self._create(head, name, body, engine, tail)

    def _create(self, head: str, name: str, body: str, engine: str, tail: str) -> str:
        return f"{head} {name} {self.on_cluster}\n(\n    {body}\n)\n{engine}{tail}"

    def _create_table(self, sql: str, match: re.Match[str]) -> list[str]:
        name = match["name"]
        local = f"{name}{LOCAL_SUFFIX}"
        head, body, engine_args, tail = _table_parts(sql, match)
        columns = _column_names(body)
        key = next((c for c in _SHARDING_COLUMNS if c in columns), None)
        if key is None:
            raise ClusterDdlError(
                f"table {name}: cluster mode shards by {' or '.join(_SHARDING_COLUMNS)}, "
                "and the table has neither column"
            )
        engine = _replicated_engine(engine_args, self.zookeeper_path(local), REPLICA_MACRO)
        self.tables.add(name)
        return [
            self._create(head, local, body, engine, tail),
            f"{head} {name} {self.on_cluster} AS {local}\n"
            f"ENGINE = Distributed('{self.cluster}', '{self.database}', '{local}', "
            f"cityHash64({key}))",
        ]

    def _known(self, name: str, statement: str) -> str:
        if name not in self.tables:
            raise ClusterDdlError(
                f"{statement} refers to table {name!r}, which no earlier migration creates"
            )
        return f"{name}{LOCAL_SUFFIX}"

    def _materialized_view(self, match: re.Match[str]) -> str:
        name = match["name"]
        if match["target"] is None:
            raise ClusterDdlError(
                f"materialized view {name}: cluster mode needs a view that writes TO a table "
                "created by a migration"
            )
        target = self._known(match["target"], f"materialized view {name}")

        def local_source(ref: re.Match[str]) -> str:
            table = ref[2]
            return f"{ref[1]} {table}{LOCAL_SUFFIX}" if table in self.tables else ref[0]

        rest = _TABLE_REFERENCE.sub(local_source, match["rest"])
        if_not_exists = "IF NOT EXISTS " if match["if_not_exists"] else ""
        return f"CREATE MATERIALIZED VIEW {if_not_exists}{name} {self.on_cluster} TO {target}{rest}"

    def _alter_table(self, match: re.Match[str]) -> list[str]:
        name = match["name"]
        local = self._known(name, f"ALTER TABLE {name}")
        actions = match["actions"]
        parts = _split_top_level(actions)[0]
        columns = [a for a in parts if _COLUMN_ACTION.match(a)]
        engine_level = [a for a in parts if not _COLUMN_ACTION.match(a)]
        if columns and not all(_MODIFY_ORDER_BY.match(a) for a in engine_level):
            raise ClusterDdlError(
                f"ALTER TABLE {name} mixes column changes with engine-level changes; split them "
                "into separate statements (cluster mode sends only column changes to the "
                "Distributed table; only MODIFY ORDER BY, which must add its columns in the "
                "same ALTER, may join them)"
            )
        statements = [f"ALTER TABLE {local} {self.on_cluster} {actions}"]
        if columns:
            statements.append(f"ALTER TABLE {name} {self.on_cluster} {', '.join(columns)}")
        return statements

    def _drop_table(self, match: re.Match[str]) -> list[str]:
        name = match["name"]
        local = self._known(name, f"DROP TABLE {name}")
        self.tables.discard(name)
        if_exists = "IF EXISTS " if match["if_exists"] else ""
        return [f"DROP TABLE {if_exists}{table} {self.on_cluster} SYNC" for table in (name, local)]
