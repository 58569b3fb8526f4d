//! The crate's errors: the one public [`Error`], the server's codes
//! ([`ZkError`]), and how a failed call becomes an `Error` (the
//! crate-internal `Failure`). A leaf: it imports nothing from the crate.

use std::fmt;
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
    /// This thread already holds a reentrant lock as often as its
    /// `max_holds` allows (Hazelcast's `LockAcquireLimitReachedException`).
    /// The holds it has are untouched.
    #[error("reentrant lock: this thread already holds it {limit} times, the limit")]
    AcquireLimitReached {
        /// The handle's `max_holds`.
        limit: usize,
    },
    /// This thread holds the read side of a reentrant read/write lock and
    /// asked for the write side: upgrading is refused, because two threads
    /// upgrading at once would each wait for the other's read for ever.
    /// Release the read lock first, then acquire the write lock.
    #[error(
        "reentrant lock {path}: this thread holds the read lock; upgrading to the write lock is refused"
    )]
    UpgradeRefused {
        /// The lock's path.
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
    /// A TLS setting could not be used, or every host refused the TLS
    /// connection for a reason retrying cannot fix (see [`TlsError`]).
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
}

/// Why a TLS connection could not be made: returned by
/// `ClientBuilder::connect` inside [`Error::Tls`], at once for a file
/// problem, and once every host of the connect string has refused for a
/// certificate or protocol reason (within the connect timeout either way).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file is missing or cannot be read.
    #[error("cannot read {path}: {reason}")]
    File {
        /// The file, as given.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// A file holds no PEM item of the kind needed (or is not PEM at all).
    #[error("{path} holds no PEM {what}")]
    NotPem {
        /// The file, as given.
        path: String,
        /// What was looked for: "certificate" or "private key".
        what: &'static str,
    },
    /// The PEM items could not be used (a certificate the CA store rejects,
    /// a key that does not match its certificate, a bad server name).
    #[error("unusable TLS setting: {reason}")]
    Config {
        /// What rustls said.
        reason: String,
    },
    /// The server's certificate does not chain to the configured CA.
    #[error("{host}: the server's certificate is not signed by the configured CA")]
    UntrustedCertificate {
        /// The server, `host:port`.
        host: String,
    },
    /// The server's certificate has expired (or is not yet valid).
    #[error("{host}: the server's certificate has expired or is not yet valid")]
    CertificateExpired {
        /// The server, `host:port`.
        host: String,
    },
    /// The server's certificate is not valid for the name checked.
    #[error("{host}: the server's certificate is not valid for the name {server_name:?}")]
    NameMismatch {
        /// The server, `host:port`.
        host: String,
        /// The name checked: `TlsConfig::server_name`, or the host.
        server_name: String,
    },
    /// Any other problem with the server's certificate.
    #[error("{host}: bad server certificate: {reason}")]
    BadCertificate {
        /// The server, `host:port`.
        host: String,
        /// What was wrong.
        reason: String,
    },
    /// The server refused the handshake with an alert: most often it
    /// requires a client certificate (`ssl.clientAuth=need`) that was not
    /// given, or does not trust the one given.
    #[error("{host}: the server refused the TLS handshake ({alert})")]
    Refused {
        /// The server, `host:port`.
        host: String,
        /// The alert it sent.
        alert: String,
    },
    /// The server closed the connection as soon as the TLS handshake began:
    /// a plaintext port (ZooKeeper's `clientPort`, not `secureClientPort`).
    #[error("{host}: the server does not speak TLS (a plaintext port?)")]
    NotTls {
        /// The server, `host:port`.
        host: String,
    },
    /// The server answered a plaintext connection with TLS: a
    /// `secureClientPort`. Configure `ClientBuilder::tls`.
    #[error("{host}: the server expects TLS (a secure port?); configure ClientBuilder::tls")]
    ServerExpectsTls {
        /// The server, `host:port`.
        host: String,
    },
    /// The handshake failed in another way.
    #[error("{host}: TLS handshake failed: {reason}")]
    Handshake {
        /// The server, `host:port`.
        host: String,
        /// What went wrong.
        reason: String,
    },
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

/// A ZooKeeper server error code (`KeeperException.Code`).
///
/// [`ZkError::ConnectionLoss`] and [`ZkError::SessionExpired`] never reach
/// users inside [`crate::Error::ZooKeeper`]: they have their own variants,
/// [`crate::Error::ConnectionLoss`] and [`crate::Error::SessionLost`].
///
/// ```
/// assert_eq!(zklock::ZkError::from_code(-101), zklock::ZkError::NoNode);
/// assert_eq!(zklock::ZkError::NoNode.code(), -101);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ZkError {
    /// A server-side failure (-1).
    SystemError,
    /// A state the server considers inconsistent (-2).
    RuntimeInconsistency,
    /// Data inconsistency (-3).
    DataInconsistency,
    /// The connection was lost (-4).
    ConnectionLoss,
    /// The server could not (un)marshal a record (-5).
    MarshallingError,
    /// The operation is not implemented by this server (-6).
    Unimplemented,
    /// The operation timed out on the server (-7).
    OperationTimeout,
    /// Invalid arguments (-8).
    BadArguments,
    /// The session is not known to the server (-12).
    UnknownSession,
    /// A generic API error (-100).
    ApiError,
    /// The node does not exist (-101).
    NoNode,
    /// Not authorised by the node's ACL (-102).
    NoAuth,
    /// The version given does not match the node's (-103).
    BadVersion,
    /// Ephemeral nodes may not have children (-108).
    NoChildrenForEphemerals,
    /// The node already exists (-110).
    NodeExists,
    /// The node has children (-111).
    NotEmpty,
    /// The session has expired (-112).
    SessionExpired,
    /// An invalid callback (-113).
    InvalidCallback,
    /// An invalid ACL (-114).
    InvalidAcl,
    /// Authentication failed (-115).
    AuthFailed,
    /// The session moved to another server (-118).
    SessionMoved,
    /// A write was sent to a read-only server (-119).
    NotReadOnly,
    /// An ephemeral create on a local session (-120).
    EphemeralOnLocalSession,
    /// No such watcher to remove (-121).
    NoWatcher,
    /// The request timed out in the server (-122).
    RequestTimeout,
    /// Reconfiguration is disabled (-123).
    ReconfigDisabled,
    /// The session was closed because it needs SASL authentication (-124).
    SessionClosedRequireSaslAuth,
    /// A quota was exceeded (-125).
    QuotaExceeded,
    /// The server throttled the operation (-127).
    Throttled,
    /// A code this client does not know.
    Other(i32),
}

impl ZkError {
    /// The error for a numeric code from the wire.
    pub fn from_code(code: i32) -> ZkError {
        use ZkError::*;
        match code {
            -1 => SystemError,
            -2 => RuntimeInconsistency,
            -3 => DataInconsistency,
            -4 => ConnectionLoss,
            -5 => MarshallingError,
            -6 => Unimplemented,
            -7 => OperationTimeout,
            -8 => BadArguments,
            -12 => UnknownSession,
            -100 => ApiError,
            -101 => NoNode,
            -102 => NoAuth,
            -103 => BadVersion,
            -108 => NoChildrenForEphemerals,
            -110 => NodeExists,
            -111 => NotEmpty,
            -112 => SessionExpired,
            -113 => InvalidCallback,
            -114 => InvalidAcl,
            -115 => AuthFailed,
            -118 => SessionMoved,
            -119 => NotReadOnly,
            -120 => EphemeralOnLocalSession,
            -121 => NoWatcher,
            -122 => RequestTimeout,
            -123 => ReconfigDisabled,
            -124 => SessionClosedRequireSaslAuth,
            -125 => QuotaExceeded,
            -127 => Throttled,
            other => Other(other),
        }
    }

    /// The numeric code on the wire.
    pub fn code(self) -> i32 {
        use ZkError::*;
        match self {
            SystemError => -1,
            RuntimeInconsistency => -2,
            DataInconsistency => -3,
            ConnectionLoss => -4,
            MarshallingError => -5,
            Unimplemented => -6,
            OperationTimeout => -7,
            BadArguments => -8,
            UnknownSession => -12,
            ApiError => -100,
            NoNode => -101,
            NoAuth => -102,
            BadVersion => -103,
            NoChildrenForEphemerals => -108,
            NodeExists => -110,
            NotEmpty => -111,
            SessionExpired => -112,
            InvalidCallback => -113,
            InvalidAcl => -114,
            AuthFailed => -115,
            SessionMoved => -118,
            NotReadOnly => -119,
            EphemeralOnLocalSession => -120,
            NoWatcher => -121,
            RequestTimeout => -122,
            ReconfigDisabled => -123,
            SessionClosedRequireSaslAuth => -124,
            QuotaExceeded => -125,
            Throttled => -127,
            Other(c) => c,
        }
    }
}

impl fmt::Display for ZkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} ({})", self, self.code())
    }
}

/// Why a call did not get a successful reply: the client's internal view,
/// turned into an [`Error`] (naming the call's path) at the API's edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The server answered with this error code.
    Server(ZkError),
    /// The connection broke before the reply came; the call may or may not
    /// have been applied.
    ConnectionLoss,
    /// The session the call belonged to has ended.
    SessionLost,
    /// The client is closed.
    Closed,
    /// The deadline passed.
    Timeout,
    /// The reply made no sense.
    Protocol(String),
    /// The request is larger than the server accepts (its size).
    TooLarge(usize),
}

impl Failure {
    /// The error a caller sees for a call on `path`.
    pub fn into_error(self, path: &str) -> Error {
        match self {
            Failure::Server(ZkError::ConnectionLoss) | Failure::ConnectionLoss => {
                Error::ConnectionLoss
            }
            Failure::Server(ZkError::SessionExpired) | Failure::SessionLost => Error::SessionLost,
            Failure::Server(code) => Error::ZooKeeper {
                code,
                path: path.to_string(),
            },
            Failure::Closed => Error::Closed,
            Failure::Timeout => Error::Timeout,
            Failure::Protocol(m) => Error::Protocol(m),
            Failure::TooLarge(n) => Error::InvalidArgument(format!(
                "request of {n} bytes for {path} exceeds the server's limit (jute.maxbuffer)"
            )),
        }
    }
}
