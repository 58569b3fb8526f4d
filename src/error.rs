//! The one error type of the crate.

use crate::client::ZkError;
use std::time::Duration;

/// Everything that can go wrong in zklock.
///
/// Server errors on a node keep the path they happened on; the two errors a
/// coordination program must always handle, a lost connection and a lost
/// session, have variants of their own.
///
/// ```
/// use zklock::{Error, ZkError};
/// let e = Error::ZooKeeper { code: ZkError::NoNode, path: "/a".into() };
/// assert_eq!(e.code(), Some(ZkError::NoNode));
/// assert_eq!(e.to_string(), "zookeeper error NoNode (-101) on /a");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server refused an operation on `path`.
    #[error("zookeeper error {code} on {path}")]
    ZooKeeper {
        /// The server's error code.
        code: ZkError,
        /// The path of the operation.
        path: String,
    },
    /// The connection broke while the request was in flight, or no
    /// connection came back before the call's deadline. The session may
    /// still be alive; the request may or may not have been applied.
    #[error("connection to zookeeper lost")]
    ConnectionLoss,
    /// The session this call (or lock) belonged to has ended: the server
    /// expired it, or no server was reachable for a whole session timeout.
    /// Its ephemeral nodes, and so its locks, are gone.
    #[error("zookeeper session lost")]
    SessionLost,
    /// The deadline passed before the operation completed.
    #[error("timed out")]
    Timeout,
    /// No session could be established within the connect timeout.
    #[error("could not connect to zookeeper at {hosts} within {timeout:?}: {reason}")]
    Connect {
        /// The hosts tried, as in the connect string.
        hosts: String,
        /// The connect timeout.
        timeout: Duration,
        /// What the last attempt ran into.
        reason: String,
    },
    /// The client was closed.
    #[error("the zookeeper client is closed")]
    Closed,
    /// The server rejected the credentials given to it.
    #[error("authentication with scheme {scheme:?} failed")]
    AuthFailed {
        /// The auth scheme.
        scheme: String,
    },
    /// A path broke ZooKeeper's path rules.
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The path given.
        path: String,
        /// The rule it broke.
        reason: &'static str,
    },
    /// The connect string names a chroot that does not exist on the
    /// server, so nothing can be created under it. zklock does not create
    /// it: a chroot is usually shared, and a typo in it would otherwise
    /// start a tree nobody reads. Create it once (from a client connected
    /// without the chroot: `ensure_path`), or fix the connect string.
    #[error("the chroot {chroot} does not exist on the server; create it first")]
    ChrootMissing {
        /// The chroot, as in the connect string.
        chroot: String,
    },
    /// Any other argument out of range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The acquire was cancelled with `cancel()`; its node was deleted.
    #[error("acquire cancelled")]
    Cancelled,
    /// The lock (or lease) is no longer held: the session that held it ended,
    /// or its node was deleted by someone else. Another holder may have it.
    #[error("lock lost: {path} is no longer held")]
    LockLost {
        /// The contender (or lease) node that was lost.
        path: String,
    },
    /// The semaphore node stores a different number of leases than this
    /// handle was created with; every handle on a path must agree.
    #[error("semaphore stores max_leases {stored}, this handle asked for {requested}")]
    LeaseMismatch {
        /// The number stored in the semaphore node.
        stored: u32,
        /// The number this handle was created with.
        requested: u32,
    },
    /// A reply did not follow the protocol; the connection was dropped.
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl Error {
    /// The server error code, for [`Error::ZooKeeper`].
    pub fn code(&self) -> Option<ZkError> {
        match self {
            Error::ZooKeeper { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether this is [`Error::ZooKeeper`] with `code`.
    pub fn is(&self, code: ZkError) -> bool {
        self.code() == Some(code)
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
