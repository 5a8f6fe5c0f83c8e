"""Alembic environment of the Haloscope metadata DB.

``haloscope.platform.db.upgrade_database`` passes an open connection in
``config.attributes["connection"]``; the ``alembic`` CLI (``-c migrations/alembic.ini``) gets its
URL from ``HALOSCOPE_DATABASE_URL`` or the Haloscope settings (SQLite under the data dir).
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from haloscope.platform.config import load_settings
from haloscope.platform.db.engine import ALEMBIC_VERSION_TABLE, make_engine, normalize_url
from haloscope.platform.db.models import Base
from sqlalchemy import Connection

config = context.config
if config.config_file_name is not None:  # the alembic CLI; never when called from code
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=ALEMBIC_VERSION_TABLE,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    """Emit the migration SQL for ``alembic upgrade head --sql`` without connecting."""
    context.configure(
        url=normalize_url(load_settings().resolved_database_url),
        target_metadata=Base.metadata,
        version_table=ALEMBIC_VERSION_TABLE,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Apply migrations over the shared connection or a new engine."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    engine = make_engine(load_settings().resolved_database_url)
    try:
        with engine.begin() as own_connection:
            _configure_and_run(own_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
