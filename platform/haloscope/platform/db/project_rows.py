"""Lookups shared by the project-scoped, named configuration rows (sampling and alert rules)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

Row = TypeVar("Row")


def list_named(session: Session, model: type[Row], project_id: str) -> list[Row]:
    """The project's rows of ``model``, ordered by name."""
    cls: Any = model
    query = select(cls).where(cls.project_id == project_id).order_by(cls.name)
    return list(session.scalars(query))


def find_named(session: Session, model: type[Row], project_id: str, id_or_name: str) -> Row | None:
    """The project's row of ``model`` whose id or name is ``id_or_name``, or None."""
    cls: Any = model
    query = select(cls).where(
        cls.project_id == project_id, (cls.id == id_or_name) | (cls.name == id_or_name)
    )
    return session.scalars(query).first()
