"""Spans recorded by the official OpenTelemetry SDK with GenAI and OpenInference attributes."""

from __future__ import annotations

import json

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

RESOURCE = Resource.create({"service.name": "rag-app", "service.version": "2.0.1"})


def record_agent_trace(exporter: SpanExporter) -> None:
    """One trace: an agent root with GenAI chat, OpenInference LLM, retriever, tool and a failed
    span as children, exported through ``exporter``."""
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests.otel", "0.3")
    with tracer.start_as_current_span("support-agent") as root:
        root.set_attributes(
            {
                "openinference.span.kind": "AGENT",
                "session.id": "sess-9",
                "user.id": "user-3",
                "tag.tags": ["beta", "eu"],
                "input.value": "Where is my order?",
                "output.value": "It ships tomorrow.",
                "customer.tier": "gold",
            }
        )
        with tracer.start_as_current_span("chat gpt-4o") as chat:
            chat.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.system": "openai",
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.response.model": "gpt-4o-2024-08-06",
                    "gen_ai.usage.input_tokens": 42,
                    "gen_ai.usage.output_tokens": 7,
                    "gen_ai.input.messages": json.dumps([{"role": "user", "content": "hi"}]),
                    "gen_ai.output.messages": json.dumps([{"role": "assistant", "content": "yo"}]),
                }
            )
        with tracer.start_as_current_span("openinference llm") as llm:
            llm.set_attributes(
                {
                    "openinference.span.kind": "LLM",
                    "llm.model_name": "claude-3-5-haiku",
                    "llm.provider": "anthropic",
                    "llm.token_count.prompt": 11,
                    "llm.token_count.completion": 5,
                    "llm.token_count.total": 16,
                    "llm.input_messages.0.message.role": "system",
                    "llm.input_messages.0.message.content": "Be brief.",
                    "llm.input_messages.1.message.role": "user",
                    "llm.input_messages.1.message.content": "Status?",
                    "llm.output_messages.0.message.role": "assistant",
                    "llm.output_messages.0.message.content": "Shipped.",
                }
            )
        with tracer.start_as_current_span("vector search") as retriever:
            retriever.set_attributes(
                {
                    "openinference.span.kind": "RETRIEVER",
                    "retrieval.documents.0.document.id": "kb-1",
                    "retrieval.documents.0.document.score": 0.8,
                    "retrieval.documents.0.document.content": "Orders ship in 2 days.",
                    "retrieval.documents.1.document.id": "kb-2",
                    "retrieval.documents.1.document.score": 0.3,
                    "retrieval.documents.1.document.content": "Returns are free.",
                }
            )
        with tracer.start_as_current_span("execute_tool lookup_order") as tool:
            tool.set_attributes(
                {
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": "lookup_order",
                    "gen_ai.tool.call.arguments": json.dumps({"order_id": "A17"}),
                }
            )
        with tracer.start_as_current_span("flaky step") as failed:
            failed.record_exception(TimeoutError("carrier API timed out"))
            failed.set_status(Status(StatusCode.ERROR))
    provider.shutdown()


def recorded_spans() -> list[ReadableSpan]:
    """The agent trace's spans, recorded in memory."""
    exporter = InMemorySpanExporter()
    record_agent_trace(exporter)
    return list(exporter.get_finished_spans())
