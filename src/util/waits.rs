//! Waits for a node's state, woken by watches and session events, never by
//! polling, each with a deadline (k3zkutil's `wait_absent` and `get_next`).

use crate::client::{Client, Stat};
use crate::error::ZkError;
use crate::error::{Error, Result};
use crossbeam_channel::{Receiver, Sender};
use std::time::{Duration, Instant};

/// A wake-up channel fed by a watch and by the client's session events
/// (a reconnection may have hidden a change: look again).
struct Wakes<'c> {
    client: &'c Client,
    tx: Sender<()>,
    rx: Receiver<()>,
    listener: crate::client::ListenerId,
}

impl<'c> Wakes<'c> {
    fn new(client: &'c Client) -> Wakes<'c> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let t = tx.clone();
        let listener = client.add_listener(move |_| {
            let _ = t.send(());
        });
        Wakes {
            client,
            tx,
            rx,
            listener,
        }
    }

    /// A watcher that wakes us.
    fn watcher(&self) -> impl FnOnce(crate::client::WatchedEvent) + Send + 'static {
        let tx = self.tx.clone();
        move |_| {
            let _ = tx.send(());
        }
    }

    /// Waits for the next wake-up until `deadline`.
    fn wait(&self, deadline: Instant) -> Result<()> {
        self.rx.recv_deadline(deadline).map_err(|_| Error::Timeout)
    }
}

impl Drop for Wakes<'_> {
    fn drop(&mut self) {
        self.client.remove_listener(self.listener);
    }
}

/// Whether an error is worth waiting through (the connection, not the node).
fn transient(e: &Error) -> bool {
    matches!(e, Error::ConnectionLoss | Error::Timeout)
}

/// Waits until the node at `path` does not exist (k3zkutil's
/// `wait_absent`); returns at once if it never existed.
///
/// # Errors
/// [`Error::Timeout`] if it still exists after `timeout`; session errors.
pub fn wait_absent(client: &Client, path: &str, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let wakes = Wakes::new(client);
    loop {
        // A read with a watch leaves no watch behind when the node is absent.
        match client.get_data_watch(path, wakes.watcher()) {
            Err(e) if e.is(ZkError::NoNode) => return Ok(()),
            Err(e) if !transient(&e) => return Err(e),
            _ => {}
        }
        wakes.wait(deadline)?;
    }
}

/// Waits until the node at `path` has a data version greater than
/// `version`, and returns its data and [`Stat`] (k3zkutil's `get_next`):
/// the next value after one already seen. At once if it has one already.
///
/// # Errors
/// [`Error::Timeout`]; `NoNode` as [`Error::ZooKeeper`] if the node does
/// not exist (or is deleted while waiting); session errors.
pub fn get_next(
    client: &Client,
    path: &str,
    version: i32,
    timeout: Duration,
) -> Result<(Vec<u8>, Stat)> {
    let deadline = Instant::now() + timeout;
    let wakes = Wakes::new(client);
    loop {
        match client.get_data_watch(path, wakes.watcher()) {
            Ok((data, stat)) if stat.version > version => return Ok((data, stat)),
            Ok(_) => {}
            Err(e) if !transient(&e) => return Err(e),
            Err(_) => {}
        }
        wakes.wait(deadline)?;
    }
}
