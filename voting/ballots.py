"""Checking and casting ballots: exactly once per card, secret, all or nothing.

`check_votes` is plain Python over plain data (the rules of each category and what the voter
sent); `cast_ballot` claims the card and stores the ballot in one transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, update
from sqlalchemy.exc import IntegrityError, OperationalError

from . import tokens
from .cards import CardKeys, find_card
from .database import write_transaction
from .errors import (
    BusyError,
    CardUnknownError,
    CardUsedError,
    ChoiceNotAllowedError,
    MalformedBallotError,
    VotingNotOpenError,
)
from .extensions import db
from .models import Ballot, BallotChoice, Category, Gala, Token, utcnow
from .queries import categories_with_nominees

log = logging.getLogger(__name__)
CAST_ATTEMPTS = 4


@dataclass(frozen=True)
class CategoryRules:
    """What a ballot may say in one category."""

    id: int
    slug: str
    method: str
    groups: frozenset[str]
    nominees: frozenset[int]
    places: int | None = None
    score_min: int | None = None
    score_max: int | None = None
    max_choices: int | None = None


@dataclass(frozen=True)
class Mark:
    category_id: int
    nomination_id: int
    place: int | None = None
    score: int | None = None


def rules_of(categories: Iterable[Category]) -> list[CategoryRules]:
    return [CategoryRules(id=c.id, slug=c.slug, method=c.method,
                          groups=frozenset(g.group for g in c.groups),
                          nominees=frozenset(n.id for n in c.nominations), places=c.places,
                          score_min=c.score_min, score_max=c.score_max,
                          max_choices=c.max_choices)
            for c in categories]


def _nominee_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _marks_for(rule: CategoryRules, choice: Any) -> tuple[list[Mark], Any | None]:
    """The marks one category's choice makes, or a reason it is malformed."""
    if choice is None or choice == [] or choice == {}:
        return [], None  # an abstention
    if rule.method == "single":
        nominee = _nominee_id(choice)
        if nominee is None:
            return [], _l("Choose one nominee (a nominee id).")
        return [Mark(rule.id, nominee)], None
    if rule.method in ("ranked", "irv", "approval"):
        if not isinstance(choice, list):
            return [], _l("Expected a list of nominee ids.")
        ids = [_nominee_id(item) for item in choice]
        if any(nominee is None for nominee in ids):
            return [], _l("Expected a list of nominee ids.")
        if len(set(ids)) != len(ids):
            return [], _l("A nominee appears twice.")
        limit = rule.max_choices if rule.method == "approval" else rule.places
        if limit is not None and len(ids) > limit:
            return [], _l("At most %(n)d nominees here.", n=limit)
        if rule.method == "approval":
            return [Mark(rule.id, nominee) for nominee in ids], None
        return [Mark(rule.id, nominee, place=place)
                for place, nominee in enumerate(ids, start=1)], None
    if rule.method == "score":
        if not isinstance(choice, Mapping):
            return [], _l("Expected scores by nominee id.")
        marks = []
        for key, value in choice.items():
            nominee = _nominee_id(key)
            if nominee is None or isinstance(value, bool) or not isinstance(value, int):
                return [], _l("Scores are whole numbers by nominee id.")
            if not rule.score_min <= value <= rule.score_max:
                return [], _l("Scores go from %(low)d to %(high)d.", low=rule.score_min,
                              high=rule.score_max)
            marks.append(Mark(rule.id, nominee, score=value))
        return marks, None
    return [], _l("Unknown voting method.")


def check_votes(rules: list[CategoryRules], group: str, recused: frozenset[int],
                votes: Any) -> list[Mark]:
    """Every mark of a ballot, or an error naming each offending category.

    Malformed input (MalformedBallotError, 422) is reported before choices the card may not
    make (ChoiceNotAllowedError, 403): a category not open to its group, a recused nominee.
    A category left out, or given an empty choice, is an abstention.
    """
    if not isinstance(votes, Mapping):
        raise MalformedBallotError(str(_l("The ballot must map categories to choices.")),
                                   {"votes": _l("The ballot must map categories to choices.")})
    by_slug = {rule.slug: rule for rule in rules}
    malformed: dict[str, Any] = {}
    forbidden: dict[str, Any] = {}
    marks: list[Mark] = []
    for slug, choice in votes.items():
        rule = by_slug.get(slug)
        if rule is None:
            malformed[str(slug)[:80]] = _l("No such category.")
            continue
        category_marks, problem = _marks_for(rule, choice)
        if problem is None and any(m.nomination_id not in rule.nominees for m in category_marks):
            problem = _l("Not a nominee of this category.")
        if problem is not None:
            malformed[slug] = problem
            continue
        if category_marks and group not in rule.groups:
            forbidden[slug] = _l("Your card does not vote in this category.")
        elif any(m.nomination_id in recused for m in category_marks):
            forbidden[slug] = _l("Your card may not vote for this nominee (recusal).")
        marks.extend(category_marks)
    if malformed:
        raise MalformedBallotError(str(_l("The ballot is not valid.")), malformed)
    if forbidden:
        raise ChoiceNotAllowedError(str(_l("The ballot makes choices this card may not make.")),
                                    forbidden)
    return marks


def recused_nominations(card: Token, categories: Iterable[Category]) -> frozenset[int]:
    """The nominee ids this card may not vote for, by profile or by local-government unit."""
    profiles = {r.profile_id for r in card.recusals if r.profile_id is not None}
    units = {r.unit_name.casefold() for r in card.recusals if r.unit_name}
    return frozenset(n.id for c in categories for n in c.nominations
                     if n.profile_id in profiles or n.profile.unit_name.casefold() in units)


def voting_is_open(gala: Gala, now: dt.datetime | None = None) -> bool:
    if gala.voting_state != "open":
        return False
    return gala.closes_at is None or (now or utcnow()) < gala.closes_at


def used_message(card: Token) -> str:
    return str(_l("This card was used at %(when)s. Your ballot is recorded.",
                  when=format_datetime(card.used_at, "HH:mm")))


@dataclass(frozen=True)
class CastBallot:
    receipt: str


def cast_ballot(gala: Gala, credential: str, votes: Any, keys: CardKeys) -> CastBallot:
    """Claim the card behind a QR token or short code and store its ballot, exactly once.

    The card is claimed by a conditional update (`used_at IS NULL`, row count checked) in the
    same transaction that inserts the ballot; the ballot carries no reference to the card and
    no time. Raises CardUnknownError (401), VotingNotOpenError (423), CardUsedError (409),
    MalformedBallotError (422), ChoiceNotAllowedError (403), BusyError (503, card unused).
    """
    return _cast(gala, find_card(gala.id, credential, keys), votes)


def cast_ballot_for_card(gala: Gala, card_id: int, votes: Any) -> CastBallot:
    """The same as `cast_ballot`, for a card already identified (the ballot page's session)."""
    card = db.session.get(Token, card_id)
    return _cast(gala, card if card is not None and card.gala_id == gala.id else None, votes)


def usable_card(gala: Gala, card: Token | None) -> Token:
    """The card, if it may vote now; otherwise the reason it may not, in the API's order."""
    if card is None or card.revoked_at is not None:
        raise CardUnknownError(str(_l("This card code is not valid.")))
    if not voting_is_open(gala):
        raise VotingNotOpenError(str(_l("Voting is not open.")))
    if card.used_at is not None:
        raise CardUsedError(used_message(card), card.used_at)
    return card


def _cast(gala: Gala, card: Token | None, votes: Any) -> CastBallot:
    card = usable_card(gala, card)
    categories = categories_with_nominees(gala)
    marks = check_votes(rules_of(categories), card.group,
                        recused_nominations(card, categories), votes)
    card_id, group = card.id, card.group
    for attempt in range(1, CAST_ATTEMPTS + 1):
        try:
            return _claim_and_store(gala.id, card_id, group, marks)
        except (OperationalError, IntegrityError) as error:
            # A lock held too long, a serialization failure or (astronomically) a receipt
            # collision: nothing was stored and the card is still unused, so try again.
            log.warning("ballot attempt %s failed: %s", attempt, error.__class__.__name__)
    raise BusyError(str(_l("The system is busy. Your card was not used: please send again.")))


def _claim_and_store(gala_id: int, card_id: int, group: str, marks: list[Mark]) -> CastBallot:
    with write_transaction(serialize=False) as session:
        claimed = session.execute(
            update(Token)
            .where(Token.id == card_id, Token.used_at.is_(None), Token.revoked_at.is_(None),
                   exists().where(Gala.id == gala_id, Gala.voting_state == "open"))
            .values(used_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            card = session.get(Token, card_id)
            session.refresh(card)
            if card.used_at is not None:
                raise CardUsedError(used_message(card), card.used_at)
            if card.revoked_at is not None:
                raise CardUnknownError(str(_l("This card code is not valid.")))
            raise VotingNotOpenError(str(_l("Voting is not open.")))
        receipt = tokens.new_receipt()
        session.add(Ballot(id=uuid.uuid4().hex, gala_id=gala_id, group=group, receipt=receipt,
                           choices=[BallotChoice(category_id=m.category_id,
                                                 nomination_id=m.nomination_id, place=m.place,
                                                 score=m.score) for m in marks]))
        session.flush()
    return CastBallot(receipt=receipt)


def card_keys(config: Mapping[str, Any]) -> CardKeys:
    return CardKeys(signing_keys=config["CARD_SIGNING_KEYS"], hash_key=config["CARD_HASH_KEY"],
                    public_base_url=config["PUBLIC_BASE_URL"])


__all__ = ["CastBallot", "CategoryRules", "Mark", "cast_ballot", "cast_ballot_for_card",
           "check_votes", "usable_card"]
