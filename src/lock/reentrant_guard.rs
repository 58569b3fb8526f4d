//! [`ReentrantGuard`]: one hold of a reentrant lock by one thread.

use super::guard::LockGuard;
use super::holds::{Hold, Holds, Side};
use super::ownership::LockState;
use crate::error::{Error, Result};
use crossbeam_channel::Receiver;
use std::marker::PhantomData;
use std::sync::Arc;
use std::thread::ThreadId;

/// One hold of a reentrant lock ([`crate::ReentrantLock`], or a side of a
/// [`crate::ReentrantReadWriteLock`]) by the thread that acquired it.
///
/// Every nested guard of one ownership shares its contender node: the same
/// fencing token, the same state; losing the lock makes every one of them
/// report `Lost`. The node is deleted when the last of them goes, in any
/// order. A guard is `!Send`: a hold belongs to its thread, as with
/// parking_lot's `ReentrantMutexGuard`.
///
/// ```compile_fail
/// # fn main() -> zklock::Result<()> {
/// # let client = zklock::Client::connect(&zklock::doc_hosts())?;
/// let lock = zklock::ReentrantLock::new(&client, "/zklock-doc/locks/mine")?;
/// let guard = lock.acquire()?;
/// std::thread::spawn(move || drop(guard)); // a hold cannot change threads
/// # Ok(()) }
/// ```
#[must_use = "the hold is given up as soon as the guard is dropped"]
pub struct ReentrantGuard {
    holds: Arc<Holds>,
    hold: Arc<Hold>,
    side: Side,
    thread: ThreadId,
    released: bool,
    /// `!Send` and `!Sync`: the hold is this thread's.
    _thread_bound: PhantomData<*const ()>,
}

impl std::fmt::Debug for ReentrantGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReentrantGuard")
            .field("node", &self.hold.node)
            .field("side", &self.side)
            .field("state", &self.hold.with(|g| g.known_state()))
            .finish()
    }
}

impl ReentrantGuard {
    pub(crate) fn new(holds: Arc<Holds>, hold: Arc<Hold>, side: Side) -> Self {
        ReentrantGuard {
            holds,
            hold,
            side,
            thread: std::thread::current().id(),
            released: false,
            _thread_bound: PhantomData,
        }
    }

    fn lost(&self) -> Error {
        Error::LockLost {
            path: self.hold.node.clone(),
        }
    }

    /// The full path of the contender node this hold shares (for a
    /// downgraded read, the write node).
    pub fn node(&self) -> &str {
        &self.hold.node
    }

    /// The ownership's fencing token: the same for every re-entry of one
    /// ownership (see [`LockGuard::fencing_token`]).
    ///
    /// # Errors
    /// [`Error::LockLost`] once the lock is lost.
    pub fn fencing_token(&self) -> Result<u64> {
        self.hold
            .with(LockGuard::fencing_token)
            .unwrap_or_else(|| Err(self.lost()))
    }

    /// Whether the lock is held, suspended or lost (see
    /// [`LockGuard::state`]); the same for every nested guard.
    pub fn state(&self) -> LockState {
        self.hold.with(LockGuard::state).unwrap_or(LockState::Lost)
    }

    /// Succeeds only if the lock is certainly held right now (see
    /// [`LockGuard::check`]).
    ///
    /// # Errors
    /// [`Error::ConnectionLoss`] while suspended, [`Error::LockLost`] once lost.
    pub fn check(&self) -> Result<()> {
        self.hold
            .with(LockGuard::check)
            .unwrap_or_else(|| Err(self.lost()))
    }

    /// Checks with the server that the lock is still held (see
    /// [`LockGuard::verify`]).
    ///
    /// # Errors
    /// [`Error::LockLost`] if it is not; connection and session errors.
    pub fn verify(&self) -> Result<()> {
        self.hold
            .with(LockGuard::verify)
            .unwrap_or_else(|| Err(self.lost()))
    }

    /// Every later change of the ownership's [`LockState`] (see
    /// [`LockGuard::state_changes`]); it closes when the last nested guard
    /// goes.
    pub fn state_changes(&self) -> Receiver<LockState> {
        self.hold.with(LockGuard::state_changes).unwrap_or_else(|| {
            let (_, closed) = crossbeam_channel::bounded(0);
            closed
        })
    }

    /// Runs `f` once if the ownership is lost while held (see
    /// [`LockGuard::on_lost`]).
    pub fn on_lost(&self, f: impl FnOnce() + Send + 'static) {
        self.hold.with(|g| g.on_lost(f));
    }

    /// Whether someone asked this holder to release the lock (see
    /// [`LockGuard::revocation_requested`]).
    pub fn revocation_requested(&self) -> bool {
        self.hold
            .with(LockGuard::revocation_requested)
            .unwrap_or(false)
    }

    /// Runs `f` once when someone asks this holder to release the lock (see
    /// [`LockGuard::on_revoke`]).
    pub fn on_revoke(&self, f: impl FnOnce() + Send + 'static) {
        self.hold.with(|g| g.on_revoke(f));
    }

    /// Gives up this hold; the last of the ownership's guards releases the
    /// lock and waits for the server to confirm it.
    ///
    /// # Errors
    /// [`Error::LockLost`] if the lock was lost before this call, reported by
    /// the first guard of the ownership released after the loss, not by
    /// every one. For the last guard, those of [`LockGuard::release`].
    pub fn release(mut self) -> Result<()> {
        self.released = true;
        let lost = self.hold.known_lost();
        let result = match self.holds.leave(self.thread, self.side, &self.hold) {
            Some(guard) => guard.release(),
            None if lost => Err(self.lost()),
            None => Ok(()),
        };
        match result {
            Err(Error::LockLost { .. }) if !self.hold.first_report_of_loss() => Ok(()),
            other => other,
        }
    }
}

impl Drop for ReentrantGuard {
    fn drop(&mut self) {
        if !self.released {
            // The last guard's drop releases the lock (see `LockGuard`'s).
            drop(self.holds.leave(self.thread, self.side, &self.hold));
        }
    }
}
