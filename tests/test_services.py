"""Services in an app context: galas, categories, profiles, nominations, locking, audit,
organizers."""

from __future__ import annotations

import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import AUDIT_TRIGGERS, demo_document
from flask import Flask
from flask_babel import force_locale
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from voting import audit, services
from voting.database import dialect_name, write_transaction
from voting.errors import ConflictError, LockedError, NotFoundError, ValidationError
from voting.extensions import db
from voting.models import (
    AuditEntry,
    Category,
    CategoryGroup,
    Gala,
    Nomination,
    Organizer,
    Profile,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
ACTOR = "jury.chair@example.com"


# --- helpers -------------------------------------------------------------------------------


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


def count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def counts() -> dict[str, int]:
    return {model.__name__: count(model)
            for model in (Gala, Category, CategoryGroup, Profile, Nomination, Organizer,
                          AuditEntry)}


def entries() -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def last_entry() -> AuditEntry:
    return entries()[-1]


def fresh(model: type, ident: int) -> Any:
    """Read a row as the database has it now, not as this session remembers it."""
    db.session.expire_all()
    return db.session.get(model, ident)


def gala_data(year: int = 2026, **overrides: Any) -> dict[str, Any]:
    return {"name": f"Gala Złotych Lajków {year}", "date": f"{year}-11-28",
            "venue": "Warszawa", **overrides}


def profile_data(name: str = "Wrocław", url: str = "https://www.facebook.com/wroclaw",
                 **overrides: Any) -> dict[str, Any]:
    return {"name": name, "unit_name": "Miasto Wrocław", "unit_type": "miasto",
            "voivodeship": "dolnośląskie", "platform": "facebook", "url": url, **overrides}


def ranked_data(**overrides: Any) -> dict[str, Any]:
    """The small gala's ranked category exactly as it was created."""
    return {"name_pl": "Wideo w metropolii", "name_en": "Video in a metropolis",
            "slug": "wideo-w-metropolii", "method": "ranked", "places": 2, "points": "3,1",
            "weights": {"jury": 100}, **overrides}


def raw_sql(statement: str, **params: Any) -> None:
    """Run SQL on a connection of its own, as someone at the database console would."""
    db.session.remove()
    with db.engine.begin() as connection:
        connection.execute(text(statement), params)


@pytest.fixture
def drop_audit_triggers(ctx: Flask) -> Iterator[Any]:
    """Play a DBA who removes the append-only triggers; they are put back afterwards, since
    on PostgreSQL every test shares one schema."""
    dropped = []

    def drop() -> None:
        kind = dialect_name()
        for statement in AUDIT_TRIGGERS[kind][0]:
            raw_sql(statement)
        dropped.append(kind)

    yield drop
    for kind in dropped:
        for statement in AUDIT_TRIGGERS[kind][1]:
            raw_sql(statement)


# --- galas ---------------------------------------------------------------------------------


def test_create_gala_makes_it_current(ctx):
    first = services.create_gala(ACTOR, gala_data(2026))
    assert Gala.current().id == first.id
    second = services.create_gala(ACTOR, gala_data(2027))
    assert Gala.current().id == second.id
    assert (second.year, second.voting_state, second.locked) == (2027, "draft", False)
    entry = last_entry()
    assert (entry.actor, entry.action, entry.gala_id, entry.subject) == (
        ACTOR, "gala.create", second.id, "Gala Złotych Lajków 2027")


def test_create_gala_one_per_year(ctx):
    services.create_gala(ACTOR, gala_data(2026))
    before = counts()
    with pytest.raises(ValidationError) as caught:
        services.create_gala(ACTOR, gala_data(2026, name="Druga gala", date="2026-01-15"))
    assert set(caught.value.errors) == {"date"}
    assert "2026" in str(caught.value.errors["date"])
    assert counts() == before


def test_create_gala_invalid_data_changes_nothing(ctx):
    with pytest.raises(ValidationError) as caught:
        services.create_gala(ACTOR, {"name": "", "date": "28.11.2026"})
    assert set(caught.value.errors) == {"name", "date"}
    assert count(Gala) == 0 and count(AuditEntry) == 0


def test_switch_gala_makes_an_older_edition_current(ctx):
    old = services.create_gala(ACTOR, gala_data(2025))
    new = services.create_gala(ACTOR, gala_data(2026))
    assert Gala.current().id == new.id
    services.switch_gala(ACTOR, old.id)
    assert Gala.current().id == old.id
    assert (last_entry().action, last_entry().gala_id) == ("gala.switch", old.id)
    services.switch_gala(ACTOR, new.id)
    assert Gala.current().id == new.id


def test_create_gala_after_switching_back_takes_over_again(ctx):
    old = services.create_gala(ACTOR, gala_data(2025))
    services.create_gala(ACTOR, gala_data(2026))
    services.switch_gala(ACTOR, old.id)
    newest = services.create_gala(ACTOR, gala_data(2027))
    assert Gala.current().id == newest.id


def test_switch_gala_unknown_id(ctx):
    with pytest.raises(NotFoundError):
        services.switch_gala(ACTOR, 999)


def test_update_gala_changes_fields_and_year(ctx):
    gala = services.create_gala(ACTOR, gala_data(2026))
    services.update_gala(ACTOR, gala.id, {"name": "Gala 2027", "date": "2027-03-01",
                                          "venue": "Kraków"})
    gala = fresh(Gala, gala.id)
    assert (gala.name, gala.year, gala.venue, gala.date.isoformat()) == (
        "Gala 2027", 2027, "Kraków", "2027-03-01")
    entry = last_entry()
    assert entry.action == "gala.update"
    assert entry.details["name"] == "Gala 2027" and entry.details["year"] == 2027


def test_update_gala_to_a_taken_year_refused(ctx):
    services.create_gala(ACTOR, gala_data(2026))
    other = services.create_gala(ACTOR, gala_data(2027))
    before = counts()
    with pytest.raises(ValidationError) as caught:
        services.update_gala(ACTOR, other.id, gala_data(2026))
    assert set(caught.value.errors) == {"date"}
    assert fresh(Gala, other.id).year == 2027
    assert counts() == before


# --- categories ----------------------------------------------------------------------------


def test_create_category_positions_follow_creation(ctx):
    gala = services.create_gala(ACTOR, gala_data())
    made = [services.create_category(ACTOR, gala.id, {"name_pl": name, "method": "single",
                                                      "weights": {"audience": 100}})
            for name in ("Pierwsza", "Druga", "Trzecia")]
    assert [c.position for c in made] == [1, 2, 3]
    assert [c.slug for c in fresh(Gala, gala.id).categories] == ["pierwsza", "druga", "trzecia"]
    entry = last_entry()
    assert (entry.actor, entry.action, entry.subject, entry.gala_id) == (
        ACTOR, "category.create", "trzecia", gala.id)


def test_create_category_stores_method_params_and_weights(ctx):
    gala = services.create_gala(ACTOR, gala_data())
    ranked = services.create_category(ACTOR, gala.id, {
        "name_pl": "Kampania", "method": "ranked", "places": 3, "points": "5,3,1",
        "weights": {"jury": 70, "audience": 30}})
    score = services.create_category(ACTOR, gala.id, {
        "name_pl": "Wideo", "method": "score", "score_min": 1, "score_max": 10,
        "min_scores": 3, "weights": {"jury": 100}})
    ranked, score = fresh(Category, ranked.id), db.session.get(Category, score.id)
    assert ranked.params() == {"places": 3, "points": [5, 3, 1]}
    assert ranked.weights() == {"jury": 70, "audience": 30}
    assert score.params() == {"min": 1, "max": 10, "min_scores": 3}
    assert score.weights() == {"jury": 100}


def test_create_category_duplicate_slug_is_a_slug_field_error(ctx, small_gala):
    before = counts()
    with pytest.raises(ValidationError) as caught:
        services.create_category(ACTOR, small_gala["gala"], {
            "name_pl": "TikTok Roku!", "method": "single", "weights": {"jury": 100}})
    assert set(caught.value.errors) == {"slug"}
    assert counts() == before


def test_create_category_same_slug_in_another_gala_allowed(ctx, small_gala):
    other = services.create_gala(ACTOR, gala_data(2027))
    category = services.create_category(ACTOR, other.id, {
        "name_pl": "TikTok roku", "method": "single", "weights": {"jury": 100}})
    assert category.slug == "tiktok-roku"
    assert count(Category) == 3


def test_update_category_duplicate_slug_is_a_slug_field_error(ctx, small_gala):
    with pytest.raises(ValidationError) as caught:
        services.update_category(ACTOR, small_gala["ranked"], ranked_data(slug="tiktok-roku"))
    assert set(caught.value.errors) == {"slug"}
    assert fresh(Category, small_gala["ranked"]).slug == "wideo-w-metropolii"


def test_update_category_in_draft_changes_rules(ctx, small_gala):
    services.update_category(ACTOR, small_gala["ranked"], ranked_data(
        slug="wideo-miejskie", method="score", score_min=0, score_max=5, min_scores=2,
        weights={"jury": 60, "audience": 40}))
    category = fresh(Category, small_gala["ranked"])
    assert (category.slug, category.method) == ("wideo-miejskie", "score")
    assert category.params() == {"min": 0, "max": 5, "min_scores": 2}
    assert category.points is None and category.places is None
    assert category.weights() == {"jury": 60, "audience": 40}
    assert count(CategoryGroup) == 3  # old group replaced, not left behind
    entry = last_entry()
    assert entry.action == "category.update"
    assert entry.details["weights"] == {"jury": 60, "audience": 40}
    assert entry.details["method"] == "score"


def test_update_category_back_to_same_weights_keeps_groups(ctx, small_gala):
    services.update_category(ACTOR, small_gala["ranked"], ranked_data(name_en="Video"))
    assert fresh(Category, small_gala["ranked"]).weights() == {"jury": 100}
    assert "weights" not in last_entry().details
    assert last_entry().details == {"name_en": "Video"}


def test_delete_category_removes_its_nominations(ctx, small_gala):
    services.delete_category(ACTOR, small_gala["ranked"])
    assert fresh(Category, small_gala["ranked"]) is None
    assert count(Nomination) == 2  # the other category's two remain
    assert count(CategoryGroup) == 1
    assert count(Profile) == 3  # profiles stay
    entry = last_entry()
    assert (entry.action, entry.subject, entry.details) == (
        "category.delete", "wideo-w-metropolii", {"nominations": 2})


def test_create_category_after_a_delete_goes_to_the_end(ctx, small_gala):
    services.delete_category(ACTOR, small_gala["single"])
    new = services.create_category(ACTOR, small_gala["gala"], {
        "name_pl": "Nowa", "method": "single", "weights": {"jury": 100}})
    order = [c.id for c in fresh(Gala, small_gala["gala"]).categories]
    assert order == [small_gala["ranked"], new.id]


def test_move_category_up_and_down(ctx, small_gala):
    third = services.create_category(ACTOR, small_gala["gala"], {
        "name_pl": "Trzecia", "method": "single", "weights": {"jury": 100}}).id
    single, ranked = small_gala["single"], small_gala["ranked"]

    def order() -> list[int]:
        return [c.id for c in fresh(Gala, small_gala["gala"]).categories]

    services.move_category(ACTOR, third, -1)
    assert order() == [single, third, ranked]
    assert (last_entry().action, last_entry().details) == ("category.move", {"position": 2})
    services.move_category(ACTOR, single, +1)
    assert order() == [third, single, ranked]
    positions = [c.position for c in fresh(Gala, small_gala["gala"]).categories]
    assert positions == [1, 2, 3]


def test_move_category_past_the_edge_changes_nothing(ctx, small_gala):
    before = counts()
    services.move_category(ACTOR, small_gala["single"], -1)
    services.move_category(ACTOR, small_gala["ranked"], +1)
    assert [c.id for c in fresh(Gala, small_gala["gala"]).categories] == [
        small_gala["single"], small_gala["ranked"]]
    assert counts() == before  # no audit entry for a move that did not happen


# --- profiles ------------------------------------------------------------------------------


def test_create_profile_normalises_and_records(ctx):
    gala = services.create_gala(ACTOR, gala_data())
    profile = services.create_profile(ACTOR, gala.id, profile_data(
        name="  Wrocław  ", url="facebook.com/wroclaw", voivodeship="Województwo Dolnośląskie"))
    profile = fresh(Profile, profile.id)
    assert (profile.name, profile.url, profile.voivodeship) == (
        "Wrocław", "https://facebook.com/wroclaw", "dolnośląskie")
    assert profile.image_type is None and profile.image_version == 0
    entry = last_entry()
    assert (entry.actor, entry.action, entry.subject) == (ACTOR, "profile.create", "Wrocław")


def test_create_profile_duplicate_url_is_a_url_field_error(ctx, small_gala):
    before = counts()
    with pytest.raises(ValidationError) as caught:
        # the same address, typed differently: it normalises to the stored one
        services.create_profile(ACTOR, small_gala["gala"], profile_data(
            name="Wrocław bis", url="WWW.FACEBOOK.COM/wroclaw"))
    assert set(caught.value.errors) == {"url"}
    assert counts() == before


def test_create_profile_same_url_in_another_gala_allowed(ctx, small_gala):
    other = services.create_gala(ACTOR, gala_data(2027))
    services.create_profile(ACTOR, other.id, profile_data())
    assert count(Profile) == 4


def test_create_profile_with_image_checked_by_content(ctx):
    gala = services.create_gala(ACTOR, gala_data())
    profile = services.create_profile(ACTOR, gala.id, profile_data(), image=PNG)
    profile = fresh(Profile, profile.id)
    assert (profile.image_type, profile.image_version, profile.image_data) == (
        "image/png", 1, PNG)
    before = counts()
    with pytest.raises(ValidationError) as caught:
        services.create_profile(ACTOR, gala.id, profile_data(
            url="https://facebook.com/other"), image=b"GIF89a....")
    assert set(caught.value.errors) == {"image"}
    with pytest.raises(ValidationError):
        services.create_profile(ACTOR, gala.id, profile_data(
            url="https://facebook.com/other"), image=PNG, max_image_bytes=16)
    assert counts() == before


def test_update_profile_fields_image_and_removal(ctx, small_gala):
    pid = small_gala["wroclaw"]
    services.update_profile(ACTOR, pid, profile_data(name="Wrocław – oficjalny"), image=PNG)
    profile = fresh(Profile, pid)
    assert (profile.name, profile.image_type, profile.image_version) == (
        "Wrocław – oficjalny", "image/png", 1)
    assert last_entry().details == {"name": "Wrocław – oficjalny", "image": "image/png"}
    services.update_profile(ACTOR, pid, profile_data(name="Wrocław – oficjalny"), image=JPEG)
    assert (fresh(Profile, pid).image_type, fresh(Profile, pid).image_version) == (
        "image/jpeg", 2)
    services.update_profile(ACTOR, pid, profile_data(name="Wrocław – oficjalny"),
                            remove_image=True)
    profile = fresh(Profile, pid)
    assert (profile.image_type, profile.image_data, profile.image_version) == (None, None, 3)


def test_update_profile_to_another_profiles_url_refused(ctx, small_gala):
    with pytest.raises(ValidationError) as caught:
        services.update_profile(ACTOR, small_gala["wroclaw"], profile_data(
            platform="tiktok", url="https://www.tiktok.com/@lodz"))
    assert set(caught.value.errors) == {"url"}
    assert fresh(Profile, small_gala["wroclaw"]).url == "https://www.facebook.com/wroclaw"


def test_update_profile_keeping_its_own_url_is_fine(ctx, small_gala):
    services.update_profile(ACTOR, small_gala["wroclaw"], profile_data(description="Nowy opis"))
    assert fresh(Profile, small_gala["wroclaw"]).description == "Nowy opis"


def test_delete_profile_removes_its_nominations(ctx, small_gala):
    services.delete_profile(ACTOR, small_gala["wroclaw"])
    assert fresh(Profile, small_gala["wroclaw"]) is None
    assert count(Nomination) == 2
    entry = last_entry()
    assert (entry.action, entry.details) == (
        "profile.delete", {"url": "https://www.facebook.com/wroclaw", "nominations": 2})


def test_delete_profile_unknown_id(ctx):
    with pytest.raises(NotFoundError):
        services.delete_profile(ACTOR, 12345)


# --- nominations ---------------------------------------------------------------------------


def test_nominate_and_citation(ctx, small_gala):
    nomination = services.nominate(ACTOR, small_gala["single"], small_gala["gdansk"],
                                   "  za reportaże  ")
    nomination = fresh(Nomination, nomination.id)
    assert (nomination.category_id, nomination.profile_id, nomination.citation) == (
        small_gala["single"], small_gala["gdansk"], "za reportaże")
    entry = last_entry()
    assert (entry.action, entry.subject) == ("nomination.create", "tiktok-roku: Gdańsk")
    services.update_citation(ACTOR, nomination.id, "za reportaże z dzielnic")
    assert fresh(Nomination, nomination.id).citation == "za reportaże z dzielnic"
    assert last_entry().action == "nomination.update"


def test_nominate_twice_is_a_conflict(ctx, small_gala):
    before = counts()
    with pytest.raises(ConflictError):
        services.nominate(ACTOR, small_gala["single"], small_gala["lodz"])
    assert counts() == before


def test_nominate_profile_from_another_gala_refused(ctx, small_gala):
    other = services.create_gala(ACTOR, gala_data(2027))
    stranger = services.create_profile(ACTOR, other.id, profile_data(
        name="Obcy", url="https://facebook.com/obcy"))
    before = counts()
    with pytest.raises(ValidationError) as caught:
        services.nominate(ACTOR, small_gala["single"], stranger.id)
    assert set(caught.value.errors) == {"profile_id"}
    assert counts() == before


def test_nominate_bad_citation_refused(ctx, small_gala):
    before = counts()
    with pytest.raises(ValidationError):
        services.nominate(ACTOR, small_gala["single"], small_gala["gdansk"], "c" * 501)
    assert counts() == before


def test_withdraw_nomination(ctx, small_gala):
    nomination_id = db.session.scalar(select(Nomination.id).where(
        Nomination.category_id == small_gala["single"],
        Nomination.profile_id == small_gala["lodz"]))
    services.withdraw_nomination(ACTOR, nomination_id)
    assert fresh(Nomination, nomination_id) is None
    assert count(Nomination) == 3
    assert (last_entry().action, last_entry().subject) == (
        "nomination.delete", "tiktok-roku: Łódź – TikTok")
    with pytest.raises(NotFoundError):
        services.withdraw_nomination(ACTOR, nomination_id)


# --- the voting window and locking ----------------------------------------------------------


@pytest.fixture
def opened(ctx: Flask, small_gala: dict[str, int]) -> dict[str, int]:
    gala = services.open_voting(ACTOR, small_gala["gala"])
    assert gala.voting_state == "open" and gala.locked
    return small_gala


def nomination_id(category_id: int, profile_id: int) -> int:
    return db.session.scalar(select(Nomination.id).where(
        Nomination.category_id == category_id, Nomination.profile_id == profile_id))


def snapshot() -> dict[str, Any]:
    """Everything locking protects, read fresh from the database."""
    db.session.expire_all()
    categories = db.session.scalars(select(Category).order_by(Category.id)).all()
    return {
        "counts": counts(),
        "categories": [(c.slug, c.method, c.params(), c.weights(), c.position)
                       for c in categories],
        "nominations": sorted(db.session.execute(
            select(Nomination.category_id, Nomination.profile_id)).all()),
    }


def test_open_voting_locks_and_records(ctx, small_gala):
    gala = services.open_voting(ACTOR, small_gala["gala"])
    gala = fresh(Gala, gala.id)
    assert (gala.voting_state, gala.locked) == ("open", True)
    assert gala.first_opened_at is not None and gala.first_opened_at.tzinfo is not None
    assert (last_entry().actor, last_entry().action) == (ACTOR, "voting.open")


@pytest.mark.parametrize("attempt", [
    "nominate", "withdraw", "delete_category", "create_category", "delete_nominated_profile",
])
def test_locked_gala_refuses_changes_to_nominees(opened, attempt):
    calls = {
        "nominate": lambda: services.nominate(ACTOR, opened["single"], opened["gdansk"]),
        "withdraw": lambda: services.withdraw_nomination(
            ACTOR, nomination_id(opened["single"], opened["lodz"])),
        "delete_category": lambda: services.delete_category(ACTOR, opened["ranked"]),
        "create_category": lambda: services.create_category(ACTOR, opened["gala"], {
            "name_pl": "Spóźniona", "method": "single", "weights": {"jury": 100}}),
        "delete_nominated_profile": lambda: services.delete_profile(ACTOR, opened["lodz"]),
    }
    before = snapshot()
    with force_locale("en"), pytest.raises(LockedError) as caught:
        calls[attempt]()
    assert "frozen" in caught.value.message
    assert snapshot() == before


@pytest.mark.parametrize("change", [
    {"method": "single"},
    {"method": "irv"},
    {"places": 1, "points": "3"},
    {"points": "5,1"},
    {"weights": {"audience": 100}},
    {"weights": {"jury": 50, "audience": 50}},
    {"slug": "wideo-miejskie"},
    {"slug": "wideo-miejskie", "name_pl": "Nowa nazwa"},  # the words do not carry the rules
])
def test_locked_gala_refuses_rule_changes_to_a_category(opened, change):
    before = snapshot()
    with pytest.raises(LockedError):
        services.update_category(ACTOR, opened["ranked"], ranked_data(**change))
    assert snapshot() == before
    assert fresh(Category, opened["ranked"]).name_pl == "Wideo w metropolii"


def test_locked_gala_still_accepts_words(opened):
    before = snapshot()
    services.update_category(ACTOR, opened["ranked"], ranked_data(
        name_pl="Wideo w wielkim mieście", name_en="Video in a big city",
        description_pl="Opis", description_en="Description"))
    category = fresh(Category, opened["ranked"])
    assert (category.name_pl, category.name_en, category.description_pl,
            category.description_en) == ("Wideo w wielkim mieście", "Video in a big city",
                                         "Opis", "Description")
    after = snapshot()
    assert after["categories"] == before["categories"]
    assert after["nominations"] == before["nominations"]
    assert last_entry().action == "category.update"

    services.update_citation(ACTOR, nomination_id(opened["single"], opened["lodz"]),
                             "za serię o łódzkich kamienicach")
    assert fresh(Nomination, nomination_id(opened["single"], opened["lodz"])).citation == (
        "za serię o łódzkich kamienicach")

    services.update_profile(ACTOR, opened["wroclaw"], profile_data(name="Wrocław – profil"))
    assert fresh(Profile, opened["wroclaw"]).name == "Wrocław – profil"


def test_locked_gala_positions_may_still_change(opened):
    services.move_category(ACTOR, opened["ranked"], -1)
    assert [c.id for c in fresh(Gala, opened["gala"]).categories] == [
        opened["ranked"], opened["single"]]


def test_locked_gala_unnominated_profile_may_be_deleted(opened):
    spare = services.create_profile(ACTOR, opened["gala"], profile_data(
        name="Zapasowy", url="https://facebook.com/zapasowy"))
    services.delete_profile(ACTOR, spare.id)
    assert fresh(Profile, spare.id) is None


def test_locked_stays_locked_after_close(opened):
    services.close_voting(ACTOR, opened["gala"])
    gala = fresh(Gala, opened["gala"])
    assert (gala.voting_state, gala.locked) == ("closed", True)
    assert gala.closed_at is not None
    with pytest.raises(LockedError):
        services.nominate(ACTOR, opened["single"], opened["gdansk"])


def test_open_voting_refused_without_categories(ctx):
    gala = services.create_gala(ACTOR, gala_data())
    with force_locale("en"), pytest.raises(ConflictError) as caught:
        services.open_voting(ACTOR, gala.id)
    assert "no categories" in caught.value.message
    gala = fresh(Gala, gala.id)
    assert (gala.voting_state, gala.locked) == ("draft", False)


def test_open_voting_refused_with_too_few_nominees(ctx, small_gala):
    services.withdraw_nomination(ACTOR, nomination_id(small_gala["single"], small_gala["lodz"]))
    before = counts()
    with pytest.raises(ConflictError) as caught:
        services.open_voting(ACTOR, small_gala["gala"])
    assert "TikTok roku" in caught.value.message
    gala = fresh(Gala, small_gala["gala"])
    assert (gala.voting_state, gala.first_opened_at) == ("draft", None)
    assert counts() == before  # no "voting.open" entry
    services.nominate(ACTOR, small_gala["single"], small_gala["lodz"])  # still unlocked


def test_open_voting_refused_when_places_exceed_nominees(ctx, small_gala):
    services.update_category(ACTOR, small_gala["ranked"], ranked_data(places=3, points="3,2,1"))
    with pytest.raises(ConflictError) as caught:
        services.open_voting(ACTOR, small_gala["gala"])
    assert "3" in caught.value.message and "Wideo w metropolii" in caught.value.message
    assert fresh(Gala, small_gala["gala"]).voting_state == "draft"


def test_open_voting_only_once(opened):
    with pytest.raises(ConflictError):
        services.open_voting(ACTOR, opened["gala"])
    services.close_voting(ACTOR, opened["gala"])
    with pytest.raises(ConflictError):
        services.open_voting(ACTOR, opened["gala"])
    assert fresh(Gala, opened["gala"]).voting_state == "closed"


def test_close_voting_only_from_open(ctx, small_gala):
    with pytest.raises(ConflictError):
        services.close_voting(ACTOR, small_gala["gala"])
    assert fresh(Gala, small_gala["gala"]).voting_state == "draft"
    services.open_voting(ACTOR, small_gala["gala"])
    services.close_voting(ACTOR, small_gala["gala"])
    closing = db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())
                                 .limit(2)).all()
    assert [(e.action, e.actor) for e in reversed(closing)] == [
        ("voting.close", ACTOR), ("results.seal", ACTOR)]  # the close seals the results
    with pytest.raises(ConflictError):
        services.close_voting(ACTOR, small_gala["gala"])


# --- the audit trail -----------------------------------------------------------------------


def test_audit_every_service_records_actor_and_action(ctx):
    alice, bob = "alice@example.com", "bob@example.com"
    gala = services.create_gala(alice, gala_data(2026))
    other = services.create_gala(alice, gala_data(2027))
    services.update_gala(bob, gala.id, gala_data(2026, venue="Łódź"))
    services.switch_gala(bob, gala.id)
    one = services.create_category(alice, gala.id, {"name_pl": "Jeden", "method": "single",
                                                    "weights": {"jury": 100}})
    two = services.create_category(alice, gala.id, {"name_pl": "Dwa", "method": "single",
                                                    "weights": {"jury": 100}})
    services.update_category(bob, two.id, {"name_pl": "Dwa", "name_en": "Two",
                                           "method": "single", "weights": {"jury": 100}})
    services.move_category(bob, two.id, -1)
    p1 = services.create_profile(alice, gala.id, profile_data())
    p2 = services.create_profile(alice, gala.id, profile_data(
        name="Gdańsk", platform="youtube", url="https://youtube.com/@gdansk"))
    services.update_profile(bob, p1.id, profile_data(description="Opis"))
    n1 = services.nominate(alice, one.id, p1.id)
    services.nominate(alice, one.id, p2.id)
    services.update_citation(bob, n1.id, "za wszystko")
    n3 = services.nominate(alice, two.id, p1.id)
    services.withdraw_nomination(bob, n3.id)
    services.delete_category(bob, two.id)
    p3 = services.create_profile(alice, gala.id, profile_data(
        name="Kraków", url="https://facebook.com/krakow"))
    services.delete_profile(bob, p3.id)
    services.open_voting(alice, gala.id)
    services.close_voting(bob, gala.id)
    services.create_organizer(alice, "carol@example.com", "a-long-password-1")
    services.authenticate("carol@example.com", "a-long-password-1", "127.0.0.1")
    services.authenticate("carol@example.com", "wrong-password!!", "10.0.0.9")
    services.record_logout("carol@example.com")

    recorded = [(e.actor, e.action) for e in entries()]
    assert recorded == [
        (alice, "gala.create"), (alice, "gala.create"), (bob, "gala.update"),
        (bob, "gala.switch"), (alice, "category.create"), (alice, "category.create"),
        (bob, "category.update"), (bob, "category.move"), (alice, "profile.create"),
        (alice, "profile.create"), (bob, "profile.update"), (alice, "nomination.create"),
        (alice, "nomination.create"), (bob, "nomination.update"),
        (alice, "nomination.create"), (bob, "nomination.delete"), (bob, "category.delete"),
        (alice, "profile.create"), (bob, "profile.delete"), (alice, "voting.open"),
        (bob, "voting.close"), (bob, "results.seal"), (alice, "organizer.create"),
        ("carol@example.com", "organizer.login"),
        ("carol@example.com", "organizer.login_failed"),
        ("carol@example.com", "organizer.logout"),
    ]
    by_action = {e.action: e for e in entries()}
    assert by_action["gala.switch"].gala_id == gala.id
    assert by_action["organizer.create"].subject == "carol@example.com"
    assert by_action["organizer.login_failed"].details == {"client": "10.0.0.9"}
    assert all(e.gala_id in (gala.id, other.id) for e in entries()
               if not e.action.startswith("organizer."))
    # no entry ever carries a password
    assert not any("a-long-password-1" in e.details_json or "wrong-password" in e.details_json
                   for e in entries())
    report = audit.verify_chain()
    assert report.intact, report.problems
    assert report.entries == len(recorded)


def test_audit_chain_links_and_sequence(ctx, small_gala):
    chain = entries()
    assert [e.seq for e in chain] == list(range(1, len(chain) + 1))
    assert chain[0].prev_hash == audit.GENESIS_HASH
    for before, after in zip(chain, chain[1:], strict=False):
        assert after.prev_hash == before.hash
    assert all(audit.entry_hash(e) == e.hash for e in chain)
    report = audit.verify_chain()
    assert report.intact and report.problems == []
    assert (report.entries, report.head) == (len(chain), chain[-1].hash)


def test_audit_verify_chain_on_an_empty_trail(ctx):
    report = audit.verify_chain()
    assert (report.intact, report.entries, report.head) == (True, 0, audit.GENESIS_HASH)


def test_audit_failed_service_leaves_no_entry(ctx, small_gala):
    before = count(AuditEntry)
    with pytest.raises(ConflictError):
        services.nominate(ACTOR, small_gala["single"], small_gala["lodz"])
    with pytest.raises(ValidationError):
        services.create_profile(ACTOR, small_gala["gala"], profile_data(url="evil.com"))
    assert count(AuditEntry) == before


@pytest.mark.parametrize("statement", [
    "UPDATE audit_entry SET subject = 'nic się nie stało' WHERE seq = 1",
    "DELETE FROM audit_entry WHERE seq = 1",
    "DELETE FROM audit_entry",
])
def test_audit_database_refuses_update_and_delete(ctx, small_gala, statement):
    before = [(e.seq, e.subject, e.hash) for e in entries()]
    with pytest.raises(DBAPIError, match="append-only"):
        raw_sql(statement)
    assert [(e.seq, e.subject, e.hash) for e in entries()] == before


def test_audit_tampering_after_dropping_triggers_is_detected(ctx, small_gala,
                                                              drop_audit_triggers):
    assert len(entries()) >= 6
    drop_audit_triggers()
    raw_sql("UPDATE audit_entry SET subject = 'Ktoś inny' WHERE seq = 2")
    raw_sql("DELETE FROM audit_entry WHERE seq = 5")
    db.session.remove()  # verify as a fresh request would, from what the database holds
    report = audit.verify_chain()
    assert not report.intact
    assert "#2: content was altered" in report.problems
    assert any(p.startswith("#6:") and "missing" in p for p in report.problems)
    assert "#6: does not follow the entry before it" in report.problems
    # the edit is reported at #2 only: #3 still names #2's recorded hash
    assert not any(p.startswith(("#3:", "#4:")) for p in report.problems)


def test_audit_tampering_that_recomputes_the_hash_still_breaks_the_link(
        ctx, small_gala, drop_audit_triggers):
    drop_audit_triggers()
    db.session.remove()
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.seq == 2))
    entry.subject = "Ktoś inny"
    forged = audit.entry_hash(entry)
    db.session.rollback()
    raw_sql("UPDATE audit_entry SET subject = 'Ktoś inny', hash = :h WHERE seq = 2", h=forged)
    report = audit.verify_chain()
    assert report.problems == ["#3: does not follow the entry before it"]


def test_audit_concurrent_appends_keep_one_unbroken_chain(app, small_gala):
    threads, per_thread = 4, 5
    with app.app_context():
        before = count(AuditEntry)
        profiles_before = count(Profile)
    barrier = threading.Barrier(threads)
    failures: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                for op in range(per_thread):
                    services.create_profile(f"worker-{worker}", small_gala["gala"], profile_data(
                        name=f"Profil {worker}-{op}",
                        url=f"https://facebook.com/profil-{worker}-{op}"))
                db.session.remove()
        except BaseException as error:  # noqa: BLE001  (reported by the main thread)
            failures.append(error)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in workers)
    assert failures == []

    with app.app_context():
        chain = entries()
        assert len(chain) == before + threads * per_thread
        assert [e.seq for e in chain] == list(range(1, len(chain) + 1))
        report = audit.verify_chain()
        assert report.intact, report.problems
        assert count(Profile) == profiles_before + threads * per_thread
        created = [e for e in chain if e.action == "profile.create"
                   and e.actor.startswith("worker-")]
        assert sorted(e.subject for e in created) == sorted(
            f"Profil {w}-{o}" for w in range(threads) for o in range(per_thread))


def test_create_profile_same_url_at_once_only_one_wins(app, small_gala):
    threads = 4
    barrier = threading.Barrier(threads)
    outcomes: list[str] = []

    def work(worker: int) -> None:
        with app.app_context():
            barrier.wait(timeout=30)
            try:
                services.create_profile(f"worker-{worker}", small_gala["gala"], profile_data(
                    name=f"Kopia {worker}", url="https://facebook.com/jeden-adres"))
                outcomes.append("created")
            except ValidationError as error:
                outcomes.append(f"error:{','.join(error.errors)}")
            except BaseException as error:  # noqa: BLE001  (reported by the main thread)
                outcomes.append(f"unexpected:{error!r}")
            finally:
                db.session.remove()

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in workers)
    assert sorted(outcomes) == ["created"] + ["error:url"] * (threads - 1)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Profile).where(
            Profile.url == "https://facebook.com/jeden-adres")) == 1
        assert audit.verify_chain().intact


# --- organizers ----------------------------------------------------------------------------


def test_create_organizer_hashes_with_argon2id(ctx):
    organizer = services.create_organizer(ACTOR, "  New.Organizer@Example.com ",
                                          "Złote-Lajki-2026!")
    organizer = fresh(Organizer, organizer.id)
    assert organizer.email == "new.organizer@example.com"
    assert organizer.password_hash.startswith("$argon2id$")
    assert "Złote-Lajki-2026!" not in organizer.password_hash
    assert organizer.active is True
    assert (last_entry().action, last_entry().subject) == (
        "organizer.create", "new.organizer@example.com")


@pytest.mark.parametrize(("email", "password", "field"), [
    ("new@example.com", "short", "password"),
    ("new@example.com", "x" * 11, "password"),
    ("not-an-email", "a-long-password-1", "email"),
    ("", "a-long-password-1", "email"),
])
def test_create_organizer_bad_input_is_a_field_error(ctx, email, password, field):
    with pytest.raises(ValidationError) as caught:
        services.create_organizer(ACTOR, email, password)
    assert set(caught.value.errors) == {field}
    assert count(Organizer) == 0 and count(AuditEntry) == 0


def test_create_organizer_duplicate_email_any_case(ctx, organizer):
    before = counts()
    with pytest.raises(ValidationError) as caught:
        services.create_organizer(ACTOR, organizer["email"].upper(), "another-long-password")
    assert set(caught.value.errors) == {"email"}
    assert counts() == before


def test_authenticate_right_password(ctx, organizer):
    found = services.authenticate(organizer["email"].upper(), organizer["password"], "1.2.3.4")
    assert found is not None and found.email == organizer["email"]
    assert fresh(Organizer, found.id).last_login_at is not None
    entry = last_entry()
    assert (entry.actor, entry.action, entry.details) == (
        organizer["email"], "organizer.login", {"client": "1.2.3.4"})


@pytest.mark.parametrize(("email", "password"), [
    ("jury.chair@example.com", "wrong password!"),
    ("jury.chair@example.com", ""),
    ("nobody@example.com", "Złote-Lajki-2026!"),
    ("not an email", "Złote-Lajki-2026!"),
])
def test_authenticate_wrong_credentials(ctx, organizer, email, password):
    assert services.authenticate(email, password, "1.2.3.4") is None
    organizer_row = db.session.scalar(select(Organizer))
    assert organizer_row.last_login_at is None
    assert last_entry().action == "organizer.login_failed"


def test_authenticate_inactive_organizer_refused(ctx, organizer):
    with write_transaction() as session:
        session.scalar(select(Organizer)).active = False
    assert services.authenticate(organizer["email"], organizer["password"], "1.2.3.4") is None
    assert last_entry().action == "organizer.login_failed"
    assert db.session.scalar(select(Organizer)).last_login_at is None


def test_ensure_demo_organizer_creates_once_and_remembers_the_password(ctx):
    email, password, created = services.ensure_demo_organizer(ctx.instance_path)
    assert (email, created) == (services.DEMO_ORGANIZER_EMAIL, True)
    assert len(password) >= services.MIN_PASSWORD_LENGTH
    again = services.ensure_demo_organizer(ctx.instance_path)
    assert again == (email, password, False)
    assert count(Organizer) == 1
    assert [e.action for e in entries()] == ["organizer.create"]
    assert services.authenticate(email, password, "127.0.0.1") is not None

    path = services.demo_password_path(ctx.instance_path)
    assert path == Path(ctx.instance_path) / "demo-organizer-password"
    assert path.read_text().strip() == password
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0  # readable by the owner only
    # nothing but the secrets the app made itself lives beside it
    assert not [p.name for p in Path(ctx.instance_path).iterdir() if p.name.startswith(".")]


def test_ensure_demo_organizer_after_a_password_change_does_not_reveal_or_reset(ctx):
    email, password, _ = services.ensure_demo_organizer(ctx.instance_path)
    with write_transaction() as session:
        session.scalar(select(Organizer)).password_hash = services.password_hasher.hash(
            "changed-by-hand-123")
    assert services.ensure_demo_organizer(ctx.instance_path) == (email, "", False)
    assert services.authenticate(email, "changed-by-hand-123", "127.0.0.1") is not None
    assert services.authenticate(email, password, "127.0.0.1") is None


# --- review follow-ups -----------------------------------------------------------------------


def test_update_profile_after_opening_keeps_a_nominated_profile_the_same_account(ctx,
                                                                                small_gala):
    services.open_voting(ACTOR, small_gala["gala"])
    base = {"name": "Wrocław", "unit_name": "Miasto Wrocław", "unit_type": "miasto",
            "voivodeship": "dolnośląskie", "platform": "facebook",
            "url": "https://www.facebook.com/wroclaw"}
    for change in ({"url": "https://www.facebook.com/gmina-x"},
                   {"platform": "tiktok", "url": "https://www.tiktok.com/@wroclaw"},
                   {"unit_type": "gmina"}):
        with pytest.raises(LockedError):
            services.update_profile(ACTOR, small_gala["wroclaw"], {**base, **change})
    profile = db.session.get(Profile, small_gala["wroclaw"])
    assert (profile.url, profile.platform, profile.unit_type) == (
        "https://www.facebook.com/wroclaw", "facebook", "miasto")
    # Wording can still be corrected.
    services.update_profile(ACTOR, small_gala["wroclaw"],
                            {**base, "name": "Wrocław – oficjalny profil"})
    assert db.session.get(Profile, small_gala["wroclaw"]).name == "Wrocław – oficjalny profil"


def test_current_gala_is_the_newest_year_until_an_organizer_picks_one(ctx):
    from voting import transfer
    from voting.queries import current_gala

    doc = demo_document()
    older = transfer.import_gala(ACTOR, {**doc, "gala": {**doc["gala"], "date": "2024-11-28"}})
    newer = transfer.import_gala(ACTOR, {**doc, "gala": {**doc["gala"], "date": "2025-11-28",
                                                         "name": "Gala 2025"}})
    assert current_gala().id == newer.id
    transfer.import_gala(ACTOR, {**doc, "gala": {**doc["gala"], "date": "2023-11-28",
                                                 "name": "Gala 2023"}})
    assert current_gala().id == newer.id  # an import of an older edition does not take over
    services.switch_gala(ACTOR, older.id)
    assert current_gala().id == older.id
