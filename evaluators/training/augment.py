"""Training pairs that take the answer's style away as a cue, built from HaluEval QA rows.

In HaluEval QA the faithful answer is a short span and the hallucinated one a full sentence,
so a head fitted on those pairs alone learns "a sentence is a hallucination". Three kinds of
pairs whose faithful and hallucinated sides share their form are added:

* **counterfactual** (:func:`counterfactual_pairs`): the hallucinated sentence with its one run
  of invented words replaced by the right answer ("...based in Mumbai." -> "...based in
  Delhi."), paired with the hallucinated sentence itself;
* **span** (:func:`span_pairs`): the right answer and that invented run alone ("Delhi" vs
  "Mumbai"), so a short answer is not a faithful one by its form;
* **swapped** (:func:`swapped_pairs`): a sentence of the knowledge, and the same sentence with
  one number or name changed (as FactCC builds its negatives), both inside the same
  conversational frame ("Sure, ...", "... Have you heard of it?").

Both are deterministic for a given seed.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from haloscope.evaluators.text_split import split_sentences

_WORD = re.compile(r"\w+")
_NUMBER = re.compile(r"\b\d[\d,.]*\b")
# a capitalised name not at the start of the sentence ("Ian Falconer", "Bank of England")
_NAME = re.compile(
    r"(?<!^)(?<![.!?] )\b[A-Z][\w'’-]+(?:\s+(?:of|the|de|von|van|and)?\s*[A-Z][\w'’-]+)*"
)
_FILLER = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "from",
        "by",
        "with",
        "and",
        "or",
        "but",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "its",
        "this",
        "that",
        "as",
        "which",
        "who",
        "what",
        "when",
        "where",
        "how",
        "do",
        "does",
        "did",
        "has",
        "have",
        "had",
        "not",
        "no",
        "yes",
    ]
)
FRAMES: tuple[tuple[str, str], ...] = (
    ("Sure, ", ""),
    ("Yes, ", ""),
    ("I think ", ""),
    ("Actually, ", ""),
    ("Did you know that ", ""),
    ("", " Have you heard of it?"),
    ("", " Do you like it?"),
    ("Well, ", " It's a good one."),
    ("Of course! ", ""),
    ("", " Pretty interesting, right?"),
    ("", ""),
)


@dataclass(frozen=True)
class Pair:
    """One faithful and one hallucinated answer to the same knowledge and question."""

    knowledge: str
    question: str
    faithful: str
    hallucinated: str
    kind: str


def qa_pairs(rows: Sequence[dict[str, str]]) -> list[Pair]:
    """HaluEval QA rows as they are."""
    return [
        Pair(r["knowledge"], r["question"], r["right_answer"], r["hallucinated_answer"], "qa")
        for r in rows
    ]


def counterfactual_pairs(rows: Sequence[dict[str, str]]) -> list[Pair]:
    """Hallucinated sentences with their invented words replaced by the right answer, where
    exactly one run of words is absent from the knowledge and the question."""
    pairs = []
    for row in rows:
        span = _invented_span(row)
        if span is None:
            continue
        answer, (start, end) = row["hallucinated_answer"], span
        faithful = answer[:start] + row["right_answer"].strip().rstrip(".") + answer[end:]
        pairs.append(Pair(row["knowledge"], row["question"], faithful, answer, "counterfactual"))
    return pairs


def span_pairs(rows: Sequence[dict[str, str]]) -> list[Pair]:
    """The right answer and the hallucinated answer's one run of invented words, both bare,
    where that run names something (holds a number, or a capitalised word not opening the
    answer)."""
    pairs = []
    for row in rows:
        span = _invented_span(row)
        if span is not None and _names_something(row["hallucinated_answer"], *span):
            invented = row["hallucinated_answer"][span[0] : span[1]]
            pairs.append(
                Pair(row["knowledge"], row["question"], row["right_answer"], invented, "span")
            )
    return pairs


def _names_something(answer: str, start: int, end: int) -> bool:
    words = answer[start:end].split()
    if start == 0:
        words = words[1:]
    return any(w[:1].isdigit() or w[:1].isupper() for w in words)


def _invented_span(row: dict[str, str]) -> tuple[int, int] | None:
    """Character span of the hallucinated answer's only run of words absent from the
    knowledge and the question (trailing punctuation excluded); None for yes/no answers or
    when there is not exactly one such run."""
    right = row["right_answer"].strip().rstrip(".")
    if right.lower() in {"yes", "no"} or not right:
        return None
    known = {w.lower() for w in _WORD.findall(f"{row['knowledge']} {row['question']}")}
    words = list(re.finditer(r"\S+", row["hallucinated_answer"]))
    invented = [
        any(w.lower() not in known and w.lower() not in _FILLER for w in _WORD.findall(m[0]))
        for m in words
    ]
    runs = list(_runs(invented))
    if len(runs) != 1:
        return None
    first, last = runs[0]
    trailing = re.search(r"\W*$", words[last][0])
    end = words[last].end() - (len(trailing[0]) if trailing else 0)
    return (words[first].start(), end) if end > words[first].start() else None


def _runs(flags: Sequence[bool]) -> Iterator[tuple[int, int]]:
    """(first, last) index of each run of consecutive True values."""
    start = None
    for index, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = index
        elif not flag and start is not None:
            yield start, index - 1
            start = None


def swapped_pairs(rows: Sequence[dict[str, str]], seed: int = 0) -> list[Pair]:
    """One knowledge sentence per row, and the same sentence with a number or a name
    changed, both in the same conversational frame."""
    rng = random.Random(seed)
    names = [m[0] for row in rows for m in _NAME.finditer(row["knowledge"])]
    pairs = []
    for row in rows:
        sentences = [s for s in split_sentences(row["knowledge"]) if 6 <= len(s.split()) <= 40]
        rng.shuffle(sentences)
        for sentence in sentences:
            changed = None
            if _NUMBER.search(sentence) and rng.random() < 0.5:
                changed = _swap_number(sentence, rng)
            changed = changed or _swap_name(sentence, names, rng)
            if changed is None:
                continue
            before, after = rng.choice(FRAMES)
            pairs.append(
                Pair(
                    row["knowledge"],
                    row["question"],
                    _frame(sentence, before, after),
                    _frame(changed, before, after),
                    "swapped",
                )
            )
            break
    return pairs


def _frame(sentence: str, before: str, after: str) -> str:
    if before and not sentence[:2].isupper():
        sentence = sentence[:1].lower() + sentence[1:]
    return f"{before}{sentence}".rstrip() + after


def _swap_number(sentence: str, rng: random.Random) -> str | None:
    match = rng.choice(list(_NUMBER.finditer(sentence)))
    text = match[0].rstrip(".,")
    digits = text.replace(",", "")
    if not digits.replace(".", "", 1).isdigit():
        return None
    value = float(digits)
    if "." in digits:
        decimals = len(digits.split(".")[1])
        new = f"{value * rng.uniform(1.2, 2.5):.{decimals}f}"
    elif 1000 <= value <= 2100:  # a year
        new = str(int(value) + rng.choice((-1, 1)) * rng.randint(1, 25))
    else:
        step = max(1, int(value * rng.uniform(0.1, 0.9)))
        new = str(abs(int(value) + rng.choice((-1, 1)) * step))
        if "," in text:
            new = f"{int(new):,}"
    if new == text:
        return None
    return sentence[: match.start()] + new + sentence[match.start() + len(text) :]


def _swap_name(sentence: str, names: Sequence[str], rng: random.Random) -> str | None:
    matches = [m for m in _NAME.finditer(sentence) if len(m[0]) > 2]
    if not matches or not names:
        return None
    match = rng.choice(matches)
    for _ in range(10):
        name = rng.choice(names)
        if name.lower() not in sentence.lower():
            return sentence[: match.start()] + name + sentence[match.end() :]
    return None
