//! The queue walker: the one implementation of the lock recipe that every
//! lock kind (and the semaphore's internal lock) runs. This is the canonical
//! write-up of the hand-off argument (why a waiter may hold without listing
//! again); everything else points here.
//!
//! 1. Create an ephemeral-sequential contender node named with a fresh
//!    unique prefix, and list the directory in the same write: the server
//!    answers both in order, so the listing already holds our node and every
//!    contender that can ever be ahead of us.
//! 2. Ask the strategy: do we hold the lock? If not, which one node must go
//!    first (the blocker)?
//! 3. Watch the blocker with get-data (not exists: no watch is left on the
//!    server when it is already gone), and wait on the attempt's channel.
//! 4. When the blocker is deleted: if nothing else in our listing could
//!    block us ([`super::strategy::holds_once_gone`]), we hold the lock at
//!    once, without listing again (counters only grow, so nothing can have
//!    appeared ahead of us); the waiter
//!    right behind the holder, the usual case of a hand-off, saves the
//!    round trip Curator and kazoo spend on a new listing. Threads sharing
//!    a handle know more: if a node created no earlier than the blocker has
//!    held the lock through this handle, everything ahead of the blocker
//!    was gone by then, for good, and we hold at once too. Otherwise one new
//!    listing tells (checking the old entries one by one would cost a round
//!    trip each); after any session event or error, list again as well. A
//!    waiter keeps nothing of its listing but its blocker's name, so it
//!    costs the same however long the queue.
//!
//! **Local hand-offs.** When the blocker is a node of our own session, the
//! server's notification of its deletion is not needed: a guard of this
//! session that lets go (release or drop) first queues its delete on the
//! session's connection, then wakes the waiters of its session whose
//! blocker its node is
//! ([`super::handoff`]); a waiter so woken concludes exactly as it would
//! from the deletion's watch event (step 4, the same rule and the same
//! checks), microseconds after the release call instead of a round trip
//! and a notification later. Why this never lets two holders in:
//! - The releasing guard has let go for good before it wakes anyone (its
//!   state is `Released`, and `check()` fails from then on): its holder
//!   touches the resource no more, exactly as after the delete lands.
//! - The delete is already queued on the session's connection (`release()`
//!   wakes while it is being written, under the lock every request of the
//!   connection goes through; a drop, once its background delete is sent),
//!   so whatever the new holder sends goes out behind it, and the server
//!   applies it first (one session's requests are applied in order); other
//!   sessions see the queue advance in
//!   the same order as before, and wait for the new holder's node, which
//!   was behind the old one. A waiter of another session between the two
//!   nodes cannot exist: the local waiter's listing showed the releasing
//!   node as its nearest blocker, and counters only grow, so nothing can
//!   appear between them. What was ahead of the releasing node is gone too:
//!   the listing showed nothing else (the blocker was its last), or its
//!   handle saw a later node hold (step 4), or the wake says the releasing
//!   guard held a writer's place in a queue read with the same writer
//!   markers: it held only once every node ahead of it had gone, for good.
//!   A reader's release says nothing of the sort (readers may still be
//!   ahead of it), so a writer behind it lists again.
//!   FIFO across sessions is the server's order, unchanged: a local waiter
//!   never passes another session's node.
//! - Fencing tokens still increase: the new holder's token is its node's
//!   creation zxid, larger than the old node's.
//! - Only while the session is connected, and only for waiters of that same
//!   session (the registry keeps each waiter's session id). If the
//!   connection breaks after the delete was written, the delete is sent
//!   again first on reconnection (background deletes go out before any
//!   caller's request); if the session is lost before the delete lands,
//!   both nodes vanish with it and the new holder is told `Lost`, as any
//!   holder of a lost session is.
//! - A release that fails or is retried: the wake comes after the delete
//!   was queued, whatever its reply; a failed delete is retried in the
//!   background until the server confirms it. Should the connection break
//!   with the delete unsent and the new holder send on the next connection
//!   first, the old node merely stays a little longer: every other session
//!   still waits for it, and its own holder has let go, so nobody holds
//!   beside the new holder; the queue moves on once the retried delete
//!   lands. A release of a guard already lost wakes nobody who
//!   was not woken by the deletion already.
//! - A waiter cancelled or timed out in that instant ends its attempt and
//!   deletes its node as always; nobody holds because of the wake, and the
//!   next contender of another session waits for both deletes.
//! - A reader group behind a writer: each reader whose nearest blocker was
//!   the writer holds, as each would on the deletion's event; a writer
//!   behind a local reader with other readers ahead lists again, as before.
//! - Which waiters get ready (register, and watch their own node, one
//!   request): those whose blocker is their last one, or who share a
//!   handle with other attempts, or whose blocker is a contender node of
//!   this client (the registry's list, a hint only: a waiter not ready
//!   simply waits for the server's notification, as before).
//! - Sequence wrap changes nothing: the decision was made on the listing's
//!   order (the counter as the signed number it is), not on the wake.
//! - Our own node deleted externally: as in step 4, the own-node watch must
//!   be confirmed before a wake can make us hold; a deletion whose
//!   notification is still in flight reaches the new holder as `Lost` a
//!   moment later, as it would reach any holder.
//!
//! A debug-build switch (`lock::debug_break_local_handoffs`) breaks the
//! rule on purpose, waking every local waiter at any release;
//! `tests/handoff.rs` shows the overlap it causes.
//!
//! A contender must never go on to "hold" a lock with no node (someone may
//! delete it), alongside the next contender: a new listing shows whether
//! the node is there, and to hold without one, a waiter first watches its
//! own node (only when it may hold without listing: a request per hand-off
//! otherwise spent for nothing). A contender whose node went queues again
//! at the back, as kazoo does.
//!
//! From the moment the create is sent the node is in doubt until its reply
//! says otherwise (see [`super::cleanup`]). If the reply is lost, the
//! walker lists the directory and looks for its unique prefix before it
//! creates another (the "GUID" note of ZooKeeper's recipes). Whatever ends an
//! attempt without the lock (timeout, cancel, error, a busy try), the node
//! (or the node in doubt) is deleted, and a delete that cannot be confirmed
//! is handed to the client's background deletes, never dropped.

use super::attempt::{Attempt, Mode, Outcome, stop};
use super::cleanup::Claim;
use super::handoff::{self, LocalNode, LocalWaiters, Registration};
use super::name::{self, Contender, Flavor, Kind};
use super::ownership::Ownership;
use super::revocation::{self, Revoke};
use super::strategy::{self, Decision};
use super::wait::{Canceller, Waiter, Wake};
use crate::client::scope::{Acl, Call, EpochStatus, ReplyExt, ReplyRx};
use crate::client::{Client, CreateMode, EventType};
use crate::error::{Failure, Result, ZkError};
use crate::path;
use std::collections::HashSet;
use std::sync::Arc;
use std::task::Poll;

/// What a lock handle is, for the walker: fixed for the handle's life.
/// (What one call asks for, wait or try and until when, is its [`Mode`].)
/// Owned, so a background attempt can keep it.
#[derive(Clone)]
pub(crate) struct Config {
    pub client: Client,
    /// The lock directory.
    pub dir: String,
    /// Whose node names to write.
    pub flavor: Flavor,
    /// Which lock the contenders take part in.
    pub kind: Kind,
    /// How missing ancestors of `dir` are created.
    pub parents: CreateMode,
    /// The contender nodes' data (the identifier).
    pub data: Vec<u8>,
    pub ephemeral: bool,
    /// The strategy's rule.
    pub decide: fn(&[Contender], usize) -> Decision,
    /// Extra writer markers to recognise in the directory.
    pub extra: Vec<String>,
    /// Whether (and how) to revoke the contenders that block an acquire
    /// before waiting for them, and the request to write.
    pub revoke: Option<(Revoke, &'static [u8])>,
    /// The ACL of the contender nodes and of the directories created.
    pub acl: Vec<Acl>,
}

/// A lock just acquired: the ownership of its node, and the node's
/// creation zxid.
pub(crate) struct Acquired {
    pub own: Arc<Ownership>,
    pub czxid: i64,
    /// The node, known to this client's local hand-offs.
    pub local: Option<LocalNode>,
}

/// What to do after waiting on a blocker.
enum Next {
    /// It is gone: take the next blocker from the same listing.
    Gone,
    /// A guard of this session let it go and sent its delete: as good as
    /// gone (see the module doc: local hand-offs). `ahead_gone`: it had
    /// held a writer's place, so everything ahead of it had gone too.
    Released { ahead_gone: bool },
    /// Something else happened: list again.
    Relist,
    /// Our own node is gone: queue again.
    Requeue,
}

/// What a wake-up means to a walk waiting for its blocker.
enum Woken {
    /// Decided: what to do next.
    Next(Next),
    /// The blocker is still there (its data changed): watch it again.
    Rewatch,
    /// Nothing for us (a watch of an earlier blocker firing late).
    Ignore,
}

/// A walk waiting for its blocker to go: where it resumes.
struct Parked {
    blocker_path: String,
    own: Arc<Ownership>,
    /// Whether the blocker's going alone would make us the holder.
    holds_after: bool,
    /// The blocker's creation zxid, once known.
    blocker_czxid: Option<i64>,
    /// While we wait: our registration for a local hand-off.
    _local: Option<Registration>,
}

/// One acquire attempt between its steps: everything the walk keeps. A
/// blocking attempt runs it to the end in one [`WalkState::poll`]; a
/// driven one (see [`super::driver`]) parks while it waits for its blocker
/// and is polled again when woken. Dropped before it ends, it deletes
/// whatever node it has (see [`Claim`]).
pub(crate) struct WalkState<M: Mode> {
    mode: M,
    at: Attempt,
    /// Our contender node; whatever the attempt leaves of it is deleted
    /// when the walk ends without handing it to a guard.
    claim: Claim,
    /// The blockers this attempt has revoked already (asked once each).
    revoked: HashSet<String>,
    /// Set while waiting for a blocker.
    parked: Option<Box<Parked>>,
    /// The replies of a create and listing sent ahead by [`WalkState::begin`].
    sent: Option<Vec<ReplyRx>>,
    /// Our node, known to this client's local hand-offs.
    local: Option<LocalNode>,
}

struct Walk<'s, M: Mode> {
    config: &'s Config,
    st: &'s mut WalkState<M>,
}

/// What one attempt ends with.
pub(crate) type Ending<M> = Outcome<Acquired, <M as Mode>::Busy>;

/// Runs one acquire attempt to its end: held, or (a try only) busy.
pub(crate) fn acquire<M: Mode>(config: &Config, mode: M, waiter: Waiter) -> Result<Ending<M>> {
    let mut st = start(config, mode, waiter)?;
    loop {
        // A blocking attempt's poll waits for what it needs, and is ready.
        if let Poll::Ready(ending) = st.poll(config)? {
            return Ok(ending);
        }
    }
}

/// A new attempt in the client's current session; nothing sent yet.
pub(crate) fn start<M: Mode>(config: &Config, mode: M, waiter: Waiter) -> Result<WalkState<M>> {
    let scope = config
        .client
        .scope()
        .map_err(|f| f.into_error(&config.dir))?;
    let prefix = name::contender_prefix(config.flavor, config.kind);
    // Known as this client's before the create is sent, so a waiter that
    // lists it behind us knows it at once.
    let local = LocalWaiters::of(&scope).node(&path::join(&config.dir, &prefix));
    let claim = Claim::new(&scope, &config.dir, prefix, true, config.ephemeral);
    let at = Attempt::new(scope, mode.deadline(), waiter);
    Ok(WalkState {
        mode,
        at,
        claim,
        revoked: HashSet::new(),
        parked: None,
        sent: None,
        local: Some(local),
    })
}

impl<M: Mode> WalkState<M> {
    /// Sends the create of our node and a listing now, without waiting for
    /// the replies (the next poll reads them): attempts begun one after the
    /// other go out in one burst. Nothing if not connected or not at the
    /// start.
    pub fn begin(&mut self, config: &Config) {
        if self.sent.is_some() || self.claim.mine().is_some() || self.claim.in_doubt() {
            return;
        }
        if self.at.scope.status() != EpochStatus::Connected {
            return;
        }
        let calls = vec![create_call(config, &self.claim), Call::list(&config.dir)];
        self.claim.sending();
        match self.at.send(calls) {
            Ok(rxs) => self.sent = Some(rxs),
            Err(_) => self.claim.absent(), // never written
        }
    }

    /// Runs the attempt as far as it can go: to its end, or (a driven
    /// attempt only) until it must wait for a wake-up.
    pub fn poll(&mut self, config: &Config) -> Result<Poll<Ending<M>>> {
        Walk { config, st: self }.run()
    }

    /// The path of our contender node, once it exists.
    pub fn node(&self, config: &Config) -> Option<String> {
        self.claim.mine().map(|(n, ..)| path::join(&config.dir, n))
    }

    /// What cancels this attempt alone.
    pub fn canceller(&self) -> Canceller {
        self.at.waiter.canceller()
    }
}

/// The create of a contender node for `claim`.
fn create_call(config: &Config, claim: &Claim) -> Call {
    let mode = if config.ephemeral {
        CreateMode::EphemeralSequential
    } else {
        CreateMode::PersistentSequential
    };
    Call::create(claim.create_path(), config.data.clone(), mode, &config.acl)
}

impl<M: Mode> Walk<'_, M> {
    fn full(&self, name: &str) -> String {
        path::join(&self.config.dir, name)
    }

    /// We have a node: be woken if it goes.
    fn adopt(&mut self, name: String, czxid: i64) {
        let own = self.st.claim.adopt(name, czxid);
        own.set_waiter(Some(self.st.at.waiter.sender()));
    }

    /// Makes sure we have a node; returns a listing taken after its create,
    /// when one came with it.
    fn obtain_node(&mut self) -> Result<Option<Vec<String>>> {
        loop {
            self.st.at.check()?;
            if self.st.claim.mine().is_some() {
                return Ok(None);
            }
            if self.st.sent.is_some() {
                match self.create()? {
                    Some(listing) => return Ok(Some(listing)),
                    None => continue,
                }
            }
            self.st.at.connected()?;
            let listing = if self.st.claim.in_doubt() {
                self.recover()?
            } else {
                self.create()?
            };
            if listing.is_some() {
                return Ok(listing);
            }
        }
    }

    /// Creates our node and lists the directory in one round trip (or
    /// reads the replies of those [`WalkState::begin`] sent); returns the
    /// listing if the node was created.
    fn create(&mut self) -> Result<Option<Vec<String>>> {
        let replies = match self.st.sent.take() {
            Some(rxs) => self.st.at.collect(rxs)?,
            None => {
                let create = create_call(self.config, &self.st.claim);
                // From here until a reply says otherwise, the node may exist.
                self.st.claim.sending();
                self.st
                    .at
                    .round_trip_vec(vec![create, Call::list(&self.config.dir)])?
            }
        };
        let mut replies = replies.into_iter();
        let missing = || Err(Failure::Protocol("a reply went missing".into()));
        let (created, listing) = (
            replies.next().unwrap_or_else(missing),
            replies.next().unwrap_or_else(missing),
        );
        match created.created() {
            Ok((p, stat)) => {
                self.adopt(path::basename(&p).to_string(), stat.czxid);
                // Without a listing (a rare failure), `run` lists again.
                Ok(listing.children().ok())
            }
            Err(f) => {
                if matches!(f, Failure::Server(_) | Failure::TooLarge(_)) {
                    self.st.claim.absent(); // the server refused it
                }
                if f == Failure::Server(ZkError::NoAuth) {
                    self.leave_nothing();
                }
                if let Failure::Server(ZkError::NoNode) =
                    self.st.at.retryable(f, &self.config.dir)?
                {
                    self.st.at.ensure_parents(
                        &self.config.dir,
                        self.config.parents,
                        &self.config.acl,
                    )?;
                }
                Ok(None)
            }
        }
    }

    /// Our ACL keeps us out of the directory (an ACL that locks out its own
    /// creator): delete it if it is empty, so a directory this attempt made
    /// is not left behind (the server refuses if anyone is queued in it, or
    /// if we may not delete it either).
    fn leave_nothing(&mut self) {
        let delete = Call::delete(&self.config.dir);
        if let Ok(reply) = self.st.at.call(delete) {
            log::debug!(
                "zklock: {} refused us; deleting it if empty: {:?}",
                self.config.dir,
                reply.done()
            );
        }
    }

    /// After a create whose reply was lost: finds our node, if the create
    /// made it. Returns the listing it was found in.
    fn recover(&mut self) -> Result<Option<Vec<String>>> {
        // We may be on another server now, one that has not yet applied the
        // create. A create from the old connection was applied before the
        // session moved here, or refused (SessionMoved); a sync sent from
        // here comes after either, so the listing after it sees the node if
        // it exists. Without it, a second node is created and the first is
        // left at the head of the queue for good.
        let dir = &self.config.dir;
        let [synced, listing] = self.st.at.round_trip([Call::sync(dir), Call::list(dir)])?;
        match synced.and(listing).children() {
            Ok(children) => {
                let Some(found) = self.st.claim.find(&children).cloned() else {
                    self.st.claim.absent();
                    return Ok(None);
                };
                Ok(match self.czxid_of(&found)? {
                    Some(czxid) => {
                        self.adopt(found, czxid);
                        Some(children)
                    }
                    None => None,
                })
            }
            Err(f) => {
                if let Failure::Server(ZkError::NoNode) = self.st.at.retryable(f, dir)? {
                    // No directory, so no node of ours in it.
                    self.st.claim.absent();
                }
                Ok(None)
            }
        }
    }

    /// The creation zxid of a node found after a lost create reply;
    /// `None` if it vanished or the question must be asked again.
    fn czxid_of(&mut self, name: &str) -> Result<Option<i64>> {
        let path = self.full(name);
        match self.st.at.call(Call::exists(&path))?.stat() {
            Ok(s) => Ok(Some(s.czxid)),
            Err(f) => {
                if let Failure::Server(ZkError::NoNode) = self.st.at.retryable(f, &path)? {
                    self.st.claim.absent();
                }
                Ok(None)
            }
        }
    }

    /// Lists the directory; `None`: ask again.
    fn list(&mut self) -> Result<Option<Vec<String>>> {
        self.st.at.connected()?;
        match self.st.at.call(Call::list(&self.config.dir))?.children() {
            Ok(c) => Ok(Some(c)),
            Err(f) => {
                if let Failure::Server(ZkError::NoNode) =
                    self.st.at.retryable(f, &self.config.dir)?
                {
                    self.requeue("the lock directory vanished");
                }
                Ok(None)
            }
        }
    }

    fn run(&mut self) -> Result<Poll<Ending<M>>> {
        loop {
            self.st.at.check()?;
            if self.st.parked.is_some() {
                match self.resume()? {
                    Poll::Pending => return Ok(Poll::Pending),
                    Poll::Ready(Some(ending)) => return Ok(Poll::Ready(ending)),
                    Poll::Ready(None) => continue,
                }
            }
            // A driven attempt waits for a connection parked: the session
            // listener's wake-up resumes it.
            if self.st.at.waiter.driven() && self.st.at.scope.status() == EpochStatus::Suspended {
                return Ok(Poll::Pending);
            }
            let listing = match self.obtain_node()? {
                Some(fresh) => Some(fresh),
                None => self.list()?,
            };
            let Some(children) = listing else { continue };
            let queue = name::queue(&children, &self.config.extra);
            drop(children); // a waiter keeps nothing of the listing but its blocker
            if let Some(ending) = self.walk(queue)? {
                return Ok(Poll::Ready(ending));
            }
        }
    }

    /// Our node vanished while our session lives: someone deleted it.
    fn requeue(&mut self, why: &str) {
        log::warn!(
            "zklock: contender {}* under {} is gone ({why}); queueing again",
            self.st.claim.prefix(),
            &self.config.dir
        );
        self.st.claim.lost();
    }

    /// Decides from one listing: holds, gives up (try), or waits for the
    /// one blocker and then either holds or asks for a new listing.
    /// `Ok(None)` means: list again.
    fn walk(&mut self, queue: Vec<Contender>) -> Result<Option<Ending<M>>> {
        let Some((mine, _, own)) = self.st.claim.mine() else {
            return Ok(None);
        };
        let (mine, own) = (mine.to_string(), own.clone());
        let Some(me) = queue.iter().position(|c| c.name == mine) else {
            self.requeue("not in the listing");
            return Ok(None);
        };
        if own.deleted() {
            self.requeue("deleted by someone else");
            return Ok(None);
        }
        let waiters = LocalWaiters::of(&self.st.at.scope);
        let decision = (self.config.decide)(&queue, me);
        log::trace!("zklock: {mine} at {me} of {}: {decision:?}", queue.len());
        let at = match decision {
            Decision::Holds => return Ok(self.acquired().map(Outcome::Held)),
            Decision::WaitFor(i) => i,
        };
        if let Some(busy) = self.st.mode.give_up() {
            return Ok(Some(Outcome::Busy(busy)));
        }
        self.revoke_blockers(&queue, me)?;
        let Some(blocker) = queue.get(at).map(|c| c.name.clone()) else {
            return Ok(None); // a strategy that names no contender: list again
        };
        // Would we hold once the blocker is gone? Then its deletion alone
        // settles it (see the module doc: the hand-off). Nothing else of the
        // listing is kept: a waiter costs the same however long the queue.
        let holds_after = strategy::holds_once_gone(self.config.decide, queue, me, at);
        let blocker_path = self.full(&blocker);
        // Our own node's watch is what makes concluding without a new
        // listing safe, so it is set when that can happen: the blocker is
        // our last one, or other attempts of this handle may hold before us
        // (see `held_since`), or the blocker is a node of this client,
        // whose guard's release can tell that everything ahead had gone.
        // Otherwise the blocker's going leads to a new listing anyway, and
        // that listing checks our node: a watch would be one request per
        // hand-off for nothing.
        let may_conclude =
            holds_after || self.st.at.waiter.others_in_flight() || waiters.is_local(&blocker_path);
        if may_conclude {
            own.watch();
        }
        // A guard of this session letting the blocker go can wake us at
        // once: registered before the watch is sent, so a release while it
        // is in flight counts too (the wake is kept for the wait).
        let local = (may_conclude || handoff::broken()).then(|| {
            waiters.register(
                &self.st.at.scope,
                &blocker_path,
                self.st.at.waiter.sender(),
                &self.config.extra,
            )
        });
        match self.watch(&blocker_path)? {
            Err(next) => Ok(self.after_wait(next, holds_after, None, &own)),
            Ok(czxid) => {
                // Wait for it: `run` resumes the walk from here.
                self.st.parked = Some(Box::new(Parked {
                    blocker_path,
                    own,
                    holds_after,
                    blocker_czxid: Some(czxid),
                    _local: local,
                }));
                Ok(None)
            }
        }
    }

    /// What the end of the wait for a blocker leads to: hold, or list
    /// again (`None`). See the module doc: the hand-off.
    fn after_wait(
        &mut self,
        next: Next,
        holds_after: bool,
        blocker_czxid: Option<i64>,
        own: &Arc<Ownership>,
    ) -> Option<Ending<M>> {
        // Threads sharing this handle know more: if a node created no
        // earlier than the blocker has held the lock through it, everything
        // ahead of the blocker was gone by then, and stays gone.
        // A guard of this session that held a writer's place and let the
        // blocker go knew the same of it.
        let ahead_gone = holds_after
            || blocker_czxid.is_some_and(|z| self.st.at.waiter.held_since(z))
            || matches!(next, Next::Released { ahead_gone: true });
        match next {
            // Safe only if a deletion of our own node could not have gone
            // unnoticed: with the watch confirmed, its event would have come
            // before the blocker's (the server sends them in zxid order).
            Next::Gone | Next::Released { .. } if ahead_gone && own.armed() && !own.deleted() => {
                log::trace!("zklock: {} holds: its blocker went", own.node());
                if matches!(next, Next::Released { .. }) {
                    LocalWaiters::of(&self.st.at.scope).count();
                }
                self.acquired().map(Outcome::Held)
            }
            // The rule broken on purpose (debug builds, for the test that
            // must catch it): hold at any local release.
            Next::Released { .. } if handoff::broken() => self.acquired().map(Outcome::Held),
            Next::Gone | Next::Released { .. } | Next::Relist => None,
            Next::Requeue => {
                self.requeue("deleted by someone else");
                None
            }
        }
    }

    /// Waits for the parked walk's blocker (a driven attempt: takes the
    /// wake-ups there are, then parks again). `Ready(None)`: list again.
    fn resume(&mut self) -> Result<Poll<Option<Ending<M>>>> {
        loop {
            let Some(p) = &self.st.parked else {
                return Ok(Poll::Ready(None));
            };
            let deadline = self.st.at.deadline;
            let Some(wake) = self.st.at.waiter.next(deadline).map_err(stop)? else {
                return Ok(Poll::Pending);
            };
            log::trace!("zklock: waiting for {}, woken by {wake:?}", p.blocker_path);
            let next = match woken(wake, &p.blocker_path, p.own.node()) {
                Woken::Ignore => continue,
                Woken::Next(next) => next,
                Woken::Rewatch => {
                    let path = p.blocker_path.clone();
                    match self.watch(&path)? {
                        Ok(czxid) => {
                            if let Some(p) = &mut self.st.parked {
                                p.blocker_czxid = Some(czxid);
                            }
                            continue;
                        }
                        Err(next) => next,
                    }
                }
            };
            let Some(p) = self.st.parked.take() else {
                return Ok(Poll::Ready(None));
            };
            return Ok(Poll::Ready(self.after_wait(
                next,
                p.holds_after,
                p.blocker_czxid,
                &p.own,
            )));
        }
    }

    /// With `.revoke(..)`: asks (or removes) the contenders ahead that block
    /// us, once each per attempt, before we wait for them.
    fn revoke_blockers(&mut self, queue: &[Contender], me: usize) -> Result<()> {
        let Some((how, request)) = self.config.revoke else {
            return Ok(());
        };
        let names: Vec<String> = strategy::blocking(queue, me)
            .into_iter()
            .filter_map(|i| queue.get(i).map(|c| c.name.clone()))
            .filter(|n| !self.st.revoked.contains(n))
            .collect();
        if names.is_empty() {
            return Ok(());
        }
        let n =
            revocation::revoke_in_attempt(&mut self.st.at, &self.config.dir, &names, how, request)?;
        log::debug!(
            "zklock: {how:?} revoked {n} of {} blockers under {}",
            names.len(),
            &self.config.dir
        );
        self.st.revoked.extend(names);
        Ok(())
    }

    /// The lock is ours: hand the node over to the guard.
    fn acquired(&mut self) -> Option<Acquired> {
        let (own, czxid) = self.st.claim.take()?;
        self.st.at.waiter.note_held(czxid);
        let local = self.st.local.take();
        Some(Acquired { own, czxid, local })
    }

    /// Watches the blocker at `blocker_path` (get-data: no watch is left
    /// behind when it is gone already): `Ok` with its creation zxid when the
    /// watch is set, or what to do next at once.
    fn watch(&mut self, blocker_path: &str) -> Result<std::result::Result<i64, Next>> {
        self.st.at.check()?;
        let watcher = self.st.at.waiter.watcher(blocker_path);
        match self
            .st
            .at
            .call(Call::get_data_watch(blocker_path, watcher))?
            .data()
        {
            Ok((_, stat)) => Ok(Ok(stat.czxid)),
            Err(f) => Ok(Err(match self.st.at.retryable(f, blocker_path)? {
                Failure::Server(ZkError::NoNode) => Next::Gone,
                _ => Next::Relist,
            })),
        }
    }
}

/// What `wake` means to a walk waiting for `blocker_path` to go, its own
/// node being `own_path`.
fn woken(wake: Wake, blocker_path: &str, own_path: &str) -> Woken {
    match wake {
        Wake::Node { path, event } if path == blocker_path => match event {
            EventType::NodeDeleted => Woken::Next(Next::Gone),
            EventType::Session => Woken::Next(Next::Relist),
            // Data changed: still there, watch it again.
            _ => Woken::Rewatch,
        },
        Wake::Node { path, event } if path == own_path => match event {
            EventType::NodeDeleted => Woken::Next(Next::Requeue),
            _ => Woken::Ignore,
        },
        Wake::Released { path, ahead_gone } if path == blocker_path => {
            Woken::Next(Next::Released { ahead_gone })
        }
        // A release of a node we no longer wait for.
        Wake::Released { .. } => Woken::Ignore,
        // A watch of an earlier blocker firing late.
        Wake::Node { .. } => Woken::Ignore,
        Wake::Session => Woken::Next(Next::Relist),
        // `next` returns only this attempt's own cancels, as errors; a
        // stray one is nothing to act on.
        Wake::Cancel => Woken::Ignore,
    }
}
