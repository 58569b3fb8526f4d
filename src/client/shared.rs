//! The state one client's threads share, and how requests get onto the wire.
//!
//! Callers write their own requests: under the `out` mutex a caller takes the
//! next xid, registers the pending reply, and writes the frame, so requests
//! from many threads are pipelined on one connection with no thread hop on
//! the way out. The I/O thread ([`super::conn`]) reads every reply and
//! completes the pending entry with the same xid.
//!
//! Lock order: `out` before `pending`, `out` before `background`,
//! `session` before `listeners`; `session` is never held together with
//! `out`, `pending` or `background`.

use super::hosts::ConnectString;
use super::jute::Writer;
use super::proto::{self, Request, Response, WatchKind, ZkError};
use super::session::{Listeners, SessionEvent, SessionInfo, SessionState};
use super::watch::{Event, WatchRegistry, Watcher};
use crate::error::Error;
use crossbeam_channel::{Receiver, Sender};
use parking_lot::{Condvar, Mutex};
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

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
}

/// Why a request did not get a successful reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    Server(ZkError),
    ConnectionLoss,
    SessionLost,
    Closed,
    Timeout,
    Protocol(String),
    TooLarge(usize),
}

impl Failure {
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

pub(crate) type Reply = Result<Response, Failure>;

/// Who gets a reply.
pub(crate) enum Completion {
    /// A blocked caller.
    Caller(Sender<Reply>),
    /// Client bookkeeping, run on the I/O thread; must not block.
    Internal(Box<dyn FnOnce(Reply) + Send>),
}

impl Completion {
    pub fn complete(self, r: Reply) {
        match self {
            Completion::Caller(tx) => {
                // The caller may have given up (deadline); the reply is dropped.
                let _ = tx.send(r);
            }
            Completion::Internal(f) => f(r),
        }
    }
}

/// A request waiting for its reply.
pub(crate) struct Pending {
    pub opcode: i32,
    /// The watch to register if the reply allows it: (kind, server path, watcher).
    pub watch: Option<(WatchKind, String, Watcher)>,
    pub completion: Completion,
}

/// The write side of the current connection.
pub(crate) struct Outbound {
    pub stream: Option<TcpStream>,
    /// The session epoch the connection serves.
    pub epoch: u64,
    next_xid: i32,
    pub last_send: Instant,
    buf: Writer,
}

impl Outbound {
    /// The xid the next request will get.
    fn peek_xid(&self) -> i32 {
        self.next_xid
    }

    fn next_xid(&mut self) -> i32 {
        let x = self.next_xid;
        // Negative xids are reserved for pings, auth and notifications.
        self.next_xid = if x == i32::MAX { 1 } else { x + 1 };
        x
    }

    /// Writes whatever is in the buffer; on failure the socket is shut down
    /// so the I/O thread notices at once and fails every pending request.
    pub fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        if let Some(s) = self.stream.as_mut()
            && let Err(e) = s.write_all(self.buf.bytes())
        {
            log::debug!("zklock: write failed: {e}");
            let _ = s.shutdown(Shutdown::Both);
        }
        self.buf.clear();
        self.last_send = Instant::now();
    }

    pub fn buf(&mut self) -> &mut Writer {
        &mut self.buf
    }
}

/// What the client has done, counted as it happens.
#[derive(Default)]
pub(crate) struct Counters {
    pub requests: AtomicU64,
    pub notifications: AtomicU64,
    pub connections: AtomicU64,
}

/// One request for [`Shared::send`].
pub(crate) struct Call {
    pub request: Request,
    pub watcher: Option<Watcher>,
}

impl Call {
    pub fn new(request: Request) -> Call {
        Call {
            request,
            watcher: None,
        }
    }
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
    pub(crate) background: Mutex<super::background::Background>,
    pub last_zxid: AtomicI64,
    /// Counters for [`crate::client::ClientStats`].
    pub stats: Counters,
    pub event_thread: Mutex<Option<std::thread::ThreadId>>,
}

/// Who waits for an auth reply.
pub(crate) enum AuthWaiter {
    Caller(Sender<Reply>),
    /// Re-sent on reconnect: on failure it is dropped from the list.
    Resent(String, Vec<u8>),
}

impl Shared {
    pub fn new(cfg: Config, events: Sender<Event>, auths: Vec<(String, Vec<u8>)>) -> Shared {
        let timeout = cfg.session_timeout;
        Shared {
            cfg,
            session: Mutex::new(SessionInfo::new(timeout)),
            session_cv: Condvar::new(),
            out: Mutex::new(Outbound {
                stream: None,
                epoch: 0,
                next_xid: 1,
                last_send: Instant::now(),
                buf: Writer::new(),
            }),
            pending: Mutex::new(HashMap::new()),
            watches: Mutex::new(WatchRegistry::default()),
            events,
            listeners: Arc::new(Mutex::new(Listeners::default())),
            auths: Mutex::new(auths),
            auth_waiters: Mutex::new(VecDeque::new()),
            background: Mutex::new(super::background::Background::default()),
            last_zxid: AtomicI64::new(0),
            stats: Counters::default(),
            event_thread: Mutex::new(None),
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

    /// Waits until a connection of session `epoch` is up, and returns its
    /// write side locked.
    fn writable(
        &self,
        epoch: u64,
        deadline: Instant,
    ) -> Result<parking_lot::MutexGuard<'_, Outbound>, Failure> {
        loop {
            {
                let out = self.out.lock();
                if out.stream.is_some() {
                    if out.epoch != epoch {
                        return Err(Failure::SessionLost);
                    }
                    return Ok(out);
                }
            }
            // The I/O thread installs the stream before it sets Connected and
            // sets Suspended before it removes the stream, so this cannot spin.
            let mut s = self.session.lock();
            loop {
                if s.closing || s.state == SessionState::Closed {
                    return Err(Failure::Closed);
                }
                if s.epoch != epoch {
                    return Err(Failure::SessionLost);
                }
                if s.state == SessionState::Connected {
                    break;
                }
                if self.session_cv.wait_until(&mut s, deadline).timed_out() {
                    if s.state == SessionState::Connected && s.epoch == epoch {
                        break;
                    }
                    return Err(Failure::ConnectionLoss);
                }
            }
        }
    }

    /// Encodes `call` into the outbound buffer and registers its pending reply.
    pub fn enqueue(
        &self,
        out: &mut Outbound,
        call: Call,
        completion: Completion,
    ) -> Result<(), (Failure, Completion)> {
        let xid = out.next_xid();
        let start = out.buf.bytes().len();
        call.request.encode(xid, self.chroot(), &mut out.buf);
        let body = out.buf.bytes().len() - start - 4;
        if body > self.cfg.max_frame {
            // Roll back: the server would drop the connection for it.
            out.buf.truncate(start);
            return Err((Failure::TooLarge(body), completion));
        }
        let watch = match (call.request.watch(), call.watcher) {
            (Some(kind), Some(w)) => Some((
                kind,
                proto::to_server_path(self.chroot(), call.request.path()),
                w,
            )),
            _ => None,
        };
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        self.pending.lock().insert(
            xid,
            Pending {
                opcode: call.request.opcode(),
                watch,
                completion,
            },
        );
        Ok(())
    }

    /// Sends `calls` back-to-back in one write, in session `epoch`, and
    /// returns one reply handle per call, in order. Waits for a connection
    /// until `deadline` if there is none.
    pub fn send(
        self: &Arc<Self>,
        epoch: u64,
        calls: Vec<Call>,
        deadline: Instant,
    ) -> Result<Vec<ReplyRx>, Failure> {
        let mut out = self.writable(epoch, deadline)?;
        let mut rxs = Vec::with_capacity(calls.len());
        for call in calls {
            let (tx, rx) = crossbeam_channel::bounded(1);
            let xid = out.peek_xid();
            match self.enqueue(&mut out, call, Completion::Caller(tx)) {
                Ok(()) => rxs.push(ReplyRx {
                    xid: Some(xid),
                    rx,
                    shared: Arc::downgrade(self),
                }),
                // Earlier calls of the batch still go out; this one fails.
                Err((f, _)) => rxs.push(ReplyRx::ready(Err(f))),
            }
        }
        out.flush();
        Ok(rxs)
    }

    /// Sends one request and waits for its reply until `deadline`.
    pub fn call(self: &Arc<Self>, epoch: u64, call: Call, deadline: Instant) -> Reply {
        match self.send(epoch, vec![call], deadline)?.pop() {
            Some(rx) => wait_reply(&rx, deadline),
            // `send` returns one handle per call.
            None => Err(Failure::Protocol("no reply handle".into())),
        }
    }

    /// Sends an auth packet and waits for the server's verdict.
    pub fn add_auth(&self, scheme: &str, auth: &[u8], deadline: Instant) -> Reply {
        let epoch = self.current_epoch()?;
        let (tx, rx) = crossbeam_channel::bounded(1);
        {
            let mut out = self.writable(epoch, deadline)?;
            self.auth_waiters.lock().push_back(AuthWaiter::Caller(tx));
            proto::encode_auth(out.buf(), scheme, auth);
            out.flush();
        }
        let r = recv_reply(&rx, deadline);
        if r.is_ok() {
            self.auths.lock().push((scheme.to_string(), auth.to_vec()));
        }
        r
    }
}

/// The receiving end of one request's reply. A caller that gives up on the
/// reply (deadline, cancel, error) drops it, and with it the request's
/// pending entry: a server that never answers costs the client nothing
/// per abandoned call.
pub(crate) struct ReplyRx {
    /// `None` for a reply that was there from the start (a refused request).
    xid: Option<i32>,
    rx: Receiver<Reply>,
    shared: Weak<Shared>,
}

impl ReplyRx {
    /// A handle whose reply is `r`, without a request behind it.
    pub fn ready(r: Reply) -> ReplyRx {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let _ = tx.send(r);
        ReplyRx {
            xid: None,
            rx,
            shared: Weak::new(),
        }
    }

    /// The channel the reply arrives on (once).
    pub fn receiver(&self) -> &Receiver<Reply> {
        &self.rx
    }
}

impl Drop for ReplyRx {
    fn drop(&mut self) {
        // Still pending (the completion holds the sender): forget it. A reply
        // that comes later is then dropped by the I/O thread as unknown.
        if let Some(xid) = self.xid
            && matches!(
                self.rx.try_recv(),
                Err(crossbeam_channel::TryRecvError::Empty)
            )
            && let Some(shared) = self.shared.upgrade()
        {
            shared.pending.lock().remove(&xid);
        }
    }
}

/// Waits for a reply until `deadline`.
pub(crate) fn wait_reply(rx: &ReplyRx, deadline: Instant) -> Reply {
    recv_reply(&rx.rx, deadline)
}

fn recv_reply(rx: &Receiver<Reply>, deadline: Instant) -> Reply {
    match rx.recv_deadline(deadline) {
        Ok(r) => r,
        Err(crossbeam_channel::RecvTimeoutError::Timeout) => Err(Failure::Timeout),
        Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Err(Failure::ConnectionLoss),
    }
}
