"""The paper-like ballot a card sees: its sections, its nominee order, and reading it back.

The HTML ballot posts plain form fields (it works without JavaScript); `read_form` turns them
into the same `votes` mapping the JSON API takes, so both go through `ballots.check_votes`.
Field names per category slug `s`: single `s` (a nominee id, empty to abstain); approval `s`
(repeated); ranked and irv `s.1`..`s.k` (one nominee per place); score `s.<nominee id>`.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l

from .models import Category, Nomination, Token

# Above this many values a score is typed, below it the values are shown as buttons.
SCORE_BUTTONS_MAX = 11


@dataclass
class Nominee:
    """One line of a section: the nominee, and why this card may not choose them, if so."""

    nomination: Nomination
    recusal: str = ""

    @property
    def id(self) -> int:
        return self.nomination.id

    @property
    def profile(self) -> Any:
        return self.nomination.profile


@dataclass
class Section:
    """One category on one card's ballot."""

    category: Category
    nominees: list[Nominee]
    error: str = ""
    chosen: dict[str, Any] = field(default_factory=dict)

    @property
    def method(self) -> str:
        return self.category.method

    @property
    def choosable(self) -> list[Nominee]:
        return [n for n in self.nominees if not n.recusal]

    @property
    def place_numbers(self) -> list[int]:
        return list(range(1, min(self.category.places or 1, len(self.choosable)) + 1))

    @property
    def score_values(self) -> list[int]:
        low, high = self.category.score_min, self.category.score_max
        return list(range(low, high + 1)) if high - low < SCORE_BUTTONS_MAX else []


def nominee_order(nominations: Iterable[Nomination], card_id: int, category_id: int,
                  secret: str) -> list[Nomination]:
    """The nominees in an order of this card's own: no nominee gets the first place on every
    ballot, and the order stays the same when the voter reloads (so no one sees it 'move')."""
    seed = hmac.new(secret.encode(), f"ballot-order:{card_id}:{category_id}".encode(),
                    hashlib.sha256).digest()
    ordered = sorted(nominations, key=lambda n: n.id)
    random.Random(seed).shuffle(ordered)
    return ordered


def recusal_reason(card: Token, nomination: Nomination) -> str:
    profile = nomination.profile
    for recusal in card.recusals:
        if recusal.profile_id is not None and recusal.profile_id == profile.id:
            return str(_l("Recused: you may not vote for this profile."))
    for recusal in card.recusals:
        if recusal.unit_name and recusal.unit_name.casefold() == profile.unit_name.casefold():
            return str(_l("Recused: you may not vote for %(unit)s.", unit=profile.unit_name))
    return ""


def sections_for(card: Token, categories: Iterable[Category], secret: str) -> list[Section]:
    """The sections of this card's ballot: the categories its group votes in, in running
    order, each with its nominees shuffled for this card and recusals marked."""
    sections = []
    for category in categories:
        if card.group not in {g.group for g in category.groups}:
            continue
        nominees = [Nominee(n, recusal_reason(card, n))
                    for n in nominee_order(category.nominations, card.id, category.id, secret)]
        sections.append(Section(category, nominees))
    return sections


WHOLE_NUMBER = re.compile(r"-?[0-9]{1,9}")


def _whole_number(text: str) -> int | None:
    # ASCII digits only: str.isdigit() also says yes to "²", which int() refuses.
    text = text.strip()
    return int(text) if WHOLE_NUMBER.fullmatch(text) else None


def read_form(sections: list[Section], form: Mapping[str, Any]) -> tuple[dict[str, Any],
                                                                        dict[str, str]]:
    """The votes the form says, by category slug, and a reason for each section it cannot
    read (a place left empty above a filled one, a score that is not a number).

    Also remembers in each section what was chosen, so a form shown again keeps it.
    `form` is a werkzeug MultiDict (or any mapping with `getlist`).
    """
    votes: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for section in sections:
        slug, method = section.category.slug, section.method
        if method == "single":
            value = (form.get(slug) or "").strip()
            section.chosen = {"one": value}
            votes[slug] = value or None
        elif method == "approval":
            values = [v.strip() for v in form.getlist(slug) if v.strip()]
            section.chosen = {"many": set(values)}
            votes[slug] = values
        elif method in ("ranked", "irv"):
            places = [(form.get(f"{slug}.{place}") or "").strip()
                      for place in section.place_numbers]
            section.chosen = {"places": dict(enumerate(places, start=1))}
            while places and not places[-1]:
                places.pop()
            if any(not value for value in places):
                problems[slug] = str(_l("Fill the places in order, from 1, without gaps."))
            votes[slug] = places
        elif method == "score":
            scores: dict[str, Any] = {}
            # Recused nominees too: a score forced onto one is refused, not silently dropped.
            for nominee in section.nominees:
                text = (form.get(f"{slug}.{nominee.id}") or "").strip()
                if not text:
                    continue
                number = _whole_number(text)
                if number is None:
                    problems[slug] = str(_l("Scores are whole numbers."))
                scores[str(nominee.id)] = number if number is not None else text
            section.chosen = {"scores": {key: str(v) for key, v in scores.items()}}
            votes[slug] = scores
    return votes, problems


def summary(section: Section) -> list[tuple[str, Nominee]]:
    """What the voter chose in a section, for the review step: (mark, nominee) pairs; empty
    when they abstain. The mark is the place ("1."), the score ("8/10"), or "✓"."""
    by_id = {str(n.id): n for n in section.nominees}
    chosen = section.chosen
    if section.method == "single":
        nominee = by_id.get(chosen.get("one", ""))
        return [("✓", nominee)] if nominee else []
    if section.method == "approval":
        return [("✓", by_id[v]) for v in sorted(chosen.get("many", ()), key=_order(section))
                if v in by_id]
    if section.method in ("ranked", "irv"):
        return [(f"{place}.", by_id[v]) for place, v in sorted(chosen.get("places", {}).items())
                if v in by_id]
    scores = chosen.get("scores", {})
    top = section.category.score_max
    return [(f"{scores[str(n.id)]}/{top}", n) for n in section.nominees if str(n.id) in scores]


def _order(section: Section) -> Any:
    positions = {str(n.id): index for index, n in enumerate(section.nominees)}
    return lambda value: positions.get(value, len(positions))


def carried_fields(sections: list[Section]) -> list[tuple[str, str]]:
    """The choices as form fields again: the review step carries them to the final submit."""
    fields: list[tuple[str, str]] = []
    for section in sections:
        slug, chosen = section.category.slug, section.chosen
        if section.method == "single" and chosen.get("one"):
            fields.append((slug, chosen["one"]))
        elif section.method == "approval":
            fields.extend((slug, value) for value in sorted(chosen.get("many", ())))
        elif section.method in ("ranked", "irv"):
            fields.extend((f"{slug}.{place}", value)
                          for place, value in sorted(chosen.get("places", {}).items()) if value)
        elif section.method == "score":
            fields.extend((f"{slug}.{key}", value)
                          for key, value in sorted(chosen.get("scores", {}).items()))
    return fields
