"""Dataset parsing and the immutable file-based version store."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from haloscope.platform.evals.datasets import DatasetStore, load_items_file, parse_csv
from haloscope.platform.evals.errors import EvalUsageError
from haloscope.platform.evals.trace_items import item_from_trace


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_each_import_is_a_new_immutable_version(tmp_path: Path) -> None:
    store = DatasetStore(tmp_path / "datasets")
    first = load_items_file(
        _jsonl(tmp_path / "a.jsonl", [{"input": "q1", "expected_output": "a1"}])
    )
    second = load_items_file(_jsonl(tmp_path / "b.jsonl", [{"input": "q2"}, {"input": "q3"}]))
    assert store.add_version("qa", first).version == 1
    v1_file = tmp_path / "datasets" / "qa" / "v1.jsonl"
    before = v1_file.read_bytes()
    assert store.add_version("qa", second).version == 2
    assert v1_file.read_bytes() == before
    assert not os.access(v1_file, os.W_OK) or os.geteuid() == 0
    assert oct(v1_file.stat().st_mode & 0o777) == "0o444"
    assert [i.input for i in store.get("qa", 1).items] == ["q1"]
    assert [i.input for i in store.get("qa").items] == ["q2", "q3"]
    assert store.versions("qa") == [1, 2] and store.names() == ["qa"]
    with pytest.raises(EvalUsageError, match="no version 7"):
        store.get("qa", 7)


def test_csv_columns_json_cells_and_extra_metadata() -> None:
    text = 'id,input,expected_output,context,team\nx1,Hi?,Hello,"[""p1"", ""p2""]",search\n'
    (item,) = parse_csv(text, "t.csv")
    assert (item.id, item.input, item.expected_output) == ("x1", "Hi?", "Hello")
    assert item.context == ("p1", "p2") and item.metadata == {"team": "search"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"expected_output": "x"}\n', "has no 'input'"),
        ("{not json\n", "not valid JSON"),
        ('{"id": "a", "input": "q"}\n{"id": "a", "input": "r"}\n', "duplicate item id"),
        ('{"input": "q", "context": 3}\n', "'context' must be"),
    ],
)
def test_bad_items_are_refused_with_their_line(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(body)
    with pytest.raises(EvalUsageError, match=message):
        load_items_file(path)


def test_invalid_dataset_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EvalUsageError, match="invalid dataset name"):
        DatasetStore(tmp_path).versions("../escape")


def test_item_from_trace_takes_root_io_and_retrieved_passages() -> None:
    spans = [
        {"span_id": "r", "parent_span_id": "", "name": "rag", "kind": "chain", "start_time": 1,
         "input": {"question": "Q?"}, "output": "A.", "documents": None},
        {"span_id": "s", "parent_span_id": "r", "name": "search", "kind": "retrieval",
         "start_time": 2, "input": None, "output": None,
         "documents": [{"id": "d1", "content": "P1"}, {"id": "d2", "content": "P2"}]},
    ]  # fmt: skip
    item = item_from_trace("t1", spans)
    assert (item.id, item.input, item.expected_output) == ("t1", "Q?", "A.")
    assert item.context == ("P1", "P2") and item.metadata["source_trace_id"] == "t1"
