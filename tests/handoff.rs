//! Local hand-offs (see the walker's "Local hand-offs"): threads of one
//! session hand a lock over without waiting for the server, and never past
//! another session's node. The tests share one process-wide switch
//! (`debug_break_local_handoffs`), so they run one at a time.

mod support;

use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use support::{Occupancy, hosts, wait_until};
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

/// Four threads of one session take a lock 50 times each, through one
/// shared handle or a handle each: never two holders, tokens increasing in
/// the order holders entered, and some hand-offs local.
fn hand_over_locally(shared: bool) {
    let _serial = SERIAL.lock();
    let (clients, _) = sessions(1);
    let c = &clients[0];
    let one = Arc::new(Lock::new(c, "/local").unwrap());
    let occ = Arc::new(Occupancy::default());
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let before = zklock::lock::local_handoffs(c);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let lock = match shared {
                true => one.clone(),
                false => Arc::new(Lock::new(c, "/local").unwrap()),
            };
            let (occ, tokens) = (occ.clone(), tokens.clone());
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let g = lock.acquire().unwrap();
                    assert_eq!(occ.enter(), 1, "two holders");
                    tokens.lock().push(g.fencing_token().unwrap());
                    occ.exit();
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
    support::assert_strictly_increasing(&tokens);
    let local = zklock::lock::local_handoffs(c) - before;
    println!("handoff (shared handle: {shared}): {local} of 199 hand-offs were local");
    assert!(local > 0, "no hand-off was local");
    assert!(one.contenders().unwrap().is_empty());
}

#[test]
fn threads_sharing_a_handle_hand_over_locally_with_increasing_tokens() {
    hand_over_locally(true);
}

/// A waiter deep in the queue, behind a node of another handle of its
/// client: the releasing guard's wake says it held a writer's place, so
/// everything ahead had gone.
#[test]
fn threads_with_a_handle_each_hand_over_locally_with_increasing_tokens() {
    hand_over_locally(false);
}

/// Readers and writers of one session, a handle each: a writer is never
/// inside with anyone, whatever hands over to whom.
#[test]
fn readers_and_writers_of_one_session_never_overlap() {
    let _serial = SERIAL.lock();
    let (clients, _) = sessions(1);
    let c = &clients[0];
    let readers = Arc::new(AtomicUsize::new(0));
    let writer = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..6)
        .map(|i| {
            let (c, readers, writer) = (c.clone(), readers.clone(), writer.clone());
            std::thread::spawn(move || {
                let read = zklock::ReadLock::new(&c, "/rw").unwrap();
                let write = zklock::WriteLock::new(&c, "/rw").unwrap();
                for n in 0..30 {
                    if (i + n) % 3 == 0 {
                        let g = write.acquire().unwrap();
                        assert!(!writer.swap(true, Ordering::SeqCst), "two writers");
                        assert_eq!(
                            readers.load(Ordering::SeqCst),
                            0,
                            "a reader beside a writer"
                        );
                        writer.store(false, Ordering::SeqCst);
                        g.release().unwrap();
                    } else {
                        let g = read.acquire().unwrap();
                        readers.fetch_add(1, Ordering::SeqCst);
                        assert!(!writer.load(Ordering::SeqCst), "a writer beside a reader");
                        readers.fetch_sub(1, Ordering::SeqCst);
                        g.release().unwrap();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// Session A holds; a waiter of session B queues, then a waiter of A
/// behind it; A lets go. Returns the order in which the waiters held, and
/// whether two held at once. `broken`: with the rule broken on purpose
/// (the A waiter is then surely registered for a local wake before A lets
/// go).
fn a_local_waiter_behind_another_session(broken: bool) -> (Vec<&'static str>, bool) {
    let (clients, _) = sessions(2);
    let (a, b) = (&clients[0], &clients[1]);
    let a_lock = Arc::new(Lock::new(a, "/fifo").unwrap());
    let b_lock = Arc::new(Lock::new(b, "/fifo").unwrap());
    let first = a_lock.acquire().unwrap();
    let occ = Arc::new(Occupancy::default());
    let order = Arc::new(Mutex::new(Vec::new()));
    let spawn = |lock: Arc<Lock>, who: &'static str| {
        let (occ, order) = (occ.clone(), order.clone());
        std::thread::spawn(move || {
            let g = lock.acquire_timeout(WAIT).unwrap();
            occ.enter();
            order.lock().push(who);
            // Stay a while, so a second holder would be seen: until the
            // other waiter has its turn or a deadline passes (no sleep as
            // synchronisation: the condition is what is waited for).
            let until = std::time::Instant::now() + Duration::from_millis(300);
            while std::time::Instant::now() < until && order.lock().len() < 2 {
                std::thread::yield_now();
            }
            occ.exit();
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
    if broken {
        wait_until(WAIT, "A's waiter to register", || {
            zklock::lock::local_waiters(a) == 1
        });
    }
    first.release().unwrap();
    tb.join().unwrap();
    ta.join().unwrap();
    let order = order.lock().clone();
    (order, occ.max() > 1)
}

#[test]
fn a_local_waiter_never_jumps_another_sessions_node() {
    let _serial = SERIAL.lock();
    let (order, overlap) = a_local_waiter_behind_another_session(false);
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
    let (_, overlap) = a_local_waiter_behind_another_session(true);
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

/// What one process of [`two_processes_hold_in_sequence_order`] does:
/// `threads` threads share one `Lock` of `/procs` and take it `rounds`
/// times each; every holder logs its node's sequence number (a persistent
/// sequential node under `/log`, written while it holds, so the log's order
/// is the order of holding). Returns the process's local hand-offs.
fn take_and_log(chroot_hosts: &str, tag: &str, threads: usize, rounds: usize) -> u64 {
    let c = Client::connect(chroot_hosts).unwrap();
    let lock = Arc::new(Lock::new(&c, "/procs").unwrap());
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (c, lock, tag) = (c.clone(), lock.clone(), tag.to_string());
            std::thread::spawn(move || {
                for _ in 0..rounds {
                    let g = lock.acquire_timeout(WAIT).unwrap();
                    let seq = &g.node()[g.node().len() - 10..];
                    let entry = format!("{seq} {tag}");
                    let mode = zklock::CreateMode::PersistentSequential;
                    c.create("/log/e-", entry.as_bytes(), mode).unwrap();
                    g.release().unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    zklock::lock::local_handoffs(&c)
}

/// Process B of [`two_processes_hold_in_sequence_order`], run as a child
/// of this test binary; does nothing when run as a test of its own.
#[test]
fn two_processes_child() {
    let Ok(hosts) = std::env::var("ZKLOCK_HANDOFF_CHILD") else {
        return;
    };
    let local = take_and_log(&hosts, "B", 4, 25);
    println!("child local_handoffs={local}");
}

/// Two processes (this one, A, and a child of this test binary, B), four
/// threads each on one shared handle, queue interleaved on one lock: they
/// hold in the order of their nodes' sequence numbers (the server's FIFO),
/// both processes hand over locally among their own threads, and the
/// queue alternates between the processes.
#[test]
fn two_processes_hold_in_sequence_order() {
    let _serial = SERIAL.lock();
    let (clients, root) = sessions(1);
    clients[0].ensure_path("/log").unwrap();
    let chroot_hosts = format!("{}{root}", hosts());
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "two_processes_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ZKLOCK_HANDOFF_CHILD", &chroot_hosts)
        .env("ZK_HOSTS", hosts())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let local_a = take_and_log(&chroot_hosts, "A", 4, 25);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "process B failed:\n{stdout}");
    // (libtest may print the line after "test two_processes_child ... ")
    let local_b: u64 = stdout
        .lines()
        .find_map(|l| l.split("child local_handoffs=").nth(1))
        .and_then(|n| n.split_whitespace().next()?.parse().ok())
        .expect("process B's count");

    let c = &clients[0];
    let mut names = c.get_children("/log").unwrap();
    names.sort();
    let entries: Vec<(u64, String)> = names
        .iter()
        .map(|n| {
            let (data, _) = c.get_data(&format!("/log/{n}")).unwrap();
            let text = String::from_utf8(data).unwrap();
            let (seq, tag) = text.split_once(' ').unwrap();
            (seq.parse().unwrap(), tag.to_string())
        })
        .collect();
    assert_eq!(entries.len(), 200);
    assert!(
        entries.windows(2).all(|w| w[0].0 < w[1].0),
        "holders entered out of sequence order"
    );
    let switches = entries.windows(2).filter(|w| w[0].1 != w[1].1).count();
    println!("two processes: {switches} switches between A and B, local A {local_a}, B {local_b}");
    assert!(switches > 0, "the processes never interleaved");
    assert!(
        local_a > 0 && local_b > 0,
        "a process never handed over locally"
    );
}

/// Four threads of one client take the lock `rounds` times each through
/// `take` (which returns once it has held and let go): how many hand-offs
/// were local.
fn local_count(c: &Client, rounds: usize, take: impl Fn() + Send + Sync + 'static) -> u64 {
    let before = zklock::lock::local_handoffs(c);
    let take = Arc::new(take);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let take = take.clone();
            std::thread::spawn(move || {
                for _ in 0..rounds {
                    take();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    zklock::lock::local_handoffs(c) - before
}

/// Every lock kind whose waiters queue behind one node hands over locally:
/// a write lock, the semaphore's internal lock, a reentrant lock and a
/// multi-lock (whose release sends its deletes in one write); and a group
/// of readers queued behind a writer of their client all go in when it
/// lets go.
#[test]
fn every_queue_kind_hands_over_locally() {
    let _serial = SERIAL.lock();
    let (clients, _) = sessions(1);
    let c = clients[0].clone();
    let write = zklock::WriteLock::new(&c, "/kinds/w").unwrap();
    let n = local_count(&c, 20, move || write.acquire().unwrap().release().unwrap());
    println!("write lock: {n} local hand-offs");
    assert!(n > 0, "write lock");

    let sem = zklock::Semaphore::new(&c, "/kinds/sem", 1).unwrap();
    let n = local_count(&c, 20, move || sem.acquire().unwrap().release().unwrap());
    println!("semaphore (its internal lock): {n} local hand-offs");
    assert!(n > 0, "semaphore's internal lock");

    let re = zklock::ReentrantLock::new(&c, "/kinds/re").unwrap();
    let n = local_count(&c, 20, move || re.acquire().unwrap().release().unwrap());
    println!("reentrant lock: {n} local hand-offs");
    assert!(n > 0, "reentrant lock");

    let multi = zklock::MultiLock::new(&c, ["/kinds/m1", "/kinds/m2"]).unwrap();
    let n = local_count(&c, 20, move || multi.acquire().unwrap().release().unwrap());
    println!("multi-lock: {n} local hand-offs");
    assert!(n > 0, "multi-lock");

    // A read group behind a writer of the same client.
    let writer = zklock::WriteLock::new(&c, "/kinds/rw").unwrap();
    let read = Arc::new(zklock::ReadLock::new(&c, "/kinds/rw").unwrap());
    let held = writer.acquire().unwrap();
    let before = zklock::lock::local_handoffs(&c);
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let read = read.clone();
            std::thread::spawn(move || read.acquire_timeout(WAIT).unwrap())
        })
        .collect();
    wait_until(WAIT, "the readers to wait for the writer", || {
        zklock::lock::local_waiters(&c) == 3
    });
    held.release().unwrap();
    let guards: Vec<_> = readers.into_iter().map(|t| t.join().unwrap()).collect();
    let n = zklock::lock::local_handoffs(&c) - before;
    println!("read group behind a writer: {n} of 3 readers went in locally");
    assert!(n > 0, "read group");
    drop(guards);
}
