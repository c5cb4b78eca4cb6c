"""Parse what TFLite's ``benchmark_model`` and LiteRT's ``benchmark_litert_model`` /
``litert-benchmark`` print, in every format they have printed (see the formats notes):

* the stats line, new (``count= first= curr= min= max= avg= std= p5= median= p95=``) and
  old (without ``p5/median/p95``): the first after a ``Running benchmark`` line is the
  warm-up, the last the timed runs;
* ``Inference timings in us: Init: …, First inference: …, Warmup (avg): …, Inference (avg): …``
  and the older ``Average inference timings in us: Warmup: …, Init: …, Inference: …``;
* memory: ``Memory footprint delta … init= overall=``, ``Peak memory footprint (MB): init=
  overall=`` (older) and ``Overall peak memory footprint (MB) via periodic monitoring: X``;
* ``--enable_op_profiling`` tables (``==== Run Order ====``, ``Top by Computation Time``,
  ``Summary by node type`` …), their ``Timings (microseconds): count=…`` and
  ``Number of nodes executed``;
* LiteRT's ``BENCHMARK RESULTS`` block (ms), native and Python forms.

Lines may carry an ``INFO: `` / ``WARNING: `` / ``ERROR: `` prefix. ``benchmark_model``
prints aggregates only — no per-run samples — and :meth:`BenchmarkOutput.aggregate` says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from ...measurement import LatencyStats

__all__ = ["StatsLine", "OpTable", "BenchmarkOutput", "parse_benchmark_output", "parse_stats_line"]

_PREFIX = re.compile(r"^(?:[A-Z]+: |\w+\.cc:\d+\] |[IWEF]\d{4} [\d:.]+\s+\d+ \S+\] )")
_STATS = re.compile(r"\bcount=(\d+)((?:\s+\w+=[-+0-9.eE]+)+)")
_KV = re.compile(r"(\w+)=([-+0-9.eE]+)")
_NUM = r"([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
_TABLE_TITLE = re.compile(r"^=+ (.+?) =+$")


@dataclass(frozen=True)
class StatsLine:
    """One ``count=… first=… …`` line (microseconds)."""

    count: int
    first: Optional[float] = None
    curr: Optional[float] = None
    min: Optional[float] = None
    max: Optional[float] = None
    avg: Optional[float] = None
    std: Optional[float] = None
    p5: Optional[float] = None
    median: Optional[float] = None
    p95: Optional[float] = None


@dataclass(frozen=True)
class OpTable:
    """One op-profiling table: its title, column names, and rows as ``{column: text}``."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[dict[str, str], ...]


@dataclass(frozen=True)
class BenchmarkOutput:
    """Everything parsed from one run's output. Times in microseconds, memory in MB."""

    tool: str                                  # benchmark_model | benchmark_litert_model
    format: str                                # new | old-stats | oldest | litert | unknown
    model_size_mb: Optional[float] = None
    init_us: Optional[float] = None
    first_inference_us: Optional[float] = None
    warmup_avg_us: Optional[float] = None
    inference_avg_us: Optional[float] = None
    warmup: Optional[StatsLine] = None
    inference: Optional[StatsLine] = None
    memory_init_mb: Optional[float] = None
    memory_overall_mb: Optional[float] = None
    peak_memory_mb: Optional[float] = None
    op_tables: tuple[OpTable, ...] = ()
    op_timings: Optional[StatsLine] = None
    nodes_executed: Optional[int] = None
    errors: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.inference is not None or self.inference_avg_us is not None

    def aggregate(self) -> Optional[LatencyStats]:
        """The timed runs' statistics as printed; None unless count, min, max, avg and median are known.

        ``p10``/``p90``/``p99`` are not printed by these tools: they are None here, not guessed.
        """
        s = self.inference
        if s is None or None in (s.min, s.max, s.avg, s.median):
            return None
        std = s.std if s.std is not None else 0.0
        return LatencyStats(count=s.count, min=float(s.min), mean=float(s.avg), median=float(s.median),  # type: ignore[arg-type]
                            p10=None, p90=None, p99=None, max=float(s.max), std=float(std),  # type: ignore[arg-type]
                            cv=(std / s.avg) if s.avg else 0.0)

    def as_dict(self) -> dict[str, object]:
        from dataclasses import asdict

        return asdict(self)


def parse_stats_line(line: str) -> Optional[StatsLine]:
    """``count=50 first=… curr=… min=… max=… avg=… std=… [p5=… median=… p95=…]``."""
    m = _STATS.search(line)
    if not m:
        return None
    kv = {k: float(v) for k, v in _KV.findall(m.group(2))}
    known = {k: kv.get(k) for k in ("first", "curr", "min", "max", "avg", "std", "p5", "median", "p95")}
    return StatsLine(count=int(m.group(1)), **known)


def _strip(line: str) -> str:
    return _PREFIX.sub("", line.rstrip("\r\n"), count=1)


def _timings(text: str) -> dict[str, float]:
    """``Init: 143669, First inference: 72635, Warmup (avg): 43536.2`` → dict."""
    out: dict[str, float] = {}
    for part in text.split(","):
        key, sep, value = part.rpartition(":")
        m = re.match(r"\s*" + _NUM, value)
        if sep and m:
            out[key.strip().lower()] = float(m.group(1))
    return out


def parse_benchmark_output(text: str) -> BenchmarkOutput:
    """Parse the combined stdout+stderr of one ``benchmark_model``-family run."""
    raw_lines = (text or "").splitlines()
    lines = [_strip(raw) for raw in raw_lines]
    if any("BENCHMARK RESULTS" in ln for ln in lines):
        return _parse_litert(lines)
    v: dict[str, object] = {}
    stats: list[StatsLine] = []
    errors: list[str] = []
    tables: list[OpTable] = []
    fmt = "unknown"
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if raw_lines[i].startswith("ERROR") or line.startswith(("Failed", "Benchmarking failed")):
            errors.append(line)
        m = _TABLE_TITLE.match(line)
        if m:
            table, i = _parse_table(m.group(1), lines, i + 1)
            tables.append(table)
            continue
        if line.startswith("Timings (microseconds):"):
            v["op_timings"] = parse_stats_line(line)
        elif line.startswith("Number of nodes executed:"):
            v["nodes_executed"] = int(line.split(":")[1])
        elif line.startswith("The input model file size (MB):"):
            v["model_size_mb"] = float(line.split(":")[1])
        elif line.startswith("Inference timings in us:"):
            t = _timings(line.split(":", 1)[1])
            v.update(init_us=t.get("init"), first_inference_us=t.get("first inference"),
                     warmup_avg_us=t.get("warmup (avg)"), inference_avg_us=t.get("inference (avg)"))
            fmt = "new" if fmt == "unknown" else fmt
        elif line.startswith("Average inference timings in us:"):
            t = _timings(line.split(":", 1)[1])
            v.update(init_us=t.get("init"), warmup_avg_us=t.get("warmup"), inference_avg_us=t.get("inference"))
            fmt = "oldest"
        elif "footprint" in line and "init=" in line:
            kv = dict(_KV.findall(line))
            v.update(memory_init_mb=_f(kv.get("init")), memory_overall_mb=_f(kv.get("overall")))
            if line.startswith("Peak memory footprint"):
                v["peak_memory_mb"] = _f(kv.get("overall"))
        elif line.startswith("Overall peak memory footprint"):
            m2 = re.search(_NUM + r"\s*$", line)
            v["peak_memory_mb"] = float(m2.group(1)) if m2 else None
        elif line.startswith("Initialized session in"):
            m2 = re.search(_NUM + r"\s*ms", line)
            if m2 and v.get("init_us") is None:
                v["init_us"] = float(m2.group(1)) * 1000.0
        elif line.startswith("count="):
            s = parse_stats_line(line)
            if s is not None:
                stats.append(s)
        i += 1
    warmup, inference = (stats[0], stats[-1]) if len(stats) >= 2 else (None, stats[0] if stats else None)
    if inference is not None and fmt != "oldest":
        fmt = "new" if inference.median is not None else "old-stats"
    if inference is not None and v.get("first_inference_us") is None and warmup is not None:
        v["first_inference_us"] = warmup.first
    return BenchmarkOutput(tool="benchmark_model", format=fmt, warmup=warmup, inference=inference,
                           op_tables=tuple(tables), errors=tuple(errors), **v)  # type: ignore[arg-type]


def _parse_table(title: str, lines: list[str], i: int) -> tuple[OpTable, int]:
    columns: tuple[str, ...] = ()
    rows: list[dict[str, str]] = []
    while i < len(lines):
        raw = lines[i]
        line = raw.strip()
        if not line:
            if columns:
                i += 1
                break
            i += 1
            continue
        if _TABLE_TITLE.match(line) or line.startswith(("Timings (microseconds)", "Number of nodes")):
            break
        cells = [c.strip() for c in raw.split("\t") if c.strip()] if "\t" in raw else re.split(r"\s{2,}", line)
        if not columns and line.startswith("["):
            columns = tuple(c.strip("[] ").lower() for c in re.findall(r"\[[^\]]*\]", line))
        elif columns:
            rows.append(dict(zip(columns, cells)))
        i += 1
    return OpTable(title, columns, tuple(rows)), i


def _parse_litert(lines: list[str]) -> BenchmarkOutput:
    """LiteRT's ``BENCHMARK RESULTS`` block (values in ms) → microseconds."""
    vals: dict[str, float] = {}
    counts: dict[str, int] = {}
    extra: dict[str, str] = {}
    errors = [ln for ln in lines if ln.startswith(("ERROR", "Failed"))]
    inside = False
    for line in lines:
        line = line.strip()
        if "BENCHMARK RESULTS" in line:
            inside = True
            continue
        if not inside or not line or set(line) <= {"="}:
            continue
        key, sep, rest = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        nums = [float(n) for n in re.findall(_NUM, rest.split("(")[0])]
        m = re.search(r"\((\d+) runs\)", rest)
        if m:
            counts[key] = int(m.group(1))
        sub = re.match(r"inference \(([^)]*)\)", key)
        if sub and "|" in sub.group(1):
            for name, value in zip(sub.group(1).split("|"), nums):
                vals[f"inference ({name.strip()})"] = value
        elif nums and ("ms" in rest or key.startswith(("model init", "warmup", "inference"))):
            vals[key] = nums[0]
        else:
            extra[key] = rest.strip()
        if key.startswith(("init footprint", "overall footprint", "peak memory")) and nums:
            vals[key] = nums[0]

    def us(k: str) -> Optional[float]:
        return vals[k] * 1000.0 if k in vals else None

    n = counts.get("inference (avg)", 0)
    inference = None
    if "inference (avg)" in vals:
        inference = StatsLine(count=n, min=us("inference (min)"), max=us("inference (max)"),
                              avg=us("inference (avg)"), std=us("inference (std)"), p5=us("inference (p5)"),
                              median=us("inference (median)"), p95=us("inference (p95)"))
    warmup = None
    if "warmup (avg)" in vals:
        warmup = StatsLine(count=counts.get("warmup (avg)", 0), first=us("warmup (first)"), avg=us("warmup (avg)"))
    return BenchmarkOutput(
        tool="benchmark_litert_model", format="litert", init_us=us("model initialization"),
        first_inference_us=us("warmup (first)"), warmup_avg_us=us("warmup (avg)"),
        inference_avg_us=us("inference (avg)"), warmup=warmup, inference=inference,
        memory_init_mb=vals.get("init footprint"), memory_overall_mb=vals.get("overall footprint"),
        peak_memory_mb=vals.get("peak memory"), errors=tuple(errors), extra=extra,
    )


def _f(text: Optional[str]) -> Optional[float]:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None
