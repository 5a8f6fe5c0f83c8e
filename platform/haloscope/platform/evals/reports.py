"""Gate reports: the terminal table, JUnit XML for CI test panels, JSON, and a Markdown
summary for a pull-request comment."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from haloscope.platform.evals.gate import GateReport, MetricVerdict

_HEADER = ("metric", "aggregate", "value", "95% CI", "baseline", "change", "p", "status")


def _row(m: MetricVerdict) -> tuple[str, ...]:
    test = m.test
    return (
        m.name,
        m.aggregate,
        f"{m.current.estimate:.3f}",
        f"[{m.current.low:.3f}, {m.current.high:.3f}]",
        "-" if m.baseline is None else f"{m.baseline:.3f}",
        "-" if test is None else f"{test.delta:+.3f}",
        "-" if test is None else f"{test.p_value:.3g}",
        m.status.upper(),
    )


def summary_table(report: GateReport) -> str:
    """A fixed-width table of every metric, then the verdict and the failure reasons."""
    rows = [_HEADER, *(_row(m) for m in report.metrics)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    baseline = report.baseline_run_id or "none"
    lines.append(f"\nrun {report.run_id} vs baseline {baseline}: {report.verdict.upper()}")
    lines.extend(f"  {m.name}: {m.reason}" for m in report.metrics if m.reason)
    lines.extend(f"  note: {note}" for note in report.notes)
    return "\n".join(lines)


def junit_xml(report: GateReport) -> bytes:
    """One ``<testsuite name="haloscope-eval-gate">`` with a ``<testcase>`` per metric and a
    ``<failure>`` for each failing one (the shape Jenkins, GitLab and GitHub reporters read)."""
    failures = sum(1 for m in report.metrics if m.status == "fail")
    suites = ET.Element("testsuites", tests=str(len(report.metrics)), failures=str(failures))
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="haloscope-eval-gate",
        tests=str(len(report.metrics)),
        failures=str(failures),
        errors="0",
        skipped="0",
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (("run_id", report.run_id), ("baseline_run_id", report.baseline_run_id)):
        ET.SubElement(properties, "property", name=name, value=value or "")
    for m in report.metrics:
        case = ET.SubElement(suite, "testcase", classname="haloscope.eval", name=m.name, time="0")
        if m.status == "fail":
            failure = ET.SubElement(case, "failure", message=m.reason, type="EvalRegression")
            failure.text = " | ".join(_row(m))
        ET.SubElement(
            case, "system-out"
        ).text = (
            f"{m.aggregate}={m.current.estimate:.4f} CI=[{m.current.low:.4f}, {m.current.high:.4f}]"
        )
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True)


def markdown_summary(report: GateReport, compare_url: str | None = None) -> str:
    """A Markdown table and verdict, ready to post as a pull-request comment; with
    ``compare_url`` (the platform's compare page of the two runs) a link to the items."""
    icon = {"pass": "✅", "fail": "❌"}
    lines = [
        f"### Haloscope eval gate: {icon[report.verdict]} {report.verdict.upper()}",
        "",
        f"Run `{report.run_id}` against baseline `{report.baseline_run_id or 'none'}`"
        + (f" ({report.baseline_source})" if report.baseline_source else "")
        + f"; paired tests at α = {report.alpha:g}.",
        "",
        "| " + " | ".join(_HEADER) + " |",
        "|" + "---|" * len(_HEADER),
    ]
    for m in report.metrics:
        cells = list(_row(m))
        cells[-1] = f"{icon[m.status]} {m.status}"
        lines.append("| " + " | ".join(cells) + " |")
    reasons = [f"- **{m.name}**: {m.reason}" for m in report.metrics if m.reason]
    notes = [f"- {note}" for note in report.notes]
    if reasons:
        lines += ["", "**Failures**", "", *reasons]
    if notes:
        lines += ["", "**Notes**", "", *notes]
    if compare_url:
        regressed = sum(len(m.regressed_items) for m in report.metrics)
        lines += [
            "",
            f"[Compare the runs item by item]({compare_url}) "
            f"({regressed} item regression(s) across the metrics).",
        ]
    return "\n".join(lines) + "\n"


def write_reports(
    report: GateReport,
    junit: Path | None,
    json_path: Path | None,
    markdown: Path | None,
    *,
    compare_url: str | None = None,
) -> None:
    """Write whichever of the three report files were asked for (the Markdown one links to
    ``compare_url`` when given)."""
    for path, body in (
        (junit, lambda: junit_xml(report)),
        (json_path, lambda: json.dumps(report.to_json(), indent=1).encode()),
        (markdown, lambda: markdown_summary(report, compare_url).encode()),
    ):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body())
