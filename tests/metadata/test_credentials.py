"""Reading key pairs from Authorization headers."""

from __future__ import annotations

import base64

import pytest
from haloscope.platform.auth.credentials import CredentialsError, parse_key_pair

PK = "pk-hs-abcdefghijklmnopqrstuvwx"
SK = "sk-hs-" + "s" * 42 + ":"  # only the first colon separates the pair (RFC 7617)
ENCODED = base64.b64encode(f"{PK}:{SK}".encode()).decode()


def _basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "header", [f"Basic {ENCODED}", f"BASIC {ENCODED}", f"Bearer {PK}:{SK}", f"bearer   {PK}:{SK} "]
)
def test_accepted_forms(header: str) -> None:
    assert parse_key_pair(header) == (PK, SK)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing Authorization header"),
        ("", "missing Authorization header"),
        ("   ", "missing Authorization header"),
        ("Basic", "malformed Basic credentials"),
        ("Basic not*base64", "malformed Basic credentials"),
        ("Basic " + base64.b64encode(b"\xff\xfe:x").decode(), "malformed Basic credentials"),
        (_basic(PK), "malformed Basic credentials"),
        (_basic(f":{SK}"), "malformed Basic credentials"),
        (_basic(f"{PK}:"), "malformed Basic credentials"),
        ("Bearer", "malformed Bearer credentials"),
        (f"Bearer {SK[:-1]}", "malformed Bearer credentials"),
        ("Digest username=x", "unsupported Authorization scheme 'Digest'"),
    ],
)
def test_rejected_forms_say_why(header: str | None, reason: str) -> None:
    with pytest.raises(CredentialsError) as excinfo:
        parse_key_pair(header)
    assert excinfo.value.reason.startswith(reason)
