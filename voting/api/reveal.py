"""`GET /api/v1/reveal`: the reveal's current step, for other graphics systems.

What it shows is what a display may show now (`reveal.api_document`): a winner only from its
winner step on, never a rank or a count; never cached, so an answer cannot outlive a step.
"""

from __future__ import annotations

from typing import Any

from flask import g, jsonify

from .. import reveal
from ..queries import current_gala
from .results import _no_store
from .views import bp


@bp.get("/reveal")
def show_reveal() -> Any:
    """The current state and step of the gala screen, the winner only at its step."""
    return _no_store(jsonify(reveal.api_document(current_gala(), g.locale)))
