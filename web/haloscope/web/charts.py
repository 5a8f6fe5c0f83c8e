"""Charts as server-rendered SVG: no script, no network, readable by screen readers through
their title and an accessible name."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 28


@dataclass(frozen=True)
class Series:
    """One line of a line chart; ``None`` values leave a gap."""

    name: str
    values: Sequence[float | None]


def _y_max(values: Sequence[float]) -> float:
    peak = max(values, default=0.0)
    return peak * 1.1 if peak > 0 else 1.0


def _frame(
    label: str, y_max: float, x_labels: Sequence[str], fmt: Callable[[float], str], body: str
) -> Markup:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}"><title>{escape(label)}</title>'
    ]
    for fraction in (0.0, 0.5, 1.0):
        y = TOP + plot_h * (1 - fraction)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(fmt(y_max * fraction))}</text>"
        )
    if x_labels:
        step = (WIDTH - LEFT - RIGHT) / max(len(x_labels), 1)
        shown = sorted({0, len(x_labels) // 2, len(x_labels) - 1})
        for i in shown:
            x = LEFT + step * (i + 0.5)
            parts.append(
                f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
                f"{escape(x_labels[i])}</text>"
            )
    parts.append(body)
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    label: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    fmt: Callable[[float], str] = lambda v: f"{v:,.0f}",
    y_max: float | None = None,
) -> Markup:
    """Lines over categorical x positions (e.g. days), one colour class per series."""
    present = [v for s in series for v in s.values if v is not None]
    top = y_max if y_max is not None else _y_max(present)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(x_labels), 1)
    body = []
    for index, one in enumerate(series):
        points = []
        for i, value in enumerate(one.values):
            if value is None:
                continue
            x = LEFT + step * (i + 0.5)
            y = TOP + plot_h * (1 - min(value / top, 1.0))
            points.append((x, y, value, x_labels[i]))
        css = f"series-{index % 6}"
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
            body.append(f'<polyline class="line {css}" points="{path}"/>')
        for x, y, value, x_label in points:
            tip = escape(f"{one.name} {x_label}: {fmt(value)}")
            body.append(
                f'<circle class="dot {css}" cx="{x:.1f}" cy="{y:.1f}" r="3">'
                f"<title>{tip}</title></circle>"
            )
    return _frame(label, top, x_labels, fmt, "".join(body))


def bar_chart(
    label: str,
    x_labels: Sequence[str],
    values: Sequence[float],
    fmt: Callable[[float], str] = lambda v: f"{v:,.0f}",
    series_index: int = 0,
) -> Markup:
    """Vertical bars, one per x label."""
    return grouped_bar_chart(label, x_labels, [Series("", values)], fmt, series_index)


def grouped_bar_chart(
    label: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    fmt: Callable[[float], str] = lambda v: f"{v:,.0f}",
    first_index: int = 0,
    y_max: float | None = None,
) -> Markup:
    """Bars of every series side by side at each x label (e.g. a baseline and a current
    histogram over the same bins), one colour class per series; ``None`` draws no bar.
    ``y_max`` caps the axis (e.g. 1.0 for shares)."""
    present = [v for s in series for v in s.values if v is not None]
    top = _y_max(present) if y_max is None else min(_y_max(present), y_max)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(x_labels), 1)
    width = step * 0.7 / max(len(series), 1)
    body = []
    for index, one in enumerate(series):
        css = f"series-{(first_index + index) % 6}"
        for i, value in enumerate(one.values):
            if value is None:
                continue
            height = plot_h * min(value / top, 1.0)
            x = LEFT + step * i + step * 0.15 + width * index
            tip = escape(" ".join(filter(None, (one.name, f"{x_labels[i]}: {fmt(value)}"))))
            body.append(
                f'<rect class="bar {css}" x="{x:.1f}" y="{TOP + plot_h - height:.1f}" '
                f'width="{width:.1f}" height="{height:.1f}"><title>{tip}</title></rect>'
            )
    return _frame(label, top, x_labels, fmt, "".join(body))


def span_bar(offset: float, width: float, css: str) -> Markup:
    """One waterfall row: a bar at ``offset`` of ``width`` (both fractions of the trace)."""
    x = max(0.0, min(offset, 1.0)) * 1000
    w = max(min(width, 1.0 - offset) * 1000, 2.0)
    return Markup(
        '<svg class="waterfall" viewBox="0 0 1000 12" preserveAspectRatio="none" '
        f'aria-hidden="true"><rect class="span-bar {escape(css)}" x="{x:.1f}" y="1" '
        f'width="{w:.1f}" height="10"/></svg>'
    )
