"""``edgekit lab``: run a lab file on a device farm; gate the results against a baseline.

Subcommands: ``run`` (measure everything, write JUnit / JSON / Markdown, gate), ``check``
(validate a lab file and list its jobs), ``status`` (jobs by state in the store), ``gate``
(judge an existing results file against a baseline), ``serve`` (a live dashboard, :mod:`.lab_serve`).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, List, Optional

import typer
from rich.markup import escape

from ..progress import ProgressCallback, ProgressEvent
from . import render
from .lab_serve import serve_command
from .options import store_option

lab_app = typer.Typer(help="Run lab files on a device farm; CI reports and a regression gate.",
                      no_args_is_help=True)

_STORE = store_option("Results store: a file path, sqlite:///PATH or postgresql://… URL (default: the lab's "
                      "[lab] store, else $EDGEKIT_STORE, else .edgekit/results.sqlite).")
_PROFILES = typer.Option(None, "--profiles", help="Extra device-profile folder (repeatable).")
_MARGIN_PCT = typer.Option(5.0, "--margin-pct", help="Gate: the slowdown of the median tolerated, in %; a job "
                           "regresses when the lower confidence bound of its change exceeds it.")
_CONFIDENCE = typer.Option(0.95, "--confidence", help="Gate: one-sided confidence of that bound (0.95: a true "
                           "change within the margin is called a regression at most 5 % of the time).")
_MISSING = typer.Option("fail", "--missing", help="Gate: fail | pass when baseline jobs or quality metrics are "
                        "missing from the new run (pass only reports them).")
_MAX_DROP = typer.Option(0.01, "--max-quality-drop", help="Gate: allowed absolute quality drop (0.01 = 1 point).")
_AGG_ONLY = typer.Option(None, "--aggregate-only", help="Gate: fail | pass a job it cannot judge (aggregate-only "
                         "runs with no spread); default: the lab's gate_aggregate_only, else fail.")


def register(app: typer.Typer) -> None:
    app.add_typer(lab_app, name="lab")


lab_app.command("serve")(serve_command)   # the body lives in .lab_serve


@lab_app.command("run")
def run_command(
    lab_file: Path = typer.Argument(..., help="The lab file (TOML)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the lab's last run (or join a running one)."),
    fresh: bool = typer.Option(False, "--fresh", help="Start a new run even though the lab ran before."),
    store: Optional[str] = _STORE,
    profiles: Optional[List[Path]] = _PROFILES,
    junit: Optional[Path] = typer.Option(None, "--junit", help="Write JUnit XML here."),
    json_out: Optional[str] = typer.Option(None, "--json", help="Write the results JSON here ('-': stdout)."),
    markdown: Optional[Path] = typer.Option(None, "--markdown", help="Write a Markdown summary here."),
    baseline: Optional[Path] = typer.Option(None, "--baseline", help="Results JSON of an earlier run to gate "
                                            "against."),
    margin_pct: float = _MARGIN_PCT,
    confidence: float = _CONFIDENCE,
    missing: str = _MISSING,
    max_quality_drop: float = _MAX_DROP,
    progress: str = typer.Option("auto", "--progress", help="auto | live | plain | jsonl | none (on stderr)."),
) -> None:
    """Measure every job of LAB_FILE on its devices, then report and gate the results."""
    from ..farm.lab import Lab

    gate_settings = _gate_settings(margin_pct, confidence, max_quality_drop, missing)
    base_doc = _baseline(baseline)
    lab = Lab.load(lab_file, store=store, profile_dirs=profiles or ())
    mode = _progress_mode(progress, json_out == "-")
    with _progress_view(mode, lab) as callback:
        result = lab.run(resume=resume, fresh=fresh, progress=callback)
    doc = result.results()
    gate_settings = dataclasses.replace(gate_settings, aggregate_only=lab.spec.gate_aggregate_only)
    _finish(doc, base_doc, baseline, gate_settings, junit, json_out, markdown)


@lab_app.command("gate")
def gate_command(
    results: Path = typer.Argument(..., help="A results JSON written by `edgekit lab run --json`."),
    baseline: Optional[Path] = typer.Option(None, "--baseline", help="The baseline results JSON (not needed "
                                            "when every job has an in-run baseline: lab `baseline` key)."),
    margin_pct: float = _MARGIN_PCT,
    confidence: float = _CONFIDENCE,
    missing: str = _MISSING,
    max_quality_drop: float = _MAX_DROP,
    junit: Optional[Path] = typer.Option(None, "--junit", help="Write JUnit XML here."),
    markdown: Optional[Path] = typer.Option(None, "--markdown", help="Write a Markdown summary here."),
    json_out: Optional[str] = typer.Option(None, "--json", help="Write results + verdicts here ('-': stdout)."),
    aggregate_only: Optional[str] = _AGG_ONLY,
    paired_rule: str = typer.Option("significant", "--paired-rule", help="Jobs with an in-run baseline: "
                                    "significant (95 % lower bound > 0 and estimate > margin) | bound (lower "
                                    "bound > margin)."),
    paired_method: str = typer.Option("t", "--paired-method", help="Jobs with an in-run baseline: the interval "
                                      "of the paired sessions' log ratios, t | signed-rank."),
) -> None:
    """Judge an existing results file against a baseline (exit 1 when a job regressed or failed)."""
    from ..errors import ConfigError
    from ..farm.gate import AGGREGATE_ONLY_CHOICES
    from ..farm.results import read_results

    doc = read_results(results)
    if baseline is None and not any(isinstance(j.get("baseline"), dict) for j in doc["jobs"]):
        raise ConfigError(f"results file '{results}' has no job with an in-run baseline, and no --baseline was given",
                          hint="pass --baseline <earlier results.json>, or give the lab's jobs a `baseline` key")
    recorded = ((doc.get("gate") or {}).get("settings") or {}).get("aggregate_only")  # the lab's, from `lab run`
    choice = aggregate_only or recorded or "fail"
    if choice not in AGGREGATE_ONLY_CHOICES:
        raise ConfigError(f"--aggregate-only {choice!r} is not valid", hint="one of: fail, pass")
    settings = dataclasses.replace(_gate_settings(margin_pct, confidence, max_quality_drop, missing),
                                   aggregate_only=choice, paired_rule=paired_rule, paired_method=paired_method)
    _finish(doc, _baseline(baseline), baseline, settings, junit, json_out, markdown)


@lab_app.command("check")
def check_command(
    lab_file: Path = typer.Argument(..., help="The lab file (TOML)."),
    store: Optional[str] = _STORE,
    profiles: Optional[List[Path]] = _PROFILES,
    as_json: bool = typer.Option(False, "--json", help="Print devices and jobs as JSON."),
) -> None:
    """Validate LAB_FILE and list its devices and jobs; runs nothing."""
    from ..farm.lab import Lab

    lab = Lab.load(lab_file, store=store, profile_dirs=profiles or ())
    devices = [{"name": d.name, "profile": d.profile.name, "transport": d.profile.transport, "key": d.key,
                "keep_runner_s": d.profile.keep_runner_s} for d in lab.spec.devices]
    jobs = [{"key": j.key, "name": j.label, "artifact": str(j.artifact.path), "target": j.target,
             "target_kind": j.target_kind, "settings": j.settings.to_dict(),
             "baseline": str(j.baseline.path) if j.baseline else None} for j in lab.jobs]
    if as_json:
        render.print_json({"lab": lab.name, "store": lab.store.location, "devices": devices, "jobs": jobs})
        return
    c = render.console()
    c.print(render.table(f"Lab {lab.name}: {len(devices)} devices",
                         ["device", "profile", "transport", "reaches", "runner parked"],
                         [[escape(d["name"]), escape(d["profile"]), d["transport"], escape(d["key"]),
                           f"{d['keep_runner_s']:g} s" if d["keep_runner_s"] else "—"] for d in devices]))
    c.print(render.table(f"{len(jobs)} jobs", ["job", "runs", "threads", "delegate", "in-run baseline"],
                         [[escape(j["name"]), j["settings"]["runs"], j["settings"]["threads"],
                           j["settings"]["delegate"],
                           f"{escape(Path(j['baseline']).name)} (repeat {j['settings']['repeat']})"
                           if j["baseline"] else "—"] for j in jobs]))
    c.print(f"store: {escape(lab.store.location)}; last run: {lab.latest_run() or 'none'}")


@lab_app.command("status")
def status_command(
    lab_file: Path = typer.Argument(..., help="The lab file (TOML)."),
    store: Optional[str] = _STORE,
    profiles: Optional[List[Path]] = _PROFILES,
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Jobs by state in the lab's last run."""
    from ..farm.lab import Lab

    lab = Lab.load(lab_file, store=store, profile_dirs=profiles or ())
    run, counts = lab.latest_run(), lab.status()
    if as_json:
        render.print_json({"lab": lab.name, "run": run, "counts": counts})
        return
    render.console().print(render.table(f"Lab {escape(lab.name)}, run {run or '—'}", list(counts),
                                        [list(counts.values())]))


# -- reporting ---------------------------------------------------------------------------

def _gate_settings(pct: float, confidence: float, drop: float, missing: str) -> Any:
    from ..errors import ConfigError
    from ..farm.gate import GateSettings

    for name, value in (("--margin-pct", pct), ("--max-quality-drop", drop)):
        if value < 0:
            raise ConfigError(f"{name} {value:g} is negative", hint="margins are ≥ 0")
    if not 0.5 < confidence < 1.0:
        raise ConfigError(f"--confidence {confidence:g} is not between 0.5 and 1", hint="e.g. 0.95")
    if missing not in ("fail", "pass"):
        raise ConfigError(f"--missing {missing!r} is not valid", hint="one of: fail, pass")
    return GateSettings(margin_pct=pct / 100.0, confidence=confidence, max_quality_drop=drop, missing=missing)


def _baseline(path: Optional[Path]) -> Optional[dict[str, Any]]:
    if path is None:
        return None
    from ..farm.results import read_results

    return read_results(path, what="baseline")


def _finish(doc: dict[str, Any], base_doc: Optional[dict[str, Any]], baseline: Optional[Path], settings: Any,
            junit: Optional[Path], json_out: Optional[str], markdown: Optional[Path]) -> None:
    from ..farm.gate import check
    from ..farm.junit import write_junit
    from ..farm.results import write_results
    from ..farm.summary import markdown_summary

    report = check(doc, base_doc, settings, str(baseline) if baseline else None)
    doc = {**doc, "gate": report.to_dict()}
    written = []
    if junit:
        written.append(("junit", write_junit(junit, doc, report)))
    if markdown:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(markdown_summary(doc, report), encoding="utf-8")
        written.append(("markdown", markdown))
    if json_out == "-":
        render.print_json(doc)
    else:
        if json_out:
            written.append(("json", write_results(json_out, doc)))
        _print_results(doc, report, written)
    if not report.passed:
        raise typer.Exit(1)


def _print_results(doc: dict[str, Any], report: Any, written: list[tuple[str, Path]]) -> None:
    c = render.console()
    cols = ["job", "device", "median ms", "p90 ms", "cv"]
    with_base = report.baseline is not None or any(v.rule for v in report.verdicts)
    with_reason = any(v.failing for v in report.verdicts)
    cols += ["baseline ms", "change (CI)", "rule"] * with_base + ["verdict"] + ["reason"] * with_reason
    rows = []
    for job in doc["jobs"]:
        v = report.verdict(job["name"])
        lat = job.get("latency") or {}
        med = _ms(lat.get("median_us")) if lat.get("median_us") is not None \
            else _ms(lat.get("mean_us")) + " (mean)" * bool(lat)   # a phone tool that printed no median
        row = [escape(job["name"]), escape(job.get("device") or "—"), med, _ms(lat.get("p90_us")),
               f"{lat['cv']:.3f}" if lat.get("cv") is not None else "—"]
        row += [_ms(v.baseline_us), _change(v), escape(v.rule or "—")] * with_base + [v.status]
        rows.append(row + [escape(v.reason) if v.failing else ""] * with_reason)
    counts = doc["counts"]
    c.print(render.table(
        f"Lab {doc['lab']} run {doc['run']}: {counts['done']} done, {counts['failed']} failed, "
        f"{counts['unfinished']} unfinished", cols, rows, caption=f"gate: {report.settings.describe()}"))
    for kind, path in written:
        c.print(f"[bold]{kind}[/]: {escape(str(path))}")
    if report.passed:
        c.print("[bold green]gate passed[/]")
    else:
        c.print(f"[bold red]gate failed[/]: {sum(v.failing for v in report.verdicts)} job(s) failed or regressed"
                + (f"; {len(report.missing)} baseline job(s) missing: {', '.join(report.missing)}"
                   if report.missing else ""))


def _change(v: Any) -> str:
    if v.change_pct is None:
        return "—"
    lo, hi = v.change_ci_pct or (None, None)
    return f"{v.change_pct:+.1f}%" + (f" ({lo:+.1f} … {hi:+.1f})" if lo is not None else "")


def _ms(us: Optional[float]) -> str:
    return "—" if us is None else f"{us / 1000:.3f}"


# -- progress ----------------------------------------------------------------------------

def _progress_mode(mode: str, json_stdout: bool) -> str:
    from ..errors import ConfigError

    if mode not in ("auto", "live", "plain", "jsonl", "none"):
        raise ConfigError(f"--progress {mode!r} is not one of auto, live, plain, jsonl, none")
    if mode == "auto":
        return "live" if sys.stderr.isatty() and not json_stdout else "plain"
    return mode


@contextmanager
def _progress_view(mode: str, lab: Any) -> Iterator[Optional[ProgressCallback]]:
    if mode == "none":
        yield None
    elif mode == "jsonl":
        lock = threading.Lock()

        def jsonl(ev: ProgressEvent) -> None:
            line = json.dumps({"at": round(time.time(), 3), "stage": ev.stage, "item": ev.item, "done": ev.done,
                               "total": ev.total, "message": ev.message})
            with lock:
                sys.stderr.write(line + "\n")
                sys.stderr.flush()
        yield jsonl
    elif mode == "plain":
        lock = threading.Lock()

        def plain(ev: ProgressEvent) -> None:
            if ev.stage == "lab":
                return
            with lock:
                sys.stderr.write(f"[{ev.stage.removeprefix('lab.')}] {ev.item}: {ev.message}\n")
                sys.stderr.flush()
        yield plain
    else:
        from rich.live import Live

        view = LiveLabView([(d.name, d.profile.name) for d in lab.spec.devices])
        with Live(get_renderable=view.render, console=render.err_console(), refresh_per_second=4,
                  transient=False):
            yield view.update


class LiveLabView:
    """The Rich live table: per device its state, current job, done and failed counts."""

    def __init__(self, devices: list[tuple[str, str]]) -> None:
        self._lock = threading.Lock()
        self._rows = {name: {"profile": profile, "state": "starting", "job": "", "done": 0, "failed": 0}
                      for name, profile in devices}
        self._summary = ""
        self._notes: list[str] = []

    def update(self, ev: ProgressEvent) -> None:
        """The progress callback (called from the farm's worker threads)."""
        with self._lock:
            if ev.stage == "lab":
                self._summary = f"{ev.done}/{ev.total} finished · {ev.message}"
                return
            row = self._rows.get(ev.item)
            if row is None:
                self._notes = (self._notes + [f"{ev.item}: {ev.message}"])[-5:]
                return
            job, _, detail = ev.message.partition(": ")
            kind = ev.stage.removeprefix("lab.")
            if kind == "job":
                row.update(state="running", job=f"{job} ({detail})")
            elif kind in ("done", "failed", "retry"):
                row.update(state=kind if kind != "done" else "idle", job=f"{job}: {detail}")
                if kind in ("done", "failed"):
                    row[kind] += 1
            else:
                row.update(state=kind, job=ev.message)

    def render(self) -> Any:
        from rich.console import Group
        from rich.table import Table

        with self._lock:
            t = Table(title="edgekit lab", title_justify="left", header_style="bold",
                      caption=self._summary or None)
            for col in ("device", "profile", "state", "current / last job", "done", "failed"):
                t.add_column(col, justify="right" if col in ("done", "failed") else "left")
            for name, r in self._rows.items():
                style = {"unhealthy": "red", "failed": "red", "retry": "yellow", "running": "cyan"}.get(r["state"], "")
                t.add_row(escape(name), escape(r["profile"]), f"[{style}]{r['state']}[/]" if style else r["state"],
                          escape(r["job"][:80]), str(r["done"]), str(r["failed"]))
            return Group(t, *[f"[yellow]{escape(n)}[/]" for n in self._notes])
