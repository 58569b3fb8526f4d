//! The one client API the recipes use: a [`Scope`] is the client seen from
//! one session epoch (a session, from its start to its loss). Through it a
//! recipe sends typed calls, pipelined, and reads typed replies; asks how
//! its epoch stands ([`EpochStatus`]); hands deletes and watches to the
//! background; and runs user callbacks on the callback thread. It never sees
//! the wire records, the shared state or the locks inside the client, and
//! the client never knows what a lock is.

use super::Client;
use super::background::{OnReply, SharedWatcher};
use super::events::Watcher;
pub(crate) use super::outbound::Call;
use super::proto::{Request, Response};
use super::shared::Shared;
pub(crate) use super::types::Acl;
use super::types::{CreateMode, Stat, WatchedEvent};
use crate::error::{Failure, ZkError};
use crossbeam_channel::Receiver;
use std::sync::Arc;
use std::time::Instant;

pub(crate) use super::background::Target;
pub(crate) use super::outbound::{Reply, ReplyRx, wait_reply};
pub(crate) use super::session::EpochStatus;

/// The client as one session epoch sees it.
#[derive(Clone)]
pub(crate) struct Scope {
    client: Client,
    epoch: u64,
}

impl Client {
    /// The scope of the current session epoch.
    pub(crate) fn scope(&self) -> Result<Scope, Failure> {
        let epoch = self.shared().current_epoch()?;
        Ok(Scope {
            client: self.clone(),
            epoch,
        })
    }
}

impl Scope {
    fn shared(&self) -> &Arc<Shared> {
        self.client.shared()
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// How this scope's epoch stands right now.
    pub fn status(&self) -> EpochStatus {
        self.shared().session.lock().status(self.epoch)
    }

    /// The session id of this scope's epoch, while it is the current one.
    pub fn session_id(&self) -> Option<i64> {
        let s = self.shared().session.lock();
        (s.epoch == self.epoch && s.session_id != 0).then_some(s.session_id)
    }

    /// The connect string's chroot (`""` for none).
    pub fn chroot(&self) -> &str {
        self.shared().chroot()
    }

    /// The largest request the server accepts.
    pub fn max_request_size(&self) -> usize {
        self.shared().cfg.max_frame
    }

    /// The deadline of a request sent now (the request timeout).
    pub fn request_deadline(&self) -> Instant {
        self.client.default_deadline()
    }

    /// Sends `calls` back-to-back in one write; one reply handle per call,
    /// in order. Waits for a connection in this epoch until `connect_by`
    /// (pass `Instant::now()` not to wait).
    pub fn send(&self, calls: Vec<Call>, connect_by: Instant) -> Result<Vec<ReplyRx>, Failure> {
        self.shared().send(self.epoch, calls, connect_by)
    }

    /// [`Scope::send`], running `queued` once the calls are queued on the
    /// connection and before they are written: whatever anyone sends after
    /// `queued` runs reaches the server behind them.
    pub fn send_then(
        &self,
        calls: Vec<Call>,
        connect_by: Instant,
        queued: impl FnOnce(),
    ) -> Result<Vec<ReplyRx>, Failure> {
        self.shared()
            .send_then(self.epoch, calls, connect_by, queued)
    }

    /// Sends `calls` and waits for every reply until `deadline` (for
    /// callers that need no cancel: a cancellable attempt waits itself).
    pub fn round_trip(&self, calls: Vec<Call>, deadline: Instant) -> Vec<Reply> {
        let n = calls.len();
        match self.send(calls, deadline) {
            Ok(rxs) => rxs.iter().map(|rx| wait_reply(rx, deadline)).collect(),
            Err(f) => vec![Err(f); n],
        }
    }

    /// One call, its reply awaited until `deadline` (which also bounds the
    /// wait for a connection).
    pub fn call(&self, call: Call, deadline: Instant) -> Reply {
        self.round_trip(vec![call], deadline)
            .pop()
            .unwrap_or_else(|| Err(Failure::Protocol("a reply went missing".into())))
    }

    /// Deletes `target` in the background until the server confirms it
    /// (see `background`); `ephemeral`: the node belongs to this epoch's
    /// session and goes with it. The receiver disconnects once settled.
    pub fn delete_in_background(&self, target: Target, ephemeral: bool) -> Receiver<()> {
        self.shared()
            .delete_in_background(target, None, ephemeral.then_some(self.epoch))
    }

    /// Sets a data watch on `path` in this epoch, in the background (see
    /// `background`).
    pub fn watch_in_background(&self, path: String, watcher: SharedWatcher, on_reply: OnReply) {
        self.shared()
            .watch_in_background(path, self.epoch, watcher, on_reply)
    }

    /// The recipes' state of type `T` for this client: made by `make` on
    /// first use, then shared by every caller (one per client, whatever
    /// the epoch). The client keeps it as long as it lives.
    pub fn per_client<T: Send + Sync + 'static>(&self, make: impl FnOnce() -> T) -> Arc<T> {
        let key = std::any::TypeId::of::<T>();
        let mut map = self.shared().recipe_state.lock();
        // The entry under `T`'s type id is always a `T`.
        if let Some(t) = map.get(&key).and_then(|e| e.clone().downcast::<T>().ok()) {
            return t;
        }
        let t = Arc::new(make());
        map.insert(key, t.clone());
        t
    }

    /// Runs `f` on the client's callback thread.
    pub fn run_callback(&self, f: Box<dyn FnOnce() + Send>) {
        self.shared().run_callback(f)
    }
}

/// The calls the recipes make.
impl Call {
    /// Creates `path` with `acl`.
    pub fn create(path: String, data: Vec<u8>, mode: CreateMode, acl: &[Acl]) -> Call {
        Call::new(Request::Create {
            path,
            data,
            acl: acl.to_vec(),
            mode,
        })
    }

    /// Lists `path`'s children.
    pub fn list(path: &str) -> Call {
        Call::new(Request::GetChildren {
            path: path.to_string(),
            watch: false,
        })
    }

    /// Lists `path`'s children and watches them.
    pub fn list_watch(path: &str, watcher: impl FnOnce(WatchedEvent) + Send + 'static) -> Call {
        Call::watched(
            Request::GetChildren {
                path: path.to_string(),
                watch: true,
            },
            Box::new(watcher),
        )
    }

    /// Reads `path`'s data.
    pub fn get_data(path: &str) -> Call {
        Call::new(Request::GetData {
            path: path.to_string(),
            watch: false,
        })
    }

    /// Reads `path`'s data and watches it.
    pub fn get_data_watch(path: &str, watcher: impl FnOnce(WatchedEvent) + Send + 'static) -> Call {
        Call::watched(
            Request::GetData {
                path: path.to_string(),
                watch: true,
            },
            Box::new(watcher),
        )
    }

    /// Sets `path`'s data, at `version` (any for `None`).
    pub fn set_data(path: &str, data: Vec<u8>, version: Option<i32>) -> Call {
        Call::new(Request::SetData {
            path: path.to_string(),
            data,
            version,
        })
    }

    /// `path`'s stat, if it exists.
    pub fn exists(path: &str) -> Call {
        Call::new(Request::Exists {
            path: path.to_string(),
            watch: false,
        })
    }

    /// Deletes `path` (any version).
    pub fn delete(path: &str) -> Call {
        Call::new(Request::Delete {
            path: path.to_string(),
            version: None,
        })
    }

    /// Deletes `path` at `version` (any for `None`).
    pub fn delete_at(path: &str, version: Option<i32>) -> Call {
        Call::new(Request::Delete {
            path: path.to_string(),
            version,
        })
    }

    /// Makes the server catch up with the leader before later reads.
    pub fn sync(path: &str) -> Call {
        Call::new(Request::Sync {
            path: path.to_string(),
        })
    }

    fn watched(request: Request, watcher: Watcher) -> Call {
        Call {
            request,
            watcher: Some(watcher),
        }
    }
}

/// Typed views of a reply: the answer a call expects, or why there is none
/// (an answer of another kind is a protocol failure).
pub(crate) trait ReplyExt {
    /// A create's path and stat.
    fn created(self) -> Result<(String, Stat), Failure>;
    /// A listing.
    fn children(self) -> Result<Vec<String>, Failure>;
    /// Data and stat.
    fn data(self) -> Result<(Vec<u8>, Stat), Failure>;
    /// A stat (exists, set data).
    fn stat(self) -> Result<Stat, Failure>;
    /// Success, whatever it carries.
    fn done(self) -> Result<(), Failure>;
}

fn unexpected(what: &str, r: &Response) -> Failure {
    Failure::Protocol(format!("expected {what}, the server answered {r:?}"))
}

impl ReplyExt for Reply {
    fn created(self) -> Result<(String, Stat), Failure> {
        match self? {
            Response::Created(p, s) => Ok((p, s)),
            r => Err(unexpected("a created node", &r)),
        }
    }

    fn children(self) -> Result<Vec<String>, Failure> {
        match self? {
            Response::Children(c, _) => Ok(c),
            r => Err(unexpected("a listing", &r)),
        }
    }

    fn data(self) -> Result<(Vec<u8>, Stat), Failure> {
        match self? {
            Response::Data(d, s) => Ok((d, s)),
            r => Err(unexpected("data", &r)),
        }
    }

    fn stat(self) -> Result<Stat, Failure> {
        match self? {
            Response::Stat(s) => Ok(s),
            r => Err(unexpected("a stat", &r)),
        }
    }

    fn done(self) -> Result<(), Failure> {
        self.map(|_| ())
    }
}

/// Creating a path and its missing ancestors, written once for the client's
/// `ensure_path` and the recipes: one create per ancestor, top-down, sent
/// pipelined in one round trip (those that exist answer `NodeExists`).
pub(crate) struct Lineage {
    chain: Vec<String>,
    mode: CreateMode,
    acl: Vec<Acl>,
}

/// What a [`Lineage`]'s replies say.
pub(crate) enum Verdict {
    /// The path exists now.
    Done,
    /// Not yet: an ancestor went again meanwhile (`None`), or a failure to
    /// sort by the caller's retry rules, with the path it happened on.
    Again(Option<(String, Failure)>),
    /// It cannot be created.
    Failed(crate::error::Error),
}

impl Lineage {
    /// `path` and its ancestors below the root, created as `mode` nodes
    /// with `acl`.
    pub fn new(path: &str, mode: CreateMode, acl: &[Acl]) -> Lineage {
        Lineage {
            chain: crate::path::lineage(path)
                .into_iter()
                .map(String::from)
                .collect(),
            mode,
            acl: acl.to_vec(),
        }
    }

    /// The creates to send, top-down.
    pub fn calls(&self) -> Vec<Call> {
        self.chain
            .iter()
            .map(|p| Call::create(p.clone(), Vec::new(), self.mode, &self.acl))
            .collect()
    }

    /// The paths the replies to [`Lineage::calls`] say these calls created
    /// (top-down).
    pub fn made(&self, replies: &[Reply]) -> Vec<String> {
        self.chain
            .iter()
            .zip(replies)
            .filter(|(_, r)| r.is_ok())
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// Reads the replies to [`Lineage::calls`] (`chroot` names the connect
    /// string's). The deepest answer decides; when it is `NoNode`, the
    /// topmost failure says why: a top-level node missing means the chroot
    /// is missing, `NoAuth` on an ancestor is that ancestor's.
    pub fn verdict(&self, replies: Vec<Reply>, chroot: &str) -> Verdict {
        let chroot_missing = || match chroot {
            "" => Verdict::Done, // the root always exists
            c => Verdict::Failed(crate::error::Error::ChrootMissing {
                chroot: c.to_string(),
            }),
        };
        let (Some(path), Some(last)) = (self.chain.last(), replies.last()) else {
            // The root itself: asked for after a top-level node found no
            // parent, which only a missing chroot explains.
            return chroot_missing();
        };
        match last {
            Ok(_) | Err(Failure::Server(ZkError::NodeExists)) => return Verdict::Done,
            Err(Failure::Server(ZkError::NoNode)) => {}
            Err(f) => return Verdict::Again(Some((path.clone(), f.clone()))),
        }
        for (p, r) in self.chain.iter().zip(replies) {
            match r {
                Ok(_) | Err(Failure::Server(ZkError::NodeExists)) => {}
                Err(Failure::Server(ZkError::NoNode)) if crate::path::parent(p) == "/" => {
                    return chroot_missing();
                }
                // Deleted again meanwhile (a container reaped).
                Err(Failure::Server(ZkError::NoNode)) => return Verdict::Again(None),
                Err(f) => return Verdict::Again(Some((p.clone(), f))),
            }
        }
        Verdict::Again(None)
    }
}
