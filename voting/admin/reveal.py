"""The presenter's remote for the hall's screen (`/admin/reveal`) and the read-only display
links the screens open. Plain POST forms, each carrying the reveal version the presenter saw,
then a redirect (PRG): on a phone in a noisy hall with bad Wi-Fi, a resent or doubled tap
moves nothing (`voting.reveal.move` refuses a stale version), and a reload is harmless."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import display_links, results
from .. import reveal as reveal_steps
from ..errors import VotingError
from ..models import Gala
from .results_forms import BlankForm, DisplayLinkForm, RevealForm, RevokeLinkForm
from .views import actor, bp, gala_or_setup, show_errors

STEP_NAMES = {reveal_steps.TITLE: _l("category title"), reveal_steps.NOMINEES: _l("nominees"),
              reveal_steps.WINNER: _l("winner"), reveal_steps.SUMMARY: _l("Summary of winners")}


def describe(step: reveal_steps.Step | None, total: int) -> dict[str, Any] | None:
    """A step in the presenter's words. A winner step names its winners only when the
    sealed result has them; `waiting` when the jury chair has not decided yet. No figures,
    no ranks: the presenter sees names, nothing more."""
    if step is None:
        return None
    shown: dict[str, Any] = {"kind": step.kind, "name": STEP_NAMES[step.kind],
                             "category": step.category, "number": None, "total": total,
                             "winners": [], "waiting": False, "nominees": 0}
    if step.category is None:
        return shown
    shown["number"] = step.position // len(reveal_steps.CATEGORY_STEPS) + 1
    shown["nominees"] = len(step.category.nominations)
    if step.kind == reveal_steps.WINNER:
        outcome = results.outcome_of(step.category)
        winners = outcome.public.get("winners") if outcome.sealed else None
        shown["waiting"] = not winners
        shown["winners"] = [outcome.names[winner] for winner in winners or []]
    return shown


def presenter_view(gala: Gala) -> dict[str, Any]:
    """The current step and the one after it, and nothing beyond."""
    categories = results.gala_categories(gala)
    steps = reveal_steps.steps_of(categories)
    phase = reveal_steps.phase(gala, steps)
    current = reveal_steps.current_step(gala, steps)
    if gala.sealed_at is None:
        upcoming = None
    elif current is None:
        upcoming = steps[0]
    else:
        upcoming = steps[current.position + 1] if current.position + 1 < len(steps) else None
    return {"gala": gala, "phase": phase, "categories": categories, "blank": gala.reveal_blank,
            "current": describe(current, len(categories)),
            "upcoming": describe(upcoming, len(categories)),
            "first": current is None or current.position == 0}


@bp.get("/reveal")
def show_reveal() -> Any:
    """The presenter's page: the current step, the next one, and the buttons."""
    return render_template("admin/reveal.html", **presenter_view(gala_or_setup()))


def moved(form: Any, action: Callable[[], Any]) -> Any:
    """Run a valid reveal form's move and go back to the page; a refusal (the screen moved on
    meanwhile, an undecided category) or an unreadable form is said in a flash, and nothing
    moved."""
    if not form.validate_on_submit():
        flash(_("The form could not be read: reload the page and try again."), "error")
    else:
        try:
            action()
        except VotingError as error:
            flash(error.message, "info" if error.status == 409 else "error")
    return redirect(url_for("admin.show_reveal"), 303)


@bp.post("/reveal/move")
def move_reveal() -> Any:
    """Move the screen: the next or previous step, a category's title, or the summary."""
    gala, form = gala_or_setup(), RevealForm()
    return moved(form, lambda: reveal_steps.move(actor(), gala.id, form.version.data,
                                                 form.to.data))


@bp.post("/reveal/blank")
def blank_reveal() -> Any:
    """Blank the hall's screen, or bring it back at the same step."""
    gala, form = gala_or_setup(), BlankForm()
    return moved(form, lambda: reveal_steps.move(actor(), gala.id, form.version.data,
                                                 blank=form.blank.data == "on"))


# --- Display links -------------------------------------------------------------------------


def render_links(form: DisplayLinkForm | None = None, status: int = 200) -> Any:
    form = form or DisplayLinkForm(formdata=None)
    return render_template("admin/display_links.html", links=display_links.all_links(),
                           url_of=display_links.url_of, form=form), status


@bp.get("/display-links")
def list_display_links() -> Any:
    """Every display link: its label, who made it and when, its address or its revocation."""
    return render_links()


@bp.post("/display-links")
def create_display_link() -> Any:
    """Make a display link for a screen (the projector, a broadcast machine)."""
    form = DisplayLinkForm()
    if not form.validate_on_submit():
        return render_links(form, 422)
    try:
        link, _token = display_links.create_link(actor(), form.label.data or "")
    except VotingError as error:
        show_errors(form, error)
        return render_links(form, error.status)
    flash(_("Display link created: open it on the screen's computer."), "success")
    return redirect(url_for("admin.list_display_links", _anchor=f"link-{link.id}"))


@bp.post("/display-links/revoke")
def revoke_display_link() -> Any:
    """Revoke a display link: a screen using it goes dark at its next poll."""
    form = RevokeLinkForm()
    if not form.validate_on_submit():
        flash(_("The form could not be read: reload the page and try again."), "error")
        return redirect(url_for("admin.list_display_links"))
    try:
        link = display_links.revoke_link(actor(), form.link.data)
    except VotingError as error:
        flash(error.message, "error")
    else:
        flash(_("Display link “%(label)s” revoked.", label=link.label or f"#{link.id}"),
              "success")
    return redirect(url_for("admin.list_display_links"))
