//! Read/write locks against a real server. Tests that port a kazoo
//! (`test_lock.py`), Curator (`TestInterProcessReadWriteLock`) or zk gem
//! case name it.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use support::{client, hosts, wait_until};
use zklock::{Client, Error, Lock, LockGuard, ReadLock, WriteLock};

const WAIT: Duration = Duration::from_secs(20);

/// A contender thread that holds until told to let go, and reports when it
/// holds.
struct Held {
    holding: Arc<AtomicBool>,
    go: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

fn contend(acquire: impl FnOnce() -> zklock::Result<LockGuard> + Send + 'static) -> Held {
    let holding = Arc::new(AtomicBool::new(false));
    let go = Arc::new(AtomicBool::new(false));
    let (h, g) = (holding.clone(), go.clone());
    let thread = std::thread::spawn(move || {
        let guard = acquire().unwrap();
        h.store(true, Ordering::SeqCst);
        while !g.load(Ordering::SeqCst) {
            std::thread::park_timeout(Duration::from_millis(10));
        }
        h.store(false, Ordering::SeqCst);
        guard.release().unwrap();
    });
    Held {
        holding,
        go,
        thread,
    }
}

impl Held {
    fn holds(&self) -> bool {
        self.holding.load(Ordering::SeqCst)
    }

    fn let_go(self) {
        self.go.store(true, Ordering::SeqCst);
        self.thread.join().unwrap();
    }
}

#[test]
fn kazoo_test_read_lock() {
    // Readers share; a writer cannot get in while they hold.
    let (c1, root) = client();
    let c2 = Client::connect(&format!("{}{root}", hosts())).unwrap();
    let r1 = ReadLock::new(&c1, "/rw/read").unwrap();
    let r2 = ReadLock::new(&c2, "/rw/read").unwrap();
    let w = WriteLock::new(&c2, "/rw/read").unwrap();
    let g1 = r1.try_acquire().unwrap().expect("first reader");
    let g2 = r2.try_acquire().unwrap().expect("second reader shares");
    assert!(w.try_acquire().unwrap().is_none());
    // Each acquire is its own contender: another read on a held handle
    // shares too (kazoo's handle would refuse it; zklock's is not a flag).
    let g3 = r1.try_acquire().unwrap().expect("a third reader");
    drop((g1, g2, g3));
    assert!(w.try_acquire().unwrap().is_some());
}

#[test]
fn kazoo_test_write_lock() {
    let (c, _) = client();
    let w = WriteLock::new(&c, "/rw/write").unwrap();
    let r = ReadLock::new(&c, "/rw/write").unwrap();
    let g = w.try_acquire().unwrap().expect("writer");
    assert!(w.try_acquire().unwrap().is_none());
    assert!(r.try_acquire().unwrap().is_none());
    drop(g);
    assert!(r.try_acquire().unwrap().is_some());
}

#[test]
fn an_exclusive_lock_excludes_readers_and_writers() {
    let (c, _) = client();
    let l = Lock::new(&c, "/rw/excl").unwrap();
    let r = ReadLock::new(&c, "/rw/excl").unwrap();
    let w = WriteLock::new(&c, "/rw/excl").unwrap();
    let g = r.try_acquire().unwrap().unwrap();
    assert!(l.try_acquire().unwrap().is_none(), "a reader holds");
    drop(g);
    let g = l.try_acquire().unwrap().unwrap();
    assert!(r.try_acquire().unwrap().is_none());
    assert!(w.try_acquire().unwrap().is_none());
    drop(g);
}

#[test]
fn kazoo_test_rw_lock_no_deadlock() {
    // kazoo test_rw_lock, the #649 regression: W held, then R, then W2
    // queue; on release R holds first, then W2, and nothing deadlocks.
    let (c, _) = client();
    let path = "/rw/649";
    let observer = ReadLock::new(&c, path).unwrap();
    let w = contend({
        let l = WriteLock::new(&c, path).unwrap().identifier("test");
        move || l.acquire()
    });
    wait_until(WAIT, "the writer to hold", || w.holds());
    let r = contend({
        let l = ReadLock::new(&c, path).unwrap().identifier("reader");
        move || l.acquire()
    });
    wait_until(WAIT, "the reader to queue", || {
        observer.contenders().unwrap().len() == 2
    });
    let w2 = contend({
        let l = WriteLock::new(&c, path).unwrap().identifier("writer");
        move || l.acquire()
    });
    wait_until(WAIT, "the writer to queue", || {
        observer.contenders().unwrap().len() == 3
    });
    assert_eq!(
        observer.contenders().unwrap(),
        vec!["test", "reader", "writer"]
    );
    w.let_go();
    wait_until(WAIT, "the reader to hold", || r.holds());
    assert!(!w2.holds());
    assert_eq!(observer.contenders().unwrap(), vec!["reader", "writer"]);
    r.let_go();
    wait_until(WAIT, "the second writer to hold", || w2.holds());
    w2.let_go();
}

#[test]
fn zk_gem_fairness_sequence_ex_sh_sh_sh_ex_ex_sh_sh() {
    // The zk gem's Locker documentation: queued in this order, the three
    // readers hold together after the first writer, each writer alone, and
    // the last two readers together.
    let (c, _) = client();
    let path = "/rw/fair";
    let observer = ReadLock::new(&c, path).unwrap();
    let kinds = ["ex", "sh", "sh", "sh", "ex", "ex", "sh", "sh"];
    let mut held = Vec::new();
    for (i, kind) in kinds.iter().enumerate() {
        let id = format!("{i}-{kind}");
        held.push(if *kind == "ex" {
            let l = WriteLock::new(&c, path).unwrap().identifier(id);
            contend(move || l.acquire())
        } else {
            let l = ReadLock::new(&c, path).unwrap().identifier(id);
            contend(move || l.acquire())
        });
        wait_until(WAIT, "the contender to queue", || {
            observer.contenders().unwrap().len() == i + 1
        });
    }
    let mut held: Vec<Option<Held>> = held.into_iter().map(Some).collect();
    let holding = |held: &[Option<Held>]| -> Vec<usize> {
        held.iter()
            .enumerate()
            .filter(|(_, h)| h.as_ref().is_some_and(Held::holds))
            .map(|(i, _)| i)
            .collect()
    };
    // The groups that must hold together, one group after the other.
    let groups: [&[usize]; 5] = [&[0], &[1, 2, 3], &[4], &[5], &[6, 7]];
    for group in groups {
        wait_until(WAIT, "the next group to hold", || holding(&held) == group);
        for &i in group {
            held[i].take().unwrap().let_go();
        }
    }
}

#[test]
fn curator_test_basic_random_mix() {
    // Curator TestInterProcessReadWriteLock.testBasic: 8 clients, random
    // 10 % writers: a writer is always alone; readers may share.
    let root = support::fresh_root();
    let readers = Arc::new(AtomicUsize::new(0));
    let writers = Arc::new(AtomicUsize::new(0));
    let max_readers = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (readers, writers, max_readers) =
                (readers.clone(), writers.clone(), max_readers.clone());
            let hosts = format!("{}{root}", hosts());
            std::thread::spawn(move || {
                let c = Client::connect(&hosts).unwrap();
                let r = ReadLock::new(&c, "/rw/mix").unwrap();
                let w = WriteLock::new(&c, "/rw/mix").unwrap();
                for i in 0..25 {
                    if (t * 25 + i) % 10 == 3 {
                        let _g = w.acquire().unwrap();
                        assert_eq!(writers.fetch_add(1, Ordering::SeqCst), 0, "two writers");
                        assert_eq!(readers.load(Ordering::SeqCst), 0, "a reader with a writer");
                        std::thread::yield_now();
                        writers.fetch_sub(1, Ordering::SeqCst);
                    } else {
                        let _g = r.acquire().unwrap();
                        let n = readers.fetch_add(1, Ordering::SeqCst) + 1;
                        max_readers.fetch_max(n, Ordering::SeqCst);
                        assert_eq!(writers.load(Ordering::SeqCst), 0, "a writer with a reader");
                        std::thread::yield_now();
                        readers.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn curator_test_get_participant_nodes() {
    // 20 readers and 8 writers queued: contenders() lists all 28, whichever
    // handle asks.
    let (c, _) = client();
    let path = "/rw/participants";
    let w0 = WriteLock::new(&c, path).unwrap().identifier("holder");
    let holder = w0.acquire().unwrap();
    let mut waiters = Vec::new();
    for i in 0..27 {
        let waiter = if i < 20 {
            let l = ReadLock::new(&c, path).unwrap().identifier(format!("r{i}"));
            std::thread::spawn(move || l.acquire().map(drop))
        } else {
            let l = WriteLock::new(&c, path)
                .unwrap()
                .identifier(format!("w{i}"));
            std::thread::spawn(move || l.acquire().map(drop))
        };
        waiters.push(waiter);
    }
    wait_until(WAIT, "28 contenders", || {
        w0.contenders().unwrap().len() == 28
    });
    let ids = ReadLock::new(&c, path).unwrap().contenders().unwrap();
    assert_eq!(ids[0], "holder");
    assert_eq!(ids.iter().filter(|i| i.starts_with('r')).count(), 20);
    assert_eq!(ids.iter().filter(|i| i.starts_with('w')).count(), 7);
    drop(holder);
    for w in waiters {
        w.join().unwrap().unwrap();
    }
}

#[test]
fn curator_test_that_upgrading_is_disallowed() {
    // A reader asking for the write lock queues behind its own read:
    // it times out rather than deadlocking forever.
    let (c, _) = client();
    let r = ReadLock::new(&c, "/rw/upgrade").unwrap();
    let w = WriteLock::new(&c, "/rw/upgrade").unwrap();
    let g = r.acquire().unwrap();
    assert!(matches!(
        w.acquire_timeout(Duration::from_millis(500)),
        Err(Error::Timeout)
    ));
    assert_eq!(
        r.contenders().unwrap().len(),
        1,
        "the write attempt left nothing"
    );
    drop(g);
}

#[test]
fn a_reader_never_waits_for_a_writer_behind_it() {
    let (c, _) = client();
    let path = "/rw/behind";
    let r = ReadLock::new(&c, path).unwrap();
    let w = WriteLock::new(&c, path).unwrap();
    let reader = r.acquire().unwrap();
    let writer = contend(move || w.acquire());
    wait_until(WAIT, "the writer to queue", || {
        r.contenders().unwrap().len() == 2
    });
    // A reader queued after the waiting writer waits (FIFO, no starvation)...
    assert!(r.try_acquire().unwrap().is_none());
    // ...and the first reader keeps holding, unbothered.
    reader.check().unwrap();
    drop(reader);
    wait_until(WAIT, "the writer to hold", || writer.holds());
    writer.let_go();
}
