"""Eval run records and their file store.

A run is one JSON file ``<root>/runs/<run_id>.json``. Runs made in a git checkout are also
indexed by commit (``<root>/commits/<sha>.json``, the run of that commit) so that a gate can
compare with ``--baseline-ref main``; ``<root>/baselines/<branch>.json`` holds the run
promoted as a branch's baseline.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from haloscope.platform.evals.errors import EvalUsageError

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
BRANCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
RUN_FORMAT = 1


@dataclass
class ItemRecord:
    """One item of a run: the target's output (or error) and each metric's raw score.

    ``scores`` maps metric name to score (None when the evaluator could not score the item,
    the reason in ``metric_errors``); ``labels`` the evaluator's label where it gave one,
    ``reasons`` its explanation, ``metric_latency_ms`` the time it took on this item (an
    evaluator's share of its batch). ``latency_ms`` is the target's time on the item (None
    when the output came from the cache). Run files written before these fields read them
    empty.
    """

    id: str
    input_hash: str
    output: str | None
    contexts: list[str] | None = None
    error: str | None = None
    cached: bool = False
    scores: dict[str, float | None] = field(default_factory=dict)
    labels: dict[str, str | None] = field(default_factory=dict)
    metric_errors: dict[str, str] = field(default_factory=dict)
    latency_ms: float | None = None
    reasons: dict[str, str | None] = field(default_factory=dict)
    metric_latency_ms: dict[str, float] = field(default_factory=dict)


@dataclass
class RunRecord:
    """A complete eval run: what ran on which dataset version, and every item's scores."""

    run_id: str
    created_at: str
    dataset: dict[str, Any]
    target: str
    config_digest: str
    git: dict[str, str]
    items: list[ItemRecord]
    summary: dict[str, Any] = field(default_factory=dict)
    format: int = RUN_FORMAT

    def to_json(self) -> dict[str, Any]:
        """The run as a JSON-serialisable dict."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str) -> RunRecord:
        """A run read back from its JSON form (``source`` names it in errors)."""
        try:
            items = [ItemRecord(**item) for item in data["items"]]
            return cls(**{**data, "items": items})
        except (KeyError, TypeError) as exc:
            raise EvalUsageError(f"{source} is not an eval run file ({exc})") from exc


def new_run_id() -> str:
    """A sortable, unique run id: UTC timestamp plus random suffix."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def git_info(cwd: Path | None = None) -> dict[str, str]:
    """The checkout's commit and branch (CI variables first), empty outside git."""
    info = {"commit": "", "branch": os.environ.get("GITHUB_HEAD_REF") or ""}
    for key, args in (
        ("commit", ["rev-parse", "HEAD"]),
        ("branch", ["rev-parse", "--abbrev-ref", "HEAD"]),
    ):
        if info[key]:
            continue
        value = _git(args, cwd)
        info[key] = "" if value in (None, "HEAD") else value
    return info


def _git(args: list[str], cwd: Path | None) -> str | None:
    if shutil.which("git") is None:
        return None
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else None


def resolve_git_ref(ref: str) -> str:
    """The full commit id of ``ref`` in the current checkout."""
    sha = _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], None)
    if not sha:
        raise EvalUsageError(
            f"git ref {ref!r} does not resolve to a commit here; fetch it first "
            "(e.g. `git fetch origin main`, or actions/checkout with fetch-depth: 0)"
        )
    return sha


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
    os.replace(tmp, path)


class RunStore:
    """Run files under ``root`` (see the module docstring for the layout)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def save(self, run: RunRecord) -> Path:
        """Write ``run`` and index it by its commit; returns the run file."""
        path = self.root / "runs" / f"{run.run_id}.json"
        _write_json(path, run.to_json())
        if run.git.get("commit"):
            _write_json(self.root / "commits" / f"{run.git['commit']}.json", {"run_id": run.run_id})
        return path

    def load(self, run_id_or_path: str) -> RunRecord:
        """A run by id, or from a run file path."""
        path = Path(run_id_or_path)
        if not path.is_file():
            if not RUN_ID.match(run_id_or_path):
                raise EvalUsageError(f"{run_id_or_path!r} is neither a run file nor a run id")
            path = self.root / "runs" / f"{run_id_or_path}.json"
        if not path.is_file():
            raise EvalUsageError(
                f"no eval run {run_id_or_path!r} (looked for {path}); list runs with "
                "`haloscope eval runs` or pass --runs-dir"
            )
        try:
            data = json.loads(path.read_text("utf-8"))
        except json.JSONDecodeError as exc:
            raise EvalUsageError(f"{path} is not valid JSON ({exc.msg})") from exc
        return RunRecord.from_json(data, str(path))

    def for_commit(self, sha: str) -> RunRecord:
        """The run recorded for commit ``sha``."""
        index = self.root / "commits" / f"{sha}.json"
        if not index.is_file():
            raise EvalUsageError(
                f"no eval run recorded for commit {sha[:12]} under {self.root}; run "
                "`haloscope eval run` on that commit (or restore its runs dir from CI cache)"
            )
        return self.load(json.loads(index.read_text("utf-8"))["run_id"])

    def set_baseline(self, branch: str, run_id: str) -> Path:
        """Promote run ``run_id`` as the baseline of ``branch``."""
        if not BRANCH.match(branch) or ".." in branch:
            raise EvalUsageError(f"invalid branch name {branch!r}")
        self.load(run_id)
        path = self.root / "baselines" / f"{branch}.json"
        _write_json(path, {"run_id": run_id})
        return path

    def baseline(self, branch: str) -> RunRecord:
        """The run promoted as ``branch``'s baseline."""
        path = self.root / "baselines" / f"{branch}.json"
        if not path.is_file():
            raise EvalUsageError(
                f"no stored baseline for branch {branch!r}; promote a run with "
                f"`haloscope eval baseline RUN_ID --branch {branch}`"
            )
        return self.load(json.loads(path.read_text("utf-8"))["run_id"])

    def list_runs(self) -> list[RunRecord]:
        """Every stored run, oldest first."""
        directory = self.root / "runs"
        if not directory.is_dir():
            return []
        return [self.load(str(p)) for p in sorted(directory.glob("*.json"))]
