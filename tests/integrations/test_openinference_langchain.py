"""The OpenInference LangChain instrumentor (openinference-instrumentation-langchain) over a
LangChain retrieval chain with langchain-openai's ChatOpenAI, unchanged, exporting OTLP/HTTP:
the retriever's documents, the chat model's typed messages, tokens and cost, the chain tree."""

from __future__ import annotations

from tests.integrations import canned_openai as canned
from tests.integrations import harness
from tests.integrations.traced_apps import DOCUMENTS, QUESTION, SYSTEM
from tests.support.api_fixtures import LiveApi


def test_openinference_langchain_spans(
    live_api: LiveApi, canned_openai: canned.CannedOpenAI
) -> None:
    keys = live_api.new_project()
    run = harness.run_app("openinference-langchain", live_api, keys, canned_openai)
    assert run.ids["answer"] == canned.ANSWER
    trace = harness.stored_trace(live_api, keys, run.ids["trace_id"], 10)
    spans = harness.by_name(trace)
    ids = {span["span_id"]: span for span in trace["spans"]}

    (root,) = spans["support-agent"]
    (chain,) = [s for s in spans["RunnableSequence"] if s["parent_span_id"] == root["span_id"]]
    assert (chain["kind"], chain["input"], chain["output"]) == ("chain", QUESTION, canned.ANSWER)

    (retriever,) = spans["KnowledgeBase"]
    assert retriever["kind"] == "retrieval"
    assert retriever["input"] == QUESTION
    assert [doc["content"] for doc in retriever["documents"]] == [text for _, text in DOCUMENTS]
    # The retriever runs inside the chain's parallel step, under the chain.
    ancestor = retriever
    while ancestor["parent_span_id"] != chain["span_id"]:
        ancestor = ids[ancestor["parent_span_id"]]

    (llm,) = spans["ChatOpenAI"]
    assert (llm["kind"], llm["model"], llm["provider"]) == ("llm", canned.MODEL, "openai")
    assert llm["parent_span_id"] == chain["span_id"]
    context = "\n".join(text for _, text in DOCUMENTS)
    assert llm["input"] == [
        {"role": "system", "content": f"{SYSTEM} Context: {context}"},
        {"role": "user", "content": QUESTION},
    ]
    assert llm["output"] == {"role": "assistant", "content": canned.ANSWER}
    harness.assert_list_priced(llm, canned.PROMPT_TOKENS, canned.COMPLETION_TOKENS)
    assert harness.flattened_keys(llm) == []
    (parser,) = spans["StrOutputParser"]
    assert (parser["kind"], parser["output"]) == ("chain", canned.ANSWER)
