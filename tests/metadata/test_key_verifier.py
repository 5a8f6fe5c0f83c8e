"""ApiKeyVerifier caching on SQLite and PostgreSQL: TTL, invalidation, DB reads, last use."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from haloscope.platform.auth.api_keys import (
    ApiKeyVerifier,
    IssuedKey,
    create_api_key,
    create_project,
    revoke_api_key,
)
from haloscope.platform.db.models import ApiKey, utcnow
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session, sessionmaker


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def issued(sessionmaker: sessionmaker[Session]) -> IssuedKey:
    with sessionmaker.begin() as session:
        return create_api_key(session, create_project(session, "cached").id)


@pytest.fixture
def statements(sessionmaker: sessionmaker[Session]) -> Iterator[list[str]]:
    """Every SQL statement the engine runs from now on."""
    seen: list[str] = []
    engine = sessionmaker.kw["bind"]

    def record(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def _revoke_behind_the_cache(sessionmaker: sessionmaker[Session], key_id: str) -> None:
    """Revoke as another process would: straight in the DB, no in-process hook."""
    with sessionmaker.begin() as session:
        session.execute(update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=utcnow()))


def _last_used(sessionmaker: sessionmaker[Session], key_id: str) -> datetime | None:
    with sessionmaker() as session:
        return session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == key_id))


def test_cache_hit_reads_no_database(
    sessionmaker: sessionmaker[Session], issued: IssuedKey, statements: list[str]
) -> None:
    verifier = ApiKeyVerifier(sessionmaker, ttl_s=30.0)
    assert verifier.verify(issued.public_key, issued.secret_key) == issued.project_id
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1
    statements.clear()
    for _ in range(50):
        assert verifier.verify(issued.public_key, issued.secret_key) == issued.project_id
        assert verifier.verify(issued.public_key, "sk-hs-" + "w" * 43) is None
    assert statements == []


def test_revocation_elsewhere_takes_effect_after_ttl(
    sessionmaker: sessionmaker[Session], issued: IssuedKey
) -> None:
    clock = FakeClock()
    verifier = ApiKeyVerifier(sessionmaker, ttl_s=30.0, clock=clock)
    assert verifier.verify(issued.public_key, issued.secret_key) == issued.project_id
    _revoke_behind_the_cache(sessionmaker, issued.id)
    clock.now += 29.0
    assert verifier.verify(issued.public_key, issued.secret_key) == issued.project_id
    clock.now += 1.5
    assert verifier.verify(issued.public_key, issued.secret_key) is None


def test_invalidate_forces_a_fresh_read(
    sessionmaker: sessionmaker[Session], issued: IssuedKey
) -> None:
    verifier = ApiKeyVerifier(sessionmaker, ttl_s=3600.0)
    assert verifier.verify(issued.public_key, issued.secret_key) == issued.project_id
    _revoke_behind_the_cache(sessionmaker, issued.id)
    assert verifier.verify(issued.public_key, issued.secret_key) == issued.project_id
    verifier.invalidate(issued.public_key)
    assert verifier.verify(issued.public_key, issued.secret_key) is None


def test_revoke_invalidates_verifiers_on_commit_only(
    sessionmaker: sessionmaker[Session], issued: IssuedKey
) -> None:
    verifier = ApiKeyVerifier(sessionmaker, ttl_s=3600.0)
    assert verifier.verify(issued.public_key, issued.secret_key) == issued.project_id
    with sessionmaker() as session:
        assert revoke_api_key(session, issued.project_id, issued.id) is True
        session.rollback()
    assert verifier.verify(issued.public_key, issued.secret_key) == issued.project_id
    with sessionmaker() as session:
        assert revoke_api_key(session, issued.project_id, issued.id) is True
        session.commit()
    assert verifier.verify(issued.public_key, issued.secret_key) is None


def test_last_used_is_written_at_most_once_a_minute(
    sessionmaker: sessionmaker[Session], issued: IssuedKey
) -> None:
    clock = FakeClock()
    verifier = ApiKeyVerifier(sessionmaker, ttl_s=0.0, clock=clock)
    assert _last_used(sessionmaker, issued.id) is None
    before = utcnow()
    assert verifier.verify(issued.public_key, issued.secret_key) == issued.project_id
    first = _last_used(sessionmaker, issued.id)
    assert first is not None and first >= before
    clock.now += 59.0
    assert verifier.verify(issued.public_key, issued.secret_key) == issued.project_id
    assert _last_used(sessionmaker, issued.id) == first
    clock.now += 2.0
    assert verifier.verify(issued.public_key, issued.secret_key) == issued.project_id
    assert _last_used(sessionmaker, issued.id) > first


def test_concurrent_verification(sessionmaker: sessionmaker[Session], issued: IssuedKey) -> None:
    verifier = ApiKeyVerifier(sessionmaker, ttl_s=0.05)
    wrong = issued.secret_key[:-1] + ("B" if issued.secret_key[-1] != "B" else "C")

    def check(i: int) -> str | None:
        return verifier.verify(issued.public_key, issued.secret_key if i % 2 else wrong)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(check, range(400)))
    assert results == [issued.project_id if i % 2 else None for i in range(400)]
