"""``haloscope evaluators measure``: a project judge's quality card from a dataset with
expected verdicts, run on the real default judge (SmolLM2-135M, 4 items), stored with the
judge version and shown by ``evaluators list --project`` and ``GET /api/v1/judges/{judge}``.
The figures themselves are checked exactly in tests/evaluators/test_quality_measure.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from haloscope.evaluators.custom_judge import builtin_templates
from haloscope.platform.api.judge_routes import get_project_judge
from haloscope.platform.auth.api_keys import create_project
from haloscope.platform.cli.common import metadata_sessions
from haloscope.platform.cli.main import main
from haloscope.platform.config import load_settings

ROWS = [
    ("Paris.", "correct"),
    ("Lyon.", "incorrect"),
    ("It is Paris.", "correct"),
    ("Marseille.", "incorrect"),
]


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = main(list(argv))
    return status, capsys.readouterr().out


def test_measure_stores_the_card_with_the_judge_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HALOSCOPE_DATA_DIR", str(tmp_path / "hs"))
    sessions = metadata_sessions(load_settings())
    with sessions() as session:
        project_id = create_project(session, "shop").id
        session.commit()
    judge_file = tmp_path / "correctness.yaml"
    judge_file.write_text(yaml.safe_dump({**builtin_templates()["answer_correctness"]}))
    assert main(["evaluators", "create", "--file", str(judge_file), "--project", "shop"]) == 0
    data = tmp_path / "capitals.jsonl"
    data.write_text(
        "".join(
            json.dumps(
                {
                    "input": "What is the capital of France?",
                    "output": answer,
                    "expected_output": "Paris",
                    "expected_label": label,
                }
            )
            + "\n"
            for answer, label in ROWS
        )  # fmt: skip
    )
    capsys.readouterr()
    status, out = _cli(
        capsys, "evaluators", "measure", "--judge", "custom:answer_correctness",
        "--dataset-file", str(data), "--project", "shop", "--json",
    )  # fmt: skip
    assert status == 0
    card = json.loads(out)
    assert card["stored"] and (card["name"], card["version"]) == ("custom:answer_correctness", "1")
    figures = card["slices"]["capitals"]["figures"]
    assert card["slices"]["capitals"]["rows"] == 4 and card["slices"]["capitals"]["failed"] == 0
    assert 0 <= figures["auroc"] <= 1 and 0 <= figures["brier"] <= 1
    assert figures["label_accuracy"] in (0, 0.25, 0.5, 0.75, 1)

    status, out = _cli(capsys, "evaluators", "list", "--project", "shop", "--json")
    (listed,) = json.loads(out)["custom_judges"]
    assert listed["quality"]["slices"] == card["slices"]
    status, out = _cli(capsys, "evaluators", "list", "--project", "shop")
    block = out[out.index("custom:answer_correctness@1") :]
    assert f"capitals (4 rows, sha256 {card['slices']['capitals']['sha256'][:12]}): AUROC" in block
    assert "Brier" in block
    view = get_project_judge("answer_correctness", project_id, sessions)
    assert view["quality"]["slices"]["capitals"]["figures"] == figures

    # A file judge is measured and printed, not stored; a stored judge needs its project.
    status, out = _cli(
        capsys, "evaluators", "measure", "--judge", str(judge_file), "--dataset-file", str(data)
    )
    assert status == 0 and out.startswith("custom:answer_correctness@0\n    capitals (4 rows")
    assert "stored" not in out
    assert main(["evaluators", "measure", "--judge", "custom:x", "--dataset-file", str(data)]) == 2
    unlabelled = tmp_path / "unlabelled.jsonl"
    unlabelled.write_text(json.dumps({"input": "Q?", "output": "A."}) + "\n")
    assert main(["evaluators", "measure", "--judge", str(judge_file),
                 "--dataset-file", str(unlabelled)]) == 2  # fmt: skip
    assert "has no 'expected_label'" in capsys.readouterr().err
