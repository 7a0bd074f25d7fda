"""Accessibility: axe-core scans the ballot, the admin and the results pages in Chromium.

axe-core (the npm package, as bundled by the test-only `axe-playwright-python`) is injected
into each page by the test; the page's CSP forbids inline script, so these tabs bypass it for
the scan alone. A serious or critical violation fails the test, named with its elements.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import axe_playwright_python
import pytest
from conftest import cast_votes
from flask import Flask
from playwright.sync_api import Page
from test_browser import PHONE, PROJECTOR, Visit

from voting import cards, services
from voting.ballots import card_keys
from voting.extensions import db
from voting.models import Gala

pytestmark = pytest.mark.slow

AXE = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")
BLOCKING = ("serious", "critical")


def violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each."""
    page.add_script_tag(content=AXE)
    found: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['impact']}: {v['id']} ({v['help']}) at "
            + json.dumps([node["target"] for node in v["nodes"][:5]])
            for v in found["violations"] if v["impact"] in BLOCKING]


def scan(visit: Visit, path: str) -> list[str]:
    return [f"{path}: {line}" for line in violations(visit.go(path))]


def test_accessibility_ballot_pages(app: Flask, browser, live_server, demo_gala):
    with app.app_context():
        services.open_voting("test", demo_gala)
        card = cards.issue_cards("test", demo_gala, "jury", card_keys(app.config), count=1)[0]
    found: list[str] = []
    visit = Visit(browser, live_server, PHONE, "pl-PL", bypass_csp=True)
    found += scan(visit, "/")
    found += scan(visit, "/nominees")
    page = visit.go("/")
    page.fill("#code", card.code)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    found += [f"/ballot: {line}" for line in violations(page)]
    with page.expect_navigation():
        page.click("main button[type=submit]")  # to the review (abstaining everywhere)
    found += [f"/ballot/review: {line}" for line in violations(page)]
    visit.close()
    assert found == []


def test_accessibility_admin_and_results_pages(app: Flask, browser, live_server, organizer,
                                               demo_gala):
    with app.app_context():
        services.open_voting("test", demo_gala)
    cast_votes(app, demo_gala, "jury", [{}, {}])
    with app.app_context():
        services.close_voting("test", demo_gala)
        first = db.session.get(Gala, demo_gala).categories[0].id
    found: list[str] = []
    for viewport in (PHONE, PROJECTOR):
        visit = Visit(browser, live_server, viewport, "pl-PL", bypass_csp=True)
        visit.log_in(organizer["email"], organizer["password"])
        for path in ("/admin/", "/admin/cards", "/admin/profiles", f"/admin/categories/{first}",
                     "/admin/results", f"/admin/results/{first}", "/admin/results/protocol",
                     "/admin/reveal", "/admin/organizers", "/admin/audit"):
            found += scan(visit, path)
        visit.close()
    assert found == []


def test_accessibility_scan_finds_a_planted_violation(browser, live_server):
    """The scan is real: an image without a text alternative is a critical violation."""
    visit = Visit(browser, live_server, PHONE, "pl-PL", bypass_csp=True)
    page = visit.go("/")
    page.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend', "
                  "'<img src=\"/static/favicon.svg\">')")
    assert any("image-alt" in line for line in violations(page))
    visit.close()
