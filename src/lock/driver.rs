//! The background driver: one thread per client, started on first use,
//! that runs every background acquire of that client (see
//! [`super::pending`]), so a thousand pending acquires cost one thread, not
//! a thousand.
//!
//! A background attempt is the same state machine a blocking acquire runs
//! (the queue walker's [`super::walker::WalkState`]); the only difference
//! is who waits. A blocking caller waits on its own thread; a driven
//! attempt *parks* instead (it returns `Pending` from its poll), and every
//! wake-up sent to it (its blocker's watch, a session event, a cancel)
//! also sends its id to this thread, which polls it again. A release
//! therefore wakes exactly the one attempt watching that node, as for
//! blocking acquires.
//!
//! The driver takes every message already queued before it polls: the
//! attempts started meanwhile first send their creates (one burst,
//! pipelined), then each reads its replies. Requests a driven attempt makes
//! later (a listing, a watch) are round trips made on this thread, one
//! attempt at a time; only the waits for other holders and for a
//! connection are parked.

use super::wait::Notify;
use crate::client::scope::Scope;
use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Something the driver runs: one background attempt.
pub(crate) trait Task: Send {
    /// Sends the attempt's first requests, without waiting for replies.
    fn begin(&mut self);
    /// Runs the attempt as far as it can go; `true` once it has ended (its
    /// outcome delivered).
    fn poll(&mut self) -> bool;
}

enum Msg {
    Start(u64, Box<dyn Task>),
    Wake(u64),
}

/// One client's driver (kept by the client, see [`Scope::per_client`]).
#[derive(Default)]
pub(crate) struct Driver {
    /// To the thread, once started.
    tx: Mutex<Option<Sender<Msg>>>,
    next_id: AtomicU64,
}

impl Driver {
    /// The driver of `scope`'s client.
    pub fn of(scope: &Scope) -> Arc<Driver> {
        scope.per_client(Driver::default)
    }

    /// A new task id, and what tells the driver that task has a wake-up.
    pub fn register(&self) -> std::io::Result<(u64, Notify)> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let tx = self.sender()?;
        Ok((
            id,
            Arc::new(move || {
                let _ = tx.send(Msg::Wake(id));
            }),
        ))
    }

    /// Hands task `id` (from [`Driver::register`]) to the thread.
    pub fn start(&self, id: u64, task: Box<dyn Task>) -> std::io::Result<()> {
        let tx = self.sender()?;
        // The thread ends only when every sender is gone: it is there.
        let _ = tx.send(Msg::Start(id, task));
        Ok(())
    }

    /// The thread's channel, starting the thread on first use.
    fn sender(&self) -> std::io::Result<Sender<Msg>> {
        let mut tx = self.tx.lock();
        if let Some(tx) = &*tx {
            return Ok(tx.clone());
        }
        let (new_tx, rx) = crossbeam_channel::unbounded();
        std::thread::Builder::new()
            .name("zklock-background".into())
            .spawn(move || run(rx))?;
        *tx = Some(new_tx.clone());
        Ok(new_tx)
    }
}

/// The thread: ends when the client (holding the driver) and every task's
/// wake-up sender are gone.
fn run(rx: Receiver<Msg>) {
    let mut tasks: HashMap<u64, Box<dyn Task>> = HashMap::new();
    while let Ok(first) = rx.recv() {
        let mut due: Vec<u64> = Vec::new();
        for msg in std::iter::once(first).chain(rx.try_iter()) {
            match msg {
                Msg::Start(id, mut task) => {
                    if catch_unwind(AssertUnwindSafe(|| task.begin())).is_ok() {
                        tasks.insert(id, task);
                        due.push(id);
                    } else {
                        log::error!("zklock: a background acquire panicked; dropped");
                    }
                }
                Msg::Wake(id) => due.push(id),
            }
        }
        let mut seen = std::collections::HashSet::new();
        due.retain(|id| seen.insert(*id));
        for id in due {
            let Some(task) = tasks.get_mut(&id) else {
                continue; // ended already: a late wake-up
            };
            match catch_unwind(AssertUnwindSafe(|| task.poll())) {
                Ok(false) => {}
                Ok(true) => {
                    tasks.remove(&id);
                }
                Err(_) => {
                    // Dropping it deletes its node; its waiter hears of it.
                    log::error!("zklock: a background acquire panicked; dropped");
                    tasks.remove(&id);
                }
            }
        }
    }
}
