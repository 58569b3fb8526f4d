//! The I/O thread: connects, resumes or re-creates the session, reads every
//! reply and notification, pings, notices silent connections, and decides
//! when a session is lost.
//!
//! One connection's life:
//! 1. TCP connect to the next host (rotating; a short backoff after every
//!    full round of failures, waited on the session condvar so `close`
//!    interrupts it).
//! 2. Handshake presenting the session id and password, if there is a
//!    session. A server that says the session expired makes it `Lost`.
//! 3. Before any caller may write, and so before anything a caller sends:
//!    auth packets, SetWatches with every registered path and the last zxid
//!    seen, and the background deletes still owed.
//! 4. Read until the connection fails or stays silent for the read timeout
//!    (2/3 of the session timeout), pinging whenever nothing was sent for half
//!    the read timeout. Then every in-flight request fails with
//!    `ConnectionLoss` at once and the state goes `Suspended`.
//!
//! While no server answers, the session is declared `Lost` once a whole
//! session timeout has passed since the last reply, as Curator does: the
//! server will have expired it by then. If a server is reached later and the
//! old session turns out to be alive after all (the server was down too), it
//! is closed, so its ephemeral nodes do not linger.

use super::events::{self, Event};
use super::jute::{DecodeError, Reader, Writer, frame_len};
use super::proto::Reply;
use super::proto::{self, ConnectResponse, Notification, ReplyHeader, WatchKind};
use super::session::{SessionEvent, SessionState};
use super::shared::Shared;
use super::shared::{AuthWaiter, Outbound};
use super::types::{WatchState, WatchedEvent};
use super::wire::Link;
use crate::error::{Failure, TlsError, ZkError};
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Why a handshake failed when the server hung up without a word.
const CLOSED_IN_HANDSHAKE: &str = "server closed the connection during the handshake";
/// The largest reply frame accepted; anything larger is a protocol error.
const MAX_REPLY: usize = 64 << 20;
/// The shortest time given to one connection attempt.
const MIN_ATTEMPT: Duration = Duration::from_millis(100);

/// A session to close on the server because it was declared lost locally.
struct Stale {
    session_id: i64,
    password: Vec<u8>,
}

enum AttemptError {
    /// The server said our session has expired.
    Expired,
    /// TLS failed in a way retrying the same server will not fix.
    Tls(TlsError),
    Other(String),
}

pub(crate) fn run_io_thread(shared: Arc<Shared>) {
    let hosts = shared.cfg.connect.hosts.clone();
    let mut next = 0usize;
    let mut failures = 0u32;
    let mut stale: Option<Stale> = None;
    loop {
        if shared.session.lock().closing {
            break;
        }
        if let Some(s) = expire_if_overdue(&shared) {
            stale = Some(s);
        }
        let (host, port) = &hosts[next % hosts.len()];
        next = next.wrapping_add(1);
        match attempt(&shared, host, *port, &mut stale) {
            Ok(mut link) => {
                failures = 0;
                let reason = serve(&shared, &mut link);
                disconnected(&shared, &link, &reason);
            }
            Err(AttemptError::Expired) => {
                declare_lost(&shared);
            }
            Err(AttemptError::Tls(e)) => {
                log::warn!("zklock: {e}");
                {
                    let mut s = shared.session.lock();
                    s.last_error = e.to_string();
                    s.tls_failures += 1;
                    s.tls_error = Some(e);
                    shared.session_cv.notify_all();
                }
                failures += 1;
                if (failures as usize).is_multiple_of(hosts.len()) {
                    backoff(&shared, failures / hosts.len() as u32);
                }
            }
            Err(AttemptError::Other(why)) => {
                let at = super::hosts::display(host, *port);
                log::debug!("zklock: connect to {at} failed: {why}");
                // The error names the hosts already: a lone host is not repeated.
                let mut s = shared.session.lock();
                s.last_error = if hosts.len() > 1 {
                    format!("{at}: {why}")
                } else {
                    why
                };
                s.tls_failures = 0;
                drop(s);
                failures += 1;
                if (failures as usize).is_multiple_of(hosts.len()) {
                    backoff(&shared, failures / hosts.len() as u32);
                }
            }
        }
    }
    finish(&shared);
}

/// Waits before the next round of attempts, so a refused port does not
/// spin a core; the wait ends early when the client closes.
fn backoff(shared: &Shared, rounds: u32) {
    let wait = Duration::from_millis(20u64 << rounds.min(6)).min(Duration::from_secs(1));
    let deadline = Instant::now() + wait;
    let mut s = shared.session.lock();
    while !s.closing {
        if shared.session_cv.wait_until(&mut s, deadline).timed_out() {
            break;
        }
    }
}

/// Declares the session lost if no server has answered for a whole session
/// timeout; returns it, so it can be closed if it is found alive later.
fn expire_if_overdue(shared: &Shared) -> Option<Stale> {
    let s = shared.session.lock();
    if s.session_id == 0 || s.last_heard.elapsed() < s.timeout {
        return None;
    }
    let stale = Stale {
        session_id: s.session_id,
        password: s.password.clone(),
    };
    drop(s);
    log::warn!(
        "zklock: no server reachable for a whole session timeout; session 0x{:x} is lost",
        stale.session_id
    );
    declare_lost(shared);
    Some(stale)
}

/// How long one connection attempt may take: a share of the read timeout
/// (so every host gets a try before the session would expire), never past
/// the moment the session would be declared lost.
fn attempt_timeout(shared: &Shared) -> Duration {
    let s = shared.session.lock();
    let hosts = shared.cfg.connect.hosts.len() as u32;
    let mut t = (s.read_timeout() / hosts).max(MIN_ATTEMPT);
    if s.session_id != 0 {
        let left = s.timeout.saturating_sub(s.last_heard.elapsed());
        t = t.min(left.max(MIN_ATTEMPT));
    } else {
        t = t.min(shared.cfg.connect_timeout.max(MIN_ATTEMPT));
    }
    t
}

fn tcp_connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve: {e}"))?
        .collect();
    let mut last = String::from("no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// Opens a connection to `host`: TCP, then the TLS handshake if the
/// client has TLS settings.
fn open(shared: &Shared, host: &str, port: u16, deadline: Instant) -> Result<Link, AttemptError> {
    let timeout = deadline.saturating_duration_since(Instant::now());
    let tcp = tcp_connect(host, port, timeout).map_err(AttemptError::Other)?;
    let at = super::hosts::display(host, port);
    #[cfg(feature = "tls")]
    if let Some(tls) = &shared.cfg.tls {
        let conn = tls
            .handshake(&tcp, host, &at, deadline)
            .map_err(|e| match e {
                super::tls::HandshakeError::Tls(e) => AttemptError::Tls(e),
                super::tls::HandshakeError::Io(why) => AttemptError::Other(why),
            })?;
        return Ok(Link::tls(tcp, conn, at));
    }
    let _ = shared;
    Ok(Link::plain(tcp, at))
}

/// Sends a ConnectRequest and reads the ConnectResponse.
fn handshake(
    link: &mut Link,
    shared: &Shared,
    session_id: i64,
    password: &[u8],
    deadline: Instant,
) -> Result<ConnectResponse, AttemptError> {
    let mut w = Writer::new();
    proto::encode_connect(
        &mut w,
        shared.last_zxid.load(Ordering::SeqCst),
        shared.cfg.session_timeout.as_millis().min(i32::MAX as u128) as i32,
        session_id,
        password,
    );
    link.write_all(w.bytes())
        .map_err(|e| AttemptError::Other(format!("handshake write: {e}")))?;
    let frame = read_frame_until(link, deadline)?;
    ConnectResponse::read(&mut Reader::new(&frame)).map_err(|e| AttemptError::Other(e.to_string()))
}

/// Reads exactly one frame, giving up at `deadline`. Bytes after it stay in
/// the link's inbox for `serve`.
fn read_frame_until(link: &mut Link, deadline: Instant) -> Result<Vec<u8>, AttemptError> {
    let other = |s: String| AttemptError::Other(s);
    let mut chunk = vec![0u8; 4096];
    let mut inbox = std::mem::take(&mut link.inbox);
    loop {
        if looks_like_tls(&inbox) && !link.is_tls() {
            return Err(AttemptError::Tls(TlsError::ServerExpectsTls {
                host: link.peer(),
            }));
        }
        if let Some(len) =
            frame_len(&inbox, MAX_REPLY).map_err(|e| other(format!("handshake: {e}")))?
        {
            let frame = inbox[4..len].to_vec();
            inbox.drain(..len);
            link.inbox = inbox;
            return Ok(frame);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(other("no handshake reply in time".into()));
        }
        link.set_read_timeout(Some(left));
        match link.read_into(&mut inbox, &mut chunk) {
            Ok(0) => return Err(other(CLOSED_IN_HANDSHAKE.into())),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(read_failure(link, &e)),
        }
    }
}

/// A plaintext handshake the server hung up on: a server not serving yet
/// (an ensemble member between elections), or a TLS port, which a second
/// connection with a TLS hello tells apart.
fn hung_up(host: &str, port: u16, peer: String, deadline: Instant) -> AttemptError {
    #[cfg(feature = "tls")]
    {
        let left = deadline.saturating_duration_since(Instant::now());
        if let Ok(tcp) = tcp_connect(host, port, left.max(MIN_ATTEMPT))
            && super::tls::speaks_tls(tcp, host, deadline)
        {
            return AttemptError::Tls(TlsError::ServerExpectsTls { host: peer });
        }
    }
    let _ = (host, port, peer, deadline);
    AttemptError::Other(CLOSED_IN_HANDSHAKE.into())
}

/// A TLS record header (alert or handshake, TLS 1.0 to 1.3) where a
/// plaintext ZooKeeper reply was expected.
fn looks_like_tls(bytes: &[u8]) -> bool {
    bytes.len() >= 3 && matches!(bytes[0], 0x15 | 0x16) && bytes[1] == 3 && bytes[2] <= 4
}

/// A read error during the handshake: a TLS alert (a server that refuses
/// our client certificate says so only now, in TLS 1.3) is a TLS error.
fn read_failure(link: &Link, e: &std::io::Error) -> AttemptError {
    #[cfg(feature = "tls")]
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return AttemptError::Tls(super::tls::tls_error(link.peer(), "", tls));
    }
    let _ = link;
    AttemptError::Other(format!("handshake read: {e}"))
}

/// Asks the server to close a session we declared lost, if it is alive.
fn close_stale(link: &mut Link, shared: &Shared, stale: &Stale, deadline: Instant) {
    match handshake(link, shared, stale.session_id, &stale.password, deadline) {
        Ok(resp) if resp.timeout_ms > 0 => {
            let mut w = Writer::new();
            proto::Request::CloseSession.encode(1, "", &mut w);
            if link.write_all(w.bytes()).is_ok() {
                let _ = read_frame_until(link, deadline);
            }
            log::info!(
                "zklock: closed session 0x{:x}, which had been declared lost",
                stale.session_id
            );
        }
        _ => {}
    }
}

/// One connection attempt: TCP, TLS, (closing a stale session,) handshake,
/// and the preamble. Returns the link, ready to serve, with the state
/// `Connected`.
fn attempt(
    shared: &Arc<Shared>,
    host: &str,
    port: u16,
    stale: &mut Option<Stale>,
) -> Result<Link, AttemptError> {
    let timeout = attempt_timeout(shared);
    let deadline = Instant::now() + timeout;
    if let Some(st) = stale.as_ref() {
        // Reaching any server settles it: alive sessions are closed, and an
        // unreachable server is not a reason to keep trying forever.
        if let Ok(mut l) = open(shared, host, port, deadline) {
            close_stale(&mut l, shared, st, deadline);
            l.shutdown();
            *stale = None;
        }
    }
    let mut link = open(shared, host, port, deadline)?;
    let (session_id, password) = {
        let s = shared.session.lock();
        (s.session_id, s.password.clone())
    };
    let resp = match handshake(&mut link, shared, session_id, &password, deadline) {
        Err(AttemptError::Other(why)) if why == CLOSED_IN_HANDSHAKE && !link.is_tls() => {
            return Err(hung_up(host, port, link.peer(), deadline));
        }
        r => r?,
    };
    if resp.timeout_ms <= 0 {
        return Err(if session_id != 0 {
            AttemptError::Expired
        } else {
            AttemptError::Other("server refused to create a session".into())
        });
    }
    establish(shared, &link, session_id, resp)?;
    Ok(link)
}

/// Installs a live connection: records the session, writes the preamble,
/// opens the connection to callers, and reports the state change.
fn establish(
    shared: &Arc<Shared>,
    link: &Link,
    presented: i64,
    resp: ConnectResponse,
) -> Result<(), AttemptError> {
    let resumed = presented != 0 && resp.session_id == presented;
    if presented != 0 && !resumed {
        // Not expected from a server; treat as the old session ending.
        declare_lost(shared);
    }
    let write_half = link
        .writer()
        .map_err(|e| AttemptError::Other(format!("socket clone: {e}")))?;
    write_half.set_write_timeout(Some(Duration::from_millis(resp.timeout_ms as u64) * 2 / 3));
    shared.stats.connections.fetch_add(1, Ordering::Relaxed);
    let epoch = {
        let mut s = shared.session.lock();
        if s.closing {
            return Err(AttemptError::Other("closing".into()));
        }
        s.session_id = resp.session_id;
        s.password = resp.password;
        s.timeout = Duration::from_millis(resp.timeout_ms as u64);
        s.last_heard = Instant::now();
        s.tls_failures = 0;
        s.tls_error = None;
        s.epoch
    };
    {
        let mut out = shared.out.lock();
        out.stream = Some(write_half);
        out.epoch = epoch;
        write_preamble(shared, &mut out, resumed, epoch);
        out.flush();
    }
    let session_id = resp.session_id;
    log::info!(
        "zklock: session 0x{session_id:x} {} (timeout {} ms)",
        if resumed { "resumed" } else { "established" },
        resp.timeout_ms
    );
    let mut s = shared.session.lock();
    s.state = SessionState::Connected;
    shared.emit(if resumed {
        SessionEvent::Reconnected { session_id }
    } else {
        SessionEvent::Connected { session_id }
    });
    shared.session_cv.notify_all();
    Ok(())
}

/// Everything that must reach the server before any caller's request.
fn write_preamble(shared: &Arc<Shared>, out: &mut Outbound, resumed: bool, epoch: u64) {
    for (scheme, auth) in shared.auths.lock().iter() {
        shared
            .auth_waiters
            .lock()
            .push_back(AuthWaiter::Resent(scheme.clone(), auth.clone()));
        proto::encode_auth(out.buf(), scheme, auth);
    }
    if resumed {
        let (data, exist, child) = shared.watches.lock().paths();
        if !(data.is_empty() && exist.is_empty() && child.is_empty()) {
            proto::encode_set_watches(
                out.buf(),
                shared.last_zxid.load(Ordering::SeqCst),
                &data,
                &exist,
                &child,
            );
        }
    }
    shared.enqueue_background(out, epoch);
}

/// Reads and dispatches until the connection fails; returns why.
fn serve(shared: &Shared, link: &mut Link) -> String {
    let read_timeout = shared.session.lock().read_timeout();
    let ping_every = read_timeout / 2;
    let mut last_heard = Instant::now();
    let mut buf: Vec<u8> = std::mem::take(&mut link.inbox);
    buf.reserve(64 * 1024);
    if let Err(e) = dispatch_frames(shared, &mut buf) {
        return e;
    }
    let mut chunk = vec![0u8; 64 * 1024];
    let mut current_timeout = Duration::ZERO;
    loop {
        if shared.session.lock().closing {
            return "client closing".into();
        }
        let now = Instant::now();
        let silent = now - last_heard;
        if silent >= read_timeout {
            return format!("no reply from the server for {} ms", silent.as_millis());
        }
        let until_ping = {
            let mut out = shared.out.lock();
            let idle = now - out.last_send;
            if idle >= ping_every {
                proto::encode_ping(out.buf());
                out.flush();
                ping_every
            } else {
                ping_every - idle
            }
        };
        let wait = (read_timeout - silent)
            .min(until_ping)
            .max(Duration::from_millis(1));
        // Setting the timeout is a system call; skip it when it would barely change.
        if wait.abs_diff(current_timeout) > Duration::from_millis(5) {
            link.set_read_timeout(Some(wait));
            current_timeout = wait;
        }
        match link.read_into(&mut buf, &mut chunk) {
            Ok(0) => return "server closed the connection".into(),
            Ok(_) => {
                last_heard = Instant::now();
                shared.session.lock().last_heard = last_heard;
                if let Err(e) = dispatch_frames(shared, &mut buf) {
                    return e;
                }
                if link.wants_write()
                    && let Some(w) = shared.out.lock().stream.as_mut()
                {
                    let _ = w.flush_session();
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return format!("read: {e}"),
        }
    }
}

/// Handles every complete frame at the front of `buf`.
fn dispatch_frames(shared: &Shared, buf: &mut Vec<u8>) -> Result<(), String> {
    let mut at = 0;
    while let Some(len) = frame_len(&buf[at..], MAX_REPLY).map_err(|e| e.to_string())? {
        handle_frame(shared, &buf[at + 4..at + len]).map_err(|e| e.to_string())?;
        at += len;
    }
    buf.drain(..at);
    Ok(())
}

/// Handles one reply or notification frame.
pub(crate) fn handle_frame(shared: &Shared, frame: &[u8]) -> Result<(), DecodeError> {
    let mut r = Reader::new(frame);
    let hdr = ReplyHeader::read(&mut r)?;
    if hdr.zxid > 0 {
        shared.last_zxid.fetch_max(hdr.zxid, Ordering::SeqCst);
    }
    match hdr.xid {
        proto::xid::NOTIFICATION => notification(shared, &mut r)?,
        proto::xid::PING => {}
        proto::xid::AUTH => auth_verdict(shared, hdr.err),
        proto::xid::SET_WATCHES => {
            if hdr.err != 0 {
                log::warn!(
                    "zklock: SetWatches failed with {}",
                    ZkError::from_code(hdr.err)
                );
            }
        }
        xid => reply(shared, xid, hdr.err, &mut r)?,
    }
    Ok(())
}

/// A watch notification: the watchers it fires go to the event thread.
fn notification(shared: &Shared, r: &mut Reader<'_>) -> Result<(), DecodeError> {
    let n = Notification::read(r)?;
    shared.stats.notifications.fetch_add(1, Ordering::Relaxed);
    let watchers = shared.watches.lock().take(n.event_type, &n.path);
    if !watchers.is_empty() {
        let event = WatchedEvent {
            event_type: n.event_type,
            state: WatchState::Connected,
            path: proto::to_client_path(shared.chroot(), &n.path),
        };
        let _ = shared.events.send(Event::Watch(watchers, event));
    }
    Ok(())
}

/// The server's verdict on the oldest auth packet in flight.
fn auth_verdict(shared: &Shared, err: i32) {
    let verdict: Reply = if err == 0 {
        Ok(proto::Response::Empty)
    } else {
        Err(Failure::Server(ZkError::from_code(err)))
    };
    match shared.auth_waiters.lock().pop_front() {
        Some(AuthWaiter::Caller(tx)) => {
            let _ = tx.send(verdict);
        }
        Some(AuthWaiter::Resent(scheme, auth)) if verdict.is_err() => {
            log::error!("zklock: re-sent {scheme} credentials were refused; dropped");
            shared
                .auths
                .lock()
                .retain(|(s, a)| !(s == &scheme && a == &auth));
        }
        _ => {}
    }
}

/// The reply to request `xid`: decoded, its watch registered if the reply
/// allows it, and handed to whoever waits for it.
fn reply(shared: &Shared, xid: i32, err: i32, r: &mut Reader<'_>) -> Result<(), DecodeError> {
    let Some(p) = shared.pending.lock().remove(&xid) else {
        log::debug!("zklock: reply for unknown xid {xid}");
        return Ok(());
    };
    let reply: Reply = if err == 0 || p.opcode == proto::op::MULTI {
        match proto::decode_response(p.opcode, shared.chroot(), r) {
            Ok(resp) => Ok(resp),
            Err(_) if err != 0 => Err(Failure::Server(ZkError::from_code(err))),
            Err(e) => {
                p.completion.complete(Err(Failure::Protocol(e.to_string())));
                return Err(e);
            }
        }
    } else {
        Err(Failure::Server(ZkError::from_code(err)))
    };
    if let Some((kind, path, watcher)) = p.watch {
        let registered = match (&reply, kind) {
            (Ok(_), WatchKind::Exists) => Some(WatchKind::Data),
            (Err(Failure::Server(ZkError::NoNode)), WatchKind::Exists) => Some(WatchKind::Exists),
            (Ok(_), k) => Some(k),
            _ => None,
        };
        if let Some(k) = registered {
            shared.watches.lock().add(k, path, watcher);
        }
    }
    p.completion.complete(reply);
    Ok(())
}

/// The connection is gone: close it, fail what was in flight, go `Suspended`.
fn disconnected(shared: &Shared, link: &Link, reason: &str) {
    let closing = {
        let mut s = shared.session.lock();
        if s.state == SessionState::Connected && !s.closing {
            s.state = SessionState::Suspended;
            let session_id = s.session_id;
            log::info!("zklock: session 0x{session_id:x} suspended: {reason}");
            shared.emit(SessionEvent::Suspended { session_id });
        }
        s.last_error = reason.to_string();
        shared.session_cv.notify_all();
        s.closing
    };
    {
        let mut out = shared.out.lock();
        out.stream = None;
    }
    link.shutdown();
    let fail = if closing {
        Failure::Closed
    } else {
        Failure::ConnectionLoss
    };
    fail_in_flight(shared, fail);
}

fn fail_in_flight(shared: &Shared, f: Failure) {
    let pending: Vec<_> = shared.pending.lock().drain().map(|(_, p)| p).collect();
    for p in pending {
        p.completion.complete(Err(f.clone()));
    }
    let waiters: Vec<_> = shared.auth_waiters.lock().drain(..).collect();
    for w in waiters {
        if let AuthWaiter::Caller(tx) = w {
            let _ = tx.send(Err(f.clone()));
        }
    }
}

/// The session has ended: report it once, fail its watches, start afresh.
fn declare_lost(shared: &Shared) {
    let (_, epoch) = {
        let mut s = shared.session.lock();
        if s.session_id == 0 {
            return;
        }
        let old = (s.session_id, s.epoch);
        s.session_id = 0;
        s.password.clear();
        s.epoch += 1;
        s.timeout = shared.cfg.session_timeout;
        if s.state != SessionState::Closed {
            s.state = SessionState::Connecting;
        }
        log::warn!("zklock: session 0x{:x} lost", old.0);
        shared.emit(SessionEvent::Lost { session_id: old.0 });
        shared.session_cv.notify_all();
        old
    };
    shared.forget_background_of(epoch);
    let dropped = shared.watches.lock().take_all();
    let chroot = shared.chroot().to_string();
    for e in events::session_ended_events(dropped, WatchState::Expired, |p| {
        proto::to_client_path(&chroot, p)
    }) {
        let _ = shared.events.send(e);
    }
}

/// The client is closed: fail everything still waiting, tell watchers and
/// listeners, and stop the event thread.
fn finish(shared: &Shared) {
    {
        let mut s = shared.session.lock();
        s.state = SessionState::Closed;
        shared.session_cv.notify_all();
    }
    if let Some(s) = shared.out.lock().stream.take() {
        s.shutdown();
    }
    fail_in_flight(shared, Failure::Closed);
    let dropped = shared.watches.lock().take_all();
    let chroot = shared.chroot().to_string();
    for e in events::session_ended_events(dropped, WatchState::Closed, |p| {
        proto::to_client_path(&chroot, p)
    }) {
        let _ = shared.events.send(e);
    }
    {
        let s = shared.session.lock();
        shared.emit(SessionEvent::Closed {
            session_id: s.session_id,
        });
    }
    let _ = shared.events.send(Event::Stop);
}
