//! The ZooKeeper client protocol's records, crate-private: requests as we
//! encode them, replies as we decode them, and how the public values of
//! `types` (`Stat`, `Acl`, `CreateMode`, multi `Op`s, ...) are written and
//! read on the wire.
//!
//! Everything here is pure: no I/O, no locks. Decoding is total: any byte
//! string gives either a value or a [`DecodeError`], never a panic (the
//! `decoder_never_panics` test feeds it mutated and random replies).
//!
//! Paths are handled here in the client's view (below the chroot); the chroot
//! is added while encoding and stripped while decoding, so the rest of the
//! client never sees a server-side path except in the watch registry.

use super::jute::{DecodeError, Reader, Writer};
use super::types::{Acl, CreateMode, EventType, Op, OpResult, Stat};
use crate::error::{Failure, ZkError};

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

/// Reads a [`Stat`].
fn read_stat(r: &mut Reader<'_>) -> Result<Stat, DecodeError> {
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

/// Writes a [`Stat`] (the server's side: for the decoder's tests).
#[cfg(test)]
pub(crate) fn write_stat(s: &Stat, w: &mut Writer) {
    w.long(s.czxid);
    w.long(s.mzxid);
    w.long(s.ctime);
    w.long(s.mtime);
    w.int(s.version);
    w.int(s.cversion);
    w.int(s.aversion);
    w.long(s.ephemeral_owner);
    w.int(s.data_length);
    w.int(s.num_children);
    w.long(s.pzxid);
}

/// The create flags of a [`CreateMode`].
fn create_flags(mode: CreateMode) -> i32 {
    match mode {
        CreateMode::Persistent => 0,
        CreateMode::Ephemeral => 1,
        CreateMode::PersistentSequential => 2,
        CreateMode::EphemeralSequential => 3,
        CreateMode::Container => 4,
    }
}

/// The create operation for a [`CreateMode`] (containers have their own).
fn create_opcode(mode: CreateMode) -> i32 {
    match mode {
        CreateMode::Container => op::CREATE_CONTAINER,
        _ => op::CREATE2,
    }
}

/// The operation code of one op of a multi.
fn op_code(o: &Op) -> i32 {
    match o {
        Op::Create { mode, .. } => create_opcode(*mode),
        Op::Delete { .. } => op::DELETE,
        Op::SetData { .. } => op::SET_DATA,
        Op::Check { .. } => op::CHECK,
    }
}

fn write_acl(w: &mut Writer, a: &Acl) {
    w.int(a.perms);
    w.string(&a.scheme);
    w.string(&a.id);
}

fn read_acl(r: &mut Reader<'_>) -> Result<Acl, DecodeError> {
    Ok(Acl {
        perms: r.int()?,
        scheme: r.string()?,
        id: r.string()?,
    })
}

/// The [`EventType`] of a notification's type code.
fn event_type(code: i32) -> EventType {
    match code {
        -1 => EventType::Session,
        1 => EventType::NodeCreated,
        2 => EventType::NodeDeleted,
        3 => EventType::NodeDataChanged,
        4 => EventType::NodeChildrenChanged,
        c => EventType::Other(c),
    }
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
            Request::Create { mode, .. } => create_opcode(*mode),
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
            Request::Delete { path, version } => write_versioned(w, &p(path), *version),
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
            } => write_set_data(w, &p(path), data, *version),
            Request::GetAcl { path } | Request::Sync { path } => w.string(&p(path)),
            Request::SetAcl { path, acl, version } => {
                w.string(&p(path));
                write_acls(w, acl);
                w.int(version_code(*version));
            }
            Request::Multi(ops) => {
                for o in ops {
                    w.int(op_code(o));
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
                            write_versioned(w, &p(path), *version)
                        }
                        Op::SetData {
                            path,
                            data,
                            version,
                        } => write_set_data(w, &p(path), data, *version),
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
        write_acl(w, a);
    }
}

/// A delete's (or a check's) body: the path and the expected version.
fn write_versioned(w: &mut Writer, path: &str, version: Option<i32>) {
    w.string(path);
    w.int(version_code(version));
}

fn write_set_data(w: &mut Writer, path: &str, data: &[u8], version: Option<i32>) {
    w.string(path);
    w.buffer(data);
    w.int(version_code(version));
}

fn write_create(w: &mut Writer, path: &str, data: &[u8], acl: &[Acl], mode: CreateMode) {
    w.string(path);
    w.buffer(data);
    write_acls(w, acl);
    w.int(create_flags(mode));
}

/// A reply: the server's answer, or why there is none.
pub(crate) type Reply = Result<Response, Failure>;

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
            Response::Created(path, read_stat(r)?)
        }
        op::DELETE | op::CLOSE_SESSION | op::CHECK => Response::Empty,
        op::EXISTS | op::SET_DATA | op::SET_ACL => Response::Stat(read_stat(r)?),
        op::GET_DATA => {
            let data = r.buffer()?;
            Response::Data(data, read_stat(r)?)
        }
        op::GET_CHILDREN2 => {
            let children = r.strings()?;
            Response::Children(children, read_stat(r)?)
        }
        op::GET_ACL => {
            let n = r.vec_len(12)?;
            let mut acl = Vec::with_capacity(n);
            for _ in 0..n {
                acl.push(read_acl(r)?);
            }
            Response::Acl(acl, read_stat(r)?)
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
                    stat: Some(read_stat(r)?),
                }
            }
            op::DELETE => OpResult::Delete,
            op::SET_DATA => OpResult::SetData {
                stat: read_stat(r)?,
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
            event_type: event_type(r.int()?),
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
    use super::super::types::perms;
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
        write_stat(&stat, &mut w);
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
