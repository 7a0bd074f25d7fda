"""What every response shares: security headers, the language, and the error pages."""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from flask import (
    Flask,
    flash,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
)
from flask_babel import get_locale, ngettext
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.http import HTTP_STATUS_CODES

from . import abuse
from .errors import VotingError
from .extensions import db, limiter

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


# The API's machine-readable error codes by status; a domain error may bring a finer one
# (`BallotError.code`: unknown_card, card_used, ...).
ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    423: "locked",
    429: "too_many_attempts",
    500: "server_error",
    503: "busy",
}

# A 503 asks the client to come back soon; this many seconds is the hint.
BUSY_RETRY_AFTER = 1


def error_code(status: int) -> str:
    default = HTTP_STATUS_CODES.get(status, "error").lower().replace(" ", "_").replace("-", "_")
    return ERROR_CODES.get(status, default)


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    accepted = request.accept_mimetypes
    return best == "application/json" and accepted[best] > accepted["text/html"]


def error_response(status: int, message: Any = None, errors: dict[str, Any] | None = None, *,
                   code: str | None = None, extra: dict[str, Any] | None = None):
    """The error page, or for JSON clients `{"error": code, "message": text, "fields": {...}}`.

    `errors` maps each offending field to its reason; `extra` adds keys to the JSON body
    (a used card's `used_at`). Messages are in the request's language.
    """
    title = ERROR_TITLES.get(status, ERROR_TITLES[400] if status < 500 else ERROR_TITLES[500])
    # Plain str, never lazy strings: Jinja would take those for trusted markup.
    errors = {str(field): str(reason) for field, reason in (errors or {}).items()}
    if wants_json():
        body: dict[str, Any] = {"error": code or error_code(status),
                                "message": str(message or title), "fields": errors}
        body.update(extra or {})
        return jsonify(body), status
    title, message = str(title), str(message or ERROR_HINTS.get(status, ""))
    return render_template("errors/error.html", status=status, title=title, message=message,
                           errors=errors), status


def iso_utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def too_many_attempts_message(error: HTTPException) -> str:
    """Why a client is held back, and for how long; wrong card codes get words of their own."""
    if getattr(getattr(error, "limit", None), "scope", None) != abuse.CARD_SCOPE:
        return str(_l("Too many failed attempts from here. Wait a few minutes and try again."))
    current = limiter.current_limit
    seconds = max(1, int(current.reset_at - time.time())) if current else 60
    return ngettext("Too many wrong card codes were entered from this network. Please try "
                    "again in %(num)d second. If your card is refused again, ask at the "
                    "information desk.",
                    "Too many wrong card codes were entered from this network. Please try "
                    "again in %(num)d seconds. If your card is refused again, ask at the "
                    "information desk.", seconds)


def refuse_oversized_body() -> None:
    """Answer 413 before anything else looks at the request, the failure limit included.

    A declared Content-Length is checked as is. A chunked body (no length) is read up to the
    cap here, as the view would have; werkzeug cuts such a body at the cap without a word, so
    one byte more is asked for, which werkzeug answers with a 413 once the cap is reached (a
    chunked body of exactly the cap is refused: the stream cannot tell it from a longer one).
    """
    limit = request.max_content_length
    if limit is None:
        return
    if request.content_length is not None:
        if request.content_length > limit:
            raise RequestEntityTooLarge()
    elif "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        request.get_data(cache=True)
        request.stream.read(1)


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
    abuse.init_app(app)
    # Ahead of every other hook (the failure limit's among them): a 413 comes first.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_oversized_body)

    @app.before_request
    def set_locale_for_templates() -> None:
        g.locale = str(get_locale())

    def retry_after_only_when_meant(response):  # noqa: ANN001, ANN202
        # Flask-Limiter adds Retry-After to every response of a limited route; only a 429
        # (its own value) and a 503 (ours) mean it.
        if response.status_code != 429:
            response.headers.pop("Retry-After", None)
            if g.get("retry_after"):
                response.headers["Retry-After"] = str(g.retry_after)
        return response

    # After-request hooks run last-registered first: at the front, this one runs last.
    app.after_request_funcs.setdefault(None, []).insert(0, retry_after_only_when_meant)

    @app.after_request
    def security_headers(response):  # noqa: ANN001, ANN202
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.path.startswith(("/admin", "/ballot")):
            # Choices and receipts must not linger in a shared phone's or kiosk's cache.
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
        extra = {}
        if getattr(error, "used_at", None) is not None:
            extra["used_at"] = iso_utc(error.used_at)
        if error.status == 503:
            g.retry_after = BUSY_RETRY_AFTER
        return error_response(error.status, error.message, error.errors,
                              code=getattr(error, "code", None), extra=extra)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):  # noqa: ANN202
        return error_response(400, _l("The form expired or was sent from elsewhere. "
                                      "Go back, reload the page and send it again."),
                              code="csrf_failed")

    @app.errorhandler(OperationalError)
    def database_error(error: OperationalError):  # noqa: ANN202
        db.session.rollback()
        if not is_busy(error):
            return unexpected_error(error)
        log.warning("database busy: %s", error.orig)
        g.retry_after = BUSY_RETRY_AFTER
        return error_response(503)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # noqa: ANN202
        status = error.code or 500
        message = too_many_attempts_message(error) if status == 429 else None
        response = make_response(error_response(status, message))
        for name, value in error.get_headers():
            if name in ("Allow", "Retry-After"):  # what the client needs to try again right
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):  # noqa: ANN202
        db.session.rollback()
        if app.debug or (app.testing and app.config.get("PROPAGATE_UNEXPECTED", True)):
            raise error
        # The route, never the path: a card's link carries its secret.
        rule = request.url_rule.rule if request.url_rule else "(no route)"
        log.exception("unhandled error on %s %s", request.method, rule)
        return error_response(500)
