//! The ZooKeeper client protocol's records: requests as we encode them, replies
//! as we decode them, and the public value types they carry ([`Stat`],
//! [`Acl`], [`CreateMode`], [`WatchedEvent`], multi [`Op`]s and [`OpResult`]s).
//!
//! Everything here is pure: no I/O, no locks. Decoding is total: any byte
//! string gives either a value or a [`DecodeError`], never a panic (the
//! `decoder_never_panics` test feeds it mutated and random replies).
//!
//! Paths are handled here in the client's view (below the chroot); the chroot
//! is added while encoding and stripped while decoding, so the rest of the
//! client never sees a server-side path except in the watch registry.

use super::jute::{DecodeError, Reader, Writer};
use std::fmt;

/// Operation codes (`ZooDefs.OpCode`).
pub(crate) mod op {
    pub const CREATE: i32 = 1;
    pub const DELETE: i32 = 2;
    pub const EXISTS: i32 = 3;
    pub const GET_DATA: i32 = 4;
    pub const SET_DATA: i32 = 5;
    pub const GET_ACL: i32 = 6;
    pub const SET_ACL: i32 = 7;
    pub const SYNC: i32 = 9;
    pub const PING: i32 = 11;
    pub const GET_CHILDREN2: i32 = 12;
    pub const CHECK: i32 = 13;
    pub const MULTI: i32 = 14;
    pub const CREATE2: i32 = 15;
    pub const CREATE_CONTAINER: i32 = 19;
    pub const AUTH: i32 = 100;
    pub const SET_WATCHES: i32 = 101;
    pub const CLOSE_SESSION: i32 = -11;
    pub const ERROR: i32 = -1;
}

/// Reserved xids (`ClientCnxn`): replies carrying these are not request replies.
pub(crate) mod xid {
    pub const NOTIFICATION: i32 = -1;
    pub const PING: i32 = -2;
    pub const AUTH: i32 = -4;
    pub const SET_WATCHES: i32 = -8;
}

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

impl Stat {
    fn read(r: &mut Reader<'_>) -> Result<Stat, DecodeError> {
        Ok(Stat {
            czxid: r.long()?,
            mzxid: r.long()?,
            ctime: r.long()?,
            mtime: r.long()?,
            version: r.int()?,
            cversion: r.int()?,
            aversion: r.int()?,
            ephemeral_owner: r.long()?,
            data_length: r.int()?,
            num_children: r.int()?,
            pzxid: r.long()?,
        })
    }

    #[cfg(test)]
    pub(crate) fn write(&self, w: &mut Writer) {
        w.long(self.czxid);
        w.long(self.mzxid);
        w.long(self.ctime);
        w.long(self.mtime);
        w.int(self.version);
        w.int(self.cversion);
        w.int(self.aversion);
        w.long(self.ephemeral_owner);
        w.int(self.data_length);
        w.int(self.num_children);
        w.long(self.pzxid);
    }
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
    fn flags(self) -> i32 {
        match self {
            CreateMode::Persistent => 0,
            CreateMode::Ephemeral => 1,
            CreateMode::PersistentSequential => 2,
            CreateMode::EphemeralSequential => 3,
            CreateMode::Container => 4,
        }
    }

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

    fn opcode(self) -> i32 {
        match self {
            CreateMode::Container => op::CREATE_CONTAINER,
            _ => op::CREATE2,
        }
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

    fn write(&self, w: &mut Writer) {
        w.int(self.perms);
        w.string(&self.scheme);
        w.string(&self.id);
    }

    fn read(r: &mut Reader<'_>) -> Result<Acl, DecodeError> {
        Ok(Acl {
            perms: r.int()?,
            scheme: r.string()?,
            id: r.string()?,
        })
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

impl EventType {
    fn from_code(code: i32) -> EventType {
        match code {
            -1 => EventType::Session,
            1 => EventType::NodeCreated,
            2 => EventType::NodeDeleted,
            3 => EventType::NodeDataChanged,
            4 => EventType::NodeChildrenChanged,
            c => EventType::Other(c),
        }
    }
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

    fn opcode(&self) -> i32 {
        match self {
            Op::Create { mode, .. } => mode.opcode(),
            Op::Delete { .. } => op::DELETE,
            Op::SetData { .. } => op::SET_DATA,
            Op::Check { .. } => op::CHECK,
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

/// Joins a client path onto the chroot.
pub(crate) fn to_server_path(chroot: &str, path: &str) -> String {
    if chroot.is_empty() {
        path.to_string()
    } else if path == "/" {
        chroot.to_string()
    } else {
        format!("{chroot}{path}")
    }
}

/// Strips the chroot from a server path (paths outside it are returned as is).
pub(crate) fn to_client_path(chroot: &str, path: &str) -> String {
    if chroot.is_empty() {
        return path.to_string();
    }
    match path.strip_prefix(chroot) {
        Some("") => "/".to_string(),
        Some(rest) if rest.starts_with('/') => rest.to_string(),
        _ => path.to_string(),
    }
}

fn version_code(version: Option<i32>) -> i32 {
    version.unwrap_or(-1)
}

/// A request, in the client's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Request {
    Create {
        path: String,
        data: Vec<u8>,
        acl: Vec<Acl>,
        mode: CreateMode,
    },
    Delete {
        path: String,
        version: Option<i32>,
    },
    Exists {
        path: String,
        watch: bool,
    },
    GetData {
        path: String,
        watch: bool,
    },
    SetData {
        path: String,
        data: Vec<u8>,
        version: Option<i32>,
    },
    GetChildren {
        path: String,
        watch: bool,
    },
    GetAcl {
        path: String,
    },
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        version: Option<i32>,
    },
    Sync {
        path: String,
    },
    Multi(Vec<Op>),
    CloseSession,
}

impl Request {
    pub fn opcode(&self) -> i32 {
        match self {
            Request::Create { mode, .. } => mode.opcode(),
            Request::Delete { .. } => op::DELETE,
            Request::Exists { .. } => op::EXISTS,
            Request::GetData { .. } => op::GET_DATA,
            Request::SetData { .. } => op::SET_DATA,
            Request::GetChildren { .. } => op::GET_CHILDREN2,
            Request::GetAcl { .. } => op::GET_ACL,
            Request::SetAcl { .. } => op::SET_ACL,
            Request::Sync { .. } => op::SYNC,
            Request::Multi(_) => op::MULTI,
            Request::CloseSession => op::CLOSE_SESSION,
        }
    }

    /// The path the request is on (for error messages), or "" if none.
    pub fn path(&self) -> &str {
        match self {
            Request::Create { path, .. }
            | Request::Delete { path, .. }
            | Request::Exists { path, .. }
            | Request::GetData { path, .. }
            | Request::SetData { path, .. }
            | Request::GetChildren { path, .. }
            | Request::GetAcl { path }
            | Request::SetAcl { path, .. }
            | Request::Sync { path } => path,
            Request::Multi(ops) => ops.first().map(Op::path).unwrap_or(""),
            Request::CloseSession => "",
        }
    }

    /// The watch this request sets if it succeeds, as (kind, client path).
    pub fn watch(&self) -> Option<WatchKind> {
        match self {
            Request::Exists { watch: true, .. } => Some(WatchKind::Exists),
            Request::GetData { watch: true, .. } => Some(WatchKind::Data),
            Request::GetChildren { watch: true, .. } => Some(WatchKind::Child),
            _ => None,
        }
    }

    /// Appends this request as one frame (length, header, body).
    pub fn encode(&self, xid: i32, chroot: &str, w: &mut Writer) {
        let at = w.begin_frame();
        w.int(xid);
        w.int(self.opcode());
        let p = |path: &str| to_server_path(chroot, path);
        match self {
            Request::Create {
                path,
                data,
                acl,
                mode,
            } => write_create(w, &p(path), data, acl, *mode),
            Request::Delete { path, version } => {
                w.string(&p(path));
                w.int(version_code(*version));
            }
            Request::Exists { path, watch }
            | Request::GetData { path, watch }
            | Request::GetChildren { path, watch } => {
                w.string(&p(path));
                w.bool(*watch);
            }
            Request::SetData {
                path,
                data,
                version,
            } => {
                w.string(&p(path));
                w.buffer(data);
                w.int(version_code(*version));
            }
            Request::GetAcl { path } | Request::Sync { path } => w.string(&p(path)),
            Request::SetAcl { path, acl, version } => {
                w.string(&p(path));
                write_acls(w, acl);
                w.int(version_code(*version));
            }
            Request::Multi(ops) => {
                for o in ops {
                    w.int(o.opcode());
                    w.bool(false);
                    w.int(-1);
                    match o {
                        Op::Create {
                            path,
                            data,
                            mode,
                            acl,
                        } => write_create(w, &p(path), data, acl, *mode),
                        Op::Delete { path, version } | Op::Check { path, version } => {
                            w.string(&p(path));
                            w.int(version_code(*version));
                        }
                        Op::SetData {
                            path,
                            data,
                            version,
                        } => {
                            w.string(&p(path));
                            w.buffer(data);
                            w.int(version_code(*version));
                        }
                    }
                }
                w.int(-1);
                w.bool(true);
                w.int(-1);
            }
            Request::CloseSession => {}
        }
        w.finish_frame(at);
    }
}

fn write_acls(w: &mut Writer, acl: &[Acl]) {
    w.int(acl.len() as i32);
    for a in acl {
        a.write(w);
    }
}

fn write_create(w: &mut Writer, path: &str, data: &[u8], acl: &[Acl], mode: CreateMode) {
    w.string(path);
    w.buffer(data);
    write_acls(w, acl);
    w.int(mode.flags());
}

/// Which registry a watch lives in; decides which events fire it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum WatchKind {
    /// Set by get_data, or by exists on a node that exists.
    Data,
    /// Set by exists on a node that does not exist.
    Exists,
    /// Set by get_children.
    Child,
}

/// A decoded reply body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Response {
    Empty,
    Created(String, Stat),
    Stat(Stat),
    Data(Vec<u8>, Stat),
    Children(Vec<String>, Stat),
    Acl(Vec<Acl>, Stat),
    Path(String),
    Multi(Vec<OpResult>),
}

/// The fixed header of every reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReplyHeader {
    pub xid: i32,
    pub zxid: i64,
    pub err: i32,
}

impl ReplyHeader {
    pub fn read(r: &mut Reader<'_>) -> Result<ReplyHeader, DecodeError> {
        Ok(ReplyHeader {
            xid: r.int()?,
            zxid: r.long()?,
            err: r.int()?,
        })
    }
}

/// Decodes the body of a successful reply to a request with `opcode`.
pub(crate) fn decode_response(
    opcode: i32,
    chroot: &str,
    r: &mut Reader<'_>,
) -> Result<Response, DecodeError> {
    let strip = |p: String| to_client_path(chroot, &p);
    Ok(match opcode {
        op::CREATE2 | op::CREATE_CONTAINER => {
            let path = strip(r.string()?);
            Response::Created(path, Stat::read(r)?)
        }
        op::DELETE | op::CLOSE_SESSION | op::CHECK => Response::Empty,
        op::EXISTS | op::SET_DATA | op::SET_ACL => Response::Stat(Stat::read(r)?),
        op::GET_DATA => {
            let data = r.buffer()?;
            Response::Data(data, Stat::read(r)?)
        }
        op::GET_CHILDREN2 => {
            let children = r.strings()?;
            Response::Children(children, Stat::read(r)?)
        }
        op::GET_ACL => {
            let n = r.vec_len(12)?;
            let mut acl = Vec::with_capacity(n);
            for _ in 0..n {
                acl.push(Acl::read(r)?);
            }
            Response::Acl(acl, Stat::read(r)?)
        }
        op::SYNC => Response::Path(strip(r.string()?)),
        op::MULTI => Response::Multi(decode_multi(chroot, r)?),
        _ => return Err(DecodeError("reply to an unknown operation")),
    })
}

fn decode_multi(chroot: &str, r: &mut Reader<'_>) -> Result<Vec<OpResult>, DecodeError> {
    let mut out = Vec::new();
    loop {
        let kind = r.int()?;
        let done = r.bool()?;
        let err = r.int()?;
        if done {
            return Ok(out);
        }
        // Every result takes at least 9 header bytes, so this loop is bounded
        // by the reply's length.
        out.push(match kind {
            op::CREATE => OpResult::Create {
                path: to_client_path(chroot, &r.string()?),
                stat: None,
            },
            op::CREATE2 | op::CREATE_CONTAINER => {
                let path = to_client_path(chroot, &r.string()?);
                OpResult::Create {
                    path,
                    stat: Some(Stat::read(r)?),
                }
            }
            op::DELETE => OpResult::Delete,
            op::SET_DATA => OpResult::SetData {
                stat: Stat::read(r)?,
            },
            op::CHECK => OpResult::Check,
            op::ERROR => {
                let code = r.int()?;
                OpResult::Error(ZkError::from_code(if code != 0 { code } else { err }))
            }
            _ => return Err(DecodeError("unknown multi result type")),
        });
    }
}

/// A decoded watch notification (still in server paths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Notification {
    pub event_type: EventType,
    pub state: i32,
    pub path: String,
}

impl Notification {
    pub fn read(r: &mut Reader<'_>) -> Result<Notification, DecodeError> {
        Ok(Notification {
            event_type: EventType::from_code(r.int()?),
            state: r.int()?,
            path: r.string()?,
        })
    }
}

/// The handshake: `ConnectRequest`, sent without a request header.
pub(crate) fn encode_connect(
    w: &mut Writer,
    last_zxid: i64,
    timeout_ms: i32,
    session_id: i64,
    password: &[u8],
) {
    let at = w.begin_frame();
    w.int(0); // protocol version
    w.long(last_zxid);
    w.int(timeout_ms);
    w.long(session_id);
    w.buffer(password);
    w.bool(false); // read-only sessions are not used
    w.finish_frame(at);
}

/// The handshake's answer. A timeout of 0 means the session has expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConnectResponse {
    pub timeout_ms: i32,
    pub session_id: i64,
    pub password: Vec<u8>,
}

impl ConnectResponse {
    pub fn read(r: &mut Reader<'_>) -> Result<ConnectResponse, DecodeError> {
        let _protocol_version = r.int()?;
        let timeout_ms = r.int()?;
        let session_id = r.long()?;
        let password = r.buffer()?;
        // An optional read-only flag may follow; it is ignored.
        Ok(ConnectResponse {
            timeout_ms,
            session_id,
            password,
        })
    }
}

pub(crate) fn encode_ping(w: &mut Writer) {
    let at = w.begin_frame();
    w.int(xid::PING);
    w.int(op::PING);
    w.finish_frame(at);
}

pub(crate) fn encode_auth(w: &mut Writer, scheme: &str, auth: &[u8]) {
    let at = w.begin_frame();
    w.int(xid::AUTH);
    w.int(op::AUTH);
    w.int(0);
    w.string(scheme);
    w.buffer(auth);
    w.finish_frame(at);
}

/// Most bytes of paths in one SetWatches frame; a larger set is split, since
/// the server rejects frames over its `jute.maxbuffer` (1 MiB by default).
pub(crate) const SET_WATCHES_MAX_BYTES: usize = 128 * 1024;

/// Appends SetWatches frames re-registering the given server paths.
pub(crate) fn encode_set_watches(
    w: &mut Writer,
    relative_zxid: i64,
    data: &[String],
    exist: &[String],
    child: &[String],
) {
    let mut lists: [Vec<String>; 3] = Default::default();
    let mut bytes = 0;
    let flush = |w: &mut Writer, lists: &mut [Vec<String>; 3]| {
        let at = w.begin_frame();
        w.int(xid::SET_WATCHES);
        w.int(op::SET_WATCHES);
        w.long(relative_zxid);
        for l in lists.iter_mut() {
            w.strings(l);
            l.clear();
        }
        w.finish_frame(at);
    };
    for (i, paths) in [data, exist, child].into_iter().enumerate() {
        for p in paths {
            if bytes + p.len() > SET_WATCHES_MAX_BYTES && bytes > 0 {
                flush(w, &mut lists);
                bytes = 0;
            }
            bytes += p.len() + 4;
            lists[i].push(p.clone());
        }
    }
    if bytes > 0 {
        flush(w, &mut lists);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chroot_paths() {
        assert_eq!(to_server_path("", "/a"), "/a");
        assert_eq!(to_server_path("/app", "/"), "/app");
        assert_eq!(to_server_path("/app", "/a/b"), "/app/a/b");
        assert_eq!(to_client_path("/app", "/app"), "/");
        assert_eq!(to_client_path("/app", "/app/a"), "/a");
        assert_eq!(to_client_path("/app", "/apple"), "/apple");
        assert_eq!(to_client_path("", "/x"), "/x");
    }

    #[test]
    fn create_request_layout() {
        let mut w = Writer::new();
        Request::Create {
            path: "/a".into(),
            data: b"d".to_vec(),
            acl: Acl::open_unsafe(),
            mode: CreateMode::EphemeralSequential,
        }
        .encode(7, "/r", &mut w);
        let b = w.into_bytes();
        let mut r = Reader::new(&b);
        assert_eq!(r.int().unwrap() as usize, b.len() - 4);
        assert_eq!(r.int().unwrap(), 7);
        assert_eq!(r.int().unwrap(), op::CREATE2);
        assert_eq!(r.string().unwrap(), "/r/a");
        assert_eq!(r.buffer().unwrap(), b"d");
        assert_eq!(r.vec_len(12).unwrap(), 1);
        assert_eq!(r.int().unwrap(), perms::ALL);
        assert_eq!(r.string().unwrap(), "world");
        assert_eq!(r.string().unwrap(), "anyone");
        assert_eq!(r.int().unwrap(), 3);
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn multi_reply_decodes_and_strips_chroot() {
        let mut w = Writer::new();
        w.int(op::CREATE2);
        w.bool(false);
        w.int(0);
        w.string("/r/a0000000001");
        let stat = Stat {
            czxid: 9,
            ..Stat::default()
        };
        stat.write(&mut w);
        w.int(op::ERROR);
        w.bool(false);
        w.int(-101);
        w.int(-101);
        w.int(-1);
        w.bool(true);
        w.int(-1);
        let b = w.into_bytes();
        let got = decode_response(op::MULTI, "/r", &mut Reader::new(&b)).unwrap();
        assert_eq!(
            got,
            Response::Multi(vec![
                OpResult::Create {
                    path: "/a0000000001".into(),
                    stat: Some(stat)
                },
                OpResult::Error(ZkError::NoNode)
            ])
        );
    }

    #[test]
    fn set_watches_splits_large_sets() {
        let paths: Vec<String> = (0..20_000)
            .map(|i| format!("/some/longer/path/{i:08}"))
            .collect();
        let mut w = Writer::new();
        encode_set_watches(&mut w, 5, &paths, &[], &paths);
        let b = w.into_bytes();
        let mut r = Reader::new(&b);
        let mut frames = 0;
        let mut seen = 0;
        while r.remaining() > 0 {
            let len = r.int().unwrap() as usize;
            assert!(len < SET_WATCHES_MAX_BYTES + 64 * 1024);
            assert_eq!(r.int().unwrap(), xid::SET_WATCHES);
            assert_eq!(r.int().unwrap(), op::SET_WATCHES);
            assert_eq!(r.long().unwrap(), 5);
            for _ in 0..3 {
                seen += r.strings().unwrap().len();
            }
            frames += 1;
        }
        assert!(frames > 1);
        assert_eq!(seen, 40_000);
    }

    #[test]
    fn error_codes_round_trip() {
        for c in [-1, -4, -101, -110, -112, -127, -9999] {
            assert_eq!(ZkError::from_code(c).code(), c);
        }
    }
}
