"""``haloscope evaluators list``: every evaluator version, its default and its quality card."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from haloscope.evaluators import EvaluatorSpec, list_evaluators
from haloscope.evaluators.quality import MIN_RELIABLE_AUROC, SliceFigures
from haloscope.platform.cli.common import JSON_OPTION


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``evaluators list`` to the ``haloscope`` command."""
    evaluators = sub.add_parser("evaluators", help="registered evaluators and their quality")
    actions = evaluators.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list", help="every evaluator version with its measured quality card", parents=[JSON_OPTION]
    )
    listing.set_defaults(handler=run_list)


def run_list(args: argparse.Namespace) -> int:
    """Print the evaluators (a table, or JSON with ``--json``)."""
    specs = list_evaluators()
    if args.json:
        print(json.dumps([_as_json(spec) for spec in specs], indent=2))
        return 0
    for spec in specs:
        print("\n".join(describe(spec)))
    return 0


def describe(spec: EvaluatorSpec) -> list[str]:
    """Lines describing one evaluator version and its card."""
    marks = [m for m, on in (("default", spec.default), ("UNRELIABLE", spec.unreliable)) if on]
    head = f"{spec.name}@{spec.version}" + (f"  [{', '.join(marks)}]" if marks else "")
    lines = [head, f"    {spec.description}", f"    needs: {', '.join(spec.requires)}"]
    if spec.quality is None:
        return lines
    for name, card in spec.quality.slices.items():
        fig = card.figures
        low = "  (below the reliability bar)" if fig.auroc < MIN_RELIABLE_AUROC else ""
        lines.append(
            f"    {name} ({card.rows} rows, sha256 {card.sha256[:12]}): {_figures(fig)}{low}"
        )
        for base, base_fig in card.baselines.items():
            lines.append(
                f"      baseline {base.replace('_', ' ')}: pairwise {base_fig.pairwise:.1%}, "
                f"AUROC {base_fig.auroc:.3f}"
            )
    return lines


def _figures(fig: SliceFigures) -> str:
    text = f"pairwise {fig.pairwise:.1%}, AUROC {fig.auroc:.3f}"
    if fig.label_accuracy is not None:
        text += f", label acc {fig.label_accuracy:.1%} (best {fig.best_accuracy:.1%})"
    if fig.flag_rate is not None:
        text += f", flagged {fig.flag_rate:.1%}"
    if fig.answers_per_s is not None:
        text += f", {fig.answers_per_s:.1f} answers/s"
    return text


def _as_json(spec: EvaluatorSpec) -> dict[str, object]:
    return {
        "name": spec.name,
        "version": spec.version,
        "description": spec.description,
        "requires": list(spec.requires),
        "default": spec.default,
        "unreliable": spec.unreliable,
        "quality": asdict(spec.quality) if spec.quality else None,
    }
