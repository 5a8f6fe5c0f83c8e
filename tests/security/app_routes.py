"""Every route of the composed app (API + dashboard), read from ``app.routes``, so a route
added later is covered by the security tests without editing them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount, Route

# The only routes reachable without credentials: (method, path), or a mounted path prefix.
PUBLIC_ROUTES = frozenset(
    {
        ("GET", "/api/health"),
        ("GET", "/login"),
        ("POST", "/login"),
        # FastAPI's schema and interactive docs describe the API; they hold no project data.
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/docs/oauth2-redirect"),
        ("GET", "/redoc"),
    }
)
PUBLIC_MOUNTS = frozenset({"/static"})
# Dashboard routes that answer a file download (their errors are still HTML pages).
DOWNLOAD_MEDIA_TYPES = {
    "/projects/{project_id}/scores/export": ("text/csv", "application/x-ndjson"),
}
API_PREFIXES = ("/api/", "/v1/")
_PATH_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


@dataclass(frozen=True)
class RouteCase:
    """One method of one route: which auth guards it, and its parameter names."""

    method: str
    path: str
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]

    @property
    def is_api(self) -> bool:
        """API routes authenticate with a project key pair; the others with a web session."""
        return self.path.startswith(API_PREFIXES)

    @property
    def is_public(self) -> bool:
        """Whether the route is in the reviewed public allowlist."""
        return (self.method, self.path) in PUBLIC_ROUTES

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def path_parameters(path: str) -> tuple[str, ...]:
    """The names of ``path``'s parameters, in order."""
    return tuple(_PATH_PARAM.findall(path))


def fill_path(path: str, values: Mapping[str, str]) -> str:
    """``path`` with each ``{name}`` (or ``{name:convertor}``) parameter replaced by
    ``values[name]``; parameters without a value are left as they are."""
    return _PATH_PARAM.sub(lambda m: values.get(m.group(1), m.group(0)), path)


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def route_cases(app: FastAPI) -> list[RouteCase]:
    """Every (method, path) the app serves; fails on a route kind it does not know, so a new
    kind of route cannot slip past the checks unnoticed."""
    cases = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, Mount):
            assert route.path in PUBLIC_MOUNTS, f"unreviewed mount {route.path}"
            continue
        assert isinstance(route, Route), f"unknown route type {route!r}"
        dependant = getattr(context, "dependant", None)
        names = tuple(sorted(_query_names(dependant))) if dependant is not None else ()
        path_params = path_parameters(context.path)
        for method in sorted(context.methods or ()):
            if method != "HEAD":
                cases.append(RouteCase(method, context.path, path_params, names))
    return cases
