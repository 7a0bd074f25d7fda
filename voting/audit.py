"""The append-only, hash-chained audit trail of every organizer action."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text

from .database import dialect_name
from .extensions import db
from .models import AuditEntry, utcnow

GENESIS_HASH = "0" * 64
# Any constant will do; it only has to be the same for every worker appending to the chain.
_AUDIT_LOCK_KEY = 2_024_112_801


def canonical_entry(seq: int, at: dt.datetime, actor: str, action: str, gala_id: int | None,
                    subject: str, details_json: str, prev_hash: str) -> bytes:
    payload = {
        "seq": seq,
        "at": at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "gala_id": gala_id,
        "subject": subject,
        "details": details_json,
        "prev": prev_hash,
    }
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def entry_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(
        canonical_entry(entry.seq, entry.at, entry.actor, entry.action, entry.gala_id,
                        entry.subject, entry.details_json, entry.prev_hash)
    ).hexdigest()


def record(actor: str, action: str, *, gala_id: int | None = None, subject: str = "",
           details: dict[str, Any] | None = None) -> AuditEntry:
    """Append an entry inside the caller's write transaction.

    Appends are serialised (an advisory lock on PostgreSQL; the IMMEDIATE write lock on
    SQLite), and the unique `seq` is the database's own guarantee that the chain never forks.
    """
    session = db.session
    if dialect_name() == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _AUDIT_LOCK_KEY})
    last = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).first()
    entry = AuditEntry(
        seq=(last.seq + 1) if last else 1,
        at=utcnow(),
        actor=actor[:254],
        action=action,
        gala_id=gala_id,
        subject=subject[:300],
        details_json=json.dumps(details or {}, sort_keys=True, ensure_ascii=False, default=str),
        prev_hash=last.hash if last else GENESIS_HASH,
    )
    entry.hash = entry_hash(entry)
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class ChainReport:
    entries: int
    head: str
    problems: list[str]

    @property
    def intact(self) -> bool:
        return not self.problems


def verify_chain() -> ChainReport:
    """Recompute the chain from the first entry; report every break by sequence number.

    An edited entry fails its own hash; a removed or inserted one breaks the sequence or the
    link to its predecessor. Removing entries from the very end leaves a shorter valid chain,
    which is why the head hash is printed for the record (and, later, on the protocol).
    """
    problems: list[str] = []
    prev_hash = GENESIS_HASH
    expected_seq = 1
    count = 0
    for entry in db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq)):
        count += 1
        if entry.seq != expected_seq:
            problems.append(f"#{entry.seq}: expected #{expected_seq} (entries missing)")
        if entry.prev_hash != prev_hash:
            problems.append(f"#{entry.seq}: does not follow the entry before it")
        if entry_hash(entry) != entry.hash:
            problems.append(f"#{entry.seq}: content was altered")
        prev_hash = entry.hash
        expected_seq = entry.seq + 1
    return ChainReport(entries=count, head=prev_hash, problems=problems)
