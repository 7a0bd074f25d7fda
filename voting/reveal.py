"""The reveal on the big screen: a fixed sequence of steps and one state, in the database.

The steps follow the categories' running order: each category's title, then its nominees (by
name: an order that does not depend on the result), then its winner (or joint winners, or the
recipients of a mention or special award); after the last category, a summary of the winners.
The state (`gala.reveal_position`, an index into the steps, None before the first one, and
`gala.reveal_blank`) lives in the database, so every worker and host answers the same, and
every change raises `gala.reveal_version`, which the displays poll.

The embargo is kept here, on the server: `screen()` builds what a screen may show at this
moment and nothing more. A winner is in it only from its winner step on (and reaching that
step is what reveals the category, `results.reveal_category`); ranks and counts never are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l

from . import audit, results
from .database import write_transaction
from .errors import ConflictError, NotFoundError, ValidationError
from .extensions import db
from .models import Category, Gala
from .window import CLOSED, DRAFT, voting_phase

TITLE, NOMINEES, WINNER, SUMMARY, BLANK = "title", "nominees", "winner", "summary", "blank"
CATEGORY_STEPS = (TITLE, NOMINEES, WINNER)
BEFORE, VOTING, SEALED, REVEAL, FINISHED = "before", "voting", "sealed", "reveal", "finished"


@dataclass(frozen=True)
class Step:
    position: int
    kind: str  # title, nominees, winner or summary
    category: Category | None = None


def steps_of(categories: list[Category]) -> list[Step]:
    steps = [Step(len(CATEGORY_STEPS) * index + offset, kind, category)
             for index, category in enumerate(categories)
             for offset, kind in enumerate(CATEGORY_STEPS)]
    return [*steps, Step(len(steps), SUMMARY)]


def phase(gala: Gala, steps: list[Step] | None = None) -> str:
    """"before", "voting", "sealed" (closed, reveal not started), "reveal" or "finished"."""
    voting = voting_phase(gala)
    if voting == DRAFT:
        return BEFORE
    if voting != CLOSED or gala.sealed_at is None:
        return VOTING
    if gala.reveal_position is None:
        return SEALED
    steps = steps if steps is not None else steps_of(results.gala_categories(gala))
    return FINISHED if steps[gala.reveal_position].kind == SUMMARY else REVEAL


def current_step(gala: Gala, steps: list[Step]) -> Step | None:
    if gala.reveal_position is None or gala.reveal_position >= len(steps):
        return None
    return steps[gala.reveal_position]


def _target(gala: Gala, steps: list[Step], to: Any) -> int:
    position = gala.reveal_position
    if to == "next":
        return 0 if position is None else min(position + 1, len(steps) - 1)
    if to == "previous":
        if position is None or position == 0:
            raise ConflictError(str(_l("This is the first step of the reveal.")))
        return position - 1
    if to == "summary":
        return len(steps) - 1
    category = next((s for s in steps if s.category is not None and s.kind == TITLE
                     and str(s.category.id) == str(to)), None)
    if category is None:
        raise ValidationError(str(_l("Choose a category of this gala.")),
                              {"category": str(_l("Choose a category of this gala."))})
    return category.position


def move(actor: str, gala_id: int, version: Any, to: Any = "next",
         blank: bool | None = None) -> Gala:
    """Move the reveal: `to` is "next", "previous", "summary" or a category id (its title
    step); `blank` blanks or unblanks the screen instead. `version` is the reveal version
    the presenter saw, so a second tap, or a second presenter's, never skips a step.

    Reaching a category's winner step reveals the category. Raises ConflictError before the
    results are sealed, when the screen moved on since `version`, at the first step going
    back, or at a winner step the jury chair has not decided yet.
    """
    with write_transaction():
        gala = db.session.get(Gala, gala_id)
        if gala is None:
            raise NotFoundError(str(_l("This item no longer exists.")))
        if gala.sealed_at is None:
            raise ConflictError(str(_l("The reveal starts once voting is closed and the "
                                       "results are sealed.")))
        if str(version) != str(gala.reveal_version):
            raise ConflictError(str(_l("The screen has moved on in the meantime (another "
                                       "presenter?): check the current step and try again.")))
        steps = steps_of(results.gala_categories(gala))
        if blank is not None:
            gala.reveal_blank = blank
            details: dict[str, Any] = {"blank": blank}
        else:
            target = _target(gala, steps, to)
            step = steps[target]
            if step.kind == WINNER and step.category.revealed_at is None:
                outcome = results.outcome_of(step.category)
                if not outcome.sealed or not outcome.public["winners"]:
                    raise ConflictError(str(_l(
                        "“%(name)s” awaits the jury chair's decision: its winner cannot be "
                        "shown yet.", name=step.category.name_pl)))
                results.reveal_category(actor, step.category.id)
            gala.reveal_position = target
            gala.reveal_blank = False
            details = {"position": target, "step": step.kind,
                       "category": step.category.slug if step.category else None}
        gala.reveal_version += 1
        audit.record(actor, "reveal.step", gala_id=gala.id, subject=gala.name,
                     details=details)
    return gala


# --- What a screen may show now ---------------------------------------------------------------


def _nominee(nominee: dict[str, Any]) -> dict[str, Any]:
    return {"id": nominee["id"], "name": nominee["name"], "unit": nominee["unit"],
            "platform": nominee["platform"]}


def _category(category: Category, locale: str, number: int, count: int) -> dict[str, Any]:
    return {"slug": category.slug, "name": category.name(locale), "award": category.award,
            "number": number, "of": count}


def _nominees(category: Category) -> list[dict[str, Any]]:
    return [_nominee({"id": n.id, "name": n.profile.name, "unit": n.profile.unit_name,
                      "platform": n.profile.platform})
            for n in sorted(category.nominations,
                            key=lambda n: (n.profile.name.casefold(), n.id))]


def _winners(category: Category) -> list[dict[str, Any]]:
    """The winners as the sealed (and, by now, revealed) result names them."""
    seal = results.current_seal(category)
    public = json.loads(seal.result)
    by_id = {n["id"]: n for n in public["nominees"]}
    return [_nominee(by_id[winner]) for winner in public["winners"]]


def screen(gala: Gala, locale: str) -> dict[str, Any]:
    """What a display may show at this moment, and nothing it may not."""
    categories = results.gala_categories(gala)
    steps = steps_of(categories)
    state = phase(gala, steps)
    data: dict[str, Any] = {
        "state": state, "version": gala.reveal_version, "blank": False,
        "gala": {"name": gala.name, "date": gala.date.isoformat(), "venue": gala.venue},
        "category": None, "step": None,
    }
    if state == BEFORE:
        data["categories"] = [c.name(locale) for c in categories]
    elif state == VOTING:
        data["closes_at"] = gala.closes_at.isoformat() if gala.closes_at else None
    elif state == SEALED:
        data["commitments"] = [
            {"slug": c.slug, "name": c.name(locale),
             "commitment": results.current_seal(c).commitment}
            for c in categories if results.current_seal(c) is not None]
    if gala.reveal_blank and state in (REVEAL, FINISHED):
        data.update(blank=True, step=BLANK)
        return data
    step = current_step(gala, steps) if state in (REVEAL, FINISHED) else None
    if step is None:
        return data
    data["step"] = step.kind
    if step.kind == SUMMARY:
        data["summary"] = [{"category": _category(c, locale, i, len(categories)),
                            "winners": _winners(c)}
                           for i, c in enumerate(categories, start=1)
                           if c.revealed_at is not None]
        return data
    number = categories.index(step.category) + 1
    data["category"] = _category(step.category, locale, number, len(categories))
    if step.kind in (NOMINEES, WINNER):
        data["nominees"] = _nominees(step.category)
    if step.kind == WINNER:
        data["winners"] = _winners(step.category)
    return data


def api_document(gala: Gala | None, locale: str) -> dict[str, Any]:
    """`GET /api/v1/reveal`: the current step for other graphics systems."""
    if gala is None:
        return {"state": BEFORE, "category": None, "step": None}
    shown = screen(gala, locale)
    data: dict[str, Any] = {
        "state": shown["state"],
        "category": ({"slug": shown["category"]["slug"], "name": shown["category"]["name"]}
                     if shown["category"] else None),
        "step": shown["step"],
    }
    winners = shown.get("winners")
    if winners and len(winners) == 1:
        data["winner"] = winners[0]
    elif winners:
        data["winners"] = winners
    return data
