//! The lock recipes: [`Lock`], [`ReadLock`], [`WriteLock`] and [`Semaphore`].
//!
//! All three lock kinds are one front, [`QueueLock`], over one queue walker,
//! told apart by a small [`Strategy`] (as lock_api's `Mutex` is one front
//! over a `RawMutex`). What they guarantee:
//!
//! - **Exclusion across processes and threads.** Each `acquire` is its own
//!   contender, so threads sharing one handle exclude each other exactly as
//!   processes do.
//! - **FIFO.** Contenders hold the lock in the order they queued; readers
//!   queued together hold it together; writers are never starved.
//! - **No herd.** A waiter watches the one node that must go before it, so
//!   a release wakes one waiter (or the group of readers behind it).
//! - **Nothing left behind.** An attempt that ends without the lock (timeout,
//!   cancel, error, try) deletes its node, including a node whose create was
//!   still in flight when the attempt ended (see `cleanup`); a delete that
//!   cannot be confirmed is retried by the client until it is.
//! - **Fencing.** [`LockGuard::fencing_token`] strictly increases from one
//!   holder to the next.
//!
//! Node names follow kazoo by default, so kazoo clients queue with zklock
//! on the same path unchanged: `<32 hex>__lock__<seq>` for `Lock` and
//! `WriteLock`, `<32 hex>__rlock__<seq>` for `ReadLock`, the identifier as
//! data; [`Flavor::Curator`] writes Curator's names instead. The walker
//! recognises every known format whatever the flavour (see [`name`]).
//!
//! ```
//! use std::time::Duration;
//! # fn main() -> zklock::Result<()> {
//! # let client = zklock::Client::connect(&zklock::doc_hosts())?;
//! let lock = zklock::Lock::new(&client, "/zklock-doc/locks/db")?.identifier("worker-1");
//! {
//!     let guard = lock.acquire()?;
//!     let token = guard.fencing_token()?; // pass it to the resource you protect
//!     guard.check()?;                     // before each write: still held?
//!     # let _ = token;
//! } // released here
//! if let Some(guard) = lock.try_acquire()? {
//!     guard.release()?; // or drop it
//! }
//! match lock.acquire_timeout(Duration::from_secs(2)) {
//!     Ok(_guard) => { /* critical section */ }
//!     Err(zklock::Error::Timeout) => { /* somebody else held it for 2 s */ }
//!     Err(e) => return Err(e),
//! }
//! # Ok(()) }
//! ```

mod attempt;
mod cleanup;
mod guard;
pub mod name;
mod ownership;
#[cfg(test)]
mod props;
mod queue;
mod semaphore;
pub mod strategy;
mod wait;

pub use guard::{LockGuard, LockState};
pub use name::Flavor;
pub use semaphore::Semaphore;
pub use strategy::{Exclusive, Read, Strategy, Write};

use crate::client::proto::{Request, Response};
use crate::client::shared::Call;
use crate::client::{Client, CreateMode};
use crate::error::{Error, Result};
use crate::path;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wait::Waiters;

/// A distributed exclusive lock: one holder at a time.
///
/// See [`QueueLock`] for its methods and the [module](self) for an example.
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

/// The identifier used when none is given: `<hostname>:<pid>`, so
/// `contenders()` (and kazoo's) tell who is waiting.
pub(crate) fn default_identifier() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into());
    format!("{host}:{}", std::process::id())
}

/// Checks that an identifier fits in a request the server accepts.
pub(crate) fn check_identifier(client: &Client, path: &str, id: &[u8]) -> Result<()> {
    // The create request also carries the path, the ACL and headers.
    let limit = client
        .shared()
        .cfg
        .max_frame
        .saturating_sub(path.len() + 256);
    if id.len() > limit {
        return Err(Error::InvalidArgument(format!(
            "identifier of {} bytes is larger than ZooKeeper accepts ({limit} bytes here)",
            id.len()
        )));
    }
    Ok(())
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
        path::validate_recipe(path, client.shared().chroot())?;
        Ok(QueueLock {
            client: client.clone(),
            path: path.to_string(),
            identifier: default_identifier().into_bytes(),
            ephemeral: true,
            flavor: Flavor::Kazoo,
            extra: Vec::new(),
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

    pub(crate) fn attempt(
        &self,
        deadline: Option<Instant>,
        wait: bool,
    ) -> Result<Option<LockGuard>> {
        check_identifier(&self.client, &self.path, &self.identifier)?;
        let spec = queue::Spec {
            client: &self.client,
            dir: &self.path,
            prefix: name::contender_prefix(self.flavor, S::KIND),
            parents: self.parents,
            data: &self.identifier,
            ephemeral: self.ephemeral,
            decide: S::decide,
            deadline,
            wait,
            extra: &self.extra,
        };
        let acquired = queue::acquire(&spec, self.waiters.enter())?;
        Ok(acquired.map(|a| LockGuard::new(a.own, a.czxid)))
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
        self.attempt(None, true)
            .map(|g| g.expect("a waiting acquire returns a guard"))
    }

    /// As [`QueueLock::acquire`], giving up after `timeout`. One deadline
    /// covers every phase of the attempt (connecting, creating, waiting).
    /// On timeout the attempt's node is deleted: confirmed before this
    /// returns when the server answers (within a round trip, a second at
    /// most); during a partition this returns on time and the client
    /// deletes the node once it is back.
    ///
    /// # Errors
    /// [`Error::Timeout`], and those of [`QueueLock::acquire`].
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<LockGuard> {
        self.attempt(Some(Instant::now() + timeout), true)
            .map(|g| g.expect("a waiting acquire returns a guard"))
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
        self.attempt(Some(deadline), false)
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
}

/// Lists a lock directory and reads every contender's identifier, in one
/// round trip for all of them.
pub(crate) fn contender_identifiers(
    client: &Client,
    dir: &str,
    extra: &[String],
) -> Result<Vec<String>> {
    let children = match client.get_children(dir) {
        Ok(c) => c,
        Err(e) if e.is(crate::ZkError::NoNode) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let queue = name::queue(&children, extra);
    read_all_data(client, dir, queue.iter().map(|c| c.name.as_str()))
}

/// Reads the data of `names` under `dir`, pipelined; nodes that vanished
/// meanwhile are skipped.
pub(crate) fn read_all_data<'a>(
    client: &Client,
    dir: &str,
    names: impl Iterator<Item = &'a str>,
) -> Result<Vec<String>> {
    let calls: Vec<Call> = names
        .map(|n| {
            Call::new(Request::GetData {
                path: path::join(dir, n),
                watch: false,
            })
        })
        .collect();
    if calls.is_empty() {
        return Ok(Vec::new());
    }
    let shared = client.shared();
    let epoch = shared.current_epoch().map_err(|f| f.into_error(dir))?;
    let deadline = client.default_deadline();
    let rxs = shared
        .send(epoch, calls, deadline)
        .map_err(|f| f.into_error(dir))?;
    let mut out = Vec::with_capacity(rxs.len());
    for rx in rxs {
        match crate::client::shared::wait_reply(&rx, deadline) {
            Ok(Response::Data(d, _)) => out.push(String::from_utf8_lossy(&d).into_owned()),
            Ok(_) => {}
            Err(crate::client::shared::Failure::Server(crate::ZkError::NoNode)) => {}
            Err(f) => return Err(f.into_error(dir)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>() {}

    #[test]
    fn handles_and_guards_can_cross_threads() {
        assert_send_sync::<Lock>();
        assert_send_sync::<ReadLock>();
        assert_send_sync::<WriteLock>();
        assert_send_sync::<Semaphore>();
        assert_send::<LockGuard>();
    }

    #[test]
    fn default_identifier_names_host_and_process() {
        let id = default_identifier();
        assert!(id.ends_with(&format!(":{}", std::process::id())));
    }
}
