//! Revocation: asking the holders ahead of us to give a lock up, or
//! removing them outright, as zktools and Curator do.
//!
//! The request travels in the contender node's data, as both peers write
//! it: zktools writes `unlock`, Curator writes `__REVOKE__`
//! (`Revoker.attemptRevoke`). Both are recognised whatever the flavour; a
//! handle writes Curator's for [`Flavor::Curator`] and zktools' otherwise.
//! Overwriting the data replaces the contender's identifier, so
//! `contenders()` then shows the marker.
//!
//! A holder learns of a request through the data watch on its own node (see
//! `ownership`): `LockGuard::revocation_requested`, `LockGuard::on_revoke`.
//! Answering is up to the holder (it releases when it is safe to);
//! [`Revoke::Immediate`] does not ask: it deletes the blocking nodes, so their
//! holders go `Lost` (at once if they watch their node) and the revoker holds
//! only once the server has deleted them.

use super::attempt::Attempt;
use super::name::Flavor;
use crate::client::Client;
use crate::client::scope::{Call, ReplyExt};
use crate::error::{Failure, Result, ZkError};
use crate::path;

/// How an acquire deals with the contenders that block it
/// (`.revoke(..)` on a lock handle).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Revoke {
    /// Ask each blocking contender to release (write the revocation request
    /// into its node), then wait as usual: the cooperative protocol of
    /// zktools' `revoke=True` and Curator's `Revoker`.
    Ask,
    /// Delete each blocking contender's node, then wait as usual (the
    /// revoker holds once the server has deleted them): zktools'
    /// `revoke=IMMEDIATE`. The holders lose their lock without being asked,
    /// and may still be writing until they hear of it: protect the resource
    /// with fencing tokens.
    Immediate,
}

/// zktools' request (`"unlock"`).
const ZKTOOLS: &[u8] = b"unlock";
/// Curator's request (`LockInternals.REVOKE_MESSAGE`).
const CURATOR: &[u8] = b"__REVOKE__";

/// The request a handle of `flavor` writes.
pub(crate) fn marker(flavor: Flavor) -> &'static [u8] {
    match flavor {
        Flavor::Curator => CURATOR,
        _ => ZKTOOLS,
    }
}

/// Whether a contender node's data is a revocation request (either
/// peer's).
pub(crate) fn is_request(data: &[u8]) -> bool {
    data == ZKTOOLS || data == CURATOR
}

/// Within an attempt: revokes the contender nodes `names` under `dir` the
/// way `how` says, pipelined; nodes already gone are skipped. Returns how
/// many were asked (or deleted).
pub(crate) fn revoke_in_attempt(
    at: &mut Attempt,
    dir: &str,
    names: &[String],
    how: Revoke,
    request: &[u8],
) -> Result<usize> {
    let calls: Vec<Call> = names.iter().map(|n| call(dir, n, how, request)).collect();
    let mut done = 0;
    for (name, reply) in names.iter().zip(at.round_trip_vec(calls)?) {
        match reply.done() {
            Ok(()) => done += 1,
            Err(Failure::Server(ZkError::NoNode)) => {}
            Err(f) => {
                at.retryable(f, &path::join(dir, name))?;
            }
        }
    }
    Ok(done)
}

/// Revokes every contender now queued under `dir` the way `how` says
/// (`revoke_all`: ask; `clear`: delete). Non-contender children are left
/// alone; a missing directory has none. Returns how many were revoked.
pub(crate) fn revoke_every(
    client: &Client,
    dir: &str,
    extra: &[String],
    how: Revoke,
    request: &[u8],
) -> Result<usize> {
    let children = match client.get_children(dir) {
        Ok(c) => c,
        Err(e) if e.is(ZkError::NoNode) => return Ok(0),
        Err(e) => return Err(e),
    };
    let queue = super::name::queue(&children, extra);
    if queue.is_empty() {
        return Ok(0);
    }
    let scope = client.scope().map_err(|f| f.into_error(dir))?;
    let calls = queue
        .iter()
        .map(|c| call(dir, &c.name, how, request))
        .collect();
    let deadline = scope.request_deadline();
    let mut done = 0;
    for reply in scope.round_trip(calls, deadline) {
        match reply.done() {
            Ok(()) => done += 1,
            Err(Failure::Server(ZkError::NoNode)) => {}
            Err(f) => return Err(f.into_error(dir)),
        }
    }
    Ok(done)
}

fn call(dir: &str, name: &str, how: Revoke, request: &[u8]) -> Call {
    let node = path::join(dir, name);
    match how {
        Revoke::Ask => Call::set_data(&node, request.to_vec(), None),
        Revoke::Immediate => Call::delete(&node),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_peers_requests_are_recognised() {
        assert!(is_request(b"unlock"));
        assert!(is_request(b"__REVOKE__"));
        assert!(!is_request(b"host:123"));
        assert!(!is_request(b""));
        assert_eq!(marker(Flavor::Kazoo), b"unlock");
        assert_eq!(marker(Flavor::Curator), b"__REVOKE__");
    }
}
