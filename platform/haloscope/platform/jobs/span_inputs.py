"""Turn stored spans into evaluator inputs: question, answer and retrieved passages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from haloscope.evaluators import EvalInput

# Keys under which instrumented apps commonly put the text of an input or output.
_TEXT_KEYS = ("question", "query", "input", "prompt", "answer", "output", "text", "content")


def text_of(json_text: str) -> str:
    """The human text of a stored JSON value: a string as is; for an object, its first
    text-like field (or the last chat message's content); otherwise compact JSON."""
    if not json_text:
        return ""
    try:
        value = orjson.loads(json_text)
    except orjson.JSONDecodeError:
        return json_text
    return _text_of_value(value)


def _text_of_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        messages = value.get("messages")
        if isinstance(messages, list) and messages and isinstance(messages[-1], Mapping):
            return _text_of_value(messages[-1].get("content", ""))
        for key in _TEXT_KEYS:
            if isinstance(value.get(key), str):
                return value[key]
    if value is None:
        return ""
    return orjson.dumps(value).decode()


def passages(documents_json: Sequence[str]) -> tuple[str, ...]:
    """The ``content`` of every document in the given ``documents`` JSON texts, in order."""
    found: list[str] = []
    for text in documents_json:
        try:
            documents = orjson.loads(text)
        except orjson.JSONDecodeError:
            continue
        for document in documents if isinstance(documents, list) else []:
            content = document.get("content") if isinstance(document, Mapping) else document
            if isinstance(content, str) and content:
                found.append(content)
    return tuple(found)


def eval_input(span: Mapping[str, Any], trace_documents: Sequence[str]) -> EvalInput:
    """The evaluator input of a span: its own documents as context when it has them (a
    retrieval span), else those of its trace's retrieval spans."""
    own = passages([span["documents"]]) if span.get("documents") else ()
    return EvalInput(
        input=text_of(span.get("input", "")),
        output=text_of(span.get("output", "")),
        contexts=own or passages(trace_documents),
        metadata=dict(span.get("metadata") or {}),
    )
