"""The relative change between two models measured in paired, interleaved sessions.

When a candidate B and its baseline A are measured in the same run, in alternating
sessions on the same device (A B B A A B …), session ``i`` of each forms a pair that ran
minutes — not hours — apart, so a drift of the shared machine (another tenant, the
governor, the temperature) moves both medians of the pair alike. The change is judged from
the per-pair log ratios ``d_i = log(median(B_i) / median(A_i))``:

    estimate  exp(mean d) − 1          (the geometric mean of the pairs' ratios, − 1)
    interval  exp(mean d ± t_{n−1} · sd(d) / √n) − 1

a Student t interval with ``n − 1`` degrees of freedom. Why t and not a distribution-free
interval: a pair's ratio is a ratio of two medians of hundreds of samples each, so ``d_i``
is close to normal (the median is asymptotically normal, and so is its log); what varies
between pairs is what the drift left uncancelled plus the two medians' own sampling error,
and the t interval sees both, without a model of either. A sign-test interval of the
median of ``d`` needs every pair to agree at n = 5 (its only 90 %+ interval is
``[min d, max d]``, level 93.75 %): it would call almost nothing. A single slow session
inflates ``sd(d)`` and widens the t interval — the gate then says "not shown" rather than
raising a false alarm. ``tests/stats/test_paired.py`` checks the coverage on simulated
drifting sessions; ``benchmarks/gate_power.py`` measures the gate on this host.

Pure standard library: the t quantile comes from the closed-form t distribution function
for integer degrees of freedom (Abramowitz & Stegun 26.7.3–4) and bisection.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence

from edgekit.errors import ConfigError
from edgekit.stats.estimate import Estimate, check_level


def t_cdf(t: float, df: int) -> float:
    """``P(T ≤ t)`` for Student's t with ``df`` (a whole number ≥ 1) degrees of freedom."""
    if isinstance(df, bool) or not isinstance(df, int) or df < 1:
        raise ConfigError(f"degrees of freedom {df!r} is not a whole number ≥ 1", hint="pass n − 1 for n ≥ 2 pairs")
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    theta = math.atan(abs(t) / math.sqrt(df))
    s, c = math.sin(theta), math.cos(theta)
    if df % 2 == 1:               # A(t|ν) = 2/π [θ + sinθ cosθ (1 + 2/3 cos²θ + … )]
        term, total = 1.0, 1.0 if df > 1 else 0.0
        for k in range(1, (df - 3) // 2 + 1):
            term *= (2 * k) / (2 * k + 1) * c * c
            total += term
        a = 2.0 / math.pi * (theta + s * c * total)
    else:                          # A(t|ν) = sinθ [1 + 1/2 cos²θ + 1·3/(2·4) cos⁴θ + … ]
        term, total = 1.0, 1.0
        for k in range(1, (df - 2) // 2 + 1):
            term *= (2 * k - 1) / (2 * k) * c * c
            total += term
        a = s * total
    a = min(max(a, 0.0), 1.0)     # P(|T| ≤ |t|)
    return 0.5 + a / 2.0 if t >= 0 else 0.5 - a / 2.0


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (bisection on :func:`t_cdf`)."""
    if not 0.0 < p < 1.0:
        raise ConfigError(f"probability {p!r} is not between 0 and 1 (exclusive)", hint="e.g. 0.975")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
        if hi > 1e12:
            return math.inf
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * max(1.0, hi):
            break
    return (lo + hi) / 2.0


def paired_change(candidate: Sequence[float], baseline: Sequence[float], level: float = 0.90) -> Estimate:
    """``candidate / baseline − 1`` from paired session medians, with a ``level`` t interval.

    Args:
        candidate, baseline: session medians (µs), ``candidate[i]`` paired with ``baseline[i]``
            (measured next to each other in one run).
        level: two-sided confidence level (0.90 gives the one-sided 95 % bounds).

    Returns:
        An :class:`Estimate` whose ``method`` is ``"paired t, N interleaved sessions"``, or
        :meth:`Estimate.unknown` with fewer than 2 pairs.

    Raises:
        ConfigError: the lists differ in length, or a median is not a positive number.
    """
    level = check_level(level)
    if len(candidate) != len(baseline):
        raise ConfigError(f"paired sessions differ in number: {len(candidate)} candidate vs "
                          f"{len(baseline)} baseline", hint="pair each candidate session with one baseline session")
    for name, values in (("candidate", candidate), ("baseline", baseline)):
        for v in values:
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v <= 0:
                raise ConfigError(f"{name} session median {v!r} is not a positive number",
                                  hint="pass each session's median latency (µs)")
    d = [math.log(c / b) for c, b in zip(candidate, baseline)]
    n = len(d)
    method = f"paired t, {n} interleaved sessions"
    if n < 2:
        value = math.expm1(d[0]) if d else None
        return Estimate.unknown(f"{n} paired session(s); a paired interval needs at least 2", value, level)
    mean = math.fsum(d) / n
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in d) / (n - 1))
    half = t_quantile(0.5 + level / 2.0, n - 1) * sd / math.sqrt(n)
    return Estimate(math.expm1(mean), math.expm1(mean - half), math.expm1(mean + half), level, method)


def signed_rank_change(candidate: Sequence[float], baseline: Sequence[float], level: float = 0.90) -> Estimate:
    """The distribution-free alternative to :func:`paired_change`: the Hodges–Lehmann estimate
    (median of the Walsh averages ``(d_i + d_j) / 2``) of the log ratio, with the exact
    Wilcoxon signed-rank interval (order statistics of the Walsh averages; its coverage is
    at least ``level``, which needs ``2^-n ≤ (1 − level)/2``: n ≥ 5 at 0.90). It assumes only
    that ``d`` is symmetric about the true change, so one wild pair moves it less than the
    t interval; it is coarser at few pairs.
    """
    level = check_level(level)
    base = paired_change(candidate, baseline, level)            # the same checks and messages
    n = len(candidate)
    method = f"paired signed-rank, {n} interleaved sessions"
    if not base.known:
        return Estimate.unknown(base.method.removeprefix("unknown: "), base.value, level)
    d = [math.log(c / b) for c, b in zip(candidate, baseline)]
    walsh = sorted((d[i] + d[j]) / 2.0 for i in range(n) for j in range(i, n))
    m = len(walsh)
    counts = [1] + [0] * m                                      # null distribution of W+ (ranks 1..n)
    for r in range(1, n + 1):
        for total in range(m, r - 1, -1):
            counts[total] += counts[total - r]
    alpha, cdf, k = (1.0 - level) / 2.0, 0.0, 0
    for t in range(m + 1):                                       # largest k with P(W+ ≤ k − 1) ≤ alpha
        cdf += counts[t] / 2.0 ** n
        if cdf > alpha + 1e-12:
            break
        k = t + 1
    hl = walsh[m // 2] if m % 2 else (walsh[m // 2 - 1] + walsh[m // 2]) / 2.0
    if k == 0:
        return Estimate(math.expm1(hl), -1.0, math.inf, level, method + " (too few pairs to bound)")
    return Estimate(math.expm1(hl), math.expm1(walsh[k - 1]), math.expm1(walsh[m - k]), level, method)


def session_pairs(candidate: Sequence[Mapping[str, Any]],
                  baseline: Sequence[Mapping[str, Any]]) -> tuple[list[float], list[float]]:
    """Paired session medians from two measurements' ``sessions`` lists.

    Sessions carry ``pair`` (their pair number) when an interleaved run wrote them; they
    are matched on it, else by position. Sessions without a median are left out, with
    their partner.
    """
    def keyed(sessions: Sequence[Mapping[str, Any]]) -> dict[Any, Optional[float]]:
        return {s.get("pair", i): s.get("median_us") for i, s in enumerate(sessions)}

    c, b = keyed(candidate), keyed(baseline)
    pairs = [(c[k], b[k]) for k in c if k in b and c[k] and b[k]]
    return [float(x) for x, _ in pairs], [float(y) for _, y in pairs]


def interleaved_pairs(a: Sequence[Mapping[str, Any]],
                      b: Sequence[Mapping[str, Any]]) -> Optional[tuple[list[float], list[float]]]:
    """Paired session medians of two measurements *if* they were measured interleaved, else None.

    Interleaved means: the same number (≥ 2) of sessions, every one with a median and its
    times, and round ``i`` of both (session ``i`` of each, by ``pair`` or by start time)
    finished before round ``i + 1`` of either started — as ``edgekit deploy --repeat N``
    (A B A B …) and lab A/B jobs (A B B A …) measure. Sessions run back to back per model, or
    in two separate runs, are not paired.
    """
    if len(a) != len(b) or len(a) < 2:
        return None
    rounds: list[list[Mapping[str, Any]]] = []
    for sessions in (a, b):
        if not all(isinstance(s.get("median_us"), (int, float)) and s["median_us"] > 0
                   and isinstance(s.get("started_at"), (int, float)) and isinstance(s.get("finished_at"), (int, float))
                   for s in sessions):
            return None
        keyed = all(isinstance(s.get("pair"), int) for s in sessions)
        rounds.append(sorted(sessions, key=lambda s: s["pair"] if keyed else s["started_at"]))
    ra, rb = rounds
    for i in range(len(ra) - 1):
        if max(ra[i]["finished_at"], rb[i]["finished_at"]) > min(ra[i + 1]["started_at"], rb[i + 1]["started_at"]):
            return None
    return [float(s["median_us"]) for s in ra], [float(s["median_us"]) for s in rb]


def paired_ratio(numerator: Sequence[float], denominator: Sequence[float], level: float = 0.95) -> Estimate:
    """``numerator / denominator`` (e.g. a speed-up: float median over int8 median) from paired
    session medians: :func:`paired_change` shifted by +1."""
    c = paired_change(numerator, denominator, level)
    if not c.known:
        return Estimate.unknown(c.method.removeprefix("unknown: "), None if c.value is None else c.value + 1.0,
                                c.level)
    return Estimate(c.value + 1.0, c.lo + 1.0, c.hi + 1.0, c.level, c.method)  # type: ignore[operator]


__all__ = ["interleaved_pairs", "paired_change", "paired_ratio", "session_pairs", "signed_rank_change", "t_cdf",
           "t_quantile"]
