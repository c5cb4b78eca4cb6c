"""The report's plots (matplotlib, Agg canvas, PNG at 144 dpi and SVG).

Figures are built on :class:`matplotlib.figure.Figure` with an Agg canvas, never
through ``pyplot``, so the library does not touch the caller's global backend.
matplotlib is imported inside the functions (the CLI must start fast).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Optional, Sequence

from .collect import Candidate, ReportData
from .frontiers import Frontiers
from .pareto import staircase
from .paper import PAPER_LABEL, RECIPE_TITLES, canonical_recipe, paper_table
from .predicted import draw_predicted, predicted_handle
from .spread import axis_label, error_bar
from .tables import recipes_of, row_key, row_title

DPI = 144
VARIANT_COLORS = {"fp32": "#1f77b4", "fp16": "#2ca02c", "dynamic": "#9467bd", "int8": "#ff7f0e",
                  "int16x8": "#8c564b", "edgetpu": "#d62728", "tflite": "#7f7f7f"}
RECIPE_MARKERS = {"baseline": "o", "augmentation": "s", "distillation": "^", "": "o"}
DEVICE_COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")
PAPER_COLOR = "#9a9a9a"
#: label every point when there are at most this many; otherwise only the frontier
LABEL_ALL_UP_TO = 12


def _figure(width: float = 7.6, height: float = 4.8) -> Any:
    """A figure with constrained layout on an Agg canvas (no pyplot, no global state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig: Any, stem: Path, formats: Sequence[str]) -> list[Path]:
    """Write ``stem.png`` / ``stem.svg`` for the requested formats; returns the paths."""
    import matplotlib

    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for fmt in ("png", "svg"):
        if fmt in formats:
            path = stem.with_suffix("." + fmt)
            meta = {"Date": None} if fmt == "svg" else {"Software": None}
            # SVG text stays text (searchable, selectable, smaller) rather than glyph paths
            with matplotlib.rc_context({"svg.fonttype": "none"}):
                fig.savefig(path, format=fmt, dpi=DPI, metadata=meta)
            out.append(path)
    return out


def spans_decades(values: Sequence[float]) -> bool:
    """Whether positive values span more than one decade (→ a log axis)."""
    pos = [v for v in values if v is not None and v > 0]
    return bool(pos) and max(pos) / min(pos) > 10.0


def _color(variant: str) -> str:
    return VARIANT_COLORS.get(variant, "#7f7f7f")


def _marker(recipe: str) -> str:
    return RECIPE_MARKERS.get(canonical_recipe(recipe), "D")


def _legend_handles(cands: Sequence[Candidate], flagged: bool, paper: bool, front: bool) -> list[Any]:
    from matplotlib.lines import Line2D

    handles = []
    for v in dict.fromkeys(c.variant for c in cands):
        handles.append(Line2D([], [], ls="", marker="o", color=_color(v), label=v))
    recipes = recipes_of(cands)
    if len(recipes) > 1 or (recipes and recipes[0]):
        for r in recipes:
            handles.append(Line2D([], [], ls="", marker=_marker(r), color="#444", mfc="none",
                                  label=RECIPE_TITLES.get(r, r) or "—"))
    if front:
        handles.append(Line2D([], [], color="#222", lw=1.4, ls="--", marker="o", mfc="white", mec="#111", ms=7,
                              label="Pareto frontier (dark edge)"))
    if flagged:
        handles.append(Line2D([], [], ls="", marker="o", mfc="#ddd", mec="#c00", mew=1.8,
                              label="flagged run (red edge, ⚠)"))
    if paper:
        handles.append(Line2D([], [], ls="", marker="x", color=PAPER_COLOR, label=PAPER_LABEL))
    return handles


def _scatter(ax: Any, cands: Sequence[Candidate], xs: Sequence[float], ys: Sequence[float],
             on_front: Sequence[bool]) -> None:
    """Points coloured by variant, shaped by recipe; frontier points larger, flagged ones red-edged.

    One Line2D per style group (not per point): layout and rendering stay fast with many points.
    """
    groups: dict[tuple[str, str, bool, bool], tuple[list[float], list[float]]] = {}
    for c, x, y, front in zip(cands, xs, ys, on_front):
        gx, gy = groups.setdefault((c.variant, _marker(c.recipe), front, c.flagged), ([], []))
        gx.append(x)
        gy.append(y)
    for (variant, marker, front, flagged), (gx, gy) in groups.items():
        ax.plot(gx, gy, ls="", marker=marker, ms=8 if front else 6, mfc=_color(variant),
                mec="#c00" if flagged else ("#111" if front else "white"),
                mew=1.8 if flagged else (1.0 if front else 0.6), zorder=4 if front else 3,
                alpha=1.0 if front else 0.75)


def _paper_points(ax: Any, xs: Sequence[float], ys: Sequence[float]) -> None:
    if xs:
        ax.plot(xs, ys, ls="", marker="x", color=PAPER_COLOR, ms=6, zorder=1)


_OFFSETS = ((6, 5, "left"), (6, -15, "left"), (-6, 5, "right"), (-6, -15, "right"), (6, 16, "left"),
            (-6, 16, "right"), (6, -26, "left"), (-6, -26, "right"), (12, 28, "left"), (-12, 28, "right"),
            (12, -38, "left"), (-12, -38, "right"))


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return not (a[2] < b[0] or a[0] > b[2] or a[3] < b[1] or a[1] > b[3])


def _labels(ax: Any, cands: Sequence[Candidate], xs: Sequence[float], ys: Sequence[float],
            on_front: Sequence[bool]) -> None:
    """Label the frontier (every point when there are few), avoiding overlaps greedily.

    A label goes to the first of several offsets around its point that stays inside the
    axes and overlaps nothing; failing that, one that overlaps only other points' markers;
    failing that (frontier labels only), the first offset inside the axes.
    """
    fig = ax.figure
    engine = fig.get_layout_engine()
    if engine is not None:
        engine.execute(fig)  # settle the layout so data → pixel transforms are final (no full render)
    to_px = ax.transData.transform
    scale = fig.dpi / 72.0
    label_all = len(cands) <= LABEL_ALL_UP_TO
    marks = [tuple(to_px((x, y))) for x, y in zip(xs, ys)]
    mark_boxes = [(px - 4 * scale, py - 4 * scale, px + 4 * scale, py + 4 * scale) for px, py in marks]
    texts: list[tuple[float, ...]] = []
    legend = ax.get_legend()
    if legend is not None:
        texts.append(tuple(legend.get_window_extent(fig.canvas.get_renderer()).extents))
    order = sorted(range(len(cands)), key=lambda i: (not on_front[i], xs[i]))
    bounds = ax.bbox.extents
    for i in order:
        c, front = cands[i], on_front[i]
        if not (front or label_all):
            continue
        text = c.label + (" ⚠" if c.flagged else "") + (" (predicted)" if c.predicted else "")
        w, h = (len(text) * 4.4 + 4) * scale, 10 * scale
        px, py = marks[i]
        options = []
        for dx, dy, ha in _OFFSETS:
            x0 = px + dx * scale - (w if ha == "right" else 0)
            box = (x0, py + dy * scale, x0 + w, py + dy * scale + h)
            if box[0] >= bounds[0] and box[2] <= bounds[2] and box[1] >= bounds[1] and box[3] <= bounds[3]:
                options.append((dx, dy, ha, box))
        if not options:
            continue
        free = [o for o in options if not any(_overlap(o[3], b) for b in texts)]
        clear = [o for o in free if not any(_overlap(o[3], b) for j, b in enumerate(mark_boxes) if j != i)]
        best = (clear or (free if front else []) or (options if front else [None]))[0]
        if best is None:
            continue  # a dominated point's label is optional: skip it rather than overlap
        dx, dy, ha, box = best
        texts.append(box)
        ax.annotate(text, (xs[i], ys[i]), xytext=(dx, dy), textcoords="offset points", fontsize=7.5, ha=ha,
                    va="bottom", color="#111" if front else "#555", zorder=5,
                    bbox=dict(boxstyle="round,pad=0.12", fc="white", ec="none", alpha=0.75),
                    arrowprops=dict(arrowstyle="-", color="#888", lw=0.6, shrinkA=0, shrinkB=4))


def _plain_log(axis: Any) -> None:
    """Plain numbers (0.5, 1, 2, 5, 10 …) on a log axis instead of 5×10⁻¹."""
    from matplotlib.ticker import FuncFormatter

    def minor(v: float, _: Any) -> str:
        mant = v / 10 ** math.floor(math.log10(v)) if v > 0 else 0
        return f"{v:g}" if round(mant) in (2, 5) and abs(mant - round(mant)) < 1e-6 else ""

    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(FuncFormatter(minor))


def _front_line(ax: Any, pts: Sequence[tuple[float, float]]) -> None:
    if len(pts) >= 1:
        xs, ys = staircase(pts)
        ax.plot(xs, ys, color="#222", lw=1.4, ls="--", zorder=2)


def plot_quality_vs_size(data: ReportData, frontiers: Frontiers, stem: Path, formats: Sequence[str],
                         paper: bool = False) -> list[Path]:
    """Quality vs model size over every artifact (device-independent), frontier drawn."""
    s = data.scale
    cands = [c for c in data.models if c.quality is not None]
    if not cands:
        return []
    fig = _figure()
    ax = fig.add_subplot()
    xs = [c.size_kb for c in cands]
    ys = [c.quality * s.factor for c in cands]  # type: ignore[operator]
    front = [frontiers.status(c) in ("front", "tie") for c in cands]
    _front_line(ax, [(x, y) for x, y, f in zip(xs, ys, front) if f])
    _scatter(ax, cands, xs, ys, front)
    all_x = list(xs)
    show_paper = paper and s.suffix == "%"
    if show_paper:
        recipes = [r for r in recipes_of(cands) if r in RECIPE_TITLES] or ["baseline"]
        rows = [row for prec in ("float", "int8") for row in paper_table(prec)]  # type: ignore[arg-type]
        pxs = [row.size_kb for row in rows for _ in recipes]
        pys = [row.accuracy_pct[r] for row in rows for r in recipes]
        _paper_points(ax, pxs, pys)
        all_x += pxs
    if spans_decades(all_x):
        ax.set_xscale("log")
        _plain_log(ax.xaxis)
    ax.set_xlabel("model size (KB, TFLite file)" + (", log scale" if spans_decades(all_x) else ""))
    ax.set_ylabel(s.axis_label)
    ax.set_title(f"{s.metric} vs model size — frontier over {len(cands)} model files")
    ax.grid(True, which="major", alpha=0.3)
    ax.margins(x=0.06, y=0.09)  # room for the labels of the extreme points
    if s.suffix == "%":
        ax.set_ylim(top=min(ax.get_ylim()[1], 101.0))  # no axis above 100 %
    ax.legend(handles=_legend_handles(cands, False, show_paper, True), fontsize=8, loc="best")
    if show_paper:
        ax.text(0.01, 0.01, f"× = {PAPER_LABEL}, CIFAR-10 (not measured here)", transform=ax.transAxes,
                fontsize=7, color="#666", va="bottom")
    _labels(ax, cands, xs, ys, front)
    return save(fig, stem, formats)


def plot_quality_vs_latency(data: ReportData, frontiers: Frontiers, device: str, stem: Path,
                            formats: Sequence[str], paper_column: Optional[str] = None,
                            predicted: Sequence[Candidate] = ()) -> list[Path]:
    """Quality vs median latency on one device: error bars, frontier, flagged red-edged, predicted hollow."""
    s = data.scale
    cands = [c for c in data.for_device(device) if c.quality is not None and c.latency_ms is not None]
    if not (predicted := [c for c in predicted if c.quality is not None and c.latency_ms is not None]) and not cands:
        return []
    fig = _figure()
    ax = fig.add_subplot()
    xs = [c.latency_ms for c in cands]
    ys = [c.quality * s.factor for c in cands]  # type: ignore[operator]
    front = [frontiers.status(c) in ("front", "tie") for c in cands]
    lo, hi = [error_bar(c)[0] for c in cands], [error_bar(c)[1] for c in cands]
    qlo = [(c.quality - c.quality_ci[0]) * s.factor if c.quality_ci else 0.0 for c in cands]  # type: ignore[operator]
    qhi = [(c.quality_ci[1] - c.quality) * s.factor if c.quality_ci else 0.0 for c in cands]  # type: ignore[operator]
    ax.errorbar(xs, ys, xerr=[lo, hi], yerr=[qlo, qhi], fmt="none", ecolor="#888", elinewidth=1.0, capsize=2.5,
                zorder=2)
    _front_line(ax, [(x, y) for x, y, f in zip(xs, ys, front) if f])  # type: ignore[misc]
    _scatter(ax, cands, xs, ys, front)  # type: ignore[arg-type]
    pxs, pys = draw_predicted(ax, predicted, s, VARIANT_COLORS)
    all_x = [x for x in xs + pxs if x is not None]
    show_paper = bool(paper_column) and s.suffix == "%"
    if show_paper:
        recipes = [r for r in recipes_of(cands) if r in RECIPE_TITLES] or ["baseline"]
        rows = [row for prec in ("float", "int8") for row in paper_table(prec)]  # type: ignore[arg-type]
        pxs = [row.latency_ms[paper_column] for row in rows for _ in recipes]  # type: ignore[index]
        pys = [row.accuracy_pct[r] for row in rows for r in recipes]
        _paper_points(ax, pxs, pys)
        all_x += pxs
    log_x = spans_decades(all_x)
    if log_x:
        ax.set_xscale("log")
        _plain_log(ax.xaxis)
    ax.set_xlabel((axis_label(cands) if cands else "predicted latency (ms)") + (", log scale" if log_x else ""))
    ax.set_ylabel(s.axis_label)
    n_flag = sum(c.flagged for c in cands)
    ax.set_title(f"{device}: {s.metric} vs latency — " + (f"{len(cands)} measured, {len(predicted)} predicted"
                 if predicted else f"{len(cands)} variants") + (f", {n_flag} flagged" if n_flag else ""))
    ax.grid(True, which="major", alpha=0.3)
    ax.margins(x=0.06, y=0.09)  # room for the labels of the extreme points
    if s.suffix == "%":
        ax.set_ylim(top=min(ax.get_ylim()[1], 101.0))  # no axis above 100 %
    handles = _legend_handles(list(cands) + list(predicted), n_flag > 0, show_paper, bool(cands))
    ax.legend(handles=handles + ([predicted_handle()] if predicted else []), fontsize=8, loc="best")
    _labels(ax, list(cands) + list(predicted), xs + pxs, ys + pys, front + [False] * len(pxs))  # type: ignore[arg-type]
    return save(fig, stem, formats)


def _bars(ax: Any, groups: Sequence[str], series: dict[str, list[Optional[Candidate]]],
          colors: dict[str, str]) -> list[float]:
    """Grouped bars of median latency with p10–p90 error bars; returns the plotted values."""
    n = max(len(series), 1)
    width = 0.8 / n
    values: list[float] = []
    for i, (name, cands) in enumerate(series.items()):
        xs, med, lo, hi, hollow = [], [], [], [], []
        for j, c in enumerate(cands):
            if c is None or c.latency_ms is None:
                continue
            xs.append(j - 0.4 + width * (i + 0.5))
            med.append(c.latency_ms)
            lo.append(error_bar(c)[0])
            hi.append(error_bar(c)[1])
            hollow.append(c.flagged)
        values += med
        bars = ax.bar(xs, med, width * 0.92, color=colors[name], label=name, yerr=[lo, hi],
                      error_kw=dict(ecolor="#333", elinewidth=0.9, capsize=2))
        for b, h in zip(bars, hollow):
            if h:
                b.set_hatch("///")
                b.set_edgecolor("#c00")
    many = len(groups) > 6
    ax.set_xticks(range(len(groups)), groups, rotation=30 if many else 0, ha="right" if many else "center")
    return values


def _rows(data: ReportData) -> tuple[list[tuple[str, Any]], list[str]]:
    """The measured models (paper-layout rows) and their titles, in report order."""
    keys = list(dict.fromkeys(row_key(c) for c in data.candidates))
    fams = len({k[0] for k in keys})
    return keys, [row_title(k, fams) for k in keys]


def _first(cands: Sequence[Candidate], key: tuple[str, Any], variant: str) -> Optional[Candidate]:
    got = [c for c in cands if row_key(c) == key and c.variant == variant]
    order = recipes_of(got)
    got.sort(key=lambda c: order.index(canonical_recipe(c.recipe)))
    return got[0] if got else None


def plot_latency_by_model(data: ReportData, devices: Sequence[str], stem: Path, formats: Sequence[str]) -> list[Path]:
    """Median latency per model, one panel per device, one bar per variant (whiskers: the median's 95 % CI)."""
    if not devices or not data.candidates:
        return []
    keys, titles = _rows(data)
    variants = [v for v in dict.fromkeys(c.variant for c in data.candidates)]
    fig = _figure(7.6, 1.2 + 2.9 * len(devices))
    axes = fig.subplots(len(devices), 1, squeeze=False)[:, 0]
    for ax, d in zip(axes, devices):
        here = data.for_device(d)
        series = {v: [_first(here, k, v) for k in keys] for v in variants}
        values = _bars(ax, titles, series, {v: _color(v) for v in variants})
        if spans_decades(values):
            ax.set_yscale("log")
            _plain_log(ax.yaxis)
        ax.set_ylabel(axis_label(here).replace(", ", "\nwhiskers ", 1))
        ax.set_title(f"{d}", loc="left", fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=8, title="variant", title_fontsize=8, loc="best")
    axes[-1].set_xlabel("model" + (" (width multiplier)" if any(isinstance(k[1], float) for k in keys) else ""))
    fig.suptitle("Latency per model and variant on each device (hatched = flagged run)", fontsize=11)
    return save(fig, stem, formats)


def plot_float_vs_int8(data: ReportData, devices: Sequence[str], stem: Path, formats: Sequence[str],
                       quantized: str = "int8", float_variant: str = "fp32") -> list[Path]:
    """Speed-up of the quantized variant over float (median / median) per model, grouped by device."""
    if not devices:
        return []
    keys, titles = _rows(data)
    pairs: dict[str, list[Optional[float]]] = {}
    for d in devices:
        here = data.for_device(d)
        ups = []
        for k in keys:
            f, q = _first(here, k, float_variant), _first(here, k, quantized)
            ok = f and q and f.latency_ms and q.latency_ms and f.latency_stat == q.latency_stat
            ups.append(f.latency_ms / q.latency_ms if ok else None)  # type: ignore[union-attr,operator]
        pairs[d] = ups
    if not any(v is not None for ups in pairs.values() for v in ups):
        return []
    fig = _figure(7.6, 4.4)
    ax = fig.add_subplot()
    n = len(devices)
    width = 0.8 / n
    for i, d in enumerate(devices):
        xs = [j - 0.4 + width * (i + 0.5) for j, v in enumerate(pairs[d]) if v is not None]
        vs = [v for v in pairs[d] if v is not None]
        bars = ax.bar(xs, vs, width * 0.92, color=DEVICE_COLORS[i % len(DEVICE_COLORS)], label=d)
        for b, v in zip(bars, vs):
            ax.annotate(f"{v:.2f}×", (b.get_x() + b.get_width() / 2, v), xytext=(0, 2), textcoords="offset points",
                        ha="center", va="bottom", fontsize=7.5)
    ax.axhline(1.0, color="#c00", lw=1.0, ls="--")
    ax.text(1.0, 1.0, " 1× = no change ", transform=ax.get_yaxis_transform(), color="#c00", fontsize=7.5,
            ha="right", va="bottom")
    ax.set_xticks(range(len(titles)), titles)
    ax.set_ylim(0, max(1.2, max(v for ups in pairs.values() for v in ups if v is not None) * 1.18))
    ax.set_ylabel(f"speed-up × ({float_variant} median ÷ {quantized} median)")
    ax.set_xlabel("model")
    ax.set_title(f"{float_variant} vs {quantized}: speed-up per device (below 1× = {quantized} slower)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, title="device", title_fontsize=8, loc="best")
    return save(fig, stem, formats)


def slug(text: str) -> str:
    """A file-name-safe version of a device name."""
    out = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in text).strip("-.")
    return out or "device"


__all__ = ["DPI", "plot_float_vs_int8", "plot_latency_by_model", "plot_quality_vs_latency",
           "plot_quality_vs_size", "save", "slug", "spans_decades"]
