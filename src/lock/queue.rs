//! The queue walker: the one implementation of the lock recipe that every
//! lock kind (and the semaphore's internal lock) runs.
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
//!    block us, we hold the lock at once, without listing again (counters
//!    only grow, so nothing can have appeared ahead of us); the waiter
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

use super::attempt::{Attempt, stop};
use super::cleanup::Claim;
use super::name::{self, Contender};
use super::ownership::Ownership;
use super::strategy::Decision;
use super::wait::{Waiter, Wake};
use crate::client::proto::{Request, Response};
use crate::client::shared::{Call, Failure, Reply};
use crate::client::{Client, CreateMode, EventType, ZkError};
use crate::error::{Error, Result};
use crate::path;
use std::sync::Arc;
use std::time::Instant;

/// What one acquire attempt asks for.
pub(crate) struct Spec<'a> {
    pub client: &'a Client,
    /// The lock directory.
    pub dir: &'a str,
    /// Our node's name before the server's counter (unique per attempt).
    pub prefix: String,
    /// How missing ancestors of `dir` are created.
    pub parents: CreateMode,
    pub data: &'a [u8],
    pub ephemeral: bool,
    pub decide: fn(&[Contender], usize) -> Decision,
    /// `None`: wait as long as it takes.
    pub deadline: Option<Instant>,
    /// `false`: give up instead of waiting for another holder.
    pub wait: bool,
    /// Extra writer markers to recognise in the directory.
    pub extra: &'a [String],
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

struct Walk<'s> {
    spec: &'s Spec<'s>,
    at: Attempt<'s>,
    /// Our contender node; whatever the attempt leaves of it is deleted
    /// when the walk ends without handing it to a guard.
    claim: Claim,
}

/// Runs one acquire attempt. `Ok(None)` only when `spec.wait` is false and
/// another contender holds the lock.
pub(crate) fn acquire(spec: &Spec<'_>, waiter: Waiter) -> Result<Option<Acquired>> {
    let at = Attempt::new(spec.client, spec.deadline, waiter)?;
    let claim = Claim::new(
        spec.client,
        spec.dir,
        spec.prefix.clone(),
        true,
        spec.ephemeral,
        at.epoch,
    );
    Walk { spec, at, claim }.run()
}

impl Walk<'_> {
    fn full(&self, name: &str) -> String {
        path::join(self.spec.dir, name)
    }

    /// We have a node: be woken if it goes.
    fn adopt(&mut self, name: String, czxid: i64) {
        let own = self.claim.adopt(name, czxid);
        own.set_waiter(Some(self.at.waiter.sender()));
    }

    fn list(&mut self) -> Result<Reply> {
        self.at.call(Call::new(Request::GetChildren {
            path: self.spec.dir.to_string(),
            watch: false,
        }))
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
        let mode = if self.spec.ephemeral {
            CreateMode::EphemeralSequential
        } else {
            CreateMode::PersistentSequential
        };
        let create = Request::Create {
            path: self.claim.create_path(),
            data: self.spec.data.to_vec(),
            acl: crate::Acl::open_unsafe(),
            mode,
        };
        let list = Request::GetChildren {
            path: self.spec.dir.to_string(),
            watch: false,
        };
        // From here until a reply says otherwise, the node may exist.
        self.claim.sending();
        let [created, listing] = self.at.round_trip([Call::new(create), Call::new(list)])?;
        match created {
            Ok(Response::Created(p, stat)) => {
                self.adopt(path::basename(&p).to_string(), stat.czxid);
                // Without a listing (a rare failure), `run` lists again.
                Ok(match listing {
                    Ok(Response::Children(c, _)) => Some(c),
                    _ => None,
                })
            }
            Ok(r) => Err(Error::Protocol(format!("create answered {r:?}"))),
            Err(f) => {
                if matches!(f, Failure::Server(_) | Failure::TooLarge(_)) {
                    self.claim.absent(); // the server refused it
                }
                if let Failure::Server(ZkError::NoNode) = self.at.retryable(f, self.spec.dir)? {
                    self.at.ensure_parents(self.spec.dir, self.spec.parents)?;
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
        let sync = Call::new(Request::Sync {
            path: self.spec.dir.to_string(),
        });
        let list = Call::new(Request::GetChildren {
            path: self.spec.dir.to_string(),
            watch: false,
        });
        let [synced, listing] = self.at.round_trip([sync, list])?;
        match synced.and(listing) {
            Ok(Response::Children(children, _)) => {
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
            Ok(r) => Err(Error::Protocol(format!("list answered {r:?}"))),
            Err(f) => {
                if let Failure::Server(ZkError::NoNode) = self.at.retryable(f, self.spec.dir)? {
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
        let r = self.at.call(Call::new(Request::Exists {
            path: path.clone(),
            watch: false,
        }))?;
        match r {
            Ok(Response::Stat(s)) => Ok(Some(s.czxid)),
            Ok(r) => Err(Error::Protocol(format!("exists answered {r:?}"))),
            Err(f) => {
                if let Failure::Server(ZkError::NoNode) = self.at.retryable(f, &path)? {
                    self.claim.absent();
                }
                Ok(None)
            }
        }
    }

    fn run(&mut self) -> Result<Option<Acquired>> {
        let mut listing: Option<Vec<String>> = None;
        loop {
            self.at.check()?;
            if let Some(fresh) = self.obtain_node()? {
                listing = Some(fresh);
            }
            let children = match listing.take() {
                Some(c) => c,
                None => {
                    self.at.connected()?;
                    match self.list()? {
                        Ok(Response::Children(c, _)) => c,
                        Ok(r) => return Err(Error::Protocol(format!("list answered {r:?}"))),
                        Err(f) => {
                            if let Failure::Server(ZkError::NoNode) =
                                self.at.retryable(f, self.spec.dir)?
                            {
                                self.requeue("the lock directory vanished");
                            }
                            continue;
                        }
                    }
                }
            };
            let queue = name::queue(&children, self.spec.extra);
            drop(children); // a waiter keeps nothing of the listing but its blocker
            if let Some(acquired) = self.walk(queue)? {
                return Ok(Some(acquired));
            }
            if !self.spec.wait && self.claim.mine().is_some() {
                return Ok(None);
            }
        }
    }

    /// Our node vanished while our session lives: someone deleted it.
    fn requeue(&mut self, why: &str) {
        log::warn!(
            "zklock: contender {}* under {} is gone ({why}); queueing again",
            self.claim.prefix(),
            self.spec.dir
        );
        self.claim.lost();
    }

    /// Decides from one listing: holds, gives up (try), or waits for the
    /// one blocker and then either holds or asks for a new listing.
    /// `Ok(None)` means: list again (or give up, for a try).
    fn walk(&mut self, mut queue: Vec<Contender>) -> Result<Option<Acquired>> {
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
        let decision = (self.spec.decide)(&queue, me);
        log::trace!("zklock: {mine} at {me} of {}: {decision:?}", queue.len());
        let blocker = match decision {
            Decision::Holds => return Ok(self.acquired()),
            Decision::WaitFor(_) if !self.spec.wait => return Ok(None),
            Decision::WaitFor(i) => queue.remove(i).name,
        };
        // Would we hold once the blocker is gone? Then its deletion alone
        // settles it: no new listing (counters only grow, so nothing can
        // appear ahead of us). If another blocker is ahead of it in this
        // listing, it has most likely gone too by then (the blocker held
        // the lock after it); a new listing tells in one round trip, where
        // checking the old entries one by one would take one each.
        let holds_after = (self.spec.decide)(&queue, me - 1) == Decision::Holds;
        // Nothing else of the listing is kept: a waiter costs the same
        // however long the queue.
        drop(queue);
        // Our own node's watch is what makes concluding without a new
        // listing safe (see below), so it is set when that can happen: the
        // blocker is our last one, or other attempts of this handle may hold
        // before us (see `held_since`). Otherwise the blocker's going leads
        // to a new listing anyway, and that listing checks our node: a
        // watch would be one request per hand-off for nothing.
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
                Ok(self.acquired())
            }
            Next::Gone | Next::Relist => Ok(None),
            Next::Requeue => {
                self.requeue("deleted by someone else");
                Ok(None)
            }
        }
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
            let watch = Call {
                request: Request::GetData {
                    path: blocker_path.clone(),
                    watch: true,
                },
                watcher: Some(Box::new(self.at.waiter.watcher(&blocker_path))),
            };
            match self.at.call(watch)? {
                Ok(Response::Data(_, stat)) => czxid = Some(stat.czxid),
                Ok(_) => {}
                Err(f) => {
                    let next = match self.at.retryable(f, &blocker_path)? {
                        Failure::Server(ZkError::NoNode) => Next::Gone,
                        _ => Next::Relist,
                    };
                    return Ok((next, czxid));
                }
            }
            // The watch is set: wait for it (or anything else).
            loop {
                let wake = self.at.waiter.wait(self.spec.deadline).map_err(stop)?;
                log::trace!("zklock: waiting for {blocker_path}, woken by {wake:?}");
                match wake {
                    Wake::Node { path, event } if path == blocker_path => match event {
                        EventType::NodeDeleted => return Ok((Next::Gone, czxid)),
                        EventType::Session => return Ok((Next::Relist, czxid)),
                        // Data changed: still there, watch it again.
                        _ => break,
                    },
                    Wake::Node { path, event } if path == own_path => match event {
                        EventType::NodeDeleted => return Ok((Next::Requeue, czxid)),
                        _ => continue,
                    },
                    // A watch of an earlier blocker firing late.
                    Wake::Node { .. } => continue,
                    Wake::Session => return Ok((Next::Relist, czxid)),
                    Wake::Cancel => return Err(Error::Cancelled),
                }
            }
        }
    }
}
