//! The lock workloads `scripts/bench-peers` runs with zklock, kazoo and
//! Curator alike (see `benches/peers/` for the other two), printing one
//! `result ...` line each.
//!
//! ```text
//! workload HOSTS PATH floor N              create(ephemeral-sequential) + list + delete, N times
//! workload HOSTS PATH uncontended N        Lock acquire + release, N times
//! workload HOSTS PATH threads T SECS S [H] T threads on S sessions (1 or T) contend for one Lock;
//!                                          H: `shared` (one Lock handle, the default) or `each`
//!                                          (a handle per thread)
//! workload HOSTS PATH rw T SECS            T threads, 90 % ReadLock, 10 % WriteLock
//! workload HOSTS PATH sem T SECS LEASES    T threads on one Semaphore of LEASES
//! workload HOSTS PATH deletes N            the server's wall between sessions: N nodes deleted
//!                                          one after the other on one session (deletes/s)
//! workload HOSTS PATH pairs T SECS         the server's write wall: T threads on one session,
//!                                          each creating and deleting a node in turn (pairs/s)
//! ```
//!
//! With `ZKLOCK_TLS_CA` set (a CA bundle), every client connects over TLS
//! (`HOSTS` is then a `secureClientPort`).
//!
//! For `threads`: hand-offs per second, the wait in acquire (p50, p99), the
//! hand-off latency from the release call returning (p50) and from it
//! starting (p50, p99) to the next holder's acquire returning, counting only
//! transitions to a holder that was already waiting when the release was
//! called, and how many hand-offs were local (`zklock::lock::local_handoffs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use zklock::{Acl, Client, CreateMode, Lock, Op, OpResult, ReadLock, Semaphore, WriteLock};

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `a - b` in milliseconds, negative if `a` came first.
fn signed_ms(a: Instant, b: Instant) -> f64 {
    if a >= b { ms(a - b) } else { -ms(b - a) }
}

/// What each holding left behind: when its acquire was called and
/// returned, and when its release was called and returned.
struct Holding {
    asked: Instant,
    got: Instant,
    rel: Instant,
    done: Instant,
}

fn report_threads(mut t: Vec<Holding>, secs: f64, local: u64) {
    let mut waits: Vec<f64> = t.iter().map(|h| ms(h.got - h.asked)).collect();
    t.sort_by_key(|h| h.got);
    let (mut from_return, mut from_start) = (Vec::new(), Vec::new());
    for w in t.windows(2) {
        let (prev, next) = (&w[0], &w[1]);
        // A transition is a hand-off if the next holder was already waiting
        // when the release was called.
        if next.asked > prev.rel {
            continue;
        }
        from_start.push(signed_ms(next.got, prev.rel));
        // Negative when the next holder had the lock before the release
        // call returned (its wake-up overtook the delete's reply).
        from_return.push(signed_ms(next.got, prev.done));
    }
    let n = t.len();
    println!(
        "result ops={n} secs={secs:.3} per_sec={:.1} p50_ms={:.3} p99_ms={:.3} \
         handoff_p50_ms={:.3} handoff_from_start_p50_ms={:.3} handoff_from_start_p99_ms={:.3} \
         local_handoffs={local}",
        n as f64 / secs,
        pct(&mut waits.clone(), 0.5),
        pct(&mut waits, 0.99),
        pct(&mut from_return, 0.5),
        pct(&mut from_start, 0.5),
        pct(&mut from_start, 0.99),
    );
}

/// A client of `hosts`, over TLS if `ZKLOCK_TLS_CA` names a CA bundle.
fn connect(hosts: &str) -> zklock::Result<Client> {
    let builder = Client::builder(hosts);
    match std::env::var_os("ZKLOCK_TLS_CA") {
        Some(ca) => builder.tls(zklock::TlsConfig::new(ca)).connect(),
        None => builder.connect(),
    }
}

fn main() -> zklock::Result<()> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let (hosts, path, what) = (&a[0], &a[1], a[2].as_str());
    let num = |i: usize| a[i].parse::<u64>().expect("a number");
    let client = connect(hosts)?;
    match what {
        "floor" | "uncontended" => {
            let n = num(3);
            client.ensure_path(path)?;
            let lock = Lock::new(&client, path)?;
            let prefix = format!("{path}/n-");
            let start = Instant::now();
            for _ in 0..n {
                if what == "floor" {
                    let (p, _) = client.create(&prefix, b"", CreateMode::EphemeralSequential)?;
                    client.get_children(path)?;
                    client.delete(&p, None)?;
                } else {
                    lock.acquire()?.release()?;
                }
            }
            let took = start.elapsed();
            println!(
                "result ops={n} secs={:.3} ms_per_op={:.3}",
                took.as_secs_f64(),
                ms(took) / n as f64
            );
        }
        "threads" => {
            let (threads, secs, sessions) = (num(3) as usize, num(4), num(5));
            let each = a.get(6).is_some_and(|h| h == "each");
            client.ensure_path(path)?;
            let stop = Arc::new(AtomicBool::new(false));
            let timeline = Arc::new(parking_lot::Mutex::new(Vec::new()));
            let shared = Arc::new(Lock::new(&client, path)?);
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    let (stop, timeline) = (stop.clone(), timeline.clone());
                    let lock = match (sessions, each) {
                        (1, false) => shared.clone(),
                        (1, true) => Arc::new(Lock::new(&client, path).unwrap()),
                        _ => Arc::new(Lock::new(&connect(hosts).unwrap(), path).unwrap()),
                    };
                    std::thread::spawn(move || {
                        while !stop.load(Ordering::Relaxed) {
                            let asked = Instant::now();
                            let g = lock.acquire().unwrap();
                            let got = Instant::now();
                            let rel = Instant::now();
                            g.release().unwrap();
                            let done = Instant::now();
                            let h = Holding {
                                asked,
                                got,
                                rel,
                                done,
                            };
                            timeline.lock().push(h);
                        }
                    })
                })
                .collect();
            let secs = run_for(secs, &stop, handles);
            let t = std::mem::take(&mut *timeline.lock());
            // With the hand-offs between this process's threads that were
            // local (sessions == 1: all threads on `client`).
            report_threads(t, secs, zklock::lock::local_handoffs(&client));
        }
        "rw" | "sem" => {
            let (threads, secs) = (num(3) as usize, num(4));
            let leases = if what == "sem" { num(5) as u32 } else { 0 };
            let read = ReadLock::new(&client, path)?;
            let write = WriteLock::new(&client, path)?;
            let sem = Semaphore::new(&client, path, leases.max(1))?;
            let is_sem = what == "sem";
            count_ops(threads, secs, move |i| {
                let g = if is_sem {
                    sem.acquire()
                } else if i.is_multiple_of(10) {
                    write.acquire()
                } else {
                    read.acquire()
                };
                g.unwrap().release().unwrap();
            });
        }
        "deletes" => {
            let n = num(3) as usize;
            client.ensure_path(path)?;
            let prefix = format!("{path}/n-");
            // Made 100 to a multi, so the setup is quick.
            let mut nodes = Vec::with_capacity(n);
            while nodes.len() < n {
                let ops: Vec<Op> = (0..(n - nodes.len()).min(100))
                    .map(|_| {
                        let mode = CreateMode::EphemeralSequential;
                        Op::create(&prefix, Vec::new(), mode, Acl::open_unsafe())
                    })
                    .collect();
                for r in client.multi(&ops)? {
                    if let OpResult::Create { path, .. } = r {
                        nodes.push(path);
                    }
                }
            }
            let start = Instant::now();
            for node in &nodes {
                client.delete(node, None)?;
            }
            let took = start.elapsed().as_secs_f64();
            println!(
                "result ops={n} secs={took:.3} per_sec={:.1} ms_per_op={:.3}",
                n as f64 / took,
                took * 1e3 / n as f64
            );
        }
        "pairs" => {
            let (threads, secs) = (num(3) as usize, num(4));
            client.ensure_path(path)?;
            let (c, prefix) = (client.clone(), format!("{path}/n-"));
            count_ops(threads, secs, move |_| {
                let mode = CreateMode::EphemeralSequential;
                let (p, _) = c.create(&prefix, b"", mode).unwrap();
                c.delete(&p, None).unwrap();
            });
        }
        other => panic!("unknown workload {other}"),
    }
    client.close();
    Ok(())
}

/// Runs `op(i)` in a loop on `threads` threads for `secs` seconds (`i`
/// counts each thread's turns, starting at the thread's number), and
/// prints how many ran.
fn count_ops(threads: usize, secs: u64, op: impl Fn(u64) + Send + Sync + 'static) {
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let op = Arc::new(op);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (stop, ops, op) = (stop.clone(), ops.clone(), op.clone());
            std::thread::spawn(move || {
                let mut i = t as u64;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    op(i);
                    ops.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let secs = run_for(secs, &stop, handles);
    let n = ops.load(Ordering::Relaxed);
    println!(
        "result ops={n} secs={secs:.3} per_sec={:.1}",
        n as f64 / secs
    );
}

/// Lets `handles` run for `secs` seconds (the run's length), then stops
/// them and waits for them; returns how long they ran, in seconds.
fn run_for(secs: u64, stop: &AtomicBool, handles: Vec<std::thread::JoinHandle<()>>) -> f64 {
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    let took = start.elapsed().as_secs_f64();
    for h in handles {
        h.join().unwrap();
    }
    took
}
