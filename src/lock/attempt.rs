//! One acquire attempt's dealings with the client: requests bound to the
//! session the attempt began in, sent pipelined, and waits that stay
//! cancellable and keep the attempt's single deadline.
//!
//! Both the queue walker and the semaphore's lease phase run on this.

use super::wait::{Stop, Waiter};
use crate::client::proto::Request;
use crate::client::shared::{Call, Failure, Reply};
use crate::client::{Client, CreateMode, SessionState, ZkError};
use crate::error::{Error, Result};
use std::time::{Duration, Instant};

pub(crate) struct Attempt<'a> {
    pub client: &'a Client,
    /// The session epoch the attempt belongs to: if that session ends, the
    /// attempt fails with `SessionLost` rather than carry on in a new one.
    pub epoch: u64,
    /// `None`: as long as it takes.
    pub deadline: Option<Instant>,
    pub waiter: Waiter,
    /// Transient failures in a row, for the back-off.
    failures: u32,
}

/// The first pause before a retry (after the second failure in a row).
const BACKOFF_FIRST: Duration = Duration::from_millis(10);
/// The longest pause before a retry.
const BACKOFF_MAX: Duration = Duration::from_secs(1);

pub(crate) fn stop(s: Stop) -> Error {
    match s {
        Stop::Timeout => Error::Timeout,
        Stop::Cancelled => Error::Cancelled,
    }
}

impl<'a> Attempt<'a> {
    /// An attempt in the client's current session.
    pub fn new(client: &'a Client, deadline: Option<Instant>, waiter: Waiter) -> Result<Self> {
        let epoch = client
            .shared()
            .current_epoch()
            .map_err(|f| f.into_error(""))?;
        Ok(Attempt {
            client,
            epoch,
            deadline,
            waiter,
            failures: 0,
        })
    }

    /// Fails if cancelled or past the deadline.
    pub fn check(&self) -> Result<()> {
        if self.waiter.cancelled() {
            return Err(Error::Cancelled);
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Error::Timeout);
        }
        Ok(())
    }

    /// The deadline of one request: the attempt's, or the request timeout.
    fn call_deadline(&self) -> Instant {
        let by_request = self.client.default_deadline();
        match self.deadline {
            Some(d) => d.min(by_request),
            None => by_request,
        }
    }

    /// Sends `calls` back-to-back in one write and waits for every reply:
    /// `N` calls, `N` replies.
    pub fn round_trip<const N: usize>(&mut self, calls: [Call; N]) -> Result<[Reply; N]> {
        // `round_trip_vec` returns one reply per call.
        self.round_trip_vec(calls.into())?
            .try_into()
            .map_err(|_| Error::Protocol("a reply went missing".into()))
    }

    /// One request, one reply.
    pub fn call(&mut self, call: Call) -> Result<Reply> {
        let [reply] = self.round_trip([call])?;
        Ok(reply)
    }

    /// Sorts a failure: connection losses and timeouts (worth retrying
    /// while the attempt has time, after a back-off that grows with every
    /// failure in a row) and `NoNode` come back; anything else ends the
    /// attempt.
    pub fn retryable(&mut self, f: Failure, path: &str) -> Result<Failure> {
        match f {
            Failure::ConnectionLoss | Failure::Timeout => {
                self.check()?;
                self.back_off()?;
                Ok(f)
            }
            Failure::Server(ZkError::NoNode) => Ok(f),
            f => Err(f.into_error(path)),
        }
    }

    /// Waits before a retry: nothing after the first failure in a row, then
    /// 10 ms, doubling up to a second; cancellable, within the deadline.
    fn back_off(&mut self) -> Result<()> {
        let n = self.failures;
        self.failures = self.failures.saturating_add(1);
        if n == 0 {
            return Ok(());
        }
        let pause = (BACKOFF_FIRST * 2u32.saturating_pow(n - 1)).min(BACKOFF_MAX);
        self.waiter
            .pause(Instant::now() + pause, self.deadline)
            .map_err(stop)
    }

    /// Creates `path` and its missing ancestors as `mode` nodes (container
    /// or persistent), within the attempt's deadline and cancellable.
    ///
    /// One round trip: a create for every ancestor, top-down, pipelined
    /// (those that exist answer `NodeExists`). The deepest answer decides;
    /// when it is `NoNode`, the topmost failure says why: a top-level node
    /// missing means the chroot itself is missing
    /// ([`Error::ChrootMissing`]), and `NoAuth` on an ancestor is reported
    /// for that ancestor.
    pub fn ensure_parents(&mut self, path: &str, mode: CreateMode) -> Result<()> {
        let chain = crate::path::lineage(path);
        if chain.is_empty() {
            // The root: asked for after a top-level node's create found no
            // parent, which only a missing chroot explains.
            return match self.client.shared().chroot() {
                "" => Ok(()),
                chroot => Err(Error::ChrootMissing {
                    chroot: chroot.to_string(),
                }),
            };
        }
        loop {
            self.connected()?;
            let calls: Vec<Call> = chain
                .iter()
                .map(|p| {
                    Call::new(Request::Create {
                        path: p.to_string(),
                        data: Vec::new(),
                        acl: crate::Acl::open_unsafe(),
                        mode,
                    })
                })
                .collect();
            let replies = self.round_trip_vec(calls)?;
            match replies.last() {
                None | Some(Ok(_)) | Some(Err(Failure::Server(ZkError::NodeExists))) => {
                    return Ok(());
                }
                Some(Err(Failure::Server(ZkError::NoNode))) => {}
                Some(Err(f)) => {
                    self.retryable(f.clone(), path)?;
                    continue;
                }
            }
            // Something above is missing and could not be created.
            for (p, r) in chain.iter().zip(replies) {
                match r {
                    Ok(_) | Err(Failure::Server(ZkError::NodeExists)) => {}
                    Err(Failure::Server(ZkError::NoNode)) if crate::path::parent(p) == "/" => {
                        return Err(Error::ChrootMissing {
                            chroot: self.client.shared().chroot().to_string(),
                        });
                    }
                    // Deleted again meanwhile (a container reaped): retry.
                    Err(Failure::Server(ZkError::NoNode)) => break,
                    Err(f) => {
                        self.retryable(f, p)?;
                        break;
                    }
                }
            }
            self.back_off()?;
        }
    }

    /// [`Attempt::round_trip`] for a number of calls known at run time.
    fn round_trip_vec(&mut self, calls: Vec<Call>) -> Result<Vec<Reply>> {
        let n = calls.len();
        // Never wait for a connection inside the client: `connected` does
        // that, on the attempt's channel, where cancel can reach it.
        let replies: Vec<Reply> = match self.client.shared().send(self.epoch, calls, Instant::now())
        {
            Ok(rxs) => {
                let deadline = self.call_deadline();
                let mut replies = Vec::with_capacity(n);
                for rx in &rxs {
                    replies.push(self.waiter.reply(rx, deadline).map_err(stop)?);
                }
                replies
            }
            Err(f) => vec![Err(f); n],
        };
        if replies.iter().any(Result::is_ok) {
            self.failures = 0;
        }
        Ok(replies)
    }

    /// Waits until the client is connected in the attempt's session.
    pub fn connected(&mut self) -> Result<()> {
        loop {
            self.check()?;
            {
                let s = self.client.shared().session.lock();
                if s.closing || s.state == SessionState::Closed {
                    return Err(Error::Closed);
                }
                if s.epoch != self.epoch {
                    return Err(Error::SessionLost);
                }
                if s.state == SessionState::Connected {
                    return Ok(());
                }
            }
            // The session listener wakes us when the state changes.
            self.waiter.wait(self.deadline).map_err(stop)?;
        }
    }
}
