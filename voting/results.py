"""Results: the tally of a closed vote, sealed once, decided, revealed and recounted.

Sealing happens in the transaction that closes the vote (by hand, or the first request or
command after a scheduled close): every category gets version 1 of its result. Each version
stores two canonical JSON texts, each committed to with its own random nonce:

- `result`, the public result: ranks, winners, tie-breaks, the chair's decision, the ballot
  box's fingerprint and the commitment to the figures;
- `figures`, the exact tally (`voting.tally.canonical_json`): votes, points, scores, rounds.

    commitment = sha256(nonce + "\\n" + result)          (hex)
    figures    = sha256(figures_nonce + "\\n" + figures)  (hex, inside `result`)

The commitments are shown before the reveal; revealing a category publishes `result` and its
nonce, so anyone can check them, and the figures with theirs only if the organizer turned
exact figures on for the category (with a jury of five, counts can tell who voted how). The
figures need their own nonce: one published with the result would let anyone try every
possible small tally against the figures' hash.

A tie decided by the chair, or a re-tally, adds the next version: a recorded event with a new
commitment, never an edit. The ballot box's fingerprint is the SHA-256 of its anonymised
export's ballots (`ballot_box`), which `recount` recomputes from the export alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import selectinload

from . import audit, tally
from .database import dialect_name, write_transaction
from .errors import ConflictError, NotFoundError, ValidationError
from .extensions import db
from .models import Ballot, Category, Gala, Nomination, ResultSeal, utcnow

RESULT_FORMAT = "zlote-lajki/result/1"
BALLOT_BOX_FORMAT = "zlote-lajki/ballot-box/1"
SYSTEM_ACTOR = "system (scheduled close)"
MAX_REASON = 2000


# --- Commitments ---------------------------------------------------------------------------


def commit(nonce: str, canonical: str) -> str:
    """The commitment to a canonical text: sha256 over the nonce, a newline and the text."""
    return hashlib.sha256(f"{nonce}\n{canonical}".encode()).hexdigest()


def canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def seal_problems(seal: ResultSeal) -> list[str]:
    """What does not add up in one stored version: its commitments, or what it claims to be."""
    problems: list[str] = []
    name = f"{seal.category.slug} v{seal.version}"
    if commit(seal.nonce, seal.result) != seal.commitment:
        problems.append(f"{name}: the result does not match its commitment")
    try:
        result = json.loads(seal.result)
    except ValueError:
        return [*problems, f"{name}: the result is not JSON"]
    if commit(seal.figures_nonce, seal.figures) != result.get("figures"):
        problems.append(f"{name}: the figures do not match their commitment")
    if (result.get("category", {}).get("slug") != seal.category.slug
            or result.get("version") != seal.version):
        problems.append(f"{name}: the result names another category or version")
    return problems


# --- Specs and ballots from the database ---------------------------------------------------


def gala_categories(gala: Gala) -> list[Category]:
    return list(db.session.scalars(
        select(Category).where(Category.gala_id == gala.id)
        .order_by(Category.position, Category.id)
        .options(selectinload(Category.groups),
                 selectinload(Category.nominations).selectinload(Nomination.profile),
                 selectinload(Category.seals))))


def category_spec(category: Category) -> tally.CategorySpec:
    """The category as the tally needs it; nominee ids are nomination ids (the API's ids)."""
    return tally.CategorySpec(
        slug=category.slug, method=category.method,
        nominees=frozenset(n.id for n in category.nominations),
        groups=category.weights(), places=category.places, points=category.points,
        score_min=category.score_min, score_max=category.score_max,
        min_scores=category.min_scores, max_choices=category.max_choices)


def spec_document(category: Category) -> dict[str, Any]:
    """A balloted category as the ballot-box export states it: enough to tally it again."""
    return {
        "slug": category.slug, "name": category.name_pl, "method": category.method,
        "groups": category.weights(), "places": category.places, "points": category.points,
        "score_min": category.score_min, "score_max": category.score_max,
        "min_scores": category.min_scores, "max_choices": category.max_choices,
        "nominees": [{"id": n.id, "name": n.profile.name}
                     for n in sorted(category.nominations, key=lambda n: n.id)],
    }


def spec_from_document(data: Mapping[str, Any]) -> tally.CategorySpec:
    """A category spec read back from an export (ValueError when it is not one)."""
    try:
        points = data.get("points")
        return tally.CategorySpec(
            slug=str(data["slug"]), method=str(data["method"]),
            nominees=frozenset(int(n["id"]) for n in data["nominees"]),
            groups={str(g): w for g, w in dict(data["groups"]).items()},
            places=data.get("places"), points=list(points) if points else None,
            score_min=data.get("score_min"), score_max=data.get("score_max"),
            min_scores=data.get("min_scores"), max_choices=data.get("max_choices"))
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(f"not a category of a ballot-box export: {error}") from error


# Each ballot's marks in one category, aggregated in SQL: one row per distinct marking with
# the number of ballots marked so. A mark is "nominee:place:score".
#
# Grouped by the ballot's primary key (the ballot's group depends on it), so that both
# databases can group the choices as they stream by in key order instead of sorting the two
# million rows that 100,000 ballots carry (bench/tally.py): on SQLite the ballots are the
# outer loop (CROSS JOIN) scanned in key order (`+` keeps the gala's index, whose order would
# need that sort, out of the plan); PostgreSQL merge-joins the two primary-key orders. The
# marks are concatenated in whatever order the choices come: the tally reads them back as a
# set, a place order or scores by nominee, so that order changes no result, only how many
# alike markings the outer GROUP BY merges. SQLite's printf writes the same text as the
# concatenation PostgreSQL does (NULL as ''), in one call instead of four.
_MARKINGS = {
    "sqlite": """
        SELECT grp, category_id, marks, COUNT(*) FROM (
            SELECT b."group" AS grp, c.category_id AS category_id,
                   group_concat(printf('%d:%s:%s', c.nomination_id, c.place, c.score), ' ')
                       AS marks
            FROM ballot b CROSS JOIN ballot_choice c ON c.ballot_id = b.id
            WHERE +b.gala_id = :gala
            GROUP BY b.id, c.category_id)
        GROUP BY grp, category_id, marks""",
    "postgresql": """
        SELECT grp, category_id, marks, COUNT(*) FROM (
            SELECT b."group" AS grp, c.category_id AS category_id,
                   string_agg(c.nomination_id || ':' || COALESCE(c.place::text, '') || ':'
                              || COALESCE(c.score::text, ''), ' ') AS marks
            FROM ballot_choice c JOIN ballot b ON b.id = c.ballot_id
            WHERE b.gala_id = :gala
            GROUP BY b.id, c.category_id) AS markings
        GROUP BY grp, category_id, marks""",
}


def _marks_of(method: str, text_marks: str) -> Any:
    """One ballot's marks in a category, from the aggregated text, in the tally's shape."""
    marks = [mark.split(":") for mark in text_marks.split(" ")]
    if method == "score":
        return {int(nominee): int(score) if score else None for nominee, _, score in marks}
    if method in ("ranked", "irv"):
        marks.sort(key=lambda mark: int(mark[1]) if mark[1] else 0)
    return [int(nominee) for nominee, _, _ in marks]


def tally_gala(gala: Gala, categories: list[Category] | None = None
               ) -> dict[int, tally.CategoryResult]:
    """Tally the balloted categories (all of the gala's by default) from the database, by id.

    The ballots are grouped in SQL (distinct markings with their counts), never loaded one
    ORM object per vote. Raises ValueError when a stored ballot breaks its category's rules.
    """
    every = categories is None
    categories = gala_categories(gala) if categories is None else categories
    balloted = {c.id: c for c in categories if c.balloted}
    ballots_by_group = dict(db.session.execute(
        select(Ballot.group, func.count()).where(Ballot.gala_id == gala.id)
        .group_by(Ballot.group)).all())
    votes: dict[int, list[tally.CategoryVote]] = defaultdict(list)
    marked: dict[int, Counter[str]] = defaultdict(Counter)
    rows = db.session.execute(text(_MARKINGS[dialect_name()]), {"gala": gala.id})
    for group, category_id, text_marks, count in rows:
        category = balloted.get(category_id)
        if category is None and not every:
            continue  # a category not asked for
        if category is None:
            raise ValueError(f"ballots mark category #{category_id}, which is not balloted")
        votes[category_id].append(
            tally.CategoryVote(group, _marks_of(category.method, text_marks), count))
        marked[category_id][group] += count
    results = {}
    for category_id, category in balloted.items():
        abstaining = [tally.CategoryVote(group, None, ballots_by_group[group] - marked_count)
                      for group in category.weights()
                      if (marked_count := marked[category_id][group])
                      < ballots_by_group.get(group, 0)]
        results[category_id] = tally.tally_category(
            category_spec(category), [*votes[category_id], *abstaining])
    return results


# --- The ballot box: the anonymised export and its fingerprint -----------------------------


@dataclass(frozen=True)
class BallotBox:
    document: dict[str, Any]

    @property
    def fingerprint(self) -> str:
        return self.document["fingerprint"]


def ballots_fingerprint(ballots: list[Any]) -> str:
    return hashlib.sha256(canonical(ballots).encode()).hexdigest()


def ballot_box(gala: Gala, categories: list[Category] | None = None) -> BallotBox:
    """Every ballot of the gala, anonymised: its voter group and its marks per category slug,
    nothing else (no id, no card, no receipt), sorted by content, so the order says nothing
    about when or by whom a ballot was cast. Ranked marks are lists best first, score marks
    objects of nominee id (as text) to score."""
    categories = categories if categories is not None else gala_categories(gala)
    kinds = {c.id: (c.slug, c.method) for c in categories if c.balloted}
    ballots: dict[str, dict[str, Any]] = {}
    for ballot_id, group, category_id, text_marks in db.session.execute(
            text(_BALLOT_MARKINGS[dialect_name()]), {"gala": gala.id}):
        ballot = ballots.setdefault(ballot_id, {"group": group, "marks": {}})
        if category_id is None:
            continue
        slug, method = kinds[category_id]
        marks = _marks_of(method, text_marks)
        if method == "score":
            ballot["marks"][slug] = {str(nominee): score for nominee, score in marks.items()}
        else:
            ballot["marks"][slug] = marks if method in ("ranked", "irv") else sorted(marks)
    # Sorted by their canonical text, which is also what the fingerprint hashes (the canonical
    # text of the list is these texts, comma-separated, in brackets).
    texts = sorted((canonical(ballot), index) for index, ballot in enumerate(ballots.values()))
    every = list(ballots.values())
    return BallotBox({
        "format": BALLOT_BOX_FORMAT,
        "gala": {"year": gala.year, "name": gala.name},
        "categories": [spec_document(c) for c in categories if c.balloted],
        "ballots": [every[index] for _, index in texts],
        "fingerprint": hashlib.sha256(
            ("[" + ",".join(text for text, _ in texts) + "]").encode()).hexdigest(),
    })


# Each ballot's marks per category, one row per ballot and category (a ballot with no marks
# at all: one row with no category), in the shape `_marks_of` reads.
_BALLOT_MARKINGS = {
    "sqlite": """
        SELECT b.id, b."group", c.category_id,
               group_concat(printf('%d:%s:%s', c.nomination_id, c.place, c.score), ' ')
        FROM ballot b LEFT JOIN ballot_choice c ON c.ballot_id = b.id
        WHERE +b.gala_id = :gala
        GROUP BY b.id, c.category_id""",
    "postgresql": """
        SELECT b.id, b."group", c.category_id,
               string_agg(c.nomination_id || ':' || COALESCE(c.place::text, '') || ':'
                          || COALESCE(c.score::text, ''), ' ')
        FROM ballot b LEFT JOIN ballot_choice c ON c.ballot_id = b.id
        WHERE b.gala_id = :gala
        GROUP BY b.id, c.category_id""",
}


def export_ballot_box(actor: str, gala: Gala) -> BallotBox:
    """The anonymised ballot box for an organizer to keep or publish; who took it, and its
    fingerprint, go into the audit trail."""
    box = ballot_box(gala)
    with write_transaction():
        audit.record(actor, "results.export_ballot_box", gala_id=gala.id, subject=gala.name,
                     details={"ballots": len(box.document["ballots"]),
                              "fingerprint": box.fingerprint})
    return box


def tally_export(document: Mapping[str, Any]) -> dict[str, tally.CategoryResult]:
    """Tally every category of a ballot-box export from the export alone, by slug.

    Raises ValueError when the document is not an export or a ballot breaks the rules.
    """
    if not isinstance(document, Mapping) or document.get("format") != BALLOT_BOX_FORMAT:
        raise ValueError(f"not a ballot-box export (format {BALLOT_BOX_FORMAT})")
    specs = [spec_from_document(c) for c in document.get("categories") or []]
    if len({spec.slug for spec in specs}) != len(specs):
        raise ValueError("the export lists a category twice")
    ballots = document.get("ballots")
    if not isinstance(ballots, list):
        raise ValueError("the export has no list of ballots")
    votes: dict[str, list[tally.CategoryVote]] = {spec.slug: [] for spec in specs}
    for number, ballot in enumerate(ballots, start=1):
        if not isinstance(ballot, Mapping) or not isinstance(ballot.get("marks"), Mapping):
            raise ValueError(f"ballot {number} is not a ballot")
        group, marks = ballot.get("group"), ballot["marks"]
        if not isinstance(group, str):
            raise ValueError(f"ballot {number} has no voter group")
        unknown = set(marks) - set(votes)
        if unknown:
            raise ValueError(f"ballot {number} marks unknown categories: {sorted(unknown)}")
        for spec in specs:
            if group in spec.groups:
                votes[spec.slug].append(tally.CategoryVote(
                    group, _export_marks(spec, marks.get(spec.slug))))
            elif spec.slug in marks:
                raise ValueError(f"ballot {number}: group {group!r} does not vote in "
                                 f"{spec.slug}")
    return {spec.slug: tally.tally_category(spec, votes[spec.slug]) for spec in specs}


def _export_marks(spec: tally.CategorySpec, marks: Any) -> Any:
    if spec.method == "score" and isinstance(marks, Mapping):
        try:
            return {int(nominee): score for nominee, score in marks.items()}
        except ValueError as error:
            raise ValueError(f"{spec.slug}: scores are keyed by nominee id") from error
    return marks


# --- Building a version's texts ------------------------------------------------------------


def _nominees(category: Category) -> list[dict[str, Any]]:
    return [{"id": n.id, "name": n.profile.name, "unit": n.profile.unit_name,
             "platform": n.profile.platform}
            for n in sorted(category.nominations, key=lambda n: n.id)]


def _decision_data(decision: Decision | None) -> dict[str, Any] | None:
    if decision is None:
        return None
    return {"winners": sorted(decision.winners), "ex_aequo": len(decision.winners) > 1,
            "by": decision.by, "at": decision.at.isoformat(), "reason": decision.reason}


@dataclass(frozen=True)
class Decision:
    winners: list[int]
    by: str
    at: dt.datetime
    reason: str


def _public_result(category: Category, version: int, event: str, at: dt.datetime,
                   figures: dict[str, Any] | None, decision: Decision | None,
                   figures_commitment: str, ballot_box_fingerprint: str | None
                   ) -> dict[str, Any]:
    """The public result of one version: ranks and winners, never a count."""
    if figures is not None:
        ranking = [{"nominee_id": r["nominee_id"], "rank": r["rank"], "eligible": r["eligible"]}
                   for r in figures["ranking"]]
        tie, tied = figures["tie"], figures["tied"]
        winners = figures["winners"]
        tie_breaks, decided_by = figures["tie_breaks"], figures["decided_by"]
    else:  # decided by the chapter: no ballots, the decision is the result
        ranking = [{"nominee_id": n.id, "rank": 1, "eligible": True}
                   for n in sorted(category.nominations, key=lambda n: n.id)]
        tie, tied, winners, tie_breaks, decided_by = False, [], [], [], None
    if decision is not None:
        winners = sorted(decision.winners)
        tie, tied = False, []
        decided_by = "decision of the jury chair"
        ranking = _ranking_after(ranking, winners)
    elif figures is None:
        ranking = []
    return {
        "format": RESULT_FORMAT,
        "gala": {"year": category.gala.year, "name": category.gala.name},
        "category": {"slug": category.slug, "name": category.name_pl,
                     "name_en": category.name_en, "award": category.award,
                     "method": category.method},
        "version": version, "event": event, "at": at.isoformat(),
        "nominees": _nominees(category),
        "ranking": ranking,
        "tie": tie, "tied": tied,
        "winner": winners[0] if len(winners) == 1 else None,
        "winners": winners,
        "awaiting_decision": not winners,
        "tie_breaks": tie_breaks, "decided_by": decided_by,
        "decision": _decision_data(decision),
        "ballot_box": ballot_box_fingerprint,
        "figures": figures_commitment,
    }


def _ranking_after(ranking: list[dict[str, Any]], winners: list[int]) -> list[dict[str, Any]]:
    """The ranking once the chair decided: the winners first (sharing rank 1 ex aequo), the
    rest after them in their order, ranks renumbered."""
    first = [dict(r, rank=1) for r in ranking if r["nominee_id"] in winners]
    rest = [dict(r) for r in ranking if r["nominee_id"] not in winners]
    previous_rank, previous_shown = None, None
    for position, row in enumerate(rest, start=len(first) + 1):
        shown = previous_shown if row["rank"] == previous_rank else position
        previous_rank, previous_shown = row["rank"], shown
        row["rank"] = shown
    return first + rest


def _figures_text(category: Category, result: tally.CategoryResult | None) -> str:
    if result is None:
        return canonical({"slug": category.slug, "method": "decision", "ballots": 0})
    return tally.canonical_json(result)


def _add_version(actor: str, category: Category, event: str, figures_text: str,
                 decision: Decision | None, reason: str = "") -> ResultSeal:
    version = (max((s.version for s in category.seals), default=0)) + 1
    at = utcnow().replace(microsecond=0)
    figures = json.loads(figures_text)
    figures_nonce = secrets.token_hex(32)
    nonce = secrets.token_hex(32)
    result = canonical(_public_result(
        category, version, event, at, figures if category.balloted else None, decision,
        commit(figures_nonce, figures_text), category.gala.ballot_box_fingerprint))
    seal = ResultSeal(category=category, version=version, event=event, result=result,
                      nonce=nonce, commitment=commit(nonce, result), figures=figures_text,
                      figures_nonce=figures_nonce, actor=actor[:254], reason=reason,
                      created_at=at)
    db.session.add(seal)
    db.session.flush()
    return seal


# --- Sealing, deciding, re-tallying, revealing ---------------------------------------------


def seal_results(actor: str, gala: Gala) -> bool:
    """Inside the transaction that closes the vote: tally and seal every category, once.

    The conditional update on `gala.sealed_at` makes it exactly once, whichever worker or
    command gets there first; returns False when the gala was already sealed.
    """
    now = utcnow()
    claimed = db.session.execute(
        update(Gala).where(Gala.id == gala.id, Gala.sealed_at.is_(None))
        .values(sealed_at=now).execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        return False
    categories = gala_categories(gala)
    box = ballot_box(gala, categories)
    gala.sealed_at = now
    gala.ballot_box_fingerprint = box.fingerprint
    tallied = tally_gala(gala, categories)
    commitments = {}
    for category in categories:
        seal = _add_version(actor, category, "seal",
                            _figures_text(category, tallied.get(category.id)), None)
        commitments[category.slug] = seal.commitment
    audit.record(actor, "results.seal", gala_id=gala.id, subject=gala.name,
                 details={"ballot_box": box.fingerprint, "ballots": len(box.document["ballots"]),
                          "commitments": commitments})
    return True


def _sealed_category(category_id: int) -> Category:
    category = db.session.get(Category, category_id)
    if category is None:
        raise NotFoundError(str(_l("This item no longer exists.")))
    if category.gala.sealed_at is None or not category.seals:
        raise ConflictError(str(_l("Results are sealed when voting closes.")))
    if category.revealed_at is not None:
        raise ConflictError(str(_l("This category has been revealed: its result can no "
                                   "longer change.")))
    return category


def current_seal(category: Category) -> ResultSeal | None:
    return category.seals[-1] if category.seals else None


def decide(actor: str, category_id: int, winners: Iterable[Any], reason: str) -> ResultSeal:
    """Record the jury chair's decision: a tie's winner (or joint winners, where the category
    allows them), or the recipients of an award the chapter decides. A new sealed version.

    Raises ValidationError (`winners`, `reason`) for a choice the rules do not allow,
    ConflictError when there is nothing to decide or the category was revealed.
    """
    with write_transaction():
        category = _sealed_category(category_id)
        seal = current_seal(category)
        errors: dict[str, Any] = {}
        try:
            chosen = sorted({int(w) for w in winners})
        except (TypeError, ValueError):
            chosen = []
            errors["winners"] = _l("Choose the winner from the list.")
        if category.balloted:
            counted = json.loads(seal.figures)
            if counted["winners"]:  # the count (and its tie-breaks) decided it
                raise ConflictError(str(_l("There is no tie to decide in this category.")))
            # A tie: among the tied. No ballots or no eligible nominee: among all of them.
            candidates = set(counted["tied"]) or {n.id for n in category.nominations}
        else:
            candidates = {n.id for n in category.nominations}
        reason = (reason or "").strip()
        if "winners" not in errors:
            if not chosen:
                errors["winners"] = _l("Choose at least one winner.")
            elif not set(chosen) <= candidates:
                errors["winners"] = (_l("Choose among the tied nominees.") if category.balloted
                                     else _l("Choose among the category's nominees."))
            elif len(chosen) > 1 and not category.ex_aequo:
                errors["winners"] = _l("This category's rules do not allow joint winners "
                                       "(ex aequo): choose one.")
        if not reason:
            errors["reason"] = _l("Give the reason for the decision; it is printed with the "
                                  "results.")
        elif len(reason) > MAX_REASON:
            errors["reason"] = _l("At most %(count)d characters.", count=MAX_REASON)
        if errors:
            first = next(iter(errors.values()))
            raise ValidationError(str(first), {k: str(v) for k, v in errors.items()})
        decision = Decision(chosen, actor, utcnow().replace(microsecond=0), reason)
        new = _add_version(actor, category, "decision", seal.figures, decision, reason)
        audit.record(actor, "results.decide", gala_id=category.gala_id, subject=category.slug,
                     # Not the winners: the audit trail is read by more eyes than the results.
                     details={"version": new.version, "commitment": new.commitment})
    return new


def retally(actor: str, category_id: int, reason: str) -> ResultSeal:
    """Count a sealed category again from the stored ballots and seal that as a new version
    (with the reason), keeping the chair's decision only if the same nominees are still tied.

    Raises ValidationError (`reason`) without a reason, ConflictError for a revealed or
    unsealed category or one decided by the chapter.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(str(_l("Say why the category is counted again.")),
                              {"reason": str(_l("Say why the category is counted again."))})
    if len(reason) > MAX_REASON:
        message = str(_l("At most %(count)d characters.", count=MAX_REASON))
        raise ValidationError(message, {"reason": message})
    with write_transaction():
        category = _sealed_category(category_id)
        if not category.balloted:
            raise ConflictError(str(_l("This award is decided by the chapter, not counted.")))
        result = tally_gala(category.gala, [category])[category.id]
        seal = current_seal(category)
        previous = json.loads(seal.result)["decision"]
        decision = None
        if previous and result.tie and sorted(result.tied) == sorted(
                json.loads(seal.figures).get("tied") or []):
            decision = Decision(previous["winners"], previous["by"],
                                dt.datetime.fromisoformat(previous["at"]), previous["reason"])
        new = _add_version(actor, category, "retally", tally.canonical_json(result), decision,
                           reason)
        audit.record(actor, "results.retally", gala_id=category.gala_id,
                     subject=category.slug,
                     details={"version": new.version, "reason": reason,
                              "changed": new.figures != seal.figures,
                              "commitment": new.commitment})
    return new


def set_public_figures(actor: str, category_id: int, public: bool) -> Category:
    """Turn the public exact figures of a category on or off (off by default: small juries)."""
    with write_transaction():
        category = db.session.get(Category, category_id)
        if category is None:
            raise NotFoundError(str(_l("This item no longer exists.")))
        if category.public_figures != public:
            category.public_figures = public
            audit.record(actor, "results.public_figures", gala_id=category.gala_id,
                         subject=category.slug, details={"public": public})
    return category


def reveal_category(actor: str, category_id: int) -> Category:
    """Reveal one category's result: from now on its result, nonce (and figures, if public)
    are public. Raises ConflictError before sealing, while undecided, or when revealed."""
    with write_transaction():
        category = _sealed_category(category_id)
        public = json.loads(current_seal(category).result)
        if not public["winners"]:
            raise ConflictError(str(_l("The chair has not decided this category yet: it "
                                       "cannot be revealed.")))
        category.revealed_at = utcnow()
        audit.record(actor, "results.reveal", gala_id=category.gala_id, subject=category.slug,
                     details={"version": public["version"],
                              "commitment": current_seal(category).commitment})
    return category


def next_to_reveal(gala: Gala) -> Category | None:
    return next((c for c in gala_categories(gala) if c.revealed_at is None), None)


# --- Reading results -----------------------------------------------------------------------


FRACTION_KEYS = ("score", "median", "margin", "share")


def readable(data: Any) -> Any:
    """Figures with their exact numbers (text such as "7/2") turned into Fractions."""
    if isinstance(data, dict):
        return {key: (Fraction(value) if key in FRACTION_KEYS and isinstance(value, str)
                      else readable(value)) for key, value in data.items()}
    if isinstance(data, list):
        return [readable(item) for item in data]
    return data


def number(value: Fraction | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value.denominator == 1 else round(float(value), 6)


@dataclass
class Outcome:
    """A category's sealed result as the organizer's pages and commands show it."""

    category: Category
    seal: ResultSeal | None
    public: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def sealed(self) -> bool:
        return self.seal is not None

    @property
    def names(self) -> dict[int, str]:
        return {n["id"]: n["name"] for n in self.public.get("nominees", [])}

    def summary(self) -> dict[str, Any]:
        """The category in the shape of `flask tally --json`."""
        ranking = self.ranking()
        return {
            "slug": self.category.slug,
            "name": self.category.name_pl,
            "award": self.category.award,
            "method": self.category.method,
            "ballots": self.figures.get("ballots", 0),
            "abstentions": self.figures.get("abstentions", 0),
            "ranking": ranking,
            "tie": self.public["tie"],
            "tied": self.public["tied"],
            "winner": self.public["winner"],
            "winners": self.public["winners"],
            "awaiting_decision": self.public["awaiting_decision"],
            "tie_breaks": self.public["tie_breaks"],
            "decided_by": self.public["decided_by"],
            "decision": self.public["decision"],
            "margin": number(self.figures.get("margin")),
            "version": self.seal.version,
            "commitment": self.seal.commitment,
            "revealed": self.category.revealed_at is not None,
        }

    def ranking(self, figures: bool = True) -> list[dict[str, Any]]:
        scores = {r["nominee_id"]: r["score"] for r in self.figures.get("ranking", [])}
        rows = []
        for row in self.public["ranking"]:
            item = {"nominee_id": row["nominee_id"], "name": self.names[row["nominee_id"]],
                    "rank": row["rank"]}
            if figures:
                item["score"] = number(scores.get(row["nominee_id"]))
            rows.append(item)
        return rows


def outcome_of(category: Category) -> Outcome:
    seal = current_seal(category)
    if seal is None:
        return Outcome(category, None)
    return Outcome(category, seal, json.loads(seal.result), readable(json.loads(seal.figures)))


def outcomes(gala: Gala) -> list[Outcome]:
    return [outcome_of(category) for category in gala_categories(gala)]


def public_result(outcome: Outcome) -> dict[str, Any]:
    """A revealed category for the public API: ranks and winners; the texts and nonces to
    check the commitment; exact figures only where the organizer made them public."""
    category, seal = outcome.category, outcome.seal
    data: dict[str, Any] = {
        "slug": category.slug,
        "name": category.name_pl,
        "name_en": category.name_en,
        "award": category.award,
        "method": category.method,
        "revealed_at": category.revealed_at.isoformat() if category.revealed_at else None,
        "ranking": outcome.ranking(figures=category.public_figures),
        "tie": outcome.public["tie"],
        "tied": outcome.public["tied"],
        "winner": outcome.public["winner"],
        "winners": outcome.public["winners"],
        "decision": outcome.public["decision"],
        "version": seal.version,
        "commitment": seal.commitment,
        "result": seal.result,
        "nonce": seal.nonce,
        "history": [{"version": s.version, "event": s.event, "commitment": s.commitment,
                     "at": s.created_at.isoformat()} for s in category.seals],
    }
    if category.public_figures:
        data["ballots"] = outcome.figures.get("ballots", 0)
        data["figures"] = seal.figures
        data["figures_nonce"] = seal.figures_nonce
    return data


def public_results(gala: Gala) -> dict[str, Any]:
    """What `GET /api/v1/results` shows: revealed categories in full, and for the others only
    their commitments (which say nothing of the outcome)."""
    shown = [o for o in outcomes(gala) if o.sealed]
    return {
        "categories": [public_result(o) for o in shown if o.category.revealed_at is not None],
        "sealed": [{"slug": o.category.slug, "commitment": o.seal.commitment,
                    "version": o.seal.version} for o in shown],
    }


# --- Checking: commitments and a recount from an export ------------------------------------


@dataclass
class RecountReport:
    lines: list[tuple[str, bool, str]]  # (what, ok, detail)

    @property
    def matches(self) -> bool:
        return all(ok for _, ok, _ in self.lines)


def verify_seals(gala: Gala) -> list[str]:
    """Every stored version's commitments checked; the problems found (none: all hold)."""
    return [problem for category in gala_categories(gala) for seal in category.seals
            for problem in seal_problems(seal)]


def recount(gala: Gala, document: Mapping[str, Any]) -> RecountReport:
    """Tally a ballot-box export alone and compare it with the gala's sealed results: the
    ballots' fingerprint, each category's exact figures, and every stored commitment.

    Raises ValueError when the document cannot be read as an export.
    """
    if gala.sealed_at is None:
        raise ValueError("this gala's results are not sealed yet")
    recounted = tally_export(document)
    lines: list[tuple[str, bool, str]] = []
    # Over the ballots in content order: the same ballots listed otherwise are the same box.
    fingerprint = ballots_fingerprint(sorted(document["ballots"], key=canonical))
    lines.append(("ballot box", fingerprint == gala.ballot_box_fingerprint,
                  f"{len(document['ballots'])} ballots, fingerprint {fingerprint[:16]}…"
                  + ("" if fingerprint == gala.ballot_box_fingerprint else
                     f" (sealed: {(gala.ballot_box_fingerprint or '')[:16]}…)")))
    for category in gala_categories(gala):
        seal = current_seal(category)
        if not category.balloted:
            lines.append((category.slug, True, "decided by the chapter, no ballots"))
            continue
        result = recounted.get(category.slug)
        if result is None:
            lines.append((category.slug, False, "not in the export"))
            continue
        same = seal is not None and tally.canonical_json(result) == seal.figures
        winners = ", ".join(str(w) for w in result.winners) or ("tie" if result.tie else "-")
        lines.append((category.slug, same,
                      f"{result.ballots} ballots, winner {winners}"
                      + ("" if same else " — differs from the sealed result")))
    for slug in sorted(set(recounted) - {c.slug for c in gala_categories(gala)}):
        lines.append((slug, False, "in the export but not in the gala"))
    problems = verify_seals(gala)
    lines.append(("commitments", not problems, "; ".join(problems) or "all hold"))
    return RecountReport(lines)


# --- Exports of the sealed results (the results desk's downloads) --------------------------


RESULTS_FORMAT = "zlote-lajki/results/1"
RESULTS_CSV_COLUMNS = ("category", "category_name", "method", "rank", "nominee_id", "nominee",
                       "score", "winner", "commitment")


def results_document(gala: Gala) -> dict[str, Any]:
    """Every sealed category as `flask tally --json` shows it, with its exact figures: the
    very text the figures commitment covers (numbers as exact fractions such as "7/2")."""
    return {
        "format": RESULTS_FORMAT,
        "gala": {"year": gala.year, "name": gala.name, "date": gala.date.isoformat(),
                 "venue": gala.venue},
        "sealed_at": gala.sealed_at.isoformat() if gala.sealed_at else None,
        "ballot_box": gala.ballot_box_fingerprint,
        "categories": [{**o.summary(), "figures": json.loads(o.seal.figures)}
                       for o in outcomes(gala) if o.sealed],
    }


def results_csv(gala: Gala) -> str:
    """One row per sealed category and nominee, best first, safe to open in a spreadsheet.
    A category the chapter has not decided yet lists its nominees without ranks."""
    from .transfer import _csv_text  # the one CSV writer that neutralises formulas

    rows = []
    for outcome in outcomes(gala):
        if not outcome.sealed:
            continue
        category, winners = outcome.category, set(outcome.public["winners"])
        ranking = outcome.ranking() or [
            {"nominee_id": n["id"], "name": n["name"], "rank": None, "score": None}
            for n in outcome.public["nominees"]]
        rows.extend([category.slug, category.name_pl, category.method, row["rank"],
                     row["nominee_id"], row["name"], row.get("score"),
                     "yes" if row["nominee_id"] in winners else "no", outcome.seal.commitment]
                    for row in ranking)
    return _csv_text(RESULTS_CSV_COLUMNS, rows)
