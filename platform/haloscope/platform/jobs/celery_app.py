"""The Celery application: broker choice, reliability settings, queues and the beat schedule.

Tasks acknowledge late (after they finish) and are requeued when their worker dies, so a
crash never loses work; every task is idempotent, so a redelivery never doubles it. Engine
work goes to the ``judge`` queue, so judge workers (GPU machines) can run apart from the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from celery import Celery
from celery.schedules import crontab
from haloscope.platform.config import Settings

DEFAULT_QUEUE = "default"
JUDGE_QUEUE = "judge"
EMBEDDED_BROKER_FILE = "broker.sqlite"


@dataclass(frozen=True)
class JobOptions:
    """Scheduling and reliability knobs (``Settings.jobs_*``, from ``HALOSCOPE_JOBS_*``).

    ``visibility_timeout_s``: seconds after which Redis redelivers a message whose worker
    vanished without acknowledging it. ``daily_hour_utc``: when the daily sampling job runs.
    ``judge_time_limit_s``: hard limit of one judge batch (soft limit 90%).
    """

    visibility_timeout_s: int = 3600
    daily_hour_utc: int = 2
    judge_time_limit_s: int = 1800
    worker_concurrency: int = 1

    @classmethod
    def from_settings(cls, settings: Settings) -> JobOptions:
        """The ``jobs_*`` fields of ``settings``."""
        return cls(
            visibility_timeout_s=settings.jobs_visibility_timeout_s,
            daily_hour_utc=settings.jobs_daily_hour_utc,
            judge_time_limit_s=settings.jobs_judge_time_limit_s,
            worker_concurrency=settings.jobs_worker_concurrency,
        )


def broker_url(settings: Settings) -> str:
    """``settings.broker_url``, or the embedded durable broker: kombu's SQLAlchemy transport
    on a SQLite file in the data directory."""
    if settings.broker_url:
        return settings.broker_url
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqla+sqlite:///{settings.data_dir / EMBEDDED_BROKER_FILE}"


def create_celery_app(settings: Settings, options: JobOptions | None = None) -> Celery:
    """A Celery app for ``settings`` with Haloscope's tasks registered."""
    options = options or JobOptions.from_settings(settings)
    url = broker_url(settings)
    app = Celery("haloscope", broker=url, set_as_current=False)
    daily = crontab(minute=0, hour=options.daily_hour_utc)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        task_default_queue=DEFAULT_QUEUE,
        task_routes={"haloscope.judge_batch": {"queue": JUDGE_QUEUE}},
        task_time_limit=options.judge_time_limit_s,
        task_soft_time_limit=int(options.judge_time_limit_s * 0.9),
        worker_prefetch_multiplier=1,
        worker_concurrency=options.worker_concurrency,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        # The SQLAlchemy transport hands its options to create_engine: Redis only.
        broker_transport_options=(
            {"visibility_timeout": options.visibility_timeout_s}
            if url.startswith(("redis", "rediss"))
            else {}
        ),
        timezone="UTC",
        beat_schedule={
            "daily-sampling": {"task": "haloscope.sample_all_rules", "schedule": daily},
            "daily-drift": {
                "task": "haloscope.drift_all_projects",
                "schedule": crontab(minute=30, hour=options.daily_hour_utc),
            },
            "hourly-alerts": {"task": "haloscope.evaluate_alerts", "schedule": crontab(minute=15)},
            "daily-retention": {
                "task": "haloscope.apply_retention",
                "schedule": crontab(minute=45, hour=options.daily_hour_utc),
            },
            "hourly-overview-rollup": {
                "task": "haloscope.refresh_overview_rollup",
                "schedule": crontab(minute=7),
            },
        },
    )
    from haloscope.platform.jobs import tasks

    tasks.register(app)
    return app
