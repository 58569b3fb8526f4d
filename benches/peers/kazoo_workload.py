#!/usr/bin/env python3
"""The lock workloads of scripts/bench-peers, with kazoo (see examples/workload.rs
for the same workloads with zklock, and CuratorWorkload.java with Curator).

usage: kazoo_workload.py HOSTS PATH WORKLOAD ARGS...
  floor N | uncontended N | threads T SECS SESSIONS [shared|each] | rw T SECS | sem T SECS LEASES
(threads: a kazoo Lock is one contender and cannot be shared by threads, so
every thread has its own whatever the last argument says)
Prints one "result key=value ..." line.
"""
import os
import sys
import threading
import time

from kazoo.client import KazooClient


def pct(v, p):
    if not v:
        return float("nan")
    v = sorted(v)
    return v[int(round((len(v) - 1) * p))]


def run_for(secs, stop, run, threads):
    """Runs `run(i)` on `threads` threads for `secs` seconds (the run's
    length), then stops and joins them; returns how long they ran."""
    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    start = time.monotonic()
    for t in ts:
        t.start()
    time.sleep(secs)
    stop.set()
    took = time.monotonic() - start
    for t in ts:
        t.join()
    return took


def client(hosts):
    ca = os.environ.get("ZKLOCK_TLS_CA")  # TLS to a secureClientPort when set
    c = KazooClient(hosts=hosts, timeout=10.0, use_ssl=bool(ca), ca=ca, verify_certs=True)
    c.start(timeout=30)
    return c


def main():
    hosts, path, what = sys.argv[1:4]
    args = [int(a) for a in sys.argv[4:] if a not in ("shared", "each")]
    zk = client(hosts)
    if what in ("floor", "uncontended"):
        n = args[0]
        zk.ensure_path(path)
        lock = zk.Lock(path)
        start = time.monotonic()
        for _ in range(n):
            if what == "floor":
                p = zk.create(path + "/n-", b"", ephemeral=True, sequence=True)
                zk.get_children(path)
                zk.delete(p)
            else:
                lock.acquire()
                lock.release()
        took = time.monotonic() - start
        print("result ops=%d secs=%.3f ms_per_op=%.3f" % (n, took, took * 1e3 / n))
    elif what == "threads":
        threads, secs, sessions = args
        zk.ensure_path(path)
        stop = threading.Event()
        timeline = []
        mutex = threading.Lock()
        clients = [zk] if sessions == 1 else [client(hosts) for _ in range(threads)]

        def run(i):
            c = clients[0] if sessions == 1 else clients[i]
            lock = c.Lock(path)  # one per thread: a kazoo Lock is one contender
            while not stop.is_set():
                asked = time.monotonic()
                lock.acquire()
                got = time.monotonic()
                rel = time.monotonic()
                lock.release()
                done = time.monotonic()
                with mutex:
                    timeline.append((got, rel, done, (got - asked) * 1e3))

        took = run_for(secs, stop, run, threads)
        waits = [t[3] for t in timeline]
        timeline.sort()
        # a hand-off: the next holder was waiting when the release was called
        pairs = [(a, b) for a, b in zip(timeline, timeline[1:]) if b[0] - b[3] / 1e3 <= a[1]]
        from_return = [(b[0] - a[2]) * 1e3 for a, b in pairs]
        from_start = [(b[0] - a[1]) * 1e3 for a, b in pairs]
        n = len(timeline)
        print("result ops=%d secs=%.3f per_sec=%.1f p50_ms=%.3f p99_ms=%.3f "
              "handoff_p50_ms=%.3f handoff_from_start_p50_ms=%.3f handoff_from_start_p99_ms=%.3f"
              % (n, took, n / took, pct(waits, 0.5), pct(waits, 0.99),
                 pct(from_return, 0.5), pct(from_start, 0.5), pct(from_start, 0.99)))
    elif what in ("rw", "sem"):
        threads, secs = args[0], args[1]
        leases = args[2] if what == "sem" else 1
        stop = threading.Event()
        count = [0]
        mutex = threading.Lock()

        def run(i):
            read, write = zk.ReadLock(path), zk.WriteLock(path)
            sem = zk.Semaphore(path, max_leases=leases)
            n = i
            while not stop.is_set():
                n += 1
                r = sem if what == "sem" else (write if n % 10 == 0 else read)
                r.acquire()
                r.release()
                with mutex:
                    count[0] += 1

        took = run_for(secs, stop, run, threads)
        print("result ops=%d secs=%.3f per_sec=%.1f" % (count[0], took, count[0] / took))
    zk.stop()
    zk.close()


if __name__ == "__main__":
    main()
