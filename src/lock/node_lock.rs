//! [`NodeLock`]: k3zkutil's single-node lock (`ZKLock`), wire-compatible
//! with it on the same path. The lock is one node at the lock's path whose
//! data, UTF-8 JSON `{"id": ..., "val": ...}`, names the holder (see
//! `node_data`).
//!
//! An acquire sends a create of the node and a read of it with a watch, in
//! one round trip. If the create succeeds, the lock is ours. If the node
//! exists with our id, it is ours too (a persistent lock re-adopted after a
//! restart, or a create whose reply was lost): *two handles with one id
//! share the lock*. Otherwise the attempt waits for the watch (the node
//! deleted, or its data changed) and tries again. Every waiter watches the
//! one node, so every waiter wakes when it goes: a herd, by design; use a
//! [`super::Lock`] for many waiters.
//!
//! An attempt that ends without the lock (timeout, cancel, error, a busy
//! try) after sending a create whose reply it never saw deletes the node
//! only if it holds our data (read after a `sync`): another client may have
//! taken the path meanwhile (see [`super::cleanup`]).

use super::attempt::{Attempt, Mode, Outcome, Try, Wait, stop};
use super::cleanup::Claim;
use super::identity::attempt_scope;
use super::node_data::{self, Holder};
use super::node_guard::{NodeGuard, Releasing};
use super::wait::{Waiters, Wake};
use crate::client::scope::{Call, ReplyExt};
use crate::client::{Acl, Client, CreateMode};
use crate::error::{Error, Failure, Result, ZkError};
use crate::path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A distributed lock that is one node, in k3zkutil's format: anyone can
/// see who holds it and read the value the holder publishes.
///
/// ```
/// # fn main() -> zklock::Result<()> {
/// # let client = zklock::Client::connect(&zklock::doc_hosts())?;
/// let lock = zklock::NodeLock::new(&client, "/zklock-doc/node-locks/report")?.identifier("web-1");
/// let guard = lock.acquire()?;
/// guard.set_value(r#"{"progress": 40}"#)?;
/// let holder = lock.holder()?.expect("held");
/// assert_eq!(holder.id, "web-1");
/// assert_eq!(holder.val.as_deref(), Some(r#"{"progress":40}"#));
/// guard.release()?;
/// assert!(lock.holder()?.is_none());
/// # Ok(()) }
/// ```
pub struct NodeLock {
    client: Client,
    path: String,
    id: String,
    ephemeral: bool,
    acl: Vec<Acl>,
    waiters: Arc<Waiters>,
    /// Nodes this handle's guards have let go of whose delete the server
    /// has not confirmed yet: never taken back (see [`Releasing`]).
    releasing: Releasing,
}

impl std::fmt::Debug for NodeLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeLock")
            .field("path", &self.path)
            .field("id", &self.id)
            .field("ephemeral", &self.ephemeral)
            .finish()
    }
}

impl NodeLock {
    /// A lock that is the node at `path`. Nothing is sent until the first
    /// acquire; missing ancestors are then created as container nodes.
    ///
    /// # Errors
    /// [`Error::InvalidPath`] for a bad path (as [`super::QueueLock::new`]).
    pub fn new(client: &Client, path: &str) -> Result<NodeLock> {
        path::validate_recipe(path, client.chroot())?;
        Ok(NodeLock {
            client: client.clone(),
            path: path.to_string(),
            id: crate::util::lock_id(None),
            ephemeral: true,
            acl: Acl::open_unsafe(),
            waiters: Waiters::new(client),
            releasing: Releasing::default(),
        })
    }

    /// The holder's id written in the node (default: a new k3zkutil-style
    /// lock id, [`crate::util::lock_id`]). A node that already holds this id
    /// is taken as ours: two handles (or processes) with one id share the
    /// lock.
    pub fn identifier(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// Whether the node is ephemeral (the default) or outlives its session
    /// (k3zkutil's `ephemeral=False`): a persistent lock is held until
    /// released, and re-adopted by a handle with the same id after a
    /// restart.
    pub fn ephemeral(mut self, ephemeral: bool) -> Self {
        self.ephemeral = ephemeral;
        self
    }

    /// The ACL of the node and of the directories created (see
    /// [`super::QueueLock::acl`]).
    pub fn acl(mut self, acl: Vec<Acl>) -> Self {
        self.acl = acl;
        self
    }

    /// The lock's path (the node itself).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The id this handle writes.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Blocks until this handle holds the lock.
    ///
    /// # Errors
    /// [`Error::Cancelled`], [`Error::SessionLost`], [`Error::Closed`],
    /// server errors (`NoAuth` on a lock whose ACL keeps us out).
    pub fn acquire(&self) -> Result<NodeGuard> {
        Ok(self.attempt(Wait(None), &mut |_| {})?.held())
    }

    /// As [`NodeLock::acquire`], giving up after `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`], and those of [`NodeLock::acquire`].
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<NodeGuard> {
        self.acquire_loop(Some(timeout), |_| {})
    }

    /// As [`NodeLock::acquire_timeout`] (`None`: no deadline), telling
    /// `on_holder` who holds the lock each time that changes while this
    /// waits (k3zkutil's `acquire_loop`): the first holder seen, then every
    /// new holder or new value.
    ///
    /// # Errors
    /// As [`NodeLock::acquire_timeout`].
    pub fn acquire_loop(
        &self,
        timeout: Option<Duration>,
        mut on_holder: impl FnMut(&Holder),
    ) -> Result<NodeGuard> {
        let deadline = timeout.map(|t| Instant::now() + t);
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return self.try_acquire()?.ok_or(Error::Timeout);
        }
        Ok(self.attempt(Wait(deadline), &mut on_holder)?.held())
    }

    /// Takes the lock if nobody holds it (or the node holds our id),
    /// without waiting.
    ///
    /// # Errors
    /// As [`NodeLock::acquire`].
    pub fn try_acquire(&self) -> Result<Option<NodeGuard>> {
        let deadline = self.client.default_deadline();
        Ok(self.attempt(Try(deadline), &mut |_| {})?.taken())
    }

    /// Who holds the lock now (one read), `None` if nobody.
    ///
    /// # Errors
    /// Connection and session errors.
    pub fn holder(&self) -> Result<Option<Holder>> {
        match self.client.get_data(&self.path) {
            Ok((data, stat)) => Ok(Some(node_data::holder(&data, stat.version))),
            Err(e) if e.is(ZkError::NoNode) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Deletes the node if it holds our id (at the version read, as
    /// k3zkutil's `try_release`): `true` if it was ours (or nobody's),
    /// `false` if another holder has it. Never waits for the lock.
    ///
    /// # Errors
    /// Connection and session errors.
    pub fn try_release(&self) -> Result<bool> {
        loop {
            let (data, stat) = match self.client.get_data(&self.path) {
                Ok(d) => d,
                Err(e) if e.is(ZkError::NoNode) => return Ok(true),
                Err(e) => return Err(e),
            };
            if node_data::holder(&data, stat.version).id != self.id {
                return Ok(false);
            }
            match self.client.delete(&self.path, Some(stat.version)) {
                Ok(()) => return Ok(true),
                // Changed or gone meanwhile: look again.
                Err(e) if e.is(ZkError::BadVersion) || e.is(ZkError::NoNode) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// How many acquires are under way on this handle now. No round trip.
    pub fn pending(&self) -> usize {
        self.waiters.pending()
    }

    /// Makes every acquire pending on this handle return
    /// [`Error::Cancelled`] promptly.
    pub fn cancel(&self) {
        self.waiters.cancel();
    }

    /// One attempt in `mode`; `on_holder` hears of every other holder seen.
    fn attempt<M: Mode>(
        &self,
        mode: M,
        on_holder: &mut dyn FnMut(&Holder),
    ) -> Result<Outcome<NodeGuard, M::Busy>> {
        let data = node_data::encode(&self.id, None);
        let scope = attempt_scope(&self.client, &self.path, &data)?;
        let mut at = Attempt::new(scope.clone(), mode.deadline(), self.waiters.enter());
        let mut claim = Claim::shared_path(&scope, &self.path, data.clone(), self.ephemeral);
        let mut last_seen: Option<Holder> = None;
        loop {
            at.check()?;
            at.connected()?;
            let Some((holder, ours)) = self.try_once(&mut at, &mut claim, &data)? else {
                continue;
            };
            if ours {
                return Ok(Outcome::Held(self.guard(&mut claim, holder.version)?));
            }
            if let Some(busy) = mode.give_up() {
                return Ok(Outcome::Busy(busy));
            }
            if last_seen.as_ref() != Some(&holder) {
                on_holder(&holder);
                last_seen = Some(holder);
            }
            wait_for_change(&mut at, &self.path)?;
        }
    }

    /// Creates the node and reads it (with a watch) in one round trip: the
    /// holder it names and whether the node is ours (we created it, or it
    /// names our id and is not one we are deleting), or `None` to try again
    /// at once.
    fn try_once(
        &self,
        at: &mut Attempt,
        claim: &mut Claim,
        data: &[u8],
    ) -> Result<Option<(Holder, bool)>> {
        let mode = if self.ephemeral {
            CreateMode::Ephemeral
        } else {
            CreateMode::Persistent
        };
        let create = Call::create(self.path.clone(), data.to_vec(), mode, &self.acl);
        let read = Call::get_data_watch(&self.path, at.waiter.watcher(&self.path));
        claim.sending();
        let [created, read] = at.round_trip([create, read])?;
        match created.created() {
            Ok((_, stat)) => {
                claim.adopt(path::basename(&self.path).to_string(), stat.czxid);
                return Ok(Some((node_data::holder(data, stat.version), true)));
            }
            // Someone's node is there (maybe ours, from a create whose reply
            // was lost): the read says whose.
            Err(Failure::Server(ZkError::NodeExists)) => claim.absent(),
            Err(f) => {
                if matches!(f, Failure::Server(_) | Failure::TooLarge(_)) {
                    claim.absent(); // the server refused it
                }
                if let Failure::Server(ZkError::NoNode) = at.retryable(f, &self.path)? {
                    let dir = path::parent(&self.path);
                    at.ensure_parents(dir, CreateMode::Container, &self.acl)?;
                }
                return Ok(None);
            }
        }
        match read.data() {
            Ok((found, stat)) => {
                let holder = node_data::holder(&found, stat.version);
                let ours = holder.id == self.id && !self.releasing.contains(stat.czxid);
                if ours {
                    claim.adopt(path::basename(&self.path).to_string(), stat.czxid);
                }
                Ok(Some((holder, ours)))
            }
            Err(f) => {
                at.retryable(f, &self.path)?; // gone meanwhile: again
                Ok(None)
            }
        }
    }

    /// The node is ours (at data `version`): hand it to a guard.
    fn guard(&self, claim: &mut Claim, version: i32) -> Result<NodeGuard> {
        let (own, czxid) = claim
            .take()
            .ok_or_else(|| Error::Protocol("a held node was not claimed".into()))?;
        Ok(NodeGuard::new(
            own,
            czxid,
            self.id.clone(),
            version,
            self.releasing.clone(),
        ))
    }
}

/// Waits until the node at `path` changes (its watch fires) or the session
/// does.
fn wait_for_change(at: &mut Attempt, path: &str) -> Result<()> {
    loop {
        match at.waiter.wait(at.deadline).map_err(stop)? {
            Wake::Node { path: p, .. } if p != path => continue,
            Wake::Cancel => return Err(Error::Cancelled),
            _ => return Ok(()),
        }
    }
}
