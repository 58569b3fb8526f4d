//! zklock sharing one lock path with the real peer clients: kazoo 2.11
//! (Python) and Curator 5.4 (Java), prepared by `scripts/interop-setup`
//! (which `scripts/test` runs). kazoo and Curator never share a path with
//! each other: Curator mis-sorts kazoo's names, whatever zklock does.
//!
//! Every holder, whichever client it runs on, appends enter/exit records to
//! one log (`tests/support/holders.rs`); the tests check from it that no two
//! writers overlapped, no more holders than leases held a semaphore, readers
//! did overlap, and every process got the lock.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::holders::{check, intervals, most_together, per_process, read_log, record};
use support::{client, hosts, wait_until};
use zklock::{
    Client, Flavor, Lock, LockGuard, NodeLock, ReadLock, ReentrantLock, ReentrantReadWriteLock,
    Semaphore, WriteLock,
};

const WAIT: Duration = Duration::from_secs(60);
const ROUNDS: usize = 12;
const HOLD_MS: u64 = 20;
const LEASES: usize = 2;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Peer {
    Kazoo,
    Curator,
}

impl Peer {
    fn flavor(self) -> Flavor {
        match self {
            Peer::Kazoo => Flavor::Kazoo,
            Peer::Curator => Flavor::Curator,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Peer::Kazoo => "kazoo",
            Peer::Curator => "curator",
        }
    }
}

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/interop")
}

/// The command that runs a peer worker (see tests/interop/).
fn peer_command(peer: Peer) -> Command {
    let dir = interop_dir();
    match peer {
        Peer::Kazoo => {
            let python = dir.join("venv/bin/python");
            assert!(
                python.exists(),
                "kazoo is not set up: run scripts/interop-setup (scripts/test does)"
            );
            let mut c = Command::new(python);
            c.arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/kazoo_worker.py"));
            c
        }
        Peer::Curator => {
            let cp = std::fs::read_to_string(dir.join("classpath")).unwrap_or_else(|_| {
                panic!("Curator is not set up: run scripts/interop-setup (scripts/test does)")
            });
            let mut c = Command::new("java");
            c.args([
                "-Xmx128m",
                "-XX:+UseSerialGC",
                "-cp",
                cp.trim(),
                "CuratorWorker",
            ]);
            c
        }
    }
}

/// Starts a peer worker: `kind` is lock, rw, read, write or sem; 0 rounds
/// means hold mode (see the workers).
fn peer(
    peer: Peer,
    connect: &str,
    path: &str,
    kind: &str,
    id: &str,
    log: &Path,
    rounds: usize,
) -> Child {
    peer_command(peer)
        .args([
            connect,
            path,
            kind,
            id,
            &log.display().to_string(),
            &rounds.to_string(),
            &HOLD_MS.to_string(),
            &LEASES.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start a {} worker: {e}", peer.name()))
}

/// Starts a zklock worker process (this test binary, see `zklock_worker`).
fn zklock(flavor: Flavor, connect: &str, path: &str, kind: &str, id: &str, log: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "zklock_worker",
            "--exact",
            "--ignored",
            "--nocapture",
            "--quiet",
        ])
        .env(
            "ZKLOCK_INTEROP_WORKER",
            format!("{connect}|{path}|{kind}|{id}|{}|{flavor:?}", log.display()),
        )
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// Run by the mixed tests in a child process: ROUNDS acquisitions of the
/// given kind, each logged like the peers' (with the fencing token).
#[test]
#[ignore = "a helper process, run by the interop tests"]
fn zklock_worker() {
    let Ok(spec) = std::env::var("ZKLOCK_INTEROP_WORKER") else {
        return;
    };
    let p: Vec<&str> = spec.split('|').collect();
    let (connect, path, kind, id, log) = (p[0], p[1], p[2], p[3], PathBuf::from(p[4]));
    let flavor = if p[5] == "Curator" {
        Flavor::Curator
    } else {
        Flavor::Kazoo
    };
    let c = Client::connect(connect).unwrap();
    let lock = Lock::new(&c, path).unwrap().identifier(id).flavor(flavor);
    let read = ReadLock::new(&c, path)
        .unwrap()
        .identifier(id)
        .flavor(flavor);
    let write = WriteLock::new(&c, path)
        .unwrap()
        .identifier(id)
        .flavor(flavor);
    let sem = Semaphore::new(&c, path, LEASES as u32)
        .unwrap()
        .identifier(id)
        .flavor(flavor);
    let hold = |g: LockGuard, resource: &str, role: &str| {
        let token = g.fencing_token().unwrap();
        g.check().unwrap();
        record(&log, resource, role, "enter", id, token);
        std::thread::sleep(Duration::from_millis(HOLD_MS)); // the work
        g.check().unwrap();
        record(&log, resource, role, "exit", id, token);
        g.release().unwrap();
    };
    if kind == "node" {
        let node = NodeLock::new(&c, path).unwrap().identifier(id);
        for _ in 0..ROUNDS {
            let g = node.acquire().unwrap();
            let token = g.fencing_token().unwrap();
            g.check().unwrap();
            record(&log, "lock", "x", "enter", id, token);
            std::thread::sleep(Duration::from_millis(HOLD_MS)); // the work
            g.check().unwrap();
            record(&log, "lock", "x", "exit", id, token);
            g.release().unwrap();
        }
        return;
    }
    for i in 0..ROUNDS {
        match kind {
            "lock" => hold(lock.acquire().unwrap(), "lock", "x"),
            "sem" => hold(sem.acquire().unwrap(), "sem", "s"),
            _ if i % 3 == 0 => hold(write.acquire().unwrap(), "rw", "w"),
            _ => hold(read.acquire().unwrap(), "rw", "r"),
        }
    }
}

/// Runs 2 zklock and 2 peer processes on one path and checks the log.
fn mixed(peer_kind: Peer, kind: &str) {
    let (c, root) = client();
    let connect = format!("{}{root}", hosts());
    let path = "/shared";
    // kazoo fails if a lock directory it created once disappears; create it
    // for good first (see the README, "Sharing a lock with kazoo or Curator").
    c.ensure_path(path).unwrap();
    let log = support::server::scratch_dir("interop").join("log");
    let flavor = peer_kind.flavor();
    let mut children: Vec<(String, Child)> = Vec::new();
    for i in 0..2 {
        let id = format!("zklock{i}-{}", peer_kind.name());
        children.push((id.clone(), zklock(flavor, &connect, path, kind, &id, &log)));
        let id = format!("{}{i}-x", peer_kind.name());
        children.push((
            id.clone(),
            peer(peer_kind, &connect, path, kind, &id, &log, ROUNDS),
        ));
    }
    for (id, mut child) in children {
        let status = child.wait().unwrap();
        assert!(status.success(), "{id} failed: {status}");
    }
    let recs = read_log(&log);
    let (acquisitions, violations) = check(&recs, LEASES);
    assert!(violations.is_empty(), "{violations:#?}");
    assert_eq!(acquisitions, 4 * ROUNDS);
    let per = per_process(&recs);
    for id in [
        "zklock0",
        "zklock1",
        &format!("{}0", peer_kind.name()),
        &format!("{}1", peer_kind.name()),
    ] {
        assert_eq!(per.get(id).copied(), Some(ROUNDS), "{id} in {per:?}");
    }
    if kind == "rw" {
        let ivs = intervals(&recs, "rw");
        assert!(
            most_together(&ivs, |iv| iv.role == "r") >= 2,
            "readers never overlapped"
        );
    }
    if kind == "sem" {
        let ivs = intervals(&recs, "sem");
        assert_eq!(
            most_together(&ivs, |_| true),
            LEASES,
            "all leases were used"
        );
    }
    // Nothing is left behind by anyone: no contender or lease node (Curator's
    // "locks" and "leases" directories are containers, reaped when empty).
    let leftover: Vec<String> = [path, "/shared/leases", "/shared/locks", "/shared-__lock__"]
        .iter()
        .flat_map(|d| c.get_children(d).unwrap_or_default())
        .filter(|k| k != "locks" && k != "leases")
        .collect();
    assert!(leftover.is_empty(), "contender nodes left: {leftover:?}");
}

#[test]
fn kazoo_and_zklock_share_an_exclusive_lock() {
    mixed(Peer::Kazoo, "lock");
}

#[test]
fn curator_and_zklock_share_an_exclusive_lock() {
    mixed(Peer::Curator, "lock");
}

#[test]
fn kazoo_and_zklock_share_a_read_write_lock() {
    mixed(Peer::Kazoo, "rw");
}

#[test]
fn curator_and_zklock_share_a_read_write_lock() {
    mixed(Peer::Curator, "rw");
}

#[test]
fn kazoo_and_zklock_share_a_semaphore() {
    mixed(Peer::Kazoo, "sem");
}

#[test]
fn curator_and_zklock_share_a_semaphore() {
    mixed(Peer::Curator, "sem");
}

/// A peer in hold mode, driven through its stdin and stdout.
struct Holder {
    child: Child,
    stdin: ChildStdin,
    lines: crossbeam_channel::Receiver<String>,
}

impl Holder {
    fn start(p: Peer, connect: &str, path: &str, kind: &str, id: &str) -> Holder {
        let log = std::env::temp_dir().join("zklock-interop-unused.log");
        let mut child = peer(p, connect, path, kind, id, &log, 0);
        let stdin = child.stdin.take().unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = crossbeam_channel::unbounded();
        std::thread::spawn(move || {
            for l in out.lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        Holder {
            child,
            stdin,
            lines,
        }
    }

    /// Waits for the peer to say `what`; returns when it said it.
    fn said(&self, what: &str) -> Instant {
        let line = self.lines.recv_timeout(WAIT).expect("the peer to answer");
        assert_eq!(line, what);
        Instant::now()
    }

    fn release(&mut self) {
        writeln!(self.stdin).unwrap();
        self.said("released");
        assert!(self.child.wait().unwrap().success());
    }
}

/// Both directions: the peer's release wakes a waiting zklock contender,
/// and zklock's release wakes a waiting peer, promptly (no polling on
/// either side: each waits on its own recipe's watch).
fn wake_ups(p: Peer, kind: &str) {
    let (c, root) = client();
    let connect = format!("{}{root}", hosts());
    let path = "/wake";
    c.ensure_path(path).unwrap();
    let zk_lock = Arc::new(Lock::new(&c, path).unwrap().flavor(p.flavor()));
    let acquire: Box<dyn Fn() -> LockGuard + Send + Sync> = match kind {
        "write" => {
            let w = WriteLock::new(&c, path).unwrap().flavor(p.flavor());
            Box::new(move || w.acquire().unwrap())
        }
        _ => {
            let l = zk_lock.clone();
            Box::new(move || l.acquire().unwrap())
        }
    };
    let acquire = Arc::new(acquire);

    // 1. The peer holds; zklock waits; the peer releases; zklock holds.
    let mut held = Holder::start(p, &connect, path, kind, "peer-holder");
    held.said("held");
    let waiter = {
        let acquire = acquire.clone();
        std::thread::spawn(move || {
            let g = acquire();
            (Instant::now(), g)
        })
    };
    wait_until(WAIT, "zklock to queue behind the peer", || {
        zk_lock.contenders().unwrap().len() == 2
    });
    let released_at = Instant::now();
    writeln!(held.stdin).unwrap();
    let (acquired_at, guard) = waiter.join().unwrap();
    held.said("released");
    assert!(held.child.wait().unwrap().success());
    let woke = acquired_at - released_at;
    assert!(
        woke < Duration::from_secs(5),
        "zklock woke {woke:?} after the peer's release"
    );

    // 2. zklock holds; the peer waits; zklock releases; the peer holds.
    let mut waiting = Holder::start(p, &connect, path, kind, "peer-waiter");
    wait_until(WAIT, "the peer to queue behind zklock", || {
        zk_lock.contenders().unwrap().len() == 2
    });
    let released_at = Instant::now();
    guard.release().unwrap();
    let woke = waiting.said("held") - released_at;
    assert!(
        woke < Duration::from_secs(5),
        "the peer woke {woke:?} after zklock's release"
    );
    waiting.release();
}

#[test]
fn kazoo_and_zklock_wake_each_other() {
    wake_ups(Peer::Kazoo, "lock");
    wake_ups(Peer::Kazoo, "write");
}

#[test]
fn curator_and_zklock_wake_each_other() {
    wake_ups(Peer::Curator, "lock");
    wake_ups(Peer::Curator, "write");
}

#[test]
fn contenders_show_foreign_identifiers() {
    let (c, root) = client();
    let connect = format!("{}{root}", hosts());
    c.ensure_path("/ids").unwrap();
    // kazoo stores its identifier as the node's data.
    let mut k = Holder::start(Peer::Kazoo, &connect, "/ids", "lock", "python-worker-7");
    k.said("held");
    let lock = Lock::new(&c, "/ids").unwrap();
    assert_eq!(lock.contenders().unwrap(), vec!["python-worker-7"]);
    k.release();
    // Curator stores its client's local IP address (its default data).
    let mut j = Holder::start(Peer::Curator, &connect, "/ids", "lock", "ignored");
    j.said("held");
    let ids = lock.contenders().unwrap();
    assert_eq!(ids.len(), 1);
    assert!(
        ids[0].parse::<std::net::IpAddr>().is_ok(),
        "Curator's data is an address, got {:?}",
        ids[0]
    );
    j.release();
}

#[test]
fn curator_revocation_both_ways() {
    // Curator's cooperative revocation on the wire (`__REVOKE__` in the
    // holder's node): a revocable Curator holder gives the lock to a zklock
    // contender that asks; and Curator's Revoker asks a zklock holder.
    let (c, root) = client();
    let connect = format!("{}{root}", hosts());
    let path = "/revocable";
    c.ensure_path(path).unwrap();
    let lock = Lock::new(&c, path)
        .unwrap()
        .flavor(Flavor::Curator)
        .revoke(zklock::Revoke::Ask);

    // 1. Curator holds (makeRevocable); zklock asks; Curator releases.
    let held = Holder::start(Peer::Curator, &connect, path, "revocable", "curator");
    held.said("held");
    let g = lock
        .acquire_timeout(WAIT)
        .expect("zklock holds once Curator gives up");
    held.said("revoked");
    held.said("released");
    g.check().unwrap();

    // 2. zklock holds; Curator's Revoker.attemptRevoke asks it.
    let (tx, rx) = crossbeam_channel::bounded(1);
    g.on_revoke(move || {
        let _ = tx.send(());
    });
    let revoker = Holder::start(Peer::Curator, &connect, g.node(), "revoke", "revoker");
    revoker.said("revoked");
    rx.recv_timeout(WAIT).expect("on_revoke to run");
    assert!(g.revocation_requested());
    assert_eq!(g.state(), zklock::LockState::Held, "asked, not lost");
    g.release().unwrap();
}

/// A peer contender waits until the last nested guard of a zklock
/// reentrant lock goes; and, on a read/write lock, a peer writer queued
/// behind zklock's write node stays out through a downgrade until the
/// downgraded read is released.
fn waits_for_reentrant_holds(p: Peer) {
    let (c, root) = client();
    let connect = format!("{}{root}", hosts());
    c.ensure_path("/reentrant").unwrap();
    let lock = ReentrantLock::new(&c, "/reentrant")
        .unwrap()
        .flavor(p.flavor());
    let outer = lock.acquire().unwrap();
    let inner = lock.acquire().unwrap();
    let mut waiting = Holder::start(p, &connect, "/reentrant", "lock", "peer-waiter");
    wait_until(WAIT, "the peer to queue", || {
        lock.contenders().unwrap().len() == 2
    });
    drop(inner);
    assert_eq!(lock.contenders().unwrap().len(), 2, "still held");
    assert!(waiting.lines.try_recv().is_err(), "the peer still waits");
    drop(outer);
    waiting.said("held");
    waiting.release();

    c.ensure_path("/reentrant-rw").unwrap();
    let rw = ReentrantReadWriteLock::new(&c, "/reentrant-rw")
        .unwrap()
        .flavor(p.flavor());
    let write = rw.write_lock().acquire().unwrap();
    let mut writer = Holder::start(p, &connect, "/reentrant-rw", "write", "peer-writer");
    wait_until(WAIT, "the peer writer to queue", || {
        rw.read_lock().contenders().unwrap().len() == 2
    });
    let read = rw.read_lock().acquire().unwrap(); // the downgrade
    drop(write);
    read.verify().unwrap();
    assert!(
        writer.lines.try_recv().is_err(),
        "the peer writer still waits"
    );
    drop(read);
    writer.said("held");
    writer.release();
}

#[test]
fn kazoo_waits_for_zklock_reentrant_holds() {
    waits_for_reentrant_holds(Peer::Kazoo);
}

#[test]
fn curator_waits_for_zklock_reentrant_holds() {
    waits_for_reentrant_holds(Peer::Curator);
}

/// A k3zkutil `ZKLock` worker (tests/interop/k3zkutil_worker.py) on the node
/// `/nl/shared`: `rounds` > 0 takes turns, 0 holds, -1 probes.
fn k3zkutil(connect: &str, id: &str, log: &Path, rounds: i32) -> Child {
    let python = interop_dir().join("venv/bin/python");
    assert!(
        python.exists(),
        "k3zkutil is not set up: run scripts/interop-setup"
    );
    Command::new(python)
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/k3zkutil_worker.py"))
        .args([
            connect,
            "/nl/",
            "shared",
            id,
            &log.display().to_string(),
            &rounds.to_string(),
            &HOLD_MS.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start a k3zkutil worker: {e}"))
}

/// A k3zkutil worker spoken to line by line.
struct K3 {
    child: Child,
    stdin: ChildStdin,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl K3 {
    fn start(connect: &str, id: &str, rounds: i32) -> K3 {
        let log = support::server::scratch_dir("k3").join("log");
        let mut child = k3zkutil(connect, id, &log, rounds);
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        K3 {
            child,
            stdin,
            lines,
        }
    }

    fn ask(&mut self, line: &str) -> String {
        writeln!(self.stdin, "{line}").unwrap();
        self.next()
    }

    fn next(&mut self) -> String {
        self.lines.next().expect("the worker answers").unwrap()
    }

    fn quit(mut self) {
        let _ = writeln!(self.stdin, "quit");
        drop(self.stdin);
        assert!(self.child.wait().unwrap().success());
    }
}

#[test]
fn k3zkutil_and_zklock_share_a_node_lock() {
    let (c, root) = client();
    let connect = format!("{}{root}", hosts());
    c.ensure_path("/nl").unwrap();
    let log = support::server::scratch_dir("interop-k3").join("log");
    let mut children: Vec<(String, Child)> = Vec::new();
    for i in 0..2 {
        let id = format!("zklock{i}-node");
        children.push((
            id.clone(),
            zklock(Flavor::Kazoo, &connect, "/nl/shared", "node", &id, &log),
        ));
        let id = format!("k3zkutil{i}-x");
        children.push((id.clone(), k3zkutil(&connect, &id, &log, ROUNDS as i32)));
    }
    for (id, mut child) in children {
        let status = child.wait().unwrap();
        assert!(status.success(), "{id} failed: {status}");
    }
    let recs = read_log(&log);
    let (acquisitions, violations) = check(&recs, LEASES);
    assert!(violations.is_empty(), "{violations:#?}");
    assert_eq!(acquisitions, 4 * ROUNDS);
    let per = per_process(&recs);
    for id in ["zklock0", "zklock1", "k3zkutil0", "k3zkutil1"] {
        assert_eq!(per.get(id).copied(), Some(ROUNDS), "{id} in {per:?}");
    }
    assert!(
        c.exists("/nl/shared").unwrap().is_none(),
        "the node was left"
    );
}

#[test]
fn k3zkutil_sees_a_zklock_holder_and_its_value() {
    let (c, root) = client();
    let connect = format!("{}{root}", hosts());
    c.ensure_path("/nl").unwrap();
    let lock = NodeLock::new(&c, "/nl/shared").unwrap().identifier("zk-1");
    let guard = lock.acquire().unwrap();
    let version = guard.set_value(r#"{"a": 1}"#).unwrap();
    let mut k3 = K3::start(&connect, "k3-1", -1);
    let seen: serde_json::Value = serde_json::from_str(&k3.ask("try_acquire")).unwrap();
    assert_eq!(
        seen,
        serde_json::json!([false, {"id": "zk-1", "val": {"a": 1}}, version])
    );
    let val: serde_json::Value = serde_json::from_str(&k3.ask("get_val")).unwrap();
    assert_eq!(val, serde_json::json!([{"a": 1}, version]));
    // Not theirs: k3zkutil's try_release leaves it.
    let released: serde_json::Value = serde_json::from_str(&k3.ask("try_release")).unwrap();
    assert_eq!(released[0], serde_json::json!(false));
    assert_eq!(guard.check().ok(), Some(()));
    guard.release().unwrap();
    // Free now: k3zkutil takes it (once its own watch has told it the node
    // went: its try_acquire does not look before that), and zklock sees its
    // holder.
    wait_until(WAIT, "k3zkutil to take the free lock", || {
        let seen: serde_json::Value = serde_json::from_str(&k3.ask("try_acquire")).unwrap();
        seen[0] == serde_json::json!(true)
    });
    let holder = lock.holder().unwrap().expect("k3zkutil holds it");
    assert_eq!(holder.id, "k3-1");
    assert!(lock.try_acquire().unwrap().is_none());
    assert!(!lock.try_release().unwrap(), "not ours");
    let released: serde_json::Value = serde_json::from_str(&k3.ask("try_release")).unwrap();
    assert_eq!(released[0], serde_json::json!(true));
    assert!(lock.holder().unwrap().is_none());
    k3.quit();
}

#[test]
fn zklock_sees_a_k3zkutil_holder_and_its_value_then_takes_over() {
    let (c, root) = client();
    let connect = format!("{}{root}", hosts());
    c.ensure_path("/nl").unwrap();
    let mut k3 = K3::start(&connect, "k3-holder", 0);
    assert_eq!(k3.next(), "held");
    let lock = Arc::new(NodeLock::new(&c, "/nl/shared").unwrap().identifier("zk-2"));
    let h = lock.holder().unwrap().unwrap();
    assert_eq!((h.id.as_str(), h.val.as_deref()), ("k3-holder", None));
    let version: i32 = k3.ask(r#"val {"state": "busy"}"#).parse().unwrap();
    let h = lock.holder().unwrap().unwrap();
    assert_eq!(
        (h.val.as_deref(), h.version),
        (Some(r#"{"state":"busy"}"#), version)
    );
    // A zklock waiter follows the holder, and holds once k3zkutil releases.
    let l = lock.clone();
    let waiter = std::thread::spawn(move || l.acquire_timeout(WAIT).map(|g| g.release()));
    wait_until(WAIT, "the waiter to wait", || lock.pending() == 1);
    assert_eq!(k3.ask("release"), "released");
    waiter.join().unwrap().unwrap().unwrap();
    assert!(k3.child.wait().unwrap().success());
}

/// `zklock show --json` and `list --json` on queues of kazoo and Curator
/// contenders with a zklock waiter between them, compared with golden files
/// (`tests/golden/`) once what changes from run to run (node names,
/// sessions, times, tokens, Curator's address) is left out.
#[cfg(feature = "cli")]
#[test]
fn the_zklock_command_shows_kazoo_and_curator_queues() {
    let (c, root) = client();
    let connect = format!("{}{root}", hosts());
    let golden = |name: &str| -> serde_json::Value {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(name);
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let zklock_cmd = |args: &[&str]| -> serde_json::Value {
        let out = Command::new(env!("CARGO_BIN_EXE_zklock"))
            .args(["--hosts", &connect, "--json"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let mut keep = Vec::new();
    for (peer_kind, dir) in [(Peer::Kazoo, "/q-kazoo"), (Peer::Curator, "/q-curator")] {
        c.ensure_path(dir).unwrap();
        let first = Holder::start(peer_kind, &connect, dir, "lock", "kazoo-holder");
        first.said("held");
        let lock = Lock::new(&c, dir)
            .unwrap()
            .identifier("zklock-waiter")
            .flavor(peer_kind.flavor());
        let pending = lock.acquire_in_background();
        wait_until(WAIT, "the zklock waiter to queue", || {
            lock.contenders().unwrap().len() == 2
        });
        let second = Holder::start(peer_kind, &connect, dir, "lock", "kazoo-waiter");
        wait_until(WAIT, "the peer waiter to queue", || {
            lock.contenders().unwrap().len() == 3
        });
        keep.push((first, second, pending, lock));
    }
    let is_address = |s: &str| s.parse::<std::net::IpAddr>().is_ok();
    for (dir, file) in [
        ("/q-kazoo", "show-kazoo.json"),
        ("/q-curator", "show-curator.json"),
    ] {
        let shown = zklock_cmd(&["show", dir]);
        let entries: Vec<serde_json::Value> = shown["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let id = e["identifier"].as_str().unwrap_or_default();
                let id = if is_address(id) { "<address>" } else { id };
                serde_json::json!({"role": e["role"], "identifier": id, "state": e["state"]})
            })
            .collect();
        assert_eq!(
            serde_json::Value::Array(entries),
            golden(file),
            "{dir}: {shown}"
        );
    }
    let listed = zklock_cmd(&["list", "/"]);
    let mut locks: Vec<serde_json::Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            serde_json::json!({"path": l["path"], "kind": l["kind"], "state": l["state"],
                "holders": l["holders"], "waiters": l["waiters"]})
        })
        .collect();
    locks.sort_by_key(|l| l["path"].as_str().unwrap_or_default().to_string());
    assert_eq!(
        serde_json::Value::Array(locks),
        golden("list-peers.json"),
        "{listed}"
    );
    for (mut first, mut second, pending, _lock) in keep {
        drop(pending);
        first.release();
        second.said("held");
        second.release();
    }
}
