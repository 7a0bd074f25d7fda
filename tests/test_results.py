"""Sealing, deciding, re-tallying and revealing results (voting.results), on either database."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Iterator

import pytest
from conftest import cast_votes
from flask import Flask
from sqlalchemy import func, select, update
from test_display import display_url

from voting import results, services, tally
from voting.errors import ConflictError, ValidationError
from voting.extensions import db
from voting.models import AuditEntry, Category, Gala, ResultSeal, utcnow

ACTOR = "chair@example.com"


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


def gala(gala_id: int) -> Gala:
    return db.session.get(Gala, gala_id)


def category(gala_id: int, slug: str) -> Category:
    return db.session.scalar(select(Category).where(Category.gala_id == gala_id,
                                                    Category.slug == slug))


def seal_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action)
                                   .where(AuditEntry.action == "results.seal")))


@pytest.fixture
def sealed(ctx: Flask, voted_demo_gala: int) -> int:
    services.close_voting(ACTOR, voted_demo_gala)
    return voted_demo_gala


@pytest.fixture
def tied(app: Flask, small_gala: dict[str, int]) -> dict[str, int]:
    """The small gala closed with its single category tied 1:1 and its ranked one decided."""
    with app.app_context():
        services.open_voting("test", small_gala["gala"])
        single = {n.profile_id: n.id for n in db.session.get(Category,
                                                             small_gala["single"]).nominations}
        ranked = {n.profile_id: n.id for n in db.session.get(Category,
                                                             small_gala["ranked"]).nominations}
    cast_votes(app, small_gala["gala"], "audience", [
        {"tiktok-roku": single[small_gala["lodz"]]},
        {"tiktok-roku": single[small_gala["wroclaw"]]}])
    cast_votes(app, small_gala["gala"], "jury", [
        {"wideo-w-metropolii": [ranked[small_gala["gdansk"]], ranked[small_gala["wroclaw"]]]}])
    with app.app_context():
        services.close_voting("test", small_gala["gala"])
    return {**small_gala, "single_ids": single, "ranked_ids": ranked}


# --- sealing -------------------------------------------------------------------------------


def test_results_sealed_at_the_close_with_commitments_that_hold(sealed):
    the_gala = gala(sealed)
    assert the_gala.sealed_at is not None and len(the_gala.ballot_box_fingerprint) == 64
    outcomes = results.outcomes(the_gala)
    # 8 balloted categories and the 2 the chapter decides: every one sealed at the close.
    assert len(outcomes) == 10 and all(o.seal.version == 1 for o in outcomes)
    for outcome in outcomes:
        seal = outcome.seal
        assert seal.commitment == hashlib.sha256(
            f"{seal.nonce}\n{seal.result}".encode()).hexdigest()
        assert outcome.public["figures"] == hashlib.sha256(
            f"{seal.figures_nonce}\n{seal.figures}".encode()).hexdigest()
        assert outcome.public["ballot_box"] == the_gala.ballot_box_fingerprint
        assert seal.nonce != seal.figures_nonce
    assert results.verify_seals(the_gala) == []
    assert seal_actions() == ["results.seal"]


def test_results_public_text_carries_ranks_but_no_figures(sealed):
    for outcome in results.outcomes(gala(sealed)):
        public = json.loads(outcome.seal.result)
        if not outcome.category.balloted:  # nothing to rank until the chair records it
            assert public["ranking"] == [] and public["awaiting_decision"]
            continue
        assert set(public["ranking"][0]) == {"nominee_id", "rank", "eligible"}
        assert "ballots" not in public and '"score":' not in outcome.seal.result
        assert json.loads(outcome.seal.figures)["ballots"] == outcome.summary()["ballots"]


def test_results_seal_once_only(sealed):
    assert results.seal_results(ACTOR, gala(sealed)) is False
    with pytest.raises(ConflictError):
        services.close_voting(ACTOR, sealed)
    assert db.session.scalar(select(func.count()).select_from(ResultSeal)) == 10
    assert seal_actions() == ["results.seal"]


def test_results_scheduled_close_sealed_once_by_the_first_of_many_requests(app, voted_demo_gala):
    """Eight threads look at the gala right after its closing time passed: one seals."""
    with app.app_context():
        db.session.execute(update(Gala).where(Gala.id == voted_demo_gala)
                           .values(closes_at=utcnow() - dt.timedelta(seconds=1)))
        db.session.commit()
    barrier = threading.Barrier(8, timeout=30)
    errors: list[BaseException] = []

    def look() -> None:
        with app.app_context():
            barrier.wait()
            try:
                from voting.queries import current_gala

                assert current_gala().voting_state == "closed"
            except BaseException as error:  # noqa: BLE001  (reported by the main thread)
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=look) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads) and errors == []
    with app.app_context():
        assert seal_actions() == ["results.seal"]
        assert db.session.scalar(select(func.count()).select_from(ResultSeal)) == 10
        assert gala(voted_demo_gala).closed_at == gala(voted_demo_gala).closes_at


def test_results_gala_with_no_ballots_seals_with_no_winners(ctx, small_gala):
    services.open_voting(ACTOR, small_gala["gala"])
    services.close_voting(ACTOR, small_gala["gala"])
    for outcome in results.outcomes(gala(small_gala["gala"])):
        assert outcome.public["winners"] == [] and outcome.public["awaiting_decision"]
        assert outcome.figures["notes"] == ["no ballots"]


# --- the ballot box and the recount ----------------------------------------------------------


def test_results_ballot_box_is_anonymous_and_in_content_order(sealed):
    document = results.ballot_box(gala(sealed)).document
    ballots = document["ballots"]
    assert len(ballots) == 32
    assert all(set(ballot) == {"group", "marks"} for ballot in ballots)
    assert ballots == sorted(ballots, key=results.canonical)
    text = json.dumps(document)
    from voting.models import Ballot

    for ballot in db.session.scalars(select(Ballot)):
        assert ballot.receipt not in text and ballot.id not in text


def test_results_recount_of_the_export_equals_the_sealed_results(sealed):
    the_gala = gala(sealed)
    document = json.loads(json.dumps(results.ballot_box(the_gala).document))
    report = results.recount(the_gala, document)
    assert report.matches, report.lines
    recounted = results.tally_export(document)
    balloted = [o for o in results.outcomes(the_gala) if o.category.balloted]
    assert set(recounted) == {o.category.slug for o in balloted}  # no ballots, no recount
    for outcome in balloted:
        assert tally.canonical_json(recounted[outcome.category.slug]) == outcome.seal.figures


def test_results_recount_reports_a_changed_ballot(sealed):
    the_gala = gala(sealed)
    document = json.loads(json.dumps(results.ballot_box(the_gala).document))
    ballot = next(b for b in document["ballots"] if "tiktok-samorzadu" in b["marks"])
    options = [n.id for n in category(sealed, "tiktok-samorzadu").nominations]
    ballot["marks"]["tiktok-samorzadu"] = [next(n for n in options
                                                if n != ballot["marks"]["tiktok-samorzadu"][0])]
    report = results.recount(the_gala, document)
    assert not report.matches
    failed = {what for what, ok, _ in report.lines if not ok}
    assert failed == {"ballot box", "tiktok-samorzadu"}


def test_results_verify_reports_an_altered_stored_result(sealed):
    seal = results.outcome_of(category(sealed, "storytelling-gminy")).seal
    db.session.execute(update(ResultSeal).where(ResultSeal.id == seal.id)
                       .values(figures=seal.figures.replace('"ballots":', '"ballots":1', 1)))
    db.session.commit()
    db.session.expire_all()
    problems = results.verify_seals(gala(sealed))
    assert problems == ["storytelling-gminy v1: the figures do not match their commitment"]


def test_results_export_refuses_what_is_not_an_export():
    for document in ({}, {"format": "x"}, [], {"format": results.BALLOT_BOX_FORMAT}):
        with pytest.raises(ValueError):
            results.tally_export(document)


# --- the chair's decisions -----------------------------------------------------------------


def test_results_tie_awaits_the_chair(ctx, tied):
    outcome = results.outcome_of(db.session.get(Category, tied["single"]))
    assert outcome.public["tie"] and outcome.public["winner"] is None
    assert outcome.public["tied"] == sorted(tied["single_ids"].values())
    with pytest.raises(ConflictError):
        results.reveal_category(ACTOR, tied["single"])


@pytest.mark.parametrize(("winners", "reason", "field"), [
    ([], "Regulamin, § 5", "winners"),
    (["x"], "Regulamin, § 5", "winners"),
    ([999_999], "Regulamin, § 5", "winners"),
    ("both", "Regulamin, § 5", "winners"),  # two winners where ex aequo is not allowed
    ("one", "   ", "reason"),
])
def test_results_decision_refused_changes_nothing(ctx, tied, winners, reason, field):
    ids = sorted(tied["single_ids"].values())
    if isinstance(winners, str):
        winners = {"both": ids, "one": ids[:1]}[winners]
    with pytest.raises(ValidationError) as caught:
        results.decide(ACTOR, tied["single"], winners, reason)
    assert field in caught.value.errors
    assert len(db.session.get(Category, tied["single"]).seals) == 1


def test_results_decision_is_a_new_sealed_version(ctx, tied):
    winner = tied["single_ids"][tied["wroclaw"]]
    seal = results.decide(ACTOR, tied["single"], [winner], "Losowanie przy komisji")
    assert (seal.version, seal.event) == (2, "decision")
    outcome = results.outcome_of(db.session.get(Category, tied["single"]))
    assert outcome.public["winner"] == winner and not outcome.public["tie"]
    assert outcome.public["decision"]["by"] == ACTOR
    assert outcome.public["decision"]["reason"] == "Losowanie przy komisji"
    assert [r["rank"] for r in outcome.public["ranking"]] == [1, 2]
    assert outcome.public["ranking"][0]["nominee_id"] == winner
    assert results.verify_seals(gala(tied["gala"])) == []
    first = db.session.get(Category, tied["single"]).seals[0]
    assert seal.commitment != first.commitment and json.loads(first.result)["tie"]


def test_results_decision_ex_aequo_where_the_rules_allow_it(ctx, tied):
    db.session.execute(update(Category).where(Category.id == tied["single"])
                       .values(ex_aequo=True))
    db.session.commit()
    ids = sorted(tied["single_ids"].values())
    results.decide(ACTOR, tied["single"], ids, "Ex aequo zgodnie z regulaminem")
    outcome = results.outcome_of(db.session.get(Category, tied["single"]))
    assert outcome.public["winners"] == ids and outcome.public["winner"] is None
    assert outcome.summary()["decision"]["ex_aequo"] is True


def test_results_no_decision_where_the_count_decided(ctx, tied):
    with pytest.raises(ConflictError):
        results.decide(ACTOR, tied["ranked"], [tied["ranked_ids"][tied["gdansk"]]], "x")


def test_results_reveal_then_nothing_changes(ctx, tied):
    results.reveal_category(ACTOR, tied["ranked"])
    with pytest.raises(ConflictError):
        results.reveal_category(ACTOR, tied["ranked"])
    with pytest.raises(ConflictError):
        results.retally(ACTOR, tied["ranked"], "once more")
    assert results.next_to_reveal(gala(tied["gala"])).id == tied["single"]


def test_results_retally_records_a_new_version_and_keeps_a_decision(ctx, tied):
    winner = tied["single_ids"][tied["lodz"]]
    results.decide(ACTOR, tied["single"], [winner], "Losowanie")
    seal = results.retally(ACTOR, tied["single"], "Kontrola komisji")
    assert (seal.version, seal.event, seal.reason) == (3, "retally", "Kontrola komisji")
    outcome = results.outcome_of(db.session.get(Category, tied["single"]))
    assert outcome.public["winner"] == winner  # the same tie: the decision stands
    details = json.loads(db.session.scalars(
        select(AuditEntry.details_json).where(AuditEntry.action == "results.retally")).one())
    assert details["changed"] is False
    with pytest.raises(ValidationError):
        results.retally(ACTOR, tied["single"], "")


# --- what the public sees --------------------------------------------------------------------


def test_results_public_only_after_the_reveal_and_figures_only_if_on(ctx, tied):
    the_gala = gala(tied["gala"])
    before = results.public_results(the_gala)
    assert before["categories"] == [] and len(before["sealed"]) == 2
    results.reveal_category(ACTOR, tied["ranked"])
    shown = results.public_results(the_gala)["categories"]
    assert [c["slug"] for c in shown] == ["wideo-w-metropolii"]
    assert "figures" not in shown[0] and "score" not in shown[0]["ranking"][0]
    assert hashlib.sha256(f"{shown[0]['nonce']}\n{shown[0]['result']}".encode()).hexdigest() \
        == shown[0]["commitment"]
    results.set_public_figures(ACTOR, tied["ranked"], True)
    shown = results.public_results(the_gala)["categories"][0]
    assert shown["ranking"][0]["score"] == 3 and shown["ballots"] == 1
    assert hashlib.sha256(f"{shown['figures_nonce']}\n{shown['figures']}".encode()) \
        .hexdigest() == json.loads(shown["result"])["figures"]


def test_results_export_of_the_ballot_box_is_recorded(sealed):
    box = results.export_ballot_box(ACTOR, gala(sealed))
    entry = db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "results.export_ballot_box")).one()
    assert (entry.actor, entry.details) == (ACTOR, {"ballots": 32,
                                                    "fingerprint": box.fingerprint})


def test_results_display_shows_the_commitments_once_sealed(app, client, voted_demo_gala):
    display = display_url(app)
    assert "Wyniki zapieczętowane" not in client.get(display).get_data(as_text=True)
    with app.app_context():
        services.close_voting(ACTOR, voted_demo_gala)
        outcomes = results.outcomes(gala(voted_demo_gala))
        nominees = {n.profile.name for o in outcomes for n in o.category.nominations}
    page = client.get(display).get_data(as_text=True)
    assert "Wyniki zapieczętowane" in page
    for outcome in outcomes:
        assert f'title="{outcome.seal.commitment}"' in page
    assert not any(name in page for name in nominees)
