"""PII detection by pattern: e-mail addresses, phone numbers, payment card numbers (Luhn)."""

from __future__ import annotations

import re
from dataclasses import dataclass

PII_KINDS = ("email", "phone", "card")

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){1,4}(?!\w)"
)


@dataclass(frozen=True)
class PiiMatch:
    """One detected PII span."""

    kind: str
    text: str
    start: int
    end: int


def luhn_valid(number: str) -> bool:
    """True when the digits of ``number`` (separators ignored) pass the Luhn checksum."""
    digits = [int(c) for c in number if c.isdigit()]
    if len(digits) < 2:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _is_phone(text: str) -> bool:
    """Phone-shaped digits: 10-15 digits, or 7-15 with an explicit ``+`` country code.

    Requiring 10 digits without a country code keeps dates (2024-01-15), years and short
    numeric identifiers out.
    """
    n = sum(c.isdigit() for c in text)
    return 7 <= n <= 15 if text.startswith("+") else 10 <= n <= 15


def find_pii(text: str, kinds: tuple[str, ...] = PII_KINDS) -> list[PiiMatch]:
    """All PII spans of the requested ``kinds`` in ``text``, in order of position.

    Card numbers must pass Luhn; a span taken by a card or an e-mail is not re-reported as a
    phone number.
    """
    matches: list[PiiMatch] = []
    if "email" in kinds:
        matches += [PiiMatch("email", m.group(), m.start(), m.end()) for m in _EMAIL.finditer(text)]
    if "card" in kinds:
        matches += [
            PiiMatch("card", m.group(), m.start(), m.end())
            for m in _CARD.finditer(text)
            if luhn_valid(m.group())
        ]
    if "phone" in kinds:
        taken = [(m.start, m.end) for m in matches]
        matches += [
            PiiMatch("phone", m.group(), m.start(), m.end())
            for m in _PHONE.finditer(text)
            if _is_phone(m.group()) and not any(s < m.end() and m.start() < e for s, e in taken)
        ]
    return sorted(matches, key=lambda m: m.start)
