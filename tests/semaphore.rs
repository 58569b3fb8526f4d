//! The semaphore against a real server. Tests that port a kazoo
//! (`TestSemaphore`) or Curator (`TestInterProcessSemaphore`) case name it.

mod support;

use std::sync::Arc;
use std::time::Duration;
use support::{Occupancy, client, hosts, wait_until};
use zklock::{Client, CreateMode, Error, LockState, Semaphore};

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn kazoo_test_basic_and_reacquire() {
    let (c, _) = client();
    let sem = Semaphore::new(&c, "/sem/basic", 1).unwrap();
    for _ in 0..3 {
        let lease = sem.acquire().unwrap();
        assert_eq!(lease.state(), LockState::Held);
        lease.release().unwrap();
    }
    // kazoo's layout: the node holds max_leases; the lock is a sibling.
    assert_eq!(c.get_data("/sem/basic").unwrap().0, b"1");
    assert!(c.get_children("/sem/basic").unwrap().is_empty());
}

#[test]
fn kazoo_test_lock_one() {
    let (c, _) = client();
    let sem1 = Semaphore::new(&c, "/sem/one", 1).unwrap();
    let sem2 = Semaphore::new(&c, "/sem/one", 1).unwrap();
    let lease = sem1.acquire().unwrap();
    let (tx, rx) = crossbeam_channel::bounded(1);
    let t = std::thread::spawn(move || {
        let l = sem2.acquire().unwrap();
        tx.send(()).unwrap();
        drop(l);
    });
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "must block"
    );
    drop(lease);
    rx.recv_timeout(WAIT)
        .expect("enters once the lease is free");
    t.join().unwrap();
}

#[test]
fn kazoo_test_non_blocking_and_holders() {
    let (c, _) = client();
    let sem = |id: &str| Semaphore::new(&c, "/sem/nb", 2).unwrap().identifier(id);
    let (s1, s2, s3) = (sem("sem1"), sem("sem2"), sem("sem3"));
    let l1 = s1.try_acquire().unwrap().unwrap();
    let l2 = s2.try_acquire().unwrap().unwrap();
    assert!(s3.try_acquire().unwrap().is_none());
    let mut holders = s3.lease_holders().unwrap();
    holders.sort();
    assert_eq!(holders, vec!["sem1", "sem2"]);
    l2.release().unwrap();
    let l3 = s3.acquire().unwrap();
    let mut holders = s1.lease_holders().unwrap();
    holders.sort();
    assert_eq!(holders, vec!["sem1", "sem3"]);
    drop((l1, l3));
    // kazoo test_non_blocking_release: nothing was left behind by the try.
    assert!(c.get_children("/sem/nb").unwrap().is_empty());
    assert!(
        c.get_children("/sem/nb-__lock__")
            .unwrap_or_default()
            .is_empty()
    );
}

#[test]
fn kazoo_test_semaphore_cancel() {
    let (c, _) = client();
    let fred = Semaphore::new(&c, "/sem/cancel", 1)
        .unwrap()
        .identifier("fred");
    let george = Arc::new(
        Semaphore::new(&c, "/sem/cancel", 1)
            .unwrap()
            .identifier("george"),
    );
    let held = fred.acquire().unwrap();
    let g = george.clone();
    let waiter = std::thread::spawn(move || g.acquire());
    // George waits holding the internal lock, watching the leases.
    wait_until(WAIT, "george to wait", || {
        c.get_children("/sem/cancel-__lock__")
            .map(|k| k.len() == 1)
            .unwrap_or(false)
    });
    george.cancel();
    assert!(matches!(waiter.join().unwrap(), Err(Error::Cancelled)));
    assert_eq!(fred.lease_holders().unwrap(), vec!["fred"]);
    // Curator testInterruptAcquire: the cancelled waiter left no node.
    assert!(
        c.get_children("/sem/cancel-__lock__")
            .unwrap_or_default()
            .is_empty()
    );
    drop(held);
    // kazoo test_acquire_after_cancelled: a cancel while idle poisons nothing.
    george.cancel();
    george.acquire().unwrap().release().unwrap();
}

#[test]
fn kazoo_test_timeout() {
    let (c1, root) = client();
    let c2 = Client::connect(&format!("{}{root}", hosts())).unwrap();
    let one = Semaphore::new(&c1, "/sem/to", 1).unwrap().identifier("one");
    let two = Semaphore::new(&c2, "/sem/to", 1).unwrap().identifier("two");
    let held = one.acquire().unwrap();
    assert!(matches!(
        two.acquire_timeout(Duration::from_millis(600)),
        Err(Error::Timeout)
    ));
    assert_eq!(two.lease_holders().unwrap(), vec!["one"]);
    drop(held);
}

#[test]
fn kazoo_test_inconsistent_max_leases() {
    let (c, _) = client();
    let s1 = Semaphore::new(&c, "/sem/mismatch", 1).unwrap();
    let s2 = Semaphore::new(&c, "/sem/mismatch", 2).unwrap();
    let l = s1.acquire().unwrap();
    match s2.acquire() {
        Err(Error::LeaseMismatch { stored, requested }) => {
            assert_eq!((stored, requested), (1, 2))
        }
        other => panic!("{other:?}"),
    }
    drop(l);
}

#[test]
fn kazoo_test_inconsistent_max_leases_other_data() {
    // Data that is not a number is not checked (as kazoo does).
    let (c, _) = client();
    c.create("/sem-other", b"a$", CreateMode::Persistent)
        .unwrap();
    let s1 = Semaphore::new(&c, "/sem-other", 1).unwrap();
    let s2 = Semaphore::new(&c, "/sem-other", 2).unwrap();
    let _l1 = s1.acquire().unwrap();
    assert!(s2.try_acquire().unwrap().is_some());
}

#[test]
fn curator_test_threads_never_exceed_the_bound() {
    // Curator testThreads / testMaxPerSession: 10 threads on 2 clients,
    // 3 leases: never more than 3 holders, and all 3 are used.
    let root = support::fresh_root();
    let occ = Arc::new(Occupancy::default());
    let threads: Vec<_> = (0..10)
        .map(|t| {
            let occ = occ.clone();
            let hosts = format!("{}{root}", hosts());
            std::thread::spawn(move || {
                let c = Client::connect(&hosts).unwrap();
                let sem = Semaphore::new(&c, "/sem/bound", 3)
                    .unwrap()
                    .identifier(format!("t{t}"));
                for _ in 0..10 {
                    let lease = sem.acquire().unwrap();
                    assert!(occ.enter() <= 3, "more than 3 holders");
                    lease.check().unwrap();
                    std::thread::yield_now();
                    occ.exit();
                    drop(lease);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(occ.entries(), 100);
    assert!(occ.max() <= 3);
}

#[test]
fn curator_test_simple_the_extra_one_waits() {
    // Curator testSimple: with max leases held, one more times out; freeing
    // one admits it.
    let (c, _) = client();
    let sem = Semaphore::new(&c, "/sem/simple", 2).unwrap();
    let a = sem.acquire().unwrap();
    let b = sem.acquire().unwrap();
    assert!(matches!(
        sem.acquire_timeout(Duration::from_millis(300)),
        Err(Error::Timeout)
    ));
    drop(a);
    let c3 = sem.acquire_timeout(WAIT).unwrap();
    assert!(c3.fencing_token().unwrap() > b.fencing_token().unwrap());
}

#[test]
fn curator_test_client_close_frees_leases() {
    let (c, root) = client();
    let other = Client::connect(&format!("{}{root}", hosts())).unwrap();
    let sem = Semaphore::new(&other, "/sem/close", 1).unwrap();
    let lease = sem.acquire().unwrap();
    std::mem::forget(lease);
    other.close();
    let mine = Semaphore::new(&c, "/sem/close", 1).unwrap();
    mine.acquire_timeout(WAIT).unwrap().release().unwrap();
}

#[test]
fn bad_input_is_a_typed_error() {
    let (c, _) = client();
    assert!(matches!(
        Semaphore::new(&c, "/sem/zero", 0),
        Err(Error::InvalidArgument(_))
    ));
    for p in ["", "x", "/a/", "/"] {
        assert!(matches!(
            Semaphore::new(&c, p, 1),
            Err(Error::InvalidPath { .. })
        ));
    }
    let huge = Semaphore::new(&c, "/sem/huge", 1)
        .unwrap()
        .identifier("x".repeat(2 << 20));
    assert!(matches!(huge.acquire(), Err(Error::InvalidArgument(_))));
}

#[test]
fn curator_layout_lease_holders_are_the_leases() {
    // Curator's layout keeps leases under <path>/leases (and its mutex under
    // <path>/locks): the holders are the leases' data.
    let (c, _) = client();
    let a = Semaphore::new(&c, "/sem/cur-holders", 2)
        .unwrap()
        .flavor(zklock::Flavor::Curator)
        .identifier("a");
    let b = Semaphore::new(&c, "/sem/cur-holders", 2)
        .unwrap()
        .flavor(zklock::Flavor::Curator)
        .identifier("b");
    let (la, lb) = (a.acquire().unwrap(), b.acquire().unwrap());
    let mut holders = a.lease_holders().unwrap();
    holders.sort();
    assert_eq!(holders, vec!["a", "b"]);
    drop((la, lb));
    assert!(a.lease_holders().unwrap().is_empty());
}

#[test]
fn a_fresh_semaphore_keeps_its_deadline_and_its_cancel_through_a_partition() {
    // The semaphore node's set-up is part of the attempt: a partition
    // during it cannot outlast the caller's deadline, and cancel reaches it.
    let (proxy, c, _) = support::proxied(Duration::from_secs(20));
    let sem = Arc::new(Semaphore::new(&c, "/sem/fresh", 2).unwrap());
    proxy.freeze();
    let start = std::time::Instant::now();
    let r = sem.acquire_timeout(Duration::from_millis(200));
    assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    let waiter = {
        let sem = sem.clone();
        std::thread::spawn(move || sem.acquire())
    };
    wait_until(WAIT, "the set-up request to be in flight", || {
        c.requests_in_flight() > 0
    });
    let cancelled_at = std::time::Instant::now();
    sem.cancel();
    assert!(matches!(waiter.join().unwrap(), Err(Error::Cancelled)));
    assert!(cancelled_at.elapsed() < Duration::from_secs(2));
    proxy.unfreeze();
    drop(sem.acquire_timeout(WAIT).unwrap());
}

// A cancel made at any moment after an acquire began reaches it, in every
// phase (the node's set-up, the internal lock, the wait for a lease). A
// lease phase that registered afresh once missed a cancel made while the
// internal lock was being taken, and waited for ever.
#[test]
fn a_cancel_reaches_the_acquire_in_every_phase() {
    let (c, _) = client();
    let fred = Semaphore::new(&c, "/sem/every-phase", 1).unwrap();
    let george = Arc::new(Semaphore::new(&c, "/sem/every-phase", 1).unwrap());
    let _held = fred.acquire().unwrap();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..200 {
        let g = george.clone();
        let (tx, done) = crossbeam_channel::bounded(1);
        std::thread::spawn(move || {
            let _ = tx.send(g.acquire().map(drop));
        });
        wait_until(WAIT, "the acquire to begin", || george.pending() == 1);
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        // The moment of the cancel (a fault's rhythm, not synchronisation).
        std::thread::sleep(Duration::from_micros(rng % 3000));
        george.cancel();
        let r = done
            .recv_timeout(WAIT)
            .expect("the cancelled acquire to return");
        assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
        wait_until(WAIT, "the acquire to end", || george.pending() == 0);
    }
    assert_eq!(fred.lease_holders().unwrap().len(), 1);
}
