"""The gala screen: display links, each state, the poll, the overlay and GET /api/v1/reveal."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from voting import display_links, results, reveal, services
from voting.errors import ValidationError
from voting.extensions import db
from voting.models import Gala

ACTOR = "presenter@example.com"


def display_url(app: Flask, path: str = "/display/") -> str:
    """`path` opened with a new display link, as a screen opens it."""
    with app.app_context():
        return f"{path}?key={display_links.create_link('test', 'tests')[1]}"


@pytest.fixture
def key(app: Flask) -> str:
    with app.app_context():
        return display_links.create_link("test", "projector")[1]


@pytest.fixture
def sealed(app: Flask, voted_demo_gala: int) -> int:
    """Closed and sealed, every decision of the chair recorded (joint winners where allowed)."""
    with app.app_context():
        services.close_voting("test", voted_demo_gala)
    return decide_all(app, voted_demo_gala)


def decide_all(app: Flask, voted_demo_gala: int) -> int:
    with app.app_context():
        for category in results.gala_categories(db.session.get(Gala, voted_demo_gala)):
            if results.outcome_of(category).public["winners"]:
                continue
            ids = sorted(n.id for n in category.nominations)
            try:
                results.decide("chair@example.com", category.id, ids[:2], "Ex aequo.")
            except ValidationError:
                results.decide("chair@example.com", category.id, ids[:1], "The chapter.")
    return voted_demo_gala


def step(app: Flask, gala_id: int, to: Any = "next", blank: bool | None = None) -> None:
    with app.test_request_context():
        reveal.move(ACTOR, gala_id, db.session.get(Gala, gala_id).reveal_version, to, blank)


def page(client: FlaskClient, key: str, path: str = "/display/", lang: str = "en") -> str:
    path, _, view = path.partition("?view=")
    query = {"key": key, "lang": lang, **({"view": view} if view else {})}
    response = client.get(path, query_string=query)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def winners_and_others(app: Flask, gala_id: int) -> list[tuple[Any, set[str], set[str]]]:
    """Per category in running order: the category, its winners' names, the other names."""
    with app.app_context():
        rows = []
        for category in results.gala_categories(db.session.get(Gala, gala_id)):
            won = set(results.outcome_of(category).public["winners"])
            names = {n.id: n.profile.name for n in category.nominations}
            rows.append((category.slug, {names[i] for i in won},
                         {name for i, name in names.items() if i not in won}))
        return rows


def everything(client: FlaskClient, key: str) -> str:
    """The page, the stage, the overlay, the poll's answer and the API: all a screen gets."""
    texts = [page(client, key), page(client, key, "/display/stage"),
             page(client, key, "/display/overlay"),
             page(client, key, "/display/stage?view=overlay"),
             client.get("/display/state", query_string={"key": key}).get_data(as_text=True),
             json.dumps(client.get("/api/v1/reveal").get_json(), ensure_ascii=False)]
    return "\n".join(texts)


# --- display links --------------------------------------------------------------------------


def test_display_needs_a_valid_display_link(app, client, demo_gala, key):
    with app.app_context():
        link, revoked = display_links.create_link("test", "old")
        display_links.revoke_link("test", link.id)
        gala_name = db.session.get(Gala, demo_gala).name
    for path in ("/display/", "/display/overlay", "/display/state", "/display/stage"):
        for query in ({}, {"key": "nonsense"}, {"key": key[:-2] + "xx"}, {"key": revoked}):
            response = client.get(path, query_string=query)
            html = response.get_data(as_text=True)
            assert response.status_code == 403, (path, query)
            assert "Ten ekran wymaga linku wyświetlacza" in html or "display link" in html
            assert gala_name not in html and "Kategoria" not in html
            assert response.headers["Cache-Control"] == "no-store"
    assert client.get("/display/", query_string={"key": key}).status_code == 200


def test_display_page_is_full_screen_polls_and_keeps_its_key_to_itself(client, demo_gala, key):
    response = client.get("/display/", query_string={"key": key})
    html = response.get_data(as_text=True)
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"
    assert 'src="/static/display.js"' in html and 'href="/static/display.css"' in html
    assert re.search(r'data-state-url="/display/state\?key=[^"]+"', html)
    assert re.search(r'data-stage-url="/display/stage\?[^"]*view=screen', html)
    assert '<html lang="pl"' in html and 'class="connection"' in html


# --- each state -----------------------------------------------------------------------------


def test_display_before_voting_shows_the_gala_and_its_categories(app, client, demo_gala, key):
    html = page(client, key, lang="en")
    with app.app_context():
        gala = db.session.get(Gala, demo_gala)
        categories = results.gala_categories(gala)
        assert gala.name in html and gala.venue in html
        assert all(c.name("en") in html for c in categories)
        names = {n.profile.name for c in categories for n in c.nominations}
    assert 'class="stage stage--before"' in html
    assert "Special mention of the jury <span class=\"tag\">Honourable mention</span>" in html
    assert not any(name in html for name in names)


def test_display_while_voting_shows_turnout_time_left_and_the_way_in(app, client,
                                                                     voted_demo_gala, key):
    closes_at = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=1)
    with app.app_context():
        db.session.execute(update(Gala).where(Gala.id == voted_demo_gala)
                           .values(closes_at=closes_at))
        db.session.commit()
    html = page(client, key, lang="en")
    assert f'data-closes-at="{closes_at.isoformat()}"' in html
    assert 'class="stage stage--voting"' in html and 'data-refresh="5000"' in html
    assert re.search(r"<strong>12</strong> / \d+</span>", html)
    assert re.search(r"<strong>20</strong> / \d+</span>", html)
    assert "ballots cast / cards issued" in html
    assert "<svg" in html and 'class="qr' in html
    assert "Have a printed card?" in html and ">localhost:5000</p>" in html
    stage = page(client, key, "/display/stage")
    assert "<html" not in stage and stage.lstrip().startswith("<main id=\"stage\"")


def test_display_sealed_shows_each_commitment_and_no_name(app, client, sealed, key):
    html = page(client, key, lang="pl")
    assert "Wyniki zapieczętowane" in html
    with app.app_context():
        for category in results.gala_categories(db.session.get(Gala, sealed)):
            assert f'title="{results.current_seal(category).commitment}"' in html
    for _slug, won, others in winners_and_others(app, sealed):
        assert not (won | others) & set(re.findall(r">([^<>]+)<", html))


def test_display_reveal_never_shows_a_winner_before_its_step(app, client, sealed, key):
    rows = winners_and_others(app, sealed)
    all_winners = set().union(*(won for _, won, _ in rows))
    revealed: set[str] = set()
    for number, (slug, won, others) in enumerate(rows, start=1):
        unseen = all_winners - revealed - others  # never mistake a namesake for a leak
        step(app, sealed)  # the title
        seen = everything(client, key)
        assert f"Category {number} of {len(rows)}" in page(client, key)
        assert not any(name in seen for name in unseen), slug
        step(app, sealed)  # the nominees
        seen = everything(client, key)
        assert all(name in page(client, key) for name in won | others)
        assert not any(name in seen for name in unseen - won - others), slug
        assert "winner" not in client.get("/api/v1/reveal").get_json()
        screen = page(client, key, "/display/stage")
        assert "winner" not in screen and "rank" not in screen
        step(app, sealed)  # the winner
        screen = page(client, key)
        assert all(name in screen for name in won)
        assert re.search("(Golden Like goes|honourable mention|special award)", screen, re.I)
        revealed |= won
    step(app, sealed)  # the summary
    screen = page(client, key)
    assert 'stage--summary' in screen and all(name in screen for name in all_winners)
    assert client.get("/api/v1/reveal").get_json() == {"state": "finished", "category": None,
                                                       "step": "summary"}


def test_display_blank_shows_nothing_and_comes_back(app, client, sealed, key):
    step(app, sealed)
    step(app, sealed, blank=True)
    html = page(client, key)
    assert 'class="stage stage--reveal stage--blank"' in html
    assert "Category" not in html
    assert client.get("/api/v1/reveal").get_json()["step"] == "blank"
    step(app, sealed, blank=False)
    assert "Category 1 of 10" in page(client, key)


def test_display_winner_headlines_per_award(app, client, sealed, key):
    rows = winners_and_others(app, sealed)
    with app.app_context():
        awards = [c.award for c in results.gala_categories(db.session.get(Gala, sealed))]
    headlines = {"award": "The Golden Like goes", "mention": "honourable mention goes to",
                 "special": "special award goes to"}
    jointly = {"award": "The Golden Like goes jointly to", "mention": "Honourable mentions go",
               "special": "Special awards go to"}
    assert {"mention", "special"} <= set(awards) and any(len(won) > 1 for _, won, _ in rows)
    for (_slug, won, _others), award in zip(rows, awards, strict=True):
        for _ in range(3):
            step(app, sealed)
        html = page(client, key, lang="en")
        assert (jointly if len(won) > 1 else headlines)[award] in html


# --- the poll -------------------------------------------------------------------------------


def test_display_poll_answers_204_until_the_version_changes(app, client, sealed, key):
    html = page(client, key)
    version = re.search(r'data-version="([^"]+)"', html).group(1)
    poll = client.get("/display/state", query_string={"key": key, "v": version})
    assert poll.status_code == 204 and poll.get_data() == b""
    assert poll.headers["Cache-Control"] == "no-store"
    step(app, sealed)
    poll = client.get("/display/state", query_string={"key": key, "v": version})
    assert poll.status_code == 200 and poll.get_json().keys() == {"version"}
    new = poll.get_json()["version"]
    assert new != version
    assert f'data-version="{new}"' in page(client, key, "/display/stage")
    assert client.get("/display/state", query_string={"key": key, "v": new}).status_code == 204


def test_display_poll_notices_voting_opening_and_closing(app, client, demo_gala, key):
    first = client.get("/display/state", query_string={"key": key}).get_json()["version"]
    with app.app_context():
        services.open_voting("test", demo_gala)
    opened = client.get("/display/state", query_string={"key": key, "v": first}).get_json()
    assert opened["version"] != first
    with app.app_context():
        services.close_voting("test", demo_gala)
    assert client.get("/display/state", query_string={"key": key, "v": opened["version"]}
                      ).status_code == 200


def test_display_poll_after_a_scheduled_close_seals_and_moves_on(app, client, demo_gala, key):
    with app.app_context():
        services.open_voting("test", demo_gala)
    opened = client.get("/display/state", query_string={"key": key}).get_json()["version"]
    with app.app_context():
        db.session.execute(update(Gala).where(Gala.id == demo_gala).values(
            closes_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
        db.session.commit()
    answer = client.get("/display/state", query_string={"key": key, "v": opened})
    assert answer.status_code == 200 and answer.get_json()["version"] != opened
    with app.app_context():
        assert db.session.get(Gala, demo_gala).sealed_at is not None


# --- the overlay and the API ----------------------------------------------------------------


def test_display_overlay_is_a_lower_third_with_the_winner_at_its_step(app, client, sealed, key):
    rows = winners_and_others(app, sealed)
    html = page(client, key, "/display/overlay")
    assert "gala-screen--overlay" in html and "lower-third\"" not in html
    step(app, sealed)
    html = page(client, key, "/display/overlay")
    assert 'class="lower-third"' in html and "Category" not in html
    assert re.search(r'data-stage-url="/display/stage\?[^"]*view=overlay', html)
    step(app, sealed)
    html = page(client, key, "/display/overlay")
    assert not any(name in html for name in rows[0][1])
    step(app, sealed)
    html = page(client, key, "/display/overlay")
    assert "lower-third--winner" in html and all(name in html for name in rows[0][1])


def test_api_reveal_follows_the_steps(app, client, demo_gala, key):
    response = client.get("/api/v1/reveal")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.get_json() == {"state": "before", "category": None, "step": None}
    with app.app_context():
        services.open_voting("test", demo_gala)
    assert client.get("/api/v1/reveal").get_json()["state"] == "voting"
    with app.app_context():
        services.close_voting("test", demo_gala)
    assert client.get("/api/v1/reveal").get_json()["state"] == "sealed"


def test_api_reveal_shape_at_each_step(app, client, sealed):
    rows = winners_and_others(app, sealed)
    step(app, sealed)
    body = client.get("/api/v1/reveal?lang=en").get_json()
    assert body.keys() == {"state", "category", "step"}
    assert body["state"] == "reveal" and body["step"] == "title"
    assert body["category"]["slug"] == rows[0][0] and body["category"].keys() == {"slug", "name"}
    step(app, sealed)
    assert client.get("/api/v1/reveal").get_json()["step"] == "nominees"
    step(app, sealed)
    body = client.get("/api/v1/reveal").get_json()
    winners = [body["winner"]] if "winner" in body else body["winners"]
    assert {w["name"] for w in winners} == rows[0][1]
    assert all(w.keys() == {"id", "name", "unit", "platform"} for w in winners)
    assert "rank" not in json.dumps(body) and "score" not in json.dumps(body)


def test_api_reveal_without_a_gala(client):
    assert client.get("/api/v1/reveal").get_json() == {"state": "before", "category": None,
                                                       "step": None}


# --- in a real browser ----------------------------------------------------------------------

SCREENS = {"1080p": {"width": 1920, "height": 1080}, "720p": {"width": 1280, "height": 720}}


def screens(browser: Any, live_server: str, app: Flask, path: str = "/display/") -> dict:
    from test_browser import Visit

    url = display_url(app, path)
    visits = {name: Visit(browser, live_server, size, "pl-PL") for name, size in SCREENS.items()}
    for visit in visits.values():
        visit.go(url)
    return visits


def shoot(visits: dict, selector: str, name: str) -> str:
    """Wait until every screen shows `selector` (by its own polling), screenshot each, and
    return what the last one's page holds."""
    for size, visit in visits.items():
        visit.page.wait_for_selector(selector, timeout=5000)
        visit.page.wait_for_timeout(2600)  # let the entrance animations end
        visit.shot(f"display-{name}-{size}")
    return visit.page.content()


@pytest.mark.slow
def test_browser_display_before_voting(app, browser, live_server):
    visits = screens(browser, live_server, app)
    shoot(visits, ".stage--before .categories li", "before")
    for visit in visits.values():
        visit.close()


@pytest.mark.slow
def test_browser_display_follows_the_gala_and_keeps_the_embargo(app, browser, live_server,
                                                                 voted_demo_gala):
    sealed_gala = voted_demo_gala
    closes_at = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=47)
    with app.app_context():
        db.session.execute(update(Gala).where(Gala.id == sealed_gala).values(closes_at=closes_at))
        db.session.commit()
    visits = screens(browser, live_server, app)
    overlay = screens(browser, live_server, app, "/display/overlay")["1080p"]
    received: list[str] = []  # every answer the screens got from the display's routes

    def keep(response: Any) -> None:
        if "/display/" in response.url and response.status == 200:
            received.append(response.text())

    for visit in [*visits.values(), overlay]:
        visit.page.on("response", keep)
    seen = shoot(visits, ".stage--voting .countdown__time:not(:empty)", "voting")
    assert "Głosowanie" in seen or "Voting is open" in seen
    with app.app_context():
        services.close_voting("test", sealed_gala)
    decide_all(app, sealed_gala)
    rows = winners_and_others(app, sealed_gala)
    shoot(visits, ".stage--sealed .commitments li", "sealed")
    first_winners = rows[0][1]
    step(app, sealed_gala)
    seen = shoot(visits, ".stage--title", "title")
    step(app, sealed_gala)
    seen = shoot(visits, ".stage--nominees .nominee", "nominees")
    assert not any(f"{name}</h1>" in seen for name in first_winners)
    overlay.page.wait_for_selector(".lower-third")
    overlay.shot("overlay-nominees-1080p")
    assert "lower-third--winner" not in overlay.page.content()
    overlay.page.wait_for_timeout(1500)  # a few more polls
    network = "\n".join(received)
    assert "stage--nominees" in network and "lower-third" in network
    # Winners' names end a heading only at their step; a namesake nominee may appear earlier.
    assert not any(f"{name}</h1>" in network for name in first_winners)
    assert "winner" not in network.replace("display-winner", "")
    step(app, sealed_gala)
    seen = shoot(visits, ".stage--winner .winner__name", "winner")
    assert all(name in seen for name in first_winners)
    visits["720p"].page.reload()  # a screen reloaded mid-reveal shows the current step
    assert visits["720p"].page.locator(".stage--winner .winner__name").count() == len(
        first_winners)
    overlay.page.wait_for_selector(".lower-third--winner")
    overlay.shot("overlay-winner-1080p")
    step(app, sealed_gala, blank=True)
    shoot(visits, ".stage--blank", "blank")
    step(app, sealed_gala, blank=False)
    joint = next(i for i, (_, won, _) in enumerate(rows) if len(won) > 1)
    with app.test_request_context():
        category_id = results.gala_categories(db.session.get(Gala, sealed_gala))[joint].id
    step(app, sealed_gala, category_id)
    step(app, sealed_gala)
    step(app, sealed_gala)
    shoot(visits, ".stage--winner .winners--2", "winner-joint")
    with app.test_request_context():
        rest = [c.id for c in results.gala_categories(db.session.get(Gala, sealed_gala))
                if c.revealed_at is None]
    for category_id in rest:  # the rest of the evening, quickly
        step(app, sealed_gala, category_id)
        step(app, sealed_gala)
        step(app, sealed_gala)
    step(app, sealed_gala, "summary")
    seen = shoot(visits, ".stage--summary .summary__row", "summary")
    assert seen.count('class="summary__row"') == len(rows)
    for visit in [*visits.values(), overlay]:
        visit.close()


@pytest.mark.slow
def test_browser_display_says_reconnecting_and_recovers(app, browser, live_server):
    visit = screens(browser, live_server, app)["720p"]
    page = visit.page
    page.route("**/display/state*", lambda route: route.abort())
    page.wait_for_selector("#connection:not([hidden])", timeout=5000)
    assert page.locator(".stage--before").count() == 1  # the last screen stays
    visit.shot("display-reconnecting-720p")
    page.unroute("**/display/state*")
    page.wait_for_selector("#connection", state="hidden", timeout=5000)
    visit.close()


@pytest.mark.slow
def test_browser_display_refreshes_the_turnout_while_voting(app, browser, live_server,
                                                            voted_demo_gala):
    import random

    from conftest import cast_votes, random_ballot
    from playwright.sync_api import expect

    visit = screens(browser, live_server, app)["720p"]
    audience = visit.page.locator(".turnout__group").nth(1)
    assert audience.locator("strong").inner_text() == "20"
    with app.app_context():
        categories = results.gala_categories(db.session.get(Gala, voted_demo_gala))
        ballot = random_ballot(categories, "audience", random.Random(5))
    cast_votes(app, voted_demo_gala, "audience", [ballot])
    # The version does not change while voting: the stage is refreshed every 5 seconds.
    expect(audience.locator("strong")).to_have_text("21", timeout=8000)
    assert "21</strong> / 21" in visit.page.content()
    visit.close()
