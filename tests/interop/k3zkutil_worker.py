#!/usr/bin/env python3
"""A k3zkutil ZKLock contender for zklock's interop tests (tests/interop.rs).

usage: k3zkutil_worker.py HOSTS DIR NAME ID LOG ROUNDS HOLD_MS

The lock is k3zkutil's ZKLock NAME under lock_dir DIR (its node is DIR+NAME),
with identifier ID.
ROUNDS > 0: that many rounds of acquire, "ms lock x enter ID 0" appended to
LOG (one O_APPEND write), hold HOLD_MS, the exit record, release.
ROUNDS = 0: hold mode: acquire, print "held", then obey stdin lines:
  "val <json>"   set_lock_val(<json>), print the new version;
  "release"      release, print "released", exit.
ROUNDS = -1: probe mode (never acquires on its own), stdin lines:
  "try_acquire"  print json [locked, holder, version];
  "get_val"      print json [val, version];
  "try_release"  print json [released, holder, version];
  "quit"         exit.
"""
import json
import os
import sys
import time

from k3zkutil import ZKConf, ZKLock
from kazoo.client import KazooClient


def record(log, kind, holder):
    line = "%d lock x %s %s 0\n" % (int(time.time() * 1000), kind, holder)
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def main():
    hosts, lock_dir, name, ident, log = sys.argv[1:6]
    rounds, hold_ms = int(sys.argv[6]), int(sys.argv[7])
    client = KazooClient(hosts=hosts, timeout=10.0)
    client.start(timeout=30)
    conf = ZKConf(hosts=hosts, lock_dir=lock_dir)

    def lock():
        return ZKLock(name, zkconf=conf, zkclient=client, identifier=ident, timeout=60)

    if rounds > 0:
        for _ in range(rounds):
            lk = lock()
            lk.acquire()
            record(log, "enter", ident)
            time.sleep(hold_ms / 1000.0)  # the work the lock protects
            record(log, "exit", ident)
            lk.release()
    elif rounds == 0:
        lk = lock()
        lk.acquire()
        print("held", flush=True)
        for line in sys.stdin:
            cmd, _, arg = line.strip().partition(" ")
            if cmd == "val":
                print(lk.set_lock_val(json.loads(arg)), flush=True)
            elif cmd == "release":
                lk.release()
                print("released", flush=True)
                break
    else:
        lk = lock()
        for line in sys.stdin:
            cmd = line.strip()
            if cmd == "try_acquire":
                print(json.dumps(list(lk.try_acquire())), flush=True)
            elif cmd == "get_val":
                print(json.dumps(list(lk.get_lock_val())), flush=True)
            elif cmd == "try_release":
                print(json.dumps(list(lk.try_release())), flush=True)
            else:
                break
    client.stop()
    client.close()


if __name__ == "__main__":
    main()
