"""Public pages: how to vote, the nominees, the language switch."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, session, url_for

from ..extensions import db
from ..http import local_path
from ..models import Profile
from ..queries import categories_with_nominees, current_gala

bp = Blueprint("ballot", __name__)


@bp.get("/")
def show_home() -> Any:
    """How to vote in the current gala."""
    return render_template("ballot/home.html", gala=current_gala())


@bp.get("/nominees")
def list_nominees() -> Any:
    """Every category of the current gala with its nominees."""
    gala = current_gala()
    return render_template("ballot/nominees.html", gala=gala,
                           categories=categories_with_nominees(gala) if gala else [])


@bp.get("/profiles/<int:profile_id>/image")
def show_profile_image(profile_id: int) -> Response:
    """A nominee's image, as uploaded (its type was checked on upload)."""
    profile = db.get_or_404(Profile, profile_id)
    if not profile.image_type or not profile.image_data:
        abort(404)
    response = Response(profile.image_data, mimetype=profile.image_type)
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.get("/lang/<code>")
def switch_language(code: str) -> Any:
    """Remember the visitor's language and go back where they were."""
    if code not in ("pl", "en"):
        abort(404)
    session["lang"] = code
    return redirect(local_path(request.args.get("next")) or url_for("ballot.show_home"))
