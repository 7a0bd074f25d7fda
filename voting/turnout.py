"""Turnout and the voting window as the public sees them: counts only, never who or what.

Plain queries for the API, the gala screen and the admin; no views, no mutations.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from .extensions import db
from .models import VOTER_GROUPS, Gala, Token
from .window import voting_phase


def turnout(gala: Gala) -> dict[str, Any]:
    """Cards issued and cast, in all and per voter group.

    `issued` leaves out revoked cards (a lost sheet re-issued is one card, not two); `cast`
    counts used cards, which can no longer be revoked. Every group is listed, with zeros.
    """
    rows = db.session.execute(
        select(Token.group, func.count(Token.id).filter(Token.revoked_at.is_(None)),
               func.count(Token.used_at))
        .where(Token.gala_id == gala.id)
        .group_by(Token.group)).all()
    groups = {group: {"issued": 0, "cast": 0} for group in VOTER_GROUPS}
    for group, issued, cast in rows:
        groups[group] = {"issued": issued, "cast": cast}
    return {"issued": sum(g["issued"] for g in groups.values()),
            "cast": sum(g["cast"] for g in groups.values()), "groups": groups}


def voting_window(gala: Gala, now: dt.datetime | None = None) -> dict[str, Any]:
    """`{"state": phase, "closes_at": ISO 8601 UTC or None}`, as `GET /api/v1/gala` shows it.

    The phase is the one voters meet (`window.voting_phase`): once the closing time has
    passed, an open vote is closed, whatever the stored state still says.
    """
    closes_at = gala.closes_at
    return {"state": voting_phase(gala, now),
            "closes_at": closes_at.astimezone(dt.UTC).isoformat(timespec="seconds")
            if closes_at else None}
