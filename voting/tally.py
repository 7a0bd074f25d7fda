"""The tally: ballots in, results out. Pure Python, so anyone can re-run it from an export.

Nothing here knows of Flask or SQLAlchemy. Results never depend on the order of the ballots:
counts are aggregated, and nominees that stay equal after the method's tie-break chain share a
rank (competition ranking: 1, 1, 3) and are listed by nominee id only for display.

Tie rules (each printed with the results as ``tie_breaks``):

- ``single``, ``approval``: none; equal counts stay a tie.
- ``ranked``: more first places, then more second places, ... up to the last place.
- ``score``: more scores, then the higher median. A nominee with fewer scores than the
  category's ``min_scores`` is not eligible to win and is ranked after every eligible nominee.
- several groups with weights: the higher share in the group with the larger weight, then in
  the next group (equal weights in the order of the group's name).
- ``irv``: the final round's votes. For an elimination, the nominee with the fewest votes in
  round 1 goes first, then in round 2, and so on; nominees still equal are eliminated
  together unless that would eliminate every continuing nominee, which is a tie.

A tie still standing after the chain is reported (``tie``, ``tied``) and never broken here:
the jury chair decides it later, with a recorded decision.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

METHODS = ("single", "ranked", "score", "approval", "irv")
WEIGHTED_METHODS = ("single", "ranked", "score", "approval")
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
            "ninth", "tenth")

IRV_TIE_BREAKS = (
    "more votes in the final round",
    "elimination: fewest votes in round 1, then in round 2, ...",
    "elimination: nominees still equal go together, unless that eliminates all (a tie)",
)


@dataclass(frozen=True)
class CategorySpec:
    """A category as the tally needs it: its method, nominees (nomination ids) and groups."""

    slug: str
    method: str
    nominees: frozenset[int]
    groups: Mapping[str, int]  # weight in percent by voter group, summing to 100
    places: int | None = None
    points: Sequence[int] | None = None  # ranked; None: Borda over the places filled
    score_min: int | None = None
    score_max: int | None = None
    min_scores: int | None = None
    max_choices: int | None = None


@dataclass(frozen=True)
class CategoryVote:
    """One ballot's marks in one category (empty marks: an abstention), or `count` ballots
    marked alike, as the database hands them over already grouped."""

    group: str
    marks: Any
    count: int = 1


@dataclass(frozen=True)
class RankedNominee:
    nominee_id: int
    score: Fraction | None  # votes, points, mean, approvals, final IRV votes or weighted share
    rank: int
    eligible: bool = True
    note: str | None = None
    scores: int | None = None  # score: how many scores the mean stands on
    median: Fraction | None = None  # score
    place_counts: tuple[int, ...] = ()  # ranked: how many ballots put it at place 1, 2, ...


@dataclass(frozen=True)
class IrvRound:
    number: int
    counts: Mapping[int, int]  # votes per continuing nominee
    exhausted: int
    eliminated: tuple[int, ...] = ()
    eliminated_by: str | None = None  # the step that chose among the lowest, if it had to


@dataclass(frozen=True)
class GroupResult:
    group: str
    weight: int
    result: CategoryResult
    shares: Mapping[int, Fraction]  # a nominee's normalised result in this group, 0..1
    note: str | None = None


@dataclass(frozen=True)
class CategoryResult:
    slug: str
    method: str
    ballots: int
    abstentions: int
    ranking: list[RankedNominee]
    tie: bool
    tied: list[int]
    winner: int | None
    winners: list[int]
    tie_breaks: list[str]
    decided_by: str | None = None
    rounds: list[IrvRound] = field(default_factory=list)
    groups: list[GroupResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def margin(self) -> Fraction | None:
        """How far the winner is ahead of the next eligible nominee (0 when a step decided)."""
        if self.winner is None:
            return None
        others = [r.score for r in self.ranking
                  if r.nominee_id != self.winner and r.eligible and r.score is not None]
        top = next(r.score for r in self.ranking if r.nominee_id == self.winner)
        return top - max(others) if others and top is not None else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly: scores as numbers (floats rounded) with the exact value beside."""
        return _result_data(self, exact=False)


def canonical_json(result: CategoryResult) -> str:
    """The result as one canonical string (sorted keys, no spaces, exact numbers as strings).

    This is what a commitment hashes, so it carries no floats.
    """
    return json.dumps(_result_data(result, exact=True), sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False)


def tally_category(spec: CategorySpec, votes: Iterable[CategoryVote]) -> CategoryResult:
    """Tally one category. Raises ValueError for an invalid spec or a vote it does not allow."""
    check_spec(spec)
    by_group: dict[str, Counter[Any]] = {group: Counter() for group in spec.groups}
    abstentions: Counter[str] = Counter()
    for vote in votes:
        if vote.group not in spec.groups:
            raise ValueError(f"{spec.slug}: group {vote.group!r} does not vote here")
        if isinstance(vote.count, bool) or not isinstance(vote.count, int) or vote.count < 1:
            raise ValueError(f"{spec.slug}: a vote counts for a whole number of ballots >= 1")
        marks = _read_marks(spec, vote.marks)
        if marks is None:
            abstentions[vote.group] += vote.count
        else:
            by_group[vote.group][_hashable(marks)] += vote.count
    if len(spec.groups) == 1:
        group = next(iter(spec.groups))
        return _tally_group(spec, by_group[group], abstentions[group])
    return _tally_weighted(spec, by_group, abstentions)


def check_spec(spec: CategorySpec) -> None:
    if spec.method not in METHODS:
        raise ValueError(f"{spec.slug}: unknown method {spec.method!r}")
    if not spec.nominees:
        raise ValueError(f"{spec.slug}: no nominees")
    if not spec.groups:
        raise ValueError(f"{spec.slug}: no voter groups")
    if any(isinstance(w, bool) or not isinstance(w, int) or not 1 <= w <= 100
           for w in spec.groups.values()):
        raise ValueError(f"{spec.slug}: weights are whole percents from 1 to 100")
    if sum(spec.groups.values()) != 100:
        raise ValueError(f"{spec.slug}: weights must sum to 100")
    if spec.method == "irv" and len(spec.groups) > 1:
        raise ValueError(f"{spec.slug}: irv is decided by a single group")
    for name in ("places", "score_min", "score_max", "min_scores", "max_choices"):
        value = getattr(spec, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"{spec.slug}: {name} must be a whole number")
    if spec.points is not None and any(isinstance(p, bool) or not isinstance(p, int)
                                       for p in spec.points):
        raise ValueError(f"{spec.slug}: points are whole numbers")
    if spec.places is not None and spec.places < 1:
        raise ValueError(f"{spec.slug}: places must be at least 1")
    if spec.method == "ranked" and spec.points is not None:
        if not spec.points or any(p < 0 for p in spec.points):
            raise ValueError(f"{spec.slug}: points are a non-empty list of whole numbers >= 0")
        if spec.places is not None and len(spec.points) < spec.places:
            raise ValueError(f"{spec.slug}: fewer points than places")
    if spec.method == "score" and (spec.score_min is None or spec.score_max is None
                                   or spec.score_min >= spec.score_max):
        raise ValueError(f"{spec.slug}: score needs score_min < score_max")
    if spec.min_scores is not None and spec.min_scores < 0:
        raise ValueError(f"{spec.slug}: min_scores must be at least 0")
    if spec.max_choices is not None and spec.max_choices < 1:
        raise ValueError(f"{spec.slug}: max_choices must be at least 1")


# Reading marks --------------------------------------------------------------------------


def _read_marks(spec: CategorySpec, marks: Any) -> Any:
    """The marks in the method's own shape, None for an abstention; ValueError if not allowed."""
    if marks is None:
        return None
    if isinstance(marks, str | bytes) or not isinstance(marks, int | Iterable):
        raise ValueError(f"{spec.slug}: marks are nominee ids")
    if not isinstance(marks, int | Mapping):
        marks = list(marks)
    if not isinstance(marks, int) and len(marks) == 0:
        return None
    if spec.method == "single":
        if not isinstance(marks, int):
            if isinstance(marks, Mapping) or len(marks) != 1:
                raise ValueError(f"{spec.slug}: single takes one nominee")
            marks = next(iter(marks))
        return _nominee(spec, marks)
    if spec.method == "score":
        if not isinstance(marks, Mapping):
            raise ValueError(f"{spec.slug}: score takes scores by nominee id")
        scores: dict[int, int] = {}
        for key, value in marks.items():
            nominee = _nominee(spec, key)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{spec.slug}: scores are whole numbers")
            if not spec.score_min <= value <= spec.score_max:
                raise ValueError(f"{spec.slug}: score {value} out of range")
            scores[nominee] = value
        return scores
    if isinstance(marks, Mapping):
        raise ValueError(f"{spec.slug}: {spec.method} takes nominee ids")
    ids = [_nominee(spec, item) for item in marks]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{spec.slug}: a nominee appears twice")
    if spec.method == "approval":
        if spec.max_choices is not None and len(ids) > spec.max_choices:
            raise ValueError(f"{spec.slug}: at most {spec.max_choices} approvals")
        return frozenset(ids)
    limit = spec.places
    if spec.method == "ranked" and spec.points is not None:
        limit = min(limit or len(spec.points), len(spec.points))
    if limit is not None and len(ids) > limit:
        raise ValueError(f"{spec.slug}: at most {limit} places")
    return tuple(ids)


def _hashable(marks: Any) -> Any:
    """Marks as a key, so ballots marked alike are counted together."""
    return tuple(sorted(marks.items())) if isinstance(marks, dict) else marks


def _nominee(spec: CategorySpec, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in spec.nominees:
        raise ValueError(f"{spec.slug}: {value!r} is not a nominee of this category")
    return value


# One group ------------------------------------------------------------------------------


def _tally_group(spec: CategorySpec, ballots: Counter[Any], abstentions: int) -> CategoryResult:
    """One group's ballots, each distinct marking with the number of ballots marked so."""
    if spec.method == "irv":
        return _tally_irv(spec, ballots, abstentions)
    rows: dict[int, _Row] = {}
    steps: list[str] = []
    total = sum(ballots.values())
    if spec.method in ("single", "approval"):
        counts: Counter[int] = Counter()
        for marks, count in ballots.items():
            for nominee in ([marks] if spec.method == "single" else marks):
                counts[nominee] += count
        rows = {n: _Row(Fraction(counts[n])) for n in spec.nominees}
    elif spec.method == "ranked":
        places = spec.places or (len(spec.points) if spec.points else len(spec.nominees))
        points: Counter[int] = Counter()
        at_place = {n: [0] * places for n in spec.nominees}
        for order, count in ballots.items():
            scheme = spec.points or range(len(order), 0, -1)
            for place, nominee in enumerate(order):
                points[nominee] += scheme[place] * count
                at_place[nominee][place] += count
        rows = {n: _Row(Fraction(points[n]), chain=tuple(at_place[n]),
                        place_counts=tuple(at_place[n])) for n in spec.nominees}
        steps = [f"more {_ordinal(p)} places" for p in range(1, places + 1)]
    else:  # score
        given: dict[int, Counter[int]] = {n: Counter() for n in spec.nominees}
        for scores, count in ballots.items():
            for nominee, value in scores:
                given[nominee][value] += count
        needed = spec.min_scores or 0
        for nominee, values in given.items():
            number = sum(values.values())
            mean = (Fraction(sum(v * c for v, c in values.items()), number)
                    if number else None)
            median = _median(values) if number else None
            eligible = number >= needed
            note = None if eligible else f"not eligible: {number} scores, needs {needed}"
            rows[nominee] = _Row(mean, chain=(number, median if median is not None else -1),
                                 eligible=eligible, note=note, scores=number, median=median)
        steps = ["more scores", "higher median"]
    return _decide(spec, total, abstentions, rows, steps)


def _median(values: Counter[int]) -> Fraction:
    """The median of the scores given (each score with how often it was given)."""
    number = sum(values.values())
    middle = [(number - 1) // 2, number // 2]  # the one or two middle positions
    found: list[int] = []
    seen = 0
    for value in sorted(values):
        seen += values[value]
        while middle and middle[0] < seen:
            found.append(value)
            middle.pop(0)
    return Fraction(sum(found), len(found))


@dataclass
class _Row:
    value: Fraction | None
    chain: tuple[Any, ...] = ()
    eligible: bool = True
    note: str | None = None
    scores: int | None = None
    median: Fraction | None = None
    place_counts: tuple[int, ...] = ()

    def key(self) -> tuple[Any, ...]:
        has_value = self.value is not None
        return (self.eligible, has_value, self.value if has_value else 0, *self.chain)


def _decide(spec: CategorySpec, ballots: int, abstentions: int, rows: Mapping[int, _Row],
            steps: list[str], **extra: Any) -> CategoryResult:
    """Rank by value then the chain; find the winner, the step that decided it, or the tie."""
    order = sorted(rows, key=lambda n: (_negate(rows[n].key()), n))
    ranking: list[RankedNominee] = []
    for position, nominee in enumerate(order):
        row = rows[nominee]
        if position and row.key() == rows[order[position - 1]].key():
            rank = ranking[-1].rank
        else:
            rank = position + 1
        ranking.append(RankedNominee(nominee, row.value, rank, row.eligible, row.note,
                                     row.scores, row.median, row.place_counts))
    notes: list[str] = list(extra.pop("notes", []))
    tie, tied, winners, decided_by = False, [], [], None
    eligible = [n for n in order if rows[n].eligible]
    if ballots == 0:
        notes.append("no ballots")
    elif not eligible:
        notes.append("no eligible nominee")
    else:
        top = rows[eligible[0]].key()[:3]
        contenders = [n for n in eligible if rows[n].key()[:3] == top]
        for index, step in enumerate(steps):
            if len(contenders) == 1:
                break
            best = max(rows[n].chain[index] for n in contenders)
            contenders = [n for n in contenders if rows[n].chain[index] == best]
            if len(contenders) == 1:
                decided_by = step
        if len(contenders) == 1:
            winners = contenders
        else:
            tie, tied = True, sorted(contenders)
    return CategoryResult(
        slug=spec.slug, method=spec.method, ballots=ballots, abstentions=abstentions,
        ranking=ranking, tie=tie, tied=tied, winner=winners[0] if winners else None,
        winners=winners, tie_breaks=steps, decided_by=decided_by, notes=notes, **extra)


def _negate(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """A descending sort key from an ascending one (booleans and numbers only)."""
    return tuple(-int(part) if isinstance(part, bool) else -part for part in key)


def _ordinal(number: int) -> str:
    return ORDINALS[number - 1] if number <= len(ORDINALS) else f"{number}th"


# Several groups -------------------------------------------------------------------------


def _tally_weighted(spec: CategorySpec, by_group: Mapping[str, Counter[Any]],
                    abstentions: Mapping[str, int]) -> CategoryResult:
    """Each group alone, normalised to shares (0..1), then summed with the weights.

    A nominee's share is its part of the group's votes, points or approvals; for score, its
    mean rescaled from score_min..score_max to 0..1 (no score in the group: 0). A group with
    no ballots contributes 0: the weights are not spread over the others. For score, the
    minimum number of scores counts the scores of all groups together.
    """
    # Heavier group first; equal weights by name, so the chain never depends on input order.
    groups = sorted(spec.groups, key=lambda g: (-spec.groups[g], g))
    group_results: list[GroupResult] = []
    notes: list[str] = []
    for group in groups:
        alone = replace(spec, groups={group: 100}, min_scores=None)
        result = _tally_group(alone, by_group[group], abstentions.get(group, 0))
        shares = _shares(spec, result)
        note = None
        if result.ballots == 0:
            note = f"{group}: no ballots, contributes 0"
            notes.append(note)
        group_results.append(GroupResult(group, spec.groups[group], result, shares, note))
    needed = spec.min_scores or 0
    rows: dict[int, _Row] = {}
    for nominee in spec.nominees:
        total = sum((Fraction(g.weight, 100) * g.shares[nominee] for g in group_results),
                    Fraction(0))
        row = _Row(total, chain=tuple(g.shares[nominee] for g in group_results))
        if spec.method == "score":
            count = sum(_by_id(g.result)[nominee].scores or 0 for g in group_results)
            row.scores = count
            if count < needed:
                row.eligible = False
                row.note = f"not eligible: {count} scores, needs {needed}"
        rows[nominee] = row
    steps = [f"higher share in {g.group} ({g.weight}%)" for g in group_results]
    return _decide(spec, sum(g.result.ballots for g in group_results),
                   sum(g.result.abstentions for g in group_results), rows, steps,
                   groups=group_results, notes=notes)


def _shares(spec: CategorySpec, result: CategoryResult) -> dict[int, Fraction]:
    if spec.method == "score":
        low, high = spec.score_min, spec.score_max
        return {r.nominee_id: (r.score - low) / (high - low) if r.score is not None
                else Fraction(0) for r in result.ranking}
    total = sum((r.score for r in result.ranking if r.score is not None), Fraction(0))
    return {r.nominee_id: r.score / total if total and r.score is not None else Fraction(0)
            for r in result.ranking}


def _by_id(result: CategoryResult) -> dict[int, RankedNominee]:
    return {r.nominee_id: r for r in result.ranking}


# Instant runoff -------------------------------------------------------------------------


def _tally_irv(spec: CategorySpec, ballots: Counter[tuple[int, ...]],
               abstentions: int) -> CategoryResult:
    """Rounds until a nominee has more than half of the continuing ballots.

    Each round counts every ballot for its highest-ranked continuing nominee; a ballot with
    none left is exhausted. The ranking lists the nominees by the round they lasted to, then by
    their votes in their last round (the winner's: the final round).
    """
    profile = ballots
    cast = sum(ballots.values())
    continuing = set(spec.nominees)
    rounds: list[IrvRound] = []
    history: list[Counter[int]] = []
    lasted: dict[int, int] = {}  # nominee -> the round it was eliminated in
    winners: list[int] = []
    tied: list[int] = []
    decided_by = None
    while True:
        counts: Counter[int] = Counter({n: 0 for n in continuing})
        exhausted = 0
        for order, weight in profile.items():
            top = next((n for n in order if n in continuing), None)
            if top is None:
                exhausted += weight
            else:
                counts[top] += weight
        history.append(counts)
        number = len(history)
        live = cast - exhausted
        leader = max(counts.values())
        if not ballots or 2 * leader > live:
            winners = [n for n in continuing if counts[n] == leader] if ballots else []
            rounds.append(IrvRound(number, dict(sorted(counts.items())), exhausted))
            break
        lowest = min(counts.values())
        out = [n for n in continuing if counts[n] == lowest]
        step = None
        for earlier, past in enumerate(history[:-1], start=1):
            if len(out) == 1:
                break
            fewest = min(past[n] for n in out)
            out = [n for n in out if past[n] == fewest]
            step = f"fewer votes in round {earlier}"
        if len(out) == len(continuing):
            tied = sorted(out)
            rounds.append(IrvRound(number, dict(sorted(counts.items())), exhausted))
            break
        if len(out) > 1:
            step = (f"{step}, then eliminated together (still equal)" if step
                    else "eliminated together (still equal)")
        rounds.append(IrvRound(number, dict(sorted(counts.items())), exhausted,
                               tuple(sorted(out)), step))
        if lowest == leader and len(continuing) - len(out) == 1:
            decided_by = step  # every continuing nominee was level: the chain chose the winner
        for nominee in out:
            lasted[nominee] = number
        continuing -= set(out)
    final = len(history)
    last_votes = {n: history[lasted.get(n, final) - 1][n] for n in spec.nominees}
    key = {n: (lasted.get(n, final + 1), last_votes[n]) for n in spec.nominees}
    ranking: list[RankedNominee] = []
    for position, nominee in enumerate(sorted(spec.nominees,
                                              key=lambda n: (_negate(key[n]), n))):
        if ranking and key[nominee] == key[ranking[-1].nominee_id]:
            rank = ranking[-1].rank
        else:
            rank = position + 1
        ranking.append(RankedNominee(nominee, Fraction(last_votes[nominee]), rank))
    return CategoryResult(
        slug=spec.slug, method=spec.method, ballots=cast, abstentions=abstentions,
        ranking=ranking, tie=bool(tied), tied=tied, winner=winners[0] if winners else None,
        winners=winners, tie_breaks=list(IRV_TIE_BREAKS), decided_by=decided_by,
        rounds=rounds, notes=[] if ballots else ["no ballots"])


# Output ---------------------------------------------------------------------------------


def _number(value: Fraction | None, exact: bool) -> Any:
    if value is None:
        return None
    if exact:
        return str(value)
    return int(value) if value.denominator == 1 else round(float(value), 6)


def _result_data(result: CategoryResult, exact: bool) -> dict[str, Any]:
    def nominee_data(r: RankedNominee) -> dict[str, Any]:
        data: dict[str, Any] = {"nominee_id": r.nominee_id, "score": _number(r.score, exact),
                                "rank": r.rank, "eligible": r.eligible, "note": r.note}
        if not exact:
            data["exact"] = _number(r.score, True)
        if r.scores is not None:
            data["scores"] = r.scores
            data["median"] = _number(r.median, exact)
        if r.place_counts:
            data["place_counts"] = list(r.place_counts)
        return data

    return {
        "slug": result.slug,
        "method": result.method,
        "ballots": result.ballots,
        "abstentions": result.abstentions,
        "ranking": [nominee_data(r) for r in result.ranking],
        "tie": result.tie,
        "tied": list(result.tied),
        "winner": result.winner,
        "winners": list(result.winners),
        "tie_breaks": list(result.tie_breaks),
        "decided_by": result.decided_by,
        "margin": _number(result.margin, exact),
        "notes": list(result.notes),
        "rounds": [{"round": r.number,
                    "counts": [{"nominee_id": n, "votes": v} for n, v in sorted(r.counts.items())],
                    "exhausted": r.exhausted, "eliminated": list(r.eliminated),
                    "eliminated_by": r.eliminated_by} for r in result.rounds],
        "groups": [{"group": g.group, "weight": g.weight, "note": g.note,
                    "shares": [{"nominee_id": n, "share": _number(s, exact)}
                               for n, s in sorted(g.shares.items())],
                    "result": _result_data(g.result, exact)} for g in result.groups],
    }
