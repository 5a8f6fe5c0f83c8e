"""The Langfuse SDK's span attributes (``langfuse.observation.*``, ``langfuse.trace.*``).

The Langfuse SDK (v3 and later) exports OTLP; most of its attributes are column sources in
``otlp_mapping``'s table (observation type, model, input, output, prompt name and version,
tags, version). The rest are read here: usage and cost details (JSON objects), level and status
message, model parameters, and the metadata of observations and traces, which are flattened
into ``langfuse.observation.metadata.<key>`` / ``langfuse.trace.metadata.<key>`` and stored
under ``<key>``, as the Haloscope SDK stores ``metadata={"<key>": ...}``.

Langfuse keeps trace attributes on the one observation that set them (``update_current_trace``
writes them on the current span); Haloscope keeps them on spans. So the user, session, tags,
version and trace metadata of a Langfuse observation are also given to every other span of its
trace in the same export request (:func:`apply_trace_fields`): what the Haloscope SDK's
``update_current_trace`` does for the spans it has not sent yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from haloscope.platform.ingest.span_fields import MAX_UINT32, stringify
from haloscope.platform.store.base import SPAN_COLUMNS
from haloscope.platform.store.encoding import SpanRow

OBSERVATION = "langfuse.observation."
TRACE = "langfuse.trace."
_OBSERVATION_METADATA = OBSERVATION + "metadata."
_TRACE_METADATA = TRACE + "metadata."
_USAGE = OBSERVATION + "usage_details"
_COST = OBSERVATION + "cost_details"
_LEVEL = OBSERVATION + "level"
_STATUS_MESSAGE = OBSERVATION + "status_message"
_MODEL_PARAMETERS = OBSERVATION + "model.parameters"
TRACE_TAGS = TRACE + "tags"
# Usage detail keys -> the token column they count, by precedence (Langfuse's own names first,
# then OpenAI's and Anthropic's as the Langfuse integrations pass them through).
_USAGE_KEYS = {
    "prompt": ("input", "prompt_tokens", "input_tokens"),
    "completion": ("output", "completion_tokens", "output_tokens"),
    "total": ("total", "total_tokens"),
    "cached": ("input_cached_tokens", "cache_read_input_tokens", "input_cache_read"),
}
_CACHED_DETAILS = (
    ("prompt_tokens_details", "cached_tokens"),
    ("input_token_details", "cache_read"),
)
# The metadata key the price table reads cached prompt tokens from (pricing.span_costs).
CACHED_PROMPT_TOKENS = "cached_prompt_tokens"
MODEL_PARAMETERS = "model_parameters"
LEVEL = "level"
_LEVELS = frozenset({"debug", "default", "warning", "error"})


@dataclass(slots=True)
class LangfuseFields:
    """What a span's Langfuse attributes give its row besides the column sources."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cost: float | None = None
    error: bool = False
    status_message: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    trace_metadata: dict[str, str] = field(default_factory=dict)
    trace_tags: Any = None  # as sent: the mapping checks it like tag.tags


def read_langfuse(entries: dict[str, Any], rest: dict[str, Any]) -> LangfuseFields:
    """The fields of a span's ``langfuse.observation.*`` / ``langfuse.trace.*`` attributes
    that no column slot takes (``entries``); what none of them reads, and a value it cannot
    read (usage that is not an object of counts, a level that is not a level), goes back into
    ``rest`` under its own key and stays in metadata."""
    out = LangfuseFields()
    for key in sorted(entries):
        value = entries[key]
        if key.startswith(_OBSERVATION_METADATA) and len(key) > len(_OBSERVATION_METADATA):
            out.metadata[key[len(_OBSERVATION_METADATA) :]] = stringify(value)
        elif key.startswith(_TRACE_METADATA) and len(key) > len(_TRACE_METADATA):
            out.trace_metadata[key[len(_TRACE_METADATA) :]] = stringify(value)
        elif not (value is None or value == "") and _read_one(out, key, value):
            continue
        else:
            rest[key] = value
    return out


def _read_one(out: LangfuseFields, key: str, value: Any) -> bool:
    """Read one observation attribute into ``out``; False when it is not one read here or
    its value cannot be read."""
    if key == _USAGE:
        return _read_usage(out, _object(value))
    if key == _COST:
        cost = _cost(_object(value))
        out.cost = cost
        return cost is not None
    if key == _LEVEL:
        level = value.lower() if type(value) is str else None
        if level not in _LEVELS:
            return False
        if level == "error":
            out.error = True
        else:
            out.metadata[LEVEL] = level
        return True
    if key == TRACE_TAGS:
        out.trace_tags = value
        return True
    if key == _STATUS_MESSAGE and type(value) is str:
        out.status_message = value
        return True
    if key == _MODEL_PARAMETERS:
        parameters = _object(value)
        out.metadata[MODEL_PARAMETERS] = stringify(value if parameters is None else parameters)
        return True
    return False


def _object(value: Any) -> dict[str, Any] | None:
    """An attribute holding a JSON object (text, or a key/value list) as a dict."""
    if type(value) is str and value[:1] == "{":
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
    return value if type(value) is dict else None


def _count(value: Any) -> int | None:
    if type(value) is float and value.is_integer():
        value = int(value)
    if type(value) is int and 0 <= value <= MAX_UINT32:
        return value
    return None


def _read_usage(out: LangfuseFields, usage: dict[str, Any] | None) -> bool:
    """Token counts of a usage-details object; its other keys go to metadata as
    ``usage_details.<key>``. False (nothing read) when a count is not a UInt32."""
    if usage is None:
        return False
    counts: dict[str, int] = {}
    used: set[str] = set()
    for column, keys in _USAGE_KEYS.items():
        for key in keys:
            if key in usage:
                count = _count(usage[key])
                if count is None:
                    return False
                counts[column] = count
                used.add(key)
                break
    for outer, inner in _CACHED_DETAILS:
        details = usage.get(outer)
        if "cached" not in counts and type(details) is dict:
            count = _count(details.get(inner))
            if count:
                counts["cached"] = count
    out.prompt_tokens = counts.get("prompt")
    out.completion_tokens = counts.get("completion")
    out.total_tokens = counts.get("total")
    if counts.get("cached"):
        out.metadata[CACHED_PROMPT_TOKENS] = str(counts["cached"])
    for key in sorted(usage.keys() - used):
        out.metadata[f"usage_details.{key}"] = stringify(usage[key])
    return True


def _cost(cost: dict[str, Any] | None) -> float | None:
    """The USD cost of a cost-details object: its ``total``, else the sum of its parts."""
    if cost is None:
        return None
    values = [cost["total"]] if "total" in cost else list(cost.values())
    if not values or not all(type(v) in (int, float) and 0 <= v < float("inf") for v in values):
        return None
    return float(sum(values))


@dataclass(slots=True)
class TraceFields:
    """The trace attributes a Langfuse observation carried, for the other spans of its trace."""

    user_id: str = ""
    session_id: str = ""
    release: str = ""
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)

    def add(
        self, user_id: str, session_id: str, release: str, tags: Sequence[str], metadata: dict
    ) -> None:
        """Take what this observation sets and the trace has not got yet."""
        self.user_id = self.user_id or user_id
        self.session_id = self.session_id or session_id
        self.release = self.release or release
        self.tags.extend(tag for tag in tags if tag not in self.tags)
        for key, value in metadata.items():
            self.metadata.setdefault(key, value)


_TRACE_ID, _USER, _SESSION, _RELEASE, _TAGS, _METADATA = map(
    SPAN_COLUMNS.index, ("trace_id", "user_id", "session_id", "release", "tags", "metadata")
)


def apply_trace_fields(
    rows: list[SpanRow], traces: dict[str, TraceFields], resources: list[tuple[int, Any]]
) -> list[SpanRow]:
    """``rows`` with the trace fields of their trace filled in: the user and session where a
    span has none, the release where it has none or only its resource's (a trace's version
    comes before the client's release, as in the Haloscope SDK), the tags added to its own, the
    metadata keys it lacks. ``resources`` holds, for each resource of the request, the index of
    its first row and its release."""
    out = []
    resource_release, next_resource = None, 0
    for index, row in enumerate(rows):
        while next_resource < len(resources) and resources[next_resource][0] <= index:
            resource_release = resources[next_resource][1]
            next_resource += 1
        fields = traces.get(row[_TRACE_ID])
        if fields is None:
            out.append(row)
            continue
        values = list(row)
        values[_USER] = values[_USER] or fields.user_id
        values[_SESSION] = values[_SESSION] or fields.session_id
        if fields.release and values[_RELEASE] in ("", resource_release):
            values[_RELEASE] = fields.release
        tags = values[_TAGS]
        values[_TAGS] = tags + [tag for tag in fields.tags if tag not in tags]
        values[_METADATA] = {**fields.metadata, **values[_METADATA]}
        out.append(tuple(values))
    return out
