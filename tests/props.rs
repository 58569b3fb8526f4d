//! Property tests over arbitrary input: path validation, contender-name
//! parsing and ordering, and the strategies' decisions on arbitrary
//! directory listings. Deterministic (fixed seeds), so a failure reproduces;
//! `ZKLOCK_PROP_ITERS` runs them longer. They use only the public API: the
//! node-name format (`lock::name`) and the strategies are public.

mod support;

use support::rng::Rng;
use zklock::lock::name::{self, Contender, MARKERS, Role};
use zklock::lock::strategy::{Decision, has_read_lock, has_write_lock, holds_once_gone};
use zklock::path;

fn iters(default: usize) -> usize {
    std::env::var("ZKLOCK_PROP_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The counter as the server prints it (Java's `%010d`: the sign counts in
/// the width).
fn server_counter(seq: i32) -> String {
    format!("{seq:010}")
}

#[test]
fn path_validation_accepts_only_what_the_rules_allow() {
    let atoms = [
        "/", "/", "/", "a", "b", ".", "..", "\0", "\u{1}", "\u{7f}", "\u{fff5}", "\u{e000}", "é",
        "lock", "-", "_", " ", "0",
    ];
    let mut rng = Rng(0x9a7f_0000_0000_0001);
    for _ in 0..iters(200_000) {
        let n = rng.below(8);
        let p: String = (0..n).map(|_| *rng.pick(&atoms)).collect();
        let ok = path::validate(&p).is_ok();
        if ok {
            assert!(p.starts_with('/'), "{p:?}");
            assert!(p == "/" || !p.ends_with('/'), "{p:?}");
            assert!(!p.contains("//"), "{p:?}");
            assert!(!p.contains('\0'), "{p:?}");
            assert!(
                p == "/" || p[1..].split('/').all(|s| s != "." && s != ".."),
                "{p:?}"
            );
        }
        // A sequential prefix may also end in '/', and nothing more.
        if let Ok(()) = path::validate_sequential(&p)
            && !ok
        {
            assert!(p.ends_with('/'), "{p:?}");
            assert!(path::validate(&p[..p.len() - 1]).is_ok(), "{p:?}");
        }
    }
}

fn random_counter(rng: &mut Rng) -> i32 {
    match rng.below(4) {
        0 => rng.below(1000) as i32,
        1 => i32::MAX - rng.below(1000) as i32,
        2 => i32::MIN + rng.below(1000) as i32,
        _ => rng.next() as i32,
    }
}

#[test]
fn every_server_counter_parses_back_with_its_role() {
    let mut rng = Rng(0x5eed_0000_0000_0002);
    for _ in 0..iters(200_000) {
        let seq = random_counter(&mut rng);
        let (marker, role) = *rng.pick(MARKERS);
        let guid = format!("{:032x}", rng.next() as u128 * rng.next() as u128);
        let name = format!("{guid}{marker}{}", server_counter(seq));
        let c = name::parse(&name).unwrap_or_else(|| panic!("{name} not parsed"));
        assert_eq!((c.seq, c.role), (seq, role), "{name}");
    }
}

#[test]
fn parsing_arbitrary_names_never_panics_and_is_consistent() {
    let atoms = [
        "__lock__",
        "__rlock__",
        "-lock-",
        "-read-",
        "-write-",
        "__WRIT__",
        "__READ__",
        "ex",
        "sh",
        "lock-",
        "-",
        "0",
        "1",
        "9",
        "2147483647",
        "2147483648",
        "-000000005",
        "x",
        "é",
        "_c_",
        "00000",
        "0000000001",
    ];
    let mut rng = Rng(0x5eed_0000_0000_0003);
    for _ in 0..iters(300_000) {
        let n = rng.below(6);
        let name: String = (0..n).map(|_| *rng.pick(&atoms)).collect();
        if let Some(c) = name::parse(&name) {
            assert_eq!(c.name, name);
            // The text after the marker is exactly the server's counter.
            let counter = server_counter(c.seq);
            assert!(name.ends_with(&counter), "{name}: {}", c.seq);
        }
    }
}

fn random_queue(rng: &mut Rng, base: i32) -> Vec<String> {
    let n = 1 + rng.below(12);
    let mut seq = base;
    let mut names = Vec::new();
    for i in 0..n {
        seq = seq.wrapping_add(1 + rng.below(3) as i32);
        let (marker, _) = *rng.pick(MARKERS);
        names.push(format!("{i:032x}{marker}{}", server_counter(seq)));
        if rng.below(5) == 0 {
            names.push(format!("foreign-{i}")); // not a contender
        }
    }
    // The server lists children in no particular order.
    for i in (1..names.len()).rev() {
        let j = rng.below(i + 1);
        names.swap(i, j);
    }
    names
}

/// Who holds the lock when everyone in the queue decides at once.
fn holders(q: &[Contender]) -> Vec<usize> {
    (0..q.len())
        .filter(|&i| {
            let d = match q[i].role {
                Role::Writer => has_write_lock(q, i),
                Role::Reader => has_read_lock(q, i),
            };
            d == Decision::Holds
        })
        .collect()
}

#[test]
fn strategies_on_arbitrary_listings() {
    let mut rng = Rng(0x5eed_0000_0000_0004);
    for _ in 0..iters(100_000) {
        // Anywhere in the counter's range, the wrap included.
        let base = random_counter(&mut rng);
        let q = name::queue(&random_queue(&mut rng, base), &[]);
        assert!(!q.is_empty());
        // Queue order is creation order, across the wrap too.
        for w in q.windows(2) {
            assert!(w[1].seq.wrapping_sub(w[0].seq) > 0, "{q:?}");
        }
        let h = holders(&q);
        // The first contender always holds (liveness).
        assert_eq!(h.first(), Some(&0));
        // Exclusion: a writer holds alone; else the holders are the leading
        // run of readers.
        if q[0].role == Role::Writer {
            assert_eq!(h, vec![0]);
        } else {
            let run = q.iter().take_while(|c| c.role == Role::Reader).count();
            assert_eq!(h, (0..run).collect::<Vec<_>>());
        }
        // Every waiter waits for one contender ahead of it that blocks it.
        for i in 0..q.len() {
            let d = match q[i].role {
                Role::Writer => has_write_lock(&q, i),
                Role::Reader => has_read_lock(&q, i),
            };
            if let Decision::WaitFor(j) = d {
                assert!(j < i);
                match q[i].role {
                    Role::Writer => assert_eq!(j, i - 1),
                    Role::Reader => {
                        assert_eq!(q[j].role, Role::Writer);
                        assert!(q[j + 1..i].iter().all(|c| c.role == Role::Reader));
                    }
                }
            }
        }
    }
}

#[test]
fn dropping_gone_blockers_never_lets_two_writers_hold() {
    // The hand-off shortcut: a waiter removes the blockers it saw go from
    // its own listing. Whatever subset has gone, the decisions stay safe
    // for everyone who is still there.
    let mut rng = Rng(0x5eed_0000_0000_0005);
    for _ in 0..iters(50_000) {
        let base = random_counter(&mut rng);
        let full = name::queue(&random_queue(&mut rng, base), &[]);
        let live: Vec<Contender> = full.iter().filter(|_| rng.below(3) != 0).cloned().collect();
        if live.is_empty() {
            continue;
        }
        let h = holders(&live);
        let writers = h.iter().filter(|&&i| live[i].role == Role::Writer).count();
        assert!(writers <= 1);
        if writers == 1 {
            assert_eq!(h.len(), 1);
        }
    }
}

#[test]
fn the_hand_off_question_holds_exactly_when_nothing_else_ahead_conflicts() {
    // The walker holds without listing again when `holds_once_gone` says
    // so: it must say so only when no other contender ahead conflicts.
    let mut rng = Rng(0x5eed_0000_0000_0004);
    for _ in 0..iters(2000) {
        let base = random_counter(&mut rng);
        let q = name::queue(&random_queue(&mut rng, base), &[]);
        for mine in 0..q.len() {
            let decide: fn(&[Contender], usize) -> Decision = match q[mine].role {
                Role::Writer => has_write_lock,
                Role::Reader => has_read_lock,
            };
            let Decision::WaitFor(b) = decide(&q, mine) else {
                continue;
            };
            let conflicts = q[..mine]
                .iter()
                .enumerate()
                .any(|(i, c)| i != b && (q[mine].role == Role::Writer || c.role == Role::Writer));
            assert_eq!(
                holds_once_gone(decide, q.clone(), mine, b),
                !conflicts,
                "{q:?}, mine {mine}, blocker {b}"
            );
        }
    }
}
