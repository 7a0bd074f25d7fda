"""The card desk in the admin: issuing (printable sheet and CSV), the list, revoking and
re-issuing. Through the test client with CSRF on, pages read in English."""

from __future__ import annotations

import csv
import io
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from conftest import csrf_token, field_error, flashes, html_of, post_form
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from voting import cards, services
from voting.ballots import card_keys, cast_ballot
from voting.errors import ValidationError
from voting.extensions import db
from voting.models import AuditEntry, Gala, Token

CODE_RE = re.compile(r'<p class="vcard__code">([0-9A-Z]{5}-[0-9A-Z]{5})</p>')


@pytest.fixture(autouse=True)
def english(client: FlaskClient) -> None:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"





def batch_of(html: str) -> str:
    return re.search(r'name="batch" type="hidden" value="([0-9a-f]{32})"', html).group(1)


def issue(client: FlaskClient, output: str = "print", **fields: Any) -> Any:
    """Fill the issuing form of the card desk as a browser would, and send it."""
    page = html_of(client.get("/admin/cards"))
    data = {"csrf_token": csrf_token(client, "/admin/cards"), "batch": batch_of(page),
            "group": "jury", "output": output, **fields}
    return client.post("/admin/cards", data=data)


def stored(app: Flask) -> list[Token]:
    with app.app_context():
        found = list(db.session.scalars(select(Token).order_by(Token.id)))
        for card in found:
            _ = card.recusals  # loaded while the session is open
        return found


def audit_actions(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# --- permissions ---------------------------------------------------------------------------


def test_card_desk_needs_a_logged_in_organizer(client, organizer, app, small_gala):
    assert client.get("/admin/cards").status_code == 302
    assert client.get("/admin/cards", headers={"Accept": "application/json"}).status_code == 401
    token = csrf_token(client, "/admin/login")
    with app.app_context():
        card = cards.issue_cards("test", small_gala["gala"], "jury",
                                 card_keys(app.config), count=1)[0]
    for url in ("/admin/cards", "/admin/cards/csv", "/admin/cards/revoke",
                "/admin/cards/reissue"):
        response = client.post(url, data={"csrf_token": token, "group": "jury", "count": "3",
                                          "card": str(card.number)})
        assert response.status_code == 302, url
        assert "/admin/login" in response.headers["Location"], url
    assert len(stored(app)) == 1 and stored(app)[0].revoked_at is None


def test_card_desk_mutations_need_the_csrf_token(client, logged_in, app, small_gala):
    with app.app_context():
        card = cards.issue_cards("test", small_gala["gala"], "jury",
                                 card_keys(app.config), count=1)[0]
    for url in ("/admin/cards", "/admin/cards/csv", "/admin/cards/revoke",
                "/admin/cards/reissue"):
        response = client.post(url, data={"group": "jury", "count": "3", "output": "csv",
                                          "card": str(card.number)})
        assert response.status_code == 400, url
    assert len(stored(app)) == 1 and stored(app)[0].revoked_at is None


def test_admin_nav_links_to_the_card_desk(client, logged_in, small_gala):
    html = html_of(client.get("/admin/"))
    assert 'href="/admin/cards"' in html
    page = html_of(client.get("/admin/cards"))
    assert 'href="/admin/cards" aria-current="page"' in page


# --- issuing ---------------------------------------------------------------------------------


def test_issue_labelled_cards_with_recusals_answers_with_the_printable_sheet(
        client, logged_in, app, small_gala):
    response = issue(client, labels="Anna Nowak\r\n\r\n  Jan Kowalski  \r\n",
                     recuse_profiles=[str(small_gala["lodz"])], recuse_units=["Miasto Wrocław"])
    assert response.status_code == 200
    html = html_of(response)
    assert "These codes are shown only now." in html
    assert html.count('<article class="vcard">') == 2
    assert html.count('<section class="sheet"') == 1
    codes = CODE_RE.findall(html)
    assert len(codes) == 2 and len(set(codes)) == 2
    assert "Anna Nowak" in html and "Jan Kowalski" in html
    assert "Gala Złotych Lajków 2026" in html
    # The how-to in both languages, always (the Polish line comes from the catalogue).
    assert html.count('<span lang="pl">') >= 2 and html.count('<span lang="en">') >= 2
    assert "Scan the QR code or type the code at localhost:5000" in html
    found = stored(app)
    assert [(c.group, c.label) for c in found] == [("jury", "Anna Nowak"),
                                                   ("jury", "Jan Kowalski")]
    for card in found:
        assert {r.profile_id for r in card.recusals if r.profile_id} == {small_gala["lodz"]}
        assert [r.unit_name for r in card.recusals if r.unit_name] == ["Miasto Wrocław"]
        assert card.batch and len(card.batch) == 32
    # Only digests are kept: no code and no link appears in the database.
    assert not any(code in (c.code_digest, c.token_digest) for c in found for code in codes)
    assert "cards.issue" in audit_actions(app)


def test_printable_sheet_has_8_cards_a_sheet_and_local_svg_qr_codes(
        client, logged_in, app, small_gala):
    html = html_of(issue(client, group="audience", count="10"))
    sheets = html.split('<section class="sheet"')[1:]
    assert [sheet.count('<article class="vcard">') for sheet in sheets] == [8, 2]
    urls = re.findall(r'name="url" value="([^"]+)"', html)
    assert len(urls) == 10 and all(u.startswith("http://localhost:5000/v/") for u in urls)
    # Each card's QR code is an inline SVG made here from the card's own link.
    assert html.count('<svg viewBox=') == 10
    for url in urls:
        assert str(cards.qr_svg(url)) in html
    # Nothing is loaded from elsewhere: no image and no outside address in any src or href.
    assert "<img" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "@page" in (Path(app.static_folder) / "cards.css").read_text(encoding="utf-8")
    assert 'href="/static/cards.css"' in html


def test_issue_and_download_csv_gives_the_same_format_as_the_cli(
        client, logged_in, app, small_gala):
    response = issue(client, output="csv", labels="Anna Nowak\n=HYPERLINK(\"x\")\n+48 600")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="cards-2026-jury-')
    assert response.headers["Cache-Control"] == "no-store"
    text = response.get_data(as_text=True)
    rows = csv_rows(text)
    assert rows[0] == ["code", "url", "group", "label"]
    assert [(r[2], r[3]) for r in rows[1:]] == [
        ("jury", "Anna Nowak"), ("jury", "'=HYPERLINK(\"x\")"), ("jury", "'+48 600")]
    assert all(re.fullmatch(r"[0-9A-Z]{5}-[0-9A-Z]{5}", r[0]) for r in rows[1:])
    assert all(r[1].startswith("http://localhost:5000/v/") for r in rows[1:])
    issued = [cards.IssuedCard(code=r[0], url=r[1], group=r[2], label=label)
              for r, label in zip(rows[1:], ["Anna Nowak", '=HYPERLINK("x")', "+48 600"],
                                  strict=True)]
    assert text == cards.cards_csv(issued)  # the one function the CLI prints with, too
    assert len(stored(app)) == 3


def test_issued_cards_vote(client, logged_in, app, small_gala):
    rows = csv_rows(issue(client, output="csv", group="audience", count="2").get_data(
        as_text=True))
    with app.app_context():
        services.open_voting("test", small_gala["gala"])
        gala = db.session.get(Gala, small_gala["gala"])
        receipt = cast_ballot(gala, rows[1][0], {}, card_keys(app.config)).receipt
    assert receipt


def test_the_printable_sheets_csv_button_sends_back_the_same_csv(
        client, logged_in, app, small_gala):
    html = html_of(issue(client, labels="Anna Nowak\n=cmd"))
    fields = {name: re.findall(rf'name="{name}" value="([^"]*)"', html)
              for name in ("code", "url", "group", "label", "number")}
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = client.post("/admin/cards/csv", data={"csrf_token": token, **{
        name: [unescape(v) for v in values] for name, values in fields.items()}})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = csv_rows(response.get_data(as_text=True))
    assert [r[0] for r in rows[1:]] == fields["code"]
    assert [r[3] for r in rows[1:]] == ["Anna Nowak", "'=cmd"]
    # Anything that is not the shape of a card is refused, not turned into a file.
    for bad in ({"code": ["nope", fields["code"][1]]},
                {"url": ["https://evil.example/v/x", fields["url"][1]]},
                {"group": ["jury"]},
                {"label": ["two\nlines", "x"]}):
        refused = client.post("/admin/cards/csv", data={"csrf_token": token, **fields, **bad})
        assert refused.status_code == 400, bad
    assert len(stored(app)) == 2  # nothing was issued by any of this


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({}, "count", "Between 1 and 2000 cards at a time."),
    ({"count": "0"}, "count", None),
    ({"count": "2001", "output": "csv"}, "count", "Between 1 and 2000 cards at a time."),
    ({"count": "zwei"}, "count", None),
    ({"count": "3", "labels": "Anna\nJan"}, "count",
     "Give either a number of cards or their labels."),
    ({"labels": "A" * 201}, "labels", "A label is one line of at most 200 characters."),
    ({"count": "1", "group": "organizers"}, "group", None),
    ({"count": "1", "recuse_profiles": ["999999"]}, "recuse_profiles", None),
    ({"count": "1", "recuse_units": ["Miasto Nieistniejące"]}, "recuse_units", None),
])
def test_issue_bad_input_shows_the_field_error_and_issues_nothing(
        client, logged_in, app, small_gala, fields, field, message):
    response = issue(client, **fields)
    assert response.status_code == 422
    html = html_of(response)
    error = field_error(html, field)
    assert error, html
    if message:
        assert error == message
    assert stored(app) == []
    assert "cards.issue" not in audit_actions(app)


def test_a_printout_holds_at_most_400_cards_a_csv_more(client, logged_in, app, small_gala):
    response = issue(client, group="audience", count="401")
    assert response.status_code == 422
    assert field_error(html_of(response), "count") == (
        "At most 400 cards on one printout: issue them in smaller batches, or as CSV.")
    labels = "\n".join(f"Osoba {n}" for n in range(401))
    assert field_error(html_of(issue(client, labels=labels)), "labels")
    assert stored(app) == []
    rows = csv_rows(issue(client, output="csv", group="audience", count="401").get_data(
        as_text=True))
    assert len(rows) == 402 and len(stored(app)) == 401


def test_a_recused_profile_of_another_gala_is_refused(client, logged_in, app, small_gala):
    with app.app_context():
        other = services.create_gala("test", {"name": "Gala 2027", "date": "2027-11-27"})
        stranger = services.create_profile("test", other.id, {
            "name": "Obcy", "unit_name": "Gmina Obca", "unit_type": "gmina",
            "platform": "facebook", "url": "https://www.facebook.com/obcy"}).id
        services.switch_gala("test", small_gala["gala"])
        with pytest.raises(ValidationError):
            cards.issue_cards("test", small_gala["gala"], "jury", card_keys(app.config),
                              count=1, recused_profile_ids=[stranger])
    response = issue(client, count="1", recuse_profiles=[str(stranger)])
    assert response.status_code == 422 and field_error(html_of(response), "recuse_profiles")
    assert stored(app) == []


def test_the_same_form_sent_twice_issues_once(client, logged_in, app, small_gala):
    page = html_of(client.get("/admin/cards"))
    data = {"csrf_token": csrf_token(client, "/admin/cards"), "batch": batch_of(page),
            "group": "jury", "count": "3", "output": "print"}
    first = client.post("/admin/cards", data=data)
    assert first.status_code == 200 and len(CODE_RE.findall(html_of(first))) == 3
    again = client.post("/admin/cards", data={**data, "output": "csv"})
    assert again.status_code == 409
    html = html_of(again)
    assert ("error", "These cards were already issued: the form was sent twice. Their codes "
            "were shown only once; if you do not have them, revoke them in the list.") in (
        flashes(html))
    assert batch_of(html) != data["batch"]  # the form on screen is a new batch
    assert len(stored(app)) == 3


def test_no_cards_once_voting_is_closed(client, logged_in, app, small_gala):
    with app.app_context():
        services.open_voting("test", small_gala["gala"])
        services.close_voting("test", small_gala["gala"])
    html = html_of(client.get("/admin/cards"))
    assert "Voting in this gala is closed: no new cards." in html
    assert 'action="/admin/cards"' not in html.replace('action="/admin/cards#list"', "")
    response = post_form(client, "/admin/", "/admin/cards",
                         data={"group": "jury", "count": "1", "output": "print"})
    assert response.status_code == 409
    assert stored(app) == []


# --- the list ----------------------------------------------------------------------------------


@pytest.fixture
def voted(app: Flask, small_gala: dict[str, int]) -> dict[str, Any]:
    """Three jurors and two audience cards; Anna and one audience card voted, Jan revoked."""
    keys = card_keys(app.config)
    with app.app_context():
        jury = cards.issue_cards("test", small_gala["gala"], "jury", keys,
                                 labels=["Anna Nowak", "Jan Kowalski", "Ewa Zielińska"],
                                 recused_units=["Miasto Wrocław"])
        audience = cards.issue_cards("test", small_gala["gala"], "audience", keys, count=2)
        services.open_voting("test", small_gala["gala"])
        gala = db.session.get(Gala, small_gala["gala"])
        single = db.session.get(services.Category, small_gala["single"])
        lodz = next(n.id for n in single.nominations if n.profile_id == small_gala["lodz"])
        ranked = db.session.get(services.Category, small_gala["ranked"])
        gdansk = next(n.id for n in ranked.nominations if n.profile_id == small_gala["gdansk"])
        receipts = [
            cast_ballot(gala, jury[0].code, {ranked.slug: [gdansk]}, keys).receipt,
            cast_ballot(gala, audience[0].code, {single.slug: lodz}, keys).receipt,
        ]
        cards.revoke_card("test", jury[1].number)
    return {"jury": jury, "audience": audience, "receipts": receipts, **small_gala}


def rows_of(html: str) -> list[tuple[str, str]]:
    """(label, status) of each card row listed."""
    rows = re.findall(r'<tr id="card-\d+">(.*?)</tr>', html, re.S)
    result = []
    for row in rows:
        label = re.search(r'<td class="c-label">(.*?)</td>', row, re.S).group(1)
        status = re.search(r'<span class="status status--(\w+)"', row).group(1)
        result.append((re.sub(r"<[^>]+>", "", label).strip(), status))
    return result


def test_card_list_by_group_and_label_with_status_and_counts(client, logged_in, voted):
    html = html_of(client.get("/admin/cards"))
    assert rows_of(html) == [
        ("Anna Nowak", "used"), ("Ewa Zielińska", "unused"), ("Jan Kowalski", "revoked"),
        ("no label", "used"), ("no label", "unused")]
    tallies = re.findall(r"<dd>(?:<a [^>]+>)?(\d+)", html)
    assert tallies == ["3", "1", "1", "1", "2", "1", "1", "0"]  # jury, then audience
    assert "Miasto Wrocław" in html  # the jurors' recusal


def test_card_list_filters_who_has_not_voted_yet(client, logged_in, voted):
    html = html_of(client.get("/admin/cards?group=jury&status=unused"))
    assert rows_of(html) == [("Ewa Zielińska", "unused")]
    assert rows_of(html_of(client.get("/admin/cards?status=used"))) == [
        ("Anna Nowak", "used"), ("no label", "used")]
    assert rows_of(html_of(client.get("/admin/cards?status=revoked"))) == [
        ("Jan Kowalski", "revoked")]
    assert len(rows_of(html_of(client.get("/admin/cards?group=audience")))) == 2
    # Unknown filters are ignored, not errors.
    assert len(rows_of(html_of(client.get("/admin/cards?group=x&status=y&page=zz")))) == 5
    assert "No cards match." in html_of(client.get("/admin/cards?group=audience&status=revoked"))


def test_card_list_never_says_what_was_voted(client, logged_in, voted):
    # The issuing form above the list offers the profiles for recusal; the list is below it.
    html = html_of(client.get("/admin/cards")).split('id="list"', 1)[1]
    for leak in (*voted["receipts"], "Łódź – TikTok", "Gdańsk", "TikTok roku",
                 "Wideo w metropolii"):
        assert leak not in html, leak


def test_card_list_pages_through_many_cards(client, logged_in, app, small_gala):
    with app.app_context():
        cards.issue_cards("test", small_gala["gala"], "audience", card_keys(app.config),
                          count=130)
    first = html_of(client.get("/admin/cards"))
    assert len(rows_of(first)) == 100 and "Page 1 of 2" in first
    assert len(rows_of(html_of(client.get("/admin/cards?page=2")))) == 30


# --- revoking and re-issuing --------------------------------------------------------------------


def test_revoke_an_unused_card(client, logged_in, app, voted):
    ewa = voted["jury"][2].number
    response = post_form(client, "/admin/cards", "/admin/cards/revoke", data={"card": ewa},
                         follow_redirects=True)
    assert response.status_code == 200
    assert ("success", f"Card No. {ewa} is revoked: it can no longer vote.") in flashes(
        html_of(response))
    assert [c.revoked_at is not None for c in stored(app) if c.id == ewa] == [True]
    assert audit_actions(app).count("cards.revoke") == 2


def test_revoke_a_used_card_is_refused_and_changes_nothing(client, logged_in, app, voted):
    anna = voted["jury"][0].number
    response = post_form(client, "/admin/cards", "/admin/cards/revoke", data={"card": anna},
                         headers={"Referer": "http://localhost/admin/cards"},
                         follow_redirects=True)
    assert ("error", "This card has already voted; its ballot stays counted.") in flashes(
        html_of(response))
    assert [c.revoked_at for c in stored(app) if c.id == anna] == [None]


def test_revoke_and_reissue_prints_a_replacement_with_the_same_label_and_recusals(
        client, logged_in, app, voted):
    ewa = voted["jury"][2].number
    response = post_form(client, "/admin/cards", "/admin/cards/reissue", data={"card": ewa})
    assert response.status_code == 200
    html = html_of(response)
    assert f"Card No. {ewa} is revoked; here is its replacement" in html
    assert html.count('<article class="vcard">') == 1 and "Ewa Zielińska" in html
    [code] = CODE_RE.findall(html)
    old, new = [c for c in stored(app) if c.label == "Ewa Zielińska"]
    assert old.id == ewa and old.revoked_at is not None
    assert new.revoked_at is None and new.used_at is None and new.group == "jury"
    assert [r.unit_name for r in new.recusals] == ["Miasto Wrocław"]
    assert f"No. {new.id}" in html
    assert "cards.reissue" in audit_actions(app)
    # The replacement votes; the revoked card does not.
    with app.app_context():
        keys = card_keys(app.config)
        assert cards.find_card(voted["gala"], code, keys).id == new.id


def test_reissue_twice_makes_one_replacement(client, logged_in, app, voted):
    ewa = voted["jury"][2].number
    token = csrf_token(client, "/admin/cards")
    assert client.post("/admin/cards/reissue",
                       data={"csrf_token": token, "card": ewa}).status_code == 200
    again = client.post("/admin/cards/reissue", data={"csrf_token": token, "card": ewa},
                        headers={"Referer": "http://localhost/admin/cards"},
                        follow_redirects=True)
    assert ("error", "This card is already revoked.") in flashes(html_of(again))
    assert len([c for c in stored(app) if c.label == "Ewa Zielińska"]) == 2


def test_reissue_a_used_card_is_refused(client, logged_in, app, voted):
    anna = voted["jury"][0].number
    response = post_form(client, "/admin/cards", "/admin/cards/reissue", data={"card": anna},
                         headers={"Referer": "http://localhost/admin/cards"},
                         follow_redirects=True)
    assert ("error", "This card has already voted; its ballot stays counted.") in flashes(
        html_of(response))
    assert len([c for c in stored(app) if c.label == "Anna Nowak"]) == 1


def test_a_card_button_without_a_card_number_is_a_bad_request(client, logged_in, voted):
    for action in ("revoke", "reissue"):
        for card in ({}, {"card": "x"}, {"card": "0"}):
            response = post_form(client, "/admin/cards", f"/admin/cards/{action}", data=card)
            assert response.status_code == 400, (action, card)
        assert post_form(client, "/admin/cards", f"/admin/cards/{action}",
                         data={"card": "999999"}).status_code == 404


def test_a_card_of_another_gala_is_not_found(client, logged_in, app, voted):
    with app.app_context():
        other = services.create_gala("test", {"name": "Gala 2027", "date": "2027-11-27"})
        stranger = cards.issue_cards("test", other.id, "jury", card_keys(app.config),
                                     count=1)[0]
        services.switch_gala("test", voted["gala"])
    for action in ("revoke", "reissue"):
        response = post_form(client, "/admin/cards", f"/admin/cards/{action}",
                             data={"card": stranger.number})
        assert response.status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Token).where(
            Token.revoked_at.is_not(None))) == 1  # only Jan, from the fixture


# --- in a real browser ------------------------------------------------------------------------

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "browser"
MM = 96 / 25.4  # CSS pixels per millimetre


@pytest.mark.slow
def test_browser_issues_and_prints_cards_on_a4_sheets(browser, live_server, organizer):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="pl-PL")
    page = context.new_page()
    elsewhere = []
    page.on("request", lambda request: None if request.url.startswith(live_server)
            else elsewhere.append(request.url))
    page.goto(live_server + "/admin/login")
    page.fill("#email", organizer["email"])
    page.fill("#password", organizer["password"])
    page.click("button[type=submit]")
    page.wait_for_url(live_server + "/admin/")
    page.goto(live_server + "/admin/cards")
    page.fill("#labels", "\n".join(["Anna Nowak", "Jan Kowalski-Wiśniewski",
                                    "Prof. Małgorzata Brzęczyszczykiewicz-Żółtowska",
                                    "Ewa", "Piotr", "Zofia", "Marek", "Kasia", "Tomasz"]))
    page.click("button[value=print]")
    page.wait_for_selector(".vcard")
    assert page.locator(".sheet").count() == 2 and page.locator(".vcard").count() == 9

    page.emulate_media(media="print")
    sheet = page.locator(".sheet").first.bounding_box()
    assert abs(sheet["width"] - 210 * MM) < 1 and abs(sheet["height"] - 297 * MM) < 2
    card = page.locator(".vcard").first.bounding_box()
    assert abs(card["width"] - 105 * MM) < 1 and abs(card["height"] - 297 / 4 * MM) < 1
    qr = page.locator(".vcard .qr").first.bounding_box()
    assert 30 * MM < qr["width"] < 40 * MM  # a QR code a phone reads from arm's length
    code = page.locator(".vcard__code").first.bounding_box()
    assert code["x"] + code["width"] <= card["x"] + card["width"]  # the code fits its card
    assert page.locator(".printout__intro").is_hidden()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "cards-print.png"), full_page=True)
    pdf = page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
    (ARTIFACTS / "cards.pdf").write_bytes(pdf)
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 2
    assert elsewhere == []
    context.close()
