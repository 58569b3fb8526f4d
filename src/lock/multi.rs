//! [`MultiLock`]: several locks taken as one (Curator's
//! `InterProcessMultiLock`), all or nothing, in the one global order of
//! [`super::order`] so that two multi-locks over overlapping sets never
//! wait for each other in a cycle.
//!
//! How an acquire goes:
//!
//! 1. Every member not held yet is *tried* at once: their creates and
//!    listings go out in one write, so over free paths the whole set costs
//!    one round trip, as one lock does.
//! 2. The tries are read in the global order. Up to the first busy member
//!    the locks are kept; members after it are let go (their nodes deleted,
//!    or released if the try took them).
//! 3. The acquire then waits in line for that busy member, holding only
//!    members before it in the order: a cycle of waits would need someone
//!    to wait for a member ordered before one it holds, which nobody does.
//! 4. Once it holds that member, back to 1 with the members after it.
//!
//! Whatever ends an acquire without every lock (a member's error, the
//! deadline, a cancel), the locks taken so far are released and every
//! node it created is deleted.

use super::attempt::{Outcome, Try};
use super::multi_guard::{MemberGuard, MultiGuard};
use super::queue_lock::{QueueLock, guard_of};
use super::reentrant::Reentrant;
use super::semaphore::Semaphore;
use super::strategy::{Exclusive, Strategy};
use super::walker::{self, Config, WalkState};
use crate::client::Client;
use crate::error::{Error, Result};
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

/// A lock of any kind, as a member of a [`MultiLock`]: made with `From`
/// from a [`super::Lock`], [`super::ReadLock`], [`super::WriteLock`],
/// [`Semaphore`] or a reentrant lock.
pub struct Member(Box<dyn Lockable>);

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Member")
            .field("kind", &self.0.kind())
            .field("path", &self.0.path())
            .finish()
    }
}

/// What a [`MultiLock`] needs of a member.
trait Lockable: Send + Sync {
    fn path(&self) -> &str;
    /// A short name for messages, and the tie-break of the order.
    fn kind(&self) -> &'static str;
    /// Starts a try (within `deadline` and a request timeout), its first
    /// requests sent, not waited for, when the member can pipeline them.
    fn start_try(&self, deadline: Option<Instant>) -> Result<Box<dyn Started>>;
    /// Waits in line until `deadline` (for ever for `None`), unless `stop`
    /// (asked once the attempt can hear the member's cancel) says otherwise.
    fn acquire_until(
        &self,
        deadline: Option<Instant>,
        stop: &dyn Fn() -> bool,
    ) -> Result<MemberGuard>;
    fn cancel(&self);
}

/// A try under way.
trait Started {
    /// The lock if the try took it.
    fn finish(self: Box<Self>) -> Result<Option<MemberGuard>>;
}

impl<S: Strategy> Lockable for QueueLock<S> {
    fn path(&self) -> &str {
        QueueLock::path(self)
    }
    fn kind(&self) -> &'static str {
        S::NAME
    }
    fn start_try(&self, deadline: Option<Instant>) -> Result<Box<dyn Started>> {
        self.check_identifier()?;
        let config = self.config();
        let by = self.client().default_deadline();
        let by = deadline.map_or(by, |d| d.min(by));
        let mut walk = walker::start(&config, Try(by), self.enter())?;
        walk.begin(&config);
        Ok(Box::new(QueueTry { config, walk }))
    }
    fn acquire_until(
        &self,
        deadline: Option<Instant>,
        stop: &dyn Fn() -> bool,
    ) -> Result<MemberGuard> {
        Ok(MemberGuard::Plain(Self::acquire_until(
            self, deadline, stop,
        )?))
    }
    fn cancel(&self) {
        QueueLock::cancel(self);
    }
}

/// A queue lock's try: its create and listing went out with the others'.
struct QueueTry {
    config: Config,
    walk: WalkState<Try>,
}

impl Started for QueueTry {
    fn finish(mut self: Box<Self>) -> Result<Option<MemberGuard>> {
        loop {
            // A try never parks: its poll is ready.
            if let Poll::Ready(ending) = self.walk.poll(&self.config)? {
                return Ok(match ending {
                    Outcome::Held(a) => Some(MemberGuard::Plain(guard_of(&self.config, a))),
                    Outcome::Busy(()) => None,
                });
            }
        }
    }
}

/// A try that does its work when finished (no pipelining).
struct Later<F: FnOnce() -> Result<Option<MemberGuard>>>(F);

impl<F: FnOnce() -> Result<Option<MemberGuard>>> Started for Later<F> {
    fn finish(self: Box<Self>) -> Result<Option<MemberGuard>> {
        (self.0)()
    }
}

/// A `Later` try made of a member's own `try_acquire`.
fn later(f: impl FnOnce() -> Result<Option<MemberGuard>> + 'static) -> Result<Box<dyn Started>> {
    Ok(Box::new(Later(f)))
}

impl Lockable for Semaphore {
    fn path(&self) -> &str {
        Semaphore::path(self)
    }
    fn kind(&self) -> &'static str {
        "Semaphore"
    }
    fn start_try(&self, _: Option<Instant>) -> Result<Box<dyn Started>> {
        let sem = self.twin();
        later(move || Ok(sem.try_acquire()?.map(MemberGuard::Plain)))
    }
    fn acquire_until(
        &self,
        deadline: Option<Instant>,
        stop: &dyn Fn() -> bool,
    ) -> Result<MemberGuard> {
        Ok(MemberGuard::Plain(Self::acquire_until(
            self, deadline, stop,
        )?))
    }
    fn cancel(&self) {
        Semaphore::cancel(self);
    }
}

impl<S: Strategy> Lockable for Reentrant<S> {
    fn path(&self) -> &str {
        Reentrant::path(self)
    }
    fn kind(&self) -> &'static str {
        "Reentrant"
    }
    fn start_try(&self, _: Option<Instant>) -> Result<Box<dyn Started>> {
        // A reentrant hold belongs to this thread: taken when finished,
        // on this thread.
        let me = self.twin();
        later(move || Ok(me.try_acquire()?.map(MemberGuard::Reentrant)))
    }
    fn acquire_until(
        &self,
        deadline: Option<Instant>,
        stop: &dyn Fn() -> bool,
    ) -> Result<MemberGuard> {
        Ok(MemberGuard::Reentrant(Self::acquire_until(
            self, deadline, stop,
        )?))
    }
    fn cancel(&self) {
        Reentrant::cancel(self);
    }
}

impl<S: Strategy> From<QueueLock<S>> for Member {
    fn from(lock: QueueLock<S>) -> Member {
        Member(Box::new(lock))
    }
}

impl From<Semaphore> for Member {
    fn from(sem: Semaphore) -> Member {
        Member(Box::new(sem))
    }
}

impl<S: Strategy> From<Reentrant<S>> for Member {
    fn from(lock: Reentrant<S>) -> Member {
        Member(Box::new(lock))
    }
}

/// What a round of tries took (by member index), and the position in the
/// order of the first busy member.
type Round = (Vec<(usize, MemberGuard)>, Option<usize>);

/// Several locks taken as one: all of them, or none.
///
/// ```
/// # fn main() -> zklock::Result<()> {
/// # let client = zklock::Client::connect(&zklock::doc_hosts())?;
/// use zklock::MultiLock;
/// // Move money between two accounts: both locked, in the global order,
/// // whatever order the program names them in.
/// let both = MultiLock::new(&client, ["/zklock-doc/accounts/b", "/zklock-doc/accounts/a"])?;
/// let guard = both.acquire_timeout(std::time::Duration::from_secs(10))?;
/// let tokens = guard.fencing_tokens()?; // b's, then a's: the order given
/// assert_eq!(tokens.len(), 2);
/// guard.release()?; // in reverse order
/// # Ok(()) }
/// ```
///
/// Members of any kind combine with [`MultiLock::of`]. A path may appear
/// once. The guard is a [`MultiGuard`].
pub struct MultiLock {
    /// Bumped by every [`MultiLock::cancel`].
    cancels: AtomicU64,
    members: Vec<Member>,
    /// Indices into `members`, in the global order.
    order: Vec<usize>,
}

impl std::fmt::Debug for MultiLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiLock")
            .field("members", &self.members)
            .finish()
    }
}

impl MultiLock {
    /// An exclusive [`super::Lock`] on every path, taken as one.
    ///
    /// # Errors
    /// [`Error::InvalidPath`] for a bad path; [`Error::InvalidArgument`]
    /// for no path at all, or a path given twice.
    pub fn new<I, P>(client: &Client, paths: I) -> Result<MultiLock>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<str>,
    {
        let members = paths
            .into_iter()
            .map(|p| QueueLock::<Exclusive>::new(client, p.as_ref()).map(Member::from))
            .collect::<Result<Vec<_>>>()?;
        MultiLock::of(members)
    }

    /// Locks of any kind, taken as one.
    ///
    /// ```
    /// # fn main() -> zklock::Result<()> {
    /// # let client = zklock::Client::connect(&zklock::doc_hosts())?;
    /// use zklock::{Member, MultiLock, ReadLock, Semaphore, WriteLock};
    /// let multi = MultiLock::of([
    ///     Member::from(WriteLock::new(&client, "/zklock-doc/multi/table")?),
    ///     Member::from(ReadLock::new(&client, "/zklock-doc/multi/schema")?),
    ///     Member::from(Semaphore::new(&client, "/zklock-doc/multi/slots", 4)?),
    /// ])?;
    /// let guard = multi.acquire()?;
    /// assert_eq!(guard.fencing_tokens()?.len(), 3);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for no member, or a path given twice
    /// (two kinds on one path would wait for each other).
    pub fn of<I, M>(members: I) -> Result<MultiLock>
    where
        I: IntoIterator<Item = M>,
        M: Into<Member>,
    {
        let members: Vec<Member> = members.into_iter().map(Into::into).collect();
        if members.is_empty() {
            return Err(Error::InvalidArgument("a MultiLock needs a lock".into()));
        }
        let mut order: Vec<usize> = (0..members.len()).collect();
        order.sort_by(|&a, &b| {
            let (a, b) = (&members[a].0, &members[b].0);
            (a.path(), a.kind()).cmp(&(b.path(), b.kind()))
        });
        for pair in order.windows(2) {
            let (a, b) = (&members[pair[0]].0, &members[pair[1]].0);
            if a.path() == b.path() {
                return Err(Error::InvalidArgument(format!(
                    "{} appears twice in a MultiLock",
                    a.path()
                )));
            }
        }
        Ok(MultiLock {
            cancels: AtomicU64::new(0),
            members,
            order,
        })
    }

    /// The members' paths, in the order given.
    pub fn paths(&self) -> Vec<&str> {
        self.members.iter().map(|m| m.0.path()).collect()
    }

    /// Blocks until every lock is held.
    ///
    /// # Errors
    /// A member's error ([`Error::Cancelled`] after [`MultiLock::cancel`],
    /// [`Error::SessionLost`]...), after releasing what was taken.
    pub fn acquire(&self) -> Result<MultiGuard> {
        self.run(None, true).and_then(|g| g.ok_or(Error::Timeout))
    }

    /// As [`MultiLock::acquire`], giving up after `timeout`: one deadline
    /// for every member.
    ///
    /// # Errors
    /// [`Error::Timeout`], after releasing what was taken; those of
    /// [`MultiLock::acquire`].
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<MultiGuard> {
        self.run(Some(Instant::now() + timeout), true)
            .and_then(|g| g.ok_or(Error::Timeout))
    }

    /// Takes every lock if each is free now, without waiting; `Ok(None)`
    /// otherwise, having taken none.
    ///
    /// # Errors
    /// A member's error.
    pub fn try_acquire(&self) -> Result<Option<MultiGuard>> {
        self.run(None, false)
    }

    /// Makes every acquire pending on this multi-lock return
    /// [`Error::Cancelled`] promptly, releasing what it took.
    pub fn cancel(&self) {
        self.cancels.fetch_add(1, Ordering::SeqCst);
        for m in &self.members {
            m.0.cancel();
        }
    }

    /// The acquire: see the module doc. `wait`: wait for busy members
    /// until `deadline`; otherwise a busy member ends it with `None`.
    fn run(&self, deadline: Option<Instant>, wait: bool) -> Result<Option<MultiGuard>> {
        let start = self.cancels.load(Ordering::SeqCst);
        let stop = || self.cancels.load(Ordering::SeqCst) != start;
        let mut held: Vec<Option<MemberGuard>> = self.members.iter().map(|_| None).collect();
        let mut from = 0; // the first member, in the order, not held
        while from < self.order.len() {
            if stop() {
                return Err(Error::Cancelled); // `held` is dropped: released
            }
            let (taken, busy) = match self.try_from(from, deadline) {
                // A round of tries is bounded by a request timeout; an
                // acquire that may wait longer waits through a connection
                // loss by trying again (what this round took is released).
                Err(Error::Timeout) if wait && deadline.is_none_or(|d| Instant::now() < d) => {
                    continue;
                }
                other => other?,
            };
            for (i, g) in taken {
                held[i] = Some(g);
            }
            let Some(busy) = busy else { break };
            if !wait {
                return Ok(None); // `held` is dropped: released
            }
            let i = self.order[busy];
            held[i] = Some(self.members[i].0.acquire_until(deadline, &stop)?);
            from = busy + 1;
        }
        // In acquisition order, each with its member's index.
        let guards = self
            .order
            .iter()
            .filter_map(|&i| held[i].take().map(|g| (i, g)))
            .collect();
        Ok(Some(MultiGuard::new(guards, self.members.len())))
    }

    /// Tries members `order[from..]` at once (pipelined): the locks taken
    /// before the first busy member (by member index), and that member's
    /// position in the order. Locks after it are let go; on an error, every
    /// lock this round took is.
    fn try_from(&self, from: usize, deadline: Option<Instant>) -> Result<Round> {
        let started = self.order[from..]
            .iter()
            .map(|&i| self.members[i].0.start_try(deadline))
            .collect::<Result<Vec<_>>>()?;
        let mut taken = Vec::new();
        let mut busy = None;
        for (pos, try_) in (from..).zip(started) {
            match (try_.finish()?, busy) {
                (Some(g), None) => taken.push((self.order[pos], g)),
                (Some(g), Some(_)) => drop(g), // after a busy member: let go
                (None, None) => busy = Some(pos),
                (None, Some(_)) => {}
            }
        }
        log::trace!("zklock: multi-lock tried from {from}: busy at {busy:?}");
        Ok((taken, busy))
    }
}
