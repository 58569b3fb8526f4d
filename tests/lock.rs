//! The exclusive lock against a real server. Tests that port a kazoo
//! (`kazoo/tests/test_lock.py`) or Curator (`TestInterProcessMutexBase`) case
//! name it.

mod support;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use support::holders::{check, read_log, record};
use support::{Occupancy, client, hosts, wait_until};
use zklock::{Client, CreateMode, Error, Lock, LockState, ReadLock, WriteLock, ZkError};

const WAIT: Duration = Duration::from_secs(20);

/// A thread holding `lock` as `id` until `release` is set; returns once it holds.
fn hold_in_thread(
    client: &Client,
    path: &str,
    id: &str,
) -> (Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let lock = Lock::new(client, path).unwrap().identifier(id);
    let release = Arc::new(AtomicBool::new(false));
    let (tx, rx) = crossbeam_channel::bounded(1);
    let r = release.clone();
    let h = std::thread::spawn(move || {
        let g = lock.acquire().unwrap();
        tx.send(()).unwrap();
        while !r.load(Ordering::SeqCst) {
            std::thread::park_timeout(Duration::from_millis(10));
        }
        g.release().unwrap();
    });
    rx.recv_timeout(WAIT).unwrap();
    (release, h)
}

#[test]
fn kazoo_test_lock_one_and_guard_scope() {
    // kazoo test_lock_one; Curator testLocker (the guard's scope).
    let (c, _) = client();
    let lock = Lock::new(&c, "/locks/one").unwrap().identifier("one");
    {
        let g = lock.acquire().unwrap();
        assert_eq!(lock.contenders().unwrap(), vec!["one"]);
        assert_eq!(g.state(), LockState::Held);
        g.check().unwrap();
        assert!(g.node().starts_with("/locks/one/"));
        assert!(g.node().contains("__lock__"));
    }
    assert_eq!(lock.contenders().unwrap(), Vec::<String>::new());
}

#[test]
fn kazoo_test_lock_reacquire() {
    let (c, _) = client();
    let lock = Lock::new(&c, "/locks/re").unwrap();
    for _ in 0..3 {
        lock.acquire().unwrap().release().unwrap();
    }
}

#[test]
fn parents_are_containers_created_on_demand() {
    // Curator testContainerCleanup: once every lock is released, the
    // container parents go.
    let (c, _) = client();
    let lock = Lock::new(&c, "/deep/er/lock").unwrap();
    lock.acquire().unwrap().release().unwrap();
    wait_until(
        Duration::from_secs(150),
        "the lock directories to be reaped",
        || c.exists("/deep").unwrap().is_none(),
    );
    // And recreated on the next acquire.
    lock.acquire().unwrap().release().unwrap();
}

#[test]
fn kazoo_test_lock_non_blocking() {
    // A try against a holder fails at once and leaves no node behind.
    let (c, _) = client();
    let (release, h) = hold_in_thread(&c, "/locks/nb", "holder");
    let lock = Lock::new(&c, "/locks/nb").unwrap().identifier("holder");
    assert!(lock.try_acquire().unwrap().is_none());
    assert_eq!(lock.contenders().unwrap(), vec!["holder"]);
    release.store(true, Ordering::SeqCst);
    h.join().unwrap();
    let g = lock.try_acquire().unwrap().expect("free now");
    drop(g);
}

#[test]
fn kazoo_test_lock_same_thread_no_block() {
    // Not reentrant: a second try by the holder's own thread fails.
    let (c, _) = client();
    let lock = Lock::new(&c, "/locks/same").unwrap();
    let g = lock.try_acquire().unwrap().unwrap();
    assert!(lock.try_acquire().unwrap().is_none());
    assert!(matches!(
        lock.acquire_timeout(Duration::from_millis(300)),
        Err(Error::Timeout)
    ));
    assert_eq!(g.state(), LockState::Held);
    assert_eq!(lock.contenders().unwrap().len(), 1);
}

#[test]
fn kazoo_test_lock_many_threads_no_block() {
    // 20 threads try at once on one handle: exactly one wins.
    let (c, _) = client();
    let lock = Arc::new(Lock::new(&c, "/locks/many-nb").unwrap());
    let barrier = Arc::new(std::sync::Barrier::new(20));
    let threads: Vec<_> = (0..20)
        .map(|_| {
            let (lock, barrier) = (lock.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                lock.try_acquire().unwrap()
            })
        })
        .collect();
    let guards: Vec<_> = threads
        .into_iter()
        .filter_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(guards.len(), 1);
    assert_eq!(lock.contenders().unwrap().len(), 1, "losers left no node");
}

#[test]
fn kazoo_test_lock_many_threads() {
    // 20 threads on one handle (Curator testReentrantSingleLock: 10 threads,
    // one client, one mutex): all enter, never two at once.
    let (c, _) = client();
    let lock = Arc::new(Lock::new(&c, "/locks/many").unwrap());
    let occ = Arc::new(Occupancy::default());
    let threads: Vec<_> = (0..20)
        .map(|_| {
            let (lock, occ) = (lock.clone(), occ.clone());
            std::thread::spawn(move || {
                for _ in 0..5 {
                    let g = lock.acquire().unwrap();
                    assert_eq!(occ.enter(), 1, "two holders");
                    g.check().unwrap();
                    std::thread::yield_now();
                    occ.exit();
                    drop(g);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(occ.entries(), 100);
    assert_eq!(occ.max(), 1);
}

#[test]
fn eight_threads_sharing_one_handle_with_fencing_tokens() {
    let (c, _) = client();
    let lock = Arc::new(Lock::new(&c, "/locks/fence").unwrap());
    let occ = Arc::new(Occupancy::default());
    let tokens = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (lock, occ, tokens) = (lock.clone(), occ.clone(), tokens.clone());
            std::thread::spawn(move || {
                for _ in 0..25 {
                    let g = lock.acquire().unwrap();
                    assert_eq!(occ.enter(), 1, "two holders");
                    // Recorded inside the critical section: in holding order.
                    tokens.lock().push(g.fencing_token().unwrap());
                    occ.exit();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let tokens = tokens.lock();
    assert_eq!(tokens.len(), 200);
    support::assert_strictly_increasing(&tokens);
}

#[test]
fn fencing_tokens_increase_across_clients_and_recreated_directories() {
    let (c1, root) = client();
    let c2 = support::observer(&root);
    let l1 = Lock::new(&c1, "/locks/fz").unwrap();
    let l2 = Lock::new(&c2, "/locks/fz").unwrap();
    let mut last = 0;
    for i in 0..6 {
        let g = if i % 2 == 0 {
            l1.acquire()
        } else {
            l2.acquire()
        }
        .unwrap();
        let t = g.fencing_token().unwrap();
        assert!(t > last, "{t} after {last}");
        last = t;
        g.release().unwrap();
        // Delete the directory (unless the server reaped the empty container
        // already): its sequence counter starts over, the token does not.
        match c1.delete("/locks/fz", None) {
            Ok(()) => {}
            Err(e) => assert!(e.is(ZkError::NoNode), "{e:?}"),
        }
    }
}

#[test]
fn kazoo_test_lock_fifo() {
    // kazoo test_lock: a holder and 5 queued contenders acquire in queue
    // order, and contenders() is the remaining queue at every step.
    let (c, _) = client();
    let path = "/locks/fifo";
    let (release, h) = hold_in_thread(&c, path, "test");
    let observer = Lock::new(&c, path).unwrap();
    let order = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let mut threads = Vec::new();
    let mut releases = Vec::new();
    for i in 0..5 {
        let id = format!("c{i}");
        let lock = Lock::new(&c, path).unwrap().identifier(id.clone());
        let (order, go) = (order.clone(), Arc::new(AtomicBool::new(false)));
        releases.push(go.clone());
        threads.push(std::thread::spawn(move || {
            let g = lock.acquire().unwrap();
            order.lock().push(id);
            while !go.load(Ordering::SeqCst) {
                std::thread::park_timeout(Duration::from_millis(10));
            }
            drop(g);
        }));
        // Queue them one by one, so the queue order is known.
        wait_until(WAIT, "the contender to queue", || {
            observer.contenders().unwrap().len() == i + 2
        });
    }
    assert_eq!(
        observer.contenders().unwrap(),
        vec!["test", "c0", "c1", "c2", "c3", "c4"]
    );
    release.store(true, Ordering::SeqCst);
    h.join().unwrap();
    for (i, go) in releases.iter().enumerate() {
        wait_until(WAIT, "the next contender to hold", || {
            order.lock().len() == i + 1
        });
        let expected: Vec<String> = (i..5).map(|j| format!("c{j}")).collect();
        assert_eq!(observer.contenders().unwrap(), expected);
        go.store(true, Ordering::SeqCst);
    }
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*order.lock(), vec!["c0", "c1", "c2", "c3", "c4"]);
}

#[test]
fn kazoo_test_lock_timeout() {
    let (c1, root) = client();
    let c2 = support::observer(&root);
    let (release, h) = hold_in_thread(&c1, "/locks/to", "one");
    let lock = Lock::new(&c2, "/locks/to").unwrap().identifier("two");
    let start = Instant::now();
    assert!(matches!(
        lock.acquire_timeout(Duration::from_millis(700)),
        Err(Error::Timeout)
    ));
    assert!(start.elapsed() >= Duration::from_millis(700));
    // The timed-out contender's node is gone.
    assert_eq!(lock.contenders().unwrap(), vec!["one"]);
    release.store(true, Ordering::SeqCst);
    h.join().unwrap();
}

#[test]
fn kazoo_test_lock_cancel() {
    let (c1, root) = client();
    let c2 = support::observer(&root);
    let (release, h) = hold_in_thread(&c1, "/locks/cancel", "one");
    let lock = Arc::new(Lock::new(&c2, "/locks/cancel").unwrap().identifier("two"));
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let lock = lock.clone();
            std::thread::spawn(move || lock.acquire())
        })
        .collect();
    wait_until(WAIT, "both to queue", || {
        lock.contenders().unwrap().len() == 3
    });
    lock.cancel();
    for w in waiters {
        assert!(matches!(w.join().unwrap(), Err(Error::Cancelled)));
    }
    assert_eq!(lock.contenders().unwrap(), vec!["one"]);
    release.store(true, Ordering::SeqCst);
    h.join().unwrap();
    // kazoo #87: a cancel while idle does not poison the next acquire.
    lock.cancel();
    lock.acquire().unwrap().release().unwrap();
}

#[test]
fn a_cancel_reaches_an_acquire_waiting_for_a_connection() {
    // Frozen network: the waiter is inside its wait for a connection; a
    // cancel still returns promptly.
    let (proxy, c, root) = support::proxied(Duration::from_secs(20));
    let lock = Arc::new(Lock::new(&c, "/locks/frozen").unwrap());
    proxy.freeze();
    let waiter = {
        let lock = lock.clone();
        std::thread::spawn(move || lock.acquire())
    };
    wait_until(WAIT, "the create to be in flight", || {
        c.requests_in_flight() > 0
    });
    let cancelled_at = Instant::now();
    lock.cancel();
    assert!(matches!(waiter.join().unwrap(), Err(Error::Cancelled)));
    assert!(cancelled_at.elapsed() < Duration::from_secs(3));
    proxy.unfreeze();
    // The create may have been applied: whatever it made is cleaned up.
    let observer = support::observer(&root);
    wait_until(WAIT, "no contender left", || {
        observer
            .get_children("/locks/frozen")
            .map(|c| c.is_empty())
            .unwrap_or(true)
    });
}

#[test]
fn kazoo_test_lock_reconnect() {
    // The holder's session expires while a contender (on another client)
    // waits: the contender gets the lock; the holder's guard says Lost and
    // its release reports it.
    let (proxy, holder_client, root) = support::proxied(Duration::from_secs(2));
    let other = support::observer(&root);
    let held = Lock::new(&holder_client, "/locks/rc")
        .unwrap()
        .identifier("test")
        .acquire()
        .unwrap();
    let waiter_lock = Lock::new(&other, "/locks/rc")
        .unwrap()
        .identifier("contender");
    let waiter = std::thread::spawn(move || waiter_lock.acquire().map(|g| g.fencing_token()));
    wait_until(WAIT, "the contender to queue", || {
        other.get_children("/locks/rc").unwrap().len() == 2
    });
    proxy.freeze();
    wait_until(WAIT, "the holder to be lost", || {
        held.state() == LockState::Lost
    });
    assert!(matches!(held.check(), Err(Error::LockLost { .. })));
    let token = waiter.join().unwrap().unwrap().unwrap();
    assert!(token > 0);
    assert!(matches!(held.release(), Err(Error::LockLost { .. })));
    proxy.unfreeze();
}

#[test]
fn a_suspended_holder_knows_it() {
    let (proxy, c, _) = support::proxied(Duration::from_secs(4));
    let g = Lock::new(&c, "/locks/susp").unwrap().acquire().unwrap();
    proxy.freeze();
    wait_until(WAIT, "suspension", || g.state() == LockState::Suspended);
    assert!(matches!(g.check(), Err(Error::ConnectionLoss)));
    proxy.unfreeze();
    wait_until(WAIT, "reconnection", || g.state() == LockState::Held);
    g.check().unwrap();
    g.release().unwrap();
}

#[test]
fn kazoo_test_lock_ephemeral() {
    // A persistent lock outlives its client; release deletes it.
    let (c, root) = client();
    let lock = Lock::new(&c, "/locks/persist").unwrap().ephemeral(false);
    let g = lock.acquire().unwrap();
    let node = g.node().to_string();
    std::mem::forget(g); // the process "dies" holding it
    c.close();
    let c2 = support::observer(&root);
    assert_eq!(c2.exists(&node).unwrap().unwrap().ephemeral_owner, 0);
    let other = Lock::new(&c2, "/locks/persist").unwrap();
    assert!(other.try_acquire().unwrap().is_none(), "still held");
    c2.delete(&node, None).unwrap();
    assert!(other.try_acquire().unwrap().is_some());
}

#[test]
fn kazoo_test_get_predecessor_with_foreign_nodes() {
    // kazoo TestSequence.test_get_predecessor(_go): children that are not
    // contenders are ignored; a Curator/go node with a lower counter is a
    // contender (zklock recognises "-lock-" without extra patterns).
    let (c, _) = client();
    c.ensure_path("/locks/mixed").unwrap();
    c.create("/locks/mixed/hello", b"", CreateMode::Persistent)
        .unwrap();
    c.create("/locks/mixed/world", b"", CreateMode::Persistent)
        .unwrap();
    let lock = Lock::new(&c, "/locks/mixed").unwrap().identifier("py");
    // Foreign children alone do not block.
    let g = lock.try_acquire().unwrap();
    drop(g.expect("not blocked by hello/world"));
    // A go/Curator contender ahead of us does.
    let (go, _) = c
        .create(
            "/locks/mixed/_c_8eb60557ba51e0da67eefc47467d3f34-lock-",
            b"go",
            CreateMode::EphemeralSequential,
        )
        .unwrap();
    assert!(lock.try_acquire().unwrap().is_none());
    assert_eq!(lock.contenders().unwrap(), vec!["go"]);
    c.delete(&go, None).unwrap();
    assert!(lock.try_acquire().unwrap().is_some());
}

#[test]
fn a_waiter_whose_node_is_deleted_queues_again() {
    // Nobody should delete a waiting contender's node, but if an operator
    // does, the waiter must not go on to "hold" a lock without a node.
    let (c, _) = client();
    let (release, h) = hold_in_thread(&c, "/locks/del", "holder");
    let lock = Lock::new(&c, "/locks/del").unwrap().identifier("waiter");
    let waiter = std::thread::spawn(move || lock.acquire().map(|g| g.node().to_string()));
    let mut first = None;
    wait_until(WAIT, "the waiter to queue", || {
        let kids = c.get_children("/locks/del").unwrap();
        first = kids.into_iter().find(|k| {
            c.get_data(&format!("/locks/del/{k}"))
                .map(|(d, _)| d == b"waiter")
                .unwrap_or(false)
        });
        first.is_some()
    });
    let first = format!("/locks/del/{}", first.unwrap());
    c.delete(&first, None).unwrap();
    // It re-queues with a new node (behind the holder).
    wait_until(WAIT, "the waiter to queue again", || {
        c.get_children("/locks/del").unwrap().len() == 2
    });
    release.store(true, Ordering::SeqCst);
    h.join().unwrap();
    let node = waiter.join().unwrap().unwrap();
    assert_ne!(node, first);
}

#[test]
fn two_processes_never_hold_together() {
    let (c, root) = client();
    let log = support::server::scratch_dir("two-processes").join("log");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2)
        .map(|i| {
            Command::new(&exe)
                .args(["contender_process", "--exact", "--ignored", "--nocapture"])
                .env(
                    "ZKLOCK_CONTENDER",
                    format!("{}{root}|/locks/procs|{}|p{i}", hosts(), log.display()),
                )
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(
            child.wait().unwrap().success(),
            "a contender process failed"
        );
    }
    let records = read_log(&log);
    let (n, violations) = check(&records, 1);
    assert!(violations.is_empty(), "{violations:?}");
    assert_eq!(n, 2 * 3 * 15);
    let per = support::holders::per_process(&records);
    assert_eq!((per["p0"], per["p1"]), (45, 45));
    assert!(
        c.get_children("/locks/procs")
            .unwrap_or_default()
            .is_empty()
    );
}

/// Run by `two_processes_never_hold_together` in a child process: 3 threads
/// each take the lock 15 times and log enter/exit with their fencing token.
#[test]
#[ignore = "a helper process, run by two_processes_never_hold_together"]
fn contender_process() {
    let Ok(spec) = std::env::var("ZKLOCK_CONTENDER") else {
        return;
    };
    let parts: Vec<&str> = spec.split('|').collect();
    let (hosts, path, log, me) = (parts[0], parts[1], parts[2], parts[3]);
    let client = Client::connect(hosts).unwrap();
    let lock = Arc::new(Lock::new(&client, path).unwrap().identifier(me));
    let log = std::path::PathBuf::from(log);
    let threads: Vec<_> = (0..3)
        .map(|t| {
            let (lock, log) = (lock.clone(), log.clone());
            let who = format!("{me}-t{t}");
            std::thread::spawn(move || {
                for _ in 0..15 {
                    let g = lock.acquire().unwrap();
                    g.check().unwrap();
                    let token = g.fencing_token().unwrap();
                    record(&log, "lock", "x", "enter", &who, token);
                    std::thread::yield_now();
                    record(&log, "lock", "x", "exit", &who, token);
                    g.release().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let (c, _) = client();
    for p in ["", "relative", "/trailing/", "/a//b", "/nul\0", "/"] {
        assert!(
            matches!(Lock::new(&c, p), Err(Error::InvalidPath { .. })),
            "{p:?} accepted"
        );
    }
    let huge = "x".repeat(2 << 20);
    let lock = Lock::new(&c, "/locks/big").unwrap().identifier(huge);
    assert!(matches!(lock.acquire(), Err(Error::InvalidArgument(_))));
    assert!(matches!(lock.try_acquire(), Err(Error::InvalidArgument(_))));
    // Nothing was created.
    assert!(c.exists("/locks/big").unwrap().is_none());
}

#[test]
fn the_session_ending_fails_a_waiting_acquire() {
    let (proxy, c, root) = support::proxied(Duration::from_secs(2));
    let other = support::observer(&root);
    let (release, h) = hold_in_thread(&other, "/locks/sl", "holder");
    let lock = Lock::new(&c, "/locks/sl").unwrap();
    let waiter = std::thread::spawn(move || lock.acquire());
    wait_until(WAIT, "the waiter to queue", || {
        other.get_children("/locks/sl").unwrap().len() == 2
    });
    proxy.freeze();
    assert!(matches!(waiter.join().unwrap(), Err(Error::SessionLost)));
    proxy.unfreeze();
    release.store(true, Ordering::SeqCst);
    h.join().unwrap();
}

#[test]
fn curator_test_protected_create_node_deletion() {
    // Curator TestFrameworkEdges.testProtectedCreateNodeDeletion (its
    // ChaosMonkeyCnxnFactory, done here by the proxy): the connection drops
    // right after the server took the contender's create. The walker finds
    // its node by its unique prefix instead of creating a second one.
    let (proxy, c, root) = support::proxied(Duration::from_secs(6));
    let observer = support::observer(&root);
    let lock = Lock::new(&c, "/locks/protected").unwrap().identifier("me");
    // The directory exists first (persistent, so it is not reaped meanwhile),
    // so the create that is cut is the contender's.
    observer.ensure_path("/locks/protected").unwrap();
    proxy.drop_after_create(&format!("{root}/locks/protected/"));
    let g = lock.acquire().unwrap();
    assert_eq!(proxy.creates_dropped(), 1);
    let kids = observer.get_children("/locks/protected").unwrap();
    assert_eq!(kids.len(), 1, "one node per contender: {kids:?}");
    assert_eq!(format!("/locks/protected/{}", kids[0]), g.node());
    assert!(g.fencing_token().unwrap() > 0);
    g.release().unwrap();
    assert!(
        observer
            .get_children("/locks/protected")
            .unwrap_or_default()
            .is_empty()
    );
}

#[test]
fn a_lost_create_reply_then_a_timeout_leaves_nothing() {
    // The create's reply is lost and the network stays down until the
    // attempt's deadline: the node (if the create was applied) is found
    // and deleted in the background once the connection is back.
    let (proxy, c, root) = support::proxied(Duration::from_secs(10));
    let observer = support::observer(&root);
    let lock = Lock::new(&c, "/locks/doubt").unwrap();
    observer.ensure_path("/locks/doubt").unwrap();
    proxy.drop_after_create(&format!("{root}/locks/doubt/"));
    proxy.refuse(true);
    assert!(matches!(
        lock.acquire_timeout(Duration::from_millis(800)),
        Err(Error::Timeout)
    ));
    assert_eq!(
        observer.get_children("/locks/doubt").unwrap().len(),
        1,
        "the create was applied"
    );
    assert!(c.pending_background_deletes() >= 1);
    proxy.refuse(false);
    wait_until(WAIT, "the orphan to be found and deleted", || {
        observer
            .get_children("/locks/doubt")
            .unwrap_or_default()
            .is_empty()
    });
    wait_until(WAIT, "the background deletes to settle", || {
        c.pending_background_deletes() == 0
    });
}

#[test]
fn a_timeout_during_a_partition_returns_on_time_and_cleans_up_later() {
    let (proxy, c, root) = support::proxied(Duration::from_secs(20));
    let observer = support::observer(&root);
    let (release, h) = hold_in_thread(&observer, "/locks/part", "holder");
    let lock = Arc::new(Lock::new(&c, "/locks/part").unwrap().identifier("waiter"));
    let waiter = {
        let lock = lock.clone();
        std::thread::spawn(move || {
            let r = lock.acquire_timeout(Duration::from_secs(2));
            (r.map(drop), Instant::now())
        })
    };
    wait_until(WAIT, "the waiter to queue", || {
        observer.get_children("/locks/part").unwrap().len() == 2
    });
    let frozen_at = Instant::now();
    proxy.freeze();
    let (r, returned_at) = waiter.join().unwrap();
    assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
    // On time: it does not wait for the connection to come back.
    assert!(returned_at - frozen_at < Duration::from_secs(4));
    assert_eq!(c.pending_background_deletes(), 1);
    proxy.unfreeze();
    wait_until(WAIT, "the waiter's node to be deleted", || {
        observer.get_children("/locks/part").unwrap().len() == 1
    });
    release.store(true, Ordering::SeqCst);
    h.join().unwrap();
}

#[test]
fn dropping_a_guard_during_a_partition_returns_at_once() {
    let (proxy, c, root) = support::proxied(Duration::from_secs(20));
    let observer = support::observer(&root);
    let g = Lock::new(&c, "/locks/dropfz").unwrap().acquire().unwrap();
    let events = c.session_events();
    proxy.freeze();
    events.recv_timeout(WAIT).unwrap(); // Suspended
    let start = Instant::now();
    drop(g);
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "{:?}",
        start.elapsed()
    );
    proxy.unfreeze();
    wait_until(WAIT, "the released node to go", || {
        observer
            .get_children("/locks/dropfz")
            .unwrap_or_default()
            .is_empty()
    });
}

#[test]
fn a_dropped_guard_is_released_for_everyone_when_drop_returns() {
    let (c1, root) = client();
    let c2 = support::observer(&root);
    let l1 = Lock::new(&c1, "/locks/dropsync").unwrap();
    let l2 = Lock::new(&c2, "/locks/dropsync").unwrap();
    for _ in 0..20 {
        drop(l1.acquire().unwrap());
        // Another session sees it free at once.
        drop(
            l2.try_acquire()
                .unwrap()
                .expect("free for the other client"),
        );
    }
}

/// Whether the server under test has a watch of session `session` on the
/// absolute path `path` (its `wchp` answer: a path line, then one indented
/// `0x<session>` line per watcher).
fn server_watches(path: &str, session: i64) -> bool {
    let port = support::first_host()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let out = support::four_letter(port, "wchp").unwrap_or_default();
    let want = format!("0x{session:x}");
    let mut current = "";
    for line in out.lines() {
        if line.starts_with(char::is_whitespace) {
            if current == path && line.trim() == want {
                return true;
            }
        } else {
            current = line.trim();
        }
    }
    false
}

/// The hand-off shortcut (hold at once when the watched blocker goes) must
/// not fire when the blocker is a waiter that gives up rather than a holder
/// that releases: the holder ahead of it still holds. The waiter behind
/// must go back to waiting, on the holder, and take the lock only once the
/// holder lets go. Run for a give-up by timeout and by cancel, and for an
/// exclusive waiter and a reader (the blockers are writers).
#[test]
fn a_waiter_whose_blocker_gives_up_waits_for_the_holder() {
    for (how, waiter_kind) in [
        ("timeout", "lock"),
        ("cancel", "lock"),
        ("timeout", "read"),
        ("cancel", "read"),
    ] {
        let (c1, root) = client();
        let path = "/locks/gives-up";
        // The holder and the quitter are writers: they block both kinds.
        let holder = WriteLock::new(&c1, path).unwrap().identifier("holder");
        let held = holder.acquire().unwrap();
        let c2 = support::observer(&root);
        let quitter = Arc::new(WriteLock::new(&c2, path).unwrap().identifier("quitter"));
        let q = quitter.clone();
        let patience = if how == "timeout" {
            Duration::from_secs(2)
        } else {
            WAIT * 2
        };
        let quitting = std::thread::spawn(move || q.acquire_timeout(patience).map(|_| ()));
        wait_until(WAIT, "the quitter to queue", || {
            holder.contenders().unwrap().len() == 2
        });
        let c3 = support::observer(&root);
        let acquire: Box<dyn FnOnce() -> zklock::Result<zklock::LockGuard> + Send> =
            if waiter_kind == "lock" {
                let l = Lock::new(&c3, path).unwrap().identifier("waiter");
                Box::new(move || l.acquire())
            } else {
                let l = ReadLock::new(&c3, path).unwrap().identifier("waiter");
                Box::new(move || l.acquire())
            };
        let acquired = Arc::new(AtomicBool::new(false));
        let a = acquired.clone();
        let waiting = std::thread::spawn(move || {
            let g = acquire().unwrap();
            a.store(true, Ordering::SeqCst);
            g.fencing_token().unwrap()
        });
        wait_until(WAIT, "the waiter to queue", || {
            holder.contenders().unwrap() == ["holder", "quitter", "waiter"]
        });
        if how == "cancel" {
            quitter.cancel();
        }
        let gave_up = quitting.join().unwrap();
        assert!(
            matches!(gave_up, Err(Error::Timeout | Error::Cancelled)),
            "{how}: {gave_up:?}"
        );
        // The server shows the waiter watching the holder's node again: it
        // saw its blocker go and went back to waiting, without the lock.
        let holder_node = format!("{root}{}", held.node());
        wait_until(WAIT, "the waiter to watch the holder", || {
            acquired.load(Ordering::SeqCst) || server_watches(&holder_node, c3.session_id())
        });
        assert!(
            !acquired.load(Ordering::SeqCst),
            "{how}/{waiter_kind}: held beside the holder"
        );
        assert_eq!(holder.contenders().unwrap(), ["holder", "waiter"]);
        let holder_token = held.fencing_token().unwrap();
        held.release().unwrap();
        let token = waiting.join().unwrap();
        assert!(token > holder_token);
    }
}

/// One way to acquire, named.
type Acquire<'a> = (&'static str, Box<dyn Fn() -> zklock::Result<()> + 'a>);

/// Every way to acquire, for a lock and a semaphore on `c`, with the error
/// each returned and the requests each sent.
fn every_acquire(c: &Client, lock_path: &str, sem_path: &str) -> Vec<(&'static str, Error, u64)> {
    let lock = Lock::new(c, lock_path).unwrap();
    let sem = zklock::Semaphore::new(c, sem_path, 2).unwrap();
    let calls: Vec<Acquire> = vec![
        ("Lock::acquire", Box::new(|| lock.acquire().map(drop))),
        (
            "Lock::acquire_timeout",
            Box::new(|| lock.acquire_timeout(WAIT).map(drop)),
        ),
        (
            "Lock::try_acquire",
            Box::new(|| lock.try_acquire().map(drop)),
        ),
        ("Semaphore::acquire", Box::new(|| sem.acquire().map(drop))),
        (
            "Semaphore::acquire_timeout",
            Box::new(|| sem.acquire_timeout(WAIT).map(drop)),
        ),
        (
            "Semaphore::try_acquire",
            Box::new(|| sem.try_acquire().map(drop)),
        ),
    ];
    calls
        .into_iter()
        .map(|(name, f)| {
            let before = c.stats().requests;
            let err = f().expect_err(name);
            (name, err, c.stats().requests - before)
        })
        .collect()
}

#[test]
fn a_missing_chroot_is_a_typed_error_not_a_request_storm() {
    // The report: `acquire()` never returned and sent ~2,000 requests a
    // second; now every acquire fails after two round trips (the create
    // and listing, then one pipelined create per ancestor).
    let chroot = format!("/zklock-missing-{}", uuid::Uuid::new_v4().simple());
    let c = Client::connect(&format!("{}{chroot}", hosts())).unwrap();
    for (name, err, sent) in every_acquire(&c, "/locks/db", "/pools/db") {
        match err {
            Error::ChrootMissing { chroot: named } => assert_eq!(named, chroot, "{name}"),
            e => panic!("{name}: {e:?}"),
        }
        assert!(sent <= 4, "{name} sent {sent} requests");
    }
}

#[test]
fn a_parent_nobody_may_create_is_a_typed_error_naming_it() {
    let (c, root) = client();
    let admin = support::observer(&root);
    admin
        .create_with_acl(
            "/secured",
            b"",
            CreateMode::Persistent,
            &zklock::Acl::read_unsafe(),
        )
        .unwrap();
    for (name, err, sent) in every_acquire(&c, "/secured/app/lock", "/secured/app/pool") {
        match err {
            Error::ZooKeeper { code, path } => {
                assert_eq!(
                    (code, path.as_str()),
                    (ZkError::NoAuth, "/secured/app"),
                    "{name}"
                )
            }
            e => panic!("{name}: {e:?}"),
        }
        assert!(sent <= 5, "{name} sent {sent} requests");
    }
}

#[test]
fn the_reserved_zookeeper_tree_is_not_a_lock_path() {
    let c = Client::connect(&hosts()).unwrap();
    for p in ["/zookeeper", "/zookeeper/quota/lock"] {
        assert!(
            matches!(Lock::new(&c, p), Err(Error::InvalidPath { .. })),
            "{p}"
        );
        assert!(
            matches!(
                zklock::Semaphore::new(&c, p, 1),
                Err(Error::InvalidPath { .. })
            ),
            "{p}"
        );
    }
    // Under a chroot, `/zookeeper` is an ordinary name.
    let (chrooted, _) = client();
    drop(
        Lock::new(&chrooted, "/zookeeper")
            .unwrap()
            .acquire()
            .unwrap(),
    );
}

#[test]
fn a_zero_timeout_makes_one_attempt_that_does_not_wait() {
    // zktools' `acquire(timeout=0)` and Hazelcast's `tryLock(0)`: a deadline
    // already past at the start makes one attempt that does not wait,
    // rather than time out without trying.
    let (c, root) = client();
    let other = support::observer(&root);
    let lock = Lock::new(&c, "/locks/zero").unwrap().identifier("first");
    let rival = Lock::new(&other, "/locks/zero").unwrap();
    let g = lock
        .acquire_timeout(Duration::ZERO)
        .expect("a free lock is taken");
    assert!(matches!(
        rival.acquire_timeout(Duration::ZERO),
        Err(Error::Timeout)
    ));
    assert_eq!(
        lock.contenders().unwrap(),
        vec!["first"],
        "nothing left behind"
    );
    drop(g);
    drop(rival.acquire_timeout(Duration::ZERO).unwrap());
    let sem = zklock::Semaphore::new(&c, "/pools/zero", 1).unwrap();
    let lease = sem.acquire_timeout(Duration::ZERO).unwrap();
    let sem2 = zklock::Semaphore::new(&other, "/pools/zero", 1).unwrap();
    assert!(matches!(
        sem2.acquire_timeout(Duration::ZERO),
        Err(Error::Timeout)
    ));
    drop(lease);
}
