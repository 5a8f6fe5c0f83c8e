"""What the annotation services refuse, and how an API or page should answer it."""

from __future__ import annotations


class AnnotationError(ValueError):
    """An invalid request (answered 400); the message says why."""


class AnnotationConflict(AnnotationError):
    """A request at odds with what is stored (answered 409): a taken queue name, an item
    already labelled, a trace no longer stored."""


class AnnotationNotFound(LookupError):
    """No such queue, item, sampling rule or run in the project (answered 404)."""
