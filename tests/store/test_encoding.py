"""Span times as DateTime64(6) text for JSONEachRow inserts."""

from __future__ import annotations

import pytest
from haloscope.platform.store.encoding import datetime64_text


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (0, "0.000000"),
        (7, "0.000007"),
        (999_999, "0.999999"),
        (1_000_000, "1.000000"),
        (1_000_001, "1.000001"),
        (1_712_345_678_123_456, "1712345678.123456"),
    ],
)
def test_microseconds_become_seconds_with_six_decimals(micros: int, text: str) -> None:
    assert datetime64_text(micros) == text


def test_times_before_the_epoch_are_refused() -> None:
    with pytest.raises(ValueError, match="before the Unix epoch"):
        datetime64_text(-1)
