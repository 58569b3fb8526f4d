//! Nodes an attempt may leave behind, and their removal: one mechanism for
//! every recipe (the queue walker's contender nodes, the semaphore's leases).
//!
//! A [`Claim`] stands for the node one attempt asks the server to create.
//! From the moment the create is sent, the node is *in doubt* until a reply
//! says otherwise: the create may be applied even when its reply never
//! reaches us (the connection broke, the deadline passed, the caller
//! cancelled). Whatever ends the attempt without handing the node to a
//! guard (an error, a timeout, a cancel, a try that found the lock busy, a
//! panic: anything that drops the claim) deletes the node:
//!
//! - a node known to be ours, by its path;
//! - a node in doubt, by its unique name (sequential nodes: by the unique
//!   prefix before the server's counter, after a `sync`, so a follower
//!   lagging behind the create cannot hide it).
//!
//! The delete is handed to the client's background deletes, which retry it
//! across reconnections until the server confirms it (or, for an ephemeral
//! node, until its session has ended, which deletes it anyway). While
//! connected, dropping the claim waits for that confirmation, a second at
//! most ([`settle`]), so when an attempt returns its node is gone for every
//! other client; during a partition it returns at once.

use super::ownership::Ownership;
use crate::client::scope::{EpochStatus, Scope, Target};
use crate::path;
use crossbeam_channel::Receiver;
use std::sync::Arc;
use std::time::Duration;

/// How long a drop or an abandoned attempt waits for its node's delete to be
/// confirmed before leaving it to the background (it is sent at once).
pub(crate) const SETTLE_GRACE: Duration = Duration::from_secs(1);

/// Waits, while connected in `scope`'s session, up to [`SETTLE_GRACE`] for
/// a background delete to settle: a healthy server confirms within a round
/// trip, so the node is gone for everyone when this returns; a partition
/// does not hold the caller up.
pub(crate) fn settle(scope: &Scope, settled: Receiver<()>) {
    if scope.status() == EpochStatus::Connected {
        let _ = settled.recv_timeout(SETTLE_GRACE);
    }
}

/// What is known about the claimed node.
enum State {
    /// No create sent, or the server refused it: no node.
    Absent,
    /// A create was sent and its outcome is unknown: the node may exist.
    InDoubt,
    /// The node exists and is ours.
    Mine {
        name: String,
        czxid: i64,
        own: Arc<Ownership>,
    },
}

/// The node one attempt creates (see the [module](self)); deleted when the
/// claim is dropped unless it was handed to a guard with [`Claim::take`].
pub(crate) struct Claim {
    /// The session the attempt runs in.
    scope: Scope,
    dir: String,
    /// The node's name, or for a sequential node the unique prefix the
    /// server appends its counter to.
    prefix: String,
    sequential: bool,
    ephemeral: bool,
    /// For a node at a path others may take too: what ours holds, so a
    /// node in doubt is deleted only if it is ours.
    data: Option<Vec<u8>>,
    state: State,
}

impl Claim {
    /// A claim on a node `prefix` (plus the server's counter, if
    /// `sequential`) under `dir`, by an attempt in `scope`.
    pub fn new(
        scope: &Scope,
        dir: &str,
        prefix: String,
        sequential: bool,
        ephemeral: bool,
    ) -> Claim {
        Claim {
            scope: scope.clone(),
            dir: dir.to_string(),
            prefix,
            sequential,
            ephemeral,
            data: None,
            state: State::Absent,
        }
    }

    /// A claim on the node at `path`, which other clients may create too:
    /// ours holds `data`, and a node in doubt is deleted only if it does.
    pub fn shared_path(scope: &Scope, path: &str, data: Vec<u8>, ephemeral: bool) -> Claim {
        let mut claim = Claim::new(
            scope,
            path::parent(path),
            path::basename(path).to_string(),
            false,
            ephemeral,
        );
        claim.data = Some(data);
        claim
    }

    /// The path to send in the create.
    pub fn create_path(&self) -> String {
        path::join(&self.dir, &self.prefix)
    }

    /// The unique prefix (or name) of the node.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// To be called right before the create is sent: from now on the node
    /// may exist.
    pub fn sending(&mut self) {
        if matches!(self.state, State::Absent) {
            self.state = State::InDoubt;
        }
    }

    /// The server refused the create, or the node is known not to exist.
    pub fn absent(&mut self) {
        if matches!(self.state, State::InDoubt) {
            self.state = State::Absent;
        }
    }

    /// Whether a create was sent whose outcome is unknown.
    pub fn in_doubt(&self) -> bool {
        matches!(self.state, State::InDoubt)
    }

    /// Our node in `children`, if it is there.
    pub fn find<'a>(&self, children: &'a [String]) -> Option<&'a String> {
        children.iter().find(|c| {
            if self.sequential {
                c.starts_with(&self.prefix)
            } else {
                **c == self.prefix
            }
        })
    }

    /// The node `name` (created in zxid `czxid`) is ours: watch it from now
    /// on (see [`Ownership`]).
    pub fn adopt(&mut self, name: String, czxid: i64) -> Arc<Ownership> {
        log::trace!("zklock: node {}/{name} is ours", self.dir);
        let own = Ownership::new(&self.scope, path::join(&self.dir, &name), self.ephemeral);
        self.state = State::Mine {
            name,
            czxid,
            own: own.clone(),
        };
        own
    }

    /// Our node, if it is known to exist: its name, creation zxid and
    /// ownership.
    pub fn mine(&self) -> Option<(&str, i64, &Arc<Ownership>)> {
        match &self.state {
            State::Mine { name, czxid, own } => Some((name, *czxid, own)),
            _ => None,
        }
    }

    /// The path of our node, if it is known to exist.
    pub fn path(&self) -> Option<String> {
        self.mine().map(|(name, ..)| path::join(&self.dir, name))
    }

    /// Our node is gone (someone else deleted it): forget it.
    pub fn lost(&mut self) {
        if let State::Mine { own, .. } = std::mem::replace(&mut self.state, State::Absent) {
            own.release();
        }
    }

    /// Hands our node over to a guard: its ownership and creation zxid.
    /// The claim then has nothing left to clean up.
    pub fn take(&mut self) -> Option<(Arc<Ownership>, i64)> {
        match std::mem::replace(&mut self.state, State::Absent) {
            State::Mine { own, czxid, .. } => Some((own, czxid)),
            other => {
                self.state = other;
                None
            }
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let target = match std::mem::replace(&mut self.state, State::Absent) {
            State::Absent => return,
            State::Mine { name, own, .. } => {
                own.release();
                Target::Path(path::join(&self.dir, &name))
            }
            State::InDoubt if self.data.is_some() => Target::IfData {
                path: self.create_path(),
                data: self.data.take().unwrap_or_default(),
            },
            State::InDoubt if !self.sequential => Target::Path(self.create_path()),
            State::InDoubt => Target::Prefix {
                parent: self.dir.clone(),
                prefix: self.prefix.clone(),
            },
        };
        log::debug!("zklock: deleting {target:?}, left by an attempt that ended");
        let settled = self.scope.delete_in_background(target, self.ephemeral);
        settle(&self.scope, settled);
    }
}
