"""Report generation from a store filled by real conversions and real host measurements."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from html import escape
from pathlib import Path

import pytest

import edgekit
from edgekit.errors import ConfigError, StoreError
from edgekit.store.sqlite import SqliteStore as Store
from edgekit.jsonio import read_json
from edgekit.report.api import ANY_DEVICE, report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_every_format_is_written(real_report) -> None:  # noqa: ANN001
    files = real_report.files
    assert set(files) == {"html", "md", "json", "csv", "png", "svg"}
    names = sorted(p.name for p in files["png"])
    assert names == ["float_vs_int8.png", "latency_by_model.png", "quality_vs_latency_host.png",
                     "quality_vs_size.png"]
    assert sorted(p.stem for p in files["svg"]) == sorted(Path(n).stem for n in names)
    for paths in files.values():
        for p in paths:
            assert p.is_file() and p.stat().st_size > 0 and p.parent.is_relative_to(real_report.out_dir)


def test_plots_decode_and_are_labelled(real_report) -> None:  # noqa: ANN001
    import matplotlib.image as mpimg

    for p in real_report.files["png"]:
        assert p.read_bytes()[:8] == PNG_MAGIC
        img = mpimg.imread(p)
        assert img.shape[1] == round(7.6 * 144) and img.shape[0] >= 500   # 7.6 in at 144 dpi
    svg = {p.stem: p.read_text(encoding="utf-8") for p in real_report.files["svg"]}
    assert ET.fromstring(svg["quality_vs_latency_host"]).tag.endswith("svg")
    assert "median latency (ms), 95% CI of the median" in svg["quality_vs_latency_host"]   # error bars: the CI
    assert "tiny · fp32" in svg["quality_vs_latency_host"] and "tiny · int8" in svg["quality_vs_latency_host"]
    assert "model size (KB" in svg["quality_vs_size"]
    assert "speed-up ×" in svg["float_vs_int8"]


def test_json_report_matches_the_store(real_report, real_store: Store) -> None:  # noqa: ANN001
    doc = read_json(real_report.files["json"][0])
    assert doc["schema"] == 1 and doc["kind"] == "edgekit.report"
    assert doc["store"] == str(real_store.path) and doc["metric"] == "top1"
    measured = {m.artifact_sha256: m for m in real_store.measurements()}
    quality = {q.artifact_sha256: q.value for q in real_store.quality()}
    assert {c["artifact_sha256"] for c in doc["candidates"]} == set(measured)
    for c in doc["candidates"]:
        m = measured[c["artifact_sha256"]]
        assert c["median_ms"] == pytest.approx(m.stats.median / 1000.0)
        assert c["p10_ms"] == pytest.approx(m.stats.p10 / 1000.0) and c["samples"] == 20
        assert c["quality"] == quality[c["artifact_sha256"]]
        assert c["device"] == "host" and c["model"] == "tiny"
    # The stated rule, among the device's latency frontier (off it, a model is dominated beyond
    # noise): the highest quality, then among the candidates whose accuracy is within 1.96
    # standard errors (from the 95 % Wilson intervals) of the top one, the smallest.
    rec = doc["recommendations"]["host"]
    front = set(doc["frontiers"]["latency"]["host"])
    pool = [c for c in doc["candidates"] if c["artifact_sha256"] in front]
    top = max(pool, key=lambda c: (c["quality"], -c["median_ms"], -c["size_bytes"]))

    def se(c: dict) -> float:
        return (c["quality_ci"][1] - c["quality_ci"][0]) / (2 * 1.959964)

    group = [c for c in pool
             if abs(c["quality"] - top["quality"]) <= 1.959964 * (se(c) ** 2 + se(top) ** 2) ** 0.5]
    expected = min(group, key=lambda c: (c["size_bytes"], c["median_ms"]))
    assert rec["best"]["artifact_sha256"] == expected["artifact_sha256"]
    assert {c["artifact_sha256"] for c in rec["indistinguishable"]} == \
        {c["artifact_sha256"] for c in group} - {expected["artifact_sha256"]}
    assert doc["devices"]["host"]["facts"]["runtime"] == "ai_edge_litert"
    assert set(doc["frontiers"]["latency"]["host"]) <= set(measured)
    assert doc["files"]["html"] == ["report.html"]


def test_result_object(real_report) -> None:  # noqa: ANN001
    assert list(real_report.recommendations) == ["host"]
    rec = real_report.recommendations["host"]
    assert rec.best is not None and rec.considered == 2
    assert set(real_report.frontiers) == {ANY_DEVICE, "host"}
    fr = real_report.frontiers["host"]
    assert rec.best in fr  # the best (highest quality) is always on the frontier
    fp32, int8 = (next(c for c in real_report.data.candidates if c.variant == v) for v in ("fp32", "int8"))
    assert int8.size_bytes < fp32.size_bytes
    assert [c.variant for c in real_report.frontiers[ANY_DEVICE]][0] == "int8"  # smallest first


def test_csv_has_one_row_per_candidate(real_report) -> None:  # noqa: ANN001
    rows = list(csv.DictReader(real_report.files["csv"][0].open(encoding="utf-8")))
    assert [(r["device"], r["variant"]) for r in rows] == [("host", "fp32"), ("host", "int8"), ("", "fp32"),
                                                           ("", "int8")]
    assert all(r["metric"] == "top1" and float(r["quality"]) > 0.5 for r in rows)
    assert all(float(r["median_ms"]) > 0 for r in rows[:2]) and rows[2]["median_ms"] == ""
    assert {r["pareto"] for r in rows} <= {"front", "tie", "dominated"}


def test_markdown_has_recommendation_and_frontier(real_report) -> None:  # noqa: ANN001
    md = real_report.files["md"][0].read_text(encoding="utf-8")
    best = real_report.recommendations["host"].best
    assert md.startswith("## tiny CNN on this host")
    assert f"- host: {best.label}" in md
    assert "### Pareto frontier on host (top1 × latency)" in md
    assert "| model | variant | top1 | median ms (p10–p90) | size KB | flags |" in md


def test_html_is_self_contained_and_escaped(paper_report) -> None:  # noqa: ANN001
    html = paper_report.files["html"][0].read_text(encoding="utf-8")
    assert "<b>not bold</b>" not in html and "&lt;b&gt;not bold&lt;/b&gt;" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<script>") == 1
    assert "http://" not in html and "https://" not in html
    assert html.count('src="data:image/png;base64,') == len(paper_report.files["png"]) == 5
    assert "paper (Menghani 2021)" in html


def test_constraints_nobody_meets_give_the_closest(paper_report) -> None:  # noqa: ANN001
    recs = paper_report.recommendations
    assert recs["galaxy-s10"].best is not None and recs["galaxy-s10"].best.median_ms <= 1.0
    assert recs["galaxy-s10"].best.quality >= 0.85
    pixel = recs["pixel3xl"]
    assert pixel.best is None and len(pixel.closest) == 3
    assert all(n.broken for n in pixel.closest)
    html = paper_report.files["html"][0].read_text(encoding="utf-8")
    assert "nothing meets the constraints" in html and escape(pixel.closest[0].broken[0]) in html


def test_store_without_measurements_gives_a_size_only_report(real_store: Store, tmp_path: Path) -> None:
    s = Store(tmp_path / "no-meas.sqlite")
    for a in real_store.artifacts():
        s.put_artifact(a)
    for q in real_store.quality():
        s.add_quality(q)
    res = report(store=s, out=tmp_path / "out", formats="html,md,json,png", max_size_kb=1000)
    assert list(res.recommendations) == [ANY_DEVICE]
    assert res.recommendations[ANY_DEVICE].best is not None
    assert [p.name for p in res.files["png"]] == ["quality_vs_size.png"]
    md = res.files["md"][0].read_text(encoding="utf-8")
    assert "no latency measurements" in md and "any device (size × quality)" in md
    doc = json.loads(res.files["json"][0].read_text(encoding="utf-8"))
    assert doc["candidates"] == [] and len(doc["models"]) == 2


def test_html_only_still_embeds_plots(real_store: Store, tmp_path: Path) -> None:
    res = report(store=real_store, out=tmp_path / "h", formats=["html"])
    assert set(res.files) == {"html"} and not (tmp_path / "h" / "plots").exists()
    assert res.files["html"][0].read_text(encoding="utf-8").count("data:image/png;base64,") == 4


@pytest.mark.parametrize("kwargs, match", [
    ({"formats": "html,pdf"}, "'pdf'"),
    ({"devices": ["pixel9"]}, "'pixel9'"),
    ({"quality_metric": "top5"}, "top5"),
    ({"paper": "sometimes"}, "sometimes"),
    ({"flagged": "hide"}, "hide"),
    ({"max_size_kb": -5.0}, "max-size-kb"),
])
def test_bad_input_is_a_config_error(real_store: Store, tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        report(store=real_store, out=tmp_path / "bad", **kwargs)


def test_missing_and_empty_stores(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist") as err:
        report(store=tmp_path / "nope.sqlite", out=tmp_path / "o")
    assert "--store" in err.value.hint and not (tmp_path / "nope.sqlite").exists()
    Store(tmp_path / "empty.sqlite").close()
    with pytest.raises(ConfigError, match="has no artifacts"):
        report(store=tmp_path / "empty.sqlite", out=tmp_path / "o")


def test_library_prints_nothing_and_reports_progress(real_store: Store, tmp_path: Path, capfd) -> None:  # noqa: ANN001
    events = []
    report(store=real_store, out=tmp_path / "p", formats="md,png", progress=events.append)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert events[0].item == "read store" and events[-1].item == "done"
    assert {e.stage for e in events} == {"report"}


def test_public_api_is_callable_whatever_was_imported_first(real_store: Store, tmp_path: Path) -> None:
    import edgekit.report.pareto  # noqa: F401  binds the package to edgekit.report

    res = edgekit.report(store=real_store, out=tmp_path / "api", formats="json")
    assert res.files["json"][0].is_file()
    assert edgekit.pareto_front.__module__ == "edgekit.report.pareto"


def test_cli_json(real_store: Store, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from edgekit.cli.main import main

    rc = main(["report", "--store", str(real_store.path), "-o", str(tmp_path / "cli"), "--format", "md,json",
               "--min-quality", "50%", "--json"])
    out = capsys.readouterr().out
    assert rc == 0
    doc = json.loads(out)
    assert doc["recommendations"]["host"]["constraints"]["min_quality"] == 0.5
    assert doc["recommendations"]["host"]["summary"].startswith("host: tiny · ")
    assert sorted(doc["files"]) == ["json", "md"] and Path(doc["files"]["md"][0]).is_file()


def test_cli_table_and_errors(real_store: Store, tmp_path: Path, capsys, monkeypatch) -> None:  # noqa: ANN001
    from edgekit.cli.main import main

    monkeypatch.setenv("COLUMNS", "250")  # one line per table row

    rc = main(["report", "--store", str(real_store.path), "-o", str(tmp_path / "cli2"), "-f", "md",
               "--max-latency-ms", "0.000001"])
    out = capsys.readouterr().out
    assert rc == 0 and "nothing qualifies" in out and "latency" in out and "report.md" in out
    rc = main(["report", "--store", str(real_store.path), "-o", str(tmp_path / "cli3"), "--device", "pixel9"])
    err = capsys.readouterr().err
    assert rc == 2 and "pixel9" in err and "hint" in err and "host" in err
    rc = main(["report", "--store", str(real_store.path), "--min-quality", "high"])
    assert rc == 2 and "'high'" in capsys.readouterr().err


def test_cli_import_stays_light() -> None:
    code = ("import sys, edgekit.cli.report, edgekit.report.api, edgekit.report.plots, edgekit.report.html; "
            "heavy = [m for m in ('matplotlib', 'tensorflow') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parents[2]).stdout.strip()
    assert out == ""
