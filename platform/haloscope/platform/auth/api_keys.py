"""Projects and their API keys: creation, listing, revocation, and verification on ingest.

A key pair is a public key ``pk-hs-…`` (stored as is, it names the key) and a secret key
``sk-hs-…`` shown once at creation; only the secret's SHA-256 is stored (see ``ApiKey``).
"""

from __future__ import annotations

import hmac
import logging
import re
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from haloscope.platform.auth.errors import ConflictError, NotFoundError, ValidationError
from haloscope.platform.auth.hashing import random_token, sha256_hex
from haloscope.platform.db.models import ApiKey, Project, utcnow
from sqlalchemy import event, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

__all__ = [
    "ApiKeyVerifier",
    "ConflictError",
    "IssuedKey",
    "create_api_key",
    "create_project",
    "get_project_by_name",
    "list_api_keys",
    "revoke_api_key",
]

logger = logging.getLogger(__name__)

PUBLIC_KEY_PREFIX = "pk-hs-"
SECRET_KEY_PREFIX = "sk-hs-"
PUBLIC_KEY_LENGTH = len(PUBLIC_KEY_PREFIX) + 24  # 18 random bytes
SECRET_KEY_LENGTH = len(SECRET_KEY_PREFIX) + 43  # 32 random bytes
MAX_NOTE_LENGTH = 200
LAST_USED_RESOLUTION_S = 60.0
_PROJECT_NAME = re.compile(r"[A-Za-z0-9_\-. ]{1,100}")


@dataclass(frozen=True)
class IssuedKey:
    """A newly created key pair. ``secret_key`` exists only here: it is never stored."""

    id: str
    project_id: str
    public_key: str
    secret_key: str


def validate_project_name(name: str) -> None:
    """Raise ``ValidationError`` unless ``name`` is 1-100 letters, digits, ``-_.`` or spaces."""
    if not _PROJECT_NAME.fullmatch(name):
        raise ValidationError(
            f"invalid project name {name!r}: use 1-100 letters, digits, '-', '_', '.' or spaces"
        )
    if name != name.strip():
        raise ValidationError(f"invalid project name {name!r}: no leading or trailing spaces")


def get_project_by_name(session: Session, name: str) -> Project | None:
    """The project called ``name``, or None."""
    return session.scalar(select(Project).where(Project.name == name))


def create_project(session: Session, name: str) -> Project:
    """Create the project ``name``; raises ``ConflictError`` if it exists.

    The row is flushed, not committed: the caller owns the transaction.
    """
    validate_project_name(name)
    if get_project_by_name(session, name) is not None:
        raise ConflictError(f"project {name!r} already exists")
    project = Project(name=name)
    session.add(project)
    try:
        session.flush()
    except IntegrityError as exc:  # created concurrently since the check above
        raise ConflictError(f"project {name!r} already exists") from exc
    return project


def create_api_key(session: Session, project_id: str, note: str = "") -> IssuedKey:
    """Issue a key pair for the project; the secret is returned once and stored hashed."""
    if len(note) > MAX_NOTE_LENGTH:
        raise ValidationError(f"key note too long: at most {MAX_NOTE_LENGTH} characters")
    if session.get(Project, project_id) is None:
        raise NotFoundError(f"project {project_id!r} does not exist")
    public_key = PUBLIC_KEY_PREFIX + random_token(18)
    secret_key = SECRET_KEY_PREFIX + random_token(32)
    key = ApiKey(
        project_id=project_id,
        public_key=public_key,
        secret_hash=sha256_hex(secret_key),
        secret_hint=secret_key[-4:],
        note=note,
    )
    session.add(key)
    session.flush()
    return IssuedKey(id=key.id, project_id=project_id, public_key=public_key, secret_key=secret_key)


def list_api_keys(session: Session, project_id: str, include_revoked: bool = False) -> list[ApiKey]:
    """The project's keys, oldest first; revoked ones only when ``include_revoked``."""
    query = select(ApiKey).where(ApiKey.project_id == project_id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return list(session.scalars(query.order_by(ApiKey.created_at, ApiKey.id)))


def revoke_api_key(session: Session, project_id: str, key_id: str) -> bool:
    """Revoke a live key of this project; False if there is none (or it is another project's).

    Once the caller commits, every ``ApiKeyVerifier`` of this process forgets the key at once;
    verifiers in other processes stop accepting it within their TTL.
    """
    key = session.scalar(
        select(ApiKey).where(
            ApiKey.id == key_id, ApiKey.project_id == project_id, ApiKey.revoked_at.is_(None)
        )
    )
    if key is None:
        return False
    key.revoked_at = utcnow()
    session.flush()
    public_key = key.public_key

    def invalidate_everywhere(_session: Session) -> None:
        for verifier in list(_LIVE_VERIFIERS):
            verifier.invalidate(public_key)

    event.listen(session, "after_commit", invalidate_everywhere, once=True)
    return True


@dataclass(frozen=True)
class _CachedKey:
    secret_digest: str
    project_id: str
    key_id: str
    expires_at: float


_LIVE_VERIFIERS: weakref.WeakSet[ApiKeyVerifier] = weakref.WeakSet()


class ApiKeyVerifier:
    """Checks key pairs on the ingest hot path, with an in-process cache.

    A verified pair is trusted for ``ttl_s`` seconds without a DB read (entries are keyed by
    public key and hold the SHA-256 of the secret, compared in constant time). Revocations
    committed through ``revoke_api_key`` in this process take effect immediately; elsewhere
    within ``ttl_s``. ``last_used_at`` is written at most once a minute per key and process.
    Safe to share between threads.
    """

    def __init__(
        self,
        sessionmaker: sessionmaker[Session],
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, _CachedKey] = {}
        # Bumped by invalidate(): a DB read that started before it must not refill the cache.
        self._generation = 0
        self._last_touched: dict[str, float] = {}
        _LIVE_VERIFIERS.add(self)

    def verify(self, public_key: str, secret_key: str) -> str | None:
        """The project id the key pair belongs to, or None if it is unknown, wrong or revoked."""
        if not (
            public_key.startswith(PUBLIC_KEY_PREFIX)
            and secret_key.startswith(SECRET_KEY_PREFIX)
            and len(public_key) == PUBLIC_KEY_LENGTH
            and len(secret_key) == SECRET_KEY_LENGTH
        ):
            return None
        digest = sha256_hex(secret_key)
        now = self._clock()
        with self._lock:
            cached = self._cache.get(public_key)
        if cached is None or cached.expires_at <= now:
            cached = self._load(public_key, now)
        if cached is None or not hmac.compare_digest(cached.secret_digest, digest):
            return None
        self._touch(cached.key_id, now)
        return cached.project_id

    def invalidate(self, public_key: str | None = None) -> None:
        """Forget one public key (or, with None, every key) so the next check reads the DB."""
        with self._lock:
            self._generation += 1
            if public_key is None:
                self._cache.clear()
            else:
                self._cache.pop(public_key, None)

    def _load(self, public_key: str, now: float) -> _CachedKey | None:
        with self._lock:
            generation = self._generation
        with self._sessionmaker() as session:
            key = session.scalar(select(ApiKey).where(ApiKey.public_key == public_key))
        if key is None or key.revoked_at is not None:
            return None
        cached = _CachedKey(key.secret_hash, key.project_id, key.id, now + self._ttl_s)
        with self._lock:
            if generation == self._generation:
                self._cache[public_key] = cached
        return cached

    def _touch(self, key_id: str, now: float) -> None:
        with self._lock:
            last = self._last_touched.get(key_id)
            if last is not None and now - last < LAST_USED_RESOLUTION_S:
                return
            self._last_touched[key_id] = now
        try:
            with self._sessionmaker.begin() as session:
                session.execute(
                    update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=utcnow())
                )
        except SQLAlchemyError:
            # Bookkeeping only: a busy database must not fail the request it authenticates.
            logger.warning("could not record last use of API key %s", key_id, exc_info=True)
