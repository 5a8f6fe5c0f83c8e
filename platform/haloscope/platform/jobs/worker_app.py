"""The Celery app configured from the environment, for ``celery -A`` and ``haloscope worker``."""

from __future__ import annotations

from haloscope.platform.config import load_settings
from haloscope.platform.jobs.celery_app import create_celery_app

app = create_celery_app(load_settings())
