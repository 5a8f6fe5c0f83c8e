"""Dashboard sessions on SQLite and PostgreSQL: hashed tokens, expiry, sign-out."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from haloscope.platform.auth.errors import ValidationError
from haloscope.platform.auth.users import create_user
from haloscope.platform.auth.web_sessions import (
    create_web_session,
    delete_expired_web_sessions,
    delete_web_session,
    resolve_web_session,
)
from haloscope.platform.db.models import User, WebSession, utcnow
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session


@pytest.fixture
def user(db_session: Session) -> User:
    user = create_user(db_session, "ada@example.com", "analytical-engine")
    db_session.commit()
    return user


def _expire(db_session: Session, token: str) -> None:
    db_session.execute(
        update(WebSession)
        .where(WebSession.token_hash == hashlib.sha256(token.encode()).hexdigest())
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db_session.commit()


def test_create_and_resolve_stores_only_the_token_hash(db_session: Session, user: User) -> None:
    token, csrf = create_web_session(db_session, user.id, timedelta(hours=12))
    db_session.commit()
    assert token != csrf and len(token) >= 43
    row = db_session.execute(select(WebSession.__table__)).one()
    assert token not in [str(value) for value in row]
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    resolved = resolve_web_session(db_session, token)
    assert resolved is not None
    assert (resolved.user_id, resolved.csrf_token) == (user.id, csrf)
    assert timedelta(hours=11, minutes=59) < resolved.expires_at - utcnow() <= timedelta(hours=12)
    assert resolve_web_session(db_session, token + "x") is None


def test_expired_sessions_do_not_resolve_and_are_purged(db_session: Session, user: User) -> None:
    old, _ = create_web_session(db_session, user.id, timedelta(minutes=5))
    live, _ = create_web_session(db_session, user.id, timedelta(minutes=5))
    db_session.commit()
    _expire(db_session, old)
    assert resolve_web_session(db_session, old) is None
    assert resolve_web_session(db_session, live) is not None
    assert delete_expired_web_sessions(db_session) == 1
    db_session.commit()
    assert db_session.scalar(select(func.count()).select_from(WebSession)) == 1


def test_sign_out_and_inactive_users(db_session: Session, user: User) -> None:
    first, _ = create_web_session(db_session, user.id, timedelta(hours=1))
    second, _ = create_web_session(db_session, user.id, timedelta(hours=1))
    db_session.commit()
    assert delete_web_session(db_session, first) is True
    assert delete_web_session(db_session, first) is False
    db_session.commit()
    assert resolve_web_session(db_session, first) is None
    user.is_active = False
    db_session.commit()
    assert resolve_web_session(db_session, second) is None


def test_non_positive_lifetime_is_refused(db_session: Session, user: User) -> None:
    with pytest.raises(ValidationError, match="must be positive"):
        create_web_session(db_session, user.id, timedelta(0))
