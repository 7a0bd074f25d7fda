"""Receipts of counted ballots: published by the organizer once voting is closed, then listed
on `/receipts` and `GET /api/v1/receipts` (codes only, alphabetically), with a search box."""

from __future__ import annotations

import re
from typing import Any

import pytest
from conftest import csrf_token, flashes, html_of, post_form
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from voting import cards, services
from voting.ballots import card_keys, cast_ballot
from voting.extensions import db
from voting.models import AuditEntry, Category, Gala


@pytest.fixture(autouse=True)
def english(client: FlaskClient) -> None:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"




def listed(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", item) for item in re.findall(
        r"<li>(.*?)</li>", html.split('<ul class="receipts">', 1)[-1].split("</ul>", 1)[0])]


def audit_actions(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


@pytest.fixture
def cast(app: Flask, small_gala: dict[str, int]) -> dict[str, Any]:
    """Five audience ballots cast (each for Łódź), voting still open."""
    keys = card_keys(app.config)
    with app.app_context():
        issued = cards.issue_cards("test", small_gala["gala"], "audience", keys, count=5)
        services.open_voting("test", small_gala["gala"])
        gala = db.session.get(Gala, small_gala["gala"])
        single = db.session.get(Category, small_gala["single"])
        lodz = next(n.id for n in single.nominations if n.profile_id == small_gala["lodz"])
        receipts = [cast_ballot(gala, card.code, {single.slug: lodz}, keys).receipt
                    for card in issued]
    return {**small_gala, "receipts": receipts}


@pytest.fixture
def closed(app: Flask, cast: dict[str, Any]) -> dict[str, Any]:
    with app.app_context():
        services.close_voting("test", cast["gala"])
    return cast


@pytest.fixture
def published(app: Flask, closed: dict[str, Any]) -> dict[str, Any]:
    with app.app_context():
        services.publish_receipts("test", closed["gala"])
    return closed


def test_before_publication_the_page_says_so_and_the_api_answers_404(client, closed):
    html = html_of(client.get("/receipts"))
    assert "The list of receipts is not published yet." in html
    assert not any(receipt in html for receipt in closed["receipts"])
    response = client.get("/api/v1/receipts")
    assert response.status_code == 404 and response.is_json
    assert response.get_json()["message"] == "The list of receipts is not published yet."


def test_receipts_page_without_any_gala(client):
    assert "not published yet" in html_of(client.get("/receipts"))
    assert client.get("/api/v1/receipts").status_code == 404


def test_publishing_is_refused_while_voting_is_open(client, logged_in, app, cast):
    html = html_of(client.get("/admin/"))
    assert "/admin/receipts/publish" not in html
    response = post_form(client, "/admin/", "/admin/receipts/publish",
                         headers={"Referer": "http://localhost/admin/"}, follow_redirects=True)
    assert ("error", "Receipts can be published once voting is closed.") in flashes(
        html_of(response))
    with app.app_context():
        assert db.session.get(Gala, cast["gala"]).receipts_published_at is None
    assert "receipts.publish" not in audit_actions(app)
    assert client.get("/admin/receipts.csv").status_code == 409


def test_publish_receipts_from_the_dashboard(client, logged_in, app, closed):
    html = html_of(client.get("/admin/"))
    assert 'action="/admin/receipts/publish"' in html
    response = post_form(client, "/admin/", "/admin/receipts/publish", follow_redirects=True)
    html = html_of(response)
    assert ("success", "The receipts are published.") in flashes(html)
    assert 'href="/receipts"' in html and 'action="/admin/receipts/publish"' not in html
    with app.app_context():
        gala = db.session.get(Gala, closed["gala"])
        assert gala.receipts_published_at is not None
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "receipts.publish")).one()
        assert entry.details == {"receipts": 5}
    again = post_form(client, "/admin/", "/admin/receipts/publish",
                      headers={"Referer": "http://localhost/admin/"}, follow_redirects=True)
    assert [kind for kind, _ in flashes(html_of(again))] == ["error"]
    assert audit_actions(app).count("receipts.publish") == 1


def test_public_list_has_every_receipt_in_alphabetical_order_and_nothing_else(
        client, published):
    html = html_of(client.get("/receipts"))
    assert listed(html) == sorted(published["receipts"])
    assert "5 counted ballots" in html
    for leak in ("Łódź", "TikTok roku", "Wrocław"):
        assert leak not in html.split("<main", 1)[1], leak


def test_api_lists_the_receipts_only(client, published):
    response = client.get("/api/v1/receipts")
    assert response.status_code == 200
    body = response.get_json()
    assert body["receipts"] == sorted(published["receipts"])
    assert set(body) == {"receipts", "published_at"}


@pytest.mark.parametrize("typed", [
    lambda r: r, lambda r: r.lower(), lambda r: r.replace("-", " "),
    lambda r: r.replace("-", "").replace("0", "o").replace("1", "l"),
])
def test_search_finds_a_receipt_however_it_is_typed(client, published, typed):
    receipt = published["receipts"][2]
    html = html_of(client.get("/receipts", query_string={"q": typed(receipt)}))
    assert f"{receipt} is on the list: your ballot was counted." in html
    assert f"<mark>{receipt}</mark>" in html


def test_search_says_when_a_receipt_is_not_on_the_list(client, published):
    html = html_of(client.get("/receipts", query_string={"q": "zzzz-zzzz-zzzz"}))
    assert "ZZZZ-ZZZZ-ZZZZ is not on the list." in html
    html = html_of(client.get("/receipts", query_string={"q": "<script>" + "x" * 500}))
    assert "<script>" not in html and "is not on the list" in html


def test_admin_downloads_the_receipts_as_csv(client, logged_in, closed):
    response = client.get("/admin/receipts.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="receipts-2026.csv"')
    lines = response.get_data(as_text=True).split("\r\n")
    assert lines == ["receipt", *sorted(closed["receipts"]), ""]


def test_receipts_admin_routes_need_login_and_csrf(client, organizer, app, closed):
    assert client.get("/admin/receipts.csv").status_code == 302
    token = csrf_token(client, "/admin/login")
    response = client.post("/admin/receipts/publish", data={"csrf_token": token})
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    assert client.post("/admin/receipts/publish").status_code == 400
    with app.app_context():
        assert db.session.get(Gala, closed["gala"]).receipts_published_at is None


def test_cli_publish_receipts(app, runner, cast):
    early = runner.invoke(args=["voting", "publish-receipts"])
    assert early.exit_code == 1 and early.stderr.startswith("Error: ")
    assert runner.invoke(args=["voting", "close"]).exit_code == 0
    result = runner.invoke(args=["voting", "publish-receipts"])
    assert result.exit_code == 0, result.output
    assert result.output == "Receipts published: 5 (Gala Złotych Lajków 2026)\n"
    assert runner.invoke(args=["voting", "status"]).output.splitlines()[-1].startswith(
        "Receipts published: ")
    assert runner.invoke(args=["voting", "publish-receipts"]).exit_code == 1
