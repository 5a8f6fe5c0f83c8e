"""Password hashing with scrypt (memory-hard), encoded as ``scrypt$n$r$p$salt$hash``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from haloscope.platform.auth.errors import ValidationError

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
# Bounds on parameters read back from a stored hash, so a corrupt row cannot exhaust memory.
_MAX_N = 2**20
_MAX_MEMORY = 256 * 1024 * 1024


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=_MAX_MEMORY
    )


def check_password_policy(password: str) -> None:
    """Raise ``ValidationError`` when ``password`` is too short or too long."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"password too short: use at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(f"password too long: use at most {MAX_PASSWORD_LENGTH} characters")


def hash_password(password: str) -> str:
    """Hash ``password`` with a fresh random salt; the result embeds the scrypt parameters."""
    check_password_policy(password)
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, HASH_BYTES)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches ``encoded``; a malformed ``encoded`` never matches."""
    try:
        algorithm, n_text, r_text, p_text, salt_text, digest_text = encoded.split("$")
        n, r, p = int(n_text), int(r_text), int(p_text)
        salt, expected = _unb64(salt_text), _unb64(digest_text)
    except ValueError:
        return False
    if algorithm != "scrypt" or not (1 < n <= _MAX_N) or r < 1 or p < 1 or not expected:
        return False
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        actual = _scrypt(password, salt, n, r, p, len(expected))
    except ValueError:  # parameters hashlib rejects (n not a power of two, too much memory)
        return False
    return hmac.compare_digest(actual, expected)
