//! Reentrant locks: [`ReentrantLock`], and the two sides of a
//! [`ReentrantReadWriteLock`], with Hazelcast `FencedLock`'s semantics (a
//! per-thread hold count, one fencing token per ownership, an optional
//! limit) and Curator's per-thread re-entry and downgrade. A front over the
//! queue locks: the first hold of a thread queues a contender exactly as
//! [`QueueLock`] does (same node names, so it queues with `Lock`, kazoo and
//! Curator); later ones are decided by `holds`, without the server.

use super::guard::LockGuard;
use super::holds::{Holds, Reentry, Side};
use super::inspection::LockInfo;
use super::name::{Flavor, Role};
use super::queue_lock::QueueLock;
use super::reentrant_guard::ReentrantGuard;
use super::revocation::Revoke;
use super::strategy::{Exclusive, Read, Strategy, Write};
use crate::client::{Acl, Client};
use crate::error::{Error, Result};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A distributed exclusive lock that the holding thread may take again
/// (Hazelcast's `FencedLock`, Curator's `InterProcessMutex`).
///
/// See [`Reentrant`] for its methods.
///
/// ```
/// # fn main() -> zklock::Result<()> {
/// # let client = zklock::Client::connect(&zklock::doc_hosts())?;
/// let lock = zklock::ReentrantLock::new(&client, "/zklock-doc/locks/ledger")?;
/// let outer = lock.acquire()?;
/// let inner = lock.acquire()?; // at once: this thread holds it already
/// assert_eq!(inner.fencing_token()?, outer.fencing_token()?);
/// assert_eq!(lock.hold_count(), 2);
/// drop(outer); // any order: the lock goes with the last guard
/// assert!(lock.is_held_by_current_thread());
/// drop(inner);
/// assert_eq!(lock.hold_count(), 0);
/// # Ok(()) }
/// ```
pub type ReentrantLock = Reentrant<Exclusive>;

/// The read side of a [`ReentrantReadWriteLock`]. Take both sides from one
/// `ReentrantReadWriteLock`: the downgrade and the upgrade check work
/// between the sides of one, not between separate handles (a write on a
/// separate handle would queue behind this thread's own read).
pub type ReentrantReadLock = Reentrant<Read>;

/// The write side of a [`ReentrantReadWriteLock`] (take both sides from one:
/// see [`ReentrantReadLock`]).
pub type ReentrantWriteLock = Reentrant<Write>;

/// A reentrant lock of the kind `S` says: use it through [`ReentrantLock`]
/// or a [`ReentrantReadWriteLock`]'s sides.
///
/// A thread's first acquire queues a contender like [`QueueLock`]'s; while
/// that thread holds, its later acquires on the same handle return at once,
/// with no request to the server, sharing the node (and its fencing token);
/// the lock is released when the last of that thread's guards goes. Other
/// threads sharing the handle exclude each other exactly as processes do.
/// A handle is `Send + Sync`; its guards are not `Send` (see
/// [`ReentrantGuard`]).
///
/// A re-entry trusts what this process knows: a hold that is not known to
/// be lost (`Held`, or `Suspended` while the connection is down) is entered
/// again. Once it is lost, the thread's next acquire queues afresh; the old
/// guards stay lost.
pub struct Reentrant<S: Strategy> {
    inner: QueueLock<S>,
    holds: Arc<Holds>,
    max_holds: Option<usize>,
}

impl<S: Strategy> std::fmt::Debug for Reentrant<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reentrant")
            .field("lock", &self.inner)
            .field("max_holds", &self.max_holds)
            .finish()
    }
}

/// How an acquire waits.
enum How<'a> {
    Wait(Option<Duration>),
    Try,
    /// Until a deadline, unless `stop` says otherwise (see
    /// [`QueueLock::acquire_until`]).
    Until(Option<Instant>, &'a dyn Fn() -> bool),
}

impl<S: Strategy> Reentrant<S> {
    /// A reentrant lock on `path` (nothing is sent until the first acquire).
    ///
    /// # Errors
    /// [`Error::InvalidPath`], as [`QueueLock::new`].
    pub fn new(client: &Client, path: &str) -> Result<Self> {
        Self::sharing(client, path, Arc::default())
    }

    fn sharing(client: &Client, path: &str, holds: Arc<Holds>) -> Result<Self> {
        Ok(Reentrant {
            inner: QueueLock::new(client, path)?,
            holds,
            max_holds: None,
        })
    }

    /// Another handle sharing this one's holds and attempts.
    pub(crate) fn twin(&self) -> Self {
        Reentrant {
            inner: self.inner.twin(),
            holds: self.holds.clone(),
            max_holds: self.max_holds,
        }
    }

    fn map(mut self, f: impl FnOnce(QueueLock<S>) -> QueueLock<S>) -> Self {
        self.inner = f(self.inner);
        self
    }

    /// The identifier stored in this handle's contender nodes (see
    /// [`QueueLock::identifier`]).
    pub fn identifier(self, identifier: impl Into<String>) -> Self {
        let identifier = identifier.into();
        self.map(|l| l.identifier(identifier))
    }

    /// The ACL of the nodes this handle creates (see [`QueueLock::acl`]).
    pub fn acl(self, acl: Vec<Acl>) -> Self {
        self.map(|l| l.acl(acl))
    }

    /// Whether contender nodes are ephemeral (see [`QueueLock::ephemeral`]).
    pub fn ephemeral(self, ephemeral: bool) -> Self {
        self.map(|l| l.ephemeral(ephemeral))
    }

    /// Whose node-name format this handle writes (see [`QueueLock::flavor`]).
    pub fn flavor(self, flavor: Flavor) -> Self {
        self.map(|l| l.flavor(flavor))
    }

    /// Makes a thread's first acquire revoke what blocks it (see
    /// [`QueueLock::revoke`]); a re-entry never waits, so never revokes.
    pub fn revoke(self, how: Revoke) -> Self {
        self.map(|l| l.revoke(how))
    }

    /// Markers of contenders no known format writes, read as writers (see
    /// [`QueueLock::extra_lock_patterns`]).
    pub fn extra_lock_patterns<I, P>(self, patterns: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        self.map(|l| l.extra_lock_patterns(patterns))
    }

    /// The most holds one thread may have on this handle at once (per side,
    /// for a read/write lock); 0, the default, means no limit, as in
    /// Hazelcast's `lockAcquireLimit` (1 makes it not reentrant). Beyond it
    /// `acquire` fails with [`Error::AcquireLimitReached`] and `try_acquire`
    /// returns `Ok(None)`, the holds already taken untouched.
    pub fn max_holds(mut self, limit: usize) -> Self {
        self.max_holds = (limit > 0).then_some(limit);
        self
    }

    fn side() -> Side {
        match S::KIND.role() {
            Role::Reader => Side::Shared,
            Role::Writer => Side::Exclusive,
        }
    }

    /// Waits until `deadline` unless `stop` (asked once this attempt can
    /// hear a cancel) says otherwise: for [`super::MultiLock`].
    pub(crate) fn acquire_until(
        &self,
        deadline: Option<Instant>,
        stop: &dyn Fn() -> bool,
    ) -> Result<ReentrantGuard> {
        self.enter(How::Until(deadline, stop))?
            .ok_or(Error::Timeout)
    }

    fn enter(&self, how: How<'_>) -> Result<Option<ReentrantGuard>> {
        let side = Self::side();
        let guard = |hold| ReentrantGuard::new(self.holds.clone(), hold, side);
        match self.holds.reenter(side, self.max_holds) {
            Reentry::Entered(hold) => return Ok(Some(guard(hold))),
            Reentry::Limit(_) if matches!(how, How::Try) => return Ok(None),
            Reentry::Limit(limit) => return Err(Error::AcquireLimitReached { limit }),
            Reentry::Upgrade => {
                return Err(Error::UpgradeRefused {
                    path: self.path().to_string(),
                });
            }
            Reentry::Queue => {}
        }
        let held: Option<LockGuard> = match how {
            How::Wait(None) => Some(self.inner.acquire()?),
            How::Wait(Some(timeout)) => Some(self.inner.acquire_timeout(timeout)?),
            How::Try => self.inner.try_acquire()?,
            How::Until(deadline, stop) => Some(self.inner.acquire_until(deadline, stop)?),
        };
        let exclusive = side == Side::Exclusive;
        Ok(held.map(|g| guard(self.holds.install(side, g, exclusive))))
    }

    /// Blocks until this thread holds the lock; at once if it holds it
    /// already (see [`QueueLock::acquire`] for the first hold).
    ///
    /// # Errors
    /// [`Error::AcquireLimitReached`] beyond `max_holds`;
    /// [`Error::UpgradeRefused`] for the write side while this thread holds
    /// only the read side; those of [`QueueLock::acquire`].
    pub fn acquire(&self) -> Result<ReentrantGuard> {
        self.enter(How::Wait(None))?.ok_or(Error::Timeout)
    }

    /// As [`Reentrant::acquire`], giving up after `timeout` (a zero timeout
    /// tries once; see [`QueueLock::acquire_timeout`]).
    ///
    /// # Errors
    /// [`Error::Timeout`], and those of [`Reentrant::acquire`].
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<ReentrantGuard> {
        self.enter(How::Wait(Some(timeout)))?.ok_or(Error::Timeout)
    }

    /// Takes the lock if this thread holds it already (within `max_holds`)
    /// or it is free, without waiting; `Ok(None)` otherwise.
    ///
    /// # Errors
    /// [`Error::UpgradeRefused`], and those of [`QueueLock::try_acquire`].
    pub fn try_acquire(&self) -> Result<Option<ReentrantGuard>> {
        self.enter(How::Try)
    }

    /// How many holds the current thread has on this handle now (on this
    /// side, for a read/write lock): this process's count, not the
    /// cluster's; 0 once the lock is lost.
    pub fn hold_count(&self) -> usize {
        self.holds.count(Self::side())
    }

    /// Whether the current thread holds this lock (on this side), as this
    /// process knows now: no round trip.
    pub fn is_held_by_current_thread(&self) -> bool {
        self.hold_count() > 0
    }

    /// Makes every acquire waiting on this handle return
    /// [`Error::Cancelled`] (see [`QueueLock::cancel`]).
    pub fn cancel(&self) {
        self.inner.cancel();
    }

    /// The contenders' identifiers in queue order (see
    /// [`QueueLock::contenders`]).
    ///
    /// # Errors
    /// Connection and session errors.
    pub fn contenders(&self) -> Result<Vec<String>> {
        self.inner.contenders()
    }

    /// Whether anybody (any process, any client) holds the lock now (see
    /// [`QueueLock::is_locked`]).
    ///
    /// # Errors
    /// Connection and session errors.
    pub fn is_locked(&self) -> Result<bool> {
        self.inner.is_locked()
    }

    /// The lock's queue as the server holds it now (see
    /// [`QueueLock::inspect`]).
    ///
    /// # Errors
    /// Connection and session errors.
    pub fn inspect(&self) -> Result<LockInfo> {
        self.inner.inspect()
    }

    /// Whether a new contender of this side would hold at once (see
    /// [`QueueLock::acquirable`]).
    ///
    /// # Errors
    /// Connection and session errors.
    pub fn acquirable(&self) -> Result<bool> {
        self.inner.acquirable()
    }

    /// Asks every contender queued on the path now to release (see
    /// [`QueueLock::revoke_all`]).
    ///
    /// # Errors
    /// Connection and session errors (redoing the call is safe).
    pub fn revoke_all(&self) -> Result<usize> {
        self.inner.revoke_all()
    }

    /// Deletes every contender node queued on the path now (see
    /// [`QueueLock::clear`]); this thread's holds, if any, become lost.
    ///
    /// # Errors
    /// Connection and session errors (redoing the call is safe).
    pub fn clear(&self) -> Result<usize> {
        self.inner.clear()
    }

    /// Deletes the lock's directory if nobody is queued in it (see
    /// [`QueueLock::remove`]).
    ///
    /// # Errors
    /// Connection and session errors.
    pub fn remove(&self) -> Result<bool> {
        self.inner.remove()
    }

    /// How many first acquires are waiting on this handle now (see
    /// [`QueueLock::pending`]).
    pub fn pending(&self) -> usize {
        self.inner.pending()
    }

    /// The lock's path.
    pub fn path(&self) -> &str {
        self.inner.path()
    }
}

/// A distributed read/write lock whose sides the holding thread may take
/// again (Curator's `InterProcessReadWriteLock`), on the read/write node
/// names, so it queues with [`crate::ReadLock`], [`crate::WriteLock`],
/// kazoo and Curator on the same path.
///
/// - **Re-entry.** A thread holding a side takes it again at once, even
///   with a writer queued behind it.
/// - **Downgrade.** A thread holding the write side takes the read side at
///   once; it keeps reading after releasing the write side, and nobody can
///   write in between. The read shares the write node, which stays in the
///   queue until both are released: a writer queued behind it waits, and
///   so do readers queued behind it (the cost: the downgraded read is as
///   exclusive as the write was). Taking the write side again while that
///   read is held is allowed too (the exclusion never lapsed).
/// - **No upgrade.** A thread holding only the read side that asks for the
///   write side gets [`Error::UpgradeRefused`] at once: two threads doing
///   it would each wait for the other's read for ever.
///
/// ```
/// # fn main() -> zklock::Result<()> {
/// # let client = zklock::Client::connect(&zklock::doc_hosts())?;
/// let rw = zklock::ReentrantReadWriteLock::new(&client, "/zklock-doc/locks/table")?;
/// let write = rw.write_lock().acquire()?;
/// let read = rw.read_lock().acquire()?; // a downgrade: at once
/// drop(write);                           // still reading; nobody wrote since
/// assert!(rw.read_lock().is_held_by_current_thread());
/// drop(read);
/// let read = rw.read_lock().acquire()?;
/// assert!(matches!(rw.write_lock().acquire(), Err(zklock::Error::UpgradeRefused { .. })));
/// # drop(read);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ReentrantReadWriteLock {
    read: ReentrantReadLock,
    write: ReentrantWriteLock,
}

impl ReentrantReadWriteLock {
    /// A reentrant read/write lock on `path`.
    ///
    /// # Errors
    /// [`Error::InvalidPath`], as [`QueueLock::new`].
    pub fn new(client: &Client, path: &str) -> Result<Self> {
        let holds = Arc::new(Holds::default());
        Ok(ReentrantReadWriteLock {
            read: Reentrant::sharing(client, path, holds.clone())?,
            write: Reentrant::sharing(client, path, holds)?,
        })
    }

    /// The read side.
    pub fn read_lock(&self) -> &ReentrantReadLock {
        &self.read
    }

    /// The write side.
    pub fn write_lock(&self) -> &ReentrantWriteLock {
        &self.write
    }

    fn both(
        self,
        r: impl FnOnce(ReentrantReadLock) -> ReentrantReadLock,
        w: impl FnOnce(ReentrantWriteLock) -> ReentrantWriteLock,
    ) -> Self {
        ReentrantReadWriteLock {
            read: r(self.read),
            write: w(self.write),
        }
    }

    /// The identifier stored in both sides' nodes.
    pub fn identifier(self, identifier: impl Into<String>) -> Self {
        let identifier = identifier.into();
        let i = identifier.clone();
        self.both(|r| r.identifier(identifier), |w| w.identifier(i))
    }

    /// The ACL of both sides' nodes (see [`QueueLock::acl`]).
    pub fn acl(self, acl: Vec<Acl>) -> Self {
        let a = acl.clone();
        self.both(|r| r.acl(acl), |w| w.acl(a))
    }

    /// Whether both sides' nodes are ephemeral (the default).
    pub fn ephemeral(self, ephemeral: bool) -> Self {
        self.both(|r| r.ephemeral(ephemeral), |w| w.ephemeral(ephemeral))
    }

    /// Whose node-name format both sides write: kazoo's `__rlock__`/`__lock__`
    /// (the default) or, with [`Flavor::Curator`], `__READ__`/`__WRIT__`.
    pub fn flavor(self, flavor: Flavor) -> Self {
        self.both(|r| r.flavor(flavor), |w| w.flavor(flavor))
    }

    /// Makes both sides' first acquires revoke what blocks them.
    pub fn revoke(self, how: Revoke) -> Self {
        self.both(|r| r.revoke(how), |w| w.revoke(how))
    }

    /// The most holds one thread may have on each side (0: no limit).
    pub fn max_holds(self, limit: usize) -> Self {
        self.both(|r| r.max_holds(limit), |w| w.max_holds(limit))
    }
}
