"""Field checks shared by the SDK and OTLP converters, on their fast and general paths."""

from __future__ import annotations

import pytest
from haloscope.platform.ingest.errors import SpanRejected
from haloscope.platform.ingest.span_fields import metadata_map


def test_metadata_of_short_strings_is_kept_as_is() -> None:
    metadata = {"route": "/ask", "region": "eu"}
    assert metadata_map("metadata", metadata, max_bytes=40) == {"route": "/ask", "region": "eu"}


def test_metadata_values_other_than_strings_are_stringified() -> None:
    metadata = {"attempt": 2, "flags": {"beta": True}, "route": "/ask", "none": None}
    assert metadata_map("metadata", metadata, max_bytes=100) == {
        "attempt": "2",
        "flags": '{"beta":true}',
        "route": "/ask",
        "none": "null",
    }


def test_metadata_value_is_measured_in_utf8_bytes() -> None:
    # 9 characters, 18 bytes: over the quick character bound, within the byte limit.
    assert metadata_map("metadata", {"k": "é" * 9}, max_bytes=18) == {"k": "é" * 9}
    with pytest.raises(SpanRejected, match="metadata.k exceeds 17 bytes"):
        metadata_map("metadata", {"k": "é" * 9}, max_bytes=17)
    with pytest.raises(SpanRejected, match="metadata.n exceeds 3 bytes"):
        metadata_map("metadata", {"n": 12345}, max_bytes=3)
