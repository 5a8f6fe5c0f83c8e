"""How well each claim is supported by each passage: embedding similarity x key-term coverage.

Embeddings catch paraphrase but not a changed number or name ("330 m" vs "300 m" embed almost
identically), so a claim's similarity to a passage is multiplied by the share of its key terms
(numbers, capitalised names) that occur in that passage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from haloscope.evaluators.embeddings import Embedder
from haloscope.evaluators.text_split import key_terms, split_sentences, text_terms

SHORT_CLAIM_WORDS = 4


@dataclass(frozen=True)
class SupportGrid:
    """Support of ``claims`` (rows) by ``passages`` (columns) for one item.

    ``scores[c, p]`` in [0, 1]; ``similarity[c, p]`` the cosine similarity of claim ``c`` to
    the passage's most similar sentence, ``best_sentence[c][p]``; ``missing[c][p]`` the claim's
    key terms absent from passage ``p``; ``sentences[p]`` the passage's sentences and
    ``sentence_similarity[p]`` their similarity to each claim (``[claims, sentences]``).
    """

    claims: list[str]
    passages: tuple[str, ...]
    scores: np.ndarray
    similarity: np.ndarray
    best_sentence: list[list[str]]
    missing: list[list[list[str]]]
    sentences: list[list[str]]
    sentence_similarity: list[np.ndarray]

    def best_passage(self, claim: int) -> int:
        """Index of the passage supporting claim ``claim`` best; among equally supporting
        passages (an unsupported claim: all zero) the one most similar to the claim, which is
        the passage it contradicts rather than an unrelated one."""
        scores = self.scores[claim]
        tied = np.flatnonzero(scores == scores.max())
        return int(tied[np.argmax(self.similarity[claim, tied])])

    def context_window(self, claim: int, budget: int, near: float = 0.1) -> str:
        """The context a claim is checked against: the passage most similar to it, then those
        within ``near`` of its similarity, while ``budget`` characters allow. A passage longer
        than what is left gives its sentences most similar to the claim, in their order."""
        similarity = self.similarity[claim]
        order = np.argsort(-similarity, kind="stable")
        parts: list[str] = []
        left = budget
        for p in order:
            if parts and (similarity[p] < similarity[order[0]] - near or left <= 0):
                break
            text = self.passages[p]
            if len(text) > left:
                text = self._best_sentences(claim, int(p), left)
            if text:
                parts.append(text)
                left -= len(text)
        return "\n\n".join(parts)

    def _best_sentences(self, claim: int, passage: int, budget: int) -> str:
        """The passage's sentences most similar to the claim that fit ``budget`` characters
        (at least the best one), joined in document order."""
        sentences = self.sentences[passage]
        ranked = np.argsort(-self.sentence_similarity[passage][claim], kind="stable")
        chosen, used = [], 0
        for index in ranked:
            length = len(sentences[index]) + 1
            if chosen and used + length > budget:
                continue
            chosen.append(int(index))
            used += length
        return " ".join(sentences[i] for i in sorted(chosen))

    def claim_support(self) -> np.ndarray:
        """Each claim's support by its best passage."""
        if self.scores.size == 0:
            return np.zeros(len(self.claims))
        return self.scores.max(axis=1)


def support_grids(
    embedder: Embedder,
    claims: Sequence[list[str]],
    passages: Sequence[tuple[str, ...]],
    questions: Sequence[str],
    check_key_terms: bool = True,
) -> list[SupportGrid]:
    """Support grids for a batch of items, with one embedding call for all texts.

    Claims of fewer than ``SHORT_CLAIM_WORDS`` words (a bare "Delhi") are embedded after the
    item's question so they carry their meaning.
    """
    sentences = [[split_sentences(p) or [p] for p in item] for item in passages]
    claim_texts = [
        f"{q} {c}" if q and len(c.split()) < SHORT_CLAIM_WORDS else c
        for item_claims, q in zip(claims, questions, strict=True)
        for c in item_claims
    ]
    sentence_texts = [s for item in sentences for passage in item for s in passage]
    vectors = embedder.encode(claim_texts + sentence_texts)
    claim_vecs, sentence_vecs = vectors[: len(claim_texts)], vectors[len(claim_texts) :]
    grids, c0, s0 = [], 0, 0
    for item_claims, item_passages, item_sentences, question in zip(
        claims, passages, sentences, questions, strict=True
    ):
        n_sent = sum(len(s) for s in item_sentences)
        sims = np.clip(
            claim_vecs[c0 : c0 + len(item_claims)] @ sentence_vecs[s0 : s0 + n_sent].T, 0, 1
        )
        grids.append(
            _grid(item_claims, item_passages, item_sentences, sims, question, check_key_terms)
        )
        c0, s0 = c0 + len(item_claims), s0 + n_sent
    return grids


def _grid(
    claims: list[str],
    passages: tuple[str, ...],
    sentences: list[list[str]],
    sims: np.ndarray,
    question: str,
    check_key_terms: bool,
) -> SupportGrid:
    scores = np.zeros((len(claims), len(passages)))
    similarity = np.zeros_like(scores)
    best: list[list[str]] = [[""] * len(passages) for _ in claims]
    missing: list[list[list[str]]] = [[[] for _ in passages] for _ in claims]
    passage_terms = [text_terms(p) for p in passages]
    blocks: list[np.ndarray] = []
    start = 0
    for p, passage_sentences in enumerate(sentences):
        block = sims[:, start : start + len(passage_sentences)]
        start += len(passage_sentences)
        for c, claim in enumerate(claims):
            j = int(np.argmax(block[c]))
            best[c][p] = passage_sentences[j]
            terms = key_terms(claim, question) if check_key_terms else set()
            absent = sorted(terms - passage_terms[p])
            missing[c][p] = absent
            similarity[c, p] = float(block[c, j])
            scores[c, p] = similarity[c, p] * term_coverage(terms, absent)
        blocks.append(block)
    return SupportGrid(claims, passages, scores, similarity, best, missing, sentences, blocks)


def term_coverage(terms: set[str], absent: list[str]) -> float:
    """Share of key terms found; 0 when a number is missing (a changed figure is a new fact)."""
    if not terms:
        return 1.0
    if any(term[:1].isdigit() for term in absent):
        return 0.0
    return 1 - len(absent) / len(terms)
