"""One settings object for every Haloscope process.

Values come from, in increasing priority: built-in embedded defaults, a TOML config file
(``HALOSCOPE_CONFIG`` or ``./haloscope.toml``), and ``HALOSCOPE_*`` environment variables.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "HALOSCOPE_"


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message says how to fix it."""


def default_ingest_workers() -> int:
    """One ingest worker process per CPU core, or none (convert inline) on a single core."""
    cores = os.cpu_count() or 1
    return cores if cores > 1 else 0


@dataclass(frozen=True)
class Settings:
    """Runtime configuration. Field ``foo_bar`` is read from ``HALOSCOPE_FOO_BAR``."""

    data_dir: Path = field(default_factory=lambda: Path.cwd() / ".haloscope")
    # Metadata DB (SQLAlchemy URL). Empty means SQLite under data_dir.
    database_url: str = ""
    # Trace store driver: "chdb" (embedded) or "clickhouse" (server via clickhouse-connect).
    store: str = "chdb"
    clickhouse_url: str = "http://localhost:8123"
    clickhouse_user: str = "default"
    clickhouse_password: str = ""
    clickhouse_database: str = "haloscope"
    # API server.
    host: str = "127.0.0.1"
    port: int = 3000
    # Ingest limits and write batching: accepted spans are spooled under data_dir (fsynced
    # per request when ingest_spool_fsync is set) and written to the store when
    # write_batch_rows are waiting or the oldest has waited write_flush_interval_s.
    max_request_bytes: int = 10 * 1024 * 1024
    max_spans_per_request: int = 10_000
    max_field_bytes: int = 1024 * 1024
    write_batch_rows: int = 50_000
    write_flush_interval_s: float = 0.5
    write_queue_max_rows: int = 500_000
    ingest_spool_fsync: bool = False
    # Processes that decode and convert ingest requests (default: one per core when there are
    # several); 0 converts on the API's event loop.
    ingest_workers: int = field(default_factory=default_ingest_workers)
    # API-key verification cache (seconds a verified key is trusted without a DB read).
    auth_cache_ttl_s: float = 30.0
    # Per-API-key rate limit (token bucket): sustained requests/s and burst; 0 disables it.
    rate_limit_per_s: float = 100.0
    rate_limit_burst: int = 200
    # ClickHouse cluster mode: a cluster name selects the ReplicatedMergeTree + Distributed
    # DDL (ON CLUSTER); empty means a single node. Default retention in days (0 keeps forever).
    clickhouse_cluster: str = ""
    retention_days: int = 0
    # Celery broker; empty means the embedded SQLite broker under data_dir.
    broker_url: str = ""
    # Judge engine for jobs: backend "torch" (embedded), "vllm" (GPU) or "openai" (an
    # OpenAI-compatible endpoint at judge_base_url); model empty means the packaged SmolLM2
    # (required for openai); device for the torch backend ("auto" picks CUDA when present).
    judge_backend: str = "torch"
    judge_model: str = ""
    judge_device: str = "auto"
    judge_base_url: str = ""
    # Jobs: broker redelivery timeout, the daily sampling hour, the hard time limit of one
    # judge batch (soft limit 90%), and worker concurrency.
    jobs_visibility_timeout_s: int = 3600
    jobs_daily_hour_utc: int = 2
    jobs_judge_time_limit_s: int = 1800
    jobs_worker_concurrency: int = 1
    # Eval runs started from the dashboard: a YAML/JSON/TOML file registering the targets
    # (importable functions, OpenAI-compatible endpoints) and eval configs they may use;
    # empty registers none (docs/dashboard.md).
    eval_targets: str = ""
    log_level: str = "info"

    @property
    def resolved_database_url(self) -> str:
        """The metadata DB URL, defaulting to SQLite inside ``data_dir``."""
        return self.database_url or f"sqlite:///{self.data_dir / 'haloscope.db'}"

    @property
    def chdb_path(self) -> Path:
        """Directory of the embedded chDB trace store."""
        return self.data_dir / "chdb"

    @property
    def ingest_spool_dir(self) -> Path:
        """Where the API spools accepted spans until they are stored."""
        return self.data_dir / "ingest-spool"

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


def _coerce(name: str, raw: Any, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if isinstance(raw, bool):
                return raw
            return str(raw).strip().lower() in {"1", "true", "yes", "on"}
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, Path):
            return Path(raw).expanduser()
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid {type(default).__name__}"
        ) from exc


def load_settings(env: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings from defaults, the config file, the environment and ``overrides``."""
    env = dict(os.environ if env is None else env)
    base = Settings()
    values: dict[str, Any] = {}
    config_path = env.get(f"{ENV_PREFIX}CONFIG")
    path = Path(config_path) if config_path else Path.cwd() / "haloscope.toml"
    if path.is_file():
        try:
            values.update(tomllib.loads(path.read_text()))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    elif config_path:
        raise ConfigError(f"{ENV_PREFIX}CONFIG points to {path}, which does not exist")
    for f in dataclasses.fields(Settings):
        key = f"{ENV_PREFIX}{f.name.upper()}"
        if key in env:
            values[f.name] = env[key]
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown setting(s) {unknown}; known settings: {sorted(known)}")
    coerced = {k: _coerce(k, v, getattr(base, k)) for k, v in values.items()}
    settings = dataclasses.replace(base, **coerced)
    if settings.store not in {"chdb", "clickhouse"}:
        raise ConfigError(
            f"{ENV_PREFIX}STORE={settings.store!r}: use 'chdb' (embedded) or 'clickhouse' (server)"
        )
    if not 0 <= settings.retention_days <= 65535:
        raise ConfigError(
            f"{ENV_PREFIX}RETENTION_DAYS={settings.retention_days}: use 0 (keep forever) to 65535"
        )
    if settings.rate_limit_per_s < 0 or settings.rate_limit_burst < 0:
        raise ConfigError(
            f"{ENV_PREFIX}RATE_LIMIT_PER_S and {ENV_PREFIX}RATE_LIMIT_BURST must be >= 0 "
            "(0 disables the per-key rate limit)"
        )
    if settings.judge_backend not in {"torch", "vllm", "openai"}:
        raise ConfigError(
            f"{ENV_PREFIX}JUDGE_BACKEND={settings.judge_backend!r}: use 'torch', 'vllm' or 'openai'"
        )
    if settings.judge_backend == "openai" and not (
        settings.judge_model and settings.judge_base_url
    ):
        raise ConfigError(
            f"{ENV_PREFIX}JUDGE_BACKEND=openai needs {ENV_PREFIX}JUDGE_MODEL (the served model "
            f"name) and {ENV_PREFIX}JUDGE_BASE_URL (e.g. http://judge:8000/v1)"
        )
    return settings
