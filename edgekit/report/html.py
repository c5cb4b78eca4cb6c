"""One self-contained HTML file: inline CSS and JS, plots embedded as base64 PNG.

Works offline (no CDN, no external request). Every string that comes from the store is
escaped with :func:`html.escape`. Tables sort by clicking their headers.
"""

from __future__ import annotations

import base64
from html import escape

from .collect import Candidate, QualityScale
from .content import ReportContent
from .paper import PAPER_LABEL
from .recommend import Recommendation
from .tables import Cell, Table, fmt_kb, fmt_ms, governor_text

_CSS = """
:root{--fg:#1d2330;--muted:#6b7280;--line:#e3e6ec;--bg:#f6f7f9;--card:#fff;--accent:#1f6feb;
--ok:#137333;--warn:#b45309;--bad:#b42318;--paper:#6d5d8a}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:var(--fg);background:var(--bg)}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px}
header h1{font-size:26px;margin:0 0 4px}
header p{margin:0;color:var(--muted)}
header p.prov{font-size:12.5px;margin-top:2px}
h2{font-size:19px;margin:34px 0 10px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:22px 0 8px}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#eef0f4;padding:1px 4px;border-radius:4px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:14px;margin-top:14px}
.card{background:var(--card);border:1px solid var(--line);border-left:5px solid var(--ok);border-radius:8px;padding:14px 16px}
.card.none{border-left-color:var(--bad)}
.card .dev{font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted)}
.card .pick{font-size:19px;font-weight:650;margin:2px 0 6px}
.card .facts{display:flex;flex-wrap:wrap;gap:6px 14px}
.card .facts b{font-size:16px}
.card .facts span{color:var(--muted);font-size:12px}
.card ul{margin:6px 0 0;padding-left:18px}
.card .also{color:var(--muted);font-size:12.5px;margin-top:8px}
.pill{display:inline-block;font-size:11.5px;padding:1px 7px;border-radius:10px;background:#eef0f4;color:#374151;margin-right:4px}
.pill.flag{background:#fef3c7;color:var(--warn)}
.pill.paper{background:#ede9f6;color:var(--paper)}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;background:var(--card);border:1px solid var(--line);
border-radius:8px;padding:12px 16px}
.meta dt{color:var(--muted)}.meta dd{margin:0}
.notes{background:#fffbeb;border:1px solid #fde68a;border-radius:8px;padding:10px 16px;margin-top:14px}
.notes li{margin:2px 0}
figure{background:var(--card);border:1px solid var(--line);border-radius:8px;margin:14px 0;padding:12px}
figure img{display:block;max-width:100%;height:auto;margin:0 auto;cursor:zoom-in}
figure.wide{grid-column:1/-1}figure.wide img{cursor:zoom-out;max-width:1100px;width:100%}
details{margin:10px 0}summary{cursor:pointer;font-weight:600;font-size:15px;margin:14px 0 6px}
summary h3{display:inline;margin:0}
figcaption{color:var(--muted);font-size:12.5px;margin-top:6px}
.figs{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:0 14px}
.scroll{overflow-x:auto;background:var(--card);border:1px solid var(--line);border-radius:8px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:5px 9px;border-bottom:1px solid var(--line);white-space:nowrap;text-align:left}
th.num,td.num{text-align:right}
tbody td:first-child{position:sticky;left:0;background:var(--card)}
tbody tr:hover td:first-child{background:#f3f6fc}
thead th{background:#f0f2f6;font-weight:600;font-size:12.5px;position:sticky;top:0}
thead tr.groups th{background:#e7eaf0;text-align:center;font-size:12px;color:#374151}
th.sortable{cursor:pointer;user-select:none}
th.sortable:after{content:" \\2195";color:#9aa3b2;font-size:11px}
th.asc:after{content:" \\2191";color:var(--accent)}th.desc:after{content:" \\2193";color:var(--accent)}
tbody tr:hover{background:#f3f6fc}
tr.front td:first-child{box-shadow:inset 3px 0 0 var(--ok)}
td small{color:var(--muted);font-size:11px;margin-left:4px}
td.flag{color:var(--warn);font-weight:600}td.bad{color:var(--bad)}td.muted{color:#9aa3b2}
td.front{color:var(--ok);font-weight:600}td.tie{color:var(--ok);font-style:italic}
td.paper{color:var(--paper)}
td.predicted{font-style:italic;color:var(--paper)}tr.predicted td:first-child{box-shadow:inset 3px 0 0 #b9b2cc}
.card.predicted{border-left:5px dashed var(--paper)}
.tcap{color:var(--muted);font-size:12.5px;margin:6px 2px 0}
.paperbox{border-left:4px solid var(--paper);padding-left:12px}
footer{color:var(--muted);font-size:12px;margin-top:40px}
"""

_JS = """
(function(){
  document.querySelectorAll('figure.fig img').forEach(function(img){
    img.title='click to enlarge or shrink';
    img.addEventListener('click',function(){img.parentNode.classList.toggle('wide');});
  });
  function key(td){var v=td.getAttribute('data-v');if(v===null||v===''){return null;}
    var n=Number(v);return isNaN(n)?v.toLowerCase():n;}
  document.querySelectorAll('table.sortable').forEach(function(table){
    var heads=table.querySelectorAll('thead tr:last-child th');
    heads.forEach(function(th,col){
      th.classList.add('sortable');th.title='sort';
      th.addEventListener('click',function(){
        var asc=!th.classList.contains('asc');
        heads.forEach(function(h){h.classList.remove('asc','desc');});
        th.classList.add(asc?'asc':'desc');
        var body=table.tBodies[0];var rows=Array.prototype.slice.call(body.rows);
        rows.sort(function(a,b){var x=key(a.cells[col]),y=key(b.cells[col]);
          if(x===null&&y===null)return 0;if(x===null)return 1;if(y===null)return -1;
          if(typeof x!==typeof y){x=String(x);y=String(y);}
          return (x<y?-1:x>y?1:0)*(asc?1:-1);});
        rows.forEach(function(r){body.appendChild(r);});
      });
    });
  });
})();
"""


def _cell(c: Cell, num: bool) -> str:
    v = "" if c.value is None else str(c.value)
    classes = " ".join(x for x in (c.css, "num" if num else "") if x)
    attrs = f' data-v="{escape(v)}"'
    if classes:
        attrs += f' class="{classes}"'
    if c.note:
        attrs += f' title="{escape(c.note)}"'
    detail = f"<small>{escape(c.detail)}</small>" if c.detail else ""
    return f"<td{attrs}>{escape(c.text)}{detail}</td>"


def render_table(t: Table) -> str:
    """A sortable table (group header row, sort values in ``data-v``, notes as tooltips).

    A ``collapsed`` table is folded in a ``<details>`` element (its title is the summary).
    """
    num = [i > 0 and t.numeric(i) for i in range(len(t.columns))]
    head = (f'<h3 id="{escape(t.id)}">{escape(t.title)}'
            + (f' <span class="pill paper">{escape(t.label)}</span>' if t.label else "") + "</h3>")
    out = [f"<details><summary>{head}</summary>" if t.collapsed else head]
    out.append(f'<div class="scroll"><table class="sortable" id="t-{escape(t.id)}"><thead>')
    if t.groups:
        out.append('<tr class="groups">' + "".join(
            f'<th colspan="{n}">{escape(g)}</th>' for g, n in t.groups) + "</tr>")
    out.append("<tr>" + "".join(f'<th class="num">{escape(c)}</th>' if num[i] else f"<th>{escape(c)}</th>"
                                for i, c in enumerate(t.columns)) + "</tr></thead><tbody>")
    for i, row in enumerate(t.rows):
        css = t.row_css[i] if i < len(t.row_css) and t.row_css[i] else ""
        out.append((f'<tr class="{css}">' if css else "<tr>") + "".join(
            _cell(c, num[j]) for j, c in enumerate(row)) + "</tr>")
    if not t.rows:
        out.append(f'<tr><td colspan="{len(t.columns)}" class="muted">none</td></tr>')
    out.append("</tbody></table></div>")
    if t.caption:
        out.append(f'<p class="tcap">{escape(t.caption)}</p>')
    if t.collapsed:
        out.append("</details>")
    return "\n".join(out)


def _facts(c: Candidate, scale: QualityScale) -> str:
    items = []
    if c.quality is not None:
        qci = c.quality_ci
        items.append((scale.show(c.quality), scale.metric + (f" (95% {scale.show(qci[0])}–{scale.show(qci[1])})"
                                                             if qci else "")))
    if c.latency_ms is not None:
        from .spread import spread_text

        ci = c.median_ci_ms
        items.append((f"{fmt_ms(c.latency_ms)} ms", f"95% CI {fmt_ms(ci[0])}–{fmt_ms(ci[1])}" if ci
                      else (spread_text(c, fmt_ms) or c.latency_stat)))
    items.append((f"{fmt_kb(c.size_kb)} KB", "size"))
    return "".join(f"<div><b>{escape(a)}</b> <span>{escape(b)}</span></div>" for a, b in items)


def _card(rec: Recommendation, scale: QualityScale) -> str:
    where = rec.device or "any device — size × quality"
    if rec.best is not None:
        b = rec.best
        flags = "".join(f'<span class="pill flag">⚠ {escape(f)}</span>' for f in b.flags)
        extra = f'<span class="pill">{escape(b.recipe)}</span>' if b.recipe else ""
        also = ""
        if rec.ties:
            also = (f'<div class="also tiegroup">statistically indistinguishable in quality: '
                    f'{escape(", ".join(t.label for t in rec.ties))} — the smaller, then faster one is picked</div>')
        elif len(rec.qualifying) > 1:
            nxt = rec.qualifying[1]
            also = (f'<div class="also">runner-up: {escape(nxt.label)} · {len(rec.qualifying)} of '
                    f"{rec.considered} qualify</div>")
        return (f'<div class="card"><div class="dev">{escape(where)}</div>'
                f'<div class="pick">{escape(b.label)}</div><div class="facts">{_facts(b, scale)}</div>'
                f'<div style="margin-top:6px">{extra}{flags}</div>{also}</div>')
    if not rec.considered:
        return f'<div class="card none"><div class="dev">{escape(where)}</div><div class="pick">no candidates</div></div>'
    items = "".join(f"<li><b>{escape(n.candidate.label)}</b>: {escape(', '.join(n.broken))}</li>" for n in rec.closest)
    return (f'<div class="card none"><div class="dev">{escape(where)}</div>'
            f'<div class="pick">nothing meets the constraints</div>'
            f'<div class="also">closest candidates and what each one breaks:</div><ul>{items}</ul></div>')


def _predicted_card(content: ReportContent, device: str) -> str:
    """A device's predicted points, for reference: never a recommendation."""
    pred = content.data.predicted_for(device)
    measured = device in content.devices
    fastest = min(pred, key=lambda c: c.latency_ms or 0.0)
    what = (f"{len(pred)} model(s) it has not measured are predicted" if measured
            else f"not measured here: {len(pred)} model(s) predicted")
    return (f'<div class="card predicted"><div class="dev">{escape(device)} — predicted</div>'
            f'<div class="pick">no recommendation from predictions</div>'
            f'<div class="also">{escape(what)} by its latency predictor, for reference only (fastest predicted: '
            f'{escape(fastest.label)}, {escape(fmt_ms(fastest.latency_ms))} ms) — see the table '
            f'<a href="#predicted-{escape(device)}">{escape(device)}: predicted latency</a>.</div></div>')


def _ties_section(content: ReportContent) -> str:
    """The frontiers' tie groups: models that cannot be told apart beyond noise."""
    fr = content.frontiers
    groups = [("quality × size", g) for g in fr.size.ties]
    groups += [(f"{d}: quality × latency", g) for d in content.devices for g in fr.latency[d].ties]
    if not groups:
        what = "exact frontiers: no identical points" if fr.exact else "every frontier model differs beyond noise"
        return f'<p class="tcap" id="ties">Tie groups: none ({escape(what)}).</p>'
    items = "".join(f"<li><b>{escape(where)}</b>: {escape(' · '.join(c.label for c in g))}</li>"
                    for where, g in groups)
    return ('<div class="notes" id="ties"><b>Tie groups</b> — frontier models whose intervals overlap on every '
            f"axis, so the measurements cannot rank them:<ul>{items}</ul></div>")


def _meta(content: ReportContent) -> str:
    d = content.data
    rows: list[tuple[str, str]] = [
        ("store", d.store_path),
        ("generated", f"{content.generated} by edgekit {content.edgekit_version}"),
        ("artifacts", str(len(d.models))),
        ("measurements", f"{d.measurements_total} ({sum(s.ok for s in d.devices.values())} ok, "
                         f"{len(d.failed)} failed) on {len(d.devices)} device(s)"),
        ("quality", f"{d.metric} on dataset {d.dataset or '—'}"),
        ("latency", "median of warm single runs, error bars: 95 % CI of the median (p10–p90 in the tables); "
                    + ("latest ok run per model and device" if d.policy == "latest"
                       else "samples of every ok run pooled")),
        ("constraints", "; ".join(content.constraints.describe(d.scale)) or "none"),
        ("flagged runs", "marked ⚠ and kept in the frontier" if content.frontiers.flagged == "mark"
                         else "marked ⚠ and excluded from frontiers and recommendations"),
    ]
    for name, s in d.devices.items():
        f = s.facts
        cpu = " / ".join(str(x) for x in dict.fromkeys([f.get("model"), f.get("soc"), f.get("cpu")]) if x) or "?"
        rt = " ".join(str(x) for x in (f.get("runtime"), f.get("runtime_version")) if x) or "?"
        rows.append((f"device {name}", f"{cpu}; runtime {rt}; governor {governor_text(f.get('governor'))}; "
                                       f"runner {s.runner} {s.runner_version}".strip()))
    return '<dl class="meta">' + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows) + "</dl>"


def _provenance_line(content: ReportContent) -> str:
    """One line under the title: where the figures come from (details in the Provenance section)."""
    d = content.data
    devs = []
    for name in content.devices:
        f = d.devices[name].facts
        cpu = f.get("soc") or f.get("cpu") or f.get("model") or "?"
        rt = " ".join(str(x) for x in (f.get("runtime"), f.get("runtime_version")) if x) or "?"
        devs.append(f"{name} ({cpu}, {rt}, governor {governor_text(f.get('governor'))})")
    text = (f"Store {d.store_path} · {d.measurements_total} measurements ({len(d.failed)} failed) · "
            + ("; ".join(devs) if devs else "no device measured yet"))
    return f'<p class="prov">{escape(text)}</p>'


def _img(path_bytes: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(path_bytes).decode("ascii")


def render_html(content: ReportContent) -> str:
    """The whole report as one HTML document (plots read from their PNG files and embedded)."""
    d = content.data
    scale = d.scale
    parts: list[str] = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>{escape(content.title)}</title><style>{_CSS}</style></head><body><main>",
        f"<header><h1>{escape(content.title)}</h1><p>Which model to ship on which device — "
        f"{len(d.models)} model files, {len(content.devices)} device(s), quality metric "
        f"<code>{escape(d.metric)}</code>.</p>{_provenance_line(content)}</header>",
        "<h2>Recommendation</h2>",
    ]
    cons = content.constraints.describe(scale)
    rule = next((r.rule for r in content.recommendations.values()), "")
    parts.append(f"<p>Under {escape('; '.join(cons)) if cons else 'no constraints'}: per device, "
                 f"{escape(rule or 'the highest ' + d.metric)}.</p>")
    # a device with nothing measured but predictions has its predicted card only (no "no candidates")
    parts.append('<div class="cards">' + "".join(_card(r, scale) for r in content.recommendations.values()
                                                 if r.considered or r.device not in d.predicted_devices)
                 + "".join(_predicted_card(content, dev) for dev in d.predicted_devices) + "</div>")
    if d.notes:
        parts.append('<div class="notes"><b>Notes</b><ul>' + "".join(f"<li>{escape(n)}</li>" for n in d.notes)
                     + "</ul></div>")

    if content.figures:
        parts.append("<h2>Plots</h2><div class=\"figs\">")
        for fig in content.figures:
            png = fig.file("png")
            if png is None:
                continue
            wide = " wide" if fig.id.startswith("quality_vs") else ""
            parts.append(f'<figure class="fig{wide}" id="fig-{escape(fig.id)}">'
                         f'<img alt="{escape(fig.title)}" src="{_img(png.read_bytes())}">'
                         f"<figcaption><b>{escape(fig.title)}.</b> {escape(fig.caption)}</figcaption></figure>")
        parts.append("</div>")

    parts.append(_ties_section(content))
    parts.append("<h2>Tables</h2><p class=\"tcap\">Click a column header to sort, a folded title to unfold it, "
                 "a plot to enlarge it. ⚠ marks a flagged run (noisy, heated, throttled or few samples); hover a "
                 "latency for its details.</p>")
    parts.extend(render_table(t) for t in content.tables)

    if content.paper_tables:
        parts.append(f'<h2>{escape(PAPER_LABEL)}</h2><div class="paperbox"><p>The paper\'s own figures '
                     "(CIFAR-10, phones), shown beside the measured ones for comparison — not measured here and "
                     "never mixed into a measured frontier.</p>")
        parts.extend(render_table(t) for t in content.paper_tables)
        parts.append("</div>")

    parts.append("<h2>Provenance</h2>" + _meta(content))
    parts.append("<footer>Pareto frontier: " + ("exact — a model is on it when no other model is at least as "
                 "good in both quality and cost and strictly better in one; identical points are all kept (ties). "
                 if content.frontiers.exact else "beyond noise — a model is dominated only when another is at "
                 "least as good within the 95 % intervals on every axis and better beyond them on one; models "
                 "whose intervals overlap on every axis form tie groups. ") +
                 "Generated by edgekit; this file is self-contained and works offline.</footer>")
    parts.append(f"</main><script>{_JS}</script></body></html>")
    return "\n".join(parts) + "\n"
