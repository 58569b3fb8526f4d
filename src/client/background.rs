//! Work the client keeps doing on a caller's behalf until it is done:
//!
//! - **Background deletes**: a delete retried across connection losses
//!   until the server confirms it, so a node whose delete failed is never
//!   forgotten (Curator's "guaranteed delete"). A prefix form finds and
//!   deletes a node whose create reply was lost.
//! - **Background watches**: a data watch registered as soon as the client
//!   is connected and registered again if a connection loss swallowed the
//!   request, so a watch a recipe relies on is never silently missing.
//!
//! Everything pending is written on every (re)connection before any caller
//! may send, so nothing sent after a reconnection can overtake it. Jobs tied
//! to an ephemeral node's session are dropped when that session ends (the
//! server has deleted the node).

use super::outbound::Call;
use super::proto::Reply;
use super::proto::{Request, Response};
use super::shared::{Background, Completion, Entry, Job, Outbound, Shared};
pub(crate) use super::shared::{OnReply, SharedWatcher, Target};
use crate::error::{Failure, ZkError};
use crossbeam_channel::Receiver;
use std::sync::{Arc, Weak};

impl Background {
    fn push(&mut self, job: Job, epoch: Option<u64>) {
        self.next_id += 1;
        let id = self.next_id;
        self.entries.push(Entry {
            id,
            job,
            epoch,
            in_flight: false,
        });
    }

    fn deletes(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| matches!(e.job, Job::Delete { .. }))
            .count()
    }
}

impl Shared {
    /// Hands a delete to the client, which retries it over reconnects until
    /// the server confirms it (or, for an ephemeral node, until its session
    /// has ended and the server deleted it anyway). It is sent at once if
    /// connected. The receiver disconnects when the delete has settled.
    pub fn delete_in_background(
        self: &Arc<Self>,
        target: Target,
        version: Option<i32>,
        ephemeral_epoch: Option<u64>,
    ) -> Receiver<()> {
        let (settled, rx) = crossbeam_channel::bounded(0);
        let job = Job::Delete {
            target,
            version,
            _settled: settled,
        };
        self.background.lock().push(job, ephemeral_epoch);
        self.send_background();
        rx
    }

    /// Registers a data watch on `path` (in session `epoch`) as soon as the
    /// client is connected, again if a connection loss swallows the request,
    /// until the server answers. `on_reply` gets that answer (`Ok` when the
    /// watch is set; `NoNode` when there is nothing to watch; `SessionLost`
    /// if the session ended first), and before it every `ConnectionLoss`
    /// that makes the client send the request again.
    pub fn watch_in_background(
        self: &Arc<Self>,
        path: String,
        epoch: u64,
        watcher: SharedWatcher,
        on_reply: OnReply,
    ) {
        let job = Job::Watch {
            path,
            watcher,
            on_reply,
        };
        self.background.lock().push(job, Some(epoch));
        self.send_background();
    }

    /// Deletes still waiting for the server's confirmation.
    pub fn background_deletes(&self) -> usize {
        self.background.lock().deletes()
    }

    /// Sends the background work not in flight, if connected.
    fn send_background(self: &Arc<Self>) {
        let mut out = self.out.lock();
        if out.stream.is_some() {
            let epoch = out.epoch;
            self.enqueue_background(&mut out, epoch);
            out.flush();
        }
    }

    /// Queues every background job not already in flight onto `out`
    /// (connected in session `epoch`); jobs of ended sessions are dropped.
    /// Completions run later on the I/O thread, never in here (they take the
    /// `background` lock, and some take `out`).
    pub fn enqueue_background(self: &Arc<Self>, out: &mut Outbound, epoch: u64) {
        let mut b = self.background.lock();
        b.entries.retain(|e| e.epoch.is_none_or(|ep| ep == epoch));
        let mut refused = Vec::new();
        for e in b.entries.iter_mut().filter(|e| !e.in_flight) {
            e.in_flight = true;
            let to_sync = match &e.job {
                Job::Delete {
                    target:
                        Target::Prefix { parent: p, .. }
                        | Target::IfData { path: p, .. }
                        | Target::IfCreated { path: p, .. },
                    ..
                } => Some(p),
                _ => None,
            };
            if let Some(path) = to_sync {
                // The node may have been created through another server that
                // this one lags behind: catch up first (see the walker).
                let sync = Call::new(Request::Sync { path: path.clone() });
                if self
                    .enqueue(out, sync, Completion::Internal(Box::new(|_| {})))
                    .is_err()
                {
                    refused.push(e.id);
                    continue;
                }
            }
            let call = match &e.job {
                Job::Delete {
                    target: Target::Path(path),
                    version,
                    ..
                } => Call::new(Request::Delete {
                    path: path.clone(),
                    version: *version,
                }),
                Job::Delete {
                    target: Target::Prefix { parent, .. },
                    ..
                } => Call::new(Request::GetChildren {
                    path: parent.clone(),
                    watch: false,
                }),
                Job::Delete {
                    target: Target::IfData { path, .. } | Target::IfCreated { path, .. },
                    ..
                } => Call::new(Request::GetData {
                    path: path.clone(),
                    watch: false,
                }),
                Job::Watch { path, watcher, .. } => {
                    let w = watcher.clone();
                    Call {
                        request: Request::GetData {
                            path: path.clone(),
                            watch: true,
                        },
                        watcher: Some(Box::new(move |ev| w(ev))),
                    }
                }
            };
            log::trace!("zklock: background {:?} sent", call.request);
            let done = Completion::Internal(Box::new(completion(Arc::downgrade(self), e.id)));
            if let Err((f, _)) = self.enqueue(out, call, done) {
                log::error!("zklock: background request impossible: {f:?}");
                refused.push(e.id);
            }
        }
        b.entries.retain(|e| !refused.contains(&e.id));
    }

    /// Drops the background work of an ended session; watch jobs are told.
    pub fn forget_background_of(&self, epoch: u64) {
        let dropped: Vec<Entry> = {
            let mut b = self.background.lock();
            let (gone, kept) = std::mem::take(&mut b.entries)
                .into_iter()
                .partition(|e| e.epoch == Some(epoch));
            b.entries = kept;
            gone
        };
        for e in dropped {
            if let Job::Watch { on_reply, .. } = e.job {
                on_reply(Err(Failure::SessionLost));
            }
        }
    }
}

/// What to do with the reply to background job `id`.
fn completion(weak: Weak<Shared>, id: u64) -> impl FnOnce(Reply) + Send {
    move |r: Reply| {
        let Some(shared) = weak.upgrade() else { return };
        let mut b = shared.background.lock();
        let Some(pos) = b.entries.iter().position(|e| e.id == id) else {
            return;
        };
        log::trace!(
            "zklock: background job {id} answered {:?}",
            r.as_ref().map(|_| ())
        );
        if matches!(r, Err(Failure::ConnectionLoss) | Err(Failure::Timeout)) {
            // Retried on the next connection (or the next send). A watch's
            // owner may be waiting for it to be confirmed: tell it that it
            // is not, yet.
            b.entries[pos].in_flight = false;
            let owner = match &b.entries[pos].job {
                Job::Watch { on_reply, .. } => Some(on_reply.clone()),
                Job::Delete { .. } => None,
            };
            drop(b);
            if let Some(on_reply) = owner {
                on_reply(r);
            }
            return;
        }
        let entry = b.entries.remove(pos);
        match (entry.job, r) {
            (Job::Watch { on_reply, .. }, r) => {
                drop(b);
                on_reply(r);
            }
            (
                Job::Delete {
                    target: Target::Prefix { parent, prefix },
                    version,
                    _settled,
                },
                Ok(Response::Children(children, _)),
            ) => {
                // Found: delete what matches (usually one node, or none).
                for child in children.iter().filter(|c| c.starts_with(&prefix)) {
                    let job = Job::Delete {
                        target: Target::Path(crate::path::join(&parent, child)),
                        version,
                        _settled: _settled.clone(),
                    };
                    b.push(job, entry.epoch);
                }
                drop(b);
                shared.send_background();
            }
            (
                Job::Delete {
                    target: target @ (Target::IfData { .. } | Target::IfCreated { .. }),
                    _settled,
                    ..
                },
                Ok(Response::Data(found, stat)),
            ) => {
                if let Some(job) = if_ours(target, &found, &stat, _settled) {
                    b.push(job, entry.epoch);
                    drop(b);
                    shared.send_background();
                }
            }
            (Job::Delete { .. }, Ok(_) | Err(Failure::Server(ZkError::NoNode))) => {}
            (Job::Delete { target, .. }, Err(f)) => {
                log::error!("zklock: background delete of {target:?} failed for good: {f:?}");
            }
        }
    }
}

/// The delete of a conditional target's node, read as `found` with `stat`,
/// if the node is the one meant (same data, or same creation zxid): at the
/// version read, so a node changed since is left alone.
fn if_ours(
    target: Target,
    found: &[u8],
    stat: &super::types::Stat,
    settled: crossbeam_channel::Sender<()>,
) -> Option<Job> {
    let path = match target {
        Target::IfData { path, data } if data == found => path,
        Target::IfCreated { path, czxid } if czxid == stat.czxid => path,
        _ => return None,
    };
    Some(Job::Delete {
        target: Target::Path(path),
        version: Some(stat.version),
        _settled: settled,
    })
}
