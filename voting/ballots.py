"""Checking and casting ballots: exactly once per card, secret, all or nothing.

`check_votes` is plain Python over plain data (the rules of each category and what the voter
sent); `cast_ballot` claims the card and stores the ballot in one transaction.

Casting is the hall's hot path, so it stays lean: the rules come from a per-worker cache once
the vote has opened (they are frozen from then on), the card and its recusals from one Core
query, and the claim and inserts are Core statements built once (`bench/ballots.py` times it).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    ARRAY,
    Integer,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError

from . import tokens
from .cards import CardKeys, credential_digest
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
from .models import (
    BALLOT_METHODS,
    Ballot,
    BallotChoice,
    Category,
    CategoryGroup,
    Gala,
    Nomination,
    Profile,
    Token,
    TokenRecusal,
    utcnow,
)
from .window import OPEN, voting_phase

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


MAX_REASONS = 50
NOMINEE_ID = re.compile(r"[0-9]{1,18}")


def _nominee_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    # ASCII digits only: str.isdigit() also says yes to "²" (which int() refuses) and "٣".
    if isinstance(value, str) and NOMINEE_ID.fullmatch(value.strip()):
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
        if len({mark.nomination_id for mark in marks}) != len(marks):
            return [], _l("A nominee appears twice.")  # "7" and "07" are one nominee
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
            if len(malformed) < MAX_REASONS:  # a flood of made-up names gets a short answer
                malformed[str(slug)[:80]] = _l("No such category.")
            else:
                malformed.setdefault("votes", _l("The ballot names categories that do not "
                                                 "exist."))
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


def voting_is_open(gala: Gala, now: dt.datetime | None = None) -> bool:
    return voting_phase(gala, now) == OPEN


def used_message(card: Token) -> str:
    return str(_l("This card was used at %(when)s. Your ballot is recorded.",
                  when=format_datetime(card.used_at, "HH:mm")))


@dataclass(frozen=True)
class CastBallot:
    receipt: str


@dataclass(frozen=True)
class GalaRules:
    """What a gala's ballots are checked against: its categories' rules, and which profile
    each nominee is (for recusal by profile). Frozen from the first opening of the vote."""

    categories: list[CategoryRules]
    profile_of: Mapping[int, int]  # nominee (nomination) id -> profile id


# Rules of galas whose vote has opened, by (gala id, first opening): from that moment a
# category's nominees, method and groups never change, so each worker reads them once.
# A draft gala is never cached. Bounded: a process only ever serves a gala or two.
_RULES_CACHE: dict[tuple[int, dt.datetime], GalaRules] = {}
_RULES_CACHE_SIZE = 8

_token = Token.__table__
_recusal = TokenRecusal.__table__
_gala = Gala.__table__
_category = Category.__table__
_category_group = CategoryGroup.__table__
_nomination = Nomination.__table__
_profile = Profile.__table__
_ballot = Ballot.__table__
_choice = BallotChoice.__table__
# A decision of the chapter is never on a ballot, so it has no rules here: a ballot naming it
# names no category of the ballot.
_ON_BALLOTS = _category.c.method.in_(BALLOT_METHODS)


def _load_rules(gala_id: int) -> GalaRules:
    connection = db.session.connection()
    categories = connection.execute(
        select(_category.c.id, _category.c.slug, _category.c.method, _category.c.places,
               _category.c.score_min, _category.c.score_max, _category.c.max_choices)
        .where(_category.c.gala_id == gala_id, _ON_BALLOTS)
        .order_by(_category.c.position, _category.c.id)).all()
    groups: dict[int, set[str]] = {row.id: set() for row in categories}
    for category_id, group in connection.execute(
            select(_category_group.c.category_id, _category_group.c.group)
            .join(_category, _category.c.id == _category_group.c.category_id)
            .where(_category.c.gala_id == gala_id, _ON_BALLOTS)):
        groups[category_id].add(group)
    nominees: dict[int, set[int]] = {row.id: set() for row in categories}
    profile_of: dict[int, int] = {}
    for nomination_id, category_id, profile_id in connection.execute(
            select(_nomination.c.id, _nomination.c.category_id, _nomination.c.profile_id)
            .join(_category, _category.c.id == _nomination.c.category_id)
            .where(_category.c.gala_id == gala_id, _ON_BALLOTS)):
        nominees[category_id].add(nomination_id)
        profile_of[nomination_id] = profile_id
    rules = [CategoryRules(id=row.id, slug=row.slug, method=row.method,
                           groups=frozenset(groups[row.id]), nominees=frozenset(nominees[row.id]),
                           places=row.places, score_min=row.score_min, score_max=row.score_max,
                           max_choices=row.max_choices)
             for row in categories]
    return GalaRules(categories=rules, profile_of=profile_of)


def gala_rules(gala: Gala) -> GalaRules:
    """The rules ballots of this gala are checked against; cached once the vote has opened."""
    if gala.first_opened_at is None:
        return _load_rules(gala.id)
    key = (gala.id, gala.first_opened_at)
    rules = _RULES_CACHE.get(key)
    if rules is None:
        rules = _load_rules(gala.id)
        if len(_RULES_CACHE) >= _RULES_CACHE_SIZE:
            _RULES_CACHE.clear()
        _RULES_CACHE[key] = rules
    return rules


@dataclass(frozen=True)
class CardState:
    """What casting needs to know of a card (the same attributes `usable_card` reads)."""

    id: int
    group: str
    used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    recused_profiles: frozenset[int]
    recused_units: frozenset[str]


# The statements of the cast path are built once: building a statement costs more than
# running it from SQLAlchemy's compiled cache.
_CARD = (select(_token.c.id, _token.c.group, _token.c.used_at, _token.c.revoked_at,
                _recusal.c.profile_id, _recusal.c.unit_name)
         .select_from(_token.outerjoin(_recusal, _recusal.c.token_id == _token.c.id)))
_CARD_BY_CODE = _CARD.where(_token.c.code_digest == bindparam("digest"),
                            _token.c.gala_id == bindparam("gala_id"))
_CARD_BY_TOKEN = _CARD.where(_token.c.token_digest == bindparam("digest"),
                             _token.c.gala_id == bindparam("gala_id"))
_CARD_BY_ID = _CARD.where(_token.c.id == bindparam("card_id"),
                          _token.c.gala_id == bindparam("gala_id"))
_NOW = bindparam("now", type_=_token.c.used_at.type)
# The claim: unused, not revoked, and the gala's window open (not closed by hand, its
# closing time not passed), all checked by the database in the update itself. (Its
# parameters may not share a name with a column of the table it updates.)
_CLAIM = (update(_token)
          .where(_token.c.id == bindparam("claim_card"), _token.c.used_at.is_(None),
                 _token.c.revoked_at.is_(None),
                 exists().where(_gala.c.id == bindparam("claim_gala"),
                                _gala.c.voting_state == "open",
                                or_(_gala.c.closes_at.is_(None), _gala.c.closes_at > _NOW)))
          .values(used_at=_NOW))
_CARD_NOW = select(_token.c.used_at, _token.c.revoked_at).where(
    _token.c.id == bindparam("card_id"))
_INSERT_BALLOT = insert(_ballot)
_INSERT_CHOICES = insert(_choice)

# On PostgreSQL the claim and the ballot are one statement, one round trip: the ballot row
# is inserted only from the row the claim updated (none when the card was taken), and its
# choices go in as arrays (a row per choice, sent apart, costs the driver more than the
# database's whole work on them). All of it commits together or not at all.
_CLAIMED = _CLAIM.returning(_token.c.id).cte("claimed")
_STORED = (insert(_ballot)
           .from_select(["id", "gala_id", "group", "receipt"],
                        select(*(bindparam(name, type_=column.type) for name, column in (
                            ("ballot", _ballot.c.id), ("ballot_gala", _ballot.c.gala_id),
                            ("ballot_group", _ballot.c.group),
                            ("ballot_receipt", _ballot.c.receipt)))).select_from(_CLAIMED))
           .returning(_ballot.c.id).cte("stored"))
_CHOICE_ARRAYS = func.unnest(
    *(bindparam(name, type_=ARRAY(Integer)) for name in ("categories", "nominees", "places",
                                                        "scores"))
).table_valued("category_id", "nomination_id", "place", "score").render_derived()
_CHOSEN = (insert(_choice)
           .from_select(["ballot_id", "category_id", "nomination_id", "place", "score"],
                        select(_STORED.c.id, _CHOICE_ARRAYS.c.category_id,
                               _CHOICE_ARRAYS.c.nomination_id, _CHOICE_ARRAYS.c.place,
                               _CHOICE_ARRAYS.c.score)
                        .select_from(_STORED).join(_CHOICE_ARRAYS, true()))
           .cte("chosen"))
# PostgreSQL runs every data-modifying part of a WITH once, to completion, read or not.
_CLAIM_AND_STORE = select(func.count()).select_from(_STORED).add_cte(_CLAIMED, _CHOSEN)


def _card_state(statement: Any, params: dict[str, Any]) -> CardState | None:
    """One card with its recusals, in one lean query (no ORM objects)."""
    rows = db.session.connection().execute(statement, params).all()
    if not rows:
        return None
    first = rows[0]
    return CardState(id=first.id, group=first.group, used_at=first.used_at,
                     revoked_at=first.revoked_at,
                     recused_profiles=frozenset(r.profile_id for r in rows
                                                if r.profile_id is not None),
                     recused_units=frozenset(r.unit_name.casefold() for r in rows
                                             if r.unit_name))


def _card_by_credential(gala_id: int, credential: Any, keys: CardKeys) -> CardState | None:
    """The card behind a QR token or a typed short code, as `cards.find_card` finds it."""
    found = credential_digest(gala_id, credential, keys)
    if found is None:
        return None
    column, digest = found
    statement = _CARD_BY_CODE if column == "code_digest" else _CARD_BY_TOKEN
    return _card_state(statement, {"digest": digest, "gala_id": gala_id})


def _recused(gala_id: int, rules: GalaRules, card: CardState) -> frozenset[int]:
    """The nominee ids this card may not vote for: its recused profiles, and every profile of
    its recused local-government units."""
    recused = {nominee for nominee, profile in rules.profile_of.items()
               if profile in card.recused_profiles}
    if card.recused_units:
        # Unit names may still be corrected after opening: read them now, never from a cache.
        recused.update(nominee for nominee, unit in db.session.connection().execute(
            select(_nomination.c.id, _profile.c.unit_name)
            .join(_profile, _profile.c.id == _nomination.c.profile_id)
            .where(_profile.c.gala_id == gala_id))
            if unit.casefold() in card.recused_units and nominee in rules.profile_of)
    return frozenset(recused)


def cast_ballot(gala: Gala, credential: str, votes: Any, keys: CardKeys) -> CastBallot:
    """Claim the card behind a QR token or short code and store its ballot, exactly once.

    The card is claimed by a conditional update (`used_at IS NULL`, not revoked, the gala's
    window open, row count checked) in the same transaction that inserts the ballot; the
    ballot carries no reference to the card and no time. `gala` is a Gala or, on the hot
    path, `queries.current_gala_window()`'s row (id and window). Raises CardUnknownError (401),
    VotingNotOpenError (423), CardUsedError (409), MalformedBallotError (422),
    ChoiceNotAllowedError (403), BusyError (503, card unused).
    """
    return _cast(gala, _card_by_credential(gala.id, credential, keys), votes)


def cast_ballot_for_card(gala: Gala, card_id: int, votes: Any) -> CastBallot:
    """The same as `cast_ballot`, for a card already identified (the ballot page's session)."""
    return _cast(gala, _card_state(_CARD_BY_ID, {"card_id": card_id, "gala_id": gala.id}), votes)


def usable_card(gala: Gala, card: Any) -> Any:
    """The card, if it may vote now; otherwise the reason it may not, in the API's order."""
    if card is None or card.revoked_at is not None:
        raise CardUnknownError(str(_l("This card code is not valid.")))
    if not voting_is_open(gala):
        raise VotingNotOpenError(str(_l("Voting is not open.")))
    if card.used_at is not None:
        raise CardUsedError(used_message(card), card.used_at)
    return card


def check_ballot_for_card(gala: Gala, card_id: int, votes: Any) -> list[Mark]:
    """Everything casting checks, without casting: the ballot page's review step. Raises as
    `cast_ballot` does (except BusyError)."""
    card = usable_card(gala, _card_state(_CARD_BY_ID, {"card_id": card_id, "gala_id": gala.id}))
    return _checked_marks(gala, card, votes)


def _checked_marks(gala: Gala, card: CardState, votes: Any) -> list[Mark]:
    rules = gala_rules(gala)
    return check_votes(rules.categories, card.group, _recused(gala.id, rules, card), votes)


def _cast(gala: Gala, card: CardState | None, votes: Any) -> CastBallot:
    card = usable_card(gala, card)
    marks = _checked_marks(gala, card, votes)
    gala_id = gala.id
    for attempt in range(1, CAST_ATTEMPTS + 1):
        try:
            return _claim_and_store(gala_id, card.id, card.group, marks)
        except (OperationalError, IntegrityError) as error:
            # A lock held too long, a serialization failure or (astronomically) a receipt
            # collision: nothing was stored and the card is still unused, so try again.
            log.warning("ballot attempt %s failed: %s", attempt, error.__class__.__name__)
    raise BusyError(str(_l("The system is busy. Your card was not used: please send again.")))


def _claim_and_store(gala_id: int, card_id: int, group: str, marks: list[Mark]) -> CastBallot:
    ballot_id, receipt = uuid.uuid4().hex, tokens.new_receipt()
    claim = {"claim_card": card_id, "claim_gala": gala_id, "now": utcnow()}
    # serialize=False: no advisory lock on PostgreSQL; the conditional update is the guard.
    with write_transaction(serialize=False) as session:
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            claimed = connection.execute(_CLAIM_AND_STORE, {
                **claim, "ballot": ballot_id, "ballot_gala": gala_id, "ballot_group": group,
                "ballot_receipt": receipt, "categories": [m.category_id for m in marks],
                "nominees": [m.nomination_id for m in marks],
                "places": [m.place for m in marks], "scores": [m.score for m in marks],
            }).scalar_one()
        else:
            claimed = connection.execute(_CLAIM, claim).rowcount
            if claimed == 1:
                connection.execute(_INSERT_BALLOT, {"id": ballot_id, "gala_id": gala_id,
                                                    "group": group, "receipt": receipt})
                if marks:
                    connection.execute(_INSERT_CHOICES, [
                        {"ballot_id": ballot_id, "category_id": m.category_id,
                         "nomination_id": m.nomination_id, "place": m.place, "score": m.score}
                        for m in marks])
        if claimed != 1:
            # Nothing was stored; say why, in the API's order (the transaction rolls back).
            card = connection.execute(_CARD_NOW, {"card_id": card_id}).one()
            if card.used_at is not None:
                raise CardUsedError(used_message(card), card.used_at)
            if card.revoked_at is not None:
                raise CardUnknownError(str(_l("This card code is not valid.")))
            raise VotingNotOpenError(str(_l("Voting is not open.")))
    return CastBallot(receipt=receipt)


def card_keys(config: Mapping[str, Any]) -> CardKeys:
    return CardKeys(signing_keys=config["CARD_SIGNING_KEYS"], hash_key=config["CARD_HASH_KEY"],
                    public_base_url=config["PUBLIC_BASE_URL"])


def close_the_ballot_box(gala_id: int) -> int:
    """Inside the transaction that closes a gala's vote: wait for ballots being stored, then
    rewrite the gala's ballots in a random order. Returns how many ballots there are.

    On PostgreSQL a ballot row carries the id of the transaction that wrote it, which is also
    the one that claimed its card, and rows sit in the order they were written: both would
    let whoever can read the tables link a ballot to its card. Rewritten in one transaction,
    every ballot carries the closing transaction's id and lies in a random place. (The old
    row versions stay on disk until the table is vacuumed: see the README.) The share lock
    also makes the close wait for claims in flight and hold back new ones until it commits,
    so no ballot lands after the close. SQLite's write lock does both already, and its
    ballot tables are ordered by their random ids; the rewrite is the same there.
    """
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("LOCK TABLE token IN SHARE MODE")
    # In SQL, not through Python: a gala of 100,000 ballots has two million choices. The copies
    # are temporary tables of this connection; random() is only the new physical order.
    for statement in _REWRITE_BALLOT_BOX:
        connection.execute(text(statement), {"gala": gala_id})
    count = connection.execute(text("SELECT COUNT(*) FROM closing_ballot")).scalar_one()
    connection.exec_driver_sql("DROP TABLE closing_choice")
    connection.exec_driver_sql("DROP TABLE closing_ballot")
    return count


_REWRITE_BALLOT_BOX = (
    "CREATE TEMPORARY TABLE closing_ballot AS "
    'SELECT id, gala_id, "group", receipt, random() AS shuffle FROM ballot WHERE gala_id = :gala',
    "CREATE TEMPORARY TABLE closing_choice AS "
    "SELECT c.ballot_id, c.category_id, c.nomination_id, c.place, c.score "
    "FROM ballot_choice c JOIN closing_ballot b ON b.id = c.ballot_id",
    "DELETE FROM ballot_choice WHERE ballot_id IN (SELECT id FROM closing_ballot)",
    "DELETE FROM ballot WHERE gala_id = :gala",
    'INSERT INTO ballot (id, gala_id, "group", receipt) '
    'SELECT id, gala_id, "group", receipt FROM closing_ballot ORDER BY shuffle',
    "INSERT INTO ballot_choice (ballot_id, category_id, nomination_id, place, score) "
    "SELECT c.ballot_id, c.category_id, c.nomination_id, c.place, c.score "
    "FROM closing_choice c JOIN closing_ballot b ON b.id = c.ballot_id "
    "ORDER BY b.shuffle, c.category_id, c.nomination_id",
)


__all__ = ["CastBallot", "CategoryRules", "GalaRules", "Mark", "cast_ballot",
           "cast_ballot_for_card", "check_ballot_for_card", "check_votes",
           "close_the_ballot_box", "gala_rules", "usable_card"]
