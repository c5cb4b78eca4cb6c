"""Statistics for measurements: intervals, noise-aware comparisons, compact samples.

Every latency carries a distribution-free interval of its median, every accuracy a
Wilson interval; speed-ups, the regression gate, frontiers and replicability decide
only on differences beyond those intervals. Pure numpy (and the standard library).

Modules:
    estimate        :class:`Estimate` (value + interval + method), level checks
    quantile_ci     order-statistic intervals of a median / quantile
    proportion      Wilson interval
    ratio           ratio of medians (bootstrap or order statistics), exact ratios
    relative_change relative change of a median, from samples or from summaries
    gate_rule       the regression rule as a pure decision
    paired          the change between paired, interleaved sessions (t and signed-rank intervals)
    noisy_pareto    frontiers and tie groups beyond noise
    stability       MLPerf Mobile's session replicability rule
    sample_codec    lossless ns-resolution sample encoding (bytes / base64)
"""

from edgekit.stats.estimate import Estimate
from edgekit.stats.gate_rule import (GateDecision, RegressionRule, judge_change, judge_paired, judge_samples,
                                     judge_summaries)
from edgekit.stats.noisy_pareto import (AxisValue, NoisyParetoResult, NoisyPoint, exact_pareto, noisy_dominates,
                                        noisy_pareto, tie_groups)
from edgekit.stats.paired import interleaved_pairs, paired_change, paired_ratio, signed_rank_change
from edgekit.stats.proportion import wilson_estimate, wilson_interval
from edgekit.stats.quantile_ci import median_ci, median_estimate, min_samples_for, order_statistic_ranks, quantile_ci
from edgekit.stats.ratio import exact_ratio, ratio_of_medians_ci
from edgekit.stats.relative_change import median_difference_ci, relative_change_from_summary
from edgekit.stats.sample_codec import decode_samples, encode_samples, samples_from_base64, samples_to_base64
from edgekit.stats.stability import StabilityVerdict, stability

__all__ = [
    "AxisValue", "Estimate", "GateDecision", "NoisyParetoResult", "NoisyPoint", "RegressionRule",
    "StabilityVerdict", "decode_samples", "encode_samples", "exact_pareto", "exact_ratio", "interleaved_pairs",
    "judge_change", "judge_paired", "judge_samples", "judge_summaries", "median_ci", "median_difference_ci",
    "median_estimate", "min_samples_for", "noisy_dominates", "noisy_pareto", "order_statistic_ranks",
    "paired_change", "paired_ratio", "quantile_ci", "ratio_of_medians_ci", "relative_change_from_summary",
    "samples_from_base64", "samples_to_base64", "signed_rank_change", "stability", "tie_groups",
    "wilson_estimate", "wilson_interval",
]
