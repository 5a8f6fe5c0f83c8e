"""Realistic span rows for the store tests, and trace-level facts computed from them in
Python (independently of the SQL under test)."""

from __future__ import annotations

import random
from typing import Any

import orjson

DAY_US = 86_400 * 1_000_000
BASE_US = 1_700_000_000_000_000 - (1_700_000_000_000_000 % DAY_US)  # midnight UTC
MODELS = ("gpt-4o", "claude-3-5-sonnet")


def span_row(project_id: str, trace_id: str, span_id: str, **fields: Any) -> dict[str, Any]:
    """A span row with every SPAN_COLUMNS key; ``fields`` override the defaults."""
    row: dict[str, Any] = {
        "project_id": project_id,
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_span_id": "",
        "name": "span",
        "kind": "span",
        "start_time": BASE_US,
        "end_time": BASE_US + 1000,
        "status": "ok",
        "status_message": "",
        "input": "",
        "output": "",
        "model": "",
        "provider": "",
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "total_tokens": 0,
        "cost": 0.0,
        "documents": "",
        "tool_name": "",
        "tool_arguments": "",
        "session_id": "",
        "user_id": "",
        "release": "",
        "tags": [],
        "metadata": {},
    }
    row.update(fields)
    return row


def rag_trace(project_id: str, index: int, rng: random.Random) -> list[dict[str, Any]]:
    """One trace of a RAG app: a chain root, a retrieval, an LLM call, sometimes a tool."""
    trace_id = f"{index:08x}{rng.getrandbits(96):024x}"
    start = BASE_US + (index % 3) * DAY_US + index * 7_000_000
    user = f"user-{index % 3}"
    common = {
        "session_id": f"session-{index % 4}",
        "user_id": user,
        "release": f"v{1 + index % 2}",
        "tags": ["rag", "beta"] if index % 4 == 0 else ["rag"],
    }
    model = MODELS[index % 2]
    question = f"What is topic {index}? Ünïcode ✓ word{index}"
    prompt, completion = 100 + index, 20 + index % 7
    root_id = f"{index:04x}000000000000"
    llm_error = index % 5 == 3
    spans = [
        span_row(
            project_id,
            trace_id,
            root_id,
            name="rag-pipeline" if index % 2 == 0 else "agent-run",
            kind="chain",
            start_time=start,
            end_time=start + 900_000 + index * 1_000,
            input=orjson.dumps({"question": question}).decode(),
            output=orjson.dumps(f"answer {index}").decode(),
            metadata={"app": "demo", "n": str(index)},
            **common,
        ),
        span_row(
            project_id,
            trace_id,
            f"{index:04x}000000000001",
            parent_span_id=root_id,
            name="retrieve",
            kind="retrieval",
            start_time=start + 10_000,
            end_time=start + 60_000 + index * 100,
            input=orjson.dumps({"query": question}).decode(),
            documents=orjson.dumps(
                [{"id": f"doc-{index}", "score": 0.5 + index / 100, "content": "lorem " * 20}]
            ).decode(),
            **common,
        ),
        span_row(
            project_id,
            trace_id,
            f"{index:04x}000000000002",
            parent_span_id=root_id,
            name="chat",
            kind="llm",
            start_time=start + 70_000,
            end_time=start + 800_000 + index * 3_000,
            status="error" if llm_error else "ok",
            status_message="RateLimitError: slow down" if llm_error else "",
            input=orjson.dumps([{"role": "user", "content": question}]).decode(),
            output=orjson.dumps({"role": "assistant", "content": f"Answer {index}"}).decode(),
            model=model,
            provider="openai" if model.startswith("gpt") else "anthropic",
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=prompt + completion,
            cost=round(0.00001 * prompt + 0.00003 * completion, 8),
            **common,
        ),
    ]
    if index % 3 == 0:
        spans.append(
            span_row(
                project_id,
                trace_id,
                f"{index:04x}000000000003",
                parent_span_id=root_id,
                name="search_web",
                kind="tool",
                start_time=start + 810_000,
                end_time=start + 850_000,
                tool_name="search_web",
                tool_arguments=orjson.dumps({"q": f"topic {index}", "limit": 3}).decode(),
                output=orjson.dumps(["result"]).decode(),
                **common,
            )
        )
    return spans


def rag_dataset(project_id: str, n_traces: int = 12, seed: int = 7) -> list[dict[str, Any]]:
    """Spans of ``n_traces`` RAG traces over three days."""
    rng = random.Random(seed)
    return [span for i in range(n_traces) for span in rag_trace(project_id, i, rng)]


def traces_of(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Spans grouped by trace id."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["trace_id"], []).append(row)
    return grouped


def trace_summary(spans: list[dict[str, Any]]) -> dict[str, Any]:
    """The trace-list item expected for these spans."""
    root = next(s for s in spans if not s["parent_span_id"])
    start = min(s["start_time"] for s in spans)
    end = max(s["end_time"] for s in spans)
    errors = sum(s["status"] == "error" for s in spans)
    return {
        "trace_id": root["trace_id"],
        "name": root["name"],
        "start_time": start,
        "end_time": end,
        "duration_us": end - start,
        "span_count": len(spans),
        "status": "error" if errors else "ok",
        "error_count": errors,
        "prompt_tokens": sum(s["prompt_tokens"] for s in spans),
        "completion_tokens": sum(s["completion_tokens"] for s in spans),
        "total_tokens": sum(s["total_tokens"] for s in spans),
        "cost": sum(s["cost"] for s in spans),
        "models": sorted({s["model"] for s in spans if s["model"]}),
        "user_id": root["user_id"],
        "session_id": root["session_id"],
        "release": root["release"],
        "tags": sorted({t for s in spans for t in s["tags"]}),
    }
