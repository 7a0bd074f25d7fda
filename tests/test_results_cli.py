"""`flask tally` (the table and --json), refused before the close, and sealed exactly once by
the first command after a scheduled close; `flask results verify` and `results reveal`."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from conftest import cast_votes
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from test_voting_window import in_minutes, time_passes

from voting import services
from voting.extensions import db
from voting.models import AuditEntry, Category, Gala, Nomination

SEALED_ONLY = "Error: results are sealed when voting closes"


def nominee_ids(client: FlaskClient) -> dict[str, dict[str, int]]:
    """Nominee ids by category slug and nominee name, as GET /api/v1/gala gives them."""
    gala = client.get("/api/v1/gala").get_json()
    return {c["slug"]: {n["name"]: n["id"] for n in c["nominees"]} for c in gala["categories"]}


def tally_json(runner: FlaskCliRunner) -> dict[str, Any]:
    result = runner.invoke(args=["tally", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def by_slug(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {category["slug"]: category for category in document["categories"]}


def seal_entries(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEntry)
                                 .where(AuditEntry.action == "results.seal"))


@pytest.fixture
def voted(app: Flask, client: FlaskClient, small_gala: dict[str, int]) -> dict[str, Any]:
    """The small gala, open, with a tie in "tiktok-roku" (one audience vote each) and a clear
    winner in "wideo-w-metropolii" (3,1 points: Wrocław 7, Gdańsk 5)."""
    with app.app_context():
        services.open_voting("test", small_gala["gala"])
    ids = nominee_ids(client)
    single, ranked = ids["tiktok-roku"], ids["wideo-w-metropolii"]
    cast_votes(app, small_gala["gala"], "audience", [
        {"tiktok-roku": single["Łódź – TikTok"]}, {"tiktok-roku": single["Wrocław"]}, {}])
    cast_votes(app, small_gala["gala"], "jury", [
        {"wideo-w-metropolii": [ranked["Wrocław"], ranked["Gdańsk"]]},
        {"wideo-w-metropolii": [ranked["Wrocław"], ranked["Gdańsk"]]},
        {"wideo-w-metropolii": [ranked["Gdańsk"], ranked["Wrocław"]]}])
    return {**small_gala, "ids": ids}


def close(app: Flask, gala_id: int) -> None:
    with app.app_context():
        services.close_voting("test", gala_id)


# --- refused before the close ---------------------------------------------------------------


def test_tally_refused_while_draft_and_while_open_with_no_figures(app, runner, voted):
    for args in (["tally"], ["tally", "--json"], ["ballots", "export", "-"],
                 ["results", "verify"], ["results", "reveal", "tiktok-roku"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr.startswith(SEALED_ONLY), (args, result.stderr)
        assert "open" in result.stderr
        assert result.stdout == "", args


def test_tally_refused_in_a_draft_gala(runner, small_gala):
    result = runner.invoke(args=["tally", "--json"])
    assert result.exit_code == 1
    assert result.stderr.startswith(SEALED_ONLY) and "draft" in result.stderr
    assert result.stdout == ""


def test_tally_without_any_gala_says_so(runner):
    result = runner.invoke(args=["tally"])
    assert result.exit_code == 1 and "no gala yet" in result.stderr


# --- --json ------------------------------------------------------------------------------------


def test_tally_json_shape_with_a_tie_and_a_winner(app, runner, voted):
    close(app, voted["gala"])
    document = tally_json(runner)
    assert list(document) == ["categories"]
    categories = by_slug(document)
    assert list(categories) == ["tiktok-roku", "wideo-w-metropolii"]
    for category in document["categories"]:
        assert {"slug", "method", "ballots", "ranking", "tie", "tied", "winner",
                "winners"} <= set(category)

    single, ids = categories["tiktok-roku"], voted["ids"]["tiktok-roku"]
    assert single["method"] == "single"
    assert (single["ballots"], single["abstentions"]) == (2, 1)
    assert single["tie"] is True and single["winner"] is None and single["winners"] == []
    assert sorted(single["tied"]) == sorted(ids.values())
    assert [row["rank"] for row in single["ranking"]] == [1, 1]
    assert {row["nominee_id"]: (row["name"], row["score"]) for row in single["ranking"]} == {
        nominee_id: (name, 1) for name, nominee_id in ids.items()}

    ranked, ids = categories["wideo-w-metropolii"], voted["ids"]["wideo-w-metropolii"]
    assert (ranked["method"], ranked["ballots"]) == ("ranked", 3)
    assert ranked["ranking"] == [
        {"nominee_id": ids["Wrocław"], "name": "Wrocław", "score": 7, "rank": 1},
        {"nominee_id": ids["Gdańsk"], "name": "Gdańsk", "score": 5, "rank": 2}]
    assert ranked["tie"] is False and ranked["tied"] == []
    assert ranked["winner"] == ids["Wrocław"] and ranked["winners"] == [ids["Wrocław"]]


def test_tally_json_covers_every_method_of_the_demo_gala(app, client, runner,
                                                         voted_demo_gala, tmp_path):
    close(app, voted_demo_gala)
    categories = by_slug(tally_json(runner))
    api_ids = nominee_ids(client)
    balloted = {slug: c for slug, c in categories.items() if c["method"] != "decision"}
    assert {c["method"] for c in balloted.values()} == {"single", "ranked", "score",
                                                        "approval", "irv"}
    for slug, category in categories.items():
        ranking = category["ranking"]
        # Nominee ids and names are those the public API gives.
        assert {row["nominee_id"]: row["name"] for row in ranking}.items() <= {
            nominee_id: name for name, nominee_id in api_ids[slug].items()}.items(), slug
        assert [row["rank"] for row in ranking] == sorted(row["rank"] for row in ranking)
        assert all(not isinstance(row["score"], str) for row in ranking), slug
        assert isinstance(category["ballots"], int)
        if category["tie"]:
            assert category["winner"] is None and len(category["tied"]) >= 2
            assert {row["rank"] for row in ranking if row["nominee_id"] in category["tied"]} \
                == {1}
        elif category["winners"]:
            assert category["winner"] == category["winners"][0]
            assert ranking[0]["rank"] == 1
    for slug in balloted:
        assert len(categories[slug]["ranking"]) == len(api_ids[slug])

    # The counts agree with a count of the anonymised ballot box done here, by hand.
    path = tmp_path / "ballots.json"
    assert runner.invoke(args=["ballots", "export", str(path)]).exit_code == 0
    ballots = json.loads(path.read_text(encoding="utf-8"))["ballots"]
    for slug in ("tiktok-samorzadu", "storytelling-gminy", "samorzadowiec-influencerem"):
        marks = [ballot["marks"][slug] for ballot in ballots if slug in ballot["marks"]]
        counted = Counter(n for mark in marks for n in (mark if isinstance(mark, list)
                                                        else [mark]))
        assert categories[slug]["ballots"] == len(marks)
        assert {row["nominee_id"]: row["score"] for row in categories[slug]["ranking"]} == {
            nominee_id: counted[nominee_id] for nominee_id in api_ids[slug].values()}


# --- the table -------------------------------------------------------------------------------


def test_tally_table_shows_ranks_scores_the_winner_the_tie_and_the_commitments(app, runner,
                                                                                voted):
    close(app, voted["gala"])
    result = runner.invoke(args=["tally"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    with app.app_context():
        commitments = [c.seals[-1].commitment for c in db.session.scalars(
            select(Category).order_by(Category.position, Category.id))]
    assert "results sealed at" in out.splitlines()[0]
    single, ranked = out.split("\n\n")[1:]
    assert "TikTok roku [tiktok-roku]: single, audience 100%" in single
    assert "Ballots: 2, abstentions: 1" in single
    assert "TIE between" in single and "awaiting the jury chair's decision" in single
    assert [line.split()[0] for line in single.splitlines() if line.endswith("TIED")] == \
        ["1", "1"]
    assert commitments[0] in single and "sealed, not revealed" in single
    assert "Wideo w metropolii [wideo-w-metropolii]: ranked, jury 100%" in ranked
    rows = [line.split() for line in ranked.splitlines()[1:] if line.strip()[:1].isdigit()]
    assert rows == [["1", "Wrocław", "7", "WINNER"], ["2", "Gdańsk", "5"]]
    assert f"Winner: Wrocław (#{voted['ids']['wideo-w-metropolii']['Wrocław']}), margin 2" \
        in ranked
    assert "Tie-breaks: more first places" in ranked
    assert commitments[1] in ranked


def test_tally_table_of_the_demo_gala_prints_every_category(app, runner, voted_demo_gala):
    close(app, voted_demo_gala)
    result = runner.invoke(args=["tally"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        names = list(db.session.scalars(select(Category.name_pl).where(
            Category.gala_id == voted_demo_gala).order_by(Category.position, Category.id)))
    blocks = result.stdout.split("\n\n")[1:]
    assert len(blocks) == len(names)
    for block, name in zip(blocks, names, strict=True):
        assert block.split(". ", 1)[1].startswith(name)
        assert "Commitment (version 1, sealed, not revealed)" in block


# --- the scheduled close ----------------------------------------------------------------------


def test_first_command_after_a_scheduled_close_seals_exactly_once(app, runner, voted, tmp_path):
    with app.app_context():
        services.schedule_close("test", voted["gala"], in_minutes(30))
    assert runner.invoke(args=["tally"]).exit_code == 1
    assert seal_entries(app) == 0
    time_passes(app, voted["gala"], in_minutes(-1))

    first = runner.invoke(args=["tally", "--json"])
    assert first.exit_code == 0, first.output
    assert by_slug(json.loads(first.stdout))["wideo-w-metropolii"]["ranking"][0]["score"] == 7
    for args in (["tally"], ["results", "verify"], ["ballots", "export", str(tmp_path / "b")],
                 ["tally", "--json"], ["voting", "status"]):
        assert runner.invoke(args=args).exit_code == 0, args
    assert seal_entries(app) == 1
    assert json.loads(runner.invoke(args=["tally", "--json"]).stdout) == json.loads(first.stdout)
    with app.app_context():
        gala = db.session.get(Gala, voted["gala"])
        assert gala.voting_state == "closed" and gala.sealed_at is not None


# --- results verify / reveal ----------------------------------------------------------------


def test_results_verify_holds_after_the_close(app, runner, voted):
    close(app, voted["gala"])
    result = runner.invoke(args=["results", "verify"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "All commitments hold: 2 sealed versions (Gala Złotych Lajków 2026).\n"


def test_results_reveal_a_decided_category_and_refuse_a_tie_and_an_unknown_slug(app, runner,
                                                                                voted):
    close(app, voted["gala"])
    revealed = runner.invoke(args=["results", "reveal", "wideo-w-metropolii"])
    assert revealed.exit_code == 0, revealed.output
    assert revealed.stdout.startswith("Revealed Wideo w metropolii [wideo-w-metropolii]: Wrocław")
    assert by_slug(tally_json(runner))["wideo-w-metropolii"]["revealed"] is True

    again = runner.invoke(args=["results", "reveal", "wideo-w-metropolii"])
    assert again.exit_code == 1 and again.stderr.startswith("Error: ")
    tied = runner.invoke(args=["results", "reveal", "tiktok-roku"])
    assert tied.exit_code == 1 and tied.stderr.startswith("Error: ")
    unknown = runner.invoke(args=["results", "reveal", "no-such-category"])
    assert unknown.exit_code == 1
    assert unknown.stderr == "Error: no category 'no-such-category' in Gala Złotych Lajków 2026.\n"
    assert all(isinstance(r.exception, SystemExit) for r in (again, tied, unknown))


def test_tally_after_the_chair_decides_a_tie(app, runner, voted):
    close(app, voted["gala"])
    wroclaw = voted["ids"]["tiktok-roku"]["Wrocław"]
    with app.app_context():
        category_id = db.session.scalar(select(Nomination.category_id).where(
            Nomination.id == wroclaw))
        from voting import results

        results.decide("chair@example.com", category_id, [wroclaw], "Losowanie przy świadkach.")
    single = by_slug(tally_json(runner))["tiktok-roku"]
    assert (single["tie"], single["winner"], single["winners"]) == (False, wroclaw, [wroclaw])
    assert single["version"] == 2
    assert single["ranking"][0]["nominee_id"] == wroclaw and single["ranking"][0]["rank"] == 1
    table = runner.invoke(args=["tally"]).stdout
    assert "Decision by chair@example.com" in table and "Losowanie przy świadkach." in table
    assert "Winner: Wrocław" in table
