"""The time-range picker: preset windows ending now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from haloscope.web.errors import PageError

PRESETS: dict[str, tuple[str, timedelta]] = {
    "1h": ("Last hour", timedelta(hours=1)),
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
    "90d": ("Last 90 days", timedelta(days=90)),
}
DEFAULT_RANGE = "7d"


@dataclass(frozen=True)
class TimeRange:
    """A window ``[start, end)`` chosen by preset ``key``."""

    key: str
    label: str
    start: datetime
    end: datetime

    @property
    def start_us(self) -> int:
        """Start in epoch microseconds."""
        return int(self.start.timestamp() * 1_000_000)

    @property
    def end_us(self) -> int:
        """End in epoch microseconds."""
        return int(self.end.timestamp() * 1_000_000)

    def days(self) -> list[str]:
        """Every UTC day the window touches, as ``YYYY-MM-DD`` (the x axis of daily charts)."""
        first: date = self.start.date()
        count = (self.end.date() - first).days + 1
        return [(first + timedelta(days=i)).isoformat() for i in range(count)]


def parse_time_range(key: str | None, now: datetime | None = None) -> TimeRange:
    """The preset window called ``key`` (default 7 days) ending at ``now``; 400 if unknown."""
    key = key or DEFAULT_RANGE
    if key not in PRESETS:
        raise PageError(400, f"Unknown time range {key!r}; choose one of {', '.join(PRESETS)}.")
    label, length = PRESETS[key]
    end = (now or datetime.now(UTC)).astimezone(UTC)
    return TimeRange(key, label, end - length, end)
