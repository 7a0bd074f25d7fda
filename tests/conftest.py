"""Fixtures: a fresh database per test, on SQLite or (with TEST_DATABASE_URL) PostgreSQL.

The schema is built once per run by the migrations (never by create_all). SQLite tests copy
that migrated file; PostgreSQL tests share one schema private to this run and truncate it
between tests, so two runs on one server never see each other's data.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import threading
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from voting import create_app
from voting.extensions import db, limiter

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
DEMO_FILE = ROOT / "voting" / "demo" / "gala.json"


def psycopg_url(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1]


def with_search_path(url: str, schema: str) -> str:
    joiner = "&" if "?" in url else "?"
    return f"{psycopg_url(url)}{joiner}options=-csearch_path%3D{schema}"


def migrate_to_head(uri: str, instance: Path) -> None:
    from flask_migrate import upgrade

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": uri,
                      "SECRET_KEY": "migrations", "INSTANCE_PATH": str(instance)})
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Migrate an empty database once for the whole run."""
    instance = tmp_path_factory.mktemp("instance-migrate")
    if PG_URL:
        schema = f"zl_test_{os.getpid()}_{secrets.token_hex(4)}"
        admin = create_engine(psycopg_url(PG_URL))
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        uri = with_search_path(PG_URL, schema)
        try:
            migrate_to_head(uri, instance)
            yield {"kind": "postgresql", "uri": uri, "schema": schema}
        finally:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    else:
        path = tmp_path_factory.mktemp("db") / "template.sqlite3"
        migrate_to_head(f"sqlite:///{path}", instance)
        yield {"kind": "sqlite", "path": path}


@pytest.fixture
def database_uri(database_template: dict[str, Any], tmp_path: Path) -> str:
    if database_template["kind"] == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copyfile(database_template["path"], path)
        return f"sqlite:///{path}"
    engine = create_engine(database_template["uri"])
    with engine.begin() as connection:
        tables = connection.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename <> 'alembic_version'")).scalars().all()
        if tables:
            quoted = ", ".join(f'"{t}"' for t in tables)
            connection.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return database_template["uri"]


@pytest.fixture
def app_config(database_uri: str, tmp_path: Path) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "SECRET_KEY": secrets.token_hex(16),
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "RATELIMIT_STORAGE_URI": "memory://",
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(app_config)
    with app.app_context():
        limiter.reset()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):  # noqa: ANN201
    return app.test_cli_runner()


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                     r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str) -> str:
    """Fetch a page and read the CSRF token from its form, as a browser would."""
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def post_form(client: FlaskClient, page: str, action: str | None = None,
              data: dict[str, Any] | None = None, **kwargs: Any):  # noqa: ANN201
    """Submit a form found on `page` (to `action`, default the page itself) with CSRF."""
    payload = {"csrf_token": csrf_token(client, page), **(data or {})}
    return client.post(action or page, data=payload, **kwargs)


ORGANIZER_EMAIL = "jury.chair@example.com"
ORGANIZER_PASSWORD = "Złote-Lajki-2026!"


@pytest.fixture
def organizer(app: Flask) -> dict[str, str]:
    from voting import services

    with app.app_context():
        services.create_organizer("test", ORGANIZER_EMAIL, ORGANIZER_PASSWORD)
    return {"email": ORGANIZER_EMAIL, "password": ORGANIZER_PASSWORD}


class AuthActions:
    def __init__(self, client: FlaskClient):
        self.client = client

    def login(self, email: str = ORGANIZER_EMAIL, password: str = ORGANIZER_PASSWORD,
              **kwargs: Any):  # noqa: ANN201
        return post_form(self.client, "/admin/login",
                         data={"email": email, "password": password}, **kwargs)

    def logout(self):  # noqa: ANN201
        return post_form(self.client, "/admin/", "/admin/logout")


@pytest.fixture
def auth(client: FlaskClient, organizer: dict[str, str]) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def logged_in(auth: AuthActions) -> AuthActions:
    response = auth.login()
    assert response.status_code == 302, response.get_data(as_text=True)
    return auth


def demo_document() -> dict[str, Any]:
    return json.loads(DEMO_FILE.read_text(encoding="utf-8"))


@pytest.fixture
def demo_gala(app: Flask):  # noqa: ANN201
    """The demo gala, loaded through the JSON importer (ids are those of this database)."""
    from voting import transfer

    with app.app_context():
        gala = transfer.import_gala("test", demo_document())
        return gala.id


@pytest.fixture
def small_gala(app: Flask) -> dict[str, int]:
    """A gala built through the services: two categories, three profiles, four nominations."""
    from voting import services

    with app.app_context():
        gala = services.create_gala("test", {"name": "Gala Złotych Lajków 2026",
                                             "date": "2026-11-28", "venue": "Warszawa"})
        single = services.create_category("test", gala.id, {
            "name_pl": "TikTok roku", "name_en": "TikTok of the year", "method": "single",
            "weights": {"audience": 100}})
        ranked = services.create_category("test", gala.id, {
            "name_pl": "Wideo w metropolii", "name_en": "Video in a metropolis",
            "method": "ranked", "places": 2, "points": "3,1", "weights": {"jury": 100}})
        profiles = [
            services.create_profile("test", gala.id, {
                "name": name, "unit_name": unit, "unit_type": "miasto",
                "voivodeship": voivodeship, "platform": platform, "url": url})
            for name, unit, voivodeship, platform, url in (
                ("Łódź – TikTok", "Miasto Łódź", "łódzkie", "tiktok",
                 "https://www.tiktok.com/@lodz"),
                ("Wrocław", "Miasto Wrocław", "dolnośląskie", "facebook",
                 "https://www.facebook.com/wroclaw"),
                ("Gdańsk", "Miasto Gdańsk", "pomorskie", "youtube",
                 "https://www.youtube.com/@gdansk"),
            )
        ]
        services.nominate("test", single.id, profiles[0].id, "za serię o włókniarkach")
        services.nominate("test", single.id, profiles[1].id)
        services.nominate("test", ranked.id, profiles[1].id)
        services.nominate("test", ranked.id, profiles[2].id)
        return {"gala": gala.id, "single": single.id, "ranked": ranked.id,
                "lodz": profiles[0].id, "wroclaw": profiles[1].id, "gdansk": profiles[2].id}


@pytest.fixture
def other_app(database_template: dict[str, Any], tmp_path: Path) -> Iterator[Flask]:
    """A second installation with a database of its own, migrated like the first."""
    schema = None
    if database_template["kind"] == "sqlite":
        path = tmp_path / "other.sqlite3"
        shutil.copyfile(database_template["path"], path)
        uri = f"sqlite:///{path}"
    else:
        schema = f"zl_other_{os.getpid()}_{secrets.token_hex(4)}"
        admin = create_engine(psycopg_url(PG_URL))
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        uri = with_search_path(PG_URL, schema)
        migrate_to_head(uri, tmp_path / "other-migrate")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": uri,
                      "SECRET_KEY": secrets.token_hex(16),
                      "INSTANCE_PATH": str(tmp_path / "other-instance")})
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if schema:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


# Statements that drop and recreate the append-only triggers: tests play a database
# administrator who removes them, and must put them back (PostgreSQL runs share one schema).
AUDIT_TRIGGERS = {
    "sqlite": (
        ["DROP TRIGGER audit_entry_no_update", "DROP TRIGGER audit_entry_no_delete"],
        ["CREATE TRIGGER IF NOT EXISTS audit_entry_no_update BEFORE UPDATE ON audit_entry "
         "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
         "CREATE TRIGGER IF NOT EXISTS audit_entry_no_delete BEFORE DELETE ON audit_entry "
         "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END"],
    ),
    "postgresql": (
        ["DROP TRIGGER audit_entry_append_only ON audit_entry"],
        ["CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry "
         "FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()"],
    ),
}


# --- reading pages -------------------------------------------------------------------------


def html_of(response: Any) -> str:
    return response.get_data(as_text=True)


def flashes(html: str) -> list[tuple[str, str]]:
    """The flash messages of a page, as (kind, text)."""
    return [(kind, unescape(text).strip()) for kind, text in
            re.findall(r'<p class="flash flash--(\w+)"[^>]*>(.*?)</p>', html, re.S)]


def field_error(html: str, field: str) -> str | None:
    """The error shown under a form field, if any."""
    match = re.search(rf'<div id="{re.escape(field)}-error"[^>]*><p class="error">(.*?)</p>',
                      html, re.S)
    return unescape(match.group(1)).strip() if match else None


# --- ballots and results -----------------------------------------------------------------------


def cast_votes(app: Flask, gala_id: int, group: str, ballots: list[dict[str, Any]]) -> None:
    """Cast each ballot (votes by category slug, as the API takes them) with a new card of the
    group, through the real casting path."""
    from voting import cards
    from voting.ballots import card_keys, cast_ballot
    from voting.models import Gala

    with app.app_context():
        keys = card_keys(app.config)
        issued = cards.issue_cards("test", gala_id, group, keys, count=len(ballots))
        for card, votes in zip(issued, ballots, strict=True):
            cast_ballot(db.session.get(Gala, gala_id), card.code, votes, keys)


def random_ballot(categories: list[Any], group: str, rnd: Any) -> dict[str, Any]:
    """A valid ballot of the group over the categories (ORM objects), with some abstentions."""
    votes: dict[str, Any] = {}
    for category in categories:
        if group not in category.weights() or rnd.random() < 0.1:
            continue
        ids = sorted(n.id for n in category.nominations)
        if category.method == "single":
            votes[category.slug] = rnd.choice(ids)
        elif category.method in ("ranked", "irv"):
            most = min(len(ids), category.places or len(ids))
            votes[category.slug] = rnd.sample(ids, rnd.randint(1, most))
        elif category.method == "approval":
            votes[category.slug] = rnd.sample(ids, rnd.randint(1, min(len(ids),
                                                                  category.max_choices or 9)))
        elif category.method == "score":
            votes[category.slug] = {n: rnd.randint(category.score_min, category.score_max)
                                    for n in rnd.sample(ids, rnd.randint(1, len(ids)))}
    return votes


@pytest.fixture
def voted_demo_gala(app: Flask, demo_gala: int) -> int:
    """The demo gala, open, with 12 jury and 20 audience ballots (seeded random), still open."""
    import random

    from voting import results, services
    from voting.models import Gala

    rnd = random.Random(2026)
    with app.app_context():
        services.open_voting("test", demo_gala)
        categories = results.gala_categories(db.session.get(Gala, demo_gala))
        ballots = {group: [random_ballot(categories, group, rnd) for _ in range(count)]
                   for group, count in (("jury", 12), ("audience", 20))}
    for group, listed in ballots.items():
        cast_votes(app, demo_gala, group, listed)
    return demo_gala


# --- a real browser: Debian's Chromium driven by Playwright ------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "Chromium is missing: scripts/test.sh installs it (apt-get)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_server(app: Flask, demo_gala: int, organizer: dict[str, str]) -> Iterator[str]:
    """The test app served on a free port of 127.0.0.1, in a thread of this process."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
