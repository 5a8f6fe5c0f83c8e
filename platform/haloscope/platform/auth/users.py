"""Dashboard users: sign-up, sign-in and project membership."""

from __future__ import annotations

import functools
from typing import NamedTuple

from haloscope.platform.auth.errors import ConflictError, NotFoundError, ValidationError
from haloscope.platform.auth.passwords import hash_password, verify_password
from haloscope.platform.db.models import Membership, Project, Role, User
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

MAX_EMAIL_LENGTH = 320
MAX_DISPLAY_NAME_LENGTH = 200


class ProjectAccess(NamedTuple):
    """A project a user belongs to, with the user's role in it."""

    project: Project
    role: Role


def normalize_email(email: str) -> str:
    """The canonical (trimmed, lowercase) form of ``email``; raises ``ValidationError``."""
    normalized = email.strip().lower()
    local, at, domain = normalized.partition("@")
    if (
        not at
        or not local
        or "." not in domain.strip(".")
        or "@" in domain
        or any(c.isspace() for c in normalized)
        or len(normalized) > MAX_EMAIL_LENGTH
    ):
        raise ValidationError(f"invalid email address {email!r}")
    return normalized


def create_user(session: Session, email: str, password: str, display_name: str = "") -> User:
    """Create an active user; raises ``ConflictError`` when the email is taken."""
    normalized = normalize_email(email)
    if len(display_name) > MAX_DISPLAY_NAME_LENGTH:
        raise ValidationError(
            f"display name too long: at most {MAX_DISPLAY_NAME_LENGTH} characters"
        )
    if session.scalar(select(User.id).where(User.email == normalized)) is not None:
        raise ConflictError(f"a user with email {normalized!r} already exists")
    user = User(email=normalized, password_hash=hash_password(password), display_name=display_name)
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:  # registered concurrently since the check above
        raise ConflictError(f"a user with email {normalized!r} already exists") from exc
    return user


@functools.cache
def _decoy_hash() -> str:
    return hash_password("decoy password never matched")


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this email and password, or None.

    An unknown or malformed email costs one scrypt evaluation like a wrong password does, so
    response time does not reveal which emails are registered.
    """
    try:
        normalized = normalize_email(email)
    except ValidationError:
        normalized = None
    user = session.scalar(select(User).where(User.email == normalized)) if normalized else None
    if user is None:
        verify_password(password, _decoy_hash())
        return None
    if not verify_password(password, user.password_hash) or not user.is_active:
        return None
    return user


def add_member(session: Session, user_id: str, project_id: str, role: Role | str) -> Membership:
    """Give the user a role in the project; raises ``ConflictError`` if already a member."""
    try:
        role = Role(role)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise ValidationError(f"invalid role {role!r}: use one of {allowed}") from None
    if session.get(User, user_id) is None:
        raise NotFoundError(f"user {user_id!r} does not exist")
    if session.get(Project, project_id) is None:
        raise NotFoundError(f"project {project_id!r} does not exist")
    if session.get(Membership, (user_id, project_id)) is not None:
        raise ConflictError(f"user {user_id!r} is already a member of project {project_id!r}")
    membership = Membership(user_id=user_id, project_id=project_id, role=role.value)
    session.add(membership)
    session.flush()
    return membership


def projects_for_user(session: Session, user_id: str) -> list[ProjectAccess]:
    """The projects the user belongs to, by name, each with the user's role."""
    rows = session.execute(
        select(Project, Membership.role)
        .join(Membership, Membership.project_id == Project.id)
        .where(Membership.user_id == user_id)
        .order_by(Project.name)
    )
    return [ProjectAccess(project, Role(role)) for project, role in rows]
