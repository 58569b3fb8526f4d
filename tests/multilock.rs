//! `MultiLock` against a real server: all or nothing, the global order
//! (no deadlock between {a,b} and {b,a}), one deadline, typed errors for
//! bad sets, and members of every kind.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::{client, wait_until};
use zklock::{
    Client, Error, Lock, LockState, Member, MultiLock, ReadLock, ReentrantLock, Semaphore,
    WriteLock,
};

const WAIT: Duration = Duration::from_secs(20);

fn children(c: &Client, path: &str) -> usize {
    c.get_children(path).map(|c| c.len()).unwrap_or(0)
}

#[test]
fn a_multi_lock_takes_every_path_and_releases_them() {
    let (c, _) = client();
    let multi = MultiLock::new(&c, ["/m/c", "/m/a", "/m/b"]).unwrap();
    assert_eq!(multi.paths(), ["/m/c", "/m/a", "/m/b"]);
    let guard = multi.acquire().unwrap();
    for p in ["/m/a", "/m/b", "/m/c"] {
        assert_eq!(children(&c, p), 1, "{p}");
    }
    let nodes = guard.nodes();
    assert!(nodes[0].starts_with("/m/c/") && nodes[1].starts_with("/m/a/"));
    let tokens = guard.fencing_tokens().unwrap();
    for (node, token) in nodes.iter().zip(&tokens) {
        assert_eq!(c.exists(node).unwrap().unwrap().czxid as u64, *token);
    }
    // Taken in the global order: a, then b, then c.
    assert!(tokens[1] < tokens[2] && tokens[2] < tokens[0], "{tokens:?}");
    assert_eq!(guard.state(), LockState::Held);
    guard.check().unwrap();
    guard.release().unwrap();
    for p in ["/m/a", "/m/b", "/m/c"] {
        assert_eq!(children(&c, p), 0, "{p}");
    }
}

#[test]
fn bad_sets_are_typed_errors() {
    let (c, _) = client();
    let none: [&str; 0] = [];
    assert!(matches!(
        MultiLock::new(&c, none),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        MultiLock::new(&c, ["/d/a", "/d/b", "/d/a"]),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        MultiLock::new(&c, ["/d/a", "relative"]),
        Err(Error::InvalidPath { .. })
    ));
    // Two kinds on one path would wait for each other.
    let two = MultiLock::of([
        Member::from(ReadLock::new(&c, "/d/rw").unwrap()),
        Member::from(WriteLock::new(&c, "/d/rw").unwrap()),
    ]);
    assert!(matches!(two, Err(Error::InvalidArgument(_))));
}

#[test]
fn a_timeout_on_the_second_member_releases_the_first() {
    let (c, root) = client();
    let other = support::observer(&root);
    let holder = Lock::new(&other, "/t/b").unwrap().acquire().unwrap();
    let multi = MultiLock::new(&c, ["/t/b", "/t/a"]).unwrap();
    let started = Instant::now();
    assert!(matches!(
        multi.acquire_timeout(Duration::from_millis(500)),
        Err(Error::Timeout)
    ));
    assert!(started.elapsed() < Duration::from_secs(5), "one deadline");
    assert_eq!(children(&c, "/t/a"), 0, "the first member was kept");
    assert_eq!(children(&c, "/t/b"), 1, "a node was left in the queue");
    // A try takes none of them either.
    assert!(multi.try_acquire().unwrap().is_none());
    assert_eq!(children(&c, "/t/a"), 0);
    assert_eq!(children(&c, "/t/b"), 1);
    drop(holder);
    let guard = multi.try_acquire().unwrap().expect("both free now");
    drop(guard);
    assert_eq!(children(&c, "/t/a") + children(&c, "/t/b"), 0);
}

#[test]
fn a_cancel_ends_a_waiting_multi_lock_and_releases_what_it_took() {
    let (c, root) = client();
    let other = support::observer(&root);
    let holder = Lock::new(&other, "/x/b").unwrap().acquire().unwrap();
    let multi = Arc::new(MultiLock::new(&c, ["/x/a", "/x/b"]).unwrap());
    let m2 = multi.clone();
    let waiter = std::thread::spawn(move || m2.acquire().map(drop));
    wait_until(WAIT, "the multi-lock to wait for b", || {
        children(&c, "/x/b") == 2 && children(&c, "/x/a") == 1
    });
    multi.cancel();
    assert!(matches!(waiter.join().unwrap(), Err(Error::Cancelled)));
    assert_eq!(children(&c, "/x/a"), 0);
    assert_eq!(children(&c, "/x/b"), 1);
    drop(holder);
}

#[test]
fn members_of_every_kind_combine() {
    let (c, _) = client();
    let reentrant = ReentrantLock::new(&c, "/k/re").unwrap();
    let outer = reentrant.acquire().unwrap(); // held already: re-entered
    let multi = MultiLock::of([
        Member::from(WriteLock::new(&c, "/k/w").unwrap()),
        Member::from(ReadLock::new(&c, "/k/r").unwrap()),
        Member::from(Semaphore::new(&c, "/k/s", 2).unwrap()),
        Member::from(Lock::new(&c, "/k/l").unwrap()),
        Member::from(reentrant),
    ])
    .unwrap();
    let guard = multi.acquire().unwrap();
    assert_eq!(guard.fencing_tokens().unwrap().len(), 5);
    assert_eq!(children(&c, "/k/re"), 1, "re-entered, not queued again");
    assert_eq!(children(&c, "/k/s"), 1, "one lease");
    drop(guard);
    assert_eq!(children(&c, "/k/re"), 1, "the outer hold stays");
    assert_eq!(children(&c, "/k/s"), 0);
    drop(outer);
}

#[test]
fn on_lost_fires_when_any_member_is_lost() {
    let (c, root) = client();
    let other = support::observer(&root);
    let multi = MultiLock::new(&c, ["/l/a", "/l/b"]).unwrap();
    let guard = multi.acquire().unwrap();
    let (tx, rx) = crossbeam_channel::unbounded();
    guard.on_lost(move || tx.send(()).unwrap());
    let b = guard.nodes()[1].clone();
    other.delete(&b, None).unwrap();
    rx.recv_timeout(WAIT).expect("on_lost ran");
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err(), "once");
    assert_eq!(guard.state(), LockState::Lost);
    support::wait_until(
        std::time::Duration::from_secs(10),
        "the guard to be lost",
        || guard.check().is_err(),
    );
}

/// Two sets over the same paths named in opposite orders, from 8 threads
/// on two clients for 10 seconds: nobody deadlocks (every acquire ends
/// within its generous deadline) and nobody overlaps.
#[test]
fn opposite_orders_from_8_threads_never_deadlock_nor_overlap() {
    let (c1, root) = client();
    let c2 = support::observer(&root);
    let busy: Arc<[AtomicBool; 2]> = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
    let taken = Arc::new(AtomicUsize::new(0));
    let until = Instant::now() + Duration::from_secs(10);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let c = if t % 2 == 0 { c1.clone() } else { c2.clone() };
            let paths = if t < 4 {
                ["/o/a", "/o/b"]
            } else {
                ["/o/b", "/o/a"]
            };
            let (busy, taken) = (busy.clone(), taken.clone());
            std::thread::spawn(move || {
                let multi = MultiLock::new(&c, paths).unwrap();
                while Instant::now() < until {
                    let guard = multi
                        .acquire_timeout(Duration::from_secs(30))
                        .expect("no deadlock: every acquire ends");
                    for b in busy.iter() {
                        assert!(!b.swap(true, Ordering::SeqCst), "overlap");
                    }
                    std::hint::black_box((0..1000).sum::<u64>());
                    for b in busy.iter() {
                        b.store(false, Ordering::SeqCst);
                    }
                    drop(guard);
                    taken.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let n = taken.load(Ordering::SeqCst);
    println!("multilock: {n} acquisitions of {{a,b}} and {{b,a}} in 10 s from 8 threads");
    assert!(n > 8, "{n}");
    assert_eq!(children(&c1, "/o/a") + children(&c1, "/o/b"), 0);
}

/// A round of tries is bounded by the request timeout; an acquire with no
/// deadline waits through a longer outage (the session survives it), as a
/// single lock's acquire does, and takes every lock once it is back.
#[test]
fn an_acquire_waits_through_an_outage_longer_than_the_request_timeout() {
    let root = support::fresh_root();
    let proxy = support::Proxy::new(&support::first_host());
    let c = Client::builder(&format!("{}{root}", proxy.addr()))
        .session_timeout(Duration::from_secs(8))
        .request_timeout(Duration::from_millis(500))
        .connect()
        .unwrap();
    let multi = Arc::new(MultiLock::new(&c, ["/w/a", "/w/b"]).unwrap());
    proxy.freeze();
    let m = multi.clone();
    let waiter = std::thread::spawn(move || m.acquire().map(|g| g.fencing_tokens().unwrap()));
    // Longer than the request timeout, shorter than the session timeout.
    std::thread::sleep(Duration::from_millis(1500)); // the outage (a fault, not synchronisation)
    proxy.unfreeze();
    let tokens = waiter.join().unwrap().expect("acquired after the outage");
    assert_eq!(tokens.len(), 2);
    let observer = support::observer(&root);
    wait_until(WAIT, "the locks released", || {
        children(&observer, "/w/a") + children(&observer, "/w/b") == 0
    });
}
