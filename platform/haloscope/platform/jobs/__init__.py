"""Background jobs on Celery: daily hallucination/faithfulness sampling, drift, alerts.

``create_celery_app(settings)`` builds the app (Redis or the embedded SQLite broker);
``haloscope worker``/``beat`` run it apart, ``haloscope up`` embeds it (``EmbeddedJobs``).
"""

from haloscope.platform.jobs.celery_app import (
    DEFAULT_QUEUE,
    JUDGE_QUEUE,
    JobOptions,
    broker_url,
    create_celery_app,
)
from haloscope.platform.jobs.runtime import JobRuntime, get_runtime, install_runtime

__all__ = [
    "DEFAULT_QUEUE",
    "JUDGE_QUEUE",
    "JobOptions",
    "JobRuntime",
    "broker_url",
    "create_celery_app",
    "get_runtime",
    "install_runtime",
]
