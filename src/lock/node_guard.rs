//! [`NodeGuard`]: proof of holding a [`super::NodeLock`], the value its
//! holder publishes, and its release.

use super::cleanup::settle;
use super::node_data;
use super::ownership::{LockState, Ownership};
use crate::client::scope::{Call, ReplyExt, Scope, Target};
use crate::error::{Error, Failure, Result, ZkError};
use crossbeam_channel::Receiver;
use std::sync::Arc;

/// The nodes (by creation zxid) a handle's guards let go of with their
/// delete left to the background. An acquire through the handle never
/// adopts such a node as "ours by id": its delete may be on its way and
/// would take the lock from the new holder. A node's creation zxid is
/// never reused, so the ids are kept even after the delete settled (whose
/// news may reach the I/O thread before an acquire reads the node); the
/// most recent [`Releasing::KEPT`] are enough.
#[derive(Clone, Default)]
pub(crate) struct Releasing(Arc<parking_lot::Mutex<std::collections::VecDeque<i64>>>);

impl Releasing {
    const KEPT: usize = 256;

    /// The node created in `czxid` was let go of.
    pub fn add(&self, czxid: i64) {
        let mut ids = self.0.lock();
        if ids.len() == Self::KEPT {
            ids.pop_front();
        }
        ids.push_back(czxid);
    }

    /// Whether the node created in `czxid` was let go of.
    pub fn contains(&self, czxid: i64) -> bool {
        self.0.lock().contains(&czxid)
    }
}

/// Holds a [`super::NodeLock`] until dropped or released.
///
/// Dropping it deletes the node if it is still the one this guard took (by
/// its creation zxid: a node someone else has made since is never
/// deleted), waiting
/// for the server while connected, a second at most, like a
/// [`super::LockGuard`]'s drop. It is `Send`.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct NodeGuard {
    own: Arc<Ownership>,
    czxid: i64,
    id: String,
    /// Where its handle learns of a delete left to the background.
    releasing: Releasing,
    released: bool,
}

impl std::fmt::Debug for NodeGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeGuard")
            .field("node", &self.own.node())
            .field("id", &self.id)
            .field("fencing_token", &self.czxid)
            .finish()
    }
}

impl NodeGuard {
    pub(crate) fn new(
        own: Arc<Ownership>,
        czxid: i64,
        id: String,
        _version: i32,
        releasing: Releasing,
    ) -> NodeGuard {
        own.set_waiter(None);
        NodeGuard {
            own,
            czxid,
            id,
            releasing,
            released: false,
        }
    }

    /// The lock's node.
    pub fn node(&self) -> &str {
        self.own.node()
    }

    /// The id written in the node.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The node's creation zxid: it strictly increases from one holder to
    /// the next (see [`super::LockGuard::fencing_token`]). A re-adopted
    /// persistent node keeps its token.
    ///
    /// # Errors
    /// [`Error::LockLost`] once the lock is lost.
    pub fn fencing_token(&self) -> Result<u64> {
        self.own.token(self.czxid)
    }

    /// Held, suspended or lost (see [`super::LockGuard::state`]): the node
    /// deleted or its session ended is `Lost`.
    pub fn state(&self) -> LockState {
        self.own.confirmed_state()
    }

    /// Succeeds only if the lock is certainly held right now.
    ///
    /// # Errors
    /// [`Error::ConnectionLoss`] while suspended, [`Error::LockLost`] once lost.
    pub fn check(&self) -> Result<()> {
        self.own.check()
    }

    /// Every later change of [`LockState`] (see
    /// [`super::LockGuard::state_changes`]).
    pub fn state_changes(&self) -> Receiver<LockState> {
        self.own.subscribe()
    }

    /// Runs `f` once, on the client's callback thread, if the lock is lost
    /// while held (see [`super::LockGuard::on_lost`]).
    pub fn on_lost(&self, f: impl FnOnce() + Send + 'static) {
        self.own.on_lost(Box::new(f));
    }

    /// Publishes `json` (raw JSON text) as the lock's value, k3zkutil's
    /// `set_lock_val`: the node's data becomes `{"id": <ours>, "val":
    /// <json>}`. Returns the node's new data version.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `json` is not JSON or is too large for
    /// the server; [`Error::LockLost`] if the node is no longer ours;
    /// connection and session errors.
    pub fn set_value(&self, json: &str) -> Result<i32> {
        let value = node_data::value(json)?;
        let data = node_data::encode(&self.id, Some(&value));
        let scope = self.scope()?;
        if data.len()
            > scope
                .max_request_size()
                .saturating_sub(self.node().len() + 256)
        {
            return Err(Error::InvalidArgument(format!(
                "a value of {} bytes is larger than ZooKeeper accepts",
                json.len()
            )));
        }
        loop {
            let version = self.ours(&scope)?;
            let set = Call::set_data(self.node(), data.clone(), Some(version));
            match scope.call(set, scope.request_deadline()).stat() {
                Ok(stat) => return Ok(stat.version),
                Err(Failure::Server(ZkError::BadVersion)) => continue, // changed: look again
                Err(Failure::Server(ZkError::NoNode)) => return Err(self.lost()),
                Err(f) => return Err(f.into_error(self.node())),
            }
        }
    }

    /// The value published in the node and its data version (k3zkutil's
    /// `get_lock_val`): `None` for JSON null.
    ///
    /// # Errors
    /// [`Error::LockLost`] if the node is gone; connection and session
    /// errors.
    pub fn value(&self) -> Result<(Option<String>, i32)> {
        let scope = self.scope()?;
        match scope
            .call(Call::get_data(self.node()), scope.request_deadline())
            .data()
        {
            Ok((data, stat)) => Ok((node_data::holder(&data, stat.version).val, stat.version)),
            Err(Failure::Server(ZkError::NoNode)) => Err(self.lost()),
            Err(f) => Err(f.into_error(self.node())),
        }
    }

    /// Releases the lock: deletes the node if it is still the one this
    /// guard took (same creation zxid, our id), at the version read.
    ///
    /// # Errors
    /// [`Error::LockLost`] if it had been lost (deleted, taken by another);
    /// connection and session errors (the delete is then left to the
    /// client's background deletes, as a drop does).
    pub fn release(mut self) -> Result<()> {
        self.released = true;
        self.own.release();
        let result = self.scope().and_then(|scope| {
            loop {
                let version = self.ours(&scope)?;
                let delete = Call::delete_at(self.node(), Some(version));
                match scope.call(delete, scope.request_deadline()).done() {
                    Ok(()) | Err(Failure::Server(ZkError::NoNode)) => return Ok(()),
                    Err(Failure::Server(ZkError::BadVersion)) => continue,
                    Err(f) => return Err(f.into_error(self.node())),
                }
            }
        });
        if matches!(result, Err(ref e) if !matches!(e, Error::LockLost { .. })) {
            let _ = self.hand_to_background();
        }
        result
    }

    /// The scope of the node's session (any session, for a persistent one).
    fn scope(&self) -> Result<Scope> {
        self.own
            .current_scope()
            .map_err(|f| f.into_error(self.node()))
    }

    /// The node's data version if the node is still ours: the one this
    /// guard took, with our id.
    fn ours(&self, scope: &Scope) -> Result<i32> {
        match scope
            .call(Call::get_data(self.node()), scope.request_deadline())
            .data()
        {
            Ok((data, stat)) => {
                let holder = node_data::holder(&data, stat.version);
                if stat.czxid == self.czxid && holder.id == self.id {
                    Ok(stat.version)
                } else {
                    Err(self.lost())
                }
            }
            Err(Failure::Server(ZkError::NoNode)) => Err(self.lost()),
            Err(f) => Err(f.into_error(self.node())),
        }
    }

    fn lost(&self) -> Error {
        self.own.lost()
    }

    /// Deletes the node in the background if it is still the one this
    /// guard took (its creation zxid: whatever its data became, a value set
    /// whose reply was lost included); the handle never takes it back.
    fn hand_to_background(&self) -> Receiver<()> {
        let target = Target::IfCreated {
            path: self.node().to_string(),
            czxid: self.czxid,
        };
        let settled = self
            .own
            .scope()
            .delete_in_background(target, self.own.ephemeral());
        self.releasing.add(self.czxid);
        settled
    }
}

impl Drop for NodeGuard {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        self.own.release();
        settle(self.own.scope(), self.hand_to_background());
    }
}
