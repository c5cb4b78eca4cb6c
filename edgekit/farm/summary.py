"""The Markdown summary of a lab run, for a pull-request comment."""

from __future__ import annotations

from typing import Any, Optional

from .gate import GateReport, Verdict

_ICON = {"pass": "✅", "new": "🆕", "regressed": "❌", "quality-drop": "❌", "failed": "❌",
         "unfinished": "⏸️", "cannot-judge": "❔"}


def markdown_summary(results: dict[str, Any], gate: GateReport) -> str:
    """A heading, the totals, one table row per job with its verdict, then the failures."""
    counts = gate.counts()
    jobs = results.get("jobs", [])
    bad = sum(1 for v in gate.verdicts if v.failing)
    lines = [
        f"## edgekit lab `{results.get('lab')}` — run {results.get('run')}",
        "",
        f"**{'✅ passed' if gate.passed else f'❌ {bad} failing'}** · {len(jobs)} jobs: "
        + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        + (f" · wall {results['wall_seconds']:.1f} s" if results.get("wall_seconds") else ""),
        "",
        "| | Job | Device | Median ms | p90 ms | CV | Baseline ms | Δ | Δ interval | Compared | Quality |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|---|---|",
    ]
    for job in jobs:
        v = gate.verdict(job["name"])
        lat = job.get("latency") or {}
        lines.append("| " + " | ".join([
            _ICON.get(v.status, "") if v else "", _cell(job["name"]), _cell(job.get("device") or "—"),
            _ms(lat.get("median_us")) if lat.get("median_us") is not None else _mean(lat), _p90(lat),
            f"{lat['cv']:.3f}" if lat.get("cv") is not None else "—", _ms(v.baseline_us if v else None), _delta(v),
            _interval(v), _cell(v.rule) if v and v.rule else "—",
            _cell(", ".join(f"{k.split('@')[0]} {val:.4f}" for k, val in (job.get("quality") or {}).items()) or "—"),
        ]) + " |")
    problems = [v for v in gate.verdicts if v.failing]
    if problems:
        lines += ["", "### Failures", ""]
        lines += [f"- **{_cell(v.name)}** ({v.status}): {_cell(v.reason)}" for v in problems]
    if gate.missing:
        lines += ["", "In the baseline but not in this run: " + ", ".join(f"`{m}`" for m in gate.missing)]
    lines += ["", f"<sub>Gate{f' vs `{gate.baseline}`' if gate.baseline else ''}: {gate.settings.describe()}.</sub>",
              ""]
    return "\n".join(lines)


def _interval(v: Any) -> str:
    """The change's confidence interval, e.g. ``+2.1% … +9.8%`` (— when unknown)."""
    if v is None or not v.change_ci_pct:
        return "—"
    lo, hi = v.change_ci_pct
    return f"{lo:+.1f}% … {hi:+.1f}%"


def _ms(us: Optional[float]) -> str:
    return "—" if us is None else f"{us / 1000:.3f}"


def _delta(v: Optional[Verdict]) -> str:
    d = v.delta_pct if v else None
    return "—" if d is None else f"{d:+.1f}%"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _mean(lat: dict[str, Any]) -> str:
    """A run that printed no median (older benchmark_model): its mean, labelled."""
    return "—" if lat.get("mean_us") is None else f"{lat['mean_us'] / 1000:.3f} (mean)"


def _p90(lat: dict[str, Any]) -> str:
    """p90, or for aggregate-only runs the upper end of the spread the tool printed, labelled."""
    if lat.get("p90_us") is not None or lat.get("high_us") is None:
        return _ms(lat.get("p90_us"))
    return f"{lat['high_us'] / 1000:.3f} ({'p95' if lat.get('spread') == 'p5-p95' else 'mean+std'})"
