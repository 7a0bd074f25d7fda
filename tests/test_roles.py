"""Organizer roles: every admin page is open exactly to the roles `voting.roles` names, the
desk never meets a result, and only an admin manages organizers."""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any
from urllib.parse import quote

import pytest
from conftest import (
    ORGANIZER_PASSWORD,
    AuthActions,
    csrf_token,
    field_error,
    flashes,
    html_of,
    post_form,
)
from flask import Flask, url_for
from flask.testing import FlaskClient
from flask_babel import force_locale
from sqlalchemy import func, select
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BuildError

from voting import roles, services
from voting.errors import ConflictError, NotFoundError, ValidationError
from voting.extensions import db
from voting.models import AuditEntry, Category, Gala, Organizer, Token

ROLE_EMAILS = {role: f"{role}@example.com" for role in roles.ROLES}
# The links the admin's top bar may carry, in its order.
NAV = ("admin.dashboard", "admin.list_profiles", "admin.list_cards", "admin.import_csv",
       "admin.list_results", "admin.show_reveal", "admin.list_organizers", "admin.show_audit")
CSRF_RE = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')


def make_organizer(app: Flask, role: str, email: str | None = None) -> str:
    email = email or ROLE_EMAILS[role]
    with app.app_context():
        services.create_organizer("test", email, ORGANIZER_PASSWORD, role)
    return email


def log_in_as(app: Flask, role: str) -> FlaskClient:
    """A client of its own, logged in as a new organizer with the role."""
    client = app.test_client()
    response = AuthActions(client).login(make_organizer(app, role))
    assert response.status_code == 302, html_of(response)
    return client


def in_polish(app: Flask, text: Any) -> str:
    """A message as the Polish catalog has it (the test holds once the lead merges it too)."""
    with app.test_request_context(), force_locale("pl"):
        return str(text)


def path_of(app: Flask, endpoint: str, **values: Any) -> str:
    with app.test_request_context():
        return url_for(endpoint, **values)


def page_token(client: FlaskClient, path: str) -> str:
    """The CSRF token of any page the client may see, a 403 page included."""
    match = CSRF_RE.search(html_of(client.get(path)))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def fill(app: Flask, rule: Any) -> str:
    """An address of the rule: the guard answers before the view looks anything up, so any
    value its converters take will do."""
    with app.test_request_context():
        for sample in (1, "csv", "json", "x"):
            try:
                return url_for(rule.endpoint, **dict.fromkeys(rule.arguments, sample))
            except BuildError:
                continue
    raise AssertionError(f"no sample value fits {rule.rule}")


def admin_rules(app: Flask) -> list[Any]:
    """Every admin address but the login and the logout (which would end the session)."""
    rules = [rule for rule in app.url_map.iter_rules()
             if rule.endpoint.startswith("admin.")
             and rule.endpoint not in ("admin.login", "admin.logout")]
    assert len(rules) > 30
    return rules


def hrefs(html: str) -> list[str]:
    return [unescape(link) for link in re.findall(r'(?:href|action)="([^"]*)"', html)]


def nav_links(html: str) -> list[str]:
    nav = re.search(r'<nav class="topnav".*?</nav>', html, re.S)
    assert nav, "no top bar"
    return [unescape(link) for link in re.findall(r'<a href="([^"]*)"', nav.group(0))]


def audit(app: Flask, action: str) -> list[AuditEntry]:
    with app.app_context():
        entries = list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                          .order_by(AuditEntry.seq)))
        for entry in entries:
            db.session.expunge(entry)
        return entries


def organizer_row(app: Flask, email: str) -> tuple[int, str, bool]:
    with app.app_context():
        organizer = db.session.scalar(select(Organizer).where(Organizer.email == email))
        return organizer.id, organizer.role, organizer.active


def assert_helpful_403(app: Flask, response: Any, role: str, endpoint: str) -> None:
    html = html_of(response)
    assert response.status_code == 403, endpoint
    assert 'lang="pl"' in html and "Brak dostępu" in html, endpoint
    for allowed in roles.allowed_roles(endpoint):
        assert in_polish(app, roles.ROLE_NAMES[allowed]) in html, (endpoint, allowed)
    assert in_polish(app, roles.ROLE_NAMES[role]) in html
    with app.test_request_context():
        home = roles.home_url(role)
    assert f'href="{home}"' in html, endpoint


# --- the guard on every admin address, for every role ------------------------------------------


@pytest.mark.parametrize("role", roles.ROLES)
def test_roles_every_admin_address_is_403_exactly_when_the_role_may_not_open_it(
        app, small_gala, role):
    client = log_in_as(app, role)
    token = page_token(client, "/admin/")  # the dashboard, or the 403 page: both carry one
    later = []
    for rule in admin_rules(app):
        url, allowed = fill(app, rule), roles.may(role, rule.endpoint)
        if "GET" in rule.methods:
            response = client.get(url)
        elif not allowed:
            response = client.post(url, data={"csrf_token": token})
        else:
            later.append((rule.endpoint, url))  # allowed buttons change things: last
            continue
        if allowed:
            assert response.status_code != 403, (role, url)
        else:
            assert_helpful_403(app, response, role, rule.endpoint)
    for endpoint, url in later:
        response = client.post(url, data={"csrf_token": token})
        assert response.status_code != 403, (role, endpoint)


@pytest.mark.parametrize("role", [roles.CHAIR, roles.DESK, roles.PRESENTER])
def test_roles_a_refusal_changes_nothing(app, organizer, small_gala, role):
    client = log_in_as(app, role)
    token = page_token(client, "/admin/")
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(AuditEntry))
    for action in (f"/admin/categories/{small_gala['single']}/delete", "/admin/voting/open",
                   "/admin/organizers/role"):
        response = client.post(action, data={"csrf_token": token, "confirm": "y",
                                             "organizer": 1, "role": role})
        assert response.status_code == 403, action
    with app.app_context():
        assert db.session.get(Category, small_gala["single"]) is not None
        assert db.session.get(Gala, small_gala["gala"]).voting_state == "draft"
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == before
    assert organizer_row(app, "jury.chair@example.com")[1] == "admin"


def test_roles_a_json_client_gets_a_403_json(app, small_gala):
    client = log_in_as(app, roles.DESK)
    response = client.get("/admin/", headers={"Accept": "application/json"})
    assert response.status_code == 403 and response.is_json
    body = response.get_json()
    assert body["error"] == "forbidden" and body["fields"] == {}
    assert in_polish(app, roles.ROLE_NAMES[roles.ADMIN]) in body["message"]
    assert in_polish(app, roles.ROLE_NAMES[roles.DESK]) in body["message"]


def test_roles_the_403_page_says_in_polish_who_may_open_it_and_where_to_go(app, small_gala):
    client = log_in_as(app, roles.DESK)
    response = client.get("/admin/audit")
    assert_helpful_403(app, response, roles.DESK, "admin.show_audit")
    html = html_of(response)
    assert "Przewodniczący jury" in html and "Administrator" in html  # chair and admin may
    assert "<h1>Brak dostępu</h1>" in html
    assert 'href="/admin/cards"' in html  # the desk's own page, as the way out


def test_roles_a_generic_error_on_an_admin_page_leads_to_the_organizers_home(app, small_gala):
    client = log_in_as(app, roles.DESK)
    missing = client.post("/admin/cards/revoke", data={
        "csrf_token": page_token(client, "/admin/cards"), "card": 999999})
    assert missing.status_code == 404
    assert 'href="/admin/cards"' in html_of(missing)


# --- the desk and the presenter never meet a result ------------------------------------------


def results_prefixes(app: Flask) -> list[str]:
    """The fixed start of every results address this application has."""
    prefixes = [rule.rule.split("<", 1)[0] for rule in app.url_map.iter_rules()
                if rule.endpoint in roles._RESULTS]
    return [prefix for prefix in prefixes if prefix not in ("/admin/", "/admin")]


@pytest.mark.parametrize("role", [roles.DESK, roles.PRESENTER])
def test_roles_desk_and_presenter_get_no_results_page_and_no_results_link(
        app, voted_demo_gala, role):
    client = log_in_as(app, role)
    for rule in app.url_map.iter_rules():
        if rule.endpoint in roles._RESULTS:
            method = "GET" if "GET" in rule.methods else "POST"
            response = client.open(fill(app, rule), method=method,
                                   data={"csrf_token": page_token(client, "/admin/")})
            assert response.status_code == 403, rule.rule
    assert client.get("/admin/").status_code == 403  # the dashboard is not theirs either
    pages = ["/admin/", "/admin/audit", "/admin/organizers"]
    if roles.may(role, "admin.list_cards"):
        pages += ["/admin/cards", "/admin/cards?status=used"]
    landing = AuthActions(app.test_client()).login(ROLE_EMAILS[role])
    pages.append(landing.headers["Location"])
    for path in pages:
        html = html_of(client.get(path))
        for link in hrefs(html):
            assert not any(link.startswith(prefix) for prefix in results_prefixes(app)), (
                path, link)
        if not path.startswith("/admin/"):
            continue  # the hall's screen, when the presenter has no page of their own yet
        links = nav_links(html)
        assert path_of(app, "admin.dashboard") not in links
        for endpoint in roles._RESULTS & set(NAV):
            assert endpoint in app.view_functions
            assert path_of(app, endpoint) not in links


def test_roles_the_card_desk_works_fully_for_the_desk(app, small_gala):
    client = log_in_as(app, roles.DESK)
    assert client.get("/admin/cards").status_code == 200
    token = page_token(client, "/admin/cards")
    issued = client.post("/admin/cards", data={"csrf_token": token, "group": "jury",
                                               "count": 2, "output": "csv"})
    assert issued.status_code == 200 and issued.mimetype == "text/csv"
    with app.app_context():
        first, second = db.session.scalars(select(Token.id).order_by(Token.id)).all()
    revoked = client.post("/admin/cards/revoke", data={"csrf_token": token, "card": first})
    assert revoked.status_code == 302
    reissued = client.post("/admin/cards/reissue", data={"csrf_token": token, "card": second})
    assert reissued.status_code == 200
    assert "/admin/cards/csv" in html_of(reissued)  # the sheet's own CSV button
    listing = html_of(client.get("/admin/cards?status=revoked"))
    assert f'id="card-{first}"' in listing and f'id="card-{second}"' in listing


def links_out_of_reach(app: Flask, client: FlaskClient, role: str) -> set[tuple[str, str]]:
    """Crawl the admin pages the role opens: (page, endpoint) for every link or button there
    that leads to an admin page the role may not open."""
    adapter = app.url_map.bind("localhost")
    seen: set[str] = set()
    todo, refused = ["/admin/", client.get("/admin/login").headers["Location"]], set()
    while todo and len(seen) < 80:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        response = client.get(path)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        for link in re.findall(r'(?:href|action)="(/admin/[^"#]*)', html_of(response)):
            target = unescape(link).split("?", 1)[0]
            for method in ("GET", "POST"):
                try:
                    endpoint, _args = adapter.match(target, method=method)
                    break
                except HTTPException:
                    endpoint = None
            if endpoint is None:
                continue
            if not roles.may(role, endpoint):
                refused.add((path.split("?", 1)[0], endpoint))
            elif method == "GET" and "." not in target.rsplit("/", 1)[-1]:
                todo.append(unescape(link))
    return refused


@pytest.mark.parametrize("role", [
    roles.CHAIR, roles.DESK, roles.PRESENTER, roles.ADMIN])
def test_roles_no_page_links_to_a_page_the_role_may_not_open(app, voted_demo_gala, role):
    with app.app_context():
        services.close_voting("test", voted_demo_gala)  # sealed: the results pages are full
    client = log_in_as(app, role)
    assert links_out_of_reach(app, client, role) == set()


# --- what each role is shown ---------------------------------------------------------------------


@pytest.mark.parametrize("role", roles.ROLES)
def test_roles_the_top_bar_shows_only_the_pages_of_the_role(app, small_gala, role):
    client = log_in_as(app, role)
    home = client.get("/admin/login").headers["Location"]
    html = html_of(client.get(home))
    expected = [path_of(app, endpoint) for endpoint in NAV
                if endpoint in app.view_functions and roles.may(role, endpoint)]
    assert nav_links(html) == expected
    assert f'<a class="brand" href="{home}">' in html
    name = in_polish(app, roles.ROLE_NAMES[role])
    assert re.search(rf'<span class="tag tag--muted" title="{ROLE_EMAILS[role]}">{name}</span>',
                     html)


def test_roles_the_admin_sees_every_page_there_is(app, logged_in, client, small_gala):
    links = nav_links(html_of(client.get("/admin/")))
    assert path_of(app, "admin.list_organizers") in links
    assert path_of(app, "admin.list_cards") in links and path_of(app, "admin.show_audit") in links


def test_roles_can_is_false_for_a_page_that_does_not_exist(app, logged_in, client):
    from flask_login import login_user

    with app.test_request_context():
        login_user(db.session.scalar(select(Organizer)))
        assert roles.can("admin.list_cards")
        assert not roles.can("admin.no_such_page")
        assert roles.can("admin.list_results") == ("admin.list_results" in app.view_functions)


# --- logging in ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", roles.ROLES)
def test_roles_login_lands_on_the_role_home(app, small_gala, role):
    email = make_organizer(app, role)
    response = AuthActions(app.test_client()).login(email)
    with app.test_request_context():
        assert response.headers["Location"] == roles.home_url(role)
    endpoint = roles.home(role)
    assert endpoint in app.view_functions
    assert response.headers["Location"] == path_of(app, endpoint)


@pytest.mark.parametrize(("role", "asked", "lands"), [
    (roles.DESK, "/admin/?x=1", "/admin/cards"),  # the dashboard is not the desk's
    (roles.DESK, "/admin/cards?status=unused", "/admin/cards?status=unused"),
    (roles.DESK, "/admin/organizers", "/admin/cards"),
    (roles.DESK, "/admin/no-such-page", "/admin/cards"),
    (roles.ADMIN, "/admin/organizers", "/admin/organizers"),
    (roles.CHAIR, "/admin/audit", "/admin/audit"),
])
def test_roles_login_follows_next_only_to_a_page_the_role_opens(app, small_gala, role, asked,
                                                                lands):
    client = app.test_client()
    email = make_organizer(app, role)
    response = post_form(client, f"/admin/login?next={quote(asked)}",
                         data={"email": email, "password": ORGANIZER_PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == lands
    assert client.get(response.headers["Location"]).status_code == 200


def test_roles_the_login_page_when_logged_in_leads_home(app, small_gala):
    client = log_in_as(app, roles.DESK)
    response = client.get("/admin/login")
    assert response.headers["Location"] == "/admin/cards"


def test_roles_without_any_of_its_pages_a_role_lands_on_the_hall_screen(app, monkeypatch):
    monkeypatch.setitem(roles.HOMES, roles.PRESENTER, ("admin.no_such_page",))
    with app.test_request_context():
        assert roles.home_url(roles.PRESENTER) == url_for(roles.FALLBACK_HOME)


# --- a role or an account changed while its session is open ---------------------------------------


def test_roles_a_new_role_applies_from_the_next_click(app, small_gala):
    client = log_in_as(app, roles.DESK)
    assert client.get("/admin/audit").status_code == 403
    with app.app_context():
        services.set_organizer_role("test", ROLE_EMAILS[roles.DESK], roles.CHAIR)
    assert client.get("/admin/audit").status_code == 200


def test_roles_a_deactivated_organizer_is_logged_out_at_the_next_click(app, small_gala):
    client = log_in_as(app, roles.DESK)
    with app.app_context():
        services.set_organizer_active("test", ROLE_EMAILS[roles.DESK], False)
    response = client.get("/admin/cards")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login")
    assert client.get("/admin/cards").status_code == 302  # the session is gone for good


# --- the organizers' page ------------------------------------------------------------------------


def test_organizers_page_lists_role_access_and_last_login(app, logged_in, client, organizer):
    make_organizer(app, roles.DESK)
    make_organizer(app, roles.PRESENTER)
    with app.app_context():
        services.set_organizer_active("test", ROLE_EMAILS[roles.PRESENTER], False)
    html = html_of(client.get("/admin/organizers"))
    for email in (organizer["email"], ROLE_EMAILS[roles.DESK], ROLE_EMAILS[roles.PRESENTER]):
        assert email in html
    desk_id = organizer_row(app, ROLE_EMAILS[roles.DESK])[0]
    row = re.search(rf'<tr id="organizer-{desk_id}".*?</tr>', html, re.S).group(0)
    assert re.search(r'<option value="desk" selected>', row)
    presenter_id = organizer_row(app, ROLE_EMAILS[roles.PRESENTER])[0]
    row = re.search(rf'<tr id="organizer-{presenter_id}".*?</tr>', html, re.S).group(0)
    assert 'name="active" value="1"' in row  # the button lets them in again
    my_id = organizer_row(app, organizer["email"])[0]
    me = re.search(rf'<tr id="organizer-{my_id}".*?</tr>', html, re.S).group(0)
    assert 'name="role"' not in me and 'name="active"' not in me  # nobody locks themselves out


def test_organizers_add_with_a_typed_password(app, logged_in, client):
    page = "/admin/organizers/new"
    response = client.post(page, data={"csrf_token": csrf_token(client, page),
                                       "email": "Wolontariusz@Example.com", "role": "desk",
                                       "password": "desk-password-2026"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/organizers"
    assert organizer_row(app, "wolontariusz@example.com")[1:] == ("desk", True)
    with app.app_context():
        assert services.authenticate("wolontariusz@example.com", "desk-password-2026", "t")
    entry = audit(app, "organizer.create")[-1]
    assert entry.subject == "wolontariusz@example.com"
    assert json.loads(entry.details_json) == {"role": "desk"}
    assert "desk-password-2026" not in entry.details_json


def test_organizers_add_with_a_generated_password_shown_once(app, logged_in, client):
    page = "/admin/organizers/new"
    response = client.post(page, data={"csrf_token": csrf_token(client, page),
                                       "email": "prowadzacy@example.com", "role": "presenter",
                                       "password": ""})
    assert response.status_code == 200
    password = re.search(r'id="generated-password">([^<]+)<', html_of(response)).group(1)
    assert len(password) >= services.MIN_PASSWORD_LENGTH
    assert response.headers["Cache-Control"] == "no-store"
    with app.app_context():
        assert services.authenticate("prowadzacy@example.com", password, "t").role == "presenter"
    assert password not in html_of(client.get("/admin/organizers"))
    with app.app_context():
        assert all(password not in entry.details_json and password not in entry.subject
                   for entry in db.session.scalars(select(AuditEntry)))


@pytest.mark.parametrize(("data", "fields"), [
    ({"email": "nie-email", "role": "desk", "password": "long-enough-pass"}, ["email"]),
    ({"email": "a@example.com", "role": "desk", "password": "krotkie"}, ["password"]),
    ({"email": "a@example.com", "role": "root", "password": "long-enough-pass"}, ["role"]),
    ({"email": "", "role": "", "password": ""}, ["email", "role"]),
    ({"email": "JURY.chair@example.com", "role": "chair", "password": "long-enough-pass"},
     ["email"]),  # the e-mail of the logged-in admin, taken
])
def test_organizers_bad_input_is_422_with_the_reason_and_adds_nobody(app, logged_in, client,
                                                                     data, fields):
    page = "/admin/organizers/new"
    before = len(audit(app, "organizer.create"))
    response = client.post(page, data={"csrf_token": csrf_token(client, page), **data})
    assert response.status_code == 422
    html = html_of(response)
    for field in fields:
        assert field_error(html, field), field
    with app.app_context():
        assert db.session.scalar(select(Organizer.email).where(
            Organizer.email == "a@example.com")) is None
    assert len(audit(app, "organizer.create")) == before


def test_organizers_change_a_role(app, logged_in, client):
    ident = organizer_row(app, make_organizer(app, roles.DESK))[0]
    response = client.post("/admin/organizers/role", data={
        "csrf_token": csrf_token(client, "/admin/organizers"), "organizer": ident,
        "role": "chair"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/organizers#organizer-{ident}"
    assert organizer_row(app, ROLE_EMAILS[roles.DESK])[1] == "chair"
    assert flashes(html_of(client.get("/admin/organizers")))[0][0] == "success"
    entry = audit(app, "organizer.role")[-1]
    assert entry.subject == ROLE_EMAILS[roles.DESK]
    assert json.loads(entry.details_json) == {"from": "desk", "to": "chair"}


def test_organizers_an_unknown_role_is_422_in_its_row_and_changes_nothing(app, logged_in,
                                                                          client):
    ident = organizer_row(app, make_organizer(app, roles.DESK))[0]
    response = client.post("/admin/organizers/role", data={
        "csrf_token": csrf_token(client, "/admin/organizers"), "organizer": ident,
        "role": "superuser"})
    assert response.status_code == 422
    assert field_error(html_of(response), f"role-{ident}")
    assert organizer_row(app, ROLE_EMAILS[roles.DESK])[1] == "desk"
    assert audit(app, "organizer.role") == []


@pytest.mark.parametrize("data", [{"organizer": "x", "role": "desk"}, {"role": "desk"},
                                  {"organizer": 2**40, "role": "desk"}])
def test_organizers_a_broken_row_form_is_400(app, logged_in, client, data):
    response = client.post("/admin/organizers/role", data={
        "csrf_token": csrf_token(client, "/admin/organizers"), **data})
    assert response.status_code == 400


def test_organizers_an_unknown_organizer_is_404(app, logged_in, client):
    response = client.post("/admin/organizers/active", data={
        "csrf_token": csrf_token(client, "/admin/organizers"), "organizer": 999, "active": "0"})
    assert response.status_code == 404


def test_organizers_nobody_changes_their_own_role_or_deactivates_themselves(
        app, logged_in, client, organizer):
    ident = organizer_row(app, organizer["email"])[0]
    token = csrf_token(client, "/admin/organizers")
    demoted = client.post("/admin/organizers/role", data={"csrf_token": token,
                                                          "organizer": ident, "role": "desk"})
    assert demoted.status_code == 409
    assert "administrator" in field_error(html_of(demoted), f"role-{ident}")
    assert flashes(html_of(demoted))[0][0] == "error"
    off = client.post("/admin/organizers/active", data={"csrf_token": token,
                                                        "organizer": ident, "active": "0"})
    assert off.status_code == 409
    assert re.search(rf'id="active-{ident}-error"', html_of(off))
    assert organizer_row(app, organizer["email"])[1:] == ("admin", True)
    assert audit(app, "organizer.role") == [] and audit(app, "organizer.deactivate") == []
    assert client.get("/admin/organizers").status_code == 200  # still an admin


def test_organizers_deactivate_and_activate(app, logged_in, client):
    ident = organizer_row(app, make_organizer(app, roles.ADMIN, "second@example.com"))[0]
    token = csrf_token(client, "/admin/organizers")
    response = client.post("/admin/organizers/active", data={"csrf_token": token,
                                                             "organizer": ident, "active": "0"})
    assert response.status_code == 302
    assert organizer_row(app, "second@example.com")[2] is False
    response = client.post("/admin/organizers/active", data={"csrf_token": token,
                                                             "organizer": ident, "active": "1"})
    assert response.status_code == 302
    assert organizer_row(app, "second@example.com")[2] is True
    assert [e.subject for e in audit(app, "organizer.deactivate")] == ["second@example.com"]
    bad = client.post("/admin/organizers/active", data={"csrf_token": token,
                                                        "organizer": ident, "active": "maybe"})
    assert bad.status_code == 422
    assert organizer_row(app, "second@example.com")[2] is True


# --- the services --------------------------------------------------------------------------------


def test_services_set_role_refuses_an_unknown_role_and_an_unknown_organizer(app, organizer):
    with app.app_context():
        with pytest.raises(ValidationError) as error:
            services.set_organizer_role("test", organizer["email"], "boss")
        assert set(error.value.errors) == {"role"}
        with pytest.raises(NotFoundError):
            services.set_organizer_role("test", "nobody@example.com", "desk")
        with pytest.raises(NotFoundError):
            services.set_organizer_role("test", 12345, "desk")
        with pytest.raises(ValidationError):
            services.create_organizer("test", "x@example.com", ORGANIZER_PASSWORD, "boss")
    assert organizer_row(app, organizer["email"])[1] == "admin"


def test_services_the_last_active_admin_keeps_the_role(app, organizer):
    other = make_organizer(app, roles.ADMIN, "other@example.com")
    with app.app_context():
        services.set_organizer_active("test", other, False)
        with pytest.raises(ConflictError):
            services.set_organizer_role("test", organizer["email"], "chair")
        with pytest.raises(ConflictError):
            services.set_organizer_active("test", organizer["email"], False)
        services.set_organizer_active("test", other, True)
        services.set_organizer_role("test", organizer["email"], "chair")  # now it may
        with pytest.raises(ConflictError):
            services.set_organizer_role("test", other, "desk")
    assert organizer_row(app, other)[1:] == ("admin", True)
    assert [json.loads(e.details_json) for e in audit(app, "organizer.role")] == [
        {"from": "admin", "to": "chair"}]


def test_services_a_role_set_again_records_nothing(app, organizer):
    with app.app_context():
        services.set_organizer_role("test", organizer["email"], "admin")
    assert audit(app, "organizer.role") == []


def test_services_generated_passwords_are_long_and_differ():
    passwords = {services.generate_password() for _ in range(50)}
    assert len(passwords) == 50
    assert all(len(p) >= services.MIN_PASSWORD_LENGTH for p in passwords)


# --- the command line ----------------------------------------------------------------------------


def test_cli_organizer_create_with_a_role_then_change_it_and_list(app, runner, organizer):
    env = {"ORGANIZER_PASSWORD": ORGANIZER_PASSWORD}
    created = runner.invoke(args=["organizer", "create", "Desk@Example.com", "--role", "desk"],
                            env=env)
    assert created.exit_code == 0, created.output
    assert organizer_row(app, "desk@example.com")[1] == "desk"
    changed = runner.invoke(args=["organizer", "role", "desk@example.com", "presenter"])
    assert changed.exit_code == 0, changed.output
    assert "presenter" in changed.output
    assert organizer_row(app, "desk@example.com")[1] == "presenter"
    listed = runner.invoke(args=["organizer", "list"])
    assert listed.exit_code == 0
    lines = sorted(listed.output.splitlines())
    assert re.match(r"desk@example\.com\s+presenter\s+active\s+last login: never", lines[0])
    assert re.match(r"jury\.chair@example\.com\s+admin\s+active", lines[1])
    assert audit(app, "organizer.role")[-1].actor.startswith("cli:")


def test_cli_organizer_role_refusals(app, runner, organizer):
    unknown_role = runner.invoke(args=["organizer", "role", organizer["email"], "boss"])
    assert unknown_role.exit_code == 2 and "boss" in unknown_role.output
    last_admin = runner.invoke(args=["organizer", "role", organizer["email"], "desk"])
    assert last_admin.exit_code == 1
    assert last_admin.stderr.startswith("Error: ")
    assert organizer["email"] in last_admin.stderr
    nobody = runner.invoke(args=["organizer", "role", "nobody@example.com", "desk"])
    assert nobody.exit_code == 1
    bad_role = runner.invoke(args=["organizer", "create", "x@example.com", "--role", "boss"],
                             env={"ORGANIZER_PASSWORD": ORGANIZER_PASSWORD})
    assert bad_role.exit_code == 2
    assert organizer_row(app, organizer["email"])[1] == "admin"


def test_cli_organizer_create_is_an_admin_by_default_and_list_when_empty(app, runner):
    assert "No organizers yet" in runner.invoke(args=["organizer", "list"]).output
    created = runner.invoke(args=["organizer", "create", "first@example.com"],
                            env={"ORGANIZER_PASSWORD": ORGANIZER_PASSWORD})
    assert created.exit_code == 0 and "(admin)" in created.output
    assert organizer_row(app, "first@example.com")[1] == "admin"


# --- in a real browser ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("screen", ["phone", "wide"])
def test_browser_organizers_page_and_the_403_page(browser, live_server, app, organizer, screen):
    from test_browser import PHONE, PROJECTOR, Visit

    desk = make_organizer(app, roles.DESK, "wolontariusz.punktu.kart@example.com")
    make_organizer(app, roles.PRESENTER)
    viewport = PHONE if screen == "phone" else PROJECTOR
    visit = Visit(browser, live_server, viewport, "pl-PL")
    page = visit.log_in(organizer["email"], ORGANIZER_PASSWORD)
    page.wait_for_url(live_server + "/admin/")
    page = visit.go("/admin/organizers")
    assert page.locator("tbody tr").count() == 3
    assert page.locator(f"#role-{organizer_row(app, desk)[0]}").input_value() == "desk"
    visit.shot(f"{screen}-organizers")
    page = visit.go("/admin/organizers/new")
    page.fill("#email", "nowy@example.com")
    page.select_option("#role", "chair")
    page.fill("#password", "krotkie")
    with page.expect_navigation():  # the refusal is a new page: wait for it, not the old one
        page.click("main button[type=submit]")
    assert page.locator("#password-error").is_visible()
    visit.shot(f"{screen}-organizer-form-error")
    page.fill("#password", "")
    with page.expect_navigation():
        page.click("main button[type=submit]")
    assert len(page.locator("#generated-password").inner_text()) >= 12
    visit.shot(f"{screen}-organizer-created")
    visit.close()

    visit = Visit(browser, live_server, viewport, "pl-PL")
    page = visit.log_in(desk, ORGANIZER_PASSWORD)
    page.wait_for_url(live_server + "/admin/cards")
    response = page.goto(live_server + "/admin/")
    assert response is not None and response.status == 403
    assert page.locator("h1").inner_text() == "Brak dostępu"
    assert not page.locator(".topnav a", has_text="Pulpit").count()
    visit.shot(f"{screen}-forbidden")
    page.locator(".card--error a.button--primary").click()
    page.wait_for_url(live_server + "/admin/cards")
    visit.close()


def test_roles_desk_before_any_gala_is_told_to_wait_for_an_administrator(app):
    client = log_in_as(app, roles.DESK)
    response = client.get("/admin/cards")
    assert response.status_code == 409
    assert "administrator musi ją utworzyć" in response.get_data(as_text=True)
