"""Domain errors. The HTTP layer maps them to status codes; the CLI prints their message."""

from __future__ import annotations


class DomainError(Exception):
    """A user-facing problem with a clear message; never a bug."""


class NotFound(DomainError):
    pass


class PermissionDenied(DomainError):
    pass


class Conflict(DomainError):
    pass


class InvalidInput(DomainError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
