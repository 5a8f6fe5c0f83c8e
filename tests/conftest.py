"""Shared fixtures: real stores (chDB, the ClickHouse HTTP protocol), metadata DBs, live API."""

pytest_plugins = [
    "tests.support.store_fixtures",
    "tests.support.db_fixtures",
    "tests.support.api_fixtures",
]
