"""The gate on A/B jobs: results documents whose jobs carry an in-run baseline with sessions."""

from __future__ import annotations

import pytest

from edgekit.farm.gate import CROSS_RUN, GateSettings, check
from edgekit.farm.results import KIND


def sessions(medians):
    return [{"median_us": m, "count": 200, "pair": i} for i, m in enumerate(medians)]


def ab_job(name, cand, base, quality=None, base_quality=None, state="done", error=None):
    lat = {"median_us": sorted(cand)[len(cand) // 2], "p10_us": min(cand), "p90_us": max(cand), "count": 1000,
           "cv": 0.03, "mean_us": sum(cand) / len(cand)}
    blat = {"median_us": sorted(base)[len(base) // 2], "p10_us": min(base), "p90_us": max(base), "count": 1000,
            "cv": 0.03, "mean_us": sum(base) / len(base)}
    return {"id": name, "name": f"{name}[fp32] on host", "target": "host", "device": "host", "state": state,
            "error": error, "settings": {"threads": 1, "delegate": "cpu", "repeat": len(cand)},
            "latency": lat if state == "done" else None, "sessions": sessions(cand), "quality": quality or {},
            "baseline": {"name": "old", "variant": "fp32", "artifact_sha256": "b" * 64, "measurement_id": "m",
                         "latency": blat, "sessions": sessions(base), "quality": base_quality or {}}}


def results(*jobs):
    return {"kind": KIND, "lab": "ci", "run": 1, "jobs": list(jobs), "counts": {}}


# a drifting machine: the pairs move together by ±15 %
DRIFT = [1.00, 1.15, 0.88, 1.05, 0.95]


def test_paired_sessions_see_a_change_through_drift_without_a_baseline_file():
    base = [1000 * d for d in DRIFT]
    slower = [1000 * d * f for d, f in zip(DRIFT, (1.11, 1.08, 1.10, 1.09, 1.12))]
    same = [1000 * d * f for d, f in zip(DRIFT, (1.01, 0.98, 1.00, 1.02, 0.99))]
    report = check(results(ab_job("slow", slower, base), ab_job("same", same, base)), None, GateSettings())
    slow, flat = report.verdicts
    assert slow.status == "regressed" and flat.status == "pass"
    assert slow.rule == flat.rule == "paired, 5 interleaved sessions"
    assert slow.change_pct == pytest.approx(10.0, abs=0.2) and 0 < slow.change_ci_pct[0] < 10 < slow.change_ci_pct[1]
    assert "in-run baseline old" in slow.reason and "slower beyond +5%" in slow.reason
    assert flat.change_ci_pct[0] < 0 < flat.change_ci_pct[1]
    assert not report.passed and report.missing == ()
    # the cross-run numbers of the same data (pooled medians, ±15 % drift) would say nothing useful
    assert "in-run baseline" in report.settings.describe() and "not control" in report.settings.describe()


def test_paired_rule_choice_and_margin():
    base = [1000 * d for d in DRIFT]
    mid = [1000 * d * f for d, f in zip(DRIFT, (1.09, 1.05, 1.07, 1.06, 1.08))]   # +7 %, lower bound ≈ +5.4 %
    job = ab_job("mid", mid, base)
    assert check(results(job), None, GateSettings()).verdicts[0].status == "regressed"
    assert check(results(job), None, GateSettings(margin_pct=0.08)).verdicts[0].status == "pass"
    bound = check(results(job), None, GateSettings(paired_rule="bound", margin_pct=0.06)).verdicts[0]
    assert bound.status == "pass" and bound.change_ci_pct[0] < 6.0


def test_quality_is_compared_with_the_in_run_baseline_and_failures_still_fail():
    base = [1000 * d for d in DRIFT]
    q = ab_job("q", base, base, quality={"top1@d": 0.85}, base_quality={"top1@d": 0.90})
    gone = ab_job("gone", base, base, quality={}, base_quality={"top1@d": 0.90})
    failed = ab_job("f", base, base, state="failed", error="runtime incompatible")
    queued = ab_job("u", base, base, state="queued")
    report = check(results(q, gone, failed, queued), None, GateSettings())
    assert [v.status for v in report.verdicts] == ["quality-drop", "quality-missing", "failed", "unfinished"]
    assert all(v.failing for v in report.verdicts)
    assert "dropped 0.9000 → 0.8500" in report.verdicts[0].reason


def test_one_session_cannot_be_judged_and_fails():
    v = check(results(ab_job("one", [1100.0], [1000.0])), None, GateSettings()).verdicts[0]
    assert v.status == "cannot-judge" and v.failing and "at least 2" in v.reason
    assert v.rule == "paired, 1 interleaved sessions"


def test_mixed_results_keep_the_cross_run_rule_for_jobs_without_an_in_run_baseline():
    base = [1000 * d for d in DRIFT]
    plain = {"id": "p", "name": "p[fp32] on host", "state": "done", "settings": {"threads": 1, "delegate": "cpu"},
             "latency": {"median_us": 1000.0, "median_ci_lo_us": 998.0, "median_ci_hi_us": 1002.0, "count": 1000},
             "quality": {}}
    old = {**plain, "latency": {**plain["latency"], "median_us": 1200.0, "median_ci_lo_us": 1198.0,
                                "median_ci_hi_us": 1202.0}}
    report = check(results(ab_job("ab", base, base), plain), results(old), GateSettings(), "old.json")
    ab, cross = report.verdicts
    assert ab.rule.startswith("paired") and ab.status == "pass"
    assert cross.rule == CROSS_RUN and cross.status == "pass" and cross.change_pct == pytest.approx(-16.67, abs=0.01)
    assert report.to_dict()["verdicts"][0]["rule"] == "paired, 5 interleaved sessions"


def test_junit_and_markdown_name_each_jobs_rule():
    import xml.etree.ElementTree as ET

    from edgekit.farm.junit import junit_xml
    from edgekit.farm.summary import markdown_summary

    base = [1000 * d for d in DRIFT]
    doc = results(ab_job("slow", [b * 1.1 for b in base], base))
    report = check(doc, None, GateSettings())
    rule = report.verdicts[0].rule
    assert rule == "paired, 5 interleaved sessions"
    case = ET.fromstring(junit_xml(doc, report).split("\n", 1)[1]).find("testsuite/testcase")
    assert case.find("properties/property").attrib == {"name": "edgekit.gate.rule", "value": rule}
    assert f"rule='{rule}'" in case.find("system-out").text
    assert f"| {rule} |" in markdown_summary(doc, report)
