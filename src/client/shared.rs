//! The state one client's threads share, and nothing else: its settings,
//! the session, the outbound connection and the pending requests, the
//! watch registry, the listeners, the background work, the callback
//! thread's channel and the counters. Every state type is defined here;
//! what is done with it lives in one file per job (`outbound`: the request
//! path; `background`: work done on a caller's behalf; `callbacks`: the
//! callback thread; `io_thread`: everything the I/O thread does), each
//! adding its methods to [`Shared`] or to its part of the state. So this
//! file depends on none of them, and the module graph has no cycle.
//!
//! Lock order: `out` before `pending`, `out` before `background`,
//! `session` before `listeners`; `session` is never held together with
//! `out`, `pending` or `background`.

use super::events::{Event, WatchRegistry, Watcher};
use super::hosts::ConnectString;
use super::jute::Writer;
use super::proto::{Reply, WatchKind};
use super::session::{Listeners, SessionEvent, SessionInfo, SessionState};
use super::types::WatchedEvent;
use crate::error::Failure;
use crossbeam_channel::Sender;
use parking_lot::{Condvar, Mutex};
use std::any::{Any, TypeId};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::time::Duration;
use std::time::Instant;

/// Settings fixed at connect time.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// The hosts as the connect string gave them, for messages.
    pub hosts_text: String,
    /// The hosts this client tries, in its own (shuffled) order.
    pub connect: ConnectString,
    pub session_timeout: Duration,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// The largest frame body the server accepts (its `jute.maxbuffer`).
    pub max_frame: usize,
    /// TLS settings, loaded; `None` for plaintext.
    #[cfg(feature = "tls")]
    pub tls: Option<super::tls::TlsSetup>,
}

/// What the client has done, counted as it happens.
#[derive(Default)]
pub(crate) struct Counters {
    pub requests: AtomicU64,
    pub notifications: AtomicU64,
    pub connections: AtomicU64,
}

pub(crate) struct Shared {
    pub cfg: Config,
    pub session: Mutex<SessionInfo>,
    /// Notified on every change of `session`.
    pub session_cv: Condvar,
    pub out: Mutex<Outbound>,
    pub pending: Mutex<HashMap<i32, Pending>>,
    pub watches: Mutex<WatchRegistry>,
    pub events: Sender<Event>,
    pub listeners: Arc<Mutex<Listeners>>,
    /// Credentials re-sent on every connection: (scheme, auth).
    pub auths: Mutex<Vec<(String, Vec<u8>)>>,
    /// Auth replies carry no xid of their own; they come back in order.
    pub auth_waiters: Mutex<VecDeque<AuthWaiter>>,
    pub background: Mutex<Background>,
    pub callbacks: Callbacks,
    pub last_zxid: AtomicI64,
    /// Counters for [`crate::client::ClientStats`].
    pub stats: Counters,
    pub event_thread: Mutex<Option<std::thread::ThreadId>>,
    /// State the recipes keep once per client, by type; the client never
    /// looks inside.
    pub recipe_state: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl Shared {
    pub fn new(cfg: Config, events: Sender<Event>, auths: Vec<(String, Vec<u8>)>) -> Shared {
        let timeout = cfg.session_timeout;
        Shared {
            cfg,
            session: Mutex::new(SessionInfo::new(timeout)),
            session_cv: Condvar::new(),
            out: Mutex::new(Outbound::new()),
            pending: Mutex::new(HashMap::new()),
            watches: Mutex::new(WatchRegistry::default()),
            events,
            listeners: Arc::new(Mutex::new(Listeners::default())),
            auths: Mutex::new(auths),
            auth_waiters: Mutex::new(VecDeque::new()),
            background: Mutex::new(Background::default()),
            callbacks: Callbacks::default(),
            last_zxid: AtomicI64::new(0),
            stats: Counters::default(),
            event_thread: Mutex::new(None),
            recipe_state: Mutex::new(HashMap::new()),
        }
    }

    pub fn chroot(&self) -> &str {
        &self.cfg.connect.chroot
    }

    /// Numbers and queues a session event. Called with the session lock
    /// held, in the same critical section as the state change it reports,
    /// so a thread that sees the new state and then subscribes is never
    /// sent the event of that change.
    pub fn emit(&self, e: SessionEvent) {
        // Stamped and queued under one lock, so numbers follow queue order.
        let mut l = self.listeners.lock();
        let seq = l.stamp();
        let _ = self.events.send(Event::Session(e, seq));
    }

    /// The epoch a call starting now belongs to, or `Closed`.
    pub fn current_epoch(&self) -> Result<u64, Failure> {
        let s = self.session.lock();
        if s.closing || s.state == SessionState::Closed {
            return Err(Failure::Closed);
        }
        Ok(s.epoch)
    }
}

// ---- the request path's state (behaviour: `outbound`)

/// Who gets a reply.
pub(crate) enum Completion {
    /// A blocked caller.
    Caller(Sender<Reply>),
    /// Client bookkeeping, run on the I/O thread; must not block.
    Internal(Box<dyn FnOnce(Reply) + Send>),
}

/// A request waiting for its reply.
pub(crate) struct Pending {
    pub opcode: i32,
    /// The watch to register if the reply allows it: (kind, server path, watcher).
    pub watch: Option<(WatchKind, String, Watcher)>,
    pub completion: Completion,
}

/// Who waits for an auth reply.
pub(crate) enum AuthWaiter {
    Caller(Sender<Reply>),
    /// Re-sent on reconnect: on failure it is dropped from the list.
    Resent(String, Vec<u8>),
}

/// The write side of the current connection.
pub(crate) struct Outbound {
    pub stream: Option<super::wire::Wire>,
    /// The session epoch the connection serves.
    pub epoch: u64,
    pub(super) next_xid: i32,
    pub last_send: Instant,
    pub(super) buf: Writer,
}

// ---- background work (behaviour: `background`)

/// What a background delete removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// One node.
    Path(String),
    /// Every child of `parent` whose name starts with `prefix`: a node whose
    /// create may or may not have been applied (its reply was lost), found
    /// by the unique prefix it was created with.
    Prefix { parent: String, prefix: String },
    /// One node, only if its data is `data` (read after a `sync`, deleted
    /// at the version read): a node whose create may or may not have been
    /// applied, at a path another client may have taken meanwhile.
    IfData { path: String, data: Vec<u8> },
    /// One node, only if it is the one created in transaction `czxid` (read
    /// after a `sync`, deleted at the version read): a node its owner let
    /// go of, whatever its data became.
    IfCreated { path: String, czxid: i64 },
}

/// A watch callback that may be registered more than once (after a lost
/// request), so it is shared rather than one-shot.
pub(crate) type SharedWatcher = Arc<dyn Fn(WatchedEvent) + Send + Sync>;
/// Told the outcome of a background watch's registration.
pub(crate) type OnReply = Arc<dyn Fn(Reply) + Send + Sync>;

pub(crate) enum Job {
    Delete {
        target: Target,
        version: Option<i32>,
        /// Dropped when the job settles (confirmed, or moot), which
        /// disconnects the receiver a caller may be waiting on.
        _settled: Sender<()>,
    },
    Watch {
        path: String,
        watcher: SharedWatcher,
        on_reply: OnReply,
    },
}

pub(crate) struct Entry {
    pub(super) id: u64,
    pub(super) job: Job,
    /// For work on an ephemeral node: its session's epoch. When that
    /// session ends the job is moot and dropped.
    pub(super) epoch: Option<u64>,
    pub(super) in_flight: bool,
}

/// The client's pending background work.
#[derive(Default)]
pub(crate) struct Background {
    pub(super) next_id: u64,
    pub(super) entries: Vec<Entry>,
}

// ---- the callback thread (behaviour: `callbacks`)

/// A user callback.
pub(crate) type Callback = Box<dyn FnOnce() + Send>;

/// The way to the callback thread, once it runs.
#[derive(Default)]
pub(crate) struct Callbacks {
    pub(super) tx: Mutex<Option<Sender<Callback>>>,
}
