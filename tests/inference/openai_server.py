"""A minimal OpenAI-compatible HTTP server on 127.0.0.1 backed by the torch judge engine."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import torch
from haloscope.inference import JudgePrompt, SamplingParams
from haloscope.inference.engine import TorchJudgeEngine


class EngineServer:
    """Serves ``/v1/completions`` and ``/v1/chat/completions`` with logprobs.

    ``fail_first`` answers that many requests with HTTP 503 (to exercise retries), ``delay_s``
    sleeps before answering (timeouts), ``max_in_flight`` records peak concurrency and
    ``answered`` every (request, response) pair it answered with HTTP 200.
    ``/v1/completions`` with ``echo`` returns the prompt's tokens, logprobs and text offsets
    before the completion's, as vLLM does; ``echo=False`` refuses such requests with HTTP 400,
    as OpenAI's hosted models do.
    """

    def __init__(
        self,
        engine: TorchJudgeEngine,
        fail_first: int = 0,
        delay_s: float = 0.0,
        echo: bool = True,
    ) -> None:
        self.engine = engine
        self.echo = echo
        self.fail_first = fail_first
        self.delay_s = delay_s
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.answered: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (request, response)
        self._lock = threading.Lock()
        self._engine_lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        # server_close() then joins request threads: none may still run the engine (a torch op)
        # while the interpreter shuts down, which aborts the process.
        self._httpd.daemon_threads = False
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The ``/v1`` root URL."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> EngineServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def respond(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Status and JSON body for one request."""
        with self._lock:
            self.requests += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            fail = self.requests <= self.fail_first
        try:
            time.sleep(self.delay_s)
            if fail:
                return 503, {"error": {"message": "warming up"}}
            if body.get("echo") and not self.echo:
                return 400, {"error": {"message": "echo is not supported for this model"}}
            answer = self._complete(path, body)
            with self._lock:
                self.answered.append((body, answer))
            return 200, answer
        finally:
            with self._lock:
                self.in_flight -= 1

    def _complete(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        chat = path.endswith("/chat/completions")
        text = (
            self.engine.tokenizer.apply_chat_template(body["messages"]) if chat else body["prompt"]
        )
        top = body.get("top_logprobs", 0) if chat else body.get("logprobs", 0)
        params = SamplingParams(
            max_tokens=body.get("max_tokens", 16),
            temperature=body.get("temperature", 1.0),
            top_logprobs=top,
        )
        with self._engine_lock:
            result = self.engine.generate([JudgePrompt(text, "")], params)
        gen = result.generations[0]
        tokens = [self.engine.tokenizer.token_text(t) for t in gen.token_ids]
        alternatives = gen.top_logprobs or [[] for _ in tokens]
        if chat:
            content = [
                {
                    "token": t,
                    "logprob": lp,
                    "top_logprobs": [{"token": a, "logprob": b} for a, b in alts],
                }
                for t, lp, alts in zip(tokens, gen.logprobs, alternatives, strict=True)
            ]
            choice = {
                "message": {"role": "assistant", "content": gen.text},
                "logprobs": {"content": content},
            }
        else:
            choice = {
                "text": gen.text,
                "logprobs": {
                    "tokens": tokens,
                    "token_logprobs": gen.logprobs,
                    "top_logprobs": [dict(alts) for alts in alternatives],
                },
            }
        if body.get("echo"):
            self._echo(text, choice["logprobs"])
        choice["finish_reason"] = gen.finish_reason
        usage = {
            "prompt_tokens": result.stats.prompt_tokens,
            "completion_tokens": len(gen.token_ids),
            "prompt_tokens_details": {"cached_tokens": result.stats.cached_tokens},
        }
        return {
            "object": "chat.completion" if chat else "text_completion",
            "choices": [choice],
            "usage": usage,
        }

    def _echo(self, prompt: str, logprobs: dict[str, Any]) -> None:
        """Prepend the prompt's tokens, their logprobs (None for the first) and text offsets."""
        tokenizer = self.engine.tokenizer
        ids, offsets = tokenizer.encode_with_offsets(prompt)
        with self._engine_lock:
            rows = torch.log_softmax(self.engine.prompt_logits(ids).float(), dim=-1)
        values = [None, *rows[:-1].gather(1, torch.tensor(ids[1:])[:, None])[:, 0].tolist()]
        generated = [len(prompt)]
        for token in logprobs["tokens"][:-1]:
            generated.append(generated[-1] + len(token))
        logprobs["tokens"] = [tokenizer.token_text(t) for t in ids] + logprobs["tokens"]
        logprobs["token_logprobs"] = values + logprobs["token_logprobs"]
        logprobs["top_logprobs"] = [{} for _ in ids] + logprobs["top_logprobs"]
        logprobs["text_offset"] = [a for a, _ in offsets] + generated[: len(logprobs["tokens"])]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", 0))
                status, payload = server.respond(self.path, json.loads(self.rfile.read(length)))
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left (the timeout test does this on purpose)

            def log_message(self, *args: object) -> None:
                return None

        return Handler
