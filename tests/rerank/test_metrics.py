"""Baselines and the gap closed, on hand-computed cases."""

from __future__ import annotations

import pytest

from rerank.report.baselines import baselines, bootstrap_interval, gap_closed


def test_baselines_are_first_mean_and_max():
    """first is the first label, Random@N the mean label, Oracle@N the best, averaged."""
    base = baselines([[1, 0, 0, 0], [0, 0, 1, 1], [0, 0, 0, 0]])
    assert base.items == 3
    assert base.first == pytest.approx(1 / 3)
    assert base.random_at_n == pytest.approx((0.25 + 0.5 + 0) / 3)
    assert base.oracle_at_n == pytest.approx(2 / 3)


def test_gap_closed_is_zero_at_random_and_one_at_oracle():
    """Selecting at the random rate closes none of the gap; at the oracle rate, all of it."""
    base = baselines([[1, 0], [0, 0], [1, 1]])
    assert gap_closed(base.random_at_n, base) == pytest.approx(0.0)
    assert gap_closed(base.oracle_at_n, base) == pytest.approx(1.0)
    assert gap_closed(0.5, baselines([[1, 1]])) is None  # no gap to close


def test_bootstrap_interval_brackets_the_mean_and_narrows_with_data():
    """The interval contains the sample mean and shrinks as items are added."""
    small = bootstrap_interval([0, 1] * 10, seed=1)
    large = bootstrap_interval([0, 1] * 1000, seed=1)
    assert small[0] < 0.5 < small[1]
    assert large[1] - large[0] < small[1] - small[0]
