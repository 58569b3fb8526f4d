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
//! If the reply to the create is lost, the node may or may not exist: the
//! walker lists the directory and looks for its unique prefix before it
//! creates another (the "GUID" note of ZooKeeper's recipes). Whatever ends an
//! attempt without the lock (timeout, cancel, error), the node is deleted,
//! and a delete that cannot be confirmed is handed to the client's
//! background deletes, never dropped.

use super::attempt::{Attempt, stop};
use super::guard::settle;
use super::name::{self, Contender};
use super::ownership::Ownership;
use super::strategy::Decision;
use super::wait::{Waiter, Wake};
use crate::client::background::Target;
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

/// Our contender node, as far as we know.
enum Node {
    None,
    /// A create was sent but its reply lost: the node may exist.
    InDoubt,
    Mine {
        name: String,
        czxid: i64,
        own: Arc<Ownership>,
    },
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
    prefix: String,
    node: Node,
}

/// Runs one acquire attempt. `Ok(None)` only when `spec.wait` is false and
/// another contender holds the lock.
pub(crate) fn acquire(spec: &Spec<'_>, waiter: Waiter) -> Result<Option<Acquired>> {
    let mut walk = Walk {
        spec,
        at: Attempt::new(spec.client, spec.deadline, waiter)?,
        prefix: spec.prefix.clone(),
        node: Node::None,
    };
    let outcome = walk.run();
    match outcome {
        Ok(Some(a)) => Ok(Some(a)),
        Ok(None) => {
            walk.clean_up();
            Ok(None)
        }
        Err(e) => {
            walk.clean_up();
            Err(e)
        }
    }
}

impl Walk<'_> {
    fn full(&self, name: &str) -> String {
        path::join(self.spec.dir, name)
    }

    /// We have a node: watch it from now on, and be woken if it goes.
    fn adopt(&mut self, name: String, czxid: i64) {
        log::trace!("zklock: contender {}/{name} created", self.spec.dir);
        let own = Ownership::new(
            self.spec.client,
            self.full(&name),
            self.at.epoch,
            self.spec.ephemeral,
        );
        own.set_waiter(Some(self.at.waiter.sender()));
        self.node = Node::Mine { name, czxid, own };
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
            match &self.node {
                Node::Mine { .. } => return Ok(None),
                Node::None => {
                    self.at.connected()?;
                    let mode = if self.spec.ephemeral {
                        CreateMode::EphemeralSequential
                    } else {
                        CreateMode::PersistentSequential
                    };
                    let create = Request::Create {
                        path: self.full(&self.prefix),
                        data: self.spec.data.to_vec(),
                        acl: crate::Acl::open_unsafe(),
                        mode,
                    };
                    let list = Request::GetChildren {
                        path: self.spec.dir.to_string(),
                        watch: false,
                    };
                    let mut replies = self
                        .at
                        .round_trip(vec![Call::new(create), Call::new(list)])?;
                    let listing = replies.pop().expect("two replies");
                    match replies.pop().expect("two replies") {
                        Ok(Response::Created(p, stat)) => {
                            self.adopt(path::basename(&p).to_string(), stat.czxid);
                            return Ok(match listing {
                                Ok(Response::Children(c, _)) => Some(c),
                                _ => None,
                            });
                        }
                        Ok(r) => return Err(Error::Protocol(format!("create answered {r:?}"))),
                        Err(f) => match self.at.retryable(f, self.spec.dir)? {
                            Failure::Server(ZkError::NoNode) => {
                                self.at.ensure_parents(self.spec.dir, self.spec.parents)?
                            }
                            _ => self.node = Node::InDoubt,
                        },
                    }
                }
                Node::InDoubt => {
                    self.at.connected()?;
                    // We may be on another server now, one that has not yet
                    // applied the create. A create from the old connection
                    // was applied before the session moved here, or refused
                    // (SessionMoved); a sync sent from here comes after
                    // either, so the listing after it sees the node if it
                    // exists. Without it, a second node is created and the
                    // first is left at the head of the queue for good.
                    let sync = Call::new(Request::Sync {
                        path: self.spec.dir.to_string(),
                    });
                    let list = Call::new(Request::GetChildren {
                        path: self.spec.dir.to_string(),
                        watch: false,
                    });
                    let mut replies = self.at.round_trip(vec![sync, list])?;
                    let listing = replies.pop().expect("two replies");
                    match replies.pop().expect("two replies").and(listing) {
                        Ok(Response::Children(children, _)) => {
                            match children.iter().find(|c| c.starts_with(&self.prefix)) {
                                Some(found) => {
                                    let found = found.clone();
                                    if let Some(czxid) = self.czxid_of(&found)? {
                                        self.adopt(found, czxid);
                                        return Ok(Some(children));
                                    }
                                }
                                None => self.node = Node::None,
                            }
                        }
                        Ok(r) => return Err(Error::Protocol(format!("list answered {r:?}"))),
                        Err(f) => {
                            if let Failure::Server(ZkError::NoNode) =
                                self.at.retryable(f, self.spec.dir)?
                            {
                                // No directory, so no node of ours in it.
                                self.node = Node::None;
                            }
                        }
                    }
                }
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
                    self.node = Node::None;
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
            if !self.spec.wait && matches!(self.node, Node::Mine { .. }) {
                return Ok(None);
            }
        }
    }

    /// Our node vanished while our session lives: someone deleted it.
    fn requeue(&mut self, why: &str) {
        log::warn!(
            "zklock: contender {}* under {} is gone ({why}); queueing again",
            self.prefix,
            self.spec.dir
        );
        if let Node::Mine { own, .. } = std::mem::replace(&mut self.node, Node::None) {
            own.release();
        }
    }

    /// Decides from one listing: holds, gives up (try), or waits for the
    /// one blocker and then either holds or asks for a new listing.
    /// `Ok(None)` means: list again (or give up, for a try).
    fn walk(&mut self, mut queue: Vec<Contender>) -> Result<Option<Acquired>> {
        let Node::Mine {
            name: mine,
            czxid,
            own,
        } = &self.node
        else {
            return Ok(None);
        };
        let (mine, czxid, own) = (mine.clone(), *czxid, own.clone());
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
            Decision::Holds => return Ok(Some(self.acquired(czxid))),
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
                Ok(Some(self.acquired(czxid)))
            }
            Next::Gone | Next::Relist => Ok(None),
            Next::Requeue => {
                self.requeue("deleted by someone else");
                Ok(None)
            }
        }
    }

    /// The lock is ours: hand the node over to the guard.
    fn acquired(&mut self, czxid: i64) -> Acquired {
        self.at.waiter.note_held(czxid);
        match std::mem::replace(&mut self.node, Node::None) {
            Node::Mine { own, .. } => Acquired { own, czxid },
            _ => unreachable!("the node is ours"),
        }
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

    /// Removes whatever node this attempt may have left.
    fn clean_up(&mut self) {
        let shared = self.spec.client.shared();
        let ephemeral_epoch = self.spec.ephemeral.then_some(self.at.epoch);
        match std::mem::replace(&mut self.node, Node::None) {
            Node::None => {}
            Node::Mine { name, own, .. } => {
                own.release();
                // Sent at once; confirmed before we return when the server
                // is healthy, so a failed try leaves nothing behind when it
                // returns; never waited for through a partition.
                let settled = shared.delete_in_background(
                    Target::Path(self.full(&name)),
                    None,
                    ephemeral_epoch,
                );
                settle(self.spec.client, settled, self.at.epoch);
            }
            Node::InDoubt => {
                let settled = shared.delete_in_background(
                    Target::Prefix {
                        parent: self.spec.dir.to_string(),
                        prefix: self.prefix.clone(),
                    },
                    None,
                    ephemeral_epoch,
                );
                settle(self.spec.client, settled, self.at.epoch);
            }
        }
    }
}
