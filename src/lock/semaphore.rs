//! A distributed counting semaphore, in the layout of kazoo's `Semaphore`
//! (the default) or Curator's `InterProcessSemaphoreV2`, so either's users
//! share its bound.
//!
//! kazoo's layout ([`Flavor::Kazoo`]):
//! - the semaphore node `<path>` holds `max_leases` as a decimal string;
//! - each lease is an ephemeral child `<path>/<32 hex>` with the holder's
//!   identifier as data;
//! - leases are taken under an exclusive lock at the sibling `<path>-__lock__`.
//!
//! Curator's layout ([`Flavor::Curator`]):
//! - leases are ephemeral-sequential children `<path>/leases/_c_<uuid>-lease-<seq>`;
//! - they are taken under an `InterProcessMutex` at `<path>/locks`;
//! - the number of leases is not stored anywhere: every user must agree.
//!
//! Either way only the holder of the internal lock counts and watches the
//! leases, so a released lease wakes one waiter, not all of them; and it
//! counts them after a `sync`, so a reconnection to a lagging server cannot
//! hide a lease and admit one holder too many.

use super::attempt::{Attempt, Mode, Outcome, Try, Wait, stop};
use super::cleanup::Claim;
use super::guard::{Held, LockGuard};
use super::identity::{attempt_scope, check_identifier, default_identifier, read_identifiers};
use super::inspection::{self, EntryRole, LockInfo};
use super::name::Flavor;
use super::pending::{self, Pending, Steps};
use super::queue_lock::Lock;
use super::queue_lock::guard_of;
use super::removal;
use super::wait::{Canceller, Notify, Waiter, Waiters, Wake};
use super::walker::{self, Config, WalkState};
use crate::client::scope::{Call, ReplyExt};
use crate::client::scope::{EpochStatus, Scope};
use crate::client::{Acl, Client, CreateMode, Stat};
use crate::error::{Error, Failure, Result, ZkError};
use crate::path;
use parking_lot::Mutex;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

/// A distributed counting semaphore: at most `max_leases` holders at once.
///
/// ```
/// # fn main() -> zklock::Result<()> {
/// # let client = zklock::Client::connect(&zklock::doc_hosts())?;
/// let pool = zklock::Semaphore::new(&client, "/zklock-doc/pools/db", 3)?.identifier("worker-7");
/// let lease = pool.acquire()?; // one of at most 3
/// assert!(pool.lease_holders()?.contains(&"worker-7".to_string()));
/// drop(lease);
/// # Ok(()) }
/// ```
///
/// Leases come back as [`LockGuard`]s: released when dropped, with a state,
/// a `check()` and a fencing token (the lease node's creation zxid).
pub struct Semaphore {
    client: Client,
    path: String,
    max_leases: u32,
    identifier: Vec<u8>,
    flavor: Flavor,
    lock: Lock,
    waiters: Arc<Waiters>,
    /// Whether this handle has seen the semaphore node agree with it.
    node_checked: Arc<Mutex<bool>>,
    /// The ACL of every node this handle creates.
    acl: Vec<Acl>,
}

impl std::fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Semaphore")
            .field("path", &self.path)
            .field("max_leases", &self.max_leases)
            .field("identifier", &String::from_utf8_lossy(&self.identifier))
            .field("flavor", &self.flavor)
            .finish()
    }
}

impl Semaphore {
    /// A semaphore of `max_leases` leases at `path`. Every handle on one
    /// path must agree on `max_leases` (it is stored in the semaphore node
    /// by the first one; see [`Error::LeaseMismatch`]).
    ///
    /// # Errors
    /// [`Error::InvalidPath`]; [`Error::InvalidArgument`] if `max_leases` is 0.
    pub fn new(client: &Client, path: &str, max_leases: u32) -> Result<Semaphore> {
        path::validate_recipe(path, client.chroot())?;
        if max_leases == 0 {
            return Err(Error::InvalidArgument(
                "a semaphore needs at least one lease".into(),
            ));
        }
        let identifier = default_identifier();
        Ok(Semaphore {
            client: client.clone(),
            path: path.to_string(),
            max_leases,
            lock: internal_lock(client, path, Flavor::Kazoo, &identifier)?,
            identifier: identifier.into_bytes(),
            flavor: Flavor::Kazoo,
            waiters: Waiters::new(client),
            node_checked: Arc::new(Mutex::new(false)),
            acl: Acl::open_unsafe(),
        })
    }

    /// Sets the identifier stored in this handle's lease nodes, shown by
    /// [`Semaphore::lease_holders`] (default `<hostname>:<pid>`).
    pub fn identifier(mut self, identifier: impl Into<String>) -> Self {
        let id = identifier.into();
        self.lock = self.lock.identifier(id.clone());
        self.identifier = id.into_bytes();
        self
    }

    /// Whose layout the semaphore uses: [`Flavor::Kazoo`] (the default,
    /// shared with kazoo's `Semaphore`) or [`Flavor::Curator`] (shared with
    /// Curator's `InterProcessSemaphoreV2`; the number of leases is then
    /// not stored, so it is not checked either).
    pub fn flavor(mut self, flavor: Flavor) -> Self {
        let id = String::from_utf8_lossy(&self.identifier).into_owned();
        // Cannot fail: `new` validated the path the internal lock derives from.
        if let Ok(lock) = internal_lock(&self.client, &self.path, flavor, &id) {
            self.lock = lock.acl(self.acl.clone());
            self.flavor = flavor;
        }
        self
    }

    /// The ACL of every node this handle creates: the semaphore node, the
    /// leases, the internal lock's nodes and the missing directories (see
    /// [`super::QueueLock::acl`]).
    pub fn acl(mut self, acl: Vec<Acl>) -> Self {
        self.lock = self.lock.acl(acl.clone());
        self.acl = acl;
        self
    }

    /// Where the leases live.
    fn lease_dir(&self) -> String {
        match self.flavor {
            Flavor::Kazoo => self.path.clone(),
            Flavor::Curator => path::join(&self.path, "leases"),
        }
    }

    /// The semaphore's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The number of leases.
    pub fn max_leases(&self) -> u32 {
        self.max_leases
    }

    /// Blocks until this thread holds a lease.
    ///
    /// # Errors
    /// [`Error::LeaseMismatch`] if the semaphore node says another number of
    /// leases; [`Error::Cancelled`], [`Error::SessionLost`], [`Error::Closed`],
    /// server errors.
    pub fn acquire(&self) -> Result<LockGuard> {
        self.wait(None)
    }

    /// As [`Semaphore::acquire`], giving up after `timeout` (one deadline for
    /// every phase: setting up the semaphore node, the internal lock and the
    /// wait for a free lease).
    ///
    /// # Errors
    /// [`Error::Timeout`], and those of [`Semaphore::acquire`].
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<LockGuard> {
        self.wait(Some(Instant::now() + timeout))
    }

    /// Takes a lease if one is free right now, without waiting for a holder.
    ///
    /// # Errors
    /// As [`Semaphore::acquire`].
    pub fn try_acquire(&self) -> Result<Option<LockGuard>> {
        Ok(self.attempt(&Try(self.client.default_deadline()))?.taken())
    }

    /// Waits until `deadline` (for ever for `None`); a deadline already past
    /// makes one attempt that does not wait.
    fn wait(&self, deadline: Option<Instant>) -> Result<LockGuard> {
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return self.try_acquire()?.ok_or(Error::Timeout);
        }
        Ok(self.attempt(&Wait(deadline))?.held())
    }

    /// Makes every acquire pending on this handle return [`Error::Cancelled`]
    /// promptly.
    pub fn cancel(&self) {
        self.lock.cancel();
        self.waiters.cancel();
    }

    /// The identifiers of the current lease holders (in no particular order).
    ///
    /// # Errors
    /// Connection and session errors.
    pub fn lease_holders(&self) -> Result<Vec<String>> {
        let dir = self.lease_dir();
        let children = match self.client.get_children(&dir) {
            Ok(c) => c,
            Err(e) if e.is(ZkError::NoNode) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        read_identifiers(&self.client, &dir, children.iter().map(String::as_str))
    }

    /// How many acquires are under way on this handle now. No round trip.
    pub fn pending(&self) -> usize {
        self.waiters.pending() + self.lock.pending()
    }

    /// The leases held now, then the contenders waiting for the lease lock
    /// (the lock taking a lease serialises): every entry as
    /// [`super::QueueLock::inspect`] describes them, the leases with the role
    /// [`EntryRole::Lease`].
    ///
    /// # Errors
    /// Connection and session errors.
    pub fn inspect(&self) -> Result<LockInfo> {
        let dir = self.lease_dir();
        let leases = match self.client.get_children(&dir) {
            Ok(c) => c,
            Err(e) if e.is(ZkError::NoNode) => Vec::new(),
            Err(e) => return Err(e),
        };
        let lease_marker = ["-lease-".to_string()];
        let mut entries = inspection::read_entries(
            &self.client,
            &dir,
            leases.into_iter().map(|n| {
                let seq = super::name::parse_with(&n, &lease_marker).map(|c| c.seq);
                (n, EntryRole::Lease, seq, true)
            }),
        )?;
        let mut waiting = self.lock.inspect()?.entries;
        for w in &mut waiting {
            w.holds = false; // taking a lease, not holding one
        }
        entries.append(&mut waiting);
        Ok(LockInfo {
            path: self.path.clone(),
            entries,
        })
    }

    /// Deletes the semaphore's nodes when no lease is held and nobody waits
    /// (kazoo's layout: `<path>` with its size and `<path>-__lock__`;
    /// Curator's: `<path>/locks`, `<path>/leases` and `<path>`), all in one
    /// transaction; whether they were deleted. This is how to change a
    /// semaphore's size: destroy it, then use handles of the new size. A
    /// contender that arrives meanwhile keeps everything (the server refuses
    /// to delete a node with children).
    ///
    /// # Errors
    /// Connection and session errors.
    pub fn destroy(&self) -> Result<bool> {
        let nodes = match self.flavor {
            Flavor::Curator => vec![
                path::join(&self.path, "locks"),
                path::join(&self.path, "leases"),
                self.path.clone(),
            ],
            _ => vec![self.lock.path().to_string(), self.path.clone()],
        };
        let destroyed = removal::remove_all(&self.client, &nodes)?;
        if destroyed {
            *self.node_checked.lock() = false;
        }
        Ok(destroyed)
    }

    /// Creates the semaphore node, or checks that it agrees with us
    /// (kazoo's layout; Curator's stores no count). Within the attempt's
    /// deadline and cancellable, like every other phase of an acquire.
    fn ensure_node(&self, at: &mut Attempt) -> Result<()> {
        if self.flavor == Flavor::Curator || *self.node_checked.lock() {
            return Ok(());
        }
        loop {
            at.connected()?;
            // Create it, and read it in case it exists: one round trip.
            let count = self.max_leases.to_string().into_bytes();
            let create = Call::create(self.path.clone(), count, CreateMode::Persistent, &self.acl);
            let [created, read] = at.round_trip([create, Call::get_data(&self.path)])?;
            match created.done() {
                Ok(()) => break,
                Err(Failure::Server(ZkError::NodeExists)) => {}
                Err(f) => {
                    if let Failure::Server(ZkError::NoNode) = at.retryable(f, &self.path)? {
                        at.ensure_parents(
                            path::parent(&self.path),
                            CreateMode::Container,
                            &self.acl,
                        )?;
                    }
                    continue;
                }
            }
            match read.data() {
                Ok((data, stat)) => {
                    if self.agrees(at, &data, stat.version)? {
                        break;
                    }
                }
                // Deleted again meanwhile, or the connection broke: again.
                Err(f) => {
                    at.retryable(f, &self.path)?;
                }
            }
        }
        *self.node_checked.lock() = true;
        Ok(())
    }

    /// Whether the existing semaphore node (`data` at `version`) agrees
    /// with this handle; an empty one (made by `ensure_path` or a tool) is
    /// claimed. `false`: it changed meanwhile, ask again.
    fn agrees(&self, at: &mut Attempt, data: &[u8], version: i32) -> Result<bool> {
        let text = String::from_utf8_lossy(data);
        if text.is_empty() {
            let count = self.max_leases.to_string().into_bytes();
            let claim = Call::set_data(&self.path, count, Some(version));
            return match at.call(claim)?.done() {
                Ok(()) => Ok(true),
                Err(Failure::Server(ZkError::BadVersion | ZkError::NoNode)) => Ok(false),
                Err(f) => at.retryable(f, &self.path).map(|_| false),
            };
        }
        match text.trim().parse::<u32>() {
            Ok(stored) if stored == self.max_leases => Ok(true),
            Ok(stored) => Err(Error::LeaseMismatch {
                stored,
                requested: self.max_leases,
            }),
            Err(_) => {
                // As kazoo: data that is not a number is not checked.
                log::warn!(
                    "zklock: semaphore {} holds {text:?}, not a lease count; not checked",
                    self.path
                );
                Ok(true)
            }
        }
    }

    /// An attempt of this handle in the current session, keeping `waiter`
    /// (the acquire's place in the order of cancels).
    fn new_attempt(&self, deadline: Option<Instant>, waiter: Waiter) -> Result<Attempt> {
        let scope = self.client.scope().map_err(|f| f.into_error(&self.path))?;
        Ok(Attempt::new(scope, deadline, waiter))
    }

    /// Another handle on the same semaphore sharing this one's attempts
    /// and its knowledge of the node (an attempt owns one).
    pub(crate) fn twin(&self) -> Semaphore {
        Semaphore {
            client: self.client.clone(),
            path: self.path.clone(),
            max_leases: self.max_leases,
            identifier: self.identifier.clone(),
            flavor: self.flavor,
            lock: self.lock.twin(),
            waiters: self.waiters.clone(),
            node_checked: self.node_checked.clone(),
            acl: self.acl.clone(),
        }
    }

    /// One attempt in `mode`, run to its end on this thread.
    fn attempt<M: Mode>(&self, mode: &M) -> Result<Outcome<LockGuard, M::Busy>> {
        self.attempt_unless(mode, &|| false)
    }

    /// Waits until `deadline` unless `stop` says otherwise (see
    /// [`super::QueueLock::acquire_until`]).
    pub(crate) fn acquire_until(
        &self,
        deadline: Option<Instant>,
        stop: &dyn Fn() -> bool,
    ) -> Result<LockGuard> {
        Ok(self.attempt_unless(&Wait(deadline), stop)?.held())
    }

    fn attempt_unless<M: Mode>(
        &self,
        mode: &M,
        stop: &dyn Fn() -> bool,
    ) -> Result<Outcome<LockGuard, M::Busy>> {
        let waiter = self.waiters.enter();
        let lock_waiter = self.lock.enter();
        if stop() {
            return Err(Error::Cancelled);
        }
        let mut attempt = SemAttempt::new(self.twin(), *mode, waiter, lock_waiter)?;
        loop {
            if let Poll::Ready(outcome) = attempt.poll()? {
                return Ok(outcome);
            }
        }
    }

    /// Starts taking a lease in the background and returns at once; see
    /// [`super::QueueLock::acquire_in_background`].
    pub fn acquire_in_background(&self) -> Pending {
        pending::pending(self.scope(), |notify| self.background(notify))
    }

    /// Starts taking a lease in the background; `f` runs on the client's
    /// callback thread when it ends. See [`super::QueueLock::acquire_then`].
    pub fn acquire_then(&self, f: impl FnOnce(Result<LockGuard>) + Send + 'static) {
        pending::then(self.scope(), |notify| self.background(notify), f);
    }

    /// The session an attempt starting now runs in (see
    /// [`attempt_scope`]).
    fn scope(&self) -> Result<Scope> {
        attempt_scope(&self.client, &self.path, &self.identifier)
    }

    fn background(&self, notify: Notify) -> Result<SemAttempt<Wait>> {
        let waiter = self.waiters.enter_driven(notify.clone());
        let lock_waiter = self.lock.enter_driven(notify);
        SemAttempt::new(self.twin(), Wait(None), waiter, lock_waiter)
    }

    /// With the internal lock held: waits for a free lease and takes it
    /// (a driven attempt parks while all are taken). The lease is claimed
    /// from the moment its create is sent, so however this ends without a
    /// guard, it is deleted (see [`super::cleanup`]).
    fn poll_lease<M: Mode>(
        &self,
        at: &mut Attempt,
        lease: &mut Lease,
        mode: &M,
    ) -> Result<Poll<Outcome<LockGuard, M::Busy>>> {
        let wait = mode.give_up().is_none();
        let dir = self.lease_dir();
        loop {
            if lease.waiting {
                // All leases are taken: wait until one goes (the children
                // watch set by the listing), or anything else happens.
                match at.waiter.next(at.deadline).map_err(stop)? {
                    None => return Ok(Poll::Pending),
                    Some(Wake::Node { path, .. }) if path != dir => continue,
                    Some(Wake::Released { .. }) => continue, // a lock phase's, late
                    Some(_) => lease.waiting = false,
                }
            }
            if at.waiter.driven() && at.scope.status() == EpochStatus::Suspended {
                return Ok(Poll::Pending); // the session listener wakes it
            }
            let Some(children) = self.list_leases(at, &dir, wait)? else {
                continue;
            };
            let claim = &mut lease.claim;
            // A create whose reply was lost may have made our lease already.
            let taken = match claim.find(&children).cloned() {
                Some(name) => self.lease_stat(at, &dir, &name)?.map(|stat| (name, stat)),
                None => {
                    // Not there after a sync: the create was never applied.
                    claim.absent();
                    if children.len() >= self.max_leases as usize {
                        if let Some(busy) = mode.give_up() {
                            return Ok(Poll::Ready(Outcome::Busy(busy)));
                        }
                        lease.waiting = true;
                        continue;
                    }
                    self.create_lease(at, claim)?
                }
            };
            if let Some((name, stat)) = taken {
                claim.adopt(name, stat.czxid);
                if let Some((own, czxid)) = claim.take() {
                    let guard = LockGuard::new(own, czxid, Held::Lease);
                    return Ok(Poll::Ready(Outcome::Held(guard)));
                }
            }
        }
    }

    /// Our lease's claim, before its create: kazoo's layout names it
    /// outright, Curator's puts a protected prefix before the counter.
    fn lease_claim(&self, at: &Attempt) -> Claim {
        let dir = self.lease_dir();
        match self.flavor {
            Flavor::Kazoo => {
                let name = uuid::Uuid::new_v4().simple().to_string();
                Claim::new(&at.scope, &dir, name, false, true)
            }
            Flavor::Curator => {
                let prefix = format!("_c_{}-lease-", uuid::Uuid::new_v4());
                Claim::new(&at.scope, &dir, prefix, true, true)
            }
        }
    }

    /// The leases, after a `sync`: if the client reconnected to another
    /// server since the internal lock was handed over, that server may lag
    /// behind the leases granted before, and counting them there could
    /// admit one holder too many. With `watch`, a children watch wakes the
    /// attempt when a lease goes. `None`: ask again.
    fn list_leases(&self, at: &mut Attempt, dir: &str, watch: bool) -> Result<Option<Vec<String>>> {
        at.connected()?;
        let list = if watch {
            Call::list_watch(dir, at.waiter.watcher(dir))
        } else {
            Call::list(dir)
        };
        let [synced, listing] = at.round_trip([Call::sync(dir), list])?;
        match synced.and(listing).children() {
            Ok(c) => Ok(Some(c)),
            Err(f) => match at.retryable(f, dir)? {
                // Curator's leases directory comes and goes.
                Failure::Server(ZkError::NoNode) if self.flavor == Flavor::Curator => {
                    Ok(Some(Vec::new()))
                }
                Failure::Server(ZkError::NoNode) => Err(no_node(dir)),
                _ => Ok(None),
            },
        }
    }

    /// The stat of our lease `name`, found in a listing; `None` if it went
    /// meanwhile or the question must be asked again.
    fn lease_stat(&self, at: &mut Attempt, dir: &str, name: &str) -> Result<Option<Stat>> {
        let lease = path::join(dir, name);
        match at.call(Call::exists(&lease))?.stat() {
            Ok(stat) => Ok(Some(stat)),
            Err(f) => at.retryable(f, &lease).map(|_| None),
        }
    }

    /// Creates our lease; `None` if it was not created (yet).
    fn create_lease(&self, at: &mut Attempt, claim: &mut Claim) -> Result<Option<(String, Stat)>> {
        let mode = match self.flavor {
            Flavor::Kazoo => CreateMode::Ephemeral,
            Flavor::Curator => CreateMode::EphemeralSequential,
        };
        let create = Call::create(
            claim.create_path(),
            self.identifier.clone(),
            mode,
            &self.acl,
        );
        let dir = self.lease_dir();
        claim.sending();
        match at.call(create)?.created() {
            Ok((lease, stat)) => Ok(Some((path::basename(&lease).into(), stat))),
            // Our own name exists: an earlier create of ours, found next time.
            Err(Failure::Server(ZkError::NodeExists)) => Ok(None),
            Err(f) => {
                if matches!(f, Failure::Server(_) | Failure::TooLarge(_)) {
                    claim.absent(); // the server refused it
                }
                match at.retryable(f, &dir)? {
                    Failure::Server(ZkError::NoNode) if self.flavor == Flavor::Curator => {
                        at.ensure_parents(&dir, CreateMode::Container, &self.acl)?;
                    }
                    Failure::Server(ZkError::NoNode) => return Err(no_node(&dir)),
                    _ => {}
                }
                Ok(None)
            }
        }
    }
}

/// The lock that serialises taking leases: kazoo's sibling `<path>-__lock__`
/// (its directory persistent, as kazoo makes it: kazoo fails if a directory
/// it created once disappears), or Curator's `<path>/locks`.
fn internal_lock(client: &Client, path: &str, flavor: Flavor, identifier: &str) -> Result<Lock> {
    Ok(match flavor {
        Flavor::Kazoo => Lock::new(client, &format!("{path}-__lock__"))?.persistent_parents(),
        Flavor::Curator => Lock::new(client, &path::join(path, "locks"))?.flavor(Flavor::Curator),
    }
    .identifier(identifier))
}

fn no_node(path: &str) -> Error {
    Error::ZooKeeper {
        code: ZkError::NoNode,
        path: path.to_string(),
    }
}

/// The lease phase's state: our lease's claim, and whether we wait for a
/// lease to go.
struct Lease {
    claim: Claim,
    waiting: bool,
}

/// Where a semaphore attempt stands.
enum Phase<M: Mode> {
    /// Checking the semaphore node (the internal lock's waiter kept).
    Setup(Attempt, Waiter),
    /// Taking the internal lock (the semaphore's waiter kept for later).
    Lock(WalkState<M>, Waiter),
    /// Holding the internal lock, taking a lease.
    Lease(Attempt, Lease, LockGuard),
    Ended,
}

/// One semaphore acquire between its steps: set up the node, take the
/// internal lock, take a lease. One deadline and one cancel cover every
/// phase: the attempt keeps the waiters registered at its start, so a
/// `cancel()` made at any moment after it began reaches it (a waiter
/// registered afresh for a later phase would take a cancel made before
/// for an older one, and wait on). A blocking acquire polls it to the end
/// on its thread; a background one parks in the lock and lease phases.
pub(crate) struct SemAttempt<M: Mode> {
    sem: Semaphore,
    lock_config: Config,
    mode: M,
    phase: Phase<M>,
}

impl<M: Mode> SemAttempt<M> {
    fn new(sem: Semaphore, mode: M, waiter: Waiter, lock_waiter: Waiter) -> Result<Self> {
        let at = sem.new_attempt(mode.deadline(), waiter)?;
        check_identifier(&at.scope, &sem.path, &sem.identifier)?;
        Ok(SemAttempt {
            lock_config: sem.lock.config(),
            sem,
            mode,
            phase: Phase::Setup(at, lock_waiter),
        })
    }

    fn poll(&mut self) -> Result<Poll<Outcome<LockGuard, M::Busy>>> {
        loop {
            match std::mem::replace(&mut self.phase, Phase::Ended) {
                Phase::Setup(mut at, lock_waiter) => {
                    self.sem.ensure_node(&mut at)?;
                    let walk = walker::start(&self.lock_config, self.mode, lock_waiter)?;
                    self.phase = Phase::Lock(walk, at.waiter);
                }
                Phase::Lock(mut walk, waiter) => match walk.poll(&self.lock_config)? {
                    Poll::Pending => {
                        self.phase = Phase::Lock(walk, waiter);
                        return Ok(Poll::Pending);
                    }
                    // Another contender is taking a lease right now.
                    Poll::Ready(Outcome::Busy(b)) => return Ok(Poll::Ready(Outcome::Busy(b))),
                    Poll::Ready(Outcome::Held(acquired)) => {
                        let lock = guard_of(&self.lock_config, acquired);
                        let at = self.sem.new_attempt(self.mode.deadline(), waiter)?;
                        let claim = self.sem.lease_claim(&at);
                        let lease = Lease {
                            claim,
                            waiting: false,
                        };
                        self.phase = Phase::Lease(at, lease, lock);
                    }
                },
                Phase::Lease(mut at, mut lease, lock) => {
                    let polled = self.sem.poll_lease(&mut at, &mut lease, &self.mode);
                    if let Ok(Poll::Pending) = polled {
                        self.phase = Phase::Lease(at, lease, lock);
                        return Ok(Poll::Pending);
                    }
                    drop(lease); // a lease not taken is deleted before anyone hears
                    // Let the next contender in at once, whatever happened here.
                    let _ = lock.release();
                    if let Err(Error::ZooKeeper {
                        code: ZkError::NoNode,
                        ..
                    }) = &polled
                    {
                        *self.sem.node_checked.lock() = false;
                    }
                    return polled;
                }
                Phase::Ended => return Err(Error::Cancelled),
            }
        }
    }

    /// The attempt's own waiters, so one cancel reaches every phase.
    fn cancellers(&self) -> Canceller {
        let (mine, lock) = match &self.phase {
            Phase::Setup(at, lock_waiter) => (at.waiter.canceller(), lock_waiter.canceller()),
            Phase::Lock(walk, waiter) => (waiter.canceller(), walk.canceller()),
            Phase::Lease(at, _, _) => (at.waiter.canceller(), at.waiter.canceller()),
            Phase::Ended => return Canceller::none(),
        };
        mine.and(lock)
    }
}

impl Steps for SemAttempt<Wait> {
    fn begin(&mut self) {}

    fn poll(&mut self) -> Result<Poll<LockGuard>> {
        Ok(SemAttempt::poll(self)?.map(Outcome::held))
    }

    fn node(&self) -> Option<String> {
        match &self.phase {
            Phase::Lock(walk, _) => walk.node(&self.lock_config),
            Phase::Lease(_, lease, _) => lease.claim.path(),
            _ => None,
        }
    }

    fn canceller(&self) -> Canceller {
        self.cancellers()
    }
}
