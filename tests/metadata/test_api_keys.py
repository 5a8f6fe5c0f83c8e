"""Projects and API keys on SQLite and PostgreSQL: creation, secrecy, verification, revocation."""

from __future__ import annotations

import hashlib

import pytest
from haloscope.platform.auth.api_keys import (
    ApiKeyVerifier,
    ConflictError,
    create_api_key,
    create_project,
    get_project_by_name,
    list_api_keys,
    revoke_api_key,
)
from haloscope.platform.auth.errors import NotFoundError, ValidationError
from haloscope.platform.db.models import ApiKey
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker


def test_create_project_and_duplicate_conflict(db_session: Session) -> None:
    project = create_project(db_session, "My App.v2 prod_1")
    db_session.commit()
    assert len(project.id) == 32
    assert get_project_by_name(db_session, "My App.v2 prod_1").id == project.id
    assert get_project_by_name(db_session, "unknown") is None
    with pytest.raises(ConflictError, match="'My App.v2 prod_1' already exists"):
        create_project(db_session, "My App.v2 prod_1")


@pytest.mark.parametrize("name", ["", "x" * 101, "bad/name", "semi;colon", " padded", "tab\tname"])
def test_invalid_project_names_are_refused(db_session: Session, name: str) -> None:
    with pytest.raises(ValidationError, match="invalid project name"):
        create_project(db_session, name)


def test_secret_is_stored_only_as_a_hash(db_session: Session) -> None:
    project = create_project(db_session, "secrets")
    issued = create_api_key(db_session, project.id, note="ci")
    db_session.commit()
    assert issued.public_key.startswith("pk-hs-") and len(issued.public_key) == 30
    assert issued.secret_key.startswith("sk-hs-") and len(issued.secret_key) == 49
    row = db_session.execute(select(ApiKey.__table__).where(ApiKey.id == issued.id)).one()
    stored = [str(value) for value in row]
    assert not any(issued.secret_key in value for value in stored)
    assert not any(issued.secret_key[6:] in value for value in stored)
    assert row.secret_hash == hashlib.sha256(issued.secret_key.encode()).hexdigest()
    assert row.secret_hint == issued.secret_key[-4:]
    assert row.note == "ci"


def test_key_for_missing_project_is_refused(db_session: Session) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        create_api_key(db_session, "0" * 32)


def test_verify_good_wrong_and_revoked(sessionmaker: sessionmaker[Session]) -> None:
    with sessionmaker.begin() as session:
        project_id = create_project(session, "verify").id
        good = create_api_key(session, project_id)
        other = create_api_key(session, project_id)
    verifier = ApiKeyVerifier(sessionmaker, ttl_s=60.0)
    assert verifier.verify(good.public_key, good.secret_key) == project_id
    assert verifier.verify(good.public_key, other.secret_key) is None
    last = "B" if good.secret_key.endswith("A") else "A"
    assert verifier.verify(good.public_key, good.secret_key[:-1] + last) is None
    assert verifier.verify("pk-hs-" + "x" * 24, good.secret_key) is None
    assert verifier.verify("garbage", "garbage") is None
    with sessionmaker.begin() as session:
        assert revoke_api_key(session, project_id, good.id) is True
    assert verifier.verify(good.public_key, good.secret_key) is None
    assert verifier.verify(other.public_key, other.secret_key) == project_id


def test_key_of_another_project_cannot_be_revoked(sessionmaker: sessionmaker[Session]) -> None:
    with sessionmaker.begin() as session:
        mine = create_project(session, "mine").id
        theirs = create_project(session, "theirs").id
        their_key = create_api_key(session, theirs)
    with sessionmaker.begin() as session:
        assert revoke_api_key(session, mine, their_key.id) is False
    verifier = ApiKeyVerifier(sessionmaker, ttl_s=0.0)
    assert verifier.verify(their_key.public_key, their_key.secret_key) == theirs
    with sessionmaker.begin() as session:
        assert revoke_api_key(session, theirs, their_key.id) is True
        assert revoke_api_key(session, theirs, their_key.id) is False  # already revoked


def test_list_api_keys(db_session: Session) -> None:
    project_id = create_project(db_session, "listing").id
    other_id = create_project(db_session, "other").id
    first = create_api_key(db_session, project_id, note="first")
    second = create_api_key(db_session, project_id, note="second")
    create_api_key(db_session, other_id)
    revoke_api_key(db_session, project_id, first.id)
    db_session.commit()
    assert [k.id for k in list_api_keys(db_session, project_id)] == [second.id]
    listed = list_api_keys(db_session, project_id, include_revoked=True)
    assert {k.id: k.revoked_at is not None for k in listed} == {first.id: True, second.id: False}
