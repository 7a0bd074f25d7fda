"""Turnout and the voting window as the public sees them: counts only, never who or what.

Plain queries for the API, the gala screen and the admin; no views, no mutations.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .models import Gala
from .window import card_counts, voting_phase


def turnout(gala: Gala) -> dict[str, Any]:
    """Cards issued and cast, in all and per voter group.

    `issued` leaves out revoked cards (a lost sheet re-issued is one card, not two); `cast`
    counts used cards (a used card can no longer be revoked). Every group is listed, with
    zeros.
    """
    groups = {count.group: {"issued": count.issued - count.revoked, "cast": count.used}
              for count in card_counts(gala)}
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
