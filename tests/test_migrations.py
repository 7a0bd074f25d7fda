"""The real `flask db` commands on an empty database: upgrade builds the whole schema, and
`db check` finds no drift between the models and the migrations."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PG_URL, psycopg_url, with_search_path
from sqlalchemy import create_engine, inspect, text

ROOT = Path(__file__).resolve().parent.parent
TABLES = {"alembic_version", "audit_entry", "ballot", "ballot_choice", "category",
          "category_group", "display_link", "gala", "nomination", "organizer", "profile",
          "result_seal", "token", "token_recusal"}


def flask_db(database_url: str, instance: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "INSTANCE_PATH": str(instance),
           "APP_CONFIG": "default", "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False,
    )


def schema_of(url: str) -> tuple[set[str], set[str]]:
    """Tables and audit-trail triggers of a database."""
    engine = create_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                triggers = set(connection.execute(text(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
            else:
                triggers = set(connection.execute(text(
                    "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
                    "AND tgrelid = 'audit_entry'::regclass")).scalars()) if (
                    "audit_entry" in tables) else set()
        return tables, triggers
    finally:
        engine.dispose()


def assert_ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"


def upgrade_then_check(url: str, instance: Path) -> None:
    assert_ok(flask_db(url, instance, "upgrade"))
    check = flask_db(url, instance, "check")
    assert_ok(check)
    assert "No new upgrade operations detected" in check.stdout + check.stderr


# --- SQLite --------------------------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'empty.sqlite3'}"


def test_migrations_sqlite_upgrade_then_check_finds_no_drift(sqlite_url, tmp_path):
    upgrade_then_check(sqlite_url, tmp_path / "instance")
    tables, triggers = schema_of(sqlite_url)
    assert tables == TABLES
    assert triggers == {"audit_entry_no_update", "audit_entry_no_delete"}


def test_migrations_sqlite_check_fails_before_upgrade(sqlite_url, tmp_path):
    """`db check` is not vacuous: on a database the migrations never ran on, it fails."""
    check = flask_db(sqlite_url, tmp_path / "instance", "check")
    assert check.returncode != 0
    assert "not up to date" in check.stdout + check.stderr


def test_migrations_sqlite_downgrade_and_upgrade_again(sqlite_url, tmp_path):
    instance = tmp_path / "instance"
    assert_ok(flask_db(sqlite_url, instance, "upgrade"))
    assert_ok(flask_db(sqlite_url, instance, "downgrade", "base"))
    assert schema_of(sqlite_url) == ({"alembic_version"}, set())
    upgrade_then_check(sqlite_url, instance)
    assert schema_of(sqlite_url)[0] == TABLES


# --- PostgreSQL ----------------------------------------------------------------------------


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty schema on the test server, dropped afterwards."""
    schema = f"zl_migrate_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(psycopg_url(PG_URL))
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield with_search_path(PG_URL, schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


needs_postgres = pytest.mark.skipif(
    not PG_URL, reason="TEST_DATABASE_URL is not set: no PostgreSQL server to migrate")


@needs_postgres
def test_migrations_postgresql_upgrade_then_check_finds_no_drift(postgres_url, tmp_path):
    upgrade_then_check(postgres_url, tmp_path / "instance")
    tables, triggers = schema_of(postgres_url)
    assert tables == TABLES
    assert triggers == {"audit_entry_append_only"}


@needs_postgres
def test_migrations_postgresql_downgrade_and_upgrade_again(postgres_url, tmp_path):
    instance = tmp_path / "instance"
    assert_ok(flask_db(postgres_url, instance, "upgrade"))
    assert_ok(flask_db(postgres_url, instance, "downgrade", "base"))
    assert schema_of(postgres_url) == ({"alembic_version"}, set())
    upgrade_then_check(postgres_url, instance)
    assert schema_of(postgres_url) == (TABLES, {"audit_entry_append_only"})


REBUILD_GALA = '''"""rebuild the gala table, as a batch migration on SQLite does"""
from alembic import op

revision = "test_rebuild"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("gala", recreate="always") as batch:
        batch.alter_column("venue", existing_nullable=False)


def downgrade():
    pass
'''


def row_counts(db) -> list[int]:  # noqa: ANN001
    from sqlalchemy import func, select

    from voting.models import Category, Nomination, Profile

    return [db.session.scalar(select(func.count()).select_from(model))
            for model in (Category, Profile, Nomination)]


def test_migrations_batch_rebuild_on_sqlite_keeps_the_rows_that_refer_to_it(tmp_path):
    """A table rebuilt by a later migration must not take its categories and profiles along
    (SQLite drops the old table; with foreign keys on, the drop would cascade)."""
    import shutil

    from alembic.script import ScriptDirectory
    from flask_migrate import upgrade

    from voting import create_app, transfer
    from voting.extensions import db

    migrations = tmp_path / "migrations"
    shutil.copytree(ROOT / "migrations", migrations)
    head = ScriptDirectory(str(migrations)).get_current_head()
    (migrations / "versions" / "test_rebuild.py").write_text(REBUILD_GALA.format(head=head))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/db.sqlite3",
                      "SECRET_KEY": "x", "INSTANCE_PATH": str(tmp_path / "instance")})
    from conftest import demo_document

    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        transfer.import_gala("test", demo_document())
        counts = row_counts(db)
        db.session.commit()
        upgrade(directory=str(migrations))
        after = row_counts(db)
        db.session.remove()
        db.engine.dispose()
    assert counts == [10, 25, 41]
    assert after == counts
