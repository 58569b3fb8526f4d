//! How a waiting contender is woken.
//!
//! Every acquire attempt has its own channel. Three things send to it: the
//! watch on the node it waits for (from the client's event thread), every
//! session event of the client (through one listener per lock handle), and
//! a cancel ([`Waiters::cancel`] for every attempt of a handle, a
//! [`Canceller`] for one). A blocking attempt blocks on that channel, or on
//! a reply and that channel together, with its deadline: it never sleeps
//! and never polls. A *driven* attempt (a background acquire, see
//! [`super::driver`]) never blocks on it: each wake-up also tells the
//! driver, which then resumes the attempt, and [`Waiter::next`] answers
//! "nothing yet" instead of waiting.

use crate::client::scope::{Reply, ReplyRx};
use crate::client::{Client, EventType, ListenerId};
use crate::error::Failure;
use crossbeam_channel::{Receiver, Sender, select};
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

/// Why an attempt was woken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Wake {
    /// A watched node changed (or the watch ended with the session).
    Node { path: String, event: EventType },
    /// The session changed state.
    Session,
    /// `cancel()` was called.
    Cancel,
    /// A guard of this session let go of the node at `path`, and its
    /// delete is queued (a local hand-off, see [`super::handoff`]);
    /// `ahead_gone`: it held a writer's place, so every node ahead of it
    /// had gone.
    Released { path: String, ahead_gone: bool },
}

/// Why an attempt stops waiting early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    Timeout,
    Cancelled,
}

/// Tells a driver that an attempt has a wake-up to look at.
pub(crate) type Notify = Arc<dyn Fn() + Send + Sync>;

/// The sending end of one attempt's wake channel.
#[derive(Clone)]
pub(crate) struct WakeTx {
    tx: Sender<Wake>,
    /// For a driven attempt: tells its driver after every wake-up.
    notify: Option<Notify>,
}

impl WakeTx {
    /// Wakes the attempt (nothing if it has ended).
    pub fn send(&self, wake: Wake) {
        if self.tx.send(wake).is_ok()
            && let Some(n) = &self.notify
        {
            n();
        }
    }
}

/// Cancels one attempt (and no other) from any thread: the waiters it
/// registered (one per phase that waits).
#[derive(Clone)]
pub(crate) struct Canceller {
    targets: Vec<(Arc<AtomicBool>, WakeTx)>,
}

impl Canceller {
    /// Cancels nothing.
    pub fn none() -> Canceller {
        Canceller {
            targets: Vec::new(),
        }
    }

    /// Cancels both.
    pub fn and(mut self, other: Canceller) -> Canceller {
        self.targets.extend(other.targets);
        self
    }

    /// The attempt ends with `Cancelled` at its next step.
    pub fn cancel(&self) {
        for (flag, tx) in &self.targets {
            flag.store(true, Ordering::SeqCst);
            tx.send(Wake::Cancel);
        }
    }
}

#[derive(Default)]
struct Registry {
    next_id: u64,
    live: HashMap<u64, WakeTx>,
    /// Bumped by every cancel; an attempt is cancelled if it changed since
    /// the attempt began (so a cancel while idle poisons nothing, unlike
    /// kazoo's Lock).
    cancels: u64,
}

/// The waiting attempts of one lock handle.
pub(crate) struct Waiters {
    registry: Mutex<Registry>,
    client: Client,
    listener: Mutex<Option<ListenerId>>,
    /// The largest creation zxid of a node that held the lock through this
    /// handle: every node created before it was gone by then, for good.
    held: AtomicI64,
}

impl Waiters {
    /// Waiters for a handle on `client`, woken by its session events.
    pub fn new(client: &Client) -> Arc<Waiters> {
        let w = Arc::new(Waiters {
            registry: Mutex::new(Registry::default()),
            client: client.clone(),
            listener: Mutex::new(None),
            held: AtomicI64::new(i64::MIN),
        });
        let weak: Weak<Waiters> = Arc::downgrade(&w);
        let id = client.add_listener(move |_| {
            if let Some(w) = weak.upgrade() {
                w.broadcast(Wake::Session);
            }
        });
        *w.listener.lock() = Some(id);
        w
    }

    fn broadcast(&self, wake: Wake) {
        // Sent outside the lock: a driver's notify must not run under it.
        let live: Vec<WakeTx> = self.registry.lock().live.values().cloned().collect();
        for tx in live {
            tx.send(wake.clone());
        }
    }

    /// Wakes every pending attempt with `Cancelled`.
    pub fn cancel(&self) {
        let live: Vec<WakeTx> = {
            let mut r = self.registry.lock();
            r.cancels += 1;
            r.live.values().cloned().collect()
        };
        for tx in live {
            tx.send(Wake::Cancel);
        }
    }

    /// How many attempts of this handle are under way.
    pub fn pending(&self) -> usize {
        self.registry.lock().live.len()
    }

    /// Registers a new attempt, which blocks to wait.
    pub fn enter(self: &Arc<Self>) -> Waiter {
        self.register(None)
    }

    /// Registers a new driven attempt: `notify` runs after every wake-up,
    /// and the attempt never blocks to wait for one.
    pub fn enter_driven(self: &Arc<Self>, notify: Notify) -> Waiter {
        self.register(Some(notify))
    }

    fn register(self: &Arc<Self>, notify: Option<Notify>) -> Waiter {
        let (tx, rx) = crossbeam_channel::unbounded();
        let tx = WakeTx { tx, notify };
        let mut r = self.registry.lock();
        r.next_id += 1;
        let id = r.next_id;
        r.live.insert(id, tx.clone());
        Waiter {
            id,
            waiters: self.clone(),
            tx,
            rx,
            cancels_at_start: r.cancels,
            cancelled_alone: Arc::new(AtomicBool::new(false)),
            early: VecDeque::new(),
        }
    }
}

impl Drop for Waiters {
    fn drop(&mut self) {
        if let Some(id) = self.listener.lock().take() {
            self.client.remove_listener(id);
        }
    }
}

/// One attempt's end of its wake channel.
pub(crate) struct Waiter {
    id: u64,
    waiters: Arc<Waiters>,
    tx: WakeTx,
    rx: Receiver<Wake>,
    cancels_at_start: u64,
    /// Set by this attempt's own [`Canceller`].
    cancelled_alone: Arc<AtomicBool>,
    /// Wakes that arrived while waiting for a reply, kept for `wait`.
    early: VecDeque<Wake>,
}

impl Waiter {
    /// A watcher that wakes this attempt when `path` changes.
    pub fn watcher(&self, path: &str) -> impl FnOnce(crate::client::WatchedEvent) + Send + 'static {
        let tx = self.tx.clone();
        let path = path.to_string();
        move |e| {
            tx.send(Wake::Node {
                path,
                event: e.event_type,
            });
        }
    }

    /// Whether other attempts of this handle are under way (and so may
    /// hold the lock before this one).
    pub fn others_in_flight(&self) -> bool {
        self.waiters.registry.lock().live.len() > 1
    }

    /// Records that our node (created in zxid `czxid`) holds the lock.
    pub fn note_held(&self, czxid: i64) {
        self.waiters.held.fetch_max(czxid, Ordering::SeqCst);
    }

    /// Whether a node created in `czxid` or later has held the lock through
    /// this handle, which means every node created before `czxid` had gone.
    pub fn held_since(&self, czxid: i64) -> bool {
        self.waiters.held.load(Ordering::SeqCst) >= czxid
    }

    /// A sender that wakes this attempt.
    pub fn sender(&self) -> WakeTx {
        self.tx.clone()
    }

    /// What cancels this attempt alone.
    pub fn canceller(&self) -> Canceller {
        Canceller {
            targets: vec![(self.cancelled_alone.clone(), self.tx.clone())],
        }
    }

    /// Whether a driver resumes this attempt (it never blocks to wait).
    pub fn driven(&self) -> bool {
        self.tx.notify.is_some()
    }

    pub fn cancelled(&self) -> bool {
        self.cancelled_alone.load(Ordering::SeqCst)
            || self.waiters.registry.lock().cancels != self.cancels_at_start
    }

    fn check(&self, deadline: Option<Instant>) -> Result<(), Stop> {
        if self.cancelled() {
            return Err(Stop::Cancelled);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Stop::Timeout);
        }
        Ok(())
    }

    /// Waits for the next wake-up until `deadline` (forever for `None`).
    pub fn wait(&mut self, deadline: Option<Instant>) -> Result<Wake, Stop> {
        loop {
            self.check(deadline)?;
            let wake = match self.early.pop_front() {
                Some(w) => w,
                None => {
                    let got = match deadline {
                        Some(d) => self.rx.recv_deadline(d).ok(),
                        None => self.rx.recv().ok(),
                    };
                    match got {
                        Some(w) => w,
                        None => continue, // deadline: `check` reports it
                    }
                }
            };
            if wake == Wake::Cancel && !self.cancelled() {
                continue; // a cancel from before this attempt began
            }
            return Ok(wake);
        }
    }

    /// The next wake-up: waited for until `deadline` by a blocking
    /// attempt; `None` at once for a driven one when there is none yet (its
    /// driver resumes it when one comes).
    pub fn next(&mut self, deadline: Option<Instant>) -> Result<Option<Wake>, Stop> {
        if !self.driven() {
            return self.wait(deadline).map(Some);
        }
        loop {
            self.check(deadline)?;
            let wake = match self.early.pop_front() {
                Some(w) => w,
                None => match self.rx.try_recv() {
                    Ok(w) => w,
                    Err(_) => return Ok(None),
                },
            };
            if wake == Wake::Cancel && !self.cancelled() {
                continue; // a cancel from before this attempt began
            }
            return Ok(Some(wake));
        }
    }

    /// Pauses until `until` (a retry's back-off), returning early only for
    /// a cancel or the attempt's deadline; other wake-ups are kept for the
    /// next [`Waiter::wait`].
    pub fn pause(&mut self, until: Instant, deadline: Option<Instant>) -> Result<(), Stop> {
        let until = deadline.map_or(until, |d| d.min(until));
        loop {
            self.check(deadline)?;
            match self.rx.recv_deadline(until) {
                Ok(Wake::Cancel) => {} // `check` tells whether it is ours
                Ok(w) => self.early.push_back(w),
                Err(_) => return self.check(deadline),
            }
        }
    }

    /// Waits for a reply until `deadline`, staying cancellable; wake-ups
    /// that arrive meanwhile are kept for the next [`Waiter::wait`].
    pub fn reply(&mut self, rx: &ReplyRx, deadline: Instant) -> Result<Reply, Stop> {
        loop {
            if self.cancelled() {
                return Err(Stop::Cancelled);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            select! {
                recv(rx.receiver()) -> r => return Ok(r.unwrap_or(Err(Failure::ConnectionLoss))),
                recv(self.rx) -> w => {
                    if let Ok(w) = w && w != Wake::Cancel {
                        self.early.push_back(w);
                    }
                }
                default(left) => return Ok(Err(Failure::Timeout)),
            }
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        self.waiters.registry.lock().live.remove(&self.id);
    }
}
