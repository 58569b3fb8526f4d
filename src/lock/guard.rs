//! The guard: proof of holding a lock (or a semaphore lease), its fencing
//! token, and its release.

use crate::client::shared::Target;
use crate::client::{Client, SessionState, ZkError};
use crate::error::{Error, Result};

/// Whether a guard's lock is still held, as far as this process can know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockState {
    /// The session that holds the lock is connected: the lock is held.
    Held,
    /// The connection is down and the session may or may not still be alive
    /// on the server. Another process may already hold the lock (if the
    /// session turns out to have expired), so stop writing until it is
    /// `Held` again, or `Lost`.
    Suspended,
    /// The session that held the lock has ended (or the client was closed):
    /// the lock is gone and another process may hold it now.
    Lost,
}

/// Holds a lock (or a semaphore lease) until dropped or released.
///
/// Dropping the guard releases the lock without blocking: the delete of
/// the contender node is sent at once and retried by the client across
/// connection losses until the server confirms it. [`LockGuard::release`]
/// does the same but waits for the server and reports what happened.
///
/// A guard is `Send`: it may be released on another thread (ownership
/// belongs to the ZooKeeper session, not to a thread).
#[must_use = "the lock is released as soon as the guard is dropped"]
#[derive(Debug)]
pub struct LockGuard {
    client: Client,
    node: String,
    czxid: i64,
    /// The session epoch the node was created in (for ephemeral nodes).
    epoch: u64,
    ephemeral: bool,
    released: bool,
}

impl LockGuard {
    pub(crate) fn new(
        client: Client,
        node: String,
        czxid: i64,
        epoch: u64,
        ephemeral: bool,
    ) -> Self {
        LockGuard {
            client,
            node,
            czxid,
            epoch,
            ephemeral,
            released: false,
        }
    }

    /// The full path of the contender node (or lease node) this guard owns.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// A number that strictly increases from one holder of this lock to the
    /// next, across sessions, processes and clients, even when the lock's
    /// directory is deleted and re-created: the zxid of the transaction that
    /// created this guard's node. Hand it to the resource you protect and
    /// have it refuse writes carrying a smaller token than one it has seen.
    ///
    /// # Errors
    /// [`Error::LockLost`] once the lock is lost (see [`LockGuard::state`]):
    /// a token is only worth presenting while it may still be the newest.
    pub fn fencing_token(&self) -> Result<u64> {
        match self.state() {
            LockState::Lost => Err(self.lost()),
            _ => Ok(self.czxid as u64),
        }
    }

    /// Whether the lock is held, suspended or lost, from the session's
    /// state (no round trip).
    ///
    /// An ephemeral lock lives and dies with the session that created it. A
    /// persistent one (`.ephemeral(false)`) outlives sessions: it is `Held`
    /// while connected, `Suspended` while not, and `Lost` only when the
    /// client is closed.
    pub fn state(&self) -> LockState {
        let s = self.client.shared().session.lock();
        if s.state == SessionState::Closed || s.closing {
            return LockState::Lost;
        }
        if self.ephemeral && s.epoch != self.epoch {
            return LockState::Lost;
        }
        match s.state {
            SessionState::Connected => LockState::Held,
            _ => LockState::Suspended,
        }
    }

    /// Succeeds only if the lock is certainly held right now; call it before
    /// each write the lock protects.
    ///
    /// # Errors
    /// [`Error::ConnectionLoss`] while suspended, [`Error::LockLost`] once lost.
    pub fn check(&self) -> Result<()> {
        match self.state() {
            LockState::Held => Ok(()),
            LockState::Suspended => Err(Error::ConnectionLoss),
            LockState::Lost => Err(self.lost()),
        }
    }

    fn lost(&self) -> Error {
        Error::LockLost {
            path: self.node.clone(),
        }
    }

    /// Releases the lock and waits for the server to confirm it.
    ///
    /// # Errors
    /// [`Error::LockLost`] if the lock had been lost before this call (its
    /// session ended, or someone deleted its node): whatever it protected
    /// may have been touched by another holder meanwhile. A connection or
    /// timeout error if the delete could not be confirmed; it is then
    /// retried in the background until it is.
    pub fn release(mut self) -> Result<()> {
        self.released = true;
        if self.state() == LockState::Lost {
            return Err(self.lost());
        }
        match self.client.delete(&self.node, None) {
            Ok(()) => Ok(()),
            Err(e) if e.is(ZkError::NoNode) => Err(self.lost()),
            Err(e @ (Error::SessionLost | Error::Closed)) => {
                let _ = e;
                Err(self.lost())
            }
            Err(e) => {
                self.hand_to_background();
                Err(e)
            }
        }
    }

    fn hand_to_background(&self) {
        self.client.shared().delete_in_background(
            Target::Path(self.node.clone()),
            None,
            self.ephemeral.then_some(self.epoch),
        );
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if !self.released {
            self.hand_to_background();
        }
    }
}
