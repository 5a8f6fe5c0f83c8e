"""The score export over real HTTP: CSV and JSONL hold exactly what ``GET /api/v1/scores``
lists (same filters, same order), streamed over many store pages; CSV cells are safe against
formula injection; a bad format is refused with its reason; another project's key exports
nothing of this project."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from haloscope.platform.api import score_export
from haloscope.platform.api.score_export import CSV_COLUMNS, csv_record, safe_cell
from haloscope.platform.store.score_queries import ScoreFilter
from haloscope.platform.store.scores import ScoreStore

from tests.api.spans import new_span_id, new_trace_id
from tests.support.api_fixtures import LiveApi, ProjectKeys

BASE_US = 1_700_000_000_000_000
# The CSV columns that hold the listed score's field as is.
AS_LISTED = (
    "id",
    "trace_id",
    "name",
    "value_type",
    "comment",
    "source",
    "author",
    "evaluator_version",
    "label",
    "reason",
    "sampling_run_id",
)
INJECTION_STARTS = ("=", "+", "-", "@", "\t", "\r")
INJECTIONS = ('=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx")


def post(client: httpx.Client, scores: list[dict[str, Any]]) -> list[str]:
    response = client.post("/api/v1/scores", json={"scores": scores})
    assert response.status_code == 200, response.text
    return [s["id"] for s in response.json()["scores"]]


def listed(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """Every score GET /api/v1/scores lists with ``params``, following the cursor."""
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = client.get("/api/v1/scores", params={**params, "limit": 7, "cursor": cursor})
        assert response.status_code == 200, response.text
        rows += response.json()["data"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return rows


def export(client: httpx.Client, fmt: str, **params: Any) -> httpx.Response:
    response = client.get("/api/v1/scores/export", params={"format": fmt, **params})
    assert response.status_code == 200, response.text
    return response


def from_jsonl(body: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in body.splitlines()]


def parse_time(text: str) -> int | None:
    """An ISO 8601 UTC time of the CSV as epoch µs; None for an empty cell."""
    if not text:
        return None
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return int(moment.replace(microsecond=0).timestamp()) * 1_000_000 + moment.microsecond


def unescaped(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(INJECTION_STARTS) else cell


def from_csv(body: str) -> list[dict[str, Any]]:
    """The CSV rows as API score objects (the inverse of the documented columns)."""
    reader = csv.reader(io.StringIO(body, newline=""))
    header = next(reader)
    assert tuple(header) == CSV_COLUMNS
    scores = []
    for cells in reader:
        row = {column: unescaped(cell) for column, cell in zip(header, cells, strict=True)}
        kind = row["value_type"]
        if kind == "numeric":
            value: Any = float(row["value"])
            assert row["string_value"] == ""
        elif kind == "boolean":
            value = row["string_value"] == "true"
            assert row["value"] == str(int(value))
        else:
            value = row["string_value"]
            assert row["value"] == ""
        score = {column: row[column] for column in AS_LISTED}
        score.update(
            span_id=row["span_id"] or None,
            idempotency_key=row["idempotency_key"] or None,
            value=value,
            timestamp=parse_time(row["timestamp"]),
        )
        if row["deleted_by"]:
            score.update(deleted_by=row["deleted_by"], deleted_at=parse_time(row["deleted_at"]))
        else:
            score["created_at"] = parse_time(row["created_at"])
        scores.append(score)
    return scores


@pytest.fixture
def mixed(client: httpx.Client) -> list[str]:
    """A project's mix: numeric, boolean, categorical and annotation scores, comments that
    look like formulas, one deleted score; ids in posting order."""
    trace_id, span_id = new_trace_id(), new_span_id()
    scores = [
        {"trace_id": trace_id, "name": "stars", "value": 4.5, "timestamp": BASE_US + 5},
        {"trace_id": trace_id, "name": "stars", "value": -1.25, "timestamp": BASE_US + 4},
        {
            "trace_id": trace_id,
            "span_id": span_id,
            "name": "helpful",
            "value": True,
            "timestamp": BASE_US + 3,
        },
        {"trace_id": trace_id, "name": "helpful", "value": False, "timestamp": BASE_US + 3},
        {
            "trace_id": trace_id,
            "name": "tone",
            "value": 'polite, "mostly"\nfine',
            "source": "annotation",
            "author": "ann@example.com",
            "comment": 'multi\nline, with "quotes"',
            "timestamp": BASE_US + 2,
        },
        *(
            {
                "trace_id": trace_id,
                "name": "=cmd" if i == 0 else "note",
                "value": text,
                "comment": text,
                "author": text,
                "timestamp": BASE_US + 1,
            }
            for i, text in enumerate(INJECTIONS)
        ),
        {"trace_id": trace_id, "name": "gone", "value": 0.5, "timestamp": BASE_US},
    ]
    ids = post(client, scores)
    assert client.delete(f"/api/v1/scores/{ids[-1]}").status_code == 200
    return ids


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"source": "annotation"},
        {"name": ["stars", "helpful"]},
        {"deleted": "true"},
        {"min_value": 0, "max_value": 1},
    ],
)
def test_jsonl_and_csv_hold_exactly_the_listed_scores(
    client: httpx.Client, mixed: list[str], params: dict[str, Any]
) -> None:
    expected = listed(client, **params)
    assert expected, "every case lists some scores"
    assert from_jsonl(export(client, "jsonl", **params).text) == expected
    assert from_csv(export(client, "csv", **params).text) == expected


def test_the_mix_covers_every_type_tombstones_and_annotations(
    client: httpx.Client, mixed: list[str]
) -> None:
    live = from_jsonl(export(client, "jsonl").text)
    assert {s["value_type"] for s in live} == {"numeric", "boolean", "categorical"}
    assert mixed[-1] not in {s["id"] for s in live} and len(live) == len(mixed) - 1
    (tombstone,) = from_jsonl(export(client, "jsonl", deleted="true").text)
    assert tombstone["id"] == mixed[-1] and tombstone["deleted_by"]
    annotations = from_jsonl(export(client, "jsonl", source="annotation").text)
    assert [s["value"] for s in annotations] == ['polite, "mostly"\nfine']


def test_csv_cells_that_look_like_formulas_are_written_as_text(
    client: httpx.Client, mixed: list[str]
) -> None:
    body = export(client, "csv").text
    rows = list(csv.DictReader(io.StringIO(body, newline="")))
    notes = [r for r in rows if r["name"] in ("note", "'=cmd")]
    assert sorted(r["comment"] for r in notes) == sorted("'" + text for text in INJECTIONS)
    assert all(r["author"] == r["comment"] == r["string_value"] for r in notes)
    assert {r["name"] for r in notes} == {"note", "'=cmd"}
    # A number stays a number: a negative value is not a formula and is not prefixed.
    assert "-1.25" in {r["value"] for r in rows}
    for row in rows:
        for column, cell in row.items():
            if column != "value":
                assert not cell.startswith(INJECTION_STARTS), (column, cell)


def test_safe_cell_and_csv_record_directly() -> None:
    assert [safe_cell(t) for t in ("=1", "+1", "-1", "@a", "\t1", "\r1", "a=1", "", "'=")] == [
        "'=1",
        "'+1",
        "'-1",
        "'@a",
        "'\t1",
        "'\r1",
        "a=1",
        "",
        "'=",
    ]
    view = {
        "id": "i",
        "trace_id": "t",
        "span_id": None,
        "name": "n",
        "value": "=x",
        "value_type": "categorical",
        "comment": "",
        "source": "api",
        "author": "",
        "idempotency_key": "k",
        "timestamp": 1_700_000_000_123_456,
        "created_at": 0,
        "evaluator_version": "",
        "label": "",
        "reason": "",
        "sampling_run_id": "",
    }
    record = dict(zip(CSV_COLUMNS, csv_record(view), strict=True))
    assert record["string_value"] == "'=x" and record["value"] == ""
    assert record["timestamp"] == "2023-11-14T22:13:20.123456Z"
    assert record["created_at"] == "1970-01-01T00:00:00.000000Z" and record["deleted_at"] == ""


def test_the_download_streams_over_many_store_pages(
    client: httpx.Client, live_api: LiveApi, keys: ProjectKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace_id = new_trace_id()
    # Equal timestamps in pairs: the keyset order (timestamp, id) must not lose or repeat any.
    post(
        client,
        [
            {"trace_id": trace_id, "name": f"n{i}", "value": i, "timestamp": BASE_US + i // 2}
            for i in range(53)
        ],
    )
    monkeypatch.setattr(score_export, "EXPORT_PAGE_SIZE", 5)
    expected = listed(client)
    with client.stream("GET", "/api/v1/scores/export", params={"format": "jsonl"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-ndjson"
        assert "chunked" in response.headers.get("transfer-encoding", "")
        body = b"".join(response.iter_bytes())
    assert from_jsonl(body.decode()) == expected and len(expected) == 53
    chunks = list(
        score_export.export_chunks(
            ScoreStore(live_api.store.driver), keys.project_id, ScoreFilter(), "csv"
        )
    )
    rows_per_chunk = [chunk.count(b"\r\n") for chunk in chunks]
    assert rows_per_chunk[0] <= 6 and max(rows_per_chunk[1:]) <= 5  # the header, then pages
    assert len(chunks) >= 11 and sum(rows_per_chunk) == 54


def test_the_store_is_read_one_page_at_a_time(live_api: LiveApi, keys: ProjectKeys) -> None:
    calls: list[str] = []
    store = ScoreStore(live_api.store.driver)
    real_query = store.driver.query

    class Counting:
        def query(self, sql: str, params: Any = None) -> Any:
            calls.append(sql)
            return real_query(sql, params)

    store.driver = Counting()  # type: ignore[assignment]
    chunks = score_export.export_chunks(store, keys.project_id, ScoreFilter(), "jsonl", 2)
    assert calls == []
    next(chunks, None)
    assert len(calls) == 1


def test_headers_name_the_file_and_forbid_caching(client: httpx.Client, mixed: list[str]) -> None:
    for fmt, media in (("csv", "text/csv; charset=utf-8"), ("jsonl", "application/x-ndjson")):
        response = export(client, fmt)
        assert response.headers["content-type"] == media
        disposition = response.headers["content-disposition"]
        assert disposition.startswith('attachment; filename="haloscope-scores-')
        assert disposition.endswith(f'.{fmt}"')
        assert response.headers["cache-control"] == "no-store"


def test_an_empty_export_has_just_the_header(client: httpx.Client) -> None:
    assert export(client, "csv").text == ",".join(CSV_COLUMNS) + "\r\n"
    assert export(client, "jsonl").text == ""


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"format": "xlsx"}, "format 'xlsx' is not one of ['csv', 'jsonl']"),
        ({"format": "csv", "source": "robot"}, "source: unknown value(s) ['robot']"),
        ({"format": "csv", "min_value": 2, "max_value": 1}, "min_value must not exceed"),
        ({"format": "csv", "start": "yesterday"}, "start='yesterday': use ISO 8601"),
    ],
)
def test_bad_parameters_are_refused_with_the_reason(
    client: httpx.Client, params: dict[str, Any], reason: str
) -> None:
    response = client.get("/api/v1/scores/export", params=params)
    assert response.status_code == 400
    assert reason in response.json()["error"]


def test_another_projects_key_exports_none_of_these_scores(
    live_api: LiveApi, client: httpx.Client, mixed: list[str]
) -> None:
    other = live_api.new_project()
    with httpx.Client(base_url=live_api.base_url, auth=other.basic_auth, timeout=60) as intruder:
        assert export(intruder, "jsonl").text == ""
        assert export(intruder, "csv", deleted="true").text == ",".join(CSV_COLUMNS) + "\r\n"
    anonymous = httpx.get(f"{live_api.base_url}/api/v1/scores/export", timeout=60)
    assert anonymous.status_code == 401
