"""The organizer's admin through the test client, with CSRF on.

Login and its throttle, the guard on every admin address, categories, profiles and images,
nominations, the readiness list, the lock after voting opens, CSV import, exports, the audit
trail and gala editions. Pages are read in English (Accept-Language: en) so the assertions do
not depend on the Polish catalogue, except where the Polish wording itself is the point.
"""

from __future__ import annotations

import csv
import io
import json
import re
import struct
import zlib
from html import unescape
from html.parser import HTMLParser
from typing import Any

import pytest
from babel.dates import format_datetime
from conftest import (
    ORGANIZER_EMAIL,
    ORGANIZER_PASSWORD,
    csrf_token,
    field_error,
    flashes,
    html_of,
    post_form,
)
from flask import Flask, url_for
from flask.testing import FlaskClient
from limits import parse as parse_limit
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from voting import services
from voting.errors import LockedError
from voting.extensions import db
from voting.models import AuditEntry, Category, Gala, Nomination, Profile

# --- helpers -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def english(request: pytest.FixtureRequest, client: FlaskClient) -> None:
    """Read pages in English unless the test asks for the default (Polish) language."""
    if "polish" not in request.fixturenames:
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def polish(client: FlaskClient) -> FlaskClient:
    client.environ_base.pop("HTTP_ACCEPT_LANGUAGE", None)
    return client




def all_errors(html: str) -> list[str]:
    return [unescape(m).strip() for m in re.findall(r'<p class="error"[^>]*>(.*?)</p>', html, re.S)]



def checklist(html: str) -> list[str]:
    return [unescape(m).strip() for m in
            re.findall(r'<li class="checklist__todo">(.*?)</li>', html, re.S)]


def dashboard_order(client: FlaskClient) -> list[int]:
    return [int(i) for i in re.findall(r'<tr id="category-(\d+)">', html_of(client.get("/admin/")))]


def count(app: Flask, model: type, *where: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def load(app: Flask, model: type, ident: int) -> Any:
    with app.app_context():
        obj = db.session.get(model, ident)
        if obj is not None:
            db.session.expunge(obj)
        return obj


def audit_actions(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


def nomination_id(app: Flask, category_id: int, profile_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(Nomination.id).where(
            Nomination.category_id == category_id, Nomination.profile_id == profile_id))


def tiny_png() -> bytes:
    """A real 1x1 RGBA PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\xd7\x00\xff"))
            + chunk(b"IEND", b""))


class FormScraper(HTMLParser):
    """Collects each form's fields the way a browser would submit them.

    Disabled controls (or those in a disabled fieldset), unchecked boxes and buttons are left
    out; a select sends its selected option (or its first); a textarea drops the one newline
    that follows its start tag.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, Any]] = []
        self.form: dict[str, Any] | None = None
        self.fieldsets: list[bool] = []
        self.select: dict[str, Any] | None = None
        self.option: dict[str, Any] | None = None
        self.textarea: dict[str, Any] | None = None

    def _disabled(self, attrs: dict[str, Any]) -> bool:
        return "disabled" in attrs or any(self.fieldsets)

    def handle_starttag(self, tag: str, attr_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: (v if v is not None else "") for k, v in attr_list}
        if tag == "form":
            self.form = {"action": attrs.get("action", ""), "fields": []}
            self.forms.append(self.form)
            return
        if self.form is None:
            return
        if tag == "fieldset":
            self.fieldsets.append("disabled" in attrs)
        elif tag == "input" and "name" in attrs and not self._disabled(attrs):
            kind = attrs.get("type", "text").lower()
            if kind in ("submit", "button", "reset", "image", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            default = "on" if kind in ("checkbox", "radio") else ""
            self.form["fields"].append((attrs["name"], attrs.get("value", default)))
        elif tag == "select" and "name" in attrs:
            self.select = {"name": attrs["name"], "options": [],
                           "disabled": self._disabled(attrs)}
        elif tag == "option" and self.select is not None:
            self.option = {"value": attrs.get("value"), "text": "",
                           "selected": "selected" in attrs}
            self.select["options"].append(self.option)
        elif tag == "textarea" and "name" in attrs:
            self.textarea = {"name": attrs["name"], "text": "",
                             "disabled": self._disabled(attrs)}

    def handle_data(self, data: str) -> None:
        if self.option is not None:
            self.option["text"] += data
        if self.textarea is not None:
            self.textarea["text"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.form = None
        elif tag == "fieldset" and self.fieldsets:
            self.fieldsets.pop()
        elif tag == "option":
            self.option = None
        elif tag == "select" and self.select is not None:
            options = self.select["options"]
            chosen = next((o for o in options if o["selected"]), options[0] if options else None)
            if chosen is not None and not self.select["disabled"] and self.form is not None:
                value = chosen["value"] if chosen["value"] is not None else chosen["text"]
                self.form["fields"].append((self.select["name"], value))
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            text = self.textarea["text"]
            text = text[1:] if text.startswith("\n") else text
            if not self.textarea["disabled"] and self.form is not None:
                self.form["fields"].append((self.textarea["name"], text))
            self.textarea = None


def browser_submit(client: FlaskClient, page: str, action: str | None = None,
                   overrides: dict[str, Any] | None = None,
                   files: dict[str, tuple[bytes, str]] | None = None, **kwargs: Any) -> Any:
    """Submit the form of `page` that posts to `action` exactly as a browser would."""
    response = client.get(page)
    assert response.status_code == 200, (page, response.status_code)
    scraper = FormScraper()
    scraper.feed(html_of(response))
    target = action or page
    forms = [f for f in scraper.forms if (f["action"] or page) == target]
    assert len(forms) == 1, f"expected one form posting to {target} on {page}, found {len(forms)}"
    data = MultiDict(forms[0]["fields"])
    for name, value in (overrides or {}).items():
        if value is None:
            data.poplist(name)
        else:
            data.setlist(name, value if isinstance(value, list) else [value])
    if files:
        return post_multipart(client, target, data, files, **kwargs)
    return client.post(target, data=data, **kwargs)


def post_multipart(client: FlaskClient, url: str, fields: MultiDict | dict[str, Any],
                   files: dict[str, tuple[bytes, str]], **kwargs: Any) -> Any:
    """Post multipart/form-data encoded in memory.

    Given file tuples, the test client spools a large body to a temporary file that it never
    closes (a ResourceWarning, an error under filterwarnings=error).
    """
    values = MultiDict(fields)
    for name, (content, filename) in files.items():
        values.setlist(name, [FileStorage(io.BytesIO(content), filename=filename,
                                          content_type="application/octet-stream")])
    boundary, body = encode_multipart(values)
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}",
                       **kwargs)


CATEGORY_BASE = {"name_pl": "Nowa kategoria", "name_en": "New category", "method": "single",
                 "group_audience": "y", "weight_audience": "100"}
PROFILE_BASE = {"name": "Gdynia", "unit_name": "Miasto Gdynia", "unit_type": "miasto",
                "voivodeship": "pomorskie", "platform": "facebook", "handle": "@gdynia",
                "url": "https://www.facebook.com/gdynia", "description": "Profil miasta."}


def add_category(app: Flask, gala_id: int, name: str = "Pusta kategoria") -> int:
    with app.app_context():
        return services.create_category("test", gala_id, {
            "name_pl": name, "method": "single", "weights": {"jury": 100}}).id


def add_profile(app: Flask, gala_id: int, **overrides: Any) -> int:
    with app.app_context():
        data = {**PROFILE_BASE, **overrides}
        return services.create_profile("test", gala_id, data).id


# --- login and logout ----------------------------------------------------------------------


def test_login_page_shows_the_form(client):
    response = client.get("/admin/login")
    html = html_of(response)
    assert response.status_code == 200
    assert 'name="email"' in html and 'name="password"' in html
    assert csrf_token(client, "/admin/login")
    assert response.headers["Cache-Control"] == "no-store"


def test_login_wrong_password_answers_401_with_the_error_next_to_the_password(client, auth):
    response = auth.login(password="not the password")
    html = html_of(response)
    assert response.status_code == 401
    assert field_error(html, "password") == "Wrong e-mail or password."
    assert all_errors(html) == ["Wrong e-mail or password."]
    assert flashes(html) == []
    assert "not the password" not in html
    assert f'value="{ORGANIZER_EMAIL}"' in html  # the e-mail stays filled in
    assert client.get("/admin/").status_code == 302


def test_login_unknown_email_answers_exactly_like_a_wrong_password(client, auth):
    wrong_password = html_of(auth.login(password="not the password"))
    response = auth.login(email="nobody@example.com", password="not the password")
    assert response.status_code == 401
    assert all_errors(html_of(response)) == all_errors(wrong_password)


def test_login_right_password_leads_to_the_dashboard(client, auth, small_gala, app):
    response = auth.login()
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"
    dashboard = client.get("/admin/")
    assert dashboard.status_code == 200
    assert "Gala Złotych Lajków 2026" in html_of(dashboard)
    assert "organizer.login" in audit_actions(app)


@pytest.mark.parametrize(("next_url", "expected"), [
    ("/admin/profiles", "/admin/profiles"),
    ("//evil.example.com/", "/admin/"),
    ("https://evil.example.com/", "/admin/"),
    ("/\\evil.example.com/", "/admin/"),
    ("/\t/evil.example.com/", "/admin/"),
    ("/\r\nSet-Cookie: x=1", "/admin/"),
])
def test_login_follows_only_a_local_next(client, auth, small_gala, next_url, expected):
    page = url_for_login(client, next_url)
    response = post_form(client, page, data={"email": ORGANIZER_EMAIL,
                                             "password": ORGANIZER_PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def url_for_login(client: FlaskClient, next_url: str) -> str:
    with client.application.test_request_context():
        return url_for("admin.login", next=next_url)


def test_login_page_when_logged_in_goes_to_the_dashboard(client, logged_in, small_gala):
    response = client.get("/admin/login")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"


def test_logout_is_a_post_with_csrf(client, logged_in, small_gala, app):
    assert client.get("/admin/logout").status_code == 405
    assert client.post("/admin/logout").status_code == 400
    assert client.get("/admin/").status_code == 200  # still logged in
    response = logged_in.logout()
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/login"
    assert client.get("/admin/").status_code == 302
    assert audit_actions(app)[-1] == "organizer.logout"


# --- the guard on every admin address -----------------------------------------------------


def admin_urls(app: Flask, ids: dict[str, Any], method: str) -> list[str]:
    """Every admin address (but the login) that answers `method`, filled with real ids."""
    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if not rule.endpoint.startswith("admin.") or rule.endpoint == "admin.login":
                continue
            if method not in (rule.methods or ()):
                continue
            missing = set(rule.arguments) - set(ids)
            assert not missing, f"give the test a sample value for {missing} ({rule.rule})"
            urls.append(url_for(rule.endpoint, **{k: ids[k] for k in rule.arguments}))
    assert urls
    return urls


@pytest.fixture
def sample_ids(app, small_gala) -> dict[str, Any]:
    return {"gala_id": small_gala["gala"], "category_id": small_gala["single"],
            "profile_id": small_gala["lodz"],
            "nomination_id": nomination_id(app, small_gala["single"], small_gala["lodz"]),
            "action": "open", "fmt": "csv"}


def test_admin_every_page_redirects_to_login_when_logged_out(client, app, sample_ids):
    for url in admin_urls(app, sample_ids, "GET"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/admin/login?next="), url


def test_admin_every_post_redirects_to_login_when_logged_out_and_changes_nothing(
        client, app, sample_ids):
    audit_before = audit_actions(app)
    token = csrf_token(client, "/admin/login")
    for url in admin_urls(app, sample_ids, "POST"):
        response = client.post(url, data={"csrf_token": token, "direction": "down",
                                          "name_pl": "Zmiana", "citation": "zmiana"})
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/admin/login"), url
    assert audit_actions(app) == audit_before
    assert load(app, Gala, sample_ids["gala_id"]).voting_state == "draft"
    assert load(app, Category, sample_ids["category_id"]) is not None


def test_admin_every_page_answers_401_json_when_logged_out(client, app, sample_ids):
    for url in admin_urls(app, sample_ids, "GET"):
        response = client.get(url, headers={"Accept": "application/json"})
        assert response.status_code == 401, url
        assert response.is_json, url
        body = response.get_json()
        assert body["error"] == "unauthorized", url
        assert body["message"], url


def test_admin_401_json_says_to_log_in_not_that_the_request_was_malformed(client, sample_ids):
    body = client.get("/admin/", headers={"Accept": "application/json"}).get_json()
    malformed = client.post("/admin/logout", headers={"Accept": "application/json"}).get_json()
    assert malformed["error"] == "csrf_failed"
    assert body["error"] != malformed["error"]


def test_admin_post_without_csrf_token_is_refused_and_changes_nothing(
        client, logged_in, app, small_gala):
    nomination = nomination_id(app, small_gala["single"], small_gala["lodz"])
    audit_before = audit_actions(app)
    attempts = [
        ("/admin/categories/new", {**CATEGORY_BASE}),
        (f"/admin/categories/{small_gala['single']}/delete", {}),
        (f"/admin/categories/{small_gala['single']}/edit", {**CATEGORY_BASE}),
        ("/admin/voting/open", {}),
        (f"/admin/nominations/{nomination}/withdraw", {}),
        (f"/admin/profiles/{small_gala['lodz']}/delete", {}),
        ("/admin/profiles/new", {**PROFILE_BASE}),
    ]
    for url, data in attempts:
        response = client.post(url, data=data)
        assert response.status_code == 400, url
        assert "The form expired or was sent from elsewhere" in html_of(response), url
        forged = client.post(url, data={**data, "csrf_token": "forged.token.value"})
        assert forged.status_code == 400, url
    assert audit_actions(app) == audit_before
    assert count(app, Category) == 2
    assert count(app, Profile) == 3
    assert count(app, Nomination) == 4
    assert load(app, Gala, small_gala["gala"]).voting_state == "draft"


# --- login throttling ------------------------------------------------------------------------


def failure_limit(app: Flask) -> int:
    return parse_limit(app.config["LOGIN_FAILURE_LIMIT"]).amount


def attempt(app: Flask, address: str, email: str, password: str) -> Any:
    """One login attempt from a fresh browser at `address` (a test-client header only)."""
    browser = app.test_client()
    browser.environ_base.update(REMOTE_ADDR=address, HTTP_ACCEPT_LANGUAGE="en")
    return post_form(browser, "/admin/login", data={"email": email, "password": password})


def test_login_throttle_stops_an_account_from_one_address_after_the_limit(app, organizer):
    limit = failure_limit(app)
    for _ in range(limit):
        assert attempt(app, "10.0.0.1", ORGANIZER_EMAIL, "wrong").status_code == 401
    blocked = attempt(app, "10.0.0.1", ORGANIZER_EMAIL, "wrong")
    assert blocked.status_code == 429
    assert ("Too many failed attempts from here. Wait a few minutes and try again."
            in html_of(blocked))
    assert int(blocked.headers["Retry-After"]) > 0
    # Even the right password waits: the guessing must not go on.
    assert attempt(app, "10.0.0.1", ORGANIZER_EMAIL, ORGANIZER_PASSWORD).status_code == 429
    # Only sending the form is throttled; the page itself still opens.
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = "10.0.0.1"
    assert browser.get("/admin/login").status_code == 200


def test_login_throttle_leaves_the_same_account_free_from_another_address(app, organizer):
    for _ in range(failure_limit(app) + 1):
        attempt(app, "10.0.0.1", ORGANIZER_EMAIL, "wrong")
    assert attempt(app, "10.0.0.1", ORGANIZER_EMAIL, "wrong").status_code == 429
    assert attempt(app, "10.0.0.2", ORGANIZER_EMAIL, ORGANIZER_PASSWORD).status_code == 302
    assert attempt(app, "10.0.0.2", ORGANIZER_EMAIL, "wrong").status_code == 401


def test_login_throttle_leaves_another_account_free_from_the_same_address(app, organizer):
    with app.app_context():
        services.create_organizer("test", "druga.osoba@example.com", "Inne-Haslo-2026!")
    for _ in range(failure_limit(app) + 1):
        attempt(app, "10.0.0.1", ORGANIZER_EMAIL, "wrong")
    assert attempt(app, "10.0.0.1", ORGANIZER_EMAIL, ORGANIZER_PASSWORD).status_code == 429
    assert attempt(app, "10.0.0.1", "druga.osoba@example.com", "wrong").status_code == 401
    assert attempt(app, "10.0.0.1", "druga.osoba@example.com",
                   "Inne-Haslo-2026!").status_code == 302


def test_login_throttle_does_not_count_successful_logins(app, organizer):
    limit = failure_limit(app)
    for _ in range(limit + 1):
        assert attempt(app, "10.0.0.1", ORGANIZER_EMAIL, ORGANIZER_PASSWORD).status_code == 302
    for _ in range(limit - 1):
        assert attempt(app, "10.0.0.1", ORGANIZER_EMAIL, "wrong").status_code == 401
    assert attempt(app, "10.0.0.1", ORGANIZER_EMAIL, ORGANIZER_PASSWORD).status_code == 302
    assert attempt(app, "10.0.0.1", ORGANIZER_EMAIL, "wrong").status_code == 401
    assert attempt(app, "10.0.0.1", ORGANIZER_EMAIL, "wrong").status_code == 429


def test_login_throttle_counts_spellings_of_one_email_together(app, organizer):
    # Full-width letters are folded to plain ones by the login's own e-mail normalisation.
    fullwidth = ORGANIZER_EMAIL.replace("example", "\uff45xample")
    spellings = [ORGANIZER_EMAIL, fullwidth, ORGANIZER_EMAIL.upper(), f"  {ORGANIZER_EMAIL}  ",
                 ORGANIZER_EMAIL.title()]
    for number in range(failure_limit(app)):
        spelling = spellings[number % len(spellings)]
        assert attempt(app, "10.0.0.1", spelling, "wrong").status_code == 401
    assert attempt(app, "10.0.0.1", ORGANIZER_EMAIL.upper(), "wrong").status_code == 429


# --- categories ------------------------------------------------------------------------------


@pytest.mark.parametrize(("form", "params"), [
    ({"method": "single"}, {}),
    ({"method": "ranked", "places": "3", "points": "12, 10, 8"},
     {"places": 3, "points": [12, 10, 8]}),
    ({"method": "ranked", "places": "3", "points": ""}, {"places": 3, "points": None}),
    ({"method": "score", "score_min": "1", "score_max": "5", "min_scores": "2"},
     {"min": 1, "max": 5, "min_scores": 2}),
    ({"method": "approval", "max_choices": "2"}, {"max_choices": 2}),
    ({"method": "approval", "max_choices": ""}, {"max_choices": None}),
    ({"method": "irv", "places": "2"}, {"places": 2}),
])
def test_category_create_with_each_method(client, logged_in, app, small_gala, form, params):
    response = post_form(client, "/admin/categories/new",
                         data={**CATEGORY_BASE, "name_pl": "Kampania roku", **form})
    assert response.status_code == 302, field_errors_of(response)
    with app.app_context():
        category = db.session.scalar(select(Category).where(Category.slug == "kampania-roku"))
        assert category is not None
        assert category.method == form["method"]
        assert category.params() == params
        assert category.weights() == {"audience": 100}
        assert category.position == 3  # after the two the gala already has
        new_id = category.id
    assert response.headers["Location"] == f"/admin/categories/{new_id}"
    page = client.get(response.headers["Location"])
    assert ("success", "Saved.") in flashes(html_of(page))
    assert "Kampania roku" in html_of(page)
    assert "category.create" in audit_actions(app)


def field_errors_of(response: Any) -> list[str]:
    return all_errors(html_of(response))


def test_category_create_with_two_weighted_groups(client, logged_in, app, small_gala):
    response = post_form(client, "/admin/categories/new", data={
        **CATEGORY_BASE, "method": "ranked", "places": "2", "points": "2,1",
        "group_jury": "y", "weight_jury": "70", "group_audience": "y", "weight_audience": "30"})
    assert response.status_code == 302, field_errors_of(response)
    with app.app_context():
        category = db.session.scalar(select(Category).where(Category.slug == "nowa-kategoria"))
        assert category.weights() == {"audience": 30, "jury": 70}


@pytest.mark.parametrize(("form", "field", "message"), [
    ({"method": "ranked", "places": "2", "points": "5,x"}, "points",
     "Points are whole numbers separated by commas."),
    ({"method": "ranked", "places": "3", "points": "5,3"}, "points",
     "Give exactly 3 values, one per place."),
    ({"method": "score", "score_min": "5", "score_max": "5"}, "score_max",
     "The highest score must be above the lowest."),
    ({"method": "score", "score_min": "7", "score_max": "3"}, "score_max",
     "The highest score must be above the lowest."),
    ({"name_pl": "Wideo roku", "slug": "tiktok-roku"}, "slug",
     "Another category already uses this address."),
    ({"name_pl": "TikTok roku"}, "slug", "Another category already uses this address."),
    ({"name_pl": ""}, "name_pl", None),
    ({"slug": "Źle Zapisany Adres!"}, "slug", None),
])
def test_category_create_shows_the_error_next_to_the_field_and_saves_nothing(
        client, logged_in, app, small_gala, form, field, message):
    audit_before = audit_actions(app)
    response = post_form(client, "/admin/categories/new", data={**CATEGORY_BASE, **form})
    html = html_of(response)
    assert response.status_code == 422
    error = field_error(html, field)
    assert error, (field, all_errors(html))
    if message:
        assert error == message
    assert 'aria-invalid="true"' in html
    assert count(app, Category) == 2
    assert audit_actions(app) == audit_before


@pytest.mark.parametrize(("form", "message"), [
    ({"method": "single", "group_jury": "y", "weight_jury": "60", "group_audience": "y",
      "weight_audience": "30"},
     "With several groups, give each a weight between 1 and 99 percent, adding up to "
     "100 percent."),
    ({"method": "irv", "places": "2", "group_jury": "y", "weight_jury": "50",
      "group_audience": "y", "weight_audience": "50"},
     "Instant runoff is decided by a single voter group."),
    ({"method": "single", "group_audience": None, "weight_audience": "100"},
     "Choose at least one voter group."),
])
def test_category_create_shows_the_voter_group_error_in_its_fieldset_and_saves_nothing(
        client, logged_in, app, small_gala, form, message):
    data = {**CATEGORY_BASE, **form}
    data = {k: v for k, v in data.items() if v is not None}
    response = post_form(client, "/admin/categories/new", data=data)
    html = html_of(response)
    assert response.status_code == 422
    groups_fieldset = html[html.index('id="group_jury"'):html.index("form-actions")]
    assert f'<p class="error" role="alert">{message}</p>' in groups_fieldset
    assert count(app, Category) == 2


def test_category_edit_form_round_trips_unchanged_settings(client, logged_in, app, small_gala):
    ranked = small_gala["ranked"]
    before = load(app, Category, ranked)
    response = browser_submit(client, f"/admin/categories/{ranked}/edit",
                              overrides={"name_pl": "Wideo w dużym mieście",
                                         "description_pl": "Miasta powyżej 100 tys."})
    assert response.status_code == 302, field_errors_of(response)
    assert response.headers["Location"] == f"/admin/categories/{ranked}"
    with app.app_context():
        after = db.session.get(Category, ranked)
        assert after.name_pl == "Wideo w dużym mieście"
        assert after.description_pl == "Miasta powyżej 100 tys."
        assert after.name_en == before.name_en
        assert (after.slug, after.method, after.params(), after.weights()) == (
            before.slug, "ranked", {"places": 2, "points": [3, 1]}, {"jury": 100})


def test_category_edit_changes_the_method_and_groups(client, logged_in, app, small_gala):
    single = small_gala["single"]
    response = browser_submit(client, f"/admin/categories/{single}/edit", overrides={
        "method": "score", "score_min": "1", "score_max": "10", "min_scores": "1",
        "group_jury": "y", "weight_jury": "50", "group_audience": "y",
        "weight_audience": "50"})
    assert response.status_code == 302, field_errors_of(response)
    with app.app_context():
        category = db.session.get(Category, single)
        assert category.method == "score"
        assert category.params() == {"min": 1, "max": 10, "min_scores": 1}
        assert category.weights() == {"audience": 50, "jury": 50}


def test_category_edit_with_bad_input_shows_field_error_and_keeps_the_category(
        client, logged_in, app, small_gala):
    ranked = small_gala["ranked"]
    response = browser_submit(client, f"/admin/categories/{ranked}/edit",
                              overrides={"points": "1,5", "name_pl": "Inna nazwa"})
    assert response.status_code == 422
    assert field_error(html_of(response), "points") == "A better place cannot score fewer points."
    category = load(app, Category, ranked)
    assert (category.name_pl, category.points) == ("Wideo w metropolii", [3, 1])


def test_category_move_buttons_reorder_the_dashboard(client, logged_in, app, small_gala):
    single, ranked = small_gala["single"], small_gala["ranked"]
    third = add_category(app, small_gala["gala"], "Trzecia")
    assert dashboard_order(client) == [single, ranked, third]
    response = browser_submit(client, "/admin/", f"/admin/categories/{single}/move")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/#category-{single}"
    assert dashboard_order(client) == [ranked, single, third]
    assert browser_submit(client, "/admin/", f"/admin/categories/{third}/move").status_code == 302
    assert dashboard_order(client) == [ranked, third, single]
    assert "category.move" in audit_actions(app)


def test_category_move_with_unknown_direction_is_refused(client, logged_in, app, small_gala):
    single = small_gala["single"]
    response = post_form(client, "/admin/", f"/admin/categories/{single}/move",
                         data={"direction": "sideways"})
    assert response.status_code == 400
    assert dashboard_order(client) == [single, small_gala["ranked"]]


def test_category_delete_removes_it_and_its_nominations_but_keeps_profiles(
        client, logged_in, app, small_gala):
    single = small_gala["single"]
    response = post_form(client, f"/admin/categories/{single}",
                         f"/admin/categories/{single}/delete", follow_redirects=True)
    assert response.status_code == 200
    assert ("success", "Category deleted.") in flashes(html_of(response))
    assert "TikTok roku" not in html_of(response)
    assert load(app, Category, single) is None
    assert count(app, Nomination, Nomination.category_id == single) == 0
    assert count(app, Profile) == 3


# --- profiles and images ---------------------------------------------------------------------


def test_profile_create_appears_in_the_list(client, logged_in, app, small_gala):
    response = post_form(client, "/admin/profiles/new", data=PROFILE_BASE,
                         follow_redirects=True)
    html = html_of(response)
    assert response.status_code == 200
    assert ("success", "Saved.") in flashes(html)
    assert "Gdynia" in html and "https://www.facebook.com/gdynia" in html
    with app.app_context():
        profile = db.session.scalar(select(Profile).where(Profile.name == "Gdynia"))
        assert profile.gala_id == small_gala["gala"]
        assert (profile.unit_type, profile.voivodeship, profile.platform) == (
            "miasto", "pomorskie", "facebook")


@pytest.mark.parametrize(("form", "field"), [
    ({"platform": "facebook", "url": "https://www.example.com/gdynia"}, "url"),
    ({"platform": "tiktok", "url": "https://www.facebook.com/gdynia"}, "url"),
    ({"url": "https://www.facebook.com/wroclaw"}, "url"),  # already in this gala
    ({"name": ""}, "name"),
    ({"voivodeship": "bawarskie"}, "voivodeship"),
])
def test_profile_create_with_bad_input_shows_field_error_and_saves_nothing(
        client, logged_in, app, small_gala, form, field):
    response = post_form(client, "/admin/profiles/new", data={**PROFILE_BASE, **form})
    html = html_of(response)
    assert response.status_code == 422
    assert field_error(html, field), all_errors(html)
    assert count(app, Profile) == 3


def test_profile_create_on_a_wrong_host_names_the_platform(client, logged_in, app, small_gala):
    response = post_form(client, "/admin/profiles/new",
                         data={**PROFILE_BASE, "url": "https://evil.example.com/gdynia"})
    assert field_error(html_of(response), "url") == (
        "This address is not on Facebook (expected facebook.com, fb.com).")


def test_profile_edit_changes_the_details(client, logged_in, app, small_gala):
    gdansk = small_gala["gdansk"]
    response = browser_submit(client, f"/admin/profiles/{gdansk}/edit",
                              overrides={"name": "Gdańsk – oficjalny", "handle": "@gdansk"})
    assert response.status_code == 302, field_errors_of(response)
    profile = load(app, Profile, gdansk)
    assert (profile.name, profile.handle) == ("Gdańsk – oficjalny", "@gdansk")
    assert (profile.url, profile.platform, profile.voivodeship) == (
        "https://www.youtube.com/@gdansk", "youtube", "pomorskie")


def test_profile_image_upload_is_served_as_png(client, logged_in, app, small_gala):
    png = tiny_png()
    response = post_form(client, "/admin/profiles/new", data={
        **PROFILE_BASE, "image": (io.BytesIO(png), "gdynia.png")})
    assert response.status_code == 302, field_errors_of(response)
    with app.app_context():
        profile_id = db.session.scalar(select(Profile.id).where(Profile.name == "Gdynia"))
    image = client.get(f"/profiles/{profile_id}/image")
    assert image.status_code == 200
    assert image.mimetype == "image/png"
    assert image.data == png
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    assert f"/profiles/{profile_id}/image" in html_of(client.get("/admin/profiles"))


def test_profile_image_replace_on_edit(client, logged_in, app, small_gala):
    lodz = small_gala["lodz"]
    response = browser_submit(client, f"/admin/profiles/{lodz}/edit",
                              files={"image": (tiny_png(), "lodz.png")})
    assert response.status_code == 302, field_errors_of(response)
    assert client.get(f"/profiles/{lodz}/image").data == tiny_png()
    assert load(app, Profile, lodz).image_version == 1


OVERSIZE = b"\x89PNG\r\n\x1a\n" + b"\x00" * (2 * 1024 * 1024)


@pytest.mark.parametrize(("content", "filename", "message"), [
    (b"I am a text file pretending to be a picture.\n", "photo.png",
     "Only PNG, JPEG or WebP images are accepted."),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "logo.svg",
     "Only PNG, JPEG or WebP images are accepted."),
    (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "logo.png",
     "Only PNG, JPEG or WebP images are accepted."),
    (OVERSIZE, "huge.png", "The image is too large: at most 2048 kB."),
])
def test_profile_image_upload_rejects_what_is_not_a_small_image(
        client, logged_in, app, small_gala, content, filename, message):
    response = post_multipart(client, "/admin/profiles/new", {
        **PROFILE_BASE, "csrf_token": csrf_token(client, "/admin/profiles/new")},
        {"image": (content, filename)})
    assert response.status_code == 422
    assert field_error(html_of(response), "image") == message
    assert count(app, Profile) == 3
    lodz = small_gala["lodz"]
    response = browser_submit(client, f"/admin/profiles/{lodz}/edit",
                              files={"image": (content, filename)})
    assert response.status_code == 422
    assert field_error(html_of(response), "image") == message
    assert load(app, Profile, lodz).image_type is None
    assert client.get(f"/profiles/{lodz}/image").status_code == 404


def test_profile_image_remove(client, logged_in, app, small_gala):
    lodz = small_gala["lodz"]
    browser_submit(client, f"/admin/profiles/{lodz}/edit", files={"image": (tiny_png(), "a.png")})
    assert client.get(f"/profiles/{lodz}/image").status_code == 200
    assert 'name="remove_image"' in html_of(client.get(f"/admin/profiles/{lodz}/edit"))
    response = browser_submit(client, f"/admin/profiles/{lodz}/edit",
                              overrides={"remove_image": "y"})
    assert response.status_code == 302, field_errors_of(response)
    assert client.get(f"/profiles/{lodz}/image").status_code == 404
    profile = load(app, Profile, lodz)
    assert profile.image_type is None
    assert profile.image_version == 2


def test_profile_delete_removes_it_and_its_nominations(client, logged_in, app, small_gala):
    wroclaw = small_gala["wroclaw"]
    response = post_form(client, "/admin/profiles", f"/admin/profiles/{wroclaw}/delete",
                         follow_redirects=True)
    assert ("success", "Profile deleted.") in flashes(html_of(response))
    assert load(app, Profile, wroclaw) is None
    assert count(app, Nomination) == 2
    assert "Wrocław" not in html_of(client.get("/admin/profiles"))


# --- nominations ---------------------------------------------------------------------------


def test_nominate_adds_the_profile_with_its_citation(client, logged_in, app, small_gala):
    single, gdansk = small_gala["single"], small_gala["gdansk"]
    page = f"/admin/categories/{single}"
    assert f'<option value="{gdansk}">' in html_of(client.get(page))
    response = browser_submit(client, page, f"/admin/categories/{single}/nominate",
                              overrides={"profile_id": str(gdansk),
                                         "citation": "za filmy o stoczni"},
                              follow_redirects=True)
    html = html_of(response)
    assert ("success", "Nominated.") in flashes(html)
    assert f'<option value="{gdansk}">' not in html  # no longer offered
    with app.app_context():
        nomination = db.session.scalar(select(Nomination).where(
            Nomination.category_id == single, Nomination.profile_id == gdansk))
        assert nomination.citation == "za filmy o stoczni"


def test_nominate_the_same_profile_twice_is_refused(client, logged_in, app, small_gala):
    single, lodz = small_gala["single"], small_gala["lodz"]
    page = f"/admin/categories/{single}"
    response = post_form(client, page, f"/admin/categories/{single}/nominate",
                         data={"profile_id": str(lodz)},
                         headers={"Referer": f"http://localhost{page}"},
                         follow_redirects=True)
    assert ("error", "Łódź – TikTok is already nominated in this category.") in flashes(
        html_of(response))
    assert count(app, Nomination, Nomination.category_id == single) == 2


def test_nominate_without_a_profile_is_refused(client, logged_in, app, small_gala):
    single = small_gala["single"]
    response = post_form(client, f"/admin/categories/{single}",
                         f"/admin/categories/{single}/nominate", data={"profile_id": "999999"},
                         follow_redirects=True)
    assert ("error", "Choose a profile to nominate.") in flashes(html_of(response))
    assert count(app, Nomination, Nomination.category_id == single) == 2


def test_withdraw_nomination(client, logged_in, app, small_gala):
    single = small_gala["single"]
    nomination = nomination_id(app, single, small_gala["wroclaw"])
    page = f"/admin/categories/{single}"
    response = browser_submit(client, page, f"/admin/nominations/{nomination}/withdraw",
                              follow_redirects=True)
    assert ("success", "Nomination withdrawn.") in flashes(html_of(response))
    assert load(app, Nomination, nomination) is None
    assert load(app, Profile, small_gala["wroclaw"]) is not None


def test_citation_update(client, logged_in, app, small_gala):
    single = small_gala["single"]
    nomination = nomination_id(app, single, small_gala["lodz"])
    page = f"/admin/categories/{single}"
    response = browser_submit(client, page, f"/admin/nominations/{nomination}/citation",
                              overrides={"citation": "za serię „Łódź od kuchni”"},
                              follow_redirects=True)
    html = html_of(response)
    assert ("success", "Saved.") in flashes(html)
    assert "za serię „Łódź od kuchni”" in html
    assert load(app, Nomination, nomination).citation == "za serię „Łódź od kuchni”"


# --- readiness and opening the vote ----------------------------------------------------------


def test_dashboard_readiness_on_a_gala_without_categories(client, logged_in, app):
    with app.app_context():
        services.create_gala("test", {"name": "Gala 2027", "date": "2027-11-27"})
    html = html_of(client.get("/admin/"))
    assert checklist(html) == ["The gala has no categories yet."]
    assert "/admin/voting/open" not in html


def test_dashboard_readiness_lists_what_is_missing_until_it_is_fixed(
        client, logged_in, app, small_gala):
    html = html_of(client.get("/admin/"))
    assert checklist(html) == []
    assert 'action="/admin/voting/open"' in html
    empty = add_category(app, small_gala["gala"], "Pusta kategoria")
    html = html_of(client.get("/admin/"))
    assert checklist(html) == ["“Pusta kategoria” needs at least 2 nominees (has 0)."]
    assert "/admin/voting/open" not in html
    with app.app_context():
        services.nominate("test", empty, small_gala["lodz"])
    assert checklist(html_of(client.get("/admin/"))) == [
        "“Pusta kategoria” needs at least 2 nominees (has 1)."]
    with app.app_context():
        services.nominate("test", empty, small_gala["gdansk"])
    html = html_of(client.get("/admin/"))
    assert checklist(html) == []
    assert 'action="/admin/voting/open"' in html


def test_open_voting_is_refused_while_something_is_missing(client, logged_in, app, small_gala):
    add_category(app, small_gala["gala"], "Pusta kategoria")
    response = post_form(client, "/admin/", "/admin/voting/open",
                         headers={"Referer": "http://localhost/admin/"}, follow_redirects=True)
    [(kind, message)] = flashes(html_of(response))
    assert kind == "error"
    assert "Voting cannot open yet" in message and "Pusta kategoria" in message
    assert load(app, Gala, small_gala["gala"]).voting_state == "draft"


@pytest.fixture
def opened(client, logged_in, app, small_gala) -> dict[str, int]:
    """The small gala with voting opened from the dashboard's button."""
    response = browser_submit(client, "/admin/", "/admin/voting/open", follow_redirects=True)
    assert response.status_code == 200
    assert load(app, Gala, small_gala["gala"]).voting_state == "open"
    return small_gala


def lock_message(app: Flask, gala_id: int) -> str:
    """The lock message as the app words it in Polish (its default language)."""
    with app.test_request_context("/admin/"):
        gala = db.session.get(Gala, gala_id)
        with pytest.raises(LockedError) as caught:
            services.ensure_unlocked(gala)  # the one source of the wording
        return caught.value.message


def assert_polish_lock_message(app: Flask, gala_id: int, html: str) -> None:
    message = lock_message(app, gala_id)
    assert ("error", message) in flashes(html)
    opened_at = load(app, Gala, gala_id).first_opened_at
    assert format_datetime(opened_at, "d MMMM yyyy, HH:mm", tzinfo="Europe/Warsaw",
                           locale="pl") in message
    assert "Głosowanie" in message and "Voting in this gala" not in message


def test_open_voting_from_the_dashboard_freezes_the_gala(client, opened, app):
    html = html_of(client.get("/admin/"))
    assert 'action="/admin/voting/close"' in html
    assert 'action="/admin/voting/open"' not in html
    assert "/admin/categories/new" not in html
    gala = load(app, Gala, opened["gala"])
    assert gala.locked and gala.first_opened_at is not None
    assert "voting.open" in audit_actions(app)
    assert client.get("/").status_code == 200


def test_locked_gala_refuses_a_nomination_with_the_polish_lock_message(
        client, polish, logged_in, app, small_gala):
    single = small_gala["single"]
    page = f"/admin/categories/{single}"
    token = csrf_token(client, page)  # the page was open before voting opened
    browser_submit(client, "/admin/", "/admin/voting/open")
    response = client.post(f"/admin/categories/{single}/nominate",
                           data={"csrf_token": token, "profile_id": str(small_gala["gdansk"])},
                           headers={"Referer": f"http://localhost{page}"},
                           follow_redirects=True)
    assert response.status_code == 200
    assert_polish_lock_message(app, small_gala["gala"], html_of(response))
    assert count(app, Nomination, Nomination.category_id == single) == 2


def test_locked_gala_refuses_a_withdrawal_with_the_polish_lock_message(
        client, polish, opened, app):
    single = opened["single"]
    nomination = nomination_id(app, single, opened["lodz"])
    page = f"/admin/categories/{single}"
    assert f"/admin/nominations/{nomination}/withdraw" not in html_of(client.get(page))
    response = post_form(client, page, f"/admin/nominations/{nomination}/withdraw",
                         headers={"Referer": f"http://localhost{page}"}, follow_redirects=True)
    assert_polish_lock_message(app, opened["gala"], html_of(response))
    assert load(app, Nomination, nomination) is not None


def test_locked_gala_refuses_deleting_a_category_with_the_polish_lock_message(
        client, polish, opened, app):
    single = opened["single"]
    page = f"/admin/categories/{single}"
    response = post_form(client, page, f"/admin/categories/{single}/delete",
                         headers={"Referer": f"http://localhost{page}"}, follow_redirects=True)
    assert_polish_lock_message(app, opened["gala"], html_of(response))
    assert load(app, Category, single) is not None


def test_locked_gala_refusal_without_a_referrer_is_an_error_page(client, polish, opened, app):
    single = opened["single"]
    response = post_form(client, f"/admin/categories/{single}",
                         f"/admin/categories/{single}/delete")
    assert response.status_code == 409
    assert lock_message(app, opened["gala"]) in unescape(html_of(response))
    assert load(app, Category, single) is not None


@pytest.mark.parametrize("change", [
    {"method": "approval", "max_choices": "2"},
    {"method": "single", "group_jury": "y", "weight_jury": "50", "weight_audience": "50"},
    {"method": "single", "slug": "inny-adres"},
])
def test_locked_gala_never_changes_a_category_rule(client, opened, app, change):
    """A form sent anyway (a stale page, a forged request) cannot change the rules: they are
    either refused or taken from the category itself."""
    single = opened["single"]
    response = post_form(client, f"/admin/categories/{single}/edit", data={
        **CATEGORY_BASE, "name_pl": "TikTok roku", "name_en": "TikTok of the year", **change})
    assert response.status_code in (302, 409)
    with app.app_context():
        category = db.session.get(Category, single)
        assert (category.slug, category.method, category.params(), category.weights()) == (
            "tiktok-roku", "single", {}, {"audience": 100})


def test_locked_gala_refuses_a_new_category(client, opened, app):
    response = post_form(client, "/admin/categories/new", data=CATEGORY_BASE)
    assert response.status_code == 409
    assert count(app, Category) == 2


def test_locked_gala_still_lets_names_change(client, opened, app):
    single = opened["single"]
    response = post_form(client, f"/admin/categories/{single}/edit", data={
        **CATEGORY_BASE, "name_pl": "TikTok roku 2026", "name_en": "TikTok of 2026",
        "description_pl": "Najlepszy TikTok."})
    assert response.status_code == 302, field_errors_of(response)
    category = load(app, Category, single)
    assert (category.name_pl, category.name_en, category.description_pl) == (
        "TikTok roku 2026", "TikTok of 2026", "Najlepszy TikTok.")
    assert category.method == "single"


def test_locked_category_form_submitted_by_a_browser_saves_new_names(client, opened, app):
    """The locked form disables its method and voter fieldsets, so a browser leaves them out."""
    ranked = opened["ranked"]
    page = f"/admin/categories/{ranked}/edit"
    assert "<fieldset disabled>" in html_of(client.get(page))
    response = browser_submit(client, page, overrides={"name_pl": "Wideo w wielkim mieście"})
    assert response.status_code == 302, field_errors_of(response)
    category = load(app, Category, ranked)
    assert category.name_pl == "Wideo w wielkim mieście"
    with app.app_context():
        category = db.session.get(Category, ranked)
        assert (category.method, category.params(), category.weights()) == (
            "ranked", {"places": 2, "points": [3, 1]}, {"jury": 100})


def test_locked_gala_still_lets_citations_and_profiles_change(client, opened, app):
    single = opened["single"]
    nomination = nomination_id(app, single, opened["lodz"])
    page = f"/admin/categories/{single}"
    response = browser_submit(client, page, f"/admin/nominations/{nomination}/citation",
                              overrides={"citation": "poprawione uzasadnienie"})
    assert response.status_code == 302
    assert load(app, Nomination, nomination).citation == "poprawione uzasadnienie"
    response = browser_submit(client, f"/admin/profiles/{opened['lodz']}/edit",
                              overrides={"name": "Łódź – oficjalny TikTok"})
    assert response.status_code == 302, field_errors_of(response)
    assert load(app, Profile, opened["lodz"]).name == "Łódź – oficjalny TikTok"


def test_locked_gala_refuses_deleting_a_nominated_profile_but_not_a_spare_one(
        client, opened, app):
    spare = add_profile(app, opened["gala"])
    response = post_form(client, "/admin/profiles", f"/admin/profiles/{opened['lodz']}/delete",
                         headers={"Referer": "http://localhost/admin/profiles"},
                         follow_redirects=True)
    assert [kind for kind, _ in flashes(html_of(response))] == ["error"]
    assert load(app, Profile, opened["lodz"]) is not None
    response = post_form(client, "/admin/profiles", f"/admin/profiles/{spare}/delete")
    assert response.status_code == 302
    assert load(app, Profile, spare) is None


def test_locked_gala_refuses_a_csv_import(client, opened, app):
    response = post_form(client, "/admin/import", data={
        "file": (io.BytesIO(csv_bytes([GOOD_ROWS[0]])), "lista.csv")},
        headers={"Referer": "http://localhost/admin/import"}, follow_redirects=True)
    assert [kind for kind, _ in flashes(html_of(response))] == ["error"]
    assert count(app, Profile) == 3


# --- CSV import ------------------------------------------------------------------------------

CSV_HEADER = ["name", "unit_name", "unit_type", "voivodeship", "platform", "handle", "url",
              "description", "category", "citation"]
GOOD_ROWS = [
    ["Gdynia", "Miasto Gdynia", "miasto", "pomorskie", "facebook", "@gdynia",
     "https://www.facebook.com/gdynia", "", "tiktok-roku", "za akcję „Plaża”"],
    ["Gdynia", "Miasto Gdynia", "miasto", "pomorskie", "facebook", "@gdynia",
     "https://www.facebook.com/gdynia", "", "wideo-w-metropolii", ""],
    ["Gmina Wojkowice", "Gmina Wojkowice", "gmina", "śląskie", "instagram", "",
     "https://www.instagram.com/wojkowice", "", "", ""],
]


def csv_bytes(rows: list[list[str]], header: list[str] = CSV_HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def test_import_csv_good_file_imports_everything(client, logged_in, app, small_gala):
    response = post_form(client, "/admin/import", data={
        "file": (io.BytesIO(csv_bytes(GOOD_ROWS)), "lista.csv")}, follow_redirects=True)
    html = html_of(response)
    assert response.status_code == 200
    assert ("success", "Imported 2 profiles and 2 nominations.") in flashes(html)
    assert "Gmina Wojkowice" in html
    assert count(app, Profile) == 5
    assert count(app, Nomination) == 6
    assert "import.csv" in audit_actions(app)


def test_import_csv_bad_file_shows_a_row_by_row_report_and_imports_nothing(
        client, logged_in, app, small_gala):
    rows = [
        GOOD_ROWS[0],
        ["Sopot", "Miasto Sopot", "miasto", "pomorskie", "facebook", "",
         "https://www.example.com/sopot", "", "", ""],
        ["Puck", "Gmina Puck", "gmina", "pomorskie", "instagram", "",
         "https://www.instagram.com/puck", "", "nie-ma-takiej", ""],
    ]
    audit_before = audit_actions(app)
    response = post_form(client, "/admin/import", data={
        "file": (io.BytesIO(csv_bytes(rows)), "lista.csv")})
    html = html_of(response)
    assert response.status_code == 422
    report = html[html.index('id="report-title"'):]
    cells = [unescape(c) for c in re.findall(r"<td>(.*?)</td>", report, re.S)]
    assert cells[0::2] == ["3", "4"]
    assert "url" in cells[1] and "Facebook" in cells[1]
    assert "nie-ma-takiej" in cells[3]
    assert [kind for kind, _ in flashes(html)] == ["error"]
    assert count(app, Profile) == 3
    assert count(app, Nomination) == 4
    assert audit_actions(app) == audit_before


def test_import_csv_without_a_file_asks_for_one(client, logged_in, app, small_gala):
    response = post_form(client, "/admin/import", data={})
    assert response.status_code == 422
    assert field_error(html_of(response), "file") == "Choose a CSV file."


# --- exports and the audit trail -------------------------------------------------------------


def test_export_profiles_csv_is_spreadsheet_safe(client, logged_in, app, small_gala):
    add_profile(app, small_gala["gala"], name="=HYPERLINK(\"http://evil\",\"klik\")",
                handle="@gdynia", description="+48 58 000 00 00")
    response = client.get("/admin/export/profiles.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="nominees-2026.csv"'
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == CSV_HEADER
    evil = next(row for row in rows if "HYPERLINK" in row[0])
    assert evil[0] == "'=HYPERLINK(\"http://evil\",\"klik\")"
    assert evil[5] == "'@gdynia"
    assert evil[7] == "'+48 58 000 00 00"
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    # one row per nomination, plus one for the profile not nominated anywhere
    assert len(rows) == 1 + 4 + 1


def test_export_gala_json(client, logged_in, app, small_gala):
    response = client.get("/admin/export/gala.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == 'attachment; filename="gala-2026.json"'
    document = json.loads(response.get_data(as_text=True))
    assert document["format"] == "zlote-lajki.gala"
    assert document["gala"]["name"] == "Gala Złotych Lajków 2026"
    assert [c["slug"] for c in document["categories"]] == ["tiktok-roku", "wideo-w-metropolii"]
    assert len(document["profiles"]) == 3


def test_audit_page_lists_logins_and_changes_and_says_intact(client, logged_in, app, small_gala):
    post_form(client, "/admin/categories/new", data=CATEGORY_BASE)
    html = html_of(client.get("/admin/audit"))
    for action in ("organizer.login", "category.create", "profile.create", "nomination.create"):
        assert f"<code>{action}</code>" in html
    entries = len(audit_actions(app))
    assert f"The chain is intact: {entries} entries." in html
    assert ORGANIZER_EMAIL in html


def test_audit_exports_csv_and_json(client, logged_in, app, small_gala):
    entries = audit_actions(app)
    as_json = client.get("/admin/audit.json")
    assert as_json.mimetype == "application/json"
    rows = json.loads(as_json.get_data(as_text=True))
    assert [row["action"] for row in rows] == entries
    assert [row["seq"] for row in rows] == [str(n) for n in range(1, len(entries) + 1)]
    assert set(rows[0]) == {"seq", "at", "actor", "action", "subject", "details", "prev_hash",
                            "hash"}
    as_csv = client.get("/admin/audit.csv")
    assert as_csv.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(as_csv.get_data(as_text=True).lstrip("\ufeff"))))
    assert table[0][:4] == ["seq", "at", "actor", "action"]
    assert [row[3] for row in table[1:]] == entries
    assert client.get("/admin/audit.xml").status_code == 404


# --- gala editions -------------------------------------------------------------------------


@pytest.fixture
def two_galas(app, small_gala, demo_gala) -> dict[str, int]:
    """The small gala (2026) is current; the demo gala (2023) is another edition."""
    with app.app_context():
        services.switch_gala("test", small_gala["gala"])
        demo = db.session.get(Gala, demo_gala)
        category = demo.categories[0]
        nomination = category.nominations[0]
        return {**small_gala, "demo": demo_gala, "demo_category": category.id,
                "demo_profile": nomination.profile_id, "demo_nomination": nomination.id}


def test_objects_of_another_gala_are_not_found(client, logged_in, app, two_galas):
    category, profile = two_galas["demo_category"], two_galas["demo_profile"]
    nomination = two_galas["demo_nomination"]
    for url in (f"/admin/categories/{category}", f"/admin/categories/{category}/edit",
                f"/admin/profiles/{profile}/edit"):
        assert client.get(url).status_code == 404, url
    token = csrf_token(client, "/admin/")
    posts = [
        (f"/admin/categories/{category}/edit", {**CATEGORY_BASE}),
        (f"/admin/categories/{category}/delete", {}),
        (f"/admin/categories/{category}/move", {"direction": "down"}),
        (f"/admin/categories/{category}/nominate", {"profile_id": str(profile)}),
        (f"/admin/nominations/{nomination}/citation", {"citation": "obca"}),
        (f"/admin/nominations/{nomination}/withdraw", {}),
        (f"/admin/profiles/{profile}/edit", {**PROFILE_BASE}),
        (f"/admin/profiles/{profile}/delete", {}),
    ]
    before = (load(app, Category, category).name_pl, load(app, Profile, profile).name,
              load(app, Nomination, nomination).citation)
    for url, data in posts:
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 404, url
    after = (load(app, Category, category).name_pl, load(app, Profile, profile).name,
             load(app, Nomination, nomination).citation)
    assert after == before


def test_nominating_a_profile_of_another_gala_is_refused(client, logged_in, app, two_galas):
    single = two_galas["single"]
    before = count(app, Nomination, Nomination.profile_id == two_galas["demo_profile"])
    response = post_form(client, f"/admin/categories/{single}",
                         f"/admin/categories/{single}/nominate",
                         data={"profile_id": str(two_galas["demo_profile"])},
                         follow_redirects=True)
    assert ("error", "Choose a profile to nominate.") in flashes(html_of(response))
    assert count(app, Nomination, Nomination.category_id == single) == 2
    assert count(app, Nomination, Nomination.profile_id == two_galas["demo_profile"]) == before


def test_switching_galas_changes_the_dashboard_and_the_public_site(
        client, logged_in, app, two_galas):
    dashboard = html_of(client.get("/admin/"))
    assert "<h1>Gala Złotych Lajków 2026</h1>" in dashboard
    assert f'action="/admin/galas/{two_galas["demo"]}/switch"' in dashboard
    response = browser_submit(client, "/admin/", f"/admin/galas/{two_galas['demo']}/switch",
                              follow_redirects=True)
    html = html_of(response)
    assert ("success", "Now working on: Gala Złotych Lajków 2023 (demo)") in flashes(html)
    assert "<h1>Gala Złotych Lajków 2023 (demo)</h1>" in html
    assert f'action="/admin/galas/{two_galas["gala"]}/switch"' in html
    assert "Gala Złotych Lajków 2023 (demo)" in html_of(client.get("/"))
    assert client.get(f"/admin/categories/{two_galas['demo_category']}").status_code == 200
    assert client.get(f"/admin/categories/{two_galas['single']}").status_code == 404


def test_new_gala_becomes_current_and_a_second_one_in_a_year_is_refused(
        client, logged_in, app, small_gala):
    response = post_form(client, "/admin/galas/new",
                         data={"name": "Gala 2027", "date": "2027-11-27", "venue": "Gdańsk"})
    assert response.status_code == 302
    assert "<h1>Gala 2027</h1>" in html_of(client.get("/admin/"))
    response = post_form(client, "/admin/galas/new",
                         data={"name": "Druga gala 2027", "date": "2027-06-01"})
    assert response.status_code == 422
    assert field_error(html_of(response), "date") == "There is already a gala in 2027."
    assert count(app, Gala) == 2


def test_dashboard_without_a_gala_asks_for_one(client, logged_in):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/galas/new"
    assert client.get("/admin/galas/new").status_code == 200

