//! Opening a client, and the life of its threads: [`ClientBuilder`] checks
//! the settings, starts the I/O thread and the event thread, and waits for
//! the first session; the handle that owns the threads closes the session
//! and joins them (within a bound) when the last `Client` clone goes.

use super::Client;
use super::hosts::ConnectString;
use super::outbound::Call;
use super::proto::Request;
use super::session::SessionState;
use super::shared::Completion;
use super::shared::{Config, Shared};
use super::{events, io_thread};
use crate::error::{Error, Result};
use crossbeam_channel::Receiver;
use parking_lot::Mutex;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Configures and opens a [`Client`].
///
/// ```no_run
/// use std::time::Duration;
/// # fn main() -> zklock::Result<()> {
/// let client = zklock::Client::builder("zk1:2181,zk2:2181,zk3:2181/app")
///     .session_timeout(Duration::from_secs(6))
///     .connect_timeout(Duration::from_secs(3))
///     .digest_auth("app", "secret")
///     .connect()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until connect() is called"]
pub struct ClientBuilder {
    hosts: String,
    session_timeout: Duration,
    connect_timeout: Duration,
    request_timeout: Option<Duration>,
    max_frame: usize,
    auths: Vec<(String, Vec<u8>)>,
    #[cfg(feature = "tls")]
    tls: Option<super::TlsConfig>,
}

impl ClientBuilder {
    /// A builder for `hosts`, with the default settings.
    pub(crate) fn new(hosts: &str) -> ClientBuilder {
        ClientBuilder {
            hosts: hosts.to_string(),
            session_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            request_timeout: None,
            max_frame: 0xfffff,
            auths: Vec::new(),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// The session timeout to ask for (default 10 s). The server clamps it
    /// to its `minSessionTimeout..=maxSessionTimeout`;
    /// [`Client::session_timeout`] tells what was granted.
    pub fn session_timeout(mut self, t: Duration) -> Self {
        self.session_timeout = t;
        self
    }

    /// How long [`ClientBuilder::connect`] may take to establish the first
    /// session (default 10 s).
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// The deadline of every call, including time spent waiting for a
    /// reconnection (default: the session timeout asked for).
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.request_timeout = Some(t);
        self
    }

    /// The largest request the server accepts, its `jute.maxbuffer`
    /// (default 1 MiB − 1, the server's default). Larger requests fail with
    /// [`Error::InvalidArgument`] instead of costing the connection.
    pub fn max_request_size(mut self, bytes: usize) -> Self {
        self.max_frame = bytes;
        self
    }

    /// Authenticates every connection of the session with `scheme` and
    /// `auth` bytes (as [`Client::add_auth`] does).
    pub fn auth(mut self, scheme: &str, auth: &[u8]) -> Self {
        self.auths.push((scheme.to_string(), auth.to_vec()));
        self
    }

    /// Authenticates with the `digest` scheme as `user:password`.
    pub fn digest_auth(self, user: &str, password: &str) -> Self {
        self.auth("digest", format!("{user}:{password}").as_bytes())
    }

    /// Connects to every host over TLS (ZooKeeper's `secureClientPort`),
    /// with [`super::TlsConfig`]'s CA, client identity and server name.
    /// Reconnects, session resumption and multi-host strings work as over
    /// plaintext; every host's certificate is checked.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: super::TlsConfig) -> Self {
        self.tls = Some(config);
        self
    }

    /// Connects and returns once a session is live.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] or [`Error::InvalidPath`] for a bad connect
    /// string; [`Error::Tls`] at once if a TLS file is missing, unreadable or
    /// not PEM, and once every host has refused TLS for a reason retrying
    /// will not fix (an untrusted, expired or wrong-name certificate, a
    /// plaintext port; or a TLS port without TLS settings);
    /// [`Error::Connect`], naming the hosts and the last failure, if no
    /// session could be established within the connect timeout.
    pub fn connect(self) -> Result<Client> {
        #[cfg(feature = "tls")]
        let tls = match &self.tls {
            Some(t) => Some(t.load()?),
            None => None,
        };
        let mut connect = ConnectString::parse(&self.hosts)?;
        let hosts_text = connect.hosts_text();
        if let Err(reason) = connect.drop_unresolvable() {
            return Err(Error::Connect {
                hosts: hosts_text,
                timeout: self.connect_timeout,
                reason,
            });
        }
        connect.shuffle();
        log::debug!(
            "zklock: hosts, in this client's order: {}",
            connect.hosts_text()
        );
        if self.session_timeout.is_zero() || self.session_timeout > Duration::from_secs(3600) {
            return Err(Error::InvalidArgument(format!(
                "session timeout {:?} out of range",
                self.session_timeout
            )));
        }
        let cfg = Config {
            hosts_text,
            connect,
            session_timeout: self.session_timeout,
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout.unwrap_or(self.session_timeout),
            max_frame: self.max_frame,
            #[cfg(feature = "tls")]
            tls,
        };
        let (tx, rx) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared::new(cfg, tx, self.auths));
        let listeners = shared.listeners.clone();
        let events = spawn_tracked("zklock-events", move || {
            events::run_event_thread(rx, listeners)
        })?;
        *shared.event_thread.lock() = Some(events.0.thread().id());
        let io_shared = shared.clone();
        let io = spawn_tracked("zklock-io", move || io_thread::run_io_thread(io_shared))?;
        let client = Client {
            handle: Arc::new(Handle {
                shared,
                threads: Mutex::new(vec![io, events]),
            }),
        };
        wait_first_session(&client, self.connect_timeout)?;
        Ok(client)
    }
}

/// Waits for `client`'s first session; closes it and says why if none comes
/// within `timeout`, or as soon as every host has refused TLS.
fn wait_first_session(client: &Client, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    {
        let s = &client.handle.shared;
        let mut st = s.session.lock();
        let hosts = s.cfg.connect.hosts.len();
        while st.state != SessionState::Connected {
            // Every host refused TLS: retrying will not help.
            if st.tls_failures >= hosts
                && let Some(e) = st.tls_error.clone()
            {
                drop(st);
                client.handle.close(false);
                return Err(Error::Tls(e));
            }
            if s.session_cv.wait_until(&mut st, deadline).timed_out()
                && st.state != SessionState::Connected
            {
                if let Some(e) = st.tls_error.clone() {
                    drop(st);
                    client.handle.close(false);
                    return Err(Error::Tls(e));
                }
                let reason = if st.last_error.is_empty() {
                    "no server answered".to_string()
                } else {
                    st.last_error.clone()
                };
                drop(st);
                // The connect timeout is spent: do not wait for the I/O
                // thread's current attempt; it ends on its own.
                client.handle.close(false);
                return Err(Error::Connect {
                    hosts: s.cfg.hosts_text.clone(),
                    timeout,
                    reason,
                });
            }
        }
    }
    Ok(())
}

/// A thread and a receiver that disconnects when it ends, for bounded joins.
type Tracked = (JoinHandle<()>, Receiver<()>);

fn spawn_tracked(name: &str, f: impl FnOnce() + Send + 'static) -> Result<Tracked> {
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(0);
    let h = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _done = done_tx;
            f()
        })
        .map_err(|e| Error::InvalidArgument(format!("cannot spawn a thread: {e}")))?;
    Ok((h, done_rx))
}

/// Owns the threads; closing happens when the last [`Client`] clone drops.
pub(crate) struct Handle {
    pub(crate) shared: Arc<Shared>,
    threads: Mutex<Vec<Tracked>>,
}

/// How long closing may wait for the server's reply and for the threads.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

impl Handle {
    /// Closes the session; with `join`, waits (bounded) for the threads.
    pub(crate) fn close(&self, join: bool) {
        let s = &self.shared;
        let connected_epoch = {
            let mut st = s.session.lock();
            if st.closing {
                None
            } else {
                st.closing = true;
                s.session_cv.notify_all();
                (st.state == SessionState::Connected).then_some(st.epoch)
            }
        };
        if connected_epoch.is_some() {
            // Closing the session deletes its ephemeral nodes at once
            // instead of a session timeout later.
            let (tx, rx) = crossbeam_channel::bounded(1);
            let sent = {
                let mut out = s.out.lock();
                out.stream.is_some()
                    && s.enqueue(
                        &mut out,
                        Call::new(Request::CloseSession),
                        Completion::Caller(tx),
                    )
                    .is_ok()
                    && {
                        out.flush();
                        true
                    }
            };
            if sent {
                let _ = rx.recv_timeout(CLOSE_WAIT);
            }
        }
        if let Some(stream) = s.out.lock().stream.as_ref() {
            stream.shutdown();
        }
        let on_event_thread = *s.event_thread.lock() == Some(std::thread::current().id());
        let threads: Vec<Tracked> = self.threads.lock().drain(..).collect();
        if !join {
            return;
        }
        let deadline = Instant::now() + CLOSE_WAIT;
        for (h, done) in threads {
            if h.thread().id() == std::thread::current().id() || on_event_thread {
                continue; // never join ourselves; the thread ends on its own
            }
            // Disconnects when the thread ends; a thread still busy after
            // the bound (a connect attempt) is left to end on its own.
            let _ = done.recv_deadline(deadline);
            if h.is_finished() {
                let _ = h.join();
            }
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.close(true);
    }
}
