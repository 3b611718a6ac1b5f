"""`town eval` statistics: the seeded bootstrap, the paired A/B difference, verdict wording, Bradley-Terry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from town.app.eval.stats import Estimate, bootstrap_ci, bradley_terry, paired_difference, rate_conditions, verdict


def test_bootstrap_interval_brackets_the_mean_and_is_reproducible():
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    e = bootstrap_ci(values, seed=1)
    assert e.mean == 3.0 and e.n == 5
    assert 1.0 <= e.lo < 3.0 < e.hi <= 5.0
    assert bootstrap_ci(values, seed=1) == e  # same seed, same report
    wide = bootstrap_ci([0.0, 10.0, 0.0, 10.0, 5.0], seed=1)
    assert wide.hi - wide.lo > e.hi - e.lo  # more spread, wider interval


def test_bootstrap_drops_missing_values_and_needs_two_for_an_interval():
    assert bootstrap_ci([2.0, None, math.nan, 4.0]).mean == 3.0
    assert bootstrap_ci([7.0]) == Estimate(7.0, None, None, 1)
    assert bootstrap_ci([None]) == Estimate(None, None, None, 0)
    assert bootstrap_ci([3.0, 3.0, 3.0]) == Estimate(3.0, 3.0, 3.0, 3)


def test_paired_difference_is_b_minus_a_seed_by_seed():
    a, b = [1.0, 10.0, 100.0], [2.0, 11.0, 101.0]
    d = paired_difference(a, b)
    assert (d.mean, d.lo, d.hi) == (1.0, 1.0, 1.0)  # pairing removes the seed-to-seed spread
    assert paired_difference([1.0, None, 3.0], [2.0, 5.0, 5.0]).n == 2  # a seed missing on one side is left out
    with pytest.raises(ValueError, match="same seeds"):
        paired_difference([1.0], [1.0, 2.0])


def test_verdict_wording():
    assert verdict("spread", Estimate(0.8, 0.2, 1.4, 5)) == "B is better on information spread: +0.80 agents [0.20, 1.40]"
    assert verdict("spread", Estimate(-0.8, -1.4, -0.2, 5)) == "B is worse on information spread: -0.80 agents [-1.40, -0.20]"
    assert verdict("lines_per_conversation", Estimate(0.1, -0.3, 0.5, 5)) == \
        "no detectable change in conversation length (+0.10 lines [-0.30, 0.50])"
    # lower is better for hallucination; shares read in percentage points
    assert verdict("hallucination_rate", Estimate(-0.25, -0.4, -0.1, 5)) == \
        "B is better on interview claims not backed by memory: -25.0 points [-40.0, -10.0]"
    assert verdict("spread.party", Estimate(1.0, 1.0, 1.0, 3)).startswith("B is better on information spread of 'party'")
    assert "one seed only" in verdict("spread", Estimate(1.0, None, None, 1))
    assert "not measured" in verdict("spread", Estimate(None, None, None, 0))


def test_bradley_terry_two_players_recovers_the_win_odds():
    s = bradley_terry(np.array([[0, 3], [1, 0]]), prior=0.0)
    assert s[0] - s[1] == pytest.approx(math.log(3), rel=1e-6)
    assert s.sum() == pytest.approx(0.0, abs=1e-9)


def test_bradley_terry_orders_a_transitive_tournament_and_ties_even_ones():
    wins = np.array([[0, 8, 9], [2, 0, 8], [1, 2, 0]])
    s = bradley_terry(wins)
    assert s[0] > s[1] > s[2]
    even = bradley_terry(np.array([[0, 5, 5], [5, 0, 5], [5, 5, 0]]))
    assert np.allclose(even, 0.0)
    unbeaten = bradley_terry(np.array([[0, 4], [0, 0]]))  # the prior keeps it finite
    assert np.isfinite(unbeaten).all() and unbeaten[0] > unbeaten[1]


def test_rate_conditions_gives_intervals_that_separate_a_clear_ordering():
    comps = [("full", "none")] * 18 + [("none", "full")] * 2 + [("full", "half")] * 12 + [("half", "full")] * 8 \
        + [("half", "none")] * 15 + [("none", "half")] * 5
    r = rate_conditions(comps, ["full", "half", "none"], seed=3, resamples=300)
    assert r["full"].mean > r["half"].mean > r["none"].mean
    assert r["full"].lo > r["none"].hi  # clearly apart
    assert all(e.lo <= e.mean <= e.hi and e.n == 60 for e in r.values())
    assert rate_conditions(comps, ["full", "half", "none"], seed=3, resamples=300) == r
