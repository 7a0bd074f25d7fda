"""The tally cross-checked against an established social-choice library: pref_voting 1.18
(Holliday and Pacuit, https://pref-voting.readthedocs.io; a test-only dependency).

The same generated ballot profiles (hypothesis, derandomized) are tallied by `voting.tally`
and by pref_voting, and must give the same winners, or the same set of nominees tied at the
top, for:

- plurality: `single` on each ballot's first choice vs `plurality` on complete rankings;
- Borda: `ranked` with the default points (Borda over the places filled: n..1 on a complete
  ranking of n) vs `borda` (n-1..0): every nominee's points differ by exactly the number of
  ballots, and the nominees on the most points are the library's winners;
- a points scheme (`ranked` with e.g. 5,3,0) vs `scoring_rule` with the same points;
- approval: `approval` vs `approval` on a grade profile of 0/1 grades;
- score (mean, no minimum number of scores) vs `score_voting(evaluation_method="mean")`,
  both leaving a nominee nobody scored out of the contest;
- instant runoff: `irv` vs `instant_runoff` (no tie-breaker: nominees level at the bottom
  are eliminated together, and nominees all level are all winners), on complete rankings
  (a `Profile`) and on truncated ones (a `ProfileWithTies`, whose ballots run out as ours do).

Where the methods disagree by design, the comparison is restricted, never bent:

- Our ranked, score and IRV tallies carry a tie-break chain the library does not have. So
  the library's tied set is compared with the nominees our tally puts level on the method's
  own figure (points, mean); our winner must be among them, and when the library names one
  winner ours is that one, with no tie-break used.
- Our IRV looks back at earlier rounds to choose among nominees level at the bottom; the
  library eliminates them all. A profile on which our look-back changed who was eliminated
  (or turned a final all-level tie into a winner) is skipped (`assume`), as the two rules
  legitimately differ there; every other profile, including those where nominees level at the
  bottom go together, is compared. The skipped share is small (hypothesis reports it with
  `--hypothesis-show-statistics`).
"""

from __future__ import annotations

import os
from collections import Counter

# pref_voting compiles its counting helpers with numba on first use: seconds of JIT to count
# profiles of a few dozen ballots, which interpreted take milliseconds. The switch is read when
# numba is first imported, so it comes before pref_voting; nothing else here uses numba.
os.environ.setdefault("NUMBA_DISABLE_JIT", "1")

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from pref_voting.grade_methods import approval, score_voting
from pref_voting.grade_profiles import GradeProfile
from pref_voting.iterative_methods import instant_runoff
from pref_voting.profiles import Profile
from pref_voting.profiles_with_ties import ProfileWithTies
from pref_voting.scoring_methods import borda, plurality, scoring_rule

from voting.tally import CategorySpec, CategoryVote, tally_category

JURY = {"jury": 100}
CHECKED = settings(max_examples=150, derandomize=True, database=None, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])


@st.composite
def elections(draw, complete: bool = True, min_ballots: int = 1, max_ballots: int = 30):
    """(nominee ids, rankings as lists of candidate indexes 0..n-1 best first).

    Nominee ids are arbitrary distinct numbers: candidate i of the library is ids[i] for us.
    """
    n = draw(st.integers(2, 6))
    ids = draw(st.lists(st.integers(1, 999), min_size=n, max_size=n, unique=True))
    ranking = st.permutations(range(n))
    if not complete:
        ranking = ranking.flatmap(
            lambda order: st.integers(1, n).map(lambda length: order[:length]))
    rankings = draw(st.lists(ranking.map(list), min_size=min_ballots, max_size=max_ballots))
    return ids, rankings


def grouped(marks: list) -> list[CategoryVote]:
    """Ballots marked alike as one vote with a count, as the database hands them over."""
    counted = Counter(tuple(m) if isinstance(m, list) else m for m in marks)
    return [CategoryVote("jury", list(m) if isinstance(m, tuple) else m, count)
            for m, count in counted.items()]


def lib_profile(rankings: list[list[int]]) -> Profile:
    counted = Counter(tuple(r) for r in rankings)
    return Profile([list(r) for r in counted], rcounts=list(counted.values()))


def ours(winners: list[int], ids: list[int]) -> set[int]:
    return {ids[c] for c in winners}


def top_of(result) -> set[int]:
    """The nominees level on the method's own figure at the top (before any tie-break)."""
    scores = [r.score for r in result.ranking if r.eligible and r.score is not None]
    if not scores:
        return set()
    best = max(scores)
    return {r.nominee_id for r in result.ranking if r.eligible and r.score == best}


def assert_same_winners(result, expected: set[int], chain: bool) -> None:
    """Our winner (or tied set) against the library's winners."""
    if not chain:  # no tie-break: the same set, as a winner or as a tie
        assert set(result.winners or result.tied) == expected
        assert result.tie == (len(expected) > 1)
        return
    assert top_of(result) == expected
    if len(expected) == 1:
        assert result.winners == sorted(expected) and result.decided_by is None
    elif result.winner is not None:
        assert result.winner in expected and result.decided_by is not None
    else:
        assert result.tie and set(result.tied) <= expected


# plurality, Borda, a points scheme ------------------------------------------------------


@given(elections())
@CHECKED
def test_tally_reference_plurality(election):
    ids, rankings = election
    spec = CategorySpec("p", "single", frozenset(ids), JURY)
    result = tally_category(spec, grouped([ids[r[0]] for r in rankings]))
    assert_same_winners(result, ours(plurality(lib_profile(rankings)), ids),
                        chain=False)


@given(elections())
@CHECKED
def test_tally_reference_borda(election):
    ids, rankings = election
    profile = lib_profile(rankings)
    spec = CategorySpec("b", "ranked", frozenset(ids), JURY)
    result = tally_category(spec, grouped([[ids[c] for c in r] for r in rankings]))
    library = profile.borda_scores()
    assert {r.nominee_id: r.score for r in result.ranking} == {
        ids[c]: points + len(rankings) for c, points in library.items()}
    assert_same_winners(result, ours(borda(profile), ids), chain=True)


@given(elections(), st.data())
@CHECKED
def test_tally_reference_points_scheme(election, data):
    ids, rankings = election
    n = len(ids)
    points = sorted(data.draw(st.lists(st.integers(0, 12), min_size=n, max_size=n)),
                    reverse=True)
    points[0] = max(points[0], 1)
    spec = CategorySpec("s", "ranked", frozenset(ids), JURY, places=n, points=points)
    result = tally_category(spec, grouped([[ids[c] for c in r] for r in rankings]))
    winners = scoring_rule(lib_profile(rankings),
                           score=lambda num_cands, rank: points[rank - 1])
    assert_same_winners(result, ours(winners, ids), chain=True)


# approval and score ---------------------------------------------------------------------


@st.composite
def approvals(draw):
    n = draw(st.integers(2, 6))
    ids = draw(st.lists(st.integers(1, 999), min_size=n, max_size=n, unique=True))
    ballots = draw(st.lists(st.sets(st.integers(0, n - 1)), min_size=1, max_size=30))
    return ids, ballots


@given(approvals())
@CHECKED
def test_tally_reference_approval(election):
    ids, ballots = election
    assume(any(ballots))  # nobody approving anyone: we report no ballots, it a full tie
    spec = CategorySpec("a", "approval", frozenset(ids), JURY)
    result = tally_category(spec, grouped([sorted(ids[c] for c in b) for b in ballots]))
    profile = GradeProfile([{c: 1 for c in b} for b in ballots], [0, 1],
                           candidates=list(range(len(ids))))
    assert_same_winners(result, ours(approval(profile), ids), chain=False)


@st.composite
def scorings(draw):
    n = draw(st.integers(2, 6))
    ids = draw(st.lists(st.integers(1, 999), min_size=n, max_size=n, unique=True))
    low = draw(st.integers(0, 2))
    high = low + draw(st.integers(1, 4))
    ballots = draw(st.lists(st.dictionaries(st.integers(0, n - 1), st.integers(low, high)),
                            min_size=1, max_size=30))
    return ids, low, high, ballots


@given(scorings())
@CHECKED
def test_tally_reference_score_mean(election):
    ids, low, high, ballots = election
    assume(any(ballots))  # nobody scored: no ballots for us, a full tie for the library
    spec = CategorySpec("m", "score", frozenset(ids), JURY, score_min=low, score_max=high)
    votes = [CategoryVote("jury", {ids[c]: s for c, s in b.items()}) for b in ballots]
    result = tally_category(spec, votes)
    profile = GradeProfile(ballots, list(range(low, high + 1)),
                           candidates=list(range(len(ids))))
    winners = score_voting(profile, evaluation_method="mean")
    assert_same_winners(result, ours(winners, ids), chain=True)


# instant runoff -------------------------------------------------------------------------


def tie_rules_agree(result) -> bool:
    """Whether the library's rule (all nominees level at the bottom go) would have made the
    same eliminations as ours (the look-back to earlier rounds) on this profile."""
    for round_ in result.rounds:
        lowest = min(round_.counts.values())
        level = {n for n, votes in round_.counts.items() if votes == lowest}
        if round_.eliminated and set(round_.eliminated) != level:
            return False
        if not round_.eliminated and result.tie and set(result.tied) != set(round_.counts):
            return False
    return True


def check_irv(ids, rankings, profile) -> None:
    spec = CategorySpec("i", "irv", frozenset(ids), JURY)
    result = tally_category(spec, grouped([[ids[c] for c in r] for r in rankings]))
    agree = tie_rules_agree(result)
    event("compared" if agree else "skipped: our look-back chose among the lowest")
    assume(agree)
    assert_same_winners(result, ours(instant_runoff(profile), ids), chain=False)


@given(elections(max_ballots=40))
@CHECKED
def test_tally_reference_irv_complete_rankings(election):
    ids, rankings = election
    check_irv(ids, rankings, lib_profile(rankings))


@given(elections(complete=False, max_ballots=40))
@CHECKED
def test_tally_reference_irv_truncated_rankings(election):
    ids, rankings = election
    counted = Counter(tuple(r) for r in rankings)
    profile = ProfileWithTies([{c: place for place, c in enumerate(r, start=1)}
                               for r in counted], rcounts=list(counted.values()),
                              candidates=list(range(len(ids))))
    check_irv(ids, rankings, profile)
