"""The embedded driver: ClickHouse's engine in-process through chDB.

chDB runs one embedded engine per process, bound to the first data path opened: a Session on a
different path fails until every session is closed, while further Sessions on the *same* path
share the engine (each with its own current database and settings). All calls on one driver are
serialised by a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import chdb.session
import orjson
from haloscope.platform.store.base import StoreError
from haloscope.platform.store.identifiers import checked_identifier, column_list
from haloscope.platform.store.params import render_params

SESSION_SETTINGS: tuple[str, ...] = (
    # 64-bit integers as JSON numbers, not strings, so both drivers return ints.
    "SET output_format_json_quote_64bit_integers = 0",
    # Insert throughput (measured in docs/storage.md): no ReplacingMergeTree collapse at insert
    # time (reads use FINAL, merges dedupe later), and single-threaded JSON parsing, which wins
    # on small machines where the API process encodes on the other cores.
    "SET optimize_on_insert = 0",
    "SET input_format_parallel_parsing = 0",
)


def _rows(payload: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in payload.split(b"\n") if line]


@contextmanager
def _engine_errors() -> Iterator[None]:
    """Report chDB's exceptions (ClickHouse's ``Code: N. DB::Exception`` text) as StoreError."""
    try:
        yield
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(str(exc)) from exc


class ChdbDriver:
    """A chDB session on ``path`` using ``database`` (created when missing)."""

    name = "chdb"

    def __init__(self, path: Path, database: str) -> None:
        self.path = Path(path)
        self.database = checked_identifier(database)
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._session: chdb.session.Session | None = chdb.session.Session(str(self.path))
        except Exception as exc:
            raise StoreError(f"cannot open chDB at {self.path}: {exc}") from exc
        self.execute(f"CREATE DATABASE IF NOT EXISTS `{self.database}`")
        self.execute(f"USE `{self.database}`")
        for setting in SESSION_SETTINGS:
            self.execute(setting)

    def _open_session(self) -> chdb.session.Session:
        if self._session is None:
            raise StoreError("the chDB driver is closed")
        return self._session

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run a statement that returns nothing."""
        with self._lock, _engine_errors():
            self._open_session().query(sql, "CSV", params=render_params(params))

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a SELECT; rows come back as JSONEachRow and are parsed with orjson."""
        with self._lock, _engine_errors():
            result = self._open_session().query(sql, "JSONEachRow", params=render_params(params))
            payload = result.bytes()
        return _rows(payload)

    def insert_formatted(
        self, table: str, columns: Sequence[str], payload: bytes, fmt: str
    ) -> None:
        """Stream ``fmt`` input bytes into ``table`` through chDB's streaming inserter."""
        statement = f"INSERT INTO {checked_identifier(table)} {column_list(columns)}"
        with self._lock, _engine_errors():
            inserter = self._open_session().send_insert(statement, checked_identifier(fmt))
            try:
                inserter.append(payload)
            except Exception:
                inserter.cancel()
                raise
            inserter.finish()

    def close(self) -> None:
        """Close this driver's chDB session (the engine stays up while other sessions exist)."""
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None
