//! Criterion benches of zklock against a private ZooKeeper server (or
//! `ZK_HOSTS`), started by the same harness the tests use.
//!
//! ```text
//! cargo bench                    # all of them
//! cargo bench -- contended       # a group
//! ```
//!
//! - `floor`: create (ephemeral-sequential) + list + delete through the client,
//!   one after the other, with no recipe: every other figure reads as a
//!   ratio to it.
//! - `uncontended`: acquire + release of each lock kind and the semaphore,
//!   and of a lock whose holder asks `check()` once.
//! - `contended`: T threads on one session sharing a handle (T = 2, 8,
//!   32), 8 threads on one session with a handle each, and 4 threads with
//!   a session each, taking one exclusive lock: time per hand-off (and
//!   hand-offs per second); the wait latency (p50, p99) of each
//!   configuration is printed after it.
//! - `handoff`: from the holder's release call (and from its return) to the
//!   next waiter's acquire returning, the waiter on another session; and
//!   from the release call with the waiter on the same session (a local
//!   hand-off: woken by the release, not by the server).
//! - `mixed`: read/write 90/10 and a 3-lease semaphore, 8 threads each.
//! - `session`: raw create + delete from 8 threads on one client, and on a
//!   client each: what sharing a session costs.
//! - `handles`: making and dropping 10,000 lock handles on one client (each
//!   registers a session listener): it must stay linear.
//! - `reentrant`: a nested acquire and drop on a `ReentrantLock` (and a
//!   read re-entry and a downgrade on a `ReentrantReadWriteLock`) this
//!   thread holds already: no server round trip, so well under a
//!   microsecond; and a first acquire + release, for the ratio to `lock`.
//! - `background`: `acquire_in_background` + `wait` + release against
//!   `acquire` + release on the same free lock (the same walk, run by the
//!   client's driver thread instead of the caller).
//! - `multi`: a `MultiLock` over 1 and 4 free paths against one lock: the
//!   creates and listings of every member go out in one write, so 4 paths
//!   cost one round trip to take (and 4 deletes to release, pipelined by
//!   the guard's drop only as far as each waits for its confirmation).
//! - `tls`: an uncontended cycle and 8 threads handing one lock over, on
//!   one server's plaintext port and on its TLS port (a server of its own,
//!   certificates made by `scripts/tls-certs`): what TLS costs.
//!
//! Comparisons with kazoo and Curator in one run come from
//! `scripts/bench-peers`.

#[path = "../tests/support/mod.rs"]
mod support;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use zklock::{
    Client, CreateMode, Lock, MultiLock, ReadLock, ReentrantLock, ReentrantReadWriteLock,
    Semaphore, WriteLock,
};

fn root_client() -> (Client, String) {
    support::client()
}

fn floor(c: &mut Criterion) {
    let (client, _) = root_client();
    client.ensure_path("/floor").unwrap();
    c.bench_function("floor/create+list+delete", |b| {
        b.iter(|| {
            let (p, _) = client
                .create("/floor/n-", b"", CreateMode::EphemeralSequential)
                .unwrap();
            client.get_children("/floor").unwrap();
            client.delete(&p, None).unwrap();
        })
    });
}

fn uncontended(c: &mut Criterion) {
    let (client, _) = root_client();
    let mut g = c.benchmark_group("uncontended");
    let lock = Lock::new(&client, "/u/lock").unwrap();
    g.bench_function("lock", |b| {
        b.iter(|| lock.acquire().unwrap().release().unwrap())
    });
    // A holder that asks once: the first check() waits for the own-node
    // watch (one round trip), then the release. What a checking holder pays.
    g.bench_function("lock+check", |b| {
        b.iter(|| {
            let g = lock.acquire().unwrap();
            g.check().unwrap();
            g.release().unwrap()
        })
    });
    let read = ReadLock::new(&client, "/u/rw").unwrap();
    g.bench_function("read", |b| {
        b.iter(|| read.acquire().unwrap().release().unwrap())
    });
    let write = WriteLock::new(&client, "/u/rw").unwrap();
    g.bench_function("write", |b| {
        b.iter(|| write.acquire().unwrap().release().unwrap())
    });
    let sem = Semaphore::new(&client, "/u/sem", 3).unwrap();
    g.bench_function("semaphore", |b| {
        b.iter(|| sem.acquire().unwrap().release().unwrap())
    });
    g.finish();
}

/// Wait times (acquire call to acquire return) of the contended runs, for
/// the p50 / p99 printed after each configuration.
type Waits = Arc<parking_lot::Mutex<Vec<Duration>>>;

/// `threads` threads take `locks[i % len]` until `iters` acquisitions are
/// done, recording each wait in `waits`; returns the time it took.
fn contend(locks: &[Arc<Lock>], threads: usize, iters: u64, waits: &Waits) -> Duration {
    let left = Arc::new(AtomicI64::new(iters as i64));
    let barrier = Arc::new(std::sync::Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (lock, left, barrier, waits) = (
                locks[t % locks.len()].clone(),
                left.clone(),
                barrier.clone(),
                waits.clone(),
            );
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                barrier.wait();
                while left.fetch_sub(1, Ordering::SeqCst) > 0 {
                    let asked = Instant::now();
                    let g = lock.acquire().unwrap();
                    mine.push(asked.elapsed());
                    g.release().unwrap();
                }
                waits.lock().extend(mine);
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for h in handles {
        h.join().unwrap();
    }
    start.elapsed()
}

/// Prints the wait-latency distribution recorded in `waits`, and clears it.
fn print_waits(name: &str, waits: &Waits) {
    let mut w = std::mem::take(&mut *waits.lock());
    if w.is_empty() {
        return;
    }
    w.sort();
    let at = |q: f64| w[((w.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
    println!(
        "{name}: wait p50 {:.3} ms, p99 {:.3} ms ({} acquisitions)",
        at(0.50),
        at(0.99),
        w.len()
    );
}

fn contended(c: &mut Criterion) {
    let (client, root) = root_client();
    let mut g = c.benchmark_group("contended");
    g.throughput(Throughput::Elements(1)).sample_size(10);
    let waits = Waits::default();
    for threads in [2usize, 8, 32] {
        let lock = Arc::new(Lock::new(&client, &format!("/c/t{threads}")).unwrap());
        g.bench_with_input(
            BenchmarkId::new("one_session", threads),
            &threads,
            |b, &t| b.iter_custom(|iters| contend(std::slice::from_ref(&lock), t, iters, &waits)),
        );
        print_waits(&format!("contended/one_session/{threads}"), &waits);
    }
    // The same session, a handle per thread (local hand-offs between handles).
    let each: Vec<Arc<Lock>> = (0..8)
        .map(|_| Arc::new(Lock::new(&client, "/c/each").unwrap()))
        .collect();
    g.bench_function(BenchmarkId::new("one_session_handle_each", 8), |b| {
        b.iter_custom(|iters| contend(&each, 8, iters, &waits))
    });
    print_waits("contended/one_session_handle_each/8", &waits);
    let sessions: Vec<Arc<Lock>> = (0..4)
        .map(|_| {
            let c = Client::connect(&format!("{}{root}", support::hosts())).unwrap();
            Arc::new(Lock::new(&c, "/c/sessions").unwrap())
        })
        .collect();
    g.bench_function(BenchmarkId::new("session_each", 4), |b| {
        b.iter_custom(|iters| contend(&sessions, 4, iters, &waits))
    });
    print_waits("contended/session_each/4", &waits);
    g.finish();
}

fn handoff(c: &mut Criterion) {
    let (a, root) = root_client();
    let b_client = Client::connect(&format!("{}{root}", support::hosts())).unwrap();
    let holder = Arc::new(Lock::new(&a, "/h").unwrap());
    let waiter = Arc::new(Lock::new(&b_client, "/h").unwrap());
    // The same, with the waiter on the holder's session: a local hand-off.
    let local_holder = Arc::new(Lock::new(&a, "/h-local").unwrap());
    let local_waiter = Arc::new(Lock::new(&a, "/h-local").unwrap());
    let mut g = c.benchmark_group("handoff");
    g.sample_size(20);
    // One hand-off: returns (release call -> waiter's acquire returning,
    // release returning -> waiter's acquire returning). On another session
    // the waiter's wake-up races the holder's delete reply; on the same
    // session it is woken by the release itself, before the reply.
    let hand_off = |holder: &Arc<Lock>, waiter: &Arc<Lock>| {
        let held = holder.acquire().unwrap();
        let w = waiter.clone();
        let t = std::thread::spawn(move || {
            let g = w.acquire().unwrap();
            let at = Instant::now();
            drop(g);
            at
        });
        // Outside the measurement: wait until the waiter has queued, and
        // give its watches time to be set (a bench, not a test).
        while holder.contenders().unwrap().len() < 2 {
            std::thread::yield_now();
        }
        std::thread::sleep(Duration::from_millis(5));
        let called = Instant::now();
        held.release().unwrap();
        let returned = Instant::now();
        let acquired = t.join().unwrap();
        (
            acquired.saturating_duration_since(called),
            acquired.saturating_duration_since(returned),
        )
    };
    g.bench_function("release_call_to_next_acquire", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| hand_off(&holder, &waiter).0).sum())
    });
    g.bench_function("release_return_to_next_acquire", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| hand_off(&holder, &waiter).1).sum())
    });
    g.bench_function("same_session_release_call_to_next_acquire", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| hand_off(&local_holder, &local_waiter).0)
                .sum()
        })
    });
    g.finish();
}

fn mixed(c: &mut Criterion) {
    let (client, _) = root_client();
    let mut g = c.benchmark_group("mixed");
    g.throughput(Throughput::Elements(1)).sample_size(10);
    let read = Arc::new(ReadLock::new(&client, "/m/rw").unwrap());
    let write = Arc::new(WriteLock::new(&client, "/m/rw").unwrap());
    g.bench_function("read_write_90_10_8_threads", |b| {
        b.iter_custom(|iters| {
            let left = Arc::new(AtomicI64::new(iters as i64));
            let start = Instant::now();
            let hs: Vec<_> = (0..8)
                .map(|_| {
                    let (read, write, left) = (read.clone(), write.clone(), left.clone());
                    std::thread::spawn(move || {
                        loop {
                            let n = left.fetch_sub(1, Ordering::SeqCst);
                            if n <= 0 {
                                break;
                            }
                            let g = if n % 10 == 0 {
                                write.acquire()
                            } else {
                                read.acquire()
                            };
                            g.unwrap().release().unwrap();
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            start.elapsed()
        })
    });
    let sem = Arc::new(Semaphore::new(&client, "/m/sem", 3).unwrap());
    g.bench_function("semaphore_3_leases_8_threads", |b| {
        b.iter_custom(|iters| {
            let left = Arc::new(AtomicI64::new(iters as i64));
            let start = Instant::now();
            let hs: Vec<_> = (0..8)
                .map(|_| {
                    let (sem, left) = (sem.clone(), left.clone());
                    std::thread::spawn(move || {
                        while left.fetch_sub(1, Ordering::SeqCst) > 0 {
                            sem.acquire().unwrap().release().unwrap();
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            start.elapsed()
        })
    });
    g.finish();
}

fn session(c: &mut Criterion) {
    let (client, root) = root_client();
    client.ensure_path("/s").unwrap();
    let own: Vec<Client> = (0..8)
        .map(|_| Client::connect(&format!("{}{root}", support::hosts())).unwrap())
        .collect();
    let mut g = c.benchmark_group("session");
    g.throughput(Throughput::Elements(1)).sample_size(10);
    for (name, clients) in [
        ("8_threads_one_client", vec![client.clone()]),
        ("8_threads_client_each", own),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let left = Arc::new(AtomicI64::new(iters as i64));
                let start = Instant::now();
                let hs: Vec<_> = (0..8)
                    .map(|t| {
                        let (c, left) = (clients[t % clients.len()].clone(), left.clone());
                        std::thread::spawn(move || {
                            while left.fetch_sub(1, Ordering::SeqCst) > 0 {
                                let (p, _) = c
                                    .create("/s/n-", b"", CreateMode::EphemeralSequential)
                                    .unwrap();
                                c.delete(&p, None).unwrap();
                            }
                        })
                    })
                    .collect();
                for h in hs {
                    h.join().unwrap();
                }
                start.elapsed()
            })
        });
    }
    g.finish();
}

fn handles(c: &mut Criterion) {
    let (client, _) = root_client();
    let mut g = c.benchmark_group("handles");
    g.sample_size(10);
    for n in [10_000usize, 30_000] {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new("new_and_drop", n), |b| {
            b.iter(|| {
                let locks: Vec<Lock> = (0..n)
                    .map(|_| Lock::new(&client, "/handles/lock").unwrap())
                    .collect();
                drop(locks);
            })
        });
    }
    g.finish();
}

fn reentrant(c: &mut Criterion) {
    let (client, _) = root_client();
    let mut g = c.benchmark_group("reentrant");
    let lock = ReentrantLock::new(&client, "/reentrant/lock").unwrap();
    g.bench_function("first_acquire+release", |b| {
        b.iter(|| lock.acquire().unwrap().release().unwrap())
    });
    let outer = lock.acquire().unwrap();
    g.bench_function("nested_acquire+drop", |b| {
        b.iter(|| drop(lock.acquire().unwrap()))
    });
    drop(outer);
    let rw = ReentrantReadWriteLock::new(&client, "/reentrant/rw").unwrap();
    let read = rw.read_lock().acquire().unwrap();
    g.bench_function("read_reentry+drop", |b| {
        b.iter(|| drop(rw.read_lock().acquire().unwrap()))
    });
    drop(read);
    let write = rw.write_lock().acquire().unwrap();
    g.bench_function("downgrade+drop", |b| {
        b.iter(|| drop(rw.read_lock().acquire().unwrap()))
    });
    drop(write);
    g.finish();
}

fn background(c: &mut Criterion) {
    let (client, _) = root_client();
    let mut g = c.benchmark_group("background");
    let lock = Lock::new(&client, "/background/lock").unwrap();
    g.bench_function("acquire+release", |b| {
        b.iter(|| lock.acquire().unwrap().release().unwrap())
    });
    g.bench_function("acquire_in_background+wait+release", |b| {
        b.iter(|| {
            lock.acquire_in_background()
                .wait()
                .unwrap()
                .release()
                .unwrap()
        })
    });
    g.finish();
}

fn multi(c: &mut Criterion) {
    let (client, _) = root_client();
    let mut g = c.benchmark_group("multi");
    let lock = Lock::new(&client, "/multi/0").unwrap();
    g.bench_function("one_lock", |b| {
        b.iter(|| lock.acquire().unwrap().release().unwrap())
    });
    g.bench_function("one_lock_acquire_only", |b| {
        b.iter_batched(
            || (),
            |()| lock.acquire().unwrap(),
            criterion::BatchSize::PerIteration,
        )
    });
    for n in [1usize, 4] {
        let paths: Vec<String> = (0..n).map(|i| format!("/multi/{i}")).collect();
        let multi = MultiLock::new(&client, &paths).unwrap();
        g.bench_function(BenchmarkId::new("multi_lock", n), |b| {
            b.iter(|| multi.acquire().unwrap().release().unwrap())
        });
        g.bench_function(BenchmarkId::new("multi_lock_acquire_only", n), |b| {
            b.iter_batched(
                || (),
                |()| multi.acquire().unwrap(),
                criterion::BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

/// Plaintext against TLS on one server (its `clientPort` and its
/// `secureClientPort`, certificates made for the run): an uncontended
/// cycle and 8 threads handing one lock over, on one session.
fn tls(c: &mut Criterion) {
    let pki = support::server::pki();
    let server = support::server::ZkServer::standalone_tls(support::server::Tls::new(
        &pki,
        "server.pem",
        "want",
    ));
    let plain = Client::connect(&server.addr()).unwrap();
    let secure = Client::builder(&server.secure_addr())
        .tls(zklock::TlsConfig::new(pki.join("ca.pem")))
        .connect()
        .unwrap();
    let mut g = c.benchmark_group("tls");
    for (name, client) in [("plaintext", &plain), ("tls", &secure)] {
        let lock = Lock::new(client, &format!("/tls-bench/{name}/u")).unwrap();
        g.bench_function(BenchmarkId::new("uncontended", name), |b| {
            b.iter(|| lock.acquire().unwrap().release().unwrap())
        });
    }
    g.throughput(Throughput::Elements(1)).sample_size(10);
    let waits = Waits::default();
    for (name, client) in [("plaintext", &plain), ("tls", &secure)] {
        let lock = Arc::new(Lock::new(client, &format!("/tls-bench/{name}/c")).unwrap());
        g.bench_function(BenchmarkId::new("threads8", name), |b| {
            b.iter_custom(|iters| contend(std::slice::from_ref(&lock), 8, iters, &waits))
        });
        print_waits(&format!("tls/threads8/{name}"), &waits);
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = floor, uncontended, contended, handoff, mixed, session, handles, reentrant, background, multi, tls
}
criterion_main!(benches);
