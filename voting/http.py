"""What every response shares: security headers, the language, and the error pages."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, flash, g, jsonify, redirect, render_template, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from .errors import VotingError
from .extensions import db

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

ERROR_TITLES = {
    400: _l("The request could not be understood"),
    401: _l("Please log in"),
    403: _l("Access denied"),
    404: _l("Page not found"),
    405: _l("This action is not allowed here"),
    409: _l("This cannot be done now"),
    413: _l("The upload is too large"),
    422: _l("Please check what you entered"),
    429: _l("Too many attempts"),
    500: _l("Something went wrong on our side"),
    503: _l("The system is busy"),
}

ERROR_HINTS = {
    400: _l("Go back, reload the page and try again."),
    401: _l("This page is for the gala's organizers. Log in to continue."),
    403: _l("You do not have access to this page."),
    404: _l("The address may be mistyped, or the page was removed."),
    405: _l("Go back and use the page's buttons."),
    413: _l("Choose a smaller file and try again."),
    429: _l("Wait a few minutes before trying again."),
    500: _l("The error was logged. Please try again in a moment."),
    503: _l("Please try again in a few seconds."),
}


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    accepted = request.accept_mimetypes
    return best == "application/json" and accepted[best] > accepted["text/html"]


def error_response(status: int, message: Any = None, errors: dict[str, Any] | None = None):
    title = ERROR_TITLES.get(status, ERROR_TITLES[400] if status < 500 else ERROR_TITLES[500])
    # Plain str, never lazy strings: Jinja would take those for trusted markup.
    title, message = str(title), str(message or ERROR_HINTS.get(status, ""))
    errors = {field: str(reason) for field, reason in (errors or {}).items()}
    if wants_json():
        body: dict[str, Any] = {"error": str(title), "message": str(message), "status": status}
        if errors:
            body["errors"] = {field: str(reason) for field, reason in errors.items()}
        return jsonify(body), status
    return render_template("errors/error.html", status=status, title=title, message=message,
                           errors=errors or {}), status


BUSY_SQLSTATES = {"40001", "40P01", "55P03", "57014"}  # serialization, deadlock, lock, timeout


def is_busy(error: OperationalError) -> bool:
    """A lock or timeout worth retrying later, as opposed to a broken database."""
    original = error.orig
    if getattr(original, "sqlstate", None) in BUSY_SQLSTATES:
        return True
    return "database is locked" in str(original) or "database is busy" in str(original)


def local_path(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None: a guard against open redirects.

    Browsers read a backslash as a slash and drop tabs and newlines inside a URL, so
    "/\\evil.example" or "/<TAB>/evil.example" would lead off-site (and a newline cannot go
    into a header at all).
    """
    target = target or ""
    if (not target.startswith("/") or target.startswith("//") or "\\" in target
            or any(ord(char) < 32 or ord(char) == 127 for char in target)):
        return None
    return target


def same_site_referrer() -> str | None:
    referrer = request.referrer or ""
    host = request.host_url
    if referrer.startswith(host):
        return local_path("/" + referrer[len(host):])
    return None


UNIT_TYPE_LABELS = {
    "gmina": _l("commune (gmina)"),
    "miasto": _l("city (miasto)"),
    "powiat": _l("county (powiat)"),
    "wojewodztwo": _l("region (województwo)"),
    "other": _l("other"),
}


def init_app(app: Flask) -> None:
    from .validation import platform_label

    app.jinja_env.globals.update(
        platform_label=platform_label,
        unit_type_label=lambda value: UNIT_TYPE_LABELS.get(value, value),
    )
    @app.before_request
    def set_locale_for_templates() -> None:
        g.locale = str(get_locale())

    @app.after_request
    def security_headers(response):  # noqa: ANN001, ANN202
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.path.startswith("/admin"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(VotingError)
    def voting_error(error: VotingError):  # noqa: ANN202
        db.session.rollback()
        back = same_site_referrer()
        if request.method == "POST" and back and not wants_json() and not error.errors:
            # An organizer's button press that the rules refuse: say why where they were.
            flash(error.message, "error")
            return redirect(back, code=303)
        return error_response(error.status, error.message, error.errors)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):  # noqa: ANN202
        return error_response(400, _l("The form expired or was sent from elsewhere. "
                                      "Go back, reload the page and send it again."))

    @app.errorhandler(OperationalError)
    def database_error(error: OperationalError):  # noqa: ANN202
        db.session.rollback()
        if not is_busy(error):
            return unexpected_error(error)
        log.warning("database busy: %s", error.orig)
        return error_response(503)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # noqa: ANN202
        status = error.code or 500
        message = None
        if status == 429:
            message = _l("Too many failed attempts from here. Wait a few minutes and try again.")
        response = error_response(status, message)
        if status == 429 and getattr(error, "retry_after", None):
            response[0].headers["Retry-After"] = str(error.retry_after)
        return response

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):  # noqa: ANN202
        db.session.rollback()
        if app.debug or (app.testing and app.config.get("PROPAGATE_UNEXPECTED", True)):
            raise error
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500)
