"""The organizer's admin: prepare the gala (categories, nominee profiles, nominations)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from wtforms import SelectChoice

from .. import cards, roles, services, transfer, window
from ..audit import verify_chain
from ..ballots import card_keys
from ..errors import ConflictError, ImportRejectedError, VotingError
from ..extensions import client_address, db, limiter, login_manager, login_throttle_key
from ..http import error_response, local_path, wants_json
from ..models import (
    VOIVODESHIPS,
    VOTER_GROUPS,
    Category,
    Gala,
    Nomination,
    Profile,
    Token,
    utcnow,
)
from ..queries import (
    all_galas,
    audit_entries_newest_first,
    categories_with_nominees,
    current_gala,
    profile_count,
    profiles_of,
    readiness,
)
from ..validation import GALA_TIMEZONE
from .forms import (
    CardActionForm,
    CategoryForm,
    CitationForm,
    CloseVotingForm,
    ConfirmForm,
    GalaForm,
    ImportForm,
    IssueCardsForm,
    LoginForm,
    MoveForm,
    NominateForm,
    OpenVotingForm,
    ProfileForm,
    ScheduleCloseForm,
)

MAX_PAGE = 1_000_000
bp = Blueprint("admin", __name__)


@login_manager.unauthorized_handler
def unauthorized():  # noqa: ANN201
    if wants_json():
        return error_response(401 if not current_user.is_authenticated else 403)
    return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))


@bp.before_request
def require_organizer() -> Any:
    """Every admin page but the login is for a logged-in, active organizer whose role may
    open it (`voting.roles`); anyone else gets a 403 that says who may."""
    if request.endpoint == "admin.login":
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.active:  # deactivated since logging in: the session ends here
        logout_user()
        return login_manager.unauthorized()
    if roles.may(current_user.role, request.endpoint):
        return None
    allowed = [roles.role_name(role) for role in roles.allowed_roles(request.endpoint)]
    message = _("This page is only for: %(roles)s. You are logged in as: %(role)s.",
                roles=", ".join(allowed), role=roles.role_name(current_user.role))
    if wants_json():
        return error_response(403, message)
    return render_template("errors/forbidden.html", allowed=allowed, message=message), 403


def actor() -> str:
    return current_user.email


def gala_or_setup() -> Gala:
    gala = current_gala()
    if gala is None and roles.may(current_user.role, "admin.new_gala"):
        abort(redirect(url_for("admin.new_gala")))
    if gala is None:  # the desk, the chair or the presenter before any gala exists
        raise ConflictError(_("There is no gala yet: an administrator creates it first."))
    return gala


def get_in_gala(model: type, ident: int) -> Any:
    """Load an object of the current gala, so an id from another edition cannot be edited."""
    obj = db.get_or_404(model, ident)
    gala_id = obj.gala_id if hasattr(obj, "gala_id") else obj.category.gala_id
    if gala_id != gala_or_setup().id:
        abort(404)
    return obj


def submit(form: Any, action: Callable[[], str], template: str, **context: Any) -> Any:
    """Run a valid form's service (`action` returns where to go next) and say it is saved;
    otherwise show the form again with each error next to its field."""
    if form.validate_on_submit():
        try:
            target = action()
            flash(_("Saved."), "success")
            return redirect(target)
        except VotingError as error:
            show_errors(form, error)
            return render_template(template, form=form, **context), error.status
    status = 422 if request.method == "POST" else 200
    return render_template(template, form=form, **context), status


def show_errors(form: Any, error: VotingError, fields: dict[str, str] | None = None) -> None:
    """Put a refused service call's reasons next to their fields (`fields` renames the
    service's field names to the form's) and flash its message."""
    for field, reason in error.errors.items():
        target = getattr(form, (fields or {}).get(field, field), None)
        if target is not None and hasattr(target, "errors"):
            target.errors = [*list(target.errors or []), str(reason)]
        else:  # a rule about several fields, shown where the template groups them
            form.extra_errors = {**getattr(form, "extra_errors", {}), field: str(reason)}
    flash(error.message, "error")


def safe_next(default: str) -> str:
    return local_path(request.args.get("next")) or default


def landing() -> str:
    """After logging in: the page asked for, if the organizer's role may open it, else the
    role's own home (never a 403 right after a login)."""
    target = safe_next("")
    if target and roles.may_open(current_user.role, target):
        return target
    return roles.home_url(current_user.role)


# --- Session -------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_FAILURE_LIMIT"], key_func=login_throttle_key,
               methods=["POST"], deduct_when=lambda response: response.status_code != 302)
def login() -> Any:
    """Log an organizer in."""
    if current_user.is_authenticated:
        return redirect(landing())
    form = LoginForm()
    if form.validate_on_submit():
        organizer = services.authenticate(form.email.data, form.password.data, client_address())
        if organizer is not None:
            login_user(organizer)
            return redirect(landing())
        form.password.errors = [_("Wrong e-mail or password.")]
    return render_template("admin/login.html", form=form), 401 if request.method == "POST" else 200


@bp.post("/logout")
def logout() -> Any:
    """Log out."""
    if ConfirmForm().validate_on_submit():
        services.record_logout(actor())
        logout_user()
        flash(_("You are logged out."), "info")
        return redirect(url_for("admin.login"))
    abort(400)


# --- Dashboard and galas -------------------------------------------------------------------


@bp.get("/")
def dashboard() -> Any:
    """The current gala at a glance, with what is still missing before voting can open."""
    return render_dashboard()


@bp.route("/galas/new", methods=["GET", "POST"])
def new_gala() -> Any:
    """Create a gala edition."""
    form = GalaForm()
    return submit(form, lambda: services.create_gala(actor(), form.data) and
                  url_for("admin.dashboard"), "admin/gala_form.html", gala=None)


@bp.route("/galas/<int:gala_id>/edit", methods=["GET", "POST"])
def edit_gala(gala_id: int) -> Any:
    """Edit a gala edition's name, date and venue."""
    gala = db.get_or_404(Gala, gala_id)
    form = GalaForm(obj=gala)
    if request.method == "GET" and gala.closes_at:
        form.closes_at.data = local_time(gala.closes_at)
    return submit(form, lambda: services.update_gala(actor(), gala.id, form.data) and
                  url_for("admin.dashboard"), "admin/gala_form.html", gala=gala)


@bp.post("/galas/<int:gala_id>/switch")
def switch_gala(gala_id: int) -> Any:
    """Make another edition the current one."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    gala = services.switch_gala(actor(), gala_id)
    flash(_("Now working on: %(name)s", name=gala.name), "success")
    return redirect(url_for("admin.dashboard"))


# --- The voting window and the receipts ------------------------------------------------------


def render_dashboard(status: int = 200, **forms: Any) -> Any:
    """The dashboard, with the window's forms (those given keep what was typed, and errors)."""
    gala = gala_or_setup()
    categories = categories_with_nominees(gala)
    state = window.window_of(gala)
    open_form = forms.get("open_form") or OpenVotingForm()
    schedule = forms.get("schedule_form") or ScheduleCloseForm()
    for form, name in ((open_form, "open_form"), (schedule, "schedule_form")):
        if name not in forms and gala.closes_at:
            form.closes_at.data = local_time(gala.closes_at)
    return render_template(
        "admin/dashboard.html", gala=gala, galas=all_galas(), categories=categories,
        problems=readiness(gala, categories), profile_count=profile_count(gala), window=state,
        card_counts=window.card_counts(gala),
        open_form=open_form, schedule_form=schedule,
        close_form=forms.get("close_form") or CloseVotingForm(),
    ), status


def local_time(moment: Any) -> Any:
    """An aware UTC time as the naive Warsaw wall-clock time a datetime-local input shows."""
    return moment.astimezone(GALA_TIMEZONE).replace(tzinfo=None)


def window_action(form: Any, name: str, action: Callable[[], Any], done: str) -> Any:
    """Run a window form's service and say so; a refused field is shown on the dashboard."""
    if not form.validate_on_submit():
        return render_dashboard(422, **{name: form})
    try:
        action()
    except VotingError as error:
        if not error.errors:
            raise  # said in a flash where the organizer was (voting.http)
        for field, reason in error.errors.items():
            getattr(form, field).errors = [*list(getattr(form, field).errors or []), str(reason)]
        flash(error.message, "error")
        return render_dashboard(error.status, **{name: form})
    flash(done, "success")
    return redirect(url_for("admin.dashboard"))


@bp.post("/voting/open")
def open_voting() -> Any:
    """Open voting in the current gala, optionally with a scheduled end."""
    gala, form = gala_or_setup(), OpenVotingForm()
    return window_action(
        form, "open_form", lambda: services.open_voting(actor(), gala.id, form.closes_at.data),
        _("Voting is open. Nominees and methods are now frozen."))


@bp.post("/voting/schedule")
def schedule_close() -> Any:
    """Set, move or remove the scheduled end of voting."""
    gala, form = gala_or_setup(), ScheduleCloseForm()
    return window_action(
        form, "schedule_form",
        lambda: services.schedule_close(actor(), gala.id, form.closes_at.data),
        _("The scheduled end of voting is saved."))


@bp.post("/voting/close")
def close_voting() -> Any:
    """Close voting in the current gala now, for good (the form asks to confirm)."""
    gala, form = gala_or_setup(), CloseVotingForm()
    return window_action(form, "close_form", lambda: services.close_voting(actor(), gala.id),
                         _("Voting is closed."))


@bp.post("/receipts/publish")
def publish_receipts() -> Any:
    """Publish the receipts of counted ballots on the public site."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.publish_receipts(actor(), gala_or_setup().id)
    flash(_("The receipts are published."), "success")
    return redirect(url_for("admin.dashboard") + "#window")


@bp.get("/receipts.csv")
def export_receipts() -> Response:
    """The receipts of counted ballots as CSV, once voting is closed."""
    gala = gala_or_setup()
    return _download(window.receipts_csv(gala), f"receipts-{gala.year}.csv",
                     "text/csv; charset=utf-8")


# --- Categories ----------------------------------------------------------------------------


@bp.route("/categories/new", methods=["GET", "POST"])
def new_category() -> Any:
    """Add a category."""
    gala = gala_or_setup()
    form = CategoryForm()
    if request.method == "GET":
        form.group_jury.data, form.weight_jury.data = True, 100
    return submit(
        form,
        lambda: url_for("admin.show_category", category_id=services.create_category(
            actor(), gala.id, form.to_data()).id),
        "admin/category_form.html", gala=gala, category=None)


@bp.route("/categories/<int:category_id>/edit", methods=["GET", "POST"])
def edit_category(category_id: int) -> Any:
    """Edit a category (after opening: only its names and descriptions)."""
    category = get_in_gala(Category, category_id)
    form = CategoryForm()
    if request.method == "GET":
        form.load(category)
    elif category.gala.locked:
        form.load(category, sent=request.form)
    return submit(
        form,
        lambda: services.update_category(actor(), category.id, form.to_data()) and
        url_for("admin.show_category", category_id=category_id),
        "admin/category_form.html", gala=category.gala, category=category)


@bp.get("/categories/<int:category_id>")
def show_category(category_id: int) -> Any:
    """A category with its nominees and the form to nominate more."""
    category = get_in_gala(Category, category_id)
    form = NominateForm()
    form.profile_id.choices = nominee_choices(category)
    return render_template("admin/category.html", category=category, gala=category.gala,
                           form=form)


def nominee_choices(category: Category, exclude_nominated: bool = True) -> list[tuple[int, str]]:
    """The gala's profiles (by default those not yet nominated in this category)."""
    nominated = {n.profile_id for n in category.nominations} if exclude_nominated else set()
    return [(p.id, f"{p.name} · {p.unit_name}") for p in profiles_of(category.gala)
            if p.id not in nominated]


@bp.post("/categories/<int:category_id>/delete")
def delete_category(category_id: int) -> Any:
    """Delete a category and its nominations."""
    category = get_in_gala(Category, category_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.delete_category(actor(), category.id)
    flash(_("Category deleted."), "success")
    return redirect(url_for("admin.dashboard"))


@bp.post("/categories/<int:category_id>/move")
def move_category(category_id: int) -> Any:
    """Move a category up or down in the running order."""
    category = get_in_gala(Category, category_id)
    form = MoveForm()
    if not form.validate_on_submit() or form.direction.data not in ("up", "down"):
        abort(400)
    services.move_category(actor(), category.id, -1 if form.direction.data == "up" else 1)
    return redirect(url_for("admin.dashboard") + f"#category-{category.id}")


@bp.post("/categories/<int:category_id>/nominate")
def nominate(category_id: int) -> Any:
    """Nominate a profile in this category."""
    category = get_in_gala(Category, category_id)
    form = NominateForm()
    # Every profile of the gala is a valid choice here, so that a second nomination of the
    # same profile (from a stale page) gets the service's own explanation.
    form.profile_id.choices = nominee_choices(category, exclude_nominated=False)
    if not form.validate_on_submit():
        flash(_("Choose a profile to nominate."), "error")
        return redirect(url_for("admin.show_category", category_id=category.id))
    services.nominate(actor(), category.id, form.profile_id.data, form.citation.data or "")
    flash(_("Nominated."), "success")
    return redirect(url_for("admin.show_category", category_id=category.id))


@bp.post("/nominations/<int:nomination_id>/citation")
def update_citation(nomination_id: int) -> Any:
    """Change a nomination's citation."""
    nomination = get_in_gala(Nomination, nomination_id)
    form = CitationForm()
    if not form.validate_on_submit():
        abort(400)
    services.update_citation(actor(), nomination.id, form.citation.data or "")
    flash(_("Saved."), "success")
    return redirect(url_for("admin.show_category", category_id=nomination.category_id))


@bp.post("/nominations/<int:nomination_id>/withdraw")
def withdraw_nomination(nomination_id: int) -> Any:
    """Withdraw a nomination."""
    nomination = get_in_gala(Nomination, nomination_id)
    category_id = nomination.category_id
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.withdraw_nomination(actor(), nomination.id)
    flash(_("Nomination withdrawn."), "success")
    return redirect(url_for("admin.show_category", category_id=category_id))


# --- Profiles ------------------------------------------------------------------------------


def _profile_form(profile: Profile | None = None) -> ProfileForm:
    form = ProfileForm(obj=profile) if request.method == "GET" else ProfileForm()
    form.voivodeship.choices = [("", "—")] + [(v, v) for v in VOIVODESHIPS]
    return form


def _image_bytes(form: ProfileForm) -> bytes | None:
    upload = form.image.data
    if upload is None or not getattr(upload, "filename", ""):
        return None
    return upload.read(current_app.config["MAX_IMAGE_BYTES"] + 1)


@bp.get("/profiles")
def list_profiles() -> Any:
    """All nominee profiles of the gala."""
    gala = gala_or_setup()
    return render_template("admin/profiles.html", gala=gala, profiles=profiles_of(gala))


@bp.route("/profiles/new", methods=["GET", "POST"])
def new_profile() -> Any:
    """Add a nominee profile."""
    gala = gala_or_setup()
    form = _profile_form()
    return submit(
        form,
        lambda: services.create_profile(
            actor(), gala.id, form.to_data(), _image_bytes(form),
            current_app.config["MAX_IMAGE_BYTES"]) and url_for("admin.list_profiles"),
        "admin/profile_form.html", gala=gala, profile=None)


@bp.route("/profiles/<int:profile_id>/edit", methods=["GET", "POST"])
def edit_profile(profile_id: int) -> Any:
    """Edit a nominee profile."""
    profile = get_in_gala(Profile, profile_id)
    form = _profile_form(profile)
    return submit(
        form,
        lambda: services.update_profile(
            actor(), profile.id, form.to_data(), _image_bytes(form), form.remove_image.data,
            current_app.config["MAX_IMAGE_BYTES"]) and url_for("admin.list_profiles"),
        "admin/profile_form.html", gala=profile.gala, profile=profile)


@bp.post("/profiles/<int:profile_id>/delete")
def delete_profile(profile_id: int) -> Any:
    """Delete a profile and its nominations."""
    profile = get_in_gala(Profile, profile_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    services.delete_profile(actor(), profile.id)
    flash(_("Profile deleted."), "success")
    return redirect(url_for("admin.list_profiles"))


# --- Import and export ---------------------------------------------------------------------


@bp.route("/import", methods=["GET", "POST"])
def import_csv() -> Any:
    """Import profiles with nominations from CSV, all or nothing, with a row-by-row report."""
    gala = gala_or_setup()
    form = ImportForm()
    report: list[tuple[int, str]] = []
    if form.validate_on_submit():
        upload = form.file.data
        if upload is None or not getattr(upload, "filename", ""):
            form.file.errors = [_("Choose a CSV file.")]
        else:
            try:
                summary = transfer.import_profiles_csv(actor(), gala.id, upload.read())
            except ImportRejectedError as error:
                flash(error.message, "error")
                report = error.rows
            else:
                flash(_("Imported %(p)d profiles and %(n)d nominations.",
                        p=summary["profiles"], n=summary["nominations"]), "success")
                return redirect(url_for("admin.list_profiles"))
    status = 422 if request.method == "POST" else 200
    return render_template("admin/import.html", gala=gala, form=form, report=report,
                           columns=transfer.CSV_COLUMNS), status


@bp.get("/export/profiles.csv")
def export_csv() -> Response:
    """Profiles with nominations as CSV, safe to open in a spreadsheet."""
    gala = gala_or_setup()
    return _download(transfer.export_profiles_csv(gala), f"nominees-{gala.year}.csv",
                     "text/csv; charset=utf-8")


@bp.get("/export/gala.json")
def export_gala() -> Response:
    """The whole gala definition as JSON (as `flask gala export`)."""
    gala = gala_or_setup()
    return _download(transfer.gala_json(gala), f"gala-{gala.year}.json",
                     "application/json; charset=utf-8")


def _download(body: str, filename: str, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- Cards -------------------------------------------------------------------------------

CARD_PAGE = 100
# Each QR code takes the server about 10 ms to draw: a printout of 400 cards (50 sheets) is
# ready in a few seconds; bigger batches go out as CSV.
PRINT_MAX = 400


def _issue_form(gala: Gala) -> IssueCardsForm:
    form = IssueCardsForm()
    profiles = profiles_of(gala)
    form.recuse_profiles.choices = [SelectChoice(p.id, f"{p.name} · {p.unit_name}")
                                    for p in profiles]
    form.recuse_units.choices = [SelectChoice(unit, unit) for unit in cards.unit_names(gala.id)]
    return form


def render_cards(gala: Gala, form: IssueCardsForm, status: int = 200) -> Any:
    """The card desk: counts, the issuing form and the filtered, paged list of cards."""
    group = request.args.get("group") if request.args.get("group") in VOTER_GROUPS else ""
    state = request.args.get("status") if request.args.get("status") in cards.STATUSES else ""
    page = page_number()
    listed = db.paginate(cards.card_list(gala.id, group, state), page=page, per_page=CARD_PAGE,
                         error_out=False)
    names = {p.id: p.name for p in profiles_of(gala)}
    return render_template("admin/cards.html", gala=gala, form=form, cards=listed,
                           group=group, status=state, counts=window.card_counts(gala),
                           phase=window.voting_phase(gala), profile_names=names,
                           recusal_names=cards.recusal_names), status


def render_printout(gala: Gala, issued: list[cards.IssuedCard], replaced: int | None = None) -> Any:
    """The printable sheet of cards just issued: the only time their codes are shown."""
    address = current_app.config["PUBLIC_BASE_URL"].split("://", 1)[-1]
    return render_template("cards/print.html", gala=gala, issued=issued,
                           sheets=cards.sheets(issued), qr_svg=cards.qr_svg,
                           texts=card_texts(address), group_names=group_names(),
                           replaced=replaced)


def card_texts(address: str) -> dict[str, dict[str, str]]:
    """What a card says, in Polish and in English: both are always printed."""
    texts: dict[str, dict[str, str]] = {"title": {}, "code": {}, "howto": {}}
    for code in ("pl", "en"):
        with force_locale(code):
            texts["title"][code] = _("Voting card")
            texts["code"][code] = _("Code")
            texts["howto"][code] = _("Scan the QR code or type the code at %(address)s",
                                     address=address)
    return texts


def group_names() -> dict[str, dict[str, str]]:
    """Voter group names in both languages, for the printed cards."""
    names: dict[str, dict[str, str]] = {}
    for code in ("pl", "en"):
        with force_locale(code):
            for group, label in (("jury", _("Jury")), ("audience", _("Audience"))):
                names.setdefault(group, {})[code] = label
    return names


@bp.get("/cards")
def list_cards() -> Any:
    """The card desk: issue cards, see who has not voted yet, revoke and re-issue."""
    gala = gala_or_setup()
    return render_cards(gala, _issue_form(gala))


@bp.post("/cards")
def issue_cards() -> Any:
    """Issue a batch of cards; answer with their printable sheet or their CSV."""
    gala = gala_or_setup()
    form = _issue_form(gala)
    printing = request.form.get("output") != "csv"
    if not form.validate_on_submit() or (printing and not form.fits_a_printout(PRINT_MAX)):
        return render_cards(gala, form, 422)
    try:
        issued = cards.issue_cards(
            actor(), gala.id, form.group.data, card_keys(current_app.config),
            count=form.count.data, labels=form.label_lines(),
            recused_profile_ids=form.recuse_profiles.data or [],
            recused_units=form.recuse_units.data or [], batch=form.batch_id())
    except VotingError as error:
        show_errors(form, error, {"label": "labels", "recuse": "recuse_profiles"})
        form.new_batch()  # nothing was issued: the corrected form is a new batch
        return render_cards(gala, form, error.status)
    if not printing:
        return _download(cards.cards_csv(issued), _cards_filename(gala, issued),
                         "text/csv; charset=utf-8")
    return render_printout(gala, issued)


def _cards_filename(gala: Gala, issued: list[cards.IssuedCard]) -> str:
    stamp = utcnow().astimezone(GALA_TIMEZONE).strftime("%Y%m%d-%H%M%S")
    return f"cards-{gala.year}-{issued[0].group}-{stamp}.csv"


@bp.post("/cards/csv")
def download_cards_csv() -> Response:
    """The CSV of the cards on a printable sheet, sent back by that sheet's button.

    The codes are never stored, so the sheet posts them back to be turned into a file; they
    are checked for shape and not kept.
    """
    gala = gala_or_setup()
    if not ConfirmForm().validate_on_submit():
        abort(400)
    issued = cards.cards_from_form(request.form, current_app.config["PUBLIC_BASE_URL"])
    if not issued:
        abort(400)
    return _download(cards.cards_csv(issued), _cards_filename(gala, issued),
                     "text/csv; charset=utf-8")


def posted_card() -> Token:
    """The card of the current gala that a card button posted (its number in the form)."""
    form = CardActionForm()
    if not form.validate_on_submit():
        abort(400)
    return get_in_gala(Token, form.card.data)


@bp.post("/cards/revoke")
def revoke_card() -> Any:
    """Revoke an unused card (a lost sheet)."""
    card = posted_card()
    cards.revoke_card(actor(), card.id)
    flash(_("Card No. %(number)d is revoked: it can no longer vote.", number=card.id), "success")
    return redirect(safe_next(url_for("admin.list_cards")))


@bp.post("/cards/reissue")
def reissue_card() -> Any:
    """Revoke an unused card and print its replacement (same group, label and recusals)."""
    card = posted_card()
    issued = cards.reissue_card(actor(), card.id, card_keys(current_app.config))
    return render_printout(gala_or_setup(), [issued], replaced=card.id)


# --- Audit trail ---------------------------------------------------------------------------

AUDIT_PAGE = 100


@bp.get("/audit")
def show_audit() -> Any:
    """The audit trail, newest first, with the chain's verification."""
    page = page_number()
    entries = db.paginate(audit_entries_newest_first(), page=page, per_page=AUDIT_PAGE,
                          error_out=False)
    return render_template("admin/audit.html", entries=entries, report=verify_chain(),
                           gala=current_gala())


@bp.get("/audit.<fmt>")
def export_audit(fmt: str) -> Response:
    """The whole audit trail as CSV or JSON."""
    if fmt == "json":
        return _download(transfer.audit_json(), "audit.json", "application/json; charset=utf-8")
    if fmt != "csv":
        abort(404)
    return _download(transfer.audit_csv(), "audit.csv", "text/csv; charset=utf-8")


def page_number() -> int:
    """The `?page=` asked for, within what a database can count to (else the first page)."""
    page = request.args.get("page", 1, type=int) or 1
    return page if 1 <= page <= MAX_PAGE else 1


# The blueprint's other pages live in their own modules; importing them registers them.
from . import organizers, results, reveal  # noqa: E402, F401
