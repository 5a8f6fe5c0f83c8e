"""Small applications traced by a third-party client, each run in its own process
(``python -m tests.integrations.traced_apps NAME``) so that the instrumentors' global state
(patched clients, the global tracer provider, atexit hooks) never reaches the test process.

Each talks to the canned OpenAI-compatible server at ``$CANNED_OPENAI_URL``, exports to the
Haloscope API at ``$HALOSCOPE_API_URL`` with the key pair ``$HALOSCOPE_PUBLIC_KEY`` /
``$HALOSCOPE_SECRET_KEY`` (the Langfuse app reads the ``LANGFUSE_*`` variables instead, as a
Langfuse user's application does), flushes, and prints one JSON line: the ids the test needs.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

QUESTION = "Where is order A17?"
SYSTEM = "You are a support agent. Be brief."
TOOL_RESULT = "A17 shipped yesterday."
EMBEDDED = ["Where is order A17?", "Returns are free."]
DOCUMENTS = [("kb-1", "Orders ship within 2 days."), ("kb-2", "Returns are free.")]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "description": "Look an order up by id.",
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}},
        },
    }
]
APPS: dict[str, Callable[[], dict[str, Any]]] = {}


def app(function: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    APPS[function.__name__.replace("_", "-")] = function
    return function


def _openai() -> Any:
    import openai

    return openai.OpenAI(base_url=os.environ["CANNED_OPENAI_URL"], api_key="sk-canned")


def chat_with_tool(client: Any, question: str) -> str:
    """A chat that calls a tool, then the chat that answers from the tool's result."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": question},
    ]
    first = client.chat.completions.create(
        model="gpt-4o-mini", messages=messages, tools=TOOLS, temperature=0.2
    )
    call = first.choices[0].message.tool_calls[0]
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": TOOL_RESULT})
    answer = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=TOOLS)
    return answer.choices[0].message.content


def support_calls(client: Any) -> None:
    """The conversation every OpenAI instrumentor test records: the chats of
    :func:`chat_with_tool` and an embeddings request."""
    chat_with_tool(client, QUESTION)
    client.embeddings.create(model="text-embedding-3-small", input=EMBEDDED)


def _otlp_provider() -> Any:
    """A tracer provider exporting to the Haloscope API's ``/v1/traces``."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(
        resource=Resource.create({"service.name": "support-bot", "service.version": "2.4.0"})
    )
    exporter = OTLPSpanExporter(
        endpoint=f"{os.environ['HALOSCOPE_API_URL']}/v1/traces", headers=_bearer()
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def _bearer() -> dict[str, str]:
    keys = f"{os.environ['HALOSCOPE_PUBLIC_KEY']}:{os.environ['HALOSCOPE_SECRET_KEY']}"
    return {"Authorization": f"Bearer {keys}"}


def _trace_id(span: Any) -> str:
    return format(span.get_span_context().trace_id, "032x")


@app
def openinference_openai() -> dict[str, Any]:
    from openinference.instrumentation import using_prompt_template, using_session, using_user
    from openinference.instrumentation.openai import OpenAIInstrumentor

    provider = _otlp_provider()
    OpenAIInstrumentor().instrument(tracer_provider=provider)
    tracer = provider.get_tracer("support-bot")
    with tracer.start_as_current_span("support-agent") as root:
        root.set_attribute("openinference.span.kind", "AGENT")
        with (
            using_session("sess-17"),
            using_user("user-17"),
            using_prompt_template(template=SYSTEM, version="v3", variables={}),
        ):
            support_calls(_openai())
    provider.shutdown()
    return {"trace_id": _trace_id(root)}


@app
def openinference_langchain() -> dict[str, Any]:
    from langchain_core.documents import Document
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.runnables import RunnablePassthrough
    from langchain_openai import ChatOpenAI
    from openinference.instrumentation.langchain import LangChainInstrumentor

    class KnowledgeBase(BaseRetriever):
        def _get_relevant_documents(self, query: str, *, run_manager: Any) -> list[Document]:
            return [Document(page_content=text, id=doc_id) for doc_id, text in DOCUMENTS]

    def joined(documents: list[Document]) -> str:
        return "\n".join(document.page_content for document in documents)

    provider = _otlp_provider()
    LangChainInstrumentor().instrument(tracer_provider=provider)
    prompt = ChatPromptTemplate.from_messages(
        [("system", SYSTEM + " Context: {context}"), ("human", "{question}")]
    )
    llm = ChatOpenAI(
        model="gpt-4o-mini",
        base_url=os.environ["CANNED_OPENAI_URL"],
        api_key="sk-canned",
        temperature=0,
    )
    chain = (
        {"context": KnowledgeBase() | joined, "question": RunnablePassthrough()}
        | prompt
        | llm
        | StrOutputParser()
    )
    tracer = provider.get_tracer("support-bot")
    with tracer.start_as_current_span("support-agent") as root:
        answer = chain.invoke(QUESTION)
    provider.shutdown()
    return {"trace_id": _trace_id(root), "answer": answer}


@app
def otel_genai_openai_v2() -> dict[str, Any]:
    # Message content as span attributes, in the latest GenAI conventions (the default sends
    # none, and EVENT_ONLY sends log records, which Haloscope does not take).
    os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "SPAN_ONLY"
    os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "gen_ai_latest_experimental"
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    provider = _otlp_provider()
    OpenAIInstrumentor().instrument(tracer_provider=provider)
    tracer = provider.get_tracer("support-bot")
    with tracer.start_as_current_span("support-agent") as root:
        root.set_attribute("gen_ai.operation.name", "invoke_agent")
        support_calls(_openai())
    provider.shutdown()
    return {"trace_id": _trace_id(root)}


@app
def traceloop() -> dict[str, Any]:
    os.environ["TRACELOOP_TELEMETRY"] = "false"
    from opentelemetry import trace
    from traceloop.sdk import Traceloop
    from traceloop.sdk.decorators import task, workflow
    from traceloop.sdk.instruments import Instruments

    Traceloop.init(
        app_name="support-bot",
        api_endpoint=os.environ["HALOSCOPE_API_URL"],
        headers=_bearer(),
        disable_batch=True,
        telemetry_enabled=False,
        instruments={Instruments.OPENAI},
    )
    Traceloop.set_association_properties({"user_id": "user-17", "session_id": "sess-17"})
    client = _openai()
    ids: dict[str, Any] = {}

    @task(name="embed")
    def embed(texts: list[str]) -> int:
        client.embeddings.create(model="text-embedding-3-small", input=texts)
        return len(texts)

    @workflow(name="support")
    def support(question: str) -> str:
        ids["trace_id"] = _trace_id(trace.get_current_span())
        answer = chat_with_tool(client, question)
        embed(texts=EMBEDDED)
        return answer

    ids["answer"] = support(question=QUESTION)
    trace.get_tracer_provider().force_flush()
    return ids


@app
def langfuse_sdk() -> dict[str, Any]:
    from langfuse import get_client

    from tests.integrations.support_code import run_with_langfuse

    ids = run_with_langfuse()
    client = get_client()
    ids["auth_check"] = client.auth_check()
    client.flush()
    client.shutdown()
    return ids


@app
def haloscope_sdk() -> dict[str, Any]:
    import time

    import httpx
    from haloscope import sdk

    from tests.integrations.support_code import run_with_haloscope

    api = os.environ["HALOSCOPE_API_URL"]
    keys = (os.environ["HALOSCOPE_PUBLIC_KEY"], os.environ["HALOSCOPE_SECRET_KEY"])
    sdk.init(host=api, public_key=keys[0], secret_key=keys[1], flush_interval=0.05)
    ids = run_with_haloscope()
    sdk.flush(timeout=20)
    # A score of another trace is placed at the stored trace's start: wait until it is stored.
    deadline = time.monotonic() + 20
    while httpx.get(f"{api}/api/v1/traces/{ids['trace_id']}", auth=keys).status_code != 200:
        assert time.monotonic() < deadline, "the trace was not stored in time"
        time.sleep(0.1)
    sdk.score("helpful", True, trace_id=ids["trace_id"], comment="clear")
    sdk.flush(timeout=20)
    sdk.shutdown()
    return ids


def main() -> None:
    result = APPS[sys.argv[1]]()
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    os._exit(0)  # the instrumented clients' atexit hooks have nothing left to send


if __name__ == "__main__":
    main()
