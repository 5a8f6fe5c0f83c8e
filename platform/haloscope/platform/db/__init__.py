"""Metadata database: SQLAlchemy models, engine construction and Alembic migrations."""

from haloscope.platform.db.engine import make_engine, make_sessionmaker, upgrade_database

__all__ = ["make_engine", "make_sessionmaker", "upgrade_database"]
