"""The jobs knobs reach the Celery app through ``Settings`` (``HALOSCOPE_JOBS_*``)."""

from __future__ import annotations

import pytest
from haloscope.platform.config import ConfigError, load_settings
from haloscope.platform.jobs.celery_app import JobOptions, create_celery_app


def test_jobs_settings_from_the_environment_configure_the_app() -> None:
    settings = load_settings(
        {
            "HALOSCOPE_BROKER_URL": "redis://127.0.0.1:1/0",
            "HALOSCOPE_JOBS_VISIBILITY_TIMEOUT_S": "90",
            "HALOSCOPE_JOBS_DAILY_HOUR_UTC": "5",
            "HALOSCOPE_JOBS_JUDGE_TIME_LIMIT_S": "600",
            "HALOSCOPE_JOBS_WORKER_CONCURRENCY": "3",
        }
    )
    assert JobOptions.from_settings(settings) == JobOptions(90, 5, 600, 3)
    conf = create_celery_app(settings).conf
    assert conf.broker_transport_options == {"visibility_timeout": 90}
    assert (conf.task_time_limit, conf.task_soft_time_limit) == (600, 540)
    assert conf.worker_concurrency == 3
    assert conf.beat_schedule["daily-sampling"]["schedule"].hour == {5}
    assert conf.beat_schedule["daily-drift"]["schedule"].hour == {5}


def test_defaults_and_bad_values() -> None:
    assert JobOptions.from_settings(load_settings({})) == JobOptions()
    with pytest.raises(ConfigError, match="HALOSCOPE_JOBS_DAILY_HOUR_UTC"):
        load_settings({"HALOSCOPE_JOBS_DAILY_HOUR_UTC": "two"})
