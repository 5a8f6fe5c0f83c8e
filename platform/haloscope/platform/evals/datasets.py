"""Dataset items, JSONL/CSV import, and the file-based store of immutable dataset versions.

A version is a JSONL file ``<root>/<name>/v<N>.jsonl`` created exclusively (two imports
racing for the same number cannot overwrite each other) and made read-only.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from haloscope.platform.evals.errors import EvalUsageError
from haloscope.platform.evals.jsonutil import canonical_json, content_hash

DATASET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
ITEM_FIELDS = ("id", "input", "expected_output", "context", "metadata")
_VERSION_FILE = re.compile(r"^v(\d+)\.jsonl$")


@dataclass(frozen=True)
class DatasetItem:
    """One example: ``input`` (text or JSON), ``expected_output``, ``context`` passages and
    free-form ``metadata``. ``id`` is given by the source or derived from the content."""

    id: str
    input: Any
    expected_output: Any = None
    context: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The item as a JSON-serialisable dict."""
        return {
            "id": self.id,
            "input": self.input,
            "expected_output": self.expected_output,
            "context": list(self.context),
            "metadata": dict(self.metadata),
        }


@dataclass(frozen=True)
class DatasetVersion:
    """An immutable set of items: ``name`` at ``version`` with its content hash."""

    name: str
    version: int
    items: tuple[DatasetItem, ...]

    @property
    def content_hash(self) -> str:
        """SHA-256 of the items' canonical JSON."""
        return content_hash([item.as_dict() for item in self.items])


def check_dataset_name(name: str) -> str:
    """``name`` if it is a valid dataset name, else a usage error saying what is allowed."""
    if not DATASET_NAME.match(name):
        raise EvalUsageError(
            f"invalid dataset name {name!r}: use 1-200 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def item_from_mapping(raw: Mapping[str, Any], where: str) -> DatasetItem:
    """Validate one raw record (``where`` names it in errors) and build its item."""
    if not isinstance(raw, Mapping):
        raise EvalUsageError(f"{where}: an item must be a JSON object, got {type(raw).__name__}")
    if raw.get("input") in (None, ""):
        raise EvalUsageError(f"{where}: the item has no 'input'")
    context = raw.get("context") or []
    if isinstance(context, str):
        context = [context]
    if not isinstance(context, list) or not all(isinstance(c, str) for c in context):
        raise EvalUsageError(f"{where}: 'context' must be a string or a list of strings")
    metadata = raw.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise EvalUsageError(f"{where}: 'metadata' must be an object")
    extra = {k: v for k, v in raw.items() if k not in ITEM_FIELDS}
    body = {
        "input": raw["input"],
        "expected_output": raw.get("expected_output"),
        "context": list(context),
        "metadata": {**extra, **metadata},
    }
    item_id = str(raw.get("id") or content_hash(body)[:16])
    return DatasetItem(
        item_id, body["input"], body["expected_output"], tuple(context), body["metadata"]
    )


def _check_unique_ids(items: Sequence[DatasetItem]) -> tuple[DatasetItem, ...]:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise EvalUsageError(f"duplicate item id {item.id!r}: item ids must be unique")
        seen.add(item.id)
    if not items:
        raise EvalUsageError("the dataset has no items")
    return tuple(items)


def parse_jsonl(text: str, source: str) -> tuple[DatasetItem, ...]:
    """Items from JSON Lines text (blank lines skipped)."""
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalUsageError(f"{source}:{number}: not valid JSON ({exc.msg})") from exc
        items.append(item_from_mapping(raw, f"{source}:{number}"))
    return _check_unique_ids(items)


def _csv_cell(value: str, column: str) -> Any:
    if column in ("context", "metadata") and value.strip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise EvalUsageError(f"CSV column {column!r}: invalid JSON ({exc.msg})") from exc
    return value


def parse_csv(text: str, source: str) -> tuple[DatasetItem, ...]:
    """Items from CSV with a header row; ``context``/``metadata`` cells may hold JSON and
    columns other than the item fields go into the metadata."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "input" not in reader.fieldnames:
        raise EvalUsageError(f"{source}: the CSV header must have an 'input' column")
    items = []
    for number, row in enumerate(reader, start=2):
        raw = {k: _csv_cell(v or "", k) for k, v in row.items() if k is not None}
        items.append(item_from_mapping(raw, f"{source}:{number}"))
    return _check_unique_ids(items)


def load_items_file(path: Path) -> tuple[DatasetItem, ...]:
    """Items from a ``.jsonl``/``.json`` (JSON Lines) or ``.csv`` file."""
    if not path.is_file():
        raise EvalUsageError(f"dataset file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        return parse_csv(text, str(path))
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        return parse_jsonl(text, str(path))
    raise EvalUsageError(f"{path}: unsupported dataset format; use .jsonl or .csv")


def items_from_dicts(
    raw_items: Iterable[Mapping[str, Any]], source: str
) -> tuple[DatasetItem, ...]:
    """Items from already-parsed records (the API's request body)."""
    return _check_unique_ids(
        [item_from_mapping(raw, f"{source}[{i}]") for i, raw in enumerate(raw_items)]
    )


class DatasetStore:
    """Immutable dataset versions as JSONL files under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def versions(self, name: str) -> list[int]:
        """The version numbers of dataset ``name``, ascending."""
        directory = self.root / check_dataset_name(name)
        if not directory.is_dir():
            return []
        found = (_VERSION_FILE.match(p.name) for p in directory.iterdir())
        return sorted(int(m.group(1)) for m in found if m)

    def names(self) -> list[str]:
        """Every dataset with at least one version."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self.versions(p.name))

    def add_version(self, name: str, items: Sequence[DatasetItem]) -> DatasetVersion:
        """Write ``items`` as the next version of ``name``; existing versions are untouched."""
        directory = self.root / check_dataset_name(name)
        directory.mkdir(parents=True, exist_ok=True)
        body = "".join(canonical_json(item.as_dict()) + "\n" for item in items).encode()
        while True:
            version = (self.versions(name) or [0])[-1] + 1
            path = directory / f"v{version}.jsonl"
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
            except FileExistsError:
                continue
            with os.fdopen(fd, "wb") as handle:
                handle.write(body)
            return DatasetVersion(name, version, tuple(items))

    def get(self, name: str, version: int | None = None) -> DatasetVersion:
        """Dataset ``name`` at ``version`` (default: the latest)."""
        versions = self.versions(name)
        if not versions:
            raise EvalUsageError(
                f"no dataset {name!r} under {self.root}; import one with "
                f"`haloscope dataset import {name} FILE`"
            )
        chosen = versions[-1] if version is None else version
        if chosen not in versions:
            raise EvalUsageError(f"dataset {name!r} has no version {chosen}; versions: {versions}")
        path = self.root / name / f"v{chosen}.jsonl"
        return DatasetVersion(name, chosen, parse_jsonl(path.read_text("utf-8"), str(path)))
