"""`flask ballots export` and `flask recount`: the anonymised ballot box, a recount from it
alone that matches the sealed results, and one that reports tampering with the stored ballots,
the stored results or the export itself; `flask results verify` on the commitments."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select, text

from voting import results, services
from voting.extensions import db
from voting.models import BallotChoice, Category, Nomination, ResultSeal

TAMPERED_BALLOT = "tiktok-samorzadu"  # single: moving one vote always changes the counts
TAMPERED_RESULT = "wideo-w-metropolii"


@pytest.fixture
def closed(app: Flask, voted_demo_gala: int) -> int:
    """The demo gala with its ballots, closed and sealed."""
    with app.app_context():
        services.close_voting("test", voted_demo_gala)
    return voted_demo_gala


def export(runner: FlaskCliRunner, path: Path) -> dict[str, Any]:
    result = runner.invoke(args=["ballots", "export", str(path)])
    assert result.exit_code == 0, result.output
    return json.loads(path.read_text(encoding="utf-8"))


def report(output: str) -> dict[str, tuple[str, str]]:
    """The recount's lines as {what: (OK or MISMATCH, detail)}."""
    lines = {}
    for line in output.splitlines():
        if not line.startswith("Verdict: "):
            what, verdict, detail = re.split(r"\s{2,}", line, maxsplit=2)
            lines[what] = (verdict, detail)
    return lines


def recount(runner: FlaskCliRunner, path: Path) -> Any:
    result = runner.invoke(args=["recount", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no crash
    return result


def category_id(app: Flask, slug: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Category.id).where(Category.slug == slug))


def raw_sql(app: Flask, statement: str, **params: Any) -> int:
    """Play someone with write access to the database: one statement, committed."""
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as connection:
            return connection.execute(text(statement), params).rowcount


def move_one_vote(app: Flask, slug: str) -> None:
    """UPDATE one stored ballot's choice to another nominee of the same category."""
    category = category_id(app, slug)
    with app.app_context():
        choice = db.session.scalars(select(BallotChoice).where(
            BallotChoice.category_id == category).order_by(BallotChoice.ballot_id)).first()
        other = db.session.scalar(select(Nomination.id).where(
            Nomination.category_id == category, Nomination.id != choice.nomination_id)
            .order_by(Nomination.id))
        ballot, old = choice.ballot_id, choice.nomination_id
    assert raw_sql(app, "UPDATE ballot_choice SET nomination_id = :new WHERE ballot_id = :ballot "
                   "AND category_id = :category AND nomination_id = :old",
                   new=other, ballot=ballot, category=category, old=old) == 1


def alter_result(app: Flask, slug: str, column: str) -> None:
    """UPDATE a category's stored result (its winner) or its figures (a count)."""
    with app.app_context():
        seal = db.session.scalars(select(ResultSeal).where(
            ResultSeal.category_id == category_id(app, slug))).one()
        data = json.loads(getattr(seal, column))
        if column == "result":
            runner_up = data["ranking"][1]["nominee_id"]
            data.update(winner=runner_up, winners=[runner_up])
        else:
            data["ranking"][0]["place_counts"][0] += 1
        seal_id, changed = seal.id, results.canonical(data)
    assert raw_sql(app, f"UPDATE result_seal SET {column} = :changed WHERE id = :id",  # noqa: S608
                   changed=changed, id=seal_id) == 1


# --- the export -------------------------------------------------------------------------------


def test_ballots_export_is_anonymous_sorted_and_the_same_on_stdout(app, runner, closed,
                                                                   tmp_path):
    document = export(runner, tmp_path / "ballots.json")
    assert document["format"] == results.BALLOT_BOX_FORMAT
    assert len(document["ballots"]) == 32
    assert all(set(ballot) == {"group", "marks"} for ballot in document["ballots"])
    canonical = [results.canonical(ballot) for ballot in document["ballots"]]
    assert canonical == sorted(canonical)
    raw = (tmp_path / "ballots.json").read_text(encoding="utf-8")
    assert "receipt" not in raw and "token" not in raw and "Złotych" in raw  # UTF-8, not \u
    with app.app_context():
        from voting.models import Gala

        assert document["fingerprint"] == db.session.get(Gala, closed).ballot_box_fingerprint
    stdout = runner.invoke(args=["ballots", "export", "-"])
    assert stdout.exit_code == 0 and json.loads(stdout.stdout) == document


def test_ballots_export_to_an_unwritable_place_is_a_clean_error(runner, closed, tmp_path):
    result = runner.invoke(args=["ballots", "export", str(tmp_path / "no" / "such" / "x.json")])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: cannot write ")
    assert isinstance(result.exception, SystemExit)


# --- a faithful recount -------------------------------------------------------------------------


def test_recount_of_an_export_matches_the_sealed_results(app, runner, closed, tmp_path):
    path = tmp_path / "ballots.json"
    export(runner, path)
    result = recount(runner, path)
    assert result.exit_code == 0, result.output
    lines = report(result.stdout)
    with app.app_context():
        slugs = list(db.session.scalars(select(Category.slug).order_by(Category.position,
                                                                        Category.id)))
    assert list(lines) == ["gala", "ballot box", *slugs, "commitments"]
    assert {verdict for verdict, _ in lines.values()} == {"OK"}
    assert lines["ballot box"][1].startswith("32 ballots")
    assert result.stdout.splitlines()[-1].startswith(
        "Verdict: the recount matches the sealed results")


def test_recount_from_standard_input(runner, closed, tmp_path):
    path = tmp_path / "ballots.json"
    export(runner, path)
    result = runner.invoke(args=["recount", "-"], input=path.read_text(encoding="utf-8"))
    assert result.exit_code == 0, result.output
    assert "matches" in result.stdout


# --- tampering ------------------------------------------------------------------------------


@pytest.mark.parametrize("column", ["result", "figures"])
def test_recount_and_the_commitment_check_report_an_altered_ballot_and_result(
        app, runner, closed, tmp_path, column):
    before = tmp_path / "before.json"
    export(runner, before)

    move_one_vote(app, TAMPERED_BALLOT)
    alter_result(app, TAMPERED_RESULT, column)

    after = tmp_path / "after.json"
    warned = runner.invoke(args=["ballots", "export", str(after)])
    assert warned.exit_code == 0
    assert "no longer match the ballot box sealed at the close" in warned.stderr

    result = recount(runner, after)
    assert result.exit_code == 1, result.output
    lines = report(result.stdout)
    assert lines["ballot box"][0] == "MISMATCH" and "sealed: " in lines["ballot box"][1]
    assert lines[TAMPERED_BALLOT][0] == "MISMATCH"
    assert "differs from the sealed result" in lines[TAMPERED_BALLOT][1]
    assert lines["commitments"][0] == "MISMATCH"
    assert f"{TAMPERED_RESULT} v1: the {column}" in lines["commitments"][1]
    wrong = {what for what, (verdict, _) in lines.items() if verdict == "MISMATCH"}
    expected = {"ballot box", TAMPERED_BALLOT, "commitments"}
    # Altered figures also stop matching the recount of the (untouched) category.
    assert wrong == (expected | {TAMPERED_RESULT} if column == "figures" else expected)
    verdict = result.stdout.splitlines()[-1]
    assert verdict.startswith(f"Verdict: MISMATCH: {len(wrong)} of ")
    assert TAMPERED_BALLOT in verdict and "commitments" in verdict

    # The export taken before the tampering still matches the sealed ballot box and counts;
    # only the altered result stands out.
    old = report(recount(runner, before).stdout)
    assert old["ballot box"][0] == "OK" and old[TAMPERED_BALLOT][0] == "OK"
    assert old["commitments"][0] == "MISMATCH"

    verified = runner.invoke(args=["results", "verify"])
    assert verified.exit_code == 1
    assert verified.stderr.startswith("Commitments BROKEN (1 problem in")
    assert f"{TAMPERED_RESULT} v1: the {column} do" in verified.stderr


def test_recount_of_an_export_edited_by_hand_is_a_mismatch(app, runner, closed, tmp_path):
    path = tmp_path / "ballots.json"
    document = export(runner, path)
    category = next(c for c in document["categories"] if c["slug"] == TAMPERED_BALLOT)
    ballot = next(b for b in document["ballots"] if TAMPERED_BALLOT in b["marks"])
    chosen = ballot["marks"][TAMPERED_BALLOT]
    ballot["marks"][TAMPERED_BALLOT] = [next(n["id"] for n in category["nominees"]
                                             if [n["id"]] != chosen)]
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")

    result = recount(runner, path)
    assert result.exit_code == 1, result.output
    lines = report(result.stdout)
    assert lines["ballot box"][0] == "MISMATCH"
    assert lines[TAMPERED_BALLOT][0] == "MISMATCH"
    assert lines["commitments"][0] == "OK"
    assert "Verdict: MISMATCH" in result.stdout


def test_recount_of_an_export_missing_a_category_is_a_mismatch(runner, closed, tmp_path):
    path = tmp_path / "ballots.json"
    document = export(runner, path)
    document["categories"] = [c for c in document["categories"] if c["slug"] != "kultura-w-sieci"]
    for ballot in document["ballots"]:
        ballot["marks"].pop("kultura-w-sieci", None)
    path.write_text(json.dumps(document), encoding="utf-8")
    result = recount(runner, path)
    assert result.exit_code == 1
    assert report(result.stdout)["kultura-w-sieci"] == ("MISMATCH", "not in the export")


# --- files that are not exports ---------------------------------------------------------------


@pytest.mark.parametrize(("content", "says"), [
    (None, "no such file"),
    (b"\xff\xfe not text", "not UTF-8 JSON"),
    (b"{not json", "not UTF-8 JSON"),
    (b"[]", "not a ballot-box export"),
    (b'{"format": "zlote-lajki.gala"}', "not a ballot-box export"),
    (b'{"format": "zlote-lajki/ballot-box/1", "categories": []}', "no list of ballots"),
])
def test_recount_of_a_file_that_is_not_an_export_is_a_clean_error(runner, closed, tmp_path,
                                                                  content, says):
    path = tmp_path / "ballots.json"
    if content is not None:
        path.write_bytes(content)
    result = recount(runner, path)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {path}: ") and says in result.stderr
    assert result.stdout == ""


def test_recount_of_an_export_with_wrong_types_is_a_clean_error(runner, closed, tmp_path):
    path = tmp_path / "ballots.json"
    document = export(runner, path)
    document["ballots"][0]["group"] = ["jury"]
    path.write_text(json.dumps(document), encoding="utf-8")
    result = recount(runner, path)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {path}: cannot be recounted")
    assert result.stdout == ""


def test_recount_before_the_close_is_refused(app, runner, voted_demo_gala, tmp_path):
    path = tmp_path / "ballots.json"
    path.write_text('{"format": "zlote-lajki/ballot-box/1", "ballots": []}', encoding="utf-8")
    result = recount(runner, path)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: results are sealed when voting closes")


@pytest.mark.parametrize("broken", [
    {"ballots": [{"group": ["jury"], "marks": {}}]},
    {"categories": [{"slug": "a", "method": "approval", "max_choices": "2",
                     "nominees": [{"id": 1}, {"id": 2}], "groups": {"jury": 100}}]},
])
def test_tally_export_raises_valueerror_for_wrong_types(broken):
    document = {"format": results.BALLOT_BOX_FORMAT, "ballots": [],
                "categories": [{"slug": "a", "method": "single",
                                "nominees": [{"id": 1}, {"id": 2}], "groups": {"jury": 100}}],
                **broken}
    with pytest.raises(ValueError):
        results.tally_export(document)
