//! zklock's own ZooKeeper client: one TCP connection, one I/O thread, one
//! event thread (and a callback thread for user callbacks, started on first
//! use), and exact session semantics.
//!
//! What it guarantees:
//! - **One session, shared.** A [`Client`] and all its clones share one
//!   session; calls from many threads are pipelined on one connection.
//! - **No silent new session.** If the session ends, every waiting call
//!   fails with [`Error::SessionLost`], every watch is told
//!   ([`EventType::Session`]), and listeners get [`SessionEvent::Lost`]
//!   exactly once, before the [`SessionEvent::Connected`] of the fresh
//!   session that later calls use.
//! - **No silent partition.** A connection that stays quiet for 2/3 of the
//!   session timeout is dropped (the client pings when idle, so a quiet
//!   connection is a dead one); in-flight calls fail with
//!   [`Error::ConnectionLoss`] at once, the state goes
//!   [`SessionState::Suspended`], and the client reconnects to the next host.
//! - **No lost wake-up.** Watches survive reconnects: they are re-registered
//!   with the last zxid seen, so the server fires the ones whose node changed
//!   while the client was away.
//! - **Plaintext or TLS, the same.** With [`ClientBuilder::tls`] (feature
//!   `tls`) every connection is TLS, and all of the above holds as it does
//!   over plaintext.
//! - **Every call has a deadline** (the request timeout, 10 s by default),
//!   and dropping the last clone closes the session with a bounded wait.
//!
//! ```no_run
//! use zklock::{Client, CreateMode};
//! # fn main() -> zklock::Result<()> {
//! let client = Client::connect("127.0.0.1:2181/myapp")?;
//! client.ensure_path("/config")?;
//! let (path, stat) = client.create("/config/entry-", b"v1", CreateMode::EphemeralSequential)?;
//! println!("created {path} in zxid {}", stat.czxid);
//! let (data, _) = client.get_data(&path)?;
//! assert_eq!(data, b"v1");
//! # Ok(()) }
//! ```

//! # The files
//!
//! - `builder`: [`ClientBuilder`], connecting, and the life of the threads
//!   (start, close, bounded join).
//! - `io_thread`: the I/O thread: connects, handshakes, reads every reply
//!   and notification, pings, and decides when a connection is dead and
//!   when a session is lost.
//! - `events`: the watch registry and the event thread, which runs watchers
//!   and session listeners in order.
//! - `callbacks`: the callback thread, for user callbacks (`on_lost`); it
//!   starts on first use.
//! - `outbound`: the request path: calls, pending replies, pipelining.
//! - `wire`: one connection, plaintext or TLS, split into the I/O thread's
//!   reading side and the callers' writing side; `tls`: [`TlsConfig`] and
//!   the TLS handshake (feature `tls`, on by default).
//! - `background`: deletes and watches that must settle after their caller
//!   has gone.
//! - `scope`: the only client API the recipes use: one session epoch's
//!   calls, replies, status, background work and callbacks.
//! - `shared`: the state the threads share.
//! - `session`: session state, events and listeners, and the one answer to
//!   "is this epoch connected?".
//! - `types`: the public values ([`Stat`], [`Acl`], [`CreateMode`], [`Op`],
//!   [`WatchedEvent`], ...); `proto`: their wire format and every request and
//!   reply record (crate-private, fuzzed); `jute`: the encoding primitives;
//!   `hosts`: the connect string; `digest`: digest ids for ACLs.
//! - this file: [`Client`], the façade: every public call.

mod background;
mod builder;
mod callbacks;
#[cfg(test)]
mod decode_fuzz;
mod digest;
mod events;
mod hosts;
mod io_thread;
mod jute;
mod outbound;
mod proto;
pub(crate) mod scope;
mod session;
mod shared;
#[cfg(feature = "tls")]
mod tls;
mod types;
mod wire;

pub use crate::error::ZkError;
pub use builder::ClientBuilder;
pub use session::{ListenerId, SessionEvent, SessionState};
#[cfg(feature = "tls")]
pub use tls::TlsConfig;
pub use types::{Acl, CreateMode, EventType, Op, OpResult, Stat, WatchState, WatchedEvent, perms};

use crate::error::{Error, Failure, Result};
use crate::path;
use builder::Handle;
use crossbeam_channel::Receiver;
use outbound::Call;
use proto::{Request, Response};
use shared::Shared;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counters of a client's activity; see [`Client::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ClientStats {
    /// Requests written to the server (not counting pings, auth and
    /// watch re-registration).
    pub requests: u64,
    /// Watch notifications received from the server.
    pub watch_notifications: u64,
    /// Connections established (the first, and every reconnection).
    pub connections: u64,
}

/// A ZooKeeper session, shared by every clone.
///
/// `Client` is `Send + Sync + Clone`: hand clones to threads freely; they
/// share one session and one connection, with requests pipelined. The
/// session is closed when [`Client::close`] is called or the last clone is
/// dropped (waiting at most about 2 s for the server).
///
/// Every call blocks until its reply arrives or its deadline (the request
/// timeout) passes. While the connection is down, a call waits for the
/// reconnection within that deadline; if the session it started in is lost
/// meanwhile, it fails with [`Error::SessionLost`] rather than run in a
/// session the caller never saw.
///
/// Paths are absolute and below the chroot of the connect string, if any.
#[derive(Clone)]
pub struct Client {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.handle.shared.session.lock();
        f.debug_struct("Client")
            .field("hosts", &self.handle.shared.cfg.hosts_text)
            .field("chroot", &self.handle.shared.cfg.connect.chroot)
            .field("state", &s.state)
            .field("session_id", &format_args!("0x{:x}", s.session_id))
            .finish()
    }
}

/// The result of a request, for the public wrappers.
fn unexpected(r: Response) -> Error {
    Error::Protocol(format!("unexpected reply {r:?}"))
}

impl Client {
    /// Connects with default settings; see [`ClientBuilder`] for the others.
    ///
    /// `hosts` is a ZooKeeper connect string: `host:port[,host:port...][/chroot]`.
    ///
    /// # Errors
    /// As [`ClientBuilder::connect`].
    pub fn connect(hosts: &str) -> Result<Client> {
        Client::builder(hosts).connect()
    }

    /// A builder for a client of `hosts` (see [`Client::connect`]).
    pub fn builder(hosts: &str) -> ClientBuilder {
        ClientBuilder::new(hosts)
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.handle.shared
    }

    /// The connect string's chroot (`""` for none).
    pub(crate) fn chroot(&self) -> &str {
        self.handle.shared.chroot()
    }

    /// The deadline of a call starting now.
    pub(crate) fn default_deadline(&self) -> Instant {
        Instant::now() + self.handle.shared.cfg.request_timeout
    }

    /// Sends one request in the current session and waits for its reply.
    fn request(&self, req: Request, watcher: Option<events::Watcher>) -> Result<Response> {
        let path = req.path().to_string();
        let s = self.shared();
        let epoch = s.current_epoch().map_err(|f| f.into_error(&path))?;
        s.call(
            epoch,
            Call {
                request: req,
                watcher,
            },
            self.default_deadline(),
        )
        .map_err(|f| f.into_error(&path))
    }

    /// The session's current state.
    pub fn state(&self) -> SessionState {
        self.shared().session.lock().state
    }

    /// The current session id (0 while there is none).
    pub fn session_id(&self) -> i64 {
        self.shared().session.lock().session_id
    }

    /// The session id and password, as the server issued them: whoever has
    /// both can resume (or close) the session on another connection, so
    /// treat the password as a secret. Tests use this to expire a session on
    /// the server the way Curator's `KillSession` does.
    pub fn session_credentials(&self) -> (i64, Vec<u8>) {
        let s = self.shared().session.lock();
        (s.session_id, s.password.clone())
    }

    /// The session timeout the server granted (the one asked for until then).
    pub fn session_timeout(&self) -> Duration {
        self.shared().session.lock().timeout
    }

    /// The largest zxid seen in any reply.
    pub fn last_zxid(&self) -> i64 {
        self.shared()
            .last_zxid
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Creates a node with the open ACL and returns its path (with the
    /// sequence suffix for sequential modes) and its [`Stat`].
    ///
    /// # Errors
    /// [`Error::InvalidPath`]; server errors such as `NodeExists` or `NoNode`
    /// (missing parent) as [`Error::ZooKeeper`]; connection and session errors.
    pub fn create(&self, path: &str, data: &[u8], mode: CreateMode) -> Result<(String, Stat)> {
        self.create_with_acl(path, data, mode, &Acl::open_unsafe())
    }

    /// Creates a node with the given ACL; see [`Client::create`].
    ///
    /// # Errors
    /// As [`Client::create`], and `InvalidAcl` for an empty or bad ACL.
    pub fn create_with_acl(
        &self,
        path: &str,
        data: &[u8],
        mode: CreateMode,
        acl: &[Acl],
    ) -> Result<(String, Stat)> {
        if mode.is_sequential() {
            path::validate_sequential(path)?;
        } else {
            path::validate(path)?;
        }
        match self.request(
            Request::Create {
                path: path.into(),
                data: data.to_vec(),
                acl: acl.to_vec(),
                mode,
            },
            None,
        )? {
            Response::Created(p, stat) => Ok((p, stat)),
            r => Err(unexpected(r)),
        }
    }

    /// Creates `path` and any missing ancestors as persistent nodes with no
    /// data; nodes that already exist are left alone.
    ///
    /// # Errors
    /// As [`Client::create`], except that `NodeExists` is not an error;
    /// [`Error::ChrootMissing`] if the connect string's chroot does not
    /// exist (it is not created).
    pub fn ensure_path(&self, path: &str) -> Result<()> {
        self.ensure_path_with(path, CreateMode::Persistent)
    }

    /// As [`Client::ensure_path`], creating missing nodes in `mode`
    /// ([`CreateMode::Container`] makes them disappear once empty).
    ///
    /// # Errors
    /// As [`Client::ensure_path`]; [`Error::InvalidArgument`] for an
    /// ephemeral or sequential mode.
    pub fn ensure_path_with(&self, path: &str, mode: CreateMode) -> Result<()> {
        path::validate(path)?;
        if mode.is_ephemeral() || mode.is_sequential() {
            return Err(Error::InvalidArgument(format!(
                "ensure_path cannot create {mode:?} nodes"
            )));
        }
        if path == "/" {
            return Ok(());
        }
        // The recipes' way (one pipelined round trip, see `scope::Lineage`),
        // tried again (three times at most) only when an ancestor went
        // again meanwhile (a container reaped between two creates).
        let lineage = scope::Lineage::new(path, mode, &Acl::open_unsafe());
        let deadline = self.default_deadline();
        let mut tries = 0;
        loop {
            let scope = self.scope().map_err(|f| f.into_error(path))?;
            match lineage.verdict(scope.round_trip(lineage.calls(), deadline), self.chroot()) {
                scope::Verdict::Done => return Ok(()),
                scope::Verdict::Failed(e) => return Err(e),
                scope::Verdict::Again(Some((p, f))) => return Err(f.into_error(&p)),
                scope::Verdict::Again(None) if tries >= 2 => {
                    return Err(Failure::Server(ZkError::NoNode).into_error(path));
                }
                scope::Verdict::Again(None) => tries += 1,
            }
        }
    }

    /// Deletes a node, if its version is `version` (any version for `None`).
    ///
    /// # Errors
    /// `NoNode`, `BadVersion`, `NotEmpty` as [`Error::ZooKeeper`]; connection
    /// and session errors.
    pub fn delete(&self, path: &str, version: Option<i32>) -> Result<()> {
        path::validate(path)?;
        self.request(
            Request::Delete {
                path: path.into(),
                version,
            },
            None,
        )
        .map(|_| ())
    }

    /// The node's [`Stat`], or `None` if it does not exist.
    ///
    /// # Errors
    /// Connection and session errors.
    pub fn exists(&self, path: &str) -> Result<Option<Stat>> {
        self.exists_inner(path, None)
    }

    /// As [`Client::exists`], and sets a watch that fires once when the node
    /// is created, changed or deleted. The watch is set whether or not the
    /// node exists; if this call fails, `watcher` is dropped uncalled.
    ///
    /// # Errors
    /// As [`Client::exists`].
    pub fn exists_watch(
        &self,
        path: &str,
        watcher: impl FnOnce(WatchedEvent) + Send + 'static,
    ) -> Result<Option<Stat>> {
        self.exists_inner(path, Some(Box::new(watcher)))
    }

    fn exists_inner(&self, path: &str, w: Option<events::Watcher>) -> Result<Option<Stat>> {
        path::validate(path)?;
        match self.request(
            Request::Exists {
                path: path.into(),
                watch: w.is_some(),
            },
            w,
        ) {
            Ok(Response::Stat(s)) => Ok(Some(s)),
            Ok(r) => Err(unexpected(r)),
            Err(e) if e.is(ZkError::NoNode) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The node's data and [`Stat`].
    ///
    /// # Errors
    /// `NoNode` as [`Error::ZooKeeper`]; connection and session errors.
    pub fn get_data(&self, path: &str) -> Result<(Vec<u8>, Stat)> {
        self.get_data_inner(path, None)
    }

    /// As [`Client::get_data`], and sets a watch that fires once when the
    /// data changes or the node is deleted. If the call fails (the node does
    /// not exist, say), no watch is set and `watcher` is dropped uncalled.
    ///
    /// ```no_run
    /// # fn main() -> zklock::Result<()> {
    /// # let client = zklock::Client::connect("127.0.0.1:2181")?;
    /// let (tx, rx) = crossbeam_channel::bounded(1);
    /// client.get_data_watch("/config", move |ev| { let _ = tx.send(ev); })?;
    /// let event = rx.recv().unwrap(); // the next change of /config
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Client::get_data`].
    pub fn get_data_watch(
        &self,
        path: &str,
        watcher: impl FnOnce(WatchedEvent) + Send + 'static,
    ) -> Result<(Vec<u8>, Stat)> {
        self.get_data_inner(path, Some(Box::new(watcher)))
    }

    fn get_data_inner(&self, path: &str, w: Option<events::Watcher>) -> Result<(Vec<u8>, Stat)> {
        path::validate(path)?;
        match self.request(
            Request::GetData {
                path: path.into(),
                watch: w.is_some(),
            },
            w,
        )? {
            Response::Data(d, s) => Ok((d, s)),
            r => Err(unexpected(r)),
        }
    }

    /// Sets the node's data, if its version is `version` (any for `None`),
    /// and returns the new [`Stat`].
    ///
    /// # Errors
    /// `NoNode`, `BadVersion` as [`Error::ZooKeeper`]; connection and session errors.
    pub fn set_data(&self, path: &str, data: &[u8], version: Option<i32>) -> Result<Stat> {
        path::validate(path)?;
        match self.request(
            Request::SetData {
                path: path.into(),
                data: data.to_vec(),
                version,
            },
            None,
        )? {
            Response::Stat(s) => Ok(s),
            r => Err(unexpected(r)),
        }
    }

    /// The names of the node's children (unsorted, as the server lists them).
    ///
    /// # Errors
    /// `NoNode` as [`Error::ZooKeeper`]; connection and session errors.
    pub fn get_children(&self, path: &str) -> Result<Vec<String>> {
        self.get_children_inner(path, None).map(|(c, _)| c)
    }

    /// The names of the node's children and the node's [`Stat`].
    ///
    /// # Errors
    /// As [`Client::get_children`].
    pub fn get_children_stat(&self, path: &str) -> Result<(Vec<String>, Stat)> {
        self.get_children_inner(path, None)
    }

    /// As [`Client::get_children`], and sets a watch that fires once when a
    /// child is created or deleted, or the node is deleted.
    ///
    /// # Errors
    /// As [`Client::get_children`]; on error `watcher` is dropped uncalled.
    pub fn get_children_watch(
        &self,
        path: &str,
        watcher: impl FnOnce(WatchedEvent) + Send + 'static,
    ) -> Result<Vec<String>> {
        self.get_children_inner(path, Some(Box::new(watcher)))
            .map(|(c, _)| c)
    }

    fn get_children_inner(
        &self,
        path: &str,
        w: Option<events::Watcher>,
    ) -> Result<(Vec<String>, Stat)> {
        path::validate(path)?;
        match self.request(
            Request::GetChildren {
                path: path.into(),
                watch: w.is_some(),
            },
            w,
        )? {
            Response::Children(c, s) => Ok((c, s)),
            r => Err(unexpected(r)),
        }
    }

    /// The node's ACL and [`Stat`].
    ///
    /// # Errors
    /// `NoNode` as [`Error::ZooKeeper`]; connection and session errors.
    pub fn get_acl(&self, path: &str) -> Result<(Vec<Acl>, Stat)> {
        path::validate(path)?;
        match self.request(Request::GetAcl { path: path.into() }, None)? {
            Response::Acl(a, s) => Ok((a, s)),
            r => Err(unexpected(r)),
        }
    }

    /// Replaces the node's ACL, if its ACL version is `version` (any for `None`).
    ///
    /// # Errors
    /// `NoNode`, `BadVersion`, `NoAuth`, `InvalidAcl` as [`Error::ZooKeeper`];
    /// connection and session errors.
    pub fn set_acl(&self, path: &str, acl: &[Acl], version: Option<i32>) -> Result<Stat> {
        path::validate(path)?;
        match self.request(
            Request::SetAcl {
                path: path.into(),
                acl: acl.to_vec(),
                version,
            },
            None,
        )? {
            Response::Stat(s) => Ok(s),
            r => Err(unexpected(r)),
        }
    }

    /// Runs `ops` as one transaction: all of them or none.
    ///
    /// On success, one [`OpResult`] per op. If any op fails, nothing is
    /// applied and the error is [`Error::ZooKeeper`] with the failing op's
    /// code and path.
    ///
    /// ```no_run
    /// use zklock::{Client, CreateMode, Op, Acl};
    /// # fn main() -> zklock::Result<()> {
    /// # let client = Client::connect("127.0.0.1:2181")?;
    /// let results = client.multi(&[
    ///     Op::create("/a", b"".to_vec(), CreateMode::Persistent, Acl::open_unsafe()),
    ///     Op::create("/a/b", b"".to_vec(), CreateMode::Persistent, Acl::open_unsafe()),
    /// ])?;
    /// assert_eq!(results.len(), 2);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As above; [`Error::InvalidPath`] for any bad path; connection and
    /// session errors (after which the transaction may or may not have been
    /// applied, as for any write).
    pub fn multi(&self, ops: &[Op]) -> Result<Vec<OpResult>> {
        for o in ops {
            match o {
                Op::Create { path, mode, .. } if mode.is_sequential() => {
                    path::validate_sequential(path)?
                }
                o => path::validate(o.path())?,
            }
        }
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        match self.request(Request::Multi(ops.to_vec()), None)? {
            Response::Multi(results) => multi_outcome(ops, results),
            r => Err(unexpected(r)),
        }
    }

    /// Waits until the server this client is connected to has caught up with
    /// the leader as of now, so later reads see every write committed before.
    ///
    /// # Errors
    /// Connection and session errors.
    pub fn sync(&self, path: &str) -> Result<()> {
        path::validate(path)?;
        self.request(Request::Sync { path: path.into() }, None)
            .map(|_| ())
    }

    /// Authenticates this session with `scheme` and `auth`. The credentials
    /// are re-sent on every reconnect.
    ///
    /// # Errors
    /// [`Error::AuthFailed`] if the server refuses them (it then drops the
    /// connection; the client reconnects without them); connection and
    /// session errors.
    pub fn add_auth(&self, scheme: &str, auth: &[u8]) -> Result<()> {
        match self
            .shared()
            .add_auth(scheme, auth, self.default_deadline())
        {
            Ok(_) => Ok(()),
            Err(Failure::Server(ZkError::AuthFailed)) => Err(Error::AuthFailed {
                scheme: scheme.into(),
            }),
            Err(f) => Err(f.into_error("")),
        }
    }

    /// Calls `f` on the event thread for every [`SessionEvent`], in order,
    /// until [`Client::remove_listener`]. A panic in `f` is caught and logged.
    ///
    /// `f` runs on the same thread as watchers: a slow `f` delays them. It
    /// may call the client (replies do not go through the event thread).
    /// A listener that holds a `Client` clone keeps the session open until
    /// it is removed.
    pub fn add_listener(&self, f: impl Fn(&SessionEvent) + Send + Sync + 'static) -> ListenerId {
        self.shared().listeners.lock().add(Arc::new(f))
    }

    /// Removes a listener; returns whether it was there.
    pub fn remove_listener(&self, id: ListenerId) -> bool {
        self.shared().listeners.lock().remove(id)
    }

    /// A channel of every [`SessionEvent`] from now on (dropped from the
    /// client's list once the receiver is dropped and an event is sent).
    ///
    /// ```no_run
    /// # fn main() -> zklock::Result<()> {
    /// # let client = zklock::Client::connect("127.0.0.1:2181")?;
    /// let events = client.session_events();
    /// std::thread::spawn(move || {
    ///     for e in events {
    ///         eprintln!("session: {e:?}");
    ///     }
    /// });
    /// # Ok(()) }
    /// ```
    pub fn session_events(&self) -> Receiver<SessionEvent> {
        let (tx, rx) = crossbeam_channel::unbounded();
        self.shared().listeners.lock().subscribe(tx);
        rx
    }

    /// Closes the session (deleting its ephemeral nodes) for every clone.
    /// Later calls fail with [`Error::Closed`]. Waits at most about 2 s for
    /// the server. Dropping the last clone does the same.
    pub fn close(&self) {
        self.handle.close(true);
    }

    /// Counters of what this client has done since it was created (all
    /// clones together): for metrics, and to see what a recipe costs.
    ///
    /// ```
    /// # fn main() -> zklock::Result<()> {
    /// # let client = zklock::Client::connect(&zklock::doc_hosts())?;
    /// let before = client.stats();
    /// client.exists("/")?;
    /// assert_eq!(client.stats().requests - before.requests, 1);
    /// # Ok(()) }
    /// ```
    pub fn stats(&self) -> ClientStats {
        let c = &self.shared().stats;
        ClientStats {
            requests: c.requests.load(std::sync::atomic::Ordering::Relaxed),
            watch_notifications: c.notifications.load(std::sync::atomic::Ordering::Relaxed),
            connections: c.connections.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// How many requests have been written and await their reply right now:
    /// a diagnostic for stalls, and the proof that calls from many threads
    /// are pipelined rather than taking turns.
    pub fn requests_in_flight(&self) -> usize {
        self.shared().pending.lock().len()
    }

    /// Deletes `path` (at `version`, or any version for `None`) without
    /// waiting, and keeps retrying until the server confirms it: across
    /// connection losses, and on every reconnect before any other request,
    /// so nothing sent after the reconnection can see the node. A node that
    /// is already gone counts as deleted. Only the end of the client (or an
    /// error such as `NoAuth`, which is logged) stops the retries.
    ///
    /// This is what zklock's recipes do with a contender node whose delete
    /// failed; it is Curator's "guaranteed delete".
    pub fn delete_in_background(&self, path: &str, version: Option<i32>) -> Result<()> {
        path::validate(path)?;
        self.shared()
            .delete_in_background(background::Target::Path(path.into()), version, None);
        Ok(())
    }

    /// How many deletes handed to [`Client::delete_in_background`] (by the
    /// caller or by zklock's recipes) the server has not confirmed yet.
    pub fn pending_background_deletes(&self) -> usize {
        self.shared().background_deletes()
    }
}

/// Turns the results of a multi into `Ok` or the first failure.
fn multi_outcome(ops: &[Op], results: Vec<OpResult>) -> Result<Vec<OpResult>> {
    let failed = results.iter().enumerate().find_map(|(i, r)| match r {
        OpResult::Error(code) if *code != ZkError::RuntimeInconsistency && code.code() != 0 => {
            Some((i, *code))
        }
        _ => None,
    });
    match failed {
        Some((i, code)) => {
            Err(Failure::Server(code).into_error(ops.get(i).map(Op::path).unwrap_or("")))
        }
        None => Ok(results),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync_clone<T: Send + Sync + Clone>() {}

    #[test]
    fn client_is_send_sync_clone() {
        assert_send_sync_clone::<Client>();
    }

    #[test]
    fn multi_failure_names_the_failing_op() {
        let ops = vec![Op::delete("/a", None), Op::delete("/b", None)];
        let results = vec![
            OpResult::Error(ZkError::from_code(0)),
            OpResult::Error(ZkError::NoNode),
        ];
        match multi_outcome(&ops, results) {
            Err(Error::ZooKeeper { code, path }) => {
                assert_eq!(code, ZkError::NoNode);
                assert_eq!(path, "/b");
            }
            other => panic!("{other:?}"),
        }
    }
}
