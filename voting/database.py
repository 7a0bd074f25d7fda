"""Database plumbing: SQLite pragmas, IMMEDIATE write transactions, the one place that commits."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from .extensions import db

_begin_immediate: ContextVar[bool] = ContextVar("begin_immediate", default=False)


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, connection_record) -> None:  # noqa: ANN001
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # pysqlite's own transaction handling would BEGIN lazily and never IMMEDIATE; take over.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: an acknowledged ballot is on disk before the voter sees the receipt.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    connection_record.info["busy_timeout_ms"] = cursor.execute(
        "PRAGMA busy_timeout").fetchone()[0]
    cursor.close()


@event.listens_for(Engine, "begin")
def _begin_sqlite(conn) -> None:  # noqa: ANN001
    if conn.dialect.name != "sqlite":
        return
    if _begin_immediate.get():
        _begin_write(conn)
    else:
        conn.exec_driver_sql("BEGIN")


# SQLite's own wait for a lock sleeps 1, 2, 5, 10, 15, 20... ms between tries, but a writer
# holds the lock for about a millisecond (a ballot), so waiting writers mostly slept while the
# lock was free. A writer waits here instead, trying again at most half a millisecond after the
# lock comes free, for the same busy timeout in all.
_FIRST_PAUSE, _LONGEST_PAUSE = 0.00005, 0.0005


def _begin_write(conn) -> None:  # noqa: ANN001
    """BEGIN IMMEDIATE on SQLite: take the write lock, waiting for it with short pauses."""
    driver = conn.connection.driver_connection
    timeout_ms = int(conn.connection.info.get("busy_timeout_ms", 0))
    deadline = time.monotonic() + timeout_ms / 1000
    pause = _FIRST_PAUSE
    driver.execute("PRAGMA busy_timeout = 0")
    try:
        while time.monotonic() < deadline:
            try:
                driver.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                    break
            time.sleep(pause)
            pause = min(2 * pause, _LONGEST_PAUSE)
        # Out of time, or another error: once more through SQLAlchemy, which raises it as its
        # OperationalError ("database is locked": busy, try again) as SQLite's wait did.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        driver.execute(f"PRAGMA busy_timeout = {timeout_ms}")


def dialect_name() -> str:
    return db.session.get_bind().dialect.name


# Any constant: it only has to be the same for every worker and host.
_WRITE_LOCK_KEY = 2_024_112_800


@contextmanager
def write_transaction(serialize: bool = True) -> Iterator[Session]:
    """Run a mutation in its own transaction and commit it; the only place that commits.

    The request's read transaction is ended first, so the write starts from fresh data.
    Writers are serialised, so a check ("voting has not opened yet") still holds when the
    write it guards commits: on SQLite the transaction begins IMMEDIATE (taking the write
    lock up front, waiting up to the busy timeout); on PostgreSQL it takes a transaction-level
    advisory lock first. Nested calls join the outer transaction.

    `serialize=False` is for a write whose correctness rests on its own conditional update
    (casting a ballot), with no check on objects loaded before it: on PostgreSQL it skips the
    lock, so ballots do not queue behind each other, and it carries on in the request's
    transaction instead of ending it (READ COMMITTED: every statement, the conditional update
    included, sees the latest committed rows), which saves a commit, a new connection from
    the pool and its ping. SQLite still ends the read transaction, to begin IMMEDIATE.
    """
    session = db.session
    if session.info.get("in_write_transaction"):
        yield session
        return
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("changes were made outside a write transaction")
    if serialize or session.get_bind().dialect.name != "postgresql":
        session.commit()
    token = _begin_immediate.set(True)
    try:
        connection = session.connection()
    finally:
        _begin_immediate.reset(token)
    if serialize and connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _WRITE_LOCK_KEY})
    session.info["in_write_transaction"] = True
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info["in_write_transaction"] = False
