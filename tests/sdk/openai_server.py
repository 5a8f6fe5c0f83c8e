"""A minimal OpenAI-compatible ``/v1/chat/completions`` server on 127.0.0.1 for SDK tests.

The reply content is ``"echo: <last user message>"``. Special model names select error
modes: ``fail-500`` answers 500, ``fail-400`` answers 400. Streaming sends one chunk per
word and, with ``stream_options.include_usage``, a final usage-only chunk.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROMPT_TOKENS = 11


def _usage(completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": completion_tokens,
        "total_tokens": PROMPT_TOKENS + completion_tokens,
    }


class OpenAICompatibleServer:
    """Serves chat completions (JSON and SSE) until :meth:`close`."""

    response_model = "gpt-4o-mini-2024-07-18"

    def __init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner._answer(self, request)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def _answer(self, handler: BaseHTTPRequestHandler, request: dict[str, Any]) -> None:
        if handler.path != "/v1/chat/completions":
            return self._send_json(handler, 404, {"error": {"message": "not found"}})
        model = request["model"]
        if model.startswith("fail-"):
            status = int(model.removeprefix("fail-"))
            error = {"message": f"scripted failure {status}", "type": "server_error"}
            return self._send_json(handler, status, {"error": error})
        words = ("echo: " + request["messages"][-1]["content"]).split(" ")
        if request.get("stream"):
            return self._stream(handler, request, words)
        self._send_json(
            handler,
            200,
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": self.response_model,
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": " ".join(words)},
                    }
                ],
                "usage": _usage(len(words)),
            },
        )

    def _stream(self, handler: BaseHTTPRequestHandler, request: dict, words: list[str]) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Connection", "close")
        handler.end_headers()
        base = {
            "id": "chatcmpl-2",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": self.response_model,
        }
        for i, word in enumerate(words):
            text = word if i == 0 else " " + word
            delta = {"role": "assistant", "content": text} if i == 0 else {"content": text}
            chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            handler.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        last = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        handler.wfile.write(f"data: {json.dumps(last)}\n\n".encode())
        if (request.get("stream_options") or {}).get("include_usage"):
            usage_chunk = {**base, "choices": [], "usage": _usage(len(words))}
            handler.wfile.write(f"data: {json.dumps(usage_chunk)}\n\n".encode())
        handler.wfile.write(b"data: [DONE]\n\n")
        handler.wfile.flush()
        handler.close_connection = True

    @staticmethod
    def _send_json(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def close(self) -> None:
        """Stop serving."""
        self._httpd.shutdown()
        self._httpd.server_close()
