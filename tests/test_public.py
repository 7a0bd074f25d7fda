"""The public pages and the public API: how to vote, the nominees, the language switch,
`GET /api/v1/gala`, error pages, and a site with no gala yet."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.support import Translations
from conftest import demo_document, html_of
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from test_display import display_url

from voting import services
from voting.extensions import db
from voting.models import Category, Nomination
from voting.validation import platform_label

TRANSLATIONS = Path(__file__).resolve().parent.parent / "voting" / "translations"
SPEC_CATEGORY_KEYS = {"slug", "name", "award", "method", "ex_aequo", "params", "groups",
                      "nominees"}
# What the API gives beyond the keys the API description requires.
EXTRA_CATEGORY_KEYS = {"description", "weights"}


def polish(message: str) -> str:
    """The Polish wording of an English message, from the compiled catalogue."""
    return Translations.load(str(TRANSLATIONS), ["pl"]).gettext(message)



def html_lang(html: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', html)
    assert match, "no <html lang> attribute"
    return match.group(1)


def english(client: FlaskClient) -> FlaskClient:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def sections(html: str) -> dict[str, str]:
    """Each category's section on the nominees page, by its slug."""
    found = re.findall(r'<section class="card category-public" id="([^"]+)"(.*?)</section>', html,
                       re.S)
    return {slug: unescape(body) for slug, body in found}


def cards(section: str) -> list[str]:
    return re.findall(r'<li class="nominee-card">(.*?)</li>', section, re.S)


# --- how to vote ---------------------------------------------------------------------------


def test_home_is_polish_by_default(client, small_gala):
    response = client.get("/")
    html = html_of(response)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert html_lang(html) == "pl"
    how_to_vote = polish("How to vote")
    assert how_to_vote == "Jak głosować"
    assert f'<h2 id="how-title">{how_to_vote}</h2>' in html
    assert "How to vote" not in html
    assert polish("Voting has not opened yet.") in html


def test_home_explains_the_steps_and_shows_the_gala(client, small_gala):
    html = html_of(english(client).get("/"))
    assert html_lang(html) == "en"
    assert '<h2 id="how-title">How to vote</h2>' in html
    assert len(re.findall(r"<li><strong>", html)) == 4
    assert "Gala Złotych Lajków 2026" in html and "Warszawa" in html
    assert "Voting has not opened yet." in html
    assert 'href="/nominees"' in html


def test_home_follows_the_voting_state(client, small_gala, app):
    with app.app_context():
        services.open_voting("test", small_gala["gala"])
    assert "Voting is open." in html_of(english(client).get("/"))


# --- the nominees --------------------------------------------------------------------------


def test_nominees_lists_every_category_and_nominee_with_platform_and_link(
        client, demo_gala, app):
    html = html_of(client.get("/nominees"))
    assert html_lang(html) == "pl"
    document = demo_document()
    profiles = {p["key"]: p for p in document["profiles"]}
    by_slug = sections(html)
    assert list(by_slug) == [c["slug"] for c in document["categories"]]
    for category in document["categories"]:
        section = by_slug[category["slug"]]
        assert f">{category['name_pl']}</h2>" in section
        found = cards(section)
        assert len(found) == len(category["nominations"]) >= 2
        for nomination in category["nominations"]:
            profile = profiles[nomination["profile"]]
            card = next((c for c in found if f"<h3>{profile['name']}</h3>" in c), None)
            assert card is not None, (category["slug"], profile["name"])
            assert f'class="platform platform--{profile["platform"]}"' in card
            assert f">{platform_label(profile['platform'])}</span>" in card
            assert f'<a href="{profile["url"]}" rel="noopener noreferrer"' in card
            assert profile["unit_name"] in card


def test_nominees_in_english_use_the_english_category_names(client, demo_gala):
    html = html_of(english(client).get("/nominees"))
    assert html_lang(html) == "en"
    for category in demo_document()["categories"]:
        assert f">{category['name_en'] or category['name_pl']}</h2>" in html


def test_nominees_show_citations_and_images(client, small_gala, app):
    html = html_of(client.get("/nominees"))
    assert '<p class="citation">za serię o włókniarkach</p>' in html
    assert f"/profiles/{small_gala['lodz']}/image" not in html  # no image yet


# --- the API -------------------------------------------------------------------------------


def test_api_gala_has_the_documented_shape(client, demo_gala):
    response = client.get("/api/v1/gala")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"gala", "categories", "voting"}
    assert body["gala"] == {"name": "Gala Złotych Lajków 2023 (demo)", "date": "2023-11-28",
                            "venue": "Sala Główna, 1. piętro", "voting": "draft",
                            "closes_at": None}
    assert body["voting"] == {"state": "draft", "closes_at": None}
    for category in body["categories"]:
        assert SPEC_CATEGORY_KEYS <= set(category) <= SPEC_CATEGORY_KEYS | EXTRA_CATEGORY_KEYS
        assert isinstance(category["groups"], list)
        assert bool(category["groups"]) == (category["method"] != "decision")
        for nominee in category["nominees"]:
            assert set(nominee) == {"id", "profile_id", "name", "unit", "platform", "url"}
            assert isinstance(nominee["id"], int) and isinstance(nominee["profile_id"], int)


def test_api_gala_lists_categories_in_order_with_their_method_parameters(client, demo_gala):
    body = client.get("/api/v1/gala").get_json()
    document = demo_document()
    assert [c["slug"] for c in body["categories"]] == [c["slug"] for c in document["categories"]]
    for ours, theirs in zip(body["categories"], document["categories"], strict=True):
        assert ours["method"] == theirs["method"]
        assert ours["params"] == theirs["params"], ours["slug"]
        assert ours["groups"] == sorted(theirs["weights"], key=["jury", "audience"].index)
    params = {c["method"]: c["params"] for c in body["categories"]}
    assert params["single"] == {}
    assert set(params["ranked"]) == {"places", "points"}
    assert len(params["ranked"]["points"]) == params["ranked"]["places"]
    assert set(params["irv"]) == {"places"}
    assert set(params["score"]) == {"min", "max", "min_scores"}
    assert set(params["approval"]) == {"max_choices"}


def test_api_gala_weights_only_for_several_groups(client, demo_gala):
    body = client.get("/api/v1/gala").get_json()
    weights = {c["slug"]: c.get("weights") for c in body["categories"]}
    assert weights["kampania-profrekwencyjna"] == {"jury": 70, "audience": 30}
    assert weights["tiktok-samorzadu"] is None


def test_api_gala_nominee_ids_are_the_nomination_ids(client, demo_gala, app):
    body = client.get("/api/v1/gala").get_json()
    listed = [(n["id"], n["profile_id"], c["slug"]) for c in body["categories"]
              for n in c["nominees"]]
    ids = [item[0] for item in listed]
    assert len(ids) == len(set(ids))  # unique across categories
    with app.app_context():
        stored = {tuple(row) for row in db.session.execute(
            select(Nomination.id, Nomination.profile_id, Category.slug)
            .join(Category, Nomination.category_id == Category.id))}
    assert set(listed) == stored
    # a profile nominated in two categories has two nominee ids
    profile_ids = [item[1] for item in listed]
    assert len(set(profile_ids)) < len(profile_ids)


def test_api_gala_nominees_carry_their_profile(client, small_gala):
    body = client.get("/api/v1/gala").get_json()
    single = body["categories"][0]
    assert single["slug"] == "tiktok-roku"
    assert single["groups"] == ["audience"]
    assert sorted((n["name"], n["unit"], n["platform"], n["url"]) for n in single["nominees"]) == [
        ("Wrocław", "Miasto Wrocław", "facebook", "https://www.facebook.com/wroclaw"),
        ("Łódź – TikTok", "Miasto Łódź", "tiktok", "https://www.tiktok.com/@lodz"),
    ]


@pytest.mark.parametrize(("headers", "query", "language"), [
    ({}, "", "pl"),
    ({"Accept-Language": "en"}, "", "en"),
    ({"Accept-Language": "en-GB,en;q=0.9,pl;q=0.5"}, "", "en"),
    ({"Accept-Language": "de"}, "", "pl"),
    ({}, "?lang=en", "en"),
    ({"Accept-Language": "en"}, "?lang=pl", "pl"),
])
def test_api_gala_names_follow_the_language(client, demo_gala, headers, query, language):
    body = client.get(f"/api/v1/gala{query}", headers=headers).get_json()
    document = demo_document()
    key = "name_en" if language == "en" else "name_pl"
    assert [c["name"] for c in body["categories"]] == [
        c[key] or c["name_pl"] for c in document["categories"]]
    assert any(c["name_en"] != c["name_pl"] for c in document["categories"])


def test_api_gala_falls_back_to_polish_when_a_category_has_no_english_name(
        client, small_gala, app):
    with app.app_context():
        services.create_category("test", small_gala["gala"], {
            "name_pl": "Tylko po polsku", "method": "single", "weights": {"jury": 100}})
    body = client.get("/api/v1/gala", headers={"Accept-Language": "en"}).get_json()
    assert [c["name"] for c in body["categories"]] == [
        "TikTok of the year", "Video in a metropolis", "Tylko po polsku"]


def test_api_gala_shows_the_voting_state_and_closing_time(client, small_gala, app):
    # A closing time must lie ahead: tomorrow at 21:30, Warsaw time.
    warsaw = ZoneInfo("Europe/Warsaw")
    tomorrow = (dt.datetime.now(warsaw) + dt.timedelta(days=1)).date()
    closes = dt.datetime.combine(tomorrow, dt.time(21, 30), tzinfo=warsaw)
    with app.app_context():
        services.update_gala("test", small_gala["gala"], {
            "name": "Gala Złotych Lajków 2026", "date": "2026-11-28", "venue": "Warszawa",
            "closes_at": f"{tomorrow.isoformat()}T21:30"})
        services.open_voting("test", small_gala["gala"])
    gala = client.get("/api/v1/gala").get_json()["gala"]
    assert gala["voting"] == "open"
    assert gala["closes_at"] == closes.astimezone(dt.UTC).isoformat()  # in UTC


def test_api_gala_refuses_other_methods_as_json(client, small_gala):
    response = client.post("/api/v1/gala")
    assert response.status_code == 405
    assert response.is_json
    assert response.get_json()["error"] == "method_not_allowed"
    assert response.headers["Allow"]


# --- the language switch -------------------------------------------------------------------


def test_language_switch_remembers_the_choice_and_goes_back(client, demo_gala):
    response = client.get("/lang/en?next=/nominees")
    assert response.status_code == 302
    assert response.headers["Location"] == "/nominees"
    with client.session_transaction() as session:
        assert session["lang"] == "en"
    html = html_of(client.get("/nominees"))
    assert html_lang(html) == "en"
    assert demo_document()["categories"][0]["name_en"] in html
    assert client.get("/api/v1/gala").get_json()["categories"][0]["name"] == (
        demo_document()["categories"][0]["name_en"])
    client.get("/lang/pl?next=/nominees")
    html = html_of(client.get("/nominees", headers={"Accept-Language": "en"}))
    assert html_lang(html) == "pl"


def test_language_switch_link_on_a_page_leads_back_to_it(client, small_gala):
    html = html_of(client.get("/nominees"))
    link = re.search(r'<a href="([^"]+)" lang="en" hreflang="en">EN</a>', html)
    assert link, "no link to the English version"
    response = client.get(unescape(link.group(1)))
    assert response.status_code == 302
    assert response.headers["Location"] == "/nominees"


@pytest.mark.parametrize("target", [
    "//evil.example.com/",
    "https://evil.example.com/",
    "http://evil.example.com/nominees",
    "/\\evil.example.com/",
    "/\t/evil.example.com/",
    "/\n/evil.example.com/",
    "\\\\evil.example.com",
    "evil.example.com",
    "javascript:alert(1)",
    "",
])
def test_language_switch_does_not_follow_an_external_next(client, target):
    response = client.get("/lang/en", query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    with client.session_transaction() as session:
        assert session["lang"] == "en"


def test_language_switch_refuses_an_unknown_language(client):
    assert client.get("/lang/de?next=/").status_code == 404
    with client.session_transaction() as session:
        assert "lang" not in session


# --- errors and an empty site --------------------------------------------------------------


def test_not_found_page_is_html_in_the_visitors_language(client):
    response = client.get("/nie-ma-takiej-strony")
    html = html_of(response)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert html_lang(html) == "pl"
    assert f"<h1>{polish('Page not found')}</h1>" in html
    english_page = html_of(english(client).get("/nie-ma-takiej-strony"))
    assert "<h1>Page not found</h1>" in english_page


def test_not_found_in_the_api_is_json(client):
    for response in (client.get("/api/v1/nope"),
                     client.get("/nie-ma", headers={"Accept": "application/json"})):
        assert response.status_code == 404
        assert response.is_json
        body = response.get_json()
        assert set(body) == {"error", "message", "fields"}
        assert body["error"] == "not_found"


def test_profile_image_of_a_profile_without_one_is_not_found(client, small_gala):
    assert client.get(f"/profiles/{small_gala['lodz']}/image").status_code == 404
    assert client.get("/profiles/999999/image").status_code == 404


def test_public_pages_without_a_gala_are_friendly(app, client):
    english(client)
    for path in ("/", "/nominees", display_url(app)):
        response = client.get(path)
        assert response.status_code == 200, path
    assert '<h2 id="how-title">How to vote</h2>' in html_of(client.get("/"))
    assert "The nominees have not been announced yet." in html_of(client.get("/nominees"))


def test_public_pages_without_a_gala_are_polish_by_default(client):
    html = html_of(client.get("/nominees"))
    assert html_lang(html) == "pl"
    assert polish("The nominees have not been announced yet.") in html


def test_api_without_a_gala_is_a_json_404(client):
    response = client.get("/api/v1/gala")
    assert response.status_code == 404
    assert response.is_json
    body = response.get_json()
    assert body["error"] == "not_found"
    assert body["message"] == "Nie przygotowano jeszcze żadnej gali."
    english = client.get("/api/v1/gala", headers={"Accept-Language": "en"}).get_json()
    assert english["message"] == "No gala has been set up yet."


def test_public_pages_show_the_current_gala_only(client, small_gala, demo_gala, app: Flask):
    # The 2026 gala was created by an organizer; the demo imported after it does not take
    # over the public pages by itself.
    html = html_of(client.get("/nominees"))
    assert "TikTok roku" in html
    assert "Gala Złotych Lajków 2023 (demo)" not in html
    with app.app_context():
        services.switch_gala("test", demo_gala)
    html = html_of(client.get("/nominees"))
    assert "Gala Złotych Lajków 2023 (demo)" in html
    assert "TikTok roku" not in html
    assert client.get("/api/v1/gala").get_json()["gala"]["date"] == "2023-11-28"
