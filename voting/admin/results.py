"""The results desk: sealed results per category, the chair's decisions, re-tallies, the
protocol and the exports (the reveal has its own module, `voting.admin.reveal`). Views are
thin: `voting.results` does the work; the helpers here only put the tally's figures and steps
into the organizer's words."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import format_decimal, format_percent, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import results, tally, window
from ..audit import verify_chain
from ..errors import ConflictError, VotingError
from ..models import Category, Gala, utcnow
from .forms import METHOD_CHOICES
from .results_forms import DecideForm, FiguresForm, RetallyForm
from .views import _download, actor, bp, gala_or_setup, get_in_gala, show_errors

# --- The tally in the organizer's words --------------------------------------------------

AWARD_NAMES = {"award": _l("Golden Like"), "mention": _l("Honourable mention"),
               "special": _l("Special award")}
METHOD_NAMES = {"decision": _l("Decided by the chapter (no ballots)"),
                **{choice.value: choice.label for choice in METHOD_CHOICES}}
GROUP_NAMES = {"jury": _l("jury"), "audience": _l("audience")}
EVENT_NAMES = {"seal": _l("Sealed at the close of voting"),
               "decision": _l("Decision of the jury chair"),
               "retally": _l("Counted again")}
# What the ranking's number is, by method (a weighted category: the weighted share).
SCORE_HEADINGS = {"single": _l("Votes"), "approval": _l("Approvals"), "ranked": _l("Points"),
                  "score": _l("Mean score"), "irv": _l("Votes in the last round")}
STEP_TEXTS = {
    "more scores": _l("more scores"),
    "higher median": _l("higher median"),
    tally.IRV_TIE_BREAKS[0]: _l("more votes in the final round"),
    tally.IRV_TIE_BREAKS[1]: _l("elimination: the fewest votes in round 1, then in round 2, "
                                "and so on"),
    tally.IRV_TIE_BREAKS[2]: _l("elimination: nominees still equal go out together, unless "
                                "that would eliminate all of them (then it is a tie)"),
    "eliminated together (still equal)": _l("eliminated together (still equal)"),
    "decision of the jury chair": _l("decision of the jury chair"),
}
NOTE_TEXTS = {"no ballots": _l("No ballots were cast in this category."),
              "no eligible nominee": _l("No nominee has enough scores to win.")}
# The one IRV step that carries a number (tally._tally_irv writes it so).
IRV_ROUND_STEP = re.compile(r"fewer votes in round (\d+)")
IRV_ROUND_TOGETHER = re.compile(r"fewer votes in round (\d+), then eliminated together "
                                r"\(still equal\)")


def figure(value: Fraction | int | None) -> str:
    """A number as Poles write it (7,5; 1 234), at most six decimals."""
    if value is None:
        return "—"
    value = Fraction(value)
    return format_decimal(Decimal(value.numerator) / Decimal(value.denominator),
                          "#,##0.######")


def percent(value: Fraction | int | None) -> str:
    """A share from 0 to 1 as a percentage (45,83%)."""
    if value is None:
        return "—"
    value = Fraction(value)
    return format_percent(Decimal(value.numerator) / Decimal(value.denominator), "#,##0.##%")


def moment(text: str) -> dt.datetime:
    """A time as the sealed result writes it (ISO 8601), for the date filters."""
    return dt.datetime.fromisoformat(text)


def step_text(step: str | None, figures: dict[str, Any]) -> str:
    """A tie-break step in words. Steps of the chain are read from their place in it (the
    n-th place of a ranking, the n-th group of a weighted count), not from their wording."""
    if not step:
        return ""
    chain = figures.get("tie_breaks") or []
    if step in chain and figures.get("groups"):
        group = figures["groups"][chain.index(step)]
        return _("higher share in the %(group)s vote (weight %(weight)d%%)",
                 group=GROUP_NAMES.get(group["group"], group["group"]), weight=group["weight"])
    if step in chain and figures.get("method") == "ranked":
        return _("more ballots with it in place %(place)d", place=chain.index(step) + 1)
    if step in STEP_TEXTS:
        return str(STEP_TEXTS[step])
    match = IRV_ROUND_STEP.fullmatch(step)
    if match:
        return _("fewer votes in round %(round)d", round=int(match[1]))
    match = IRV_ROUND_TOGETHER.fullmatch(step)
    if match:
        return _("fewer votes in round %(round)d, then eliminated together (still equal)",
                 round=int(match[1]))
    return step  # a step this page does not know yet: as the tally wrote it


def note_text(note: str, figures: dict[str, Any]) -> str | None:
    """A note of the count in words; a group's own note is shown with that group instead."""
    if note in {group.get("note") for group in figures.get("groups") or []}:
        return None
    return str(NOTE_TEXTS.get(note, note))


def eligibility_text(row: dict[str, Any], category: Category) -> str | None:
    """Why a nominee cannot win (score: too few scores), from the counts, not the note."""
    if row.get("eligible", True):
        return None
    return ngettext("not eligible to win: %(num)d score, at least %(needed)d needed",
                    "not eligible to win: %(num)d scores, at least %(needed)d needed",
                    row.get("scores") or 0, needed=category.min_scores or 0)


def score_heading(outcome: results.Outcome) -> str:
    if outcome.figures.get("groups"):
        return _("Weighted result")
    return str(SCORE_HEADINGS.get(outcome.category.method, _("Result")))


def score_text(outcome: results.Outcome, value: Fraction | None) -> str:
    return percent(value) if outcome.figures.get("groups") else figure(value)


def margin_text(outcome: results.Outcome, value: Fraction | None) -> str:
    """The winner's lead: in the method's own units, or in percentage points when weighted."""
    if value is None or not outcome.figures.get("groups"):
        return figure(value)
    return _("%(value)s pp", value=figure(Fraction(value) * 100))


def decision_choices(outcome: results.Outcome) -> list[dict[str, Any]]:
    """Whom the chair may choose: the tied nominees, or all of them (an award the chapter
    decides, or a count with no ballots or no eligible nominee)."""
    tied = set(outcome.figures.get("tied") or [])
    nominees = outcome.public.get("nominees", [])
    if outcome.category.balloted and tied:
        return [n for n in nominees if n["id"] in tied]
    return nominees


def ranking_rows(outcome: results.Outcome) -> list[dict[str, Any]]:
    """The official ranking (ranks after any decision) with each nominee's counted figures,
    name and local government; a category the chapter decides lists its nominees."""
    counted = {row["nominee_id"]: row for row in outcome.figures.get("ranking", [])}
    nominees = {n["id"]: n for n in outcome.public.get("nominees", [])}
    winners = set(outcome.public.get("winners", []))
    ranking = outcome.public.get("ranking") or [
        {"nominee_id": n, "rank": None} for n in sorted(nominees)]
    return [{**counted.get(row["nominee_id"], {}), **row,
             "name": nominees[row["nominee_id"]]["name"],
             "unit": nominees[row["nominee_id"]]["unit"],
             "winner": row["nominee_id"] in winners} for row in ranking]


def group_rows(outcome: results.Outcome, group: dict[str, Any]) -> list[dict[str, Any]]:
    """One voter group's own count in a weighted category, with each nominee's share."""
    shares = {item["nominee_id"]: item["share"] for item in group["shares"]}
    return [{**row, "name": outcome.names[row["nominee_id"]],
             "share": shares.get(row["nominee_id"])} for row in group["result"]["ranking"]]


def can_decide(outcome: results.Outcome) -> bool:
    return (outcome.sealed and outcome.public["awaiting_decision"]
            and outcome.category.revealed_at is None)


WORDS = {"figure": figure, "percent": percent, "step_text": step_text, "note_text": note_text,
         "eligibility_text": eligibility_text, "score_heading": score_heading,
         "score_text": score_text, "margin_text": margin_text, "moment": moment,
         "ranking_rows": ranking_rows, "group_rows": group_rows,
         "decision_choices": decision_choices, "can_decide": can_decide,
         "award_names": AWARD_NAMES, "method_names": METHOD_NAMES, "group_names": GROUP_NAMES,
         "event_names": EVENT_NAMES, "max_reason": results.MAX_REASON}


def page(template: str, status: int = 200, **context: Any) -> Any:
    return render_template(template, **WORDS, **context), status


def sealed_gala() -> Gala:
    """The current gala once its results are sealed (409 before: nothing to show yet)."""
    gala = gala_or_setup()
    if gala.sealed_at is None:
        raise ConflictError(_("Results are sealed when voting closes: the protocol and the "
                              "exports are available from then on."))
    return gala


# --- Results per category ------------------------------------------------------------------


@bp.get("/results")
def list_results() -> Any:
    """Every category's sealed result in running order (before the close: why there is none)."""
    gala = gala_or_setup()
    problems = results.verify_seals(gala) if gala.sealed_at else []
    return page("admin/results.html", gala=gala, outcomes=results.outcomes(gala),
                problems=problems, phase=window.voting_phase(gala))


@bp.get("/results/<int:category_id>")
def show_result(category_id: int) -> Any:
    """One category's full result, its versions, and the chair's forms."""
    return render_result(get_in_gala(Category, category_id))


def render_result(category: Category, status: int = 200, **forms: Any) -> Any:
    """The result page; the forms given keep what was sent (and its errors)."""
    public = "off" if category.public_figures else "on"
    return page("admin/result.html", status, category=category, gala=category.gala,
                outcome=results.outcome_of(category),
                decide_form=forms.get("decide_form") or DecideForm(formdata=None),
                retally_form=forms.get("retally_form") or RetallyForm(formdata=None),
                figures_form=forms.get("figures_form") or FiguresForm(formdata=None, public=public))


def act(category: Category, form: Any, name: str, action: Callable[[], Any],
        done: Callable[[Any], str], fields: dict[str, str] | None = None) -> Any:
    """Run a result form's service: say so and go back to the result (PRG), or show the form
    again with the service's reasons next to its fields; a refusal changes nothing."""
    if not form.validate_on_submit():
        flash(_("The form could not be read: reload the page and try again."), "error")
        return render_result(category, 422, **{name: form})
    try:
        outcome = action()
    except VotingError as error:
        show_errors(form, error, fields)
        return render_result(category, error.status, **{name: form})
    flash(done(outcome), "success")
    return redirect(url_for("admin.show_result", category_id=category.id))


@bp.post("/results/<int:category_id>/decide")
def decide_result(category_id: int) -> Any:
    """Record the jury chair's decision: a tie's winner(s), or an award's recipients."""
    category, form = get_in_gala(Category, category_id), DecideForm()
    return act(category, form, "decide_form",
               lambda: results.decide(actor(), category.id, form.winners.data or [],
                                      form.reason.data or ""),
               lambda seal: _("The decision is recorded and sealed as version %(version)d.",
                              version=seal.version))


@bp.post("/results/<int:category_id>/retally")
def retally_result(category_id: int) -> Any:
    """Count a category again from the stored ballots, as a new recorded version."""
    category, form = get_in_gala(Category, category_id), RetallyForm()
    before = results.current_seal(category)
    return act(category, form, "retally_form",
               lambda: results.retally(actor(), category.id, form.retally_reason.data or ""),
               lambda seal: retally_message(seal, before),
               fields={"reason": "retally_reason"})


def retally_message(seal: Any, before: Any) -> str:
    if before is not None and before.figures == seal.figures:
        return _("Counted again and sealed as version %(version)d: the figures are the same.",
                 version=seal.version)
    return _("Counted again and sealed as version %(version)d: the figures changed.",
             version=seal.version)


@bp.post("/results/<int:category_id>/figures")
def set_public_figures(category_id: int) -> Any:
    """Turn the public exact figures of a category on or off."""
    category, form = get_in_gala(Category, category_id), FiguresForm()
    return act(category, form, "figures_form",
               lambda: results.set_public_figures(actor(), category.id,
                                                  form.public.data == "on"),
               lambda changed: _("Exact figures of this category will be public once it is "
                                 "revealed.") if changed.public_figures else
               _("Only the ranks and winners of this category will be public."))


# --- The protocol and the exports ----------------------------------------------------------


@bp.get("/results/protocol")
def show_protocol() -> Any:
    """The printable results protocol for the jury chair to sign (once results are sealed)."""
    gala = sealed_gala()
    return page("admin/protocol.html", gala=gala, outcomes=results.outcomes(gala),
                turnout=window.card_counts(gala), audit_chain=verify_chain(),
                problems=results.verify_seals(gala), printed_at=utcnow())


@bp.get("/results.<fmt>")
def export_results(fmt: str) -> Any:
    """The sealed results as CSV (one row per nominee) or JSON (with the exact figures)."""
    if fmt not in ("csv", "json"):
        abort(404)
    gala = sealed_gala()
    if fmt == "csv":
        return _download(results.results_csv(gala), f"results-{gala.year}.csv",
                         "text/csv; charset=utf-8")
    return _download(as_json(results.results_document(gala)), f"results-{gala.year}.json",
                     "application/json; charset=utf-8")


@bp.post("/ballot-box.json")
def export_ballot_box() -> Any:
    """The anonymised ballot box (no card, no receipt, no order), to recount from. A POST:
    each export is written to the audit trail, which a mere link must not do."""
    gala = sealed_gala()
    box = results.export_ballot_box(actor(), gala)
    return _download(as_json(box.document), f"ballot-box-{gala.year}.json",
                     "application/json; charset=utf-8")


def as_json(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"
