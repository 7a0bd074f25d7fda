"""The reveal's steps and state (voting.reveal) and read-only display links."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from voting import display_links, results, reveal, services
from voting.errors import ConflictError, ValidationError
from voting.extensions import db
from voting.models import AuditEntry, Category, Gala

ACTOR = "presenter@example.com"


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.test_request_context():
        yield app


@pytest.fixture
def sealed(ctx: Flask, voted_demo_gala: int) -> int:
    services.close_voting("test", voted_demo_gala)
    return voted_demo_gala


def gala(gala_id: int) -> Gala:
    db.session.expire_all()
    return db.session.get(Gala, gala_id)


def step(gala_id: int, to: object = "next", blank: bool | None = None) -> dict:
    the_gala = gala(gala_id)
    reveal.move(ACTOR, gala_id, the_gala.reveal_version, to, blank)
    return reveal.screen(gala(gala_id), "pl")


def names_in(shown: dict) -> str:
    return json.dumps(shown, ensure_ascii=False)


def test_reveal_states_follow_the_gala(ctx, demo_gala):
    assert reveal.screen(gala(demo_gala), "pl")["state"] == "before"
    services.open_voting("test", demo_gala)
    assert reveal.screen(gala(demo_gala), "pl")["state"] == "voting"
    services.close_voting("test", demo_gala)
    shown = reveal.screen(gala(demo_gala), "pl")
    assert shown["state"] == "sealed" and shown["step"] is None
    assert len(shown["commitments"]) == 10


def test_reveal_not_before_sealing(ctx, demo_gala):
    with pytest.raises(ConflictError):
        reveal.move(ACTOR, demo_gala, 0)


def test_reveal_steps_title_nominees_winner_and_the_winner_only_at_its_step(sealed):
    first = results.gala_categories(gala(sealed))[0]
    winner = results.outcome_of(first).public["winners"][0]
    winner_name = next(n.profile.name for n in first.nominations if n.id == winner)
    shown = step(sealed)
    assert (shown["state"], shown["step"], shown["category"]["slug"]) == (
        "reveal", "title", first.slug)
    assert "nominees" not in shown and "winners" not in shown
    shown = step(sealed)
    assert shown["step"] == "nominees" and "winners" not in shown
    assert [n["name"] for n in shown["nominees"]] == sorted(
        (n.profile.name for n in first.nominations), key=str.casefold)
    assert first.revealed_at is None
    assert reveal.api_document(gala(sealed), "pl").keys() == {"state", "category", "step"}
    shown = step(sealed)
    assert shown["step"] == "winner" and [w["id"] for w in shown["winners"]] == [winner]
    assert db.session.get(Category, first.id).revealed_at is not None
    api = reveal.api_document(gala(sealed), "pl")
    assert api["winner"]["name"] == winner_name and api["step"] == "winner"


def test_reveal_no_rank_or_count_ever_reaches_a_screen(sealed):
    for _ in range(3):
        shown = names_in(step(sealed))
        assert '"rank"' not in shown and '"score"' not in shown and '"ballots"' not in shown


def test_reveal_a_second_tap_on_an_old_version_changes_nothing(sealed):
    version = gala(sealed).reveal_version
    reveal.move(ACTOR, sealed, version, "next")
    with pytest.raises(ConflictError):
        reveal.move(ACTOR, sealed, version, "next")
    assert gala(sealed).reveal_position == 0


def test_reveal_previous_jump_blank_and_summary(sealed):
    categories = results.gala_categories(gala(sealed))
    step(sealed)
    step(sealed)
    assert step(sealed, "previous")["step"] == "title"
    shown = step(sealed, categories[2].id)
    assert (shown["step"], shown["category"]["slug"]) == ("title", categories[2].slug)
    shown = step(sealed, blank=True)
    assert shown["blank"] and shown["step"] == "blank" and shown["category"] is None
    shown = step(sealed, blank=False)
    assert shown["step"] == "title" and shown["category"]["slug"] == categories[2].slug
    with pytest.raises(ValidationError):
        step(sealed, 999_999)
    step(sealed)
    step(sealed)  # the third category's winner: revealed
    shown = step(sealed, "summary")
    assert shown["state"] == "finished"
    assert [row["category"]["slug"] for row in shown["summary"]] == [categories[2].slug]
    actions = db.session.scalars(select(AuditEntry.action)
                                 .where(AuditEntry.action == "reveal.step")).all()
    assert len(actions) == 9  # every step but the refused one


def test_reveal_an_undecided_category_stops_at_its_nominees(sealed):
    categories = results.gala_categories(gala(sealed))
    mention = next(c for c in categories if not c.balloted)
    step(sealed, mention.id)
    step(sealed)
    with pytest.raises(ConflictError):
        step(sealed)
    assert gala(sealed).reveal_position == categories.index(mention) * 3 + 1


def test_display_links_verify_and_revoke(ctx):
    link, token = display_links.create_link(ACTOR, "Rzutnik")
    assert display_links.link_for(token).id == link.id
    for bad in ("", "x", token + "x", None, 5, "a" * 500):
        assert display_links.link_for(bad) is None
    display_links.revoke_link(ACTOR, link.id)
    assert display_links.link_for(token) is None
    with pytest.raises(ConflictError):
        display_links.revoke_link(ACTOR, link.id)
    with pytest.raises(ValidationError):
        display_links.create_link(ACTOR, "x" * 101)
