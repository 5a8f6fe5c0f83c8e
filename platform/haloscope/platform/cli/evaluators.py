"""``haloscope evaluators list``: every evaluator version, its default and its quality card
(with ``--project``, also the project's custom judges); ``haloscope evaluators create --file
judge.yaml --project P``: save a custom judge (a new version when its wording changed)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from haloscope.evaluators import EvaluatorSpec, list_evaluators
from haloscope.evaluators.quality import MIN_RELIABLE_AUROC, SliceFigures
from haloscope.platform.cli.common import (
    JSON_OPTION,
    CommandError,
    emit,
    find_project_id,
    metadata_sessions,
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``evaluators list`` to the ``haloscope`` command."""
    evaluators = sub.add_parser("evaluators", help="registered evaluators and their quality")
    actions = evaluators.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser(
        "list", help="every evaluator version with its measured quality card", parents=[JSON_OPTION]
    )
    listing.add_argument("--project", help="also list this project's custom judges")
    listing.set_defaults(handler=run_list)
    create = actions.add_parser(
        "create", help="save a custom judge from a YAML/JSON file", parents=[JSON_OPTION]
    )
    create.add_argument("--file", required=True, help="the judge spec (docs/evaluators.md)")
    create.add_argument("--project", required=True, help="project name")
    create.set_defaults(handler=run_create)


def run_list(args: argparse.Namespace) -> int:
    """Print the evaluators (a table, or JSON with ``--json``)."""
    specs = list_evaluators()
    judges = _project_judges(args.project) if getattr(args, "project", None) else None
    if args.json:
        payload: object = [_as_json(spec) for spec in specs]
        if judges is not None:
            payload = {"evaluators": payload, "custom_judges": judges}
        print(json.dumps(payload, indent=2))
        return 0
    for spec in specs:
        print("\n".join(describe(spec)))
    for judge in judges or []:
        print("\n".join(describe_judge(judge)))
    return 0


def _project_judges(project: str) -> list[dict[str, object]]:
    from haloscope.platform.config import load_settings
    from haloscope.platform.judges import judge_as_dict, list_judges

    with metadata_sessions(load_settings())() as session:
        project_id = find_project_id(session, project)
        return [judge_as_dict(row) for row in list_judges(session, project_id)]


def describe_judge(judge: dict[str, object]) -> list[str]:
    """Lines describing a project's custom judge (its latest version)."""
    spec = judge["spec"]
    assert isinstance(spec, dict)
    verdict = (
        "1-5 scale (expected value)"
        if spec["mode"] == "scale"
        else f"P({spec['positive']}) over {', '.join(spec['choices'])}"
    )
    return [
        f"{judge['evaluator']}@{judge['version']}  [custom judge]",
        f"    {spec['description'] or '(no description)'}",
        f"    score: {verdict}; labels {' / '.join(spec['labels'])} at {spec['threshold']}",
    ]


def run_create(args: argparse.Namespace) -> int:
    """Validate and save the judge file as the project's judge."""
    from haloscope.evaluators.custom_judge import JudgeSpecError, read_judge_file
    from haloscope.platform.config import load_settings
    from haloscope.platform.judges import judge_as_dict, save_judge

    try:
        raw = read_judge_file(args.file)
    except (OSError, JudgeSpecError) as exc:
        raise CommandError(f"cannot read {args.file}: {exc}") from exc
    raw.pop("note", None)
    with metadata_sessions(load_settings())() as session:
        project_id = find_project_id(session, args.project)
        try:
            row, created = save_judge(session, project_id, raw, created_by="cli")
        except JudgeSpecError as exc:
            raise CommandError(f"{args.file}: {exc}") from exc
        session.commit()
        view = {**judge_as_dict(row), "created": created}
    state = "created" if created else "unchanged (identical to the latest version)"
    emit(args, view, f"{view['evaluator']}@{view['version']} {state}")
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
