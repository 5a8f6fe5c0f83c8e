"""Builders of realistic spans in the SDK wire format, shared by the API tests."""

from __future__ import annotations

import os
import time
from typing import Any


def new_trace_id() -> str:
    """A random 32-hex trace id."""
    return os.urandom(16).hex()


def new_span_id() -> str:
    """A random 16-hex span id."""
    return os.urandom(8).hex()


def rag_trace(trace_id: str | None = None) -> list[dict[str, Any]]:
    """A RAG request as three spans: a chain root with a retrieval and an LLM child."""
    trace_id = trace_id or new_trace_id()
    root, retrieve, generate = new_span_id(), new_span_id(), new_span_id()
    t0 = int(time.time() * 1_000_000) - 5_000_000
    common = {"trace_id": trace_id, "session_id": "sess-1", "user_id": "user-7", "release": "1.4.2"}
    return [
        {
            **common,
            "span_id": root,
            "parent_span_id": None,
            "name": "answer_question",
            "kind": "chain",
            "start_time": t0,
            "end_time": t0 + 900_000,
            "input": {"question": "What is the refund window?"},
            "output": "30 days",
            "tags": ["prod", "rag"],
            "metadata": {"route": "/ask", "attempt": 1},
        },
        {
            **common,
            "span_id": retrieve,
            "parent_span_id": root,
            "name": "retrieve",
            "kind": "retrieval",
            "start_time": t0 + 10_000,
            "end_time": t0 + 60_000,
            "input": "refund window",
            "documents": [
                {"id": "doc-1", "score": 0.91, "content": "Refunds within 30 days."},
                {"id": "doc-2", "score": 0.42, "content": "Shipping takes 5 days."},
            ],
        },
        {
            **common,
            "span_id": generate,
            "parent_span_id": root,
            "name": "chat gpt-4o-mini",
            "kind": "llm",
            "start_time": t0 + 70_000,
            "end_time": t0 + 880_000,
            "status": "error",
            "status_message": "RateLimitError: slow down",
            "model": "gpt-4o-mini",
            "provider": "openai",
            "messages": [
                {"role": "system", "content": "Answer from the context."},
                {"role": "user", "content": "What is the refund window?"},
            ],
            "output": {"role": "assistant", "content": "30 days"},
            "usage": {"prompt_tokens": 120, "completion_tokens": 8, "total_tokens": 128},
            "cost": 0.000123,
        },
    ]
