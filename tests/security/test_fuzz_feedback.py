"""Fuzzing the agreement and calibration routes on a project that has judge scores and
boolean, categorical and numeric labels, so that arbitrary values reach the label reading,
the statistics and the fit (the schema-wide fuzzing of test_fuzz_queries.py mostly meets an
unknown evaluator or an empty project): never a 5xx, every refusal JSON with a reason."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.feedback.seeding import (
    EVALUATOR,
    LABEL,
    VERSION,
    judge,
    label,
    labelled,
    overconfident_pairs,
)
from tests.security.fuzzing import FUZZ, HOSTILE_TEXT, JSON_VALUES, assert_handled
from tests.security.test_fuzz_queries import QUERY_VALUES
from tests.support.api_fixtures import LiveApi

BASE = f"/api/v1/evaluators/{EVALUATOR}"
LABEL_NAMES = st.one_of(st.sampled_from([LABEL, "verdict", "degree"]), HOSTILE_TEXT)
VERSIONS = st.one_of(st.sampled_from([VERSION, "1", ""]), HOSTILE_TEXT)


@pytest.fixture(scope="module")
def client(live_api: LiveApi) -> Iterator[httpx.Client]:
    """A project with 24 labelled judge scores, and categorical and numeric labels on them."""
    keys = live_api.new_project()
    with httpx.Client(base_url=live_api.base_url, auth=keys.basic_auth, timeout=60) as http:
        targets = labelled(live_api.store, http, keys.project_id, overconfident_pairs(24))
        for i, target in enumerate(targets):
            label(http, target, "bad" if i % 3 else "good", name="verdict")
            label(http, target, i / 24, name="degree", author="bob")
        judge(live_api.store, keys.project_id, targets[0], 0.5, label="", version="1")
        yield http


@FUZZ
@given(
    params=st.fixed_dictionaries(
        {},
        optional={
            "label_name": LABEL_NAMES,
            "version": VERSIONS,
            "positive": st.one_of(st.sampled_from(["bad", "good"]), QUERY_VALUES),
            "start": QUERY_VALUES,
            "end": QUERY_VALUES,
        },
    )
)
def test_agreement_answers_arbitrary_parameters(
    client: httpx.Client, params: dict[str, str]
) -> None:
    response = client.get(f"{BASE}/agreement", params=params)
    assert_handled(response)
    assert response.status_code in (200, 400, 404), response.text


@FUZZ
@given(
    body=st.one_of(
        st.fixed_dictionaries(
            {"label_name": LABEL_NAMES},
            optional={
                "version": VERSIONS,
                "positive": st.one_of(st.sampled_from(["bad", "good"]), JSON_VALUES),
                "holdout": st.one_of(st.floats(allow_nan=False), JSON_VALUES),
                "seed": st.one_of(st.integers(), JSON_VALUES),
                "start": st.one_of(QUERY_VALUES, JSON_VALUES),
                "end": st.one_of(QUERY_VALUES, JSON_VALUES),
            },
        ),
        JSON_VALUES,
    )
)
def test_recalibration_answers_arbitrary_bodies(client: httpx.Client, body: object) -> None:
    response = client.post(f"{BASE}/calibrations", json=body)
    assert_handled(response)
    assert response.status_code in (201, 400, 404, 409, 422), response.text


@FUZZ
@given(calibration=QUERY_VALUES.filter(bool), version=VERSIONS)
def test_restore_and_switch_off_answer_arbitrary_versions(
    client: httpx.Client, calibration: str, version: str
) -> None:
    path = f"{BASE}/calibrations/{quote(calibration, safe='')}/activate"
    restore = client.post(path, params={"version": version})
    assert_handled(restore)
    off = client.delete(f"{BASE}/calibrations/active", params={"version": version})
    assert_handled(off)
