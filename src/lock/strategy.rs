//! Lock kinds as strategies: given the queue and our place in it, do we hold
//! the lock, and if not, which single node must go first?
//!
//! This is the whole difference between the lock kinds; the queue walker
//! (`lock::walker`, internal) does everything else the same way for all of them, as
//! Curator's `LockInternals` does with its `LockInternalsDriver`. The answers
//! are pure functions of the queue, tested here without a server.
//!
//! Only contenders *ahead* of us (lower counters) are ever considered: ones
//! behind us cannot block us, and looking at them is how readers and writers
//! deadlocked in kazoo before 2.9 (#649). The node to wait for is the
//! nearest blocker ahead, so each release wakes exactly one waiter.

use super::name::{Contender, Kind, Role};

/// What a contender should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// It holds the lock.
    Holds,
    /// It must wait for the contender at this index of the queue to go.
    WaitFor(usize),
}

/// The exclusive rule: hold when first in the queue; otherwise wait for the
/// contender right ahead (reader or writer).
///
/// ```
/// use zklock::lock::name::queue;
/// use zklock::lock::strategy::{has_write_lock, Decision};
/// let q = queue(&["a__lock__0000000001".into(), "b__rlock__0000000002".into(), "c__lock__0000000003".into()], &[]);
/// assert_eq!(has_write_lock(&q, 0), Decision::Holds);
/// assert_eq!(has_write_lock(&q, 2), Decision::WaitFor(1));
/// ```
pub fn has_write_lock(_queue: &[Contender], mine: usize) -> Decision {
    match mine {
        0 => Decision::Holds,
        n => Decision::WaitFor(n - 1),
    }
}

/// The shared rule: hold when no writer is ahead; otherwise wait for the
/// nearest writer ahead.
///
/// ```
/// use zklock::lock::name::queue;
/// use zklock::lock::strategy::{has_read_lock, Decision};
/// let q = queue(&["a__rlock__0000000001".into(), "b__lock__0000000002".into(), "c__rlock__0000000003".into()], &[]);
/// assert_eq!(has_read_lock(&q, 0), Decision::Holds);
/// assert_eq!(has_read_lock(&q, 2), Decision::WaitFor(1));
/// ```
pub fn has_read_lock(queue: &[Contender], mine: usize) -> Decision {
    // Total: a position past the end sees the whole queue ahead of it.
    let ahead = queue.get(..mine).unwrap_or(queue);
    match ahead.iter().rposition(|c| c.role == Role::Writer) {
        None => Decision::Holds,
        Some(i) => Decision::WaitFor(i),
    }
}

/// The hand-off question: would the contender at `mine` hold the lock once
/// the contender at `blocker` (ahead of it) is gone, nothing else in the
/// queue having changed? The walker's shortcut (hold at once when the
/// blocker's deletion is seen, without listing again) rests on it; the
/// argument is in the walker's module doc. Total: `false` for a position
/// out of range or a blocker that is not ahead.
///
/// ```
/// use zklock::lock::name::queue;
/// use zklock::lock::strategy::{has_read_lock, has_write_lock, holds_once_gone};
/// let q = queue(&["a__lock__0000000001".into(), "b__lock__0000000002".into(),
///                 "c__rlock__0000000003".into()], &[]);
/// assert!(holds_once_gone(has_write_lock, q.clone(), 1, 0)); // next in line
/// assert!(!holds_once_gone(has_read_lock, q, 2, 0));           // b still blocks c
/// ```
pub fn holds_once_gone(
    decide: fn(&[Contender], usize) -> Decision,
    mut queue: Vec<Contender>,
    mine: usize,
    blocker: usize,
) -> bool {
    if blocker >= mine || mine >= queue.len() {
        return false;
    }
    queue.remove(blocker);
    decide(&queue, mine - 1) == Decision::Holds
}

/// The contenders ahead of `mine` that conflict with it, nearest last: every
/// one ahead for a writer, the writers ahead for a reader. Revocation asks
/// (or removes) exactly these. Total: a position past the end sees the
/// whole queue ahead of it.
///
/// ```
/// use zklock::lock::name::queue;
/// use zklock::lock::strategy::blocking;
/// let q = queue(&["a__lock__0000000001".into(), "b__rlock__0000000002".into(),
///                 "c__rlock__0000000003".into()], &[]);
/// assert_eq!(blocking(&q, 2), vec![0]); // a reader: only the writer
/// ```
pub fn blocking(queue: &[Contender], mine: usize) -> Vec<usize> {
    let ahead = queue.get(..mine).unwrap_or(queue);
    let reader = queue.get(mine).is_some_and(|c| c.role == Role::Reader);
    ahead
        .iter()
        .enumerate()
        .filter(|(_, c)| !reader || c.role == Role::Writer)
        .map(|(i, _)| i)
        .collect()
}

mod sealed {
    /// Only this crate's lock kinds are strategies.
    pub trait Sealed {}
    impl Sealed for super::Exclusive {}
    impl Sealed for super::Write {}
    impl Sealed for super::Read {}
}

/// A lock kind: the role its contenders take and the rule they follow.
///
/// Like lock_api's `RawMutex`, this is the small part each kind supplies;
/// [`super::QueueLock`] is the one front they share. It is sealed: a rule
/// that lets two writers hold at once would break mutual exclusion for
/// every client on the path, so the kinds are this crate's own
/// ([`Exclusive`], [`Read`], [`Write`]). The contract each keeps: `decide`
/// is a pure function of the queue; it answers `Holds` only if no
/// contender ahead of `mine` conflicts with it (any contender, for a
/// writer; a writer, for a reader), and otherwise names the nearest
/// conflicting contender ahead.
pub trait Strategy: sealed::Sealed + Send + Sync + 'static {
    /// Which lock this is (it decides the contender nodes' names).
    const KIND: Kind;
    /// A short name for messages and `Debug`.
    const NAME: &'static str;
    /// Whether the contender at `mine` holds the lock, or whom it waits for.
    fn decide(queue: &[Contender], mine: usize) -> Decision;
}

/// The exclusive lock ([`super::Lock`]): one holder at a time, readers
/// and writers alike wait for it.
#[derive(Debug, Clone, Copy)]
pub struct Exclusive;

/// The write side of a read/write lock ([`super::WriteLock`]): like
/// [`Exclusive`], named as the writer of the pair.
#[derive(Debug, Clone, Copy)]
pub struct Write;

/// The read side of a read/write lock ([`super::ReadLock`]): any number of
/// readers hold together while no writer is ahead of them.
#[derive(Debug, Clone, Copy)]
pub struct Read;

impl Strategy for Exclusive {
    const KIND: Kind = Kind::Exclusive;
    const NAME: &'static str = "Lock";
    fn decide(queue: &[Contender], mine: usize) -> Decision {
        has_write_lock(queue, mine)
    }
}

impl Strategy for Write {
    const KIND: Kind = Kind::Write;
    const NAME: &'static str = "WriteLock";
    fn decide(queue: &[Contender], mine: usize) -> Decision {
        has_write_lock(queue, mine)
    }
}

impl Strategy for Read {
    const KIND: Kind = Kind::Read;
    const NAME: &'static str = "ReadLock";
    fn decide(queue: &[Contender], mine: usize) -> Decision {
        has_read_lock(queue, mine)
    }
}

/// A queue from a pattern, for unit tests: "wrrw" is a writer, two
/// readers and a writer, with counters from 0.
#[cfg(test)]
pub(crate) fn test_queue(kinds: &str) -> Vec<Contender> {
    let names: Vec<String> = kinds
        .chars()
        .enumerate()
        .map(|(i, k)| match k {
            'w' => format!("x__lock__{i:010}"),
            _ => format!("x__rlock__{i:010}"),
        })
        .collect();
    super::name::queue(&names, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(kinds: &str) -> Vec<Contender> {
        test_queue(kinds)
    }

    /// Who holds, with everyone in the queue deciding at once.
    fn holders(kinds: &str) -> String {
        let queue = q(kinds);
        (0..queue.len())
            .map(|i| {
                let d = match queue[i].role {
                    Role::Writer => has_write_lock(&queue, i),
                    Role::Reader => has_read_lock(&queue, i),
                };
                if d == Decision::Holds { 'H' } else { '.' }
            })
            .collect()
    }

    #[test]
    fn fairness_sequence_of_the_zk_gem() {
        // ex, sh, sh, sh, ex, ex, sh, sh: one after the other.
        assert_eq!(holders("wrrrwwrr"), "H.......");
        assert_eq!(holders("rrrwwrr"), "HHH....");
        assert_eq!(holders("wwrr"), "H...");
        assert_eq!(holders("wrr"), "H..");
        assert_eq!(holders("rr"), "HH");
    }

    #[test]
    fn waiters_watch_the_nearest_blocker_ahead() {
        let queue = q("wrrwr");
        assert_eq!(has_read_lock(&queue, 1), Decision::WaitFor(0));
        assert_eq!(has_read_lock(&queue, 2), Decision::WaitFor(0));
        assert_eq!(has_write_lock(&queue, 3), Decision::WaitFor(2));
        assert_eq!(has_read_lock(&queue, 4), Decision::WaitFor(3));
    }

    #[test]
    fn the_rules_are_total() {
        let queue = q("wr");
        for mine in [2, 3, usize::MAX] {
            assert_eq!(has_read_lock(&queue, mine), Decision::WaitFor(0));
            assert_eq!(has_write_lock(&queue, mine), Decision::WaitFor(mine - 1));
            assert!(!holds_once_gone(has_write_lock, queue.clone(), mine, 0));
        }
        assert_eq!(has_read_lock(&[], 1), Decision::Holds);
        assert!(!holds_once_gone(has_write_lock, queue, 0, 1));
    }

    #[test]
    fn contenders_behind_never_block() {
        // kazoo #649: a reader must not wait for a writer behind it.
        let queue = q("rw");
        assert_eq!(has_read_lock(&queue, 0), Decision::Holds);
        assert_eq!(has_write_lock(&queue, 1), Decision::WaitFor(0));
    }
}
