"""What the gala screen polls and renders: a cheap version of what it shows, and the stage.

The version changes whenever what a display shows may change for a reason other than turnout:
the gala chosen, its voting state, its seal, a reveal step (`gala.reveal_version`). It is read
in one query of one row, so any worker answers a poll the same, and cheaply.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app
from sqlalchemy import select

from .. import results, reveal, turnout
from ..cards import qr_svg
from ..extensions import db
from ..models import CURRENT_GALA_ORDER, Gala, utcnow
from ..queries import current_gala

_POLL = (select(Gala.id, Gala.voting_state, Gala.closes_at, Gala.sealed_at, Gala.reveal_version)
         .order_by(*CURRENT_GALA_ORDER).limit(1))


def poll_version() -> str:
    """A short string that changes whenever the screen's state or step may have changed."""
    row = db.session.execute(_POLL).first()
    if (row is not None and row.voting_state == "open" and row.closes_at is not None
            and row.closes_at <= utcnow()):
        current_gala()  # a scheduled close has passed: record it and seal, once
        row = db.session.execute(_POLL).first()
    if row is None:
        return "0"
    return f"{row.id}-{row.voting_state}-{int(row.sealed_at is not None)}-{row.reveal_version}"


def stage(gala: Gala | None, locale: str) -> dict[str, Any]:
    """What the stage template needs: `reveal.screen` (the embargo is kept there), and while
    voting is open the turnout, the closing time and a QR code of the code-entry page."""
    if gala is None:
        return {"shown": None, "state": "none"}
    shown = reveal.screen(gala, locale)
    context: dict[str, Any] = {"shown": shown, "state": shown["state"], "gala_date": gala.date}
    if shown["state"] == reveal.BEFORE:
        context["awards"] = [c.award for c in results.gala_categories(gala)]
    elif shown["state"] == reveal.VOTING:
        entry = current_app.config["PUBLIC_BASE_URL"] + "/"
        context.update(turnout=turnout.turnout(gala),
                       closes_at=turnout.voting_window(gala)["closes_at"],
                       now=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                       qr=qr_svg(entry), address=entry.split("://", 1)[-1].rstrip("/"))
    return context
