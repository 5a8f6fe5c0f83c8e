"""``haloscope evaluators list``: every evaluator version, its default and its quality card
(with ``--project``, also the project's custom judges and their cards); ``haloscope evaluators
create --file judge.yaml --project P``: save a custom judge (a new version when its wording
changed); ``haloscope evaluators measure --judge J --dataset-file items.jsonl``: a judge's
quality card on items carrying the expected verdict (stored with a project judge's version)."""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from haloscope.evaluators import EvaluatorSpec, list_evaluators
from haloscope.evaluators.quality import MIN_RELIABLE_AUROC, QualityCard, SliceFigures
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
    measure = actions.add_parser(
        "measure",
        help="a judge's quality card on a dataset whose items carry the expected verdict",
        parents=[JSON_OPTION],
    )
    measure.add_argument(
        "--judge",
        required=True,
        help="custom:NAME (the project's judge, stored), a judge file (.yaml/.json) or a "
        "built-in evaluator NAME[@VERSION]",
    )
    measure.add_argument("--dataset-file", required=True, help=".jsonl or .csv items")
    measure.add_argument("--project", help="the project of a custom:NAME judge")
    measure.add_argument("--version", help="the custom judge version (default: the latest)")
    measure.add_argument(
        "--label-field",
        default="expected_label",
        help="item field (or metadata key) with the expected verdict (default expected_label)",
    )
    measure.add_argument(
        "--output-field", default="output", help="item field with the answer judged (output)"
    )
    measure.set_defaults(handler=run_measure)


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
    lines = [
        f"{judge['evaluator']}@{judge['version']}  [custom judge]",
        f"    {spec['description'] or '(no description)'}",
        f"    score: {verdict}; labels {' / '.join(spec['labels'])} at {spec['threshold']}",
    ]
    quality = judge.get("quality")
    if isinstance(quality, dict):
        lines += _slice_lines(QualityCard.from_dict(quality))
    else:
        lines.append("    quality: not measured (haloscope evaluators measure)")
    return lines


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
    return lines + _slice_lines(spec.quality)


def _slice_lines(quality: QualityCard) -> list[str]:
    lines = []
    for name, card in quality.slices.items():
        fig = card.figures
        low = "  (below the reliability bar)" if fig.auroc < MIN_RELIABLE_AUROC else ""
        failed = f", {card.failed} failed" if card.failed else ""
        lines.append(
            f"    {name} ({card.rows} rows{failed}, sha256 {card.sha256[:12]}): "
            f"{_figures(fig)}{low}"
        )
        for base, base_fig in card.baselines.items():
            lines.append(f"      baseline {base.replace('_', ' ')}: {_figures(base_fig, False)}")
    return lines


def _figures(fig: SliceFigures, full: bool = True) -> str:
    parts = [] if fig.pairwise is None else [f"pairwise {fig.pairwise:.1%}"]
    parts.append(f"AUROC {fig.auroc:.3f}")
    if not full:
        return ", ".join(parts)
    if fig.label_accuracy is not None:
        parts.append(f"label acc {fig.label_accuracy:.1%} (best {fig.best_accuracy:.1%})")
    if fig.flag_rate is not None:
        parts.append(f"flagged {fig.flag_rate:.1%}")
    if fig.brier is not None:
        parts.append(f"Brier {fig.brier:.3f}")
    if fig.answers_per_s is not None:
        parts.append(f"{fig.answers_per_s:.1f} answers/s")
    return ", ".join(parts)


def run_measure(args: argparse.Namespace) -> int:
    """Score the dataset with the judge, print its card and store it with a project judge."""
    from haloscope.evaluators.quality import measure_evaluator
    from haloscope.platform.config import load_settings
    from haloscope.platform.jobs.runtime import judge_resources

    settings = load_settings()
    resources = judge_resources(settings)
    path = Path(args.dataset_file)
    stored = args.judge.startswith("custom:") and not _is_file(args.judge)
    if stored and not args.project:
        raise CommandError(f"{args.judge} is a project's judge: give --project")
    sessions = metadata_sessions(settings) if stored else None
    evaluator = _measured_evaluator(args, sessions, resources)
    labels = evaluator.binary_labels
    if labels is None:
        raise CommandError(f"{evaluator.key} is not a binary evaluator; it has no quality card")
    items, expected = _labelled_items(path, args.label_field, args.output_field, labels)
    meta = {
        "measured_by": "haloscope evaluators measure",
        "backend": f"{settings.judge_backend} {settings.judge_model or '(default model)'}",
        "label_field": args.label_field,
    }
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        card = measure_evaluator(evaluator, items, expected, path.stem, str(path), digest, meta)
    except ValueError as exc:
        raise CommandError(f"{evaluator.key} on {path}: {exc}") from exc
    payload: dict[str, Any] = {**card.as_dict(), "stored": False}
    if sessions is not None:
        from haloscope.platform.judges import get_judge, store_judge_card

        with sessions() as session:
            row = get_judge(
                session, find_project_id(session, args.project), args.judge[7:], evaluator.version
            )
            payload = {**store_judge_card(row, card.as_dict()), "stored": True}
            session.commit()
    text = [f"{card.name}@{card.version}", *_slice_lines(card)]
    if payload["stored"]:
        text.append(f"    stored with {card.name}@{card.version} in project {args.project}")
    emit(args, payload, "\n".join(text))
    return 0


def _is_file(judge: str) -> bool:
    return judge.lower().endswith((".yaml", ".yml", ".json")) and Path(judge).is_file()


def _measured_evaluator(args: argparse.Namespace, sessions: Any, resources: Any) -> Any:
    from haloscope.evaluators import create_evaluator
    from haloscope.evaluators.custom_judge import (
        JudgeSpecError,
        create_custom_judge,
        parse_judge_spec,
        read_judge_file,
    )
    from haloscope.platform.judges import get_judge, judge_evaluator

    try:
        if _is_file(args.judge):
            raw = read_judge_file(args.judge)
            raw.pop("note", None)
            return create_custom_judge(parse_judge_spec(raw), 0, resources)
        if sessions is not None:
            with sessions() as session:
                row = get_judge(
                    session, find_project_id(session, args.project), args.judge[7:], args.version
                )
                return judge_evaluator(row, resources=resources)
        name, _, version = args.judge.partition("@")
        return create_evaluator(name, version or None, None, resources)
    except (JudgeSpecError, LookupError, ValueError, OSError) as exc:
        raise CommandError(f"--judge {args.judge}: {exc}") from exc


def _labelled_items(
    path: Path, label_field: str, output_field: str, labels: tuple[str, str]
) -> tuple[list[Any], list[bool]]:
    """The dataset's items as evaluator inputs and their expected verdicts (True = the
    positive label)."""
    from haloscope.evaluators import EvalInput
    from haloscope.evaluators.quality import expected_verdict
    from haloscope.platform.evals.datasets import load_items_file
    from haloscope.platform.evals.errors import EvalUsageError

    try:
        dataset = load_items_file(path)
    except EvalUsageError as exc:
        raise CommandError(str(exc)) from exc
    items, expected = [], []
    for item in dataset:
        metadata = dict(item.metadata or {})
        if label_field not in metadata:
            raise CommandError(f"{path}: item {item.id} has no {label_field!r}")
        try:
            expected.append(expected_verdict(metadata.pop(label_field), labels))
        except ValueError as exc:
            raise CommandError(f"{path}: item {item.id}: {exc}") from exc
        output = metadata.pop(output_field, "")
        items.append(
            EvalInput(
                input=_text(item.input),
                output=_text(output),
                contexts=tuple(item.context),
                reference=_text(item.expected_output) or None,
                metadata=metadata,
            )
        )
    return items, expected


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


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
