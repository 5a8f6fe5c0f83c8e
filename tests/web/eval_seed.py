"""Seeding the compare-page tests: eval runs made by the real ``haloscope eval run`` against the
live dashboard's API (the example RAG assistant, its regressed variant), gated by ``haloscope
eval gate``."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from haloscope.platform.cli.main import main

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "examples" / "rag" / "eval.yaml"
DATASET = REPO / "examples" / "rag" / "dataset.jsonl"


class KeyPair(Protocol):
    """A project's key pair (a seeded project, or the live API's ``ProjectKeys``)."""

    public_key: str
    secret_key: str


@contextmanager
def cli_environment(base_url: str, project: KeyPair, data_dir: Path) -> Iterator[None]:
    """The CLI's environment: recording with ``project``'s keys at ``base_url``, files in
    ``data_dir``, run from the repository (the example modules import from there)."""
    names = ("HALOSCOPE_HOST", "HALOSCOPE_PUBLIC_KEY", "HALOSCOPE_SECRET_KEY",
             "HALOSCOPE_DATA_DIR", "HALOSCOPE_CONFIG")  # fmt: skip
    saved = {name: os.environ.get(name) for name in names}
    cwd = Path.cwd()
    os.environ.update(
        HALOSCOPE_HOST=base_url,
        HALOSCOPE_PUBLIC_KEY=project.public_key,
        HALOSCOPE_SECRET_KEY=project.secret_key,
        HALOSCOPE_DATA_DIR=str(data_dir),
        HALOSCOPE_CONFIG="",
    )
    os.chdir(REPO)
    try:
        yield
    finally:
        os.chdir(cwd)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def eval_run(run_id: str, target: str, dataset: Path = DATASET, config: Path = CONFIG) -> None:
    """``haloscope eval run`` of ``target`` (recorded in the platform); fails the test if it
    does not exit 0."""
    code = main(
        ["eval", "run", "--config", str(config), "--dataset-file", str(dataset), "--target",
         target, "--run-id", run_id, "--no-progress", "--no-cache"]
    )  # fmt: skip
    assert code == 0, f"eval run {run_id} exited {code}"


def eval_gate(run_id: str, baseline: str, out: Path, config: Path = CONFIG) -> dict[str, Any]:
    """``haloscope eval gate`` of ``run_id`` against ``baseline``: its JSON report."""
    main(
        ["eval", "gate", "--config", str(config), "--run", run_id, "--baseline", baseline,
         "--json", str(out / "gate.json"), "--markdown", str(out / "gate.md")]
    )  # fmt: skip
    return json.loads((out / "gate.json").read_text())


def regressed_items(report: dict[str, Any], metrics: Sequence[str] | None = None) -> set[str]:
    """The items the gate counted as regressed on any of ``metrics`` (default: all)."""
    return {
        item
        for m in report["metrics"]
        if metrics is None or m["name"] in metrics
        for item in m["regressed_items"]
    }
