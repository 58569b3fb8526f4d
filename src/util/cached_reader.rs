//! [`CachedReader`]: a local copy of one node's data, kept current by a
//! watch (k3zkutil's `CachedReader`).
//!
//! One thread per reader (named `zklock-cached-reader`) re-reads the node
//! when its watch fires or the connection comes back, and tells of every
//! change. When the session ends, the node's watch is gone with it: the
//! reader says so ([`Error::SessionLost`] from [`CachedReader::wait_change`],
//! and [`CachedReader::is_current`] turns false) and keeps its last copy;
//! it follows the node again only when asked, with
//! [`CachedReader::refresh`], so a program notices that it may have missed
//! changes.

use crate::client::{Client, SessionEvent};
use crate::error::ZkError;
use crate::error::{Error, Result};
use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;

/// A change of a node's data: the copy before and after (`None`: no node).
pub type Change = (Option<Vec<u8>>, Option<Vec<u8>>);

/// What the reader's thread is told.
enum Wake {
    /// The node may have changed: read it again.
    Read,
    /// The session ended: stop following until refreshed.
    Lost,
    /// The reader is gone.
    Stop,
}

/// What readers share with their thread.
struct Shared {
    copy: Mutex<Copy>,
    /// Every change, for [`CachedReader::changes`].
    changes: Sender<Change>,
    /// Every change or loss, for [`CachedReader::wait_change`].
    events: Sender<Result<Change>>,
}

struct Copy {
    data: Option<Vec<u8>>,
    current: bool,
}

/// A node's data, read once and kept current by a watch.
///
/// ```
/// # fn main() -> zklock::Result<()> {
/// # let client = zklock::Client::connect(&zklock::doc_hosts())?;
/// # client.ensure_path("/zklock-doc/config")?;
/// use std::time::Duration;
/// let config = zklock::util::CachedReader::new(&client, "/zklock-doc/config")?;
/// client.set_data("/zklock-doc/config", b"v2", None)?;
/// let (_old, new) = config.wait_change(Duration::from_secs(10))?;
/// assert_eq!(new.as_deref(), Some(&b"v2"[..]));
/// assert_eq!(config.get().as_deref(), Some(&b"v2"[..]));
/// # Ok(()) }
/// ```
pub struct CachedReader {
    shared: Arc<Shared>,
    changes: Receiver<Change>,
    events: Receiver<Result<Change>>,
    wake: Sender<Wake>,
    client: Client,
    listener: crate::client::ListenerId,
}

impl std::fmt::Debug for CachedReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedReader")
            .field("current", &self.is_current())
            .finish()
    }
}

impl CachedReader {
    /// Reads the node at `path` (absent is a valid state: `None`) and
    /// follows it.
    ///
    /// # Errors
    /// [`Error::InvalidPath`]; connection and session errors from the first
    /// read (nothing is left running then).
    pub fn new(client: &Client, path: &str) -> Result<CachedReader> {
        crate::path::validate(path)?;
        let (wake, wakes) = crossbeam_channel::unbounded();
        let first = read(client, path, &wake)?;
        let (changes_tx, changes) = crossbeam_channel::unbounded();
        let (events_tx, events) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared {
            copy: Mutex::new(Copy {
                data: first,
                current: true,
            }),
            changes: changes_tx,
            events: events_tx,
        });
        let w = wake.clone();
        let listener = client.add_listener(move |e| {
            let _ = w.send(match e {
                SessionEvent::Lost { .. } | SessionEvent::Closed { .. } => Wake::Lost,
                _ => Wake::Read,
            });
        });
        let (c, p, s, w) = (
            client.clone(),
            path.to_string(),
            shared.clone(),
            wake.clone(),
        );
        let spawned = std::thread::Builder::new()
            .name("zklock-cached-reader".into())
            .spawn(move || follow(&c, &p, &s, &w, &wakes));
        if let Err(e) = spawned {
            client.remove_listener(listener);
            return Err(Error::InvalidArgument(format!(
                "cannot start a thread: {e}"
            )));
        }
        Ok(CachedReader {
            shared,
            changes,
            events,
            wake,
            client: client.clone(),
            listener,
        })
    }

    /// The copy now (`None`: the node does not exist).
    pub fn get(&self) -> Option<Vec<u8>> {
        self.shared.copy.lock().data.clone()
    }

    /// Whether the copy follows the node (false once the session ended,
    /// until [`CachedReader::refresh`]).
    pub fn is_current(&self) -> bool {
        self.shared.copy.lock().current
    }

    /// Every change from now on, as `(old, new)`: for a `select!`.
    pub fn changes(&self) -> &Receiver<Change> {
        &self.changes
    }

    /// Blocks until the next change (or one not yet waited for) and
    /// returns it as `(old, new)`.
    ///
    /// # Errors
    /// [`Error::Timeout`]; [`Error::SessionLost`] once when the session
    /// ends (see [`CachedReader::refresh`]).
    pub fn wait_change(&self, timeout: Duration) -> Result<Change> {
        self.events
            .recv_timeout(timeout)
            .map_err(|_| Error::Timeout)?
    }

    /// Follows the node again, in the client's current session: after a
    /// session loss, what the reader does only when asked. The node is read
    /// at once (or when the connection is back), and a difference from the
    /// last copy is reported as a change.
    pub fn refresh(&self) {
        self.shared.copy.lock().current = true;
        let _ = self.wake.send(Wake::Read);
    }
}

impl Drop for CachedReader {
    fn drop(&mut self) {
        self.client.remove_listener(self.listener);
        let _ = self.wake.send(Wake::Stop);
    }
}

/// Reads the node with a watch that wakes the reader's thread (an exists
/// watch when it is absent, to see it created).
fn read(client: &Client, path: &str, wake: &Sender<Wake>) -> Result<Option<Vec<u8>>> {
    let w = wake.clone();
    match client.get_data_watch(path, move |_| {
        let _ = w.send(Wake::Read);
    }) {
        Ok((data, _)) => Ok(Some(data)),
        Err(e) if e.is(ZkError::NoNode) => {
            let w = wake.clone();
            match client.exists_watch(path, move |_| {
                let _ = w.send(Wake::Read);
            })? {
                // Created in between: read it (and watch it) next time.
                Some(_) => {
                    let _ = wake.send(Wake::Read);
                    Ok(None)
                }
                None => Ok(None),
            }
        }
        Err(e) => Err(e),
    }
}

/// The reader's thread: re-reads on every wake-up while current.
fn follow(client: &Client, path: &str, s: &Shared, wake: &Sender<Wake>, wakes: &Receiver<Wake>) {
    for w in wakes {
        match w {
            Wake::Stop => return,
            Wake::Lost => {
                let was = std::mem::replace(&mut s.copy.lock().current, false);
                if was {
                    let _ = s.events.send(Err(Error::SessionLost));
                }
            }
            Wake::Read => {
                if !s.copy.lock().current {
                    continue; // not following until refreshed
                }
                // A failed read (the connection is down) is retried when
                // the session listener says it is back.
                if let Ok(new) = read(client, path, wake) {
                    let mut copy = s.copy.lock();
                    if copy.data != new {
                        let old = std::mem::replace(&mut copy.data, new.clone());
                        drop(copy);
                        let _ = s.changes.send((old.clone(), new.clone()));
                        let _ = s.events.send(Ok((old, new)));
                    }
                }
            }
        }
    }
}
