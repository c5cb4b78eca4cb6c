"""Predicted against measured latency, held out by architecture (one PNG or SVG)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError


def predicted_vs_measured(result: Any, out: str | Path, title: str = "") -> Path:
    """Plot an :class:`~edgekit.predict.evaluate.EvalResult`'s held-out predictions (log-log,
    with their intervals, the identity line and ±10 % lines); returns the path.

    Raises:
        ConfigError: the file name's suffix is not .png or .svg.
    """
    out = Path(out)
    if out.suffix.lower() not in (".png", ".svg"):
        raise ConfigError(f"plot file '{out}' is not .png or .svg", hint="name it e.g. predicted.png")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result.predictions
    m = np.array([r["measured_ms"] for r in rows])
    p = np.array([r["predicted_ms"] for r in rows])
    lo = np.array([r["interval_ms"][0] for r in rows])
    hi = np.array([r["interval_ms"][1] for r in rows])
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for dtype, marker in (("fp32", "o"), ("int8", "s")):
        sel = np.array([r.get("dtype") == dtype for r in rows])
        if sel.any():
            ax.errorbar(m[sel], p[sel], yerr=[p[sel] - lo[sel], hi[sel] - p[sel]], fmt=marker, ms=3, alpha=0.6,
                        elinewidth=0.4, label=dtype)
    other = np.array([r.get("dtype") not in ("fp32", "int8") for r in rows])
    if other.any():
        ax.plot(m[other], p[other], "^", ms=3, alpha=0.6, label="other")
    a, b = float(min(m.min(), p.min())), float(max(m.max(), p.max()))
    ax.plot([a, b], [a, b], "k-", lw=0.8)
    ax.plot([a, b], [a * 1.1, b * 1.1], "k:", lw=0.6, label="±10 %")
    ax.plot([a, b], [a / 1.1, b / 1.1], "k:", lw=0.6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("measured latency (ms)")
    ax.set_ylabel("predicted latency (ms), held out")
    ax.set_title(title or result.approach, fontsize=10)
    ax.text(0.02, 0.98, f"{result.n} models, {result.architectures} architectures\n"
            f"within ±10 %: {result.within_10:.1%}, RMSPE {result.rmspe:.1%}\n"
            f"{result.level:.0%} interval coverage {result.coverage:.1%}",
            transform=ax.transAxes, va="top", fontsize=8)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
