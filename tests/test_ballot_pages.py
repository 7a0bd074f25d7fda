"""The HTML ballot: a card in, a ballot out, once, without JavaScript."""

from __future__ import annotations

import re
from typing import Any

import pytest
from conftest import csrf_token
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from voting import ballots as ballots_module
from voting import cards, services
from voting.ballots import card_keys
from voting.extensions import db
from voting.models import Ballot, BallotChoice, Category, Gala, Nomination, Profile, Token

ACTOR = "jury.chair@example.com"
JURY_SLUGS = ["wideo-w-metropolii", "wideo-w-mniejszym-miescie", "kampania-profrekwencyjna",
              "urzad-marszalkowski-w-social-mediach", "storytelling-gminy"]


@pytest.fixture
def open_demo(app: Flask, demo_gala: int) -> int:
    with app.app_context():
        services.open_voting(ACTOR, demo_gala)
    return demo_gala


def issue(app: Flask, gala_id: int, group: str = "jury", **kwargs: Any) -> cards.IssuedCard:
    with app.app_context():
        if "labels" not in kwargs:
            kwargs["count"] = 1
        return cards.issue_cards(ACTOR, gala_id, group, card_keys(app.config), **kwargs)[0]


def token_of(card: cards.IssuedCard) -> str:
    return card.url.rsplit("/v/", 1)[1]


def nominees(app: Flask, slug: str) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(
            select(Nomination.id).join(Category).where(Category.slug == slug)
            .order_by(Nomination.id)))


def category(app: Flask, slug: str) -> Category:
    with app.app_context():
        found = db.session.scalar(select(Category).where(Category.slug == slug))
        db.session.expunge(found)
        return found


def count_ballots(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Ballot))


def card_row(app: Flask, code: str) -> Token:
    with app.app_context():
        card = cards.find_card(db.session.scalar(select(Token.gala_id)), code,
                               card_keys(app.config))
        db.session.expunge(card)
        return card


def enter(client: FlaskClient, code: str):  # noqa: ANN201
    return client.post("/", data={"csrf_token": csrf_token(client, "/"), "code": code})


def page(client: FlaskClient, path: str = "/ballot") -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def form_token(client: FlaskClient) -> str:
    return csrf_token(client, "/ballot")


def legends(html: str) -> list[str]:
    return re.findall(r'<fieldset class="card ballot-section[^"]*" id="s-([^"]+)"', html)


def option_order(html: str, slug: str) -> list[str]:
    section = html.split(f'id="s-{slug}"', 1)[1].split("</fieldset>", 1)[0]
    return re.findall(rf'id="{re.escape(slug)}-(\d+)"', section)


# --- getting to the ballot -------------------------------------------------------------------


def test_home_offers_the_code_entry_only_while_voting_is_open(app, client, demo_gala):
    assert 'name="code"' not in page(client, "/")
    with app.app_context():
        services.open_voting(ACTOR, demo_gala)
    html = page(client, "/")
    assert 'name="code"' in html and 'placeholder="XXXXX-XXXXX"' in html


def test_a_typed_code_opens_the_ballot_in_any_spelling(app, client, open_demo):
    card = issue(app, open_demo)
    sloppy = card.code.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    response = enter(client, f"  {sloppy} ")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/ballot")
    html = page(client)
    assert legends(html) == JURY_SLUGS  # the jury's categories only, in running order
    assert "<legend>" in html


def test_the_card_link_goes_into_the_session_and_leaves_the_address_bar(app, client, open_demo):
    card = issue(app, open_demo)
    token = token_of(card)
    response = client.get(f"/v/{token}")
    assert response.status_code == 303
    assert response.headers["Location"] == "/ballot"
    assert token not in response.headers["Location"]
    html = page(client)
    assert token not in html and card.code not in html
    assert legends(html) == JURY_SLUGS


def test_an_unknown_or_forged_card_is_refused_with_a_clear_message(app, client, open_demo):
    card = issue(app, open_demo)
    response = enter(client, "ABCDE-FGHJK")
    assert response.status_code == 401
    assert "Ten kod nie pasuje do żadnej karty" in response.get_data(as_text=True)
    forged = token_of(card)[:-4] + "AAAA"
    assert client.get(f"/v/{forged}").status_code == 401
    assert client.get("/ballot").status_code == 200  # back at the code entry
    assert 'name="code"' in page(client)


def test_an_empty_code_is_a_field_error(client, open_demo):
    response = enter(client, "   ")
    assert response.status_code == 422
    assert "Wpisz kod" in response.get_data(as_text=True)


def test_a_revoked_card_cannot_open_the_ballot(app, client, open_demo):
    card = issue(app, open_demo)
    with app.app_context():
        cards.revoke_card(ACTOR, card_row(app, card.code).id)
    assert enter(client, card.code).status_code == 401


def test_before_opening_a_card_gets_a_waiting_page(app, client, demo_gala):
    card = issue(app, demo_gala)
    response = client.get(f"/v/{token_of(card)}")
    assert response.status_code == 423
    assert "Głosowanie jeszcze się nie rozpoczęło" in response.get_data(as_text=True)


def test_without_a_card_the_ballot_page_asks_for_one(client, open_demo):
    html = page(client)
    assert 'name="code"' in html
    assert "Wpisz kod z karty" in html


# --- the ballot itself -----------------------------------------------------------------------


def test_nominees_are_shuffled_per_card_and_stable_on_reload(app, open_demo):
    orders = set()
    for _ in range(6):
        client = app.test_client()
        client.get(f"/v/{token_of(issue(app, open_demo))}")
        first = option_order(page(client), "storytelling-gminy")
        assert option_order(page(client), "storytelling-gminy") == first
        assert sorted(first) == sorted(str(n) for n in nominees(app, "storytelling-gminy"))
        orders.add(tuple(first))
    assert len(orders) > 1  # six cards, five nominees: one shared order would be 1 in 20,000


def test_every_method_has_its_inputs(app, client, open_demo):
    client.get(f"/v/{token_of(issue(app, open_demo))}")
    html = page(client)
    assert 'type="radio" name="storytelling-gminy"' in html               # single
    assert 'id="storytelling-gminy-none" value=""' in html                  # abstain
    ranked = category(app, "wideo-w-metropolii")
    for place in range(1, ranked.places + 1):
        assert f'name="wideo-w-metropolii.{place}"' in html                # ranked places
    assert f'name="wideo-w-metropolii.{ranked.places + 1}"' not in html
    assert 'name="urzad-marszalkowski-w-social-mediach.1"' in html         # irv
    score = category(app, "wideo-w-mniejszym-miescie")
    first = nominees(app, "wideo-w-mniejszym-miescie")[0]
    for value in (score.score_min, score.score_max):
        assert f'name="wideo-w-mniejszym-miescie.{first}" id="wideo-w-mniejszym-miescie-' \
               f'{first}-{value}" value="{value}"' in html
    # Every nominee links to its profile.
    with app.app_context():
        url = db.session.scalar(select(Profile.url).join(Nomination).where(
            Nomination.id == first))
    assert f'href="{url}"' in html


def test_the_audience_sees_its_own_categories_with_approval(app, client, open_demo):
    client.get(f"/v/{token_of(issue(app, open_demo, 'audience'))}")
    html = page(client)
    assert "samorzadowiec-influencerem" in legends(html)
    assert "storytelling-gminy" not in legends(html)
    assert 'type="checkbox" name="samorzadowiec-influencerem"' in html


def full_ballot(app: Flask) -> tuple[dict[str, Any], dict[str, Any]]:
    """Form fields choosing in every jury category, and the votes they mean."""
    story = nominees(app, "storytelling-gminy")
    ranked = nominees(app, "wideo-w-metropolii")
    scored = nominees(app, "wideo-w-mniejszym-miescie")
    irv = nominees(app, "urzad-marszalkowski-w-social-mediach")
    form = {"storytelling-gminy": str(story[2]),
            "wideo-w-metropolii.1": str(ranked[3]), "wideo-w-metropolii.2": str(ranked[0]),
            f"wideo-w-mniejszym-miescie.{scored[0]}": "9",
            f"wideo-w-mniejszym-miescie.{scored[1]}": "",
            f"wideo-w-mniejszym-miescie.{scored[4]}": "2",
            "urzad-marszalkowski-w-social-mediach.1": str(irv[1]),
            "urzad-marszalkowski-w-social-mediach.2": str(irv[0]),
            "urzad-marszalkowski-w-social-mediach.3": ""}
    marks = {("storytelling-gminy", story[2], None, None),
             ("wideo-w-metropolii", ranked[3], 1, None), ("wideo-w-metropolii", ranked[0], 2, None),
             ("wideo-w-mniejszym-miescie", scored[0], None, 9),
             ("wideo-w-mniejszym-miescie", scored[4], None, 2),
             ("urzad-marszalkowski-w-social-mediach", irv[1], 1, None),
             ("urzad-marszalkowski-w-social-mediach", irv[0], 2, None)}
    return form, marks


def stored_marks(app: Flask) -> set[tuple[str, int, int | None, int | None]]:
    with app.app_context():
        rows = db.session.execute(select(Category.slug, BallotChoice.nomination_id,
                                         BallotChoice.place, BallotChoice.score)
                                  .join(Category, Category.id == BallotChoice.category_id))
        return {tuple(row) for row in rows}


def test_review_then_one_submit_stores_the_ballot_and_shows_the_receipt_once(app, client,
                                                                                open_demo):
    card = issue(app, open_demo)
    client.get(f"/v/{token_of(card)}")
    fields, marks = full_ballot(app)
    review = client.post("/ballot/review", data={"csrf_token": form_token(client), **fields})
    assert review.status_code == 200
    html = review.get_data(as_text=True)
    assert "Sprawdź swój głos" in html
    assert "Nie głosuję (wstrzymanie się)" in html  # kampania-profrekwencyjna left empty
    assert count_ballots(app) == 0  # the review stores nothing
    carried = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html))
    assert carried.pop("csrf_token")
    assert carried == {k: v for k, v in fields.items() if v}

    cast = client.post("/ballot/cast", data={**carried, "csrf_token": csrf_of(html)})
    assert cast.status_code == 303 and cast.headers["Location"] == "/ballot/done"
    assert count_ballots(app) == 1
    assert stored_marks(app) == marks
    done = page(client, "/ballot/done")
    with app.app_context():
        receipt = db.session.scalar(select(Ballot.receipt))
    assert receipt in done
    again = page(client, "/ballot/done")  # a reload: recorded, but the receipt is gone
    assert receipt not in again and "Twój głos został zapisany" in again
    assert card_row(app, card.code).used_at is not None


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_a_double_click_says_the_ballot_is_recorded(app, client, open_demo):
    card = issue(app, open_demo)
    client.get(f"/v/{token_of(card)}")
    fields, _ = full_ballot(app)
    html = client.post("/ballot/review", data={"csrf_token": form_token(client), **fields}) \
        .get_data(as_text=True)
    cookie = client.get_cookie("session").value
    first = client.post("/ballot/cast", data={**fields, "csrf_token": csrf_of(html)})
    assert first.status_code == 303
    client.set_cookie("session", cookie)  # the second press still carries the card
    second = client.post("/ballot/cast", data={**fields, "csrf_token": csrf_of(html)})
    assert second.status_code == 200
    text = second.get_data(as_text=True)
    assert "Twój głos został zapisany" in text
    assert re.search(r"Tej karty użyto o \d\d:\d\d", text)
    assert count_ballots(app) == 1


def test_a_used_card_shows_when_it_was_used(app, open_demo):
    card = issue(app, open_demo)
    with app.app_context():
        ballots_module.cast_ballot(db.session.get(Gala, open_demo), card.code, {},
                                   card_keys(app.config))
    client = app.test_client()
    response = client.get(f"/v/{token_of(card)}")
    assert response.status_code == 200
    assert re.search(r"Tej karty użyto o \d\d:\d\d", response.get_data(as_text=True))
    assert enter(client, card.code).status_code == 200


def test_choices_are_kept_when_going_back_from_the_review(app, client, open_demo):
    client.get(f"/v/{token_of(issue(app, open_demo))}")
    fields, _ = full_ballot(app)
    html = client.post("/ballot", data={"csrf_token": form_token(client), **fields}) \
        .get_data(as_text=True)
    story = fields["storytelling-gminy"]
    assert f'id="storytelling-gminy-{story}" value="{story}" checked' in html
    assert re.search(rf'<option value="{fields["wideo-w-metropolii.1"]}" selected', html)


@pytest.mark.parametrize(("change", "status", "slug", "message"), [
    ({"wideo-w-metropolii.1": "", "wideo-w-metropolii.2": "{ranked0}"}, 422,
     "wideo-w-metropolii", "bez przerw"),
    ({"wideo-w-metropolii.2": "{ranked3}"}, 422, "wideo-w-metropolii", "dwa razy"),
    ({"wideo-w-mniejszym-miescie.{scored0}": "11"}, 422, "wideo-w-mniejszym-miescie", "od 1"),
    ({"wideo-w-mniejszym-miescie.{scored0}": "abc"}, 422, "wideo-w-mniejszym-miescie",
     "liczby całkowite"),
    ({"storytelling-gminy": "999999"}, 422, "storytelling-gminy", "nie jest nominowany"),
])
def test_a_bad_ballot_is_shown_again_with_the_reason_and_stores_nothing(
        app, client, open_demo, change, status, slug, message):
    client.get(f"/v/{token_of(issue(app, open_demo))}")
    fields, _ = full_ballot(app)
    ids = {"ranked0": nominees(app, "wideo-w-metropolii")[0],
           "ranked3": nominees(app, "wideo-w-metropolii")[3],
           "scored0": nominees(app, "wideo-w-mniejszym-miescie")[0]}
    fields.update({key.format(**ids): value.format(**ids) for key, value in change.items()})
    for step in ("/ballot/review", "/ballot/cast"):
        response = client.post(step, data={"csrf_token": form_token(client), **fields})
        assert response.status_code == status, step
        html = response.get_data(as_text=True)
        assert f'id="s-{slug}"' in html and "ballot-section--error" in html
        assert message in html
    assert count_ballots(app) == 0


def test_a_recused_nominee_is_shown_disabled_and_refused_if_forced(app, client, open_demo):
    story = nominees(app, "storytelling-gminy")
    with app.app_context():
        nomination = db.session.get(Nomination, story[0])
        unit = nomination.profile.unit_name
    card = issue(app, open_demo, labels=["Juror z gminy"], recused_units=[unit])
    client.get(f"/v/{token_of(card)}")
    html = page(client)
    assert re.search(rf'id="storytelling-gminy-{story[0]}" value="{story[0]}" disabled', html)
    assert f"Wyłączenie: nie możesz głosować na {unit}" in html
    response = client.post("/ballot/cast", data={"csrf_token": form_token(client),
                                                 "storytelling-gminy": str(story[0])})
    assert response.status_code == 403
    assert "wyłączenie" in response.get_data(as_text=True)
    assert count_ballots(app) == 0


def test_a_category_of_the_other_group_is_not_on_the_form_and_cannot_be_forced(app, client,
                                                                            open_demo):
    client.get(f"/v/{token_of(issue(app, open_demo))}")
    other = nominees(app, "tiktok-samorzadu")[0]
    response = client.post("/ballot/cast", data={"csrf_token": form_token(client),
                                                 "tiktok-samorzadu": str(other)})
    # The field is not on this card's ballot, so it is not read at all: an empty ballot.
    assert response.status_code == 303
    assert stored_marks(app) == set()


def test_the_ballot_form_needs_its_csrf_token(app, client, open_demo):
    client.get(f"/v/{token_of(issue(app, open_demo))}")
    fields, _ = full_ballot(app)
    for step in ("/ballot/review", "/ballot/cast", "/"):
        response = client.post(step, data=fields)
        assert response.status_code == 400, step
        assert "Formularz wygasł" in response.get_data(as_text=True)
    assert count_ballots(app) == 0


def test_closing_during_the_review_refuses_the_ballot(app, client, open_demo):
    card = issue(app, open_demo)
    client.get(f"/v/{token_of(card)}")
    token = form_token(client)
    with app.app_context():
        services.close_voting(ACTOR, open_demo)
    response = client.post("/ballot/cast", data={"csrf_token": token})
    assert response.status_code == 423
    assert "Głosowanie zamknięte" in response.get_data(as_text=True)
    assert count_ballots(app) == 0
    assert card_row(app, card.code).used_at is None


def test_a_busy_database_keeps_the_card_unused_and_offers_to_send_again(app, client, open_demo,
                                                                        monkeypatch):
    card = issue(app, open_demo)
    client.get(f"/v/{token_of(card)}")
    token = form_token(client)

    def locked(*args: Any, **kwargs: Any):  # noqa: ANN202
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(ballots_module, "_claim_and_store", locked)
    fields, _ = full_ballot(app)
    response = client.post("/ballot/cast", data={"csrf_token": token, **fields})
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert "Karta nie została wykorzystana" in html
    assert "Oddaj głos" in html  # the review page again, ready to send
    assert response.headers["Retry-After"] == "1"
    assert card_row(app, card.code).used_at is None
    assert count_ballots(app) == 0


def test_the_ballot_speaks_english_on_request(app, client, open_demo):
    client.get("/lang/en")
    client.get(f"/v/{token_of(issue(app, open_demo))}")
    html = page(client)
    assert "Your ballot" in html and "Review my ballot" in html
    assert "Video in a big city" in html


def test_choices_and_receipts_are_never_cached(app, client, open_demo):
    client.get(f"/v/{token_of(issue(app, open_demo))}")
    assert client.get("/ballot").headers["Cache-Control"] == "no-store"
    fields, _ = full_ballot(app)
    review = client.post("/ballot/review", data={"csrf_token": form_token(client), **fields})
    assert review.headers["Cache-Control"] == "no-store"
    html = review.get_data(as_text=True)
    client.post("/ballot/cast", data={**fields, "csrf_token": csrf_of(html)})
    assert client.get("/ballot/done").headers["Cache-Control"] == "no-store"


def test_an_unexpected_error_on_a_card_link_never_logs_the_link(app, client, open_demo,
                                                                 monkeypatch, caplog):
    from voting.ballot import views

    def broken(*args: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(views, "find_card", broken)
    app.config["PROPAGATE_UNEXPECTED"] = False
    token = token_of(issue(app, open_demo))
    assert client.get(f"/v/{token}").status_code == 500
    assert "disk on fire" in caplog.text  # the error is logged...
    assert token not in caplog.text       # ...but not the card's secret


@pytest.mark.parametrize("value", ["²", "--5", "٣", "1e3", " 7 7"])
def test_odd_digits_in_a_score_are_a_clear_error_not_a_crash(app, client, open_demo, value):
    client.get(f"/v/{token_of(issue(app, open_demo))}")
    scored = nominees(app, "wideo-w-mniejszym-miescie")[0]
    for step in ("/ballot/review", "/ballot/cast"):
        response = client.post(step, data={"csrf_token": form_token(client),
                                           f"wideo-w-mniejszym-miescie.{scored}": value})
        assert response.status_code == 422, step
        assert "liczby całkowite" in response.get_data(as_text=True)
    assert count_ballots(app) == 0


@pytest.mark.parametrize("field", ["storytelling-gminy", "wideo-w-metropolii.1",
                                   "urzad-marszalkowski-w-social-mediach.1"])
def test_odd_digits_for_a_nominee_are_a_clear_error_not_a_crash(app, client, open_demo, field):
    client.get(f"/v/{token_of(issue(app, open_demo))}")
    for value in ("²", "¹", "٣"):
        response = client.post("/ballot/cast", data={"csrf_token": form_token(client),
                                                     field: value})
        assert response.status_code == 422, value
    assert count_ballots(app) == 0


def test_a_score_forced_onto_a_recused_nominee_is_refused(app, client, open_demo):
    scored = nominees(app, "wideo-w-mniejszym-miescie")
    with app.app_context():
        unit = db.session.get(Nomination, scored[0]).profile.unit_name
    client.get(f"/v/{token_of(issue(app, open_demo, labels=['Juror'], recused_units=[unit]))}")
    response = client.post("/ballot/cast", data={
        "csrf_token": form_token(client), f"wideo-w-mniejszym-miescie.{scored[0]}": "5",
        f"wideo-w-mniejszym-miescie.{scored[1]}": "4"})
    assert response.status_code == 403
    assert count_ballots(app) == 0
