//! Local hand-offs (see the walker's "Local hand-offs"): threads of one
//! session hand a lock over without waiting for the server, and never past
//! another session's node. The tests share one process-wide switch
//! (`debug_break_local_handoffs`), so they run one at a time.

mod support;

use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use support::{hosts, wait_until};
use zklock::{Client, Lock};

const WAIT: Duration = Duration::from_secs(20);

/// One test at a time: the breaking switch is process-wide.
static SERIAL: Mutex<()> = Mutex::new(());

fn sessions(n: usize) -> (Vec<Client>, String) {
    let root = support::fresh_root();
    let clients = (0..n)
        .map(|_| Client::connect(&format!("{}{root}", hosts())).unwrap())
        .collect();
    (clients, root)
}

#[test]
fn threads_of_one_session_hand_over_locally_with_increasing_tokens() {
    let _serial = SERIAL.lock();
    let (clients, _) = sessions(1);
    let c = &clients[0];
    let lock = Arc::new(Lock::new(c, "/local").unwrap());
    let inside = Arc::new(AtomicBool::new(false));
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let before = zklock::lock::local_handoffs(c);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (lock, inside, tokens) = (lock.clone(), inside.clone(), tokens.clone());
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let g = lock.acquire().unwrap();
                    assert!(!inside.swap(true, Ordering::SeqCst), "two holders");
                    tokens.lock().push(g.fencing_token().unwrap());
                    inside.store(false, Ordering::SeqCst);
                    g.release().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let tokens = tokens.lock();
    assert_eq!(tokens.len(), 200);
    assert!(
        tokens.windows(2).all(|w| w[0] < w[1]),
        "tokens increase in the order holders entered"
    );
    let local = zklock::lock::local_handoffs(c) - before;
    println!("handoff: {local} of 199 hand-offs were local");
    assert!(local > 0, "no hand-off was local");
    assert!(lock.contenders().unwrap().is_empty());
}

/// Session A holds; a waiter of session B queues, then a waiter of A
/// behind it; A lets go. Returns the order in which the waiters held, and
/// whether two held at once.
fn a_local_waiter_behind_another_session() -> (Vec<&'static str>, bool) {
    let (clients, _) = sessions(2);
    let (a, b) = (&clients[0], &clients[1]);
    let a_lock = Arc::new(Lock::new(a, "/fifo").unwrap());
    let b_lock = Arc::new(Lock::new(b, "/fifo").unwrap());
    let first = a_lock.acquire().unwrap();
    let inside = Arc::new(AtomicUsize::new(0));
    let overlap = Arc::new(AtomicBool::new(false));
    let order = Arc::new(Mutex::new(Vec::new()));
    let spawn = |lock: Arc<Lock>, who: &'static str| {
        let (inside, overlap, order) = (inside.clone(), overlap.clone(), order.clone());
        std::thread::spawn(move || {
            let g = lock.acquire_timeout(WAIT).unwrap();
            if inside.fetch_add(1, Ordering::SeqCst) > 0 {
                overlap.store(true, Ordering::SeqCst);
            }
            order.lock().push(who);
            // Stay a while, so a second holder would be seen: until the
            // other waiter has its turn or a deadline passes (no sleep as
            // synchronisation: the condition is what is waited for).
            let until = std::time::Instant::now() + Duration::from_millis(300);
            while std::time::Instant::now() < until && order.lock().len() < 2 {
                std::thread::yield_now();
            }
            inside.fetch_sub(1, Ordering::SeqCst);
            g.release().unwrap();
        })
    };
    let tb = spawn(b_lock.clone(), "B");
    wait_until(WAIT, "B to queue", || {
        a_lock.contenders().unwrap().len() == 2
    });
    let ta = spawn(a_lock.clone(), "A");
    wait_until(WAIT, "A to queue", || {
        a_lock.contenders().unwrap().len() == 3
    });
    first.release().unwrap();
    tb.join().unwrap();
    ta.join().unwrap();
    let order = order.lock().clone();
    (order, overlap.load(Ordering::SeqCst))
}

#[test]
fn a_local_waiter_never_jumps_another_sessions_node() {
    let _serial = SERIAL.lock();
    let (order, overlap) = a_local_waiter_behind_another_session();
    assert!(!overlap, "two holders");
    assert_eq!(order, ["B", "A"]);
}

/// With the rule broken on purpose (a local waiter holds at any release of
/// its session, another session's node between them or not), the test
/// above sees two holders: the suite catches what it is for.
#[cfg(debug_assertions)]
#[test]
fn breaking_the_rule_lets_two_holders_in() {
    let _serial = SERIAL.lock();
    zklock::lock::debug_break_local_handoffs(true);
    let (_, overlap) = a_local_waiter_behind_another_session();
    zklock::lock::debug_break_local_handoffs(false);
    assert!(overlap, "the broken rule went unnoticed");
}

/// Threads of two sessions queue interleaved (A A B A B B A A): they hold
/// in the order of their sequence numbers, local hand-offs (A to A, B to
/// B) included.
#[test]
fn two_sessions_interleaved_hold_in_sequence_order() {
    let _serial = SERIAL.lock();
    let (clients, _) = sessions(2);
    let locks: Vec<Arc<Lock>> = clients
        .iter()
        .map(|c| Arc::new(Lock::new(c, "/interleaved").unwrap()))
        .collect();
    let holder = locks[0].acquire().unwrap();
    let pattern = [0usize, 0, 1, 0, 1, 1, 0, 0];
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut threads = Vec::new();
    for (i, &s) in pattern.iter().enumerate() {
        let (lock, order) = (locks[s].clone(), order.clone());
        threads.push(std::thread::spawn(move || {
            let g = lock.acquire_timeout(WAIT).unwrap();
            order.lock().push(i);
            g.release().unwrap();
        }));
        wait_until(WAIT, "the waiter to queue", || {
            locks[0].contenders().unwrap().len() == i + 2
        });
    }
    let before: u64 = clients.iter().map(zklock::lock::local_handoffs).sum();
    holder.release().unwrap();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*order.lock(), (0..pattern.len()).collect::<Vec<_>>());
    let local: u64 = clients
        .iter()
        .map(zklock::lock::local_handoffs)
        .sum::<u64>()
        - before;
    // A→A at 0→1 and 6→7, B→B at 4→5 (and the first holder to waiter 0).
    assert!(local >= 3, "only {local} local hand-offs");
}
