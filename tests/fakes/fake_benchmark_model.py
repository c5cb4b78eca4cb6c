#!/usr/bin/env python3
"""A stand-in for TFLite's ``benchmark_model``: prints the real tool's output formats.

For parser and runner-path tests only — it measures nothing. It accepts the real tool's
flags (``--graph=… --num_threads=… --warmup_runs=… --num_runs=… --min_secs=… …``), checks
that the graph file exists, and prints, verbatim in shape, one of the formats the real tool
has printed over the years (``/work/shared/formats/README.md``; the numbers are the
documented examples):

* ``new``        2024+ builds: ``INFO:`` prefix, stats with p5/median/p95, ``Inference timings
                 in us`` and the memory-delta line (plus the peak line with
                 ``--report_peak_memory_footprint=true`` and op tables with
                 ``--enable_op_profiling=true``);
* ``old-stats``  builds without p5/median/p95 and without the ``INFO:`` prefix;
* ``oldest``     ``Average inference timings in us: Warmup: …, Init: …, Inference: …`` and
                 ``Peak memory footprint (MB): init=… overall=…``;
* ``litert``     ``benchmark_litert_model``'s ``BENCHMARK RESULTS`` block;
* ``op-version`` the failure of a runtime that lacks an operator version (exit 1).

The format is chosen by ``--edgekit_fake_format=NAME``, else ``$EDGEKIT_FAKE_BENCHMARK_FORMAT``,
else :data:`DEFAULT_FORMAT` (tests write copies with another default, so the choice
travels with the file through any transport: :func:`write_fake`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DEFAULT_FORMAT = "new"
FORMATS = ("new", "old-stats", "oldest", "litert", "op-version")

HEADER_NEW = """INFO: STARTING!
INFO: Log parameter values verbosely: [0]
INFO: Num threads: [{threads}]
INFO: Graph: [{graph}]
INFO: #threads used for CPU inference: [{threads}]
INFO: Loaded model {graph}
INFO: Initialized TensorFlow Lite runtime.
INFO: Created TensorFlow Lite XNNPACK delegate for CPU.
"""

NEW = """INFO: The input model file size (MB): 8.45746
INFO: Initialized session in 143.669ms.
INFO: Running benchmark for at least {warmup_runs} iterations and at least {warmup_min_secs} seconds but terminate if exceeding {max_secs} seconds.
INFO: count=12 first=72635 curr=43210 min=42100 max=72635 avg=45536.2 std=8011 p5=42100 median=43300 p95=72635

INFO: Running benchmark for at least {num_runs} iterations and at least {min_secs} seconds but terminate if exceeding {max_secs} seconds.
INFO: count=50 first=42142 curr=42232 min=42142 max=42763 avg=42435.4 std=147 p5=42232 median=42405 p95=42729

INFO: Inference timings in us: Init: 143669, First inference: 72635, Warmup (avg): 43536.2, Inference (avg): 42435.4
INFO: Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.
INFO: Memory footprint delta from the start of the tool (MB): init=23.5625 overall=27.5859
"""

PEAK = "INFO: Overall peak memory footprint (MB) via periodic monitoring: 30.1\n"

OP_PROFILE = """INFO: Operator-wise Profiling Info for Regular Benchmark Runs:
============================== Run Order ==============================
\t             [node type]\t          [first]\t  [avg ms]\t      [%]\t    [cdf%]\t  [mem KB]\t[times called]\t[Name]
\t                 CONV_2D\t           18.210\t    17.958\t 42.318%\t 42.318%\t     0.000\t        1\t[conv1]:0
\t       DEPTHWISE_CONV_2D\t            9.114\t     9.020\t 21.256%\t 63.574%\t     0.000\t        1\t[dw1]:1
\t                 CONV_2D\t           15.002\t    14.890\t 35.089%\t 98.663%\t     0.000\t        1\t[conv2]:2
\t         FULLY_CONNECTED\t            0.571\t     0.567\t  1.337%\t100.000%\t     0.000\t        1\t[logits]:3

============================== Top by Computation Time ==============================
\t             [node type]\t          [first]\t  [avg ms]\t      [%]\t    [cdf%]\t  [mem KB]\t[times called]\t[Name]
\t                 CONV_2D\t           18.210\t    17.958\t 42.318%\t 42.318%\t     0.000\t        1\t[conv1]:0
\t                 CONV_2D\t           15.002\t    14.890\t 35.089%\t 77.407%\t     0.000\t        1\t[conv2]:2
\t       DEPTHWISE_CONV_2D\t            9.114\t     9.020\t 21.256%\t 98.663%\t     0.000\t        1\t[dw1]:1
\t         FULLY_CONNECTED\t            0.571\t     0.567\t  1.337%\t100.000%\t     0.000\t        1\t[logits]:3

Number of nodes executed: 4
============================== Summary by node type ==============================
\t             [Node type]\t  [count]\t  [avg ms]\t    [avg %]\t    [cdf %]\t  [mem KB]\t[times called]
\t                 CONV_2D\t        2\t    32.848\t    77.407%\t    77.407%\t     0.000\t        2
\t       DEPTHWISE_CONV_2D\t        1\t     9.020\t    21.256%\t    98.663%\t     0.000\t        1
\t         FULLY_CONNECTED\t        1\t     0.567\t     1.337%\t   100.000%\t     0.000\t        1

Timings (microseconds): count=50 first=42897 curr=42416 min=42301 max=43011 avg=42435 std=147
Memory (bytes): count=0
4 nodes observed

"""

OLD_STATS = """STARTING!
Min num runs: [{num_runs}]
Min runs duration (seconds): [{min_secs}]
Max runs duration (seconds): [{max_secs}]
Num threads: [{threads}]
Min warmup runs: [{warmup_runs}]
Min warmup runs duration (seconds): [{warmup_min_secs}]
Graph: [{graph}]
Loaded model {graph}
Initialized session in 38.467ms.
Running benchmark for at least {warmup_runs} iterations and at least {warmup_min_secs} seconds but terminate if exceeding {max_secs} seconds.
count=161 first=3514 curr=3125 min=3097 max=3514 avg=3160.2 std=64

Running benchmark for at least {num_runs} iterations and at least {min_secs} seconds but terminate if exceeding {max_secs} seconds.
count=316 first=3222 curr=3125 min=3097 max=3514 avg=3162.37 std=67

Inference timings in us: Init: 38467, First inference: 3514, Warmup (avg): 3160.2, Inference (avg): 3162.37
Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.
Peak memory footprint (MB): init=2.76172 overall=10.8594
"""

OLDEST = """STARTING!
Num runs: [{num_runs}]
Inter-run delay (seconds): [-1]
Num threads: [{threads}]
Graph: [{graph}]
Loaded model {graph}
resolved reporter
Initialized session in 38.467ms
Running benchmark for at least {warmup_runs} iterations and at least {warmup_min_secs} seconds
count=7 first=83235 curr=79420 min=79420 max=83235 avg=80189.3 std=1283

Running benchmark for at least {num_runs} iterations and at least {min_secs} seconds
count=50 first=79531 curr=79760 min=79102 max=80961 avg=79760.9 std=412

Average inference timings in us: Warmup: 83235, Init: 38467, Inference: 79760.9
Peak memory footprint (MB): init=2.76172 overall=10.8594
"""

LITERT = """[litert] Loading model {graph}
[litert] Using CPU accelerator, {threads} thread(s)
========== BENCHMARK RESULTS ==========
Model initialization: 143.67 ms
Warmup (first):       72.64 ms
Warmup (avg):         43.54 ms (1 runs)
Inference (avg):      42.44 ms (50 runs)
Inference (min|max|std): 42.14 | 42.76 | 0.15 ms
Init footprint:       23.56 MB
Overall footprint:    27.59 MB
Peak memory:          30.10 MB
"""

OP_VERSION = """ERROR: Didn't find op for builtin opcode 'FULLY_CONNECTED' version '12'. An older version of this builtin might be supported. Are you using an old TFLite binary with a newer model?

ERROR: Registration failed.

Failed to initialize the interpreter
Benchmarking failed.
"""


def _flags(argv: list[str]) -> dict[str, str]:
    out = {}
    for arg in argv:
        if arg.startswith("--") and "=" in arg:
            key, value = arg[2:].split("=", 1)
            out[key] = value
    return out


def render(fmt: str, values: dict[str, str], flags: dict[str, str]) -> tuple[str, str, int]:
    """(stdout, stderr, exit code) of a run in format ``fmt``."""
    if fmt == "new":
        out = HEADER_NEW.format(**values) + NEW.format(**values)
        if flags.get("report_peak_memory_footprint") == "true":
            out += PEAK
        if flags.get("enable_op_profiling") == "true":
            out += OP_PROFILE
        return out, "", 0
    if fmt in ("old-stats", "oldest", "litert"):
        text = {"old-stats": OLD_STATS, "oldest": OLDEST, "litert": LITERT}[fmt]
        return text.format(**values), "", 0
    if fmt == "op-version":
        return HEADER_NEW.format(**values), OP_VERSION, 1
    return "", f"fake benchmark_model: unknown format {fmt!r} (one of {', '.join(FORMATS)})\n", 2


def _values(flags: dict[str, str]) -> dict[str, str]:
    return {"graph": flags.get("graph", ""), "threads": flags.get("num_threads", "-1"),
            "num_runs": flags.get("num_runs", "50"), "min_secs": flags.get("min_secs", "1"),
            "max_secs": flags.get("max_secs", "150"), "warmup_runs": flags.get("warmup_runs", "1"),
            "warmup_min_secs": flags.get("warmup_min_secs", "0.5")}


def main(argv: list[str]) -> int:
    flags = _flags(argv)
    fmt = flags.get("edgekit_fake_format") or os.environ.get("EDGEKIT_FAKE_BENCHMARK_FORMAT") or DEFAULT_FORMAT
    values = _values(flags)
    if not values["graph"]:
        sys.stderr.write("ERROR: Please specify the name of your TF Lite input file with --graph\n")
        return 1
    if not Path(values["graph"]).is_file():
        sys.stderr.write(f"ERROR: Could not open '{values['graph']}'.\n")
        return 1
    out, err, code = render(fmt, values, flags)
    sys.stdout.write(out)
    sys.stdout.flush()
    sys.stderr.write(err)
    return code


def write_fake(folder: Path, fmt: str = DEFAULT_FORMAT, name: str = "benchmark_model") -> Path:
    """An executable copy of this script whose default format is ``fmt``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    text = Path(__file__).read_text(encoding="utf-8")
    text = text.replace('DEFAULT_FORMAT = "new"', f"DEFAULT_FORMAT = {fmt!r}", 1)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    path.chmod(0o755)
    return path


def output(fmt: str, graph: str = "/data/local/tmp/model.tflite", **flags: str) -> str:
    """What a run prints in ``fmt`` (stdout then stderr), for parser tests."""
    flags = {"graph": graph, "num_threads": "1", **flags}
    out, err, _ = render(fmt, _values(flags), flags)
    return out + err


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
