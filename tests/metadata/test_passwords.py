"""scrypt password hashing."""

from __future__ import annotations

import hashlib
from base64 import urlsafe_b64decode

import pytest
from haloscope.platform.auth.errors import ValidationError
from haloscope.platform.auth.passwords import hash_password, verify_password


def _unb64(text: str) -> bytes:
    return urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_hash_format_and_independent_recomputation() -> None:
    encoded = hash_password("correct horse battery")
    algorithm, n, r, p, salt, digest = encoded.split("$")
    assert (algorithm, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(_unb64(salt)) == 16
    expected = hashlib.scrypt(
        b"correct horse battery", salt=_unb64(salt), n=16384, r=8, p=1, dklen=32
    )
    assert _unb64(digest) == expected


def test_verify_right_and_wrong_password() -> None:
    encoded = hash_password("s3cret-enough")
    assert verify_password("s3cret-enough", encoded)
    assert not verify_password("s3cret-enougH", encoded)
    assert not verify_password("", encoded)


def test_same_password_gets_different_salts() -> None:
    assert hash_password("password123") != hash_password("password123")


@pytest.mark.parametrize("password", ["", "short", "7chars!"])
def test_short_passwords_are_refused(password: str) -> None:
    with pytest.raises(ValidationError, match="at least 8 characters"):
        hash_password(password)


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "plain-text-password",
        "bcrypt$16384$8$1$c2FsdA$ZGlnZXN0",
        "scrypt$abc$8$1$c2FsdA$ZGlnZXN0",
        "scrypt$1000$8$1$c2FsdA$ZGlnZXN0",  # n not a power of two
        "scrypt$1073741824$8$1$c2FsdA$ZGlnZXN0",  # absurd memory cost
        "scrypt$16384$8$1$c2FsdA$",
    ],
)
def test_malformed_stored_hashes_never_match(encoded: str) -> None:
    assert verify_password("whatever-password", encoded) is False
