"""The fast cast path: the rules cache (only once voting opened), the window checked inside
the claim itself, recusals read fresh, every mark stored as sent, no writers' lock taken; on
SQLite, a writer waiting for the write lock takes it soon after it comes free."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Iterator

import pytest
from conftest import PG_URL, demo_document
from flask import Flask
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.exc import OperationalError

from voting import ballots, cards, create_app, services, transfer
from voting.ballots import Mark, card_keys, cast_ballot, gala_rules
from voting.database import write_transaction
from voting.errors import (
    CardUnknownError,
    CardUsedError,
    ChoiceNotAllowedError,
    MalformedBallotError,
    VotingNotOpenError,
)
from voting.extensions import db
from voting.models import Ballot, BallotChoice, Gala, Nomination, Token, utcnow

ACTOR = "jury.chair@example.com"


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        ballots._RULES_CACHE.clear()
        yield app
        ballots._RULES_CACHE.clear()


@pytest.fixture
def keys(ctx: Flask) -> cards.CardKeys:
    return card_keys(ctx.config)


def nominee(category_id: int, profile_id: int) -> int:
    return db.session.scalar(select(Nomination.id).where(
        Nomination.category_id == category_id, Nomination.profile_id == profile_id))


def gala_of(ids: dict[str, int]) -> Gala:
    return db.session.get(Gala, ids["gala"])


def set_gala_behind_the_apps_back(gala_id: int, **values: object) -> None:
    """Change the gala in the database only: a request that loaded it earlier keeps the old
    values in memory, as one does when the organizer closes the vote meanwhile."""
    with db.engine.begin() as connection:
        connection.execute(update(Gala).where(Gala.id == gala_id).values(**values))


def test_rules_of_a_draft_gala_are_read_every_time_and_never_cached(ctx, small_gala):
    gala = gala_of(small_gala)
    before = gala_rules(gala)
    services.nominate(ACTOR, small_gala["single"], small_gala["gdansk"])
    after = gala_rules(gala_of(small_gala))
    single = {rule.slug: rule for rule in after.categories}["tiktok-roku"]
    assert len(single.nominees) == 3
    assert before is not after
    assert ballots._RULES_CACHE == {}


def test_rules_are_cached_once_voting_opened_by_gala_and_first_opening(ctx, small_gala):
    services.open_voting(ACTOR, small_gala["gala"])
    gala = gala_of(small_gala)
    rules = gala_rules(gala)
    assert gala_rules(gala_of(small_gala)) is rules
    assert list(ballots._RULES_CACHE) == [(gala.id, gala.first_opened_at)]
    assert [(r.slug, r.method, r.groups) for r in rules.categories] == [
        ("tiktok-roku", "single", frozenset({"audience"})),
        ("wideo-w-metropolii", "ranked", frozenset({"jury"}))]
    assert rules.profile_of[nominee(small_gala["single"], small_gala["lodz"])] == \
        small_gala["lodz"]
    # Another gala that reuses the id (a database rebuilt) opened at another moment: the
    # old entry is not taken for it.
    stranger = Gala(id=gala.id, first_opened_at=gala.first_opened_at + dt.timedelta(seconds=1))
    assert gala_rules(stranger) is not rules


def test_cast_ballot_refused_when_the_vote_closed_after_the_gala_was_loaded(
        ctx, small_gala, keys):
    services.open_voting(ACTOR, small_gala["gala"])
    card = cards.issue_cards(ACTOR, small_gala["gala"], "audience", keys, count=2)
    choice = {"tiktok-roku": nominee(small_gala["single"], small_gala["lodz"])}
    for values in ({"voting_state": "closed", "closed_at": utcnow()},
                   {"closes_at": utcnow() - dt.timedelta(seconds=1)}):
        gala = gala_of(small_gala)
        assert gala.voting_state == "open"
        set_gala_behind_the_apps_back(gala.id, **values)
        with pytest.raises(VotingNotOpenError):
            cast_ballot(gala, card.pop().code, choice, keys)
        set_gala_behind_the_apps_back(gala.id, voting_state="open", closes_at=None)
        db.session.commit()  # a fresh snapshot and fresh objects, like the next request
    assert db.session.scalars(select(Ballot)).all() == []
    assert db.session.scalars(select(Token.used_at)).all() == [None, None]


def test_cast_ballot_a_unit_recusal_follows_a_unit_name_corrected_after_opening(
        ctx, small_gala, keys):
    services.open_voting(ACTOR, small_gala["gala"])
    card = cards.issue_cards(ACTOR, small_gala["gala"], "jury", keys, count=1,
                             recused_units=["Gmina Miasto Gdańsk"])[0]
    gdansk = nominee(small_gala["ranked"], small_gala["gdansk"])
    gala_rules(gala_of(small_gala))  # cached before the correction
    services.update_profile(ACTOR, small_gala["gdansk"], {
        "name": "Gdańsk", "unit_name": "Gmina Miasto Gdańsk", "unit_type": "miasto",
        "voivodeship": "pomorskie", "platform": "youtube",
        "url": "https://www.youtube.com/@gdansk"})
    with pytest.raises(ChoiceNotAllowedError):
        cast_ballot(gala_of(small_gala), card.code, {"wideo-w-metropolii": [gdansk]}, keys)
    assert db.session.scalars(select(Token.used_at)).one() is None


def test_cast_ballot_credential_that_is_not_text_is_an_unknown_card(ctx, small_gala, keys):
    services.open_voting(ACTOR, small_gala["gala"])
    for credential in (None, 12345, ["ABCDE-FGHJK"], {"code": "x"}):
        with pytest.raises(CardUnknownError):
            cast_ballot(gala_of(small_gala), credential, {}, keys)


def test_cast_ballot_stores_every_mark_of_every_method_as_sent(ctx, keys):
    """Places, scores and plain choices, on SQLite row by row and on PostgreSQL as arrays."""
    document = demo_document()
    for category in document["categories"]:  # every balloted category open to the jury
        if category["method"] != "decision":
            category["weights"] = {"jury": 100}
    demo_gala = transfer.import_gala(ACTOR, document).id
    services.open_voting(ACTOR, demo_gala)
    gala = db.session.get(Gala, demo_gala)
    rules = {rule.slug: rule for rule in gala_rules(gala).categories}
    votes, expected = {}, set()
    for slug, rule in rules.items():
        ids = sorted(rule.nominees)
        if rule.method == "single":
            votes[slug] = ids[0]
            expected.add((rule.id, ids[0], None, None))
        elif rule.method in ("ranked", "irv"):
            votes[slug] = ids[:2][::-1]
            expected |= {(rule.id, ids[1], 1, None), (rule.id, ids[0], 2, None)}
        elif rule.method == "score":
            votes[slug] = {str(ids[0]): rule.score_max, str(ids[1]): rule.score_min}
            expected |= {(rule.id, ids[0], None, rule.score_max),
                         (rule.id, ids[1], None, rule.score_min)}
        else:
            votes[slug] = ids[:2]
            expected |= {(rule.id, ids[0], None, None), (rule.id, ids[1], None, None)}
    assert {rule.method for rule in rules.values()} == {"single", "ranked", "irv", "score",
                                                        "approval"}
    card = cards.issue_cards(ACTOR, demo_gala, "jury", keys, count=1)[0]
    receipt = cast_ballot(gala, card.url.rsplit("/v/", 1)[1], votes, keys).receipt
    ballot = db.session.scalars(select(Ballot)).one()
    assert (ballot.receipt, ballot.group, ballot.gala_id) == (receipt, "jury", demo_gala)
    assert {(c.category_id, c.nomination_id, c.place, c.score)
            for c in db.session.scalars(select(BallotChoice))} == expected


def test_cast_ballot_an_empty_ballot_is_stored_without_choices(ctx, small_gala, keys):
    services.open_voting(ACTOR, small_gala["gala"])
    card = cards.issue_cards(ACTOR, small_gala["gala"], "audience", keys, count=1)[0]
    cast_ballot(gala_of(small_gala), card.code, {"tiktok-roku": None}, keys)
    assert len(db.session.scalars(select(Ballot)).all()) == 1
    assert db.session.scalars(select(BallotChoice)).all() == []


def test_cast_ballot_malformed_against_the_cached_rules(ctx, small_gala, keys):
    services.open_voting(ACTOR, small_gala["gala"])
    card = cards.issue_cards(ACTOR, small_gala["gala"], "jury", keys, count=1)[0]
    wroclaw = nominee(small_gala["ranked"], small_gala["wroclaw"])
    for _ in range(2):  # the second time from the cache
        with pytest.raises(MalformedBallotError):
            cast_ballot(gala_of(small_gala), card.code,
                        {"wideo-w-metropolii": [wroclaw, wroclaw]}, keys)
    assert db.session.scalars(select(Token.used_at)).one() is None


def test_cast_ballot_does_not_wait_for_the_writers_lock_on_postgresql(
        ctx, small_gala, keys, database_template):
    """Ballots rest on their own conditional update: an organizer's long write holding the
    writers' advisory lock must not hold up the hall's ballots."""
    if database_template["kind"] != "postgresql":
        pytest.skip("the writers' advisory lock exists on PostgreSQL only")
    from voting.database import _WRITE_LOCK_KEY

    services.open_voting(ACTOR, small_gala["gala"])
    card = cards.issue_cards(ACTOR, small_gala["gala"], "audience", keys, count=1)[0]
    choice = {"tiktok-roku": nominee(small_gala["single"], small_gala["lodz"])}
    other = create_engine(database_template["uri"])
    try:
        with other.begin() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": _WRITE_LOCK_KEY})
            done = threading.Event()
            result: list[object] = []

            def vote() -> None:
                with ctx.app_context():
                    try:
                        result.append(cast_ballot(gala_of(small_gala), card.code, choice,
                                                  keys))
                    finally:
                        db.session.remove()
                        done.set()

            voter = threading.Thread(target=vote)
            voter.start()
            assert done.wait(timeout=10), "the ballot waited for the writers' lock"
            voter.join(timeout=10)
        assert len(result) == 1 and result[0].receipt
    finally:
        other.dispose()


def test_claim_and_store_a_card_already_claimed_stores_nothing_more(ctx, small_gala, keys):
    """The second claim of one card (as when two requests passed the first check together)
    updates no row, so no ballot row and no choice rows follow it, on either database."""
    services.open_voting(ACTOR, small_gala["gala"])
    cards.issue_cards(ACTOR, small_gala["gala"], "jury", keys, count=1)
    card_id = db.session.scalars(select(Token.id)).one()
    marks = [Mark(small_gala["ranked"], nominee(small_gala["ranked"], small_gala["gdansk"]), 1),
             Mark(small_gala["ranked"], nominee(small_gala["ranked"], small_gala["wroclaw"]), 2)]
    first = ballots._claim_and_store(small_gala["gala"], card_id, "jury", marks)
    with pytest.raises(CardUsedError):
        ballots._claim_and_store(small_gala["gala"], card_id, "jury", marks)
    assert db.session.scalars(select(Ballot.receipt)).all() == [first.receipt]
    assert len(db.session.scalars(select(BallotChoice)).all()) == 2


# --- SQLite: the write lock -------------------------------------------------------------------


def hold_write_lock(database_uri: str) -> sqlite3.Connection:
    """Another connection that holds SQLite's write lock until it commits or rolls back."""
    holder = sqlite3.connect(database_uri.removeprefix("sqlite:///"), isolation_level=None,
                             check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    return holder


@pytest.mark.skipif(bool(PG_URL), reason="SQLite's write lock; the run is on PostgreSQL")
def test_sqlite_writer_takes_the_lock_soon_after_it_comes_free(ctx, database_uri):
    holder = hold_write_lock(database_uri)
    released: list[float] = []

    def release() -> None:
        holder.rollback()
        released.append(time.monotonic())

    timer = threading.Timer(0.24, release)
    timer.start()
    try:
        with write_transaction() as session:
            session.execute(text("SELECT 1"))
            taken = time.monotonic()
    finally:
        timer.join(timeout=10)
        holder.close()
    # SQLite's own wait would have slept until 328 ms (pauses of 1, 2, 5 ... 50, 100 ms).
    assert 0 <= taken - released[0] < 0.05
    assert sqlite_pragma("busy_timeout") == ctx.config["SQLITE_BUSY_TIMEOUT_MS"]


@pytest.mark.skipif(bool(PG_URL), reason="SQLite's write lock; the run is on PostgreSQL")
def test_sqlite_writer_gives_up_after_the_busy_timeout(app_config, database_uri):
    app = create_app({**app_config, "SQLITE_BUSY_TIMEOUT_MS": 200})
    holder = hold_write_lock(database_uri)
    try:
        with app.app_context():
            started = time.monotonic()
            with pytest.raises(OperationalError, match="database is locked"), \
                    write_transaction():
                pass
            assert 0.19 < time.monotonic() - started < 3
            db.session.rollback()
            assert sqlite_pragma("busy_timeout") == 200
            db.session.remove()
            db.engine.dispose()
    finally:
        holder.close()


def sqlite_pragma(name: str) -> object:
    return db.session.connection().exec_driver_sql(f"PRAGMA {name}").scalar()
