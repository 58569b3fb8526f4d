//! [`MultiGuard`]: proof of holding every lock of a
//! [`super::MultiLock`], released in reverse order.

use super::guard::LockGuard;
use super::ownership::LockState;
use super::reentrant_guard::ReentrantGuard;
use crate::error::Result;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Instant;

/// A callback to run once.
type Callback = Box<dyn FnOnce() + Send>;

/// One member's guard.
pub(crate) enum MemberGuard {
    Plain(LockGuard),
    Reentrant(ReentrantGuard),
}

impl MemberGuard {
    fn node(&self) -> &str {
        match self {
            MemberGuard::Plain(g) => g.node(),
            MemberGuard::Reentrant(g) => g.node(),
        }
    }

    fn fencing_token(&self) -> Result<u64> {
        match self {
            MemberGuard::Plain(g) => g.fencing_token(),
            MemberGuard::Reentrant(g) => g.fencing_token(),
        }
    }

    fn state(&self) -> LockState {
        match self {
            MemberGuard::Plain(g) => g.state(),
            MemberGuard::Reentrant(g) => g.state(),
        }
    }

    fn check(&self) -> Result<()> {
        match self {
            MemberGuard::Plain(g) => g.check(),
            MemberGuard::Reentrant(g) => g.check(),
        }
    }

    fn on_lost(&self, f: impl FnOnce() + Send + 'static) {
        match self {
            MemberGuard::Plain(g) => g.on_lost(f),
            MemberGuard::Reentrant(g) => g.on_lost(f),
        }
    }

    fn release(self) -> Result<()> {
        match self {
            MemberGuard::Plain(g) => g.release(),
            MemberGuard::Reentrant(g) => g.release(),
        }
    }
}

/// Holds every lock of a [`super::MultiLock`] until dropped or released;
/// both let go of them in the reverse of the order they were taken in.
///
/// Like the reentrant guards it may hold, it is not `Send`: it is released
/// by the thread that took it.
#[must_use = "the locks are released as soon as the guard is dropped"]
pub struct MultiGuard {
    /// In acquisition order, each with its member's index (the order the
    /// members were given in).
    guards: Vec<(usize, MemberGuard)>,
    members: usize,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl std::fmt::Debug for MultiGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiGuard")
            .field("nodes", &self.nodes())
            .field("state", &self.state())
            .finish()
    }
}

impl MultiGuard {
    pub(crate) fn new(guards: Vec<(usize, MemberGuard)>, members: usize) -> MultiGuard {
        MultiGuard {
            guards,
            members,
            _not_send: std::marker::PhantomData,
        }
    }

    /// Each member's guard, in the order the members were given in.
    fn in_given_order(&self) -> Vec<&MemberGuard> {
        let mut by_member: Vec<Option<&MemberGuard>> = vec![None; self.members];
        for (i, g) in &self.guards {
            if let Some(slot) = by_member.get_mut(*i) {
                *slot = Some(g);
            }
        }
        by_member.into_iter().flatten().collect()
    }

    /// The contender node of each lock, in the order the members were
    /// given in.
    pub fn nodes(&self) -> Vec<String> {
        self.in_given_order()
            .into_iter()
            .map(|g| g.node().to_string())
            .collect()
    }

    /// The fencing token of each lock, in the order the members were given
    /// in (see [`LockGuard::fencing_token`]).
    ///
    /// # Errors
    /// [`crate::Error::LockLost`] if any lock is lost.
    pub fn fencing_tokens(&self) -> Result<Vec<u64>> {
        self.in_given_order()
            .into_iter()
            .map(MemberGuard::fencing_token)
            .collect()
    }

    /// The state of the whole: `Lost` if any lock is lost, else
    /// `Suspended` if any is suspended, else `Held`.
    pub fn state(&self) -> LockState {
        let states: Vec<LockState> = self.guards.iter().map(|(_, g)| g.state()).collect();
        if states.contains(&LockState::Lost) {
            LockState::Lost
        } else if states.contains(&LockState::Suspended) {
            LockState::Suspended
        } else {
            LockState::Held
        }
    }

    /// Fails unless every lock is still held (see [`LockGuard::check`]).
    ///
    /// # Errors
    /// The first lock's error, in acquisition order.
    pub fn check(&self) -> Result<()> {
        self.guards.iter().try_for_each(|(_, g)| g.check())
    }

    /// Runs `f` once, on the client's callback thread, as soon as any of
    /// the locks is lost (at once if one is lost already).
    pub fn on_lost(&self, f: impl FnOnce() + Send + 'static) {
        let once: Arc<Mutex<Option<Callback>>> = Arc::new(Mutex::new(Some(Box::new(f))));
        for (_, g) in &self.guards {
            let once = once.clone();
            g.on_lost(move || {
                let f = once.lock().take();
                if let Some(f) = f {
                    f();
                }
            });
        }
    }

    /// Releases every lock and waits for the server to confirm it. The
    /// deletes are sent in the reverse of the order the locks were taken
    /// in, without waiting for each other (one round trip for the lot, on
    /// one client).
    ///
    /// # Errors
    /// The first failure (every lock is released whatever happens; see
    /// [`LockGuard::release`]); [`crate::Error::Timeout`] if the server did
    /// not confirm within its request timeout (the client goes on deleting).
    pub fn release(mut self) -> Result<()> {
        let mut first = Ok(());
        let mut note = |r: Result<()>| {
            if first.is_ok() {
                first = r;
            }
        };
        let mut releasing = Vec::new();
        while let Some((_, g)) = self.guards.pop() {
            match g {
                MemberGuard::Plain(g) => releasing.push(g.release_in_background()),
                other => note(other.release()),
            }
        }
        for r in releasing {
            let left = r
                .request_deadline()
                .saturating_duration_since(Instant::now());
            note(r.wait_timeout(left));
        }
        first
    }
}

impl Drop for MultiGuard {
    /// As [`MultiGuard::release`], waiting as a dropped [`LockGuard`] does
    /// (while connected, a second at most), and reporting nothing.
    fn drop(&mut self) {
        let mut releasing = Vec::new();
        while let Some((_, g)) = self.guards.pop() {
            match g {
                MemberGuard::Plain(g) => releasing.push(g.release_in_background()),
                other => drop(other),
            }
        }
        for r in releasing {
            r.settle();
        }
    }
}
