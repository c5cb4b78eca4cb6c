"""Compact Markdown for a PR comment: the recommendation and the frontier table per device."""

from __future__ import annotations

from typing import Sequence

from .collect import Candidate, QualityScale
from .content import ReportContent
from .recommend import describe
from .tables import Table, fmt_kb, fmt_ms


def _md(text: str) -> str:
    """Escape the characters that would break a Markdown table cell or add formatting."""
    out = str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    for ch in "*_`<>[]":
        out = out.replace(ch, "\\" + ch)
    return out


def md_table(columns: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool] = ()) -> str:
    """A GitHub-flavoured Markdown table (cells escaped)."""
    align = ["---:" if (i < len(right) and right[i]) else ":---" for i in range(len(columns))]
    lines = ["| " + " | ".join(_md(c) for c in columns) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_md(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def render_table(t: Table) -> str:
    """Any report :class:`Table` as Markdown (detail text in parentheses)."""
    rows = [[c.text + (f" ({c.detail})" if c.detail else "") for c in r] for r in t.rows]
    right = [i > 0 and all(isinstance(r[i].value, (int, float)) or r[i].value is None for r in t.rows)
             for i in range(len(t.columns))]
    title = f"**{_md(t.title)}**" + (f" — _{_md(t.label)}_" if t.label else "")
    cap = f"\n\n_{_md(t.caption)}_" if t.caption else ""
    return f"{title}\n\n{md_table(t.columns, rows, right)}{cap}"


def _front_rows(front: Sequence[Candidate], scale: QualityScale, latency: bool) -> list[list[str]]:
    rows = []
    for c in front:
        row = [c.model, c.variant, scale.show(c.quality)]
        if latency:
            from .spread import spread_text

            rng = spread_text(c, fmt_ms)
            row.append(fmt_ms(c.latency_ms) + (f" ({rng})" if rng else ""))
        row += [fmt_kb(c.size_kb), ", ".join(c.flags) or "—"]
        rows.append(row)
    return rows


def render_markdown(content: ReportContent) -> str:
    """The PR-comment summary: constraints, recommendation per device, frontier tables."""
    d = content.data
    s = d.scale
    out = [f"## {_md(content.title)}", ""]
    cons = content.constraints.describe(s)
    out.append(f"Constraints: {_md('; '.join(cons)) if cons else 'none'} · quality `{d.metric}` on "
               f"`{d.dataset or '—'}` · latency = median of warm runs (p10–p90)")
    out += ["", "### Recommendation", ""]
    for rec in content.recommendations.values():
        out.append(f"- {_md(describe(rec, s))}")
    for device in content.devices:
        front = content.frontiers.front(device)
        out += ["", f"### Pareto frontier on {_md(device)} ({s.metric} × latency)", ""]
        out.append(md_table(["model", "variant", s.metric, "median ms (p10–p90)", "size KB", "flags"],
                            _front_rows(front, s, True), [False, False, True, True, True, False]))
    front = content.frontiers.front(None)
    if front:
        out += ["", f"### Pareto frontier: {s.metric} × model size (any device)", ""]
        out.append(md_table(["model", "variant", s.metric, "size KB", "flags"], _front_rows(front, s, False),
                            [False, False, True, True, False]))
    for t in content.tables:
        if t.id.startswith("predicted-"):   # predicted, not measured: labelled, never a frontier
            out += ["", render_table(t)]
    if d.failed:
        out += ["", f"{len(d.failed)} failed run(s), not used: "
                + "; ".join(_md(f"{f.model} · {f.variant} on {f.device}: {f.error[:80]}") for f in d.failed)]
    if d.notes:
        out += [""] + [f"> {_md(n)}" for n in d.notes]
    return "\n".join(out) + "\n"
