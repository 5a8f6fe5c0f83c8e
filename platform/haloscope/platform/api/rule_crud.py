"""One CRUD for the project's named rules (sampling rules, alert rules).

Create and rename answer 409 on a taken name and 400 with the reason on an invalid rule; a rule is read,
changed and deleted by id or name; one the project lacks answers 404
``{"error": "<label> '<id or name>' not found"}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import Response
from haloscope.platform.api.errors import ApiError
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

Rule = TypeVar("Rule")


@dataclass(frozen=True)
class RuleKind(Generic[Rule]):
    """One kind of rule: its ``label`` in messages, the ``error`` its functions raise on an
    invalid rule, those functions, and the fields a change may set to ``null``."""

    label: str
    error: type[Exception]
    find: Callable[[Session, str, str], Rule | None]
    list_all: Callable[[Session, str], list[Rule]]
    create: Callable[[Session, str, dict[str, Any]], Rule]
    update: Callable[[Session, Rule, Mapping[str, Any]], Rule]
    as_dict: Callable[[Rule], dict[str, Any]]
    nullable: tuple[str, ...] = ()


def find_or_404(kind: RuleKind[Rule], session: Session, project_id: str, id_or_name: str) -> Rule:
    """The project's rule with this id or name, else 404."""
    found = kind.find(session, project_id, id_or_name)
    if found is None:
        raise ApiError(404, f"{kind.label} {id_or_name!r} not found")
    return found


def create(
    kind: RuleKind[Rule], sessions: sessionmaker[Session], project_id: str, body: BaseModel
) -> dict[str, Any]:
    """Add the rule ``body`` describes to the project (409 when its name is taken)."""
    fields = body.model_dump()
    with sessions() as session:
        if kind.find(session, project_id, fields["name"]) is not None:
            raise ApiError(409, f"{kind.label} {fields['name']!r} already exists")
        try:
            rule = kind.create(session, project_id, fields)
        except kind.error as exc:
            raise ApiError(400, str(exc)) from exc
        session.commit()
        return kind.as_dict(rule)


def list_all(
    kind: RuleKind[Rule], sessions: sessionmaker[Session], project_id: str
) -> dict[str, Any]:
    """The project's rules by name, as ``{"data": [...]}``."""
    with sessions() as session:
        return {"data": [kind.as_dict(r) for r in kind.list_all(session, project_id)]}


def get(
    kind: RuleKind[Rule], sessions: sessionmaker[Session], project_id: str, id_or_name: str
) -> dict[str, Any]:
    """One rule, by id or name."""
    with sessions() as session:
        return kind.as_dict(find_or_404(kind, session, project_id, id_or_name))


def update(
    kind: RuleKind[Rule],
    sessions: sessionmaker[Session],
    project_id: str,
    id_or_name: str,
    body: BaseModel,
) -> dict[str, Any]:
    """Apply the fields ``body`` sets; an explicit ``null`` only counts for ``kind.nullable``."""
    changes = body.model_dump(exclude_unset=True)
    nulls = sorted(k for k, v in changes.items() if v is None and k not in kind.nullable)
    if nulls:
        raise ApiError(400, f"{nulls} cannot be null")
    with sessions() as session:
        found = find_or_404(kind, session, project_id, id_or_name)
        new_name = changes.get("name")
        if new_name is not None:
            taken = kind.find(session, project_id, new_name)
            if taken is not None and taken is not found:
                raise ApiError(409, f"{kind.label} {new_name!r} already exists")
        try:
            kind.update(session, found, changes)
        except kind.error as exc:
            raise ApiError(400, str(exc)) from exc
        session.commit()
        return kind.as_dict(found)


def delete(
    kind: RuleKind[Rule], sessions: sessionmaker[Session], project_id: str, id_or_name: str
) -> Response:
    """Delete the rule (its runs or events go with it: the foreign keys cascade); 204."""
    with sessions() as session:
        session.delete(find_or_404(kind, session, project_id, id_or_name))
        session.commit()
    return Response(status_code=204)
