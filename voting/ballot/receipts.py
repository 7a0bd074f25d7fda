"""The public list of receipts of counted ballots, once the organizer has published it."""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from ..queries import current_gala
from ..window import normalise_receipt, published_receipts
from .views import bp


@bp.get("/receipts")
def list_receipts() -> Any:
    """Every counted ballot's receipt, alphabetically, with a search for one's own."""
    gala = current_gala()
    receipts = published_receipts(gala)
    typed = (request.args.get("q") or "")[:64]
    wanted = normalise_receipt(typed) if typed.strip() else None
    found = None if wanted is None or receipts is None else wanted in receipts
    return render_template("ballot/receipts.html", gala=gala, receipts=receipts, typed=typed,
                           wanted=wanted, found=found)
