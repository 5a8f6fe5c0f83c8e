"""Errors raised by the auth services; each message says what is wrong in plain words."""


class AuthServiceError(ValueError):
    """Base class of the auth service errors."""


class ValidationError(AuthServiceError):
    """An input (project name, email, role, password, note) is malformed."""


class ConflictError(AuthServiceError):
    """An object with the same unique name already exists."""


class NotFoundError(AuthServiceError):
    """A referenced object (project, user) does not exist."""


class CredentialsError(AuthServiceError):
    """An ``Authorization`` header cannot be read as a key pair; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
