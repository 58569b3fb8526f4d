//! Clean-up of what locks leave on the server once nobody uses them: a
//! lock's directory (`remove`), a semaphore's nodes (`destroy`, the way to
//! change its size), and every empty lock directory under a root
//! ([`cleanup`], as the zk gem's `Locker.cleanup`).
//!
//! None of it can delete a live contender: a directory is deleted only
//! while it has no child, and the server refuses to delete one that has
//! any (`NotEmpty`), so a contender arriving meanwhile keeps it.

use super::name;
use crate::client::{Client, Op, OpResult};
use crate::error::{Error, Result, ZkError};
use crate::path;

/// Deletes `dir` if it has no child (a contender or anything else);
/// whether this call deleted it. A missing directory: `false`.
pub(crate) fn remove_dir(client: &Client, dir: &str) -> Result<bool> {
    match client.delete(dir, None) {
        Ok(()) => Ok(true),
        Err(e) if e.is(ZkError::NotEmpty) || e.is(ZkError::NoNode) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Deletes `nodes` (children before their parents) in one transaction if
/// none of them has a child left, else nothing; whether they were deleted.
/// Nodes that do not exist are skipped. `busy` children (leases, queued
/// contenders) make the transaction fail with `NotEmpty`: nothing is
/// deleted then.
pub(crate) fn remove_all(client: &Client, nodes: &[String]) -> Result<bool> {
    let mut ops = Vec::new();
    for n in nodes {
        if client.exists(n)?.is_some() {
            ops.push(Op::delete(n, None));
        }
    }
    if ops.is_empty() {
        return Ok(false);
    }
    match client.multi(&ops) {
        Ok(results) => Ok(results.iter().all(|r| matches!(r, OpResult::Delete))),
        // Someone arrived (or something went) meanwhile: nothing was done.
        Err(e) if e.is(ZkError::NotEmpty) || e.is(ZkError::NoNode) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes every empty lock directory under `root` (not `root` itself),
/// bottom-up, and returns how many it removed.
///
/// A lock directory here is a persistent node with no data and no child
/// that is not itself a contender (a contender of any known format is
/// never touched, even a persistent one). A directory with any child is
/// kept; one that gains a child while this runs is kept too (the server
/// refuses the delete), and one that changed is kept (versioned delete).
/// Directories emptied by this call are removed in the same call.
///
/// ```
/// # fn main() -> zklock::Result<()> {
/// # let client = zklock::Client::connect(&zklock::doc_hosts())?;
/// client.ensure_path("/zklock-doc/cleanup/a/b")?;
/// let removed = zklock::cleanup(&client, "/zklock-doc/cleanup")?;
/// assert!(removed >= 2);
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`Error::InvalidPath`] for a bad root; connection and session errors.
pub fn cleanup(client: &Client, root: &str) -> Result<usize> {
    path::validate(root)?;
    let mut removed = 0;
    // Depth-first, children before their parent; an explicit stack, so a
    // deep tree cannot overflow ours.
    let mut stack: Vec<(String, bool)> = vec![(root.to_string(), false)];
    while let Some((node, visited)) = stack.pop() {
        if !visited {
            stack.push((node.clone(), true));
            for child in children(client, &node)? {
                if name::parse(&child).is_none() {
                    stack.push((path::join(&node, &child), false));
                }
            }
        } else if node != root && remove_if_empty_dir(client, &node)? {
            removed += 1;
        }
    }
    Ok(removed)
}

fn children(client: &Client, node: &str) -> Result<Vec<String>> {
    match client.get_children(node) {
        Ok(c) => Ok(c),
        Err(e) if e.is(ZkError::NoNode) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Deletes `node` if it is an empty lock directory now (see [`cleanup`]).
fn remove_if_empty_dir(client: &Client, node: &str) -> Result<bool> {
    let Some(stat) = client.exists(node)? else {
        return Ok(false);
    };
    if stat.num_children > 0 || stat.data_length > 0 || stat.ephemeral_owner != 0 {
        return Ok(false);
    }
    match client.delete(node, Some(stat.version)) {
        Ok(()) => Ok(true),
        Err(Error::ZooKeeper {
            code: ZkError::NotEmpty | ZkError::NoNode | ZkError::BadVersion,
            ..
        }) => Ok(false),
        Err(e) => Err(e),
    }
}
