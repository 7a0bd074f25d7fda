"""`flask --app wsgi ...` commands, through the app's CLI test runner."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    AUDIT_TRIGGERS,
    demo_document,
)
from flask import Flask
from sqlalchemy import func, select, text

from voting import services, transfer
from voting.extensions import db
from voting.models import AuditEntry, Category, CategoryGroup, Gala, Nomination, Organizer, Profile

PASSWORD = "a-long-password-1"


def counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
                for model in (Gala, Category, CategoryGroup, Profile, Nomination, Organizer,
                              AuditEntry)}


def organizer_emails(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(Organizer.email).order_by(Organizer.email)))


def gala_states(app: Flask) -> dict[int, str]:
    with app.app_context():
        return dict(db.session.execute(select(Gala.year, Gala.voting_state)).all())


def exported(app: Flask, year: int) -> dict[str, Any]:
    with app.app_context():
        return transfer.export_gala(transfer.find_gala(str(year)))




def raw_sql(app: Flask, *statements: str) -> None:
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))


@pytest.fixture
def without_audit_triggers(app: Flask) -> Iterator[None]:
    """A DBA removed the append-only triggers; put back afterwards (PostgreSQL shares a schema)."""
    with app.app_context():
        kind = db.engine.dialect.name
    raw_sql(app, *AUDIT_TRIGGERS[kind][0])
    yield
    raw_sql(app, *AUDIT_TRIGGERS[kind][1])


# --- organizer ---------------------------------------------------------------------------


def test_organizer_create_password_from_environment(app, runner):
    result = runner.invoke(args=["organizer", "create", "New.Organizer@Example.com"],
                           env={"ORGANIZER_PASSWORD": PASSWORD})
    assert result.exit_code == 0, result.output
    assert "new.organizer@example.com" in result.output
    assert PASSWORD not in result.output
    assert organizer_emails(app) == ["new.organizer@example.com"]
    with app.app_context():
        assert services.authenticate("new.organizer@example.com", PASSWORD, "cli") is not None
        assert db.session.scalar(select(AuditEntry.actor)) == f"cli:{getpass.getuser()}"


def test_organizer_create_password_from_prompt(app, runner):
    result = runner.invoke(args=["organizer", "create", "prompted@example.com"],
                           env={"ORGANIZER_PASSWORD": None}, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # the prompt hides what is typed
    assert organizer_emails(app) == ["prompted@example.com"]
    with app.app_context():
        assert services.authenticate("prompted@example.com", PASSWORD, "cli") is not None


def test_organizer_create_prompt_asks_again_when_confirmation_differs(app, runner):
    result = runner.invoke(args=["organizer", "create", "prompted@example.com"],
                           env={"ORGANIZER_PASSWORD": None},
                           input=f"{PASSWORD}\nsomething-else-1\n{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    with app.app_context():
        assert services.authenticate("prompted@example.com", PASSWORD, "cli") is not None


@pytest.mark.parametrize(("email", "password", "field"), [
    ("not-an-email", PASSWORD, "email"),
    ("jury@", PASSWORD, "email"),
    ("short@example.com", "short", "password"),
])
def test_organizer_create_bad_input_exits_1(app, runner, email, password, field):
    result = runner.invoke(args=["organizer", "create", email],
                           env={"ORGANIZER_PASSWORD": password})
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert f"  {field}: " in result.stderr
    assert organizer_emails(app) == []
    assert counts(app)["AuditEntry"] == 0


def test_organizer_create_duplicate_exits_1(app, runner, organizer):
    result = runner.invoke(args=["organizer", "create", organizer["email"].upper()],
                           env={"ORGANIZER_PASSWORD": PASSWORD})
    assert result.exit_code == 1
    assert "  email: " in result.stderr
    assert organizer_emails(app) == [organizer["email"]]


def test_organizer_ensure_demo_prints_the_same_login_twice(app, runner):
    first = runner.invoke(args=["organizer", "ensure-demo"])
    assert first.exit_code == 0, first.output
    assert services.DEMO_ORGANIZER_EMAIL in first.output and "created" in first.output
    password = first.output.split("Password: ", 1)[1].split()[0]
    second = runner.invoke(args=["organizer", "ensure-demo"])
    assert second.exit_code == 0
    assert "ready" in second.output and f"Password: {password}" in second.output
    assert organizer_emails(app) == [services.DEMO_ORGANIZER_EMAIL]
    assert (Path(app.instance_path) / "demo-organizer-password").read_text().strip() == password


def test_organizer_ensure_demo_refused_in_production(app, runner):
    app.config["ALLOW_DEMO_ORGANIZER"] = False
    result = runner.invoke(args=["organizer", "ensure-demo"])
    assert result.exit_code == 1
    assert "production" in result.stderr
    assert organizer_emails(app) == []
    assert not (Path(app.instance_path) / "demo-organizer-password").exists()


# --- demo --------------------------------------------------------------------------------


def test_demo_loads_once_and_then_changes_nothing(app, runner):
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert "10 categories" in first.output and "25" in first.output
    loaded = counts(app)
    assert (loaded["Gala"], loaded["Category"], loaded["Profile"]) == (1, 10, 25)
    assert loaded["AuditEntry"] == 1
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0
    assert "already" in second.output
    assert counts(app) == loaded


def test_demo_is_the_shipped_document(app, runner):
    assert runner.invoke(args=["demo"]).exit_code == 0
    doc = exported(app, 2023)
    source = demo_document()
    assert doc["gala"] == source["gala"]
    assert [c["slug"] for c in doc["categories"]] == [c["slug"] for c in source["categories"]]


# --- gala export / import ----------------------------------------------------------------


def test_gala_export_then_import_into_a_fresh_installation(app, runner, demo_gala, other_app,
                                                           tmp_path):
    path = tmp_path / "gala.json"
    result = runner.invoke(args=["gala", "export", str(path)])
    assert result.exit_code == 0, result.output
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["format"] == "zlote-lajki.gala"

    imported = other_app.test_cli_runner().invoke(args=["gala", "import", str(path)])
    assert imported.exit_code == 0, imported.output
    assert "10 categories" in imported.output and "25" in imported.output
    assert exported(other_app, 2023) == exported(app, 2023)
    with other_app.app_context():
        assert db.session.scalar(select(AuditEntry.action)) == "import.gala"


def test_gala_export_to_stdout_and_import_another_year(app, runner, demo_gala, tmp_path):
    result = runner.invoke(args=["gala", "export", "-", "--gala", "2023"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    doc["gala"]["date"] = "2024-11-28"
    doc["gala"]["name"] = "Gala Złotych Lajków 2024"
    path = tmp_path / "gala-2024.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")

    imported = runner.invoke(args=["gala", "import", str(path)])
    assert imported.exit_code == 0, imported.output
    assert gala_states(app) == {2023: "draft", 2024: "draft"}
    copy, original = exported(app, 2024), exported(app, 2023)
    assert copy["gala"]["name"] == "Gala Złotych Lajków 2024"
    assert {k: v for k, v in copy.items() if k != "gala"} == {
        k: v for k, v in original.items() if k != "gala"}


def test_gala_import_from_stdin(app, runner):
    doc = demo_document()
    result = runner.invoke(args=["gala", "import", "-"], input=json.dumps(doc))
    assert result.exit_code == 0, result.output
    assert gala_states(app) == {2023: "draft"}


def test_gala_import_year_taken_exits_1(app, runner, demo_gala, tmp_path):
    path = tmp_path / "again.json"
    path.write_text(json.dumps(demo_document()), encoding="utf-8")
    before = counts(app)
    result = runner.invoke(args=["gala", "import", str(path)])
    assert result.exit_code == 1
    assert "2023" in result.stderr
    assert counts(app) == before


@pytest.mark.parametrize(("name", "content"), [
    ("syntax.json", b'{"format": "zlote-lajki.gala", "version": 1,'),
    ("cp1250.json", json.dumps({"format": "zlote-lajki.gala", "gala": {"name": "Łódź"}},
                               ensure_ascii=False).encode("cp1250")),
    ("empty.json", b""),
    ("wrong-format.json", json.dumps({**demo_document(), "format": "inna.gala"}).encode()),
    ("broken-category.json", json.dumps({
        **demo_document(),
        "categories": [{**demo_document()["categories"][0], "method": "borda"}]}).encode()),
])
def test_gala_import_bad_file_exits_1_and_imports_nothing(app, runner, small_gala, tmp_path,
                                                          name, content):
    path = tmp_path / name
    path.write_bytes(content)
    before = counts(app)
    result = runner.invoke(args=["gala", "import", str(path)])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert counts(app) == before


def test_gala_import_lists_every_problem(app, runner, tmp_path):
    doc = demo_document()
    doc["categories"][0]["method"] = "borda"
    doc["categories"][1]["nominations"][0]["profile"] = "nie-ma-takiego"
    path = tmp_path / "two-problems.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = runner.invoke(args=["gala", "import", str(path)])
    assert result.exit_code == 1
    assert "categories[1]" in result.stderr and "categories[2]" in result.stderr
    assert "nie-ma-takiego" in result.stderr
    assert counts(app)["Gala"] == 0


def test_gala_export_without_a_gala_exits_1(app, runner, tmp_path):
    result = runner.invoke(args=["gala", "export", str(tmp_path / "x.json")])
    assert result.exit_code == 1
    assert not (tmp_path / "x.json").exists()
    result = runner.invoke(args=["gala", "export", "-", "--gala", "1999"])
    assert result.exit_code == 1


# --- audit -------------------------------------------------------------------------------


def test_audit_verify_intact(app, runner, small_gala):
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    entries = counts(app)["AuditEntry"]
    assert f"{entries} entries" in result.output
    with app.app_context():
        head = db.session.scalar(select(AuditEntry.hash).order_by(AuditEntry.seq.desc()))
    assert head in result.output


def test_audit_verify_empty_trail(app, runner):
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0
    assert "0 entries" in result.output


def test_audit_verify_fails_after_tampering(app, runner, small_gala, without_audit_triggers):
    raw_sql(app, "UPDATE audit_entry SET actor = 'ktoś@example.com' WHERE seq = 2",
            "DELETE FROM audit_entry WHERE seq = 4")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "BROKEN" in result.stderr
    assert "#2: content was altered" in result.stderr
    assert "#5:" in result.stderr


# --- voting window -----------------------------------------------------------------------


def test_voting_status_open_close(app, runner, small_gala):
    status = runner.invoke(args=["voting", "status"])
    assert status.exit_code == 0
    assert status.output.strip() == "Gala Złotych Lajków 2026: draft"

    opened = runner.invoke(args=["voting", "open"])
    assert opened.exit_code == 0, opened.output
    assert gala_states(app) == {2026: "open"}
    assert runner.invoke(args=["voting", "status"]).output.strip().endswith(": open")
    assert runner.invoke(args=["voting", "open"]).exit_code == 1

    closed = runner.invoke(args=["voting", "close"])
    assert closed.exit_code == 0, closed.output
    assert gala_states(app) == {2026: "closed"}
    again = runner.invoke(args=["voting", "close"])
    assert again.exit_code == 1 and again.stderr.startswith("Error: ")
    assert gala_states(app) == {2026: "closed"}
    with app.app_context():
        actions = list(db.session.scalars(
            select(AuditEntry.action).where(AuditEntry.actor == f"cli:{getpass.getuser()}")))
    assert actions == ["voting.open", "voting.close", "results.seal"]


def test_voting_close_from_draft_exits_1(app, runner, small_gala):
    result = runner.invoke(args=["voting", "close"])
    assert result.exit_code == 1
    assert gala_states(app) == {2026: "draft"}


def test_voting_open_refused_when_not_ready(app, runner):
    with app.app_context():
        services.create_gala("test", {"name": "Pusta gala", "date": "2027-11-28"})
    result = runner.invoke(args=["voting", "open"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert gala_states(app) == {2027: "draft"}


def test_voting_commands_act_on_the_current_gala(app, runner, small_gala):
    with app.app_context():
        services.create_gala("test", {"name": "Gala 2027", "date": "2027-11-28"})
    assert runner.invoke(args=["voting", "status"]).output.strip() == "Gala 2027: draft"
    with app.app_context():
        services.switch_gala("test", small_gala["gala"])
    assert runner.invoke(args=["voting", "open"]).exit_code == 0
    assert gala_states(app) == {2026: "open", 2027: "draft"}


def test_voting_status_without_a_gala_exits_1(app, runner):
    result = runner.invoke(args=["voting", "status"])
    assert result.exit_code == 1
    assert "no gala" in result.stderr


def test_organizer_deactivate_stops_logins_and_activate_restores_them(app, runner, organizer):
    result = runner.invoke(args=["organizer", "deactivate", organizer["email"]])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert services.authenticate(organizer["email"], organizer["password"], "cli") is None
    assert runner.invoke(args=["organizer", "activate", organizer["email"]]).exit_code == 0
    with app.app_context():
        assert services.authenticate(organizer["email"], organizer["password"], "cli") is not None
        actions = list(db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.subject == organizer["email"])))
    assert "organizer.deactivate" in actions and "organizer.activate" in actions
    unknown = runner.invoke(args=["organizer", "deactivate", "nobody@example.com"])
    assert unknown.exit_code == 1


def test_tokens_issue_prints_the_cards_as_csv_and_keeps_only_digests(app, runner, small_gala):
    import csv
    import io

    from voting.models import Token

    result = runner.invoke(args=["tokens", "issue", "--group", "jury", "--label", "Anna Nowak",
                                 "--label", "=Jan", "--recuse-unit", "Miasto Wrocław"])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows[0] == ["code", "url", "group", "label"]
    assert [(r[2], r[3]) for r in rows[1:]] == [("jury", "Anna Nowak"), ("jury", "'=Jan")]
    assert all(r[1].startswith("http://localhost:5000/v/") and len(r[0]) == 11 for r in rows[1:])
    unlabelled = runner.invoke(args=["tokens", "issue", "--group", "audience", "--count", "3"])
    assert unlabelled.exit_code == 0 and len(unlabelled.output.strip().splitlines()) == 4
    with app.app_context():
        stored = db.session.scalars(select(Token)).all()
        assert len(stored) == 5
        assert not any(r[0] in (t.code_digest, t.token_digest) for t in stored for r in rows[1:])
        assert [u.unit_name for u in stored[0].recusals] == ["Miasto Wrocław"]


def test_tokens_issue_bad_input_exits_1_and_issues_nothing(app, runner, small_gala):
    from voting.models import Token

    for args in (["--group", "jury"], ["--group", "jury", "--count", "0"],
                 ["--group", "jury", "--count", "1", "--recuse-profile", "999999"]):
        result = runner.invoke(args=["tokens", "issue", *args])
        assert result.exit_code == 1, (args, result.output)
    assert runner.invoke(args=["tokens", "issue", "--group", "nobody", "--count", "1"]
                         ).exit_code == 2
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Token)) == 0
