"""A simulated RAG support assistant instrumented with the real SDK.

Nothing here calls a model: latency, token counts, answers and failures are drawn from a seeded
random generator, and a simulated clock (``haloscope.sdk.set_clock``) places every span at its
simulated time, so the seeded traces look like two weeks of production traffic.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from haloscope.platform.demo.knowledge import DOCS, QUESTIONS, Doc, Question
from haloscope.sdk import observe, update_current_span, update_current_trace

_WORD = re.compile(r"[a-z0-9]+")
SYSTEM_PROMPT = "You are Nimbus support. Answer only from the provided context; be brief."
# The simulated model's answers, looked up by question text: the spans record only the question,
# as a real app's would (an answer key in a span's input would be read by the judge).
ANSWER_KEY: dict[str, Question] = {q.text: q for q in QUESTIONS}


class ModelRateLimitError(RuntimeError):
    """The simulated provider refused the call (HTTP 429)."""


class ToolTimeoutError(TimeoutError):
    """The simulated order service did not answer in time."""


@dataclass
class SimulatedClock:
    """Microseconds since the epoch, advanced explicitly by the simulated app."""

    now_us: int

    def __call__(self) -> int:
        return self.now_us

    def advance_ms(self, ms: float) -> None:
        """Move the clock forward by ``ms`` milliseconds."""
        self.now_us += int(ms * 1000)


@dataclass
class Release:
    """A deployed version of the app: which model it uses and how often it goes wrong."""

    name: str
    models: tuple[tuple[str, float], ...]
    hallucination_rate: float
    llm_error_rate: float
    extra_tags: tuple[str, ...] = field(default=())


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def _tokens(text: str) -> int:
    return max(1, round(len(text.split()) * 1.3))


class SupportAssistant:
    """The instrumented app: embed the question, retrieve passages, maybe call a tool, answer.

    ``answers`` counts the answers it gave, ``contradicting`` those that contradict their
    retrieved passages (the release's hallucination rate decides each one).
    """

    def __init__(self, clock: SimulatedClock, rng: random.Random) -> None:
        self.clock = clock
        self.rng = rng
        self.answers = 0
        self.contradicting = 0

    @observe(as_type="embedding", name="embed-query")
    def embed(self, text: str) -> list[float]:
        self.clock.advance_ms(self.rng.uniform(15, 60))
        update_current_span(
            model="text-embedding-3-small",
            provider="openai",
            usage={"prompt_tokens": _tokens(text), "completion_tokens": 0},
        )
        return [round(self.rng.uniform(-1, 1), 3) for _ in range(8)]

    @observe(as_type="retrieval", name="retrieve-passages", capture_output=False)
    def retrieve(self, query: str, k: int = 3) -> list[Doc]:
        self.clock.advance_ms(self.rng.uniform(20, 90))
        query_words = _words(query)
        scored = sorted(
            ((len(query_words & _words(d.content)) / (len(query_words) or 1), d) for d in DOCS),
            key=lambda pair: -pair[0],
        )[:k]
        update_current_span(
            query=query,
            documents=[
                {"id": d.id, "score": round(0.55 + 0.45 * s, 4), "content": d.content}
                for s, d in scored
            ],
        )
        return [d for _, d in scored]

    @observe(as_type="tool", name="lookup-order")
    def lookup_order(self, order_id: str) -> dict[str, str]:
        update_current_span(tool_name="order_status", tool_arguments={"order_id": order_id})
        if self.rng.random() < 0.08:
            self.clock.advance_ms(5000)
            raise ToolTimeoutError("order service did not answer within 5 s")
        self.clock.advance_ms(self.rng.uniform(80, 300))
        return {"order_id": order_id, "status": "shipped", "warehouse": "Rotterdam"}

    @observe(as_type="llm", name="generate-answer")
    def generate(self, question: str, docs: list[Doc], release: Release) -> str:
        model = self.rng.choices(
            [m for m, _ in release.models], weights=[w for _, w in release.models]
        )[0]
        context = "\n".join(f"[{d.id}] {d.content}" for d in docs)
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {question}"},
        ]
        provider = "anthropic" if model.startswith("claude") else "openai"
        update_current_span(model=model, provider=provider, messages=messages)
        if self.rng.random() < release.llm_error_rate:
            self.clock.advance_ms(self.rng.uniform(100, 400))
            raise ModelRateLimitError(f"429 rate limit exceeded for {model}")
        hallucinated = self.rng.random() < release.hallucination_rate
        key = ANSWER_KEY[question]
        answer = key.hallucinated if hallucinated else key.faithful
        completion_tokens = _tokens(answer)
        self.clock.advance_ms(self.rng.uniform(250, 700) + completion_tokens * 18)
        update_current_span(
            usage={
                "prompt_tokens": sum(_tokens(m["content"]) for m in messages),
                "completion_tokens": completion_tokens,
            },
            metadata={"temperature": 0.2},
        )
        self.answers += 1
        self.contradicting += hallucinated
        return answer

    @observe(as_type="chain", name="support-chat")
    def answer(self, question: str, user_id: str, session_id: str, release: Release) -> str:
        update_current_trace(
            user_id=user_id,
            session_id=session_id,
            release=release.name,
            tags=["support", "rag", *release.extra_tags],
        )
        self.embed(question)
        docs = self.retrieve(question)
        if ANSWER_KEY[question].needs_order_lookup:
            try:
                self.lookup_order("48213")
            except ToolTimeoutError:
                update_current_span(metadata={"order_lookup": "timed out"})
        return self.generate(question, docs, release)
