//! The guard: proof of holding a lock (or a semaphore lease), its fencing
//! token, and its release.

use super::cleanup::settle;
use super::handoff::{LocalNode, LocalWaiters};
use super::inspection;
use super::name;
use super::ownership::{LockState, Ownership};
use crate::client::scope::{Call, ReplyExt, Scope, Target, wait_reply};
use crate::error::{Error, Failure, Result, ZkError};
use crate::path;
use crossbeam_channel::Receiver;
use std::sync::Arc;
use std::time::Duration;

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
    held: Held,
    released: bool,
    /// The node, known to this client's local hand-offs.
    _local: Option<LocalNode>,
}

/// What the guard holds, for [`LockGuard::verify`] and local hand-offs.
#[derive(Debug, Clone)]
pub(crate) enum Held {
    /// A place in a lock's queue (recognising these extra writer markers):
    /// a writer's (holding it means every node ahead had gone) or a
    /// reader's.
    Queue { extra: Vec<String>, writer: bool },
    /// A semaphore lease.
    Lease,
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
    pub(crate) fn new(own: Arc<Ownership>, czxid: i64, held: Held) -> Self {
        own.set_waiter(None);
        LockGuard {
            own,
            czxid,
            held,
            released: false,
            _local: None,
        }
    }

    /// The guard keeps its node known to this client's local hand-offs.
    pub(crate) fn known_locally(mut self, local: Option<LocalNode>) -> Self {
        self._local = local;
        self
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
        self.own.token(self.czxid)
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
        self.own.confirmed_state()
    }

    /// What this process knows of the lock now, without asking the server
    /// anything (not even confirming the watch): what a re-entry goes by.
    pub(crate) fn known_state(&self) -> LockState {
        self.own.state()
    }

    /// Succeeds only if the lock is certainly held right now; call it before
    /// each write the lock protects. It costs a mutex, not a round trip
    /// (except the first question a guard asks: see [`LockGuard::state`]).
    ///
    /// # Errors
    /// [`Error::ConnectionLoss`] while suspended, [`Error::LockLost`] once lost.
    pub fn check(&self) -> Result<()> {
        self.own.check()
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

    /// Whether someone asked this holder to release the lock (a revoker's
    /// request in the node's data: zktools' `unlock` or Curator's
    /// `__REVOKE__`; see [`crate::Revoke`]). The holder still holds it until
    /// it releases. Like [`LockGuard::state`], the first question a guard
    /// asks waits for its own-node watch to be confirmed (one round trip).
    pub fn revocation_requested(&self) -> bool {
        self.own.revocation_requested()
    }

    /// Runs `f` once, on the client's callback thread, when someone asks
    /// this holder to release the lock (at once if someone has already);
    /// never after the guard is released. A panic in `f` is caught.
    ///
    /// ```
    /// # fn main() -> zklock::Result<()> {
    /// # let client = zklock::Client::connect(&zklock::doc_hosts())?;
    /// # let lock = zklock::Lock::new(&client, "/zklock-doc/locks/revocable")?;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// let guard = lock.acquire()?;
    /// let asked = Arc::new(AtomicBool::new(false));
    /// let a = asked.clone();
    /// guard.on_revoke(move || a.store(true, Ordering::SeqCst));
    /// // ... between steps: if asked.load(..) { finish up and drop(guard) } ...
    /// # Ok(()) }
    /// ```
    pub fn on_revoke(&self, f: impl FnOnce() + Send + 'static) {
        self.own.on_revoke(Box::new(f));
    }

    /// Checks with the server that the lock is still held: after a `sync`
    /// (so a lagging server cannot answer for the past), the node is there,
    /// is the one this guard created, belongs to this session, and by the
    /// lock's rule still holds (the zk gem's `assert!`, zktools'
    /// `has_lock`). One round trip; [`LockGuard::check`] is the cheap local
    /// one.
    ///
    /// # Errors
    /// [`Error::LockLost`] if any of that is not so; connection and session
    /// errors if the server could not be asked.
    pub fn verify(&self) -> Result<()> {
        if self.own.state() == LockState::Lost {
            return Err(self.lost());
        }
        let node = self.own.node();
        let scope = self.own.current_scope().map_err(|f| f.into_error(node))?;
        let dir = path::parent(node);
        let calls = vec![Call::sync(dir), Call::exists(node), Call::list(dir)];
        let mut replies = scope
            .round_trip(calls, scope.request_deadline())
            .into_iter();
        let (synced, stat, listing) = (replies.next(), replies.next(), replies.next());
        let missing = || Failure::Protocol("a reply went missing".into());
        let stat = match synced
            .ok_or_else(missing)
            .and_then(|s| s.done())
            .and_then(|()| stat.ok_or_else(missing).and_then(|r| r.stat()))
        {
            Ok(s) => s,
            Err(Failure::Server(ZkError::NoNode)) => return Err(self.lost()),
            Err(f) => return Err(f.into_error(node)),
        };
        let ours = stat.czxid == self.czxid
            && (!self.own.ephemeral() || scope.session_id() == Some(stat.ephemeral_owner));
        let holds = match &self.held {
            Held::Lease => true,
            Held::Queue { extra, .. } => {
                let children = listing
                    .ok_or_else(missing)
                    .and_then(|r| r.children())
                    .map_err(|f| f.into_error(dir))?;
                inspection::holds_in(&name::queue(&children, extra), path::basename(node))
            }
        };
        if ours && holds {
            Ok(())
        } else {
            Err(self.lost())
        }
    }

    fn lost(&self) -> Error {
        self.own.lost()
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

    /// Releases the lock without waiting: the delete is sent at once (or
    /// as soon as the client is connected again) and retried until the
    /// server confirms it, and the [`Releasing`] tells when it has
    /// (zktools' `release(func)`).
    pub fn release_in_background(mut self) -> Releasing {
        self.released = true;
        let was = self.own.state();
        self.own.release();
        let settled = if was == LockState::Lost {
            crossbeam_channel::bounded(0).1 // nothing to wait for
        } else {
            self.hand_to_background()
        };
        Releasing {
            settled,
            lost: (was == LockState::Lost).then(|| self.own.node().to_string()),
            scope: self.own.scope().clone(),
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
        // The waiters are woken once the delete is queued on the
        // connection, ahead of anything they may send, while it is written.
        let mut sent = scope.send_then(vec![Call::delete(self.own.node())], deadline, || {
            self.hand_off(&scope)
        })?;
        let rx = sent
            .pop()
            .ok_or_else(|| Failure::Protocol("a reply went missing".into()))?;
        wait_reply(&rx, deadline).done()
    }

    fn hand_to_background(&self) -> Receiver<()> {
        let settled = self.own.scope().delete_in_background(
            Target::Path(self.own.node().to_string()),
            self.own.ephemeral(),
        );
        self.hand_off(self.own.scope());
        settled
    }

    /// The delete is queued on the connection: a waiter of this session
    /// whose blocker is our node may hold now (see the walker's "Local hand-offs").
    fn hand_off(&self, scope: &Scope) {
        let writer_of = match &self.held {
            Held::Queue {
                extra,
                writer: true,
            } => Some(extra.as_slice()),
            _ => None,
        };
        LocalWaiters::of(scope).released(scope, self.own.node(), writer_of);
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

/// A release under way, from [`LockGuard::release_in_background`].
#[must_use = "a release goes on without it; keep it to learn when it is confirmed"]
pub struct Releasing {
    /// Disconnects once the node is gone (the server confirmed the delete,
    /// or the node's session ended).
    settled: Receiver<()>,
    /// The node, if the lock was lost before the release.
    lost: Option<String>,
    /// The session the node belongs to.
    scope: Scope,
}

impl std::fmt::Debug for Releasing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Releasing")
            .field("confirmed", &self.is_confirmed())
            .field("lost", &self.lost)
            .finish()
    }
}

impl Releasing {
    /// Whether the server has confirmed the release.
    pub fn is_confirmed(&self) -> bool {
        matches!(
            self.settled.try_recv(),
            Err(crossbeam_channel::TryRecvError::Disconnected)
        )
    }

    /// Disconnects once the release is confirmed: for
    /// `crossbeam_channel::select!`.
    pub fn receiver(&self) -> &Receiver<()> {
        &self.settled
    }

    /// Blocks until the server confirmed the release.
    ///
    /// # Errors
    /// [`Error::LockLost`] if the lock had been lost before the release.
    pub fn wait(self) -> Result<()> {
        let _ = self.settled.recv();
        self.outcome()
    }

    /// As [`Releasing::wait`], for `timeout` at most.
    ///
    /// # Errors
    /// [`Error::Timeout`] if not yet confirmed (the delete goes on);
    /// [`Error::LockLost`].
    pub fn wait_timeout(&self, timeout: Duration) -> Result<()> {
        match self.settled.recv_timeout(timeout) {
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => Err(Error::Timeout),
            _ => self.outcome(),
        }
    }

    /// The deadline of a wait for the server: its request timeout.
    pub(crate) fn request_deadline(&self) -> std::time::Instant {
        self.scope.request_deadline()
    }

    /// Waits as a dropped guard does: while connected, a second at most.
    pub(crate) fn settle(self) {
        settle(&self.scope, self.settled);
    }

    fn outcome(&self) -> Result<()> {
        match &self.lost {
            Some(path) => Err(Error::LockLost { path: path.clone() }),
            None => Ok(()),
        }
    }
}
