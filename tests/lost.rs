//! A holder is told, at once and without polling, when its lock is lost:
//! its node deleted by someone else, its session expired, its client closed.

mod support;

use crossbeam_channel::Receiver;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::{client, observer, proxied, wait_until};
use zklock::{Error, Lock, LockGuard, LockState, Semaphore};

const WAIT: Duration = Duration::from_secs(20);

fn next(changes: &Receiver<LockState>) -> LockState {
    changes.recv_timeout(WAIT).expect("a state change in time")
}

/// A callback counter and the callback that bumps it.
fn counter() -> (Arc<AtomicUsize>, impl FnOnce() + Send + 'static) {
    let n = Arc::new(AtomicUsize::new(0));
    let m = n.clone();
    (n, move || {
        m.fetch_add(1, Ordering::SeqCst);
    })
}

fn assert_lost(g: &LockGuard) {
    assert_eq!(g.state(), LockState::Lost);
    assert!(matches!(g.check(), Err(Error::LockLost { .. })));
    assert!(matches!(g.fencing_token(), Err(Error::LockLost { .. })));
}

#[test]
fn a_deleted_node_is_lost_at_once() {
    // An operator (or a forced revocation) deletes the holder's node.
    let (c, root) = client();
    let op = observer(&root);
    let g = Lock::new(&c, "/locks/op").unwrap().acquire().unwrap();
    let changes = g.state_changes();
    let (calls, f) = counter();
    g.on_lost(f);
    op.delete(g.node(), None).unwrap();
    assert_eq!(next(&changes), LockState::Lost);
    assert!(changes.recv_timeout(WAIT).is_err(), "closed after Lost");
    wait_until(WAIT, "on_lost to run", || calls.load(Ordering::SeqCst) == 1);
    assert_lost(&g);
    assert!(matches!(g.release(), Err(Error::LockLost { .. })));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn a_deleted_node_of_a_holder_that_waited_is_lost_too() {
    let (c, root) = client();
    let op = observer(&root);
    let lock = Lock::new(&c, "/locks/op2").unwrap();
    let first = lock.acquire().unwrap();
    let l2 = Lock::new(&c, "/locks/op2").unwrap();
    let waiter = std::thread::spawn(move || l2.acquire().unwrap());
    wait_until(WAIT, "the waiter to queue", || {
        lock.contenders().unwrap().len() == 2
    });
    drop(first);
    let g = waiter.join().unwrap();
    let changes = g.state_changes();
    op.delete(g.node(), None).unwrap();
    assert_eq!(next(&changes), LockState::Lost);
    assert_lost(&g);
}

#[test]
fn a_deleted_lease_is_lost() {
    let (c, root) = client();
    let op = observer(&root);
    let lease = Semaphore::new(&c, "/sem/op", 2).unwrap().acquire().unwrap();
    let changes = lease.state_changes();
    op.delete(lease.node(), None).unwrap();
    assert_eq!(next(&changes), LockState::Lost);
    assert_lost(&lease);
}

#[test]
fn a_short_partition_is_suspended_then_held_again() {
    let (proxy, c, _) = proxied(Duration::from_secs(4));
    let g = Lock::new(&c, "/locks/short").unwrap().acquire().unwrap();
    let changes = g.state_changes();
    let (calls, f) = counter();
    g.on_lost(f);
    proxy.freeze();
    assert_eq!(next(&changes), LockState::Suspended);
    assert!(matches!(g.check(), Err(Error::ConnectionLoss)));
    proxy.unfreeze();
    assert_eq!(next(&changes), LockState::Held);
    g.check().unwrap();
    g.release().unwrap();
    assert!(changes.recv_timeout(WAIT).is_err(), "closed by the release");
    assert_eq!(calls.load(Ordering::SeqCst), 0, "never lost");
}

#[test]
fn a_long_partition_is_suspended_then_lost() {
    let (proxy, c, _) = proxied(Duration::from_secs(2));
    let g = Lock::new(&c, "/locks/long").unwrap().acquire().unwrap();
    let changes = g.state_changes();
    let (calls, f) = counter();
    g.on_lost(f);
    proxy.freeze();
    assert_eq!(next(&changes), LockState::Suspended);
    assert_eq!(next(&changes), LockState::Lost);
    wait_until(WAIT, "on_lost to run", || calls.load(Ordering::SeqCst) == 1);
    assert_lost(&g);
    proxy.unfreeze();
    // The new session does not bring the lock back.
    wait_until(WAIT, "a new session", || {
        c.state() == zklock::SessionState::Connected
    });
    assert_lost(&g);
    assert!(matches!(g.release(), Err(Error::LockLost { .. })));
}

#[test]
fn closing_the_client_loses_its_locks() {
    let (c, _) = client();
    let g = Lock::new(&c, "/locks/closed").unwrap().acquire().unwrap();
    let changes = g.state_changes();
    c.close();
    assert_eq!(next(&changes), LockState::Lost);
    assert_lost(&g);
}

#[test]
fn on_lost_after_the_loss_runs_at_once() {
    let (c, root) = client();
    let op = observer(&root);
    let g = Lock::new(&c, "/locks/late").unwrap().acquire().unwrap();
    let changes = g.state_changes();
    op.delete(g.node(), None).unwrap();
    assert_eq!(next(&changes), LockState::Lost);
    let (calls, f) = counter();
    g.on_lost(f);
    wait_until(WAIT, "the late on_lost to run", || {
        calls.load(Ordering::SeqCst) == 1
    });
    // A late subscriber hears Lost too.
    assert_eq!(next(&g.state_changes()), LockState::Lost);
}

#[test]
fn slow_or_panicking_callbacks_do_not_stall_the_client() {
    let (c, root) = client();
    let op = observer(&root);
    let lock = Lock::new(&c, "/locks/slow").unwrap();
    let g1 = lock.acquire().unwrap();
    let (unblock_tx, unblock_rx) = crossbeam_channel::bounded::<()>(1);
    g1.on_lost(|| panic!("a callback panics"));
    g1.on_lost(move || {
        let _ = unblock_rx.recv(); // a callback that blocks
    });
    op.delete(g1.node(), None).unwrap();
    wait_until(WAIT, "the loss", || g1.state() == LockState::Lost);
    // Meanwhile the client's watches and waiters work as before.
    let g2 = lock.acquire().unwrap();
    let changes = g2.state_changes();
    op.delete(g2.node(), None).unwrap();
    assert_eq!(next(&changes), LockState::Lost);
    unblock_tx.send(()).unwrap();
    let g3 = lock.acquire_timeout(WAIT).unwrap();
    g3.release().unwrap();
}

#[test]
fn a_released_guard_reports_nothing() {
    let (c, _) = client();
    let g = Lock::new(&c, "/locks/quiet").unwrap().acquire().unwrap();
    let changes = g.state_changes();
    let (calls, f) = counter();
    g.on_lost(f);
    g.release().unwrap();
    assert!(changes.recv_timeout(WAIT).is_err(), "closed, nothing sent");
    c.close();
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[test]
fn the_first_question_after_an_unnoticed_deletion_is_answered_truly() {
    // A holder that never waited and has asked nothing has no watch on its
    // node yet. Someone deletes the node and another client takes the lock:
    // the guard's first `check()`, `state()` or `fencing_token()` waits for
    // its watch to be confirmed, and so already says the lock is lost.
    let (c, root) = client();
    let op = observer(&root);
    let lock = Lock::new(&c, "/locks/unnoticed").unwrap();
    let other = Lock::new(&op, "/locks/unnoticed").unwrap();
    type SaysLost = fn(&LockGuard) -> bool;
    let first: [(&str, SaysLost); 3] = [
        ("check", |g| {
            matches!(g.check(), Err(Error::LockLost { .. }))
        }),
        ("state", |g| g.state() == LockState::Lost),
        ("fencing_token", |g| {
            matches!(g.fencing_token(), Err(Error::LockLost { .. }))
        }),
    ];
    for (what, says_lost) in first {
        let g = lock.acquire().unwrap();
        op.delete(g.node(), None).unwrap();
        let taken = other.acquire_timeout(WAIT).unwrap();
        assert!(says_lost(&g), "the first {what}() said the lock was held");
        assert_lost(&g);
        drop(taken);
    }
}
