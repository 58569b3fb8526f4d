//! The guard: proof of holding a lock (or a semaphore lease), its fencing
//! token, and its release.

use super::cleanup::settle;
use super::ownership::{LockState, Ownership};
use crate::client::scope::{Call, ReplyExt, Target};
use crate::error::{Error, Failure, Result, ZkError};
use crossbeam_channel::Receiver;
use std::sync::Arc;

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
pub struct LockGuard {
    own: Arc<Ownership>,
    czxid: i64,
    released: bool,
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard")
            .field("node", &self.own.node())
            .field("fencing_token", &self.czxid)
            .field("state", &self.own.state())
            .finish()
    }
}

impl LockGuard {
    pub(crate) fn new(own: Arc<Ownership>, czxid: i64) -> Self {
        own.set_waiter(None);
        LockGuard {
            own,
            czxid,
            released: false,
        }
    }

    /// The full path of the contender node (or lease node) this guard owns.
    pub fn node(&self) -> &str {
        self.own.node()
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

    /// Whether the lock is held, suspended or lost. It combines the
    /// session's state with a watch on the guard's own node, so a deletion
    /// of the node by someone else is seen as soon as the server reports it.
    ///
    /// A waiting acquire may have set that watch already (when it could take
    /// the lock without listing again). Otherwise the first call to this,
    /// `check` or `fencing_token` sets it and waits for the server to confirm
    /// it: one round trip, paid once per guard, so that even the first answer
    /// is true when someone deleted the node before anyone asked. Later calls
    /// cost a mutex, no round trip. While the connection is down nothing is
    /// waited for (the answer is `Suspended`); a server that does not confirm
    /// the watch within the request timeout gets `Suspended` too.
    ///
    /// An ephemeral lock lives and dies with the session that created it,
    /// and with its node. A persistent one (`.ephemeral(false)`) outlives
    /// sessions: it is `Held` while connected, `Suspended` while not, and
    /// `Lost` only when its node is deleted or the client is closed.
    pub fn state(&self) -> LockState {
        let confirmed = self.own.confirm();
        match self.own.state() {
            LockState::Held if !confirmed => LockState::Suspended,
            state => state,
        }
    }

    /// Succeeds only if the lock is certainly held right now; call it before
    /// each write the lock protects. It costs a mutex, not a round trip
    /// (except the first question a guard asks: see [`LockGuard::state`]).
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

    /// A channel that receives every later change of [`LockState`]: a
    /// suspension, a recovery, and finally `Lost`, after which it closes.
    /// It also closes when the guard is released. Fed from the client's
    /// event thread the moment the change is known; it never blocks it.
    ///
    /// ```
    /// # fn main() -> zklock::Result<()> {
    /// # let client = zklock::Client::connect(&zklock::doc_hosts())?;
    /// # let lock = zklock::Lock::new(&client, "/zklock-doc/locks/changes")?;
    /// let guard = lock.acquire()?;
    /// let changes = guard.state_changes();
    /// std::thread::spawn(move || {
    ///     for state in changes {
    ///         eprintln!("the lock is now {state:?}");
    ///     }
    /// });
    /// # Ok(()) }
    /// ```
    pub fn state_changes(&self) -> Receiver<LockState> {
        self.own.subscribe()
    }

    /// Runs `f` once if the lock is lost while this guard holds it (its
    /// session ended, its node was deleted, or the client was closed), at
    /// once if it is lost already; never after the guard is released. `f`
    /// runs on the client's callback thread: not the caller's, and not the
    /// event thread, so a slow or panicking `f` cannot delay the client.
    ///
    /// ```
    /// # fn main() -> zklock::Result<()> {
    /// # let client = zklock::Client::connect(&zklock::doc_hosts())?;
    /// # let lock = zklock::Lock::new(&client, "/zklock-doc/locks/on-lost")?;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// let guard = lock.acquire()?;
    /// let stop = Arc::new(AtomicBool::new(false));
    /// let s = stop.clone();
    /// guard.on_lost(move || s.store(true, Ordering::SeqCst));
    /// // ... the critical section checks `stop` between steps ...
    /// # Ok(()) }
    /// ```
    pub fn on_lost(&self, f: impl FnOnce() + Send + 'static) {
        self.own.on_lost(Box::new(f));
    }

    fn lost(&self) -> Error {
        Error::LockLost {
            path: self.own.node().to_string(),
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
        let was = self.own.state();
        self.own.release();
        if was == LockState::Lost {
            return Err(self.lost());
        }
        match self.delete() {
            Ok(_) => Ok(()),
            Err(f) if self.gone(&f) => Err(self.lost()),
            Err(f) => {
                let _ = self.hand_to_background();
                Err(f.into_error(self.own.node()))
            }
        }
    }

    /// Whether a failed delete means the node is gone already (or can no
    /// longer be deleted by us): no point retrying it.
    fn gone(&self, f: &Failure) -> bool {
        match f {
            Failure::Server(ZkError::NoNode) | Failure::Closed => true,
            Failure::SessionLost => self.own.ephemeral(),
            _ => false,
        }
    }

    /// Deletes the node, waiting for a connection and the reply a request
    /// timeout at most. An ephemeral node is deleted in its own session or
    /// not at all.
    fn delete(&self) -> Result<(), Failure> {
        let scope = self.own.current_scope()?;
        let deadline = scope.request_deadline();
        scope.call(Call::delete(self.own.node()), deadline).done()
    }

    fn hand_to_background(&self) -> Receiver<()> {
        self.own.scope().delete_in_background(
            Target::Path(self.own.node().to_string()),
            self.own.ephemeral(),
        )
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        self.own.release();
        settle(self.own.scope(), self.hand_to_background());
    }
}
