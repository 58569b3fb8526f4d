//! Checking who held a lock when: an in-process occupancy counter, and a
//! log shared by processes (zklock's, kazoo's, Curator's), each holder
//! appending records with `O_APPEND`, one write per line, so the records of
//! different processes never interleave within a line.
//!
//! A record is `ms resource role kind holder token`: `resource` is `lock`
//! (an exclusive lock), `rw` (a read/write lock) or `sem` (a semaphore);
//! `role` is `x`, `r`, `w` or `s`; `kind` is `enter` or `exit`; `token` is
//! the fencing token, or 0 for clients that have none (kazoo, Curator).

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

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

/// Asserts that `tokens`, in the order holders entered, strictly increase.
pub fn assert_strictly_increasing(tokens: &[u64]) {
    if let Some(i) = tokens.windows(2).position(|w| w[0] >= w[1]) {
        panic!(
            "fencing tokens must strictly increase in the order holders entered: {} then {} (holders {i} and {})",
            tokens[i],
            tokens[i + 1],
            i + 1
        );
    }
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// Appends one record to the shared log.
pub fn record(log: &Path, resource: &str, role: &str, kind: &str, holder: &str, token: u64) {
    let line = format!("{} {resource} {role} {kind} {holder} {token}\n", now_ms());
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    f.write_all(line.as_bytes()).unwrap();
}

/// One record of the log.
#[derive(Debug, Clone)]
pub struct Rec {
    pub ms: u128,
    pub resource: String,
    pub role: String,
    pub kind: String,
    pub holder: String,
    pub token: u64,
}

/// Reads the shared log.
pub fn read_log(log: &Path) -> Vec<Rec> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let p: Vec<&str> = l.split(' ').collect();
            (p.len() == 6).then(|| Rec {
                ms: p[0].parse().unwrap(),
                resource: p[1].into(),
                role: p[2].into(),
                kind: p[3].into(),
                holder: p[4].into(),
                token: p[5].parse().unwrap(),
            })
        })
        .collect()
}

/// Marks the start of an acquire that removes the contenders blocking it
/// (`Revoke::Immediate`); [`REMOVED`] marks its end.
pub const REMOVING: &str = "removing";
/// Marks the end of an acquire that began with [`REMOVING`].
pub const REMOVED: &str = "removed";

/// The log as a resource that checks fencing tokens would have taken it
/// while holders were being removed. A removed holder (or a waiter removed
/// just as it saw its turn come) may write until the news of its node's
/// deletion reaches it; a fenced resource refuses those writes, because
/// their tokens are older than one it has taken (older than any, for an
/// exclusive role; older than an exclusive one, for a shared role).
///
/// The windows are the removing acquires' own, from [`REMOVING`] to
/// [`REMOVED`] plus `margin_ms` (the news's delay); one never ended runs to
/// the end of the log. Outside them nothing is refused, so a stale write
/// there stays for [`check`] to report. Applies to `lock` and `rw`, whose
/// tokens order their holders. Returns the `enter`/`exit` records kept and
/// how many were refused.
pub fn fenced(recs: &[Rec], margin_ms: u128) -> (Vec<Rec>, usize) {
    let mut windows = Vec::new();
    let mut open: HashMap<&str, u128> = HashMap::new();
    for r in recs {
        if r.kind == REMOVING {
            open.insert(r.holder.as_str(), r.ms);
        } else if r.kind == REMOVED
            && let Some(from) = open.remove(r.holder.as_str())
        {
            windows.push((from, r.ms + margin_ms));
        }
    }
    windows.extend(open.into_values().map(|from| (from, u128::MAX)));
    // Per resource: the newest token taken from anyone, and from an
    // exclusive role.
    let mut newest: HashMap<&str, (u64, u64)> = HashMap::new();
    let mut kept = Vec::with_capacity(recs.len());
    let mut refused = 0;
    for r in recs
        .iter()
        .filter(|r| r.kind == "enter" || r.kind == "exit")
    {
        let exclusive = matches!(r.role.as_str(), "x" | "w");
        if matches!(r.resource.as_str(), "lock" | "rw") && r.token != 0 {
            let (any, excl) = newest.entry(r.resource.as_str()).or_default();
            let stale = r.token < if exclusive { *any } else { *excl };
            if stale && windows.iter().any(|&(a, b)| a <= r.ms && r.ms <= b) {
                refused += 1;
                continue;
            }
            *any = (*any).max(r.token);
            if exclusive {
                *excl = (*excl).max(r.token);
            }
        }
        kept.push(r.clone());
    }
    (kept, refused)
}

/// One holding, from its first record to its last (in log order). A
/// holder that stops writing when told its lock is lost leaves no exit: its
/// interval ends at its last record.
#[derive(Debug, Clone)]
pub struct Interval {
    pub role: String,
    pub holder: String,
    pub token: u64,
    pub first: usize,
    pub last: usize,
}

/// The intervals of `resource`, in the order they began.
pub fn intervals(recs: &[Rec], resource: &str) -> Vec<Interval> {
    let mut open: HashMap<(String, u64), Interval> = HashMap::new();
    let mut done = Vec::new();
    for (i, r) in recs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.resource == resource)
    {
        let key = (r.holder.clone(), r.token);
        if r.kind == "enter" {
            // A holder without tokens enters again only after its exit.
            if let Some(prev) = open.remove(&key) {
                done.push(prev);
            }
            open.insert(
                key,
                Interval {
                    role: r.role.clone(),
                    holder: r.holder.clone(),
                    token: r.token,
                    first: i,
                    last: i,
                },
            );
        } else if let Some(mut iv) = open.remove(&key) {
            iv.last = i;
            done.push(iv);
        }
    }
    done.extend(open.into_values());
    done.sort_by_key(|iv| iv.first);
    done
}

fn overlap(a: &Interval, b: &Interval) -> bool {
    a.first < b.last && b.first < a.last
}

/// Checks the log: no two exclusive holders (`x`, `w`) overlap with
/// anyone on their resource, never more than `max_leases` lease holders at
/// once, and fencing tokens (where known) increase. Returns the number of
/// acquisitions and what was wrong.
pub fn check(recs: &[Rec], max_leases: usize) -> (usize, Vec<String>) {
    let mut violations = Vec::new();
    let mut acquisitions = 0;
    for (resource, exclusive_roles, max_together) in [
        ("lock", &["x"][..], 1),
        ("lock-b", &["x"][..], 1),
        ("node", &["x"][..], 1),
        ("rw", &["w"][..], usize::MAX),
        ("sem", &[][..], max_leases),
    ] {
        let ivs = intervals(recs, resource);
        acquisitions += ivs.len();
        let exclusive = |iv: &Interval| exclusive_roles.contains(&iv.role.as_str());
        for (i, a) in ivs.iter().enumerate() {
            for b in &ivs[i + 1..] {
                if b.first > a.last {
                    break;
                }
                if (exclusive(a) || exclusive(b)) && overlap(a, b) {
                    violations.push(format!("OVERLAP on {resource}: {a:?} and {b:?}"));
                }
            }
            // An exclusive holder's token exceeds every token that entered
            // before it; a shared holder's, every exclusive one's.
            for b in &ivs[..i] {
                let known = a.token != 0 && b.token != 0;
                if known && (exclusive(a) || exclusive(b)) && b.token >= a.token {
                    violations.push(format!("TOKEN on {resource}: {b:?} then {a:?}"));
                }
            }
        }
        if max_together < usize::MAX {
            let most = most_together(&ivs, |_| true);
            if most > max_together {
                violations.push(format!("{most} holders of {resource} at once"));
            }
        }
    }
    (acquisitions, violations)
}

/// The most intervals (among those `which` selects) holding at once.
pub fn most_together(ivs: &[Interval], which: impl Fn(&Interval) -> bool) -> usize {
    let mut events: Vec<(usize, i32)> = Vec::new();
    for iv in ivs.iter().filter(|iv| which(iv)) {
        events.push((iv.first, 1));
        events.push((iv.last, -1));
    }
    // At one index, exits before entries: an interval ends where it ends.
    events.sort_by_key(|&(i, d)| (i, d));
    let (mut now, mut most) = (0i32, 0i32);
    for (_, d) in events {
        now += d;
        most = most.max(now);
    }
    most as usize
}

/// How many acquisitions each holder-name prefix made (the prefix is the
/// name up to its first `-`: the process).
pub fn per_process(recs: &[Rec]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for r in recs.iter().filter(|r| r.kind == "enter") {
        let p = r.holder.split('-').next().unwrap_or("").to_string();
        *m.entry(p).or_insert(0) += 1;
    }
    m
}
