//! zklock: ZooKeeper coordination recipes for threaded Rust programs:
//! distributed locks, read/write locks and semaphores with RAII guards and
//! fencing tokens. Synchronous and blocking by design.
//!
//! ```
//! # fn main() -> zklock::Result<()> {
//! # let hosts = zklock::doc_hosts();
//! let client = zklock::Client::connect(&hosts)?; // "host:port,host:port/chroot"
//! let lock = zklock::Lock::new(&client, "/zklock-doc/locks/db")?;
//! let _g = lock.acquire()?; // blocks until this thread holds the lock
//! # Ok(()) }
//! ```
//!
//! # Which lock should you use?
//!
//! - [`Lock`]: one holder at a time.
//! - [`ReadLock`] and [`WriteLock`] on one path: readers hold together, a
//!   writer alone, first come first served.
//! - [`Semaphore`]: at most N holders at once.
//! - [`ReentrantLock`] and [`ReentrantReadWriteLock`]: the same, but the
//!   holding thread may acquire again at once (code that calls helpers that
//!   lock), with a hold count and Curator's write-to-read downgrade.
//!
//! All three lock kinds are [`lock::QueueLock`] with a different
//! [`lock::Strategy`]; see the [`lock`] module for what they guarantee, and
//! [`LockGuard`] for what a holder can know (`state()`, `check()`,
//! `fencing_token()`).
//!
//! # The client
//!
//! zklock speaks the ZooKeeper protocol itself, through [`Client`]: one TCP
//! connection per session, one I/O thread, one event thread (and a callback
//! thread, started the first time a user callback must run), and session
//! semantics a lock can be built on (see the [`client`] module for the exact
//! guarantees).
//!
//! ```
//! use zklock::{Client, CreateMode};
//! # fn main() -> zklock::Result<()> {
//! # let hosts = zklock::doc_hosts();
//! let client = Client::connect(&hosts)?;
//! client.ensure_path("/zklock-doc")?;
//! let (path, stat) =
//!     client.create("/zklock-doc/n-", b"hello", CreateMode::EphemeralSequential)?;
//! assert_eq!(client.get_data(&path)?.0, b"hello");
//! assert_eq!(stat.ephemeral_owner, client.session_id());
//! client.delete(&path, None)?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod client;
mod error;
pub mod lock;
pub mod path;
pub mod util;

#[cfg(feature = "tls")]
pub use client::TlsConfig;
pub use client::{
    Acl, Client, ClientBuilder, ClientStats, CreateMode, EventType, ListenerId, Op, OpResult,
    SessionEvent, SessionState, Stat, WatchState, WatchedEvent, ZkError, perms,
};
pub use error::{Error, Result, TlsError};
pub use lock::{
    Flavor, Holder, Lock, LockGuard, LockInfo, LockState, Member, MultiGuard, MultiLock, NodeGuard,
    NodeLock, Pending, ReadLock, ReentrantGuard, ReentrantLock, ReentrantReadWriteLock, Revoke,
    Semaphore, WriteLock, cleanup,
};

/// The connect string the documentation examples use: `ZK_HOSTS`, or
/// `127.0.0.1:2181`. Not part of the API.
#[doc(hidden)]
pub fn doc_hosts() -> String {
    std::env::var("ZK_HOSTS").unwrap_or_else(|_| "127.0.0.1:2181".to_string())
}

/// The README's examples, compiled and run as documentation tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
