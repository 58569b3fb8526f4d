//! Inspection: who holds a lock and who waits, as the server sees it now
//! (zooky's `show`, the zk gem's `locked?` and `acquirable?`, Hazelcast's
//! `is_locked`). Everything here reads; nothing changes the queue.

use super::name::{self, Contender, Role};
use super::revocation;
use super::strategy::{Decision, has_read_lock, has_write_lock};
use crate::client::Client;
use crate::client::scope::{Call, ReplyExt};
use crate::error::{Failure, Result, ZkError};
use crate::path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What a queue entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntryRole {
    /// A shared contender (a reader).
    Reader,
    /// An exclusive contender (a writer, or an exclusive lock's contender).
    Writer,
    /// A semaphore lease.
    Lease,
}

/// One contender (or lease) of a lock, as [`LockInfo`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LockEntry {
    /// The node's full path.
    pub node: String,
    /// Reader, writer or lease.
    pub role: EntryRole,
    /// The node's sequence counter (`None` for a kazoo-layout lease, whose
    /// name has none).
    pub sequence: Option<i32>,
    /// The node's data: the contender's identifier (kazoo and zklock store
    /// it there; Curator its client's address), or the revocation request
    /// that replaced it.
    pub identifier: String,
    /// Whether it holds the lock (or the lease) now.
    pub holds: bool,
    /// The session that owns the node (0 for a persistent one).
    pub session: i64,
    /// When the node was created (the server's clock).
    pub created: SystemTime,
    /// The node's creation zxid: its holder's fencing token.
    pub fencing_token: u64,
    /// Whether someone asked it to release (its data is a revocation
    /// request).
    pub revocation_requested: bool,
}

/// A lock's queue, in order, holders first (`inspect()`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LockInfo {
    /// The lock's path.
    pub path: String,
    /// The entries in queue order (for a semaphore: the leases, then the
    /// contenders waiting for its internal lock).
    pub entries: Vec<LockEntry>,
}

impl LockInfo {
    /// The entries that hold the lock (or a lease).
    pub fn holders(&self) -> impl Iterator<Item = &LockEntry> {
        self.entries.iter().filter(|e| e.holds)
    }

    /// The entries that wait.
    pub fn waiters(&self) -> impl Iterator<Item = &LockEntry> {
        self.entries.iter().filter(|e| !e.holds)
    }

    /// Whether anybody holds it.
    pub fn is_locked(&self) -> bool {
        self.entries.iter().any(|e| e.holds)
    }
}

/// The contenders queued under `dir`, in order (none if it does not exist).
pub(crate) fn queue(client: &Client, dir: &str, extra: &[String]) -> Result<Vec<Contender>> {
    match client.get_children(dir) {
        Ok(children) => Ok(name::queue(&children, extra)),
        Err(e) if e.is(ZkError::NoNode) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Whether a new contender of `role` would hold at once behind `queue`,
/// by the strategies' own rule.
pub(crate) fn acquirable(queue: &[Contender], role: Role) -> bool {
    let mut with_me = queue.to_vec();
    with_me.push(Contender {
        name: String::new(),
        seq: i32::MAX,
        role,
    });
    holds(&with_me, with_me.len() - 1)
}

/// Whether the contender named `name` is in `queue` and holds there.
pub(crate) fn holds_in(queue: &[Contender], name: &str) -> bool {
    queue
        .iter()
        .position(|c| c.name == name)
        .is_some_and(|i| holds(queue, i))
}

/// Whether the contender at `i` holds, by its own role's rule.
fn holds(queue: &[Contender], i: usize) -> bool {
    let rule = match queue.get(i).map(|c| c.role) {
        Some(Role::Reader) => has_read_lock,
        _ => has_write_lock,
    };
    rule(queue, i) == Decision::Holds
}

/// The queue under `dir`, with every node's data and stat (read in one
/// round trip after the listing).
pub(crate) fn inspect(client: &Client, dir: &str, extra: &[String]) -> Result<LockInfo> {
    let queue = queue(client, dir, extra)?;
    let holding: Vec<bool> = (0..queue.len()).map(|i| holds(&queue, i)).collect();
    let entries = read_entries(
        client,
        dir,
        queue.iter().zip(holding).map(|(c, h)| {
            let role = match c.role {
                Role::Reader => EntryRole::Reader,
                _ => EntryRole::Writer,
            };
            (c.name.clone(), role, Some(c.seq), h)
        }),
    )?;
    Ok(LockInfo {
        path: dir.to_string(),
        entries,
    })
}

/// One entry to read: name, role, sequence, holds.
pub(crate) type Wanted = (String, EntryRole, Option<i32>, bool);

/// Reads the data and stat of each wanted node under `dir`, pipelined;
/// nodes gone meanwhile are left out.
pub(crate) fn read_entries(
    client: &Client,
    dir: &str,
    wanted: impl Iterator<Item = Wanted>,
) -> Result<Vec<LockEntry>> {
    let wanted: Vec<Wanted> = wanted.collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let scope = client.scope().map_err(|f| f.into_error(dir))?;
    let calls = wanted
        .iter()
        .map(|(n, ..)| Call::get_data(&path::join(dir, n)))
        .collect();
    let replies = scope.round_trip(calls, scope.request_deadline());
    let mut out = Vec::with_capacity(wanted.len());
    for ((name, role, sequence, holds), reply) in wanted.into_iter().zip(replies) {
        let (data, stat) = match reply.data() {
            Ok(d) => d,
            Err(Failure::Server(ZkError::NoNode)) => continue,
            Err(f) => return Err(f.into_error(dir)),
        };
        out.push(LockEntry {
            node: path::join(dir, &name),
            role,
            sequence,
            identifier: String::from_utf8_lossy(&data).into_owned(),
            holds,
            session: stat.ephemeral_owner,
            created: UNIX_EPOCH + Duration::from_millis(stat.ctime.max(0) as u64),
            fencing_token: stat.czxid as u64,
            revocation_requested: revocation::is_request(&data),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::strategy::test_queue as q;
    use super::*;

    #[test]
    fn acquirable_follows_the_rules() {
        assert!(acquirable(&q(""), Role::Writer));
        assert!(acquirable(&q(""), Role::Reader));
        assert!(acquirable(&q("rr"), Role::Reader));
        assert!(!acquirable(&q("rr"), Role::Writer));
        assert!(!acquirable(&q("rw"), Role::Reader));
        assert!(!acquirable(&q("w"), Role::Reader));
    }
}
