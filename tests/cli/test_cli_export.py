"""``haloscope export scores`` against the real API: the file (or stdout) holds what the API
export gives for the same filters, a failed export leaves no file, and a missing key pair or
server is reported with the fix."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest
from haloscope.platform.cli.main import main

from tests.api.spans import new_trace_id
from tests.scores.exports import api_export
from tests.support.api_fixtures import LiveApi, ProjectKeys

BASE_US = 1_700_000_000_000_000


@pytest.fixture
def keys(live_api: LiveApi, monkeypatch: pytest.MonkeyPatch) -> ProjectKeys:
    """A project with four scores (one an annotation), its key pair set in the environment."""
    keys = live_api.new_project()
    monkeypatch.setenv("HALOSCOPE_HOST", live_api.base_url)
    monkeypatch.setenv("HALOSCOPE_PUBLIC_KEY", keys.public_key)
    monkeypatch.setenv("HALOSCOPE_SECRET_KEY", keys.secret_key)
    trace_id = new_trace_id()
    scores = [
        {"trace_id": trace_id, "name": "stars", "value": 4, "timestamp": BASE_US + 3},
        {"trace_id": trace_id, "name": "helpful", "value": True, "timestamp": BASE_US + 2},
        {
            "trace_id": trace_id,
            "name": "tone",
            "value": "polite",
            "source": "annotation",
            "timestamp": BASE_US + 1,
        },
        {"trace_id": trace_id, "name": "stars", "value": 1, "timestamp": BASE_US},
    ]
    with httpx.Client(base_url=live_api.base_url, auth=keys.basic_auth, timeout=60) as api:
        assert api.post("/api/v1/scores", json={"scores": scores}).status_code == 200
    return keys


def test_export_writes_the_file_the_api_gives(
    live_api: LiveApi, keys: ProjectKeys, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for fmt in ("csv", "jsonl"):
        output = tmp_path / f"scores.{fmt}"
        assert main(["export", "scores", "--format", fmt, "--output", str(output)]) == 0
        assert output.read_bytes() == api_export(live_api.base_url, keys.basic_auth, format=fmt)
        assert f"of {fmt} to {output}" in capsys.readouterr().err
        assert not (tmp_path / f"scores.{fmt}.part").exists()
    lines = (tmp_path / "scores.jsonl").read_bytes().splitlines()
    assert [orjson.loads(line)["name"] for line in lines] == ["stars", "helpful", "tone", "stars"]


def test_filters_reach_the_api(live_api: LiveApi, keys: ProjectKeys, tmp_path: Path) -> None:
    output = tmp_path / "stars.jsonl"
    argv = ["export", "scores", "--format", "jsonl", "--name", "stars", "--min-value", "2"]
    assert main([*argv, "--output", str(output)]) == 0
    (only,) = [orjson.loads(line) for line in output.read_bytes().splitlines()]
    assert only["value"] == 4.0
    output = tmp_path / "annotations.jsonl"
    argv = ["export", "scores", "--format", "jsonl", "--source", "annotation"]
    assert (
        main(
            [
                *argv,
                "--since",
                str(BASE_US + 1),
                "--until",
                "2023-11-15T00:00:00Z",
                "-o",
                str(output),
            ]
        )
        == 0
    )
    (only,) = [orjson.loads(line) for line in output.read_bytes().splitlines()]
    assert only["value"] == "polite"


def test_export_to_stdout(
    live_api: LiveApi, keys: ProjectKeys, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert main(["export", "scores", "--format", "jsonl"]) == 0
    assert capsysbinary.readouterr().out == api_export(
        live_api.base_url, keys.basic_auth, format="jsonl"
    )


def test_a_refused_export_leaves_no_file_and_says_why(
    keys: ProjectKeys, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "scores.csv"
    assert main(["export", "scores", "--since", "yesterday", "--output", str(output)]) == 2
    err = capsys.readouterr().err
    assert "export failed" in err and "HTTP 400" in err and "use ISO 8601" in err
    assert list(tmp_path.iterdir()) == []


def test_a_wrong_key_is_reported(
    keys: ProjectKeys, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HALOSCOPE_SECRET_KEY", "sk-wrong")
    assert main(["export", "scores"]) == 2
    assert "HTTP 401" in capsys.readouterr().err


def test_without_a_server_and_keys_the_message_says_how_to_configure(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("HALOSCOPE_HOST", "HALOSCOPE_PUBLIC_KEY", "HALOSCOPE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert main(["export", "scores", "--format", "csv"]) == 2
    err = capsys.readouterr().err
    assert "HALOSCOPE_HOST" in err and "HALOSCOPE_SECRET_KEY" in err
    assert "haloscope keys create --project NAME" in err
