//! The holds of each thread on a reentrant lock: which ownership (one
//! contender node, one [`LockGuard`]) a thread's nested guards share, and
//! how many of them there are, per side (exclusive, shared).
//!
//! A re-entry is decided here, from what this process knows, without a
//! request to the server: the thread's own ownership on that side, if it is
//! not lost; for a reader, the thread's write ownership (a downgrade: the
//! read shares the write node, which stays in the queue until both sides
//! are released, so nobody can write in between); for a writer, a read that
//! shares a write node (the exclusion never lapsed). A writer that holds
//! only a real read node is refused: upgrading would deadlock with another
//! thread upgrading.

use super::guard::LockGuard;
use super::ownership::LockState;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::ThreadId;

/// Which side of a lock a hold is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// A writer's, or an exclusive lock's.
    Exclusive,
    /// A reader's.
    Shared,
}

/// One ownership: a contender node this thread holds, shared by its nested
/// guards (of both sides, after a downgrade).
pub(crate) struct Hold {
    /// The full path of the contender node.
    pub node: String,
    /// `None` once the last guard has taken it out to release it.
    guard: Mutex<Option<LockGuard>>,
    /// The guards alive now that share it; changed under the table's lock.
    guards: AtomicUsize,
    /// Whether its node is a writer's (or an exclusive lock's).
    exclusive: bool,
    /// Whether a release has reported the loss already (it is reported once).
    loss_reported: AtomicBool,
}

impl Hold {
    /// Runs `f` on the ownership's guard; `None` once it was released.
    pub fn with<R>(&self, f: impl FnOnce(&LockGuard) -> R) -> Option<R> {
        self.guard.lock().as_ref().map(f)
    }

    /// Whether the ownership is lost, as this process knows now (released
    /// counts as lost: it can no longer be entered).
    pub fn known_lost(&self) -> bool {
        self.with(|g| g.known_state() == LockState::Lost)
            .unwrap_or(true)
    }
    /// Whether this call is the first to report the ownership's loss.
    pub fn first_report_of_loss(&self) -> bool {
        !self.loss_reported.swap(true, Ordering::SeqCst)
    }
}

struct Slot {
    hold: Arc<Hold>,
    count: usize,
}

#[derive(Default)]
struct Slots {
    exclusive: Option<Slot>,
    shared: Option<Slot>,
}

impl Slots {
    fn side(&mut self, side: Side) -> &mut Option<Slot> {
        match side {
            Side::Exclusive => &mut self.exclusive,
            Side::Shared => &mut self.shared,
        }
    }
}

/// What a re-entry found.
pub(crate) enum Reentry {
    /// The thread holds already: one more guard of this ownership.
    Entered(Arc<Hold>),
    /// The thread holds already, as often as the limit allows.
    Limit(usize),
    /// A writer that holds a read node: upgrading is refused.
    Upgrade,
    /// The thread does not hold (or its ownership was lost): queue afresh.
    Queue,
}

/// The holds of every thread on one lock (shared by the read and write
/// handles of one reentrant read/write lock).
#[derive(Default)]
pub(crate) struct Holds {
    threads: Mutex<HashMap<ThreadId, Slots>>,
}

fn me() -> ThreadId {
    std::thread::current().id()
}

impl Holds {
    /// Enters again if this thread may, without the server; `limit` is the
    /// most holds a thread may have on one side (`None`: no limit).
    pub fn reenter(&self, side: Side, limit: Option<usize>) -> Reentry {
        let mut threads = self.threads.lock();
        let Some(slots) = threads.get_mut(&me()) else {
            return Reentry::Queue;
        };
        let live = |s: &Option<Slot>| {
            s.as_ref()
                .filter(|s| !s.hold.known_lost())
                .map(|s| s.hold.clone())
        };
        let borrowed = match side {
            // A downgrade: the read shares the write node.
            Side::Shared => live(&slots.exclusive),
            // Back to writing on a write node never given up; a read node
            // cannot be upgraded.
            Side::Exclusive => match live(&slots.shared) {
                Some(h) if !h.exclusive => return Reentry::Upgrade,
                other => other,
            },
        };
        let slot = slots.side(side);
        match slot {
            Some(s) if !s.hold.known_lost() => {
                if let Some(l) = limit.filter(|&l| s.count >= l) {
                    return Reentry::Limit(l);
                }
                s.count += 1;
                s.hold.guards.fetch_add(1, Ordering::SeqCst);
                Reentry::Entered(s.hold.clone())
            }
            _ => match borrowed {
                Some(hold) => {
                    hold.guards.fetch_add(1, Ordering::SeqCst);
                    *slot = Some(Slot {
                        hold: hold.clone(),
                        count: 1,
                    });
                    Reentry::Entered(hold)
                }
                None => Reentry::Queue,
            },
        }
    }

    /// Records this thread's new ownership on `side` (replacing a lost one).
    pub fn install(&self, side: Side, guard: LockGuard, exclusive: bool) -> Arc<Hold> {
        let hold = Arc::new(Hold {
            node: guard.node().to_string(),
            guard: Mutex::new(Some(guard)),
            guards: AtomicUsize::new(1),
            exclusive,
            loss_reported: AtomicBool::new(false),
        });
        let mut threads = self.threads.lock();
        *threads.entry(me()).or_default().side(side) = Some(Slot {
            hold: hold.clone(),
            count: 1,
        });
        hold
    }

    /// One guard of `hold` on `side` goes (on `thread`, its owner). Returns
    /// the ownership's guard if it was the last, for the caller to release
    /// (outside the table's lock).
    pub fn leave(&self, thread: ThreadId, side: Side, hold: &Arc<Hold>) -> Option<LockGuard> {
        let mut threads = self.threads.lock();
        if let Some(slots) = threads.get_mut(&thread) {
            let slot = slots.side(side);
            if let Some(s) = slot.as_mut().filter(|s| Arc::ptr_eq(&s.hold, hold)) {
                s.count -= 1;
                if s.count == 0 {
                    *slot = None;
                }
            }
            if slots.exclusive.is_none() && slots.shared.is_none() {
                threads.remove(&thread);
            }
        }
        if hold.guards.fetch_sub(1, Ordering::SeqCst) == 1 {
            hold.guard.lock().take()
        } else {
            None
        }
    }

    /// This thread's holds on `side` now (0 once its ownership is lost).
    pub fn count(&self, side: Side) -> usize {
        let mut threads = self.threads.lock();
        threads
            .get_mut(&me())
            .and_then(|slots| slots.side(side).as_ref())
            .filter(|s| !s.hold.known_lost())
            .map_or(0, |s| s.count)
    }
}
