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
use super::name::{self, Contender, Flavor, Kind};
use super::ownership::Ownership;
use super::revocation::{self, Revoke};
use super::strategy::{self, Decision};
use super::wait::{Waiter, Wake};
use crate::client::scope::{Call, ReplyExt};
use crate::client::{Client, CreateMode, EventType};
use crate::error::{Error, Failure, Result, ZkError};
use crate::path;
use std::collections::HashSet;
use std::sync::Arc;

/// What a lock handle is, for the walker: fixed for the handle's life.
/// (What one call asks for, wait or try and until when, is its [`Mode`].)
pub(crate) struct Config<'a> {
    pub client: &'a Client,
    /// The lock directory.
    pub dir: &'a str,
    /// Whose node names to write.
    pub flavor: Flavor,
    /// Which lock the contenders take part in.
    pub kind: Kind,
    /// How missing ancestors of `dir` are created.
    pub parents: CreateMode,
    /// The contender nodes' data (the identifier).
    pub data: &'a [u8],
    pub ephemeral: bool,
    /// The strategy's rule.
    pub decide: fn(&[Contender], usize) -> Decision,
    /// Extra writer markers to recognise in the directory.
    pub extra: &'a [String],
    /// Whether (and how) to revoke the contenders that block an acquire
    /// before waiting for them, and the request to write.
    pub revoke: Option<(Revoke, &'static [u8])>,
}

/// A lock just acquired: the ownership of its node, and the node's
/// creation zxid.
pub(crate) struct Acquired {
    pub own: Arc<Ownership>,
    pub czxid: i64,
}

/// What to do after waiting on a blocker.
enum Next {
    /// It is gone: take the next blocker from the same listing.
    Gone,
    /// Something else happened: list again.
    Relist,
    /// Our own node is gone: queue again.
    Requeue,
}

struct Walk<'s, M: Mode> {
    config: &'s Config<'s>,
    mode: &'s M,
    at: Attempt,
    /// Our contender node; whatever the attempt leaves of it is deleted
    /// when the walk ends without handing it to a guard.
    claim: Claim,
    /// The blockers this attempt has revoked already (asked once each).
    revoked: HashSet<String>,
}

/// What one attempt ends with.
type Ending<M> = Outcome<Acquired, <M as Mode>::Busy>;

/// Runs one acquire attempt: held, or (a try only) busy.
pub(crate) fn acquire<M: Mode>(config: &Config<'_>, mode: &M, waiter: Waiter) -> Result<Ending<M>> {
    let scope = config
        .client
        .scope()
        .map_err(|f| f.into_error(config.dir))?;
    let prefix = name::contender_prefix(config.flavor, config.kind);
    let claim = Claim::new(&scope, config.dir, prefix, true, config.ephemeral);
    let at = Attempt::new(scope, mode.deadline(), waiter);
    Walk {
        config,
        mode,
        at,
        claim,
        revoked: HashSet::new(),
    }
    .run()
}

impl<M: Mode> Walk<'_, M> {
    fn full(&self, name: &str) -> String {
        path::join(self.config.dir, name)
    }

    /// We have a node: be woken if it goes.
    fn adopt(&mut self, name: String, czxid: i64) {
        let own = self.claim.adopt(name, czxid);
        own.set_waiter(Some(self.at.waiter.sender()));
    }

    /// Makes sure we have a node; returns a listing taken after its create,
    /// when one came with it.
    fn obtain_node(&mut self) -> Result<Option<Vec<String>>> {
        loop {
            self.at.check()?;
            if self.claim.mine().is_some() {
                return Ok(None);
            }
            self.at.connected()?;
            let listing = if self.claim.in_doubt() {
                self.recover()?
            } else {
                self.create()?
            };
            if listing.is_some() {
                return Ok(listing);
            }
        }
    }

    /// Creates our node and lists the directory in one round trip; returns
    /// the listing if the node was created.
    fn create(&mut self) -> Result<Option<Vec<String>>> {
        let mode = if self.config.ephemeral {
            CreateMode::EphemeralSequential
        } else {
            CreateMode::PersistentSequential
        };
        let create = Call::create(self.claim.create_path(), self.config.data.to_vec(), mode);
        // From here until a reply says otherwise, the node may exist.
        self.claim.sending();
        let [created, listing] = self.at.round_trip([create, Call::list(self.config.dir)])?;
        match created.created() {
            Ok((p, stat)) => {
                self.adopt(path::basename(&p).to_string(), stat.czxid);
                // Without a listing (a rare failure), `run` lists again.
                Ok(listing.children().ok())
            }
            Err(f) => {
                if matches!(f, Failure::Server(_) | Failure::TooLarge(_)) {
                    self.claim.absent(); // the server refused it
                }
                if let Failure::Server(ZkError::NoNode) = self.at.retryable(f, self.config.dir)? {
                    self.at
                        .ensure_parents(self.config.dir, self.config.parents)?;
                }
                Ok(None)
            }
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
        let dir = self.config.dir;
        let [synced, listing] = self.at.round_trip([Call::sync(dir), Call::list(dir)])?;
        match synced.and(listing).children() {
            Ok(children) => {
                let Some(found) = self.claim.find(&children).cloned() else {
                    self.claim.absent();
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
                if let Failure::Server(ZkError::NoNode) = self.at.retryable(f, dir)? {
                    // No directory, so no node of ours in it.
                    self.claim.absent();
                }
                Ok(None)
            }
        }
    }

    /// The creation zxid of a node found after a lost create reply;
    /// `None` if it vanished or the question must be asked again.
    fn czxid_of(&mut self, name: &str) -> Result<Option<i64>> {
        let path = self.full(name);
        match self.at.call(Call::exists(&path))?.stat() {
            Ok(s) => Ok(Some(s.czxid)),
            Err(f) => {
                if let Failure::Server(ZkError::NoNode) = self.at.retryable(f, &path)? {
                    self.claim.absent();
                }
                Ok(None)
            }
        }
    }

    /// Lists the directory; `None`: ask again.
    fn list(&mut self) -> Result<Option<Vec<String>>> {
        self.at.connected()?;
        match self.at.call(Call::list(self.config.dir))?.children() {
            Ok(c) => Ok(Some(c)),
            Err(f) => {
                if let Failure::Server(ZkError::NoNode) = self.at.retryable(f, self.config.dir)? {
                    self.requeue("the lock directory vanished");
                }
                Ok(None)
            }
        }
    }

    fn run(&mut self) -> Result<Ending<M>> {
        loop {
            self.at.check()?;
            let listing = match self.obtain_node()? {
                Some(fresh) => Some(fresh),
                None => self.list()?,
            };
            let Some(children) = listing else { continue };
            let queue = name::queue(&children, self.config.extra);
            drop(children); // a waiter keeps nothing of the listing but its blocker
            if let Some(ending) = self.walk(queue)? {
                return Ok(ending);
            }
        }
    }

    /// Our node vanished while our session lives: someone deleted it.
    fn requeue(&mut self, why: &str) {
        log::warn!(
            "zklock: contender {}* under {} is gone ({why}); queueing again",
            self.claim.prefix(),
            self.config.dir
        );
        self.claim.lost();
    }

    /// Decides from one listing: holds, gives up (try), or waits for the
    /// one blocker and then either holds or asks for a new listing.
    /// `Ok(None)` means: list again.
    fn walk(&mut self, queue: Vec<Contender>) -> Result<Option<Ending<M>>> {
        let Some((mine, _, own)) = self.claim.mine() else {
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
        let decision = (self.config.decide)(&queue, me);
        log::trace!("zklock: {mine} at {me} of {}: {decision:?}", queue.len());
        let at = match decision {
            Decision::Holds => return Ok(self.acquired().map(Outcome::Held)),
            Decision::WaitFor(i) => i,
        };
        if let Some(busy) = self.mode.give_up() {
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
        // Our own node's watch is what makes concluding without a new
        // listing safe, so it is set when that can happen: the blocker is
        // our last one, or other attempts of this handle may hold before us
        // (see `held_since`). Otherwise the blocker's going leads to a new
        // listing anyway, and that listing checks our node: a watch would be
        // one request per hand-off for nothing.
        if holds_after || self.at.waiter.others_in_flight() {
            own.watch();
        }
        let (next, blocker_czxid) = self.wait_for(&blocker, own.node())?;
        // Threads sharing this handle know more: if a node created no
        // earlier than the blocker has held the lock through it, everything
        // ahead of the blocker was gone by then, and stays gone.
        let ahead_gone = holds_after || blocker_czxid.is_some_and(|z| self.at.waiter.held_since(z));
        match next {
            // Safe only if a deletion of our own node could not have gone
            // unnoticed: with the watch confirmed, its event would have come
            // before the blocker's (the server sends them in zxid order).
            Next::Gone if ahead_gone && own.armed() && !own.deleted() => {
                log::trace!("zklock: {mine} holds: its blocker went");
                Ok(self.acquired().map(Outcome::Held))
            }
            Next::Gone | Next::Relist => Ok(None),
            Next::Requeue => {
                self.requeue("deleted by someone else");
                Ok(None)
            }
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
            .filter(|n| !self.revoked.contains(n))
            .collect();
        if names.is_empty() {
            return Ok(());
        }
        let n = revocation::revoke_in_attempt(&mut self.at, self.config.dir, &names, how, request)?;
        log::debug!(
            "zklock: {how:?} revoked {n} of {} blockers under {}",
            names.len(),
            self.config.dir
        );
        self.revoked.extend(names);
        Ok(())
    }

    /// The lock is ours: hand the node over to the guard.
    fn acquired(&mut self) -> Option<Acquired> {
        let (own, czxid) = self.claim.take()?;
        self.at.waiter.note_held(czxid);
        Some(Acquired { own, czxid })
    }

    /// Watches `blocker` and waits until it goes (or anything else happens);
    /// also returns the blocker's creation zxid, once known.
    fn wait_for(&mut self, blocker: &str, own_path: &str) -> Result<(Next, Option<i64>)> {
        let blocker_path = self.full(blocker);
        let mut czxid = None;
        loop {
            self.at.check()?;
            let watcher = self.at.waiter.watcher(&blocker_path);
            match self
                .at
                .call(Call::get_data_watch(&blocker_path, watcher))?
                .data()
            {
                Ok((_, stat)) => czxid = Some(stat.czxid),
                Err(f) => {
                    let next = match self.at.retryable(f, &blocker_path)? {
                        Failure::Server(ZkError::NoNode) => Next::Gone,
                        _ => Next::Relist,
                    };
                    return Ok((next, czxid));
                }
            }
            // The watch is set: wait for it (or anything else).
            if let Some(next) = self.wait_for_event(&blocker_path, own_path)? {
                return Ok((next, czxid));
            }
        }
    }

    /// Waits for the blocker's watch (or anything else); `None`: the
    /// blocker is still there (its data changed), watch it again.
    fn wait_for_event(&mut self, blocker_path: &str, own_path: &str) -> Result<Option<Next>> {
        loop {
            let wake = self.at.waiter.wait(self.at.deadline).map_err(stop)?;
            log::trace!("zklock: waiting for {blocker_path}, woken by {wake:?}");
            match wake {
                Wake::Node { path, event } if path == blocker_path => match event {
                    EventType::NodeDeleted => return Ok(Some(Next::Gone)),
                    EventType::Session => return Ok(Some(Next::Relist)),
                    // Data changed: still there, watch it again.
                    _ => return Ok(None),
                },
                Wake::Node { path, event } if path == own_path => match event {
                    EventType::NodeDeleted => return Ok(Some(Next::Requeue)),
                    _ => continue,
                },
                // A watch of an earlier blocker firing late.
                Wake::Node { .. } => continue,
                Wake::Session => return Ok(Some(Next::Relist)),
                Wake::Cancel => return Err(Error::Cancelled),
            }
        }
    }
}
