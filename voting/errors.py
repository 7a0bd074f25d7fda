"""Domain errors. Each maps once to an HTTP status in `voting.http`, never in a view."""

from __future__ import annotations


class VotingError(Exception):
    """Base of every error a user can cause; carries a message already fit to show."""

    status = 400

    def __init__(self, message: str, errors: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class ValidationError(VotingError):
    """Input broke a rule; `errors` maps each offending field to its reason."""

    status = 422


class NotFoundError(VotingError):
    status = 404


class LockedError(VotingError):
    """The thing is frozen: voting has opened, so nominees and methods cannot change."""

    status = 409


class ConflictError(VotingError):
    """The request clashes with the current state (a duplicate, a wrong voting state)."""

    status = 409


class ImportRejectedError(ValidationError):
    """An import was rejected as a whole; `rows` lists every problem by row number."""

    def __init__(self, message: str, rows: list[tuple[int, str]]):
        super().__init__(message)
        self.rows = rows
