"""The results desk in the admin: sealed results, the chair's decisions, re-tallies, public
figures, the protocol, the exports and the presenter's reveal page. Through the test client
with CSRF on; pages read in English unless a test asks for Polish."""

from __future__ import annotations

import csv
import io
import json
import re
from html import unescape
from typing import Any

import pytest
from conftest import cast_votes, csrf_token, field_error, flashes, html_of, post_form
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale, gettext
from sqlalchemy import func, select

from voting import results, services
from voting.audit import verify_chain
from voting.extensions import db
from voting.models import AuditEntry, Ballot, Category, Gala, ResultSeal

FORMULA_NAME = '=HYPERLINK("http://evil.example","Gdynia")'


@pytest.fixture(autouse=True)
def english(client: FlaskClient) -> None:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


def polish(client: FlaskClient) -> None:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "pl"


def pl(app: Flask, msgid: str, **variables: Any) -> str:
    """The Polish the catalog has for a message (English until its translation is merged)."""
    with app.test_request_context(), force_locale("pl"):
        return gettext(msgid, **variables)


def text_of(html: str) -> str:
    """The page's text without tags, spaces collapsed: what a reader sees."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture
def gala_setup(app: Flask, small_gala: dict[str, int]) -> dict[str, Any]:
    """The small gala plus a score category (one nominee named like a spreadsheet formula)
    and an honourable mention the chapter decides; voting open."""
    gala_id = small_gala["gala"]
    with app.app_context():
        score = services.create_category("test", gala_id, {
            "name_pl": "Wideo roku", "name_en": "Video of the year", "method": "score",
            "score_min": 1, "score_max": 10, "min_scores": 2, "weights": {"jury": 100}})
        formula = services.create_profile("test", gala_id, {
            "name": FORMULA_NAME, "unit_name": "Miasto Gdynia", "unit_type": "miasto",
            "voivodeship": "pomorskie", "platform": "facebook",
            "url": "https://www.facebook.com/gdynia"})
        services.nominate("test", score.id, small_gala["lodz"])
        services.nominate("test", score.id, formula.id)
        mention = services.create_category("test", gala_id, {
            "name_pl": "Wyróżnienie kapituły", "name_en": "Chapter's mention",
            "method": "decision", "award": "mention"})
        services.nominate("test", mention.id, small_gala["lodz"])
        services.nominate("test", mention.id, small_gala["gdansk"])
        services.open_voting("test", gala_id)
        ids = {c.slug: {n.profile_id: n.id for n in c.nominations}
               for c in results.gala_categories(db.session.get(Gala, gala_id))}
        slugs = {db.session.get(Category, i).slug: i for i in
                 (small_gala["single"], small_gala["ranked"], score.id, mention.id)}
    return {**small_gala, "score": score.id, "mention": mention.id, "formula": formula.id,
            "ids": ids, "slugs": slugs}


@pytest.fixture
def closed(app: Flask, gala_setup: dict[str, Any]) -> dict[str, Any]:
    """Votes cast and voting closed: the single category tied 1:1, the ranked one won by
    Gdańsk, the score one won by Łódź (7.5 from two scores; the other has one, needs two)."""
    s, ids = gala_setup, gala_setup["ids"]
    single, ranked, scored = (ids["tiktok-roku"], ids["wideo-w-metropolii"],
                              ids["wideo-roku"])
    cast_votes(app, s["gala"], "audience", [{"tiktok-roku": single[s["lodz"]]},
                                            {"tiktok-roku": single[s["wroclaw"]]}])
    cast_votes(app, s["gala"], "jury", [
        {"wideo-w-metropolii": [ranked[s["gdansk"]], ranked[s["wroclaw"]]],
         "wideo-roku": {scored[s["lodz"]]: 8, scored[s["formula"]]: 7}},
        {"wideo-roku": {scored[s["lodz"]]: 7}}])
    with app.app_context():
        services.close_voting("test", s["gala"])
    return s


def seals_of(app: Flask, category_id: int) -> list[ResultSeal]:
    with app.app_context():
        return list(db.session.scalars(select(ResultSeal).where(
            ResultSeal.category_id == category_id).order_by(ResultSeal.version)))


def page(client: FlaskClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code)
    return html_of(response)


# --- Before the close ----------------------------------------------------------------------


def test_admin_results_before_the_close_say_sealed_at_close_and_show_no_figures(
        app, client, logged_in, gala_setup):
    s = gala_setup
    cast_votes(app, s["gala"], "audience", [{"tiktok-roku": s["ids"]["tiktok-roku"][s["lodz"]]}])
    html = page(client, "/admin/results")
    assert "Results are sealed when voting closes" in html
    assert "Voting is open." in html
    assert "TikTok roku" in html and "Wyróżnienie kapituły" in html
    assert "Commitment" not in html and "Winner" not in html
    assert "/admin/results/protocol" not in html and "/admin/results.csv" not in html
    detail = page(client, f"/admin/results/{s['single']}")
    assert "Nothing is counted before then" in detail
    assert "Ranking" not in detail and "Record the decision" not in detail
    token = csrf_token(client, "/admin/results")
    for path in ("/admin/results/protocol", "/admin/results.csv", "/admin/results.json",
                 "/admin/ballot-box.json"):
        response = (client.post(path, data={"csrf_token": token}) if "ballot-box" in path
                    else client.get(path))
        assert response.status_code == 409, path
        assert "Results are sealed when voting closes" in html_of(response)
    reveal = page(client, "/admin/reveal")
    assert "Nothing to reveal yet" in reveal and 'action="/admin/reveal/move"' not in reveal


def test_admin_results_pages_need_a_login(client, closed):
    for path in ("/admin/results", f"/admin/results/{closed['single']}", "/admin/reveal",
                 "/admin/results/protocol", "/admin/results.csv"):
        response = client.get(path)
        assert response.status_code == 302 and "/admin/login" in response.location, path
    response = client.post("/admin/ballot-box.json",
                           data={"csrf_token": csrf_token(client, "/admin/login")})
    assert response.status_code == 302 and "/admin/login" in response.location


# --- After the close -----------------------------------------------------------------------


def test_admin_results_list_after_the_close(app, client, logged_in, closed):
    html = page(client, "/admin/results")
    with app.app_context():
        the_gala = db.session.get(Gala, closed["gala"])
        fingerprint = the_gala.ballot_box_fingerprint
        commitments = {o.category.slug: o.seal.commitment for o in results.outcomes(the_gala)}
    assert fingerprint in html
    for commitment in commitments.values():
        assert f'<code class="commitment__code">{commitment}</code>' in html
    text = text_of(html)
    assert "Tie: awaiting the jury chair’s decision" in text  # the single category
    assert "Awaiting decision" in text  # the chapter's mention
    assert "Gdańsk" in text and "Honourable mention" in text and "Golden Like" in text
    assert "Every stored version matches its commitment." in text
    assert "no card data, no receipts" in text
    for link in ("/admin/results/protocol", "/admin/results.csv", "/admin/results.json",
                 f"/admin/results/{closed['ranked']}"):
        assert f'href="{link}"' in html, link
    assert 'action="/admin/ballot-box.json"' in html


def test_admin_result_shows_ranking_figures_and_eligibility(client, logged_in, closed):
    text = text_of(page(client, f"/admin/results/{closed['score']}"))
    assert "Mean score" in text and "7.5" in text  # English numbers while reading English
    assert "not eligible to win: 1 score, at least 2 needed" in text
    assert "more scores" in text and "higher median" in text
    assert "Ballots in this category 2" in text
    ranked = text_of(page(client, f"/admin/results/{closed['ranked']}"))
    assert "Points" in ranked and "Places: 1. × 1, 2. × 0" in ranked
    assert "more ballots with it in place 1" in ranked
    assert "Record the decision" not in ranked  # decided by the count: nothing to decide


def test_admin_result_numbers_the_polish_way(app, client, logged_in, closed):
    polish(client)
    text = text_of(page(client, f"/admin/results/{closed['score']}"))
    assert "7,5" in text and "7.5" not in text
    assert "Ranking z punktami za miejsca" in text_of(
        page(client, f"/admin/results/{closed['ranked']}"))


def test_admin_result_irv_rounds_and_weighted_groups(app, client, logged_in, voted_demo_gala):
    with app.app_context():
        services.close_voting("test", voted_demo_gala)
        by_slug = {c.slug: c.id for c in db.session.get(Gala, voted_demo_gala).categories}
    irv = text_of(page(client, f"/admin/results/{by_slug['urzad-marszalkowski-w-social-mediach']}"))
    assert "Rounds of the instant runoff" in irv and "Round 1" in irv
    assert "Exhausted ballots" in irv
    assert "more votes in the final round" in irv
    weighted = text_of(page(client, f"/admin/results/{by_slug['kampania-profrekwencyjna']}"))
    assert "Results by voter group" in weighted and "Weighted result" in weighted
    assert "Jury · weight 70%" in weighted and "Audience · weight 30%" in weighted
    assert "higher share in the jury vote (weight 70%)" in weighted
    assert "%" in weighted and "Share" in weighted
    for category_id in by_slug.values():
        page(client, f"/admin/results/{category_id}")  # every method renders
    assert "Protocol of the voting results" in page(client, "/admin/results/protocol")


# --- The chair's decision ------------------------------------------------------------------


@pytest.mark.parametrize(("case", "field"), [
    ("no reason", "reason"),
    ("not among the tied", "winners"),
    ("two without ex aequo", "winners"),
    ("nobody", "winners"),
    ("not a number", "winners"),
])
def test_admin_decision_refused_shows_the_reason_and_records_nothing(
        app, client, logged_in, closed, case, field):
    s = closed
    tied = s["ids"]["tiktok-roku"]
    data = {
        "no reason": {"winners": [tied[s["lodz"]]], "reason": "  "},
        "not among the tied": {"winners": [s["ids"]["wideo-w-metropolii"][s["gdansk"]]],
                               "reason": "Losowanie"},
        "two without ex aequo": {"winners": list(tied.values()), "reason": "Oba świetne"},
        "nobody": {"reason": "Nikt"},
        "not a number": {"winners": ["x"], "reason": "Zła wartość"},
    }[case]
    before = seals_of(app, s["single"])
    path = f"/admin/results/{s['single']}"
    response = post_form(client, path, f"{path}/decide", data)
    assert response.status_code == 422
    html = html_of(response)
    assert field_error(html, field), (case, html)
    assert [kind for kind, _ in flashes(html)] == ["error"]
    assert "Record the decision" in html  # the form is still there, with what was sent
    assert len(seals_of(app, s["single"])) == len(before) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)
                                 .where(AuditEntry.action == "results.decide")) == 0


def test_admin_decision_offers_only_the_tied_as_radio_buttons(client, logged_in, closed):
    html = page(client, f"/admin/results/{closed['single']}")
    choices = re.findall(r'<input type="(\w+)" name="winners" value="(\d+)"', html)
    assert sorted(int(v) for _, v in choices) == sorted(closed["ids"]["tiktok-roku"].values())
    assert {kind for kind, _ in choices} == {"radio"}
    assert "The count ends in a tie between: Łódź – TikTok, Wrocław." in text_of(html)


def test_admin_decision_is_recorded_as_a_new_version(app, client, logged_in, closed):
    s = closed
    winner = s["ids"]["tiktok-roku"][s["wroclaw"]]
    path = f"/admin/results/{s['single']}"
    response = post_form(client, path, f"{path}/decide",
                         {"winners": [winner], "reason": "Większa aktywność w tym roku"})
    assert response.status_code == 302 and response.location.endswith(path)
    html = page(client, path)
    assert ("success", "The decision is recorded and sealed as version 2.") in flashes(html)
    seals = seals_of(app, s["single"])
    assert [seal.event for seal in seals] == ["seal", "decision"]
    text = text_of(html)
    assert "Decision of the jury chair: Wrocław" in text
    assert "Większa aktywność w tym roku" in text and "jury.chair@example.com" in text
    assert "Version 2 · Decision of the jury chair current" in text
    assert seals[1].commitment in html and seals[0].commitment in html
    assert "Record the decision" not in html  # decided: the form goes
    with app.app_context():
        assert results.verify_seals(db.session.get(Gala, s["gala"])) == []


def test_admin_decision_ex_aequo_takes_checkboxes_and_several_winners(
        app, client, logged_in, closed):
    with app.app_context():  # the rules allowed joint winners from the start (set here late)
        category = db.session.get(Category, closed["single"])
        category.ex_aequo = True
        db.session.commit()
    path = f"/admin/results/{closed['single']}"
    html = page(client, path)
    assert set(re.findall(r'<input type="(\w+)" name="winners"', html)) == {"checkbox"}
    response = post_form(client, path, f"{path}/decide",
                         {"winners": list(closed["ids"]["tiktok-roku"].values()),
                          "reason": "Równorzędne kampanie"})
    assert response.status_code == 302
    text = text_of(page(client, path))
    assert "ex aequo" in text and "Łódź – TikTok, Wrocław" in text


def test_admin_chapter_decides_a_mention_among_all_nominees(app, client, logged_in, closed):
    path = f"/admin/results/{closed['mention']}"
    html = page(client, path)
    assert "This award is decided by the chapter" in html
    offered = sorted(int(v) for v in re.findall(r'name="winners" value="(\d+)"', html))
    assert offered == sorted(closed["ids"]["wyroznienie-kapituly"].values())
    assert "Count again" not in html  # nothing counted, nothing to count again
    winner = closed["ids"]["wyroznienie-kapituly"][closed["gdansk"]]
    assert post_form(client, path, f"{path}/decide",
                     {"winners": [winner], "reason": "Kampania o Westerplatte"}
                     ).status_code == 302
    text = text_of(page(client, "/admin/results"))
    assert "Gdańsk decision of the jury chair" in text


# --- Re-tally and public figures -----------------------------------------------------------


def test_admin_retally_needs_a_reason_then_records_a_version(app, client, logged_in, closed):
    path = f"/admin/results/{closed['ranked']}"
    response = post_form(client, path, f"{path}/retally", {"retally_reason": ""})
    assert response.status_code == 422
    assert field_error(html_of(response), "retally_reason") == (
        "Say why the category is counted again.")
    assert len(seals_of(app, closed["ranked"])) == 1
    response = post_form(client, path, f"{path}/retally",
                         {"retally_reason": "Kontrola po skardze"})
    assert response.status_code == 302
    html = page(client, path)
    assert ("success", "Counted again and sealed as version 2: the figures are the same."
            ) in flashes(html)
    seals = seals_of(app, closed["ranked"])
    assert [seal.event for seal in seals] == ["seal", "retally"]
    assert seals[1].reason == "Kontrola po skardze" and "Kontrola po skardze" in html
    assert seals[1].figures == seals[0].figures and seals[1].commitment != seals[0].commitment


def test_admin_public_figures_toggle(app, client, logged_in, closed):
    path = f"/admin/results/{closed['ranked']}"
    html = page(client, path)
    assert "Now: only ranks and winners are public." in html
    assert re.search(r'name="public" type="hidden" value="on"', html)
    response = post_form(client, path, f"{path}/figures", {"public": "on"})
    assert response.status_code == 302
    html = page(client, path)
    assert ("success", "Exact figures of this category will be public once it is revealed."
            ) in flashes(html)
    assert "Now: exact figures are public after the reveal." in html
    with app.app_context():
        assert db.session.get(Category, closed["ranked"]).public_figures is True
    assert post_form(client, path, f"{path}/figures", {"public": "off"}).status_code == 302
    response = post_form(client, path, f"{path}/figures", {"public": "maybe"})
    assert response.status_code == 422
    with app.app_context():
        assert db.session.get(Category, closed["ranked"]).public_figures is False


def test_admin_result_of_another_gala_or_unknown_is_404(client, logged_in, closed):
    assert client.get("/admin/results/999999").status_code == 404
    assert client.get("/admin/results.xml").status_code == 404
    path = f"/admin/results/{closed['ranked']}"
    assert post_form(client, path, "/admin/results/999999/decide",
                     {"reason": "x"}).status_code == 404


# --- Protocol and exports ------------------------------------------------------------------


def test_admin_protocol_has_what_the_chair_signs(app, client, logged_in, closed):
    polish(client)
    html = page(client, "/admin/results/protocol")
    with app.app_context():
        the_gala = db.session.get(Gala, closed["gala"])
        head = verify_chain().head
        commitments = [o.seal.commitment for o in results.outcomes(the_gala)]
        fingerprint = the_gala.ballot_box_fingerprint
    assert fingerprint in html and head in html
    assert all(commitment in html for commitment in commitments)
    text = text_of(html)
    for label in ("Protocol of the voting results", "Chair of the jury",
                  "Member of the counting committee", "Head of the audit trail", "Turnout",
                  "Tie-break chain"):
        assert pl(app, label) in text, label
    assert "Gala Złotych Lajków 2026" in text and "Warszawa" in text
    assert "Ranking z punktami za miejsca" in text and "Oceny (wygrywa najwyższa średnia)" in text
    assert "7,5" in text
    assert 'data-print hidden' in html and "results-print.css" in html and "<script>" not in html
    # every category, in running order
    order = [text.index(name) for name in ("TikTok roku", "Wideo w metropolii", "Wideo roku",
                                           "Wyróżnienie kapituły")]
    assert order == sorted(order)


def test_admin_protocol_shows_decisions_and_versions(app, client, logged_in, closed):
    winner = closed["ids"]["tiktok-roku"][closed["lodz"]]
    path = f"/admin/results/{closed['single']}"
    post_form(client, path, f"{path}/decide", {"winners": [winner], "reason": "Rzut monetą"})
    text = text_of(page(client, "/admin/results/protocol"))
    assert "Decision of the jury chair: Łódź – TikTok" in text and "Rzut monetą" in text
    assert "Version 2 · Decision of the jury chair" in text
    assert "The audit trail verifies" in text


def test_admin_results_csv_export(app, client, logged_in, closed):
    response = client.get("/admin/results.csv")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="results-2026.csv"'
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["category", "category_name", "method", "rank", "nominee_id", "nominee",
                       "score", "winner", "commitment"]
    by = {(row[0], row[5]): row for row in rows[1:]}
    assert by[("wideo-w-metropolii", "Gdańsk")][3:] == [
        "1", str(closed["ids"]["wideo-w-metropolii"][closed["gdansk"]]), "Gdańsk", "3", "yes",
        seals_of(app, closed["ranked"])[0].commitment]
    assert by[("wideo-roku", "Łódź – TikTok")][6:8] == ["7.5", "yes"]
    assert by[("tiktok-roku", "Wrocław")][7] == "no"  # a tie has no winner yet
    assert ("wideo-roku", "'" + FORMULA_NAME) in by  # the formula is text, not a formula
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)
    mention = [row for row in rows if row[0] == "wyroznienie-kapituly"]
    assert len(mention) == 2 and {row[3] for row in mention} == {""}


def test_admin_results_json_export(app, client, logged_in, closed):
    response = client.get("/admin/results.json")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="results-2026.json"'
    document = response.get_json()
    with app.app_context():
        the_gala = db.session.get(Gala, closed["gala"])
        assert document["ballot_box"] == the_gala.ballot_box_fingerprint
        assert document["sealed_at"] == the_gala.sealed_at.isoformat()
    assert document["gala"] == {"year": 2026, "name": "Gala Złotych Lajków 2026",
                                "date": "2026-11-28", "venue": "Warszawa"}
    categories = {c["slug"]: c for c in document["categories"]}
    assert list(categories) == ["tiktok-roku", "wideo-w-metropolii", "wideo-roku",
                                "wyroznienie-kapituly"]
    single = categories["tiktok-roku"]
    assert single["tie"] is True and single["winner"] is None and single["ballots"] == 2
    assert sorted(single["tied"]) == sorted(closed["ids"]["tiktok-roku"].values())
    score = categories["wideo-roku"]
    assert score["ranking"][0]["score"] == 7.5 and score["figures"]["ranking"][0]["score"] == "15/2"
    seal = seals_of(app, closed["score"])[0]
    assert json.dumps(score["figures"], sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False) == seal.figures  # the very text committed to
    assert score["commitment"] == seal.commitment


def test_admin_ballot_box_export_is_anonymous(app, client, logged_in, closed):
    response = client.post("/admin/ballot-box.json",
                           data={"csrf_token": csrf_token(client, "/admin/results")})
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="ballot-box-2026.json"'
    body = response.get_data(as_text=True)
    document = json.loads(body)
    assert len(document["ballots"]) == 4
    assert all(set(ballot) == {"group", "marks"} for ballot in document["ballots"])
    with app.app_context():
        for ballot in db.session.scalars(select(Ballot)):
            assert ballot.receipt not in body and ballot.id not in body
        assert document["fingerprint"] == db.session.get(Gala, closed["gala"]
                                                         ).ballot_box_fingerprint
    assert "code" not in body and "receipt" not in body


# --- The reveal ----------------------------------------------------------------------------


def test_admin_reveal_waits_for_the_chairs_decision_then_previews_the_winner(
        app, client, logged_in, closed):
    """The remote itself is tested in test_admin_reveal.py; here, with the results desk: a
    tie the chair has not decided holds the reveal at its nominees until the decision."""
    from test_admin_reveal import press

    s = closed
    assert "TikTok of the year · category title" in text_of(press(client))
    text = text_of(press(client))  # its nominees: next, the tied winner step
    assert "The jury chair must decide this category first" in text
    for hidden in ("Wrocław", "Łódź", "Gdańsk", "Commitment", "Points", "Votes"):
        assert hidden not in text, hidden
    html = press(client)
    assert "awaits the jury chair's decision" in flashes(html)[0][1]
    with app.app_context():
        assert db.session.get(Category, s["single"]).revealed_at is None
        results.decide("chair", s["single"], [s["ids"]["tiktok-roku"][s["wroclaw"]]], "Powód")
    text = text_of(page(client, "/admin/reveal"))
    assert "winner — Wrocław" in text and "Łódź" not in text and "Gdańsk" not in text
    text = text_of(press(client))
    assert "TikTok of the year · winner Wrocław" in text
    with app.app_context():
        assert db.session.get(Category, s["single"]).revealed_at is not None


def test_admin_revealed_result_can_no_longer_change(app, client, logged_in, closed):
    with app.app_context():  # reveal in running order: the tie decided, then the ranked one
        results.decide("chair", closed["single"], [closed["ids"]["tiktok-roku"][closed["lodz"]]],
                       "Powód")
        results.reveal_category("chair", closed["single"])
        results.reveal_category("chair", closed["ranked"])
    path = f"/admin/results/{closed['ranked']}"
    html = page(client, path)
    assert "Count again" not in html and "revealed" in html
    response = post_form(client, path, f"{path}/retally", {"retally_reason": "Za późno"})
    assert response.status_code == 409
    assert "can no longer change" in html_of(response)
    assert len(seals_of(app, closed["ranked"])) == 1


# --- In a real browser -----------------------------------------------------------------------


@pytest.mark.slow
def test_admin_results_in_a_browser_on_a_phone_and_a_big_screen(
        app, browser, live_server, organizer, voted_demo_gala):
    from test_browser import ARTIFACTS, PHONE, PROJECTOR, Visit

    with app.app_context():
        services.close_voting("test", voted_demo_gala)
        by_slug = {c.slug: c.id for c in db.session.get(Gala, voted_demo_gala).categories}
    pages = {"results": "/admin/results",
             "result-weighted": f"/admin/results/{by_slug['kampania-profrekwencyjna']}",
             "result-irv": f"/admin/results/{by_slug['urzad-marszalkowski-w-social-mediach']}",
             "result-score": f"/admin/results/{by_slug['wideo-w-mniejszym-miescie']}",
             "result-decision": f"/admin/results/{by_slug['zloty-lajk-europa']}",
             "protocol": "/admin/results/protocol", "reveal": "/admin/reveal"}
    for device, viewport in (("phone", PHONE), ("desktop", PROJECTOR)):
        visit = Visit(browser, live_server, viewport, "pl-PL")
        page = visit.log_in(organizer["email"], organizer["password"])
        page.wait_for_url(live_server + "/admin/**")
        for name, path in pages.items():
            page = visit.go(path)
            assert page.locator("h1").count() == 1
            visit.shot(f"{device}-{name}")
        page = visit.go("/admin/results/protocol")
        assert page.get_by_role("button", name=pl(app, "Print")).is_visible()  # JS shows it
        visit.close()
    # Printed, on an A4 sheet's width (210 mm at 96 dpi): the page alone, no navigation.
    visit = Visit(browser, live_server, {"width": 794, "height": 1123}, "pl-PL")
    page = visit.log_in(organizer["email"], organizer["password"])
    page.wait_for_url(live_server + "/admin/**")
    page = visit.go("/admin/results/protocol")
    page.emulate_media(media="print")
    assert not page.locator(".topbar").is_visible()
    assert not page.locator(".protocol-actions").is_visible()
    assert page.locator(".signature").count() == 4
    visit.shot("a4-protocol-print")
    page.pdf(path=str(ARTIFACTS / "protocol.pdf"), format="A4", print_background=True)
    visit.close()
