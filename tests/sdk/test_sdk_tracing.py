"""Span structure, context propagation and captured values, checked on the wire."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import threading
import traceback

import haloscope.sdk as sdk
import pytest
from haloscope.sdk import ContextExecutor, observe, span, update_current_span, wrap_context


def test_nested_calls_share_a_trace_and_link_parents(client, ingest_server):
    @observe(as_type="retrieval")
    def retrieve(query: str) -> list[str]:
        return ["doc"]

    @observe(as_type="llm")
    def generate(prompt: str) -> str:
        return prompt.upper()

    @observe(as_type="chain")
    def answer(question: str) -> str:
        docs = retrieve(question)
        return generate(f"{question}:{docs[0]}")

    assert answer("why") == "WHY:DOC"
    assert sdk.flush(5)
    spans = ingest_server.by_name()
    root, child_r, child_g = spans["answer"], spans["retrieve"], spans["generate"]
    assert root["parent_span_id"] is None
    assert child_r["parent_span_id"] == root["span_id"] == child_g["parent_span_id"]
    assert {s["trace_id"] for s in spans.values()} == {root["trace_id"]}
    assert len(root["trace_id"]) == 32 and len(root["span_id"]) == 16
    assert (root["kind"], child_r["kind"], child_g["kind"]) == ("chain", "retrieval", "llm")
    assert root["start_time"] <= child_r["start_time"] <= child_g["end_time"] <= root["end_time"]
    assert child_g["input"] == {"prompt": "why:doc"} and child_g["output"] == "WHY:DOC"
    assert ingest_server.requests[0]["path"] == "/api/v1/ingest"


def test_methods_skip_self_and_flatten_kwargs(client, ingest_server):
    class Agent:
        @observe
        def run(self, task: str, *extra: int, **options: str) -> int:
            return len(task)

    Agent().run("abc", 1, 2, mode="fast")
    sdk.flush(5)
    assert ingest_server.by_name()["run"]["input"] == {
        "task": "abc",
        "extra": [1, 2],
        "mode": "fast",
    }


def test_async_tasks_keep_their_own_parents(client, ingest_server):
    @observe
    async def leaf(tag: str) -> str:
        await asyncio.sleep(0.01)
        return tag

    @observe
    async def branch(tag: str) -> str:
        return await leaf(tag)

    @observe
    async def root() -> list[str]:
        return await asyncio.gather(branch("a"), branch("b"))

    assert asyncio.run(root()) == ["a", "b"]
    sdk.flush(5)
    spans = ingest_server.spans
    by_id = {s["span_id"]: s for s in spans}
    leaves = [s for s in spans if s["name"] == "leaf"]
    assert len(leaves) == 2
    for leaf_span in leaves:
        parent = by_id[leaf_span["parent_span_id"]]
        assert parent["name"] == "branch"
        assert parent["input"] == {"tag": leaf_span["output"]}
        assert by_id[parent["parent_span_id"]]["name"] == "root"
    assert len({s["trace_id"] for s in spans}) == 1


def test_threads_inherit_context_with_executor_and_wrap_context(client, ingest_server):
    @observe
    def work(n: int) -> int:
        return n * n

    @observe
    def fan_out() -> list[int]:
        with ContextExecutor(max_workers=2) as pool:
            results = list(pool.map(work, [1, 2, 3]))
        thread = threading.Thread(target=wrap_context(work), args=(4,))
        thread.start()
        thread.join()
        return results

    assert fan_out() == [1, 4, 9]
    sdk.flush(5)
    spans = ingest_server.spans
    root = next(s for s in spans if s["name"] == "fan_out")
    workers = [s for s in spans if s["name"] == "work"]
    assert sorted(s["output"] for s in workers) == [1, 4, 9, 16]
    assert all(s["parent_span_id"] == root["span_id"] for s in workers)
    assert all(s["trace_id"] == root["trace_id"] for s in workers)


def test_sync_generator_span_covers_iteration(client, ingest_server):
    @observe
    def child(i: int) -> int:
        return i

    @observe
    def numbers(limit: int):
        for i in range(limit):
            yield child(i)
        return "done"

    gen = numbers(3)
    assert list(gen) == [0, 1, 2]
    sdk.flush(5)
    spans = ingest_server.spans
    parent = next(s for s in spans if s["name"] == "numbers")
    children = [s for s in spans if s["name"] == "child"]
    assert parent["output"] == [0, 1, 2] and parent["status"] == "ok"
    assert all(c["parent_span_id"] == parent["span_id"] for c in children)
    assert max(c["end_time"] for c in children) <= parent["end_time"]


def test_generator_closed_early_and_send_are_supported(client, ingest_server):
    @observe
    def echo():
        received = yield "ready"
        while True:
            received = yield f"got {received}"

    gen = echo()
    assert next(gen) == "ready"
    assert gen.send("x") == "got x"
    gen.close()
    sdk.flush(5)
    assert ingest_server.by_name()["echo"]["output"] == ["ready", "got x"]


def test_async_generator_span_and_error(client, ingest_server):
    @observe(as_type="llm")
    async def tokens():
        yield "a"
        yield "b"
        raise RuntimeError("stream cut")

    async def consume() -> list[str]:
        seen = []
        with pytest.raises(RuntimeError, match="stream cut"):
            async for token in tokens():
                seen.append(token)
        return seen

    assert asyncio.run(consume()) == ["a", "b"]
    sdk.flush(5)
    recorded = ingest_server.by_name()["tokens"]
    assert recorded["output"] == ["a", "b"]
    assert recorded["status"] == "error"
    assert recorded["status_message"] == "RuntimeError: stream cut"


def test_exceptions_are_recorded_and_reraised_unchanged(client, ingest_server):
    original = ValueError("bad input")

    @observe
    def fails() -> None:
        raise original

    @observe
    async def fails_async() -> None:
        raise original

    for call in (fails, lambda: asyncio.run(fails_async())):
        with pytest.raises(ValueError) as caught:
            call()
        assert caught.value is original
        assert traceback.extract_tb(caught.value.__traceback__)[-1].line == "raise original"
    sdk.flush(5)
    failed = [s for s in ingest_server.spans if s["name"].startswith("fails")]
    assert len(failed) == 2
    for s in failed:
        assert s["status"] == "error" and s["status_message"] == "ValueError: bad input"


def test_capture_opt_out_per_decorator_and_globally(make_client, ingest_server):
    make_client()

    @observe(capture_input=False, capture_output=False)
    def secret(password: str) -> str:
        return password[::-1]

    @observe(capture_output=False)
    def half(value: int) -> int:
        return value

    secret("hunter2")
    half(7)
    sdk.flush(5)
    spans = ingest_server.by_name()
    assert "input" not in spans["secret"] and "output" not in spans["secret"]
    assert spans["half"]["input"] == {"value": 7} and "output" not in spans["half"]

    make_client(capture_input=False)
    half(8)
    sdk.flush(5)
    assert "input" not in ingest_server.spans[-1]


def test_redaction_hook_applies_to_input_output_and_messages(make_client, ingest_server):
    def redact(value):
        if isinstance(value, dict):
            return {k: "***" if k == "api_key" else redact(v) for k, v in value.items()}
        if isinstance(value, list):
            return [redact(v) for v in value]
        return value.replace("4111", "####") if isinstance(value, str) else value

    make_client(redact=redact)

    @observe(as_type="llm")
    def call(api_key: str, card: str) -> dict:
        update_current_span(messages=[{"role": "user", "content": "card 4111"}])
        return {"api_key": api_key, "echo": card}

    call("sk-live", "4111-1111")
    sdk.flush(5)
    recorded = ingest_server.by_name()["call"]
    assert recorded["input"] == {"api_key": "***", "card": "####-1111"}
    assert recorded["output"] == {"api_key": "***", "echo": "####-1111"}
    assert recorded["messages"] == [{"role": "user", "content": "card ####"}]


def test_oversized_values_are_replaced_by_the_truncation_marker(make_client, ingest_server):
    make_client(max_field_bytes=100)

    @observe
    def big(text: str) -> list[int]:
        return list(range(200))

    big("é" * 300)
    sdk.flush(5)
    recorded = ingest_server.by_name()["big"]
    marker = recorded["input"]
    assert marker["__truncated__"] is True
    assert marker["original_size"] == len('{"text":""}') + 600
    assert marker["preview"].startswith('{"text":"éé') and len(marker["preview"].encode()) <= 100
    out = recorded["output"]
    assert out["__truncated__"] is True and out["preview"].startswith("[0,1,2,")
    assert out["original_size"] == len(str(list(range(200))).replace(" ", ""))


def test_arbitrary_objects_are_serialised(client, ingest_server):
    @dataclasses.dataclass
    class Point:
        x: int
        y: int

    class Opaque:
        def __repr__(self) -> str:
            return "<Opaque>"

    @observe
    def mixed(value):
        return value

    when = datetime.datetime(2024, 5, 1, 12, 0)
    mixed(
        {
            "point": Point(1, 2),
            "when": when,
            "raw": b"hi",
            "set": {3},
            "o": Opaque(),
            1: float("nan"),
        }
    )
    sdk.flush(5)
    assert ingest_server.by_name()["mixed"]["output"] == {
        "point": {"x": 1, "y": 2},
        "when": "2024-05-01T12:00:00",
        "raw": "hi",
        "set": [3],
        "o": "<Opaque>",
        "1": "nan",
    }


def test_update_current_trace_reaches_every_span_of_the_trace(client, ingest_server):
    @observe
    def early() -> None:
        pass

    @observe
    def late() -> None:
        update_current_span(tags=["late-tag"], metadata={"step": 2})

    @observe
    def handler() -> str:
        early()
        sdk.update_current_trace(
            user_id="u-1",
            session_id="s-9",
            tags=["beta"],
            release="v2",
            metadata={"tenant": "acme"},
        )
        late()
        return sdk.get_current_trace_id()

    trace_id = handler()
    sdk.flush(5)
    spans = ingest_server.spans
    assert {s["name"] for s in spans} == {"early", "late", "handler"}
    for s in spans:
        assert s["trace_id"] == trace_id
        assert (s["user_id"], s["session_id"], s["release"]) == ("u-1", "s-9", "v2")
        assert s["tags"][0] == "beta" and s["metadata"]["tenant"] == "acme"
    late_span = next(s for s in spans if s["name"] == "late")
    assert late_span["tags"] == ["beta", "late-tag"] and late_span["metadata"]["step"] == 2


def test_span_context_manager_sync_and_async(client, ingest_server):
    with span("retrieve", as_type="retrieval", input={"q": "x"}) as s:
        s.update(documents=[{"id": "d1", "score": 0.9, "content": "text"}])
        s.set_output("ok")
        assert sdk.get_current_span_id() == s.span_id

    async def run() -> None:
        async with span("tool-call", as_type="tool", tool_name="search") as t:
            t.update(tool_arguments={"q": "y"}, output=[1])

    asyncio.run(run())
    with pytest.raises(KeyError), span("broken"):
        raise KeyError("k")
    assert sdk.get_current_span_id() is None
    sdk.flush(5)
    spans = ingest_server.by_name()
    assert spans["retrieve"]["documents"] == [{"id": "d1", "score": 0.9, "content": "text"}]
    assert spans["retrieve"]["input"] == {"q": "x"} and spans["retrieve"]["output"] == "ok"
    assert spans["tool-call"]["tool"] == {"name": "search", "arguments": {"q": "y"}}
    assert spans["broken"]["status_message"] == "KeyError: 'k'"


def test_invalid_kind_fails_at_decoration_time():
    with pytest.raises(ValueError, match="as_type"):
        observe(as_type="llm-call")


def test_disabled_mode_runs_functions_without_export(monkeypatch, caplog):
    for var in ("HALOSCOPE_HOST", "HALOSCOPE_PUBLIC_KEY", "HALOSCOPE_SECRET_KEY"):
        monkeypatch.delenv(var, raising=False)
    client = sdk.init()

    @observe
    def add(a: int, b: int) -> int:
        assert sdk.get_current_trace_id() is not None
        return a + b

    assert add(1, 2) == 3
    assert client.config.exporting is False and client.flush(1) is True
    sdk.shutdown()


def test_set_clock_backdates_spans_and_none_restores(client, ingest_server):
    ticks = iter(range(1_600_000_000_000_000, 1_600_000_000_000_100, 10))
    sdk.set_clock(lambda: next(ticks))
    try:
        with span("replayed"), span("child"):
            pass
    finally:
        sdk.set_clock(None)
    with span("live"):
        pass
    assert sdk.flush(5)
    spans = ingest_server.by_name()
    assert spans["replayed"]["start_time"] == 1_600_000_000_000_000
    assert spans["child"]["start_time"] == 1_600_000_000_000_010
    assert spans["child"]["end_time"] == 1_600_000_000_000_020
    assert spans["replayed"]["end_time"] == 1_600_000_000_000_030
    assert spans["live"]["start_time"] > 1_700_000_000_000_000
