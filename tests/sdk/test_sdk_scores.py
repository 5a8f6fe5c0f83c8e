"""``score()`` against the recording server: targets default to the current span, scores
ride the background exporter to ``/api/v1/scores``, and nothing ever raises into the app."""

from __future__ import annotations

import logging

import haloscope.sdk as sdk
from haloscope.sdk import observe


def test_a_score_defaults_to_the_current_span_at_its_start(client, ingest_server):
    @observe
    def answer() -> tuple[str, str]:
        sdk.score("helpful", True, comment="nice", author="ann")
        return sdk.current_trace_id(), sdk.current_span_id()

    trace_id, span_id = answer()
    assert sdk.flush(5) is True
    (score,) = ingest_server.scores
    (span,) = ingest_server.spans
    assert score == {
        "name": "helpful",
        "value": True,
        "source": "sdk",
        "trace_id": trace_id,
        "span_id": span_id,
        "timestamp": span["start_time"],
        "comment": "nice",
        "author": "ann",
    }
    assert ingest_server.requests[-1]["path"] == "/api/v1/scores"
    assert ingest_server.requests[-1]["auth"] == ingest_server.expected_auth


def test_explicit_targets_keys_and_value_types(client, ingest_server):
    trace_id, span_id = "a" * 32, "b" * 16
    sdk.score("accuracy", 0.5, trace_id=trace_id, span_id=span_id, idempotency_key="k-1")
    sdk.score("tone", "polite", trace_id=trace_id, source="annotation")
    assert sdk.flush(5) is True
    accuracy, tone = ingest_server.scores
    assert accuracy == {
        "name": "accuracy",
        "value": 0.5,
        "source": "sdk",
        "trace_id": trace_id,
        "span_id": span_id,
        "idempotency_key": "k-1",
    }
    assert tone == {"name": "tone", "value": "polite", "source": "annotation", "trace_id": trace_id}


def test_bad_scores_are_dropped_with_a_log_never_raised(client, ingest_server, caplog):
    caplog.set_level(logging.WARNING, logger="haloscope")
    sdk.score("outside", 1)  # no current span, no trace_id
    sdk.score("", 1, trace_id="a" * 32)
    sdk.score("x", float("nan"), trace_id="a" * 32)
    sdk.score("x", [1], trace_id="a" * 32)
    sdk.score("x", 1, trace_id="a" * 32, source="robot")
    assert sdk.flush(5) is True
    assert ingest_server.scores == []
    assert "no current span" in caplog.text and "source must be" in caplog.text


def test_an_unsampled_trace_sends_no_score(make_client, ingest_server):
    make_client(sample_rate=0.0)

    @observe
    def answer() -> None:
        sdk.score("helpful", True)

    answer()
    assert sdk.flush(5) is True
    assert ingest_server.scores == [] and ingest_server.spans == []


def test_a_refused_score_batch_never_raises(client, ingest_server):
    ingest_server.script(422)  # a status no other test logs (problems are logged once)
    sdk.score("x", 1, trace_id="a" * 32)
    assert sdk.flush(5) is True
    assert client.stats.failed == 1
