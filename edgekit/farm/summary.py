"""The Markdown summary of a lab run, for a pull-request comment."""

from __future__ import annotations

from typing import Any, Optional

from .gate import GateReport, Verdict

_ICON = {"pass": "✅", "new": "🆕", "regressed": "❌", "quality-drop": "❌", "failed": "❌", "unfinished": "⏸️"}


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
        "| | Job | Device | Median ms | p90 ms | CV | Baseline ms | Δ | Margin ms | Quality |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|---|",
    ]
    for job in jobs:
        v = gate.verdict(job["name"])
        lat = job.get("latency") or {}
        lines.append("| " + " | ".join([
            _ICON.get(v.status, "") if v else "", _cell(job["name"]), _cell(job.get("device") or "—"),
            _ms(lat.get("median_us")), _ms(lat.get("p90_us")),
            f"{lat['cv']:.3f}" if lat else "—", _ms(v.baseline_us if v else None), _delta(v),
            _ms(v.margin_us if v else None),
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


def _ms(us: Optional[float]) -> str:
    return "—" if us is None else f"{us / 1000:.3f}"


def _delta(v: Optional[Verdict]) -> str:
    d = v.delta_pct if v else None
    return "—" if d is None else f"{d:+.1f}%"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
