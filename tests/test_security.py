"""Security plumbing: response headers, cookies, no inline script, size limits, error pages
that hide internals, the proxy setup, and configuration (secrets, production, database)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from conftest import ORGANIZER_EMAIL, ORGANIZER_PASSWORD, PG_URL, csrf_token, html_of, post_form
from flask import Flask, request
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from test_display import display_url
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

import config
from voting import create_app, services
from voting.extensions import db, limiter
from voting.models import Category, Organizer, Profile

ROOT = Path(__file__).resolve().parent.parent
# Settings read from the environment when `config` is imported; cleared for subprocesses.
CONFIG_ENVIRONMENT = ("SECRET_KEY", "DATABASE_URL", "APP_CONFIG", "PUBLIC_BASE_URL",
                      "SESSION_COOKIE_SECURE", "INSTANCE_PATH", "PROXY_FIX_X_FOR",
                      "PROXY_FIX_X_PROTO", "PROXY_FIX_X_HOST", "SQLITE_BUSY_TIMEOUT_MS")


@pytest.fixture
def make_app(app_config: dict[str, Any]) -> Iterator[Callable[..., Flask]]:
    """Build further apps on the test database with some settings changed."""
    made: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        app = create_app({**app_config, **overrides})
        with app.app_context():
            limiter.reset()
        made.append(app)
        return app

    yield build
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def run_python(code: str, *args: str, env: dict[str, str] | None = None) -> str:
    """Run `code` in a fresh interpreter (so `config` reads this environment afresh)."""
    environment = {k: v for k, v in os.environ.items() if k not in CONFIG_ENVIRONMENT}
    environment.update(env or {})
    result = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout



def csp_directives(response: Any) -> dict[str, list[str]]:
    policy = response.headers.get("Content-Security-Policy", "")
    assert policy, f"no Content-Security-Policy on {response.request.path}"
    directives = {}
    for part in policy.split(";"):
        tokens = part.split()
        if tokens:
            directives[tokens[0].lower()] = tokens[1:]
    return directives


def session_cookie(response: Any) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert len(cookies) == 1, response.headers.getlist("Set-Cookie")
    return cookies[0]


def cookie_flags(cookie: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}


def login(client: FlaskClient) -> None:
    response = post_form(client, "/admin/login",
                         data={"email": ORGANIZER_EMAIL, "password": ORGANIZER_PASSWORD})
    assert response.status_code == 302


# --- headers -------------------------------------------------------------------------------


def site_pages(client: FlaskClient, app: Flask) -> dict[str, Any]:
    """A response from every kind of page: public, admin, error, API."""
    with app.app_context():
        category_id = db.session.scalar(select(Category.id).order_by(Category.id))
        profile_id = db.session.scalar(select(Profile.id).order_by(Profile.id))
    responses = {}
    for path in ("/", "/nominees", display_url(app), "/display/", "/admin/login",
                 "/nie-ma-takiej-strony", "/api/v1/gala", "/api/v1/nope"):
        responses[path] = client.get(path)
    responses["csrf failure"] = client.post("/admin/login", data={"email": "x@example.com"})
    login(client)
    for path in ("/admin/", f"/admin/categories/{category_id}",
                 f"/admin/categories/{category_id}/edit", "/admin/categories/new",
                 "/admin/profiles", "/admin/profiles/new", f"/admin/profiles/{profile_id}/edit",
                 "/admin/import", "/admin/audit", "/admin/galas/new"):
        responses[path] = client.get(path)
    responses["form errors"] = post_form(client, "/admin/categories/new",
                                         data={"name_pl": "", "method": "ranked",
                                               "points": "x"})
    return responses


def test_security_headers_on_every_kind_of_response(client, app, organizer, demo_gala):
    for name, response in site_pages(client, app).items():
        assert response.status_code < 500, name
        directives = csp_directives(response)
        script = directives.get("script-src", directives.get("default-src"))
        assert script == ["'self'"], (name, script)
        assert "'unsafe-inline'" not in directives.get("style-src", []), name
        assert directives["frame-ancestors"] == ["'none'"], name
        assert directives["object-src"] == ["'none'"], name
        assert directives["base-uri"] == ["'none'"], name
        assert response.headers["X-Content-Type-Options"] == "nosniff", name
        assert response.headers["X-Frame-Options"] == "DENY", name
        assert response.headers["Referrer-Policy"] == "same-origin", name
        if name.startswith("/admin"):
            assert response.headers["Cache-Control"] == "no-store", name


def test_security_headers_on_an_uploaded_image_forbid_running_it(client, app, small_gala):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    with app.app_context():
        profile = services.create_profile("test", small_gala["gala"], {
            "name": "Gdynia", "unit_name": "Miasto Gdynia", "unit_type": "miasto",
            "platform": "facebook", "url": "https://www.facebook.com/gdynia"}, png).id
    response = client.get(f"/profiles/{profile}/image")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


class InlineCode(HTMLParser):
    """Finds what a strict CSP would block: inline scripts and styles, event handlers,
    javascript: addresses."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.scripts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            if not values.get("src"):
                self.problems.append("inline <script>")
            else:
                self.scripts.append(values["src"] or "")
        if tag == "style":
            self.problems.append("inline <style>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"event handler {name}= on <{tag}>")
            if name == "style":
                self.problems.append(f"style= on <{tag}>")
            if name in ("href", "src", "action", "formaction") and (value or "").strip(
                    ).lower().startswith("javascript:"):
                self.problems.append(f"javascript: in {name} on <{tag}>")


def test_pages_contain_no_inline_script_or_style(client, app, organizer, demo_gala):
    checked = 0
    for name, response in site_pages(client, app).items():
        if response.mimetype != "text/html":
            continue
        parser = InlineCode()
        parser.feed(html_of(response))
        assert parser.problems == [], name
        assert all(src.startswith("/static/") for src in parser.scripts), (name, parser.scripts)
        checked += 1
    assert checked >= 15
    assert "<script" in html_of(client.get("/"))  # the check did see the page's own script


XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_organizer_text_is_escaped_on_every_page(client, app, organizer):
    with app.app_context():
        gala = services.create_gala("test", {"name": f"Gala {XSS}", "date": "2026-11-28",
                                             "venue": XSS})
        category = services.create_category("test", gala.id, {
            "name_pl": f"Kategoria {XSS}", "name_en": f"Category {XSS}",
            "description_pl": XSS, "method": "single", "weights": {"jury": 100}})
        profile = services.create_profile("test", gala.id, {
            "name": f"Profil {XSS}", "unit_name": XSS, "unit_type": "gmina",
            "platform": "website", "handle": XSS, "url": "https://gmina.example.pl/",
            "description": XSS})
        services.nominate("test", category.id, profile.id, XSS)
        category_id, profile_id = category.id, profile.id
    pages = ["/", "/nominees", display_url(app), display_url(app, "/display/overlay")]
    login(client)
    pages += ["/admin/", f"/admin/categories/{category_id}",
              f"/admin/categories/{category_id}/edit", "/admin/profiles",
              f"/admin/profiles/{profile_id}/edit", "/admin/audit"]
    for path in pages:
        html = html_of(client.get(path))
        assert "<script>alert" not in html and "<img src=x" not in html, path
        parser = InlineCode()
        parser.feed(html)
        assert parser.problems == [], path
    assert "&lt;script&gt;" in html_of(client.get("/nominees"))
    body = client.get("/api/v1/gala").get_json()
    assert body["gala"]["name"] == f"Gala {XSS}"  # JSON carries the text as it is


# --- cookies -------------------------------------------------------------------------------


def test_session_cookie_is_httponly_and_samesite_lax(make_app):
    app = make_app(SESSION_COOKIE_SECURE=False)
    cookie = session_cookie(app.test_client().get("/admin/login"))
    flags = cookie_flags(cookie)
    assert "httponly" in flags
    assert "samesite=lax" in cookie.lower()
    assert "secure" not in flags


def test_session_cookie_is_secure_when_configured(make_app):
    app = make_app(SESSION_COOKIE_SECURE=True)
    cookie = session_cookie(app.test_client().get("/admin/login"))
    assert {"secure", "httponly"} <= cookie_flags(cookie)
    assert "samesite=lax" in cookie.lower()


COOKIE_PROBE = """
import json, sys
from voting import create_app
app = create_app({"SECRET_KEY": "probe", "INSTANCE_PATH": sys.argv[1], "TESTING": True})
response = app.test_client().get("/lang/en")
print(json.dumps({"session": app.config["SESSION_COOKIE_SECURE"],
                  "remember": app.config["REMEMBER_COOKIE_SECURE"],
                  "httponly": app.config["SESSION_COOKIE_HTTPONLY"],
                  "cookies": response.headers.getlist("Set-Cookie")}))
"""


@pytest.mark.parametrize(("env", "secure"), [
    ({"PUBLIC_BASE_URL": "https://glosowanie.zlotelajki.pl"}, True),
    ({"PUBLIC_BASE_URL": "http://localhost:5000"}, False),
    ({}, False),
    ({"PUBLIC_BASE_URL": "https://glosowanie.zlotelajki.pl", "SESSION_COOKIE_SECURE": "0"},
     False),
    ({"PUBLIC_BASE_URL": "http://10.0.0.5:5000", "SESSION_COOKIE_SECURE": "1"}, True),
])
def test_session_cookie_secure_follows_the_public_address(tmp_path, env, secure):
    probe = json.loads(run_python(COOKIE_PROBE, str(tmp_path / "instance"), env=env))
    assert probe["session"] is secure and probe["remember"] is secure
    assert probe["httponly"] is True
    [cookie] = [c for c in probe["cookies"] if c.startswith("session=")]
    assert ("secure" in cookie_flags(cookie)) is secure
    assert "httponly" in cookie_flags(cookie)


# --- size limits and unexpected errors -------------------------------------------------------


def test_request_larger_than_the_limit_is_a_413_page(client, app):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    body = b"email=" + b"x" * app.config["MAX_CONTENT_LENGTH"]
    response = client.post("/admin/login", data=body,
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    html = html_of(response)
    assert "<h1>The upload is too large</h1>" in html
    assert "Choose a smaller file and try again." in html


def test_request_larger_than_the_limit_is_a_413_json_for_api_clients(make_app):
    app = make_app(MAX_CONTENT_LENGTH=64 * 1024)
    response = app.test_client().post("/admin/login", data=b"x" * (64 * 1024 + 1),
                                      content_type="application/x-www-form-urlencoded",
                                      headers={"Accept": "application/json"})
    assert response.status_code == 413
    assert response.is_json
    assert response.get_json()["error"] == "too_large"


def test_upload_larger_than_the_limit_is_refused_and_saves_nothing(
        client, app, organizer, small_gala):
    login(client)
    values = MultiDict({
        "csrf_token": csrf_token(client, "/admin/profiles/new"), "name": "Gdynia",
        "unit_name": "Miasto Gdynia", "unit_type": "miasto", "platform": "facebook",
        "url": "https://www.facebook.com/gdynia"})
    huge = b"\x89PNG\r\n\x1a\n" + b"\x00" * app.config["MAX_CONTENT_LENGTH"]
    values.add("image", FileStorage(io.BytesIO(huge), filename="huge.png",
                                    content_type="image/png"))
    boundary, body = encode_multipart(values)
    response = client.post("/admin/profiles/new", data=body,
                           content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 413
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Profile)) == 3


GHOST = "ghost@example.com"


def add_failing_routes(app: Flask, seen: list[Any]) -> None:
    """Routes that change the session and then fail, and a check of what the session holds
    after the error handler ran."""

    def fail() -> str:
        db.session.add(Organizer(email=GHOST, password_hash="x"))
        db.session.flush()
        raise RuntimeError("kaboom: secret internal detail")

    app.add_url_rule("/test-failure", "test_failure", fail)
    app.add_url_rule("/api/v1/test-failure", "test_api_failure", fail)

    @app.after_request
    def look_at_the_session(response):  # noqa: ANN001, ANN202
        if request.path.endswith("/test-failure"):
            seen.append(db.session.scalar(select(Organizer.id).where(Organizer.email == GHOST)))
        return response


def test_unexpected_error_is_a_500_page_without_internals_and_rolls_back(client, app):
    app.config["PROPAGATE_UNEXPECTED"] = False
    seen: list[Any] = []
    add_failing_routes(app, seen)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    response = client.get("/test-failure")
    html = html_of(response)
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    assert "<h1>Something went wrong on our side</h1>" in html
    for leak in ("Traceback", "kaboom", "secret internal detail", "RuntimeError", "voting/"):
        assert leak not in html
    assert seen == [None]  # the flushed row was rolled back before the page was sent
    with app.app_context():
        assert db.session.scalar(select(Organizer).where(Organizer.email == GHOST)) is None
    assert client.get("/").status_code == 200  # and the app carries on


def test_unexpected_error_in_the_api_is_a_500_json_without_internals(client, app):
    app.config["PROPAGATE_UNEXPECTED"] = False
    seen: list[Any] = []
    add_failing_routes(app, seen)
    response = client.get("/api/v1/test-failure")
    assert response.status_code == 500
    assert response.is_json
    body = response.get_json()
    assert set(body) == {"error", "message", "fields"}
    assert body["error"] == "server_error"
    assert "kaboom" not in json.dumps(body)
    assert seen == [None]


# --- the reverse proxy -----------------------------------------------------------------------


def add_address_route(app: Flask) -> None:
    app.add_url_rule("/test-remote-address", "test_remote_address",
                     lambda: request.remote_addr or "")


def test_proxy_fix_makes_the_forwarded_address_the_client(make_app):
    app = make_app(PROXY_FIX_X_FOR=1)
    add_address_route(app)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.0.0.1"  # the reverse proxy
    one = client.get("/test-remote-address", headers={"X-Forwarded-For": "203.0.113.7"})
    assert one.get_data(as_text=True) == "203.0.113.7"
    # A client may send its own header; only the address our one proxy saw counts.
    two = client.get("/test-remote-address",
                     headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.7"})
    assert two.get_data(as_text=True) == "203.0.113.7"


def test_without_proxy_fix_a_forwarded_header_is_ignored(make_app):
    app = make_app(PROXY_FIX_X_FOR=0)
    add_address_route(app)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.0.0.1"
    response = client.get("/test-remote-address", headers={"X-Forwarded-For": "203.0.113.7"})
    assert response.get_data(as_text=True) == "10.0.0.1"


def login_attempt(app: Flask, forwarded_for: str, password: str) -> int:
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = "10.0.0.1"
    token = csrf_token(browser, "/admin/login")
    response = browser.post("/admin/login", headers={"X-Forwarded-For": forwarded_for},
                            data={"csrf_token": token, "email": ORGANIZER_EMAIL,
                                  "password": password})
    return response.status_code


def failure_limit(app: Flask) -> int:
    from limits import parse

    return parse(app.config["LOGIN_FAILURE_LIMIT"]).amount


def test_login_throttle_behind_a_proxy_counts_per_forwarded_address(make_app):
    app = make_app(PROXY_FIX_X_FOR=1)
    with app.app_context():
        services.create_organizer("test", ORGANIZER_EMAIL, ORGANIZER_PASSWORD)
    for _ in range(failure_limit(app)):
        assert login_attempt(app, "203.0.113.7", "wrong") == 401
    assert login_attempt(app, "203.0.113.7", "wrong") == 429
    # Everyone comes through the same proxy: another visitor is not locked out with them.
    assert login_attempt(app, "203.0.113.8", ORGANIZER_PASSWORD) == 302


def test_login_throttle_without_proxy_fix_cannot_be_dodged_by_a_forged_header(make_app):
    app = make_app(PROXY_FIX_X_FOR=0)
    with app.app_context():
        services.create_organizer("test", ORGANIZER_EMAIL, ORGANIZER_PASSWORD)
    for number in range(failure_limit(app)):
        assert login_attempt(app, f"198.51.100.{number}", "wrong") == 401
    assert login_attempt(app, "198.51.100.99", "wrong") == 429


# --- configuration: secrets --------------------------------------------------------------


def test_missing_secret_key_is_generated_once_in_the_instance_folder(make_app, tmp_path):
    instance = tmp_path / "fresh-instance"
    first = make_app(SECRET_KEY=None, INSTANCE_PATH=str(instance))
    key_file = instance / "secret_key"
    assert key_file.exists()
    assert first.config["SECRET_KEY"] == key_file.read_text().strip()
    assert len(first.config["SECRET_KEY"]) >= 32
    assert key_file.stat().st_mode & 0o777 == 0o600
    second = make_app(SECRET_KEY=None, INSTANCE_PATH=str(instance))
    assert second.config["SECRET_KEY"] == first.config["SECRET_KEY"]
    other = make_app(SECRET_KEY=None, INSTANCE_PATH=str(tmp_path / "other-instance"))
    assert other.config["SECRET_KEY"] != first.config["SECRET_KEY"]
    # A session signed by one worker is read by the next one started on the same folder.
    browser = first.test_client()
    browser.get("/lang/en")
    cookie = browser.get_cookie("session")
    reader = second.test_client()
    reader.set_cookie("session", cookie.value)
    with reader.session_transaction() as session:
        assert session["lang"] == "en"


def test_given_secret_key_writes_no_file(make_app, tmp_path):
    instance = tmp_path / "keyed-instance"
    app = make_app(SECRET_KEY="given-by-the-operator", INSTANCE_PATH=str(instance))
    assert app.config["SECRET_KEY"] == "given-by-the-operator"
    assert not (instance / "secret_key").exists()


RACE = """
import os, sys, time
from pathlib import Path
import config
workers, barrier, folders = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
keys = []
for index, folder in enumerate(folders):
    # Each round starts only when every worker is at it, so all race for the same folder.
    (barrier / f"{index}-{os.getpid()}").touch()
    deadline = time.monotonic() + 60
    while len(list(barrier.glob(f"{index}-*"))) < workers:
        if time.monotonic() > deadline:
            sys.exit("the other workers never came")
        time.sleep(0.0005)
    keys.append(config.instance_secret(folder, "secret_key"))
print(" ".join(keys))
"""


def test_instance_secret_agrees_across_processes_starting_together(tmp_path):
    workers, rounds = 8, 20
    folders = [str(tmp_path / f"instance-{n}") for n in range(rounds)]
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    environment = {k: v for k, v in os.environ.items() if k not in CONFIG_ENVIRONMENT}
    processes = [subprocess.Popen([sys.executable, "-c", RACE, str(workers), str(barrier),
                                   *folders], cwd=ROOT, env=environment,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(workers)]
    outputs = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
        outputs.append(stdout.split())
    for index, folder in enumerate(folders):
        keys = {output[index] for output in outputs}
        assert len(keys) == 1, (folder, keys)
        assert keys == {(Path(folder) / "secret_key").read_text().strip()}
        assert sorted(p.name for p in Path(folder).iterdir()) == ["secret_key"]  # no leftovers
    assert len(set(outputs[0])) == len(folders)  # and each folder has its own key


# --- configuration: production -------------------------------------------------------------


def test_production_without_secret_key_refuses_to_start(monkeypatch, tmp_path, database_uri):
    monkeypatch.setenv("APP_CONFIG", "production")
    monkeypatch.setattr(config.ProductionConfig, "SECRET_KEY", None)
    instance = tmp_path / "production-instance"
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"INSTANCE_PATH": str(instance), "SQLALCHEMY_DATABASE_URI": database_uri})
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"INSTANCE_PATH": str(instance), "SQLALCHEMY_DATABASE_URI": database_uri,
                    "SECRET_KEY": ""})
    assert not (instance / "secret_key").exists()  # nothing secret is invented


def test_production_without_card_keys_refuses_to_start(monkeypatch, tmp_path, database_uri):
    monkeypatch.setenv("APP_CONFIG", "production")
    monkeypatch.setattr(config.ProductionConfig, "SECRET_KEY", "from-the-environment")
    monkeypatch.setattr(config.ProductionConfig, "CARD_SIGNING_KEYS", None)
    monkeypatch.setattr(config.ProductionConfig, "CARD_HASH_KEY", None)
    with pytest.raises(RuntimeError, match="CARD_SIGNING_KEYS, CARD_HASH_KEY"):
        create_app({"INSTANCE_PATH": str(tmp_path / "p"), "SQLALCHEMY_DATABASE_URI": database_uri})
    assert not (tmp_path / "p" / "card_hash_key").exists()


def test_production_config_class_without_secret_key_refuses_to_start(monkeypatch, tmp_path):
    monkeypatch.delenv("APP_CONFIG", raising=False)
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "class-instance"))
    monkeypatch.setattr(config.ProductionConfig, "SECRET_KEY", None)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(config.ProductionConfig)
    assert not (tmp_path / "class-instance" / "secret_key").exists()


def test_production_with_secret_key_starts_without_demo_organizer(
        monkeypatch, tmp_path, database_uri):
    monkeypatch.setenv("APP_CONFIG", "production")
    monkeypatch.setattr(config.ProductionConfig, "SECRET_KEY", "from-the-environment")
    monkeypatch.setattr(config.ProductionConfig, "CARD_SIGNING_KEYS", ["card-2026"])
    monkeypatch.setattr(config.ProductionConfig, "CARD_HASH_KEY", "card-hash")
    app = create_app({"INSTANCE_PATH": str(tmp_path / "ok"),
                      "SQLALCHEMY_DATABASE_URI": database_uri})
    try:
        assert app.config["SECRET_KEY"] == "from-the-environment"
        assert app.config["ALLOW_DEMO_ORGANIZER"] is False
        assert not (tmp_path / "ok" / "secret_key").exists()
        assert not (tmp_path / "ok" / "card_hash_key").exists()
    finally:
        with app.app_context():
            db.engine.dispose()


def test_production_refusal_when_started_from_the_environment(tmp_path):
    code = """
import sys
from voting import create_app
try:
    create_app()
except RuntimeError as error:
    print("refused:", error)
"""
    output = run_python(code, env={"APP_CONFIG": "production",
                                   "INSTANCE_PATH": str(tmp_path / "env-instance")})
    assert output.startswith("refused:") and "SECRET_KEY" in output
    assert not (tmp_path / "env-instance" / "secret_key").exists()


def test_unknown_app_config_refuses_to_start(monkeypatch):
    monkeypatch.setenv("APP_CONFIG", "staging")
    with pytest.raises(RuntimeError, match="APP_CONFIG"):
        create_app({"SECRET_KEY": "x"})


# --- configuration: the database ------------------------------------------------------------


def sqlite_pragma(app: Flask, name: str) -> Any:
    with app.app_context():
        return db.session.connection().exec_driver_sql(f"PRAGMA {name}").scalar()


@pytest.mark.skipif(bool(PG_URL), reason="SQLite pragmas; the run is on PostgreSQL")
def test_sqlite_connections_are_durable_and_wait_for_locks(app):
    assert sqlite_pragma(app, "journal_mode") == "wal"
    assert sqlite_pragma(app, "synchronous") == 2  # FULL
    assert sqlite_pragma(app, "foreign_keys") == 1
    assert sqlite_pragma(app, "busy_timeout") == app.config["SQLITE_BUSY_TIMEOUT_MS"] > 0


@pytest.mark.skipif(bool(PG_URL), reason="SQLite pragmas; the run is on PostgreSQL")
def test_sqlite_busy_timeout_follows_the_setting(make_app):
    app = make_app(SQLITE_BUSY_TIMEOUT_MS=1234)
    assert sqlite_pragma(app, "busy_timeout") == 1234


def test_database_enforces_foreign_keys(app):
    with app.app_context():
        connection = db.session.connection()
        with pytest.raises(IntegrityError):
            connection.exec_driver_sql(
                "INSERT INTO nomination (category_id, profile_id, citation, created_at) "
                "VALUES (999999, 999999, '', '2026-01-01 00:00:00')")
        db.session.rollback()


@pytest.mark.parametrize(("given", "expected"), [
    ("postgresql://zl:haslo@127.0.0.1:5432/zlote",
     "postgresql+psycopg://zl:haslo@127.0.0.1:5432/zlote"),
    ("postgres://zl@127.0.0.1/zlote", "postgresql+psycopg://zl@127.0.0.1/zlote"),
    ("postgresql+psycopg://zl@127.0.0.1/zlote", "postgresql+psycopg://zl@127.0.0.1/zlote"),
])
def test_postgresql_url_uses_the_psycopg_driver(make_app, given, expected):
    app = make_app(SQLALCHEMY_DATABASE_URI=given)
    assert app.config["SQLALCHEMY_DATABASE_URI"] == expected
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is True
    with app.app_context():
        assert db.engine.dialect.name == "postgresql"
        assert db.engine.dialect.driver == "psycopg"


def test_database_url_from_the_environment_uses_the_psycopg_driver(tmp_path):
    code = """
import sys
from voting import create_app
app = create_app({"SECRET_KEY": "x", "INSTANCE_PATH": sys.argv[1]})
print(app.config["SQLALCHEMY_DATABASE_URI"])
"""
    output = run_python(code, str(tmp_path / "instance"),
                        env={"DATABASE_URL": "postgresql://zl@127.0.0.1:5432/zlote"})
    assert output.strip() == "postgresql+psycopg://zl@127.0.0.1:5432/zlote"


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path):
    code = """
import sys
from voting import create_app
app = create_app({"SECRET_KEY": "x", "INSTANCE_PATH": sys.argv[1]})
print(app.config["SQLALCHEMY_DATABASE_URI"])
print("pool_pre_ping" in app.config["SQLALCHEMY_ENGINE_OPTIONS"])
"""
    instance = tmp_path / "instance"
    uri, pre_ping = run_python(code, str(instance)).split()
    assert uri == f"sqlite:///{instance / 'zlote-lajki.sqlite3'}"
    assert pre_ping == "False"


@pytest.mark.parametrize("path", [
    "/profiles/99999999999999999999/image",
    "/admin/cards?page=99999999999999999999",
    "/admin/audit?page=99999999999999999999",
])
def test_huge_numbers_in_addresses_are_not_a_crash(app, logged_in, client, small_gala, path):
    app.config["PROPAGATE_UNEXPECTED"] = False
    assert client.get(path).status_code in (200, 404)


@pytest.mark.parametrize("action", ["/admin/cards/revoke", "/admin/cards/reissue"])
def test_a_huge_card_number_is_a_clear_error(app, logged_in, client, small_gala, action):
    app.config["PROPAGATE_UNEXPECTED"] = False
    response = post_form(client, "/admin/cards", action,
                         data={"card": "99999999999999999999"})
    assert response.status_code in (400, 404, 422)
