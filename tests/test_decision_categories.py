"""Award kinds (Złoty Lajk, wyróżnienie, nagroda specjalna) and categories the chapter decides
without ballots, through every layer that prepares a gala: the admin form, the rules, the
readiness check, the API document, the gala file, the ballot and the public pages."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from conftest import demo_document, field_error, flashes, html_of, post_form
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from test_admin import browser_submit
from test_browser import PHONE, PROJECTOR, Visit
from test_display import display_url

from voting import cards, queries, services, transfer
from voting.ballots import card_keys, gala_rules
from voting.errors import ConflictError, ImportRejectedError, LockedError, ValidationError
from voting.extensions import db
from voting.models import AuditEntry, Ballot, Category, CategoryGroup, Gala, Token
from voting.validation import clean_category

ACTOR = "jury.chair@example.com"
DECISION_SLUGS = ["wyroznienie-specjalne-jury", "zloty-lajk-europa"]
BASE = {"name_pl": "Wyróżnienie jury", "name_en": "Jury mention", "method": "decision",
        "award": "mention"}


@pytest.fixture(autouse=True)
def english(client: FlaskClient) -> None:
    """Pages in English: the Polish wording is the catalogue's business (tests/test_i18n.py)."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


def category_by_slug(app: Flask, slug: str) -> Category | None:
    with app.app_context():
        found = db.session.scalar(select(Category).where(Category.slug == slug))
        if found is not None:
            assert found.groups is not None and found.nominations is not None  # loaded now
            db.session.expunge(found)
        return found


def snapshot(app: Flask) -> tuple[Any, ...]:
    """Everything a refused form must leave as it was."""
    with app.app_context():
        rows = db.session.execute(select(
            Category.id, Category.slug, Category.method, Category.award, Category.ex_aequo,
            Category.places).order_by(Category.id)).all()
        groups = db.session.execute(select(CategoryGroup.category_id, CategoryGroup.group,
                                           CategoryGroup.weight).order_by(CategoryGroup.id)).all()
        audit = db.session.scalar(select(func.count()).select_from(AuditEntry))
        return tuple(map(tuple, rows)), tuple(map(tuple, groups)), audit


def add_decision(app: Flask, gala_id: int, nominees: list[int], **extra: Any) -> int:
    with app.app_context():
        category = services.create_category(ACTOR, gala_id, {**BASE, **extra})
        for profile_id in nominees:
            services.nominate(ACTOR, category.id, profile_id)
        return category.id


# --- the admin form --------------------------------------------------------------------------


@pytest.mark.parametrize("award", ["award", "mention", "special"])
def test_decision_category_created_from_the_form_with_each_award(
        client, logged_in, app, small_gala, award):
    response = post_form(client, "/admin/categories/new", data={
        **BASE, "award": award, "ex_aequo": "y",
        # Left ticked from another method (no JavaScript): ignored, not an error.
        "group_jury": "y", "weight_jury": "100", "places": "3", "max_choices": "2"})
    assert response.status_code == 302, html_of(response)
    category = category_by_slug(app, "wyroznienie-jury")
    assert (category.method, category.award, category.ex_aequo) == ("decision", award, True)
    assert category.weights() == {} and category.params() == {}
    assert (category.places, category.max_choices) == (None, None)
    assert not category.balloted
    page = html_of(client.get(response.headers["Location"]))
    assert ("success", "Saved.") in flashes(page)
    assert "decision of the chapter" in page
    assert {"award": "Golden Like", "mention": "Honourable mention",
            "special": "Special award"}[award] in page


@pytest.mark.parametrize("award", ["award", "mention", "special"])
def test_balloted_category_created_with_each_award(client, logged_in, app, small_gala, award):
    response = post_form(client, "/admin/categories/new", data={
        "name_pl": "Kampania roku", "method": "single", "award": award,
        "group_audience": "y", "weight_audience": "100"})
    assert response.status_code == 302, html_of(response)
    category = category_by_slug(app, "kampania-roku")
    assert (category.award, category.ex_aequo) == (award, False)
    assert category.weights() == {"audience": 100}


def test_a_form_without_an_award_field_makes_a_golden_like(client, logged_in, app, small_gala):
    response = post_form(client, "/admin/categories/new", data={
        "name_pl": "Kampania roku", "method": "single", "group_jury": "y", "weight_jury": "100"})
    assert response.status_code == 302
    assert category_by_slug(app, "kampania-roku").award == "award"


@pytest.mark.parametrize(("form", "field", "message"), [
    ({"award": "gold"}, "award", "Not a valid choice."),
    ({"method": "vote-by-shouting"}, "method", "Not a valid choice."),
    ({"name_pl": ""}, "name_pl", None),
    ({"name_pl": "TikTok roku"}, "slug", "Another category already uses this address."),
])
def test_decision_category_form_errors_next_to_their_field_and_nothing_saved(
        client, logged_in, app, small_gala, form, field, message):
    before = snapshot(app)
    response = post_form(client, "/admin/categories/new", data={**BASE, **form})
    assert response.status_code == 422
    error = field_error(html_of(response), field)
    assert error, field
    if message:
        assert error == message
    assert snapshot(app) == before


def test_balloted_method_still_needs_a_voter_group(client, logged_in, app, small_gala):
    before = snapshot(app)
    response = post_form(client, "/admin/categories/new", data={
        "name_pl": "Kampania roku", "method": "single", "award": "mention"})
    html = html_of(response)
    assert response.status_code == 422
    groups_fieldset = html[html.index('id="group_jury"'):html.index("form-actions")]
    assert '<p class="error" role="alert">Choose at least one voter group.</p>' in groups_fieldset
    assert snapshot(app) == before


def test_category_form_shows_the_award_the_decision_and_its_hint(client, logged_in, small_gala):
    html = html_of(client.get("/admin/categories/new"))
    assert '<option value="decision">Decided by the chapter (no ballots)</option>' in html
    assert '<select id="award" name="award">' in html
    for value in ("award", "mention", "special"):
        assert f'<option {"selected " if value == "award" else ""}value="{value}">' in html
    assert 'name="ex_aequo" type="checkbox"' in html
    assert 'data-for-method="decision"' in html  # the explanation shown for a decision
    # The voter groups are hidden for a decision, said in words where scripts are off.
    assert 'data-for-method="single ranked score approval irv">' in html
    assert "<noscript>" in html


def test_balloted_category_edited_into_a_decision_loses_its_groups(
        client, logged_in, app, small_gala):
    ranked = small_gala["ranked"]
    response = browser_submit(client, f"/admin/categories/{ranked}/edit", overrides={
        "method": "decision", "award": "special", "ex_aequo": "y"})
    assert response.status_code == 302, html_of(response)
    with app.app_context():
        category = db.session.get(Category, ranked)
        assert (category.method, category.award, category.ex_aequo) == ("decision", "special",
                                                                       True)
        assert category.groups == [] and category.params() == {}
        assert len(category.nominations) == 2  # the nominees stay
    # ...and back: a balloted method asks for a group again.
    refused = browser_submit(client, f"/admin/categories/{ranked}/edit",
                             overrides={"method": "single"})
    assert refused.status_code == 422
    assert "Choose at least one voter group." in html_of(refused)


def test_decision_category_edit_form_round_trips_unchanged(client, logged_in, app, small_gala):
    decision = add_decision(app, small_gala["gala"], [small_gala["lodz"]], ex_aequo=True)
    before = snapshot(app)
    response = browser_submit(client, f"/admin/categories/{decision}/edit")
    assert response.status_code == 302, html_of(response)
    after = snapshot(app)
    assert after[:2] == before[:2]
    # Unticking the box is sent as nothing at all, and still means "no".
    browser_submit(client, f"/admin/categories/{decision}/edit", overrides={"ex_aequo": None})
    assert category_by_slug(app, "wyroznienie-jury").ex_aequo is False


def test_award_and_ex_aequo_frozen_from_the_opening(client, logged_in, app, small_gala):
    decision = add_decision(app, small_gala["gala"], [small_gala["lodz"]])
    with app.app_context():
        services.open_voting(ACTOR, small_gala["gala"])
    before = snapshot(app)
    for changed in ({"award": "special"}, {"ex_aequo": "y"}, {"method": "single",
                                                              "group_jury": "y"}):
        # A page loaded before the opening sends the rule fields: refused, and said why.
        response = post_form(client, f"/admin/categories/{decision}/edit",
                             data={**BASE, **changed})
        assert response.status_code == 409, changed
        assert snapshot(app) == before
    # The locked page leaves its disabled rule fields out: the words still change.
    response = post_form(client, f"/admin/categories/{decision}/edit", data={
        "name_pl": "Wyróżnienie specjalne jury", "name_en": "", "description_pl": "",
        "description_en": ""})
    assert response.status_code == 302, html_of(response)
    category = category_by_slug(app, "wyroznienie-jury")
    assert (category.name_pl, category.award, category.ex_aequo, category.method) == (
        "Wyróżnienie specjalne jury", "mention", False, "decision")


def test_services_freeze_award_and_ex_aequo_but_not_public_figures(app, small_gala):
    with app.app_context():
        services.open_voting(ACTOR, small_gala["gala"])
        data = {"name_pl": "TikTok roku", "name_en": "TikTok of the year", "method": "single",
                "weights": {"audience": 100}}
        with pytest.raises(LockedError):
            services.update_category(ACTOR, small_gala["single"], {**data, "award": "mention"})
        with pytest.raises(LockedError):
            services.update_category(ACTOR, small_gala["single"], {**data, "ex_aequo": True})
        services.update_category(ACTOR, small_gala["single"], {**data, "public_figures": True})
        category = db.session.get(Category, small_gala["single"])
        assert (category.award, category.ex_aequo, category.public_figures) == (
            "award", False, True)
        # A form that says nothing about the figures leaves them as they are.
        services.update_category(ACTOR, small_gala["single"], data)
        assert db.session.get(Category, small_gala["single"]).public_figures is True


# --- the rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "field"), [
    ({**BASE, "weights": {"jury": 100}}, "weights"),
    ({**BASE, "award": "gold"}, "award"),
    ({**BASE, "ex_aequo": "perhaps"}, "ex_aequo"),
    ({**BASE, "method": "single"}, "weights"),
    ({**BASE, "method": "single", "weights": {}}, "weights"),
])
def test_clean_category_refuses_bad_combinations(app, data, field):
    with app.test_request_context(), pytest.raises(ValidationError) as refused:
        clean_category(data)
    assert field in refused.value.errors


def test_clean_category_decision_takes_no_params_and_defaults(app):
    with app.test_request_context():
        clean = clean_category({"name_pl": "Złoty Lajk Europa", "method": "decision",
                                "places": 3, "points": "3,2,1", "max_choices": 2})
        assert clean["weights"] == {} and clean["award"] == "award"
        assert clean["ex_aequo"] is False and "public_figures" not in clean
        assert {k: clean[k] for k in ("places", "points", "score_min", "max_choices")} == {
            "places": None, "points": None, "score_min": None, "max_choices": None}
        assert clean_category({**BASE, "ex_aequo": "tak", "public_figures": "false"})[
            "ex_aequo"] is True


# --- readiness before the opening ------------------------------------------------------------


def test_readiness_a_decision_needs_one_nominee_and_no_more(app, small_gala):
    decision = add_decision(app, small_gala["gala"], [])
    with app.app_context():
        the_gala = db.session.get(Gala, small_gala["gala"])
        assert queries.readiness(the_gala) == [
            "„Wyróżnienie jury”: wymagany co najmniej jeden nominowany."]
        services.nominate(ACTOR, decision, small_gala["gdansk"])
        assert queries.readiness(the_gala) == []
        services.open_voting(ACTOR, the_gala.id)  # one nominee, no voter group: ready


def test_readiness_a_decision_with_voter_groups_is_not_ready(app, small_gala):
    decision = add_decision(app, small_gala["gala"], [small_gala["lodz"]])
    with app.app_context():
        db.session.add(CategoryGroup(category_id=decision, group="jury", weight=100))
        db.session.commit()  # only a hand-edited database gets here
        problems = queries.readiness(db.session.get(Gala, small_gala["gala"]))
    assert problems == ["„Wyróżnienie jury”: o tej kategorii decyduje kapituła, więc nie może "
                        "mieć grup głosujących."]


def test_readiness_a_gala_of_decisions_only_has_nothing_to_vote_on(app):
    with app.app_context():
        gala = services.create_gala(ACTOR, {"name": "Gala 2027", "date": "2027-11-27"})
        profile = services.create_profile(ACTOR, gala.id, {
            "name": "Gdańsk", "unit_name": "Miasto Gdańsk", "unit_type": "miasto",
            "platform": "youtube", "url": "https://www.youtube.com/@gdansk"})
        gala_id, profile_id = gala.id, profile.id
    add_decision(app, gala_id, [profile_id])
    with app.app_context():
        problems = queries.readiness(db.session.get(Gala, gala_id))
        assert problems == ["Wszystkie kategorie rozstrzyga kapituła: nie ma nad czym głosować. "
                            "Dodaj kategorię rozstrzyganą w głosowaniu."]
        with pytest.raises(ConflictError):
            services.open_voting(ACTOR, gala_id)
        assert db.session.get(Gala, gala_id).voting_state == "draft"


def test_dashboard_lists_the_decision_with_its_award(client, logged_in, app, demo_gala):
    html = html_of(client.get("/admin/"))
    row = html[html.index("Special mention of the jury"):]
    row = row[:row.index("</tr>")]
    assert "Honourable mention" in row and "decision of the chapter" in row
    assert "the chapter" in row and "count--low" not in row


# --- the API document ------------------------------------------------------------------------


def test_api_gala_document_carries_award_and_ex_aequo(client, demo_gala):
    body = client.get("/api/v1/gala").get_json()
    by_slug = {c["slug"]: c for c in body["categories"]}
    assert [c["slug"] for c in body["categories"]][-2:] == DECISION_SLUGS
    mention, europe = by_slug["wyroznienie-specjalne-jury"], by_slug["zloty-lajk-europa"]
    assert (mention["award"], mention["method"], mention["ex_aequo"]) == (
        "mention", "decision", True)
    assert (europe["award"], europe["method"], europe["ex_aequo"]) == (
        "special", "decision", False)
    for decision in (mention, europe):
        assert decision["groups"] == [] and decision["weights"] is None
        assert decision["params"] == {} and decision["nominees"]
    for category in body["categories"][:-2]:
        assert (category["award"], category["ex_aequo"]) == ("award", False)
        assert category["method"] != "decision" and category["groups"]


def test_openapi_describes_award_ex_aequo_and_decision():
    from voting.api.openapi import openapi_document

    schema = openapi_document()["components"]["schemas"]["Category"]
    assert {"award", "ex_aequo"} <= set(schema["required"])
    assert schema["properties"]["award"]["enum"] == ["award", "mention", "special"]
    assert "decision" in schema["properties"]["method"]["enum"]
    assert schema["properties"]["ex_aequo"]["type"] == "boolean"


# --- the gala file ---------------------------------------------------------------------------


def test_gala_file_round_trip_keeps_award_kind_decision_and_result_settings(
        app, demo_gala, other_app):
    with app.app_context():
        category = db.session.scalar(select(Category).where(
            Category.slug == "zloty-lajk-europa"))
        category.public_figures = True
        db.session.commit()
        exported = transfer.export_gala(db.session.get(Gala, demo_gala))
    europe = exported["categories"][-1]
    assert {k: europe[k] for k in ("slug", "award", "method", "params", "weights", "ex_aequo",
                                   "public_figures")} == {
        "slug": "zloty-lajk-europa", "award": "special", "method": "decision", "params": {},
        "weights": {}, "ex_aequo": False, "public_figures": True}
    with other_app.app_context():
        transfer.import_gala(ACTOR, json.loads(json.dumps(exported)))
        again = transfer.export_gala(db.session.scalar(select(Gala)))
    assert again["categories"] == exported["categories"]


def test_gala_file_without_the_new_fields_still_imports_with_defaults(app):
    document = demo_document()
    for category in document["categories"]:
        for key in ("award", "ex_aequo", "public_figures"):
            category.pop(key, None)
    with app.app_context():
        gala = transfer.import_gala(ACTOR, document)
        settings = {c.slug: (c.award, c.ex_aequo, c.public_figures) for c in gala.categories}
    assert set(settings.values()) == {("award", False, False)}
    assert len(settings) == 10


@pytest.mark.parametrize(("change", "problem"), [
    ({"weights": {"jury": 100}}, "weights"),
    ({"award": "grand-prix"}, "award"),
    ({"ex_aequo": "sometimes"}, "ex_aequo"),
])
def test_gala_file_with_a_bad_decision_category_is_refused_whole(app, change, problem):
    document = demo_document()
    document["categories"][-1].update(change)
    with app.app_context():
        with pytest.raises(ImportRejectedError) as refused:
            transfer.import_gala(ACTOR, copy.deepcopy(document))
        assert db.session.scalar(select(func.count()).select_from(Gala)) == 0
    (number, text), = refused.value.rows
    assert number == 10 and text.startswith("categories[10]: ") and f"{problem}:" in text


# --- the demo gala ---------------------------------------------------------------------------


def test_demo_gala_ends_with_the_chapters_mention_and_special_award(app, demo_gala):
    with app.app_context():
        categories = db.session.get(Gala, demo_gala).categories
        assert len(categories) == 10
        assert [c.balloted for c in categories] == [True] * 8 + [False] * 2
        mention, europe = categories[-2:]
        assert (mention.name_pl, mention.award, mention.ex_aequo) == (
            "Wyróżnienie specjalne jury", "mention", True)
        assert (europe.name_pl, europe.award, europe.ex_aequo) == (
            "Złoty Lajk Europa", "special", False)
        assert len(mention.nominations) == 3 and len(europe.nominations) == 2
        assert queries.readiness(db.session.get(Gala, demo_gala)) == []
    # The eight balloted categories are those the demo always had.
    assert [c["method"] for c in demo_document()["categories"][:8]] == [
        "ranked", "score", "ranked", "irv", "approval", "score", "single", "single"]


# --- ballots ---------------------------------------------------------------------------------


@pytest.fixture
def open_demo(app: Flask, demo_gala: int) -> int:
    with app.app_context():
        services.open_voting(ACTOR, demo_gala)
    return demo_gala


def issue(app: Flask, gala_id: int, group: str) -> cards.IssuedCard:
    with app.app_context():
        return cards.issue_cards(ACTOR, gala_id, group, card_keys(app.config), count=1)[0]


def test_decision_category_is_on_no_ballot_page(app, open_demo):
    names = ("Wyróżnienie specjalne jury", "Special mention of the jury", "Złoty Lajk Europa",
             "Golden Like Europe")
    for group in ("jury", "audience"):
        client = app.test_client()
        card = issue(app, open_demo, group)
        client.get(f"/v/{card.url.rsplit('/v/', 1)[1]}")
        html = html_of(client.get("/ballot"))
        sections = re.findall(r'<fieldset class="card ballot-section[^"]*" id="s-([^"]+)"', html)
        assert sections, group
        assert not set(sections) & set(DECISION_SLUGS)
        assert not any(slug in html for slug in DECISION_SLUGS)
        assert not any(name in html for name in names)


def test_decision_category_is_not_in_the_ballot_rules(app, open_demo):
    with app.app_context():
        rules = gala_rules(db.session.get(Gala, open_demo))
        slugs = [rule.slug for rule in rules.categories]
        assert len(slugs) == 8 and not set(slugs) & set(DECISION_SLUGS)
        decided = {n.id for c in db.session.get(Gala, open_demo).categories if not c.balloted
                   for n in c.nominations}
        assert not decided & set(rules.profile_of)


@pytest.mark.parametrize("choice", ["a nominee", None])
def test_api_ballot_naming_a_decision_category_is_refused_422(app, client, open_demo, choice):
    with app.app_context():
        europe = db.session.scalar(select(Category).where(Category.slug == "zloty-lajk-europa"))
        nominee = europe.nominations[0].id
    card = issue(app, open_demo, "jury")
    votes = {"zloty-lajk-europa": nominee if choice else None}
    response = client.post("/api/v1/ballots", json={"token": card.code, "votes": votes})
    assert response.status_code == 422, response.get_data(as_text=True)
    body = response.get_json()
    assert body["fields"] == {"zloty-lajk-europa": "No such category."}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ballot)) == 0
        assert db.session.scalar(select(Token.used_at)) is None  # the card can still vote


# --- public pages ----------------------------------------------------------------------------


def test_nominees_page_labels_the_mention_and_the_special_award(client, demo_gala):
    html = html_of(client.get("/nominees"))
    mention = html[html.index('id="wyroznienie-specjalne-jury"'):]
    europe = html[html.index('id="zloty-lajk-europa"'):]
    assert re.search(r'<p class="eyebrow">Honourable mention</p>\s*<h2', mention)
    assert re.search(r'<p class="eyebrow">Special award</p>\s*<h2', europe)
    categories = html[html.index('class="card category-public"'):]
    assert categories.count('<p class="eyebrow">') == 2  # a Golden Like needs no label


def test_display_labels_the_mention_and_the_special_award(app, client, demo_gala):
    html = html_of(client.get(display_url(app) + "&lang=en"))
    assert "Special mention of the jury <span class=\"tag\">Honourable mention</span>" in html
    assert "Golden Like Europe <span class=\"tag\">Special award</span>" in html
    assert html.count('class="tag"') == 2


# --- in a real browser -----------------------------------------------------------------------


@pytest.mark.slow
def test_browser_decision_hides_voter_groups_and_method_settings(browser, live_server,
                                                                 organizer):
    visit = Visit(browser, live_server, PHONE, "pl-PL")
    page = visit.log_in(organizer["email"], organizer["password"])
    page = visit.go("/admin/categories/new")
    assert page.locator("#group_jury").is_visible()
    page.select_option("#method", "decision")
    assert not page.locator("#group_jury").is_visible()
    assert not page.locator("#places").is_visible()
    assert page.locator("[data-for-method=decision]").is_visible()
    page.select_option("#award", "special")
    page.fill("#name_pl", "Złoty Lajk Europa 2")
    page.check("#ex_aequo")
    visit.shot("phone-category-form-decision")
    page.click("main button[type=submit]")
    assert page.locator(".flash--success").count() == 1
    visit.shot("phone-category-decision")
    visit.close()


@pytest.mark.slow
def test_browser_display_and_nominees_label_the_award_kinds(app, browser, live_server):
    visit = Visit(browser, live_server, PROJECTOR, "pl-PL")
    page = visit.go(display_url(app))
    assert page.locator(".categories li").count() == 10
    assert page.locator(".categories .tag").count() == 2
    visit.shot("projector-display-award-kinds")
    visit.close()
    visit = Visit(browser, live_server, PHONE, "pl-PL")
    page = visit.go("/nominees#zloty-lajk-europa")
    assert page.locator("section.category-public .eyebrow").count() == 2
    visit.shot("phone-nominees-award-kinds")
    visit.close()
