"""``haloscope dataset ...`` and ``haloscope eval run|gate|baseline|runs``.

Everything works offline from files under the data dir (``--runs-dir``, ``--datasets-dir``);
with ``HALOSCOPE_HOST`` and a key pair set, runs, verdicts and pushed datasets are also
recorded in the platform. Exit status: 0 pass, 1 gate failure, 2 usage/configuration error.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from haloscope.platform.config import load_settings
from haloscope.platform.evals.config import EvalConfig, build_scorers, load_config
from haloscope.platform.evals.datasets import (
    DatasetStore,
    DatasetVersion,
    check_dataset_name,
    items_from_dicts,
    load_items_file,
)
from haloscope.platform.evals.errors import EvalUsageError
from haloscope.platform.evals.gate import GateReport, run_gate
from haloscope.platform.evals.items import upload_items
from haloscope.platform.evals.platform_client import PlatformClient, PlatformError
from haloscope.platform.evals.reports import summary_table, write_reports
from haloscope.platform.evals.runner import run_eval
from haloscope.platform.evals.runs import RunRecord, RunStore, resolve_git_ref
from haloscope.platform.evals.targets import OutputCache, make_target

EXIT_FAIL, EXIT_USAGE = 1, 2
DEFAULT_BASELINE_BRANCH = "main"


def _usage_errors(
    handler: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    """Turn :class:`EvalUsageError` into a message on stderr and exit status 2."""

    @functools.wraps(handler)
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except EvalUsageError as exc:
            print(f"haloscope: error: {exc}", file=sys.stderr)
            return EXIT_USAGE

    return wrapped


def _data_dir(args: argparse.Namespace, option: str, leaf: str) -> Path:
    given = getattr(args, option)
    return Path(given) if given else load_settings().data_dir / leaf


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``dataset`` and ``eval`` to the ``haloscope`` command."""
    _register_dataset(sub)
    _register_eval(sub)


def _register_dataset(sub: argparse._SubParsersAction) -> None:
    dataset = sub.add_parser("dataset", help="versioned evaluation datasets")
    actions = dataset.add_subparsers(dest="action", required=True, metavar="ACTION")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--datasets-dir", help="dataset store (default: <data dir>/datasets)")

    imp = actions.add_parser(
        "import", parents=[common], help="import a JSONL/CSV file as a new version"
    )
    imp.add_argument("name")
    imp.add_argument("file", type=Path)
    imp.add_argument("--push", action="store_true", help="also import it into the platform")
    imp.set_defaults(handler=_usage_errors(run_dataset_import))

    lst = actions.add_parser("list", parents=[common], help="list datasets and versions")
    lst.set_defaults(handler=_usage_errors(run_dataset_list))

    traces = actions.add_parser(
        "from-traces", help="a new platform dataset version from production traces"
    )
    traces.add_argument("name")
    traces.add_argument("trace_ids", nargs="+", metavar="TRACE_ID")
    traces.set_defaults(handler=_usage_errors(run_dataset_from_traces))


def _register_eval(sub: argparse._SubParsersAction) -> None:
    evaluation = sub.add_parser("eval", help="run evaluations and gate them in CI")
    actions = evaluation.add_subparsers(dest="action", required=True, metavar="ACTION")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--runs-dir", help="run files (default: <data dir>/eval-runs)")

    run = actions.add_parser(
        "run", parents=[common], help="run a target over a dataset and score it"
    )
    run.add_argument("--config", type=Path, required=True, help="metrics config (YAML/TOML/JSON)")
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", help="NAME or NAME@VERSION from the dataset store")
    source.add_argument("--dataset-file", type=Path, help="a JSONL/CSV file used as is")
    source.add_argument(
        "--platform-dataset",
        help="NAME or NAME@VERSION stored in the platform (e.g. made from an annotation queue)",
    )
    run.add_argument("--datasets-dir", help="dataset store (default: <data dir>/datasets)")
    run.add_argument("--target", help="Python callable module:function")
    run.add_argument(
        "--target-command", help="shell command: item JSON on stdin, answer JSON on stdout"
    )
    run.add_argument("--target-outputs", type=Path, help="JSONL of precomputed {id, output}")
    run.add_argument("--concurrency", type=int, help="parallel target calls (default: config)")
    run.add_argument("--no-cache", action="store_true", help="ignore cached target outputs")
    run.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    run.add_argument("--no-record", action="store_true", help="do not record in the platform")
    run.add_argument("--run-id", help="id of the new run (default: timestamp + random)")
    run.set_defaults(handler=_usage_errors(run_eval_run))

    gate = actions.add_parser(
        "gate", parents=[common], help="judge a run against thresholds and a baseline"
    )
    gate.add_argument("--config", type=Path, required=True, help="metrics config (YAML/TOML/JSON)")
    gate.add_argument("--run", default="latest", help="run id or file (default: the latest run)")
    baseline = gate.add_mutually_exclusive_group()
    baseline.add_argument("--baseline", help="baseline run id or run file")
    baseline.add_argument("--baseline-ref", help="git ref whose recorded run is the baseline")
    baseline.add_argument(
        "--baseline-branch",
        help=f"stored baseline of a branch (default: {DEFAULT_BASELINE_BRANCH!r} when stored)",
    )
    gate.add_argument("--junit", type=Path, help="write JUnit XML here")
    gate.add_argument("--json", type=Path, help="write the JSON report here")
    gate.add_argument("--markdown", type=Path, help="write a Markdown summary here")
    gate.add_argument("--no-record", action="store_true", help="do not record in the platform")
    gate.set_defaults(handler=_usage_errors(run_eval_gate))

    promote = actions.add_parser(
        "baseline", parents=[common], help="promote a run as a branch's baseline"
    )
    promote.add_argument("run_id")
    promote.add_argument("--branch", default=DEFAULT_BASELINE_BRANCH)
    promote.set_defaults(handler=_usage_errors(run_eval_baseline))

    runs = actions.add_parser("runs", parents=[common], help="list stored runs")
    runs.set_defaults(handler=_usage_errors(run_eval_runs))


def _platform_call(what: str, call: Callable[[PlatformClient], Any]) -> Any:
    """Run ``call`` against the configured platform; warn (never fail) when it errors."""
    client = PlatformClient.from_env()
    if client is None:
        return None
    try:
        return call(client)
    except PlatformError as exc:
        print(
            f"haloscope: warning: could not record {what} in the platform: {exc}", file=sys.stderr
        )
        return None
    finally:
        client.close()


def run_dataset_import(args: argparse.Namespace) -> int:
    """``haloscope dataset import NAME FILE``."""
    name = check_dataset_name(args.name)
    items = load_items_file(args.file)
    version = DatasetStore(_data_dir(args, "datasets_dir", "datasets")).add_version(name, items)
    print(f"dataset {name} version {version.version}: {len(items)} item(s)")
    if args.push:
        client = PlatformClient.from_env()
        if client is None:
            raise EvalUsageError(
                "--push needs HALOSCOPE_HOST, HALOSCOPE_PUBLIC_KEY and HALOSCOPE_SECRET_KEY"
            )
        try:
            stored = client.push_dataset(name, [i.as_dict() for i in items], args.file.name)
        except PlatformError as exc:
            print(f"haloscope: {exc}", file=sys.stderr)
            return EXIT_FAIL
        finally:
            client.close()
        print(f"platform: dataset {name} version {stored['version']}")
    return 0


def run_dataset_list(args: argparse.Namespace) -> int:
    """``haloscope dataset list``."""
    store = DatasetStore(_data_dir(args, "datasets_dir", "datasets"))
    for name in store.names():
        print(f"{name}  versions {store.versions(name)}")
    return 0


def run_dataset_from_traces(args: argparse.Namespace) -> int:
    """``haloscope dataset from-traces NAME TRACE_ID...`` (needs a platform)."""
    client = PlatformClient.from_env()
    if client is None:
        raise EvalUsageError(
            "from-traces reads the platform's traces: set HALOSCOPE_HOST, HALOSCOPE_PUBLIC_KEY "
            "and HALOSCOPE_SECRET_KEY"
        )
    try:
        stored = client.dataset_from_traces(check_dataset_name(args.name), args.trace_ids)
    except PlatformError as exc:
        print(f"haloscope: {exc}", file=sys.stderr)
        return EXIT_FAIL
    finally:
        client.close()
    print(
        f"platform: dataset {args.name} version {stored['version']}: {stored['item_count']} item(s)"
    )
    return 0


def _name_and_version(option: str, value: str) -> tuple[str, int | None]:
    name, _, version = value.partition("@")
    if version and not version.isdigit():
        raise EvalUsageError(f"{option} {value!r}: the version after '@' must be a number")
    return name, int(version) if version else None


def _load_dataset(args: argparse.Namespace) -> DatasetVersion:
    if args.dataset_file is not None:
        return DatasetVersion(args.dataset_file.stem, 0, load_items_file(args.dataset_file))
    if args.platform_dataset is not None:
        return _platform_dataset(*_name_and_version("--platform-dataset", args.platform_dataset))
    store = DatasetStore(_data_dir(args, "datasets_dir", "datasets"))
    return store.get(*_name_and_version("--dataset", args.dataset))


def _platform_dataset(name: str, version: int | None) -> DatasetVersion:
    """A dataset version read from the platform (HALOSCOPE_HOST and a key pair)."""
    client = PlatformClient.from_env()
    if client is None:
        raise EvalUsageError(
            "--platform-dataset needs HALOSCOPE_HOST, HALOSCOPE_PUBLIC_KEY and "
            "HALOSCOPE_SECRET_KEY (issue a key with `haloscope keys create --project NAME`)"
        )
    try:
        stored = client.get_dataset_version(check_dataset_name(name), version)
    except PlatformError as exc:
        raise EvalUsageError(f"--platform-dataset {name!r}: {exc}") from exc
    finally:
        client.close()
    items = items_from_dicts(stored["items"], f"platform dataset {name}")
    return DatasetVersion(name, int(stored["version"]), items)


def run_eval_run(args: argparse.Namespace) -> int:
    """``haloscope eval run``: run, score, save the run file, record it in the platform."""
    config = load_config(args.config)
    scorers = _build_scorers(config)
    dataset = _load_dataset(args)
    target = make_target(args.target, args.target_command, args.target_outputs)
    if args.concurrency is not None and args.concurrency < 1:
        raise EvalUsageError("--concurrency must be at least 1")
    cache = None if args.no_cache else OutputCache(load_settings().data_dir / "eval-cache")
    run = run_eval(
        dataset,
        target,
        config,
        scorers,
        cache=cache,
        concurrency=args.concurrency,
        progress=not args.no_progress,
        run_id=args.run_id,
    )
    path = RunStore(_data_dir(args, "runs_dir", "eval-runs")).save(run)
    for name, metric in run.summary.items():
        print(
            f"{name}: {metric['aggregate']} {metric['value']:.3f} "
            f"[{metric['ci_low']:.3f}, {metric['ci_high']:.3f}] errors {metric['errors']}"
        )
    print(f"run {run.run_id} saved to {path}")
    if not args.no_record:
        _platform_call("the run", lambda client: _record_run(client, run, dataset))
    return 0


def _build_scorers(config: EvalConfig) -> dict[str, Any]:
    """The metrics' scorers; a custom judge named without a file is the project's stored
    version, read from the platform (``HALOSCOPE_HOST`` and keys)."""
    stored = [
        m for m in config.metrics if (m.evaluator or "").startswith("custom:") and not m.judge
    ]
    client = PlatformClient.from_env() if stored else None
    if client is None:
        return build_scorers(config)

    def judges(name: str, version: str | None) -> tuple[Mapping[str, Any], int | str]:
        try:
            return client.get_judge(name, version)
        except PlatformError as exc:
            raise EvalUsageError(f"custom judge {name!r}: {exc}") from exc

    try:
        return build_scorers(config, judges=judges)
    finally:
        client.close()


def _record_run(client: PlatformClient, run: RunRecord, dataset: DatasetVersion) -> None:
    """The run's summary, then every item (output, scores, labels, reasons, latencies)."""
    client.record_run(run)
    metrics = list(run.summary)
    sent = client.record_items(run.run_id, upload_items(dataset.items, run.items, metrics))
    print(f"platform: run {run.run_id} recorded with {sent} item(s)")


def _record_verdict(client: PlatformClient, report: GateReport) -> str | None:
    """Attach the verdict; the dashboard's item-by-item comparison of the two runs."""
    recorded = client.record_verdict(report)
    if report.baseline_run_id is None or not recorded.get("project_id"):
        return None
    return client.compare_url(recorded["project_id"], [report.baseline_run_id, report.run_id])


def _baseline(args: argparse.Namespace, store: RunStore) -> tuple[RunRecord | None, str | None]:
    if args.baseline:
        return store.load(args.baseline), f"run {args.baseline}"
    if args.baseline_ref:
        return store.for_commit(resolve_git_ref(args.baseline_ref)), f"git ref {args.baseline_ref}"
    if args.baseline_branch:
        return store.baseline(args.baseline_branch), f"branch {args.baseline_branch}"
    if (store.root / "baselines" / f"{DEFAULT_BASELINE_BRANCH}.json").is_file():
        return store.baseline(DEFAULT_BASELINE_BRANCH), f"branch {DEFAULT_BASELINE_BRANCH}"
    return None, None


def _current(args: argparse.Namespace, store: RunStore) -> RunRecord:
    if args.run != "latest":
        return store.load(args.run)
    runs = store.list_runs()
    if not runs:
        raise EvalUsageError(f"no eval runs under {store.root}; run `haloscope eval run` first")
    return max(runs, key=lambda r: r.created_at)


def run_eval_gate(args: argparse.Namespace) -> int:
    """``haloscope eval gate``: 0 pass, 1 regression or threshold breach, 2 usage error."""
    config = load_config(args.config)
    store = RunStore(_data_dir(args, "runs_dir", "eval-runs"))
    current = _current(args, store)
    baseline, source = _baseline(args, store)
    if baseline is not None and baseline.run_id == current.run_id:
        raise EvalUsageError(
            f"the baseline is the run being gated ({current.run_id}); pick another"
        )
    report = run_gate(current, config, baseline, source)
    print(summary_table(report))
    compare_url = None
    if not args.no_record:
        compare_url = _platform_call("the verdict", lambda client: _record_verdict(client, report))
    if compare_url:
        print(f"item by item: {compare_url}")
    write_reports(report, args.junit, args.json, args.markdown, compare_url=compare_url)
    return EXIT_FAIL if report.verdict == "fail" else 0


def run_eval_baseline(args: argparse.Namespace) -> int:
    """``haloscope eval baseline RUN_ID --branch main``."""
    path = RunStore(_data_dir(args, "runs_dir", "eval-runs")).set_baseline(args.branch, args.run_id)
    print(f"run {args.run_id} is now the baseline of {args.branch} ({path})")
    return 0


def run_eval_runs(args: argparse.Namespace) -> int:
    """``haloscope eval runs``."""
    for run in RunStore(_data_dir(args, "runs_dir", "eval-runs")).list_runs():
        dataset = f"{run.dataset.get('name')}@{run.dataset.get('version')}"
        print(
            f"{run.run_id}  {run.created_at}  {dataset}  {run.target}  {run.git.get('commit', '')[:12]}"
        )
    return 0
