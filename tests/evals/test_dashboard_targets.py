"""What dashboard runs may call: only targets and configs the deployment registered, an
OpenAI-compatible endpoint with a sandboxed prompt template, and the request checks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from haloscope.platform.evals.datasets import DatasetItem
from haloscope.platform.evals.errors import EvalUsageError
from haloscope.platform.evals.target_registry import load_registry
from haloscope.platform.evals.targets import EndpointTarget, TargetError

REPO = Path(__file__).resolve().parents[2]


class FakeChat:
    """A loopback OpenAI-compatible ``/v1/chat/completions`` recording each request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        chat = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                chat.requests.append({"path": self.path, "auth": self.headers["Authorization"],
                                      "body": body})  # fmt: skip
                prompt = body["messages"][-1]["content"]
                answer = {"choices": [{"message": {"role": "assistant", "content": prompt[::-1]}}]}
                if "fail" in prompt:
                    self.send_response(500)
                    answer = {"error": "boom"}
                else:
                    self.send_response(200)
                data = json.dumps(answer).encode()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def chat() -> Iterator[FakeChat]:
    server = FakeChat()
    yield server
    server.server.shutdown()
    server.server.server_close()


ITEM = DatasetItem("q1", "What is 2+2?", "4", ("Arithmetic: 2+2=4.",), {"tags": ["math"]})


def test_an_endpoint_target_renders_its_sandboxed_template(chat: FakeChat) -> None:
    target = EndpointTarget(
        "calc", chat.url, "tiny-model", "Context: {{ context | join(' ') }} Q: {{ input }}",
        api_key="sk-test", system="Be brief.", max_tokens=20,
    )  # fmt: skip
    output = target(ITEM)
    assert output.output == "Context: Arithmetic: 2+2=4. Q: What is 2+2?"[::-1]
    (request,) = chat.requests
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer sk-test"
    assert request["body"]["model"] == "tiny-model" and request["body"]["max_tokens"] == 20
    assert request["body"]["messages"][0] == {"role": "system", "content": "Be brief."}
    with pytest.raises(TargetError, match="HTTP 500"):
        target(DatasetItem("q2", "please fail"))
    target.close()

    escape = EndpointTarget("x", chat.url, "m", "{{ input.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(TargetError, match="SecurityError|UndefinedError"):
        escape(ITEM)
    mutate = EndpointTarget("x", chat.url, "m", "{{ metadata.tags.append('x') }}")
    with pytest.raises(TargetError, match="SecurityError"):
        mutate(ITEM)
    assert ITEM.metadata["tags"] == ["math"]
    with pytest.raises(EvalUsageError, match="prompt template"):
        EndpointTarget("x", chat.url, "m", "{{ input ")
    unreachable = EndpointTarget("x", "http://127.0.0.1:9/v1", "m", "{{ input }}", timeout_s=2)
    with pytest.raises(TargetError, match="unreachable"):
        unreachable(ITEM)


def test_only_registered_targets_and_configs_are_offered(tmp_path: Path, chat: FakeChat) -> None:
    path = tmp_path / "targets.yaml"
    path.write_text(
        "targets:\n"
        "  rag: {function: 'examples.rag.app:answer', description: prod}\n"
        f"  chat: {{endpoint: '{chat.url}', model: m, prompt: 'Q: {{{{ input }}}}',"
        " api_key_env: TEST_CHAT_KEY}\n"
        "configs:\n"
        f"  rag: {REPO / 'examples' / 'rag' / 'eval.yaml'}\n"
    )
    registry = load_registry(str(path))
    assert sorted(registry.targets) == ["chat", "rag"]
    assert registry.target("rag").kind == "function" and registry.target("chat").kind == "endpoint"
    assert [m.name for m in registry.config("rag").metrics][0] == "correct"
    with pytest.raises(EvalUsageError, match="no target 'os:system'"):
        registry.target("os:system")
    with pytest.raises(EvalUsageError, match="no eval config"):
        registry.config("../../etc/passwd")
    built = registry.target("chat").build("Other: {{ input }}")
    assert built(ITEM).output == "Other: What is 2+2?"[::-1]
    assert load_registry("").targets == {}

    for body, reason in (
        ("targets: {x: {function: a:b, endpoint: http://x}}", "exactly one"),
        ("targets: {x: {endpoint: http://x}}", "model and a prompt"),
        ("targets: {x: {function: a:b, shell: rm}}", "unknown key"),
        ("surprise: 1", "'targets' and 'configs'"),
    ):
        path.write_text(body)
        with pytest.raises(EvalUsageError, match=reason):
            load_registry(str(path))
    with pytest.raises(EvalUsageError, match="does not exist"):
        load_registry(str(tmp_path / "missing.yaml"))
