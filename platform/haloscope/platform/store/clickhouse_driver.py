"""The server driver: a ClickHouse server or cluster through clickhouse-connect (HTTP).

Values are bound server-side (``{name:Type}`` placeholders with ``parameters=``); inserts send
the JSONEachRow payload as is with ``raw_insert``. No HTTP session id is used, so one client
serves concurrent threads.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError
from haloscope.platform.store.base import StoreError
from haloscope.platform.store.identifiers import checked_identifier


@contextmanager
def _server_errors() -> Iterator[None]:
    """Report clickhouse-connect's errors (server exceptions, connection failures) as
    StoreError."""
    try:
        yield
    except ClickHouseError as exc:
        raise StoreError(str(exc)) from exc


def _connect(url: str, user: str, password: str, database: str | None) -> Client:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise StoreError(f"HALOSCOPE_CLICKHOUSE_URL={url!r}: expected http(s)://host[:port]")
    with _server_errors():
        return clickhouse_connect.get_client(
            interface=parts.scheme,
            host=parts.hostname,
            port=parts.port or (8443 if parts.scheme == "https" else 8123),
            username=user,
            password=password,
            database=database,
            autogenerate_session_id=False,
        )


class ClickHouseDriver:
    """A clickhouse-connect client on ``url`` using ``database`` (created when missing)."""

    name = "clickhouse"

    def __init__(self, url: str, user: str, password: str, database: str) -> None:
        self.database = checked_identifier(database)
        bootstrap = _connect(url, user, password, None)
        try:
            with _server_errors():
                bootstrap.command(f"CREATE DATABASE IF NOT EXISTS `{self.database}`")
        finally:
            bootstrap.close()
        self._client = _connect(url, user, password, self.database)

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a statement that returns nothing."""
        with _server_errors():
            self._client.command(sql, parameters=dict(params or {}))

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a SELECT and return its rows as dicts."""
        with _server_errors():
            result = self._client.query(sql, parameters=dict(params or {}))
            return list(result.named_results())

    def insert_formatted(
        self, table: str, columns: Sequence[str], payload: bytes, fmt: str
    ) -> None:
        """Send ``fmt`` input bytes to ``table`` in one HTTP request."""
        with _server_errors():
            self._client.raw_insert(
                checked_identifier(table),
                [checked_identifier(c) for c in columns],
                insert_block=payload,
                fmt=checked_identifier(fmt),
            )

    def close(self) -> None:
        """Close the client's connection pool."""
        self._client.close()
