"""Wrong card codes: the failure limit per client address (memory and Redis storage), shared by
the API and the HTML code entry, generous to a hall behind one address, and the admin alarm
that never blocks anyone."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from conftest import csrf_token
from flask import Flask
from flask.testing import FlaskClient
from limits import parse_many

from voting import abuse, cards, create_app, services
from voting.ballots import card_keys
from voting.cards import IssuedCard
from voting.extensions import db, limiter

ACTOR = "jury.chair@example.com"
API = "/api/v1/ballots"
REDIS_URL = "redis://127.0.0.1:6379"
HALL = "203.0.113.10"  # the venue's one Wi-Fi address
ELSEWHERE = "198.51.100.20"


def issue(app: Flask, gala_id: int, group: str = "audience", count: int = 1) -> list[IssuedCard]:
    with app.app_context():
        return cards.issue_cards(ACTOR, gala_id, group, card_keys(app.config), count=count)


def api_vote(client: FlaskClient, token: str, address: str = HALL, **kwargs: Any):  # noqa: ANN201
    return client.post(API, json={"token": token, "votes": {}},
                       environ_overrides={"REMOTE_ADDR": address}, **kwargs)


def typo(client: FlaskClient, address: str = HALL):  # noqa: ANN201
    return api_vote(client, "ZZZZZ-ZZZZZ", address)


@pytest.fixture
def open_gala(app: Flask, small_gala: dict[str, int]) -> int:
    with app.app_context():
        services.open_voting(ACTOR, small_gala["gala"])
    return small_gala["gala"]


@pytest.fixture
def redis_app(app: Flask, app_config: dict[str, Any]) -> Iterator[Flask]:
    """The same database, failures counted in the local Redis under a prefix of this test's
    own (removed afterwards, so parallel runs and other tests never see each other)."""
    prefix = f"zl-test-{secrets.token_hex(8)}"
    server = redis.Redis.from_url(REDIS_URL)
    server.ping()
    # Flask-Limiter keeps the first prefix it was given for good (one app per process in
    # production); tests give each app its own.
    saved = limiter._key_prefix
    limiter._key_prefix = ""
    redis_app = create_app({**app_config, "RATELIMIT_STORAGE_URI": REDIS_URL,
                            "RATELIMIT_KEY_PREFIX": prefix})
    try:
        yield redis_app
    finally:
        keys = list(server.scan_iter(f"*{prefix}*"))
        if keys:
            server.delete(*keys)
        limiter._key_prefix = saved
        with redis_app.app_context():
            db.session.remove()
            db.engine.dispose()
        server.close()
        limiter.init_app(app)  # back to the memory storage for the tests that follow


# --- the limit -------------------------------------------------------------------------------


def test_abuse_default_limit_allows_at_least_60_failures_a_minute(app):
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
    for item in parse_many(app.config["CARD_FAILURE_LIMIT"]):
        assert item.amount * 60 / item.get_expiry() >= 60


def test_abuse_a_hall_behind_one_address_is_not_locked_out_by_its_typos(app, open_gala):
    client = app.test_client()
    hall = issue(app, open_gala, count=100)
    for number, card in enumerate(hall):
        if number < 60:  # sixty people mistype their code first, within the minute
            assert typo(client).status_code == 401
        assert api_vote(client, card.code).status_code == 201, number
    assert typo(client).status_code == 401  # and one more typo is still only a 401


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_abuse_too_many_failures_answer_429_with_retry_after(request, app, open_gala, storage):
    target = request.getfixturevalue("redis_app") if storage == "redis" else app
    target.config["CARD_FAILURE_LIMIT"] = "5 per minute"
    client = target.test_client()
    card = issue(target, open_gala)[0]
    for _ in range(5):
        assert typo(client).status_code == 401
    refused = api_vote(client, card.code)
    assert refused.status_code == 429
    assert refused.get_json()["error"] == "too_many_attempts"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert api_vote(client, card.code, ELSEWHERE).status_code == 201  # only this address waits


def test_abuse_redis_storage_outlives_the_worker_that_counted(app_config, redis_app, open_gala):
    """A fresh storage connection (as another gunicorn worker has) sees the same budget."""
    redis_app.config["CARD_FAILURE_LIMIT"] = "4 per minute"
    prefix = redis_app.config["RATELIMIT_KEY_PREFIX"]
    first = redis_app.test_client()
    for _ in range(2):
        assert typo(first).status_code == 401
    server = redis.Redis.from_url(REDIS_URL)
    assert list(server.scan_iter(f"*{prefix}*card-attempts*"))  # counted in Redis itself
    server.close()
    saved = limiter._key_prefix
    limiter._key_prefix = ""
    second_app = create_app({**app_config, "RATELIMIT_STORAGE_URI": REDIS_URL,
                             "RATELIMIT_KEY_PREFIX": prefix, "CARD_FAILURE_LIMIT": "4 per minute"})
    limiter._key_prefix = saved
    second = second_app.test_client()
    for _ in range(2):
        assert typo(second).status_code == 401
    assert typo(first).status_code == 429
    with second_app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_abuse_only_failures_count(app, open_gala):
    app.config["CARD_FAILURE_LIMIT"] = "3 per minute"
    client = app.test_client()
    voters = issue(app, open_gala, count=6)
    for card in voters[:3]:
        assert api_vote(client, card.code).status_code == 201
    for card in voters[:3]:
        assert api_vote(client, card.code).status_code == 409  # used: not a wrong code
    for card in voters[3:]:
        assert api_vote(client, card.code).status_code == 201
    assert client.get("/api/v1/gala", environ_overrides={"REMOTE_ADDR": HALL}).status_code \
        == 200
    for _ in range(3):
        assert typo(client).status_code == 401
    assert typo(client).status_code == 429


def test_abuse_a_body_without_a_token_counts_as_a_failure(app, open_gala):
    app.config["CARD_FAILURE_LIMIT"] = "2 per minute"
    client = app.test_client()
    for body in ({"votes": {}}, {"token": 42}):
        response = client.post(API, json=body, environ_overrides={"REMOTE_ADDR": HALL})
        assert response.status_code == 422
    assert typo(client).status_code == 429


def test_abuse_the_html_code_entry_and_the_api_share_one_budget(app, open_gala):
    app.config["CARD_FAILURE_LIMIT"] = "4 per minute"
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = HALL
    for _ in range(2):
        response = client.post("/", data={"csrf_token": csrf_token(client, "/"),
                                          "code": "ZZZZZ-ZZZZZ"})
        assert response.status_code == 401
    assert client.get("/v/forged.token").status_code == 401
    assert typo(client).status_code == 401
    assert typo(client).status_code == 429
    page = client.post("/", data={"csrf_token": csrf_token(client, "/"), "code": "ZZZZZ-ZZZZZ"},
                       headers={"Accept-Language": "en"})
    assert page.status_code == 429
    html = page.get_data(as_text=True)
    assert page.mimetype == "text/html"
    assert "Too many attempts" in html and "information desk" in html
    assert "Please try again in" in html
    assert client.get("/").status_code == 200  # the home page itself is never held back


def test_abuse_the_html_429_page_is_polish_by_default(app, open_gala):
    app.config["CARD_FAILURE_LIMIT"] = "1 per minute"
    client = app.test_client()
    assert client.get("/v/forged.token").status_code == 401
    page = client.get("/v/forged.token")
    assert page.status_code == 429
    assert '<html lang="pl">' in page.get_data(as_text=True)
    assert page.headers["Retry-After"]


def test_abuse_card_attempts_decorates_any_view(app):
    """`@card_attempts` on a view of one's own: 401s count, `note_card_failure` counts too."""
    from flask import abort

    app.config["CARD_FAILURE_LIMIT"] = "2 per minute"

    @app.get("/test-card-entry/<outcome>")
    @abuse.card_attempts
    def card_entry(outcome: str) -> Any:
        if outcome == "marked":
            abuse.note_card_failure()
            return "try again", 200
        if outcome == "wrong":
            abort(401)
        return "ok", 200

    client = app.test_client()
    assert client.get("/test-card-entry/ok").status_code == 200
    assert client.get("/test-card-entry/marked").status_code == 200
    assert client.get("/test-card-entry/ok").status_code == 200
    assert client.get("/test-card-entry/wrong").status_code == 401
    assert client.get("/test-card-entry/ok").status_code == 429


# --- the alarm -------------------------------------------------------------------------------


def test_abuse_alarm_rises_past_its_threshold_and_never_blocks(app, open_gala, caplog):
    app.config["CARD_FAILURE_ALARM"] = "6 per 5 minutes"
    client = app.test_client()
    with app.app_context():
        assert abuse.failure_alarm() is None
    addresses = [f"192.0.2.{n}" for n in range(1, 8)]
    for address in addresses[:6]:
        assert typo(client, address).status_code == 401
    with app.app_context():
        assert abuse.failure_alarm() is None  # at the threshold, not past it
    with caplog.at_level(logging.WARNING, logger="voting.abuse"):
        assert typo(client, addresses[6]).status_code == 401
    assert "wrong card codes spiking" in caplog.text
    assert "ZZZZZ" not in caplog.text  # never a code in the log
    with app.app_context():
        assert abuse.failure_alarm() == {"failures": 7, "threshold": 6, "minutes": 5,
                                         "capped": False}
    card = issue(app, open_gala)[0]
    assert api_vote(client, card.code, "192.0.2.1").status_code == 201  # nobody is blocked
    assert typo(client, "192.0.2.99").status_code == 401


def test_abuse_alarm_counts_in_redis_too(redis_app, open_gala):
    redis_app.config["CARD_FAILURE_ALARM"] = "2 per 5 minutes"
    client = redis_app.test_client()
    for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        assert typo(client, address).status_code == 401
    with redis_app.app_context():
        assert abuse.failure_alarm()["failures"] == 3


def test_abuse_alarm_survives_a_broken_storage(app, monkeypatch, caplog):
    class Broken:
        def __getattr__(self, name: str) -> Any:
            raise ConnectionError("storage down")

    monkeypatch.setattr(type(limiter), "storage", property(lambda self: Broken()))
    with app.test_request_context(), caplog.at_level(logging.ERROR, logger="voting.abuse"):
        assert abuse.failure_alarm() is None
        abuse._count_for_alarm()


def test_abuse_alarm_banner_shows_in_the_admin_only_when_it_rises(app, logged_in, open_gala):
    app.config["CARD_FAILURE_ALARM"] = "2 per 5 minutes"
    client = logged_in.client
    english = {"Accept-Language": "en"}
    assert "Card alarm" not in client.get("/admin/", headers=english).get_data(as_text=True)
    for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        assert typo(client, address).status_code == 401
    html = client.get("/admin/", headers=english).get_data(as_text=True)
    assert "Card alarm:" in html
    assert "3 wrong card codes or links in the last 5 min (alarm above 2)." in html
    assert "Nobody is locked out" in html
    public = app.test_client()
    assert "Card alarm" not in public.get("/", headers=english).get_data(as_text=True)
    assert "Card alarm" not in public.get("/admin/login", headers=english).get_data(
        as_text=True)


def test_abuse_limits_that_do_not_parse_stop_the_start(app_config):
    with pytest.raises(ValueError):
        create_app({**app_config, "CARD_FAILURE_LIMIT": "lots"})
