"""``haloscope prices``: project prices from the CLI, repriced on the embedded worker."""

from __future__ import annotations

import json
import time

import pytest
from haloscope.platform.cli.main import main
from haloscope.platform.jobs.embedded import EmbeddedJobs
from haloscope.platform.store import TraceStore

from tests.api.spans import new_span_id, new_trace_id


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = main(list(argv))
    return status, capsys.readouterr().out


def _cost_becomes(store: TraceStore, project_id: str, span: dict, expected: float) -> float:
    deadline = time.monotonic() + 60
    while True:
        cost = store.get_trace(project_id, span["trace_id"])[0]["cost"]
        if cost == pytest.approx(expected) or time.monotonic() > deadline:
            return cost
        time.sleep(0.2)


def test_cli_adds_lists_and_deletes_prices_and_the_worker_reprices(
    embedded: EmbeddedJobs,
    chdb_store: TraceStore,
    capsys: pytest.CaptureFixture[str],
    now_us: int,
) -> None:
    status, out = _cli(capsys, "project", "create", "prices-cli", "--json")
    project_id = json.loads(out)["id"]
    span = {
        "project_id": project_id,
        "trace_id": new_trace_id(),
        "span_id": new_span_id(),
        "name": "chat",
        "kind": "llm",
        "start_time": now_us - 3_600_000_000,
        "end_time": now_us - 3_599_000_000,
        "model": "acme-llm",
        "prompt_tokens": 2_000_000,
        "completion_tokens": 100_000,
    }
    chdb_store.insert_spans([span])

    status, out = _cli(
        capsys, "prices", "add", "--project", "prices-cli", "--pattern", "acme-llm",
        "--input", "1", "--output", "10", "--effective-from", "2020-01-01",
        "--note", "contract", "--json",
    )  # fmt: skip
    assert status == 0
    price_id = json.loads(out)["id"]
    assert _cost_becomes(chdb_store, project_id, span, 3.0) == pytest.approx(3.0)

    status, out = _cli(capsys, "prices", "list", "--project", "prices-cli")
    assert status == 0 and f"{price_id}  acme-llm  in 1 / out 10 USD per 1M tokens" in out
    assert "gpt-4o-mini" in out  # the shipped table follows
    status, out = _cli(
        capsys, "prices", "list", "--project", "prices-cli", "--model", "acme-llm", "--json"
    )
    assert json.loads(out)["output_per_million"] == 10

    assert _cli(capsys, "prices", "delete", "--project", "prices-cli", price_id)[0] == 0
    assert _cost_becomes(chdb_store, project_id, span, 0.0) == 0.0


def test_cli_refuses_bad_prices_with_the_fix(
    embedded: EmbeddedJobs, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(capsys, "project", "create", "prices-bad")[0] == 0
    status = main(
        ["prices", "add", "--project", "prices-bad", "--pattern", "gpt-(", "--input", "1",
         "--output", "1"]
    )  # fmt: skip
    assert status == 2 and "not a valid regular expression" in capsys.readouterr().err
    assert main(["prices", "delete", "--project", "prices-bad", "nope"]) == 2
    assert "see `prices list`" in capsys.readouterr().err
    assert main(["prices", "list", "--project", "missing"]) == 2
    assert "haloscope project create" in capsys.readouterr().err
