"""A canned OpenAI-compatible server on 127.0.0.1 for the instrumentor tests.

``POST /v1/chat/completions``: when the request offers tools and holds no tool result yet, the
reply is one call of the first tool (``TOOL_ARGUMENTS``); otherwise the text ``ANSWER``. With
``stream`` the reply comes as SSE chunks, usage last when ``stream_options.include_usage``.
``POST /v1/embeddings``: one fixed 3-dimensional vector per input (base64 when asked), the
request's model. Token counts are fixed (``PROMPT_TOKENS``, ``COMPLETION_TOKENS``); every
request is kept in ``requests``.
"""

from __future__ import annotations

import base64
import json
import struct
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.sdk.openai_server import OpenAICompatibleServer

MODEL = "gpt-4o-mini-2024-07-18"
ANSWER = "Orders ship within 2 days."
TOOL_ARGUMENTS = '{"order_id": "A17"}'
TOOL_CALL_ID = "call_1"
PROMPT_TOKENS, COMPLETION_TOKENS = 120, 40
EMBEDDING_TOKENS = 8
VECTOR = [0.25, -0.5, 0.125]
# The tool call as stored: with its arguments as the API sends them (JSON text), and as the
# GenAI conventions carry them (an object).
TOOL_CALL = {"id": TOOL_CALL_ID, "name": "lookup_order", "arguments": TOOL_ARGUMENTS}
GENAI_TOOL_CALL = {**TOOL_CALL, "arguments": json.loads(TOOL_ARGUMENTS)}


class CannedOpenAI(OpenAICompatibleServer):
    """Serves canned chat completions and embeddings until :meth:`close` (the SDK tests'
    loopback server, answering differently)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        super().__init__()

    def _answer(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        self.requests.append((handler.path, body))
        if handler.path == "/v1/embeddings":
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            vector: Any = VECTOR
            if body.get("encoding_format") == "base64":
                vector = base64.b64encode(struct.pack(f"<{len(VECTOR)}f", *VECTOR)).decode()
            data = [
                {"object": "embedding", "index": i, "embedding": vector} for i in range(len(texts))
            ]
            usage = {"prompt_tokens": EMBEDDING_TOKENS, "total_tokens": EMBEDDING_TOKENS}
            answer = {"object": "list", "data": data, "model": body["model"], "usage": usage}
            return self._send_json(handler, 200, answer)
        if handler.path != "/v1/chat/completions":
            return self._send_json(handler, 404, {"error": {"message": "not found"}})
        message = reply_message(body)
        if body.get("stream"):
            return _stream(handler, body, message)
        choice = {"index": 0, "finish_reason": _finish(message), "message": message}
        self._send_json(
            handler,
            200,
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": MODEL,
                "choices": [choice],
                "usage": _usage(),
            },
        )


def _usage() -> dict[str, int]:
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
    }


def reply_message(body: dict[str, Any]) -> dict[str, Any]:
    """The assistant message the server answers ``body`` with."""
    tools = body.get("tools") or []
    answered = any(m.get("role") == "tool" for m in body.get("messages", []))
    if tools and not answered:
        call = {
            "id": TOOL_CALL_ID,
            "type": "function",
            "function": {"name": tools[0]["function"]["name"], "arguments": TOOL_ARGUMENTS},
        }
        return {"role": "assistant", "content": None, "tool_calls": [call]}
    return {"role": "assistant", "content": ANSWER}


def _finish(message: dict[str, Any]) -> str:
    return "tool_calls" if message.get("tool_calls") else "stop"


def _stream(handler: BaseHTTPRequestHandler, body: dict[str, Any], message: dict[str, Any]) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.send_header("Connection", "close")
    handler.end_headers()
    base = {"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 0, "model": MODEL}
    delta: dict[str, Any] = {"role": "assistant", "content": message["content"]}
    if message.get("tool_calls"):
        delta["tool_calls"] = [{"index": 0, **message["tool_calls"][0]}]
    chunks = [
        {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": _finish(message)}]},
    ]
    if (body.get("stream_options") or {}).get("include_usage"):
        chunks.append({**base, "choices": [], "usage": _usage()})
    for chunk in chunks:
        handler.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
    handler.wfile.write(b"data: [DONE]\n\n")
    handler.wfile.flush()
    handler.close_connection = True
