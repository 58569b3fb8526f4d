//! The front every queue lock kind shares: [`QueueLock`] (as lock_api's
//! `Mutex` is one front over a `RawMutex`), and its aliases [`Lock`],
//! [`ReadLock`] and [`WriteLock`]. The recipe itself is the walker's.

use super::attempt::{Mode, Outcome, Try, Wait};
use super::guard::{Held, LockGuard};
use super::identity::{attempt_scope, contender_identifiers, default_identifier};
use super::inspection::{self, LockInfo};
use super::name::{Flavor, Role};
use super::pending::{self, Pending, Steps};
use super::removal;
use super::revocation::{self, Revoke};
use super::strategy::{Exclusive, Read, Strategy, Write};
use super::wait::{Canceller, Notify, Waiters};
use super::walker::{self, Acquired, Config, WalkState};
use crate::client::scope::Scope;
use crate::client::{Acl, Client, CreateMode};
use crate::error::{Error, Result};
use crate::path;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

/// A distributed exclusive lock: one holder at a time.
///
/// See [`QueueLock`] for its methods and the [module](super) for an example.
pub type Lock = QueueLock<Exclusive>;

/// The shared side of a distributed read/write lock: readers hold it
/// together while no writer is ahead of them in the queue.
///
/// Use it with a [`WriteLock`] on the same path.
pub type ReadLock = QueueLock<Read>;

/// The exclusive side of a distributed read/write lock: one writer at a
/// time, and no reader while it holds.
///
/// Use it with a [`ReadLock`] on the same path.
pub type WriteLock = QueueLock<Write>;

/// A distributed lock on a ZooKeeper path, of the kind `S` says.
///
/// Use it through its aliases [`Lock`], [`ReadLock`] and [`WriteLock`].
/// A handle is `Send + Sync`: share it between threads (in an `Arc`, or by
/// reference); each `acquire` queues on its own. Handles are cheap; create
/// one per lock path and keep it.
pub struct QueueLock<S: Strategy> {
    client: Client,
    path: String,
    identifier: Vec<u8>,
    ephemeral: bool,
    flavor: Flavor,
    extra: Vec<String>,
    /// How missing ancestors of the path are created.
    parents: CreateMode,
    revoke: Option<Revoke>,
    acl: Vec<Acl>,
    waiters: Arc<Waiters>,
    _strategy: PhantomData<S>,
}

impl<S: Strategy> std::fmt::Debug for QueueLock<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(S::NAME)
            .field("path", &self.path)
            .field("identifier", &String::from_utf8_lossy(&self.identifier))
            .field("ephemeral", &self.ephemeral)
            .field("flavor", &self.flavor)
            .finish()
    }
}

impl<S: Strategy> QueueLock<S> {
    /// A lock on `path`. Nothing is sent to the server until the first
    /// acquire; the path's missing ancestors are then created as container
    /// nodes, which the server removes once they are empty.
    ///
    /// # Errors
    /// [`Error::InvalidPath`] if `path` breaks ZooKeeper's path rules, is
    /// the root, or lies in the `/zookeeper` tree the server reserves.
    pub fn new(client: &Client, path: &str) -> Result<Self> {
        path::validate_recipe(path, client.chroot())?;
        Ok(QueueLock {
            client: client.clone(),
            path: path.to_string(),
            identifier: default_identifier().into_bytes(),
            ephemeral: true,
            flavor: Flavor::Kazoo,
            extra: Vec::new(),
            revoke: None,
            acl: Acl::open_unsafe(),
            parents: CreateMode::Container,
            waiters: Waiters::new(client),
            _strategy: PhantomData,
        })
    }

    /// Whose node-name format this handle writes: [`Flavor::Kazoo`] (the
    /// default) or [`Flavor::Curator`]. Every known format is read either
    /// way; pick the flavour of the clients you share the path with. kazoo
    /// and Curator clients must not share one path whatever zklock does
    /// (Curator mis-sorts kazoo's names).
    ///
    /// ```
    /// # fn main() -> zklock::Result<()> {
    /// # let client = zklock::Client::connect(&zklock::doc_hosts())?;
    /// // Queue with Java services using InterProcessMutex on the same path.
    /// let lock = zklock::Lock::new(&client, "/zklock-doc/locks/shared-with-java")?
    ///     .flavor(zklock::Flavor::Curator);
    /// drop(lock.acquire()?);
    /// # Ok(()) }
    /// ```
    pub fn flavor(mut self, flavor: Flavor) -> Self {
        self.flavor = flavor;
        self
    }

    /// Markers of contenders that no known format writes, read as writers
    /// (kazoo's `extra_lock_patterns`): a child whose name has one of them
    /// right before its sequence counter takes part in the queue.
    pub fn extra_lock_patterns<I, P>(mut self, patterns: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        self.extra = patterns
            .into_iter()
            .map(Into::into)
            .filter(|p: &String| !p.is_empty())
            .collect();
        self
    }

    /// Creates missing ancestors as persistent nodes instead of containers
    /// (for paths shared with kazoo, which fails if a directory it created
    /// once disappears).
    pub(crate) fn persistent_parents(mut self) -> Self {
        self.parents = CreateMode::Persistent;
        self
    }

    /// Sets the identifier stored as the data of this handle's contender
    /// nodes, shown by [`QueueLock::contenders`] (default `<hostname>:<pid>`).
    pub fn identifier(mut self, identifier: impl Into<String>) -> Self {
        self.identifier = identifier.into().into_bytes();
        self
    }

    /// Makes every acquire of this handle that must wait first revoke the
    /// contenders that block it (see [`Revoke`]): ask them to release
    /// ([`Revoke::Ask`]) or delete their nodes ([`Revoke::Immediate`]), then
    /// wait as usual. Only the contenders that block it are touched (a
    /// reader revokes the writers ahead of it, not other readers), each once
    /// per acquire. Guards of this handle watch their node from the start,
    /// so they hear requests made to them. A try never revokes.
    ///
    /// ```
    /// # fn main() -> zklock::Result<()> {
    /// # let client = zklock::Client::connect(&zklock::doc_hosts())?;
    /// use zklock::Revoke;
    /// let lock = zklock::Lock::new(&client, "/zklock-doc/locks/urgent")?.revoke(Revoke::Ask);
    /// drop(lock.acquire()?);
    /// # Ok(()) }
    /// ```
    pub fn revoke(mut self, how: Revoke) -> Self {
        self.revoke = Some(how);
        self
    }

    /// The ACL of the nodes this handle creates: its contender nodes and
    /// the missing directories above them (default: open to anyone,
    /// ZooKeeper's `OPEN_ACL_UNSAFE`). With a digest ACL (or
    /// [`Acl::creator_all`] and digest auth), a client without the right
    /// credentials cannot delete, revoke or clear the lock: it gets
    /// [`Error::ZooKeeper`] `NoAuth`. See the README's "Securing locks with
    /// ACLs".
    ///
    /// ```
    /// # fn main() -> zklock::Result<()> {
    /// use zklock::{Acl, Client, Lock, perms};
    /// # let hosts = zklock::doc_hosts();
    /// let client = Client::builder(&hosts).digest_auth("billing", "s3cret").connect()?;
    /// let lock = Lock::new(&client, "/zklock-doc/secured/ledger")?
    ///     .acl(vec![Acl::digest("billing", "s3cret", perms::ALL)]);
    /// drop(lock.acquire()?);
    /// # Ok(()) }
    /// ```
    pub fn acl(mut self, acl: Vec<Acl>) -> Self {
        self.acl = acl;
        self
    }

    /// Whether contender nodes are ephemeral (the default). A persistent
    /// lock (`false`) survives the end of its session and the process: it
    /// is held until a guard releases it or someone deletes its node, so
    /// only use it when that is what you want.
    pub fn ephemeral(mut self, ephemeral: bool) -> Self {
        self.ephemeral = ephemeral;
        self
    }

    /// The lock's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The client this lock uses.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Another handle on the same lock sharing this one's attempts (a
    /// `cancel` of either reaches both).
    pub(crate) fn twin(&self) -> Self {
        QueueLock {
            client: self.client.clone(),
            path: self.path.clone(),
            identifier: self.identifier.clone(),
            ephemeral: self.ephemeral,
            flavor: self.flavor,
            extra: self.extra.clone(),
            parents: self.parents,
            revoke: self.revoke,
            acl: self.acl.clone(),
            waiters: self.waiters.clone(),
            _strategy: PhantomData,
        }
    }

    /// Registers an attempt of this handle.
    pub(crate) fn enter(&self) -> super::wait::Waiter {
        self.waiters.enter()
    }

    /// Registers a driven attempt of this handle (see [`super::driver`]).
    pub(crate) fn enter_driven(&self, notify: Notify) -> super::wait::Waiter {
        self.waiters.enter_driven(notify)
    }

    /// What the walker needs of this handle.
    pub(crate) fn config(&self) -> Config {
        Config {
            client: self.client.clone(),
            dir: self.path.clone(),
            flavor: self.flavor,
            kind: S::KIND,
            parents: self.parents,
            data: self.identifier.clone(),
            ephemeral: self.ephemeral,
            decide: S::decide,
            extra: self.extra.clone(),
            revoke: self
                .revoke
                .map(|how| (how, revocation::marker(self.flavor))),
            acl: self.acl.clone(),
        }
    }

    /// Checks what the server cannot: that the identifier fits a node.
    pub(crate) fn check_identifier(&self) -> Result<()> {
        self.scope().map(drop)
    }

    /// One attempt in `mode`: held, or (a try only) busy.
    pub(crate) fn attempt<M: Mode>(&self, mode: &M) -> Result<Outcome<LockGuard, M::Busy>> {
        self.check_identifier()?;
        let config = self.config();
        Ok(
            match walker::acquire(&config, *mode, self.waiters.enter())? {
                Outcome::Held(acquired) => Outcome::Held(guard_of(&config, acquired)),
                Outcome::Busy(b) => Outcome::Busy(b),
            },
        )
    }

    /// Waits until `deadline` (for ever for `None`), unless `stop` says
    /// otherwise: asked once the attempt is registered, so a cancel of the
    /// caller's (a [`super::MultiLock`]'s) made before is seen there, and
    /// one made after reaches the attempt through [`QueueLock::cancel`].
    pub(crate) fn acquire_until(
        &self,
        deadline: Option<Instant>,
        stop: &dyn Fn() -> bool,
    ) -> Result<LockGuard> {
        let waiter = self.waiters.enter();
        if stop() {
            return Err(Error::Cancelled);
        }
        self.check_identifier()?;
        let config = self.config();
        let ending = walker::acquire(&config, Wait(deadline), waiter)?.held();
        Ok(guard_of(&config, ending))
    }

    /// Waits until `deadline` (for ever for `None`). A deadline already
    /// past makes one attempt that does not wait, as zktools' `timeout=0`
    /// and Hazelcast's `tryLock(0)` do.
    fn wait(&self, deadline: Option<Instant>) -> Result<LockGuard> {
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return self.try_acquire()?.ok_or(Error::Timeout);
        }
        Ok(self.attempt(&Wait(deadline))?.held())
    }

    /// Blocks until this thread holds the lock.
    ///
    /// Waits through connection losses (the session may survive them). The
    /// waiting contender's node is deleted whenever it stops waiting without
    /// the lock.
    ///
    /// # Errors
    /// [`Error::Cancelled`] after [`QueueLock::cancel`];
    /// [`Error::SessionLost`] if the session ends while waiting;
    /// [`Error::Closed`]; [`Error::ChrootMissing`] if the connect string's
    /// chroot does not exist; server errors such as `NoAuth` (naming the
    /// node, a missing ancestor of the lock's path included, that could not
    /// be created).
    pub fn acquire(&self) -> Result<LockGuard> {
        self.wait(None)
    }

    /// As [`QueueLock::acquire`], giving up after `timeout`. One deadline
    /// covers every phase of the attempt (connecting, creating, waiting). A
    /// zero `timeout` makes one attempt that does not wait: the lock if it
    /// is free, else [`Error::Timeout`].
    /// On timeout the attempt's node is deleted: confirmed before this
    /// returns when the server answers (within a round trip, a second at
    /// most); during a partition this returns on time and the client
    /// deletes the node once it is back.
    ///
    /// # Errors
    /// [`Error::Timeout`], and those of [`QueueLock::acquire`].
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<LockGuard> {
        self.wait(Some(Instant::now() + timeout))
    }

    /// Takes the lock if nobody holds it (or, for a reader, if no writer
    /// holds or waits for it), without waiting for another holder. Returns
    /// `Ok(None)` otherwise, having deleted its node (confirmed by the
    /// server before this returns, unless the connection drops meanwhile).
    ///
    /// # Errors
    /// As [`QueueLock::acquire`]; a connection that stays down for a request
    /// timeout ends in [`Error::Timeout`].
    pub fn try_acquire(&self) -> Result<Option<LockGuard>> {
        let deadline = self.client.default_deadline();
        Ok(self.attempt(&Try(deadline))?.taken())
    }

    /// Starts an acquire in the background and returns at once (the
    /// create is queued; no round trip is waited for): the lock is taken
    /// while the program goes on, and the [`Pending`] gives the guard. It
    /// costs no thread: every background acquire of a client runs on one
    /// (see the README's "Background acquisition"). [`QueueLock::cancel`]
    /// cancels it too.
    pub fn acquire_in_background(&self) -> Pending {
        pending::pending(self.scope(), |notify| self.background(notify))
    }

    /// Starts an acquire in the background; `f` runs on the client's
    /// callback thread when it ends, with the guard or the error (a panic
    /// in `f` is caught and logged). Nothing to hold on to: to abandon it,
    /// [`QueueLock::cancel`] the handle.
    ///
    /// ```
    /// # fn main() -> zklock::Result<()> {
    /// # let client = zklock::Client::connect(&zklock::doc_hosts())?;
    /// let lock = zklock::Lock::new(&client, "/zklock-doc/locks/then")?;
    /// let (tx, rx) = crossbeam_channel::bounded(1);
    /// lock.acquire_then(move |held| {
    ///     let guard = held.expect("acquired");
    ///     // ... work under the lock, on the callback thread ...
    ///     tx.send(guard.fencing_token().is_ok()).unwrap();
    /// });
    /// assert!(rx.recv().unwrap());
    /// # Ok(()) }
    /// ```
    pub fn acquire_then(&self, f: impl FnOnce(Result<LockGuard>) + Send + 'static) {
        pending::then(self.scope(), |notify| self.background(notify), f);
    }

    /// The session an attempt starting now runs in (see
    /// [`attempt_scope`]).
    fn scope(&self) -> Result<Scope> {
        attempt_scope(&self.client, &self.path, &self.identifier)
    }

    /// A background attempt, its wake-ups also going to `notify`.
    fn background(&self, notify: Notify) -> Result<Background> {
        let config = self.config();
        let walk = walker::start(&config, Wait(None), self.waiters.enter_driven(notify))?;
        Ok(Background { config, walk })
    }

    /// Makes every acquire pending on this handle (from any thread) return
    /// [`Error::Cancelled`] promptly, deleting its node. Acquires that start
    /// later are not affected.
    pub fn cancel(&self) {
        self.waiters.cancel();
    }

    /// The identifiers of the contenders, in queue order: the holder (or
    /// the holding readers) first. Children of the path that are not
    /// contenders of a known format are left out. An identifier is a node's
    /// data: kazoo stores its identifier there too; Curator, by default,
    /// its client's local IP address.
    ///
    /// # Errors
    /// Connection and session errors. A lock nobody has used yet (no node
    /// at its path) has no contenders.
    pub fn contenders(&self) -> Result<Vec<String>> {
        contender_identifiers(&self.client, &self.path, &self.extra)
    }

    /// Whether anybody holds the lock now (one listing, no data read):
    /// Hazelcast's `isLocked`, the zk gem's `locked?` for others.
    ///
    /// # Errors
    /// Connection and session errors.
    pub fn is_locked(&self) -> Result<bool> {
        Ok(!inspection::queue(&self.client, &self.path, &self.extra)?.is_empty())
    }

    /// Whether a new contender of this kind would hold at once (a reader:
    /// no writer queued; a writer: nobody queued): the zk gem's
    /// `acquirable?`. An answer about now; an acquire still queues.
    ///
    /// # Errors
    /// Connection and session errors.
    pub fn acquirable(&self) -> Result<bool> {
        let queue = inspection::queue(&self.client, &self.path, &self.extra)?;
        Ok(inspection::acquirable(&queue, S::KIND.role()))
    }

    /// How many acquires are under way on this handle now (waiting, or
    /// about to): the zk gem's `waiting?`. No round trip.
    pub fn pending(&self) -> usize {
        self.waiters.pending()
    }

    /// The lock's queue as the server holds it now, in order: each entry's
    /// node, role, sequence, identifier, whether it holds, its session,
    /// creation time, fencing token, and whether a revocation was requested.
    /// A listing and one pipelined read of every entry.
    ///
    /// # Errors
    /// Connection and session errors. A lock nobody has used has no entries.
    pub fn inspect(&self) -> Result<LockInfo> {
        inspection::inspect(&self.client, &self.path, &self.extra)
    }

    /// Asks every contender queued on the path now to release (zktools'
    /// `revoke_all`): writes the revocation request into each node. Returns
    /// how many were asked. Non-contender children are left alone; a path
    /// that does not exist has none.
    ///
    /// # Errors
    /// Connection and session errors (redoing the call is safe).
    pub fn revoke_all(&self) -> Result<usize> {
        let request = revocation::marker(self.flavor);
        revocation::revoke_every(&self.client, &self.path, &self.extra, Revoke::Ask, request)
    }

    /// Deletes every contender node queued on the path now (zktools'
    /// `clear`, for a lock a dead holder keeps): holders that watch their
    /// node get `Lost` at once, waiters queue again. Returns how many were
    /// deleted. Non-contender children are left alone.
    ///
    /// # Errors
    /// Connection and session errors (redoing the call is safe).
    pub fn clear(&self) -> Result<usize> {
        let request = revocation::marker(self.flavor);
        revocation::revoke_every(
            &self.client,
            &self.path,
            &self.extra,
            Revoke::Immediate,
            request,
        )
    }

    /// Deletes the lock's directory if nobody is queued in it (it must have
    /// no child at all); whether this call deleted it. Never deletes a live
    /// contender: one that arrives meanwhile keeps the directory (the server
    /// refuses to delete a node with children).
    ///
    /// # Errors
    /// Connection and session errors.
    pub fn remove(&self) -> Result<bool> {
        removal::remove_dir(&self.client, &self.path)
    }
}

/// The guard of a lock the walker acquired with `config`.
pub(crate) fn guard_of(config: &Config, acquired: Acquired) -> LockGuard {
    let Acquired { own, czxid, local } = acquired;
    if config.revoke.is_some() {
        // A revoking handle's holders hear requests too.
        own.watch();
    }
    let held = Held::Queue {
        extra: config.extra.clone(),
        writer: config.kind.role() == Role::Writer,
    };
    LockGuard::new(own, czxid, held).known_locally(local)
}

/// A queue lock's background attempt: the walk, waiting as long as it takes.
struct Background {
    config: Config,
    walk: WalkState<Wait>,
}

impl Steps for Background {
    fn begin(&mut self) {
        self.walk.begin(&self.config);
    }

    fn poll(&mut self) -> Result<Poll<LockGuard>> {
        Ok(match self.walk.poll(&self.config)? {
            Poll::Ready(ending) => Poll::Ready(guard_of(&self.config, ending.held())),
            Poll::Pending => Poll::Pending,
        })
    }

    fn node(&self) -> Option<String> {
        self.walk.node(&self.config)
    }

    fn canceller(&self) -> Canceller {
        self.walk.canceller()
    }
}
