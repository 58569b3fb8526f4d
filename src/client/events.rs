//! The watch registry and the event thread.
//!
//! Watches are one-shot, as in ZooKeeper: each watcher is called exactly once,
//! with the node event that fired it, or with an [`EventType::Session`] event
//! when its session ends or the client closes. A disconnection does not fire
//! watches: the registry survives it and the I/O thread re-registers every
//! path with SetWatches on reconnect, so no wake-up is lost.
//!
//! Watchers and session listeners run on the event thread, one at a time in
//! the order the server sent the events. A panic in one is caught and logged;
//! the thread goes on. A watcher that blocks (even on a client call) delays
//! later events but cannot deadlock the client, because replies are delivered
//! by the I/O thread, never by this one.

use super::proto::WatchKind;
use super::session::{Listeners, SessionEvent};
use super::types::{EventType, WatchState, WatchedEvent};
use crossbeam_channel::Receiver;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// A one-shot watch callback.
pub(crate) type Watcher = Box<dyn FnOnce(WatchedEvent) + Send>;

/// Work for the event thread.
pub(crate) enum Event {
    Watch(Vec<Watcher>, WatchedEvent),
    /// A session event and its number (see `Listeners`).
    Session(SessionEvent, u64),
    Stop,
}

/// Watchers by server path, one map per kind.
#[derive(Default)]
pub(crate) struct WatchRegistry {
    data: HashMap<String, Vec<Watcher>>,
    exist: HashMap<String, Vec<Watcher>>,
    child: HashMap<String, Vec<Watcher>>,
}

impl WatchRegistry {
    fn map(&mut self, kind: WatchKind) -> &mut HashMap<String, Vec<Watcher>> {
        match kind {
            WatchKind::Data => &mut self.data,
            WatchKind::Exists => &mut self.exist,
            WatchKind::Child => &mut self.child,
        }
    }

    pub fn add(&mut self, kind: WatchKind, server_path: String, w: Watcher) {
        self.map(kind).entry(server_path).or_default().push(w);
    }

    /// Removes and returns the watchers a node event fires, following
    /// ZooKeeper's rules: created and data-changed fire data and exists
    /// watches; deleted fires all three kinds; children-changed fires child
    /// watches.
    pub fn take(&mut self, event_type: EventType, server_path: &str) -> Vec<Watcher> {
        let kinds: &[WatchKind] = match event_type {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                &[WatchKind::Data, WatchKind::Exists]
            }
            EventType::NodeDeleted => &[WatchKind::Data, WatchKind::Exists, WatchKind::Child],
            EventType::NodeChildrenChanged => &[WatchKind::Child],
            _ => &[],
        };
        let mut out = Vec::new();
        for k in kinds {
            if let Some(ws) = self.map(*k).remove(server_path) {
                out.extend(ws);
            }
        }
        out
    }

    /// Removes every watcher (the session ended).
    pub fn take_all(&mut self) -> Vec<(String, Vec<Watcher>)> {
        let mut out = Vec::new();
        for m in [&mut self.data, &mut self.exist, &mut self.child] {
            out.extend(m.drain());
        }
        out
    }

    /// The paths to re-register after a reconnect: (data, exist, child).
    pub fn paths(&self) -> (Vec<String>, Vec<String>, Vec<String>) {
        let keys = |m: &HashMap<String, Vec<Watcher>>| m.keys().cloned().collect();
        (keys(&self.data), keys(&self.exist), keys(&self.child))
    }
}

/// The events for watchers dropped with their session: each is told once.
pub(crate) fn session_ended_events(
    dropped: Vec<(String, Vec<Watcher>)>,
    state: WatchState,
    to_client_path: impl Fn(&str) -> String,
) -> Vec<Event> {
    dropped
        .into_iter()
        .map(|(path, ws)| {
            Event::Watch(
                ws,
                WatchedEvent {
                    event_type: EventType::Session,
                    state,
                    path: to_client_path(&path),
                },
            )
        })
        .collect()
}

/// The event thread's loop: runs until it receives [`Event::Stop`].
pub(crate) fn run_event_thread(rx: Receiver<Event>, listeners: Arc<Mutex<Listeners>>) {
    while let Ok(ev) = rx.recv() {
        match ev {
            Event::Watch(watchers, event) => {
                for w in watchers {
                    let e = event.clone();
                    if catch_unwind(AssertUnwindSafe(move || w(e))).is_err() {
                        log::error!("zklock: a watcher panicked on {:?}; ignored", event);
                    }
                }
            }
            Event::Session(event, seq) => {
                for l in Listeners::dispatch(&listeners, &event, seq) {
                    if catch_unwind(AssertUnwindSafe(|| l(&event))).is_err() {
                        log::error!("zklock: a session listener panicked on {event:?}; ignored");
                    }
                }
            }
            Event::Stop => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn counting(c: &Arc<AtomicUsize>) -> Watcher {
        let c = c.clone();
        Box::new(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
        })
    }

    #[test]
    fn deletion_fires_every_kind_and_children_only_child_watches() {
        let c = Arc::new(AtomicUsize::new(0));
        let mut r = WatchRegistry::default();
        r.add(WatchKind::Data, "/a".into(), counting(&c));
        r.add(WatchKind::Exists, "/a".into(), counting(&c));
        r.add(WatchKind::Child, "/a".into(), counting(&c));
        assert_eq!(r.take(EventType::NodeChildrenChanged, "/a").len(), 1);
        assert_eq!(r.take(EventType::NodeDeleted, "/a").len(), 2);
        assert_eq!(r.paths(), (vec![], vec![], vec![]));
    }

    #[test]
    fn a_panicking_watcher_does_not_stop_the_thread() {
        let c = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = crossbeam_channel::unbounded();
        let ev = WatchedEvent {
            event_type: EventType::NodeDeleted,
            state: WatchState::Connected,
            path: "/x".into(),
        };
        tx.send(Event::Watch(vec![Box::new(|_| panic!("boom"))], ev.clone()))
            .unwrap();
        tx.send(Event::Watch(vec![counting(&c)], ev)).unwrap();
        tx.send(Event::Stop).unwrap();
        run_event_thread(rx, Arc::new(Mutex::new(Listeners::default())));
        assert_eq!(c.load(Ordering::SeqCst), 1);
    }
}
