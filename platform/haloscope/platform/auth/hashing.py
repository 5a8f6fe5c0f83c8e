"""Fast hashing and random tokens for high-entropy secrets (API secrets, session tokens)."""

import hashlib
import secrets


def sha256_hex(value: str) -> str:
    """The SHA-256 of ``value`` (UTF-8) as 64 lowercase hex characters."""
    return hashlib.sha256(value.encode()).hexdigest()


def random_token(n_bytes: int = 32) -> str:
    """A URL-safe random token carrying ``n_bytes`` bytes of entropy."""
    return secrets.token_urlsafe(n_bytes)
