//! Checking who held a lock when: an in-process occupancy counter, and a
//! log file shared by processes (each holder appends `enter`/`exit` records
//! with `O_APPEND`, so records of different processes never interleave
//! within a line).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts holders inside a critical section and remembers the most seen.
#[derive(Default)]
pub struct Occupancy {
    now: AtomicUsize,
    max: AtomicUsize,
    entries: AtomicUsize,
}

impl Occupancy {
    /// Records an entry; returns how many hold now (this one included).
    pub fn enter(&self) -> usize {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(n, Ordering::SeqCst);
        self.entries.fetch_add(1, Ordering::SeqCst);
        n
    }

    /// Records an exit.
    pub fn exit(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }

    /// The most holders seen at once.
    pub fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }

    /// How many entries were recorded.
    pub fn entries(&self) -> usize {
        self.entries.load(Ordering::SeqCst)
    }
}

/// Appends one `kind holder token` line to the shared log.
pub fn log_record(log: &Path, kind: &str, holder: &str, token: u64) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    f.write_all(format!("{kind} {holder} {token}\n").as_bytes())
        .unwrap();
}

/// One record of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub kind: String,
    pub holder: String,
    pub token: u64,
}

/// Reads the shared log.
pub fn read_log(log: &Path) -> Vec<Record> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let mut p = l.split(' ');
            Record {
                kind: p.next().unwrap().into(),
                holder: p.next().unwrap().into(),
                token: p.next().unwrap().parse().unwrap(),
            }
        })
        .collect()
}

/// Checks an exclusive lock's log: every `enter` is followed by the `exit`
/// of the same holder before the next `enter`, and fencing tokens strictly
/// increase. Returns the number of acquisitions.
pub fn check_exclusive(records: &[Record]) -> usize {
    let mut inside: Option<&Record> = None;
    let mut last_token = 0;
    let mut n = 0;
    for r in records {
        match r.kind.as_str() {
            "enter" => {
                assert!(
                    inside.is_none(),
                    "{r:?} entered while {inside:?} held the lock"
                );
                assert!(r.token > last_token, "token {} after {last_token}", r.token);
                last_token = r.token;
                inside = Some(r);
                n += 1;
            }
            "exit" => {
                let held = inside.take().expect("exit without enter");
                assert_eq!(held.holder, r.holder, "exit of someone else");
            }
            k => panic!("unknown record {k}"),
        }
    }
    assert!(inside.is_none(), "the log ends inside the lock");
    n
}
