"""The eval gate end to end through the ``haloscope`` CLI on the example RAG app."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from haloscope.platform.cli.main import main

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "examples" / "rag" / "eval.yaml"
DATASET = REPO / "examples" / "rag" / "dataset.jsonl"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("HALOSCOPE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HALOSCOPE_CONFIG", "")
    for name in ("HALOSCOPE_HOST", "HALOSCOPE_PUBLIC_KEY", "HALOSCOPE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def _run(run_id: str, target: str, *extra: str) -> int:
    return main(
        ["eval", "run", "--config", str(CONFIG), "--dataset-file", str(DATASET),
         "--target", target, "--run-id", run_id, "--no-progress", *extra]
    )  # fmt: skip


def _gate(run_id: str, baseline: str, out: Path) -> int:
    return main(
        ["eval", "gate", "--config", str(CONFIG), "--run", run_id, "--baseline", baseline,
         "--junit", str(out / "junit.xml"), "--json", str(out / "gate.json"),
         "--markdown", str(out / "gate.md")]
    )  # fmt: skip


def test_regressed_target_fails_the_gate_with_reports(data_dir: Path) -> None:
    assert _run("base", "examples.rag.app:answer") == 0
    assert _run("regressed", "examples.rag.app:answer_truncated_index") == 0
    assert _gate("regressed", "base", data_dir) == 1

    report = json.loads((data_dir / "gate.json").read_text())
    correct = next(m for m in report["metrics"] if m["name"] == "correct")
    assert report["verdict"] == "fail"
    assert correct["regression"] and correct["test"]["method"] == "mcnemar-exact"
    assert correct["test"]["regressed"] == 17 and correct["test"]["improved"] == 0
    assert "❌" in (data_dir / "gate.md").read_text()

    root = ET.parse(data_dir / "junit.xml").getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert suite.get("tests") == str(len(cases)) == "4"
    assert suite.get("failures") == str(len(failed)) and failed == ["correct"]
    assert all(c.get("classname") and c.get("time") is not None for c in cases)
    assert "regression" in cases[0].find("failure").get("message")


def test_unchanged_target_passes_and_uses_the_cache(data_dir: Path) -> None:
    assert _run("first", "examples.rag.app:answer") == 0
    assert _run("second", "examples.rag.app:answer") == 0
    second = json.loads((data_dir / "eval-runs" / "runs" / "second.json").read_text())
    assert all(item["cached"] for item in second["items"])
    assert _gate("second", "first", data_dir) == 0
    assert json.loads((data_dir / "gate.json").read_text())["verdict"] == "pass"


def test_noise_within_tolerance_passes(data_dir: Path) -> None:
    assert _run("base", "examples.rag.app:answer") == 0
    assert _run("noisy", "tests.evals.noisy_targets:answer_with_noise") == 0
    assert _gate("noisy", "base", data_dir) == 0
    metrics = {m["name"]: m for m in json.loads((data_dir / "gate.json").read_text())["metrics"]}
    # The noise is real (scores moved) but smaller than the configured tolerances.
    assert -0.05 < metrics["grounded"]["test"]["delta"] < 0
    assert metrics["correct"]["test"]["regressed"] == 1
    assert not metrics["correct"]["regression"]


def test_stored_branch_baseline_is_the_default(data_dir: Path) -> None:
    assert _run("main-run", "examples.rag.app:answer") == 0
    assert main(["eval", "baseline", "main-run", "--branch", "main"]) == 0
    assert _run("pr-run", "examples.rag.app:answer_truncated_index") == 0
    code = main(["eval", "gate", "--config", str(CONFIG), "--json", str(data_dir / "g.json")])
    assert code == 1
    report = json.loads((data_dir / "g.json").read_text())
    assert (report["run_id"], report["baseline_run_id"]) == ("pr-run", "main-run")


@pytest.mark.parametrize(
    ("config_text", "message"),
    [
        ("metrics: [{evaluator: nonexistent}]", "unknown evaluator 'nonexistent'"),
        ("metrics: [{evaluator: length, config: {max_wordz: 3}}]", "max_wordz"),
        ("metrics: [{scorer: no_such_module:fn}]", "cannot import module 'no_such_module'"),
        ("metrics: [{evaluator: refusal, aggregate: median}]", "aggregate must be one of"),
        ("alpah: 0.1\nmetrics: [{evaluator: refusal}]", "unknown key(s) ['alpah']"),
        ("metrics: [", "is not valid YAML"),
    ],
)
def test_bad_config_exits_2_with_its_message(
    data_dir: Path, capsys: pytest.CaptureFixture[str], config_text: str, message: str
) -> None:
    config = data_dir / "bad.yaml"
    config.write_text(config_text)
    code = main(
        ["eval", "run", "--config", str(config), "--dataset-file", str(DATASET),
         "--target", "examples.rag.app:answer", "--no-progress"]
    )  # fmt: skip
    assert code == 2
    assert message in capsys.readouterr().err


def test_cli_process_exit_status_and_usage_errors(data_dir: Path) -> None:
    haloscope = Path(sys.executable).with_name("haloscope")
    missing = subprocess.run(
        [str(haloscope), "eval", "gate", "--config", str(CONFIG), "--run", "nope"],
        capture_output=True, text=True, timeout=60, check=False, cwd=REPO,
    )  # fmt: skip
    assert missing.returncode == 2
    assert "no eval run 'nope'" in missing.stderr and "haloscope eval runs" in missing.stderr
    two_targets = subprocess.run(
        [str(haloscope), "eval", "run", "--config", str(CONFIG), "--dataset-file", str(DATASET),
         "--target", "examples.rag.app:answer", "--target-command", "cat"],
        capture_output=True, text=True, timeout=60, check=False, cwd=REPO,
    )  # fmt: skip
    assert two_targets.returncode == 2 and "exactly one target" in two_targets.stderr


def test_command_and_precomputed_targets(data_dir: Path) -> None:
    script = (
        "import json,sys; from examples.rag.app import answer; "
        "print(json.dumps(answer(json.load(sys.stdin))))"
    )
    command = f"{sys.executable} -c '{script}'"
    assert _run("cmd", "x:y", "--target-command", command) == 2  # two targets: usage error
    code = main(
        ["eval", "run", "--config", str(CONFIG), "--dataset-file", str(DATASET),
         "--target-command", command, "--run-id", "cmd", "--no-progress", "--concurrency", "8"]
    )  # fmt: skip
    assert code == 0
    run = json.loads((data_dir / "eval-runs" / "runs" / "cmd.json").read_text())
    outputs = data_dir / "outputs.jsonl"
    outputs.write_text(
        "".join(
            json.dumps({"id": i["id"], "output": i["output"]}) + "\n" for i in run["items"][:-1]
        )
    )
    code = main(
        ["eval", "run", "--config", str(CONFIG), "--dataset-file", str(DATASET),
         "--target-outputs", str(outputs), "--run-id", "pre", "--no-progress"]
    )  # fmt: skip
    assert code == 0
    pre = json.loads((data_dir / "eval-runs" / "runs" / "pre.json").read_text())
    assert run["summary"]["correct"]["value"] == 1.0
    assert pre["items"][-1]["error"].startswith("no precomputed output")
    assert pre["summary"]["correct"]["value"] == pytest.approx(39 / 40)


def test_baseline_by_git_ref_uses_the_run_recorded_for_that_commit(
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(checkout), "-c", "user.email=ci@example.com", "-c", "user.name=ci",
             *args],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return done.stdout.strip()

    git("init", "-q", "-b", "main")
    git("commit", "-q", "--allow-empty", "-m", "base")
    monkeypatch.chdir(checkout)
    monkeypatch.delenv("GITHUB_HEAD_REF", raising=False)
    assert _run("on-main", "examples.rag.app:answer") == 0
    git("checkout", "-q", "-b", "feature")
    git("commit", "-q", "--allow-empty", "-m", "change")
    assert _run("on-feature", "examples.rag.app:answer_truncated_index") == 0

    out = data_dir / "ref.json"
    gate = ["eval", "gate", "--config", str(CONFIG), "--run", "on-feature", "--json", str(out)]
    assert main([*gate, "--baseline-ref", "main"]) == 1
    report = json.loads(out.read_text())
    assert (report["run_id"], report["baseline_run_id"]) == ("on-feature", "on-main")

    capsys.readouterr()
    assert main([*gate, "--baseline-ref", "no-such-branch"]) == 2
    assert "does not resolve to a commit" in capsys.readouterr().err
