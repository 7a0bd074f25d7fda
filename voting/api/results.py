"""`GET /api/v1/results` and `/results/<slug>`: revealed results, and commitments only before.

Nothing here says anything of a category's outcome until it is revealed; the answers are never
stored by a cache (`no-store`), so a 403 cannot outlive the reveal.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, make_response
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from .. import results
from ..extensions import db
from ..http import error_response
from ..models import Category
from ..queries import current_gala
from .views import bp


def _no_store(answer: Any) -> Any:
    response = make_response(answer)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/results")
def list_results() -> Any:
    """Revealed categories in full; every sealed category's commitment."""
    gala = current_gala()
    if gala is None:
        return _no_store(error_response(404, _l("No gala has been set up yet.")))
    return _no_store(jsonify(results.public_results(gala)))


@bp.get("/results/<slug>")
def show_result(slug: str) -> Any:
    """One revealed category's result, with what it takes to check its commitment."""
    gala = current_gala()
    category = None if gala is None else db.session.scalar(
        select(Category).where(Category.gala_id == gala.id, Category.slug == slug))
    if category is None:
        return _no_store(error_response(404, _l("No such category.")))
    if category.revealed_at is None:
        return _no_store(error_response(
            403, _l("This category's result has not been revealed yet."), code="not_revealed"))
    return _no_store(jsonify(results.public_result(results.outcome_of(category))))
