"""Public pages: how to vote and the card's ballot, the nominees, the language switch.

The ballot is three steps without JavaScript: the card (a typed code or the QR link, which is
swapped for the session at once so the token leaves the address bar), the ballot with a review
step, and the receipt, shown once.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from .. import ballot_sheet
from ..abuse import card_attempts
from ..ballots import (
    card_keys,
    cast_ballot_for_card,
    check_ballot_for_card,
    usable_card,
    voting_is_open,
)
from ..cards import find_card
from ..errors import (
    BallotError,
    BusyError,
    CardUnknownError,
    CardUsedError,
    ChoiceNotAllowedError,
    MalformedBallotError,
    VotingNotOpenError,
)
from ..extensions import db
from ..http import local_path
from ..models import Gala, Profile, Token
from ..queries import categories_with_nominees, current_gala
from .forms import CardCodeForm

bp = Blueprint("ballot", __name__)

# What the voter's session remembers: the card being voted with (never its secret), then, for
# one page view, the receipt.
CARD_KEY = "ballot_card"
RECEIPT_KEY = "ballot_receipt"
VOTED_KEY = "ballot_voted"


@bp.get("/")
def show_home() -> Any:
    """How to vote, and the code entry while voting is open."""
    return _home(CardCodeForm())


@bp.post("/")
@card_attempts
def enter_code() -> Any:
    """A typed card code: on to that card's ballot."""
    form = CardCodeForm()
    gala = current_gala()
    if not form.validate_on_submit():
        return _home(form, 422)
    return _admit(gala, form.code.data, form)


@bp.get("/v/<path:token>")
@card_attempts
def open_card(token: str) -> Any:
    """The QR link printed on a card."""
    return _admit(current_gala(), token, CardCodeForm(formdata=None))


@bp.get("/ballot")
def show_ballot() -> Any:
    gala, card = _session_card()
    if card is None:
        return _no_card(gala)
    return _ballot_page(gala, card, chosen=None)


@bp.post("/ballot")
def edit_ballot() -> Any:
    """Back from the review step, with the choices kept."""
    gala, card = _session_card()
    if card is None:
        return _no_card(gala)
    return _ballot_page(gala, card, chosen=request.form)


@bp.post("/ballot/review")
def review_ballot() -> Any:
    gala, card = _session_card()
    if card is None:
        return _no_card(gala)
    try:
        card = usable_card(gala, card)
    except BallotError as error:
        return _refused(gala, error)
    sections = _sections(gala, card)
    votes, problems = ballot_sheet.read_form(sections, request.form)
    if problems:
        return _show_form(gala, card, sections, problems, 422)
    try:
        check_ballot_for_card(gala, card.id, votes)  # the very checks the cast makes
    except (MalformedBallotError, ChoiceNotAllowedError) as error:
        return _show_form(gala, card, sections, error.errors, error.status)
    except BallotError as error:
        return _refused(gala, error)
    return _review_page(gala, card, sections)


@bp.post("/ballot/cast")
def cast() -> Any:
    """The one submit. A second press (or a resend after a lost answer) finds the card used
    and says the ballot is recorded."""
    gala, card = _session_card()
    if card is None:
        return _no_card(gala)
    sections = _sections(gala, card)
    votes, problems = ballot_sheet.read_form(sections, request.form)
    if problems:
        return _show_form(gala, card, sections, problems, 422)
    try:
        result = cast_ballot_for_card(gala, card.id, votes)
    except (MalformedBallotError, ChoiceNotAllowedError) as error:
        db.session.rollback()
        return _show_form(gala, card, sections, error.errors, error.status)
    except BusyError as error:
        db.session.rollback()
        g.retry_after = 1  # the HTTP layer keeps Retry-After only where it is meant
        return _review_page(gala, card, sections, error=error.message, status=503)
    except BallotError as error:
        db.session.rollback()
        return _refused(gala, error)
    session.pop(CARD_KEY, None)
    session[RECEIPT_KEY] = result.receipt
    session[VOTED_KEY] = gala.id
    return redirect(url_for("ballot.show_receipt"), code=303)


@bp.get("/ballot/review")
@bp.get("/ballot/cast")
def ballot_step_by_address() -> Any:
    """These steps exist only as answers to the form (e.g. after a language switch)."""
    return redirect(url_for("ballot.show_ballot"), code=303)


@bp.get("/ballot/done")
def show_receipt() -> Any:
    """The receipt, once: a reload shows only that the ballot is recorded."""
    receipt = session.pop(RECEIPT_KEY, None)
    gala = current_gala()
    if receipt is None and (gala is None or session.get(VOTED_KEY) != gala.id):
        return redirect(url_for("ballot.show_home"), code=303)
    return render_template("ballot/done.html", gala=gala, receipt=receipt)


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


# --- the steps' pages ------------------------------------------------------------------------


def _home(form: CardCodeForm, status: int = 200) -> Any:
    gala = current_gala()
    voted = gala is not None and session.get(VOTED_KEY) == gala.id
    waiting = gala is not None and (session.get(CARD_KEY) or {}).get("gala") == gala.id
    return render_template("ballot/home.html", gala=gala, form=form,
                           open=gala is not None and voting_is_open(gala), voted=voted,
                           waiting=waiting), status


def _admit(gala: Gala | None, credential: str, form: CardCodeForm) -> Any:
    """Check a card and take it into the session; the ballot page follows."""
    if gala is None:
        return _home(form, 404)
    try:
        card = usable_card(gala, find_card(gala.id, credential, card_keys(current_app.config)))
    except CardUnknownError:
        form.code.errors = [_("This code does not match any card. Check it and try again.")]
        return _home(form, 401)
    except BallotError as error:
        return _refused(gala, error)
    session.pop(RECEIPT_KEY, None)
    session[CARD_KEY] = {"gala": gala.id, "card": card.id}
    return redirect(url_for("ballot.show_ballot"), code=303)


def _session_card() -> tuple[Gala | None, Token | None]:
    gala = current_gala()
    held = session.get(CARD_KEY) or {}
    if gala is None or held.get("gala") != gala.id:
        return gala, None
    card = db.session.get(Token, held.get("card"))
    if card is None or card.gala_id != gala.id:
        return gala, None
    return gala, card


def _no_card(gala: Gala | None) -> Any:
    if gala is not None and session.get(VOTED_KEY) == gala.id:
        return render_template("ballot/done.html", gala=gala, receipt=None)
    form = CardCodeForm(formdata=None)
    form.code.errors = [_("Type the code from your card, or scan its QR code.")]
    return _home(form, 403 if request.method == "POST" else 200)


def _refused(gala: Gala, error: BallotError) -> Any:
    """A card that cannot vote (now): used, voting not open, revoked meanwhile."""
    if isinstance(error, CardUsedError):
        session.pop(CARD_KEY, None)
        return render_template("ballot/done.html", gala=gala, receipt=None,
                               used_message=error.message)
    if isinstance(error, VotingNotOpenError):
        return render_template("ballot/not_open.html", gala=gala), 423
    session.pop(CARD_KEY, None)
    form = CardCodeForm(formdata=None)
    form.code.errors = [error.message]
    return _home(form, error.status)


def _sections(gala: Gala, card: Token) -> list[ballot_sheet.Section]:
    return ballot_sheet.sections_for(card, categories_with_nominees(gala),
                                     current_app.config["CARD_HASH_KEY"])


def _ballot_page(gala: Gala, card: Token, chosen: Any) -> Any:
    try:
        card = usable_card(gala, card)
    except BallotError as error:
        return _refused(gala, error)
    sections = _sections(gala, card)
    if chosen is not None:
        ballot_sheet.read_form(sections, chosen)
    return _show_form(gala, card, sections, {}, 200)


def _show_form(gala: Gala, card: Token, sections: list[ballot_sheet.Section],
               errors: dict[str, Any], status: int) -> Any:
    for section in sections:
        section.error = str(errors.get(section.category.slug, ""))
    return render_template("ballot/ballot.html", gala=gala, card=card, sections=sections,
                           has_errors=bool(errors)), status


def _review_page(gala: Gala, card: Token, sections: list[ballot_sheet.Section],
                 error: str = "", status: int = 200) -> Any:
    return render_template("ballot/review.html", gala=gala, card=card, sections=sections,
                           summary=ballot_sheet.summary,
                           carried=ballot_sheet.carried_fields(sections), error=error), status
