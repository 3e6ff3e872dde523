"""The trailing sums the loop's metrics are made of (``observed._trailing_sum``) equal numpy's
sum over the days, for a school's few units and the district's many."""

from __future__ import annotations

import numpy as np
import pytest

from schoolmode.sim.observed import _trailing_sum


@pytest.mark.parametrize("units", [1, 10, 999, 1000, 15_000])
def test_trailing_sums_equal_the_sum_over_the_days(units: int) -> None:
    rng = np.random.default_rng(units)
    values = rng.integers(0, 4, (units, 30))
    for lo, hi in ((0, 0), (0, 13), (5, 29), (29, 29), (16, 29)):
        got = _trailing_sum(values, lo, hi)
        assert np.array_equal(got, values[:, lo : hi + 1].sum(axis=1)), (lo, hi)
        assert got.dtype == np.int64
    values[:, 3] = 7  # the sum is a copy: the counts are left as they were
    _trailing_sum(values, 3, 5)
    assert (values[:, 3] == 7).all()
