"""One support agent written twice: with the Langfuse SDK and with the Haloscope SDK, call for
call (``@observe`` on the same functions, the same span and trace updates, the same scores).
Traced, each must give the same trace in Haloscope (tests/integrations/test_langfuse_sdk.py).

Functions are called with keyword arguments: Langfuse's ``@observe`` records a call as
``{"args": [...], "kwargs": {...}}`` and Haloscope's by parameter name, and a call without
positional arguments is stored alike (docs/integrations.md).
"""

from __future__ import annotations

from typing import Any

SYSTEM = "You are a support agent. Be brief."
QUESTION = "Where is order A17?"
ANSWER = "Order A17 shipped yesterday."
DOCUMENT_IDS = ["kb-1", "kb-2"]
PROMPT_NAME, PROMPT_VERSION = "support", 3
USAGE = (120, 40)


# update_current_trace's fields under both SDKs (Langfuse calls the release its version).
TRACE_FIELDS: dict[str, Any] = {
    "user_id": "user-42",
    "session_id": "chat-7",
    "tags": ["beta"],
    "metadata": {"tenant": "acme"},
}
RELEASE = "v1.3"


def _steps(question: str, retrieve: Any, generate: Any, respond: Any) -> dict[str, Any]:
    """The agent's steps, calling its traced functions (keyword arguments only)."""
    documents = retrieve(query=question)
    generate(messages=_messages(question), step="plan")
    return {"answer": respond(question=question, documents=documents)}


def _respond(generate: Any, question: str, documents: list[str]) -> str:
    reply = generate(messages=_messages(question, ", ".join(documents)), step="respond")
    return reply["content"]


def _messages(question: str, context: str = "") -> list[dict[str, str]]:
    system = f"{SYSTEM} Context: {context}" if context else SYSTEM
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]


def run_with_langfuse() -> dict[str, Any]:
    """The agent traced by the Langfuse SDK (configured from ``LANGFUSE_*``); its trace id."""
    from langfuse import get_client, observe
    from langfuse.api.resources.prompts.types.prompt import Prompt_Text
    from langfuse.model import TextPromptClient

    langfuse = get_client()
    prompt = TextPromptClient(
        Prompt_Text(
            name=PROMPT_NAME, version=PROMPT_VERSION, prompt=SYSTEM, config={}, labels=[], tags=[]
        )
    )

    @observe(as_type="retriever")
    def retrieve(query: str) -> list[str]:
        langfuse.update_current_span(
            level="WARNING", status_message="index is stale", metadata={"index": "kb-v2"}
        )
        langfuse.score_current_span(name="relevance", value=0.8)
        return DOCUMENT_IDS

    @observe(as_type="generation")
    def generate(messages: list[dict[str, str]], step: str) -> dict[str, str]:
        langfuse.update_current_generation(
            model="gpt-4o-mini",
            input=messages,
            usage_details={"input": USAGE[0], "output": USAGE[1]},
            model_parameters={"temperature": 0.2},
            prompt=prompt,
            metadata={"step": step},
        )
        return {"role": "assistant", "content": ANSWER}

    @observe()
    def respond(question: str, documents: list[str]) -> str:
        return _respond(generate, question, documents)

    @observe(name="support-agent")
    def answer(question: str) -> dict[str, Any]:
        langfuse.update_current_trace(**TRACE_FIELDS, version=RELEASE)
        ids["trace_id"] = langfuse.get_current_trace_id()
        return _steps(question, retrieve, generate, respond)

    ids: dict[str, Any] = {}
    answer(question=QUESTION)
    langfuse.create_score(
        name="helpful", value=1, data_type="BOOLEAN", trace_id=ids["trace_id"], comment="clear"
    )
    return ids


def run_with_haloscope() -> dict[str, Any]:
    """The same agent traced by the Haloscope SDK (configured from ``HALOSCOPE_*``); its trace
    id. The trace score is sent by the caller once the spans are stored."""
    from haloscope import sdk

    @sdk.observe(as_type="retrieval")
    def retrieve(query: str) -> list[str]:
        sdk.update_current_span(
            level="warning", status_message="index is stale", metadata={"index": "kb-v2"}
        )
        sdk.score("relevance", 0.8)
        return DOCUMENT_IDS

    @sdk.observe(as_type="llm")
    def generate(messages: list[dict[str, str]], step: str) -> dict[str, str]:
        sdk.update_current_span(
            model="gpt-4o-mini",
            input=messages,
            usage={"prompt_tokens": USAGE[0], "completion_tokens": USAGE[1]},
            metadata={
                "model_parameters": {"temperature": 0.2},
                "prompt.name": PROMPT_NAME,
                "prompt.version": PROMPT_VERSION,
                "step": step,
            },
        )
        return {"role": "assistant", "content": ANSWER}

    @sdk.observe()
    def respond(question: str, documents: list[str]) -> str:
        return _respond(generate, question, documents)

    @sdk.observe(name="support-agent")
    def answer(question: str) -> dict[str, Any]:
        sdk.update_current_trace(**TRACE_FIELDS, release=RELEASE)
        ids["trace_id"] = sdk.get_current_trace_id()
        return _steps(question, retrieve, generate, respond)

    ids: dict[str, Any] = {}
    answer(question=QUESTION)
    return ids
