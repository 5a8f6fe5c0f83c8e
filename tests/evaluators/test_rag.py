"""RAG metrics with the real all-MiniLM-L6-v2 on hand-made cases whose answer is obvious."""

from __future__ import annotations

import numpy as np
import pytest
from haloscope.evaluators import EvalInput, Resources, create_evaluator
from haloscope.evaluators.rag import parse_claim_lines
from haloscope.evaluators.support import support_grids
from haloscope.evaluators.text_split import (
    key_terms,
    split_claims,
    split_sentences,
    unsupported_numbers,
)

CONTEXT = (
    "The Eiffel Tower is 330 metres tall. It was completed in 1889 by Gustave Eiffel's company.",
    "Paris is the capital of France. The Louvre is the world's most-visited museum.",
)


@pytest.fixture(scope="module")
def resources(embedder) -> Resources:
    return Resources(embedder=embedder)


def test_sentence_and_claim_splitting():
    assert split_sentences(
        "Dr. Smith paid 3.15 for the U.S. edition. He left.First it rained."
    ) == [
        "Dr. Smith paid 3.15 for the U.S. edition.",
        "He left.",
        "First it rained.",
    ]
    assert split_claims("The tower is tall; it was built in 1889, and it is made of iron.") == [
        "The tower is tall",
        "it was built in 1889",
        "and it is made of iron.",
    ]
    claim = "In 2019 the Louvre had 9,600,000 visitors."
    assert key_terms(claim) == {"2019", "louvre", "9600000", "visitors"}
    assert key_terms(claim, question="How many visitors did the Louvre get?") == {"2019", "9600000"}


def test_llm_claim_lists_are_parsed():
    assert parse_claim_lines("1. Paris is in France.\n- It has 2 airports.\n\n* ...\n") == [
        "Paris is in France.",
        "It has 2 airports.",
    ]


def test_embedder_vectors_are_unit_and_deduplicated(embedder):
    vectors = embedder.encode(["a cat", "a dog", "a cat"])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert np.array_equal(vectors[0], vectors[2])
    assert vectors[0] @ vectors[1] < 0.99


def test_faithfulness_copied_claims_supported_contradictions_not(resources):
    faithfulness = create_evaluator("faithfulness", resources=resources)
    copied, number, name, mixed = faithfulness.evaluate(
        [
            EvalInput(
                input="How tall is it?",
                output="The Eiffel Tower is 330 metres tall.",
                contexts=CONTEXT,
            ),
            EvalInput(
                input="How tall is it?",
                output="The Eiffel Tower is 500 metres tall.",
                contexts=CONTEXT,
            ),
            EvalInput(
                input="Capital?", output="Paris is the capital of Germany.", contexts=CONTEXT
            ),
            EvalInput(
                input="Tell me about Paris.",
                output="Paris is the capital of France. The Louvre was built by Napoleon on Mars.",
                contexts=CONTEXT,
            ),
        ]
    )
    assert (copied.score, copied.label) == (1.0, "faithful")
    assert copied.evidence[0].reference == "The Eiffel Tower is 330 metres tall."
    assert copied.evidence[0].score > 0.95
    assert (number.score, number.label) == (0.0, "unfaithful")
    assert name.score == 0.0 and name.evidence[0].label == "unsupported"
    assert mixed.score == 0.5 and mixed.metrics["claims"] == 2
    assert [e.label for e in mixed.evidence] == ["supported", "unsupported"]
    assert "unsupported: 'The Louvre was built by Napoleon on Mars.'" in mixed.reason


def test_unsupported_claim_cites_the_passage_it_contradicts(resources):
    """A changed figure zeroes the claim's support by every passage; its evidence must still
    name the passage about its subject (Everest), not the first passage (Eiffel)."""
    passages = (
        "The Eiffel Tower was completed in 1889 in Paris.",
        "Mount Everest is 8,849 metres tall, the highest mountain above sea level.",
    )
    (result,) = create_evaluator("faithfulness", resources=resources).evaluate(
        [
            EvalInput(
                input="How tall is Everest?",
                output="Everest is 9,100 metres tall.",
                contexts=passages,
            )
        ]
    )
    assert result.label == "unfaithful"
    (claim,) = result.evidence
    assert claim.label == "unsupported"
    assert claim.reference == passages[1]


def test_faithfulness_requires_contexts(resources):
    result = create_evaluator("faithfulness", resources=resources).evaluate_one(
        EvalInput(output="Anything.")
    )
    assert result.score is None and "contexts" in result.error


def test_answer_relevancy_on_topic_off_topic_and_refusal(resources):
    relevancy = create_evaluator("answer_relevancy", resources=resources)
    on, off, refusal = relevancy.evaluate(
        [
            EvalInput(
                input="How tall is the Eiffel Tower?", output="The Eiffel Tower is 330 metres tall."
            ),
            EvalInput(
                input="How tall is the Eiffel Tower?", output="Bananas are rich in potassium."
            ),
            EvalInput(
                input="How tall is the Eiffel Tower?",
                output="I'm sorry, but I can't help with that.",
            ),
        ]
    )
    assert on.score > 0.7 > off.score
    assert (on.label, off.label) == ("relevant", "irrelevant")
    assert refusal.score == 0.0 and refusal.reason == "the answer is a refusal"


def test_context_relevance_counts_relevant_sentences(resources):
    result = create_evaluator("context_relevance", resources=resources).evaluate_one(
        EvalInput(input="How tall is the Eiffel Tower?", contexts=CONTEXT)
    )
    assert result.score == 0.25  # only "The Eiffel Tower is 330 metres tall." of 4 sentences
    assert [e.label for e in result.evidence] == ["relevant", "irrelevant"]


def test_context_precision_rewards_ranking_the_useful_passage_first(resources):
    precision = create_evaluator("context_precision", resources=resources)
    reference = "The Eiffel Tower is 330 metres tall."
    first, second = precision.evaluate(
        [
            EvalInput(input="How tall?", contexts=CONTEXT, reference=reference),
            EvalInput(input="How tall?", contexts=CONTEXT[::-1], reference=reference),
        ]
    )
    assert first.score == 1.0
    assert second.score == 0.5  # useful passage at rank 2: precision@2 = 1/2
    assert [e.label for e in second.evidence] == ["not_useful", "useful"]


def test_context_recall_share_of_reference_claims_found(resources):
    result = create_evaluator("context_recall", resources=resources).evaluate_one(
        EvalInput(
            input="Facts?",
            contexts=CONTEXT,
            reference="Paris is the capital of France. The tower has 7 elevators.",
        )
    )
    assert result.score == 0.5
    assert [e.label for e in result.evidence] == ["covered", "missing"]


def test_unsupported_numbers_are_the_figures_the_context_lacks():
    passage = "Mount Everest is 8,849 metres tall; it was first climbed in 1953."
    assert unsupported_numbers("Everest is 8849 metres tall.", passage) == []
    assert unsupported_numbers("Everest is 9,100 metres tall, climbed in 1953.", passage) == [
        "9100"
    ]
    assert unsupported_numbers("It has 2 peaks.", passage, question="Why 2 peaks?") == []


def test_each_claim_is_checked_against_the_passages_closest_to_it(embedder):
    long_passage = " ".join(
        [
            "The Louvre is the world's most-visited museum.",
            *[f"Room {n} holds paintings from the {n}th century." for n in range(10, 30)],
            "The Eiffel Tower is 330 metres tall.",
        ]
    )
    passages = ("Paris is the capital of France.", long_passage)
    claims = ["The Eiffel Tower is 330 metres tall.", "Paris is the capital of France."]
    (grid,) = support_grids(embedder, [claims], [passages], ["Tell me about Paris."])
    tower = grid.context_window(0, budget=200)
    assert "The Eiffel Tower is 330 metres tall." in tower and len(tower) <= 200
    assert "Paris is the capital" not in tower  # the other passage is not close enough
    assert grid.context_window(1, budget=200) == passages[0]
    # sentences kept from a long passage stay in their document order
    window = grid.context_window(0, budget=400)
    kept = [s for s in split_sentences(long_passage) if s in window]
    assert window.endswith(kept[-1]) and kept[-1] == "The Eiffel Tower is 330 metres tall."
