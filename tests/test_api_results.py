"""GET /api/v1/results and /results/<slug>: nothing of an outcome before its reveal (403, only
commitments), then a result anyone can check against its commitment; exact figures only where
the organizer made them public; errors in the one shape and the request's language."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from conftest import cast_votes
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from test_api_ballots import check_documented, polish, served_document
from test_voting_window import in_minutes, time_passes

from voting import results, services
from voting.extensions import db
from voting.models import AuditEntry, Category, Gala

NOT_REVEALED = "This category's result has not been revealed yet."


def sha256(nonce: str, text: str) -> str:
    return hashlib.sha256(f"{nonce}\n{text}".encode()).hexdigest()


def get(client: FlaskClient, path: str, **kwargs: Any) -> Any:
    response = client.get(f"/api/v1{path}", **kwargs)
    assert response.is_json
    assert response.headers["Cache-Control"] == "no-store"
    return response


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == code and body["fields"] == {}
    return body


def category_ids(app: Flask, gala_id: int) -> dict[str, int]:
    with app.app_context():
        return dict(db.session.execute(select(Category.slug, Category.id)
                                       .where(Category.gala_id == gala_id)).all())


def stored_commitments(app: Flask, gala_id: int) -> list[dict[str, Any]]:
    with app.app_context():
        return [{"slug": c.slug, "commitment": c.seals[-1].commitment,
                 "version": c.seals[-1].version}
                for c in results.gala_categories(db.session.get(Gala, gala_id))]


def outcomes(app: Flask, gala_id: int) -> dict[str, dict[str, Any]]:
    with app.app_context():
        return {o.category.slug: o.summary()
                for o in results.outcomes(db.session.get(Gala, gala_id))}


def reveal(app: Flask, gala_id: int, slug: str, public_figures: bool = False) -> None:
    category_id = category_ids(app, gala_id)[slug]
    with app.app_context():
        if public_figures:
            results.set_public_figures("test", category_id, True)
        results.reveal_category("test", category_id)


@pytest.fixture
def closed(app: Flask, voted_demo_gala: int) -> int:
    with app.app_context():
        services.close_voting("test", voted_demo_gala)
    return voted_demo_gala


# --- before the close --------------------------------------------------------------------------


def test_results_without_a_gala_are_a_404(client):
    document = served_document(client)
    for path in ("/results", "/results/tiktok-roku"):
        response = get(client, path)
        assert_error(response, 404, "not_found")
        check_documented(document, path.replace("tiktok-roku", "{slug}"), "get", response)


def test_results_before_the_close_are_empty_and_every_category_is_403(app, client,
                                                                       voted_demo_gala):
    document = served_document(client)
    listed = get(client, "/results")
    assert listed.status_code == 200
    assert listed.get_json() == {"categories": [], "sealed": []}
    check_documented(document, "/results", "get", listed)
    for slug in category_ids(app, voted_demo_gala):
        response = get(client, f"/results/{slug}")
        assert_error(response, 403, "not_revealed")
        check_documented(document, "/results/{slug}", "get", response)


# --- sealed, not revealed --------------------------------------------------------------------


def test_sealed_results_show_commitments_and_nothing_of_the_outcome(app, client, closed):
    names = {row["name"] for summary in outcomes(app, closed).values()
             for row in summary["ranking"]}
    listed = get(client, "/results")
    assert listed.status_code == 200
    body = listed.get_json()
    assert body["categories"] == []
    assert body["sealed"] == stored_commitments(app, closed)
    assert all(set(entry) == {"slug", "commitment", "version"} for entry in body["sealed"])
    raw = listed.get_data(as_text=True)
    assert not [name for name in names if name in raw or json.dumps(name) in raw]
    assert "winner" not in raw and "score" not in raw and "ranking" not in raw

    for slug in category_ids(app, closed):
        response = get(client, f"/results/{slug}")
        body = assert_error(response, 403, "not_revealed")
        assert set(body) == {"error", "message", "fields"}
        raw = response.get_data(as_text=True)
        assert not [name for name in names if name in raw or json.dumps(name) in raw]


def test_one_reveal_shows_that_category_only(app, client, closed):
    summaries = outcomes(app, closed)
    reveal(app, closed, "wideo-w-metropolii")
    body = get(client, "/results").get_json()
    assert [c["slug"] for c in body["categories"]] == ["wideo-w-metropolii"]
    assert body["sealed"] == stored_commitments(app, closed)
    raw = get(client, "/results").get_data(as_text=True)
    shown = {row["name"] for row in summaries["wideo-w-metropolii"]["ranking"]}
    checked = 0
    for slug, summary in summaries.items():
        if slug == "wideo-w-metropolii" or not summary["winners"]:
            continue
        winner = next(row["name"] for row in summary["ranking"]
                      if row["nominee_id"] == summary["winner"])
        if winner not in shown:  # a nominee of the revealed category may be named there
            assert winner not in raw and json.dumps(winner) not in raw, slug
            checked += 1
        assert_error(get(client, f"/results/{slug}"), 403, "not_revealed")
    assert checked >= 3  # the check above really ran for unrevealed winners


# --- revealed ------------------------------------------------------------------------------


def test_a_revealed_result_checks_against_its_commitment_without_figures(app, client, closed):
    summary = outcomes(app, closed)["wideo-w-metropolii"]
    reveal(app, closed, "wideo-w-metropolii")
    response = get(client, "/results/wideo-w-metropolii")
    assert response.status_code == 200
    check_documented(served_document(client), "/results/{slug}", "get", response)
    body = response.get_json()
    assert body["commitment"] == sha256(body["nonce"], body["result"]) == summary["commitment"]
    assert body["winner"] == summary["winner"] and body["winners"] == summary["winners"]
    assert body["ranking"] == [{k: row[k] for k in ("nominee_id", "name", "rank")}
                               for row in summary["ranking"]]
    for absent in ("figures", "figures_nonce", "ballots"):
        assert absent not in body
    assert all("score" not in row for row in body["ranking"])
    public = json.loads(body["result"])
    assert public["winner"] == summary["winner"]
    assert all(set(row) == {"nominee_id", "rank", "eligible"} for row in public["ranking"])
    assert body["history"] == [{"version": 1, "event": "seal",
                                "commitment": summary["commitment"], "at": body["history"][0][
                                    "at"]}]
    listed = get(client, "/results")
    assert listed.get_json()["categories"] == [body]
    check_documented(served_document(client), "/results", "get", listed)


@pytest.mark.parametrize("slug", ["wideo-w-mniejszym-miescie", "urzad-marszalkowski-w-social-"
                                  "mediach", "kampania-profrekwencyjna"])
def test_a_revealed_result_with_public_figures_checks_both_commitments(app, client, closed,
                                                                       slug):
    summary = outcomes(app, closed)[slug]
    reveal(app, closed, slug, public_figures=True)
    response = get(client, f"/results/{slug}")
    assert response.status_code == 200
    check_documented(served_document(client), "/results/{slug}", "get", response)
    body = response.get_json()
    assert body["commitment"] == sha256(body["nonce"], body["result"])
    public = json.loads(body["result"])
    assert public["figures"] == sha256(body["figures_nonce"], body["figures"])
    figures = json.loads(body["figures"])
    assert figures["slug"] == slug and figures["ballots"] == body["ballots"] == summary["ballots"]
    assert [(row["nominee_id"], row["score"]) for row in body["ranking"]] == [
        (row["nominee_id"], row["score"]) for row in summary["ranking"]]
    assert all(isinstance(row["score"], int | float) for row in body["ranking"])


def test_a_tie_decided_by_the_chair_then_revealed(app, client, small_gala):
    with app.app_context():
        services.open_voting("test", small_gala["gala"])
    single = {n["name"]: n["id"] for n in client.get("/api/v1/gala").get_json()["categories"][0][
        "nominees"]}
    cast_votes(app, small_gala["gala"], "audience", [{"tiktok-roku": n} for n in single.values()])
    with app.app_context():
        services.close_voting("test", small_gala["gala"])
    assert_error(get(client, "/results/tiktok-roku"), 403, "not_revealed")
    with app.app_context():
        results.decide("chair@example.com", small_gala["single"], [single["Wrocław"]],
                       "Rozstrzygnięcie przewodniczącego.")
        results.reveal_category("test", small_gala["single"])
    response = get(client, "/results/tiktok-roku")
    check_documented(served_document(client), "/results/{slug}", "get", response)
    body = response.get_json()
    assert (body["tie"], body["winner"], body["version"]) == (False, single["Wrocław"], 2)
    assert body["decision"]["by"] == "chair@example.com"
    assert body["decision"]["reason"] == "Rozstrzygnięcie przewodniczącego."
    assert [h["event"] for h in body["history"]] == ["seal", "decision"]
    assert body["history"][1]["commitment"] == body["commitment"]
    assert body["commitment"] == sha256(body["nonce"], body["result"])
    assert get(client, "/results").get_json()["sealed"] == stored_commitments(app,
                                                                              small_gala["gala"])


def test_the_first_look_after_a_scheduled_close_seals_once(app, client, small_gala):
    with app.app_context():
        services.open_voting("test", small_gala["gala"], closes_at=in_minutes(30))
    assert get(client, "/results").get_json() == {"categories": [], "sealed": []}
    time_passes(app, small_gala["gala"], in_minutes(-1))
    first = get(client, "/results").get_json()
    assert [entry["slug"] for entry in first["sealed"]] == ["tiktok-roku", "wideo-w-metropolii"]
    assert get(client, "/results").get_json() == first
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "results.seal")) == 1


# --- errors ------------------------------------------------------------------------------------


def test_an_unknown_slug_is_a_404_in_the_one_shape(app, client, closed):
    document = served_document(client)
    for slug in ("no-such-category", "x" * 500, "%C5%BC%C3%B3%C5%82w"):
        response = get(client, f"/results/{slug}")
        assert_error(response, 404, "not_found")
        check_documented(document, "/results/{slug}", "get", response)


def test_results_messages_are_polish_by_default_and_english_on_request(app, client, closed):
    assert get(client, "/results/tiktok-samorzadu").get_json()["message"] == polish(
        NOT_REVEALED)
    for kwargs in ({"query_string": {"lang": "en"}},
                   {"headers": {"Accept-Language": "en"}}):
        assert get(client, "/results/tiktok-samorzadu", **kwargs).get_json()["message"] == \
            NOT_REVEALED
        assert get(client, "/results/nope", **kwargs).get_json()["message"] == \
            "No such category."
    polish_404 = get(client, "/results/nope").get_json()["message"]
    assert polish_404 == polish("No such category.") != "No such category."


def test_documented_result_example_checks_against_its_commitments(client):
    document = served_document(client)
    example = document["paths"]["/results/{slug}"]["get"]["responses"]["200"]["content"][
        "application/json"]["example"]
    assert example["commitment"] == sha256(example["nonce"], example["result"])
    assert json.loads(example["result"])["figures"] == sha256(example["figures_nonce"],
                                                              example["figures"])
