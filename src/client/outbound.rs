//! How requests get onto the wire, and how their replies come back to the
//! caller.
//!
//! Callers write their own requests: under the `out` mutex a caller takes the
//! next xid, registers the pending reply, and writes the frame, so requests
//! from many threads are pipelined on one connection with no thread hop on
//! the way out. The I/O thread (`io_thread`) reads every reply and completes
//! the pending entry with the same xid; a caller that gives up first drops
//! its [`ReplyRx`], and with it the entry.

use super::events::Watcher;
use super::jute::Writer;
pub(crate) use super::proto::Reply;
use super::proto::{self, Request};
use super::session::EpochStatus;
use super::shared::{AuthWaiter, Completion, Outbound, Pending, Shared};
use crate::error::Failure;
use crossbeam_channel::Receiver;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Instant;

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

impl Outbound {
    /// No connection yet.
    pub fn new() -> Outbound {
        Outbound {
            stream: None,
            epoch: 0,
            next_xid: 1,
            last_send: Instant::now(),
            buf: Writer::new(),
        }
    }

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
            s.shutdown();
        }
        self.buf.clear();
        self.last_send = Instant::now();
    }

    pub fn buf(&mut self) -> &mut Writer {
        &mut self.buf
    }
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

impl Shared {
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
                match s.status(epoch) {
                    EpochStatus::Connected => break,
                    EpochStatus::Closed => return Err(Failure::Closed),
                    EpochStatus::Lost => return Err(Failure::SessionLost),
                    EpochStatus::Suspended => {}
                }
                if self.session_cv.wait_until(&mut s, deadline).timed_out()
                    && s.status(epoch) != EpochStatus::Connected
                {
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
        self.send_then(epoch, calls, deadline, || {})
    }

    /// [`Shared::send`], running `queued` once the calls are in the
    /// outbound buffer, before it is written: anything sent after `queued`
    /// runs goes out behind them, on this connection.
    pub fn send_then(
        self: &Arc<Self>,
        epoch: u64,
        calls: Vec<Call>,
        deadline: Instant,
        queued: impl FnOnce(),
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
        queued();
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
