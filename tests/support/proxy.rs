//! A TCP fault proxy between a client and a ZooKeeper server.
//!
//! Faults:
//! - [`Proxy::freeze`]: a silent partition. Sockets stay open, nothing is
//!   forwarded either way (no FIN, no RST), new connections are accepted
//!   and then hear nothing, until [`Proxy::unfreeze`].
//! - [`Proxy::reset`]: every current connection is closed at once.
//! - [`Proxy::set_delay`]: every chunk is held this long before it is forwarded.
//! - [`Proxy::drop_after_create`]: the next create under a path prefix is
//!   forwarded to the server and then the connection is closed before the
//!   reply can come back (Curator's "chaos monkey" from outside the server).
//! - [`Proxy::refuse`]: new connections are closed at once, as a port with
//!   nobody behind it would.
//! - [`Proxy::swallow_requests`]: requests are dropped on their way to the
//!   server, pings still go through: a server that stays connected and
//!   never answers a call.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Faults {
    frozen: bool,
    refuse: bool,
    swallow: bool,
    delay: Duration,
    drop_after_create: Option<String>,
    /// Bumped by reset; connections of an older generation end.
    generation: u64,
}

struct State {
    faults: Mutex<Faults>,
    cv: Condvar,
    conns: Mutex<Vec<(u64, TcpStream, TcpStream)>>,
    upstream: Mutex<String>,
    creates_dropped: AtomicUsize,
    accepted: AtomicUsize,
    /// Forward client bytes as they come, without reading frames (TLS).
    opaque: bool,
}

/// A fault proxy listening on a loopback port.
pub struct Proxy {
    port: u16,
    state: Arc<State>,
}

impl Proxy {
    /// A proxy in front of `upstream` (`host:port`).
    pub fn new(upstream: &str) -> Proxy {
        Proxy::start(upstream, false)
    }

    /// A proxy in front of a TLS port: the bytes are opaque, so it cannot
    /// see requests (no `swallow_requests`, no `drop_after_create`); every
    /// other fault works.
    pub fn opaque(upstream: &str) -> Proxy {
        Proxy::start(upstream, true)
    }

    fn start(upstream: &str, opaque: bool) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State {
            faults: Mutex::new(Faults::default()),
            cv: Condvar::new(),
            conns: Mutex::new(Vec::new()),
            upstream: Mutex::new(upstream.to_string()),
            creates_dropped: AtomicUsize::new(0),
            accepted: AtomicUsize::new(0),
            opaque,
        });
        let st = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                st.accepted.fetch_add(1, Ordering::SeqCst);
                if st.faults.lock().unwrap().refuse {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let upstream = st.upstream.lock().unwrap().clone();
                let Ok(server) = TcpStream::connect(&upstream) else {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let generation = st.faults.lock().unwrap().generation;
                st.conns.lock().unwrap().push((
                    generation,
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                ));
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let cut = Arc::new(AtomicBool::new(false));
                let (st1, cut1) = (st.clone(), cut.clone());
                std::thread::spawn(move || pump(st1, client, server, generation, true, cut1));
                let st2 = st.clone();
                std::thread::spawn(move || pump(st2, s2, c2, generation, false, cut));
            }
        });
        Proxy { port, state }
    }

    /// The address clients should connect to.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Sends new connections to another server.
    pub fn set_upstream(&self, upstream: &str) {
        *self.state.upstream.lock().unwrap() = upstream.to_string();
    }

    /// Stops forwarding anything, silently.
    pub fn freeze(&self) {
        self.state.faults.lock().unwrap().frozen = true;
    }

    /// Forwards again (what was held is forwarded now).
    pub fn unfreeze(&self) {
        self.state.faults.lock().unwrap().frozen = false;
        self.state.cv.notify_all();
    }

    /// Closes every current connection (data held by a freeze is discarded).
    pub fn reset(&self) {
        self.state.faults.lock().unwrap().generation += 1;
        self.state.cv.notify_all();
        for (_, c, s) in self.state.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Closes new connections at once while `on`.
    pub fn refuse(&self, on: bool) {
        self.state.faults.lock().unwrap().refuse = on;
    }

    /// Drops every request (xid > 0) on its way to the server while `on`;
    /// pings, auth and watch re-registration still pass.
    pub fn swallow_requests(&self, on: bool) {
        self.state.faults.lock().unwrap().swallow = on;
    }

    /// Holds every chunk for `d` before forwarding it.
    pub fn set_delay(&self, d: Duration) {
        self.state.faults.lock().unwrap().delay = d;
    }

    /// Arms the "drop the connection right after forwarding a create under
    /// `prefix`" fault, for one create.
    pub fn drop_after_create(&self, prefix: &str) {
        self.state.faults.lock().unwrap().drop_after_create = Some(prefix.to_string());
    }

    /// How many creates the fault above has dropped the reply of.
    pub fn creates_dropped(&self) -> usize {
        self.state.creates_dropped.load(Ordering::SeqCst)
    }

    /// How many connections the proxy has accepted.
    pub fn accepted(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.reset();
        self.refuse(true);
    }
}

/// The create opcodes: create, create2, createContainer, createTTL.
fn is_create(op: i32) -> bool {
    matches!(op, 1 | 15 | 19 | 21)
}

/// The path of a create frame body (after length, xid and opcode).
fn create_path(body: &[u8]) -> Option<String> {
    let len = i32::from_be_bytes(body.get(0..4)?.try_into().ok()?);
    let bytes = body.get(4..4 + usize::try_from(len).ok()?)?;
    String::from_utf8(bytes.to_vec()).ok()
}

/// Forwards one direction. Client-to-server traffic is forwarded frame by
/// frame, so a create can be recognised and the connection cut right after it.
fn pump(
    st: Arc<State>,
    mut from: TcpStream,
    mut to: TcpStream,
    generation: u64,
    upstream: bool,
    cut_flag: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    let mut handshake_done = false;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // Hold the data while frozen; give up if a reset happened meanwhile.
        let delay = {
            let mut f = st.faults.lock().unwrap();
            while f.frozen && f.generation == generation {
                f = st.cv.wait(f).unwrap();
            }
            if f.generation != generation {
                break;
            }
            f.delay
        };
        if !delay.is_zero() {
            std::thread::sleep(delay); // the fault itself, not synchronisation
        }
        if !upstream || st.opaque {
            if cut_flag.load(Ordering::SeqCst) || to.write_all(&buf[..n]).is_err() {
                break;
            }
            continue;
        }
        pending.extend_from_slice(&buf[..n]);
        let mut cut = false;
        while pending.len() >= 4 {
            let len = i32::from_be_bytes(pending[0..4].try_into().unwrap()).max(0) as usize;
            if pending.len() < 4 + len {
                break;
            }
            let frame: Vec<u8> = pending.drain(..4 + len).collect();
            let swallowed = handshake_done
                && frame.len() >= 8
                && i32::from_be_bytes(frame[4..8].try_into().unwrap()) > 0
                && st.faults.lock().unwrap().swallow;
            if swallowed {
                continue;
            }
            let trigger = handshake_done && frame.len() >= 12 && {
                let op = i32::from_be_bytes(frame[8..12].try_into().unwrap());
                let path = create_path(&frame[12..]).unwrap_or_default();
                let mut f = st.faults.lock().unwrap();
                let hit = is_create(op)
                    && f.drop_after_create
                        .as_ref()
                        .is_some_and(|p| path.starts_with(p.as_str()));
                if hit {
                    f.drop_after_create = None;
                }
                hit
            };
            handshake_done = true; // the first frame, the ConnectRequest, has no header
            if trigger {
                // Cut first, so the reply can never slip back to the client.
                cut_flag.store(true, Ordering::SeqCst);
                st.creates_dropped.fetch_add(1, Ordering::SeqCst);
            }
            if to.write_all(&frame).is_err() || trigger {
                cut = true;
                break;
            }
        }
        if cut {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
