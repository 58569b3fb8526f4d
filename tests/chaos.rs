//! The chaos suite: never two holders, always told, under the faults a
//! production ensemble has.
//!
//! ```text
//! cargo test --release --test chaos -- --seconds 120     # scripts/test runs a short pass
//! scripts/chaos --minutes 10                            # a long one
//! ```
//!
//! A 3-server ensemble; worker processes (this binary, re-run with
//! `--worker`), each with several threads and its own session, connected
//! through three fault proxies of its own (one per server), so the driver can
//! cut one client off entirely. One plain acquire in four is a reentrant one:
//! a [`ReentrantLock`] (or a `ReentrantReadWriteLock`'s read side) entered
//! again at once and held through the nested guard, or a writer that
//! downgrades to the read side and reads on, logged as one writer's
//! interval (nobody may enter until its read is released). One in eight
//! takes its lock (or lease) in the background and waits for the `Pending`
//! (abandoning it by drop or cancel when its deadline runs out), and one in
//! eight takes two locks as one `MultiLock`: `/lock` and `/lock-b`, named
//! in both orders by different threads, or a write lock and a lease; each
//! resource is logged and checked as any other holder's. One in eight takes
//! k3zkutil's single-node lock `/node/lock` (a `NodeLock`, one id per
//! thread) and publishes a value while it holds it. Every holder checks its guard before each
//! record it appends to a shared log outside ZooKeeper (`O_APPEND`, one line
//! per write) and stops writing once told its lock is lost, as a real holder
//! would stop touching the resource it guards.
//!
//! One worker process in three connects over TLS (the servers listen on a
//! `secureClientPort` too, with certificates made for the run), through the
//! same fault proxies, under the same faults (but for "drop-create", whose
//! proxy must read the create in the bytes it forwards).
//!
//! Meanwhile the driver injects, in turn: a burst of abandoned acquires
//! (every worker cancels its handles at random moments and gives its
//! acquires deadlines of 0 to 5 ms, so attempts end while their creates are
//! in flight, while they wait, and just as they would hold), a burst of
//! revocations (half the acquires revoke what blocks them by asking, every
//! holder answers a request by letting go, and an operator asks every
//! contender with `revoke_all`), a burst of removals (half the acquires
//! delete what blocks them: `Revoke::Immediate`), a server
//! restart, a kill of the leader, a SIGSTOP of a server for longer than the
//! session timeout, a silent partition of one worker for longer than its
//! session timeout, a connection reset right after a create, and a kill -9
//! of a worker (which is then replaced). After each fault it measures how
//! long until some contender enters again.
//!
//! The first run contends for one exclusive lock; the second for a
//! read/write lock and a semaphore (2 leases). At the end, with every worker
//! stopped, it checks the log (no two exclusive holders overlap, no writer
//! overlaps anyone, never more lease holders than leases, fencing tokens
//! increase), that no contender node is left, and prints. While a removing
//! acquire runs (and for a second after), the log is checked as a resource
//! that checks fencing tokens would see it: a removed holder may write until
//! the news of its node's deletion reaches it, and those writes, with
//! tokens older than the remover's, are refused and counted as "fenced
//! off" (see [`fenced`]); everywhere else a stale write is an overlap. Orphans are
//! counted twice: each worker, asked to stop, lets every attempt end and its
//! background deletes settle, then counts the nodes its own live session
//! still owns (closing the session would delete them and hide the leak);
//! and the driver counts whatever is left once every worker has gone.
//! Either way the suite expects none, and prints
//!
//! `chaos: acquisitions A, faults F (by kind ...), overlaps 0, fenced off N, orphans 0, divergences 0, worst recovery R ms`
//!
//! exiting non-zero if overlaps, orphans or stalls (no recovery within one
//! session timeout plus RECOVERY_BOUND) are not 0. After every fault it also
//! compares the servers' views: a server that keeps nodes the others
//! deleted, or misses nodes they all have, has lost transactions (ZooKeeper
//! 3.8.0's ZOOKEEPER-4785) and is counted as a divergence. On 3.9 that is a
//! finding, left as it is; `--repair-divergence` (for 3.8.0) resyncs the odd
//! server so the run goes on.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::holders::{REMOVED, REMOVING, Rec, check, fenced, read_log, record};
use support::{Ensemble, Proxy};
use zklock::lock::{Reentrant, Strategy};
use zklock::{
    Client, Error, Lock, LockGuard, Member, MultiGuard, MultiLock, NodeGuard, NodeLock, Pending,
    ReadLock, ReentrantGuard, ReentrantLock, ReentrantReadWriteLock, Revoke, Semaphore, WriteLock,
};

/// The workers' session timeout.
const SESSION: Duration = Duration::from_secs(4);
/// How much longer than one session timeout a recovery may take: an
/// election after a stopped leader (the followers notice within syncLimit,
/// 2 s here), the clients' reconnection, and a hand-off.
const RECOVERY_BOUND: Duration = Duration::from_secs(10);
const WORKERS: usize = 3;
/// The worker slot that connects over TLS (through its proxies to the
/// servers' `secureClientPort`s); the others use plaintext.
const TLS_WORKER: usize = 0;
const THREADS: usize = 3;
const LEASES: usize = 2;
/// How long a burst (abandoned acquires, revocations) lasts.
const BURST_FOR: Duration = Duration::from_secs(3);
/// The directories the workers' recipes write to.
const DIRS: [&str; 6] = ["/lock", "/lock-b", "/rw", "/sem", "/sem-__lock__", "/node"];

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--worker") {
        worker(&args[i + 1]);
        return;
    }
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    let seconds = value("--seconds").or_else(|| value("--minutes").map(|m| m * 60));
    let Some(seconds) = seconds else {
        println!("chaos: skipped (run scripts/chaos --minutes N, or pass --seconds N)");
        return;
    };
    support::init_log();
    let list = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .map(|v| v.split(',').map(String::from).collect::<Vec<_>>())
    };
    let kinds: Vec<&'static str> = match list("--kinds") {
        Some(ks) => KINDS
            .iter()
            .copied()
            .filter(|k| ks.iter().any(|x| x == k))
            .collect(),
        None => KINDS.to_vec(),
    };
    let runs: Vec<Run> = match list("--runs") {
        Some(rs) => [Run::Exclusive, Run::Shared]
            .into_iter()
            .filter(|r| rs.iter().any(|x| x == r.name()))
            .collect(),
        None => vec![Run::Exclusive, Run::Shared],
    };
    // Resyncing a server that lost transactions is a crutch for ZooKeeper
    // 3.8.0 (ZOOKEEPER-4785); on 3.9 a divergence is a finding, reported
    // and left alone.
    let repair = args.iter().any(|a| a == "--repair-divergence");
    let ok = drive(Duration::from_secs(seconds), &kinds, &runs, repair);
    std::process::exit(if ok { 0 } else { 1 });
}

// ---------------------------------------------------------------- workers

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Run {
    /// One exclusive lock.
    Exclusive,
    /// A read/write lock and a semaphore.
    Shared,
}

impl Run {
    fn name(self) -> &'static str {
        match self {
            Run::Exclusive => "exclusive",
            Run::Shared => "shared",
        }
    }
}

/// What a holder asks its guard, whatever the lock kind.
trait Guard {
    fn fencing_token(&self) -> zklock::Result<u64>;
    fn check(&self) -> zklock::Result<()>;
    fn on_revoke(&self, f: impl FnOnce() + Send + 'static);
}

impl Guard for LockGuard {
    fn fencing_token(&self) -> zklock::Result<u64> {
        LockGuard::fencing_token(self)
    }
    fn check(&self) -> zklock::Result<()> {
        LockGuard::check(self)
    }
    fn on_revoke(&self, f: impl FnOnce() + Send + 'static) {
        LockGuard::on_revoke(self, f)
    }
}

impl Guard for ReentrantGuard {
    fn fencing_token(&self) -> zklock::Result<u64> {
        ReentrantGuard::fencing_token(self)
    }
    fn check(&self) -> zklock::Result<()> {
        ReentrantGuard::check(self)
    }
    fn on_revoke(&self, f: impl FnOnce() + Send + 'static) {
        ReentrantGuard::on_revoke(self, f)
    }
}

/// Holds `g` for a moment, logging enter and exit, each only after the
/// guard says the lock is still held; once it is not, nothing more is
/// written (the interval ends at the last record).
fn hold(g: &impl Guard, log: &Path, resource: &str, role: &str, holder: &str, work_ms: u64) {
    let Ok(token) = g.fencing_token() else { return };
    // A holder asked to release finishes its step and lets go (it writes
    // no more once asked, as a cooperating holder would).
    let asked = Arc::new(AtomicBool::new(false));
    let a = asked.clone();
    g.on_revoke(move || a.store(true, Ordering::SeqCst));
    if g.check().is_err() || asked.load(Ordering::SeqCst) {
        return;
    }
    record(log, resource, role, "enter", holder, token);
    // The work the lock protects (a workload, not synchronisation).
    std::thread::sleep(Duration::from_millis(work_ms));
    if g.check().is_err() || asked.load(Ordering::SeqCst) {
        return;
    }
    record(log, resource, role, "exit", holder, token);
}

/// A reentrant holder, as code that calls a helper that locks again: takes
/// the lock, enters again (at once, the same token) and holds through the
/// nested guard; the outer one goes last.
fn hold_nested<S: Strategy>(
    l: &Reentrant<S>,
    deadline: Option<Duration>,
    at: (&Path, &str, &str, &str),
    work_ms: u64,
) {
    let (log, resource, role, holder) = at;
    let Ok(outer) = deadline.map_or_else(|| l.acquire(), |d| l.acquire_timeout(d)) else {
        return;
    };
    let Ok(Some(inner)) = l.try_acquire() else {
        return;
    };
    // A different token: the outer ownership was lost meanwhile and the
    // try queued afresh; nothing to hold through.
    if inner.fencing_token().ok() == outer.fencing_token().ok() {
        hold(&inner, log, resource, role, holder, work_ms);
    }
    drop(inner);
    drop(outer);
}

/// A writer that downgrades: writes, takes the read side (at once, on the
/// write node), releases the write side and goes on reading. The whole of
/// it is logged as one writer's interval: nobody may enter until the read
/// is released.
fn hold_downgrading(
    rw: &ReentrantReadWriteLock,
    deadline: Option<Duration>,
    log: &Path,
    holder: &str,
    work_ms: u64,
) {
    let w = rw.write_lock();
    let Ok(write) = deadline.map_or_else(|| w.acquire(), |d| w.acquire_timeout(d)) else {
        return;
    };
    let Ok(token) = write.fencing_token() else {
        return;
    };
    let asked = Arc::new(AtomicBool::new(false));
    let a = asked.clone();
    write.on_revoke(move || a.store(true, Ordering::SeqCst));
    let asked = || asked.load(Ordering::SeqCst);
    if write.check().is_err() || asked() {
        return;
    }
    record(log, "rw", "w", "enter", holder, token);
    std::thread::sleep(Duration::from_millis(work_ms)); // the work (a workload)
    let Ok(Some(read)) = rw.read_lock().try_acquire() else {
        return;
    };
    drop(write);
    std::thread::sleep(Duration::from_millis(work_ms)); // reading on
    if read.fencing_token().ok() == Some(token) && read.check().is_ok() && !asked() {
        record(log, "rw", "w", "exit", holder, token);
    }
}

/// A worker's lock handles: the plain ones, and the same locks revoking
/// what blocks them, by asking and by removing.
struct Handles {
    lock: Lock,
    read: ReadLock,
    write: WriteLock,
    sem: Semaphore,
    /// `[Ask, Immediate]` revoking variants of `lock`, `read`, `write`.
    lock_rv: [Lock; 2],
    read_rv: [ReadLock; 2],
    write_rv: [WriteLock; 2],
    reentrant: ReentrantLock,
    reentrant_rw: ReentrantReadWriteLock,
    /// `/lock` and `/lock-b`, named in both orders (the exclusive run).
    multi: [MultiLock; 2],
    /// `/rw`'s write side and a `/sem` lease (the shared run).
    multi_shared: MultiLock,
    /// k3zkutil's single-node lock `/node/lock`, one handle (one id) per
    /// thread: handles sharing an id share the lock.
    node: Vec<NodeLock>,
}

impl Handles {
    fn new(client: &Client, me: &str) -> Handles {
        let lock = |how: Option<Revoke>| {
            let l = Lock::new(client, "/lock").unwrap().identifier(me);
            match how {
                Some(h) => l.revoke(h),
                None => l,
            }
        };
        let read = |how: Option<Revoke>| {
            let l = ReadLock::new(client, "/rw").unwrap().identifier(me);
            match how {
                Some(h) => l.revoke(h),
                None => l,
            }
        };
        let write = |how: Option<Revoke>| {
            let l = WriteLock::new(client, "/rw").unwrap().identifier(me);
            match how {
                Some(h) => l.revoke(h),
                None => l,
            }
        };
        Handles {
            lock: lock(None),
            read: read(None),
            write: write(None),
            sem: Semaphore::new(client, "/sem", LEASES as u32)
                .unwrap()
                .identifier(me),
            lock_rv: [lock(Some(Revoke::Ask)), lock(Some(Revoke::Immediate))],
            read_rv: [read(Some(Revoke::Ask)), read(Some(Revoke::Immediate))],
            write_rv: [write(Some(Revoke::Ask)), write(Some(Revoke::Immediate))],
            reentrant: ReentrantLock::new(client, "/lock").unwrap().identifier(me),
            reentrant_rw: ReentrantReadWriteLock::new(client, "/rw")
                .unwrap()
                .identifier(me),
            multi: [["/lock", "/lock-b"], ["/lock-b", "/lock"]].map(|paths| {
                MultiLock::of(paths.map(|p| Lock::new(client, p).unwrap().identifier(me))).unwrap()
            }),
            multi_shared: MultiLock::of([
                Member::from(write(None)),
                Member::from(
                    Semaphore::new(client, "/sem", LEASES as u32)
                        .unwrap()
                        .identifier(me),
                ),
            ])
            .unwrap(),
            node: (0..THREADS)
                .map(|t| {
                    NodeLock::new(client, "/node/lock")
                        .unwrap()
                        .identifier(format!("{me}t{t}"))
                })
                .collect(),
        }
    }

    fn cancel_all(&self) {
        self.lock.cancel();
        self.read.cancel();
        self.write.cancel();
        self.sem.cancel();
        self.reentrant.cancel();
        self.multi_shared.cancel();
        for n in &self.node {
            n.cancel();
        }
        for m in &self.multi {
            m.cancel();
        }
        self.reentrant_rw.read_lock().cancel();
        self.reentrant_rw.write_lock().cancel();
        for i in 0..2 {
            self.lock_rv[i].cancel();
            self.read_rv[i].cancel();
            self.write_rv[i].cancel();
        }
    }
}

/// What a worker is told to do for a while (the driver's faults).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Burst {
    /// Cancel at random moments; deadlines of 0 to 5 ms.
    Abandon,
    /// Acquire with handles that ask the blockers to release.
    RevokeAsk,
    /// Acquire with handles that remove the blockers.
    RevokeImmediate,
}

/// The burst in force now, if any.
#[derive(Default)]
struct Bursts {
    until: AtomicU64,
    kind: parking_lot::Mutex<Option<Burst>>,
}

impl Bursts {
    fn start(&self, kind: Burst) {
        *self.kind.lock() = Some(kind);
        let until = now_ms() as u64 + BURST_FOR.as_millis() as u64;
        self.until.store(until, Ordering::SeqCst);
    }

    fn now(&self) -> Option<Burst> {
        if (now_ms() as u64) < self.until.load(Ordering::SeqCst) {
            *self.kind.lock()
        } else {
            None
        }
    }
}

fn worker(spec: &str) {
    support::init_log();
    let parts: Vec<&str> = spec.split('|').collect();
    let (hosts, log, run, me) = (parts[0], PathBuf::from(parts[1]), parts[2], parts[3]);
    // A CA bundle: this worker connects over TLS.
    let ca = parts.get(4).filter(|ca| !ca.is_empty());
    let stop = Arc::new(AtomicBool::new(false));
    let client = loop {
        let mut builder = Client::builder(hosts)
            .session_timeout(SESSION)
            .connect_timeout(Duration::from_secs(30));
        if let Some(ca) = ca {
            builder = builder.tls(zklock::TlsConfig::new(ca));
        }
        match builder.connect() {
            Ok(c) => break c,
            Err(e) => eprintln!("worker {me}: {e}; retrying"),
        }
    };
    let handles = Arc::new(Handles::new(&client, me));
    let bursts = Arc::new(Bursts::default());
    let (cancels_tx, cancels) = crossbeam_channel::unbounded::<()>();
    // The driver's orders come on stdin: "abandon", "revoke-ask" or
    // "revoke-immediate" start a burst; the end of stdin asks us to stop.
    {
        let (stop, bursts, handles) = (stop.clone(), bursts.clone(), handles.clone());
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                match line.as_deref() {
                    Ok("abandon") => {
                        bursts.start(Burst::Abandon);
                        let _ = cancels_tx.send(());
                    }
                    Ok("revoke-ask") => bursts.start(Burst::RevokeAsk),
                    Ok("revoke-immediate") => bursts.start(Burst::RevokeImmediate),
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            stop.store(true, Ordering::SeqCst);
            drop(cancels_tx);
            handles.cancel_all();
        });
    }
    // The canceller: during an abandon burst, cancels everything every 0 to 3 ms.
    let canceller = {
        let (handles, bursts) = (handles.clone(), bursts.clone());
        std::thread::spawn(move || {
            let mut rng = std::process::id() as u64 | 1;
            for () in cancels {
                while bursts.now() == Some(Burst::Abandon) {
                    handles.cancel_all();
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    // The fault's rhythm, not synchronisation.
                    std::thread::sleep(Duration::from_micros(rng % 3000));
                }
            }
        })
    };
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (stop, log, handles, bursts) =
                (stop.clone(), log.clone(), handles.clone(), bursts.clone());
            let holder = format!("{me}t{t}");
            let shared = run == "shared";
            std::thread::spawn(move || {
                let mut i: u64 = t as u64;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let work = 1 + (i * 7919) % 5;
                    let burst = bursts.now();
                    // In an abandon burst, a deadline of 0 to 5 ms: the
                    // attempt ends wherever it is when it runs out.
                    let deadline = (burst == Some(Burst::Abandon))
                        .then(|| Duration::from_micros((i * 104_729) % 5000));
                    // In a revocation burst, one acquire in two revokes.
                    let rv = match burst {
                        Some(Burst::RevokeAsk) if i.is_multiple_of(2) => Some(0),
                        Some(Burst::RevokeImmediate) if i.is_multiple_of(2) => Some(1),
                        _ => None,
                    };
                    // The checker fences the log while holders are removed.
                    if rv == Some(1) {
                        record(&log, "-", "-", REMOVING, &holder, 0);
                    }
                    let h = &*handles;
                    // One plain acquire in four is a reentrant one (and one
                    // writer in two downgrades).
                    if rv.is_none() && i % 4 == 3 {
                        let nested = format!("{holder}.nested");
                        let at = |resource, role| (&*log, resource, role, &*nested);
                        match (shared, i % 8) {
                            (false, _) => {
                                hold_nested(&h.reentrant, deadline, at("lock", "x"), work)
                            }
                            (true, 3) => {
                                let downgrading = format!("{holder}.downgrade");
                                hold_downgrading(
                                    &h.reentrant_rw,
                                    deadline,
                                    &log,
                                    &downgrading,
                                    work,
                                )
                            }
                            (true, _) => hold_nested(
                                h.reentrant_rw.read_lock(),
                                deadline,
                                at("rw", "r"),
                                work,
                            ),
                        }
                        continue;
                    }
                    // One in eight takes the lock in the background, one
                    // in eight takes two locks as one.
                    if rv.is_none() && i % 8 == 1 {
                        let holder = format!("{holder}.bg");
                        let (resource, role, acquired) = if !shared {
                            ("lock", "x", take_in_background(&h.lock, deadline, i))
                        } else {
                            ("sem", "s", take_in_background(&h.sem, deadline, i))
                        };
                        if let Ok(g) = acquired {
                            hold(&g, &log, resource, role, &holder, work);
                        }
                        continue;
                    }
                    if rv.is_none() && i % 8 == 2 {
                        let holder = format!("{holder}.node");
                        let node = &h.node[t];
                        let acquired = match deadline {
                            Some(d) => node.acquire_timeout(d),
                            None => node.acquire(),
                        };
                        if let Ok(g) = acquired {
                            hold_node(&g, &log, &holder, work);
                        }
                        continue;
                    }
                    if rv.is_none() && i % 8 == 5 {
                        let holder = format!("{holder}.multi");
                        // Tokens come in the order the paths were given.
                        let (multi, held) = if !shared && t % 2 == 0 {
                            (&h.multi[0], [("lock", "x"), ("lock-b", "x")])
                        } else if !shared {
                            (&h.multi[1], [("lock-b", "x"), ("lock", "x")])
                        } else {
                            (&h.multi_shared, [("rw", "w"), ("sem", "s")])
                        };
                        let acquired = match deadline {
                            Some(d) => multi.acquire_timeout(d),
                            None => multi.acquire(),
                        };
                        if let Ok(g) = acquired {
                            hold_multi(&g, &log, held, &holder, work);
                        }
                        continue;
                    }
                    let (resource, role, acquired) = if !shared {
                        let l = rv.map_or(&h.lock, |k| &h.lock_rv[k]);
                        ("lock", "x", take(l, deadline))
                    } else {
                        match i % 10 {
                            0 | 5 => {
                                let w = rv.map_or(&h.write, |k| &h.write_rv[k]);
                                ("rw", "w", take(w, deadline))
                            }
                            1 | 4 | 7 => ("sem", "s", take(&h.sem, deadline)),
                            _ => {
                                let r = rv.map_or(&h.read, |k| &h.read_rv[k]);
                                ("rw", "r", take(r, deadline))
                            }
                        }
                    };
                    if rv == Some(1) {
                        record(&log, "-", "-", REMOVED, &holder, 0);
                    }
                    if let Ok(g) = acquired {
                        hold(&g, &log, resource, role, &holder, work);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let _ = canceller.join();
    report_orphans(&client, &log, me);
    // How many hand-offs between this worker's threads were local.
    let _ = std::fs::write(
        log.with_extension(format!("{me}.handoffs")),
        zklock::lock::local_handoffs(&client).to_string(),
    );
    client.close();
}

/// The acquire calls a worker makes, for every lock kind.
trait Acquire {
    fn acquire(&self) -> zklock::Result<LockGuard>;
    fn acquire_timeout(&self, d: Duration) -> zklock::Result<LockGuard>;
}

impl<S: zklock::lock::Strategy> Acquire for zklock::lock::QueueLock<S> {
    fn acquire(&self) -> zklock::Result<LockGuard> {
        zklock::lock::QueueLock::acquire(self)
    }
    fn acquire_timeout(&self, d: Duration) -> zklock::Result<LockGuard> {
        zklock::lock::QueueLock::acquire_timeout(self, d)
    }
}

impl Acquire for Semaphore {
    fn acquire(&self) -> zklock::Result<LockGuard> {
        Semaphore::acquire(self)
    }
    fn acquire_timeout(&self, d: Duration) -> zklock::Result<LockGuard> {
        Semaphore::acquire_timeout(self, d)
    }
}

/// Acquires in the background and waits for it: as long as it takes, or
/// until `deadline` runs out; then (in turn) abandons the attempt by
/// dropping it, or cancels it and takes the guard if it won the race.
fn take_in_background(
    l: &impl Background,
    deadline: Option<Duration>,
    i: u64,
) -> zklock::Result<LockGuard> {
    let mut pending = l.acquire_in_background();
    let Some(d) = deadline else {
        return pending.wait();
    };
    match pending.wait_timeout(d) {
        Err(Error::Timeout) if i % 16 == 1 => pending.cancel().ok_or(Error::Cancelled),
        other => other, // dropping a pending attempt abandons it
    }
}

/// Background acquisition, for every kind a worker uses it with.
trait Background {
    fn acquire_in_background(&self) -> Pending;
}

impl Background for Lock {
    fn acquire_in_background(&self) -> Pending {
        Lock::acquire_in_background(self)
    }
}

impl Background for Semaphore {
    fn acquire_in_background(&self) -> Pending {
        Semaphore::acquire_in_background(self)
    }
}

/// Holds every lock of `g` for a moment, logging enter and exit on each
/// resource (with that lock's token), each only after the guard says every
/// lock is still held.
fn hold_multi(g: &MultiGuard, log: &Path, held: [(&str, &str); 2], holder: &str, work_ms: u64) {
    let Ok(tokens) = g.fencing_tokens() else {
        return;
    };
    if g.check().is_err() {
        return;
    }
    for ((resource, role), token) in held.iter().zip(&tokens) {
        record(log, resource, role, "enter", holder, *token);
    }
    // The work the locks protect (a workload, not synchronisation).
    std::thread::sleep(Duration::from_millis(work_ms));
    if g.check().is_err() {
        return;
    }
    for ((resource, role), token) in held.iter().zip(&tokens) {
        record(log, resource, role, "exit", holder, *token);
    }
}

/// Holds a single-node lock for a moment, publishing a value on the way
/// (k3zkutil's `set_lock_val`), logged as any other exclusive holder.
fn hold_node(g: &NodeGuard, log: &Path, holder: &str, work_ms: u64) {
    let Ok(token) = g.fencing_token() else { return };
    if g.check().is_err() {
        return;
    }
    record(log, "node", "x", "enter", holder, token);
    let _ = g.set_value(&format!("{{\"holder\": \"{holder}\"}}"));
    // The work the lock protects (a workload, not synchronisation).
    std::thread::sleep(Duration::from_millis(work_ms));
    if g.check().is_err() {
        return;
    }
    record(log, "node", "x", "exit", holder, token);
}

/// Waits as long as it takes, or until `deadline` runs out.
fn take(l: &impl Acquire, deadline: Option<Duration>) -> zklock::Result<LockGuard> {
    match deadline {
        Some(d) => l.acquire_timeout(d),
        None => l.acquire(),
    }
}

/// Every attempt of this worker has ended: once its background deletes
/// have settled, counts the nodes its live session still owns (none may be
/// left) and writes the count to `<log>.<worker>.orphans` for the driver.
fn report_orphans(client: &Client, log: &Path, me: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let count = loop {
        let settled = client.pending_background_deletes() == 0;
        let session = client.session_id();
        let mut owned = Vec::new();
        let mut complete = settled;
        for dir in DIRS {
            let Ok(kids) = client.get_children(dir) else {
                complete &= client.exists(dir).is_ok_and(|s| s.is_none());
                continue;
            };
            for k in kids {
                let path = format!("{dir}/{k}");
                match client.exists(&path) {
                    Ok(Some(stat)) if stat.ephemeral_owner == session => owned.push(path),
                    Ok(_) => {}
                    Err(_) => complete = false,
                }
            }
        }
        if complete && session == client.session_id() {
            for p in &owned {
                eprintln!("worker {me}: ORPHAN {p}");
            }
            break Some(owned.len());
        }
        if Instant::now() > deadline {
            eprintln!("worker {me}: could not count its nodes");
            break None;
        }
        std::thread::sleep(Duration::from_millis(50)); // a retry's pause
    };
    let text = count.map_or("unknown".to_string(), |n| n.to_string());
    let _ = std::fs::write(log.with_extension(format!("{me}.orphans")), text);
}

// ---------------------------------------------------------------- the driver

struct WorkerProc {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
}

struct Cluster {
    ens: Ensemble,
    /// Per worker slot: a proxy to each server.
    proxies: Vec<Vec<Proxy>>,
    /// The CA the TLS worker trusts.
    ca: PathBuf,
    workers: Vec<WorkerProc>,
    generation: usize,
    root: String,
    log: PathBuf,
    run: Run,
}

impl Cluster {
    /// Sends every worker one order (a line on its stdin).
    fn tell_workers(&mut self, order: &str) {
        for w in &mut self.workers {
            if let Some(stdin) = w.stdin.as_mut() {
                let _ = writeln!(stdin, "{order}").and_then(|_| stdin.flush());
            }
        }
    }

    fn spawn_worker(&mut self, slot: usize) -> WorkerProc {
        self.generation += 1;
        let name = format!("p{slot}g{}", self.generation);
        let hosts = self.proxies[slot]
            .iter()
            .map(Proxy::addr)
            .collect::<Vec<_>>()
            .join(",");
        let ca = if slot == TLS_WORKER {
            self.ca.display().to_string()
        } else {
            String::new()
        };
        let spec = format!(
            "{hosts}{}|{}|{}|{name}|{ca}",
            self.root,
            self.log.display(),
            self.run.name()
        );
        let stderr = std::fs::File::create(self.log.with_file_name(format!("{name}.stderr")))
            .expect("a worker log");
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--worker", &spec])
            .stdin(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn a worker");
        let stdin = child.stdin.take();
        WorkerProc { name, child, stdin }
    }

    /// The longest time since `from` (until `to`) during which nobody
    /// entered: how long the fault kept the lock from changing hands.
    fn longest_gap(&self, from: u128, to: u128) -> u128 {
        // Processes stamp a record just before appending it, so the log is
        // only roughly in time order.
        let mut enters: Vec<u128> = read_log(&self.log)
            .iter()
            .filter(|r| r.kind == "enter")
            .map(|r| r.ms)
            .collect();
        enters.sort_unstable();
        let mut gap = 0;
        let mut last = from;
        for e in enters.into_iter().filter(|&e| e > from && e <= to) {
            gap = gap.max(e - last);
            last = e;
        }
        gap
    }

    fn enters_since(&self, ms: u128) -> Option<u128> {
        read_log(&self.log)
            .iter()
            .find(|r| r.kind == "enter" && r.ms > ms)
            .map(|r| r.ms)
    }

    /// Waits until someone enters after `ms`; returns how long after `ms`.
    fn recovery_after(&self, ms: u128, limit: Duration) -> Option<u128> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(t) = self.enters_since(ms) {
                return Some(t - ms);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every queue node as one server sees it, after a sync (so the server
    /// has applied everything the leader had committed when it was asked):
    /// (path, counter). `None` if the server does not answer.
    ///
    /// Lock directories are containers: the server reaps them when empty,
    /// and a re-created one counts from 0 again. So each path names the
    /// directory's incarnation (`/rw@<its czxid>/...`), and only nodes of
    /// one incarnation are compared. Leases of the kazoo-layout semaphore
    /// (`/sem`) are not sequential: counter -1, never compared by counter.
    fn view(&self, server: usize) -> Option<Vec<(String, i64)>> {
        let c = Client::builder(&format!("{}{}", self.ens.servers[server].addr(), self.root))
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .ok()?;
        c.sync("/").ok()?;
        let mut v = Vec::new();
        for dir in ["/lock", "/rw", "/sem-__lock__", "/sem"] {
            let Ok((kids, stat)) = c.get_children_stat(dir) else {
                continue;
            };
            for k in kids {
                let seq = match k.len().checked_sub(10) {
                    Some(at) if dir != "/sem" => k[at..].parse().unwrap_or(-1),
                    _ => -1,
                };
                v.push((format!("{dir}@{}/{k}", stat.czxid), seq));
            }
        }
        Some(v)
    }

    /// Looks for servers that disagree with the others for good: a node
    /// another server has seen deleted (it is below that server's lowest
    /// node there, and absent) but this one still shows after a later sync;
    /// or a node alive on another server before and after this server's
    /// view, yet missing from it. Returns (server, what is wrong) and the
    /// servers to resync: for each node in question, the minority (the
    /// servers that show a node most do not, or miss one most show). A
    /// ghost on one server also makes the others look as if they "miss"
    /// it; resyncing those would copy the ghost everywhere (a resynced
    /// server may take its state from the wrong one).
    fn divergences(&self) -> (Vec<(usize, String)>, Vec<usize>) {
        let n = self.ens.servers.len();
        // Views in rotation: s1, s2, s3, then s1, s2, s3 again.
        let first: Vec<Option<Vec<(String, i64)>>> = (0..n).map(|s| self.view(s)).collect();
        let second: Vec<Option<Vec<(String, i64)>>> = (0..n).map(|s| self.view(s)).collect();
        let mut found = Vec::new();
        let mut nodes = std::collections::BTreeSet::new();
        for a in 0..n {
            let Some(later) = &second[a] else { continue };
            for b in (0..n).filter(|&b| b != a) {
                // b's first view was taken before a's second.
                let Some(earlier) = &first[b] else { continue };
                let dirs: std::collections::BTreeSet<&str> = later
                    .iter()
                    .map(|(p, _)| &p[..p.rfind('/').unwrap()])
                    .collect();
                for dir in dirs {
                    let in_dir = |v: &Vec<(String, i64)>| -> Vec<(String, i64)> {
                        v.iter()
                            .filter(|(p, _)| p.starts_with(&format!("{dir}/")))
                            .cloned()
                            .collect()
                    };
                    let (b_then, a_now) = (in_dir(earlier), in_dir(later));
                    let Some(b_low) = b_then.iter().map(|(_, s)| *s).filter(|s| *s >= 0).min()
                    else {
                        continue;
                    };
                    for (p, seq) in &a_now {
                        if *seq >= 0 && *seq < b_low && !b_then.iter().any(|(q, _)| q == p) {
                            found.push((a, format!("keeps {p}, deleted on server {}", b + 1)));
                            nodes.insert(p.clone());
                        }
                    }
                }
                // Alive on b in both of its views (taken around a's second
                // one when b comes after a), so a must have it too.
                if b > a
                    && let Some(b_after) = &second[b]
                {
                    for (p, _) in earlier
                        .iter()
                        .filter(|(p, _)| b_after.iter().any(|(q, _)| q == p))
                    {
                        if !later.iter().any(|(q, _)| q == p) {
                            found.push((a, format!("misses {p}, alive on server {}", b + 1)));
                            nodes.insert(p.clone());
                        }
                    }
                }
            }
        }
        found.sort();
        found.dedup();
        let mut heal = std::collections::BTreeSet::new();
        for p in &nodes {
            let has: Vec<usize> = (0..n)
                .filter(|&s| {
                    second[s]
                        .as_ref()
                        .is_some_and(|v| v.iter().any(|(q, _)| q == p))
                })
                .collect();
            if has.len() * 2 < n {
                heal.extend(has);
            } else {
                heal.extend((0..n).filter(|s| !has.contains(s)));
            }
        }
        (found, heal.into_iter().collect())
    }

    /// Resyncs a diverged server from scratch: stop, wipe, start.
    fn heal(&self, server: usize) {
        let s = &self.ens.servers[server];
        s.stop();
        s.wipe_data();
        s.start();
    }

    /// Prints who is in each queue (after a stall), as each server sees
    /// it: name, owner session, identifier. Views that differ for good mean
    /// the servers diverged.
    fn dump_queues(&self) {
        for (i, server) in self.ens.servers.iter().enumerate() {
            let Ok(c) = Client::builder(&format!("{}{}", server.addr(), self.root))
                .connect_timeout(Duration::from_secs(5))
                .connect()
            else {
                eprintln!("chaos:   server {} does not serve", i + 1);
                continue;
            };
            for dir in DIRS {
                let Ok(kids) = c.get_children(dir) else {
                    continue;
                };
                let mut q: Vec<(i64, String)> = kids
                    .into_iter()
                    .map(|k| {
                        let seq = k
                            .rsplit(|ch: char| !ch.is_ascii_digit())
                            .next()
                            .unwrap_or("0");
                        (seq.parse().unwrap_or(0), k)
                    })
                    .collect();
                q.sort();
                for (_, k) in q {
                    let p = format!("{dir}/{k}");
                    if let Ok((data, st)) = c.get_data(&p) {
                        eprintln!(
                            "chaos:   server {}: {p} owner 0x{:x} id {}",
                            i + 1,
                            st.ephemeral_owner,
                            String::from_utf8_lossy(&data)
                        );
                    }
                }
            }
        }
    }

    fn healthy(&self) {
        for s in &self.ens.servers {
            if !s.is_running() {
                s.start();
            }
        }
        self.ens.wait_quorum(Duration::from_secs(120));
        for s in &self.ens.servers {
            s.wait_serving(Duration::from_secs(120));
        }
    }
}

/// How long after a removing acquire returns its victims may still write
/// (the news of a deletion reaching them), for [`fenced`].
const REMOVAL_NEWS_MS: u128 = 1000;

const KINDS: [&str; 9] = [
    "abandon",
    "revoke",
    "revoke-immediate",
    "drop-create",
    "partition",
    "kill-leader",
    "kill-worker",
    "pause",
    "restart",
];

struct Tally {
    acquisitions: usize,
    /// Faults after which a ZooKeeper server was found diverged.
    divergences: usize,
    faults: BTreeMap<&'static str, usize>,
    violations: usize,
    /// Writes of removed holders a fenced resource refused.
    fenced_off: usize,
    orphans: usize,
    stalls: usize,
    worst: u128,
}

/// The checker must catch what it is there to catch: a run that cannot
/// fail proves nothing.
fn checker_self_test() {
    let rec = |resource: &str, role: &str, kind: &str, holder: &str, token: u64| Rec {
        ms: 0,
        resource: resource.into(),
        role: role.into(),
        kind: kind.into(),
        holder: holder.into(),
        token,
    };
    // A holder `a` removed by `b`, writing `late_ms` after the removal began
    // (its window ends at 2 plus the margin), while `b` holds.
    let removal = |late_ms: u128, marked: bool| {
        let at = |ms: u128, r: Rec| Rec { ms, ..r };
        let mut v = vec![at(0, rec("rw", "r", "enter", "a", 1))];
        if marked {
            v.push(at(1, rec("-", "-", REMOVING, "b", 0)));
            v.push(at(2, rec("-", "-", REMOVED, "b", 0)));
        }
        v.push(at(3, rec("rw", "w", "enter", "b", 2)));
        v.push(at(late_ms, rec("rw", "r", "exit", "a", 1)));
        v.push(at(late_ms + 1, rec("rw", "w", "exit", "b", 2)));
        v
    };
    // (what, records in order, whether the checker must object)
    let cases = [
        (
            "a removed reader's late write, refused by fencing",
            removal(4, true),
            false,
        ),
        (
            "the same late write with nobody removing",
            removal(4, false),
            true,
        ),
        (
            "a stale write after the removal's window",
            removal(2 + REMOVAL_NEWS_MS + 1, true),
            true,
        ),
        (
            "an exclusive overlap",
            vec![
                rec("lock", "x", "enter", "a", 1),
                rec("lock", "x", "enter", "b", 2),
                rec("lock", "x", "exit", "a", 1),
                rec("lock", "x", "exit", "b", 2),
            ],
            true,
        ),
        (
            "a decreasing token",
            vec![
                rec("lock", "x", "enter", "a", 5),
                rec("lock", "x", "exit", "a", 5),
                rec("lock", "x", "enter", "b", 3),
                rec("lock", "x", "exit", "b", 3),
            ],
            true,
        ),
        (
            "a writer with a reader",
            vec![
                rec("rw", "r", "enter", "a", 1),
                rec("rw", "w", "enter", "b", 2),
                rec("rw", "r", "exit", "a", 1),
                rec("rw", "w", "exit", "b", 2),
            ],
            true,
        ),
        (
            "three holders of two leases",
            vec![
                rec("sem", "s", "enter", "a", 1),
                rec("sem", "s", "enter", "b", 2),
                rec("sem", "s", "enter", "c", 3),
                rec("sem", "s", "exit", "a", 1),
                rec("sem", "s", "exit", "b", 2),
                rec("sem", "s", "exit", "c", 3),
            ],
            true,
        ),
        (
            "readers sharing",
            vec![
                rec("rw", "r", "enter", "a", 1),
                rec("rw", "r", "enter", "b", 2),
                rec("rw", "r", "exit", "a", 1),
                rec("rw", "r", "exit", "b", 2),
            ],
            false,
        ),
    ];
    for (what, recs, bad) in cases {
        let (kept, _) = fenced(&recs, REMOVAL_NEWS_MS);
        let objected = !check(&kept, LEASES).1.is_empty();
        assert_eq!(objected, bad, "the checker misjudged {what}");
    }
}

fn drive(total: Duration, kinds: &[&'static str], runs: &[Run], repair: bool) -> bool {
    checker_self_test();
    let pki = support::server::pki();
    let ens = Ensemble::start_tls(3, &pki);
    let mut tally = Tally {
        acquisitions: 0,
        divergences: 0,
        faults: BTreeMap::new(),
        violations: 0,
        fenced_off: 0,
        orphans: 0,
        stalls: 0,
        worst: 0,
    };
    let scratch = support::server::scratch_dir("chaos");
    let mut cluster = Cluster {
        proxies: (0..WORKERS)
            .map(|w| {
                ens.servers
                    .iter()
                    .map(|s| {
                        if w == TLS_WORKER {
                            Proxy::opaque(&s.secure_addr())
                        } else {
                            Proxy::new(&s.addr())
                        }
                    })
                    .collect()
            })
            .collect(),
        ca: pki.join("ca.pem"),
        ens,
        workers: Vec::new(),
        generation: 0,
        root: String::new(),
        log: PathBuf::new(),
        run: Run::Exclusive,
    };
    let mut next_kind = 0;
    for (n, &run) in runs.iter().enumerate() {
        cluster.run = run;
        cluster.root = format!("/chaos-{}-{}", run.name(), uuid::Uuid::new_v4().simple());
        cluster.log = scratch.join(format!("{}.log", run.name()));
        Client::connect(&cluster.ens.hosts())
            .unwrap()
            .ensure_path(&cluster.root)
            .unwrap();
        cluster.workers = (0..WORKERS).map(|s| cluster.spawn_worker(s)).collect();
        let started = now_ms();
        if cluster
            .recovery_after(started, Duration::from_secs(60))
            .is_none()
        {
            eprintln!("chaos: nobody ever acquired in the {} run", run.name());
            tally.stalls += 1;
        }
        let run_ends = Instant::now() + total / runs.len() as u32;
        let mut rng = n as u64 + 0x1234_5678;
        let mut pick = |n: usize| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % n as u64) as usize
        };
        while Instant::now() < run_ends {
            let kind = kinds[next_kind % kinds.len()];
            next_kind += 1;
            *tally.faults.entry(kind).or_default() += 1;
            let at = now_ms();
            let what = inject(&mut cluster, kind, &mut pick);
            let limit = SESSION + RECOVERY_BOUND;
            let recovered = cluster.recovery_after(at, limit).is_some();
            undo(&mut cluster, kind);
            // Settle: a healthy ensemble and somebody entering after it.
            cluster.healthy();
            // A server that lost transactions (ZooKeeper 3.8.0 after a leader
            // crash: ZOOKEEPER-4785) keeps nodes the others deleted, and its
            // clients wait on them for ever. No client can fix that; report
            // it as what it is, and with --repair-divergence resync the
            // server so the run goes on.
            let (diverged, to_heal) = cluster.divergences();
            for (server, what) in &diverged {
                eprintln!(
                    "chaos: DIVERGENCE after {kind}: server {} {what}",
                    server + 1
                );
            }
            if !diverged.is_empty() {
                tally.divergences += 1;
            }
            let healed = if repair { to_heal } else { Vec::new() };
            for s in &healed {
                eprintln!("chaos: resyncing server {} (the odd one out)", s + 1);
                cluster.heal(*s);
            }
            if !healed.is_empty() {
                cluster.healthy();
            }
            let settled = now_ms();
            let again = cluster.recovery_after(settled, Duration::from_secs(60));
            let gap = cluster.longest_gap(at, settled + again.unwrap_or(0));
            if !healed.is_empty() {
                println!(
                    "chaos: {} run, {kind} ({what}): a server diverged (resynced); longest wait {gap} ms",
                    run.name()
                );
            } else if recovered && again.is_some() && gap <= limit.as_millis() {
                println!(
                    "chaos: {} run, {kind} ({what}): longest wait for the next holder {gap} ms",
                    run.name()
                );
                tally.worst = tally.worst.max(gap);
            } else {
                eprintln!(
                    "chaos: {} run, {kind} ({what}): STALL, nobody entered for {gap} ms (limit {limit:?})",
                    run.name()
                );
                cluster.dump_queues();
                tally.stalls += 1;
            }
        }
        finish_run(&mut cluster, &mut tally);
    }
    let by_kind = tally
        .faults
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let faults: usize = tally.faults.values().sum();
    if tally.stalls > 0 {
        eprintln!("chaos: {} stalls", tally.stalls);
    }
    if tally.divergences > 0 {
        println!(
            "chaos: ZooKeeper diverged (a server lost transactions) after {} faults; {} \
             (see README, Testing)",
            tally.divergences,
            if repair {
                "each time the server was resynced"
            } else {
                "not repaired (--repair-divergence resyncs)"
            }
        );
    }
    println!(
        "chaos: acquisitions {}, faults {faults} (by kind {by_kind}), overlaps {}, \
         fenced off {}, orphans {}, divergences {}, worst recovery {} ms",
        tally.acquisitions,
        tally.violations,
        tally.fenced_off,
        tally.orphans,
        tally.divergences,
        tally.worst
    );
    tally.violations == 0 && tally.orphans == 0 && tally.stalls == 0
}

/// Injects one fault; returns what it hit.
fn inject(c: &mut Cluster, kind: &str, pick: &mut impl FnMut(usize) -> usize) -> String {
    match kind {
        "restart" => {
            let s = pick(3);
            c.ens.servers[s].stop();
            c.ens.servers[s].start();
            format!("server {}", s + 1)
        }
        "kill-leader" => match c.ens.leader() {
            Some(l) => {
                c.ens.servers[l].kill();
                format!("leader {}", l + 1)
            }
            None => "no leader".into(),
        },
        "pause" => {
            let s = pick(3);
            c.ens.servers[s].pause();
            // Longer than the session timeout: its clients must move.
            std::thread::sleep(SESSION + Duration::from_secs(1)); // the fault's length
            c.ens.servers[s].resume();
            format!("server {}", s + 1)
        }
        "partition" => {
            let w = pick(WORKERS);
            for p in &c.proxies[w] {
                p.freeze();
            }
            std::thread::sleep(SESSION * 3 / 2); // the fault's length
            for p in &c.proxies[w] {
                p.reset();
                p.unfreeze();
            }
            format!("worker {}", c.workers[w].name)
        }
        "abandon" | "revoke-immediate" => {
            c.tell_workers(kind);
            std::thread::sleep(BURST_FOR); // the fault's length
            "every worker".into()
        }
        "revoke" => {
            // Workers revoke what blocks them (asking), and an operator asks
            // every contender of the run's lock to release, twice.
            c.tell_workers("revoke-ask");
            let admin = Client::connect(&format!("{}{}", c.ens.hosts(), c.root));
            let mut asked = 0;
            for _ in 0..2 {
                if let Ok(admin) = &admin {
                    let dir = if c.run == Run::Exclusive {
                        "/lock"
                    } else {
                        "/rw"
                    };
                    asked += Lock::new(admin, dir).unwrap().revoke_all().unwrap_or(0);
                }
                std::thread::sleep(BURST_FOR / 2); // the fault's length
            }
            format!("every worker, {asked} asked by an operator")
        }
        "drop-create" => {
            // The proxy finds the create in the bytes it forwards: not
            // through TLS, so the TLS worker is not picked.
            let w = (TLS_WORKER + 1 + pick(WORKERS - 1)) % WORKERS;
            let prefix = format!("{}/", c.root);
            for p in &c.proxies[w] {
                p.drop_after_create(&prefix);
            }
            format!("worker {}", c.workers[w].name)
        }
        "kill-worker" => {
            let w = pick(WORKERS);
            let fresh = c.spawn_worker(w);
            let mut victim = std::mem::replace(&mut c.workers[w], fresh);
            let _ = victim.child.kill(); // SIGKILL
            let _ = victim.child.wait();
            format!("worker {}", victim.name)
        }
        _ => unreachable!(),
    }
}

fn undo(c: &mut Cluster, kind: &str) {
    if kind == "kill-leader" {
        for s in &c.ens.servers {
            if !s.is_running() {
                s.start();
            }
        }
    }
}

/// Stops the workers, checks the log and looks for orphans.
fn finish_run(c: &mut Cluster, tally: &mut Tally) {
    for w in &mut c.workers {
        drop(w.stdin.take()); // asks it to stop
    }
    for w in &mut c.workers {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = w.child.try_wait() {
                if !status.success() {
                    eprintln!("chaos: worker {} exited with {status}", w.name);
                }
                break;
            }
            if Instant::now() > deadline {
                eprintln!("chaos: worker {} did not stop; killed", w.name);
                let _ = w.child.kill();
                let _ = w.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    // What each worker found its own live session still owning.
    for w in &c.workers {
        let counted = c.log.with_extension(format!("{}.orphans", w.name));
        match std::fs::read_to_string(&counted).map(|t| t.trim().parse::<usize>()) {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => {
                eprintln!("chaos: worker {} left {n} nodes of its own session", w.name);
                tally.orphans += n;
            }
            _ => {
                eprintln!("chaos: worker {} could not count its nodes", w.name);
                tally.orphans += 1;
            }
        }
    }
    // Local hand-offs, as the workers counted them (a killed worker's are
    // not counted).
    let local: u64 = c
        .workers
        .iter()
        .filter_map(|w| {
            std::fs::read_to_string(c.log.with_extension(format!("{}.handoffs", w.name))).ok()
        })
        .filter_map(|t| t.trim().parse::<u64>().ok())
        .sum();
    let (recs, refused) = fenced(&read_log(&c.log), REMOVAL_NEWS_MS);
    let entered = |suffix: &str| {
        recs.iter()
            .filter(|r| r.kind == "enter" && r.holder.ends_with(suffix))
            .count()
    };
    println!(
        "chaos: {} run: {} holds through a nested reentrant guard, {} downgrades, \
         {} background acquires, {} multi-lock holds, {} single-node lock holds, \
         {local} local hand-offs (workers that were not killed)",
        c.run.name(),
        entered(".nested"),
        entered(".downgrade"),
        entered(".bg"),
        entered(".multi") / 2,
        entered(".node")
    );
    tally.fenced_off += refused;
    let (acquisitions, violations) = check(&recs, LEASES);
    for v in &violations {
        eprintln!("chaos: {v}");
    }
    tally.acquisitions += acquisitions;
    tally.violations += violations.len();
    // Nodes of killed workers go when their sessions expire.
    let observer = Client::connect(&format!("{}{}", c.ens.hosts(), c.root)).unwrap();
    let contenders = || -> usize {
        DIRS.iter()
            .map(|d| observer.get_children(d).map(|k| k.len()).unwrap_or(0))
            .sum()
    };
    let deadline = Instant::now() + SESSION + Duration::from_secs(10);
    while contenders() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left = contenders();
    if left > 0 {
        eprintln!(
            "chaos: {left} contender nodes left in the {} run",
            c.run.name()
        );
    }
    tally.orphans += left;
}
