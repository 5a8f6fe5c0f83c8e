"""Eval run items in the platform: what ``haloscope eval run`` uploads per dataset item (its
output, each metric's score, label, reason and latency), the ``eval_items`` rows they become,
and the API's view of a stored row.

The upload is decoded by ``msgspec`` into typed structs (types, lengths and ranges checked in C
while decoding). ``input``, ``expected_output`` and ``metadata`` are kept as the JSON text the
client sent (``msgspec.Raw``), so any JSON value round-trips; they are answered as that JSON
again. An upload is all or nothing: one invalid item refuses the request with its index.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import msgspec
import orjson
from haloscope.platform.evals.datasets import DatasetItem
from haloscope.platform.evals.runs import ItemRecord
from haloscope.platform.store.encoding import datetime64_text
from haloscope.platform.store.eval_items import EVAL_ITEM_COLUMNS, EvalItemRow

MAX_ITEMS_PER_UPLOAD = 5000
MAX_METRICS = 100
MAX_TAGS = 100
MAX_UINT32 = 2**32 - 1
# The item fields of an upload, for the API's schema (its body is decoded here, not by FastAPI).
UPLOAD_FIELDS: tuple[str, ...] = (
    "id", "position", "input", "expected_output", "output", "contexts", "tags", "metadata",
    "error", "cached", "latency_ms", "metrics",
)  # fmt: skip

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
# A tag: printable text (the store joins an item's tags with U+001F for the compare page).
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")]
Millis = Annotated[float, msgspec.Meta(ge=0)]
_NULL = msgspec.Raw(b"null")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
if len(EVAL_ITEM_COLUMNS) != 22:  # item_row builds its tuple in this order
    raise ImportError("item_row does not match EVAL_ITEM_COLUMNS; update both")


class MetricUpload(msgspec.Struct, forbid_unknown_fields=True):
    """One metric's result on one item."""

    name: Name
    score: float | None = None
    label: str | None = None
    reason: str | None = None
    latency_ms: Millis = 0.0
    error: str | None = None


class ItemUpload(msgspec.Struct, forbid_unknown_fields=True):
    """One dataset item of a run: the item, the target's answer and every metric's result."""

    id: Name
    position: Annotated[int, msgspec.Meta(ge=0, le=MAX_UINT32)] = 0
    input: msgspec.Raw = _NULL
    expected_output: msgspec.Raw = _NULL
    output: str | None = None
    contexts: list[str] = []
    tags: Annotated[list[Tag], msgspec.Meta(max_length=MAX_TAGS)] = []
    metadata: msgspec.Raw = _NULL
    error: str | None = None
    cached: bool = False
    latency_ms: Millis = 0.0
    metrics: Annotated[list[MetricUpload], msgspec.Meta(max_length=MAX_METRICS)] = []


class ItemsUpload(msgspec.Struct, forbid_unknown_fields=True):
    """The body of ``POST /api/v1/eval-runs/{run_id}/items``."""

    items: Annotated[list[ItemUpload], msgspec.Meta(min_length=1, max_length=MAX_ITEMS_PER_UPLOAD)]


class UploadError(ValueError):
    """The upload is not valid; the message names the item and the field."""


_DECODER = msgspec.json.Decoder(ItemsUpload)


def decode_upload(body: bytes) -> list[ItemUpload]:
    """The items of an upload body; UploadError with the reason when it is invalid."""
    try:
        items = _DECODER.decode(body).items
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
        raise UploadError(f"invalid items upload: {exc}") from exc
    seen: set[str] = set()
    for index, item in enumerate(items):
        if item.id in seen:
            raise UploadError(f"items[{index}]: item id {item.id!r} appears twice in the upload")
        seen.add(item.id)
        names = [m.name for m in item.metrics]
        if len(set(names)) != len(names):
            raise UploadError(f"items[{index}]: a metric name appears twice")
    return items


def _json_text(raw: msgspec.Raw) -> str:
    text = bytes(raw).decode()
    return "" if text == "null" else text


@dataclass(frozen=True)
class RunKey:
    """What every row of a run carries: its project, id, dataset version and when the run was
    recorded (µs; the partition, the same for every upload of the run)."""

    project_id: str
    run_id: str
    dataset: str
    dataset_version: str
    created_us: int


def run_key(project_id: str, run: Mapping[str, Any]) -> RunKey:
    """The RunKey of a recorded run (``records.run_json``; a naive time is UTC)."""
    created = datetime.fromisoformat(run["created_at"])
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    micros = (created - EPOCH) // timedelta(microseconds=1)
    return RunKey(project_id, run["run_id"], run["dataset"], run["dataset_version"], micros)


def item_row(run: RunKey, item: ItemUpload) -> EvalItemRow:
    """The ``eval_items`` row of one uploaded item, in ``EVAL_ITEM_COLUMNS`` order (the run's
    dataset and version are the recorded run's, not the client's)."""
    metrics = item.metrics
    return (
        run.project_id,
        run.run_id,
        item.id,
        run.dataset,
        run.dataset_version,
        datetime64_text(run.created_us),
        item.position,
        _json_text(item.input),
        _json_text(item.expected_output),
        item.output or "",
        item.contexts,
        list(dict.fromkeys(item.tags)),
        _json_text(item.metadata),
        item.error or "",
        int(item.cached),
        item.latency_ms,
        [m.name for m in metrics],
        [m.score for m in metrics],
        [m.label or "" for m in metrics],
        [m.reason or "" for m in metrics],
        [m.latency_ms for m in metrics],
        [m.error or "" for m in metrics],
    )


def rows_of_uploads(run: RunKey, uploads: Sequence[Mapping[str, Any]]) -> list[EvalItemRow]:
    """The ``eval_items`` rows of upload objects (:func:`upload_items`) checked exactly as the
    API checks an upload, for a run recorded without the API (one started from the dashboard),
    whatever its size."""
    rows = []
    for start in range(0, len(uploads), MAX_ITEMS_PER_UPLOAD):
        body = msgspec.json.encode({"items": uploads[start : start + MAX_ITEMS_PER_UPLOAD]})
        rows += [item_row(run, item) for item in decode_upload(body)]
    return rows


def item_tags(metadata: Mapping[str, Any]) -> list[str]:
    """An item's tags: its metadata's ``tags`` (a list, or comma-separated text)."""
    raw = metadata.get("tags")
    if isinstance(raw, str):
        raw = raw.split(",")
    if not isinstance(raw, list):
        return []
    return list(dict.fromkeys(t.strip() for t in raw if isinstance(t, str) and t.strip()))


def upload_items(
    items: Sequence[DatasetItem], records: Sequence[ItemRecord], metric_names: Sequence[str]
) -> Iterable[dict[str, Any]]:
    """The upload objects of a run's items (``records`` in the dataset's order), in that order;
    ``metric_names`` orders each item's metrics."""
    for position, (item, record) in enumerate(zip(items, records, strict=True)):
        yield {
            "id": record.id,
            "position": position,
            "input": item.input,
            "expected_output": item.expected_output,
            "output": record.output,
            "contexts": list(record.contexts or ()),
            "tags": item_tags(item.metadata),
            "metadata": dict(item.metadata),
            "error": record.error,
            "cached": record.cached,
            "latency_ms": record.latency_ms or 0.0,
            "metrics": [
                {
                    "name": name,
                    "score": _finite(record.scores.get(name)),
                    "label": record.labels.get(name),
                    "reason": record.reasons.get(name),
                    "latency_ms": record.metric_latency_ms.get(name, 0.0),
                    "error": record.metric_errors.get(name),
                }
                for name in metric_names
                if name in record.scores
            ],
        }


def _finite(score: float | None) -> float | None:
    return score if score is None or math.isfinite(score) else None


def json_value(text: str) -> Any:
    """A stored JSON text column as a value for a response (None when empty); text that is not
    JSON orjson can read (an integer beyond 64 bits) is embedded as it was stored."""
    return orjson.Fragment(text) if text else None


def item_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """One stored item as the API answers it (``GET /api/v1/eval-runs/{run_id}/items``)."""
    return {
        "run_id": row["run_id"],
        "item_id": row["item_id"],
        "position": int(row["position"]),
        "dataset": row["dataset"],
        "dataset_version": row["dataset_version"],
        "input": json_value(row["input"]),
        "expected_output": json_value(row["expected_output"]),
        "output": row["output"],
        "contexts": list(row["contexts"]),
        "tags": list(row["tags"]),
        "metadata": json_value(row["metadata"]),
        "error": row["error"] or None,
        "cached": bool(row["cached"]),
        "latency_ms": float(row["latency_ms"]),
        "metrics": metric_views(row),
    }


def metric_views(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each metric of a stored item: name, score, label, reason, latency and error."""
    return [
        {
            "name": name,
            "score": score,
            "label": label or None,
            "reason": reason or None,
            "latency_ms": float(latency),
            "error": error or None,
        }
        for name, score, label, reason, latency, error in zip(
            row["metric_names"],
            row["metric_scores"],
            row["metric_labels"],
            row["metric_reasons"],
            row["metric_latency_ms"],
            row["metric_errors"],
            strict=True,
        )
    ]


def display_text(text: str) -> str:
    """A stored JSON text column for people: a JSON string as its text, other JSON as is."""
    if text.startswith('"'):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return text
        if isinstance(value, str):
            return value
    return text
