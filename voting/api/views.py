"""The public JSON API, version 1."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify
from flask_babel import gettext as _

from ..http import error_response
from ..queries import current_gala, gala_document

bp = Blueprint("api", __name__)


@bp.get("/gala")
def show_gala() -> Any:
    """The current gala with its categories and nominees, in the request's language."""
    gala = current_gala()
    if gala is None:
        return error_response(404, _("No gala has been set up yet."))
    return jsonify(gala_document(gala, g.locale))
