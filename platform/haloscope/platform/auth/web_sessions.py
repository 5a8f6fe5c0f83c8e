"""Dashboard sign-in sessions: an opaque cookie token (stored hashed) plus a CSRF token."""

from __future__ import annotations

from datetime import timedelta

from haloscope.platform.auth.errors import NotFoundError, ValidationError
from haloscope.platform.auth.hashing import random_token, sha256_hex
from haloscope.platform.db.models import User, WebSession, utcnow
from sqlalchemy import delete, select
from sqlalchemy.orm import Session


def create_web_session(session: Session, user_id: str, ttl: timedelta) -> tuple[str, str]:
    """Open a session for the user; returns ``(token, csrf_token)``. Only the token's hash is kept."""
    if ttl <= timedelta(0):
        raise ValidationError(f"session lifetime must be positive, got {ttl}")
    if session.get(User, user_id) is None:
        raise NotFoundError(f"user {user_id!r} does not exist")
    token, csrf_token = random_token(32), random_token(32)
    now = utcnow()
    session.add(
        WebSession(
            user_id=user_id,
            token_hash=sha256_hex(token),
            csrf_token=csrf_token,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    session.flush()
    return token, csrf_token


def resolve_web_session(session: Session, token: str) -> WebSession | None:
    """The live session of ``token`` (not expired, user active), or None."""
    return session.scalar(
        select(WebSession)
        .join(User, User.id == WebSession.user_id)
        .where(
            WebSession.token_hash == sha256_hex(token),
            WebSession.expires_at > utcnow(),
            User.is_active.is_(True),
        )
    )


def delete_web_session(session: Session, token: str) -> bool:
    """Sign out: delete the session of ``token``; False if there was none."""
    result = session.execute(delete(WebSession).where(WebSession.token_hash == sha256_hex(token)))
    return result.rowcount > 0


def delete_expired_web_sessions(session: Session) -> int:
    """Remove sessions past their expiry; returns how many were removed."""
    result = session.execute(delete(WebSession).where(WebSession.expires_at <= utcnow()))
    return result.rowcount
