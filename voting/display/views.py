"""The gala screen for the projector (its states and the reveal come with later issues)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from .. import results
from ..queries import categories_with_nominees, current_gala

bp = Blueprint("display", __name__)


@bp.get("/")
def show_display() -> Any:
    """Before the vote: the gala and its categories; once sealed: each result's commitment."""
    gala = current_gala()
    sealed = results.public_results(gala)["sealed"] if gala and gala.sealed_at else []
    return render_template("display/show_display.html", gala=gala,
                           categories=categories_with_nominees(gala) if gala else [],
                           commitments={row["slug"]: row["commitment"] for row in sealed})
