"""The chDB-backed ClickHouse HTTP endpoint, through the real clickhouse-connect client."""

from __future__ import annotations

import clickhouse_connect
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError


@pytest.fixture
def client(clickhouse_endpoint: str):
    port = int(clickhouse_endpoint.rsplit(":", 1)[1])
    c = clickhouse_connect.get_client(host="127.0.0.1", port=port, autogenerate_session_id=False)
    yield c
    c.close()


def test_errors_carry_clickhouse_codes(client) -> None:
    with pytest.raises(DatabaseError) as info:
        client.query("SELEC 1")
    assert "Code: 62" in str(info.value)


def test_long_bindings_go_through_multipart_forms(client) -> None:
    value = "x\\y\t'" * 5000  # past clickhouse-connect's URL limit: sent as form fields
    assert client.query("SELECT {v:String} AS v", parameters={"v": value}).result_rows == [(value,)]


def test_settings_apply_per_request(client) -> None:
    query = "SELECT getSetting('max_threads') AS n"
    assert client.query(query, settings={"max_threads": 3}).result_rows == [(3,)]
    assert client.query(query).result_rows != [(3,)]


def test_compressed_native_insert(client) -> None:
    client.command("CREATE TABLE IF NOT EXISTS ep_t (a UInt32, s String) ENGINE = Memory")
    client.insert("ep_t", [[1, "one"], [2, "two"]], column_names=["a", "s"])  # lz4, Native
    rows = client.query("SELECT a, s FROM ep_t ORDER BY a").result_rows
    assert rows == [(1, "one"), (2, "two")]
