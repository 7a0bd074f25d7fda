"""The ballot in a real browser (Debian's Chromium): on a 360 px phone, and without JavaScript."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlalchemy import func, select
from test_browser import PHONE, PROJECTOR, Visit

from voting import cards, services
from voting.ballots import card_keys
from voting.extensions import db
from voting.models import Ballot, Gala, Nomination

pytestmark = pytest.mark.slow
SMALL_PHONE = {"width": 360, "height": 740}


def open_and_issue(app: Flask, **kwargs) -> cards.IssuedCard:  # noqa: ANN003
    with app.app_context():
        gala = db.session.scalar(select(Gala))
        if gala.voting_state == "draft":
            services.open_voting("test", gala.id)
        return cards.issue_cards("test", gala.id, "jury", card_keys(app.config),
                                 **({"count": 1} | kwargs))[0]


def ballots(app: Flask) -> list[Ballot]:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Ballot))


def no_sideways_scroll(page) -> None:  # noqa: ANN001
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page is {width}px wide"


def choosable(page, select: str) -> list[str]:  # noqa: ANN001
    """The nominees a place's list offers (not the empty choice, not a recused nominee)."""
    return page.locator(f"{select} option:not([data-recused])").evaluate_all(
        "options => options.map(o => o.value).filter(Boolean)")


def vote_in_every_jury_category(page) -> None:  # noqa: ANN001
    page.locator("#s-storytelling-gminy .choice:not(.choice--recused) label").nth(1).click()
    ranked = choosable(page, "#wideo-w-metropolii-place-1")
    for place in (1, 2):
        page.select_option(f"#wideo-w-metropolii-place-{place}", ranked[place])
    scale = page.locator("#s-wideo-w-mniejszym-miescie .scale").first
    scale.locator("label", has_text=re.compile(r"^8$")).click()
    irv = choosable(page, "#urzad-marszalkowski-w-social-mediach-place-1")
    page.select_option("#urzad-marszalkowski-w-social-mediach-place-1", irv[1])


def test_browser_juror_types_the_code_on_a_small_phone(app, browser, live_server):
    with app.app_context():
        recused_unit = db.session.scalar(select(Nomination).limit(1)).profile.unit_name
    card = open_and_issue(app, labels=["Anna Nowak"], recused_units=[recused_unit])
    visit = Visit(browser, live_server, SMALL_PHONE, "pl-PL")
    page = visit.go("/")
    no_sideways_scroll(page)
    visit.shot("phone-360-home-code-entry")
    page.fill("#code", card.code.lower().replace("-", " "))
    page.get_by_role("button", name="Przejdź do głosowania").click()
    page.wait_for_url(live_server + "/ballot")
    assert page.locator("h1").inner_text() == "Twoja karta do głosowania"
    assert page.locator("fieldset.ballot-section").count() == 5
    assert page.locator(".vote-nominee__recusal").count() >= 1
    no_sideways_scroll(page)
    visit.shot("phone-360-ballot")

    vote_in_every_jury_category(page)
    # With JavaScript, a nominee placed once is greyed out in the other places.
    first = page.locator("#wideo-w-metropolii-place-1").input_value()
    assert page.locator(f"#wideo-w-metropolii-place-2 option[value='{first}']").is_disabled()
    page.get_by_role("button", name="Sprawdź mój głos").click()
    assert page.locator("h1").inner_text() == "Sprawdź swój głos"
    assert page.locator(".review__abstain").count() == 1  # the category left empty
    no_sideways_scroll(page)
    visit.shot("phone-360-ballot-review")
    assert ballots(app) == 0

    page.get_by_role("button", name="Oddaj głos").click()
    page.wait_for_url(live_server + "/ballot/done")
    receipt = page.locator(".receipt").inner_text()
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", receipt)
    no_sideways_scroll(page)
    visit.shot("phone-360-ballot-receipt")
    assert ballots(app) == 1
    page.reload()
    assert page.locator(".receipt").count() == 0  # shown once
    assert "Twój głos został zapisany" in page.locator("main").inner_text()
    visit.close()


def test_browser_ballot_works_without_javascript_from_the_card_link(app, browser,
                                                                     live_server):
    card = open_and_issue(app)
    token = card.url.rsplit("/v/", 1)[1]
    visit = Visit(browser, live_server, PHONE, "pl-PL")
    visit.context.close()
    visit.context = browser.new_context(viewport=PHONE, locale="pl-PL",
                                        java_script_enabled=False)
    visit.page = visit.context.new_page()
    visit.page.on("request", lambda request: visit.requests.append(request.url))
    page = visit.go(f"/v/{token}")
    assert page.url == live_server + "/ballot"  # the token left the address bar
    vote_in_every_jury_category(page)
    page.get_by_role("button", name="Sprawdź mój głos").click()
    page.get_by_role("button", name="Zmień wybory").click()  # back, choices kept
    assert page.locator("#s-storytelling-gminy input:checked").count() == 1
    page.get_by_role("button", name="Sprawdź mój głos").click()
    page.get_by_role("button", name="Oddaj głos").click()
    assert page.locator(".receipt").is_visible()
    visit.shot("phone-nojs-ballot-receipt")
    assert ballots(app) == 1

    # The same card again: it says when it voted, and offers no second ballot.
    page = visit.go(f"/v/{token}")
    assert re.search(r"Tej karty użyto o \d\d:\d\d", page.locator("main").inner_text())
    visit.close()


def test_browser_ballot_on_a_projector_in_english(app, browser, live_server):
    card = open_and_issue(app)
    visit = Visit(browser, live_server, PROJECTOR, "en-GB")
    page = visit.go(f"/v/{card.url.rsplit('/v/', 1)[1]}")
    assert page.locator("h1").inner_text() == "Your ballot"
    visit.shot("projector-ballot-en")
    visit.close()
