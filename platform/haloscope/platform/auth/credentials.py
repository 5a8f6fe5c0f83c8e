"""Reading a project key pair from an HTTP ``Authorization`` header."""

from __future__ import annotations

import base64
import binascii

from haloscope.platform.auth.errors import CredentialsError

__all__ = ["CredentialsError", "parse_key_pair"]


def _split_pair(text: str, scheme: str) -> tuple[str, str]:
    public_key, sep, secret_key = text.partition(":")
    if not sep or not public_key or not secret_key:
        raise CredentialsError(f"malformed {scheme} credentials: expected 'public_key:secret_key'")
    return public_key, secret_key


def parse_key_pair(authorization_header: str | None) -> tuple[str, str]:
    """Return ``(public_key, secret_key)`` from ``Basic base64(pk:sk)`` or ``Bearer pk:sk``.

    Raises ``CredentialsError`` with the reason when the header is missing or malformed; the
    keys themselves are checked by ``ApiKeyVerifier``.
    """
    if authorization_header is None or not authorization_header.strip():
        raise CredentialsError("missing Authorization header")
    scheme, _, value = authorization_header.strip().partition(" ")
    value = value.strip()
    match scheme.lower():
        case "basic":
            try:
                decoded = base64.b64decode(value, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise CredentialsError(
                    "malformed Basic credentials: not base64 of 'public_key:secret_key'"
                ) from None
            return _split_pair(decoded, "Basic")
        case "bearer":
            return _split_pair(value, "Bearer")
        case _:
            raise CredentialsError(
                f"unsupported Authorization scheme {scheme!r}: use Basic or Bearer"
            )
