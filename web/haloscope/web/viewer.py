"""Who is looking: the signed-in user behind the session cookie, their projects, and the
membership check every project page goes through."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request, Response
from haloscope.platform.auth.users import projects_for_user
from haloscope.platform.auth.web_sessions import resolve_web_session
from haloscope.platform.db.models import Role
from haloscope.web.context import Context
from haloscope.web.errors import LoginRequired, PageError

SESSION_COOKIE = "haloscope_session"


@dataclass(frozen=True)
class ProjectSummary:
    """A project the viewer belongs to, with the viewer's role in it."""

    id: str
    name: str
    role: Role

    @property
    def can_edit(self) -> bool:
        """Owners and members change project settings (API keys, sampling rules); viewers
        only read."""
        return self.role in (Role.OWNER, Role.MEMBER)


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of this request."""

    user_id: str
    email: str
    session_token: str
    csrf_token: str
    projects: tuple[ProjectSummary, ...]

    def project(self, project_id: str) -> ProjectSummary:
        """The project if the viewer is a member; else 404 (whether it exists is not told)."""
        for project in self.projects:
            if project.id == project_id:
                return project
        raise PageError(404, "No such project, or you are not a member of it.")


def current_viewer(request: Request, ctx: Context) -> Viewer:
    """FastAPI dependency: the live session's user, else LoginRequired (a redirect)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoginRequired
    with ctx.sessionmaker() as db:
        web_session = resolve_web_session(db, token)
        if web_session is None:
            raise LoginRequired
        projects = tuple(
            ProjectSummary(access.project.id, access.project.name, access.role)
            for access in projects_for_user(db, web_session.user_id)
        )
        return Viewer(
            user_id=web_session.user_id,
            email=web_session.user.email,
            session_token=token,
            csrf_token=web_session.csrf_token,
            projects=projects,
        )


@dataclass(frozen=True)
class ProjectScope:
    """A project page's viewer and the project it shows (membership already checked)."""

    viewer: Viewer
    project: ProjectSummary


def project_scope(project_id: str, viewer: CurrentViewer) -> ProjectScope:
    """FastAPI dependency for ``/projects/{project_id}/...``: refuses non-members with 404."""
    return ProjectScope(viewer, viewer.project(project_id))


def set_session_cookie(response: Response, request: Request, token: str, ttl: timedelta) -> None:
    """The session cookie: HttpOnly, SameSite=Lax, Secure when served over HTTPS."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(ttl.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def clear_session_cookie(response: Response) -> None:
    """Remove the session cookie from the browser."""
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


CurrentViewer = Annotated[Viewer, Depends(current_viewer)]
Scope = Annotated[ProjectScope, Depends(project_scope)]
