"""The gala screen: the projector's page, a broadcast overlay, and the poll both follow.

Everything here opens only with a valid display link (`?key=`): no organizer login, and a
revoked link stops a screen at its next poll. What a screen shows comes from the server at
each step (`reveal.screen`), so nothing about a winner reaches it before its step.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template, request, url_for
from flask_babel import force_locale

from .. import display_links
from ..queries import current_gala
from .state import poll_version, stage

bp = Blueprint("display", __name__)

VIEWS = {"screen": "display/_stage.html", "overlay": "display/_overlay_stage.html"}


def _render(template: str, **context: Any) -> str:
    # The hall is Polish whatever the technician's laptop says: English only on `?lang=en`.
    locale = "en" if request.args.get("lang") == "en" else "pl"
    with force_locale(locale):
        g.locale = locale
        return render_template(template, **context)


@bp.before_request
def require_display_link() -> Any:
    if display_links.link_for(request.args.get("key")) is None:
        return _render("display/no_link.html"), 403
    return None


@bp.after_request
def never_stored(response: Any) -> Any:
    # The key is in the address: no cache keeps the page (the referrer stays same-origin).
    response.headers["Cache-Control"] = "no-store"
    return response


def _urls(view: str) -> dict[str, str]:
    args = {"key": request.args["key"], **({"lang": request.args["lang"]}
                                          if "lang" in request.args else {})}
    return {"state_url": url_for("display.show_state", **args),
            "stage_url": url_for("display.show_stage", view=view, **args)}


def _stage() -> dict[str, Any]:
    return stage(current_gala(), "en" if request.args.get("lang") == "en" else "pl")


@bp.get("/")
def show_display() -> Any:
    """The full-screen 16:9 page for the projector, at the current state and step."""
    version = poll_version()
    return _render("display/show_display.html", version=version, **_urls("screen"),
                   **_stage())


@bp.get("/overlay")
def show_overlay() -> Any:
    """A transparent lower third for OBS or vMix: the category, and the winner at its step."""
    version = poll_version()
    return _render("display/show_overlay.html", version=version, **_urls("overlay"),
                   **_stage())


@bp.get("/state")
def show_state() -> Any:
    """The poll: 204 while the version is `v`, else the new version."""
    version = poll_version()
    if request.args.get("v") == version:
        return "", 204
    return {"version": version}


@bp.get("/stage")
def show_stage() -> Any:
    """The stage alone, as HTML, for a screen whose version changed."""
    version = poll_version()
    template = VIEWS.get(request.args.get("view", "screen"), VIEWS["screen"])
    return _render(template, version=version, **_stage())
