#!/usr/bin/env python3
"""A kazoo contender for zklock's interop tests (tests/interop.rs).

usage: kazoo_worker.py HOSTS PATH KIND ID LOG ITERATIONS HOLD_MS [MAX_LEASES]

KIND: lock (kazoo Lock), rw (ReadLock, every third round WriteLock),
      read, write, sem (Semaphore with MAX_LEASES).
Each round acquires, appends "ms resource role enter ID 0" to LOG (one
O_APPEND write per record), holds HOLD_MS, appends the exit record and
releases. ITERATIONS = 0 is hold mode: acquire once, print "held", wait for
a line on stdin, release, print "released".
"""
import os
import sys
import time

from kazoo.client import KazooClient


def record(log, resource, role, kind, holder):
    line = "%d %s %s %s %s 0\n" % (int(time.time() * 1000), resource, role, kind, holder)
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def main():
    hosts, path, kind, ident, log = sys.argv[1:6]
    iterations, hold_ms = int(sys.argv[6]), int(sys.argv[7])
    max_leases = int(sys.argv[8]) if len(sys.argv) > 8 else 1
    client = KazooClient(hosts=hosts, timeout=10.0)
    client.start(timeout=30)

    def recipe(round_no):
        if kind == "lock":
            return "lock", "x", client.Lock(path, ident)
        if kind == "sem":
            return "sem", "s", client.Semaphore(path, ident, max_leases=max_leases)
        if kind == "write" or (kind == "rw" and round_no % 3 == 0):
            return "rw", "w", client.WriteLock(path, ident)
        return "rw", "r", client.ReadLock(path, ident)

    if iterations == 0:
        _, _, r = recipe(0)
        r.acquire()
        print("held", flush=True)
        sys.stdin.readline()
        r.release()
        print("released", flush=True)
    else:
        for i in range(iterations):
            resource, role, r = recipe(i)
            r.acquire()
            record(log, resource, role, "enter", ident)
            time.sleep(hold_ms / 1000.0)  # the work the lock protects
            record(log, resource, role, "exit", ident)
            r.release()
    client.stop()
    client.close()


if __name__ == "__main__":
    main()
