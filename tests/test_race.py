"""Exactly once under real concurrency: a gunicorn server with several workers, racers in
separate processes, on SQLite and (with TEST_DATABASE_URL) on PostgreSQL.

The racers each open their connection, wait at one barrier and then POST together, so the
submissions meet inside the server's workers at the same instant.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import servers
from flask import Flask
from sqlalchemy import func, select

from voting import cards, services
from voting.ballots import card_keys
from voting.extensions import db
from voting.models import Ballot, BallotChoice, Nomination, Token

pytestmark = pytest.mark.slow

ACTOR = "race-test"
BALLOTS = "/api/v1/ballots"
RACERS = 50
CARDS = 60
TIMEOUT = 30  # seconds, for any one request or wait


@pytest.fixture
def server(app: Flask, app_config: dict[str, Any], tmp_path: Path) -> Iterator[servers.Server]:
    """gunicorn with 3 workers of 4 threads each, on the test's own database and keys."""
    env = {"APP_CONFIG": "default", "DATABASE_URL": app_config["SQLALCHEMY_DATABASE_URI"],
           "INSTANCE_PATH": app_config["INSTANCE_PATH"], "SECRET_KEY": app_config["SECRET_KEY"],
           "RATELIMIT_STORAGE_URI": "memory://"}
    with servers.gunicorn(env, tmp_path / "gunicorn.log", workers=3, worker_class="gthread",
                          threads=4) as running:
        yield running


@pytest.fixture
def opened(app: Flask, small_gala: dict[str, int]) -> dict[str, Any]:
    """The small gala, open, with the votes each group's card sends."""
    with app.app_context():
        services.open_voting(ACTOR, small_gala["gala"])

        def nominee(category: str, profile: str) -> int:
            return db.session.scalar(select(Nomination.id).where(
                Nomination.category_id == small_gala[category],
                Nomination.profile_id == small_gala[profile]))

        votes = {"audience": {"tiktok-roku": nominee("single", "lodz")},
                 "jury": {"wideo-w-metropolii": [nominee("ranked", "gdansk"),
                                                 nominee("ranked", "wroclaw")]}}
    return {**small_gala, "votes": votes}


def issue(app: Flask, gala_id: int, group: str, count: int) -> list[cards.IssuedCard]:
    with app.app_context():
        return cards.issue_cards(ACTOR, gala_id, group, card_keys(app.config), count=count)


def race(server: servers.Server, bodies: list[Any]) -> list[tuple[int | None, Any]]:
    """POST every body at once, each from a process of its own; their (status, answer)."""
    context = multiprocessing.get_context("forkserver")
    start = context.Barrier(len(bodies))
    results = context.Queue()
    racers = [context.Process(target=servers.race_client, daemon=True,
                              args=(server.port, BALLOTS, body, start, results, TIMEOUT))
              for body in bodies]
    try:
        for racer in racers:
            racer.start()
        return [results.get(timeout=3 * TIMEOUT) for _ in racers]
    finally:
        for racer in racers:
            racer.join(timeout=10)
            if racer.is_alive():
                racer.kill()
                racer.join(timeout=10)
        results.close()


def counts(app: Flask) -> tuple[int, int, int]:
    """Ballots, their choices, and used cards, as the database has them."""
    with app.app_context():
        try:
            return (db.session.scalar(select(func.count()).select_from(Ballot)),
                    db.session.scalar(select(func.count()).select_from(BallotChoice)),
                    db.session.scalar(select(func.count()).select_from(Token)
                                      .where(Token.used_at.is_not(None))))
        finally:
            db.session.remove()


def assert_one_winner(outcomes: list[tuple[int | None, Any]], server: servers.Server) -> None:
    statuses = Counter(status for status, _ in outcomes)
    assert statuses[201] == 1, (statuses, outcomes[:5], server.log_tail())
    assert set(statuses) <= {201, 409, 503}, (statuses, outcomes, server.log_tail())
    for status, answer in outcomes:
        if status == 201:
            assert len(answer["receipt"]) == 14
        elif status == 409:
            assert answer["error"] == "card_used" and answer.get("used_at"), answer


def test_race_one_card_many_processes_counts_once(app, opened, server):
    card = issue(app, opened["gala"], "audience", 1)[0]
    body = {"token": card.code, "votes": opened["votes"]["audience"]}
    outcomes = race(server, [body] * RACERS)
    assert_one_winner(outcomes, server)
    # A 503 leaves the card unused and stores nothing, so one ballot whatever the mix.
    assert counts(app) == (1, 1, 1)


def test_race_one_card_by_code_and_qr_token_counts_once(app, opened, server):
    card = issue(app, opened["gala"], "jury", 1)[0]
    token = card.url.rsplit("/v/", 1)[1]
    spellings = [card.code, card.code.lower(), card.code.replace("-", " "), token]
    bodies = [{"token": spellings[i % len(spellings)], "votes": opened["votes"]["jury"]}
              for i in range(RACERS)]
    outcomes = race(server, bodies)
    assert_one_winner(outcomes, server)
    assert counts(app) == (1, 2, 1)


def test_race_many_cards_at_once_lose_no_ballot(app, opened, server):
    jury = issue(app, opened["gala"], "jury", CARDS // 2)
    audience = issue(app, opened["gala"], "audience", CARDS - len(jury))
    bodies = [{"token": card.url.rsplit("/v/", 1)[1] if i % 2 else card.code,
               "votes": opened["votes"][card.group]}
              for i, card in enumerate(jury + audience)]
    outcomes = race(server, bodies)
    assert Counter(status for status, _ in outcomes) == {201: CARDS}, (outcomes,
                                                                        server.log_tail())
    receipts = {answer["receipt"] for _, answer in outcomes}
    assert len(receipts) == CARDS
    assert counts(app) == (CARDS, 2 * len(jury) + len(audience), CARDS)
    with app.app_context():
        assert set(db.session.scalars(select(Ballot.receipt))) == receipts
        db.session.remove()
