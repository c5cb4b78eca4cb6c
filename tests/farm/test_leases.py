"""Device leases: racing controllers never share a device; dead or expired leases are taken over."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import threading
import time

from edgekit.farm.leases import DeviceLeases, Heartbeat, new_owner, owner_is_dead, takeable
from edgekit.store.sqlite import SqliteStore as Store


def _hold_loop(store_path: str, device: str, rounds: int, start: "mp.synchronize.Event", out: "mp.Queue") -> None:
    leases = DeviceLeases(Store(store_path))
    me = new_owner()
    start.wait()
    held = []
    while len(held) < rounds:
        if leases.acquire(device, me, seconds=30):
            t0 = time.time()
            time.sleep(0.01)  # the "job": the lease is held for a while
            t1 = time.time()
            leases.release(device, me)
            held.append((t0, t1))
    out.put(held)


def test_racing_processes_never_hold_a_device_together(tmp_path):
    store = tmp_path / "s.sqlite"
    Store(store)
    ctx = mp.get_context("fork")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_hold_loop, args=(str(store), "ssh:root@10.0.0.1:22", 8, start, out))
             for _ in range(4)]
    for p in procs:
        p.start()
    start.set()
    intervals = sorted(i for _ in procs for i in out.get(timeout=120))
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert len(intervals) == 32
    for (a0, a1), (b0, b1) in zip(intervals, intervals[1:]):
        assert a1 <= b0, f"two holders at once: {(a0, a1)} overlaps {(b0, b1)}"


def test_threads_racing_for_one_device_exactly_one_wins(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    for round_ in range(5):
        device = f"adb:serial{round_}"
        barrier = threading.Barrier(6)
        winners: list[str] = []

        def race(i: int) -> None:
            leases = DeviceLeases(store)
            barrier.wait()
            if leases.acquire(device, f"owner{i}", 60):
                winners.append(f"owner{i}")
            store.close()

        threads = [threading.Thread(target=race, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(winners) == 1
        assert DeviceLeases(store).holder(device).owner == winners[0]


def test_expired_lease_is_taken_over_and_the_old_owner_notices(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    leases = DeviceLeases(store)
    assert leases.acquire("dev", "host-x:1:111:a", seconds=0.3)
    assert not leases.acquire("dev", "host-x:1:222:b", seconds=10)
    deadline = time.monotonic() + 10
    while not leases.acquire("dev", "host-x:1:222:b", seconds=10):
        assert time.monotonic() < deadline, "expired lease never taken over"
        time.sleep(0.05)
    assert leases.holder("dev").owner == "host-x:1:222:b"
    assert not leases.renew("dev", "host-x:1:111:a", 10)      # the old owner lost it
    kinds = [r["kind"] for r in store.connect().execute("SELECT kind FROM events")]
    assert kinds == ["lease-takeover"]


def test_lease_of_a_killed_controller_on_this_host_is_taken_at_once(tmp_path):
    store_path = tmp_path / "s.sqlite"
    Store(store_path)
    code = ("import sys, time; from edgekit.store.sqlite import SqliteStore as Store; from edgekit.farm.leases import "
            "DeviceLeases, new_owner; o = new_owner(); "
            f"assert DeviceLeases(Store({str(store_path)!r})).acquire('dev', o, 3600); print(o, flush=True); "
            "time.sleep(600)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    owner = proc.stdout.readline().strip()
    leases = DeviceLeases(Store(store_path))
    assert not leases.acquire("dev", new_owner(), 60)            # alive: its lease holds
    assert not owner_is_dead(owner)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert owner_is_dead(owner)
    me = new_owner()
    assert leases.acquire("dev", me, 60)                          # an hour early: the holder is gone
    assert leases.holder("dev").owner == me


def test_owners_elsewhere_are_never_declared_dead():
    assert not owner_is_dead("another-host:4026531836:1:abcd")
    assert not owner_is_dead(new_owner())                          # this process
    assert takeable("", time.time() - 1, "me", time.time())
    assert not takeable("", time.time() + 60, "me", time.time())   # a cool-down hold
    assert takeable("me", time.time() + 60, "me", time.time())


def test_release_with_cooldown_blocks_everyone_until_it_ends(tmp_path):
    leases = DeviceLeases(Store(tmp_path / "s.sqlite"))
    assert leases.acquire("dev", "a", 60)
    leases.release("dev", "a", hold_seconds=0.3)
    assert not leases.acquire("dev", "a", 60)
    assert not leases.acquire("dev", "b", 60)
    deadline = time.monotonic() + 10
    while not leases.acquire("dev", "b", 60):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    leases.release("dev", "b")
    assert leases.holder("dev") is None


def test_heartbeat_keeps_a_lease_alive(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    leases = DeviceLeases(store)
    assert leases.acquire("dev", "a", 0.6)
    hb = Heartbeat(Store(store.path), lease_seconds=0.6)
    hb.hold("dev", "a")
    hb.start()
    try:
        first = leases.holder("dev").expires
        deadline = time.monotonic() + 10
        while leases.holder("dev").expires <= first:
            assert time.monotonic() < deadline, "heartbeat never renewed"
            time.sleep(0.05)
        assert not leases.acquire("dev", "b", 60)
    finally:
        hb.stop()
        hb.join(timeout=5)
