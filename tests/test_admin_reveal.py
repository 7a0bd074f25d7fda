"""The presenter's remote (/admin/reveal) and the display links (/admin/display-links, `flask
display ...`). Through the test client with CSRF on, pages read in English; the version a page
carries is read from it, as a phone's browser would send it back."""

from __future__ import annotations

import re
from typing import Any

import pytest
from conftest import flashes, html_of, post_form
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale, pgettext
from sqlalchemy import func, select
from test_admin_results import pl, text_of
from test_roles import log_in_as

from voting import display_links, results, reveal, roles, services
from voting.extensions import db
from voting.models import AuditEntry, Gala

VERSION_RE = re.compile(r'name="version" value="(\d+)"')


@pytest.fixture(autouse=True)
def english(client: FlaskClient) -> None:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def sealed(app: Flask, voted_demo_gala: int) -> int:
    with app.app_context():
        services.close_voting("test", voted_demo_gala)
    return voted_demo_gala


def categories(app: Flask, gala_id: int) -> list[dict[str, Any]]:
    """Each category in running order with its winners' names (None: the chair decides)."""
    with app.app_context():
        found = []
        for category in results.gala_categories(db.session.get(Gala, gala_id)):
            outcome = results.outcome_of(category)
            winners = outcome.public["winners"]
            found.append({"id": category.id, "name": category.name("en"),
                          "balloted": category.balloted,
                          "winners": [outcome.names[w] for w in winners] if winners else None})
        return found


def state(app: Flask, gala_id: int) -> tuple[int | None, bool, int]:
    with app.app_context():
        gala = db.session.get(Gala, gala_id)
        return gala.reveal_position, gala.reveal_blank, gala.reveal_version


def remote(client: FlaskClient) -> str:
    response = client.get("/admin/reveal")
    assert response.status_code == 200
    return html_of(response)


def press(client: FlaskClient, to: Any = "next", version: int | None = None) -> str:
    """Press a button of the remote as the page shows it; return the page it leads back to."""
    page = remote(client)
    if version is None:
        version = int(VERSION_RE.search(page).group(1))
    response = post_form(client, "/admin/reveal", "/admin/reveal/move",
                         {"version": version, "to": to})
    assert response.status_code == 303 and response.location.endswith("/admin/reveal")
    return remote(client)


def blank(client: FlaskClient, on: bool) -> str:
    version = int(VERSION_RE.search(remote(client)).group(1))
    response = post_form(client, "/admin/reveal", "/admin/reveal/blank",
                         {"version": version, "blank": "on" if on else "off"})
    assert response.status_code == 303
    return remote(client)


def now_and_next(html: str) -> tuple[str, str]:
    now = re.search(r'<section class="remote-now.*?</section>', html, re.S).group(0)
    upcoming = re.search(r'<section class="remote-next.*?</section>', html, re.S).group(0)
    return text_of(now).strip(), text_of(upcoming).strip()


# --- Stepping --------------------------------------------------------------------------------


def test_admin_reveal_steps_through_a_category_and_back(app, client, logged_in, sealed):
    first = categories(app, sealed)[0]
    now, upcoming = now_and_next(remote(client))
    assert "The sealed results" in now
    assert f"Category 1 of 10 · {first['name']} · category title" in upcoming
    now, upcoming = now_and_next(press(client))
    assert f"Category 1 of 10 · {first['name']} · category title" in now
    assert f"Category 1 of 10 · {first['name']} · nominees" in upcoming
    assert state(app, sealed)[0] == 0
    now, upcoming = now_and_next(press(client))
    assert "· nominees" in now and "· winner — " + ", ".join(first["winners"]) in upcoming
    now, upcoming = now_and_next(press(client))
    assert "· winner" in now and ", ".join(first["winners"]) in now
    assert "Category 2 of 10" in upcoming and "category title" in upcoming
    now, _ = now_and_next(press(client, "previous"))
    assert f"{first['name']} · nominees" in now and state(app, sealed)[0] == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "reveal.step")) == 4


def test_admin_reveal_previews_the_next_step_and_nothing_beyond(app, client, logged_in, sealed):
    listed = categories(app, sealed)
    all_winners = {name for c in listed for name in c["winners"] or []}
    html = remote(client)
    with app.app_context():
        steps = reveal.steps_of(results.gala_categories(db.session.get(Gala, sealed)))
    for position in range(-1, 6):  # before the first step, then two whole categories
        current = steps[position] if position >= 0 else None
        upcoming = steps[position + 1]
        may_show = set()
        for step in (current, upcoming):
            if step is not None and step.kind == "winner":
                may_show |= set(next(c for c in listed if c["id"] == step.category.id
                                     )["winners"])
        text = text_of(html)
        for name in all_winners - may_show:
            assert name not in text, (position, name)
        for name in may_show:
            assert name in text, (position, name)
        for figure in ("Points", "Votes", "rank", "Commitment"):
            assert figure not in text
        html = press(client)


def test_admin_reveal_jumps_to_a_category_and_to_the_summary(app, client, logged_in, sealed):
    third = categories(app, sealed)[2]
    html = remote(client)
    assert f'<option value="{third["id"]}"' in html and '<option value="summary"' in html
    now, _ = now_and_next(press(client, third["id"]))
    assert f"Category 3 of 10 · {third['name']} · category title" in now
    assert state(app, sealed)[0] == 6
    html = press(client, "summary")
    now, upcoming = now_and_next(html)
    assert "Summary of winners" in now and "end of the reveal" in upcoming
    assert re.search(r'value="next"[^>]*disabled', html)
    html = press(client, "999999")
    assert ("error", "Choose a category of this gala.") in flashes(html)


def test_admin_reveal_blanks_the_screen_and_brings_it_back(app, client, logged_in, sealed):
    press(client)
    html = blank(client, True)
    assert state(app, sealed)[:2] == (0, True)
    assert "The screen is blanked" in html and "Show the screen again" in html
    html = blank(client, False)
    assert state(app, sealed)[:2] == (0, False)
    assert "The screen is blanked" not in html and "Blank the screen" in html


def test_admin_reveal_a_stale_version_moves_nothing(app, client, logged_in, sealed):
    press(client)
    stale = state(app, sealed)[2]
    with app.app_context():  # another presenter moves on meanwhile
        reveal.move("other@example.com", sealed, stale, "next")
    html = press(client, "next", version=stale)
    assert state(app, sealed)[0] == 1
    kind, message = flashes(html)[0]
    assert kind == "info" and "The screen has moved on in the meantime" in message
    assert "· nominees" in now_and_next(html)[0]  # the fresh state
    response = post_form(client, "/admin/reveal", "/admin/reveal/move", {"to": "next"})
    assert response.status_code == 303 and state(app, sealed)[0] == 1
    assert "The form could not be read" in remote(client)


def test_admin_reveal_an_undecided_category_waits_for_the_chair(app, client, logged_in, sealed):
    mention = next(c for c in categories(app, sealed) if c["winners"] is None)
    press(client, mention["id"])
    html = press(client)
    _, upcoming = now_and_next(html)
    assert "The jury chair must decide this category first" in upcoming
    assert re.search(r'value="next"[^>]*disabled', html)
    position = state(app, sealed)[0]
    html = press(client)  # an old page's button, pressed anyway
    assert "awaits the jury chair's decision" in flashes(html)[0][1]
    assert state(app, sealed)[0] == position


def test_admin_reveal_before_sealing_shows_no_buttons(app, client, logged_in, voted_demo_gala):
    html = remote(client)
    assert "Nothing to reveal yet" in html and 'action="/admin/reveal/move"' not in html
    response = post_form(client, "/admin/reveal", "/admin/reveal/move",
                         {"version": 0, "to": "next"})
    assert response.status_code == 303
    assert "once voting is closed" in remote(client)
    assert state(app, voted_demo_gala)[0] is None


def test_admin_reveal_speaks_polish(app, client, logged_in, sealed):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "pl"
    html = remote(client)
    with app.test_request_context(), force_locale("pl"):
        labels = pgettext("reveal", "Next"), pgettext("reveal", "Previous")
    assert f">{labels[0]}</button>" in html and f">{labels[1]}</button>" in html
    assert 'lang="pl"' in html and pl(app, "Reveal") in html


# --- Roles -----------------------------------------------------------------------------------


def test_admin_reveal_roles(app, sealed):
    presenter = log_in_as(app, roles.PRESENTER)
    html = press(presenter)
    assert state(app, sealed)[0] == 0
    assert "/admin/display-links" not in html
    assert presenter.get("/admin/display-links").status_code == 403
    assert log_in_as(app, roles.DESK).get("/admin/reveal").status_code == 403
    chair = log_in_as(app, roles.CHAIR)
    assert chair.get("/admin/reveal").status_code == 200
    assert chair.get("/admin/display-links").status_code == 403


# --- Display links ---------------------------------------------------------------------------


def test_admin_display_links_create_copy_and_revoke(app, client, logged_in, demo_gala):
    assert "/admin/display-links" in remote(client)
    response = post_form(client, "/admin/display-links", data={"label": "Rzutnik"})
    assert response.status_code == 302
    html = html_of(client.get("/admin/display-links"))
    assert ("success", "Display link created: open it on the screen's computer.") in flashes(html)
    base = app.config["PUBLIC_BASE_URL"] + "/display/?key="
    token = re.search(rf'value="{re.escape(base)}([^"]+)"', html).group(1)
    assert "Rzutnik" in html and 'data-copy="url-' in html and "display-links.js" in html
    with app.app_context():
        link = display_links.link_for(token)
        assert link.label == "Rzutnik" and link.created_by == "jury.chair@example.com"
    response = post_form(client, "/admin/display-links", "/admin/display-links/revoke",
                         {"link": link.id})
    assert response.status_code == 302
    html = html_of(client.get("/admin/display-links"))
    assert ("success", "Display link “Rzutnik” revoked.") in flashes(html)
    assert token not in html and "revoked" in html
    with app.app_context():
        assert display_links.link_for(token) is None
    post_form(client, "/admin/display-links", "/admin/display-links/revoke", {"link": link.id})
    html = html_of(client.get("/admin/display-links"))
    assert ("error", "This display link is already revoked.") in flashes(html)
    response = post_form(client, "/admin/display-links", data={"label": "x" * 101})
    assert response.status_code == 422


def test_admin_display_links_from_the_command_line(app, runner, demo_gala):
    result = runner.invoke(args=["display", "link", "--label", "OBS"])
    assert result.exit_code == 0, result.output
    url = result.output.strip().splitlines()[-1]
    assert url.startswith(app.config["PUBLIC_BASE_URL"] + "/display/?key=")
    with app.app_context():
        link = display_links.link_for(url.split("key=", 1)[1])
        assert link.label == "OBS"
    result = runner.invoke(args=["display", "links"])
    assert f"#{link.id}\tOBS" in result.output and url in result.output
    result = runner.invoke(args=["display", "revoke", str(link.id)])
    assert result.exit_code == 0 and "Revoked display link" in result.output
    assert "revoked" in runner.invoke(args=["display", "links"]).output
    result = runner.invoke(args=["display", "revoke", str(link.id)])
    assert result.exit_code == 1 and result.output.startswith("Error: ")


# --- In a real browser -----------------------------------------------------------------------


@pytest.mark.slow
def test_admin_reveal_in_a_browser_on_a_phone_and_a_big_screen(
        app, browser, live_server, organizer, voted_demo_gala):
    from test_accessibility import violations
    from test_browser import PHONE, PROJECTOR, Visit

    with app.app_context():
        services.close_voting("test", voted_demo_gala)
        display_links.create_link("test", "Rzutnik w sali")
        revoked, _token = display_links.create_link("test", "Stary laptop")
        display_links.revoke_link("test", revoked.id)
    for device, viewport in (("phone", PHONE), ("desktop", PROJECTOR)):
        visit = Visit(browser, live_server, viewport, "pl-PL", bypass_csp=True)  # for axe
        visit.log_in(organizer["email"], organizer["password"])
        page = visit.go("/admin/reveal")
        if device == "phone":  # mid-reveal: the first category's nominees, its winner next
            for _ in range(2):
                with page.expect_navigation():
                    page.click("button[value=next]")
        box = page.locator("button[value=next]").bounding_box()
        assert box["height"] >= 90 and box["width"] >= 180
        assert page.locator(".remote-next__winner").is_visible()  # the winner is next
        visit.shot(f"{device}-reveal-remote")
        assert violations(page) == []
        page = visit.go("/admin/display-links")
        assert page.locator("button[data-copy]").first.is_visible()  # the JS showed it
        visit.shot(f"{device}-display-links")
        assert violations(page) == []
        visit.close()
