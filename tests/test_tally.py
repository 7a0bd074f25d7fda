"""The tally on hand-worked examples: pure, no app, no database."""

import json
import random
from fractions import Fraction

import pytest

from voting.tally import CategorySpec, CategoryVote, canonical_json, tally_category

JURY = {"jury": 100}


def votes(group, *marks_list, times=1):
    return [CategoryVote(group, marks) for marks in marks_list for _ in range(times)]


def scores_of(result):
    return {r.nominee_id: r.score for r in result.ranking}


def ranks_of(result):
    return {r.nominee_id: r.rank for r in result.ranking}


# single ----------------------------------------------------------------------------------


def test_tally_single_plurality_with_abstentions():
    spec = CategorySpec("fb", "single", frozenset({1, 2, 3, 4}), JURY)
    result = tally_category(spec, votes("jury", 1, 1, 2, 3, [1], 2, [], None))
    assert scores_of(result) == {1: 3, 2: 2, 3: 1, 4: 0}
    assert ranks_of(result) == {1: 1, 2: 2, 3: 3, 4: 4}
    assert (result.ballots, result.abstentions) == (6, 2)
    assert (result.winner, result.winners, result.tie, result.tied) == (1, [1], False, [])
    assert result.tie_breaks == [] and result.decided_by is None
    assert [r.nominee_id for r in result.ranking] == [1, 2, 3, 4]


def test_tally_single_tie_stays_a_tie():
    spec = CategorySpec("fb", "single", frozenset({1, 2, 3}), JURY)
    result = tally_category(spec, votes("jury", 1, 2, 1, 2, 3))
    assert result.tie and result.tied == [1, 2]
    assert result.winner is None and result.winners == []
    assert ranks_of(result) == {1: 1, 2: 1, 3: 3}


def test_tally_single_one_ballot():
    spec = CategorySpec("fb", "single", frozenset({1, 2}), JURY)
    result = tally_category(spec, votes("jury", 2))
    assert result.winner == 2 and result.ballots == 1


def test_tally_all_abstaining_has_no_winner():
    spec = CategorySpec("fb", "single", frozenset({1, 2}), JURY)
    result = tally_category(spec, votes("jury", [], None, {}))
    assert (result.ballots, result.abstentions) == (0, 3)
    assert result.winner is None and not result.tie and result.notes == ["no ballots"]
    assert ranks_of(result) == {1: 1, 2: 1}


# ranked ----------------------------------------------------------------------------------


def test_tally_ranked_with_a_points_scheme():
    scheme = [12, 10, 8, 7, 6, 5, 4, 3, 2, 1]
    spec = CategorySpec("tt", "ranked", frozenset({1, 2, 3, 4, 5}), JURY, points=scheme)
    result = tally_category(spec, votes("jury", [1, 2, 3], [2, 1, 4], [3, 2, 1, 5, 4]))
    # 1: 12+10+8, 2: 10+12+10, 3: 8+12, 4: 8+6, 5: 7
    assert scores_of(result) == {1: 30, 2: 32, 3: 20, 4: 14, 5: 7}
    assert result.winner == 2 and result.decided_by is None
    assert ranks_of(result) == {2: 1, 1: 2, 3: 3, 4: 4, 5: 5}
    assert result.tie_breaks[:3] == ["more first places", "more second places",
                                     "more third places"]
    assert len(result.tie_breaks) == 10
    assert {r.nominee_id: r.place_counts[:3] for r in result.ranking}[2] == (1, 2, 0)


def test_tally_ranked_borda_over_the_places_filled():
    spec = CategorySpec("tt", "ranked", frozenset({1, 2, 3, 4}), JURY, places=3)
    result = tally_category(spec, votes("jury", [1, 2, 3], [2, 1], [3], [2, 3, 1], []))
    # [1,2,3]: 3,2,1  [2,1]: 2,1  [3]: 1  [2,3,1]: 3,2,1
    assert scores_of(result) == {1: 5, 2: 7, 3: 4, 4: 0}
    assert result.winner == 2 and (result.ballots, result.abstentions) == (4, 1)
    assert result.tie_breaks == ["more first places", "more second places", "more third places"]


def test_tally_ranked_more_first_places_decides():
    spec = CategorySpec("tt", "ranked", frozenset({1, 2, 3}), JURY, places=2, points=[2, 1])
    result = tally_category(spec, votes("jury", [2, 1], [2, 1], [1, 3]))
    assert scores_of(result) == {1: 4, 2: 4, 3: 1}
    assert result.winner == 2 and result.decided_by == "more first places"
    assert ranks_of(result) == {2: 1, 1: 2, 3: 3}


def test_tally_ranked_more_second_places_decides():
    spec = CategorySpec("tt", "ranked", frozenset({1, 2, 3, 4}), JURY, places=3,
                        points=[2, 1, 1])
    result = tally_category(spec, votes("jury", [1, 2, 3], [2, 4, 1]))
    assert scores_of(result)[1] == scores_of(result)[2] == 3
    assert result.winner == 2 and result.decided_by == "more second places"


def test_tally_ranked_tie_survives_the_chain():
    spec = CategorySpec("tt", "ranked", frozenset({1, 2, 3}), JURY, places=2)
    result = tally_category(spec, votes("jury", [1, 2], [2, 1]))
    assert result.tie and result.tied == [1, 2] and result.decided_by is None
    assert ranks_of(result) == {1: 1, 2: 1, 3: 3}


# score -----------------------------------------------------------------------------------


def score_spec(**kw):
    return CategorySpec("sc", "score", frozenset({1, 2, 3}), JURY, score_min=1, score_max=10,
                        **kw)


def test_tally_score_mean_and_eligibility():
    result = tally_category(score_spec(min_scores=3), votes(
        "jury", {1: 8, 2: 9}, {1: 6, 2: 10, 3: 10}, {1: 7, 3: 10}, {1: 9}, {}))
    by_id = {r.nominee_id: r for r in result.ranking}
    assert by_id[1].score == Fraction(15, 2) and by_id[1].scores == 4 and by_id[1].eligible
    assert by_id[2].score == Fraction(19, 2) and not by_id[2].eligible
    assert by_id[2].note == "not eligible: 2 scores, needs 3"
    assert by_id[3].score == 10 and not by_id[3].eligible
    assert result.winner == 1
    assert [r.nominee_id for r in result.ranking] == [1, 3, 2]
    assert ranks_of(result) == {1: 1, 3: 2, 2: 3}
    assert (result.ballots, result.abstentions) == (4, 1)
    assert result.tie_breaks == ["more scores", "higher median"]


def test_tally_score_no_eligible_nominee():
    result = tally_category(score_spec(min_scores=5), votes("jury", {1: 8}, {2: 3}))
    assert result.winner is None and not result.tie
    assert result.notes == ["no eligible nominee"]


def test_tally_score_nominee_without_scores_comes_last():
    result = tally_category(score_spec(), votes("jury", {1: 1}, {2: 2}))
    assert [r.nominee_id for r in result.ranking] == [2, 1, 3]
    assert scores_of(result)[3] is None and result.to_dict()["ranking"][2]["score"] is None


def test_tally_score_more_scores_decides():
    result = tally_category(score_spec(), votes("jury", {1: 6, 2: 7}, {1: 8}))
    assert scores_of(result)[1] == scores_of(result)[2] == 7
    assert result.winner == 1 and result.decided_by == "more scores"


def test_tally_score_higher_median_decides():
    result = tally_category(score_spec(), votes("jury", {1: 1, 2: 2}, {1: 5, 2: 6},
                                                {1: 9, 2: 7}))
    assert scores_of(result)[1] == scores_of(result)[2] == 5
    assert result.winner == 2 and result.decided_by == "higher median"


def test_tally_score_tie_survives_the_chain():
    result = tally_category(score_spec(), votes("jury", {1: 4, 2: 6}, {1: 6, 2: 4}))
    assert result.tie and result.tied == [1, 2] and result.winner is None


def test_tally_score_recusal_reduces_the_number_of_scores():
    # A recused juror scores every nominee but one: that one has fewer scores behind it.
    result = tally_category(score_spec(min_scores=3), votes(
        "jury", {1: 9, 2: 5, 3: 5}, {1: 9, 2: 5, 3: 5}, {2: 5, 3: 5}))
    by_id = {r.nominee_id: r for r in result.ranking}
    assert by_id[1].scores == 2 and not by_id[1].eligible
    assert result.tie and result.tied == [2, 3]


# approval --------------------------------------------------------------------------------


def test_tally_approval():
    spec = CategorySpec("ap", "approval", frozenset({1, 2, 3}), JURY, max_choices=2)
    result = tally_category(spec, votes("jury", {1, 2}, {2}, [2, 3], [1], set()))
    assert scores_of(result) == {1: 2, 2: 3, 3: 1}
    assert result.winner == 2 and (result.ballots, result.abstentions) == (4, 1)


def test_tally_approval_tie():
    spec = CategorySpec("ap", "approval", frozenset({1, 2, 3}), JURY)
    result = tally_category(spec, votes("jury", [1, 2, 3], [1, 2]))
    assert result.tie and result.tied == [1, 2] and ranks_of(result) == {1: 1, 2: 1, 3: 3}


# irv -------------------------------------------------------------------------------------


def irv_spec(nominees):
    return CategorySpec("irv", "irv", frozenset(nominees), JURY)


def assert_rounds_add_up(result):
    for r in result.rounds:
        assert sum(r.counts.values()) + r.exhausted == result.ballots


def test_tally_irv_four_rounds_with_exhausted_ballots():
    ballots = (votes("jury", [1], times=9) + votes("jury", [2], times=8)
               + votes("jury", [3, 2], times=6) + votes("jury", [4, 3], times=4)
               + votes("jury", [5, 4], times=1) + votes("jury", [5], times=2)
               + votes("jury", []))
    result = tally_category(irv_spec({1, 2, 3, 4, 5}), ballots)
    assert (result.ballots, result.abstentions) == (30, 1)
    rounds = [(dict(r.counts), r.exhausted, r.eliminated) for r in result.rounds]
    assert rounds == [
        ({1: 9, 2: 8, 3: 6, 4: 4, 5: 3}, 0, (5,)),
        ({1: 9, 2: 8, 3: 6, 4: 5}, 2, (4,)),
        ({1: 9, 2: 8, 3: 10}, 3, (2,)),
        ({1: 9, 3: 10}, 11, ()),  # 10 of 19 continuing: the first majority
    ]
    assert result.winner == 3 and not result.tie and result.decided_by is None
    assert scores_of(result) == {3: 10, 1: 9, 2: 8, 4: 5, 5: 3}
    assert ranks_of(result) == {3: 1, 1: 2, 2: 3, 4: 4, 5: 5}
    assert all(r.eliminated_by is None for r in result.rounds)
    assert_rounds_add_up(result)


def test_tally_irv_majority_in_the_first_round():
    result = tally_category(irv_spec({1, 2, 3}), votes("jury", [1, 2], [1], [2], [3]))
    # 2 of 4 is not more than half; 2 and 3 (one vote each) go together, their ballots run out
    assert [dict(r.counts) for r in result.rounds] == [{1: 2, 2: 1, 3: 1}, {1: 2}]
    assert result.rounds[0].eliminated == (2, 3) and result.rounds[1].exhausted == 2
    assert result.winner == 1
    result = tally_category(irv_spec({1, 2, 3}), votes("jury", [1, 2], [1], [1], [3, 2]))
    assert result.winner == 1 and len(result.rounds) == 1
    assert ranks_of(result) == {1: 1, 3: 2, 2: 3}


def test_tally_irv_elimination_tie_broken_by_first_round():
    ballots = (votes("jury", [1], times=5) + votes("jury", [2, 3], times=3)
               + votes("jury", [3], times=4) + votes("jury", [4, 2]))
    result = tally_category(irv_spec({1, 2, 3, 4}), ballots)
    second = result.rounds[1]
    assert dict(second.counts) == {1: 5, 2: 4, 3: 4}
    assert second.eliminated == (2,) and second.eliminated_by == "fewer votes in round 1"
    assert dict(result.rounds[2].counts) == {1: 5, 3: 7} and result.rounds[2].exhausted == 1
    assert result.winner == 3
    assert_rounds_add_up(result)


def test_tally_irv_lowest_still_equal_go_together():
    ballots = (votes("jury", [1], times=5) + votes("jury", [4], times=4)
               + votes("jury", [2, 4]) + votes("jury", [3, 4]))
    result = tally_category(irv_spec({1, 2, 3, 4}), ballots)
    first = result.rounds[0]
    assert first.eliminated == (2, 3)
    assert first.eliminated_by == "eliminated together (still equal)"
    assert dict(result.rounds[1].counts) == {1: 5, 4: 6}
    assert result.winner == 4
    assert ranks_of(result) == {4: 1, 1: 2, 2: 3, 3: 3}
    assert_rounds_add_up(result)


def test_tally_irv_final_tie_is_reported():
    result = tally_category(irv_spec({1, 2, 3}), votes("jury", [1], [1], [2], [2]))
    assert result.rounds[0].eliminated == (3,)
    assert result.tie and result.tied == [1, 2] and result.winner is None
    assert result.winners == [] and ranks_of(result) == {1: 1, 2: 1, 3: 3}
    assert_rounds_add_up(result)


def test_tally_irv_level_final_decided_by_first_round_votes():
    ballots = (votes("jury", [1], times=4) + votes("jury", [2], times=3)
               + votes("jury", [3, 2]) + votes("jury", [3]))
    result = tally_category(irv_spec({1, 2, 3}), ballots)
    assert dict(result.rounds[1].counts) == {1: 4, 2: 4} and result.rounds[1].exhausted == 1
    assert result.rounds[1].eliminated == (2,)
    assert result.winner == 1 and result.decided_by == "fewer votes in round 1"
    assert_rounds_add_up(result)


def test_tally_irv_elimination_tie_broken_by_a_later_round():
    # 1 Ann, 2 Xavier, 3 Yvonne, 4 Zenon, 5 Wanda: Xavier and Yvonne are level in rounds 1
    # and 3, Xavier is ahead in round 2.
    ballots = (votes("jury", [1], times=6) + votes("jury", [2], times=3)
               + votes("jury", [3], times=3) + votes("jury", [4, 2]) + votes("jury", [5, 3])
               + votes("jury", [5]))
    result = tally_category(irv_spec({1, 2, 3, 4, 5}), ballots)
    assert [dict(r.counts) for r in result.rounds] == [
        {1: 6, 2: 3, 3: 3, 4: 1, 5: 2},
        {1: 6, 2: 4, 3: 3, 5: 2},
        {1: 6, 2: 4, 3: 4},
        {1: 6, 2: 4},
    ]
    assert [r.eliminated for r in result.rounds] == [(4,), (5,), (3,), ()]
    assert result.rounds[2].eliminated_by == "fewer votes in round 2"
    assert result.rounds[0].eliminated_by is None
    assert [r.exhausted for r in result.rounds] == [0, 0, 1, 5]
    assert result.winner == 1 and result.margin == 2
    assert_rounds_add_up(result)


def test_tally_irv_no_ballots():
    result = tally_category(irv_spec({1, 2}), votes("jury", []))
    assert result.winner is None and not result.tie and result.abstentions == 1
    assert_rounds_add_up(result)


def test_tally_irv_rounds_always_add_up_to_the_ballots():
    rng = random.Random(4)
    nominees = [1, 2, 3, 4, 5, 6]
    for _ in range(50):
        ballots = []
        for _ in range(rng.randrange(0, 40)):
            order = rng.sample(nominees, rng.randrange(0, 7))
            ballots.append(CategoryVote("jury", order))
        result = tally_category(irv_spec(nominees), ballots)
        assert_rounds_add_up(result)
        assert result.tie or result.winner is not None or result.ballots == 0
        eliminated = [n for r in result.rounds for n in r.eliminated]
        assert len(eliminated) == len(set(eliminated))
        assert result.winner not in eliminated


# several groups --------------------------------------------------------------------------

WEIGHTS = {"jury": 70, "audience": 30}


def test_tally_weighted_audience_favourite_loses_on_weights():
    spec = CategorySpec("w", "single", frozenset({1, 2}), WEIGHTS)
    ballots = (votes("jury", 1, times=8) + votes("jury", 2, times=2)
               + votes("audience", 1, times=20) + votes("audience", 2, times=80))
    result = tally_category(spec, ballots)
    # 1: 0.7 * 8/10 + 0.3 * 20/100 = 0.62   2: 0.7 * 2/10 + 0.3 * 80/100 = 0.38
    assert scores_of(result) == {1: Fraction(31, 50), 2: Fraction(19, 50)}
    assert result.winner == 1 and result.ballots == 110
    assert result.margin == Fraction(6, 25)
    jury, audience = result.groups
    assert (jury.group, jury.weight, audience.group, audience.weight) == (
        "jury", 70, "audience", 30)
    assert audience.result.winner == 2 and scores_of(audience.result) == {1: 20, 2: 80}
    assert audience.shares == {1: Fraction(1, 5), 2: Fraction(4, 5)}
    assert result.tie_breaks == ["higher share in jury (70%)", "higher share in audience (30%)"]
    data = result.to_dict()
    assert data["ranking"][0]["score"] == 0.62 and data["ranking"][0]["exact"] == "31/50"
    assert data["groups"][1]["result"]["winner"] == 2


def test_tally_weighted_group_without_ballots_contributes_nothing():
    spec = CategorySpec("w", "single", frozenset({1, 2}), WEIGHTS)
    result = tally_category(spec, votes("jury", 1, 1, 1, 2) + votes("audience", []))
    assert scores_of(result) == {1: Fraction(21, 40), 2: Fraction(7, 40)}
    assert result.notes == ["audience: no ballots, contributes 0"]
    assert result.groups[1].note == "audience: no ballots, contributes 0"
    assert (result.ballots, result.abstentions) == (4, 1)


def test_tally_weighted_higher_share_in_heavier_group_decides():
    spec = CategorySpec("w", "single", frozenset({1, 2}), {"jury": 60, "audience": 40})
    ballots = (votes("jury", 1, times=3) + votes("jury", 2, times=7)
               + votes("audience", 1, times=4) + votes("audience", 2))
    result = tally_category(spec, ballots)
    assert scores_of(result) == {1: Fraction(1, 2), 2: Fraction(1, 2)}
    assert result.winner == 2 and result.decided_by == "higher share in jury (60%)"


def test_tally_weighted_second_group_decides_when_the_first_is_level():
    # Two groups can never get here (equal totals and equal first shares force equal second
    # shares), three can.
    spec = CategorySpec("w", "single", frozenset({1, 2}),
                        {"jury": 50, "press": 25, "audience": 25})
    ballots = (votes("jury", 1, 2) + votes("audience", 1, 1, 1, 2)
               + votes("press", 1, 2, 2, 2))
    result = tally_category(spec, ballots)
    assert scores_of(result) == {1: Fraction(1, 2), 2: Fraction(1, 2)}
    assert result.tie_breaks == ["higher share in jury (50%)", "higher share in audience (25%)",
                                 "higher share in press (25%)"]
    assert result.winner == 1 and result.decided_by == "higher share in audience (25%)"
    assert result.margin == 0


def test_tally_weighted_tie_survives_the_chain():
    spec = CategorySpec("w", "approval", frozenset({1, 2}), {"jury": 50, "audience": 50})
    result = tally_category(spec, votes("jury", [1], [2]) + votes("audience", [1, 2]))
    assert result.tie and result.tied == [1, 2]
    assert result.tie_breaks == ["higher share in audience (50%)", "higher share in jury (50%)"]


def test_tally_weighted_score_rescales_means():
    spec = CategorySpec("w", "score", frozenset({1, 2}), WEIGHTS, score_min=0, score_max=10)
    ballots = (votes("jury", {1: 10, 2: 6}, {1: 8})
               + votes("audience", {1: 2, 2: 10}, {2: 10}))
    result = tally_category(spec, ballots)
    # 1: 0.7 * 0.9 + 0.3 * 0.2 = 0.69   2: 0.7 * 0.6 + 0.3 * 1 = 0.72
    assert scores_of(result) == {1: Fraction(69, 100), 2: Fraction(72, 100)}
    assert result.winner == 2


def test_tally_weighted_score_eligibility_counts_all_groups():
    spec = CategorySpec("w", "score", frozenset({1, 2}), WEIGHTS, score_min=0, score_max=10,
                        min_scores=3)
    ballots = votes("jury", {1: 10, 2: 1}, {1: 10, 2: 1}) + votes("audience", {2: 1})
    result = tally_category(spec, ballots)
    by_id = {r.nominee_id: r for r in result.ranking}
    assert not by_id[1].eligible and by_id[1].note == "not eligible: 2 scores, needs 3"
    assert result.winner == 2


def test_tally_weighted_ranked_normalises_points():
    spec = CategorySpec("w", "ranked", frozenset({1, 2}), WEIGHTS, places=2)
    result = tally_category(spec, votes("jury", [1, 2], [1, 2]) + votes("audience", [2, 1]))
    assert scores_of(result) == {1: Fraction(17, 30), 2: Fraction(13, 30)}
    assert result.winner == 1


# order, output, invalid input -----------------------------------------------------------

MIXED = [
    (CategorySpec("a", "single", frozenset({1, 2, 3}), WEIGHTS),
     lambda rng, n: rng.choice([1, 2, 3, []])),
    (CategorySpec("b", "ranked", frozenset(range(1, 7)), JURY, places=4),
     lambda rng, n: rng.sample(range(1, 7), rng.randrange(0, 5))),
    (CategorySpec("c", "score", frozenset({1, 2, 3}), WEIGHTS, score_min=1, score_max=5,
                  min_scores=5),
     lambda rng, n: {k: rng.randint(1, 5) for k in rng.sample([1, 2, 3], rng.randrange(4))}),
    (CategorySpec("d", "approval", frozenset({1, 2, 3, 4}), JURY),
     lambda rng, n: rng.sample([1, 2, 3, 4], rng.randrange(5))),
    (CategorySpec("e", "irv", frozenset({1, 2, 3, 4, 5}), JURY),
     lambda rng, n: rng.sample(range(1, 6), rng.randrange(6))),
]


@pytest.mark.parametrize(("spec", "make"), MIXED, ids=[s.method for s, _ in MIXED])
def test_tally_does_not_depend_on_ballot_order(spec, make):
    rng = random.Random(2026)
    groups = list(spec.groups)
    for size in (1, 5, 17, 60):
        ballots = [CategoryVote(rng.choice(groups), make(rng, size)) for _ in range(size)]
        expected = canonical_json(tally_category(spec, ballots))
        for _ in range(5):
            rng.shuffle(ballots)
            assert canonical_json(tally_category(spec, ballots)) == expected
        reordered = CategorySpec(spec.slug, spec.method, frozenset(sorted(spec.nominees,
                                                                          reverse=True)),
                                 dict(reversed(list(spec.groups.items()))), spec.places,
                                 spec.points, spec.score_min, spec.score_max, spec.min_scores,
                                 spec.max_choices)
        assert canonical_json(tally_category(reordered, ballots)) == expected


def test_tally_to_dict_has_the_fields_the_issue_names():
    spec = CategorySpec("fb", "single", frozenset({1, 2}), JURY)
    data = tally_category(spec, votes("jury", 1, 2, 2)).to_dict()
    assert {"slug", "method", "ballots", "ranking", "tie", "tied", "winner",
            "winners"} <= set(data)
    assert data["ranking"][0] == {"nominee_id": 2, "score": 2, "rank": 1, "eligible": True,
                                  "note": None, "exact": "2"}
    json.dumps(data)


def test_tally_canonical_json_is_exact_and_compact():
    spec = CategorySpec("w", "single", frozenset({1, 2}), WEIGHTS)
    result = tally_category(spec, votes("jury", 1, 1, 2) + votes("audience", 2))
    text = canonical_json(result)
    data = json.loads(text)
    assert [(r["nominee_id"], r["score"]) for r in data["ranking"]] == [
        (2, "8/15"), (1, "7/15")]  # 1: 0.7 * 2/3; 2: 0.7 * 1/3 + 0.3
    assert "exact" not in data["ranking"][0]
    assert text == json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def no_floats(value):
        if isinstance(value, dict):
            return all(no_floats(v) for v in value.values())
        if isinstance(value, list):
            return all(no_floats(v) for v in value)
        return not isinstance(value, float)

    assert no_floats(data)


@pytest.mark.parametrize("spec", [
    CategorySpec("x", "irv", frozenset({1, 2}), WEIGHTS),
    CategorySpec("x", "single", frozenset({1, 2}), {"jury": 60, "audience": 30}),
    CategorySpec("x", "single", frozenset({1, 2}), {"jury": 0, "audience": 100}),
    CategorySpec("x", "single", frozenset({1, 2}), {}),
    CategorySpec("x", "single", frozenset(), JURY),
    CategorySpec("x", "plurality", frozenset({1, 2}), JURY),
    CategorySpec("x", "score", frozenset({1, 2}), JURY, score_min=5, score_max=5),
    CategorySpec("x", "score", frozenset({1, 2}), JURY),
    CategorySpec("x", "ranked", frozenset({1, 2}), JURY, places=3, points=[3, 2]),
    CategorySpec("x", "ranked", frozenset({1, 2}), JURY, points=[]),
    CategorySpec("x", "ranked", frozenset({1, 2}), JURY, places=0),
])
def test_tally_invalid_spec_raises(spec):
    with pytest.raises(ValueError):
        tally_category(spec, [])


@pytest.mark.parametrize(("spec", "vote"), [
    (CategorySpec("x", "single", frozenset({1, 2}), JURY), CategoryVote("jury", 3)),
    (CategorySpec("x", "single", frozenset({1, 2}), JURY), CategoryVote("jury", [1, 2])),
    (CategorySpec("x", "single", frozenset({1, 2}), JURY), CategoryVote("audience", 1)),
    (CategorySpec("x", "single", frozenset({1, 2}), JURY), CategoryVote("jury", True)),
    (CategorySpec("x", "single", frozenset({1, 2}), JURY), CategoryVote("jury", 1.0)),
    (CategorySpec("x", "single", frozenset({1, 2}), JURY), CategoryVote("jury", "1")),
    (CategorySpec("x", "approval", frozenset({1, 2}), JURY), CategoryVote("jury", "12")),
    (CategorySpec("x", "ranked", frozenset({1, 2, 3}), JURY, places=2),
     CategoryVote("jury", [1, 2, 3])),
    (CategorySpec("x", "ranked", frozenset({1, 2}), JURY), CategoryVote("jury", [1, 1])),
    (CategorySpec("x", "ranked", frozenset({1, 2}), JURY), CategoryVote("jury", [1, 9])),
    (CategorySpec("x", "irv", frozenset({1, 2}), JURY), CategoryVote("jury", {1: 2})),
    (CategorySpec("x", "approval", frozenset({1, 2, 3}), JURY, max_choices=2),
     CategoryVote("jury", [1, 2, 3])),
    (CategorySpec("x", "score", frozenset({1, 2}), JURY, score_min=1, score_max=5),
     CategoryVote("jury", {1: 6})),
    (CategorySpec("x", "score", frozenset({1, 2}), JURY, score_min=1, score_max=5),
     CategoryVote("jury", {7: 3})),
    (CategorySpec("x", "score", frozenset({1, 2}), JURY, score_min=1, score_max=5),
     CategoryVote("jury", [1, 2])),
])
def test_tally_vote_it_does_not_allow_raises(spec, vote):
    with pytest.raises(ValueError):
        tally_category(spec, [vote])


def test_tally_borda_ballot_ranking_a_nominee_first_never_hurts_it():
    rng = random.Random(11)
    nominees = [1, 2, 3, 4, 5]
    spec = CategorySpec("tt", "ranked", frozenset(nominees), JURY, places=5)
    for _ in range(40):
        ballots = [CategoryVote("jury", rng.sample(nominees, rng.randrange(0, 6)))
                   for _ in range(rng.randrange(0, 12))]
        favourite = rng.choice(nominees)
        before = tally_category(spec, ballots)
        extra = [favourite, *rng.sample([n for n in nominees if n != favourite],
                                        rng.randrange(0, 5))]
        after = tally_category(spec, [*ballots, CategoryVote("jury", extra)])
        assert ranks_of(after)[favourite] <= ranks_of(before)[favourite] or before.ballots == 0
        assert scores_of(after)[favourite] > scores_of(before)[favourite]
        if before.winner == favourite:
            assert after.winner == favourite


def test_tally_single_nominee_category():
    spec = CategorySpec("solo", "approval", frozenset({7}), JURY)
    result = tally_category(spec, votes("jury", [7], []))
    assert result.winner == 7 and result.margin is None and result.to_dict()["margin"] is None


# hand-worked: all abstaining, one ballot, a nominee with no votes, recusals ---------------


def test_tally_ranked_all_abstaining_has_no_winner():
    spec = CategorySpec("tt", "ranked", frozenset({1, 2, 3}), JURY, places=3)
    result = tally_category(spec, votes("jury", [], None, []))
    # Nothing ranked: every nominee on 0 points and no place counted, all level at rank 1.
    assert (result.ballots, result.abstentions) == (0, 3)
    assert scores_of(result) == {1: 0, 2: 0, 3: 0} and ranks_of(result) == {1: 1, 2: 1, 3: 1}
    assert all(r.place_counts == (0, 0, 0) for r in result.ranking)
    assert result.winner is None and not result.tie and result.notes == ["no ballots"]


def test_tally_ranked_one_ballot():
    scheme = [12, 10, 8]
    spec = CategorySpec("tt", "ranked", frozenset({1, 2, 3, 4}), JURY, places=3, points=scheme)
    result = tally_category(spec, votes("jury", [3, 1]))
    # 3: 12 (first), 1: 10 (second), 2 and 4 unranked: 0 each, level at rank 3.
    assert scores_of(result) == {3: 12, 1: 10, 2: 0, 4: 0}
    assert ranks_of(result) == {3: 1, 1: 2, 2: 3, 4: 3}
    assert result.winner == 3 and result.margin == 2 and result.ballots == 1
    # With the default (Borda over the places filled) the same ballot fills two places: 2, 1.
    borda = CategorySpec("tt", "ranked", frozenset({1, 2, 3, 4}), JURY, places=3)
    assert scores_of(tally_category(borda, votes("jury", [3, 1]))) == {3: 2, 1: 1, 2: 0, 4: 0}


def test_tally_ranked_recusal_fills_fewer_places():
    # Three places, Borda over the places filled. The second juror is recused from nominee 1
    # and ranks only 2 and 3: that ballot fills two places, worth 2 and 1 (not 3 and 2), so a
    # recusal neither inflates the others' points nor costs the recused nominee anything but
    # the missing ballot.
    #   [1, 2, 3]: 1 -> 3, 2 -> 2, 3 -> 1          [2, 3]: 2 -> 2, 3 -> 1
    #   1: 3    2: 2 + 2 = 4    3: 1 + 1 = 2
    spec = CategorySpec("tt", "ranked", frozenset({1, 2, 3}), JURY, places=3)
    result = tally_category(spec, votes("jury", [1, 2, 3], [2, 3]))
    assert scores_of(result) == {1: 3, 2: 4, 3: 2}
    assert result.winner == 2 and result.decided_by is None
    by_id = {r.nominee_id: r for r in result.ranking}
    assert by_id[1].place_counts == (1, 0, 0) and by_id[2].place_counts == (1, 1, 0)


def test_tally_score_all_abstaining_has_no_winner():
    result = tally_category(score_spec(min_scores=1), votes("jury", {}, None))
    # No score at all: no mean, no median; with a minimum of one score nobody is eligible,
    # but the first thing said is that there were no ballots.
    assert (result.ballots, result.abstentions) == (0, 2)
    assert scores_of(result) == {1: None, 2: None, 3: None}
    assert all(r.scores == 0 and r.median is None and not r.eligible for r in result.ranking)
    assert result.ranking[0].note == "not eligible: 0 scores, needs 1"
    assert result.winner is None and not result.tie and result.notes == ["no ballots"]


def test_tally_score_one_ballot():
    result = tally_category(score_spec(), votes("jury", {2: 7, 3: 4}))
    # 2: mean 7 (one score, median 7), 3: mean 4, 1: never scored (no mean, ranked last).
    by_id = {r.nominee_id: r for r in result.ranking}
    assert (by_id[2].score, by_id[2].scores, by_id[2].median) == (7, 1, 7)
    assert by_id[1].score is None and by_id[1].scores == 0
    assert [r.nominee_id for r in result.ranking] == [2, 3, 1]
    assert result.winner == 2 and result.margin == 3
    # The same ballot with a minimum of two scores: nobody is eligible yet.
    result = tally_category(score_spec(min_scores=2), votes("jury", {2: 7, 3: 4}))
    assert result.winner is None and result.notes == ["no eligible nominee"]


def test_tally_score_recused_nominee_is_ineligible_and_says_so():
    # Three jurors, min_scores 3. Juror C is recused from nominee 1 and cannot score it:
    #   A {1: 9, 2: 6, 3: 4}   B {1: 8, 2: 7, 3: 5}   C {2: 8, 3: 6}
    #   1: (9 + 8) / 2 = 17/2 on 2 scores: highest mean, but not eligible (needs 3)
    #   2: (6 + 7 + 8) / 3 = 7 on 3 scores      3: (4 + 5 + 6) / 3 = 5 on 3 scores
    # so 2 wins by 7 - 5 = 2 over the next eligible nominee, and 1 is listed last.
    ballots = votes("jury", {1: 9, 2: 6, 3: 4}, {1: 8, 2: 7, 3: 5}, {2: 8, 3: 6})
    result = tally_category(score_spec(min_scores=3), ballots)
    by_id = {r.nominee_id: r for r in result.ranking}
    assert (by_id[1].score, by_id[1].scores, by_id[1].eligible) == (Fraction(17, 2), 2, False)
    assert by_id[1].note == "not eligible: 2 scores, needs 3"
    assert result.to_dict()["ranking"][2]["note"] == "not eligible: 2 scores, needs 3"
    assert (by_id[2].score, by_id[2].scores, by_id[2].median) == (7, 3, 7)
    assert (by_id[3].score, by_id[3].scores, by_id[3].median) == (5, 3, 5)
    assert [r.nominee_id for r in result.ranking] == [2, 3, 1]
    assert ranks_of(result) == {2: 1, 3: 2, 1: 3}
    assert result.winner == 2 and result.margin == 2
    # Without a minimum the recusal only shortens 1's mean, which still wins.
    assert tally_category(score_spec(), ballots).winner == 1


def test_tally_approval_all_abstaining_has_no_winner():
    spec = CategorySpec("ap", "approval", frozenset({1, 2, 3}), JURY)
    result = tally_category(spec, votes("jury", [], set(), None))
    assert (result.ballots, result.abstentions) == (0, 3)
    assert scores_of(result) == {1: 0, 2: 0, 3: 0}
    assert result.winner is None and not result.tie and result.notes == ["no ballots"]


def test_tally_approval_one_ballot_approving_two_is_a_tie():
    spec = CategorySpec("ap", "approval", frozenset({1, 2, 3}), JURY)
    result = tally_category(spec, votes("jury", [3, 2]))
    # 2: 1, 3: 1, 1: no approval. Approval has no tie-break: 2 and 3 are tied for first.
    assert scores_of(result) == {1: 0, 2: 1, 3: 1}
    assert ranks_of(result) == {2: 1, 3: 1, 1: 3}
    assert result.tie and result.tied == [2, 3] and result.winner is None
    assert result.tie_breaks == []


def test_tally_approval_recusal_and_a_nominee_nobody_approves():
    spec = CategorySpec("ap", "approval", frozenset({1, 2, 3, 4}), JURY, max_choices=2)
    # The third and fourth jurors are recused from 1 and approve 2 only; nobody approves 4.
    #   [1, 2] [1, 3] [2] [2]  ->  1: 2    2: 1 + 1 + 1 = 3    3: 1    4: 0
    result = tally_category(spec, votes("jury", [1, 2], [1, 3], [2], [2]))
    assert scores_of(result) == {1: 2, 2: 3, 3: 1, 4: 0}
    assert ranks_of(result) == {2: 1, 1: 2, 3: 3, 4: 4}
    assert result.winner == 2 and result.margin == 1


def test_tally_irv_one_ballot():
    result = tally_category(irv_spec({1, 2, 3}), votes("jury", [2, 1]))
    # Round 1: 2 has 1 of 1 continuing ballot, more than half: it wins at once.
    assert [dict(r.counts) for r in result.rounds] == [{1: 0, 2: 1, 3: 0}]
    assert result.winner == 2 and result.ballots == 1
    assert ranks_of(result) == {2: 1, 1: 2, 3: 2}  # neither eliminated, both on 0 votes
    assert_rounds_add_up(result)


def test_tally_irv_nominee_without_votes_goes_first():
    # Nobody ranks 4.
    #   round 1: 1: 3, 2: 2, 3: 1, 4: 0 of 6 -> 4 (0 votes) out
    #   round 2: 1: 3, 2: 2, 3: 1 of 6      -> 3 out, its one ballot runs out
    #   round 3: 1: 3, 2: 2 of 5 continuing -> 3 of 5 is a majority: 1 wins
    ballots = (votes("jury", [1], times=3) + votes("jury", [2, 1], times=2)
               + votes("jury", [3]))
    result = tally_category(irv_spec({1, 2, 3, 4}), ballots)
    assert [(dict(r.counts), r.exhausted, r.eliminated) for r in result.rounds] == [
        ({1: 3, 2: 2, 3: 1, 4: 0}, 0, (4,)),
        ({1: 3, 2: 2, 3: 1}, 0, (3,)),
        ({1: 3, 2: 2}, 1, ()),
    ]
    assert result.winner == 1 and ranks_of(result) == {1: 1, 2: 2, 3: 3, 4: 4}
    assert scores_of(result) == {1: 3, 2: 2, 3: 1, 4: 0}
    assert_rounds_add_up(result)


def test_tally_irv_all_abstaining_keeps_one_empty_round():
    result = tally_category(irv_spec({1, 2}), votes("jury", [], None, []))
    assert (result.ballots, result.abstentions) == (0, 3)
    assert [dict(r.counts) for r in result.rounds] == [{1: 0, 2: 0}]
    assert result.winner is None and not result.tie and result.notes == ["no ballots"]


def test_tally_weighted_all_abstaining_has_no_winner():
    spec = CategorySpec("w", "single", frozenset({1, 2}), WEIGHTS)
    result = tally_category(spec, votes("jury", []) + votes("audience", None))
    assert (result.ballots, result.abstentions) == (0, 2)
    assert result.notes == ["jury: no ballots, contributes 0",
                            "audience: no ballots, contributes 0", "no ballots"]
    assert result.winner is None and not result.tie


def test_tally_weighted_one_ballot():
    spec = CategorySpec("w", "ranked", frozenset({1, 2, 3}), WEIGHTS, places=2)
    result = tally_category(spec, votes("jury", [2, 3]))
    # Jury: 2 -> 2 points, 3 -> 1 of 3 points: shares 2/3 and 1/3; audience: no ballots.
    #   2: 0.7 * 2/3 = 7/15    3: 0.7 * 1/3 = 7/30    1: 0
    assert scores_of(result) == {2: Fraction(7, 15), 3: Fraction(7, 30), 1: 0}
    assert result.winner == 2 and result.notes == ["audience: no ballots, contributes 0"]


# grouped votes: count=k is k ballots --------------------------------------------------------

GROUPED = [
    *MIXED,
    (CategorySpec("f", "ranked", frozenset(range(1, 6)), WEIGHTS, places=3,
                  points=[5, 3, 1]),
     lambda rng, n: rng.sample(range(1, 6), rng.randrange(0, 4))),
    (CategorySpec("g", "approval", frozenset({1, 2, 3, 4}), {"jury": 50, "audience": 50},
                  max_choices=2),
     lambda rng, n: rng.sample([1, 2, 3, 4], rng.randrange(3))),
    (CategorySpec("h", "score", frozenset({1, 2, 3}), JURY, score_min=0, score_max=3,
                  min_scores=2),
     lambda rng, n: {k: rng.randint(0, 3) for k in rng.sample([1, 2, 3], rng.randrange(4))}),
]


def _grouped(ballots):
    """The ballots as the database hands them over: one vote per distinct marking, counted."""
    def key(vote):
        marks = vote.marks
        if isinstance(marks, dict):
            return (vote.group, "d", tuple(sorted(marks.items())))
        return (vote.group, "l", tuple(marks) if isinstance(marks, list) else marks)

    counted: dict = {}
    for vote in ballots:
        entry = counted.setdefault(key(vote), [vote.marks, 0])
        entry[1] += 1
    return [CategoryVote(group, marks, count) for (group, _, _), (marks, count)
            in counted.items()]


@pytest.mark.parametrize(("spec", "make"), GROUPED,
                         ids=[f"{s.method}-{len(s.groups)}" for s, _ in GROUPED])
def test_tally_grouped_votes_equal_separate_ballots(spec, make):
    rng = random.Random(7)
    groups = list(spec.groups)
    for size in (1, 6, 40, 150):
        ballots = [CategoryVote(rng.choice(groups), make(rng, size)) for _ in range(size)]
        grouped = _grouped(ballots)
        assert sum(v.count for v in grouped) == size
        if size >= 40:
            assert any(v.count > 1 for v in grouped)  # the check means something
        expected = canonical_json(tally_category(spec, ballots))
        assert canonical_json(tally_category(spec, grouped)) == expected
        rng.shuffle(grouped)
        assert canonical_json(tally_category(spec, grouped)) == expected


@pytest.mark.parametrize("method", ["single", "ranked", "score", "approval", "irv"])
def test_tally_grouped_vote_counts_as_that_many_ballots(method):
    spec = CategorySpec("x", method, frozenset({1, 2, 3}), JURY, places=3, score_min=1,
                        score_max=5)
    marks = {1: 4, 2: 5} if method == "score" else [2, 1]
    if method == "single":
        marks = [2]
    for count in (1, 2, 5):
        separate = [CategoryVote("jury", marks)] * count + [CategoryVote("jury", None)] * 2
        grouped = [CategoryVote("jury", marks, count), CategoryVote("jury", None, 2)]
        assert (canonical_json(tally_category(spec, grouped))
                == canonical_json(tally_category(spec, separate)))
        assert tally_category(spec, grouped).ballots == count


@pytest.mark.parametrize("count", [0, -1, 1.0, 2.5, True, False, "2", None])
@pytest.mark.parametrize("marks", [[1], None])
def test_tally_vote_count_must_be_a_whole_number_of_ballots(count, marks):
    spec = CategorySpec("x", "approval", frozenset({1, 2}), JURY)
    with pytest.raises(ValueError, match="whole number of ballots"):
        tally_category(spec, [CategoryVote("jury", [2]), CategoryVote("jury", marks, count)])


def test_irv_a_look_back_that_leaves_one_nominee_decides_and_says_so():
    """[1]x3, [2]x2, [3]x2, [4,2], [5,3]: round 1 is 1:3 2:2 3:2 4:1 5:1, so 4 and 5 go
    (equal, and equal in round 1: together). Round 2 is 1:3 2:3 3:3, all level; looking back
    at round 1, 2 and 3 had fewer votes than 1, so both go and 1 wins with a margin of 0."""
    spec = CategorySpec("urzad", "irv", frozenset({1, 2, 3, 4, 5}), {"jury": 100}, places=2)
    ballots = [[1]] * 3 + [[2]] * 2 + [[3]] * 2 + [[4, 2], [5, 3]]
    result = tally_category(spec, [CategoryVote("jury", b) for b in ballots])
    assert result.winner == 1 and not result.tie
    assert result.rounds[1].eliminated == (2, 3)
    assert result.rounds[1].eliminated_by == (
        "fewer votes in round 1, then eliminated together (still equal)")
    assert result.decided_by == result.rounds[1].eliminated_by
