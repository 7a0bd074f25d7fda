"""The voting window: its phase, opening, closing, the scheduled close, publishing receipts.

A gala is a `draft` until voting first opens, `open` until it is closed by hand or its
scheduled closing time passes, then `closed` for good. `voting_phase` is the one answer to
"which phase is it now" for the admin, the CLI and the receipts pages.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from . import audit
from .database import write_transaction
from .errors import ConflictError, NotFoundError, ValidationError
from .extensions import db
from .models import VOTER_GROUPS, Ballot, Gala, Token, utcnow
from .validation import parse_local_datetime

DRAFT, OPEN, CLOSED = "draft", "open", "closed"


def voting_phase(gala: Gala, now: dt.datetime | None = None) -> str:
    """"draft", "open" or "closed": an open gala whose closing time has passed is closed."""
    if (gala.voting_state == OPEN and gala.closes_at is not None
            and (now or utcnow()) >= gala.closes_at):
        return CLOSED
    return gala.voting_state


def _field_error(field: str, message: Any) -> ValidationError:
    return ValidationError(str(message), {field: message})


def _get_gala(gala_id: int) -> Gala:
    gala = db.session.get(Gala, gala_id)
    if gala is None:
        raise NotFoundError(str(_l("This item no longer exists.")))
    return gala


def _when(moment: dt.datetime) -> str:
    return format_datetime(moment, "d MMMM yyyy, HH:mm")


def parse_closing_time(value: Any) -> dt.datetime | None:
    """A closing time typed at the gala (Warsaw wall-clock time), or None for none.

    Raises ValidationError on the `closes_at` field for text that is not a date and time.
    """
    try:
        return parse_local_datetime(value)
    except (ValueError, OverflowError) as error:
        raise _field_error("closes_at", _l("Enter a date and time, e.g. 2026-11-28 19:30.")) \
            from error


def check_closing_time(gala: Gala, closes_at: dt.datetime | None,
                       now: dt.datetime | None = None) -> None:
    """A new scheduled closing time must lie ahead, and a closed gala's can no longer move."""
    now = now or utcnow()
    if voting_phase(gala, now) == CLOSED:
        raise _field_error("closes_at", _l("Voting is closed: its closing time can no longer "
                                           "change."))
    if closes_at is not None and closes_at <= now:
        raise _field_error("closes_at", _l("The closing time must be in the future."))


def settle(actor: str, gala: Gala, now: dt.datetime | None = None) -> None:
    """Inside a write transaction: record a scheduled close that has passed as the close.

    The gala already counts as closed from its closing time on; this writes it down (state,
    `closed_at` = the scheduled time) the next time anyone changes the window.
    """
    if gala.voting_state == OPEN and voting_phase(gala, now) == CLOSED:
        _close_the_ballot_box(gala.id)
        gala.voting_state = CLOSED
        gala.closed_at = gala.closes_at
        audit.record(actor, "voting.close", gala_id=gala.id, subject=gala.name,
                     details={"scheduled": True, "at": gala.closes_at})
        _seal(actor, gala)


def settle_if_due(gala: Gala | None) -> Gala | None:
    """Record a scheduled close that has passed, and seal the results, on the first request
    or command that looks at the gala after it; later ones (and other workers) find it done.
    """
    if gala is None or gala.voting_state != OPEN or voting_phase(gala) != CLOSED:
        return gala
    from .results import SYSTEM_ACTOR

    gala_id = gala.id
    with write_transaction():
        settle(SYSTEM_ACTOR, _get_gala(gala_id))
    return db.session.get(Gala, gala_id)


def refuse_while_another_vote_is_open(gala_id: int) -> None:
    """While one gala's vote is open, it stays the current gala: its cards, ballot pages and
    screen must not turn into another edition's halfway through the evening."""
    other = db.session.scalar(select(Gala).where(Gala.voting_state == "open",
                                                 Gala.id != gala_id))
    if other is not None:
        raise ConflictError(str(_l("Voting in %(name)s is open: it stays the current gala until "
                                   "its vote closes.", name=other.name)))


def _close_the_ballot_box(gala_id: int) -> None:
    # Imported here: ballots needs cards, which reach back to this module through services.
    from .ballots import close_the_ballot_box

    close_the_ballot_box(gala_id)


def _seal(actor: str, gala: Gala) -> None:
    from .results import seal_results

    seal_results(actor, gala)


KEEP = object()  # open_voting's default: keep the closing time the gala already has


def open_voting(actor: str, gala_id: int, closes_at: Any = KEEP) -> Gala:
    """Open voting once, from a draft, with the gala's scheduled closing time or a new one
    (`closes_at`: a time, or None for none).

    From this opening on, nominees and methods are frozen. Raises ConflictError when the gala
    is not a draft or not ready, ValidationError (`closes_at`) when the closing time has
    passed or is not a time.
    """
    from .queries import readiness

    moment = KEEP if closes_at is KEEP else parse_closing_time(closes_at)
    with write_transaction():
        gala = _get_gala(gala_id)
        if gala.voting_state != DRAFT:
            raise ConflictError(str(_l("Voting can only be opened once, from a draft gala.")))
        refuse_while_another_vote_is_open(gala.id)
        problems = readiness(gala)
        if problems:
            raise ConflictError(str(_l("Voting cannot open yet: %(problems)s",
                                       problems=" ".join(str(p) for p in problems))))
        now = utcnow()
        if moment is not KEEP:
            check_closing_time(gala, moment, now)
            gala.closes_at = moment
        elif gala.closes_at is not None and gala.closes_at <= now:
            raise _field_error("closes_at", _l(
                "The scheduled closing time (%(when)s) has passed: set a later one or remove "
                "it before opening.", when=_when(gala.closes_at)))
        gala.voting_state = OPEN
        gala.first_opened_at = gala.first_opened_at or now
        audit.record(actor, "voting.open", gala_id=gala.id, subject=gala.name,
                     details={"closes_at": gala.closes_at})
    return gala


def close_voting(actor: str, gala_id: int) -> Gala:
    """Close the vote now, for good, and seal the results (in the same transaction).
    Raises ConflictError unless voting is open."""
    with write_transaction():
        gala = _get_gala(gala_id)
        settle(actor, gala)
        if gala.voting_state == CLOSED:
            raise ConflictError(str(_l("Voting is already closed (since %(when)s).",
                                       when=_when(gala.closed_at or utcnow()))))
        if gala.voting_state != OPEN:
            raise ConflictError(str(_l("Voting is not open.")))
        _close_the_ballot_box(gala.id)
        gala.voting_state = CLOSED
        gala.closed_at = utcnow()
        audit.record(actor, "voting.close", gala_id=gala.id, subject=gala.name)
        _seal(actor, gala)
    return gala


def schedule_close(actor: str, gala_id: int, closes_at: Any) -> Gala:
    """Set, move or (with None) remove the scheduled closing time, before or during voting.

    Raises ValidationError (field `closes_at`) for a time not in the future or a closed gala.
    """
    moment = parse_closing_time(closes_at)
    with write_transaction():
        gala = _get_gala(gala_id)
        check_closing_time(gala, moment)
        if gala.closes_at != moment:
            audit.record(actor, "voting.schedule_close", gala_id=gala.id, subject=gala.name,
                         details={"from": gala.closes_at, "to": moment})
            gala.closes_at = moment
    return gala


# --- Receipts ------------------------------------------------------------------------------


def publish_receipts(actor: str, gala_id: int) -> Gala:
    """Publish the list of receipts of counted ballots, once voting is closed.

    Only the receipt codes are ever published, sorted alphabetically. Raises ConflictError
    while voting is not closed, or when the list is already published.
    """
    with write_transaction() as session:
        gala = _get_gala(gala_id)
        settle(actor, gala)
        if gala.voting_state != CLOSED:
            raise ConflictError(str(_l("Receipts can be published once voting is closed.")))
        if gala.receipts_published_at is not None:
            raise ConflictError(str(_l("The receipts were already published on %(when)s.",
                                       when=_when(gala.receipts_published_at))))
        gala.receipts_published_at = utcnow()
        count = session.scalar(select(func.count()).select_from(Ballot)
                               .where(Ballot.gala_id == gala.id))
        audit.record(actor, "receipts.publish", gala_id=gala.id, subject=gala.name,
                     details={"receipts": count})
    return gala


def receipts_of(gala: Gala) -> list[str]:
    """Every counted ballot's receipt code, in alphabetical order (which reveals nothing)."""
    return list(db.session.scalars(
        select(Ballot.receipt).where(Ballot.gala_id == gala.id).order_by(Ballot.receipt)))


_RECEIPT_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})


def normalise_receipt(typed: str) -> str:
    """A typed receipt as printed: `ABCD-EFGH-JKMN`, whatever the case, spaces or hyphens,
    with the look-alike letters read as the digits they stand for."""
    code = "".join(char for char in typed.upper() if char.isalnum()).translate(
        _RECEIPT_LOOKALIKES)
    return "-".join(code[start:start + 4] for start in range(0, len(code), 4))


def receipts_csv(gala: Gala) -> str:
    """The receipts as CSV, one column, once voting is closed (ConflictError before). Receipt
    codes are letters, digits and hyphens only, so no cell can pass for a spreadsheet formula."""
    if voting_phase(gala) != CLOSED:
        raise ConflictError(str(_l("Receipts can be published once voting is closed.")))
    return "".join(f"{line}\r\n" for line in ("receipt", *receipts_of(gala)))


def published_receipts(gala: Gala | None) -> list[str] | None:
    """The published receipts list, or None while it is not published."""
    if gala is None or gala.receipts_published_at is None:
        return None
    return receipts_of(gala)


# --- Turnout -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupCount:
    group: str
    issued: int = 0
    used: int = 0
    revoked: int = 0

    @property
    def waiting(self) -> int:
        """Cards out there that may still vote (issued, neither used nor revoked)."""
        return self.issued - self.used - self.revoked


def card_counts(gala: Gala) -> list[GroupCount]:
    """Cards issued, used and revoked per voter group: counts only, never what was voted."""
    rows = db.session.execute(
        select(Token.group, func.count(Token.id), func.count(Token.used_at),
               func.count(Token.revoked_at))
        .where(Token.gala_id == gala.id).group_by(Token.group)).all()
    found = {group: GroupCount(group, issued, used, revoked)
             for group, issued, used, revoked in rows}
    return [found.get(group, GroupCount(group)) for group in VOTER_GROUPS]


@dataclass(frozen=True)
class Window:
    """What the admin and the CLI say about the voting window at one moment."""

    phase: str
    now: dt.datetime
    closes_at: dt.datetime | None
    closed_at: dt.datetime | None

    @property
    def remaining(self) -> dt.timedelta | None:
        if self.phase != OPEN or self.closes_at is None:
            return None
        return self.closes_at - self.now


def window_of(gala: Gala, now: dt.datetime | None = None) -> Window:
    now = now or utcnow()
    phase = voting_phase(gala, now)
    ended = gala.closed_at or (gala.closes_at if phase == CLOSED else None)
    return Window(phase=phase, now=now, closes_at=gala.closes_at, closed_at=ended)
