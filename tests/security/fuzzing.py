"""What the fuzz tests share: a deterministic Hypothesis profile, JSON strategies and the
contract every answer to hostile input must meet."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Derandomized so CI runs the same examples every time; modest counts keep each test in seconds.
FUZZ = settings(
    derandomize=True,
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Text that stresses parsers and SQL: quotes, backslashes, NUL, emoji, long runs (valid
# Unicode: bodies that are not UTF-8 are fuzzed as raw bytes).
HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["'", '"', "\\", "\x00", "%00", "' OR 1=1 --", "😀", "{x:String}"]),
    st.text(alphabet="'\"\\%_{}()-;", max_size=300),
)

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    HOSTILE_TEXT,
)

JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def json_bytes(value: Any) -> bytes:
    """``value`` as JSON text (the standard library keeps integers beyond 64 bits)."""
    return json.dumps(value, ensure_ascii=False).encode()


def assert_handled(response: httpx.Response) -> None:
    """No 5xx; a 4xx of the API is JSON ``{"error": "<reason>"}`` with a non-empty reason."""
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict), body
        assert isinstance(body.get("error"), str) and body["error"].strip(), body


def mutate(value: Any, path: list[int], replacement: Any) -> Any:
    """``value`` with the node reached by walking ``path`` (indexes taken modulo each
    container's size) replaced by ``replacement``."""
    if not path or not isinstance(value, dict | list) or not value:
        return replacement
    keys = list(value) if isinstance(value, dict) else list(range(len(value)))
    key = keys[path[0] % len(keys)]
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[key] = mutate(value[key], path[1:], replacement)
    return copy
