//! The client's public values: what calls take and return ([`Stat`],
//! [`Acl`] and its [`perms`], [`CreateMode`], multi [`Op`]s and their
//! [`OpResult`]s) and what watches deliver ([`WatchedEvent`], [`EventType`],
//! [`WatchState`]). Plain data: how they travel on the wire is
//! `proto`'s business, not theirs.

use crate::error::ZkError;

/// A node's metadata, as the server keeps it.
///
/// `czxid` is the zxid of the transaction that created the node: ensemble-wide
/// and strictly increasing, which is why zklock's fencing tokens are made of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Stat {
    /// The zxid of the change that created this node.
    pub czxid: i64,
    /// The zxid of the change that last modified this node's data.
    pub mzxid: i64,
    /// Creation time, milliseconds since the epoch.
    pub ctime: i64,
    /// Last modification time, milliseconds since the epoch.
    pub mtime: i64,
    /// The number of changes to the data.
    pub version: i32,
    /// The number of changes to the children.
    pub cversion: i32,
    /// The number of changes to the ACL.
    pub aversion: i32,
    /// The session id of the owner if the node is ephemeral, else 0.
    pub ephemeral_owner: i64,
    /// The length of the data.
    pub data_length: i32,
    /// The number of children.
    pub num_children: i32,
    /// The zxid of the change that last modified the children.
    pub pzxid: i64,
}

/// How a node is created.
///
/// ```
/// use zklock::CreateMode;
/// assert!(CreateMode::EphemeralSequential.is_sequential());
/// assert!(CreateMode::EphemeralSequential.is_ephemeral());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CreateMode {
    /// Stays until deleted.
    Persistent,
    /// Deleted by the server when the creating session ends.
    Ephemeral,
    /// Persistent, with a 10-digit sequence number appended to the name.
    PersistentSequential,
    /// Ephemeral, with a 10-digit sequence number appended to the name.
    EphemeralSequential,
    /// Deleted by the server some time after its last child is deleted
    /// (ZooKeeper 3.5.3 and later). Lock directories are made of these.
    Container,
}

impl CreateMode {
    /// Whether the server appends a sequence number.
    pub fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential | CreateMode::EphemeralSequential
        )
    }

    /// Whether the node ends with its session.
    pub fn is_ephemeral(self) -> bool {
        matches!(
            self,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        )
    }
}

/// Permission bits of an [`Acl`] entry.
pub mod perms {
    /// May read the data and list the children.
    pub const READ: i32 = 1;
    /// May set the data.
    pub const WRITE: i32 = 2;
    /// May create children.
    pub const CREATE: i32 = 4;
    /// May delete children.
    pub const DELETE: i32 = 8;
    /// May set the ACL.
    pub const ADMIN: i32 = 16;
    /// Every permission.
    pub const ALL: i32 = 31;
}

/// One entry of a node's access control list: a scheme, an id, and the
/// [`perms`] bits it grants.
///
/// ```
/// use zklock::{Acl, perms};
/// let open = Acl::open_unsafe();
/// assert_eq!(open[0].perms, perms::ALL);
/// let acl = Acl::digest("alice", "secret", perms::ALL);
/// assert_eq!(acl.scheme, "digest");
/// assert!(acl.id.starts_with("alice:"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Acl {
    /// The permission bits ([`perms`]).
    pub perms: i32,
    /// The scheme: `world`, `auth`, `digest`, `ip`, ...
    pub scheme: String,
    /// The id within the scheme.
    pub id: String,
}

impl Acl {
    /// Anyone may do anything (`world:anyone`, all permissions): ZooKeeper's
    /// `OPEN_ACL_UNSAFE`, the default for nodes zklock creates.
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl {
            perms: perms::ALL,
            scheme: "world".into(),
            id: "anyone".into(),
        }]
    }

    /// Anyone may read, nobody may change (`READ_ACL_UNSAFE`).
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl {
            perms: perms::READ,
            scheme: "world".into(),
            id: "anyone".into(),
        }]
    }

    /// Every permission for the identities the creating connection
    /// authenticated as (`CREATOR_ALL_ACL`); needs [`crate::Client::add_auth`]
    /// or [`crate::ClientBuilder::digest_auth`] first.
    pub fn creator_all() -> Vec<Acl> {
        vec![Acl {
            perms: perms::ALL,
            scheme: "auth".into(),
            id: String::new(),
        }]
    }

    /// A digest entry for `user` with `password`: the id is
    /// `user:base64(sha1("user:password"))`, as the server computes it when
    /// a client authenticates with `digest` and `user:password`.
    pub fn digest(user: &str, password: &str, perms: i32) -> Acl {
        Acl {
            perms,
            scheme: "digest".into(),
            id: super::digest::digest_id(user, password),
        }
    }
}

/// What a watch saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventType {
    /// The watched node was created (exists watches).
    NodeCreated,
    /// The watched node was deleted.
    NodeDeleted,
    /// The watched node's data changed.
    NodeDataChanged,
    /// The watched node's children changed.
    NodeChildrenChanged,
    /// No node event: the session ended ([`WatchedEvent::state`] says how),
    /// so this watch will never fire for a node change.
    Session,
    /// A type this client does not know.
    Other(i32),
}

/// The session state a [`WatchedEvent`] was delivered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WatchState {
    /// The session is live (every node event).
    Connected,
    /// The session expired; the watch was dropped with it.
    Expired,
    /// The client was closed; the watch was dropped with it.
    Closed,
}

/// A watch notification, delivered once to the watcher that set it.
///
/// Watches survive disconnections (zklock re-registers them on reconnect), so
/// a watcher is called exactly once: with the node event, or with
/// [`EventType::Session`] when the session expires or the client closes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WatchedEvent {
    /// What happened.
    pub event_type: EventType,
    /// The session state it happened in.
    pub state: WatchState,
    /// The watched path (below the chroot).
    pub path: String,
}

/// One operation of a [`crate::Client::multi`] transaction.
///
/// ```
/// use zklock::{Acl, CreateMode, Op};
/// let ops = vec![
///     Op::check("/config", 3),
///     Op::set_data("/config", b"v4".to_vec(), Some(3)),
///     Op::create("/config/log-", b"".to_vec(), CreateMode::PersistentSequential, Acl::open_unsafe()),
///     Op::delete("/config/old", None),
/// ];
/// assert_eq!(ops.len(), 4);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op {
    /// Create a node.
    Create {
        /// Path of the node.
        path: String,
        /// Its data.
        data: Vec<u8>,
        /// How to create it.
        mode: CreateMode,
        /// Its ACL.
        acl: Vec<Acl>,
    },
    /// Delete a node (at `version`, or any version when `None`).
    Delete {
        /// Path of the node.
        path: String,
        /// Expected version, `None` for any.
        version: Option<i32>,
    },
    /// Set a node's data (at `version`, or any version when `None`).
    SetData {
        /// Path of the node.
        path: String,
        /// The new data.
        data: Vec<u8>,
        /// Expected version, `None` for any.
        version: Option<i32>,
    },
    /// Fail the transaction unless the node exists at `version`.
    Check {
        /// Path of the node.
        path: String,
        /// Expected version, `None` for any.
        version: Option<i32>,
    },
}

impl Op {
    /// A create operation.
    pub fn create(path: &str, data: Vec<u8>, mode: CreateMode, acl: Vec<Acl>) -> Op {
        Op::Create {
            path: path.into(),
            data,
            mode,
            acl,
        }
    }

    /// A delete operation.
    pub fn delete(path: &str, version: Option<i32>) -> Op {
        Op::Delete {
            path: path.into(),
            version,
        }
    }

    /// A set-data operation.
    pub fn set_data(path: &str, data: Vec<u8>, version: Option<i32>) -> Op {
        Op::SetData {
            path: path.into(),
            data,
            version,
        }
    }

    /// A version check.
    pub fn check(path: &str, version: i32) -> Op {
        Op::Check {
            path: path.into(),
            version: Some(version),
        }
    }

    /// The path the operation is on.
    pub fn path(&self) -> &str {
        match self {
            Op::Create { path, .. }
            | Op::Delete { path, .. }
            | Op::SetData { path, .. }
            | Op::Check { path, .. } => path,
        }
    }
}

/// The result of one operation of a successful [`crate::Client::multi`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    /// The node was created at `path` (with the sequence suffix, if any).
    Create {
        /// The created path.
        path: String,
        /// The new node's metadata, when the server sends it (ZooKeeper 3.8
        /// answers creates inside a multi with the path alone).
        stat: Option<Stat>,
    },
    /// The node was deleted.
    Delete,
    /// The data was set.
    SetData {
        /// The node's metadata after the change.
        stat: Stat,
    },
    /// The check passed.
    Check,
    /// This operation failed (or was rolled back because another one did).
    Error(ZkError),
}
