"""Organizer roles: who may open which admin page, so a desk volunteer never sees a winner.

- admin: everything, including assigning roles;
- chair (the jury chair): the results before the reveal, tie decisions, the protocol;
- desk: the card desk (issue, revoke, re-issue, who has voted), never a result;
- presenter: drives the reveal and sees only its next step.

Access is decided by endpoint in one place (the admin blueprint's `before_request`), so a new
admin page is the admin's alone until it is listed here for another role.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from .models import ROLES

ADMIN, CHAIR, DESK, PRESENTER = ROLES

ROLE_NAMES = {
    ADMIN: _l("Administrator"),
    CHAIR: _l("Jury chair"),
    DESK: _l("Card desk"),
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
_REVEAL = frozenset({"admin.show_reveal", "admin.reveal_next"})
ACCESS: dict[str, frozenset[str]] = {
    CHAIR: _EVERYONE | _RESULTS | _REVEAL | {"admin.dashboard", "admin.show_audit",
                                             "admin.export_audit"},
    DESK: _EVERYONE | _CARDS,
    PRESENTER: _EVERYONE | _REVEAL,
}

# Where each role lands after logging in.
HOME = {ADMIN: "admin.dashboard", CHAIR: "admin.list_results", DESK: "admin.list_cards",
        PRESENTER: "admin.show_reveal"}


def may(role: str, endpoint: str | None) -> bool:
    """Whether an organizer with this role may use the admin endpoint."""
    if role == ADMIN:
        return True
    return endpoint is not None and endpoint in ACCESS.get(role, frozenset())


def home(role: str) -> str:
    return HOME.get(role, "admin.dashboard")


def sees_results(role: str) -> bool:
    """Whether the role may read results before they are revealed."""
    return role in (ADMIN, CHAIR)
