"""The voting window: its phase, opening with a closing time, moving it, closing for good, a
passed closing time counting as closed everywhere; in the admin and on the command line.

Times are always relative to now, so these tests hold on any day.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from conftest import field_error, flashes, html_of, post_form
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from voting import cards, services, window
from voting.ballots import card_keys, cast_ballot, voting_is_open
from voting.errors import ConflictError, ValidationError, VotingNotOpenError
from voting.extensions import db
from voting.models import AuditEntry, Gala, Token, utcnow
from voting.validation import GALA_TIMEZONE


@pytest.fixture(autouse=True)
def english(client: FlaskClient) -> None:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"





def local_input(moment: dt.datetime) -> str:
    """A moment as a datetime-local input sends it: Warsaw wall-clock time, to the minute."""
    return moment.astimezone(GALA_TIMEZONE).strftime("%Y-%m-%dT%H:%M")


def in_minutes(minutes: float) -> dt.datetime:
    return (utcnow() + dt.timedelta(minutes=minutes)).replace(second=0, microsecond=0)


def gala_of(app: Flask, gala_id: int) -> Gala:
    with app.app_context():
        gala = db.session.get(Gala, gala_id)
        db.session.expunge(gala)
        return gala


def audit_actions(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


def time_passes(app: Flask, gala_id: int, closes_at: dt.datetime) -> None:
    """Play the clock: the scheduled closing time is now `closes_at` (in the past)."""
    with app.app_context():
        db.session.execute(update(Gala).where(Gala.id == gala_id).values(closes_at=closes_at))
        db.session.commit()


# --- the phase ----------------------------------------------------------------------------


def test_voting_phase_draft_open_closed_and_a_passed_closing_time():
    now = utcnow()
    assert window.voting_phase(Gala(voting_state="draft"), now) == "draft"
    assert window.voting_phase(Gala(voting_state="open"), now) == "open"
    assert window.voting_phase(Gala(voting_state="closed"), now) == "closed"
    soon = Gala(voting_state="open", closes_at=now + dt.timedelta(minutes=1))
    assert window.voting_phase(soon, now) == "open"
    assert window.voting_phase(soon, now + dt.timedelta(minutes=1)) == "closed"
    # A draft with a closing time in the past is still a draft (opening it is refused).
    assert window.voting_phase(Gala(voting_state="draft", closes_at=now), now) == "draft"
    # The same answer as the ballots' own check, at every one of these moments.
    for gala in (soon, Gala(voting_state="open"), Gala(voting_state="closed")):
        for moment in (now, now + dt.timedelta(hours=1)):
            assert (window.voting_phase(gala, moment) == "open") == voting_is_open(gala, moment)


def test_window_of_reports_what_the_admin_shows():
    now = utcnow()
    gala = Gala(voting_state="open", closes_at=now + dt.timedelta(minutes=25))
    state = window.window_of(gala, now)
    assert (state.phase, state.remaining) == ("open", dt.timedelta(minutes=25))
    later = window.window_of(gala, now + dt.timedelta(hours=1))
    assert (later.phase, later.closed_at, later.remaining) == ("closed", gala.closes_at, None)


# --- opening ------------------------------------------------------------------------------


def test_open_from_the_dashboard_with_a_closing_time(client, logged_in, app, small_gala):
    closes = in_minutes(90)
    response = post_form(client, "/admin/", "/admin/voting/open",
                         data={"closes_at": local_input(closes)}, follow_redirects=True)
    assert response.status_code == 200
    assert ("success", "Voting is open. Nominees and methods are now frozen.") in flashes(
        html_of(response))
    gala = gala_of(app, small_gala["gala"])
    assert (gala.voting_state, gala.closes_at) == ("open", closes)
    html = html_of(response)
    clock = closes.astimezone(GALA_TIMEZONE).strftime("%H:%M")
    assert re.search(rf"closes at (\d+ \w+, )?{clock} \(in (1 hour|9\d minutes|89 minutes)\)",
                     html), html
    assert 'action="/admin/voting/schedule"' in html and 'action="/admin/voting/close"' in html
    assert "voting.open" in audit_actions(app)


def test_open_without_a_closing_time_leaves_none(client, logged_in, app, small_gala):
    post_form(client, "/admin/", "/admin/voting/open", data={"closes_at": ""})
    gala = gala_of(app, small_gala["gala"])
    assert (gala.voting_state, gala.closes_at) == ("open", None)
    assert "No scheduled end: voting stays open until you close it." in html_of(
        client.get("/admin/"))


@pytest.mark.parametrize(("typed", "message"), [
    ("past", "The closing time must be in the future."),
    ("2026-13-45T25:61", "Not a valid datetime value."),
])
def test_open_with_a_bad_closing_time_shows_the_field_error_and_stays_a_draft(
        client, logged_in, app, small_gala, typed, message):
    value = local_input(in_minutes(-5)) if typed == "past" else typed
    response = post_form(client, "/admin/", "/admin/voting/open", data={"closes_at": value})
    assert response.status_code == 422
    assert field_error(html_of(response), "closes_at") == message
    assert gala_of(app, small_gala["gala"]).voting_state == "draft"
    assert "voting.open" not in audit_actions(app)


def test_open_refuses_a_closing_time_from_the_gala_form_that_has_passed(app, small_gala):
    time_passes(app, small_gala["gala"], in_minutes(-1))
    with app.test_request_context(), pytest.raises(ValidationError) as caught:
        services.open_voting("test", small_gala["gala"])
    assert set(caught.value.errors) == {"closes_at"}
    assert gala_of(app, small_gala["gala"]).voting_state == "draft"


# --- moving the closing time -------------------------------------------------------------------


@pytest.fixture
def opened(app: Flask, small_gala: dict[str, int]) -> dict[str, int]:
    with app.app_context():
        services.open_voting("test", small_gala["gala"], closes_at=in_minutes(60))
    return small_gala


def test_move_the_closing_time_while_voting_is_open(client, logged_in, app, opened):
    later = in_minutes(180)
    response = post_form(client, "/admin/", "/admin/voting/schedule",
                         data={"closes_at": local_input(later)}, follow_redirects=True)
    assert ("success", "The scheduled end of voting is saved.") in flashes(html_of(response))
    assert gala_of(app, opened["gala"]).closes_at == later
    # The dashboard's form shows the time now set, in Warsaw time.
    assert f'value="{local_input(later)}"' in html_of(response)
    sooner = in_minutes(10)
    post_form(client, "/admin/", "/admin/voting/schedule", data={"closes_at": local_input(sooner)})
    assert gala_of(app, opened["gala"]).closes_at == sooner
    post_form(client, "/admin/", "/admin/voting/schedule", data={"closes_at": ""})
    assert gala_of(app, opened["gala"]).closes_at is None
    with app.app_context():
        moves = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "voting.schedule_close")).all()
        assert len(moves) == 3 and moves[-1].details["to"] is None


def test_a_closing_time_in_the_past_is_refused_and_changes_nothing(
        client, logged_in, app, opened):
    before = gala_of(app, opened["gala"]).closes_at
    for value in (local_input(in_minutes(-1)), "jutro wieczorem", "2026-03-29T02:30"):
        response = post_form(client, "/admin/", "/admin/voting/schedule",
                             data={"closes_at": value})
        assert response.status_code == 422, value
        assert field_error(html_of(response), "closes_at"), value
    assert gala_of(app, opened["gala"]).closes_at == before
    with app.test_request_context():
        for value in ("2026-03-29 02:30", "kiedyś", utcnow() - dt.timedelta(seconds=1)):
            with pytest.raises(ValidationError) as caught:
                services.schedule_close("test", opened["gala"], value)
            assert set(caught.value.errors) == {"closes_at"}


def test_no_closing_time_on_a_closed_gala(client, logged_in, app, opened):
    with app.app_context():
        services.close_voting("test", opened["gala"])
    html = html_of(client.get("/admin/"))
    assert 'action="/admin/voting/schedule"' not in html
    response = post_form(client, "/admin/", "/admin/voting/schedule",
                         data={"closes_at": local_input(in_minutes(60))})
    assert response.status_code == 422
    assert ("error", "Voting is closed: its closing time can no longer change.") in flashes(
        html_of(response))
    assert gala_of(app, opened["gala"]).closes_at is not None
    # Nor through the gala's own form.
    with app.test_request_context(), pytest.raises(ValidationError):
        services.update_gala("test", opened["gala"], {
            "name": "Gala Złotych Lajków 2026", "date": "2026-11-28",
            "closes_at": in_minutes(120)})


def test_the_gala_form_refuses_a_closing_time_in_the_past(client, logged_in, app, small_gala):
    page = f"/admin/galas/{small_gala['gala']}/edit"
    response = post_form(client, page, data={
        "name": "Gala Złotych Lajków 2026", "date": "2026-11-28",
        "closes_at": local_input(in_minutes(-30))})
    assert response.status_code == 422
    assert field_error(html_of(response), "closes_at") == (
        "The closing time must be in the future.")
    assert gala_of(app, small_gala["gala"]).closes_at is None
    later = in_minutes(24 * 60)
    post_form(client, page, data={"name": "Gala Złotych Lajków 2026", "date": "2026-11-28",
                                  "closes_at": local_input(later)})
    assert gala_of(app, small_gala["gala"]).closes_at == later


# --- closing ----------------------------------------------------------------------------------


def test_closing_asks_for_confirmation(client, logged_in, app, opened):
    response = post_form(client, "/admin/", "/admin/voting/close", data={})
    assert response.status_code == 422
    assert field_error(html_of(response), "confirm") == (
        "Tick the box to confirm: closing is final.")
    assert gala_of(app, opened["gala"]).voting_state == "open"
    response = post_form(client, "/admin/", "/admin/voting/close", data={"confirm": "y"},
                         follow_redirects=True)
    assert ("success", "Voting is closed.") in flashes(html_of(response))
    gala = gala_of(app, opened["gala"])
    assert gala.voting_state == "closed" and gala.closed_at is not None
    assert 'action="/admin/voting/close"' not in html_of(response)


def test_closing_is_final(client, logged_in, app, opened):
    with app.app_context():
        services.close_voting("test", opened["gala"])
    with app.test_request_context():
        with pytest.raises(ConflictError):
            services.close_voting("test", opened["gala"])
        with pytest.raises(ConflictError):
            services.open_voting("test", opened["gala"])
    response = post_form(client, "/admin/", "/admin/voting/open",
                         headers={"Referer": "http://localhost/admin/"}, follow_redirects=True)
    assert ("error", "Voting can only be opened once, from a draft gala.") in flashes(
        html_of(response))
    assert gala_of(app, opened["gala"]).voting_state == "closed"


# --- a passed closing time ---------------------------------------------------------------------


def test_a_passed_closing_time_counts_as_closed_everywhere(client, logged_in, app, opened):
    keys = card_keys(app.config)
    with app.app_context():
        card = cards.issue_cards("test", opened["gala"], "audience", keys, count=1)[0]
    passed = in_minutes(-2)
    time_passes(app, opened["gala"], passed)

    html = html_of(client.get("/admin/"))
    assert "Voting is closed" in html and "Publish receipts" in html
    assert 'action="/admin/voting/close"' not in html
    assert "Voting in this gala is closed: no new cards." in html_of(client.get("/admin/cards"))
    with app.test_request_context():
        gala = db.session.get(Gala, opened["gala"])
        assert window.voting_phase(gala) == "closed" and not voting_is_open(gala)
        with pytest.raises(VotingNotOpenError):
            cast_ballot(gala, card.code, {}, keys)
        with pytest.raises(ConflictError):
            cards.issue_cards("test", gala.id, "jury", keys, count=1)
        with pytest.raises(ConflictError):
            cards.reissue_card("test", card.number, keys)
        with pytest.raises(ValidationError):
            services.schedule_close("test", gala.id, in_minutes(30))
        with pytest.raises(ConflictError):
            services.close_voting("test", gala.id)
        # The next change of the window writes the close down, at the scheduled time.
        services.publish_receipts("test", gala.id)
    gala = gala_of(app, opened["gala"])
    assert (gala.voting_state, gala.closed_at) == ("closed", passed)
    with app.app_context():
        close = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "voting.close")).one()
        assert close.details["scheduled"] is True
        assert db.session.get(Token, card.number).used_at is None


# --- the command line ---------------------------------------------------------------------------


def test_cli_status_shows_the_phase_closing_time_and_cards(app, runner, small_gala):
    assert runner.invoke(args=["voting", "status"]).output == "Gala Złotych Lajków 2026: draft\n"
    closes = utcnow() + dt.timedelta(minutes=25, seconds=10)
    with app.app_context():
        keys = card_keys(app.config)
        cards.issue_cards("test", small_gala["gala"], "jury", keys, labels=["Anna", "Jan"])
        audience = cards.issue_cards("test", small_gala["gala"], "audience", keys, count=3)
        services.open_voting("test", small_gala["gala"], closes_at=closes)
        cast_ballot(db.session.get(Gala, small_gala["gala"]), audience[0].code, {}, keys)
        cards.revoke_card("test", audience[1].number)
    result = runner.invoke(args=["voting", "status"])
    assert result.exit_code == 0
    clock = closes.astimezone(GALA_TIMEZONE).strftime("%Y-%m-%d %H:%M")
    assert result.output.splitlines() == [
        "Gala Złotych Lajków 2026: open",
        f"Closes at: {clock} (Europe/Warsaw), in 25 min",
        "Cards: jury 2 issued, 0 used, 0 revoked; audience 3 issued, 1 used, 1 revoked",
    ]


def test_cli_open_with_a_closing_time_then_move_it_then_close(app, runner, small_gala):
    closes = in_minutes(120)
    typed = closes.astimezone(GALA_TIMEZONE).strftime("%Y-%m-%d %H:%M")
    opened = runner.invoke(args=["voting", "open", "--closes-at", typed])
    assert opened.exit_code == 0, opened.output
    assert opened.output == f"Voting is open until {typed}: Gala Złotych Lajków 2026\n"
    assert gala_of(app, small_gala["gala"]).closes_at == closes

    later = in_minutes(240).astimezone(GALA_TIMEZONE).strftime("%Y-%m-%d %H:%M")
    moved = runner.invoke(args=["voting", "schedule-close", later])
    assert moved.exit_code == 0, moved.output
    assert moved.output == (f"Voting closes at {later} (Europe/Warsaw): "
                            "Gala Złotych Lajków 2026\n")
    cleared = runner.invoke(args=["voting", "schedule-close", "--clear"])
    assert cleared.exit_code == 0
    assert cleared.output == "No scheduled closing time: Gala Złotych Lajków 2026\n"
    assert gala_of(app, small_gala["gala"]).closes_at is None

    assert runner.invoke(args=["voting", "close"]).exit_code == 0
    status = runner.invoke(args=["voting", "status"]).output.splitlines()
    assert status[0] == "Gala Złotych Lajków 2026: closed" and status[1].startswith("Closed at: ")
    again = runner.invoke(args=["voting", "schedule-close", later])
    assert again.exit_code == 1
    assert again.stderr.startswith("Error: ")
    assert "closes_at: " in again.stderr
    assert audit_actions(app).count("voting.schedule_close") == 2


@pytest.mark.parametrize("args", [
    ["voting", "open", "--closes-at", "wieczorem"],
    ["voting", "open", "--closes-at", "2020-11-28 21:30"],
    ["voting", "schedule-close"],
    ["voting", "schedule-close", "2030-11-28 21:30", "--clear"],
    ["voting", "schedule-close", "2020-11-28 21:30"],
    ["voting", "schedule-close", "2026-02-30 21:30"],
])
def test_cli_bad_closing_times_exit_1_and_change_nothing(app, runner, small_gala, args):
    result = runner.invoke(args=args)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: ")
    gala = gala_of(app, small_gala["gala"])
    assert (gala.voting_state, gala.closes_at) == ("draft", None)


def test_cli_status_after_the_closing_time_passed(app, runner, small_gala):
    with app.app_context():
        services.open_voting("test", small_gala["gala"], closes_at=in_minutes(30))
    passed = in_minutes(-3)
    time_passes(app, small_gala["gala"], passed)
    lines = runner.invoke(args=["voting", "status"]).output.splitlines()
    clock = passed.astimezone(GALA_TIMEZONE).strftime("%Y-%m-%d %H:%M")
    assert lines == ["Gala Złotych Lajków 2026: closed",
                     f"Closed at: {clock} (Europe/Warsaw) (as scheduled)"]
    # The first command after the scheduled close recorded it and sealed the results.
    gala = gala_of(app, small_gala["gala"])
    assert (gala.voting_state, gala.closed_at) == ("closed", passed.replace(microsecond=0)) \
        or (gala.voting_state, gala.closed_at) == ("closed", passed)
    sealed_at = gala.sealed_at
    assert sealed_at is not None
    closing = runner.invoke(args=["voting", "close"])
    assert closing.exit_code == 1 and closing.stderr.startswith("Error: ")
    assert gala_of(app, small_gala["gala"]).sealed_at == sealed_at  # sealed once


def test_while_a_vote_is_open_its_gala_stays_current(app, client):
    """A new edition created (or switched to) mid-evening must not turn the hall's cards into
    unknown ones: the gala with the open vote stays current, and no second vote opens."""
    from voting.queries import current_gala

    with app.app_context():
        tonight = services.create_gala("test", {"name": "Gala 2026", "date": "2026-11-28"})
        category = services.create_category("test", tonight.id, {
            "name_pl": "TikTok roku", "method": "single", "weights": {"audience": 100}})
        for handle in ("lodz", "gdansk"):
            profile = services.create_profile("test", tonight.id, {
                "name": handle, "unit_name": f"Miasto {handle}", "unit_type": "miasto",
                "platform": "tiktok", "url": f"https://www.tiktok.com/@{handle}"})
            services.nominate("test", category.id, profile.id)
        services.open_voting("test", tonight.id)
        code = cards.issue_cards("test", tonight.id, "audience",
                                        card_keys(app.config), count=1)[0].code
        next_year = services.create_gala("test", {"name": "Gala 2027",
                                                           "date": "2027-11-27"})
        assert current_gala().id == tonight.id
        with pytest.raises(ConflictError):
            services.switch_gala("test", next_year.id)
        with pytest.raises(ConflictError):
            services.open_voting("test", next_year.id)
        assert current_gala().id == tonight.id
        assert cast_ballot(current_gala(), code, {}, card_keys(app.config)).receipt
        services.close_voting("test", tonight.id)
        services.switch_gala("test", next_year.id)  # once closed, the desk moves on
        assert current_gala().id == next_year.id
