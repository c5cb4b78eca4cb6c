"""The paper-layout tables and the paper's reference figures."""

from __future__ import annotations

import filecmp
import os
from pathlib import Path

import pytest

from edgekit.store.sqlite import SqliteStore as Store
from edgekit.report.collect import collect
from edgekit.report.frontiers import compute_frontiers
from edgekit.report.paper import (PAPER_LABEL, canonical_recipe, paper_column, paper_matches, paper_mobilenet_v2,
                                  paper_row, paper_table)
from edgekit.report.tables import (candidates_table, devices_table, fmt_kb, fmt_ms, governor_text,
                                   paper_layout_table, paper_reference_table)

#: the project's shared folder sits beside the repository (in CI too: a copy beside the clone)
SHARED = Path(__file__).resolve().parents[3] / "shared" / "paper"
DEVICES = ["galaxy-s10", "pixel3xl"]


@pytest.fixture(scope="module")
def data(paper_store: Store):  # noqa: ANN201
    return collect(paper_store)


def test_layout_has_the_papers_columns(data) -> None:  # noqa: ANN001
    t = paper_layout_table(data, DEVICES)
    assert t is not None
    assert t.columns[:5] == ["model", "params (K)", "fp32 KB", "int8 KB", "size ×"]
    assert len(t.columns) == 5 + 3 * 2 + 2 * 3 == sum(n for _, n in t.groups)
    assert [g for g, _ in t.groups][2:5] == ["top1 % — baseline", "top1 % — augmentation",
                                             "top1 % — augmentation + distillation"]
    assert [r[0].text for r in t.rows] == ["w=0.05", "w=0.1", "w=0.25", "w=0.5", "w=0.75", "w=1"]


def test_layout_values_and_ratios_come_from_the_candidates(data) -> None:  # noqa: ANN001
    t = paper_layout_table(data, DEVICES)
    row = t.rows[2]  # w=0.25
    f = next(c for c in data.models if c.model == "cnn-w0.25-baseline" and c.variant == "fp32")
    q = next(c for c in data.models if c.model == "cnn-w0.25-baseline" and c.variant == "int8")
    assert row[1].value == pytest.approx(98.57)
    assert row[2].value == f.size_kb and row[3].value == q.size_kb
    assert row[4].value == pytest.approx(f.size_bytes / q.size_bytes) and row[4].text == "3.54×"
    distil_int8 = next(c for c in data.models if c.model == "cnn-w0.25-distillation" and c.variant == "int8")
    assert row[10].value == distil_int8.quality and row[10].text == "84.18%"
    fd = next(c for c in data.candidates if c.model == "cnn-w0.25-baseline" and c.variant == "fp32"
              and c.device == "galaxy-s10")
    qd = next(c for c in data.candidates if c.model == "cnn-w0.25-baseline" and c.variant == "int8"
              and c.device == "galaxy-s10")
    assert row[11].value == pytest.approx(fd.median_ms, abs=1e-6) and row[12].value == pytest.approx(qd.median_ms, abs=1e-6)
    assert row[13].value == pytest.approx(fd.median_ms / qd.median_ms)
    lo, hi = fd.median_ci_ms
    assert row[11].detail == f"95% CI {fmt_ms(lo)}–{fmt_ms(hi)}"          # the median's interval
    assert f"{fmt_ms(fd.p10_ms)}–{fmt_ms(fd.p90_ms)}" in row[11].note      # the spread stays available
    assert row[13].detail and float(row[13].detail.split("–")[0]) < row[13].value < float(row[13].detail.split("–")[1])


def test_flagged_latency_is_marked_in_the_layout(data) -> None:  # noqa: ANN001
    t = paper_layout_table(data, DEVICES)
    cell = t.rows[3][15]  # w=0.5, pixel3xl, int8 (baseline recipe: noisy + throttled)
    assert cell.text.endswith("⚠") and cell.css == "flag" and "noisy" in cell.note


def test_paper_reference_table_is_labelled_and_exact() -> None:
    t = paper_reference_table()
    assert t.label == PAPER_LABEL and PAPER_LABEL in t.title
    last = t.rows[-1]
    assert [c.text for c in last[:5]] == ["w=1", "1343.01", "5251", "1334", "3.94×"]
    assert all(c.css == "paper" for r in t.rows for c in r)
    oppo = t.columns.index("float ms")
    assert (last[oppo].value, last[oppo + 1].value) == (24.0, 11.73)
    assert last[oppo + 2].value == pytest.approx(24.0 / 11.73)


def test_paper_tables_match_the_shared_copy() -> None:
    ours = Path(__file__).parents[2] / "edgekit" / "report" / "paper_tables"
    if not SHARED.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{SHARED} is missing: CI lays shared/ beside the clone, so the paper's tables must be there")
        pytest.skip(f"{SHARED} not present beside this checkout")
    for name in ("table2_mobilenetv2.csv", "table5_float.csv", "table6_int8.csv"):
        assert filecmp.cmp(ours / name, SHARED / name, shallow=False), name


def test_paper_figures() -> None:
    fl, q8 = paper_table("float"), paper_table("int8")
    assert [r.width for r in fl] == [0.05, 0.1, 0.25, 0.5, 0.75, 1.0] == [r.width for r in q8]
    assert fl[2].accuracy_pct == {"baseline": 80.6, "augmentation": 84.14, "distillation": 84.51}
    assert q8[2].size_kb == 111 and q8[2].latency_ms["latency_ms_oppo_a5"] == 4.52
    assert paper_row(0.5, "int8").latency_ms["latency_ms_galaxy_s10"] == 0.58
    assert paper_row(0.3, "float") is None and paper_row(None, "float") is None
    assert [r["quantization"] for r in paper_mobilenet_v2()] == [
        "float baseline", "post training quantization", "quantization aware training"]
    with pytest.raises(ValueError):
        paper_table("fp16")  # type: ignore[arg-type]


def test_device_mapping_and_family_match(data) -> None:  # noqa: ANN001
    assert paper_column("pixel3xl") == "latency_ms_pixel_3xl"
    assert paper_column("lab-phone-3", profile="galaxy-s10") == "latency_ms_galaxy_s10"
    assert paper_column("oppo-a5") == "latency_ms_oppo_a5"
    assert paper_column("host") is None
    assert paper_matches(data.models)
    assert not paper_matches([c for c in data.models if False])
    assert canonical_recipe("Distill") == "distillation" and canonical_recipe("mine") == "mine"


def test_candidates_table_marks_front_and_ties(data) -> None:  # noqa: ANN001
    fr = compute_frontiers(data, DEVICES, exact=True)
    t = candidates_table("x", "x", data.for_device("pixel3xl"), data.scale, fr.status)
    status = {(r[0].text, r[1].text): r[-1].text for r in t.rows}
    assert status[("cnn-w0.05-baseline", "int8")] == "on front"
    assert status[("cnn-w1-baseline", "fp32")] == "dominated"
    assert sum(v.startswith("on front") for v in status.values()) == len(fr.front("pixel3xl"))


def test_devices_table_and_formats(data) -> None:  # noqa: ANN001
    t = devices_table(list(data.devices.values()))
    row = {r[0].text: r for r in t.rows}["pixel3xl"]
    assert row[2].text == "pixel3xl / Snapdragon 845" and row[4].text == "tflite 2.21.0" and row[5].text == "schedutil"
    assert governor_text({"cpu0": "powersave", "cpu4": "performance"}) == "cpu0: powersave, cpu4: performance"
    assert governor_text("") == "—"
    assert [fmt_ms(x) for x in (0.04321, 2.345, 24.06, 123.4, None)] == ["0.0432", "2.35", "24.1", "123", "—"]
    assert [fmt_kb(x) for x in (5.123, 65.45, 5251.3)] == ["5.12", "65.5", "5251"]
