"""`GET /api/v1/receipts`: the published receipts of counted ballots (codes only)."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask_babel import gettext as _

from ..http import error_response
from ..queries import current_gala
from ..window import published_receipts
from .views import bp


@bp.get("/receipts")
def list_receipts() -> Any:
    """The receipts of counted ballots in alphabetical order; 404 until they are published."""
    gala = current_gala()
    receipts = published_receipts(gala)
    if gala is None or receipts is None:
        return error_response(404, _("The list of receipts is not published yet."))
    return jsonify({"receipts": receipts,
                    "published_at": gala.receipts_published_at.isoformat(timespec="seconds")})
