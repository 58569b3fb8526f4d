//! The guard: proof of holding a lock (or a semaphore lease), its fencing
//! token, and its release.

use crate::client::proto::Request;
use crate::client::background::Target;
use crate::client::shared::{Call, Failure, wait_reply};
use crate::client::{Client, SessionState, ZkError};
use crate::error::{Error, Result};
use crossbeam_channel::Receiver;
use std::time::{Duration, Instant};

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
/// Dropping the guard releases the lock: the delete of its node is sent at
/// once and, while connected, the drop waits for the server to confirm it
/// (one round trip; at most about a second), so when it returns every other
/// client sees the lock free. It never waits for a connection: when the
/// connection is down, the drop returns at once and the client retries the
/// delete until the server confirms it (before any later request of this
/// client). [`LockGuard::release`] waits for the server and reports what
/// happened.
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
        match self.delete(self.client.default_deadline()) {
            Ok(_) => Ok(()),
            Err(f) if self.gone(&f) => Err(self.lost()),
            Err(f) => {
                let _ = self.hand_to_background();
                Err(f.into_error(&self.node))
            }
        }
    }

    /// Whether a failed delete means the node is gone already (or can no
    /// longer be deleted by us): no point retrying it.
    fn gone(&self, f: &Failure) -> bool {
        match f {
            Failure::Server(ZkError::NoNode) | Failure::Closed => true,
            Failure::SessionLost => self.ephemeral,
            _ => false,
        }
    }

    /// Deletes the node, waiting for a connection until `connect_by`, and
    /// for the reply a request timeout at most. An ephemeral node is deleted
    /// in its own session or not at all.
    fn delete(&self, connect_by: Instant) -> Result<(), Failure> {
        let shared = self.client.shared();
        let epoch = if self.ephemeral {
            self.epoch
        } else {
            shared.current_epoch()?
        };
        let call = Call::new(Request::Delete {
            path: self.node.clone(),
            version: None,
        });
        let rx = shared.send(epoch, vec![call], connect_by)?.remove(0);
        wait_reply(&rx, self.client.default_deadline()).map(|_| ())
    }

    fn hand_to_background(&self) -> Receiver<()> {
        self.client.shared().delete_in_background(
            Target::Path(self.node.clone()),
            None,
            self.ephemeral.then_some(self.epoch),
        )
    }
}

/// How long a drop or an abandoned attempt waits for its node's delete to be
/// confirmed before leaving it to the background (it is sent at once).
pub(crate) const SETTLE_GRACE: Duration = Duration::from_secs(1);

/// Waits, while connected in session `epoch`, up to [`SETTLE_GRACE`] for a
/// background delete to settle: a healthy server confirms within a round
/// trip, so the node is gone for everyone when this returns; a partition
/// does not hold the caller up.
pub(crate) fn settle(client: &Client, settled: Receiver<()>, epoch: u64) {
    let connected = {
        let s = client.shared().session.lock();
        s.state == SessionState::Connected && s.epoch == epoch
    };
    if connected {
        let _ = settled.recv_timeout(SETTLE_GRACE);
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        settle(&self.client, self.hand_to_background(), self.epoch);
    }
}
