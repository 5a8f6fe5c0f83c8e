"""Security test fixtures: the API + dashboard app of tests/web, and signed-in clients."""

from tests.web.conftest import client_for, dashboard  # noqa: F401 - fixtures shared with tests/web
