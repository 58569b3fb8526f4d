//! Session state as callers see it, the events that report its changes, and
//! the listeners those events are delivered to.
//!
//! The I/O thread is the only writer of the state. It changes the state
//! first and queues the matching [`SessionEvent`] for the event thread
//! second, so a listener never sees an event older than [`crate::Client::state`].

use crossbeam_channel::Sender;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the client's session stands now.
///
/// ```no_run
/// # fn main() -> zklock::Result<()> {
/// let client = zklock::Client::connect("127.0.0.1:2181")?;
/// assert_eq!(client.state(), zklock::SessionState::Connected);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionState {
    /// No session yet: the first one, or a new one after the last was lost.
    /// Calls wait for it (up to their deadline).
    Connecting,
    /// The session is live and the connection is up.
    Connected,
    /// The connection is down; the session may still be alive on the server
    /// and the client is reconnecting to resume it. Whatever the session
    /// holds (ephemeral nodes, and so locks) may or may not still be there.
    Suspended,
    /// The client was closed; every call fails with [`crate::Error::Closed`].
    Closed,
}

/// A change of the session, delivered in order to listeners and
/// [`crate::Client::session_events`] receivers, on the client's event thread.
///
/// The life of one client: `Connected{a}`, then any number of
/// `Suspended{a}` / `Reconnected{a}` pairs; if session `a` ends, exactly one
/// `Lost{a}` followed by `Connected{b}` for the fresh session `b`; finally
/// `Closed{..}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionEvent {
    /// A new session is live (the first one, or a fresh one after `Lost`).
    Connected {
        /// The new session's id.
        session_id: i64,
    },
    /// The connection was lost; the session may still be alive.
    Suspended {
        /// The session that may still be alive.
        session_id: i64,
    },
    /// The connection is back and the session survived: its ephemeral nodes
    /// and watches are intact.
    Reconnected {
        /// The same session id as before the suspension.
        session_id: i64,
    },
    /// The session ended: the server said it expired, or no server could be
    /// reached for a whole session timeout. Its ephemeral nodes are gone (or
    /// are being deleted) and its watches will never fire. Reported once.
    Lost {
        /// The session that ended.
        session_id: i64,
    },
    /// The client was closed.
    Closed {
        /// The last session id (0 if none was ever established).
        session_id: i64,
    },
}

impl SessionEvent {
    /// The session the event is about.
    pub fn session_id(&self) -> i64 {
        match *self {
            SessionEvent::Connected { session_id }
            | SessionEvent::Suspended { session_id }
            | SessionEvent::Reconnected { session_id }
            | SessionEvent::Lost { session_id }
            | SessionEvent::Closed { session_id } => session_id,
        }
    }
}

/// Identifies a listener added with [`crate::Client::add_listener`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(pub(crate) u64);

pub(crate) type Listener = Arc<dyn Fn(&SessionEvent) + Send + Sync>;

/// The listeners and channel subscribers of one client.
///
/// Events are numbered when the I/O thread emits them and delivered later
/// by the event thread; each subscriber remembers the number current when
/// it subscribed and is given only later events, so nobody is told about a
/// change that happened before they asked.
///
/// Callbacks are kept by id, in the order they were added: adding and
/// removing one costs O(log n), so a program that makes and drops many lock
/// handles (each has a listener) pays nothing quadratic, and the memory of
/// removed ones is given back.
#[derive(Default)]
pub(crate) struct Listeners {
    next_id: u64,
    /// The number of the last event emitted.
    pub emitted: u64,
    /// id -> (the event number current when it was added, the callback).
    callbacks: BTreeMap<u64, (u64, Listener)>,
    channels: Vec<(u64, Sender<SessionEvent>)>,
}

impl Listeners {
    pub fn add(&mut self, f: Listener) -> ListenerId {
        self.next_id += 1;
        self.callbacks.insert(self.next_id, (self.emitted, f));
        ListenerId(self.next_id)
    }

    pub fn remove(&mut self, id: ListenerId) -> bool {
        self.callbacks.remove(&id.0).is_some()
    }

    pub fn subscribe(&mut self, tx: Sender<SessionEvent>) {
        self.channels.push((self.emitted, tx));
    }

    /// Numbers a new event.
    pub fn stamp(&mut self) -> u64 {
        self.emitted += 1;
        self.emitted
    }

    /// The callbacks to run for event number `seq`; channel subscribers are
    /// fed here, and the ones whose receiver is gone are dropped.
    pub fn dispatch(this: &Mutex<Listeners>, event: &SessionEvent, seq: u64) -> Vec<Listener> {
        let mut l = this.lock();
        l.channels
            .retain(|(since, tx)| seq <= *since || tx.send(*event).is_ok());
        l.callbacks
            .values()
            .filter(|(since, _)| seq > *since)
            .map(|(_, f)| f.clone())
            .collect()
    }
}

/// How one session epoch (a session, from its start to its loss) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EpochStatus {
    /// The session is live and the connection is up.
    Connected,
    /// The connection is down; the session may still be alive.
    Suspended,
    /// The session has ended (another epoch is current).
    Lost,
    /// The client is closed or closing.
    Closed,
}

/// The session's state, guarded by one mutex with a condvar that is
/// notified on every change.
#[derive(Debug)]
pub(crate) struct SessionInfo {
    pub state: SessionState,
    pub session_id: i64,
    pub password: Vec<u8>,
    /// Negotiated with the server (the requested one until then).
    pub timeout: Duration,
    /// Counts sessions: bumped when a session is lost. A call belongs to the
    /// epoch it started in and fails with `SessionLost` if that ends.
    pub epoch: u64,
    /// When anything was last received from a server in this session.
    pub last_heard: Instant,
    /// Set by `close()`; the I/O thread winds down when it sees it.
    pub closing: bool,
    /// Why the last connection attempt failed (for connect errors).
    pub last_error: String,
    /// The last TLS failure, and how many attempts in a row failed on TLS
    /// since the last connection: `connect()` gives up once every host has.
    pub tls_error: Option<crate::error::TlsError>,
    pub tls_failures: usize,
}

impl SessionInfo {
    pub fn new(timeout: Duration) -> SessionInfo {
        SessionInfo {
            state: SessionState::Connecting,
            session_id: 0,
            password: Vec::new(),
            timeout,
            epoch: 1,
            last_heard: Instant::now(),
            closing: false,
            last_error: String::new(),
            tls_error: None,
            tls_failures: 0,
        }
    }

    /// How session epoch `epoch` stands: the one answer to "is this epoch
    /// connected?", for the request path and the recipes alike.
    pub fn status(&self, epoch: u64) -> EpochStatus {
        if self.closing || self.state == SessionState::Closed {
            EpochStatus::Closed
        } else if self.epoch != epoch {
            EpochStatus::Lost
        } else if self.state == SessionState::Connected {
            EpochStatus::Connected
        } else {
            EpochStatus::Suspended
        }
    }

    /// How long a silent connection is trusted: 2/3 of the session timeout,
    /// as ZooKeeper's own client does, so that a reconnect to another server
    /// still has a third of the timeout to resume the session.
    pub fn read_timeout(&self) -> Duration {
        self.timeout * 2 / 3
    }
}
