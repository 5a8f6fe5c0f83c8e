"""What the drop-in tests share: a traced application run in its own process against the
live API, the stored trace read back, and the checks every instrumentor's spans pass."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from haloscope.platform.pricing.span_costs import COST_SOURCE_KEY, PRICE_TABLE
from haloscope.platform.pricing.table import shipped_table

from tests.integrations.canned_openai import TOOL_CALL_ID, CannedOpenAI
from tests.integrations.traced_apps import QUESTION, SYSTEM, TOOL_RESULT
from tests.support.api_fixtures import LiveApi, ProjectKeys

ROOT = Path(__file__).resolve().parents[2]
APP_TIMEOUT_S = 240


@dataclass
class AppRun:
    """A traced application's printed ids and its standard error (the clients' logs)."""

    ids: dict[str, Any]
    stderr: str


def run_app(
    name: str,
    live_api: LiveApi,
    keys: ProjectKeys,
    canned: CannedOpenAI | None = None,
    env: dict[str, str] | None = None,
) -> AppRun:
    """Run ``tests/integrations/traced_apps.py NAME`` in a fresh interpreter against the live
    API with ``keys``; fails with the app's output when it does not succeed."""
    environment = {
        **os.environ,
        "HALOSCOPE_API_URL": live_api.base_url,
        "HALOSCOPE_PUBLIC_KEY": keys.public_key,
        "HALOSCOPE_SECRET_KEY": keys.secret_key,
        "CANNED_OPENAI_URL": canned.base_url if canned is not None else "",
        "PYTHONPATH": str(ROOT),
        **(env or {}),
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.integrations.traced_apps", name],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=APP_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, f"{name} failed:\n{done.stdout}\n{done.stderr}"
    return AppRun(json.loads(done.stdout.strip().splitlines()[-1]), done.stderr)


def traced_spans(
    name: str, live_api: LiveApi, canned: CannedOpenAI, n_spans: int
) -> tuple[AppRun, dict[str, list[dict]]]:
    """Run the app ``name`` in a new project and read its trace back: the run, and the
    trace's spans by name (:func:`by_name`)."""
    keys = live_api.new_project()
    run = run_app(name, live_api, keys, canned)
    return run, by_name(stored_trace(live_api, keys, run.ids["trace_id"], n_spans))


def stored_trace(live_api: LiveApi, keys: ProjectKeys, trace_id: str, n_spans: int) -> dict:
    """The trace as the API answers it, once ``n_spans`` of its spans are stored."""
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=live_api.base_url, auth=keys.basic_auth, timeout=30) as client:
        while True:
            live_api.flush()
            response = client.get(f"/api/v1/traces/{trace_id}")
            if response.status_code == 200 and len(response.json()["spans"]) >= n_spans:
                return response.json()
            assert time.monotonic() < deadline, (response.status_code, response.text[:2000])
            time.sleep(0.1)


def by_name(trace: dict) -> dict[str, list[dict]]:
    """The trace's spans by name, in start order."""
    spans: dict[str, list[dict]] = {}
    for span in sorted(trace["spans"], key=lambda s: s["start_time"]):
        spans.setdefault(span["name"], []).append(span)
    return spans


def assert_list_priced(span: dict, prompt_tokens: int, completion_tokens: int) -> None:
    """The span's tokens, and its cost from the shipped price table (the client sent none)."""
    usage = span["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
        prompt_tokens,
        completion_tokens,
        prompt_tokens + completion_tokens,
    )
    price = shipped_table().price_at(span["model"], span["start_time"])
    assert price is not None, span["model"]
    assert span["cost"] == pytest.approx(price.cost(prompt_tokens, completion_tokens))
    assert span["cost"] > 0
    assert span["metadata"][COST_SOURCE_KEY] == PRICE_TABLE


def flattened_keys(span: dict) -> list[str]:
    """Metadata keys that are still flattened messages (none should be)."""
    prefixes = (
        "llm.input_messages.",
        "llm.output_messages.",
        "gen_ai.prompt.",
        "gen_ai.completion.",
    )
    return [key for key in span["metadata"] if key.startswith(prefixes)]


def conversation(tool_call: dict[str, Any]) -> tuple[list[dict], list[dict]]:
    """The stored input messages of the two chats of ``traced_apps.chat_with_tool``, the tool
    call in the shape of the instrumentor's convention."""
    first = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]
    return first, [
        *first,
        {"role": "assistant", "content": None, "tool_calls": [tool_call]},
        {"role": "tool", "content": TOOL_RESULT, "tool_call_id": TOOL_CALL_ID},
    ]
