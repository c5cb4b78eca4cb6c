"""The regression gate: compare a lab run's results with a baseline results file.

A job *regresses* when its median latency got slower beyond noise: from the two runs'
medians and their distribution-free 95 % intervals (every sample is used to make them),
the relative change ``median_new / median_base − 1`` gets a confidence interval on the log
scale (Price–Bonett, :mod:`edgekit.stats.relative_change`), and::

    regressed  iff  lower bound of the one-sided 95 % interval of the change  >  margin (5 %)

So a true change of at most ``margin`` is called a regression at most 5 % of the time, and
more samples tighten the interval (``benchmarks/gate_power.py`` measures the false-alarm
rate and the detection rate of a 10 % slowdown on this host). The rule and, per job, the
interval of the change are printed with the results.

Aggregate-only runs (``benchmark_model`` keeps no per-run samples, see :mod:`edgekit.latency`)
are judged with what the tool printed — the run count and p5/p95 or the standard deviation
give an approximate interval of the median — and the reason says so. When a job cannot be
judged — no count or spread printed, or a mean compared with a median — its verdict is
``cannot-judge``, which fails the gate unless the lab says ``[lab] gate_aggregate_only =
"pass"`` (or ``edgekit lab gate --aggregate-only pass``): never a crash, never a silent pass.

A job also fails the gate when a quality record of its artifact (same metric as in the
baseline) dropped by more than ``max_quality_drop`` (absolute, default 0.01 = one point of
top-1) or is missing from the new run, and when the job itself failed. Baseline jobs that
the new run does not have fail the gate too (``missing = "pass"`` only reports them).

Jobs are matched by name (``model[variant] on target``), thread count and delegate.

**In-run baselines (A/B jobs).** The rule above compares two runs minutes or hours apart.
On a shared machine whole runs drift (A/A changes of −11 … +23 % between runs on the
2-core CI host) and within-run intervals cannot see that, so the cross-run comparison's
false-alarm rate is *not* controlled against run-to-run drift — the gate says so. A lab
job with a ``baseline`` key measures candidate and baseline in the same job, in
interleaved sessions (:mod:`edgekit.farm.interleave`); such a job is judged from the
paired session medians (:func:`edgekit.stats.paired.paired_change`, a t interval on
``log(candidate_i / baseline_i)``) by :func:`edgekit.stats.gate_rule.judge_paired`:
regressed iff the one-sided 95 % lower bound of the change is above 0 and the estimate
above the margin (``paired_rule = "significant"``, the default, chosen with
``benchmarks/gate_power.py``; ``"bound"``: lower bound above the margin). Its quality is
compared with the in-run baseline's; no baseline file is needed. Each verdict names the
rule it used (``rule``: "paired, N interleaved sessions" or "cross-run").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional

from ..stats.gate_rule import RegressionRule, judge_change, judge_paired
from ..stats.paired import paired_change, session_pairs, signed_rank_change
from ..stats.relative_change import relative_change_from_summary

#: verdicts that fail the gate ("cannot-judge" fails unless GateSettings.aggregate_only is "pass")
FAILING = ("failed", "regressed", "quality-drop", "quality-missing", "unfinished")
#: what an unjudgeable aggregate-only job does to the gate
AGGREGATE_ONLY_CHOICES = ("fail", "pass")
#: how an A/B job's paired sessions give the change's interval
PAIRED_METHODS = ("t", "signed-rank")


@dataclass(frozen=True)
class GateSettings:
    """How much worse than the baseline a job may be, and how sure the gate must be."""

    margin_pct: float = 0.05            # the change tolerated (relative, on the median)
    confidence: float = 0.95            # one-sided confidence of the bound compared with the margin
    max_quality_drop: float = 0.01
    aggregate_only: str = "fail"
    missing: str = "fail"               # baseline jobs or quality metrics the new run lacks: fail | pass
    paired_rule: str = "significant"    # A/B jobs: significant (lower bound > 0, estimate > margin) | bound
    paired_method: str = "t"            # A/B jobs' interval: t | signed-rank (edgekit.stats.paired)

    def __post_init__(self) -> None:
        self.rule  # noqa: B018 - checks paired_rule (and the margin and confidence) now, not at the first job
        if self.paired_method not in PAIRED_METHODS:
            from ..errors import ConfigError

            raise ConfigError(f"paired method {self.paired_method!r} is not valid",
                              hint=f"one of: {', '.join(PAIRED_METHODS)}")

    @property
    def rule(self) -> RegressionRule:
        return RegressionRule(min_relative_margin=self.margin_pct, confidence=self.confidence,
                              paired_rule=self.paired_rule)  # type: ignore[arg-type]

    def describe(self) -> str:
        """The rule in words, printed with the results."""
        return (f"regression when the {self.confidence:.0%} lower bound of the median's relative change "
                f"exceeds +{self.margin_pct:.0%} (intervals from each run's samples; aggregate-only runs: "
                f"approximated from the count and p5–p95 or std as printed); quality drop > "
                f"{self.max_quality_drop:g}; cannot judge → {self.aggregate_only}; missing jobs or quality "
                f"→ {self.missing}; cross-run comparisons do not control false alarms against run-to-run "
                f"drift; jobs with an in-run baseline: {self.describe_paired()}")

    def describe_paired(self) -> str:
        """The rule of jobs with an in-run baseline, naming the interval used."""
        text = self.rule.describe_paired()
        return text.replace("t interval", "Wilcoxon signed-rank interval") if self.paired_method != "t" else text


@dataclass(frozen=True)
class Verdict:
    """The gate's verdict on one job."""

    name: str
    status: str                          # pass | new | regressed | quality-drop | failed | unfinished | cannot-judge
    median_us: Optional[float] = None
    baseline_us: Optional[float] = None
    margin_us: Optional[float] = None
    reason: str = ""
    fails: Optional[bool] = None         # set for "cannot-judge" (the lab's gate_aggregate_only decides)
    #: the median's relative change with its interval, in % ([lo, hi] at the rule's two-sided level)
    change_pct: Optional[float] = None
    change_ci_pct: Optional[tuple[float, float]] = None
    method: str = ""
    #: which comparison judged the job: "paired, N interleaved sessions" | "cross-run" | ""
    rule: str = ""

    @property
    def failing(self) -> bool:
        return self.fails if self.fails is not None else self.status in FAILING

    @property
    def delta_pct(self) -> Optional[float]:
        if self.median_us is None or not self.baseline_us:
            return None
        return (self.median_us - self.baseline_us) / self.baseline_us * 100.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "delta_pct": self.delta_pct}


@dataclass(frozen=True)
class GateReport:
    """Every job's verdict, and the baseline jobs this run did not have."""

    settings: GateSettings
    verdicts: tuple[Verdict, ...]
    missing: tuple[str, ...] = ()
    baseline: Optional[str] = None

    @property
    def passed(self) -> bool:
        return not any(v.failing for v in self.verdicts) and not (self.missing and self.settings.missing != "pass")

    def verdict(self, name: str) -> Optional[Verdict]:
        return next((v for v in self.verdicts if v.name == name), None)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for v in self.verdicts:
            out[v.status] = out.get(v.status, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.settings.describe(), "settings": asdict(self.settings), "baseline": self.baseline,
                "passed": self.passed, "counts": self.counts(), "missing": list(self.missing),
                "verdicts": [v.to_dict() for v in self.verdicts]}


def centre(latency: dict[str, Any]) -> tuple[float, str]:
    """The latency that is compared, and which statistic it is (median, else the printed mean)."""
    if latency.get("median_us") is not None:
        return float(latency["median_us"]), "median"
    return float(latency["mean_us"]), "mean"


def _match_key(job: dict[str, Any]) -> tuple[str, int, str]:
    s = job.get("settings") or {}
    return (job["name"], int(s.get("threads", 1)), str(s.get("delegate", "cpu")))


def check(results: dict[str, Any], baseline: Optional[dict[str, Any]] = None,
          settings: GateSettings = GateSettings(), baseline_name: Optional[str] = None) -> GateReport:
    """Judge every job of ``results`` (against ``baseline`` when given)."""
    base_jobs = {_match_key(j): j for j in (baseline or {}).get("jobs", []) if j.get("state") == "done"}
    verdicts: list[Verdict] = []
    seen: set[tuple[str, int, str]] = set()
    for job in results.get("jobs", []):
        key = _match_key(job)
        seen.add(key)
        in_run = job.get("baseline")
        verdicts.append(_not_measured(job) or (_judge_paired(job, in_run, settings) if isinstance(in_run, dict)
                                               else _judge(job, base_jobs.get(key), settings)))
    missing = tuple(k[0] for k in base_jobs if k not in seen)
    return GateReport(settings, tuple(verdicts), missing, baseline_name)


def _not_measured(job: dict[str, Any]) -> Optional[Verdict]:
    """The verdict of a job that failed or has no latency yet; None for a measured one."""
    if job.get("state") == "failed":
        return Verdict(job["name"], "failed", reason=job.get("error") or "failed")
    if job.get("state") != "done" or not job.get("latency"):
        return Verdict(job["name"], "unfinished", reason=f"not measured (state {job.get('state')})")
    return None


def _judge(job: dict[str, Any], base: Optional[dict[str, Any]], settings: GateSettings) -> Verdict:
    name, lat = job["name"], job["latency"]   # a measured job (see _not_measured)
    median, stat = centre(lat)
    if base is None or not base.get("latency"):
        return Verdict(name, "new" if base is None else "pass", median_us=median,
                       reason="no baseline for this job" if base is None else "")
    blat = base["latency"]
    bmed, bstat = centre(blat)
    problems, status = _quality(job, base, settings)
    change = relative_change_from_summary(_summary(blat), _summary(lat), level=settings.rule.level)
    if stat != bstat or not change.known:
        why = f"a {stat} against a baseline {bstat}" if stat != bstat else change.method.replace("unknown: ", "")
        reason = f"cannot judge: aggregate-only ({why}); gate_aggregate_only = {settings.aggregate_only!r}"
        return Verdict(name, "cannot-judge" if status == "pass" else status, median_us=median, baseline_us=bmed,
                       fails=None if status != "pass" else settings.aggregate_only != "pass",
                       reason="; ".join([reason, *problems]), method=change.method)
    decision = judge_change(change, settings.rule)
    ci = (change.lo * 100.0, change.hi * 100.0)  # type: ignore[operator]
    where = (f"{stat} {median / 1000:.4g} ms vs baseline {bmed / 1000:.4g} ms: {change.value * 100:+.1f}% "
             f"({settings.rule.level:.0%} CI {ci[0]:+.1f}% … {ci[1]:+.1f}%)")
    if decision.state == "regressed":
        status = "regressed"
        problems.insert(0, f"{where} > +{settings.margin_pct:.0%}" + _interval_note(change.method, lat, blat))
    return Verdict(name, status, median_us=median, baseline_us=bmed, margin_us=settings.margin_pct * bmed,
                   reason="; ".join(problems) or where, change_pct=change.value * 100.0, change_ci_pct=ci,
                   method=change.method, rule=CROSS_RUN)


#: the rule name of a comparison with a baseline results file
CROSS_RUN = "cross-run (drift not controlled)"


def _judge_paired(job: dict[str, Any], base: dict[str, Any], settings: GateSettings) -> Verdict:
    """An A/B job: the candidate against its in-run baseline, from the paired sessions."""
    name, lat = job["name"], job["latency"]   # a measured job (see _not_measured)
    median, _ = centre(lat)
    bmed = centre(base["latency"])[0] if base.get("latency") else None
    problems, status = _quality(job, base, settings)
    cand, ref = session_pairs(job.get("sessions") or [], base.get("sessions") or [])
    interval = signed_rank_change if settings.paired_method == "signed-rank" else paired_change
    change = interval(cand, ref, settings.rule.level)
    rule = f"paired, {len(cand)} interleaved sessions" \
        + (", inference by inference" if base.get("interleaved") == "inference" else "") \
        + (" (signed-rank)" if settings.paired_method != "t" else "")
    decision = judge_paired(change, settings.rule)
    if decision.state == "cannot-judge":
        return Verdict(name, "cannot-judge" if status == "pass" else status, median_us=median, baseline_us=bmed,
                       fails=True, reason="; ".join([f"cannot judge: {decision.reason}", *problems]),
                       method=change.method, rule=rule)
    ci = (change.lo * 100.0, change.hi * 100.0)  # type: ignore[operator]
    where = (f"{len(cand)} paired sessions vs in-run baseline {base.get('name')}: {change.value * 100:+.1f}% "
             f"({settings.rule.level:.0%} CI {ci[0]:+.1f}% … {ci[1]:+.1f}%)")
    if decision.state == "regressed":
        status = "regressed"
        problems.insert(0, f"{where}: slower beyond +{settings.margin_pct:.0%}")
    return Verdict(name, status, median_us=median, baseline_us=bmed,
                   margin_us=settings.margin_pct * bmed if bmed else None, reason="; ".join(problems) or where,
                   change_pct=change.value * 100.0, change_ci_pct=ci,  # type: ignore[operator]
                   method=change.method, rule=rule)


def _summary(latency: dict[str, Any]) -> dict[str, Any]:
    """What the relative-change interval reads from a results file's ``latency`` entry."""
    spread = latency.get("spread")
    return {"median": latency.get("median_us"), "count": latency.get("count"),
            "median_ci_lo": latency.get("median_ci_lo_us"), "median_ci_hi": latency.get("median_ci_hi_us"),
            "p10": latency.get("p10_us"), "p90": latency.get("p90_us"),
            "p5": latency.get("low_us") if spread == "p5-p95" else None,
            "p95": latency.get("high_us") if spread == "p5-p95" else None,
            "std": latency.get("std_us") if latency.get("aggregate_only") else None}


def _quality(job: dict[str, Any], base: dict[str, Any], settings: GateSettings) -> tuple[list[str], str]:
    problems: list[str] = []
    status = "pass"
    for metric, old in (base.get("quality") or {}).items():
        new = (job.get("quality") or {}).get(metric)
        if new is None:
            if settings.missing != "pass":
                status = "quality-missing"
            problems.append(f"{metric} is missing in this run (baseline {old:.4f})")
        elif old - new > settings.max_quality_drop:
            status = "quality-drop"
            problems.append(f"{metric} dropped {old:.4f} → {new:.4f} (more than {settings.max_quality_drop:g})")
    return problems, status


def _interval_note(method: str, lat: dict[str, Any], blat: dict[str, Any]) -> str:
    if method == "median CI":
        return ""
    if lat.get("aggregate_only") or blat.get("aggregate_only"):
        return f"; interval approximated from the {method} (aggregate-only: as the tool printed it)"
    return f"; interval approximated from the {method} (the results file has no median CI)"
