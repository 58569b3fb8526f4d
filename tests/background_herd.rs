//! No thread per background acquire: 1000 pending on one client add at
//! most one thread (the client's driver) to the process, and each release
//! wakes one of them. Alone in its binary, so no other test's threads are
//! counted (run with `--nocapture` to see the figures).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::{client, wait_until};
use zklock::Lock;

const WAIT: Duration = Duration::from_secs(20);

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// The cost: 1000 background acquires pending on one client add at most
/// one thread (the client's driver), and each release wakes one of them.
#[test]
fn a_thousand_pending_acquires_cost_one_thread_and_one_wake_per_release() {
    const PENDING: usize = 1000;
    const HAND_OFFS: usize = 20;
    let (c, _) = client();
    let lock = Lock::new(&c, "/locks/bg-herd").unwrap();
    let holder = lock.acquire().unwrap();
    let before = threads();
    let mut pendings: Vec<_> = (0..PENDING).map(|_| lock.acquire_in_background()).collect();
    wait_until(Duration::from_secs(120), "1000 contenders queued", || {
        lock.contenders().unwrap().len() == PENDING + 1
    });
    wait_until(Duration::from_secs(60), "every contender watching", || {
        c.requests_in_flight() == 0
    });
    let added = threads() - before;
    println!("background: {PENDING} pending acquires added {added} thread(s)");
    assert!(added <= 1, "{added} threads for {PENDING} pending acquires");

    let stats = c.stats();
    let taken = Arc::new(AtomicUsize::new(0));
    drop(holder);
    let mut guards = Vec::new();
    for n in 1..=HAND_OFFS {
        wait_until(WAIT, "the next one to hold", || {
            pendings.iter().filter(|p| p.is_acquired()).count() == 1
        });
        let i = pendings.iter().position(|p| p.is_acquired()).unwrap();
        let guard = pendings.remove(i).wait().unwrap();
        taken.fetch_add(1, Ordering::SeqCst);
        assert_eq!(taken.load(Ordering::SeqCst), n);
        guards.push(guard);
        drop(guards.pop());
    }
    wait_until(WAIT, "the last hand-off", || {
        pendings.iter().filter(|p| p.is_acquired()).count() == 1
    });
    let notes = c.stats().watch_notifications - stats.watch_notifications;
    let releases = HAND_OFFS as u64 + 1;
    println!("background: {releases} releases cost {notes} watch notifications");
    assert!(
        notes <= 2 * releases,
        "{notes} notifications for {releases} releases"
    );
    drop(pendings);
    wait_until(Duration::from_secs(60), "the queue to empty", || {
        lock.contenders().unwrap().is_empty()
    });
}
