"""A project's custom LLM judges: immutable versions in the metadata DB, and resolving the
evaluator name ``custom:<name>`` (version = the judge version) to a runnable evaluator.

Saving a spec validates it (``haloscope.evaluators.custom_judge.parse_judge_spec``: template
fields, choices, threshold, the choices' first tokens under the default judge's tokenizer).
A spec equal to the judge's latest version returns that version; any other wording becomes
the next version. Versions are never edited or deleted (scores refer to them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from haloscope.evaluators import Evaluator, EvaluatorSpec, Resources, create_evaluator
from haloscope.evaluators.custom_judge import (
    CUSTOM_PREFIX,
    JudgeSpecError,
    builtin_templates,
    parse_judge_spec,
)
from haloscope.evaluators.custom_judge import (
    CustomJudge as CustomJudgeEvaluator,
)
from haloscope.platform.db.models import CustomJudge
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

__all__ = [
    "CUSTOM_PREFIX",
    "JudgeNotFound",
    "JudgeSpecError",
    "builtin_templates",
    "judge_evaluator_specs",
    "custom_judge_name",
    "get_judge",
    "judge_as_dict",
    "judge_evaluator",
    "judge_versions",
    "list_judges",
    "resolve_evaluator",
    "save_judge",
    "store_judge_card",
    "stored_judges",
]


class JudgeNotFound(LookupError):
    """The project has no custom judge (or no such version) under that name."""


def custom_judge_name(evaluator: str) -> str | None:
    """The judge name of an evaluator name ``custom:<name>``, else None."""
    return evaluator[len(CUSTOM_PREFIX) :] if evaluator.startswith(CUSTOM_PREFIX) else None


def _latest(session: Session, project_id: str, name: str) -> CustomJudge | None:
    return session.scalars(
        select(CustomJudge)
        .where(CustomJudge.project_id == project_id, CustomJudge.name == name)
        .order_by(CustomJudge.version.desc())
        .limit(1)
    ).first()


def save_judge(
    session: Session, project_id: str, raw: Mapping[str, Any], created_by: str = ""
) -> tuple[CustomJudge, bool]:
    """Validate ``raw`` and store it as the judge's next version; ``(row, created)``. An
    identical spec returns the existing latest version (``created`` False). The caller
    commits. Raises JudgeSpecError with the reason for a spec that cannot run."""
    spec = parse_judge_spec(raw)
    canonical = spec.as_dict()
    latest = _latest(session, project_id, spec.name)
    if latest is not None and latest.spec == canonical:
        return latest, False
    row = CustomJudge(
        project_id=project_id,
        name=spec.name,
        version=(latest.version + 1) if latest is not None else 1,
        spec=canonical,
        created_by=created_by[:200],
    )
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:  # a concurrent save took the version number
        raise JudgeSpecError(f"judge {spec.name!r} changed meanwhile; save it again") from exc
    return row, True


def list_judges(session: Session, project_id: str) -> list[CustomJudge]:
    """The latest version of each of the project's judges, by name."""
    newest = (
        select(CustomJudge.name, func.max(CustomJudge.version).label("version"))
        .where(CustomJudge.project_id == project_id)
        .group_by(CustomJudge.name)
        .subquery()
    )
    return list(
        session.scalars(
            select(CustomJudge)
            .join(
                newest,
                (CustomJudge.name == newest.c.name) & (CustomJudge.version == newest.c.version),
            )
            .where(CustomJudge.project_id == project_id)
            .order_by(CustomJudge.name)
        )
    )


def judge_versions(session: Session, project_id: str, name: str) -> list[CustomJudge]:
    """Every version of one judge, oldest first (JudgeNotFound when there is none)."""
    rows = list(
        session.scalars(
            select(CustomJudge)
            .where(CustomJudge.project_id == project_id, CustomJudge.name == name)
            .order_by(CustomJudge.version)
        )
    )
    if not rows:
        raise JudgeNotFound(f"no custom judge {name!r} in this project")
    return rows


def get_judge(
    session: Session, project_id: str, name: str, version: int | str | None = None
) -> CustomJudge:
    """One version of a judge (default: the latest); JudgeNotFound when absent."""
    if version in (None, ""):
        row = _latest(session, project_id, name)
    else:
        try:
            number = int(str(version))
        except ValueError as exc:
            raise JudgeNotFound(f"custom judge version must be a number, got {version!r}") from exc
        row = session.scalars(
            select(CustomJudge).where(
                CustomJudge.project_id == project_id,
                CustomJudge.name == name,
                CustomJudge.version == number,
            )
        ).first()
    if row is None:
        suffix = f" version {version}" if version not in (None, "") else ""
        raise JudgeNotFound(f"no custom judge {name!r}{suffix} in this project")
    return row


def judge_as_dict(row: CustomJudge) -> dict[str, Any]:
    """The API view of a judge version."""
    return {
        "name": row.name,
        "evaluator": CUSTOM_PREFIX + row.name,
        "version": row.version,
        "spec": dict(row.spec),
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
        "quality": dict(row.quality) if row.quality else None,
    }


def store_judge_card(row: CustomJudge, card: Mapping[str, Any]) -> dict[str, Any]:
    """Attach a measured quality card (``QualityCard.as_dict()`` of this judge version) to
    the version: its slices replace the stored slices of the same name, others are kept. The
    spec stays as it was. Returns the stored card; the caller commits."""
    if card.get("name") != CUSTOM_PREFIX + row.name or str(card.get("version")) != str(row.version):
        raise JudgeSpecError(
            f"the card is for {card.get('name')}@{card.get('version')}, not "
            f"{CUSTOM_PREFIX}{row.name}@{row.version}"
        )
    slices = {**((row.quality or {}).get("slices") or {}), **card["slices"]}
    row.quality = {**card, "slices": slices}
    return row.quality


def judge_evaluator_specs(session: Session, project_id: str) -> list[EvaluatorSpec]:
    """Every version of the project's judges described as registry entries (for pickers)."""
    rows = session.scalars(
        select(CustomJudge)
        .where(CustomJudge.project_id == project_id)
        .order_by(CustomJudge.name, CustomJudge.version)
    )
    specs = []
    for row in rows:
        negative, positive = row.spec["labels"]
        specs.append(
            EvaluatorSpec(
                CUSTOM_PREFIX + row.name, str(row.version), row.spec["description"], (), {},
                binary_labels=(negative, positive),
            )
        )  # fmt: skip
    return specs


def judge_evaluator(
    row_or_spec: CustomJudge | Mapping[str, Any],
    version: int | str | None = None,
    resources: Resources | None = None,
) -> CustomJudgeEvaluator:
    """The evaluator of a stored judge version (or of a stored spec dict and its version)."""
    if isinstance(row_or_spec, CustomJudge):
        return CustomJudgeEvaluator(row_or_spec.spec, row_or_spec.version, None, resources)
    return CustomJudgeEvaluator(row_or_spec, version or 0, None, resources)


def resolve_evaluator(
    session: Session,
    project_id: str,
    name: str,
    version: str | None = None,
    config: Mapping[str, Any] | None = None,
    resources: Resources | None = None,
) -> Evaluator:
    """A registered evaluator, or the project's custom judge for ``custom:<name>`` (version:
    the judge version, default the latest; custom judges take no config)."""
    judge = custom_judge_name(name)
    if judge is None:
        return create_evaluator(name, version, config, resources)
    if config:
        raise JudgeSpecError(f"{name}: custom judges take no config (got {sorted(config)})")
    return judge_evaluator(get_judge(session, project_id, judge, version), resources=resources)


def stored_judges(
    sessions: sessionmaker[Session], project_id: str
) -> Callable[[str, str | None], tuple[dict[str, Any], int]]:
    """A resolver for eval runs: (judge name, version or None) -> (stored spec, version)."""
    from haloscope.platform.evals.errors import EvalUsageError

    def resolve(name: str, version: str | None) -> tuple[dict[str, Any], int]:
        with sessions() as session:
            try:
                row = get_judge(session, project_id, name, version)
            except JudgeNotFound as exc:
                raise EvalUsageError(str(exc)) from exc
            return dict(row.spec), row.version

    return resolve


MAX_PREVIEW_TRACES = 5
_PREVIEW_SPANS_SQL = """
    SELECT trace_id, span_id, parent_span_id, kind, start_time, input, output, documents, metadata
    FROM spans FINAL
    WHERE project_id = {project_id:String} AND trace_id IN {trace_ids:Array(String)}
    ORDER BY trace_id, start_time, span_id
"""


def preview_judge(
    store: Any,
    project_id: str,
    raw: Mapping[str, Any],
    trace_ids: list[str],
    resources: Resources | None = None,
) -> list[dict[str, Any]]:
    """Run an unsaved judge spec on a few of the project's traces: per trace, the span a
    sampling rule would judge (its last LLM span with an output, else its root span) read as
    a sampling run reads it, and the judge's score, label and reason (or the error).
    JudgeSpecError for a spec that cannot run or too many traces."""
    from haloscope.platform.jobs.span_inputs import eval_input

    spec = parse_judge_spec(raw)
    trace_ids = list(dict.fromkeys(t.strip() for t in trace_ids if t.strip()))
    if not trace_ids:
        raise JudgeSpecError("give at least one trace id to preview on")
    if len(trace_ids) > MAX_PREVIEW_TRACES:
        raise JudgeSpecError(f"preview on at most {MAX_PREVIEW_TRACES} traces")
    rows = store.driver.query(
        _PREVIEW_SPANS_SQL, {"project_id": project_id, "trace_ids": trace_ids}
    )
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_trace.setdefault(row["trace_id"], []).append(row)
    chosen: list[tuple[str, dict[str, Any] | None, list[str]]] = []
    for trace_id in trace_ids:
        spans = by_trace.get(trace_id, [])
        llm = [s for s in spans if s["kind"] == "llm" and s["output"]]
        roots = [s for s in spans if not s["parent_span_id"]]
        span = llm[-1] if llm else (roots[0] if roots else None)
        documents = [s["documents"] for s in spans if s["kind"] == "retrieval" and s["documents"]]
        chosen.append((trace_id, span, documents))
    evaluator = judge_evaluator(spec.as_dict(), 0, resources)
    present = [(t, s, d) for t, s, d in chosen if s is not None]
    results = iter(evaluator.evaluate([eval_input(s, d) for _, s, d in present]))
    previews = []
    for trace_id, span, _ in chosen:
        if span is None:
            previews.append({"trace_id": trace_id, "span_id": None, "error": "no such trace"})
            continue
        result = next(results)
        previews.append(
            {
                "trace_id": trace_id,
                "span_id": span["span_id"],
                "score": result.score,
                "label": result.label,
                "reason": result.reason,
                "error": result.error,
            }
        )
    return previews
