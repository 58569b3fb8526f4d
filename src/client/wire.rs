//! One connection to a server, plaintext or TLS, split in two: the I/O
//! thread reads through a [`Link`]; callers write through the [`Wire`] in
//! `Outbound`, under its mutex, as they always have.
//!
//! Plaintext is the socket itself on both sides: a write is one
//! `write_all`, a read one `read`, as before TLS existed.
//!
//! TLS keeps one rustls session for both directions behind a mutex that is
//! held only while bytes are encrypted or decrypted, never across a socket
//! call: a writer encrypts under it into its own buffer and writes that to
//! the socket after letting go (writers are already serialised by the
//! `Outbound` mutex, so records reach the socket in the order they were
//! sealed); the reader reads ciphertext from the socket without it, then
//! takes it to decrypt. So a writer blocked on a full socket never stops the
//! reader from draining replies, and pipelining is what it was. What the
//! session itself must send after reading (a key update) is flushed by the
//! I/O thread through the `Outbound` mutex ([`Link::wants_write`]).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

#[cfg(feature = "tls")]
use parking_lot::Mutex;
#[cfg(feature = "tls")]
use std::sync::Arc;

#[cfg(feature = "tls")]
type Session = Arc<Mutex<rustls::ClientConnection>>;

/// The reading side, owned by the I/O thread.
pub(crate) struct Link {
    sock: TcpStream,
    #[cfg(feature = "tls")]
    tls: Option<Session>,
    /// Ciphertext read from the socket.
    #[cfg(feature = "tls")]
    raw: Vec<u8>,
    /// Plaintext read during the handshake and not yet handled.
    pub inbox: Vec<u8>,
    /// `host:port`, for errors.
    peer: String,
}

/// The writing side, kept in `Outbound` while the connection is live.
pub(crate) struct Wire {
    sock: TcpStream,
    #[cfg(feature = "tls")]
    tls: Option<(Session, Vec<u8>)>,
}

impl Link {
    /// A plaintext connection.
    pub fn plain(sock: TcpStream, peer: String) -> Link {
        Link {
            sock,
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            raw: Vec::new(),
            inbox: Vec::new(),
            peer,
        }
    }

    /// A TLS connection whose handshake is done.
    #[cfg(feature = "tls")]
    pub fn tls(sock: TcpStream, conn: rustls::ClientConnection, peer: String) -> Link {
        Link {
            sock,
            tls: Some(Arc::new(Mutex::new(conn))),
            raw: vec![0u8; 32 * 1024],
            inbox: Vec::new(),
            peer,
        }
    }

    /// The server, `host:port`.
    pub fn peer(&self) -> String {
        self.peer.clone()
    }

    /// Whether this is a TLS connection.
    pub fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_some();
        #[cfg(not(feature = "tls"))]
        return false;
    }

    /// The writing side of the same connection.
    pub fn writer(&self) -> io::Result<Wire> {
        Ok(Wire {
            sock: self.sock.try_clone()?,
            #[cfg(feature = "tls")]
            tls: self.tls.as_ref().map(|s| (s.clone(), Vec::new())),
        })
    }

    pub fn set_read_timeout(&self, t: Option<Duration>) {
        let _ = self.sock.set_read_timeout(t);
    }

    pub fn shutdown(&self) {
        let _ = self.sock.shutdown(Shutdown::Both);
    }

    /// Writes `bytes` before the connection is handed to callers (the
    /// handshake, closing a stale session).
    pub fn write_all(&self, bytes: &[u8]) -> io::Result<()> {
        self.writer()?.write_all(bytes)
    }

    /// Reads what arrives next and appends the plaintext to `buf`; returns
    /// how many bytes were appended (0: the server closed the connection).
    /// A read timeout comes back as `WouldBlock` or `TimedOut`.
    pub fn read_into(&mut self, buf: &mut Vec<u8>, chunk: &mut [u8]) -> io::Result<usize> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            return read_tls(&self.sock, tls, &mut self.raw, buf);
        }
        let n = (&self.sock).read(chunk)?;
        buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Whether the TLS session has bytes of its own to send (a key update
    /// after a read): the I/O thread then flushes through `Outbound`.
    pub fn wants_write(&self) -> bool {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            return tls.lock().wants_write();
        }
        false
    }
}

/// Reads ciphertext once (without the session lock) and decrypts all of it.
#[cfg(feature = "tls")]
fn read_tls(
    sock: &TcpStream,
    tls: &Session,
    raw: &mut [u8],
    buf: &mut Vec<u8>,
) -> io::Result<usize> {
    let before = buf.len();
    {
        // Plaintext decrypted by an earlier read and not taken yet.
        let mut conn = tls.lock();
        drain(&mut conn, buf)?;
    }
    if buf.len() > before {
        return Ok(buf.len() - before);
    }
    let n = (&*sock).read(raw)?;
    let mut conn = tls.lock();
    if n == 0 {
        // Let rustls see the end: a close_notify already read ends cleanly.
        let _ = conn.read_tls(&mut io::empty());
        return Ok(0);
    }
    let mut slice = &raw[..n];
    let mut closed = false;
    while !slice.is_empty() {
        conn.read_tls(&mut slice)?;
        let state = conn.process_new_packets().map_err(io::Error::other)?;
        closed |= state.peer_has_closed();
        drain(&mut conn, buf)?;
    }
    if buf.len() > before {
        Ok(buf.len() - before)
    } else if closed {
        Ok(0)
    } else {
        // Only part of a record so far: a quiet read, as a timeout is.
        Err(io::Error::from(io::ErrorKind::WouldBlock))
    }
}

/// Moves every decrypted byte into `buf`.
#[cfg(feature = "tls")]
fn drain(conn: &mut rustls::ClientConnection, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match conn.reader().read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

impl Wire {
    /// Writes `bytes` whole (encrypted first, for TLS).
    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        #[cfg(feature = "tls")]
        if let Some((tls, sealed)) = &mut self.tls {
            sealed.clear();
            {
                // rustls takes as much plaintext as its send buffer allows:
                // seal in turns until all of it is taken.
                let mut conn = tls.lock();
                let mut rest = bytes;
                loop {
                    let n = conn.writer().write(rest)?;
                    rest = &rest[n..];
                    if n == 0 && !rest.is_empty() && !conn.wants_write() {
                        return Err(io::Error::from(io::ErrorKind::WriteZero));
                    }
                    while conn.wants_write() {
                        conn.write_tls(sealed)?;
                    }
                    if rest.is_empty() {
                        break;
                    }
                }
            }
            return (&self.sock).write_all(sealed);
        }
        (&self.sock).write_all(bytes)
    }

    /// Sends what the TLS session has queued of its own (nothing for
    /// plaintext).
    pub fn flush_session(&mut self) -> io::Result<()> {
        self.write_all(&[])
    }

    pub fn set_write_timeout(&self, t: Option<Duration>) {
        let _ = self.sock.set_write_timeout(t);
    }

    pub fn shutdown(&self) {
        let _ = self.sock.shutdown(Shutdown::Both);
    }
}
