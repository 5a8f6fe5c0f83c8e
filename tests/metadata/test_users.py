"""Users, sign-in and memberships on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
from haloscope.platform.auth.api_keys import create_project
from haloscope.platform.auth.errors import ConflictError, NotFoundError, ValidationError
from haloscope.platform.auth.users import (
    add_member,
    authenticate,
    create_user,
    projects_for_user,
)
from haloscope.platform.db.models import Role, User
from sqlalchemy import select
from sqlalchemy.orm import Session


def test_create_user_normalizes_email_and_hashes_password(db_session: Session) -> None:
    user = create_user(db_session, "  Ada@Example.COM ", "analytical-engine", "Ada")
    db_session.commit()
    stored = db_session.scalar(select(User).where(User.id == user.id))
    assert stored.email == "ada@example.com"
    assert stored.password_hash.startswith("scrypt$")
    assert "analytical-engine" not in stored.password_hash
    assert stored.is_active


def test_duplicate_email_conflicts_case_insensitively(db_session: Session) -> None:
    create_user(db_session, "ada@example.com", "analytical-engine")
    with pytest.raises(ConflictError, match="ada@example.com"):
        create_user(db_session, "ADA@example.com", "another-password")


@pytest.mark.parametrize("email", ["", "no-at-sign", "@example.com", "a@b", "a b@example.com"])
def test_invalid_emails_are_refused(db_session: Session, email: str) -> None:
    with pytest.raises(ValidationError, match="invalid email"):
        create_user(db_session, email, "long-enough-password")


def test_short_password_is_refused(db_session: Session) -> None:
    with pytest.raises(ValidationError, match="at least 8 characters"):
        create_user(db_session, "ada@example.com", "short")


def test_authenticate(db_session: Session) -> None:
    user = create_user(db_session, "ada@example.com", "analytical-engine")
    db_session.commit()
    assert authenticate(db_session, "ADA@example.com", "analytical-engine").id == user.id
    assert authenticate(db_session, "ada@example.com", "wrong-password") is None
    assert authenticate(db_session, "nobody@example.com", "analytical-engine") is None
    assert authenticate(db_session, "not an email", "analytical-engine") is None
    user.is_active = False
    db_session.commit()
    assert authenticate(db_session, "ada@example.com", "analytical-engine") is None


def test_unknown_user_costs_a_password_hash(db_session: Session) -> None:
    create_user(db_session, "ada@example.com", "analytical-engine")
    db_session.commit()
    authenticate(db_session, "nobody@example.com", "warm-up-the-decoy")

    def fastest(email: str) -> float:
        timings = []
        for _ in range(3):
            start = time.perf_counter()
            authenticate(db_session, email, "wrong-password")
            timings.append(time.perf_counter() - start)
        return min(timings)

    known, unknown = fastest("ada@example.com"), fastest("nobody@example.com")
    assert unknown > 0.5 * known, (known, unknown)


def test_memberships(db_session: Session) -> None:
    ada = create_user(db_session, "ada@example.com", "analytical-engine")
    alpha = create_project(db_session, "alpha")
    beta = create_project(db_session, "beta")
    create_project(db_session, "gamma")
    add_member(db_session, ada.id, beta.id, "viewer")
    add_member(db_session, ada.id, alpha.id, Role.OWNER)
    db_session.commit()
    access = projects_for_user(db_session, ada.id)
    assert [(a.project.name, a.role) for a in access] == [
        ("alpha", Role.OWNER),
        ("beta", Role.VIEWER),
    ]
    with pytest.raises(ConflictError, match="already a member"):
        add_member(db_session, ada.id, alpha.id, "member")
    with pytest.raises(ValidationError, match="invalid role 'admin'"):
        add_member(db_session, ada.id, alpha.id, "admin")
    with pytest.raises(NotFoundError, match="does not exist"):
        add_member(db_session, ada.id, "0" * 32, "member")
