//! Revocation against a real server: zktools' `revoke=True`, `IMMEDIATE`,
//! `revoke_all()` and `clear()` (`zktools/tests/test_locking.py`), and the
//! holder's side (`revoked`, here `revocation_requested()` and
//! `on_revoke`). Tests that port a zktools case name it.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use support::{client, observer, wait_until};
use zklock::{Error, Lock, LockGuard, LockState, ReadLock, Revoke, WriteLock};

const WAIT: Duration = Duration::from_secs(20);

/// A holder that releases when asked: returns once it holds, with a flag
/// that turns true when it was asked and released.
fn cooperating_holder(
    lock: Lock,
) -> (
    Arc<AtomicBool>,
    std::thread::JoinHandle<()>,
    crossbeam_channel::Receiver<()>,
) {
    let asked = Arc::new(AtomicBool::new(false));
    let (held_tx, held_rx) = crossbeam_channel::bounded(1);
    let a = asked.clone();
    let h = std::thread::spawn(move || {
        let g = lock.acquire().unwrap();
        let (tx, rx) = crossbeam_channel::bounded(1);
        g.on_revoke(move || {
            let _ = tx.send(());
        });
        held_tx.send(()).unwrap();
        rx.recv_timeout(WAIT).expect("a revocation request");
        assert!(g.revocation_requested());
        assert_eq!(g.state(), LockState::Held, "asked is not lost");
        a.store(true, Ordering::SeqCst);
        g.release().unwrap();
    });
    (asked, h, held_rx)
}

#[test]
fn zktools_test_gentle_revoke_a_cooperating_holder_releases() {
    let (c, root) = client();
    let other = observer(&root);
    let (asked, h, held) = cooperating_holder(Lock::new(&other, "/locks/gentle").unwrap());
    held.recv_timeout(WAIT).unwrap();
    let revoker = Lock::new(&c, "/locks/gentle").unwrap().revoke(Revoke::Ask);
    let g = revoker.acquire_timeout(WAIT).unwrap();
    assert!(asked.load(Ordering::SeqCst), "the holder released first");
    h.join().unwrap();
    g.check().unwrap();
}

#[test]
fn zktools_test_revoked_immediate_removes_the_holder() {
    let (c, root) = client();
    let other = observer(&root);
    let victim = Lock::new(&other, "/locks/immediate")
        .unwrap()
        .acquire()
        .unwrap();
    let changes = victim.state_changes(); // the holder watches its node
    let revoker = Lock::new(&c, "/locks/immediate")
        .unwrap()
        .revoke(Revoke::Immediate);
    let g = revoker.acquire_timeout(WAIT).unwrap();
    assert_eq!(changes.recv_timeout(WAIT).unwrap(), LockState::Lost);
    assert!(matches!(victim.check(), Err(Error::LockLost { .. })));
    assert!(matches!(victim.release(), Err(Error::LockLost { .. })));
    g.verify().unwrap();
}

#[test]
fn a_reader_revokes_only_the_writers_ahead_of_it() {
    let (c, root) = client();
    let other = observer(&root);
    // The queue: another reader (holds), a writer (waits behind it), then us.
    let r1 = ReadLock::new(&other, "/locks/rw")
        .unwrap()
        .acquire()
        .unwrap();
    let writer = Arc::new(WriteLock::new(&other, "/locks/rw").unwrap());
    let w = {
        let writer = writer.clone();
        std::thread::spawn(move || writer.acquire_timeout(WAIT).map(drop))
    };
    wait_until(WAIT, "the writer to queue", || {
        writer.inspect().unwrap().entries.len() == 2
    });
    let reader = ReadLock::new(&c, "/locks/rw").unwrap().revoke(Revoke::Ask);
    let pending = {
        let reader = Arc::new(reader);
        let r = reader.clone();
        let t = std::thread::spawn(move || r.acquire_timeout(WAIT));
        wait_until(WAIT, "the writer to be asked", || {
            reader
                .inspect()
                .unwrap()
                .entries
                .iter()
                .any(|e| e.revocation_requested)
        });
        let info = reader.inspect().unwrap();
        assert!(
            !info.entries[0].revocation_requested,
            "the other reader is not asked"
        );
        assert!(
            info.entries[1].revocation_requested,
            "the writer ahead is asked"
        );
        t
    };
    drop(r1); // the writer takes it and lets go at once (its thread drops it)
    w.join().unwrap().unwrap();
    let g = pending.join().unwrap().unwrap();
    g.check().unwrap();
}

#[test]
fn revoke_all_and_clear_on_a_queue_of_three() {
    let (c, root) = client();
    let other = observer(&root);
    let lock = Arc::new(Lock::new(&other, "/locks/three").unwrap());
    let holder: LockGuard = lock.acquire().unwrap();
    let lost = holder.state_changes();
    let asked = Arc::new(AtomicUsize::new(0));
    let a = asked.clone();
    holder.on_revoke(move || {
        a.fetch_add(1, Ordering::SeqCst);
    });
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let lock = lock.clone();
            std::thread::spawn(move || lock.acquire_timeout(WAIT).map(drop))
        })
        .collect();
    let admin = Lock::new(&c, "/locks/three").unwrap();
    wait_until(WAIT, "three queued", || {
        admin.inspect().unwrap().entries.len() == 3
    });
    c.create(
        "/locks/three/not-a-contender",
        b"",
        zklock::CreateMode::Persistent,
    )
    .unwrap();
    assert_eq!(admin.revoke_all().unwrap(), 3);
    wait_until(WAIT, "on_revoke to run", || {
        asked.load(Ordering::SeqCst) == 1
    });
    assert!(holder.revocation_requested());
    assert!(
        admin
            .inspect()
            .unwrap()
            .entries
            .iter()
            .all(|e| e.revocation_requested)
    );
    // clear: every contender node goes; the holder is lost at once, the
    // waiters queue again (and one takes the lock).
    assert_eq!(admin.clear().unwrap(), 3);
    assert_eq!(lost.recv_timeout(WAIT).unwrap(), LockState::Lost);
    for w in waiters {
        w.join().unwrap().unwrap();
    }
    assert_eq!(
        c.get_children("/locks/three").unwrap(),
        vec!["not-a-contender"]
    );
    assert_eq!(
        Lock::new(&c, "/nothing/here")
            .unwrap()
            .revoke_all()
            .unwrap(),
        0
    );
    assert_eq!(Lock::new(&c, "/nothing/here").unwrap().clear().unwrap(), 0);
}

#[test]
fn verify_asks_the_server() {
    let (c, root) = client();
    let op = observer(&root);
    let g = Lock::new(&c, "/locks/verify").unwrap().acquire().unwrap();
    g.verify().unwrap();
    op.delete(g.node(), None).unwrap();
    assert!(matches!(g.verify(), Err(Error::LockLost { .. })));
    let lease = zklock::Semaphore::new(&c, "/pools/verify", 2)
        .unwrap()
        .acquire()
        .unwrap();
    lease.verify().unwrap();
    op.delete(lease.node(), None).unwrap();
    assert!(matches!(lease.verify(), Err(Error::LockLost { .. })));
}

#[test]
fn a_panicking_on_revoke_does_not_hurt_the_client() {
    let (c, root) = client();
    let g = Lock::new(&c, "/locks/panic").unwrap().acquire().unwrap();
    g.on_revoke(|| panic!("a callback panics"));
    let (tx, rx) = crossbeam_channel::bounded(1);
    g.on_revoke(move || {
        let _ = tx.send(());
    });
    assert_eq!(
        Lock::new(&observer(&root), "/locks/panic")
            .unwrap()
            .revoke_all()
            .unwrap(),
        1
    );
    rx.recv_timeout(WAIT)
        .expect("the second callback still runs");
    g.release().unwrap();
    drop(
        Lock::new(&c, "/locks/panic")
            .unwrap()
            .acquire_timeout(WAIT)
            .unwrap(),
    );
}
