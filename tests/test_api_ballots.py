"""The JSON API: POST /api/v1/ballots (every status), turnout, the gala's voting window, the
error shape of every API answer, and the OpenAPI document kept honest against the app."""

from __future__ import annotations

import copy
import datetime as dt
import io
import re
from pathlib import Path
from typing import Any

import pytest
from babel.support import Translations
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError

from voting import ballots, cards, services
from voting.api.openapi import openapi_document
from voting.ballots import card_keys
from voting.cards import IssuedCard
from voting.extensions import db
from voting.models import Ballot, BallotChoice, Gala, Nomination, Token, utcnow

ACTOR = "jury.chair@example.com"
API = "/api/v1/ballots"
TRANSLATIONS = Path(__file__).resolve().parent.parent / "voting" / "translations"
RECEIPT = re.compile(r"^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$")


def polish(message: str) -> str:
    return Translations.load(str(TRANSLATIONS), ["pl"]).gettext(message)


# --- helpers -------------------------------------------------------------------------------


def issue(app: Flask, gala_id: int, group: str = "audience", **kwargs: Any) -> IssuedCard:
    with app.app_context():
        return cards.issue_cards(ACTOR, gala_id, group, card_keys(app.config), count=1,
                                 **kwargs)[0]


def qr_token(card: IssuedCard) -> str:
    return card.url.rsplit("/v/", 1)[1]


def nominee(app: Flask, category_id: int, profile_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(Nomination.id).where(
            Nomination.category_id == category_id, Nomination.profile_id == profile_id))


def stored(app: Flask) -> tuple[int, int, int]:
    """Ballots, ballot choices and used cards in the database."""
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(Ballot)),
                db.session.scalar(select(func.count()).select_from(BallotChoice)),
                db.session.scalar(select(func.count()).select_from(Token)
                                  .where(Token.used_at.is_not(None))))


def set_gala(app: Flask, gala_id: int, **values: Any) -> None:
    """Play the clock or the database: change the gala's row directly."""
    with app.app_context():
        db.session.execute(update(Gala).where(Gala.id == gala_id).values(**values))
        db.session.commit()


def revoke(app: Flask) -> None:
    with app.app_context():
        card = db.session.scalars(select(Token).order_by(Token.id.desc())).first()
        cards.revoke_card(ACTOR, card.id)


def vote(client: FlaskClient, token: Any, votes: Any = None, **kwargs: Any):  # noqa: ANN201
    body = {"token": token} if votes is None else {"token": token, "votes": votes}
    return client.post(API, json=body, **kwargs)


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    body = response.get_json()
    assert {"error", "message", "fields"} <= set(body)
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["fields"], dict)
    return body


@pytest.fixture
def gala(app: Flask, small_gala: dict[str, int]) -> dict[str, int]:
    """The small gala, open: "tiktok-roku" (single, audience), "wideo-w-metropolii" (ranked,
    2 places, jury)."""
    with app.app_context():
        services.open_voting(ACTOR, small_gala["gala"])
    return {**small_gala,
            "lodz_single": nominee(app, small_gala["single"], small_gala["lodz"]),
            "wroclaw_single": nominee(app, small_gala["single"], small_gala["wroclaw"]),
            "wroclaw_ranked": nominee(app, small_gala["ranked"], small_gala["wroclaw"]),
            "gdansk_ranked": nominee(app, small_gala["ranked"], small_gala["gdansk"])}


# --- 201 -----------------------------------------------------------------------------------


def test_api_ballot_by_code_is_stored_and_answers_a_receipt(app, client, gala):
    card = issue(app, gala["gala"], "audience")
    response = vote(client, card.code, {"tiktok-roku": gala["wroclaw_single"]})
    assert response.status_code == 201, response.get_data(as_text=True)
    receipt = response.get_json()["receipt"]
    assert set(response.get_json()) == {"receipt"} and RECEIPT.match(receipt)
    with app.app_context():
        ballot = db.session.scalars(select(Ballot)).one()
        assert (ballot.group, ballot.receipt) == ("audience", receipt)
        assert [(c.category_id, c.nomination_id) for c in ballot.choices] == [
            (gala["single"], gala["wroclaw_single"])]
    assert stored(app) == (1, 1, 1)


def test_api_ballot_by_qr_token_with_a_ranking_and_a_typed_code_in_any_case(app, client, gala):
    juror = issue(app, gala["gala"], "jury")
    ranking = [gala["gdansk_ranked"], gala["wroclaw_ranked"]]
    assert vote(client, qr_token(juror), {"wideo-w-metropolii": ranking}).status_code == 201
    typed = issue(app, gala["gala"], "audience").code.lower().replace("-", " ")
    assert vote(client, typed, {}).status_code == 201  # abstaining everywhere is a ballot
    with app.app_context():
        places = db.session.execute(select(BallotChoice.nomination_id, BallotChoice.place)
                                    .order_by(BallotChoice.place)).all()
    assert [tuple(row) for row in places] == [(ranking[0], 1), (ranking[1], 2)]
    assert stored(app) == (2, 2, 2)


def test_api_ballot_needs_no_csrf_token_nor_cookie(app, gala):
    assert app.config.get("WTF_CSRF_ENABLED", True)  # CSRF is on in the tests
    client = app.test_client(use_cookies=False)
    card = issue(app, gala["gala"], "audience")
    assert vote(client, card.code, {}).status_code == 201
    assert "Set-Cookie" not in vote(client, "ZZZZZ-ZZZZZ", {}).headers


# --- 413 -----------------------------------------------------------------------------------


def test_api_ballot_413_by_its_declared_length(app, client, gala):
    card = issue(app, gala["gala"], "audience")
    response = client.post(API, data=b'{"token": "x"}', content_type="application/json",
                           environ_overrides={"CONTENT_LENGTH": str(4 * 1024 * 1024 + 1)})
    assert_error(response, 413, "too_large")
    assert stored(app) == (0, 0, 0)
    assert vote(client, card.code, {}).status_code == 201


def test_api_ballot_413_for_a_real_oversized_body_and_a_chunked_one(app, client, gala):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    card = issue(app, gala["gala"], "audience")
    padding = "x" * 2000
    response = client.post(API, json={"token": card.code, "votes": {}, "pad": padding})
    assert_error(response, 413, "too_large")
    chunked = client.post(API, input_stream=io.BytesIO(
        b'{"token": "%s", "votes": {}, "pad": "%s"}' % (card.code.encode(), padding.encode())),
        content_type="application/json", headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True})
    assert_error(chunked, 413, "too_large")
    assert stored(app) == (0, 0, 0)
    small = client.post(API, input_stream=io.BytesIO(
        b'{"token": "%s", "votes": {}}' % card.code.encode()),
        content_type="application/json", headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True})
    assert small.status_code == 201  # a chunked body under the cap is read as usual


def test_api_ballot_413_comes_before_the_failure_limit(app, client, gala):
    app.config["CARD_FAILURE_LIMIT"] = "2 per minute"
    for _ in range(2):
        assert vote(client, "ZZZZZ-ZZZZZ", {}).status_code == 401
    assert vote(client, "ZZZZZ-ZZZZZ", {}).status_code == 429
    response = client.post(API, data=b"{}", content_type="application/json",
                           environ_overrides={"CONTENT_LENGTH": str(10**9)})
    assert_error(response, 413, "too_large")


# --- 401 -----------------------------------------------------------------------------------


def test_api_ballot_401_for_unknown_forged_revoked_and_nonsense_tokens(app, client, gala):
    card = issue(app, gala["gala"], "audience")
    token = qr_token(card)
    revoked = issue(app, gala["gala"], "audience")
    revoke(app)
    choice = {"tiktok-roku": gala["lodz_single"]}
    for credential in ("ZZZZZ-ZZZZZ", token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB"),
                       token.split(".")[0] + ".forged", revoked.code, qr_token(revoked),
                       "not a card at all", "x" * 5000):
        body = assert_error(vote(client, credential, choice), 401, "unknown_card")
        assert body["fields"] == {}
    assert stored(app) == (0, 0, 0)
    assert vote(client, card.code, choice).status_code == 201  # the real one still works


def test_api_ballot_401_for_a_token_of_another_gala(app, client, gala):
    with app.app_context():
        other = services.create_gala(ACTOR, {"name": "Gala 2027", "date": "2027-11-27",
                                             "venue": "Kraków"}).id
    foreign = issue(app, other, "audience")
    with app.app_context():
        services.switch_gala(ACTOR, gala["gala"])
    assert_error(vote(client, qr_token(foreign), {}), 401, "unknown_card")
    assert_error(vote(client, foreign.code, {}), 401, "unknown_card")


def test_api_ballot_401_when_there_is_no_gala(client):
    assert_error(vote(client, "ZZZZZ-ZZZZZ", {}), 401, "unknown_card")


def test_api_ballot_401_comes_before_every_other_check(app, client, gala):
    set_gala(app, gala["gala"], voting_state="closed")
    assert_error(vote(client, "ZZZZZ-ZZZZZ", [1, 2]), 401, "unknown_card")


# --- 423 -----------------------------------------------------------------------------------


def test_api_ballot_423_before_voting_opens(app, client, small_gala):
    card = issue(app, small_gala["gala"], "audience")
    assert_error(vote(client, card.code, {}), 423, "voting_not_open")
    assert stored(app) == (0, 0, 0)


def test_api_ballot_423_after_voting_closed(app, client, gala):
    card = issue(app, gala["gala"], "audience")
    with app.app_context():
        services.close_voting(ACTOR, gala["gala"])
    assert_error(vote(client, card.code, {}), 423, "voting_not_open")
    assert stored(app) == (0, 0, 0)


def test_api_ballot_423_once_the_closing_time_has_passed(app, client, gala):
    card = issue(app, gala["gala"], "audience")
    set_gala(app, gala["gala"], closes_at=utcnow() - dt.timedelta(seconds=1))
    # The window is judged before the ballot: a malformed one is still a 423.
    assert_error(vote(client, card.code, {"no-such-category": 1}), 423, "voting_not_open")
    assert stored(app) == (0, 0, 0)
    set_gala(app, gala["gala"], closes_at=utcnow() + dt.timedelta(minutes=5))
    assert vote(client, card.code, {}).status_code == 201


# --- 409 -----------------------------------------------------------------------------------


def test_api_ballot_409_for_a_used_card_says_when_in_utc(app, client, gala):
    card = issue(app, gala["gala"], "audience")
    choice = {"tiktok-roku": gala["lodz_single"]}
    before = utcnow().replace(microsecond=0)
    assert vote(client, card.code, choice).status_code == 201
    for credential in (card.code, qr_token(card)):
        body = assert_error(vote(client, credential, choice), 409, "card_used")
        used_at = dt.datetime.fromisoformat(body["used_at"])
        assert body["used_at"].endswith("+00:00")
        assert before <= used_at <= utcnow()
    # Even a malformed retry says the ballot is recorded rather than that it is malformed.
    assert_error(vote(client, card.code, {"no-such-category": 1}), 409, "card_used")
    assert stored(app) == (1, 1, 1)


# --- 422 -----------------------------------------------------------------------------------


@pytest.fixture
def scored(app: Flask, small_gala: dict[str, int]) -> dict[str, int]:
    """The small gala with a score category (1..5) and an approval one (at most 1), open."""
    with app.app_context():
        score = services.create_category(ACTOR, small_gala["gala"], {
            "name_pl": "Oceny", "name_en": "Scores", "method": "score",
            "score_min": 1, "score_max": 5, "min_scores": 0, "weights": {"audience": 100}})
        approval = services.create_category(ACTOR, small_gala["gala"], {
            "name_pl": "Aprobata", "name_en": "Approval", "slug": "aprobata",
            "method": "approval", "max_choices": 1, "weights": {"audience": 100}})
        for category in (score, approval):
            services.nominate(ACTOR, category.id, small_gala["lodz"])
            services.nominate(ACTOR, category.id, small_gala["gdansk"])
        services.open_voting(ACTOR, small_gala["gala"])
        slugs = {c.id: c.slug for c in (score, approval)}
    return {**small_gala, "score": score.id, "approval": approval.id,
            "score_slug": slugs[score.id], "approval_slug": slugs[approval.id]}


def test_api_ballot_422_names_each_offending_category(app, client, scored):
    lodz_score = nominee(app, scored["score"], scored["lodz"])
    gdansk_approval = nominee(app, scored["approval"], scored["gdansk"])
    lodz_approval = nominee(app, scored["approval"], scored["lodz"])
    wroclaw_ranked = nominee(app, scored["ranked"], scored["wroclaw"])
    card = issue(app, scored["gala"], "audience")
    cases = [
        ({"tiktok-roku": [nominee(app, scored["single"], scored["lodz"])]}, "tiktok-roku"),
        ({"tiktok-roku": wroclaw_ranked}, "tiktok-roku"),        # nominee elsewhere
        ({"no-such-category": 1}, "no-such-category"),
        ({"wideo-w-metropolii": [wroclaw_ranked, wroclaw_ranked]}, "wideo-w-metropolii"),
        ({scored["score_slug"]: {str(lodz_score): 6}}, scored["score_slug"]),      # range
        ({scored["score_slug"]: {str(lodz_score): 2.5}}, scored["score_slug"]),
        ({scored["approval_slug"]: [gdansk_approval, lodz_approval]},
         scored["approval_slug"]),                                              # over the max
        ({scored["score_slug"]: {str(lodz_score): 3, f"0{lodz_score}": 4}},
         scored["score_slug"]),                                  # one nominee scored twice
        ({scored["score_slug"]: {"²": 3}}, scored["score_slug"]),   # not an ASCII digit
        ({"tiktok-roku": "²"}, "tiktok-roku"),
        ({"wideo-w-metropolii": ["٣"]}, "wideo-w-metropolii"),
    ]
    for votes, field in cases:
        body = assert_error(vote(client, card.code, votes), 422, "invalid_ballot")
        assert set(body["fields"]) == {field}, votes
        assert all(isinstance(reason, str) and reason for reason in body["fields"].values())
    body = assert_error(vote(client, card.code, dict(
        item for votes, _ in cases for item in votes.items())), 422, "invalid_ballot")
    assert set(body["fields"]) == {field for _, field in cases}
    assert stored(app) == (0, 0, 0)
    assert vote(client, card.code, {scored["score_slug"]: {str(lodz_score): 5}}).status_code \
        == 201


@pytest.mark.parametrize(("data", "fields"), [
    (b"not json at all", {"body"}),
    (b"", {"body"}),
    (b"\xff\xfe\x00garbage", {"body"}),
    (b"[" * 100_000, {"body"}),                      # nested beyond reason
    (b'["K7M2Q-9XH4D"]', {"body"}),
    (b'"K7M2Q-9XH4D"', {"body"}),
    (b"null", {"body"}),
    (b'{"votes": {}}', {"token"}),
    (b'{"token": 12345, "votes": {}}', {"token"}),
    (b'{"token": "   "}', {"token"}),
    (b'{"token": null, "votes": [1]}', {"token", "votes"}),
])
def test_api_ballot_422_for_a_body_without_a_usable_token(app, client, gala, data, fields):
    response = client.post(API, data=data, content_type="application/json")
    body = assert_error(response, 422, "invalid_ballot")
    assert set(body["fields"]) == fields
    assert stored(app) == (0, 0, 0)


def test_api_ballot_422_when_votes_are_missing_or_not_an_object(app, client, gala):
    card = issue(app, gala["gala"], "audience")
    for body in ({"token": card.code}, {"token": card.code, "votes": [1]},
                 {"token": card.code, "votes": "tiktok-roku"}):
        assert set(assert_error(client.post(API, json=body), 422,
                                "invalid_ballot")["fields"]) == {"votes"}
    assert stored(app) == (0, 0, 0)


def test_api_ballot_reads_json_whatever_the_content_type(app, client, gala):
    card = issue(app, gala["gala"], "audience")
    response = client.post(API, data=b'{"token": "%s", "votes": {}}' % card.code.encode(),
                           content_type="text/plain")
    assert response.status_code == 201


# --- 403 -----------------------------------------------------------------------------------


def test_api_ballot_403_for_a_category_of_another_group(app, client, gala):
    audience = issue(app, gala["gala"], "audience")
    juror = issue(app, gala["gala"], "jury")
    body = assert_error(vote(client, audience.code, {
        "wideo-w-metropolii": [gala["wroclaw_ranked"]]}), 403, "choice_not_allowed")
    assert set(body["fields"]) == {"wideo-w-metropolii"}
    body = assert_error(vote(client, juror.code, {"tiktok-roku": gala["lodz_single"]}), 403,
                        "choice_not_allowed")
    assert set(body["fields"]) == {"tiktok-roku"}
    assert stored(app) == (0, 0, 0)


def test_api_ballot_403_for_a_recused_nominee_by_unit_and_by_profile(app, client, gala):
    by_unit = issue(app, gala["gala"], "audience", recused_units=["Miasto Łódź"])
    by_profile = issue(app, gala["gala"], "jury", recused_profile_ids=[gala["gdansk"]])
    assert_error(vote(client, by_unit.code, {"tiktok-roku": gala["lodz_single"]}), 403,
                 "choice_not_allowed")
    assert_error(vote(client, by_profile.code, {
        "wideo-w-metropolii": [gala["wroclaw_ranked"], gala["gdansk_ranked"]]}), 403,
        "choice_not_allowed")
    assert stored(app) == (0, 0, 0)
    assert vote(client, by_unit.code, {"tiktok-roku": gala["wroclaw_single"]}).status_code \
        == 201


def test_api_ballot_malformed_is_reported_before_forbidden(app, client, gala):
    audience = issue(app, gala["gala"], "audience")
    body = assert_error(vote(client, audience.code, {
        "wideo-w-metropolii": [gala["wroclaw_ranked"]], "tiktok-roku": 999999}), 422,
        "invalid_ballot")
    assert set(body["fields"]) == {"tiktok-roku"}


# --- 429 -----------------------------------------------------------------------------------


def test_api_ballot_429_after_too_many_failures_even_for_a_good_card(app, client, gala):
    app.config["CARD_FAILURE_LIMIT"] = "3 per minute"
    card = issue(app, gala["gala"], "audience")
    for _ in range(3):
        assert vote(client, "ZZZZZ-ZZZZZ", {}).status_code == 401
    body = assert_error(vote(client, card.code, {}), 429, "too_many_attempts")
    response = vote(client, "ZZZZZ-ZZZZZ", {})
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert body["fields"] == {}
    assert stored(app) == (0, 0, 0)  # the good card was not even looked up
    other = vote(client, card.code, {}, environ_overrides={"REMOTE_ADDR": "198.51.100.7"})
    assert other.status_code == 201  # another address is not held back


# --- 503 -----------------------------------------------------------------------------------


def test_api_ballot_503_when_the_database_stays_busy_and_the_card_stays_unused(
        app, client, gala, monkeypatch):
    card = issue(app, gala["gala"], "audience")
    attempts: list[int] = []

    def locked(*args: Any, **kwargs: Any) -> Any:
        attempts.append(1)
        raise OperationalError("INSERT INTO ballot ...", {}, Exception("database is locked"))

    monkeypatch.setattr(ballots, "_claim_and_store", locked)
    response = vote(client, card.code, {"tiktok-roku": gala["lodz_single"]})
    body = assert_error(response, 503, "busy")
    assert response.headers["Retry-After"] == "1"
    assert len(attempts) == ballots.CAST_ATTEMPTS
    assert body["fields"] == {}
    assert stored(app) == (0, 0, 0)
    monkeypatch.undo()
    assert vote(client, card.code, {"tiktok-roku": gala["lodz_single"]}).status_code == 201


# --- messages, languages and the error shape -------------------------------------------------


def test_api_error_messages_are_polish_by_default_and_english_on_request(app, client, gala):
    english_text = "This card code is not valid."
    assert polish(english_text) != english_text
    assert vote(client, "ZZZZZ-ZZZZZ", {}).get_json()["message"] == polish(english_text)
    in_english = vote(client, "ZZZZZ-ZZZZZ", {}, headers={"Accept-Language": "en"})
    assert in_english.get_json()["message"] == english_text
    by_query = client.post(f"{API}?lang=en", json={"token": "ZZZZZ-ZZZZZ", "votes": {}})
    assert by_query.get_json()["message"] == english_text
    card = issue(app, gala["gala"], "audience")
    reason = vote(client, card.code, {"no-such-category": 1}, headers={"Accept-Language": "en"})
    assert reason.get_json()["fields"] == {"no-such-category": "No such category."}
    polish_reason = vote(client, card.code, {"no-such-category": 1})
    assert polish_reason.get_json()["fields"] == {
        "no-such-category": polish("No such category.")}


@pytest.mark.parametrize(("method", "path", "status", "code"), [
    ("get", "/api/v1/nope", 404, "not_found"),
    ("get", "/api/v1/ballots", 405, "method_not_allowed"),
    ("put", "/api/v1/ballots", 405, "method_not_allowed"),
    ("post", "/api/v1/gala", 405, "method_not_allowed"),
    ("delete", "/api/v1/turnout", 405, "method_not_allowed"),
    ("get", "/api/v1/turnout", 404, "not_found"),       # no gala yet
])
def test_api_every_error_has_the_one_shape(client, method, path, status, code):
    response = getattr(client, method)(path)
    body = assert_error(response, status, code)
    assert set(body) == {"error", "message", "fields"} and body["fields"] == {}
    if status == 405:
        assert "POST" in response.headers["Allow"] or "GET" in response.headers["Allow"]
    english = getattr(client, method)(path, headers={"Accept-Language": "en"}).get_json()
    assert english["message"] != body["message"]


def test_api_unexpected_error_is_a_500_in_the_one_shape(app, client, gala, monkeypatch):
    app.config["PROPAGATE_UNEXPECTED"] = False

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("kaboom")

    monkeypatch.setattr("voting.api.views.cast_ballot", broken)
    card = issue(app, gala["gala"], "audience")
    body = assert_error(vote(client, card.code, {}), 500, "server_error")
    assert set(body) == {"error", "message", "fields"} and "kaboom" not in str(body)


def test_api_retry_after_only_on_429_and_503(app, client, gala):
    card = issue(app, gala["gala"], "audience")
    for response in (vote(client, "ZZZZZ-ZZZZZ", {}), vote(client, card.code, {}),
                     client.get("/api/v1/gala")):
        assert "Retry-After" not in response.headers


# --- turnout ---------------------------------------------------------------------------------


def test_api_turnout_counts_issued_and_cast_per_group(app, client, gala):
    assert client.get("/api/v1/turnout").get_json() == {
        "issued": 0, "cast": 0,
        "groups": {"jury": {"issued": 0, "cast": 0}, "audience": {"issued": 0, "cast": 0}}}
    audience = [issue(app, gala["gala"], "audience") for _ in range(3)]
    jury = [issue(app, gala["gala"], "jury") for _ in range(2)]
    revoke(app)  # the last juror's card: lost, revoked
    assert vote(client, audience[0].code, {"tiktok-roku": gala["lodz_single"]}).status_code \
        == 201
    assert vote(client, jury[0].code, {}).status_code == 201
    assert vote(client, "ZZZZZ-ZZZZZ", {}).status_code == 401
    assert client.get("/api/v1/turnout").get_json() == {
        "issued": 4, "cast": 2,
        "groups": {"jury": {"issued": 1, "cast": 1}, "audience": {"issued": 3, "cast": 1}}}


def test_api_turnout_without_a_gala_is_a_404(client):
    body = assert_error(client.get("/api/v1/turnout"), 404, "not_found")
    assert body["message"] == polish("No gala has been set up yet.")


def test_api_turnout_counts_only_the_current_gala(app, client, gala):
    issue(app, gala["gala"], "audience")
    with app.app_context():
        # (While a vote is open its gala stays current: close it before moving on.)
        services.close_voting(ACTOR, gala["gala"])
        services.create_gala(ACTOR, {"name": "Gala 2027", "date": "2027-11-27",
                                     "venue": "Kraków"})
    assert client.get("/api/v1/turnout").get_json()["issued"] == 0


# --- the gala's voting window --------------------------------------------------------------


def test_api_gala_reports_the_voting_state_and_closing_time(app, client, small_gala):
    def window() -> dict[str, Any]:
        return client.get("/api/v1/gala").get_json()["voting"]

    assert window() == {"state": "draft", "closes_at": None}
    with app.app_context():
        services.open_voting(ACTOR, small_gala["gala"])
    assert window() == {"state": "open", "closes_at": None}
    closes = (utcnow() + dt.timedelta(hours=1)).replace(microsecond=0)
    set_gala(app, small_gala["gala"], closes_at=closes)
    assert window() == {"state": "open", "closes_at": closes.isoformat()}
    past = (utcnow() - dt.timedelta(seconds=5)).replace(microsecond=0)
    set_gala(app, small_gala["gala"], closes_at=past)
    assert window() == {"state": "closed", "closes_at": past.isoformat()}
    # The first look after the scheduled close recorded it (and sealed the results).
    assert client.get("/api/v1/gala").get_json()["gala"]["voting"] == "closed"
    with app.app_context():
        assert db.session.get(Gala, small_gala["gala"]).sealed_at is not None


# --- the OpenAPI document --------------------------------------------------------------------


def served_document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.is_json
    return response.get_json()


def test_openapi_document_is_valid_openapi_3_1(client):
    document = served_document(client)
    assert document["openapi"].startswith("3.1")
    validate_openapi(document)


def test_openapi_document_describes_every_api_route_and_nothing_else(app, client):
    document = served_document(client)
    base = document["servers"][0]["url"]
    routes = {re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)[len(base):]: rule.methods
              for rule in app.url_map.iter_rules() if rule.rule.startswith(base + "/")}
    assert set(routes) == set(document["paths"])
    for path, methods in routes.items():
        assert {m.lower() for m in methods} - {"head", "options"} == set(document["paths"][path])


def test_openapi_ballot_statuses_are_those_the_api_answers(client):
    operation = served_document(client)["paths"]["/ballots"]["post"]
    assert set(operation["responses"]) == {
        "201", "401", "403", "409", "413", "422", "423", "429", "503"}
    for status in ("401", "403", "409", "413", "422", "423", "429", "503"):
        schema = operation["responses"][status]["content"]["application/json"]["schema"]
        assert schema["$ref"] in ("#/components/schemas/Error",
                                  "#/components/schemas/CardUsedError")
    for status in ("429", "503"):
        assert "Retry-After" in operation["responses"][status]["headers"]
    assert "429" in operation["description"] and "before" in operation["description"]


def validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    # The component references resolve against a root that carries the components.
    return Draft202012Validator({**schema, "components": document["components"]})


def response_schema(document: dict[str, Any], path: str, method: str,
                    status: int) -> dict[str, Any]:
    responses = document["paths"][path][method]["responses"]
    assert str(status) in responses, (path, method, status)
    return responses[str(status)]["content"]["application/json"]["schema"]


def check_documented(document: dict[str, Any], path: str, method: str, response: Any) -> None:
    schema = response_schema(document, path, method, response.status_code)
    errors = list(validator(document, schema).iter_errors(response.get_json()))
    assert not errors, (path, response.status_code, [e.message for e in errors])


def test_openapi_examples_in_the_document_match_their_schemas(client):
    document = served_document(client)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                content = response["content"]["application/json"]
                if "example" in content:
                    errors = list(validator(document, content["schema"]).iter_errors(
                        content["example"]))
                    assert not errors, (path, method, status, [e.message for e in errors])
    body = document["paths"]["/ballots"]["post"]["requestBody"]["content"]["application/json"]
    request_validator = validator(document, body["schema"])
    for name, example in body["examples"].items():
        if example["x-expect"]["status"] != 422:
            assert request_validator.is_valid(example["value"]), name


def prepare(app: Flask, small_gala: dict[str, int], expect: dict[str, Any]) -> str | None:
    """Bring the gala and a card into the state an example expects; the card's credential."""
    if expect.get("voting", "open") != "draft":
        with app.app_context():
            services.open_voting(ACTOR, small_gala["gala"])
    spec = expect.get("card")
    card = None
    if spec is not None:
        card = issue(app, small_gala["gala"], spec["group"],
                     recused_units=spec.get("recused_units", ()))
        if spec.get("state") == "revoked":
            revoke(app)
        if spec.get("state") == "used":
            with app.app_context():
                ballots.cast_ballot(db.session.get(Gala, small_gala["gala"]), card.code, {},
                                    card_keys(app.config))
    if expect.get("voting") == "closed":
        with app.app_context():
            services.close_voting(ACTOR, small_gala["gala"])
    if card is None:
        return None
    return qr_token(card) if spec.get("credential") == "qr" else card.code


@pytest.fixture
def example_ids(app: Flask, small_gala: dict[str, int]) -> dict[str, int]:
    """The examples use the small gala's nominee ids as a fresh database numbers them."""
    ids = {"tiktok-roku/Wrocław": nominee(app, small_gala["single"], small_gala["wroclaw"]),
           "wideo-w-metropolii/Wrocław": nominee(app, small_gala["ranked"],
                                                 small_gala["wroclaw"]),
           "wideo-w-metropolii/Gdańsk": nominee(app, small_gala["ranked"],
                                                small_gala["gdansk"])}
    assert ids == {"tiktok-roku/Wrocław": 2, "wideo-w-metropolii/Wrocław": 3,
                   "wideo-w-metropolii/Gdańsk": 4}, "the OpenAPI examples assume these ids"
    return ids


EXAMPLES = openapi_document()["paths"]["/ballots"]["post"]["requestBody"]["content"][
    "application/json"]["examples"]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_openapi_ballot_example_answers_its_documented_status(
        app, client, small_gala, example_ids, name):
    document = served_document(client)
    example = EXAMPLES[name]
    expect = example["x-expect"]
    value = copy.deepcopy(example["value"])
    credential = prepare(app, small_gala, expect)
    if credential is not None:
        value["token"] = credential
    before = stored(app)
    response = client.post(API, json=value)
    assert response.status_code == expect["status"], (name, response.get_json())
    check_documented(document, "/ballots", "post", response)
    if expect["status"] != 201:
        assert stored(app) == before  # nothing stored on any error


def test_openapi_every_ballot_status_is_exercised(client):
    by_examples = {example["x-expect"]["status"] for example in EXAMPLES.values()}
    # 413, 429 and 503 cannot come from a body alone: tests above produce them.
    produced_elsewhere = {413, 429, 503}
    documented = {int(s) for s in served_document(client)["paths"]["/ballots"]["post"][
        "responses"]}
    assert by_examples | produced_elsewhere == documented


def test_openapi_schemas_match_real_answers(app, client, small_gala, monkeypatch):
    document = served_document(client)
    with app.app_context():
        services.open_voting(ACTOR, small_gala["gala"])
    card = issue(app, small_gala["gala"], "audience")
    set_gala(app, small_gala["gala"], closes_at=utcnow() + dt.timedelta(hours=1))
    check_documented(document, "/gala", "get", client.get("/api/v1/gala"))
    check_documented(document, "/turnout", "get", client.get("/api/v1/turnout"))
    app.config["MAX_CONTENT_LENGTH"] = 64
    check_documented(document, "/ballots", "post", vote(client, card.code, {"x": "y" * 100}))
    app.config["MAX_CONTENT_LENGTH"] = 4096
    monkeypatch.setattr(ballots, "_claim_and_store", lambda *a, **k: (_ for _ in ()).throw(
        OperationalError("UPDATE token", {}, Exception("database is locked"))))
    check_documented(document, "/ballots", "post", vote(client, card.code, {}))
    monkeypatch.undo()
    app.config["CARD_FAILURE_LIMIT"] = "1 per minute"
    vote(client, "ZZZZZ-ZZZZZ", {})
    limited = vote(client, "ZZZZZ-ZZZZZ", {})
    assert limited.status_code == 429
    check_documented(document, "/ballots", "post", limited)


def test_openapi_gala_turnout_and_receipts_404s_are_documented(client):
    document = served_document(client)
    for path in ("/gala", "/turnout", "/receipts"):
        response = client.get(f"/api/v1{path}")
        assert response.status_code == 404
        check_documented(document, path, "get", response)


def test_openapi_receipts_are_documented_before_and_after_publication(app, client, gala):
    document = served_document(client)
    card = issue(app, gala["gala"], "audience")
    assert vote(client, card.code, {}).status_code == 201
    with app.app_context():
        services.close_voting(ACTOR, gala["gala"])
    before = client.get("/api/v1/receipts")
    assert before.status_code == 404
    check_documented(document, "/receipts", "get", before)
    with app.app_context():
        services.publish_receipts(ACTOR, gala["gala"])
    after = client.get("/api/v1/receipts")
    assert after.status_code == 200
    check_documented(document, "/receipts", "get", after)


def test_api_ballot_a_flood_of_unknown_categories_gets_a_short_answer(app, client, gala):
    card = issue(app, gala["gala"], "audience")
    votes = {f"made-up-{n}-" + "x" * 60: 1 for n in range(5000)}
    response = vote(client, card.code, votes)
    body = assert_error(response, 422, "invalid_ballot")
    assert len(body["fields"]) <= 51 and "votes" in body["fields"]
    assert len(response.get_data()) < 20_000
