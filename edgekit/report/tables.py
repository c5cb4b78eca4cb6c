"""The report's tables as data (cells with display text and a sortable value).

HTML, Markdown and the CLI render the same :class:`Table` objects. The main one follows
the paper's Tables 5 and 6: one row per model (width multiplier), columns for
parameters, size, quality per training recipe and latency per device, float and
quantized side by side with the ratios (size ×, speed-up ×).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from .collect import Candidate, DeviceSummary, FailedRun, QualityScale, ReportData
from .paper import (DEVICE_COLUMNS, PAPER_LABEL, RECIPE_TITLES, canonical_recipe, paper_mobilenet_v2,
                    paper_table)


@dataclass(frozen=True)
class Cell:
    """One table cell: ``text`` to show, ``value`` to sort by (and export), extras for HTML."""

    text: str
    value: Any = None
    detail: str = ""        # secondary text (e.g. "2.1–2.6"), shown small
    note: str = ""          # tooltip
    css: str = ""           # "flag", "front", "tie", "best", "paper", "muted", "bad"


@dataclass
class Table:
    """A titled table; ``groups`` are header cells spanning several columns."""

    id: str
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    groups: list[tuple[str, int]] = field(default_factory=list)
    caption: str = ""
    label: str = ""          # e.g. the paper's label: "paper (Menghani 2021)"
    row_css: list[str] = field(default_factory=list)
    collapsed: bool = False  # a long detail table: HTML shows it folded

    def numeric(self, col: int) -> bool:
        """Whether a column holds numbers (right-aligned) — every non-empty value is int/float."""
        vals = [r[col].value for r in self.rows if col < len(r) and r[col].value is not None]
        return bool(vals) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals)


def fmt_ms(x: Optional[float]) -> str:
    """Milliseconds with about three significant digits."""
    if x is None:
        return "—"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"   # 0.428, 0.0432, 0.00198 (tiny models run in microseconds)


def fmt_kb(x: Optional[float]) -> str:
    """Kilobytes (KiB) with about three significant digits."""
    if x is None:
        return "—"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def fmt_ratio(x: Optional[float]) -> str:
    return "—" if x is None else f"{x:.2f}×"


def empty() -> Cell:
    return Cell("—", None, css="muted")


def speedup_cell(fd: Optional[Candidate], qd: Optional[Candidate], sp: Optional[float]) -> Cell:
    """A speed-up with its 95 % interval as detail (bold red when beyond noise below 1×)."""
    if not sp or fd is None or qd is None:
        return empty()
    from ..stats.paired import interleaved_pairs, paired_ratio
    from ..stats.ratio import ratio_from_intervals

    pairs = interleaved_pairs(fd.sessions, qd.sessions)
    if pairs is not None:  # measured in interleaved sessions: drift between them cancels pair by pair
        est = paired_ratio(*pairs)
        if est.known:
            detail = f"{est.lo:.2f}–{est.hi:.2f}"
            css = "bad" if est.hi < 1 else ("muted" if est.lo <= 1 <= est.hi else "")  # type: ignore[operator]
            return Cell(fmt_ratio(est.value), est.value, detail=detail, css=css,
                        note=f"95 % interval {detail}× ({est.method.replace('paired t', 'paired')})")

    a, b = fd.median_ci_ms, qd.median_ci_ms
    est = ratio_from_intervals((fd.latency_ms, *a), (qd.latency_ms, *b)) if a and b else None  # type: ignore[arg-type]
    if est is None or not est.known:
        return Cell(fmt_ratio(sp), sp, css="bad" if sp < 1 else "", note="interval unknown")
    detail = f"{est.lo:.2f}–{est.hi:.2f}"
    css = "bad" if est.hi < 1 else ("muted" if est.lo <= 1 <= est.hi else "")  # type: ignore[operator]
    return Cell(fmt_ratio(sp), sp, detail=detail, css=css, note=f"95 % interval {detail}×")


def quality_cell(c: Candidate, scale: QualityScale) -> Cell:
    """Quality with its 95 % Wilson interval (from the number of test samples) as detail."""
    if c.quality is None:
        return empty()
    ci = c.quality_ci
    detail = f"{scale.show(ci[0])}–{scale.show(ci[1])}" if ci else ""
    return Cell(scale.show(c.quality), c.quality, detail=detail,
                note=f"95 % Wilson interval {detail}" if ci else "interval unknown (no sample count)")


def latency_cell(c: Optional[Candidate]) -> Cell:
    """Median latency (the mean when the runner printed no median), its spread as detail, flags marked."""
    if c is None or c.latency_ms is None:
        return empty()
    from .spread import spread_text

    spread = spread_text(c, fmt_ms)
    ci = c.median_ci_ms
    detail = f"95% CI {fmt_ms(ci[0])}–{fmt_ms(ci[1])}" if ci else (spread or "")
    note = f"{c.latency_stat} of {c.samples} warm runs" + (f"; 95 % CI of the median {fmt_ms(ci[0])}–{fmt_ms(ci[1])} ms"
                                                         if ci else "; CI of the median unknown")
    note += f"; {spread} ms" if spread else ""
    if c.runs > 1:
        note += f"; {c.runs} ok runs in the store"
    if c.flags:
        note += "; flagged: " + ", ".join(c.flags)
    text = fmt_ms(c.latency_ms) + (" (mean)" if c.latency_stat != "median" else "") + (" ⚠" if c.flags else "")
    return Cell(text, round(c.latency_ms, 6), detail=detail, note=note, css="flag" if c.flags else "")


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    if a is None or b is None or b == 0:
        return None
    return a / b


def row_key(c: Candidate) -> tuple[str, Any]:
    """The paper-layout row of a candidate: (family, width) for a family member, else (family, model)."""
    return (c.family, c.width) if c.width is not None else (c.family, c.model)


def row_title(key: tuple[str, Any], families: int) -> str:
    """``w=0.25`` (prefixed by the family when several are shown), or the model name."""
    family, what = key
    if isinstance(what, float):
        return f"{family} w={what:g}" if families > 1 and family else f"w={what:g}"
    return str(what)


def model_cell(key: tuple[str, Any], families: int, mine: Sequence[Candidate]) -> Cell:
    """A layout row's model: its title, and the conv/dense channels when the pipeline recorded them
    (``÷8`` when rounded to multiples of 8), so what the rounding changed can be read."""
    value = key[1] if isinstance(key[1], float) else str(key[1])
    chans = next((c for c in mine if c.channels), None)
    if chans is None:
        return Cell(row_title(key, families), value)
    m = chans.channel_multiple or 1
    listed = "·".join(str(x) for x in chans.channels)
    return Cell(row_title(key, families), value, detail=(f"÷{m} " if m > 1 else "") + listed,
                note=f"conv/dense channels {listed}" + (f", rounded to multiples of {m}" if m > 1 else ", not rounded"))


def recipes_of(cands: Sequence[Candidate]) -> list[str]:
    """Recipes present, in the paper's order first."""
    present = list(dict.fromkeys(canonical_recipe(c.recipe) for c in cands))
    order = list(RECIPE_TITLES)
    return sorted(present, key=lambda r: (order.index(r) if r in order else len(order), r))


def paper_layout_table(data: ReportData, devices: Sequence[str], quantized: str = "int8",
                       float_variant: str = "fp32") -> Optional[Table]:
    """Measured figures in the layout of the paper's Tables 5/6 (float | quantized | ratio).

    Returns None when no model has both variants' artifacts (nothing to put side by side).
    """
    models = [c for c in data.models if c.variant in (float_variant, quantized)]
    if not models:
        return None
    scale = data.scale
    recipes = recipes_of(models)
    keys = list(dict.fromkeys(row_key(c) for c in models))
    families = len({k[0] for k in keys})

    def pick(pool: Sequence[Candidate], variant: str, recipe: Optional[str] = None) -> Optional[Candidate]:
        got = [c for c in pool if c.variant == variant and (recipe is None or canonical_recipe(c.recipe) == recipe)]
        got.sort(key=lambda c: recipes.index(canonical_recipe(c.recipe)))
        return got[0] if got else None

    columns = ["model", "params (K)", f"{float_variant} KB", f"{quantized} KB", "size ×"]
    groups: list[tuple[str, int]] = [("", 2), ("model size", 3)]
    for r in recipes:
        columns += [float_variant, quantized]
        title = RECIPE_TITLES.get(r, r) if r else ""
        groups.append((f"{scale.metric} {scale.suffix}".strip() + (f" — {title}" if title else ""), 2))
    for d in devices:
        columns += [f"{float_variant} ms", f"{quantized} ms", "speed-up ×"]
        groups.append((f"{d}: median ms (p10–p90)", 3))

    rows: list[list[Cell]] = []
    for key in keys:
        mine = [c for c in models if row_key(c) == key]
        f, q = pick(mine, float_variant), pick(mine, quantized)
        params = next((c.params for c in mine if c.params is not None), None)
        row = [model_cell(key, families, mine),
               Cell(f"{params / 1000:.2f}", params / 1000) if params is not None else empty(),
               Cell(fmt_kb(f.size_kb), f.size_kb) if f else empty(),
               Cell(fmt_kb(q.size_kb), q.size_kb) if q else empty()]
        sz = ratio(f.size_kb if f else None, q.size_kb if q else None)
        row.append(Cell(fmt_ratio(sz), sz) if sz else empty())
        for r in recipes:
            for v in (float_variant, quantized):
                c = pick(mine, v, r)
                row.append(Cell(scale.show(c.quality), c.quality) if c and c.quality is not None else empty())
        for d in devices:
            here = [c for c in data.candidates if c.device == d and row_key(c) == key]
            fd, qd = pick(here, float_variant), pick(here, quantized)
            row += [latency_cell(fd), latency_cell(qd)]
            same = fd is not None and qd is not None and fd.latency_stat == qd.latency_stat
            sp = ratio(fd.latency_ms, qd.latency_ms) if same else None  # type: ignore[union-attr]
            row.append(speedup_cell(fd, qd, sp))
        rows.append(row)
    caption = (f"Measured. Size × = {float_variant} size / {quantized} size (exact); speed-up × = {float_variant} "
               f"median / {quantized} median, with its 95 % interval (from both medians' intervals, or from the paired "
               "session medians when both were measured in interleaved sessions); below 1× the "
               "quantized model is slower on that device, and a speed-up whose interval holds 1× is no difference. "
               "⚠ = flagged run.")
    if len(recipes) > 1 and devices:
        caption += " Latency per width is that of the first recipe's model measured (same architecture)."
    return Table("measured-layout", "Models side by side (the paper's Table 5/6 layout)", columns, rows,
                 groups=groups, caption=caption)


def paper_reference_table(devices: Optional[Sequence[str]] = None) -> Table:
    """The paper's Tables 5 and 6 merged into the same side-by-side layout, labelled as the paper's."""
    fl, q8 = paper_table("float"), paper_table("int8")
    cols = list(DEVICE_COLUMNS) if not devices else [c for c in DEVICE_COLUMNS if c in devices]
    columns = ["width", "params (K)", "float KB", "int8 KB", "size ×"]
    groups: list[tuple[str, int]] = [("", 2), ("model size", 3)]
    for r, title in RECIPE_TITLES.items():
        columns += ["float", "int8"]
        groups.append((f"top-1 % — {title}", 2))
    for col in cols:
        columns += ["float ms", "int8 ms", "speed-up ×"]
        groups.append((f"{DEVICE_COLUMNS[col]}: avg ms", 3))
    rows = []
    for a, b in zip(fl, q8):
        row = [Cell(f"w={a.width:g}", a.width), Cell(f"{a.params_k:g}", a.params_k),
               Cell(fmt_kb(a.size_kb), a.size_kb), Cell(fmt_kb(b.size_kb), b.size_kb),
               Cell(fmt_ratio(a.size_kb / b.size_kb), a.size_kb / b.size_kb)]
        for r in RECIPE_TITLES:
            row += [Cell(f"{a.accuracy_pct[r]:.2f}", a.accuracy_pct[r]), Cell(f"{b.accuracy_pct[r]:.2f}", b.accuracy_pct[r])]
        for col in cols:
            x, y = a.latency_ms[col], b.latency_ms[col]
            row += [Cell(fmt_ms(x), x), Cell(fmt_ms(y), y), Cell(fmt_ratio(x / y), x / y)]
        rows.append([Cell(c.text, c.value, c.detail, c.note, "paper") for c in row])
    return Table("paper-layout", f"{PAPER_LABEL}: Tables 5 and 6 (CIFAR-10 CNN family, phones)", columns, rows,
                 groups=groups, label=PAPER_LABEL,
                 caption="Figures from the paper, not measured here: average single-threaded CPU latency after "
                         "warm-up on its phones. Shown for comparison; never part of a measured frontier.")


def paper_mobilenet_table() -> Table:
    """The paper's Table 2 (MobileNet v2, Pixel 2)."""
    rows = [[Cell(r["model"], r["model"], css="paper"), Cell(r["quantization"], r["quantization"], css="paper"),
             Cell(f"{r['top1_pct']:.1f}", r["top1_pct"], css="paper"), Cell(f"{r['size_mb']:g}", r["size_mb"], css="paper"),
             Cell(f"{r['latency_ms_pixel2']:g}", r["latency_ms_pixel2"], css="paper")] for r in paper_mobilenet_v2()]
    return Table("paper-mobilenet", f"{PAPER_LABEL}: Table 2 (MobileNet v2 1.0 224, Pixel 2)",
                 ["model", "quantization", "top-1 %", "size MB", "latency ms"], rows, label=PAPER_LABEL)


def candidates_table(id: str, title: str, cands: Sequence[Candidate], scale: QualityScale,
                     on_front: Callable[[Candidate], str], with_latency: bool = True) -> Table:
    """Candidates with their frontier status (``on_front`` → "front", "tie", "dominated" or why excluded)."""
    columns = ["model", "variant", "recipe", scale.metric + (f" {scale.suffix}" if scale.suffix else ""), "size KB"]
    if with_latency:
        columns += ["median ms", "samples", "CV %", "flags"]
    columns.append("Pareto")
    rows, css = [], []
    for c in cands:
        status = on_front(c)
        row = [Cell(c.model, c.model), Cell(c.variant, c.variant), Cell(c.recipe or "—", c.recipe),
               quality_cell(c, scale), Cell(fmt_kb(c.size_kb), round(c.size_kb, 3))]
        if with_latency:
            row += [latency_cell(c), Cell(str(c.samples), c.samples),
                    Cell(f"{c.cv * 100:.1f}", c.cv * 100) if c.cv is not None else empty(),
                    Cell(", ".join(c.flags) or "—", ", ".join(c.flags), css="flag" if c.flags else "muted")]
        label = {"front": "on front", "tie": "on front (tie group)"}.get(status, status or "dominated")
        row.append(Cell(label, label, css={"front": "front", "tie": "tie"}.get(status, "muted")))
        rows.append(row)
        css.append({"front": "front", "tie": "front"}.get(status, ""))
    return Table(id, title, columns, rows, row_css=css)


def devices_table(devices: Sequence[DeviceSummary]) -> Table:
    """Provenance: every device, its facts (CPU, runtime, governor) and run counts."""
    rows = []
    for d in devices:
        f = d.facts
        cpu = " / ".join(str(x) for x in dict.fromkeys([f.get("model"), f.get("soc"), f.get("cpu")]) if x) or "—"
        runtime = " ".join(str(x) for x in (f.get("runtime"), f.get("runtime_version")) if x) or "—"
        rows.append([Cell(d.name, d.name), Cell(d.profile or "—", d.profile), Cell(cpu, cpu),
                     Cell(str(f.get("os") or f.get("kernel") or "—"), ""),
                     Cell(runtime, runtime), Cell(governor_text(f.get("governor")), ""),
                     Cell(f"{d.runner} {d.runner_version}".strip() or "—", d.runner),
                     Cell(", ".join(str(t) for t in d.threads) or "—", ""),
                     Cell(str(d.ok), d.ok), Cell(str(d.failed), d.failed, css="bad" if d.failed else ""),
                     Cell(str(d.flagged), d.flagged, css="flag" if d.flagged else "")])
    return Table("devices", "Devices", ["device", "profile", "CPU / SoC", "OS", "runtime", "governor", "runner",
                                        "threads", "ok runs", "failed", "flagged"], rows)


def governor_text(gov: Any) -> str:
    """A governor fact (a string, or a per-CPU dict) as short text."""
    if not gov:
        return "—"
    if isinstance(gov, dict):
        values = list(dict.fromkeys(str(v) for v in gov.values()))
        return values[0] if len(values) == 1 else ", ".join(f"{k}: {v}" for k, v in gov.items())
    return str(gov)


def failed_table(failed: Sequence[FailedRun]) -> Table:
    import datetime as _dt

    rows = [[Cell(f.device, f.device), Cell(f.model, f.model), Cell(f.variant, f.variant),
             Cell(f.error, f.error, css="bad"),
             Cell(_dt.datetime.fromtimestamp(f.at).strftime("%Y-%m-%d %H:%M") if f.at else "—", f.at)]
            for f in failed]
    return Table("failed", "Failed runs (not used as points)", ["device", "model", "variant", "error", "when"], rows)


__all__ = ["Cell", "Table", "candidates_table", "devices_table", "failed_table", "fmt_kb", "fmt_ms", "fmt_ratio",
           "latency_cell", "paper_layout_table", "paper_mobilenet_table", "paper_reference_table", "recipes_of",
           "row_key", "row_title"]
