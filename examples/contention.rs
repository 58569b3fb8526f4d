//! Several threads in two processes contend for one lock; every hand-off is
//! printed with its fencing token.
//!
//! ```text
//! cargo run --example contention -- 127.0.0.1:2181
//! ```
//!
//! The process started by hand runs three threads and starts a second copy
//! of itself (`--child`) that runs three more. Every holder checks that
//! nobody else is inside (a marker node) and that its token is larger than
//! any it has seen before; the tokens printed by both processes go up
//! across all of them.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use zklock::{Client, CreateMode, Lock, Result};

const LOCK: &str = "/zklock-demo/locks/printer";
const ROUNDS: usize = 4;

fn contend(client: &Client, process: &str) -> Result<()> {
    let lock = Arc::new(Lock::new(client, LOCK)?);
    let highest = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..3)
        .map(|t| {
            let (client, lock, highest) = (client.clone(), lock.clone(), highest.clone());
            let me = format!("{process}-thread{t}");
            std::thread::spawn(move || -> Result<()> {
                for _ in 0..ROUNDS {
                    let asked = Instant::now();
                    let guard = lock.acquire()?;
                    let token = guard.fencing_token()?;
                    let previous = highest.fetch_max(token, Ordering::SeqCst);
                    assert!(token > previous, "fencing tokens only go up");
                    // A marker node proves nobody else is inside right now.
                    client.create("/zklock-demo/inside", me.as_bytes(), CreateMode::Ephemeral)?;
                    println!(
                        "{me:>16} holds the lock   token {token:>6}   waited {:>5.1} ms",
                        asked.elapsed().as_secs_f64() * 1e3
                    );
                    std::thread::sleep(Duration::from_millis(30)); // the "work"
                    client.delete("/zklock-demo/inside", None)?;
                    guard.release()?;
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join().expect("contender thread")?;
    }
    Ok(())
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let hosts = args.next().unwrap_or_else(zklock::doc_hosts);
    let client = Client::connect(&hosts)?;
    if args.next().as_deref() == Some("--child") {
        return contend(&client, "process2");
    }
    client.ensure_path("/zklock-demo")?;
    println!("two processes x three threads take {LOCK} {ROUNDS} times each:");
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .args([&hosts, "--child"])
        .spawn()
        .expect("start the second process");
    let mine = contend(&client, "process1");
    let theirs = child.wait().expect("second process");
    mine?;
    assert!(theirs.success(), "the second process failed");
    let lock = Lock::new(&client, LOCK)?;
    println!(
        "done: {} hand-offs, contenders left: {:?}",
        2 * 3 * ROUNDS,
        lock.contenders()?
    );
    Ok(())
}
