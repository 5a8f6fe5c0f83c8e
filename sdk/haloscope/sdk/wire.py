"""Span -> JSON text of docs/wire-format.md; runs in the exporter thread."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .ids import format_span_id, format_trace_id
from .pricing import compute_cost
from .serialize import dumps, encode_field, to_jsonable
from .spans import UNSET, CallArgs, Span

_USAGE_ALIASES = {
    "prompt_tokens": ("prompt_tokens", "input_tokens"),
    "completion_tokens": ("completion_tokens", "output_tokens"),
    "total_tokens": ("total_tokens",),
}


def normalise_usage(usage: Any) -> dict[str, int] | None:
    """Token counts from a mapping or an object (e.g. an OpenAI ``CompletionUsage``)."""
    if usage is None:
        return None
    get = usage.get if isinstance(usage, Mapping) else lambda k: getattr(usage, k, None)
    counts: dict[str, int] = {}
    for field, aliases in _USAGE_ALIASES.items():
        for alias in aliases:
            value = get(alias)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
                counts[field] = int(value)
                break
    if not counts:
        return None
    counts.setdefault("prompt_tokens", 0)
    counts.setdefault("completion_tokens", 0)
    counts.setdefault("total_tokens", counts["prompt_tokens"] + counts["completion_tokens"])
    return counts


class SpanEncoder:
    """Encodes finished spans with one client's capture settings."""

    def __init__(
        self, max_field_bytes: int, redact: Callable[[Any], Any] | None, release: str | None
    ) -> None:
        self._max = max_field_bytes
        self._redact = redact
        self._release = release

    def encode(self, span: Span) -> str:
        """The span's JSON object as compact text."""
        trace = span.trace
        attrs = span.attrs or {}
        # Captured values are bound, redacted, size-checked and spliced in as raw JSON text.
        obj: dict[str, Any] = {
            "trace_id": format_trace_id(trace.trace_id),
            "span_id": format_span_id(span.sid),
            "parent_span_id": format_span_id(span.parent_sid) if span.parent_sid else None,
            "name": span.name,
            "kind": span.kind,
            "start_time": span.start_time,
            "end_time": max(span.end_time, span.start_time),
            "status": span.status,
        }
        if span.status == "error" or "status_message" in attrs:
            obj["status_message"] = str(attrs.get("status_message") or "")
        for key in ("model", "provider"):
            if attrs.get(key) is not None:
                obj[key] = str(attrs[key])
        usage = normalise_usage(attrs.get("usage"))
        if usage is not None:
            obj["usage"] = usage
        cost = attrs.get("cost")
        if cost is None and usage is not None and span.kind == "llm" and obj.get("model"):
            cost = compute_cost(obj["model"], usage)
        if isinstance(cost, (int, float)) and not isinstance(cost, bool) and cost >= 0:
            obj["cost"] = float(cost)
        raw: dict[str, str] = {}
        if attrs.get("messages") is not None:
            raw["messages"] = self._content_text(attrs["messages"])
        if attrs.get("documents") is not None:
            raw["documents"] = self._content_text(attrs["documents"])
        self._trace_fields(span, obj)
        value = span.input
        if value is UNSET and "query" in attrs:
            value = attrs["query"]
        input_text = None
        if value is not UNSET:
            if isinstance(value, CallArgs):
                value = value.bind()
            input_text = raw["input"] = encode_field(value, self._max, self._redact)
        if span.output is not UNSET:
            raw["output"] = encode_field(span.output, self._max, self._redact)
        if span.kind == "tool" or "tool_name" in attrs or "tool_arguments" in attrs:
            if "tool_arguments" in attrs:
                arguments = self._content_text(attrs["tool_arguments"])
            else:
                arguments = input_text or "null"
            raw["tool"] = (
                f'{{"name":{dumps(str(attrs.get("tool_name") or span.name))},"arguments":{arguments}}}'
            )
        text = dumps(obj)
        if not raw:
            return text
        return text[:-1] + "".join(f',"{key}":{value}' for key, value in raw.items()) + "}"

    def _content_text(self, value: Any) -> str:
        """Messages, documents, tool arguments: redacted but never truncated (they are arrays)."""
        return encode_field(value, 1 << 62, self._redact)

    def _trace_fields(self, span: Span, obj: dict[str, Any]) -> None:
        trace = span.trace
        for key in ("session_id", "user_id"):
            value = getattr(trace, key)
            if value is not None:
                obj[key] = value
        release = trace.release or self._release
        if release:
            obj["release"] = release
        tags = list(trace.tags or ())
        tags.extend(tag for tag in span.tags or () if tag not in tags)
        if tags:
            obj["tags"] = tags
        if trace.metadata or span.metadata:
            obj["metadata"] = to_jsonable({**(trace.metadata or {}), **(span.metadata or {})})
