"""The annotation services on SQLite and PostgreSQL over the chDB trace store: queues from a
trace filter and from a sampling rule's judged spans, the next item per reviewer with k labels,
labels stored as annotation scores (validated, idempotent), skips, progress, the size cap, the
judge's verdict and the dataset export."""

from __future__ import annotations

from typing import Any

import pytest
from haloscope.platform.annotation import export, queues, reviews
from haloscope.platform.annotation.content import item_contents, judge_verdicts
from haloscope.platform.annotation.errors import (
    AnnotationConflict,
    AnnotationError,
    AnnotationNotFound,
)
from haloscope.platform.db.models import AnnotationItem, AnnotationQueue
from haloscope.platform.evals import records
from haloscope.platform.store import TraceFilter, TraceStore
from haloscope.platform.store.score_queries import ScoreFilter
from haloscope.platform.store.scores import ScoreStore
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.annotation.stored import (
    StoredTrace,
    judge,
    new_project,
    sampling_rule,
    store_trace,
)

A, B, C = "ann@example.com", "bo@example.com", "cy@example.com"
GOOD = {"correct": True, "tone": "polite", "stars": 4}


@pytest.fixture
def project(sessionmaker: sessionmaker[Session]) -> str:
    return new_project(sessionmaker)


@pytest.fixture
def traces(chdb_store: TraceStore, project: str) -> list[StoredTrace]:
    """Three traces of release v1 (newest last) and one of v2."""
    stored = [store_trace(chdb_store, project, i) for i in range(3)]
    store_trace(chdb_store, project, 3, release="v2")
    return stored


def filter_spec(name: str = "review", **changes: Any) -> queues.QueueSpec:
    fields: dict[str, Any] = {
        "name": name,
        "score_names": ("correct", "tone", "stars"),
        "source": queues.FilterSource(TraceFilter(release="v1")),
        "required_labels": 2,
    }
    fields.update(changes)
    return queues.QueueSpec(**fields)


def make_queue(
    sessions: sessionmaker[Session], store: TraceStore, project: str, spec: queues.QueueSpec
) -> str:
    with sessions.begin() as session:
        return queues.create_queue(session, store, project, spec, "tests").id


def load(session: Session, queue_id: str) -> AnnotationQueue:
    queue = session.get(AnnotationQueue, queue_id)
    assert queue is not None
    return queue


@pytest.fixture
def queue_id(
    sessionmaker: sessionmaker[Session],
    chdb_store: TraceStore,
    project: str,
    traces: list[StoredTrace],
) -> str:
    """The queue of the v1 traces (filter_spec())."""
    return make_queue(sessionmaker, chdb_store, project, filter_spec())


def next_position(session: Session, queue: AnnotationQueue, reviewer: str) -> int | None:
    item = reviews.next_item(session, queue, reviewer)
    return None if item is None else item.position


def item_at(session: Session, queue: AnnotationQueue, position: int) -> AnnotationItem:
    return session.scalars(
        select(AnnotationItem).where(
            AnnotationItem.queue_id == queue.id, AnnotationItem.position == position
        )
    ).one()


def test_a_filter_queue_hands_each_reviewer_the_next_item_until_k_labels(
    sessionmaker: sessionmaker[Session],
    chdb_store: TraceStore,
    traces: list[StoredTrace],
    queue_id: str,
) -> None:
    with sessionmaker() as session:
        queue = load(session, queue_id)
        assert queue.source["kind"] == "filter"
        assert queue.source["release"] == "v1" and queue.source["score"] is None
        items = queues.list_items(session, queue, limit=10, offset=0)
        # Whole traces, newest first, the v2 trace left out.
        assert [i["trace_id"] for i in items] == [t.trace_id for t in reversed(traces)]
        assert all(i["span_id"] is None for i in items)

        assert next_position(session, queue, A) == 0
        reviews.label_item(session, chdb_store, queue, item_at(session, queue, 0), A, GOOD)
        assert next_position(session, queue, A) == 1
        assert next_position(session, queue, B) == 0
        reviews.skip_item(session, item_at(session, queue, 0), B, "unsure")
        assert next_position(session, queue, B) == 1
        reviews.label_item(session, chdb_store, queue, item_at(session, queue, 1), B, GOOD)
        reviews.label_item(session, chdb_store, queue, item_at(session, queue, 1), A, GOOD)
        session.commit()
        # Item 1 has its two labels; item 0 has one (B skipped it), so C starts there.
        assert next_position(session, queue, C) == 0
        assert next_position(session, queue, A) == 2
        progress = queues.queue_progress(session, queue)
        assert progress == queues.QueueProgress(3, 1, {A: 2, B: 1}, {B: 1})
        listed = queues.list_items(session, queue, limit=2, offset=0)
        assert [i["done"] for i in listed] == [False, True]
        assert listed[0]["labelled_by"] == [A] and listed[0]["skipped_by"] == [B]
        assert sorted(listed[1]["labelled_by"]) == [A, B]

        for position in (0, 2):
            reviews.label_item(
                session, chdb_store, queue, item_at(session, queue, position), C, GOOD
            )
        assert next_position(session, queue, C) is None
        assert next_position(session, queue, B) == 2


def test_labels_are_validated_annotation_scores_and_relabelling_replaces_them(
    sessionmaker: sessionmaker[Session],
    chdb_store: TraceStore,
    project: str,
    queue_id: str,
) -> None:
    scores = ScoreStore(chdb_store.driver)
    with sessionmaker() as session:
        queue = load(session, queue_id)
        item = item_at(session, queue, 0)
        for values, reason in (
            ({**GOOD, "stars": 9}, "above 'stars''s max_value"),
            ({**GOOD, "tone": "curt"}, "'curt' is not one of 'tone''s categories"),
            ({**GOOD, "correct": "yes"}, "takes boolean values"),
            ({"correct": True}, "missing ['tone', 'stars']"),
            ({**GOOD, "extra": 1}, "['extra'] are not score configs of this queue"),
            ({**GOOD, "stars": [1]}, "stars: value must be a number"),
        ):
            with pytest.raises(
                AnnotationError, match=reason.replace("[", r"\[").replace("]", r"\]")
            ):
                reviews.label_item(session, chdb_store, queue, item, A, values)
        with pytest.raises(AnnotationError, match="reviewer is required"):
            reviews.label_item(session, chdb_store, queue, item, "  ", GOOD)
        with pytest.raises(AnnotationConflict, match="labelled"):
            reviews.label_item(session, chdb_store, queue, item, A, GOOD, "first")
            session.commit()
            reviews.skip_item(session, item, A)
        reviews.label_item(session, chdb_store, queue, item, A, {**GOOD, "stars": 2}, "second")
        session.commit()
        stored = scores.list(project, ScoreFilter(sources=("annotation",))).rows
        assert sorted((r["name"], r["author"], r["comment"]) for r in stored) == [
            ("correct", A, "second"),
            ("stars", A, "second"),
            ("tone", A, "second"),
        ]
        by_name = {r["name"]: r for r in stored}
        assert float(by_name["stars"]["value"]) == 2.0
        assert by_name["tone"]["string_value"] == "polite"
        assert by_name["correct"]["value_type"] == "boolean"
        assert all(r["trace_id"] == item.trace_id and r["span_id"] == "" for r in stored)
        assert all(
            r["idempotency_key"].startswith(reviews.label_key_prefix(queue.id)) for r in stored
        )
        assert queues.queue_progress(session, queue).labels_by_reviewer == {A: 1}


def test_a_rule_queue_takes_the_spans_its_runs_judged_and_reveals_the_verdict(
    sessionmaker: sessionmaker[Session],
    chdb_store: TraceStore,
    project: str,
    traces: list[StoredTrace],
) -> None:
    rule_id, (first_run, second_run) = sampling_rule(sessionmaker, project, runs=2)
    judge(chdb_store, project, traces[0], first_run, "60 days is not in the context")
    judge(chdb_store, project, traces[2], second_run, "the passage says otherwise")
    _, (other_run,) = sampling_rule(sessionmaker, project, runs=1)
    judge(chdb_store, project, traces[1], other_run, "another rule's verdict")

    spec = filter_spec("all", source=queues.RuleSource(rule_id), required_labels=1)
    all_runs = make_queue(sessionmaker, chdb_store, project, spec)
    spec = filter_spec("one", source=queues.RuleSource(rule_id, second_run), required_labels=1)
    one_run = make_queue(sessionmaker, chdb_store, project, spec)
    with sessionmaker() as session:
        queue = load(session, all_runs)
        assert queue.source == {"kind": "sampling_rule", "rule_id": rule_id, "run_id": None}
        items = queues.list_items(session, queue, limit=10, offset=0)
        assert [(i["trace_id"], i["span_id"]) for i in items] == [
            (traces[0].trace_id, traces[0].llm_id),
            (traces[2].trace_id, traces[2].llm_id),
        ]
        single = load(session, one_run)
        assert [i["trace_id"] for i in queues.list_items(session, single, limit=10, offset=0)] == [
            traces[2].trace_id
        ]

        item = item_at(session, queue, 0)
        content = item_contents(chdb_store, project, [item])[item.id]
        assert content.span_id == traces[0].llm_id and content.span_name == "generate"
        assert content.question == traces[0].question and content.answer == traces[0].answer
        assert content.passages == (traces[0].passage,)
        verdicts = judge_verdicts(chdb_store, project, item)
        assert [(v["name"], v["label"], v["reason"]) for v in verdicts] == [
            ("hallucination.rag", "hallucinated", "60 days is not in the context")
        ]
        reviews.label_item(session, chdb_store, queue, item, A, GOOD)
        session.commit()
        labels = ScoreStore(chdb_store.driver).list(project, ScoreFilter(sources=("annotation",)))
        assert {r["span_id"] for r in labels.rows} == {traces[0].llm_id}

        for source, missing in (
            (queues.RuleSource("no-such-rule"), "sampling rule 'no-such-rule' not found"),
            (queues.RuleSource(rule_id, other_run), f"sampling run '{other_run}'"),
        ):
            with pytest.raises(AnnotationNotFound, match=missing):
                queues.create_queue(
                    session, chdb_store, project, filter_spec("x", source=source), "tests"
                )


def test_a_trace_item_shows_the_root_question_answer_and_the_traces_passages(
    sessionmaker: sessionmaker[Session],
    chdb_store: TraceStore,
    project: str,
    traces: list[StoredTrace],
    queue_id: str,
) -> None:
    with sessionmaker() as session:
        queue = load(session, queue_id)
        item = item_at(session, queue, 0)
        content = item_contents(chdb_store, project, [item])[item.id]
        newest = traces[-1]
        assert (content.span_id, content.span_name) == (newest.root_id, "answer_question")
        assert (content.question, content.answer) == (newest.question, newest.answer)
        assert content.passages == (newest.passage,)


def test_queue_creation_is_validated_and_capped(
    sessionmaker: sessionmaker[Session],
    chdb_store: TraceStore,
    project: str,
    monkeypatch: pytest.MonkeyPatch,
    queue_id: str,  # the queue "review" of the v1 traces
) -> None:
    with sessionmaker() as session:
        for spec, error, reason in (
            (filter_spec(), AnnotationConflict, "'review' already exists"),
            (filter_spec("n", score_names=("nope",)), AnnotationError, "no score config"),
            (filter_spec("n", score_names=()), AnnotationError, "score_names must list"),
            (filter_spec("n", required_labels=0), AnnotationError, "required_labels"),
            (filter_spec(" n"), AnnotationError, "outer blanks"),
            (
                filter_spec("n", source=queues.FilterSource(TraceFilter(release="none"))),
                AnnotationError,
                "has no items",
            ),
        ):
            with pytest.raises(error, match=reason):
                queues.create_queue(session, chdb_store, project, spec, "tests")
        monkeypatch.setattr(queues, "MAX_QUEUE_ITEMS", 2)
        with pytest.raises(AnnotationError, match="more than 2 items"):
            queues.create_queue(session, chdb_store, project, filter_spec("big"), "tests")
        capped = queues.create_queue(
            session, chdb_store, project, filter_spec("capped", max_items=2), "tests"
        )
        assert queues.queue_progress(session, capped).items_total == 2


def test_labelled_items_become_a_dataset_version_once(
    sessionmaker: sessionmaker[Session],
    chdb_store: TraceStore,
    project: str,
    traces: list[StoredTrace],
    queue_id: str,
) -> None:
    with pytest.raises(AnnotationConflict, match="no item of the queue has 2 label"):
        export.export_dataset(sessionmaker, chdb_store, queue_id, "golden")
    with sessionmaker() as session:
        queue = load(session, queue_id)
        first, second = item_at(session, queue, 0), item_at(session, queue, 1)
        reviews.label_item(session, chdb_store, queue, first, A, GOOD, "fine")
        reviews.label_item(
            session, chdb_store, queue, first, B, {"correct": False, "tone": "polite", "stars": 2}
        )
        reviews.label_item(session, chdb_store, queue, second, A, GOOD)
        session.commit()
    with pytest.raises(AnnotationError, match="invalid dataset name"):
        export.export_dataset(sessionmaker, chdb_store, queue_id, "no spaces")
    version = export.export_dataset(sessionmaker, chdb_store, queue_id, "golden")
    assert version["created"] and version["version"] == 1 and version["item_count"] == 1
    assert version["left_out"] == 0
    again = export.export_dataset(sessionmaker, chdb_store, queue_id, "golden")
    assert not again["created"] and again["version"] == 1
    with sessionmaker() as session:
        stored = records.get_dataset_version(session, project, "golden", 1)
    (item,) = stored["items"]
    newest = traces[-1]
    assert item["id"] == newest.trace_id
    assert (item["input"], item["expected_output"]) == (newest.question, newest.answer)
    assert item["context"] == [newest.passage]
    meta = item["metadata"]
    assert meta["source_trace_id"] == newest.trace_id and meta["annotation_queue"] == "review"
    # A tie on `correct` has no consensus; the mean of the stars; the agreed tone.
    assert meta["labels"] == {"correct": None, "tone": "polite", "stars": 3.0}
    assert meta["reviews"] == [
        {"reviewer": A, "values": GOOD, "comment": "fine"},
        {
            "reviewer": B,
            "values": {"correct": False, "tone": "polite", "stars": 2.0},
            "comment": "",
        },
    ]
    version = export.export_dataset(sessionmaker, chdb_store, queue_id, "golden", min_labels=1)
    assert version["created"] and version["version"] == 2 and version["item_count"] == 2


def test_deleting_a_queue_deletes_its_items_and_reviews(
    sessionmaker: sessionmaker[Session],
    project: str,
    queue_id: str,
) -> None:
    with sessionmaker() as session:
        queue = load(session, queue_id)
        reviews.skip_item(session, item_at(session, queue, 0), A)
        session.commit()
        queues.delete_queue(session, queue)
        session.commit()
    with sessionmaker() as session:
        assert queues.find_queue(session, project, "review") is None
        left = session.scalars(select(AnnotationItem).where(AnnotationItem.queue_id == queue_id))
        assert list(left) == []
