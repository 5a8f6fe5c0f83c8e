"""The Evaluations page's score distributions: each score name's charts by the kind of its
values (``TraceStore.score_summary``). Numbers get a histogram over [0, 1]; booleans the counts
of true and false; categories their counts. A categorical score (stored with value 0) never
lands in a numeric histogram, and a boolean one is a share of true, not a mean."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from haloscope.web.charts import bar_chart
from markupsafe import Markup

BIN_LABELS = [f"{i / 10:.1f}–{(i + 1) / 10:.1f}" for i in range(10)]


def score_summary_charts(summary: Sequence[dict[str, Any]]) -> dict[str, list[Markup]]:
    """Per score name, its charts: one per value type present, numbers first."""
    charts: dict[str, list[Markup]] = {}
    for row in summary:
        name, shown = row["name"], []
        if row["numeric_scores"]:
            shown.append(bar_chart(f"Distribution of {name} scores", BIN_LABELS, row["histogram"]))
        if row["boolean_scores"]:
            false = int(row["boolean_scores"]) - int(row["true_scores"])
            shown.append(
                bar_chart(f"{name}: true and false", ["true", "false"], [row["true_scores"], false])
            )
        if row["categories"]:
            labels = [c["category"] for c in row["categories"]]
            counts = [c["scores"] for c in row["categories"]]
            if row["other_categories"]:
                labels.append("other")
                counts.append(row["other_categories"])
            shown.append(bar_chart(f"Categories of {name} scores", labels, counts))
        charts[name] = shown
    return charts
