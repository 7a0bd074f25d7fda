"""Cards and ballots: the rules per method, recusal, the window, exactly once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, text

from voting import cards, services
from voting.ballots import CategoryRules, Mark, card_keys, cast_ballot, check_votes
from voting.errors import (
    CardUnknownError,
    CardUsedError,
    ChoiceNotAllowedError,
    ConflictError,
    MalformedBallotError,
    ValidationError,
    VotingNotOpenError,
)
from voting.extensions import db
from voting.models import Ballot, BallotChoice, Gala, Nomination, Token

ACTOR = "jury.chair@example.com"

RULES = [
    CategoryRules(1, "jeden", "single", frozenset({"jury"}), frozenset({11, 12, 13})),
    CategoryRules(2, "ranking", "ranked", frozenset({"jury"}), frozenset({21, 22, 23}),
                  places=2),
    CategoryRules(3, "oceny", "score", frozenset({"jury"}), frozenset({31, 32}), score_min=1,
                  score_max=5),
    CategoryRules(4, "aprobata", "approval", frozenset({"jury"}), frozenset({41, 42, 43}),
                  max_choices=2),
    CategoryRules(5, "dogrywka", "irv", frozenset({"jury"}), frozenset({51, 52, 53}), places=3),
    CategoryRules(6, "publicznosc", "single", frozenset({"audience"}), frozenset({61, 62})),
]


# --- check_votes: pure ---------------------------------------------------------------------


def test_check_votes_reads_every_method():
    marks = check_votes(RULES, "jury", frozenset(), {
        "jeden": 12, "ranking": [23, 21], "oceny": {"31": 5, "32": 1}, "aprobata": [41, 43],
        "dogrywka": ["53", 51, 52]})
    assert set(marks) == {
        Mark(1, 12), Mark(2, 23, place=1), Mark(2, 21, place=2), Mark(3, 31, score=5),
        Mark(3, 32, score=1), Mark(4, 41), Mark(4, 43), Mark(5, 53, place=1),
        Mark(5, 51, place=2), Mark(5, 52, place=3)}


def test_check_votes_missing_or_empty_categories_are_abstentions():
    assert check_votes(RULES, "jury", frozenset(), {}) == []
    assert check_votes(RULES, "jury", frozenset(), {"jeden": None, "ranking": [],
                                                    "oceny": {}, "publicznosc": None}) == []


@pytest.mark.parametrize(("votes", "field"), [
    ({"nie-ma": 11}, "nie-ma"),
    ({"jeden": 21}, "jeden"),                      # a nominee of another category
    ({"jeden": [11]}, "jeden"),                    # wrong shape
    ({"jeden": True}, "jeden"),
    ({"ranking": [21, 21]}, "ranking"),            # the same nominee twice
    ({"ranking": [21, 22, 23]}, "ranking"),        # more places than the category has
    ({"ranking": {"21": 1}}, "ranking"),
    ({"oceny": {"31": 6}}, "oceny"),               # out of range
    ({"oceny": {"31": 2.5}}, "oceny"),
    ({"oceny": [31]}, "oceny"),
    ({"aprobata": [41, 42, 43]}, "aprobata"),      # over the maximum
    ({"dogrywka": ["x"]}, "dogrywka"),
])
def test_check_votes_malformed_choices_name_their_category(votes, field):
    with pytest.raises(MalformedBallotError) as caught:
        check_votes(RULES, "jury", frozenset(), votes)
    assert set(caught.value.errors) == {field}


def test_check_votes_not_a_mapping_is_malformed():
    with pytest.raises(MalformedBallotError):
        check_votes(RULES, "jury", frozenset(), [11])


def test_check_votes_refuses_a_category_of_another_group_and_a_recused_nominee():
    with pytest.raises(ChoiceNotAllowedError) as caught:
        check_votes(RULES, "jury", frozenset({12}), {"publicznosc": 61, "jeden": 12,
                                                     "ranking": [21]})
    assert set(caught.value.errors) == {"publicznosc", "jeden"}


def test_check_votes_reports_malformed_before_forbidden():
    with pytest.raises(MalformedBallotError):
        check_votes(RULES, "jury", frozenset(), {"publicznosc": 61, "jeden": 99})


# --- cards and casting, in an app context ----------------------------------------------------


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


@pytest.fixture
def keys(ctx: Flask) -> cards.CardKeys:
    return card_keys(ctx.config)


@pytest.fixture
def open_gala(ctx: Flask, small_gala: dict[str, int]) -> dict[str, int]:
    services.open_voting(ACTOR, small_gala["gala"])
    return small_gala


def nominee(category_id: int, profile_id: int) -> int:
    return db.session.scalar(select(Nomination.id).where(
        Nomination.category_id == category_id, Nomination.profile_id == profile_id))


def ballots() -> int:
    return db.session.scalar(select(func.count()).select_from(Ballot))


def gala_of(ids: dict[str, int]) -> Gala:
    return db.session.get(Gala, ids["gala"])


def test_cards_issue_stores_only_digests(open_gala, keys):
    issued = cards.issue_cards(ACTOR, open_gala["gala"], "jury", keys, labels=["Anna", "Jan"])
    assert [(c.group, c.label) for c in issued] == [("jury", "Anna"), ("jury", "Jan")]
    assert all(c.url.startswith("http://localhost:5000/v/") for c in issued)
    stored = db.session.scalars(select(Token)).all()
    secrets_ = {c.code for c in issued} | {c.url.rsplit("/", 1)[1] for c in issued}
    for card in stored:
        for column in ("token_digest", "code_digest", "label", "group"):
            assert getattr(card, column) not in secrets_
            assert not any(secret.replace("-", "") in getattr(card, column) for secret in secrets_)
    assert cards.find_card(open_gala["gala"], issued[0].code.lower(), keys).label == "Anna"
    token = issued[1].url.rsplit("/", 1)[1]
    assert cards.find_card(open_gala["gala"], token, keys).label == "Jan"
    assert cards.find_card(open_gala["gala"], "ZZZZZ-ZZZZZ", keys) is None
    assert cards.find_card(open_gala["gala"], token[:-3] + "abc", keys) is None


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"count": 0}, "count"),
    ({"count": 5000}, "count"),
    ({"labels": ["Anna", ""]}, "label"),
    ({"count": 3, "labels": ["Anna"]}, "count"),
    ({"count": 1, "recused_profile_ids": [999999]}, "recuse"),
])
def test_cards_issue_bad_input_changes_nothing(open_gala, keys, kwargs, field):
    with pytest.raises(ValidationError) as caught:
        cards.issue_cards(ACTOR, open_gala["gala"], "jury", keys, **kwargs)
    assert field in caught.value.errors
    assert db.session.scalar(select(func.count()).select_from(Token)) == 0


def test_cast_ballot_stores_one_ballot_without_a_link_to_the_card(open_gala, keys):
    card = cards.issue_cards(ACTOR, open_gala["gala"], "audience", keys, count=1)[0]
    choice = nominee(open_gala["single"], open_gala["lodz"])
    result = cast_ballot(gala_of(open_gala), card.code, {"tiktok-roku": choice}, keys)
    assert len(result.receipt) == 14
    ballot = db.session.scalars(select(Ballot)).one()
    assert ballot.group == "audience" and ballot.receipt == result.receipt
    assert [(c.category_id, c.nomination_id) for c in ballot.choices] == [
        (open_gala["single"], choice)]
    assert {column.name for column in Ballot.__table__.columns} == {
        "id", "gala_id", "group", "receipt"}  # no card, no time
    assert db.session.scalars(select(Token)).one().used_at is not None


def test_cast_ballot_a_used_card_never_votes_twice(open_gala, keys):
    card = cards.issue_cards(ACTOR, open_gala["gala"], "audience", keys, count=1)[0]
    choice = nominee(open_gala["single"], open_gala["lodz"])
    cast_ballot(gala_of(open_gala), card.code, {"tiktok-roku": choice}, keys)
    with pytest.raises(CardUsedError) as caught:
        cast_ballot(gala_of(open_gala), card.url.rsplit("/", 1)[1], {"tiktok-roku": choice},
                    keys)
    assert caught.value.status == 409 and caught.value.used_at is not None
    assert ballots() == 1


def test_cast_ballot_outside_the_window_is_refused(ctx, small_gala, keys):
    card = cards.issue_cards(ACTOR, small_gala["gala"], "audience", keys, count=1)[0]
    with pytest.raises(VotingNotOpenError):
        cast_ballot(gala_of(small_gala), card.code, {}, keys)
    services.open_voting(ACTOR, small_gala["gala"])
    services.close_voting(ACTOR, small_gala["gala"])
    with pytest.raises(VotingNotOpenError):
        cast_ballot(gala_of(small_gala), card.code, {}, keys)
    assert ballots() == 0
    assert db.session.scalars(select(Token)).one().used_at is None


def test_cast_ballot_revoked_or_unknown_card_is_refused(open_gala, keys):
    card = cards.issue_cards(ACTOR, open_gala["gala"], "audience", keys, count=1)[0]
    cards.revoke_card(ACTOR, db.session.scalars(select(Token)).one().id)
    with pytest.raises(CardUnknownError):
        cast_ballot(gala_of(open_gala), card.code, {}, keys)
    with pytest.raises(CardUnknownError):
        cast_ballot(gala_of(open_gala), "ABCDE-FGHJK", {}, keys)
    with pytest.raises(CardUnknownError):
        cast_ballot(gala_of(open_gala), "not a card at all", {}, keys)
    assert ballots() == 0


def test_revoke_card_after_it_voted_is_refused(open_gala, keys):
    card = cards.issue_cards(ACTOR, open_gala["gala"], "audience", keys, count=1)[0]
    cast_ballot(gala_of(open_gala), card.code, {}, keys)
    with pytest.raises(ConflictError):
        cards.revoke_card(ACTOR, db.session.scalars(select(Token)).one().id)


def test_cast_ballot_recusal_by_unit_and_by_profile(open_gala, keys):
    by_unit = cards.issue_cards(ACTOR, open_gala["gala"], "audience", keys, count=1,
                                recused_units=["Miasto Łódź"])[0]
    by_profile = cards.issue_cards(ACTOR, open_gala["gala"], "jury", keys, count=1,
                                   recused_profile_ids=[open_gala["gdansk"]])[0]
    lodz = nominee(open_gala["single"], open_gala["lodz"])
    gdansk = nominee(open_gala["ranked"], open_gala["gdansk"])
    wroclaw = nominee(open_gala["ranked"], open_gala["wroclaw"])
    with pytest.raises(ChoiceNotAllowedError):
        cast_ballot(gala_of(open_gala), by_unit.code, {"tiktok-roku": lodz}, keys)
    with pytest.raises(ChoiceNotAllowedError):
        cast_ballot(gala_of(open_gala), by_profile.code,
                    {"wideo-w-metropolii": [wroclaw, gdansk]}, keys)
    assert ballots() == 0
    cast_ballot(gala_of(open_gala), by_profile.code, {"wideo-w-metropolii": [wroclaw]}, keys)
    assert ballots() == 1


def test_cast_ballot_malformed_stores_nothing_and_keeps_the_card(open_gala, keys):
    card = cards.issue_cards(ACTOR, open_gala["gala"], "audience", keys, count=1)[0]
    with pytest.raises(MalformedBallotError):
        cast_ballot(gala_of(open_gala), card.code, {"tiktok-roku": 999999}, keys)
    assert ballots() == 0
    assert db.session.scalars(select(Token)).one().used_at is None


def test_ballot_choice_outside_its_category_is_refused_by_the_database(open_gala, keys):
    """The (nomination, category) foreign key is the last word, whatever the code checks."""
    from sqlalchemy.exc import IntegrityError

    from voting.database import write_transaction

    wrong = nominee(open_gala["ranked"], open_gala["gdansk"])
    with pytest.raises(IntegrityError), write_transaction() as session:
        session.add(Ballot(id="f" * 32, gala_id=open_gala["gala"], group="jury",
                           receipt="TEST-TEST-TEST",
                           choices=[BallotChoice(category_id=open_gala["single"],
                                                 nomination_id=wrong)]))
        session.flush()
    assert ballots() == 0


def test_cast_ballot_one_card_from_many_threads_counts_once(app, open_gala):
    """Bounded: 8 threads, one card, started together; exactly one ballot is stored."""
    with app.app_context():
        keys = card_keys(app.config)
        code = cards.issue_cards(ACTOR, open_gala["gala"], "audience", keys, count=1)[0].code
        choice = nominee(open_gala["single"], open_gala["wroclaw"])
        db.session.remove()
    barrier = threading.Barrier(8)
    outcomes: list[Any] = []

    def vote() -> None:
        with app.app_context():
            gala = db.session.get(Gala, open_gala["gala"])
            barrier.wait(timeout=30)
            try:
                outcomes.append(cast_ballot(gala, code, {"tiktok-roku": choice}, keys))
            except CardUsedError as error:
                outcomes.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=vote) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with app.app_context():
        assert ballots() == 1
        assert db.session.scalar(select(func.count()).select_from(BallotChoice)) == 1
    assert sum(1 for o in outcomes if isinstance(o, CardUsedError)) == 7
    assert len(outcomes) == 8


def test_rules_follow_the_categories(open_gala):
    from voting.ballots import gala_rules

    rules = gala_rules(gala_of(open_gala)).categories
    assert [(r.slug, r.method, r.groups, r.places) for r in rules] == [
        ("tiktok-roku", "single", frozenset({"audience"}), None),
        ("wideo-w-metropolii", "ranked", frozenset({"jury"}), 2)]


@pytest.mark.parametrize("desk", ["revoke", "reissue"])
def test_a_card_revoked_while_it_votes_ends_either_used_or_revoked_never_both(
        app, open_gala, monkeypatch, desk):
    """The desk checks the card and writes `revoked_at`; a ballot claiming the same card in
    that moment must wait for it (and is then refused), never slip in between."""
    from voting import cards as cards_module
    from voting.models import utcnow as real_utcnow

    with app.app_context():
        keys = card_keys(app.config)
        code = cards.issue_cards(ACTOR, open_gala["gala"], "audience", keys, count=1)[0].code
        card_id = db.session.scalar(select(Token.id))
        db.session.remove()
    outcomes: list[Any] = []

    def vote() -> None:
        with app.app_context():
            try:
                outcomes.append(cast_ballot(db.session.get(Gala, open_gala["gala"]), code, {},
                                            keys))
            except CardUnknownError as error:
                outcomes.append(error)
            finally:
                db.session.remove()

    voter = threading.Thread(target=vote)

    def desk_clock():  # noqa: ANN202 -- the desk has checked the card: now a phone votes
        if not voter.is_alive() and not outcomes:
            voter.start()
            voter.join(timeout=0.5)  # the ballot gets as far as it can before the desk writes
        return real_utcnow()

    monkeypatch.setattr(cards_module, "utcnow", desk_clock)
    with app.app_context():
        if desk == "revoke":
            cards.revoke_card(ACTOR, card_id)
        else:
            cards.reissue_card(ACTOR, card_id, keys)
    voter.join(timeout=30)
    with app.app_context():
        card = db.session.get(Token, card_id)
        assert card.revoked_at is not None and card.used_at is None
        assert ballots() == 0
    assert len(outcomes) == 1 and isinstance(outcomes[0], CardUnknownError)


def box(app: Flask) -> set[tuple[Any, ...]]:
    """Every ballot with its choices, as a set (the order is not part of the box)."""
    with app.app_context():
        return {(b.id, b.group, b.receipt,
                 tuple(sorted((c.category_id, c.nomination_id, c.place or 0, c.score or 0)
                              for c in b.choices)))
                for b in db.session.scalars(select(Ballot))}


def test_closing_rewrites_the_ballot_box_in_a_random_order_and_loses_nothing(app, open_gala):
    from voting import window

    with app.app_context():
        keys = card_keys(app.config)
        issued = cards.issue_cards(ACTOR, open_gala["gala"], "jury", keys, count=12)
        ranked = [nominee(open_gala["ranked"], open_gala[p]) for p in ("wroclaw", "gdansk")]
        for number, card in enumerate(issued):
            cast_ballot(gala_of(open_gala), card.code,
                        {"wideo-w-metropolii": ranked if number % 2 else ranked[::-1]}, keys)
        before = box(app)
        token_xmins = None
        if db.session.get_bind().dialect.name == "postgresql":
            token_xmins = set(db.session.scalars(text("SELECT xmin::text FROM token "
                                                      "WHERE used_at IS NOT NULL")))
            assert len(set(db.session.scalars(text("SELECT xmin::text FROM ballot")))) == 12
        window.close_voting(ACTOR, open_gala["gala"])
        assert box(app) == before and len(before) == 12
        if token_xmins is not None:
            # One writing transaction for the whole box, and not any card's.
            ballot_xmins = set(db.session.scalars(text("SELECT xmin::text FROM ballot")))
            choice_xmins = set(db.session.scalars(text("SELECT xmin::text FROM ballot_choice")))
            assert len(ballot_xmins) == 1 and ballot_xmins == choice_xmins
            assert not ballot_xmins & token_xmins


def test_closing_waits_for_a_ballot_being_stored(app, open_gala, monkeypatch):
    """A ballot whose card was claimed just before the close is in the box when the close
    commits (on PostgreSQL the close waits for it; on SQLite the write lock orders them)."""
    import contextlib

    from voting import ballots as ballots_module
    from voting import window

    with app.app_context():
        keys = card_keys(app.config)
        code = cards.issue_cards(ACTOR, open_gala["gala"], "audience", keys, count=1)[0].code
        db.session.remove()
    seen: list[int] = []
    original = ballots_module.write_transaction

    @contextlib.contextmanager
    def claim_then_close(serialize: bool = True):  # noqa: ANN202
        with original(serialize) as session:
            yield session

            def close() -> None:
                with app.app_context():
                    window.close_voting(ACTOR, open_gala["gala"])
                    seen.append(db.session.scalar(select(func.count()).select_from(Ballot)))
                    db.session.remove()

            closer = threading.Thread(target=close)
            closer.start()
            closer.join(timeout=0.5)  # the close gets as far as it can before the ballot commits
        closer.join(timeout=30)

    monkeypatch.setattr(ballots_module, "write_transaction", claim_then_close)
    with app.app_context():
        cast_ballot(gala_of(open_gala), code, {}, keys)
    assert seen == [1]  # the closing transaction saw the ballot


def test_a_failure_after_the_claim_rolls_the_claim_back_and_answers_busy(app, open_gala,
                                                                          monkeypatch):
    """Not a stubbed claim: the card is really claimed, then the ballot cannot be stored (its
    receipt collides every time), so the whole transaction goes and the card stays unused."""
    from voting import ballots as ballots_module
    from voting.errors import BusyError

    with app.app_context():
        keys = card_keys(app.config)
        first, second = cards.issue_cards(ACTOR, open_gala["gala"], "audience", keys, count=2)
        taken = cast_ballot(gala_of(open_gala), first.code, {}, keys).receipt
        monkeypatch.setattr(ballots_module.tokens, "new_receipt", lambda: taken)
        with pytest.raises(BusyError):
            cast_ballot(gala_of(open_gala), second.code, {}, keys)
        db.session.rollback()
        assert ballots() == 1
        card = cards.find_card(open_gala["gala"], second.code, keys)
        assert card.used_at is None
        monkeypatch.undo()
        assert cast_ballot(gala_of(open_gala), second.code, {}, keys).receipt != taken
        assert ballots() == 2
