"""Wilson intervals against published values (Newcombe 1998, table I) and by coverage."""

from __future__ import annotations

import numpy as np
import pytest

from edgekit.errors import ConfigError
from edgekit.stats.proportion import wilson_estimate, wilson_interval


@pytest.mark.parametrize("k,n,lo,hi", [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
])
def test_newcombe_table_values(k: int, n: int, lo: float, hi: float) -> None:
    got = wilson_interval(k, n)
    assert got == pytest.approx((lo, hi), abs=5e-5)


def test_proportion_and_count_agree_and_ends_are_exact() -> None:
    assert wilson_interval(0.9312, 10_000) == pytest.approx(wilson_interval(9312, 10_000))
    assert wilson_interval(0, 50)[0] == 0.0
    assert wilson_interval(50, 50)[1] == 1.0
    est = wilson_estimate(93, 100, 0.99)
    assert est.value == 0.93 and est.lo < 0.93 < est.hi and est.method == "wilson"
    assert est.hi - est.lo > wilson_estimate(93, 100, 0.95).width


def test_coverage_near_nominal() -> None:
    rng = np.random.default_rng(3)
    p, n = 0.9, 500
    ks = rng.binomial(n, p, 4000)
    cov = np.mean([lo <= p <= hi for lo, hi in (wilson_interval(int(k), n) for k in ks)])
    assert 0.93 <= cov <= 0.97


@pytest.mark.parametrize("args,needle", [((101, 100), "outside 0..100"), ((1.5, 100), "outside [0, 1]"),
                                         ((5, 0), "sample count 0"), (("5", 10), "neither"),
                                         ((5, 10, 1.0), "level")])
def test_bad_input(args, needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        wilson_interval(*args)
    assert needle in str(err.value) and err.value.hint
