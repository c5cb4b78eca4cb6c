# -*- coding: utf-8 -*-
"""edgekit's on-device runner: measure one .tflite model and print one JSON document.

This file is pushed to the device and run by the device's own Python. It must stay ONE
file that runs on old board Pythons (3.7 on Coral Mendel, 3.6 on JetPack 4): stdlib + numpy + whichever of
``ai_edge_litert`` / ``tflite_runtime`` / ``tensorflow.lite`` (last resort) is installed.
No f-string ``=``, no walrus, no runtime ``list[int]`` annotations.

The protocol is the paper's: pin to one big core, create the interpreter (init time), run
the first inference apart, warm up until both ``--warmup-runs`` and ``--warmup-seconds``
are met, then time single invokes until both ``--runs`` and ``--min-seconds`` are met
(stopping at ``--max-seconds``). Every warm sample is kept, in order, in microseconds.
The CPU governor, frequencies and every thermal zone are read before and after.

Exit codes: 0 ok; 2 bad arguments or model missing; 3 runtime missing, model load or
delegate failure, or an invoke that failed. Every outcome — errors included — is one
JSON document with ``"status"``, written atomically to ``--out`` and to stdout.

Serve mode (``--serve``), one process per device session: first one line
``{"kind": "edgekit.serve", "status": "ready", ...}``, then for every job line on stdin
(``{"id": ..., "model": PATH, "settings": {"runs": 50, "min_seconds": 1.0, ...}}``, the
settings being the one-shot options with ``_`` for ``-``) one line on stdout: the same
document the one-shot mode prints, plus ``"id"``. A bad job is an error line, never the
end of the server. Each job runs exactly like a one-shot run (same protocol, the CPU
affinity and the peak-RSS mark reset first). EOF on stdin ends the server after the jobs
already read; if the reader of stdout goes away (the SSH channel closed, the controller
died), the server exits at once, even mid-job. ``--serve --linger S``: the same, served by a
runner that stays parked for the next session for up to S seconds (see "parked serve mode").
"""

from __future__ import absolute_import, division, print_function

import argparse
import glob
import json
import os
import platform
import socket
import sys
import threading
import time

RUNNER_VERSION = "1.0.0"
SCHEMA = 1

_CPU_DIR = "/sys/devices/system/cpu"

if hasattr(time, "perf_counter_ns"):
    _clock_ns = time.perf_counter_ns
else:  # Python 3.6 (Jetson Nano's JetPack 4): same clock, float seconds
    def _clock_ns():
        return int(time.perf_counter() * 1e9)
_THERMAL_DIR = "/sys/class/thermal"


class RunnerError(Exception):
    """An error reported as a JSON document with status "error"."""

    def __init__(self, kind, message, exit_code=3):
        Exception.__init__(self, message)
        self.kind = kind
        self.message = message
        self.exit_code = exit_code


# -- sysfs ---------------------------------------------------------------------------------

def _read(path):
    try:
        with open(path) as fh:
            return fh.read().strip()
    except (IOError, OSError):
        return None


def _read_int(path):
    text = _read(path)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _cpu_ids():
    ids = []
    for path in glob.glob(os.path.join(_CPU_DIR, "cpu[0-9]*")):
        name = os.path.basename(path)[3:]
        if name.isdigit():
            ids.append(int(name))
    return sorted(ids)


def cpu_state(cpu):
    """Governor and frequencies (kHz) of one CPU; None where the kernel does not say."""
    base = os.path.join(_CPU_DIR, "cpu%d" % cpu, "cpufreq")
    return {
        "cpu": cpu,
        "governor": _read(os.path.join(base, "scaling_governor")),
        "cur_freq_khz": _read_int(os.path.join(base, "scaling_cur_freq")),
        "max_freq_khz": _read_int(os.path.join(base, "cpuinfo_max_freq")),
        "scaling_max_freq_khz": _read_int(os.path.join(base, "scaling_max_freq")),
    }


def thermal_zones(spec):
    """Zone directories to read: ``auto`` (all) or a comma-separated list of dirs."""
    if spec in ("", "none"):
        return []
    if spec == "auto":
        return sorted(glob.glob(os.path.join(_THERMAL_DIR, "thermal_zone*")),
                      key=lambda p: int("".join(c for c in os.path.basename(p) if c.isdigit()) or 0))
    return [p for p in spec.split(",") if p]


def read_temps(zones):
    """``{"<zone>:<type>": °C}`` of every readable zone (millidegrees converted)."""
    out = {}
    for zone in zones:
        raw = _read_int(os.path.join(zone, "temp"))
        if raw is None:
            continue
        kind = _read(os.path.join(zone, "type")) or "unknown"
        value = raw / 1000.0 if abs(raw) >= 1000 else float(raw)
        out["%s:%s" % (os.path.basename(zone), kind)] = round(value, 2)
    return out


def parse_cpu_list(text):
    """``"4-7"``, ``"4,6"``, ``"3"`` -> sorted list of ints."""
    cpus = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            lo, hi = part.split("-", 1)
            cpus.update(range(int(lo), int(hi) + 1))
        else:
            cpus.add(int(part))
    return sorted(cpus)


def choose_cpus(spec, threads):
    """The CPUs to pin to: the fastest ``threads`` of the candidates (tie -> highest index)."""
    if spec == "none" or not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if spec == "auto":
        candidates = allowed
    else:
        try:
            candidates = parse_cpu_list(spec)
        except ValueError:
            raise RunnerError("bad-args", "--cpu %r is not auto, none, N or a list like 4-7" % spec, 2)
        missing = [c for c in candidates if c not in allowed]
        if missing:
            raise RunnerError("bad-args", "--cpu %s: CPU(s) %s are not available to this process "
                              "(allowed: %s)" % (spec, missing, allowed), 2)
    if not candidates:
        raise RunnerError("bad-args", "--cpu %s selects no CPU" % spec, 2)
    speed = dict((c, cpu_state(c)["max_freq_khz"] or 0) for c in candidates)
    ranked = sorted(candidates, key=lambda c: (speed[c], c), reverse=True)
    return sorted(ranked[:max(1, threads)])


def load_average():
    try:
        return list(os.getloadavg())
    except (OSError, AttributeError):
        return None


# -- runtime -------------------------------------------------------------------------------

def import_runtime(preferred):
    """(module with Interpreter + load_delegate, runtime name, runtime version)."""
    order = ["ai_edge_litert", "tflite_runtime", "tensorflow"]
    if preferred != "auto":
        if preferred not in order:
            raise RunnerError("bad-args", "--runtime %r is not auto, %s" % (preferred, ", ".join(order)), 2)
        order = [preferred]
    errors = []
    for name in order:
        try:
            if name == "ai_edge_litert":
                from ai_edge_litert import interpreter as module
                import ai_edge_litert as top
            elif name == "tflite_runtime":
                from tflite_runtime import interpreter as module
                import tflite_runtime as top
            else:
                import tensorflow as top
                module = top.lite
                if not hasattr(module, "experimental"):
                    raise ImportError("tensorflow.lite has no experimental.load_delegate")
            version = getattr(top, "__version__", "") or _dist_version(name)
            return module, name, version
        except Exception as exc:  # ImportError, or a broken native library
            errors.append("%s: %s" % (name, exc))
    raise RunnerError("runtime-missing",
                      "no TFLite runtime importable by %s (%s)" % (sys.executable, "; ".join(errors)) +
                      " — install one: pip install ai-edge-litert (or tflite-runtime)", 3)


def _dist_version(name):
    try:
        from importlib import metadata
        return metadata.version(name.replace("_", "-"))
    except Exception:
        return ""


def _load_delegate_fn(module):
    fn = getattr(module, "load_delegate", None)
    if fn is None and hasattr(module, "experimental"):
        fn = getattr(module.experimental, "load_delegate", None)
    return fn


def make_delegates(module, delegate, options):
    if delegate in ("cpu", "xnnpack", ""):
        return [], None
    library = "libedgetpu.so.1" if delegate == "edgetpu" else delegate
    load = _load_delegate_fn(module)
    if load is None:
        raise RunnerError("delegate-failed", "this runtime has no load_delegate()", 3)
    try:
        return [load(library, options)], library
    except Exception as exc:
        hint = ""
        if delegate == "edgetpu":
            hint = (" — is the Edge TPU plugged in and libedgetpu1-std (or -max) installed? "
                    "An EdgeTPU model newer than the runtime fails here too: recompile with "
                    "edgetpu_compiler -m <runtime version>")
        raise RunnerError("delegate-failed", "failed to load delegate %s: %s%s" % (library, exc, hint), 3)


def make_interpreter(module, model, threads, delegates):
    kwargs = {"model_path": model}
    if delegates:
        kwargs["experimental_delegates"] = delegates
    try:
        try:
            interp = module.Interpreter(num_threads=threads, **kwargs)
        except TypeError:  # very old runtimes without num_threads
            interp = module.Interpreter(**kwargs)
        interp.allocate_tensors()
        return interp
    except Exception as exc:
        text = str(exc).strip() or type(exc).__name__
        raise RunnerError("load-failed", "the runtime could not load %s: %s" % (model, text), 3)


def random_inputs(interp, seed):
    import numpy as np

    rng = np.random.RandomState(seed)
    specs = []
    for detail in interp.get_input_details():
        shape = [int(d) for d in detail["shape"]]
        shape = [d if d > 0 else 1 for d in shape]
        dtype = np.dtype(detail["dtype"])
        if dtype.kind == "f":
            value = rng.uniform(-1.0, 1.0, size=shape).astype(dtype)
        elif dtype.kind in "iu":
            info = np.iinfo(dtype)
            lo, hi = max(int(info.min), -128), min(int(info.max), 127 if dtype.kind == "i" else 255)
            value = rng.randint(lo, hi + 1, size=shape).astype(dtype)
        elif dtype.kind == "b":
            value = rng.randint(0, 2, size=shape).astype(dtype)
        else:
            value = np.zeros(shape, dtype=dtype)
        if list(detail["shape"]) != shape:
            interp.resize_tensor_input(detail["index"], shape)
            interp.allocate_tensors()
        interp.set_tensor(detail["index"], value)
        specs.append({"name": detail.get("name", ""), "shape": shape, "dtype": dtype.name})
    return specs


# -- measurement ---------------------------------------------------------------------------

def timed_loop(invoke, min_runs, min_seconds, deadline):
    """Invoke until both ``min_runs`` and ``min_seconds`` are met, or ``deadline`` passes."""
    clock = _clock_ns
    samples = []
    start = clock()
    min_ns = int(min_seconds * 1e9)
    while True:
        t0 = clock()
        invoke()
        t1 = clock()
        samples.append((t1 - t0) / 1000.0)
        if len(samples) >= min_runs and t1 - start >= min_ns:
            return samples, "runs"
        if t1 >= deadline:
            return samples, "max_seconds"


def timed_pairs(invoke_a, invoke_b, min_runs, min_seconds, deadline):
    """Alternate two models inference by inference (A B, B A, A B, ...: the order of each pair
    alternates) until each has ``min_runs`` samples and ``min_seconds`` have passed in all,
    or ``deadline`` passes. Pair i of the two sample lists ran microseconds apart."""
    clock = _clock_ns
    a, b = [], []
    start = clock()
    min_ns = int(min_seconds * 1e9)
    while True:
        order = ((invoke_a, a), (invoke_b, b)) if len(a) % 2 == 0 else ((invoke_b, b), (invoke_a, a))
        for invoke, out in order:
            t0 = clock()
            invoke()
            t1 = clock()
            out.append((t1 - t0) / 1000.0)
        if len(a) >= min_runs and t1 - start >= min_ns:
            return a, b, "runs"
        if t1 >= deadline:
            return a, b, "max_seconds"


def measure(args, doc):
    """Run the protocol; fields known early (runtime, pinning) go into ``doc`` even on error."""
    started_at = time.time()
    if not os.path.isfile(args.model):
        raise RunnerError("model-missing", "model %s does not exist" % args.model, 2)
    if args.baseline_model and not os.path.isfile(args.baseline_model):
        raise RunnerError("model-missing", "baseline model %s does not exist" % args.baseline_model, 2)
    if args.threads < 1 or args.runs < 1 or args.warmup_runs < 0:
        raise RunnerError("bad-args", "--threads and --runs must be >= 1, --warmup-runs >= 0", 2)
    cpus = choose_cpus(args.cpu, args.threads)
    if cpus is not None:
        os.sched_setaffinity(0, set(cpus))
    doc["pinned_cpu"] = ",".join(str(c) for c in cpus) if cpus is not None else None
    state_cpus = cpus if cpus is not None else sorted(getattr(os, "sched_getaffinity", lambda p: [0])(0))[:1]
    zones = thermal_zones(args.thermal_zones)
    before = {"cpus": [cpu_state(c) for c in state_cpus], "temps_c": read_temps(zones),
              "load_avg": load_average()}

    module, runtime, runtime_version = import_runtime(args.runtime)
    doc["runtime"], doc["runtime_version"] = runtime, runtime_version
    options = {}
    for item in args.delegate_option or []:
        if "=" not in item:
            raise RunnerError("bad-args", "--delegate-option %r is not key=value" % item, 2)
        key, value = item.split("=", 1)
        options[key] = value
    delegates, delegate_library = make_delegates(module, args.delegate, options)

    clock = _clock_ns
    t0 = clock()
    interp = make_interpreter(module, args.model, args.threads, delegates)
    init_us = (clock() - t0) / 1000.0
    inputs = random_inputs(interp, args.seed)

    invoke = interp.invoke  # timed as is: no wrapper call inside the samples
    baseline = None
    if args.baseline_model:  # an A/B run: both models in this process, interleaved per inference
        t0 = clock()
        interp_b = make_interpreter(module, args.baseline_model, args.threads, delegates)
        baseline = {"model": args.baseline_model, "model_size_bytes": os.path.getsize(args.baseline_model),
                    "init_us": (clock() - t0) / 1000.0, "inputs": random_inputs(interp_b, args.seed)}

    try:
        t0 = clock()
        invoke()
        first_us = (clock() - t0) / 1000.0
        deadline = clock() + int(args.max_seconds * 1e9)
        if baseline is None:
            warmup, _ = timed_loop(invoke, args.warmup_runs, args.warmup_seconds, deadline) \
                if (args.warmup_runs > 0 or args.warmup_seconds > 0) else ([], "runs")
            samples, stopped_by = timed_loop(invoke, args.runs, args.min_seconds, deadline)
        else:
            invoke_b = interp_b.invoke
            t0 = clock()
            invoke_b()
            baseline["first_inference_us"] = (clock() - t0) / 1000.0
            warmup, baseline["warmup_samples_us"], _ = \
                timed_pairs(invoke, invoke_b, args.warmup_runs, args.warmup_seconds, deadline) \
                if (args.warmup_runs > 0 or args.warmup_seconds > 0) else ([], [], "runs")
            samples, baseline["samples_us"], stopped_by = \
                timed_pairs(invoke, invoke_b, args.runs, args.min_seconds, deadline)
    except Exception as exc:
        raise RunnerError("invoke-failed", "invoke failed: %s" % exc, 3)

    after = {"cpus": [cpu_state(c) for c in state_cpus], "temps_c": read_temps(zones),
             "load_avg": load_average()}
    import numpy as np

    result = {
        "status": "ok",
        "model": args.model,
        "model_size_bytes": os.path.getsize(args.model),
        "runtime": runtime,
        "runtime_version": runtime_version,
        "delegate": args.delegate,
        "delegate_library": delegate_library,
        "threads": args.threads,
        "pinned_cpus": cpus,
        "pinned_cpu": ",".join(str(c) for c in cpus) if cpus is not None else None,
        "init_us": init_us,
        "first_inference_us": first_us,
        "warmup_samples_us": warmup,
        "samples_us": samples,
        "stopped_by": stopped_by,
        "inputs": inputs,
        "before": before,
        "after": after,
        "governor": before["cpus"][0]["governor"] if before["cpus"] else None,
        "temps_before_c": before["temps_c"],
        "temps_after_c": after["temps_c"],
        "peak_rss_kb": _peak_rss_kb(),
        "numpy_version": np.__version__,
        "started_at": started_at,
        "finished_at": time.time(),
    }
    if baseline is not None:
        result["baseline"] = baseline
        result["interleaved"] = "inference"
    return result


def _peak_rss_kb():
    try:
        import resource
        return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux
    except Exception:
        return None


def _reset_peak_rss():
    """Start a new peak-RSS mark (Linux >= 4.0), so a served job reports its own peak."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except (IOError, OSError):
        return False


# -- output --------------------------------------------------------------------------------

def write_atomic(path, text):
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def common_fields(args):
    return {
        "schema": SCHEMA,
        "kind": "edgekit.run",
        "runner": "edgekit-runner",
        "runner_version": RUNNER_VERSION,
        "hostname": socket.gethostname(),
        "python_version": platform.python_version(),
        "python": sys.executable,
        "settings": {
            "threads": args.threads, "warmup_runs": args.warmup_runs,
            "warmup_seconds": args.warmup_seconds, "runs": args.runs,
            "min_seconds": args.min_seconds, "max_seconds": args.max_seconds, "cpu": args.cpu,
            "delegate": args.delegate, "seed": args.seed,
        },
    }


def parser(cls=argparse.ArgumentParser):
    p = cls(description="edgekit on-device runner (prints one JSON document; --serve: one per job line)")
    p.add_argument("--model", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup-runs", type=int, default=10)
    p.add_argument("--warmup-seconds", type=float, default=0.5)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--min-seconds", type=float, default=1.0)
    p.add_argument("--max-seconds", type=float, default=150.0)
    p.add_argument("--cpu", default="auto", help="auto | none | N | LIST (e.g. 4-7)")
    p.add_argument("--delegate", default="cpu", help="cpu | xnnpack | edgetpu | PATH.so")
    p.add_argument("--delegate-option", action="append", default=[], metavar="K=V")
    p.add_argument("--runtime", default="auto", help="auto | ai_edge_litert | tflite_runtime | tensorflow")
    p.add_argument("--out", default="")
    p.add_argument("--thermal-zones", default="auto", help="auto | none | comma-separated zone dirs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--baseline-model", default="",
                   help="A/B: also measure this model, alternating with --model inference by inference")
    return p


_WARNINGS = []


def _unraisable(info):
    """Runtimes' __del__ errors (e.g. a half-built Delegate) go into the JSON, not the console."""
    _WARNINGS.append("%s in %r: %s" % (type(info.exc_value).__name__, info.object, info.exc_value))


def run_once(args):
    """One run of the protocol: (the JSON document, the exit code). Never raises."""
    del _WARNINGS[:]
    doc = common_fields(args)
    code = 0
    try:
        doc.update(measure(args, doc))
    except RunnerError as err:
        doc.update({"status": "error", "error_kind": err.kind, "error": err.message})
        code = err.exit_code
    except Exception as exc:  # a bug or an unexpected runtime failure: still one JSON document
        doc.update({"status": "error", "error_kind": "internal",
                    "error": "%s: %s" % (type(exc).__name__, exc)})
        code = 3
    import gc

    gc.collect()
    if _WARNINGS:
        doc["warnings"] = list(_WARNINGS)
    if args.out:
        try:
            write_atomic(args.out, json.dumps(doc, sort_keys=False) + "\n")
        except (IOError, OSError) as exc:
            doc.update({"status": "error", "error_kind": "write-failed",
                        "error": "cannot write %s: %s" % (args.out, exc)})
            code = code or 3
    return doc, code


# -- serve mode ----------------------------------------------------------------------------

class _JobArgumentParser(argparse.ArgumentParser):
    """The one-shot parser, raising instead of exiting (a bad job must not end the server)."""

    def error(self, message):
        raise RunnerError("bad-args", message, 2)


def job_args(job):
    """A job line's ``model`` and ``settings`` as the one-shot CLI's parsed arguments."""
    if not isinstance(job, dict):
        raise RunnerError("bad-job", "a job is a JSON object, not %s" % type(job).__name__, 2)
    settings = job.get("settings") or {}
    if not isinstance(settings, dict):
        raise RunnerError("bad-job", "job settings must be a JSON object", 2)
    model = job.get("model", settings.get("model"))
    if not isinstance(model, str) or not model:
        raise RunnerError("bad-job", "the job names no model", 2)
    argv = ["--model", model]
    for key, value in sorted(settings.items()):
        if key in ("model", "serve"):
            continue
        option = "--" + str(key).replace("_", "-")
        if isinstance(value, list):  # repeated options (delegate_option)
            for item in value:
                argv += [option, str(item)]
        elif value is not None:
            argv += [option, str(value)]
    return parser(_JobArgumentParser).parse_args(argv)


def _exit_when_reader_gone(fd):
    """Block until nobody can read ``fd`` (a pipe or socket) any more, then exit at once."""
    try:
        import select
        import stat

        if not (stat.S_ISFIFO(os.fstat(fd).st_mode) or stat.S_ISSOCK(os.fstat(fd).st_mode)):
            return
        poller = select.poll()
        poller.register(fd, 0)  # POLLERR / POLLHUP are always reported
        while True:
            events = poller.poll()  # blocks in the kernel: no GIL, no effect on the timed loop
            if any(ev & (select.POLLERR | select.POLLHUP | select.POLLNVAL) for _, ev in events):
                os._exit(141)  # like a SIGPIPE death: no result can ever be delivered
    except Exception:
        return


def runtime_hello():
    """The ready line's facts: Python, numpy and the TFLite runtime, imported once here (not in
    the first job); the same facts as edgekit's runtime probe (a failure is also reported by
    each job that needs what is missing)."""
    hello = {"kind": "edgekit.serve", "status": "ready", "runner_version": RUNNER_VERSION,
             "schema": SCHEMA, "pid": os.getpid(), "python_version": platform.python_version(),
             "python": sys.executable, "hostname": socket.gethostname()}
    try:
        import numpy
        hello["numpy_version"] = numpy.__version__
    except Exception as exc:
        hello["numpy_error"] = str(exc)
    try:
        _, hello["runtime"], hello["runtime_version"] = import_runtime("auto")
    except RunnerError as exc:
        hello["runtime_error"] = exc.message
    import gc

    if hasattr(gc, "freeze"):  # Python 3.7+: the modules loaded so far are never garbage; each
        gc.collect()           # job's gc.collect() then scans only what that job made
        gc.freeze()
    return hello


def serve(stdin=None, stdout=None):
    """Serve jobs: one JSON line in, one JSON result line out, until EOF on stdin."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    if stdout is sys.stdout:
        watchdog = threading.Thread(target=_exit_when_reader_gone, args=(stdout.fileno(),))
        watchdog.daemon = True
        watchdog.start()
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    _write_line(stdout, runtime_hello())
    return serve_jobs(stdin, stdout, affinity)


def serve_jobs(stdin, stdout, affinity):
    """The job loop of serve mode, until EOF on ``stdin`` (0)."""
    while True:
        line = stdin.readline()
        if not line:
            return 0
        line = line.strip()
        if not line:
            continue
        job_id = None
        try:
            job = json.loads(line)
            job_id = job.get("id") if isinstance(job, dict) else None
            args = job_args(job)
        except (ValueError, RunnerError) as exc:
            err = exc if isinstance(exc, RunnerError) else RunnerError("bad-job", "job is not JSON: %s" % exc, 2)
            doc = {"schema": SCHEMA, "kind": "edgekit.run", "runner": "edgekit-runner",
                   "runner_version": RUNNER_VERSION, "status": "error", "error_kind": err.kind,
                   "error": err.message, "id": job_id}
            _write_line(stdout, doc)
            continue
        if affinity is not None:
            os.sched_setaffinity(0, set(affinity))  # the previous job's pinning must not narrow this one's
        _reset_peak_rss()
        doc, _ = run_once(args)
        doc["id"] = job_id
        _write_line(stdout, doc)


# -- parked serve mode (--serve --linger S) ------------------------------------------------
#
# The runner outlives its session. edgekit's hash-checked start (devices/runners/verified.py
# in edgekit) runs it in a session of its own (setsid) as the "parked runner", listening on a
# Unix socket in the work dir, park/<this file's name>.sock (the work dir is private: 0700,
# owner-checked), and stays as a relay between the session's stdin/stdout and that socket; the
# next session's start finds the socket and only relays. The parked runner imports numpy and
# the runtime once, then serves one session at a time: "attach TOKEN PYTHON", its ready line,
# job lines until EOF, then it parks again (a session of another interpreter gets nothing and
# starts a runner of its own, which takes the socket over). While parked it reads the per-core tick counters of
# /proc/stat every 0.1 s, so the next ready line carries the last 0.5 s window of the idle
# check (``window``) without waiting for one. It ends after S seconds without a session, when
# its socket is replaced or removed, or - like every served runner - at once when the
# session's relay goes away mid-session (a dead controller). Its ledger entry (runners/<pid>)
# names the attached session's token, or "parked"; runs.log gets attach/park lines.

PARKED_TOKEN = "parked"
_WINDOW_SEPARATOR = "__EDGEKIT_WINDOW__"
_SAMPLE_S = 0.1
_WINDOW_S = 0.5


def _work_root():
    """The work dir: this file is <work dir>/bin/<name>.py."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def park_socket():
    """<work dir>/park/<this file's name>.sock (its name carries the runner's sha256 prefix)."""
    name = os.path.splitext(os.path.basename(os.path.abspath(__file__)))[0]
    return os.path.join(_work_root(), "park", name + ".sock")


def _ledger(pid, token, what, started):
    """Record ``what`` (attach | park) for ``pid`` in runs.log, and make its runners/<pid> entry
    (``pid token start``, written by the hash-checked start) name ``token``."""
    root = _work_root()
    try:
        with open(os.path.join(root, "runs.log"), "a") as log:
            log.write("%s %d %s %.6f\n" % (what, pid, token, time.time()))
    except (IOError, OSError):
        pass
    entry = os.path.join(root, "runners", str(pid))
    try:
        tmp = "%s.%d.tmp" % (entry, os.getpid())
        with open(tmp, "w") as fh:
            fh.write("%d %s %.6f\n" % (pid, token, started))
        os.rename(tmp, entry)
    except (IOError, OSError):
        pass


def _cpu_lines():
    """The per-core lines of /proc/stat (``cpuN ...``), or None."""
    try:
        with open("/proc/stat") as fh:
            return "".join(line for line in fh if line.startswith("cpu") and line[3:4].isdigit())
    except (IOError, OSError):
        return None


def _in_folder(path, call):
    """``call(name)`` run in ``path``'s folder with its base name: a socket's address is at most
    ~107 bytes, which a deep work dir would exceed (only called before any thread starts)."""
    here = os.getcwd()
    os.chdir(os.path.dirname(path))
    try:
        return call(os.path.basename(path))
    finally:
        os.chdir(here)


def parked_serve(linger):
    """``--serve --linger S``: listen on :func:`park_socket` and serve sessions until none came
    for ``linger`` seconds. Started by edgekit's hash-checked start in a session of its own
    (``setsid``), which then relays the session's stdin/stdout to it; see above."""
    path = park_socket()
    folder = os.path.dirname(path)
    try:
        os.mkdir(folder, 0o700)
    except OSError:
        if not os.path.isdir(folder):
            raise
    tmp = "%s.%d.tmp" % (path, os.getpid())
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o077)
    try:
        _in_folder(tmp, server.bind)
    finally:
        os.umask(old)
    server.listen(4)
    os.rename(tmp, path)  # connectable from now on (the backlog holds a session until it is served)
    inode = os.stat(path).st_ino
    try:
        with open(tmp, "w") as fh:
            fh.write("%d\n" % os.getpid())
        os.rename(tmp, path + ".pid")
    except (IOError, OSError):
        pass
    _parked_main(server, path, inode, linger)
    return 0


class _Watch(object):
    """Exit at once when the connection's peer is gone (its relay died); stopped at its end."""

    def __init__(self, fd):
        self.wake_r, self.wake_w = os.pipe()
        self.thread = threading.Thread(target=self._run, args=(fd,))
        self.thread.daemon = True
        self.thread.start()

    def _run(self, fd):
        import select

        poller = select.poll()
        poller.register(fd, 0)
        poller.register(self.wake_r, select.POLLIN)
        while True:
            for got, ev in poller.poll():
                if got == self.wake_r:
                    return
                if ev & (select.POLLERR | select.POLLHUP):
                    os._exit(141)

    def stop(self):
        os.write(self.wake_w, b"x")
        self.thread.join()
        os.close(self.wake_r)
        os.close(self.wake_w)


def _parked_main(server, path, inode, linger):
    """The parked runner's life: import once, then serve connections until idle for ``linger`` s."""
    import collections
    import select

    started = time.time()
    pid = os.getpid()
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    hello = runtime_hello()
    ticks = collections.deque()  # (monotonic, /proc/stat lines) while parked
    parked_at = None
    attached = 0
    try:
        while True:
            now = time.monotonic()
            if parked_at is not None:
                if now - parked_at > linger:
                    return
                lines = _cpu_lines()
                if lines is not None:
                    ticks.append((now, lines))
                while len(ticks) > 2 and ticks[1][0] <= now - _WINDOW_S:
                    ticks.popleft()
                try:
                    if os.stat(path).st_ino != inode:
                        return  # another runner parks there now
                except OSError:
                    return      # removed: the work dir was cleaned
            ready, _, _ = select.select([server], [], [], _SAMPLE_S)
            if not ready:
                continue
            conn, _ = server.accept()
            try:
                attached += 1
                _serve_connection(conn, hello, affinity, parked_at, ticks, attached, pid, started)
            except (IOError, OSError, ValueError, RunnerError) as exc:  # that session ends; the next may come
                sys.stderr.write("%s session %d: %s: %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), attached,
                                                              type(exc).__name__, exc))
                sys.stderr.flush()
            finally:
                conn.close()
            _ledger(pid, PARKED_TOKEN, "park", started)
            parked_at = time.monotonic()
            ticks.clear()
    finally:
        try:
            if os.stat(path).st_ino == inode:
                os.remove(path)
                os.remove(path + ".pid")
        except OSError:
            pass


def _serve_connection(conn, hello, affinity, parked_at, ticks, attached, pid, started):
    """One session on the parked runner: its ready line (with the idle window), then its jobs."""
    conn.settimeout(10.0)
    rfile = conn.makefile("r")
    first = rfile.readline().rstrip("\r\n").split(" ", 2)  # attach TOKEN [PYTHON]
    if len(first) not in (2, 3) or first[0] != "attach":
        raise RunnerError("attach", "not a session: %r" % " ".join(first)[:200])
    if len(first) == 3 and first[2] != sys.executable:  # as started: a venv's python is another one
        # it starts its own runner, which takes the socket over
        raise RunnerError("attach", "a session of %s, not %s" % (first[2], sys.executable))
    conn.settimeout(None)
    _ledger(pid, first[1], "attach", started)
    doc = dict(hello, attached=attached)
    if parked_at is not None:
        # the idle check's window: the per-core ticks of the last 0.5 s (waited for, if parked
        # for less), read while this process only slept between two reads
        while time.monotonic() - parked_at < _WINDOW_S + 0.01:
            time.sleep(_SAMPLE_S / 2)
        now = time.monotonic()
        after = _cpu_lines()
        before = None
        for at, lines in ticks:  # the latest reading at least 0.5 s old (else the oldest)
            if before is None or at <= now - _WINDOW_S:
                before = (at, lines)
        if before is not None and after is not None:
            doc["window"] = "%s%s\n%s" % (before[1], _WINDOW_SEPARATOR, after)
            doc["window_s"] = round(now - before[0], 3)
        doc["parked_s"] = round(now - parked_at, 3)
    wfile = conn.makefile("w")
    watch = _Watch(conn.fileno())
    try:
        _write_line(wfile, doc)
        serve_jobs(rfile, wfile, affinity)
    finally:
        watch.stop()
        try:
            wfile.close()
        except (IOError, OSError):
            pass


def _write_line(stream, doc):
    stream.write(json.dumps(doc, sort_keys=False) + "\n")
    stream.flush()


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if hasattr(sys, "unraisablehook"):  # Python 3.8+
        sys.unraisablehook = _unraisable
    if "--serve" in argv:
        rest = [a for a in argv if a != "--serve"]
        if not rest:
            return serve()
        if len(rest) == 2 and rest[0] == "--linger":
            try:
                linger = float(rest[1])
            except ValueError:
                linger = -1.0
            if linger > 0 and hasattr(socket, "AF_UNIX"):
                return parked_serve(linger)
            if linger == 0:
                return serve()
        sys.stderr.write("--serve takes only --linger SECONDS (> 0): each job line carries its settings\n")
        return 2
    args = parser().parse_args(argv)
    doc, code = run_once(args)
    sys.stdout.write(json.dumps(doc, sort_keys=False) + "\n")
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
