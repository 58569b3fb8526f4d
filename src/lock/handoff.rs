//! Local hand-offs: a guard that lets go wakes the waiters of its own
//! session whose blocker its node is, the moment its delete is queued on
//! the connection, instead of their waiting for the server's notification. The
//! argument for why this never lets two holders in is the walker's (see
//! [`super::walker`], "Local hand-offs"); this file is the registry that
//! joins a releasing guard to those waiters.
//!
//! One registry per client: a waiter registers its blocker's path while it
//! waits for it (when the blocker's going can make it hold: the blocker is
//! its last one, or another attempt of its handle, or a node of this
//! client, may hold first), and its registration ends with the wait. The
//! registry also knows which contender nodes of a lock's queue belong to
//! this client ([`LocalNode`]: by the unique name prefix of each attempt,
//! known before its create is sent, until its guard ends), so a waiter
//! behind one of them gets ready for a local hand-off, and one behind
//! another process's node spends nothing on it.

use super::wait::{Wake, WakeTx};
use crate::client::scope::{EpochStatus, Scope};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The waiters of one client, by the path of the node they wait for.
#[derive(Default)]
pub(crate) struct LocalWaiters {
    by_blocker: Mutex<HashMap<String, Vec<Entry>>>,
    /// The contender nodes of this client's walks and queue guards: the
    /// path each is created at, before the server's sequence number.
    nodes: Mutex<HashSet<String>>,
    next_id: AtomicU64,
    /// Hand-offs that happened this way (counted by the waiter that held).
    handed: AtomicU64,
}

struct Entry {
    id: u64,
    /// The session the waiter's node belongs to.
    session: i64,
    /// The extra writer markers the waiter's handle recognises.
    extra: Vec<String>,
    tx: WakeTx,
}

/// A waiter's registration; it ends when this is dropped.
pub(crate) struct Registration {
    waiters: Arc<LocalWaiters>,
    blocker: String,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut map = self.waiters.by_blocker.lock();
        if let Some(list) = map.get_mut(&self.blocker) {
            list.retain(|e| e.id != self.id);
            if list.is_empty() {
                map.remove(&self.blocker);
            }
        }
    }
}

/// A contender node of this client, known to the registry as long as this
/// lives (the walk keeps it from its start, then the guard).
pub(crate) struct LocalNode {
    waiters: Arc<LocalWaiters>,
    path: String,
}

impl Drop for LocalNode {
    fn drop(&mut self) {
        self.waiters.nodes.lock().remove(&self.path);
    }
}

impl LocalWaiters {
    /// The registry of `scope`'s client.
    pub fn of(scope: &Scope) -> Arc<LocalWaiters> {
        scope.per_client(LocalWaiters::default)
    }

    /// A waiter of `scope`'s session waits for `blocker` to go, and holds
    /// once it has: wake it through `tx` when a guard of the same session
    /// lets `blocker` go.
    /// `extra`: the extra writer markers its handle recognises (a wake
    /// says everything ahead of the blocker had gone only if the guard
    /// recognised the same ones).
    pub fn register(
        self: &Arc<Self>,
        scope: &Scope,
        blocker: &str,
        tx: WakeTx,
        extra: &[String],
    ) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let session = scope.session_id().unwrap_or(0);
        let extra = extra.to_vec();
        self.by_blocker
            .lock()
            .entry(blocker.to_string())
            .or_default()
            .push(Entry {
                id,
                session,
                extra,
                tx,
            });
        Registration {
            waiters: self.clone(),
            blocker: blocker.to_string(),
            id,
        }
    }

    /// The contender nodes created at `path` (a sequential node's path
    /// before its sequence number: the attempt's unique prefix) are this
    /// client's until the token is dropped.
    pub fn node(self: &Arc<Self>, path: &str) -> LocalNode {
        self.nodes.lock().insert(path.to_string());
        LocalNode {
            waiters: self.clone(),
            path: path.to_string(),
        }
    }

    /// Whether `path` is a contender node of this client (a hint: which
    /// waiters get ready for a local hand-off). The sequence number is the
    /// last 10 characters (11 once the counter has wrapped negative).
    pub fn is_local(&self, path: &str) -> bool {
        let nodes = self.nodes.lock();
        [10, 11].iter().any(|&n| {
            path.len()
                .checked_sub(n)
                .and_then(|end| path.get(..end))
                .is_some_and(|created_at| nodes.contains(created_at))
        })
    }

    /// The guard of `node` has let go for good and its delete is queued
    /// in `scope`'s session: wakes the waiters of that session whose
    /// blocker it is. `writer_of`: the node held a writer's place in a
    /// queue read with these extra writer markers (so every node ahead of
    /// it had gone, for good: a waiter reading the queue alike may count on
    /// that). Nothing unless the session is connected.
    pub fn released(&self, scope: &Scope, node: &str, writer_of: Option<&[String]>) {
        if scope.status() != EpochStatus::Connected {
            return;
        }
        let Some(session) = scope.session_id() else {
            return;
        };
        if broken() {
            // The deliberately wrong rule, for the test that must catch it:
            // every local waiter is told its blocker went, whoever that is.
            for (blocker, list) in self.by_blocker.lock().iter() {
                for e in list {
                    e.tx.send(Wake::Released {
                        path: blocker.clone(),
                        ahead_gone: false,
                    });
                }
            }
            return;
        }
        let Some(list) = self.by_blocker.lock().remove(node) else {
            return;
        };
        for e in list.into_iter().filter(|e| e.session == session) {
            let ahead_gone = writer_of == Some(e.extra.as_slice());
            e.tx.send(Wake::Released {
                path: node.to_string(),
                ahead_gone,
            });
        }
    }

    /// A waiter held because of a local release.
    pub fn count(&self) {
        self.handed.fetch_add(1, Ordering::Relaxed);
    }

    /// How many hand-offs were local so far.
    pub fn handed(&self) -> u64 {
        self.handed.load(Ordering::Relaxed)
    }

    /// How many waiters are registered now.
    pub fn registered(&self) -> usize {
        self.by_blocker.lock().values().map(Vec::len).sum()
    }
}

#[cfg(debug_assertions)]
static BROKEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether the rule is broken on purpose ([`debug_break_local_handoffs`]);
/// never in release builds.
pub(crate) fn broken() -> bool {
    #[cfg(debug_assertions)]
    return BROKEN.load(Ordering::SeqCst);
    #[cfg(not(debug_assertions))]
    return false;
}

/// Breaks local hand-offs on purpose (every local waiter holds at any
/// release of its client, even with another session's node between): for
/// the test that shows the suite catches it. Debug builds only.
#[cfg(debug_assertions)]
#[doc(hidden)]
pub fn debug_break_local_handoffs(on: bool) {
    BROKEN.store(on, Ordering::SeqCst);
}

/// How many times a lock of `client` passed from one of its threads to
/// another at once, woken by the release itself rather than by the
/// server's notification of the delete (see the walker's "Local
/// hand-offs"). For tests, benches and metrics.
pub fn local_handoffs(client: &crate::Client) -> u64 {
    client
        .scope()
        .map(|s| LocalWaiters::of(&s).handed())
        .unwrap_or(0)
}

/// How many waiters of `client` are ready for a local hand-off now (for
/// tests that must know a waiter is parked before they release).
#[doc(hidden)]
pub fn local_waiters(client: &crate::Client) -> usize {
    client
        .scope()
        .map(|s| LocalWaiters::of(&s).registered())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_is_local_by_the_path_it_was_created_at_while_its_token_lives() {
        let waiters = Arc::new(LocalWaiters::default());
        let token = waiters.node("/d/_c_1234-lock-");
        assert!(waiters.is_local("/d/_c_1234-lock-0000000007"));
        assert!(waiters.is_local("/d/_c_1234-lock--2147483648")); // wrapped
        assert!(!waiters.is_local("/d/_c_9999-lock-0000000007"));
        assert!(!waiters.is_local("/e/_c_1234-lock-0000000007"));
        assert!(!waiters.is_local("short"));
        drop(token);
        assert!(!waiters.is_local("/d/_c_1234-lock-0000000007"));
    }
}
