//! No attempt leaves a node behind, however it ends.
//!
//! Each scenario of the leftovers report, for `Lock`, `ReadLock`, `WriteLock`
//! and `Semaphore`: a server frozen while the create is in flight, deadlines
//! from 0 to 5 ms, a storm of 1,000 cancels on 8 threads sharing a handle,
//! and a single cancel 0–1 ms after an acquire. Each ends with zero children
//! in every directory the recipe writes to (counted by an independent
//! client, once the client's background deletes have settled), and another
//! client then takes the lock at once.
//!
//! The `std::thread::sleep` calls here set the moment a fault strikes (the
//! delay before a cancel); nothing waits on them for a result.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::{client, observer, proxied, wait_until};
use zklock::{Client, Error, Lock, LockGuard, ReadLock, Result, Semaphore, WriteLock};

const WAIT: Duration = Duration::from_secs(30);
const LEASES: u32 = 3;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Lock,
    Read,
    Write,
    Semaphore,
}

/// One handle of any kind, with the calls the scenarios use.
enum Handle {
    Lock(Lock),
    Read(ReadLock),
    Write(WriteLock),
    Semaphore(Semaphore),
}

impl Handle {
    fn new(kind: Kind, c: &Client, path: &str) -> Handle {
        match kind {
            Kind::Lock => Handle::Lock(Lock::new(c, path).unwrap()),
            Kind::Read => Handle::Read(ReadLock::new(c, path).unwrap()),
            Kind::Write => Handle::Write(WriteLock::new(c, path).unwrap()),
            Kind::Semaphore => Handle::Semaphore(Semaphore::new(c, path, LEASES).unwrap()),
        }
    }

    fn acquire(&self) -> Result<LockGuard> {
        match self {
            Handle::Lock(l) => l.acquire(),
            Handle::Read(l) => l.acquire(),
            Handle::Write(l) => l.acquire(),
            Handle::Semaphore(s) => s.acquire(),
        }
    }

    fn acquire_timeout(&self, d: Duration) -> Result<LockGuard> {
        match self {
            Handle::Lock(l) => l.acquire_timeout(d),
            Handle::Read(l) => l.acquire_timeout(d),
            Handle::Write(l) => l.acquire_timeout(d),
            Handle::Semaphore(s) => s.acquire_timeout(d),
        }
    }

    fn try_acquire(&self) -> Result<Option<LockGuard>> {
        match self {
            Handle::Lock(l) => l.try_acquire(),
            Handle::Read(l) => l.try_acquire(),
            Handle::Write(l) => l.try_acquire(),
            Handle::Semaphore(s) => s.try_acquire(),
        }
    }

    fn cancel(&self) {
        match self {
            Handle::Lock(l) => l.cancel(),
            Handle::Read(l) => l.cancel(),
            Handle::Write(l) => l.cancel(),
            Handle::Semaphore(s) => s.cancel(),
        }
    }
}

/// Every directory the recipe creates nodes in.
fn dirs(kind: Kind, path: &str) -> Vec<String> {
    match kind {
        Kind::Semaphore => vec![path.to_string(), format!("{path}-__lock__")],
        _ => vec![path.to_string()],
    }
}

/// The nodes under the recipe's directories, as another client sees them.
fn left(kind: Kind, observer: &Client, path: &str) -> Vec<String> {
    dirs(kind, path)
        .iter()
        .flat_map(|d| {
            observer
                .get_children(d)
                .unwrap_or_default()
                .into_iter()
                .map(move |k| format!("{d}/{k}"))
        })
        .collect()
}

/// Waits for `c`'s background deletes to settle, then asserts that nothing
/// is left and that another client takes the lock at once.
fn assert_clean(kind: Kind, c: &Client, root: &str, path: &str) {
    wait_until(WAIT, "the background deletes to settle", || {
        c.pending_background_deletes() == 0
    });
    let other = observer(root);
    let nodes = left(kind, &other, path);
    assert!(nodes.is_empty(), "{kind:?}: nodes left behind: {nodes:?}");
    let g = Handle::new(kind, &other, path).try_acquire().unwrap();
    assert!(g.is_some(), "{kind:?}: another client could not take it");
}

/// The directories exist first as persistent nodes, so a container reap
/// cannot hide a leftover by taking its directory with it.
fn prepare(kind: Kind, c: &Client, path: &str) {
    for d in dirs(kind, path) {
        c.ensure_path(&d).unwrap();
    }
}

/// A server that freezes while the create is in flight: the acquire times
/// out; once the server answers again the node its create made is deleted.
fn frozen_server(kind: Kind) {
    let (proxy, c, root) = proxied(Duration::from_secs(10));
    let path = "/frozen";
    prepare(kind, &observer(&root), path);
    let h = Handle::new(kind, &c, path);
    drop(h.acquire().unwrap()); // the handle has set itself up
    proxy.freeze();
    let start = Instant::now();
    let r = h.acquire_timeout(Duration::from_secs(1));
    assert!(matches!(r, Err(Error::Timeout)), "{kind:?}: {r:?}");
    assert!(start.elapsed() < Duration::from_millis(2500), "on time");
    proxy.unfreeze();
    assert_clean(kind, &c, &root, path);
    // And the same client can take it again.
    drop(h.acquire_timeout(Duration::from_secs(2)).unwrap());
}

/// Deadlines from 0 to 5 ms on a free lock, 20 attempts each.
fn short_deadlines(kind: Kind) {
    let (c, root) = client();
    let path = "/deadlines";
    prepare(kind, &c, path);
    let h = Handle::new(kind, &c, path);
    let mut held = 0;
    for micros in [0u64, 20, 100, 500, 1000, 2000, 5000] {
        for _ in 0..20 {
            match h.acquire_timeout(Duration::from_micros(micros)) {
                Ok(g) => {
                    held += 1;
                    drop(g);
                }
                Err(Error::Timeout) => {}
                Err(e) => panic!("{kind:?}: {e}"),
            }
        }
    }
    eprintln!("{kind:?}: {held} of 140 short-deadline attempts held");
    assert_clean(kind, &c, &root, path);
}

/// 8 threads looping `acquire()` on one handle while another calls
/// `cancel()` 1,000 times.
fn cancel_storm(kind: Kind) {
    let (c, root) = client();
    let path = "/storm";
    prepare(kind, &c, path);
    let h = Arc::new(Handle::new(kind, &c, path));
    let stop = Arc::new(AtomicBool::new(false));
    let (held, cancelled) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (h, stop, held, cancelled) =
                (h.clone(), stop.clone(), held.clone(), cancelled.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match h.acquire() {
                        Ok(g) => {
                            held.fetch_add(1, Ordering::SeqCst);
                            drop(g);
                        }
                        Err(Error::Cancelled) => {
                            cancelled.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => panic!("{kind:?}: {e}"),
                    }
                }
            })
        })
        .collect();
    for i in 0..1000u64 {
        h.cancel();
        // The fault's rhythm: 0 to 3 ms between cancels, so some attempts
        // are cancelled while they create, some while they wait, and some
        // get through and hold.
        std::thread::sleep(Duration::from_micros((i * 7919) % 3000));
    }
    stop.store(true, Ordering::SeqCst);
    while !threads.iter().all(|t| t.is_finished()) {
        h.cancel();
        std::thread::sleep(Duration::from_millis(1));
    }
    for t in threads {
        t.join().unwrap();
    }
    eprintln!(
        "{kind:?}: {} held, {} cancelled",
        held.load(Ordering::SeqCst),
        cancelled.load(Ordering::SeqCst)
    );
    assert_clean(kind, &c, &root, path);
}

/// One cancel 0 to 1 ms after an acquire on a free lock, 20 times.
fn single_cancel(kind: Kind) {
    let (c, root) = client();
    let path = "/single";
    prepare(kind, &c, path);
    let h = Arc::new(Handle::new(kind, &c, path));
    for i in 0..20u64 {
        let waiter = {
            let h = h.clone();
            std::thread::spawn(move || h.acquire().map(drop))
        };
        std::thread::sleep(Duration::from_micros(i * 50));
        h.cancel();
        match waiter.join().unwrap() {
            Ok(()) | Err(Error::Cancelled) => {}
            Err(e) => panic!("{kind:?}: {e}"),
        }
    }
    assert_clean(kind, &c, &root, path);
}

macro_rules! scenarios {
    ($($kind:ident: $frozen:ident, $deadlines:ident, $storm:ident, $single:ident;)*) => {$(
        #[test]
        fn $frozen() {
            frozen_server(Kind::$kind);
        }
        #[test]
        fn $deadlines() {
            short_deadlines(Kind::$kind);
        }
        #[test]
        fn $storm() {
            cancel_storm(Kind::$kind);
        }
        #[test]
        fn $single() {
            single_cancel(Kind::$kind);
        }
    )*};
}

scenarios! {
    Lock: lock_frozen_server, lock_short_deadlines, lock_cancel_storm, lock_single_cancel;
    Read: read_frozen_server, read_short_deadlines, read_cancel_storm, read_single_cancel;
    Write: write_frozen_server, write_short_deadlines, write_cancel_storm, write_single_cancel;
    Semaphore: semaphore_frozen_server, semaphore_short_deadlines, semaphore_cancel_storm,
        semaphore_single_cancel;
}
