"""The whole evening in real browsers, as the people in the hall do it.

An organizer logs in and opens voting; three jurors vote on 390×844 phones (one types the
code from the card, two open its link); the organizer closes voting and, on the presenter's
remote, steps through a category's reveal while a second browser shows the display. Each
displayed state is checked, and nothing naming the winner reaches the display (its page or
any answer it got) before the winner step. Screenshots go to test-artifacts/browser/ as
`e2e-*.png`; axe-core scans the display in each state.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

import pytest
from flask import Flask
from test_accessibility import violations
from test_browser import PHONE, PROJECTOR, Visit

from voting import cards, display_links
from voting.ballots import card_keys

pytestmark = pytest.mark.slow

CATEGORY = "Storytelling gminy, miasta i regionu"  # the demo's jury single-choice category
WINNER = "Gmina Wołomin"


def vote_for_the_winner(page: Any, visit: Visit) -> None:
    """On the ballot: the winner in the storytelling category, nothing elsewhere; review; cast."""
    section = page.locator("fieldset.ballot-section", has_text=CATEGORY)
    section.get_by_role("radio", name=re.compile(WINNER)).check()
    with page.expect_navigation():
        page.click("main form button[type=submit] >> nth=-1")  # to the review
    with page.expect_navigation():
        page.get_by_role("button", name="Oddaj głos").click()
    assert page.url.endswith("/ballot/done")


def test_e2e_organizer_jurors_presenter_and_the_display(app: Flask, browser, live_server,
                                                        organizer, demo_gala):
    with app.test_request_context():
        issued = cards.issue_cards("test", demo_gala, "jury", card_keys(app.config), count=3)
        _, key = display_links.create_link("test", "Rzutnik")
    display = Visit(browser, live_server, PROJECTOR, "pl-PL", bypass_csp=True)
    received: list[tuple[str, str]] = []  # (url, body) of every answer the display got

    def keep(response: Any) -> None:
        # 204 (nothing new) has no body to read; every answer with one is kept.
        if response.request.resource_type in ("document", "fetch", "xhr") \
                and response.status == 200:
            received.append((response.url, response.text()))

    display.page.on("response", keep)
    screen = display.go(f"/display/?key={key}")
    screen.wait_for_selector(".stage--before")
    display.shot("e2e-display-before")

    organizer_tab = Visit(browser, live_server, PHONE, "pl-PL")
    admin = organizer_tab.log_in(organizer["email"], organizer["password"])
    admin.on("dialog", lambda dialog: dialog.accept())  # "Open voting now?"
    with admin.expect_navigation():
        admin.get_by_role("button", name="Otwórz głosowanie").click()
    screen.wait_for_selector(".stage--voting", timeout=10_000)
    screen.wait_for_timeout(2600)  # the entrance animation
    display.shot("e2e-display-voting")

    for number, card in enumerate(issued):
        juror = Visit(browser, live_server, PHONE, "pl-PL")
        if number == 0:
            page = juror.go("/")
            page.fill("#code", card.code)
            with page.expect_navigation():
                page.click("main button[type=submit]")
        else:
            page = juror.go(urlparse(card.url).path)  # the QR link; it leaves the address bar
        assert page.url.endswith("/ballot")
        juror.shot(f"e2e-juror-{number + 1}-ballot")
        vote_for_the_winner(page, juror)
        juror.shot(f"e2e-juror-{number + 1}-done")
        juror.close()

    admin = organizer_tab.go("/admin/")
    admin.check("#confirm")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Zamknij głosowanie na stałe").click()
    screen.wait_for_selector(".stage--sealed", timeout=10_000)
    screen.wait_for_timeout(2600)
    display.shot("e2e-display-sealed")
    problems = violations(screen)
    assert WINNER not in screen.content()

    admin = organizer_tab.go("/admin/reveal")
    admin.select_option("#jump-to", label=f"8. {CATEGORY}")
    with admin.expect_navigation():
        admin.get_by_role("button", name="Przejdź").click()
    screen.wait_for_selector(".stage--title", timeout=10_000)
    assert CATEGORY in screen.content() and WINNER not in screen.content()
    display.shot("e2e-display-title")
    organizer_tab.shot("e2e-presenter-title")

    with admin.expect_navigation():
        admin.get_by_role("button", name="Dalej").click()
    screen.wait_for_selector(".stage--nominees .nominee", timeout=10_000)
    display.shot("e2e-display-nominees")
    assert screen.locator(".winner__name").count() == 0
    screen.wait_for_timeout(1500)  # a few more polls, all before the winner step
    before = "\n".join(body for _, body in received)
    assert "stage--winner" not in before and "winner__name" not in before
    assert f"{WINNER}</h1>" not in before
    problems += violations(screen)

    with admin.expect_navigation():
        admin.get_by_role("button", name="Dalej").click()
    screen.wait_for_selector(".stage--winner .winner__name", timeout=10_000)
    screen.wait_for_timeout(2600)  # the entrance animation
    assert screen.locator(".winner__name").inner_text().strip() == WINNER
    display.shot("e2e-display-winner")
    organizer_tab.shot("e2e-presenter-winner")
    problems += violations(screen)

    with admin.expect_navigation():
        admin.get_by_role("button", name="Wygaś ekran").click()
    screen.wait_for_selector(".stage--blank", timeout=10_000)
    display.shot("e2e-display-blank")
    organizer_tab.close()
    display.close()
    assert problems == []
