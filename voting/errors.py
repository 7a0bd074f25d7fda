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


class BallotError(VotingError):
    """A ballot that cannot be accepted; `code` is the machine-readable reason for the API."""

    code = "invalid_ballot"


class CardUnknownError(BallotError):
    status, code = 401, "unknown_card"


class VotingNotOpenError(BallotError):
    status, code = 423, "voting_not_open"


class CardUsedError(BallotError):
    status, code = 409, "card_used"

    def __init__(self, message: str, used_at: object):
        super().__init__(message)
        self.used_at = used_at


class MalformedBallotError(BallotError):
    status, code = 422, "invalid_ballot"


class ChoiceNotAllowedError(BallotError):
    status, code = 403, "choice_not_allowed"


class BusyError(BallotError):
    """The database stayed locked through every retry; the card was not used."""

    status, code = 503, "busy"


class ImportRejectedError(ValidationError):
    """An import was rejected as a whole; `rows` lists every problem by row number."""

    def __init__(self, message: str, rows: list[tuple[int, str]]):
        super().__init__(message)
        self.rows = rows
