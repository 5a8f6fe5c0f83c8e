"""The ``haloscope`` admin commands, run as real subprocesses against a fresh data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CLICKHOUSE_MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "clickhouse"


def haloscope(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with its own data dir and return the finished process."""
    environ = {**os.environ, "HALOSCOPE_DATA_DIR": str(data_dir), **env}
    return subprocess.run(
        [sys.executable, "-m", "haloscope.platform.cli.main", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
        check=False,
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "hs"


def test_project_and_key_creation_print_json(data_dir: Path) -> None:
    created = haloscope(data_dir, "project", "create", "shop-bot", "--json")
    assert created.returncode == 0, created.stderr
    project = json.loads(created.stdout)
    assert project["name"] == "shop-bot" and len(project["id"]) >= 16

    issued = haloscope(data_dir, "keys", "create", "--project", "shop-bot", "--json")
    assert issued.returncode == 0, issued.stderr
    key = json.loads(issued.stdout)
    assert key["public_key"].startswith("pk-hs-") and key["secret_key"].startswith("sk-hs-")

    listed = json.loads(
        haloscope(data_dir, "keys", "list", "--project", "shop-bot", "--json").stdout
    )
    assert [k["public_key"] for k in listed] == [key["public_key"]]
    assert key["secret_key"] not in json.dumps(listed)

    revoked = haloscope(data_dir, "keys", "revoke", "--project", "shop-bot", key["id"])
    assert revoked.returncode == 0, revoked.stderr
    listed = json.loads(
        haloscope(data_dir, "keys", "list", "--project", "shop-bot", "--json").stdout
    )
    assert listed[0]["revoked"] is True


def test_duplicate_project_and_unknown_project_exit_2_with_the_fix(data_dir: Path) -> None:
    assert haloscope(data_dir, "project", "create", "dup").returncode == 0
    again = haloscope(data_dir, "project", "create", "dup")
    assert again.returncode == 2 and "dup" in again.stderr

    missing = haloscope(data_dir, "keys", "create", "--project", "nope")
    assert missing.returncode == 2
    assert "no project named 'nope'" in missing.stderr
    assert "haloscope project create" in missing.stderr


def test_migrate_applies_every_ddl_file_once(data_dir: Path) -> None:
    files = sorted(CLICKHOUSE_MIGRATIONS.glob("[0-9]*.sql"))
    first = haloscope(data_dir, "migrate")
    assert first.returncode == 0, first.stderr
    assert f"{len(files)} migration(s) applied" in first.stdout
    second = haloscope(data_dir, "migrate")
    assert second.returncode == 0, second.stderr
    assert "0 migration(s) applied" in second.stdout


def test_migrate_makes_the_configured_retention_the_column_default(data_dir: Path) -> None:
    migrated = haloscope(data_dir, "migrate", HALOSCOPE_RETENTION_DAYS="30")
    assert migrated.returncode == 0, migrated.stderr
    query = (
        "import json\nfrom haloscope.platform.config import load_settings\n"
        "from haloscope.platform.store import open_store\n"
        "store = open_store(load_settings())\n"
        'rows = store.driver.query("SELECT table, default_expression FROM system.columns '
        "WHERE database = currentDatabase() AND name = 'retention_days' ORDER BY table\")\n"
        "print(json.dumps(rows))\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", query],
        capture_output=True,
        text=True,
        env={**os.environ, "HALOSCOPE_DATA_DIR": str(data_dir)},
        timeout=120,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    defaults = {row["table"]: row["default_expression"] for row in json.loads(shown.stdout)}
    assert defaults == {"scores": "30", "spans": "30"}

    refused = haloscope(data_dir, "migrate", HALOSCOPE_RETENTION_DAYS="70000")
    assert refused.returncode == 2
    assert (
        "HALOSCOPE_RETENTION_DAYS=70000" in refused.stderr and "0 (keep forever)" in refused.stderr
    )


def test_bad_configuration_names_the_setting(data_dir: Path) -> None:
    result = haloscope(data_dir, "migrate", HALOSCOPE_STORE="mysql")
    assert result.returncode == 2
    assert "HALOSCOPE_STORE='mysql'" in result.stderr and "chdb" in result.stderr


def test_project_retention_is_set_cleared_and_checked(data_dir: Path) -> None:
    assert haloscope(data_dir, "project", "create", "short-lived").returncode == 0
    shortened = haloscope(data_dir, "project", "retention", "short-lived", "--days", "7", "--json")
    assert shortened.returncode == 0, shortened.stderr
    assert json.loads(shortened.stdout)["retention_days"] == 7
    cleared = haloscope(data_dir, "project", "retention", "short-lived", "--default", "--json")
    assert json.loads(cleared.stdout)["retention_days"] is None

    refused = haloscope(data_dir, "project", "retention", "short-lived", "--days", "0")
    assert refused.returncode == 2 and "keep at least 1 day" in refused.stderr
    unknown = haloscope(data_dir, "project", "retention", "nope", "--days", "3")
    assert unknown.returncode == 2 and "no project named 'nope'" in unknown.stderr


def test_evaluators_list_shows_defaults_and_quality_cards(data_dir: Path) -> None:
    from haloscope.evaluators.quality import load_card

    listed = haloscope(data_dir, "evaluators", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    specs = {f"{s['name']}@{s['version']}": s for s in json.loads(listed.stdout)}
    detector, judge = specs["hallucination.rag@2"], specs["hallucination.rag@1"]
    assert detector["default"] and not detector["unreliable"]
    assert judge["unreliable"] and not judge["default"]
    card = load_card("hallucination.rag", "2")
    assert detector["quality"]["slices"]["qa_dev"]["figures"]["pairwise"] == (
        card.slices["qa_dev"].figures.pairwise
    )
    text = haloscope(data_dir, "evaluators", "list").stdout
    block = text[text.index("hallucination.rag@2") :]
    assert block.startswith("hallucination.rag@2  [default]")
    qa = card.slices["qa_dev"]
    assert (
        f"qa_dev ({qa.rows} rows, sha256 {qa.sha256[:12]}): pairwise {qa.figures.pairwise:.1%}"
        in block
    )
    assert "hallucination.rag@1  [UNRELIABLE]" in text
