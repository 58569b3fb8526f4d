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

use super::attempt::{Attempt, stop};
use super::guard::settle;
use super::name::Flavor;
use super::ownership::Ownership;
use super::wait::{Waiters, Wake};
use super::{Lock, LockGuard, check_identifier, default_identifier, read_all_data};
use crate::client::background::Target;
use crate::client::proto::{Request, Response};
use crate::client::shared::{Call, Failure};
use crate::client::{Client, CreateMode, ZkError};
use crate::error::{Error, Result};
use crate::path;
use parking_lot::Mutex;
use std::sync::Arc;
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
    node_checked: Mutex<bool>,
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
        path::validate(path)?;
        if path == "/" {
            return Err(Error::InvalidPath {
                path: path.into(),
                reason: "a semaphore cannot live at the root",
            });
        }
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
            node_checked: Mutex::new(false),
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
            self.lock = lock;
            self.flavor = flavor;
        }
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
        self.attempt(None, true)
            .map(|g| g.expect("a waiting acquire returns a lease"))
    }

    /// As [`Semaphore::acquire`], giving up after `timeout` (one deadline for
    /// the internal lock and the wait for a free lease).
    ///
    /// # Errors
    /// [`Error::Timeout`], and those of [`Semaphore::acquire`].
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<LockGuard> {
        self.attempt(Some(Instant::now() + timeout), true)
            .map(|g| g.expect("a waiting acquire returns a lease"))
    }

    /// Takes a lease if one is free right now, without waiting for a holder.
    ///
    /// # Errors
    /// As [`Semaphore::acquire`].
    pub fn try_acquire(&self) -> Result<Option<LockGuard>> {
        self.attempt(Some(self.client.default_deadline()), false)
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
        let children = match self.client.get_children(&self.path) {
            Ok(c) => c,
            Err(e) if e.is(ZkError::NoNode) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        read_all_data(
            &self.client,
            &self.path,
            children.iter().map(String::as_str),
        )
    }

    /// Creates the semaphore node, or checks that it agrees with us
    /// (kazoo's layout; Curator's stores no count).
    fn ensure_node(&self) -> Result<()> {
        if self.flavor == Flavor::Curator || *self.node_checked.lock() {
            return Ok(());
        }
        let wanted = self.max_leases.to_string();
        loop {
            match self
                .client
                .create(&self.path, wanted.as_bytes(), CreateMode::Persistent)
            {
                Ok(_) => break,
                Err(e) if e.is(ZkError::NoNode) => self
                    .client
                    .ensure_path_with(path::parent(&self.path), CreateMode::Container)?,
                Err(e) if e.is(ZkError::NodeExists) => {
                    let (data, stat) = match self.client.get_data(&self.path) {
                        Ok(d) => d,
                        Err(e) if e.is(ZkError::NoNode) => continue,
                        Err(e) => return Err(e),
                    };
                    let text = String::from_utf8_lossy(&data);
                    if text.is_empty() {
                        // Made by ensure_path or a tool: claim it.
                        match self.client.set_data(
                            &self.path,
                            wanted.as_bytes(),
                            Some(stat.version),
                        ) {
                            Ok(_) => break,
                            Err(e) if e.is(ZkError::BadVersion) || e.is(ZkError::NoNode) => {
                                continue;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    match text.trim().parse::<u32>() {
                        Ok(stored) if stored == self.max_leases => break,
                        Ok(stored) => {
                            return Err(Error::LeaseMismatch {
                                stored,
                                requested: self.max_leases,
                            });
                        }
                        Err(_) => {
                            // As kazoo: data that is not a number is not checked.
                            log::warn!(
                                "zklock: semaphore {} holds {text:?}, not a lease count; not checked",
                                self.path
                            );
                            break;
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        *self.node_checked.lock() = true;
        Ok(())
    }

    fn attempt(&self, deadline: Option<Instant>, wait: bool) -> Result<Option<LockGuard>> {
        check_identifier(&self.client, &self.path, &self.identifier)?;
        self.ensure_node()?;
        let Some(lock) = self.lock.attempt(deadline, wait)? else {
            return Ok(None); // another contender is taking a lease right now
        };
        let waiter = self.waiters.enter();
        let result = Attempt::new(&self.client, deadline, waiter)
            .and_then(|mut at| self.take_lease(&mut at, wait));
        // Let the next contender in at once, whatever happened here.
        let _ = lock.release();
        if let Err(Error::ZooKeeper {
            code: ZkError::NoNode,
            ..
        }) = &result
        {
            *self.node_checked.lock() = false;
        }
        result
    }

    /// With the internal lock held: waits for a free lease and takes it.
    fn take_lease(&self, at: &mut Attempt<'_>, wait: bool) -> Result<Option<LockGuard>> {
        let dir = self.lease_dir();
        // kazoo: a fixed name; Curator: a protected prefix before the counter.
        let prefix = match self.flavor {
            Flavor::Kazoo => uuid::Uuid::new_v4().simple().to_string(),
            Flavor::Curator => format!("_c_{}-lease-", uuid::Uuid::new_v4()),
        };
        // Set when a create's reply was lost: the lease may exist.
        let mut in_doubt = false;
        let result = self.lease_loop(at, wait, &dir, &prefix, &mut in_doubt);
        if in_doubt && !matches!(result, Ok(Some(_))) {
            let target = match self.flavor {
                Flavor::Kazoo => Target::Path(path::join(&dir, &prefix)),
                Flavor::Curator => Target::Prefix {
                    parent: dir.clone(),
                    prefix: prefix.clone(),
                },
            };
            let settled = at
                .client
                .shared()
                .delete_in_background(target, None, Some(at.epoch));
            settle(at.client, settled, at.epoch);
        }
        result
    }

    fn lease_loop(
        &self,
        at: &mut Attempt<'_>,
        wait: bool,
        dir: &str,
        prefix: &str,
        in_doubt: &mut bool,
    ) -> Result<Option<LockGuard>> {
        loop {
            at.connected()?;
            // A sync first: if the client reconnected to another server
            // since the internal lock was handed over, that server may lag
            // behind the leases granted before, and counting them there
            // could admit one holder too many.
            let sync = Call::new(Request::Sync {
                path: dir.to_string(),
            });
            let list = Call {
                request: Request::GetChildren {
                    path: dir.to_string(),
                    watch: wait,
                },
                watcher: wait.then(|| Box::new(at.waiter.watcher(dir)) as _),
            };
            let mut replies = at.round_trip(vec![sync, list])?;
            let listing = replies.pop().expect("two replies");
            let children = match replies.pop().expect("two replies").and(listing) {
                Ok(Response::Children(c, _)) => c,
                Ok(r) => return Err(Error::Protocol(format!("list answered {r:?}"))),
                Err(f) => match at.retryable(f, dir)? {
                    // Curator's leases directory comes and goes.
                    Failure::Server(ZkError::NoNode) if self.flavor == Flavor::Curator => {
                        Vec::new()
                    }
                    Failure::Server(ZkError::NoNode) => return Err(no_node(dir)),
                    _ => continue,
                },
            };
            // A create whose reply was lost may have made our lease already.
            let ours = children.iter().find(|c| c.starts_with(prefix));
            if ours.is_some() || children.len() < self.max_leases as usize {
                let request = match ours {
                    Some(name) => Request::Exists {
                        path: path::join(dir, name),
                        watch: false,
                    },
                    None => Request::Create {
                        path: path::join(dir, prefix),
                        data: self.identifier.clone(),
                        acl: crate::Acl::open_unsafe(),
                        mode: match self.flavor {
                            Flavor::Kazoo => CreateMode::Ephemeral,
                            Flavor::Curator => CreateMode::EphemeralSequential,
                        },
                    },
                };
                let existing = ours.map(|name| path::join(dir, name));
                let (lease, stat) = match (at.call(Call::new(request))?, existing) {
                    (Ok(Response::Created(lease, stat)), _) => (lease, stat),
                    // The exists of a lease we found.
                    (Ok(Response::Stat(stat)), Some(lease)) => (lease, stat),
                    (Ok(r), _) => return Err(Error::Protocol(format!("lease answered {r:?}"))),
                    (Err(Failure::Server(ZkError::NodeExists)), _) => continue,
                    (Err(f), _) => {
                        *in_doubt |= ours.is_none()
                            && matches!(f, Failure::ConnectionLoss | Failure::Timeout);
                        match at.retryable(f, dir)? {
                            Failure::Server(ZkError::NoNode) if self.flavor == Flavor::Curator => {
                                at.ensure_parents(dir, CreateMode::Container)?;
                            }
                            Failure::Server(ZkError::NoNode) if ours.is_none() => {
                                return Err(no_node(dir));
                            }
                            _ => {}
                        }
                        continue;
                    }
                };
                let own = Ownership::new(&self.client, lease, at.epoch, true);
                return Ok(Some(LockGuard::new(own, stat.czxid)));
            }
            if !wait {
                return Ok(None);
            }
            // Full: wait until a lease goes (the children watch), or anything else.
            loop {
                match at.waiter.wait(at.deadline).map_err(stop)? {
                    Wake::Node { path, .. } if path != dir => continue,
                    _ => break,
                }
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
