"""The HTML report in headless Chromium: loads without errors, every image decodes, tables work.

Screenshots are kept in ``tests/report/_artifacts/`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.report.chromium import CHROMIUM, inspect_page

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed")

ARTIFACTS = Path(__file__).parent / "_artifacts"

PROBE = r"""
(() => {
  const imgs = [...document.images];
  const ok = i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0;
  const out = {
    images: imgs.length, decoded: imgs.filter(ok).length,
    sizes: imgs.map(i => [i.naturalWidth, i.naturalHeight]),
    tables: [...document.querySelectorAll('table')].map(t => t.id),
    rows: Object.fromEntries([...document.querySelectorAll('table')].map(t => [t.id, t.tBodies[0].rows.length])),
    h1: document.querySelector('h1').textContent,
    cards: [...document.querySelectorAll('.card .pick')].map(e => e.textContent),
    scripts: document.querySelectorAll('script').length,
    external: [...document.querySelectorAll('[src],[href]')].map(e => e.getAttribute('src') || e.getAttribute('href'))
      .filter(u => !u.startsWith('data:') && !u.startsWith('#')),
    width: document.documentElement.scrollWidth,
  };
  const t = document.getElementById('t-size');
  const heads = [...t.querySelectorAll('thead tr:last-child th')];
  const col = heads.findIndex(h => h.textContent === 'size KB');
  const values = () => [...t.tBodies[0].rows].map(r => Number(r.cells[col].dataset.v));
  heads[col].click(); out.asc = values();
  heads[col].click(); out.desc = values();
  return out;
})()
"""


def check(report, name: str) -> dict:  # noqa: ANN001
    html = report.files["html"][0]
    page = inspect_page(html.resolve().as_uri(), PROBE, ARTIFACTS, name=name)
    assert page.errors == [], page.errors
    p = page.probe
    assert p["images"] == len(report.files["png"]) and p["decoded"] == p["images"], p
    assert all(w >= 1000 and h >= 500 for w, h in p["sizes"])
    assert p["scripts"] == 1 and p["external"] == []
    assert p["asc"] == sorted(p["asc"]) and p["desc"] == sorted(p["desc"], reverse=True)
    assert len(p["asc"]) == len(report.data.models)
    assert p["width"] <= 1280  # wide tables scroll inside their box, the page does not
    for shot in page.screenshots:
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    return p


def test_real_report_in_chromium(real_report) -> None:  # noqa: ANN001
    p = check(real_report, "real_report")
    assert p["h1"] == "tiny CNN on this host"
    assert p["cards"] == [real_report.recommendations["host"].best.label]
    assert {"t-measured-layout", "t-front-host", "t-front-size", "t-device-host", "t-size", "t-devices"} <= set(
        p["tables"])
    assert "t-paper-layout" not in p["tables"]      # not the paper's family: no paper tables
    assert p["rows"]["t-device-host"] == 2


def test_paper_report_in_chromium(paper_report) -> None:  # noqa: ANN001
    p = check(paper_report, "paper_report")
    assert p["h1"] == "paper-cnn family <b>not bold</b>"   # shown as text, not markup
    assert p["cards"] == [paper_report.recommendations["galaxy-s10"].best.label, "nothing meets the constraints"]
    assert {"t-paper-layout", "t-paper-mobilenet", "t-failed"} <= set(p["tables"])
    assert p["rows"]["t-measured-layout"] == 6 and p["rows"]["t-paper-layout"] == 6
    assert p["rows"]["t-failed"] == 1 and p["rows"]["t-device-pixel3xl"] == 36
