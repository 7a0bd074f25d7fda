"""Organizers and their roles: the admin adds organizers and assigns each a role.

None of these endpoints is listed in `voting.roles.ACCESS`, so only an admin opens them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import services
from ..errors import VotingError
from ..extensions import db
from ..models import Organizer
from ..roles import role_name
from .organizer_forms import ROLE_HINTS, ActiveForm, OrganizerForm, RoleForm, role_choices
from .views import actor, bp, show_errors


def render_organizers(status: int = 200, refused: dict[int, dict[str, str]] | None = None) -> Any:
    """The list; `refused` puts a refused change's reason in its organizer's row (which shows
    the organizer as they still are)."""
    return render_template("admin/organizers.html", organizers=services.list_organizers(),
                           refused=refused or {}, roles=role_choices(), hints=ROLE_HINTS,
                           me=actor()), status


@bp.get("/organizers")
def list_organizers() -> Any:
    """Every organizer with their role, whether they can log in, and when they last did."""
    return render_organizers()


@bp.route("/organizers/new", methods=["GET", "POST"])
def new_organizer() -> Any:
    """Add an organizer with a role and a password, typed or generated (then shown once)."""
    form = OrganizerForm()
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return render_template("admin/organizer_form.html", form=form, hints=ROLE_HINTS), status
    password = form.password.data or services.generate_password()
    try:
        organizer = services.create_organizer(actor(), form.email.data, password,
                                              form.role.data)
    except VotingError as error:
        show_errors(form, error)
        return render_template("admin/organizer_form.html", form=form,
                               hints=ROLE_HINTS), error.status
    if form.password.data:
        flash(_("%(email)s can log in now, as: %(role)s.", email=organizer.email,
                role=role_name(organizer.role)), "success")
        return redirect(url_for("admin.list_organizers"))
    return render_template("admin/organizer_created.html", organizer=organizer,
                           password=password)


def posted_organizer(form: RoleForm | ActiveForm) -> Organizer:
    """The organizer whose row posted the form (a bad number is a broken page: 400)."""
    form.validate_on_submit()
    if form.organizer.errors or form.organizer.data is None:
        abort(400)
    return db.get_or_404(Organizer, form.organizer.data)


@bp.post("/organizers/role")
def set_organizer_role() -> Any:
    """Give an organizer another role."""
    form = RoleForm()
    organizer = posted_organizer(form)
    if form.errors:
        return render_organizers(422, {organizer.id: {"role": form.role.errors[0]}})
    return _change(organizer.id, "role", lambda: services.set_organizer_role(
        actor(), organizer.id, form.role.data), lambda changed: _(
            "%(email)s is now: %(role)s.", email=changed.email, role=role_name(changed.role)))


@bp.post("/organizers/active")
def set_organizer_active() -> Any:
    """Let an organizer log in again, or not any more."""
    form = ActiveForm()
    organizer = posted_organizer(form)
    if form.errors:
        return render_organizers(422, {organizer.id: {"active": form.active.errors[0]}})
    active = form.active.data == "1"
    return _change(organizer.id, "active", lambda: services.set_organizer_active(
        actor(), organizer.id, active), lambda changed: (
            _("%(email)s can log in again.", email=changed.email) if active
            else _("%(email)s can no longer log in.", email=changed.email)))


def _change(organizer_id: int, field: str, action: Callable[[], Organizer],
            done: Callable[[Organizer], str]) -> Any:
    """Run a row's service; a refusal is shown in that row, with nothing changed."""
    try:
        organizer = action()
    except VotingError as error:
        flash(error.message, "error")
        reason = error.errors.get(field, error.message)
        return render_organizers(error.status, {organizer_id: {field: str(reason)}})
    flash(done(organizer), "success")
    return redirect(url_for("admin.list_organizers") + f"#organizer-{organizer_id}")
