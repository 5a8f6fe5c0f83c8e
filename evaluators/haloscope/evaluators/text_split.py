"""Splitting text into sentences and claims, and extracting the entities a claim asserts."""

from __future__ import annotations

import re

_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "no",
        "vol",
        "fig",
        "inc",
        "ltd",
        "co",
        "corp",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "u.s",
        "u.k",
        "approx",
    ]
)
# end punctuation, optional closing quote/bracket, then whitespace or a capital directly
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]?(?:\s+|(?=[A-Z\"]))")
_CLAUSE = re.compile(r";\s+|,\s+(?=(?:and|but|while|whereas|although)\s)")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "yes",
        "you",
        "your",
        "yours",
        "one",
        "ones",
        "known",
        "called",
        "named",
    ]
)


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``; handles common abbreviations, decimals and a missing space.

    A period glued to a capital ("century.First") also ends a sentence, as in scraped text.
    """
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        candidate = text[start : match.start()].strip()
        last_word = candidate.rsplit(None, 1)[-1].lower().rstrip(".") if candidate else ""
        if not candidate or last_word in _ABBREVIATIONS or re.fullmatch(r"[a-z]", last_word):
            continue
        sentences.append(text[start : match.end()].strip())
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def split_claims(text: str, min_clause_words: int = 3) -> list[str]:
    """Claims of an answer: its sentences, further split at ``;`` and coordinating commas.

    A clause is split off only when both sides keep at least ``min_clause_words`` words.
    """
    claims: list[str] = []
    for sentence in split_sentences(text):
        parts = [sentence]
        for cut in _CLAUSE.finditer(sentence):
            head, tail = sentence[: cut.start()], sentence[cut.end() :]
            if min(len(head.split()), len(tail.split())) >= min_clause_words:
                parts = [p.strip() for p in _CLAUSE.split(sentence) if p.strip()]
                break
        claims.extend(parts)
    return [c for c in claims if any(ch.isalnum() for ch in c)]


def key_terms(claim: str, question: str = "") -> set[str]:
    """What a claim asserts beyond its question: numbers, names and content words, lower-cased.

    Stopwords and the words of ``question`` are excluded (restating the question asserts
    nothing); a capitalised stopword at the start of a sentence is not a name.
    """
    words = {_normalise(w) for w in re.findall(r"[\w'’-]+", claim)}
    numbers = {n.replace(",", "") for n in _NUMBER.findall(claim)}
    terms = numbers | {w for w in words if w and w not in _STOPWORDS and not w.isdigit()}
    return terms - text_terms(question) if question else terms


def unsupported_numbers(claim: str, context: str, question: str = "") -> list[str]:
    """Numbers the claim states that neither the context nor the question contains ("9,100"
    against a passage saying 8,849): a changed figure is a new fact."""
    stated = {n.replace(",", "") for n in _NUMBER.findall(claim)}
    return sorted(stated - text_terms(context) - text_terms(question))


def text_terms(text: str) -> set[str]:
    """All word and number tokens of ``text``, lower-cased (to look key terms up in)."""
    words = {_normalise(w) for w in re.findall(r"[\w'’-]+", text)}
    return words | {n.replace(",", "") for n in _NUMBER.findall(text)}


def _normalise(word: str) -> str:
    word = word.lower().strip("'’-")
    return word.removesuffix("'s").removesuffix("’s")
