"""JUnit XML for CI: one test case per model × target, failures with the reason.

Test suites are the jobs' targets (a device or a profile), so CI dashboards group the
results per device; a test case is ``model[variant] on target``, its time the runner's
own time, its ``system-out`` the device it ran on and the latency figures.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Optional

from ..jsonio import write_text
from .gate import GateReport


def junit_xml(results: dict[str, Any], gate: GateReport) -> str:
    """The JUnit XML document of a results file and its gate verdicts."""
    suites: dict[str, list[dict[str, Any]]] = {}
    for job in results.get("jobs", []):
        suites.setdefault(job["target"], []).append(job)
    root = ET.Element("testsuites", name=f"edgekit lab {results.get('lab')} run {results.get('run')}")
    total = fails = 0
    for target, jobs in suites.items():
        suite = ET.SubElement(root, "testsuite", name=target)
        n_fail = 0
        seconds = 0.0
        for job in jobs:
            verdict = gate.verdict(job["name"])
            case = ET.SubElement(suite, "testcase", classname=f"edgekit.lab.{results.get('lab')}.{target}",
                                 name=job["name"], time=f"{job.get('runner_seconds') or 0:.3f}")
            seconds += job.get("runner_seconds") or 0.0
            if verdict is not None and verdict.failing:
                n_fail += 1
                failure = ET.SubElement(case, "failure", message=verdict.reason or verdict.status,
                                        type=verdict.status)
                failure.text = verdict.reason or verdict.status
            if verdict is not None and verdict.rule:  # which comparison judged it (paired or cross-run)
                props = ET.SubElement(case, "properties")
                ET.SubElement(props, "property", name="edgekit.gate.rule", value=verdict.rule)
            ET.SubElement(case, "system-out").text = _details(job, verdict)
        suite.set("tests", str(len(jobs)))
        suite.set("failures", str(n_fail))
        suite.set("errors", "0")
        suite.set("skipped", "0")
        suite.set("time", f"{seconds:.3f}")
        total += len(jobs)
        fails += n_fail
    root.set("tests", str(total))
    root.set("failures", str(fails))
    root.set("errors", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _details(job: dict[str, Any], verdict: Optional[Any]) -> str:
    parts = [f"device={job.get('device') or '-'}", f"state={job['state']}", f"attempts={job.get('attempts', 0)}"]
    lat = job.get("latency")
    if lat:
        parts += [f"{key}={lat[key + '_us'] / 1000:.4f} ms" for key in ("median", "p90", "mean")
                  if lat.get(key + "_us") is not None]
        if lat.get("p10_us") is None and lat.get("low_us") is not None:   # aggregate-only: as printed
            parts.append(f"spread={lat.get('spread')} {lat['low_us'] / 1000:.4f}–{lat['high_us'] / 1000:.4f} ms")
        parts += [f"cv={lat['cv']:.4f}"] * (lat.get("cv") is not None) + [f"samples={lat.get('count')}"]
    if verdict is not None and verdict.baseline_us is not None:
        parts.append(f"baseline={verdict.baseline_us / 1000:.4f} ms")
        if verdict.change_ci_pct:
            lo, hi = verdict.change_ci_pct
            parts.append(f"change={verdict.change_pct:+.2f}% ci=[{lo:+.2f}%,{hi:+.2f}%]")
    if verdict is not None and verdict.rule:
        parts.append(f"rule='{verdict.rule}'")
    for metric, value in (job.get("quality") or {}).items():
        parts.append(f"{metric}={value:.4f}")
    return " ".join(parts)


def write_junit(path: str | Path, results: dict[str, Any], gate: GateReport) -> Path:
    """Write the JUnit XML file (atomically)."""
    return write_text(path, junit_xml(results, gate))
