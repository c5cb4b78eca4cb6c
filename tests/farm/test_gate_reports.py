"""The regression gate, JUnit XML and the Markdown summary, on results documents."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from edgekit.errors import ConfigError
from edgekit.farm.gate import GateSettings, check
from edgekit.farm.junit import junit_xml, write_junit
from edgekit.farm.results import KIND, read_results, write_results
from edgekit.farm.summary import markdown_summary


def job(name: str, median: float, p10: float, p90: float, state: str = "done", quality=None, threads=1,
        error=None, target="pixel3"):
    lat = None if state != "done" else {"median_us": median, "p10_us": p10, "p90_us": p90, "mean_us": median,
                                        "std_us": 1.0, "min_us": p10, "cv": 0.02, "count": 50}
    return {"id": name, "name": f"{name} on {target}", "target": target, "device": f"{target}-a", "state": state,
            "attempts": 1, "error": error, "settings": {"threads": threads, "delegate": "cpu"},
            "latency": lat, "runner_seconds": 1.5, "quality": quality or {}}


def results(*jobs):
    return {"kind": KIND, "lab": "ci", "run": 4, "jobs": list(jobs), "counts": {}, "wall_seconds": 12.5}


def test_the_change_gets_an_interval_and_the_rule_decides_beyond_noise():
    s = GateSettings(margin_pct=0.05, confidence=0.95)
    # wide runs (50 samples, p10–p90 ±10 %): +8 % is within noise
    wide = check(results(job("a", 1080, 972, 1188)), results(job("a", 1000, 900, 1100)), s).verdicts[0]
    assert wide.status == "pass" and wide.change_pct == pytest.approx(8.0)
    lo, hi = wide.change_ci_pct
    assert lo < 5.0 < 8.0 < hi
    # tight runs with their median CIs: +8 % is beyond the 5 % margin
    tight = check(results({**job("a", 1080, 1070, 1090), "latency": {**job("a", 1080, 1070, 1090)["latency"],
                                                                    "median_ci_lo_us": 1078, "median_ci_hi_us": 1082,
                                                                    "count": 1000}}),
                  results({**job("a", 1000, 990, 1010), "latency": {**job("a", 1000, 990, 1010)["latency"],
                                                                   "median_ci_lo_us": 998, "median_ci_hi_us": 1002,
                                                                   "count": 1000}}), s).verdicts[0]
    assert tight.status == "regressed" and tight.method == "median CI"
    assert tight.change_ci_pct[0] > 5.0 and "CI" in tight.reason
    # more samples tighten the interval
    few = check(results(job("a", 1080, 972, 1188)), results(job("a", 1000, 900, 1100)), s).verdicts[0]
    many_new, many_base = job("a", 1080, 972, 1188), job("a", 1000, 900, 1100)
    many_new["latency"]["count"] = many_base["latency"]["count"] = 5000
    many = check(results(many_new), results(many_base), s).verdicts[0]
    assert (many.change_ci_pct[1] - many.change_ci_pct[0]) < (few.change_ci_pct[1] - few.change_ci_pct[0]) / 5


def test_verdicts_regressed_pass_quality_failed_new_missing():
    base = results(job("a", 1000, 900, 1100), job("b", 1000, 995, 1005, quality={"top1@d": 0.90}),
                   job("c", 1000, 995, 1005), job("gone", 500, 490, 510), job("t", 1000, 995, 1005, threads=2),
                   job("q", 1000, 995, 1005, quality={"top1@d": 0.90}))
    new = results(job("a", 1040, 940, 1140),                                  # +4 %, wide runs: noise
                  job("b", 1000, 995, 1005, quality={"top1@d": 0.88}),        # quality −0.02
                  job("c", 1100, 1095, 1105),                                 # +10 %, tight runs: slower
                  job("f", 0, 0, 0, state="failed", error="unreachable: board-a"),
                  job("new", 700, 690, 710),
                  job("t", 1000, 995, 1005, threads=4),                       # other threads: no baseline
                  job("q", 1000, 995, 1005))                                  # quality metric missing
    report = check(new, base, GateSettings())
    got = {v.name.split()[0]: v for v in report.verdicts}
    assert got["a"].status == "pass" and got["a"].change_pct == pytest.approx(4.0)
    assert got["b"].status == "quality-drop" and "top1@d dropped 0.9000 → 0.8800" in got["b"].reason
    assert got["c"].status == "regressed" and got["c"].delta_pct == pytest.approx(10.0)
    assert "+10.0%" in got["c"].reason and "> +5%" in got["c"].reason
    assert got["f"].status == "failed" and got["f"].reason == "unreachable: board-a"
    assert got["new"].status == "new" and got["t"].status == "new"
    assert got["q"].status == "quality-missing" and got["q"].failing
    assert report.missing == ("gone on pixel3", "t on pixel3")   # matched by name, threads, delegate
    assert not report.passed
    assert report.counts() == {"pass": 1, "quality-drop": 1, "regressed": 1, "failed": 1, "new": 2,
                               "quality-missing": 1}
    looser = check(new, base, GateSettings(margin_pct=0.15, max_quality_drop=0.05, missing="pass"))
    assert {v.name.split()[0] for v in looser.verdicts if v.failing} == {"f"}
    assert "exceeds +15%" in looser.settings.describe()
    # missing jobs alone fail the gate unless the setting says to report them only
    only_missing = check(results(job("a", 1000, 900, 1100)), results(job("a", 1000, 900, 1100), job("z", 1, 1, 1)))
    assert not only_missing.passed and only_missing.missing == ("z on pixel3",)
    assert check(results(job("a", 1000, 900, 1100)), results(job("a", 1000, 900, 1100), job("z", 1, 1, 1)),
                 GateSettings(missing="pass")).passed


def test_junit_has_a_case_per_job_and_failures_with_reasons(tmp_path):
    doc = results(job("a", 1000, 900, 1100), job("b", 0, 0, 0, state="failed", error="model too new", target="rpi4"))
    report = check(doc)
    root = ET.fromstring(junit_xml(doc, report).split("\n", 1)[1])
    assert (root.get("tests"), root.get("failures")) == ("2", "1")
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"pixel3", "rpi4"}
    (ok,) = suites["pixel3"].findall("testcase")
    assert ok.get("name") == "a on pixel3" and ok.find("failure") is None
    assert "median=1.0000 ms" in ok.find("system-out").text and "p90=1.1000 ms" in ok.find("system-out").text
    (bad,) = suites["rpi4"].findall("testcase")
    assert bad.find("failure").get("message") == "model too new" and bad.find("failure").get("type") == "failed"
    path = write_junit(tmp_path / "out" / "junit.xml", doc, report)
    assert ET.parse(path).getroot().get("tests") == "2"


def test_markdown_summary_lists_jobs_verdicts_and_the_rule():
    base = results(job("a", 1000, 995, 1005))
    doc = results(job("a", 1200, 1195, 1205), job("b", 0, 0, 0, state="failed", error="x | y"))
    text = markdown_summary(doc, check(doc, base, GateSettings(), "base.json"))
    assert "## edgekit lab `ci` — run 4" in text
    assert "❌ 2 failing" in text
    assert ("| ❌ | a on pixel3 | pixel3-a | 1.200 | 1.205 | 0.020 | 1.000 | +20.0% | +19.8% … +20.2% "
            "| cross-run (drift not controlled) | — |") in text
    assert "- **b on pixel3** (failed): x \\| y" in text
    assert "vs `base.json`" in text and "lower bound of the median's relative change exceeds +5%" in text


def test_results_files_round_trip_and_foreign_files_are_refused(tmp_path):
    doc = results(job("a", 1000, 900, 1100))
    path = write_results(tmp_path / "r.json", doc)
    assert read_results(path)["jobs"] == doc["jobs"]
    (tmp_path / "other.json").write_text('{"schema": 1, "kind": "edgekit.manifest"}')
    with pytest.raises(ConfigError, match="is not an edgekit lab results file"):
        read_results(tmp_path / "other.json", what="baseline")
