//! No herd, bounded memory, no thread per waiter: 1000 contenders wait on
//! one lock; each release wakes exactly one of them.
//!
//! A counting allocator measures the heap each waiting contender costs; the
//! process's thread count shows the library adds none per waiter. The
//! figures are printed (run with `--nocapture` to see them).

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::{client, wait_until};
use zklock::{Error, Lock};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

const WAITERS: usize = 1000;
const HAND_OFFS: usize = 20;

#[test]
fn a_release_wakes_one_of_1000_waiters() {
    let (c, _) = client();
    let lock = Arc::new(Lock::new(&c, "/herd").unwrap());
    let holder = lock.acquire().unwrap();
    let threads_before = threads();
    let heap_before = LIVE.load(Ordering::SeqCst);
    let acquired = Arc::new(AtomicUsize::new(0));
    let (go_tx, go_rx) = crossbeam_channel::unbounded::<()>();
    let waiters: Vec<_> = (0..WAITERS)
        .map(|_| {
            let (lock, acquired, go) = (lock.clone(), acquired.clone(), go_rx.clone());
            std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || match lock.acquire() {
                    Ok(g) => {
                        acquired.fetch_add(1, Ordering::SeqCst);
                        let _ = go.recv(); // hold until told to let go
                        drop(g);
                        true
                    }
                    Err(Error::Cancelled) => false,
                    Err(e) => panic!("{e:?}"),
                })
                .unwrap()
        })
        .collect();
    wait_until(
        Duration::from_secs(120),
        "1000 waiters in the queue",
        || lock.contenders().unwrap().len() == WAITERS + 1,
    );
    // Let every waiter settle into its wait (its watches set).
    wait_until(Duration::from_secs(60), "every waiter watching", || {
        c.requests_in_flight() == 0
    });
    let heap_per_waiter = (LIVE.load(Ordering::SeqCst) - heap_before) / WAITERS;
    let extra_threads = threads() - threads_before - WAITERS;
    println!(
        "herd: {WAITERS} waiting contenders: {heap_per_waiter} bytes of heap each \
         (the library's and their threads' bookkeeping), {extra_threads} threads \
         besides the callers' own"
    );
    assert_eq!(extra_threads, 0, "no thread per waiter");

    let before = c.stats();
    drop(holder);
    for n in 1..=HAND_OFFS {
        wait_until(Duration::from_secs(20), "the next waiter to hold", || {
            acquired.load(Ordering::SeqCst) == n
        });
        go_tx.send(()).unwrap();
    }
    wait_until(Duration::from_secs(20), "the last hand-off", || {
        acquired.load(Ordering::SeqCst) == HAND_OFFS + 1
    });
    let notes = c.stats().watch_notifications - before.watch_notifications;
    // Each release (the first holder's, then 20 waiters') fires the watch of
    // the one waiter behind it, and the releasing guard's own-node watch if
    // it has one; on one session the server sends one notification for
    // both (same node). At most two per release, whatever the queue's length.
    let releases = HAND_OFFS as u64 + 1;
    println!("herd: {releases} releases cost {notes} watch notifications");
    assert!(
        notes <= 2 * releases,
        "{notes} notifications for {releases} releases"
    );
    assert_eq!(
        acquired.load(Ordering::SeqCst),
        HAND_OFFS + 1,
        "exactly one woke each time"
    );

    // Cancel the waiters before the last holder lets go, or the next one
    // could take the lock first; then no holder waits for a `go` again.
    lock.cancel();
    go_tx.send(()).unwrap();
    drop(go_tx);
    let cancelled = waiters
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|held| !held)
        .count();
    assert_eq!(cancelled, WAITERS - HAND_OFFS - 1);
    wait_until(Duration::from_secs(60), "the queue to empty", || {
        lock.contenders().unwrap().is_empty()
    });
}
