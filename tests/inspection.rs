//! Inspection and clean-up against a real server: `is_locked`,
//! `acquirable`, `pending`, `inspect` (zooky's `show`, the zk gem's
//! `locked?`/`acquirable?`/`waiting?`), and `remove`, `destroy`, `cleanup`
//! (the zk gem's `Locker.cleanup`), which never delete a live contender.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use support::{client, observer, wait_until};
use zklock::lock::EntryRole;
use zklock::{CreateMode, Error, Lock, LockState, ReadLock, Semaphore, WriteLock};

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn a_holder_two_readers_and_a_waiting_writer() {
    let (c, root) = client();
    let other = observer(&root);
    let holder = WriteLock::new(&other, "/q").unwrap().identifier("w1");
    let readers = Arc::new(ReadLock::new(&c, "/q").unwrap().identifier("r"));
    let writer = Arc::new(WriteLock::new(&c, "/q").unwrap().identifier("w2"));
    assert!(!readers.is_locked().unwrap());
    assert!(readers.acquirable().unwrap() && writer.acquirable().unwrap());
    let g = holder.acquire().unwrap();
    let mut waiting = Vec::new();
    for _ in 0..2 {
        let r = readers.clone();
        waiting.push(std::thread::spawn(move || {
            r.acquire_timeout(WAIT).map(drop)
        }));
        let n = waiting.len() + 1;
        wait_until(WAIT, "the reader to queue", || {
            readers.inspect().unwrap().entries.len() == n
        });
    }
    let w = writer.clone();
    let last = std::thread::spawn(move || w.acquire_timeout(WAIT).map(drop));
    wait_until(WAIT, "the writer to queue", || {
        readers.inspect().unwrap().entries.len() == 4
    });
    assert_eq!(readers.pending(), 2);
    assert_eq!(writer.pending(), 1);
    assert!(readers.is_locked().unwrap());
    assert!(!readers.acquirable().unwrap() && !writer.acquirable().unwrap());
    let info = readers.inspect().unwrap();
    let roles: Vec<EntryRole> = info.entries.iter().map(|e| e.role).collect();
    assert_eq!(
        roles,
        [
            EntryRole::Writer,
            EntryRole::Reader,
            EntryRole::Reader,
            EntryRole::Writer
        ]
    );
    let holds: Vec<bool> = info.entries.iter().map(|e| e.holds).collect();
    assert_eq!(holds, [true, false, false, false]);
    let ids: Vec<&str> = info.entries.iter().map(|e| e.identifier.as_str()).collect();
    assert_eq!(ids, ["w1", "r", "r", "w2"]);
    assert_eq!(info.entries[0].session, other.session_id());
    assert_eq!(info.entries[3].session, c.session_id());
    assert_eq!(info.entries[0].fencing_token, g.fencing_token().unwrap());
    assert_eq!(info.entries[0].node, g.node());
    for pair in info.entries.windows(2) {
        assert!(pair[0].sequence < pair[1].sequence);
        assert!(pair[0].fencing_token < pair[1].fencing_token);
        assert!(pair[0].created <= pair[1].created);
    }
    assert!(info.is_locked() && info.holders().count() == 1 && info.waiters().count() == 3);
    drop(g);
    for t in waiting {
        t.join().unwrap().unwrap();
    }
    last.join().unwrap().unwrap();
    assert!(!readers.is_locked().unwrap());
    assert_eq!(readers.pending(), 0);
}

#[test]
fn a_semaphore_shows_its_leases_and_who_waits() {
    let (c, _) = client();
    let sem = Semaphore::new(&c, "/pool", 2).unwrap().identifier("me");
    let (a, b) = (sem.acquire().unwrap(), sem.acquire().unwrap());
    let info = sem.inspect().unwrap();
    assert_eq!(info.entries.len(), 2);
    assert!(
        info.entries
            .iter()
            .all(|e| e.role == EntryRole::Lease && e.holds)
    );
    assert!(info.entries.iter().all(|e| e.identifier == "me"));
    drop((a, b));
    assert!(sem.inspect().unwrap().entries.is_empty());
}

#[test]
fn remove_keeps_a_directory_anybody_is_queued_in() {
    let (c, _) = client();
    let lock = Lock::new(&c, "/locks/gone").unwrap();
    assert!(!lock.remove().unwrap(), "nothing there yet");
    c.ensure_path("/locks/gone").unwrap();
    let g = lock.acquire().unwrap();
    assert!(!lock.remove().unwrap());
    g.check().unwrap();
    drop(g);
    assert!(lock.remove().unwrap());
    assert!(c.exists("/locks/gone").unwrap().is_none());
}

#[test]
fn destroy_then_change_a_semaphores_size() {
    let (c, _) = client();
    let three = Semaphore::new(&c, "/pools/resize", 3).unwrap();
    let lease = three.acquire().unwrap();
    assert!(!three.destroy().unwrap(), "a lease is held");
    lease.check().unwrap();
    drop(lease);
    let five = Semaphore::new(&c, "/pools/resize", 5).unwrap();
    assert!(matches!(
        five.try_acquire(),
        Err(Error::LeaseMismatch { stored: 3, .. })
    ));
    assert!(three.destroy().unwrap());
    assert!(c.exists("/pools/resize").unwrap().is_none());
    assert!(c.exists("/pools/resize-__lock__").unwrap().is_none());
    drop(five.acquire().unwrap());
    assert_eq!(c.get_data("/pools/resize").unwrap().0, b"5");
    // Curator's layout too (its directories made persistent first: as
    // containers, the server could reap them before `destroy` looks).
    c.ensure_path("/pools/cur/locks").unwrap();
    c.ensure_path("/pools/cur/leases").unwrap();
    let cur = Semaphore::new(&c, "/pools/cur", 2)
        .unwrap()
        .flavor(zklock::Flavor::Curator);
    drop(cur.acquire().unwrap());
    assert!(cur.destroy().unwrap());
    assert!(c.exists("/pools/cur").unwrap().is_none());
}

#[test]
fn cleanup_removes_empty_directories_bottom_up_and_keeps_the_rest() {
    let (c, _) = client();
    c.ensure_path("/root/a/b/c").unwrap();
    c.ensure_path("/root/keep").unwrap();
    c.create("/root/keep/data", b"not empty", CreateMode::Persistent)
        .unwrap();
    // Persistent, so the server's container reaper cannot beat cleanup to it.
    c.ensure_path("/root/held").unwrap();
    let g = Lock::new(&c, "/root/held").unwrap().acquire().unwrap();
    let removed = zklock::cleanup(&c, "/root").unwrap();
    assert_eq!(removed, 3, "a/b/c, a/b, a");
    let mut left = c.get_children("/root").unwrap();
    left.sort();
    assert_eq!(left, ["held", "keep"]);
    g.check().unwrap();
    drop(g);
    assert_eq!(zklock::cleanup(&c, "/root").unwrap(), 1, "held, now empty");
    assert!(c.exists("/root").unwrap().is_some(), "the root is kept");
}

#[test]
fn cleanup_racing_with_arriving_contenders_never_deletes_one() {
    // Contenders keep arriving in directories cleanup keeps trying to remove:
    // every acquire succeeds and no holder is ever told its lock is lost.
    let (c, root) = client();
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let (other, stop) = (observer(&root), stop.clone());
            std::thread::spawn(move || {
                let lock = Lock::new(&other, &format!("/race/d{}/lock", i % 2)).unwrap();
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    let g = lock.acquire_timeout(WAIT).unwrap();
                    assert_eq!(g.state(), LockState::Held);
                    g.verify().unwrap();
                    g.release().unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut removed = 0;
    for _ in 0..200 {
        removed += zklock::cleanup(&c, "/race").unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    let acquired: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    eprintln!("{acquired} acquisitions while cleanup removed {removed} directories");
    assert!(acquired > 0);
}
