"""``edgekit lab serve``: the dashboard over a store filled by real lab runs.

The lab is this host plus two real sshd boards. Runs 1 and 2 are measured for real (with CI
labels in the environment); board-b then loses power and run 3 is measured for real without
it (out of rotation, its job failed); run 4 goes through the farm's queue API with one job
slower than its run-3 measurement by half (a regression the trend must mark). The server is
the real CLI (``edgekit lab serve --port 0``, uvicorn) in a subprocess; the page is checked in
a real headless Chromium, including a live update from a fifth run measured while it is open.
"""

from __future__ import annotations

import dataclasses
import getpass
import http.cookiejar
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator, Optional
from unittest import mock

import pytest

from edgekit.farm.dashboard.trends import TrendPoint, regressed
from edgekit.farm.lab import Lab
from edgekit.farm.leases import new_owner
from edgekit.farm.queue import JobQueue, run_key
from edgekit.farm.run_meta import ci_labels, record_run_meta
from edgekit.measurement import LatencyStats
from edgekit.store import open_store
from tests.farm.conftest import BOARD_WORKDIR, start_boards, write_profile

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "examples" / "models"
TOKEN = "s3cret-dashboard-token"
SLOW = "small_cnn_int8[int8] on host"          # run 4: slower by half (a regression)
TEMPS = {"host": {"cpu-thermal": 48.2, "gpu-thermal": 44.0}, "board-a": {"soc-thermal": 71.0}}
TESTBOARD = f"""
name = "testboard"
kind = "board"
transport = "ssh"
runner = "edgekit-runner"
python = "{sys.executable}"
workdir = "{BOARD_WORKDIR}"
big_cores = "auto"
max_temp_c = 200.0
[connection]
host = "127.0.0.1"
user = "{getpass.getuser()}"
"""


def lab_text(store: Path, boards: str) -> str:
    return f"""
[lab]
name = "nightly"
store = "{store}"
cooldown_seconds = 0
check_load = false
retries = 2
lease_seconds = 60

[defaults]
threads = 1
warmup_runs = 3
warmup_seconds = 0
runs = 12
min_seconds = 0

[[device]]
name = "host"
profile = "host"
{boards}
[[job]]
models = ["{MODELS}/small_cnn_*.tflite"]
devices = ["host"]

[[job]]
models = ["{MODELS}/small_cnn_fp32.tflite"]
devices = ["board-a"]

[[job]]
models = ["{MODELS}/small_cnn_int8.tflite"]
devices = ["board-b"]
"""


@dataclasses.dataclass
class LabStore:
    folder: Path
    lab_file: Path
    store: Path
    profiles: Path

    def lab(self) -> Lab:
        return Lab.load(self.lab_file, profile_dirs=[self.profiles])

    def run_for_real(self, env: Optional[dict[str, str]] = None) -> int:
        with mock.patch.dict(os.environ, env or {}):
            lab = self.lab()
            try:
                result = lab.run(fresh=lab.latest_run() is not None)
            finally:
                lab.store.close()
        return result.run


def build_run_with_regression(ls: LabStore) -> int:
    """A run through the queue API: the SLOW job slower by half, board-b's job failed (the
    board is down), the rest copies of the previous run's real measurements."""
    lab = ls.lab()
    store = lab.store
    number = lab.choose_run(fresh=True)
    queue = JobQueue(store, run_key(lab.name, number))
    queue.add(lab.jobs)
    record_run_meta(store, run_key(lab.name, number))
    before = JobQueue(store, run_key(lab.name, number - 1))
    previous = {r.label: store.measurement(r.measurement_id) for r in before.jobs() if r.measurement_id}
    owner = new_owner()
    assert queue.fail_queued("board-b", "device", "no healthy device for 'board-b' (board-b: unreachable)") == 1
    for device, profile in (("host", "host"), ("board-a", "testboard")):
        while (job := queue.claim(device, profile, f"{owner}/{device}", 60)) is not None:
            queue.start(job.id, f"{owner}/{device}")
            m = previous[job.label]
            factor = 1.5 if job.label == SLOW else 1.0
            samples = tuple(s * factor for s in m.samples_us)
            # as boards with thermal zones report them (this host and the test boards have none)
            facts = {**m.facts, "temps_after_c": TEMPS[device]}
            slowed = dataclasses.replace(m, samples_us=samples, stats=LatencyStats.from_samples(samples), facts=facts,
                                         id=os.urandom(16).hex(), started_at=time.time(), finished_at=time.time())
            assert queue.complete(job.id, f"{owner}/{device}", slowed)
    store.close()
    return number


@pytest.fixture(scope="module")
def lab_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabStore]:
    """Runs 1–2 real on the host and two sshd boards; run 3 real with board-b powered off;
    run 4 through the queue API with a regression."""
    folder = tmp_path_factory.mktemp("dashboard_lab")
    board_lab = start_boards(folder / "boards", 2, first_host=40)
    try:
        profile_dirs = folder / "profiles"
        write_profile(profile_dirs, "testboard", TESTBOARD)
        store = folder / "results.sqlite"
        lab_file = folder / "nightly.toml"
        lab_file.write_text(lab_text(store, board_lab.device_entries()))
        ls = LabStore(folder, lab_file, store, profile_dirs)
        assert ls.run_for_real({"GITHUB_SHA": "3f2a9c1d0e5b7a8c9d0e1f2a3b4c5d6e7f8a9b0c", "GITHUB_REF_NAME": "main"}) == 1
        assert ls.run_for_real({"GITHUB_SHA": "a41c07be55e0d2f4c1b8a9e7d6c5b4a39281706f", "GITHUB_REF_NAME": "main"}) == 2
        board_lab.boards[1].kill()          # board-b loses power
        assert ls.run_for_real({"GITHUB_SHA": "5d1e3b7f90a2c4e6f8b0d2f4a6c8e0b2d4f6a8c0", "GITHUB_REF_NAME": "main"}) == 3
        lab = ls.lab()
        failed = [(j.label, j.error) for j in JobQueue(lab.store, "nightly#3").jobs() if j.state != "done"]
        lab.store.close()
        assert [f[0] for f in failed] == ["small_cnn_int8[int8] on board-b"], failed
        with mock.patch.dict(os.environ, {"CI_COMMIT_SHA": "9e0d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a291807",
                                          "CI_COMMIT_REF_NAME": "feature/int8-kernels"}):
            assert build_run_with_regression(ls) == 4
        yield ls
    finally:
        for b in board_lab.boards:
            if b.proc.poll() is None:
                b.kill()


# -- a real server --------------------------------------------------------------------------

@dataclasses.dataclass
class Server:
    proc: subprocess.Popen[str]
    url: str
    stderr: list[str]

    def get(self, path: str, headers: Optional[dict[str, str]] = None,
            opener: Optional[urllib.request.OpenerDirector] = None, method: str = "GET") -> tuple[int, dict, bytes]:
        req = urllib.request.Request(self.url.rstrip("/") + path, headers=headers or {}, method=method)
        try:
            with (opener or urllib.request.build_opener()).open(req, timeout=60) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def json(self, path: str, **kw: Any) -> Any:
        status, _, body = self.get(path, **kw)
        assert status == 200, (path, status, body[:300])
        return json.loads(body)


def edgekit(*args: str, env: Optional[dict[str, str]] = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgekit.cli.main", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def start_server(*args: str, env: Optional[dict[str, str]] = None) -> Server:
    proc = subprocess.Popen([sys.executable, "-m", "edgekit.cli.main", "lab", "serve", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    lines: list[str] = []
    deadline = time.time() + 60
    assert proc.stderr is not None
    while time.time() < deadline:
        line = proc.stderr.readline()
        if not line:
            proc.wait(timeout=10)
            raise AssertionError(f"server exited {proc.returncode}: {''.join(lines)}")
        lines.append(line)
        m = re.search(r"(http://[^\s/]+:\d+/)", line)
        if m:
            url = m.group(1).replace("0.0.0.0", "127.0.0.1")
            return Server(proc, url, lines)
    proc.kill()
    raise AssertionError("the server did not announce its address: " + "".join(lines))


def stop(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server(lab_store: LabStore) -> Iterator[Server]:
    s = start_server("--store", str(lab_store.store), "--poll", "0.5")
    yield s
    stop(s)


# -- HTTP ---------------------------------------------------------------------------------

def test_state_lists_devices_queue_and_runs(server: Server) -> None:
    state = server.json("/api/state")
    devices = {d["name"]: d for d in state["devices"]}
    assert set(devices) == {"host", "board-a", "board-b"}
    assert devices["host"]["health"] == "ok" and devices["host"]["activity"] == "idle"
    assert devices["host"]["done"] == 8 and devices["host"]["failed"] == 0 and devices["host"]["profile"] == "host"
    assert devices["board-a"]["done"] == 4 and devices["board-a"]["profile"] == "testboard"
    assert devices["board-b"]["health"] == "out-of-rotation" and devices["board-b"]["reason"]
    assert devices["board-b"]["done"] == 2
    assert devices["host"]["temps_c"] == TEMPS["host"] and devices["board-a"]["temps_c"] == TEMPS["board-a"]
    assert devices["board-b"]["temps_c"] == {}
    runs = {r["run"]: r for r in state["runs"]}
    assert [r["run"] for r in state["runs"]] == [4, 3, 2, 1]
    assert runs[1]["counts"] == {"queued": 0, "leased": 0, "running": 0, "done": 4, "failed": 0}
    for n in (3, 4):
        assert runs[n]["counts"] == {"queued": 0, "leased": 0, "running": 0, "done": 3, "failed": 1}
    assert (runs[1]["commit"], runs[1]["branch"]) == ("3f2a9c1d0e5b7a8c9d0e1f2a3b4c5d6e7f8a9b0c", "main")
    assert runs[4]["branch"] == "feature/int8-kernels" and runs[4]["commit"].startswith("9e0d7c6")
    assert state["queue"]["counts"] == {"queued": 0, "leased": 0, "running": 0}
    assert [(j["label"], j["run"]) for j in state["queue"]["failed"]] == [
        ("small_cnn_int8[int8] on board-b", "nightly#4"), ("small_cnn_int8[int8] on board-b", "nightly#3")]
    assert server.json("/api/devices") == state["devices"]
    assert server.json("/api/version")["version"] == state["version"]


def test_trends_follow_jobs_across_runs_and_mark_the_regression(server: Server, lab_store: LabStore) -> None:
    trends = {t["label"]: t for t in server.json("/api/trends")}
    assert set(trends) == {"small_cnn_fp32[fp32] on host", "small_cnn_int8[int8] on host",
                           "small_cnn_fp32[fp32] on board-a", "small_cnn_int8[int8] on board-b"}
    slow = trends[SLOW]
    assert [p["run"] for p in slow["points"]] == [1, 2, 3, 4]
    st = open_store(lab_store.store)
    for p in slow["points"]:   # the values are the stored measurements' own statistics
        job = JobQueue(st, p["run_key"]).jobs()
        m = st.measurement(next(j.measurement_id for j in job if j.label == SLOW))
        assert (p["median_us"], p["lo_us"], p["hi_us"]) == (m.stats.median, m.stats.median_ci_lo, m.stats.median_ci_hi)
        assert p["ci"] is True
    st.close()
    last = slow["points"][3]
    assert last["regressed"] and slow["regressed"] and last["delta_pct"] == pytest.approx(50.0, abs=0.5)
    assert last["lo_us"] > slow["points"][2]["hi_us"] * 1.05
    assert last["branch"] == "feature/int8-kernels" and slow["points"][0]["commit"].startswith("3f2a9c1")
    same = trends["small_cnn_fp32[fp32] on host"]["points"]
    assert not same[3]["regressed"] and same[3]["median_us"] == same[2]["median_us"]   # an identical copy
    down = trends["small_cnn_int8[int8] on board-b"]["points"]
    assert [p["state"] for p in down] == ["done", "done", "failed", "failed"]
    assert down[3]["median_us"] is None and not down[3]["regressed"]
    for t in trends.values():   # every mark is the rule applied to the intervals
        measured = [p for p in t["points"] if p["median_us"] is not None]
        for prev, p in zip(measured, measured[1:]):
            assert p["regressed"] == (p["lo_us"] > prev["hi_us"] * 1.05)


def test_regression_rule() -> None:
    base = TrendPoint(1, 100.0, 95.0, 105.0, True)
    assert regressed(TrendPoint(2, 120.0, 111.0, 130.0, True), base)          # 111 > 105 × 1.05
    assert not regressed(TrendPoint(2, 120.0, 110.0, 130.0, True), base)      # 110 ≤ 110.25: overlaps the margin
    assert not regressed(TrendPoint(2, 50.0, 45.0, 55.0, True), base)         # faster
    assert not regressed(base, None)


def test_ci_labels_from_the_environment() -> None:
    assert ci_labels({"GITHUB_SHA": "abc123", "GITHUB_REF_NAME": "main", "GITHUB_RUN_ID": "77"}) == \
        {"commit": "abc123", "branch": "main", "ci_run": "77"}
    assert ci_labels({"CI_COMMIT_SHA": "def", "CI_COMMIT_REF_NAME": "dev", "EDGEKIT_BRANCH": "mine"}) == \
        {"commit": "def", "branch": "mine"}
    assert ci_labels({"PATH": "/bin", "GITHUB_SHA": "  "}) == {}


def test_page_and_assets_are_served_from_the_package(server: Server) -> None:
    status, headers, body = server.get("/")
    assert status == 200 and b'<script src="/static/dashboard.js"' in body
    assert "default-src 'self'" in headers["content-security-policy"]
    for asset in ("/static/dashboard.js", "/static/dashboard.css"):
        status, _, body = server.get(asset)
        assert status == 200 and len(body) > 1000
    assert b"http" not in server.get("/static/dashboard.js")[2].replace(b"http://www.w3.org/2000/svg", b"")


def test_run_report_is_rendered_on_demand(server: Server) -> None:
    status, headers, body = server.get("/runs/nightly/4/report/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    html = body.decode()
    assert "<title>lab nightly, run 4</title>" in html and "small_cnn" in html and "int8" in html
    assert server.get("/runs/nightly/4/report/")[2] == body          # cached
    assert server.get("/runs/nightly/9/report/")[0] == 404
    assert server.get("/runs/other/1/report/")[0] == 404
    assert server.get("/runs/nightly/4/report/..%2F..%2F..%2Fetc%2Fpasswd")[0] == 404


def test_read_only(server: Server, lab_store: LabStore) -> None:
    st = open_store(lab_store.store)
    tables = ("jobs", "farm_jobs", "farm_runs", "events", "device_leases", "measurements", "artifacts")
    before = {t: st.query(f"SELECT COUNT(*) AS n FROM {t}")[0]["n"] for t in tables}
    for path in ("/api/state", "/api/trends", "/api/queue", "/api/runs", "/api/devices"):
        assert server.get(path, method="POST")[0] == 405
        assert server.get(path, method="DELETE")[0] == 405
        server.json(path)
    assert {t: st.query(f"SELECT COUNT(*) AS n FROM {t}")[0]["n"] for t in tables} == before
    st.close()


# -- security and errors ----------------------------------------------------------------

def test_token_is_required_on_every_request(lab_store: LabStore) -> None:
    s = start_server("--store", str(lab_store.store), "--token", TOKEN)
    try:
        for path in ("/", "/api/state", "/static/dashboard.js", "/runs/nightly/1/report/"):
            assert s.get(path)[0] == 401, path
        assert s.get("/api/state", headers={"Authorization": "Bearer wrong-token-123"})[0] == 401
        assert s.get("/api/state", headers={"Cookie": "edgekit_dashboard=" + TOKEN})[0] == 401  # not the raw token
        assert s.get("/api/state", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200
        assert s.get("/api/state", headers={"X-Edgekit-Token": TOKEN})[0] == 200
        assert s.get(f"/api/state?token={TOKEN}")[0] == 200
        # a browser: ?token= once → a cookie and a redirect to the clean URL; then no token needed
        jar = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        status, _, body = s.get(f"/?token={TOKEN}", opener=browser)
        assert status == 200 and b"edgekit lab" in body
        cookie = next(c for c in jar if c.name == "edgekit_dashboard")
        assert cookie.value != TOKEN and cookie.has_nonstandard_attr("HttpOnly")
        assert s.get("/api/state", opener=browser)[0] == 200
        assert s.get("/api/state")[0] == 401
    finally:
        stop(s)


def test_refuses_a_public_address_without_a_token(lab_store: LabStore) -> None:
    env = {"EDGEKIT_DASHBOARD_TOKEN": ""}
    r = edgekit("lab", "serve", "--store", str(lab_store.store), "--host", "0.0.0.0", env=env)
    assert r.returncode == 2
    err = " ".join(r.stderr.split())
    assert "refusing to serve the dashboard on 0.0.0.0 without a token" in err and "--token" in err
    # with the token from the environment it serves — and asks for it (reached over loopback only)
    s = start_server("--store", str(lab_store.store), "--host", "0.0.0.0", env={"EDGEKIT_DASHBOARD_TOKEN": TOKEN})
    try:
        assert s.get("/api/state")[0] == 401
        assert s.get("/api/state", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200
    finally:
        stop(s)


def test_clear_errors_for_missing_store_busy_port_short_token(lab_store: LabStore, server: Server,
                                                              tmp_path: Path) -> None:
    r = edgekit("lab", "serve", "--store", str(tmp_path / "nope.sqlite"))
    assert r.returncode == 2 and "does not exist" in r.stderr and "hint" in r.stderr
    assert not (tmp_path / "nope.sqlite").exists()
    port = server.url.rsplit(":", 1)[1].strip("/")
    r = edgekit("lab", "serve", "--store", str(lab_store.store), "--port", port)
    assert r.returncode == 2 and f"port {port} on 127.0.0.1 is already in use" in " ".join(r.stderr.split())
    assert "--port" in r.stderr
    r = edgekit("lab", "serve", "--store", str(lab_store.store), "--token", "short")
    assert r.returncode == 2 and "at least 8" in r.stderr


# -- a real browser -----------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"

PROBE = """(() => {
  const q = s => Array.from(document.querySelectorAll(s));
  return {
    version: document.body.dataset.version || null,
    devices: q('[data-device]').map(e => e.dataset.device),
    deviceText: q('[data-device]').map(e => e.innerText),
    runs: q('[data-run]').map(e => e.dataset.run),
    failedJobs: q('#queue tr.failed').map(e => e.innerText),
    trends: q('[data-trend]').map(e => e.dataset.trend),
    regressed: q('.trend.regressed').map(e => e.dataset.trend),
    regMarks: q('.trend svg .regmark').length,
    bands: q('.trend svg .band').length,
    reportLinks: q('#runs a').map(a => a.getAttribute('href')),
    banner: !document.getElementById('banner').hidden,
    chips: Object.fromEntries(q('.chip[data-what]').map(e => [e.dataset.what, e.querySelector('.n').innerText])),
  };
})()"""


def _probe(browser: Any) -> dict[str, Any]:
    res = browser.call("Runtime.evaluate", expression=PROBE, returnByValue=True)
    return res.get("result", {}).get("value") or {}


def _wait(browser: Any, cond: Any, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.time() + timeout
    seen: dict[str, Any] = {}
    while time.time() < deadline:
        seen = _probe(browser)
        if seen and cond(seen):
            return seen
        time.sleep(0.25)
    raise AssertionError(f"the page did not reach the expected state: {seen}")


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (scripts/test installs it)")
def test_page_in_chromium_renders_and_updates_live(server: Server, lab_store: LabStore, tmp_path: Path) -> None:
    import base64

    from tests.report.chromium import Browser

    with Browser(1400, 1100) as b:
        for domain in ("Page", "Runtime", "Log"):
            b.call(f"{domain}.enable")
        b.call("Emulation.setDeviceMetricsOverride", width=1400, height=1100, deviceScaleFactor=1, mobile=False)
        b.call("Page.navigate", url=server.url)
        b.wait_event("Page.loadEventFired", timeout=60)
        seen = _wait(b, lambda s: s["devices"] and s["trends"])
        trends = server.json("/api/trends")
        assert seen["devices"] == ["board-a", "board-b", "host"]
        assert seen["runs"] == ["nightly#4", "nightly#3", "nightly#2", "nightly#1"]
        assert len(seen["trends"]) == 4 and seen["regressed"] == [f"nightly/{SLOW}"]
        assert seen["regMarks"] == sum(p["regressed"] for t in trends for p in t["points"]) >= 1
        assert seen["bands"] == 4
        assert any("small_cnn_int8[int8] on board-b" in t for t in seen["failedJobs"])
        assert "out-of-rotation" in next(t for t, d in zip(seen["deviceText"], seen["devices"]) if d == "board-b")
        assert seen["chips"]["regressed jobs"] == "1" and seen["chips"]["failed jobs (recent runs)"] == "2"
        assert seen["chips"]["devices out of rotation"] == "1"
        assert "48°C" in next(t for t, d in zip(seen["deviceText"], seen["devices"]) if d == "host")
        assert "/runs/nightly/4/report/" in seen["reportLinks"]
        assert not seen["banner"]
        height = b.call("Runtime.evaluate", expression="Math.ceil(document.querySelector('main').getBoundingClientRect()"
                                                       ".bottom)",
                        returnByValue=True)["result"]["value"]
        b.call("Emulation.setDeviceMetricsOverride", width=1400, height=int(height), deviceScaleFactor=1, mobile=False)
        shot = tmp_path / "dashboard.png"
        shot.write_bytes(base64.b64decode(b.call("Page.captureScreenshot", format="png")["data"]))
        if os.environ.get("EDGEKIT_DASHBOARD_SCREENSHOT"):
            shutil.copy(shot, os.environ["EDGEKIT_DASHBOARD_SCREENSHOT"])

        # live: a fourth run, measured for real while the page is open, appears without a reload
        version = seen["version"]
        assert lab_store.run_for_real({"GITHUB_SHA": "c0ffee0123456789abcdef0123456789abcdef01"}) == 5
        live = _wait(b, lambda s: s["runs"][:1] == ["nightly#5"] and s["version"] != version)
        assert len(live["runs"]) == 5 and live["devices"] == ["board-a", "board-b", "host"]
        time.sleep(0.3)
        b.call("Runtime.evaluate", expression="1")   # drain late events
        assert b.errors() == []


# -- the same dashboard over PostgreSQL -----------------------------------------------------

@pytest.mark.postgres
def test_dashboard_over_postgresql(pg_url: str, tmp_path: Path) -> None:
    host_only = lab_text(Path("unused"), "").split("[[job]]")[0].replace('store = "unused"\n', "")
    lab_file = tmp_path / "pg.toml"
    lab_file.write_text(host_only + f'[[job]]\nmodels = ["{MODELS}/small_cnn_*.tflite"]\ndevices = ["host"]\n')
    for n in (1, 2):
        with mock.patch.dict(os.environ, {"GITHUB_SHA": f"{n}" * 40, "GITHUB_REF_NAME": "main"}):
            lab = Lab.load(lab_file, store=pg_url)
            assert lab.run(fresh=n > 1).ok
            lab.store.close()
    s = start_server("--store", pg_url)
    try:
        state = s.json("/api/state")
        assert [d["name"] for d in state["devices"]] == ["host"] and state["devices"][0]["done"] == 4
        assert [(r["run"], r["counts"]["done"], r["commit"]) for r in state["runs"]] == [(2, 2, "2" * 40),
                                                                                       (1, 2, "1" * 40)]
        trends = s.json("/api/trends")
        assert sorted(t["label"] for t in trends) == ["small_cnn_fp32[fp32] on host", "small_cnn_int8[int8] on host"]
        assert all([p["run"] for p in t["points"]] == [1, 2] and t["points"][1]["ci"] for t in trends)
    finally:
        stop(s)
