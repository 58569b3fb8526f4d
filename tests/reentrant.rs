//! Reentrant locks against a real server. Tests that port a Curator
//! (`TestInterProcessMutex`, `TestInterProcessReadWriteLock`) or Hazelcast
//! (`FencedLock`) case name it.

mod support;

use crossbeam_channel::{Receiver, bounded};
use std::time::Duration;
use support::{client, observer, proxied, wait_until};
use zklock::lock::{Exclusive, QueueLock, Strategy, Write};
use zklock::{Error, Lock, LockState, ReadLock, ReentrantLock, ReentrantReadWriteLock};

const WAIT: Duration = Duration::from_secs(20);

/// The contender nodes under `path`, as another client sees them.
fn nodes(root: &str, path: &str) -> usize {
    observer(root)
        .get_children(path)
        .map(|c| c.len())
        .unwrap_or(0)
}

/// Runs `f` on a thread; its result arrives on the channel.
fn contend<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Receiver<T> {
    let (tx, rx) = bounded(1);
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx
}

/// Waits until `n` contenders are queued on `path`.
fn queued(root: &str, path: &str, n: usize) {
    wait_until(WAIT, &format!("{n} contenders on {path}"), || {
        nodes(root, path) == n
    });
}

/// A contender of kind `S` on another client, queued on `path` as its
/// `n`th contender and waiting; its fencing token arrives once it holds.
fn queued_elsewhere<S: Strategy>(
    root: &str,
    path: &str,
    n: usize,
) -> Receiver<zklock::Result<u64>> {
    let lock = QueueLock::<S>::new(&observer(root), path).unwrap();
    let waiting = contend(move || lock.acquire().and_then(|g| g.fencing_token()));
    queued(root, path, n);
    waiting
}

// Curator testReentrant; Hazelcast: the fence stays the same across re-entries.
#[test]
fn a_nested_acquire_returns_at_once_with_one_node_and_one_token() {
    let (c, root) = client();
    let lock = ReentrantLock::new(&c, "/locks/nested").unwrap();
    let outer = lock.acquire().unwrap();
    let before = c.stats().requests;
    let inner = lock.acquire().unwrap();
    let again = lock.try_acquire().unwrap().expect("held by this thread");
    let timed = lock.acquire_timeout(Duration::ZERO).unwrap();
    assert_eq!(c.stats().requests, before, "no request for a re-entry");
    let token = outer.fencing_token().unwrap();
    for g in [&inner, &again, &timed] {
        assert_eq!(g.fencing_token().unwrap(), token);
        assert_eq!(g.node(), outer.node());
    }
    assert_eq!(nodes(&root, "/locks/nested"), 1);
    assert_eq!(lock.hold_count(), 4);
    assert!(lock.is_locked().unwrap());
    drop((inner, again, timed, outer));
    assert_eq!(nodes(&root, "/locks/nested"), 0);
}

// Curator testReentrant (foo/bar/snafu, three levels deep): still held after
// the inner releases; out of order is fine; released at the last one.
#[test]
fn hold_counts_and_releases_in_any_order() {
    let (c, root) = client();
    let lock = ReentrantLock::new(&c, "/locks/deep").unwrap();
    assert_eq!(lock.hold_count(), 0);
    assert!(!lock.is_held_by_current_thread());
    let a = lock.acquire().unwrap();
    let b = lock.acquire().unwrap();
    let c3 = lock.acquire().unwrap();
    assert_eq!(lock.hold_count(), 3);
    a.release().unwrap(); // the outer one first
    assert_eq!(lock.hold_count(), 2);
    c3.check().unwrap();
    assert_eq!(nodes(&root, "/locks/deep"), 1);
    drop(c3);
    assert!(lock.is_held_by_current_thread());
    b.release().unwrap();
    assert_eq!(lock.hold_count(), 0);
    assert_eq!(nodes(&root, "/locks/deep"), 0);
    // And again, afresh: a new node, a newer token.
    let again = lock.acquire().unwrap();
    assert_eq!(lock.hold_count(), 1);
    drop(again);
}

// Hazelcast: lockAcquireLimit, LockAcquireLimitReachedException.
#[test]
fn beyond_the_limit_acquire_fails_and_try_says_no() {
    let (c, _) = client();
    let lock = ReentrantLock::new(&c, "/locks/limit").unwrap().max_holds(2);
    let a = lock.acquire().unwrap();
    let b = lock.acquire().unwrap();
    assert!(matches!(
        lock.acquire(),
        Err(Error::AcquireLimitReached { limit: 2 })
    ));
    assert!(matches!(
        lock.acquire_timeout(Duration::from_secs(1)),
        Err(Error::AcquireLimitReached { limit: 2 })
    ));
    assert!(lock.try_acquire().unwrap().is_none());
    assert_eq!(lock.hold_count(), 2, "the holds are untouched");
    a.check().unwrap();
    drop(b);
    let c3 = lock.acquire().unwrap(); // room again
    drop((a, c3));
    // A limit of 1 is a lock that is not reentrant.
    let once = ReentrantLock::new(&c, "/locks/limit").unwrap().max_holds(1);
    let g = once.acquire().unwrap();
    assert!(matches!(
        once.acquire(),
        Err(Error::AcquireLimitReached { limit: 1 })
    ));
    drop(g);
}

// Curator testReentrant2Threads and testReentrantSingleLock.
#[test]
fn threads_sharing_a_handle_exclude_each_other() {
    let (c, root) = client();
    let lock = std::sync::Arc::new(ReentrantLock::new(&c, "/locks/threads").unwrap());
    let mine = lock.acquire().unwrap();
    let l = lock.clone();
    let (timed_out_tx, timed_out) = bounded(1);
    let other = contend(move || {
        assert_eq!(l.hold_count(), 0, "counts are per thread");
        assert!(l.try_acquire().unwrap().is_none());
        let r = l.acquire_timeout(Duration::from_millis(200));
        assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
        timed_out_tx.send(()).unwrap();
        let g = l.acquire().unwrap();
        let token = g.fencing_token().unwrap();
        let nested = l.acquire().unwrap();
        (token, nested.fencing_token().unwrap(), l.hold_count())
    });
    timed_out.recv_timeout(WAIT).unwrap();
    queued(&root, "/locks/threads", 2);
    let inner = lock.acquire().unwrap(); // this thread still enters at once
    assert!(other.try_recv().is_err(), "the other thread still waits");
    drop(inner);
    let token = mine.fencing_token().unwrap();
    drop(mine);
    let (theirs, nested, count) = other.recv_timeout(WAIT).unwrap();
    assert!(theirs > token);
    assert_eq!(nested, theirs);
    assert_eq!(count, 2);
}

#[test]
fn a_plain_lock_contender_waits_for_the_last_nested_guard() {
    let (c, root) = client();
    let lock = ReentrantLock::new(&c, "/locks/mixed").unwrap();
    let outer = lock.acquire().unwrap();
    let inner = lock.acquire().unwrap();
    let waiting = queued_elsewhere::<Exclusive>(&root, "/locks/mixed", 2);
    drop(inner);
    let probe = Lock::new(&observer(&root), "/locks/mixed").unwrap();
    assert!(probe.try_acquire().unwrap().is_none(), "still held");
    assert!(waiting.try_recv().is_err());
    let token = outer.fencing_token().unwrap();
    drop(outer);
    let theirs = waiting.recv_timeout(WAIT).unwrap().unwrap();
    assert!(theirs > token);
}

// Curator testDowngrading and testContendingDowngrading (CURATOR-621): a
// writer queued behind the write node stays out until the downgraded read
// is released.
#[test]
fn a_downgrade_keeps_a_queued_writer_out() {
    let (c, root) = client();
    let rw = ReentrantReadWriteLock::new(&c, "/locks/down").unwrap();
    let write = rw.write_lock().acquire().unwrap();
    let token = write.fencing_token().unwrap();
    let waiting = queued_elsewhere::<Write>(&root, "/locks/down", 2);
    let before = c.stats().requests;
    let read = rw.read_lock().acquire().unwrap();
    assert_eq!(c.stats().requests, before, "a downgrade sends nothing");
    assert_eq!(read.fencing_token().unwrap(), token);
    drop(write);
    assert!(!rw.write_lock().is_held_by_current_thread());
    assert!(rw.read_lock().is_held_by_current_thread());
    read.check().unwrap();
    read.verify().unwrap();
    // Nobody else gets in meanwhile: not the queued writer, not a reader.
    let reader = ReadLock::new(&observer(&root), "/locks/down").unwrap();
    assert!(reader.try_acquire().unwrap().is_none());
    assert!(waiting.try_recv().is_err());
    // Back to writing on the node never given up: at once.
    let rewrite = rw.write_lock().acquire_timeout(Duration::ZERO).unwrap();
    assert_eq!(rewrite.fencing_token().unwrap(), token);
    drop(rewrite);
    drop(read);
    let theirs = waiting.recv_timeout(WAIT).unwrap().unwrap();
    assert!(theirs > token);
}

// Curator: a read holder re-enters with a writer queued (no self-deadlock).
#[test]
fn a_reader_reenters_with_a_writer_queued() {
    let (c, root) = client();
    let rw = ReentrantReadWriteLock::new(&c, "/locks/reread").unwrap();
    let read = rw.read_lock().acquire().unwrap();
    let waiting = queued_elsewhere::<Write>(&root, "/locks/reread", 2);
    let again = rw.read_lock().acquire_timeout(Duration::ZERO).unwrap();
    assert_eq!(
        again.fencing_token().unwrap(),
        read.fencing_token().unwrap()
    );
    assert_eq!(rw.read_lock().hold_count(), 2);
    drop(read);
    assert!(waiting.try_recv().is_err(), "the writer still waits");
    assert_eq!(nodes(&root, "/locks/reread"), 2);
    drop(again);
    waiting.recv_timeout(WAIT).unwrap().unwrap();
}

// Curator testGetParticipantNodes' upgrade caveat: a read holder asking for
// the write lock would wait for itself.
#[test]
fn an_upgrade_is_refused_at_once() {
    let (c, root) = client();
    let rw = ReentrantReadWriteLock::new(&c, "/locks/up").unwrap();
    let read = rw.read_lock().acquire().unwrap();
    let before = c.stats().requests;
    assert!(matches!(
        rw.write_lock().acquire(),
        Err(Error::UpgradeRefused { ref path }) if path == "/locks/up"
    ));
    assert!(matches!(
        rw.write_lock().try_acquire(),
        Err(Error::UpgradeRefused { .. })
    ));
    assert_eq!(c.stats().requests, before);
    read.check().unwrap();
    assert_eq!(nodes(&root, "/locks/up"), 1);
    drop(read);
    // Released, the write side is an ordinary acquire again.
    drop(rw.write_lock().acquire().unwrap());
}

// Hazelcast: LockOwnershipLostException; a new lock() after the loss is a
// new ownership.
#[test]
fn a_session_loss_while_nested_loses_every_guard_and_the_next_acquire_queues_afresh() {
    let (proxy, c, _) = proxied(Duration::from_secs(2));
    let lock = ReentrantLock::new(&c, "/locks/lost").unwrap();
    let outer = lock.acquire().unwrap();
    let inner = lock.acquire().unwrap();
    let token = outer.fencing_token().unwrap();
    let changes = inner.state_changes();
    proxy.freeze();
    wait_until(WAIT, "the loss", || {
        changes.recv_timeout(WAIT) == Ok(LockState::Lost)
    });
    assert_eq!(outer.state(), LockState::Lost);
    assert_eq!(inner.state(), LockState::Lost);
    assert!(matches!(inner.check(), Err(Error::LockLost { .. })));
    assert_eq!(lock.hold_count(), 0);
    proxy.unfreeze();
    wait_until(WAIT, "a new session", || {
        c.state() == zklock::SessionState::Connected
    });
    let fresh = lock.acquire().unwrap();
    assert!(fresh.fencing_token().unwrap() > token, "not resurrected");
    assert_eq!(lock.hold_count(), 1);
    assert_eq!(outer.state(), LockState::Lost, "the old ones stay lost");
    // The loss is reported once, not by every old guard.
    assert!(matches!(inner.release(), Err(Error::LockLost { .. })));
    assert!(outer.release().is_ok());
    fresh.check().unwrap();
    assert_eq!(lock.hold_count(), 1);
}

#[test]
fn a_thread_that_panics_while_nested_releases_its_holds() {
    let (c, root) = client();
    let lock = std::sync::Arc::new(ReentrantLock::new(&c, "/locks/panic").unwrap());
    let l = lock.clone();
    let died = std::thread::spawn(move || {
        let _outer = l.acquire().unwrap();
        let _inner = l.acquire().unwrap();
        panic!("the critical section failed");
    })
    .join();
    assert!(died.is_err());
    assert_eq!(nodes(&root, "/locks/panic"), 0);
    let g = lock.try_acquire().unwrap().expect("free again");
    assert_eq!(lock.hold_count(), 1);
    drop(g);
}

#[test]
fn curator_names_queue_with_curator_flavoured_locks() {
    let (c, root) = client();
    let rw = ReentrantReadWriteLock::new(&c, "/locks/names")
        .unwrap()
        .flavor(zklock::Flavor::Curator);
    let w = rw.write_lock().acquire().unwrap();
    let r = rw.read_lock().acquire().unwrap();
    let kids = observer(&root).get_children("/locks/names").unwrap();
    assert_eq!(kids.len(), 1);
    assert!(kids[0].contains("__WRIT__"), "{kids:?}");
    drop((w, r));
    let r = rw.read_lock().acquire().unwrap();
    assert!(r.node().contains("__READ__"));
}
