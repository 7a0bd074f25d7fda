"""Organizer roles: who may open which admin page, so a desk volunteer never sees a winner.

- admin: everything, including assigning roles;
- chair (the jury chair): the results before the reveal, tie decisions, the protocol;
- desk: the card desk (issue, revoke, re-issue, who has voted), never a result;
- presenter: drives the reveal and sees only its next step.

Display links (a screen's key to the display) are the admin's alone.

Access is decided by endpoint in one place (the admin blueprint's `before_request`), so a new
admin page is the admin's alone until it is listed here for another role. Templates ask
`can(endpoint)` before they link to a page, so nobody is shown a link that ends in a 403.
"""

from __future__ import annotations

from flask import Flask, current_app, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from .models import ROLES

ADMIN, CHAIR, DESK, PRESENTER = ROLES

ROLE_NAMES = {
    ADMIN: _l("Administrator"),
    CHAIR: _l("Jury chair"),
    DESK: _l("Card desk staff"),
    PRESENTER: _l("Presenter"),
}

# Every organizer may log out; these are the pages each other role may use besides.
_EVERYONE = frozenset({"admin.login", "admin.logout"})
_CARDS = frozenset({"admin.list_cards", "admin.issue_cards", "admin.download_cards_csv",
                    "admin.revoke_card", "admin.reissue_card"})
_RESULTS = frozenset({"admin.list_results", "admin.show_result", "admin.decide_result",
                      "admin.retally_result", "admin.set_public_figures",
                      "admin.show_protocol", "admin.export_results",
                      "admin.export_ballot_box"})
_REVEAL = frozenset({"admin.show_reveal", "admin.move_reveal", "admin.blank_reveal"})
ACCESS: dict[str, frozenset[str]] = {
    CHAIR: _EVERYONE | _RESULTS | _REVEAL | {"admin.dashboard", "admin.show_audit",
                                             "admin.export_audit"},
    DESK: _EVERYONE | _CARDS,
    PRESENTER: _EVERYONE | _REVEAL,
}

# Where each role lands after logging in: the first of its pages that this installation has.
HOMES: dict[str, tuple[str, ...]] = {
    ADMIN: ("admin.dashboard",),
    CHAIR: ("admin.list_results", "admin.dashboard"),
    DESK: ("admin.list_cards",),
    PRESENTER: ("admin.show_reveal",),
}
# A role with none of its pages here still has the hall's screen, which is public.
FALLBACK_HOME = "display.show_display"


def may(role: str, endpoint: str | None) -> bool:
    """Whether an organizer with this role may use the admin endpoint."""
    if role == ADMIN:
        return True
    return endpoint is not None and endpoint in ACCESS.get(role, frozenset())


def allowed_roles(endpoint: str | None) -> list[str]:
    """The roles that may use the endpoint, admin first."""
    return [role for role in ROLES if may(role, endpoint)]


def home(role: str) -> str:
    """The endpoint a role lands on (it may not be registered yet: see `home_url`)."""
    return HOMES.get(role, HOMES[ADMIN])[0]


def home_url(role: str) -> str:
    """The address of the role's home page in this application."""
    for endpoint in HOMES.get(role, ()):
        if endpoint in current_app.view_functions:
            return url_for(endpoint)
    return url_for(FALLBACK_HOME)


def may_open(role: str, path: str) -> bool:
    """Whether the role may open the page at a local path (a login's `next`); a path that is
    no page (or only redirects to one) is not worth landing on."""
    adapter = current_app.create_url_adapter(request)
    try:
        endpoint, _args = adapter.match(path.split("?", 1)[0], method="GET")
    except HTTPException:  # not found, another method, or a redirect (a missing slash)
        return False
    return not endpoint.startswith("admin.") or may(role, endpoint)


def can(endpoint: str) -> bool:
    """For templates: the logged-in organizer may open this page, and it exists."""
    return (current_user.is_authenticated and endpoint in current_app.view_functions
            and may(current_user.role, endpoint))


def role_name(role: str) -> str:
    return str(ROLE_NAMES.get(role, role))


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        can=can, role_name=role_name,
        organizer_home=lambda: home_url(current_user.role) if current_user.is_authenticated
        else url_for("admin.login"),
    )


def sees_results(role: str) -> bool:
    """Whether the role may read results before they are revealed."""
    return role in (ADMIN, CHAIR)
