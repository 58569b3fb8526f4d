//! Background acquisition: [`Pending`], an acquire that runs while the
//! caller goes on (zktools' `ZkAsyncLock`), and the callback form behind
//! `acquire_then`. Every background attempt runs on its client's one
//! driver thread (see [`super::driver`]); this file is what the caller
//! holds, and how an outcome reaches it.
//!
//! An outcome is delivered once. Whoever abandons an attempt (dropping the
//! [`Pending`], cancelling it) and whoever ends it (the driver, with a
//! guard or an error) meet under one lock: a guard the caller can no
//! longer take is released there, and an attempt that ends without one
//! has deleted its node before its outcome is delivered. So a cancel racing
//! with the acquisition yields the guard or leaves no node, never both and
//! never neither.

use super::driver::{Driver, Task};
use super::guard::LockGuard;
use super::wait::{Canceller, Notify};
use crate::client::scope::Scope;
use crate::error::{Error, Result};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::Mutex;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

/// The steps of one background attempt, whatever the lock kind.
pub(crate) trait Steps: Send + 'static {
    /// Sends the first requests without waiting for their replies.
    fn begin(&mut self);
    /// Runs as far as it can: the guard, an error, or "parked".
    fn poll(&mut self) -> Result<Poll<LockGuard>>;
    /// The contender node, once it exists.
    fn node(&self) -> Option<String>;
    /// What cancels this attempt alone.
    fn canceller(&self) -> Canceller;
}

enum State {
    Running,
    Done(Result<LockGuard>),
    /// The outcome went to the caller.
    Taken,
    /// The caller let go: an outcome arriving now is dropped (a guard is
    /// released).
    Abandoned,
}

/// What a [`Pending`] and its attempt share.
struct Slot {
    state: Mutex<State>,
    node: Mutex<Option<String>>,
    /// Sends once when the outcome is in, then disconnects.
    ready: Mutex<Option<Sender<()>>>,
}

impl Slot {
    fn deliver(&self, outcome: Result<LockGuard>) {
        let unwanted = {
            let mut state = self.state.lock();
            match *state {
                State::Abandoned => Some(outcome),
                _ => {
                    *state = State::Done(outcome);
                    None
                }
            }
        };
        drop(unwanted); // a guard nobody takes is released here
        if let Some(tx) = self.ready.lock().take() {
            let _ = tx.send(());
        }
    }
}

/// Where an attempt's outcome goes.
enum Deliver {
    Pending(Arc<Slot>),
    Callback(Scope, Box<dyn FnOnce(Result<LockGuard>) + Send>),
}

/// A background attempt as the driver runs it.
struct Job<St: Steps> {
    /// `None` once ended (dropped before the outcome goes out, so a node
    /// left by a failed attempt is deleted first).
    steps: Option<St>,
    deliver: Option<Deliver>,
}

impl Deliver {
    fn send(self, outcome: Result<LockGuard>) {
        match self {
            Deliver::Pending(slot) => slot.deliver(outcome),
            Deliver::Callback(scope, f) => scope.run_callback(Box::new(move || f(outcome))),
        }
    }
}

impl<St: Steps> Job<St> {
    fn end(&mut self, outcome: Result<LockGuard>) {
        self.steps = None;
        if let Some(d) = self.deliver.take() {
            d.send(outcome);
        }
    }
}

impl<St: Steps> Task for Job<St> {
    fn begin(&mut self) {
        if let Some(s) = &mut self.steps {
            s.begin();
        }
    }

    fn poll(&mut self) -> bool {
        let Some(steps) = &mut self.steps else {
            return true;
        };
        let polled = steps.poll();
        if let (Ok(Poll::Pending), Some(Deliver::Pending(slot))) = (&polled, &self.deliver) {
            *slot.node.lock() = steps.node();
        }
        match polled {
            Ok(Poll::Pending) => false,
            Ok(Poll::Ready(guard)) => {
                if let Some(Deliver::Pending(slot)) = &self.deliver {
                    *slot.node.lock() = Some(guard.node().to_string());
                }
                self.end(Ok(guard));
                true
            }
            Err(e) => {
                self.end(Err(e));
                true
            }
        }
    }
}

/// Starts `make`'s attempt on `scope`'s driver, its outcome going to
/// `deliver` (a failure to start too). `make` gets the wake-up notifier to
/// register its waiter with.
fn spawn<St: Steps>(
    scope: Result<Scope>,
    make: impl FnOnce(Notify) -> Result<St>,
    deliver: Deliver,
) -> Option<Canceller> {
    let started = scope.and_then(|scope| {
        let driver = Driver::of(&scope);
        let (id, notify) = driver.register().map_err(no_thread)?;
        Ok((driver, id, make(notify)?))
    });
    let (driver, id, steps) = match started {
        Ok(s) => s,
        Err(e) => {
            deliver.send(Err(e));
            return None;
        }
    };
    let canceller = steps.canceller();
    let job = Job {
        steps: Some(steps),
        deliver: Some(deliver),
    };
    // The thread was started by `register`, and lives as long as the client.
    if let Err(e) = driver.start(id, Box::new(job)) {
        log::error!("zklock: cannot start a background acquire: {e}");
    }
    Some(canceller)
}

fn no_thread(e: std::io::Error) -> Error {
    Error::InvalidArgument(format!("cannot start the background thread: {e}"))
}

/// Starts a background attempt; what it ends with is the [`Pending`]'s.
pub(crate) fn pending<St: Steps>(
    scope: Result<Scope>,
    make: impl FnOnce(Notify) -> Result<St>,
) -> Pending {
    let (tx, ready) = crossbeam_channel::bounded(1);
    let slot = Arc::new(Slot {
        state: Mutex::new(State::Running),
        node: Mutex::new(None),
        ready: Mutex::new(Some(tx)),
    });
    let canceller = spawn(scope, make, Deliver::Pending(slot.clone()));
    Pending {
        slot,
        ready,
        canceller,
    }
}

/// Starts a background attempt whose outcome goes to `f`, on the client's
/// callback thread (a failure to start too; with no client to run it on,
/// on the calling thread).
pub(crate) fn then<St: Steps>(
    scope: Result<Scope>,
    make: impl FnOnce(Notify) -> Result<St>,
    f: impl FnOnce(Result<LockGuard>) + Send + 'static,
) {
    match scope {
        Ok(s) => {
            let deliver = Deliver::Callback(s.clone(), Box::new(f));
            spawn(Ok(s), make, deliver);
        }
        Err(e) => f(Err(e)),
    }
}

/// An acquire running in the background: returned at once by
/// `acquire_in_background` (the request is queued, no round trip waited
/// for), it takes the lock while the program goes on.
///
/// Take the outcome with [`Pending::wait`], [`Pending::wait_timeout`] or
/// [`Pending::try_take`], or wait for several at once with
/// `crossbeam_channel::select!` on [`Pending::ready`]. The outcome is
/// delivered once: a guard, or the error that ended the attempt
/// ([`Error::SessionLost`] if its session ended, [`Error::Cancelled`]...).
///
/// Dropping a `Pending` abandons the attempt and deletes its node, or
/// releases the lock if it was taken meanwhile; [`Pending::cancel`] does
/// the same and waits until the attempt has ended.
///
/// ```
/// # fn main() -> zklock::Result<()> {
/// # let client = zklock::Client::connect(&zklock::doc_hosts())?;
/// let lock = zklock::Lock::new(&client, "/zklock-doc/locks/leader")?;
/// let mut pending = lock.acquire_in_background(); // queued; we go on
/// // ... serve requests meanwhile ...
/// let guard = pending.wait_timeout(std::time::Duration::from_secs(10))?;
/// assert!(pending.node().is_some());
/// drop(guard);
/// # Ok(()) }
/// ```
#[must_use = "dropping a Pending abandons the acquire"]
pub struct Pending {
    slot: Arc<Slot>,
    ready: Receiver<()>,
    /// `None` if the attempt never started.
    canceller: Option<Canceller>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &*self.slot.state.lock() {
            State::Running => "running",
            State::Done(Ok(_)) => "acquired",
            State::Done(Err(_)) => "failed",
            State::Taken => "taken",
            State::Abandoned => "abandoned",
        };
        f.debug_struct("Pending")
            .field("state", &state)
            .field("node", &self.node())
            .finish()
    }
}

impl Pending {
    /// Whether the lock is held, its guard waiting to be taken.
    pub fn is_acquired(&self) -> bool {
        matches!(&*self.slot.state.lock(), State::Done(Ok(_)))
    }

    /// The path of the attempt's contender node once it exists (zktools'
    /// `candidate_created`); the guard's node once held. A contender that
    /// had to queue again has a new node.
    pub fn node(&self) -> Option<String> {
        self.slot.node.lock().clone()
    }

    /// Fires (a message, then disconnection) once the outcome is in: use it
    /// in `crossbeam_channel::select!` to wait for several attempts, then
    /// [`Pending::try_take`] the one that is ready.
    ///
    /// ```
    /// # fn main() -> zklock::Result<()> {
    /// # let client = zklock::Client::connect(&zklock::doc_hosts())?;
    /// let a = zklock::Lock::new(&client, "/zklock-doc/locks/select-a")?;
    /// let b = zklock::Lock::new(&client, "/zklock-doc/locks/select-b")?;
    /// let (mut pa, mut pb) = (a.acquire_in_background(), b.acquire_in_background());
    /// // Whichever comes first.
    /// let guard = crossbeam_channel::select! {
    ///     recv(pa.ready()) -> _ => pa.try_take(),
    ///     recv(pb.ready()) -> _ => pb.try_take(),
    /// };
    /// assert!(matches!(guard, Some(Ok(_))));
    /// # Ok(()) }
    /// ```
    pub fn ready(&self) -> &Receiver<()> {
        &self.ready
    }

    /// Takes the outcome if it is in: `None` while the attempt runs (and
    /// after the outcome was taken).
    pub fn try_take(&mut self) -> Option<Result<LockGuard>> {
        let mut state = self.slot.state.lock();
        match std::mem::replace(&mut *state, State::Taken) {
            State::Done(outcome) => Some(outcome),
            other => {
                *state = other;
                None
            }
        }
    }

    /// Blocks until the attempt ends: the guard, or the error that ended it.
    ///
    /// # Errors
    /// Those of the lock's `acquire`; [`Error::InvalidArgument`] if the
    /// outcome was taken already.
    pub fn wait(mut self) -> Result<LockGuard> {
        let _ = self.ready.recv(); // a message, or disconnected: ended
        self.take_ended()
    }

    /// As [`Pending::wait`], giving up after `timeout` with
    /// [`Error::Timeout`] and leaving the attempt running: a later wait can
    /// still take the lock.
    ///
    /// # Errors
    /// [`Error::Timeout`]; those of [`Pending::wait`].
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<LockGuard> {
        match self.ready.recv_timeout(timeout) {
            Err(RecvTimeoutError::Timeout) => Err(Error::Timeout),
            _ => self.take_ended(),
        }
    }

    fn take_ended(&mut self) -> Result<LockGuard> {
        match self.try_take() {
            Some(outcome) => outcome,
            None => Err(Error::InvalidArgument(
                "this background acquire's outcome was taken already".into(),
            )),
        }
    }

    /// Abandons the attempt and waits until it has ended. The attempt may
    /// have taken the lock just before: then its guard is returned (drop it
    /// to release); otherwise `None`, and the attempt's node is deleted
    /// (confirmed by the server while connected, else by the client's
    /// background deletes once it is back).
    pub fn cancel(mut self) -> Option<LockGuard> {
        if let Some(c) = &self.canceller {
            c.cancel();
        }
        let _ = self.ready.recv();
        self.try_take().and_then(Result::ok)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let left = {
            let mut state = self.slot.state.lock();
            std::mem::replace(&mut *state, State::Abandoned)
        };
        if matches!(left, State::Running)
            && let Some(c) = &self.canceller
        {
            c.cancel();
        }
        drop(left); // a guard not taken is released
    }
}
