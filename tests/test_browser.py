"""The admin and the public pages in a real browser: Debian's Chromium driven by Playwright.

Screenshots go to test-artifacts/browser/. Every request the pages make must stay on the
app's own address: no CDN, no web fonts, nothing from the internet.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from test_display import display_url

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "browser"
PHONE = {"width": 390, "height": 844}
PROJECTOR = {"width": 1920, "height": 1080}

pytestmark = pytest.mark.slow


class Visit:
    """A browser tab that records where its requests went and what the console said."""

    def __init__(self, browser: Browser, base: str, viewport: dict[str, int], locale: str,
                 bypass_csp: bool = False):
        self.base = base
        # bypass_csp: only for the accessibility scan, which injects axe-core into the page.
        self.context = browser.new_context(viewport=viewport, locale=locale,
                                           bypass_csp=bypass_csp)
        self.page: Page = self.context.new_page()
        self.requests: list[str] = []
        self.console_errors: list[str] = []
        self.broken_assets: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("response", self._check_asset)
        self.page.on("console", self._check_console)

    def _check_asset(self, response) -> None:  # noqa: ANN001
        # A page may answer 4xx on purpose (a form with errors); its assets never should.
        if response.request.resource_type != "document" and response.status >= 400:
            self.broken_assets.append(f"{response.status} {response.url}")

    def _check_console(self, message) -> None:  # noqa: ANN001
        # Chrome reports every 4xx page as a console error; those are checked per asset.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.console_errors.append(message.text)

    def go(self, path: str) -> Page:
        response = self.page.goto(self.base + path)
        assert response is not None and response.status == 200, (path, response)
        return self.page

    def log_in(self, email: str, password: str) -> Page:
        """Log in as an organizer and wait for the page the login leads to."""
        page = self.go("/admin/login")
        page.fill("#email", email)
        page.fill("#password", password)
        with page.expect_navigation():
            page.click("main button[type=submit]")
        return page

    def shot(self, name: str) -> None:
        # Nothing may push the page sideways, least of all on a phone.
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= self.page.viewport_size["width"], f"{name}: the page is {width}px wide"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()
        foreign = [url for url in self.requests
                   if not url.startswith((self.base, "data:", "about:"))]
        assert not foreign, f"requests leaving the app: {foreign}"
        assert not self.console_errors, self.console_errors
        assert not self.broken_assets, self.broken_assets


def test_browser_organizer_on_a_phone_logs_in_and_nominates(browser, live_server, organizer):
    visit = Visit(browser, live_server, PHONE, "pl-PL")
    page = visit.go("/admin/")
    assert page.url.startswith(live_server + "/admin/login")
    page.fill("#email", organizer["email"])
    page.fill("#password", "zle-haslo")
    page.click("main button[type=submit]")
    assert page.locator("#password-error").inner_text() == "Nieprawidłowy adres e-mail lub hasło."
    visit.shot("phone-login-error")
    page.fill("#password", organizer["password"])
    page.click("main button[type=submit]")
    page.wait_for_url(live_server + "/admin/")
    assert page.locator("h1").inner_text() == "Gala Złotych Lajków 2023 (demo)"
    assert page.get_by_role("button", name="Otwórz głosowanie").is_visible()
    visit.shot("phone-dashboard")

    page.get_by_role("link", name="TikTok samorządu").click()
    before = page.locator(".nominee").count()
    page.select_option("#profile_id", index=0)
    page.fill("#citation", "za relacje z budowy tramwaju")
    page.get_by_role("button", name="Nominuj").click()
    assert page.locator(".flash--success").inner_text() == "Dodano nominację."
    assert page.locator(".nominee").count() == before + 1
    visit.shot("phone-category-after-nominating")
    visit.close()


def test_browser_method_settings_follow_the_chosen_method(browser, live_server, organizer):
    visit = Visit(browser, live_server, PHONE, "pl-PL")
    page = visit.log_in(organizer["email"], organizer["password"])
    page = visit.go("/admin/categories/new")
    page.select_option("#method", "score")
    assert page.locator("#score_min").is_visible()
    assert not page.locator("#points").is_visible()
    page.select_option("#method", "ranked")
    assert page.locator("#points").is_visible()
    assert not page.locator("#score_min").is_visible()
    page.fill("#name_pl", "Wideo roku")
    page.fill("#points", "5,x,1")
    page.click("main button[type=submit]")
    assert page.locator("#points-error").inner_text() == (
        "Punkty to liczby całkowite oddzielone przecinkami.")
    assert page.locator("#points").is_visible()  # the error stays where it can be seen
    visit.shot("phone-category-form-error")
    visit.close()


def test_browser_nominees_on_a_projector_in_polish_then_english(app, browser, live_server):
    visit = Visit(browser, live_server, PROJECTOR, "pl-PL")
    page = visit.go("/nominees")
    assert page.locator("h1").inner_text() == "Nominowani"
    assert page.locator("section.category-public").count() == 10
    assert page.locator(".nominee-card").count() == 41
    visit.shot("projector-nominees-pl")
    page.get_by_role("link", name="EN").click()
    assert page.locator("h1").inner_text() == "Nominees"
    assert page.locator("html").get_attribute("lang") == "en"
    visit.shot("projector-nominees-en")
    visit.go(display_url(app))
    visit.shot("projector-display-before-voting")
    visit.close()


def test_browser_card_desk_on_a_phone(browser, live_server, organizer):
    visit = Visit(browser, live_server, PHONE, "pl-PL")
    visit.page.on("dialog", lambda dialog: dialog.accept())
    page = visit.log_in(organizer["email"], organizer["password"])
    page.get_by_role("button", name="Otwórz głosowanie").click()
    assert "otwarte" in page.locator(".state").inner_text()
    visit.shot("phone-dashboard-voting-open")

    page = visit.go("/admin/cards")
    visit.shot("phone-card-desk")
    page.fill("#labels", "Anna Nowak\nJan Kowalski")
    page.get_by_role("button", name="Wydaj i drukuj").click()
    assert page.locator("article.vcard").count() == 2
    page = visit.go("/admin/cards")
    assert page.get_by_text("Anna Nowak").first.is_visible()
    visit.shot("phone-card-desk-with-cards")
    visit.close()
