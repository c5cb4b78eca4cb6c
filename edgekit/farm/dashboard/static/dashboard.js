// edgekit lab dashboard: polls the JSON endpoints and redraws; no framework, no build step.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
let lastVersion = null;
let pollSeconds = 2;
let reports = true;
let failures = 0;

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v; else el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function s(tag, attrs, text) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

function sig(v) { return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2); }

function ms(us) {  // a latency in its natural unit, three significant figures
  if (us === null || us === undefined) return "—";
  return us < 1000 ? sig(us) + " µs" : sig(us / 1000) + " ms";
}

function ago(t) {
  if (!t) return "—";
  const d = Date.now() / 1000 - t;
  if (d < 0) return "in " + Math.round(-d) + " s";
  if (d < 90) return Math.round(d) + " s ago";
  if (d < 5400) return Math.round(d / 60) + " min ago";
  if (d < 172800) return Math.round(d / 3600) + " h ago";
  return new Date(t * 1000).toISOString().slice(0, 10);
}

function clock(t) { return t ? new Date(t * 1000).toLocaleTimeString([], { hour12: false }) : "—"; }

function owner(o) {
  if (!o) return "—";
  const p = o.split(":");  // host:pidns:pid:nonce
  return p.length >= 4 ? p[0] + " pid " + p[2] : o;
}

function shortCommit(c) { return c ? (/^[0-9a-f]{12,}$/i.test(c) ? c.slice(0, 7) : c) : ""; }

async function getJSON(path) {
  const r = await fetch(path, { credentials: "same-origin", cache: "no-store" });
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

function replace(id, ...nodes) { document.getElementById(id).replaceChildren(...nodes); }

function chip(n, what, cls) {
  return h("div", { class: "chip " + (n ? cls : "zero"), "data-what": what },
    h("div", { class: "n" }, n), h("div", { class: "what" }, what));
}

function renderSummary(state, trends) {
  const q = state.queue.counts;
  const devs = state.devices;
  const out = devs.filter(d => d.health === "out-of-rotation").length;
  const resting = devs.filter(d => d.health === "resting").length;
  const failedLatest = state.runs.filter(r => r.counts.failed).reduce((a, r) => a + r.counts.failed, 0);
  const regressed = trends ? trends.filter(t => t.regressed).length : 0;
  replace("summary",
    chip(q.running + q.leased, "running", "busy"),
    chip(q.queued, "queued", "warn"),
    chip(failedLatest, "failed jobs (recent runs)", "bad"),
    chip(regressed, "regressed jobs", "bad"),
    chip(out, "devices out of rotation", "bad"),
    chip(resting, "devices resting", "warn"),
    chip(devs.length - out, "devices in rotation", "ok"));
  const latest = state.runs[0];
  document.getElementById("latest").textContent = latest ? "latest run: " + latest.lab + " #" + latest.run + " · " + ago(latest.created) : "";
}

function renderDevices(devices) {
  document.getElementById("devices-count").textContent = devices.length ? "(" + devices.length + ")" : "";
  if (!devices.length) { replace("devices", h("p", { class: "muted" }, "no device has run a job yet")); return; }
  replace("devices", ...devices.map(d => {
    const busy = d.activity !== "idle";
    const cls = d.health === "ok" ? (busy ? "busy" : (d.last_job && d.last_job.state === "failed" ? "failed" : "ok")) : d.health;
    const status = d.health !== "ok" ? d.health : (busy ? d.activity : "idle");
    const temps = Object.entries(d.temps_c || {}).map(([k, v]) =>
      h("span", { class: "temp " + (v >= 80 ? "hot" : v >= 65 ? "warm" : ""), title: k }, k.replace(/[-_]?thermal$/, "") + " " + v.toFixed(0) + "°C"));
    return h("div", { class: "device " + cls, "data-device": d.name },
      h("div", { class: "head" }, h("span", { class: "name" }, d.name), h("span", { class: "muted" }, d.profile || ""),
        h("span", { class: "spacer" }), h("span", { class: "pill " + (d.health !== "ok" ? d.health : busy ? "busy" : "ok") }, status)),
      d.reason ? h("div", { class: "line err", title: d.reason }, d.health.replace(/-/g, " ") + " " + ago(d.health_at) + ": " + d.reason) : null,
      busy ? h("div", { class: "line", title: d.current.label }, "now: ", h("b", {}, d.current.label)) : null,
      d.lease ? h("div", { class: "line" }, "lease: ", h("b", {}, owner(d.lease.owner)), " · expires ", ago(d.lease.expires)) : null,
      !busy && d.last_job ? h("div", { class: "line", title: d.last_job.error || d.last_job.label },
        "last: ", h("span", { class: "pill " + d.last_job.state }, d.last_job.state), " ", h("b", {}, d.last_job.label), " · ", ago(d.last_job.at)) : null,
      h("div", { class: "line" }, "jobs: ", h("b", {}, d.done), " done · ", h("b", {}, d.failed), " failed"),
      temps.length ? h("div", { class: "temps" }, temps) : null);
  }));
}

function renderQueue(queue) {
  const c = queue.counts;
  document.getElementById("queue-count").textContent = "(" + c.running + " running, " + c.leased + " leased, " + c.queued + " queued)";
  const rows = queue.jobs.map(j => h("tr", { "data-job": j.id },
    h("td", {}, h("span", { class: "pill " + j.state }, j.state)), h("td", {}, j.label), h("td", {}, j.device || "—"),
    h("td", { class: "muted" }, j.run), h("td", { class: "num" }, j.attempts)));
  const failed = queue.failed.map(j => h("tr", { class: "failed", "data-job": j.id },
    h("td", {}, h("span", { class: "pill failed" }, "failed")),
    h("td", {}, j.label, j.error ? h("div", { class: "err" }, j.error) : null), h("td", {}, j.device || "—"),
    h("td", { class: "muted" }, j.run), h("td", { class: "num" }, j.attempts)));
  const head = h("tr", {}, ["state", "job", "device", "run", "tries"].map(t => h("th", {}, t)));
  replace("queue",
    rows.length ? h("table", {}, h("thead", {}, head), h("tbody", {}, rows)) : h("p", { class: "muted" }, "nothing waiting: the queue is empty"),
    failed.length ? h("h3", { class: "small muted" }, "latest failures") : null,
    failed.length ? h("table", {}, h("tbody", {}, failed)) : null);
}

function bar(counts, total) {
  const el = h("div", { class: "bar", title: Object.entries(counts).map(([k, v]) => v + " " + k).join(", ") });
  for (const k of ["done", "failed", "running", "leased", "queued"]) {
    if (!counts[k]) continue;
    const seg = h("span", { class: k });
    seg.style.width = (100 * counts[k] / total) + "%";
    el.append(seg);
  }
  return el;
}

function renderRuns(runs, trends) {
  const reg = {};
  for (const t of trends || []) for (const p of t.points) if (p.regressed) reg[p.run_key] = (reg[p.run_key] || 0) + 1;
  if (!runs.length) { replace("runs", h("p", { class: "muted" }, "no lab run yet")); return; }
  const head = h("tr", {}, ["run", "started", "commit", "jobs", "", "regr.", "report"].map(t => h("th", {}, t)));
  replace("runs", h("table", {}, h("thead", {}, head), h("tbody", {}, runs.map(r => {
    const c = r.counts, unfinished = c.queued + c.leased + c.running;
    return h("tr", { "data-run": r.key, class: c.failed ? "failed" : "" },
      h("td", { class: "nowrap" }, h("b", {}, r.lab), " #" + r.run),
      h("td", { class: "nowrap", title: new Date(r.created * 1000).toISOString() }, ago(r.created)),
      h("td", { class: "mono", title: (r.commit || "") + (r.branch ? " on " + r.branch : "") },
        r.commit || r.branch ? shortCommit(r.commit) + (r.branch ? " " + r.branch : "") : h("span", { class: "muted" }, "—")),
      h("td", {}, bar(c, r.total || 1)),
      h("td", { class: "num" }, c.done + "/" + r.total, c.failed ? h("span", { class: "err" }, " " + c.failed + " failed") : null,
        unfinished ? h("span", { class: "muted" }, " " + unfinished + " left") : null),
      h("td", { class: "num nowrap" }, reg[r.key] ? h("span", { class: "pill regressed" }, "▲ " + reg[r.key]) : h("span", { class: "muted" }, "0")),
      h("td", {}, c.done && reports ? h("a", { href: "/runs/" + encodeURIComponent(r.lab) + "/" + r.run + "/report/", target: "_blank", rel: "noopener" }, "Pareto") : h("span", { class: "muted" }, "—")));
  }))));
}

function chart(t) {
  const W = 360, H = 130, L = 46, R = 8, T = 14, B = 30;
  const pts = t.points.filter(p => p.median_us !== null);
  const svg = s("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "latency of " + t.label + " across runs" });
  if (!pts.length) { svg.append(s("text", { x: W / 2, y: H / 2, class: "axis", "text-anchor": "middle" }, "no measurement yet")); return svg; }
  let lo = Math.min(...pts.map(p => p.lo_us)), hi = Math.max(...pts.map(p => p.hi_us));
  const pad = Math.max((hi - lo) * 0.12, hi * 0.02, 1);
  lo = Math.max(0, lo - pad); hi += pad;
  const micro = hi < 1000;
  const n = t.points.length;
  const x = i => n === 1 ? L + (W - L - R) / 2 : L + i * (W - L - R) / (n - 1);
  const y = v => T + (H - T - B) * (1 - (v - lo) / (hi - lo));
  for (const v of [lo, (lo + hi) / 2, hi]) {
    svg.append(s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
    svg.append(s("text", { x: L - 4, y: y(v) + 3, class: "axis", "text-anchor": "end" }, micro ? sig(v) : sig(v / 1000)));
  }
  svg.append(s("text", { x: 2, y: 10, class: "axis" }, micro ? "µs" : "ms"));
  const idx = t.points.map((p, i) => [p, i]).filter(([p]) => p.median_us !== null);
  if (idx.length > 1) {
    const upper = idx.map(([p, i]) => x(i) + "," + y(p.hi_us));
    const lower = idx.slice().reverse().map(([p, i]) => x(i) + "," + y(p.lo_us));
    svg.append(s("polygon", { points: upper.concat(lower).join(" "), class: "band" }));
    svg.append(s("polyline", { points: idx.map(([p, i]) => x(i) + "," + y(p.median_us)).join(" "), class: "median" }));
  } else {
    const [p, i] = idx[0];
    svg.append(s("rect", { x: x(i) - 6, width: 12, y: y(p.hi_us), height: Math.max(1, y(p.lo_us) - y(p.hi_us)), class: "band" }));
  }
  const every = Math.ceil(n / 8);
  t.points.forEach((p, i) => {
    if (i % every === 0 || i === n - 1) {
      svg.append(s("text", { x: x(i), y: H - 16, class: "axis", "text-anchor": "middle" }, "#" + p.run));
      if (p.commit || p.branch) svg.append(s("text", { x: x(i), y: H - 4, class: "axis", "text-anchor": "middle" }, shortCommit(p.commit) || p.branch));
    }
  });
  t.points.forEach((p, i) => {
    if (p.state !== "failed") return;
    const m = s("text", { x: x(i), y: H - B - 2, class: "failmark", "text-anchor": "middle" }, "✕");
    m.append(s("title", {}, "run #" + p.run + ": failed" + (p.device ? " on " + p.device : "")));
    svg.append(m);
  });
  for (const [p, i] of idx) {
    const c = s("circle", { cx: x(i), cy: y(p.median_us), r: p.regressed ? 5 : 3, class: "pt" + (p.regressed ? " reg" : "") });
    c.append(s("title", {}, "run #" + p.run + (p.commit ? " · " + p.commit : "") + (p.branch ? " · " + p.branch : "") +
      "\nmedian " + ms(p.median_us) + (p.ci ? "  (95 % CI " + ms(p.lo_us) + " – " + ms(p.hi_us) + ")" : "  (no interval)") +
      (p.delta_pct !== null ? "\n" + (p.delta_pct >= 0 ? "+" : "") + p.delta_pct.toFixed(1) + " % vs previous" : "") +
      (p.device ? "\non " + p.device : "")));
    svg.append(c);
    if (p.regressed) svg.append(s("text", { x: x(i), y: y(p.hi_us) - 4, class: "regmark", "text-anchor": "middle" }, "▲ +" + p.delta_pct.toFixed(0) + "%"));
  }
  return svg;
}

function renderTrends(trends) {
  if (!trends.length) { replace("trends", h("p", { class: "muted" }, "no measurement yet")); return; }
  const failing = t => t.points.length && t.points[t.points.length - 1].state === "failed" ? 1 : 0;
  const sorted = trends.slice().sort((a, b) => (b.regressed - a.regressed) || (failing(b) - failing(a)) ||
    a.lab.localeCompare(b.lab) || a.label.localeCompare(b.label));
  replace("trends", ...sorted.map(t => {
    const last = t.points.filter(p => p.median_us !== null).slice(-1)[0];
    const failedNow = t.points.length && t.points[t.points.length - 1].state === "failed";
    return h("div", { class: "trend" + (t.regressed ? " regressed" : ""), "data-trend": t.lab + "/" + t.label },
      h("div", { class: "title" }, h("span", { class: "label", title: t.label }, t.label)),
      h("div", { class: "sub" }, h("span", { class: "muted small" }, t.lab + " · " + t.points.length + " run" + (t.points.length === 1 ? "" : "s")),
        t.regressed ? h("span", { class: "pill regressed" }, "regressed") : null,
        failedNow ? h("span", { class: "pill failed" }, "failed") : null,
        h("span", { class: "latest" }, last ? ms(last.median_us) : "—",
          last && last.ci ? h("span", { class: "muted small" }, " (CI " + ms(last.lo_us) + "–" + ms(last.hi_us) + ")") : null)),
      chart(t));
  }));
}

async function poll() {
  try {
    const state = await getJSON("/api/state");
    document.getElementById("store").textContent = state.store;
    if (state.version !== lastVersion) {
      const trends = state.empty ? [] : await getJSON("/api/trends");
      renderSummary(state, trends);
      renderDevices(state.devices);
      renderQueue(state.queue);
      renderRuns(state.runs, trends);
      renderTrends(trends);
      lastVersion = state.version;
      document.body.dataset.version = state.version;
    }
    failures = 0;
    document.getElementById("live").classList.remove("stale");
    document.getElementById("updated").textContent = "live · " + clock(state.generated);
    document.getElementById("banner").hidden = true;
  } catch (err) {
    failures += 1;
    document.getElementById("live").classList.add("stale");
    const b = document.getElementById("banner");
    b.textContent = "cannot reach the dashboard server (" + err.message + "); retrying…";
    b.hidden = failures < 2;
  } finally {
    setTimeout(poll, pollSeconds * 1000);
  }
}

async function start() {
  try {
    const config = await getJSON("/api/config");
    pollSeconds = config.poll_seconds || 2;
    reports = config.reports;
  } catch (err) { pollSeconds = 2; }
  poll();
}

start();
