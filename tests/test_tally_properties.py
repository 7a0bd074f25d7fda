"""The tally's invariants on generated ballot profiles (hypothesis): pure, no app, no database.

Every test is derandomized (the same examples on every run, so CI is reproducible) and keeps
no example database; the example counts keep the whole module to a few seconds. Small
nominee sets and short ballots make ties, abstentions and IRV eliminations common.

"Never hurts" is checked for Borda (and a points scheme), plurality, approval and score; not
for IRV, which is not monotonic (ranking a nominee first can change the elimination order
against it), nor for weighted approval, where a ballot that approves X and others shrinks
everyone's share of the group's approvals.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voting.tally import METHODS, CategorySpec, CategoryVote, canonical_json, tally_category

JURY = {"jury": 100}

# A settings object per test, not a loaded profile: loading one would change the defaults of
# every other module that uses hypothesis.
CHECKED = settings(max_examples=80, derandomize=True, database=None, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])
FEWER = settings(CHECKED, max_examples=40)

nominee_sets = st.lists(st.integers(1, 30), min_size=2, max_size=6, unique=True).map(tuple)


@st.composite
def groups_of(draw, method: str) -> dict[str, int]:
    if method == "irv" or not draw(st.booleans()):
        return dict(JURY)
    jury = draw(st.sampled_from([50, 60, 70, 90]))
    return {"jury": jury, "audience": 100 - jury}


@st.composite
def specs(draw, methods: tuple[str, ...] = METHODS, weighted: bool = True) -> CategorySpec:
    method = draw(st.sampled_from(methods))
    nominees = draw(nominee_sets)
    groups = draw(groups_of(method)) if weighted else dict(JURY)
    places = points = score_min = score_max = min_scores = max_choices = None
    if method in ("ranked", "irv"):
        places = draw(st.none() | st.integers(1, len(nominees)))
    if method == "ranked" and draw(st.booleans()):
        size = places or len(nominees)
        points = sorted(draw(st.lists(st.integers(0, 12), min_size=size, max_size=size)),
                        reverse=True)
        points[0] = max(points[0], 1)  # as the admin requires: first place scores
    if method == "score":
        score_min = draw(st.integers(-2, 1))
        score_max = score_min + draw(st.integers(1, 4))
        min_scores = draw(st.none() | st.integers(0, 3))
    if method == "approval":
        max_choices = draw(st.none() | st.integers(1, len(nominees)))
    return CategorySpec("c", method, frozenset(nominees), groups, places, points, score_min,
                        score_max, min_scores, max_choices)


def marks_for(spec: CategorySpec) -> st.SearchStrategy:
    """Marks a ballot may carry in the category; about one ballot in five abstains."""
    nominees = sorted(spec.nominees)
    ids = st.sampled_from(nominees)
    abstain = st.sampled_from([None, [], {}]) if spec.method == "score" else st.sampled_from(
        [None, []])
    if spec.method == "single":
        marked = ids
    elif spec.method == "score":
        marked = st.dictionaries(ids, st.integers(spec.score_min, spec.score_max), min_size=1)
    elif spec.method == "approval":
        marked = st.lists(ids, unique=True, min_size=1,
                          max_size=spec.max_choices or len(nominees))
    else:
        limit = spec.places or len(nominees)
        if spec.points is not None:
            limit = min(limit, len(spec.points))
        marked = st.lists(ids, unique=True, min_size=1, max_size=limit)
    return st.one_of(marked, marked, marked, marked, abstain)


@st.composite
def profiles(draw, methods: tuple[str, ...] = METHODS, weighted: bool = True,
             grouped: bool = False, max_size: int = 25) -> tuple[CategorySpec, list]:
    """A category and its ballots (with `grouped`, some votes stand for several ballots)."""
    spec = draw(specs(methods, weighted))
    counts = st.integers(1, 4) if grouped else st.just(1)
    vote = st.builds(CategoryVote, st.sampled_from(sorted(spec.groups)), marks_for(spec),
                     counts)
    return spec, draw(st.lists(vote, min_size=1, max_size=max_size))


def ranks_of(result):
    return {r.nominee_id: r.rank for r in result.ranking}


def scores_of(result):
    return {r.nominee_id: r.score for r in result.ranking}


# Order and determinism ------------------------------------------------------------------


@given(profiles(grouped=True), st.data())
@CHECKED
def test_tally_permuting_ballots_changes_nothing(profile, data):
    spec, ballots = profile
    expected = canonical_json(tally_category(spec, ballots))
    shuffled = data.draw(st.permutations(ballots))
    assert canonical_json(tally_category(spec, shuffled)) == expected


@given(profiles(methods=("irv",), max_size=40), st.data())
@CHECKED
def test_tally_permuting_irv_ballots_changes_nothing(profile, data):
    spec, ballots = profile
    expected = canonical_json(tally_category(spec, ballots))
    assert canonical_json(tally_category(spec, data.draw(st.permutations(ballots)))) == expected


@given(profiles(methods=("single", "ranked", "score", "approval"), grouped=True), st.data())
@CHECKED
def test_tally_permuting_weighted_ballots_changes_nothing(profile, data):
    spec, ballots = profile
    if len(spec.groups) == 1:
        spec = CategorySpec(spec.slug, spec.method, spec.nominees, {"jury": 70, "audience": 30},
                            spec.places, spec.points, spec.score_min, spec.score_max,
                            spec.min_scores, spec.max_choices)
        ballots = [CategoryVote("audience" if i % 3 == 0 else "jury", v.marks, v.count)
                   for i, v in enumerate(ballots)]
    expected = canonical_json(tally_category(spec, ballots))
    assert canonical_json(tally_category(spec, data.draw(st.permutations(ballots)))) == expected


@given(profiles())
@CHECKED
def test_tally_grouping_ballots_changes_nothing(profile):
    spec, ballots = profile
    # Two ballots marked alike as one vote with count 2, the rest as they are.
    doubled = [CategoryVote(v.group, v.marks, 2) for v in ballots]
    twice = [v for v in ballots for _ in range(2)]
    assert (canonical_json(tally_category(spec, doubled))
            == canonical_json(tally_category(spec, twice)))


@given(profiles(grouped=True))
@CHECKED
def test_tally_is_deterministic(profile):
    spec, ballots = profile
    first, second = tally_category(spec, ballots), tally_category(spec, list(ballots))
    assert canonical_json(first) == canonical_json(second)
    assert first.to_dict() == second.to_dict()


# Shape of the result --------------------------------------------------------------------


@given(profiles(grouped=True))
@CHECKED
def test_tally_ranks_are_competition_ranks(profile):
    spec, ballots = profile
    result = tally_category(spec, ballots)
    ranking = result.ranking
    assert sorted(r.nominee_id for r in ranking) == sorted(spec.nominees)
    assert ranking[0].rank == 1
    for position, (before, row) in enumerate(zip(ranking, ranking[1:], strict=False), start=1):
        # Equal to the one before (a tie), or one more than the nominees above it: 1, 1, 3.
        assert row.rank in (before.rank, position + 1)
        if row.rank == before.rank:
            assert row.score == before.score and row.eligible == before.eligible
            assert before.nominee_id < row.nominee_id  # listed by id within a tie
    if spec.method != "irv":
        eligible = [r.score for r in ranking if r.eligible and r.score is not None]
        assert eligible == sorted(eligible, reverse=True)
        # ineligible nominees come after every eligible one
        flags = [r.eligible for r in ranking]
        assert flags == sorted(flags, reverse=True)


@given(profiles(grouped=True))
@CHECKED
def test_tally_winner_is_the_top_ranked(profile):
    spec, ballots = profile
    result = tally_category(spec, ballots)
    first = {r.nominee_id for r in result.ranking if r.rank == 1}
    assert result.ballots + result.abstentions == sum(v.count for v in ballots)
    if result.winner is not None:
        assert result.winners == [result.winner] and not result.tie and not result.tied
        assert first == {result.winner} and result.ranking[0].nominee_id == result.winner
        assert result.ranking[0].eligible
    elif result.tie:
        assert result.winners == [] and len(result.tied) >= 2
        assert first == set(result.tied)
        assert result.tied == sorted(result.tied)
    else:  # nothing to decide: no ballots, or (score) no eligible nominee
        assert result.notes and result.notes[-1] in ("no ballots", "no eligible nominee")
    if result.margin is not None:
        assert result.margin >= 0
        if spec.method != "irv":
            # (IRV can win with a margin of 0 and no `decided_by`: three level at the bottom
            # of a round, two of them eliminated by the look-back, the third left alone.)
            assert result.margin > 0 or result.decided_by is not None


# Adding a ballot for X never hurts X ----------------------------------------------------


def _never_hurt(spec, ballots, favourite, extra):
    before = tally_category(spec, ballots)
    after = tally_category(spec, [*ballots, extra])
    assert ranks_of(after)[favourite] <= ranks_of(before)[favourite]
    if before.winner == favourite:
        assert after.winner == favourite
    if before.tie and favourite in before.tied:
        assert after.winner == favourite or (after.tie and favourite in after.tied)
    return before, after


@given(profiles(methods=("ranked",), weighted=False), st.data())
@CHECKED
def test_tally_ranking_x_first_never_hurts_x_under_borda(profile, data):
    spec, ballots = profile
    favourite = data.draw(st.sampled_from(sorted(spec.nominees)), label="favourite")
    limit = min(spec.places or len(spec.nominees), len(spec.points or spec.nominees))
    others = data.draw(st.lists(st.sampled_from(sorted(spec.nominees - {favourite})),
                                unique=True, max_size=limit - 1) if limit > 1
                       else st.just([]), label="rest of the ballot")
    before, after = _never_hurt(spec, ballots, favourite,
                                CategoryVote("jury", [favourite, *others]))
    gained = scores_of(after)[favourite] - scores_of(before)[favourite]
    first = (spec.points or [len(others) + 1])[0]
    assert gained == first
    if spec.points is None:  # default Borda: X gains strictly more than any other nominee
        for other in spec.nominees - {favourite}:
            assert scores_of(after)[other] - scores_of(before)[other] < gained


@given(profiles(methods=("single",)), st.data())
@CHECKED
def test_tally_a_vote_for_x_never_hurts_x_under_plurality(profile, data):
    spec, ballots = profile
    favourite = data.draw(st.sampled_from(sorted(spec.nominees)), label="favourite")
    group = data.draw(st.sampled_from(sorted(spec.groups)), label="group")
    before, after = _never_hurt(spec, ballots, favourite, CategoryVote(group, favourite))
    if len(spec.groups) == 1:
        assert scores_of(after)[favourite] == scores_of(before)[favourite] + 1
    else:
        # X's share in the group rises, unless X already had every vote there (share 1).
        share = next(g for g in before.groups if g.group == group).shares[favourite]
        assert scores_of(after)[favourite] > scores_of(before)[favourite] or share == 1
    if before.tie and favourite in before.tied and len(spec.groups) == 1:
        assert after.winner == favourite  # one more vote breaks a plurality tie


@given(profiles(methods=("approval",), weighted=False), st.data())
@CHECKED
def test_tally_approving_x_never_hurts_x_under_approval(profile, data):
    spec, ballots = profile
    favourite = data.draw(st.sampled_from(sorted(spec.nominees)), label="favourite")
    room = (spec.max_choices or len(spec.nominees)) - 1
    others = data.draw(st.lists(st.sampled_from(sorted(spec.nominees - {favourite})),
                                unique=True, max_size=room) if room > 0 else st.just([]),
                       label="also approved")
    before, after = _never_hurt(spec, ballots, favourite,
                                CategoryVote("jury", [favourite, *others]))
    assert scores_of(after)[favourite] == scores_of(before)[favourite] + 1


@given(profiles(methods=("score",), weighted=False), st.data())
@CHECKED
def test_tally_top_score_for_x_never_hurts_x_under_score(profile, data):
    spec, ballots = profile
    favourite = data.draw(st.sampled_from(sorted(spec.nominees)), label="favourite")
    before, after = _never_hurt(spec, ballots, favourite,
                                CategoryVote("jury", {favourite: spec.score_max}))
    was, now = scores_of(before)[favourite], scores_of(after)[favourite]
    assert now is not None and (was is None or now >= was)


@given(profiles(methods=("single", "approval"), weighted=False),
       st.sampled_from(["audience", "jury"]))
@FEWER
def test_tally_a_group_added_with_no_ballots_keeps_the_order(profile, added):
    # A second group that cast nothing contributes 0 to everyone: the ranking's order (and so
    # the winner) stays that of the group that voted, only rescaled. (Not so for ranked and
    # score, whose own tie-break chains give way to the groups' chain once weighted.)
    spec, ballots = profile
    alone = tally_category(spec, ballots)
    voted = "jury" if added == "audience" else "audience"
    groups = {voted: 60, added: 40}
    two = CategorySpec(spec.slug, spec.method, spec.nominees, groups, spec.places, spec.points,
                       spec.score_min, spec.score_max, spec.min_scores, spec.max_choices)
    weighted = tally_category(two, [CategoryVote(voted, v.marks, v.count) for v in ballots])
    assert [r.nominee_id for r in weighted.ranking] == [r.nominee_id for r in alone.ranking]
    assert ranks_of(weighted) == ranks_of(alone)
    assert (weighted.winner, weighted.tied) == (alone.winner, alone.tied)
