//! What a contender knows about its own node: whether it is still there,
//! and who must be told when it is not.
//!
//! A data watch on the contender's own node (set through the client's
//! background watches, so a connection loss cannot leave it unset) turns a
//! deletion by someone else (an operator, a forced revocation, a cleanup
//! tool) into `Lost` at once; together with the session's events, that is
//! everything a holder can lose its lock to.
//!
//! The watch is set when a waiting contender may take the lock without
//! listing again (the walker's hand-off shortcut is only safe with it: a
//! deleted waiter must not go on to "hold"), and otherwise the first time anyone asks about the lock (`check`,
//! `state`, `fencing_token`, `state_changes`, `on_lost`): a plain
//! acquire-and-release then costs the recipe's three requests, and a holder
//! that checks pays one more, sent without waiting for its reply.
//!
//! While the contender waits, the watch wakes the walker (its node is gone:
//! queue again). Once it holds the lock, the guard reads the state here and
//! the subscribers (`state_changes`, `on_lost`) are fed from here.

use super::revocation;
use super::wait::{Wake, WakeTx};
use crate::client::scope::{EpochStatus, Reply, ReplyExt, Scope};
use crate::client::{Client, EventType, ListenerId, WatchedEvent};
use crate::error::{Failure, ZkError};
use crossbeam_channel::{Receiver, Sender};
use parking_lot::{Condvar, Mutex};
use std::sync::{Arc, Weak};

/// Whether a guard's lock is still held, as far as this process can know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LockState {
    /// The session that holds the lock is connected and the lock's node is
    /// there: the lock is held.
    Held,
    /// The connection is down and the session may or may not still be alive
    /// on the server. Another process may already hold the lock (if the
    /// session turns out to have expired), so stop writing until it is
    /// `Held` again, or `Lost`.
    Suspended,
    /// The session that held the lock has ended, its node was deleted by
    /// someone else, or the client was closed: the lock is gone and another
    /// process may hold it now.
    Lost,
}

#[derive(Default)]
struct Inner {
    /// The watch on our node has been asked for.
    requested: bool,
    /// The server has confirmed the watch on our node.
    armed: bool,
    /// Our node was deleted while we did not expect it.
    deleted: bool,
    /// We released (or abandoned) the node: its deletion is ours.
    released: bool,
    /// The attempt waiting with this node, if it is still waiting.
    waiter: Option<WakeTx>,
    subscribers: Vec<Sender<LockState>>,
    on_lost: Vec<Box<dyn FnOnce() + Send>>,
    /// Someone asked us to release (our node's data is a revocation request).
    revocation: bool,
    on_revoke: Vec<Box<dyn FnOnce() + Send>>,
    /// The state subscribers were last told about.
    told: Option<LockState>,
    listener: Option<ListenerId>,
    /// Bumped by every answer about the watch (and every change of state),
    /// so [`Ownership::confirm`] never sleeps through one.
    answers: u64,
}

pub(crate) struct Ownership {
    /// The session that created the node.
    scope: Scope,
    node: String,
    ephemeral: bool,
    inner: Mutex<Inner>,
    /// Notified whenever `answers` changes.
    answered: Condvar,
}

impl Ownership {
    /// Ownership of `node`, created in `scope`'s session (not watched yet:
    /// see [`Ownership::watch`]).
    pub fn new(scope: &Scope, node: String, ephemeral: bool) -> Arc<Ownership> {
        Arc::new(Ownership {
            scope: scope.clone(),
            node,
            ephemeral,
            inner: Mutex::new(Inner::default()),
            answered: Condvar::new(),
        })
    }

    /// Starts watching our node, if nobody has asked for it yet.
    pub fn watch(self: &Arc<Self>) {
        {
            let mut i = self.inner.lock();
            if i.requested || i.released {
                return;
            }
            i.requested = true;
        }
        self.arm();
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    fn client(&self) -> &Client {
        self.scope.client()
    }

    /// The session that created the node.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The session the node lives in now: an ephemeral node, the one that
    /// created it; a persistent one, whichever is current.
    pub fn current_scope(&self) -> Result<Scope, Failure> {
        if self.ephemeral {
            Ok(self.scope.clone())
        } else {
            self.client().scope()
        }
    }

    /// How the session our node lives in stands.
    fn status(&self) -> EpochStatus {
        self.current_scope()
            .map_or(EpochStatus::Closed, |s| s.status())
    }

    pub fn ephemeral(&self) -> bool {
        self.ephemeral
    }

    /// (Re)sets the watch on our node.
    fn arm(self: &Arc<Self>) {
        let (on_event, on_reply) = (Arc::downgrade(self), Arc::downgrade(self));
        let Ok(scope) = self.current_scope() else {
            return; // closed: the state says Lost
        };
        scope.watch_in_background(
            self.node.clone(),
            Arc::new(move |e: WatchedEvent| {
                if let Some(o) = Weak::upgrade(&on_event) {
                    o.on_event(&e);
                }
            }),
            Arc::new(move |r: Reply| {
                if let Some(o) = Weak::upgrade(&on_reply) {
                    o.on_reply(r);
                }
            }),
        );
    }

    fn on_reply(self: &Arc<Self>, r: Reply) {
        match r.data() {
            Ok((data, _)) => {
                self.inner.lock().armed = true;
                if revocation::is_request(&data) {
                    self.revocation_arrived();
                }
            }
            Err(Failure::Server(ZkError::NoNode)) => self.node_gone(),
            // The connection broke (the client sends the watch again), the
            // session ended, or the client closed: the session's listener
            // (or the state query) reports it.
            Err(_) => self.changed(),
        }
        self.answered();
    }

    /// Our node's data says someone asked us to release.
    fn revocation_arrived(&self) {
        let callbacks = {
            let mut i = self.inner.lock();
            if i.released || i.revocation {
                return;
            }
            i.revocation = true;
            std::mem::take(&mut i.on_revoke)
        };
        log::debug!("zklock: revocation requested for {}", self.node);
        for f in callbacks {
            self.scope.run_callback(f);
        }
    }

    /// Whether someone asked us to release; the first call (or any before
    /// the watch is confirmed) waits for the server, as [`Ownership::confirm`].
    pub fn revocation_requested(self: &Arc<Self>) -> bool {
        self.confirm();
        self.inner.lock().revocation
    }

    /// Runs `f` on the callback thread when someone asks us to release (at
    /// once if someone has); never after a release.
    pub fn on_revoke(self: &Arc<Self>, f: Box<dyn FnOnce() + Send>) {
        self.watch();
        {
            let mut i = self.inner.lock();
            if i.released {
                return;
            }
            if !i.revocation {
                i.on_revoke.push(f);
                return;
            }
        }
        self.scope.run_callback(f);
    }

    fn answered(&self) {
        self.inner.lock().answers += 1;
        self.answered.notify_all();
    }

    /// Whether the client is connected in the session that matters for
    /// our node (for an ephemeral node, the one that created it).
    fn connected(&self) -> bool {
        self.status() == EpochStatus::Connected
    }

    /// Starts watching our node if nobody has, and waits (a request timeout
    /// at most, and only while connected) until the server has answered:
    /// from then on a deletion of the node cannot go unnoticed. Returns
    /// whether that is so (the watch is set, or the node is known gone).
    pub fn confirm(self: &Arc<Self>) -> bool {
        self.watch();
        let deadline = self.scope.request_deadline();
        let mut i = self.inner.lock();
        loop {
            if i.armed || i.deleted || i.released {
                return true;
            }
            let seen = i.answers;
            drop(i);
            if !self.connected() {
                return false; // the state says Suspended or Lost
            }
            i = self.inner.lock();
            if i.answers == seen && self.answered.wait_until(&mut i, deadline).timed_out() {
                return i.armed || i.deleted || i.released;
            }
        }
    }

    /// The state a guard reports: as [`Ownership::state`], but `Suspended`
    /// until the watch on the node is confirmed (see [`Ownership::confirm`]).
    pub fn confirmed_state(self: &Arc<Self>) -> LockState {
        let confirmed = self.confirm();
        match self.state() {
            LockState::Held if !confirmed => LockState::Suspended,
            state => state,
        }
    }

    /// What a guard's `check` says: `Ok` only if certainly held.
    pub fn check(self: &Arc<Self>) -> crate::error::Result<()> {
        match self.confirmed_state() {
            LockState::Held => Ok(()),
            LockState::Suspended => Err(crate::error::Error::ConnectionLoss),
            LockState::Lost => Err(self.lost()),
        }
    }

    /// What a guard's `fencing_token` says: the node's creation zxid
    /// `czxid`, unless the lock is lost.
    pub fn token(self: &Arc<Self>, czxid: i64) -> crate::error::Result<u64> {
        match self.confirmed_state() {
            LockState::Lost => Err(self.lost()),
            _ => Ok(czxid as u64),
        }
    }

    /// The error of a guard whose lock is lost.
    pub fn lost(&self) -> crate::error::Error {
        crate::error::Error::LockLost {
            path: self.node.clone(),
        }
    }

    fn on_event(self: &Arc<Self>, e: &WatchedEvent) {
        match e.event_type {
            EventType::NodeDeleted => self.node_gone(),
            EventType::Session => self.changed(),
            // The data changed (someone wrote to our node): watch again.
            _ => {
                self.inner.lock().armed = false;
                self.arm();
            }
        }
    }

    fn node_gone(self: &Arc<Self>) {
        let waiter = {
            let mut i = self.inner.lock();
            if i.released {
                return;
            }
            i.deleted = true;
            i.waiter.clone()
        };
        if let Some(w) = waiter {
            w.send(Wake::Node {
                path: self.node.clone(),
                event: EventType::NodeDeleted,
            });
        }
        self.changed();
        self.answered();
    }

    /// Whether the watch on our node is in place (so its deletion cannot go
    /// unnoticed: the server sends that event before any later one).
    pub fn armed(&self) -> bool {
        self.inner.lock().armed
    }

    /// Whether someone else deleted our node.
    pub fn deleted(&self) -> bool {
        self.inner.lock().deleted
    }

    pub fn set_waiter(&self, waiter: Option<WakeTx>) {
        self.inner.lock().waiter = waiter;
    }

    /// We are deleting the node ourselves: stop reporting on it.
    pub fn release(&self) {
        let listener = {
            let mut i = self.inner.lock();
            i.released = true;
            i.waiter = None;
            i.subscribers.clear();
            i.on_lost.clear();
            i.on_revoke.clear();
            i.listener.take()
        };
        if let Some(id) = listener {
            self.client().remove_listener(id);
        }
    }

    /// The lock's state, from the node's and the session's.
    pub fn state(&self) -> LockState {
        if self.inner.lock().deleted {
            return LockState::Lost;
        }
        match self.status() {
            EpochStatus::Connected => LockState::Held,
            EpochStatus::Suspended => LockState::Suspended,
            EpochStatus::Lost | EpochStatus::Closed => LockState::Lost,
        }
    }

    /// Tells subscribers about a change of state, if there is one, and runs
    /// the `on_lost` callbacks once the lock is lost.
    fn changed(&self) {
        let state = self.state();
        let callbacks = {
            let mut i = self.inner.lock();
            if i.released {
                return;
            }
            if i.told != Some(state) {
                i.told = Some(state);
                i.subscribers.retain(|tx| tx.send(state).is_ok());
            }
            if state == LockState::Lost {
                i.subscribers.clear(); // the last word: close the channels
                std::mem::take(&mut i.on_lost)
            } else {
                Vec::new()
            }
        };
        for f in callbacks {
            self.scope.run_callback(f);
        }
    }

    /// Follows the session's events (once someone subscribes).
    fn listen(self: &Arc<Self>, i: &mut Inner) {
        if i.listener.is_some() {
            return;
        }
        i.told.get_or_insert(LockState::Held);
        let weak = Arc::downgrade(self);
        i.listener = Some(self.client().add_listener(move |_| {
            if let Some(o) = weak.upgrade() {
                o.changed();
            }
        }));
    }

    /// A channel of every later change of state; it closes after `Lost`
    /// (sent at once if the lock is lost already).
    pub fn subscribe(self: &Arc<Self>) -> Receiver<LockState> {
        self.watch();
        let (tx, rx) = crossbeam_channel::unbounded();
        if self.state() == LockState::Lost {
            let _ = tx.send(LockState::Lost);
            return rx;
        }
        {
            let mut i = self.inner.lock();
            if i.released {
                return rx;
            }
            i.subscribers.push(tx);
            self.listen(&mut i);
        }
        self.changed(); // a change that happened before anyone listened
        rx
    }

    /// Runs `f` on the client's callback thread when the lock is lost (at
    /// once if it is lost already); never after a release.
    pub fn on_lost(self: &Arc<Self>, f: Box<dyn FnOnce() + Send>) {
        self.watch();
        {
            let mut i = self.inner.lock();
            if i.released {
                return;
            }
            i.on_lost.push(f);
            self.listen(&mut i);
        }
        self.changed();
    }
}
