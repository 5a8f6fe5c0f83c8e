"""Haloscope web dashboard (FastAPI routes + Jinja2 templates)."""

from haloscope.web.routes import mount_dashboard

__all__ = ["mount_dashboard"]
