//! Background acquisition (`acquire_in_background`, `acquire_then`,
//! `release_in_background`), against a real server: the outcome arrives
//! once, cancel and drop leave no node, a cancel racing the acquisition
//! yields the guard or no node. (What 1000 pending acquires cost is
//! measured alone, in `background_herd.rs`.)

mod support;

use std::sync::Arc;
use std::time::Duration;
use support::rng::Rng;
use support::{client, wait_until};
use zklock::{Error, Lock, ReadLock, Semaphore, WriteLock};

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn a_background_acquire_then_wait_takes_a_free_lock() {
    let (c, _) = client();
    let lock = Lock::new(&c, "/locks/bg-free").unwrap();
    let pending = lock.acquire_in_background();
    let guard = pending.wait().unwrap();
    assert_eq!(guard.check().ok(), Some(()));
    assert_eq!(lock.contenders().unwrap().len(), 1);
    drop(guard);
    assert!(lock.contenders().unwrap().is_empty());
}

#[test]
fn a_background_acquire_waits_for_the_holder_and_shows_its_node() {
    let (c, _) = client();
    let lock = Lock::new(&c, "/locks/bg-busy").unwrap();
    let holder = lock.acquire().unwrap();
    let mut pending = lock.acquire_in_background();
    wait_until(WAIT, "the contender node", || pending.node().is_some());
    let node = pending.node().unwrap();
    assert!(node.starts_with("/locks/bg-busy/"), "{node}");
    assert!(!pending.is_acquired());
    assert!(pending.try_take().is_none());
    drop(holder);
    wait_until(WAIT, "the background acquire to hold", || {
        pending.is_acquired()
    });
    let guard = pending.try_take().unwrap().unwrap();
    assert_eq!(guard.node(), node);
    // The outcome is delivered once.
    assert!(pending.try_take().is_none());
    assert!(matches!(
        pending.wait_timeout(Duration::ZERO),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn wait_timeout_leaves_the_attempt_running_and_a_later_wait_takes_it() {
    let (c, _) = client();
    let lock = Lock::new(&c, "/locks/bg-timeout").unwrap();
    let holder = lock.acquire().unwrap();
    let mut pending = lock.acquire_in_background();
    assert!(matches!(
        pending.wait_timeout(Duration::from_millis(200)),
        Err(Error::Timeout)
    ));
    wait_until(WAIT, "the contender node", || pending.node().is_some());
    assert_eq!(lock.contenders().unwrap().len(), 2, "still queued");
    drop(holder);
    let guard = pending.wait_timeout(WAIT).unwrap();
    assert_eq!(guard.check().ok(), Some(()));
}

#[test]
fn every_kind_acquires_in_the_background() {
    let (c, _) = client();
    let read = ReadLock::new(&c, "/locks/bg-rw").unwrap();
    let write = WriteLock::new(&c, "/locks/bg-rw").unwrap();
    let sem = Semaphore::new(&c, "/locks/bg-sem", 2).unwrap();
    let r1 = read.acquire_in_background().wait().unwrap();
    let r2 = read.acquire_in_background().wait().unwrap();
    let mut w = write.acquire_in_background();
    assert!(matches!(
        w.wait_timeout(Duration::from_millis(200)),
        Err(Error::Timeout)
    ));
    drop((r1, r2));
    let w = w.wait_timeout(WAIT).unwrap();
    drop(w);
    let l1 = sem.acquire_in_background().wait().unwrap();
    let l2 = sem.acquire_in_background().wait().unwrap();
    let mut l3 = sem.acquire_in_background();
    assert!(matches!(
        l3.wait_timeout(Duration::from_millis(300)),
        Err(Error::Timeout)
    ));
    drop(l1);
    let l3 = l3.wait_timeout(WAIT).unwrap();
    assert_eq!(sem.lease_holders().unwrap().len(), 2);
    drop((l2, l3));
}

#[test]
fn acquire_then_delivers_on_the_callback_thread_and_survives_a_panic() {
    let (c, _) = client();
    let lock = Lock::new(&c, "/locks/bg-then").unwrap();
    // A panicking callback takes nothing down; its guard is released.
    lock.acquire_then(|_| panic!("a careless callback"));
    let (tx, rx) = crossbeam_channel::unbounded();
    let tx2 = tx.clone();
    lock.acquire_then(move |held| {
        let name = std::thread::current().name().map(String::from);
        tx2.send((held.map(|g| g.node().to_string()), name))
            .unwrap();
    });
    let (held, thread) = rx.recv_timeout(WAIT).unwrap();
    assert!(held.is_ok());
    assert_eq!(thread.as_deref(), Some("zklock-callbacks"));
    // The client still works, callbacks included.
    lock.acquire_then(move |held| tx.send((held.map(|_| String::new()), None)).unwrap());
    assert!(rx.recv_timeout(WAIT).unwrap().0.is_ok());
    wait_until(WAIT, "every guard released", || {
        lock.contenders().unwrap().is_empty()
    });
}

#[test]
fn cancel_and_drop_leave_no_node() {
    let (c, _) = client();
    let lock = Lock::new(&c, "/locks/bg-cancel").unwrap();
    let holder = lock.acquire().unwrap();
    let pending = lock.acquire_in_background();
    wait_until(WAIT, "the contender node", || pending.node().is_some());
    assert!(pending.cancel().is_none());
    assert_eq!(
        lock.contenders().unwrap().len(),
        1,
        "the cancel left a node"
    );

    let dropped = lock.acquire_in_background();
    wait_until(WAIT, "the contender node", || dropped.node().is_some());
    drop(dropped);
    wait_until(WAIT, "the dropped attempt's node to go", || {
        lock.contenders().unwrap().len() == 1
    });

    // Taken meanwhile, then dropped: released.
    drop(holder);
    let taken = lock.acquire_in_background();
    wait_until(WAIT, "the lock to be taken", || taken.is_acquired());
    drop(taken);
    assert!(lock.contenders().unwrap().is_empty());
    assert_eq!(lock.pending(), 0);
}

#[test]
fn a_cancel_racing_the_acquisition_yields_the_guard_or_no_node() {
    let (c, _) = client();
    let lock = Arc::new(Lock::new(&c, "/locks/bg-race").unwrap());
    let mut rng = Rng(0x5eed_0014);
    let (mut held, mut cancelled) = (0, 0);
    for _ in 0..100 {
        let holder = lock.acquire().unwrap();
        let pending = lock.acquire_in_background();
        let release = std::thread::spawn(move || drop(holder));
        // Cancel at a random moment around the hand-off.
        for _ in 0..rng.below(3000) {
            std::hint::spin_loop();
        }
        let outcome = pending.cancel();
        release.join().unwrap();
        let left = lock.contenders().unwrap().len();
        match outcome {
            Some(guard) => {
                held += 1;
                assert_eq!(left, 1, "the guard's node, and nothing else");
                drop(guard);
            }
            None => {
                cancelled += 1;
                assert_eq!(left, 0, "a cancelled attempt left a node");
            }
        }
    }
    println!("background: cancel raced 100 times: {held} held, {cancelled} cancelled");
}

#[test]
fn a_pending_acquire_reports_the_session_lost_once() {
    let (proxy, c, root) = support::proxied(Duration::from_secs(2));
    let other = support::observer(&root);
    let holder = Lock::new(&other, "/locks/bg-lost")
        .unwrap()
        .acquire()
        .unwrap();
    let lock = Lock::new(&c, "/locks/bg-lost").unwrap();
    let mut pending = lock.acquire_in_background();
    let (tx, rx) = crossbeam_channel::unbounded();
    lock.acquire_then(move |r| tx.send(r.map(drop)).unwrap());
    wait_until(WAIT, "both to queue", || {
        other.get_children("/locks/bg-lost").unwrap().len() == 3
    });
    proxy.freeze();
    assert!(matches!(
        pending.wait_timeout(WAIT),
        Err(Error::SessionLost)
    ));
    assert!(pending.try_take().is_none(), "reported once");
    assert!(matches!(rx.recv_timeout(WAIT), Ok(Err(Error::SessionLost))));
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    proxy.unfreeze();
    drop(holder);
}

#[test]
fn release_in_background_reports_the_servers_confirmation() {
    let (c, _) = client();
    let lock = Lock::new(&c, "/locks/bg-release").unwrap();
    let guard = lock.acquire().unwrap();
    let releasing = guard.release_in_background();
    releasing.wait_timeout(WAIT).unwrap();
    assert!(lock.contenders().unwrap().is_empty());
}
