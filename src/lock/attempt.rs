//! One acquire attempt's dealings with the client: requests bound to the
//! session the attempt began in (its [`Scope`]), sent pipelined, and waits
//! that stay cancellable and keep the attempt's single deadline. Also the
//! call's mode (wait until a deadline, or try once) and what an attempt
//! ends with.
//!
//! The queue walker, the semaphore's set-up and its lease phase all run on
//! this.

use super::wait::{Stop, Waiter};
use crate::client::CreateMode;
use crate::client::scope::{Acl, Call, EpochStatus, Lineage, Reply, ReplyRx, Scope, Verdict};
use crate::error::{Error, Failure, Result, ZkError};
use std::convert::Infallible;
use std::time::{Duration, Instant};

/// How long an attempt may wait for other holders: the call's mode, apart
/// from the handle's configuration.
pub(crate) trait Mode: Copy + Send + 'static {
    /// What the attempt ends with when another holder is in the way: `()`
    /// for a try; nothing (it cannot happen) for a wait.
    type Busy;
    /// The attempt's deadline; `None`: as long as it takes.
    fn deadline(&self) -> Option<Instant>;
    /// Gives up instead of waiting for another holder: `Some` for a try.
    fn give_up(&self) -> Option<Self::Busy>;
}

/// Wait for other holders, until the deadline (`None`: for ever).
#[derive(Clone, Copy)]
pub(crate) struct Wait(pub Option<Instant>);

/// Take it only if nobody is in the way; the deadline bounds the requests.
#[derive(Clone, Copy)]
pub(crate) struct Try(pub Instant);

impl Mode for Wait {
    type Busy = Infallible;
    fn deadline(&self) -> Option<Instant> {
        self.0
    }
    fn give_up(&self) -> Option<Infallible> {
        None
    }
}

impl Mode for Try {
    type Busy = ();
    fn deadline(&self) -> Option<Instant> {
        Some(self.0)
    }
    fn give_up(&self) -> Option<()> {
        Some(())
    }
}

/// What an attempt ended with: held, or (a try only) busy.
pub(crate) enum Outcome<H, B> {
    Held(H),
    Busy(B),
}

impl<H> Outcome<H, Infallible> {
    /// What a waiting attempt holds: it cannot be busy.
    pub fn held(self) -> H {
        match self {
            Outcome::Held(h) => h,
            Outcome::Busy(never) => match never {},
        }
    }
}

impl<H> Outcome<H, ()> {
    /// What a try holds, if anything.
    pub fn taken(self) -> Option<H> {
        match self {
            Outcome::Held(h) => Some(h),
            Outcome::Busy(()) => None,
        }
    }
}

pub(crate) struct Attempt {
    /// The session epoch the attempt belongs to: if that session ends, the
    /// attempt fails with `SessionLost` rather than carry on in a new one.
    pub scope: Scope,
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

impl Attempt {
    /// An attempt in the client's current session.
    pub fn new(scope: Scope, deadline: Option<Instant>, waiter: Waiter) -> Attempt {
        Attempt {
            scope,
            deadline,
            waiter,
            failures: 0,
        }
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
        let by_request = self.scope.request_deadline();
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

    /// [`Attempt::round_trip`] for a number of calls known at run time.
    pub fn round_trip_vec(&mut self, calls: Vec<Call>) -> Result<Vec<Reply>> {
        let n = calls.len();
        match self.send(calls) {
            Ok(rxs) => self.collect(rxs),
            Err(f) => Ok(vec![Err(f); n]),
        }
    }

    /// Sends `calls` back-to-back in one write, without waiting for a
    /// connection (`connected` does that, on the attempt's channel, where
    /// cancel can reach it) or for the replies ([`Attempt::collect`]).
    pub fn send(&self, calls: Vec<Call>) -> std::result::Result<Vec<ReplyRx>, Failure> {
        self.scope.send(calls, Instant::now())
    }

    /// Waits for the replies of [`Attempt::send`], cancellable, within the
    /// attempt's deadline and the request timeout.
    pub fn collect(&mut self, rxs: Vec<ReplyRx>) -> Result<Vec<Reply>> {
        let deadline = self.call_deadline();
        let mut replies = Vec::with_capacity(rxs.len());
        for rx in &rxs {
            replies.push(self.waiter.reply(rx, deadline).map_err(stop)?);
        }
        if replies.iter().any(Result::is_ok) {
            self.failures = 0;
        }
        Ok(replies)
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
    /// or persistent) with `acl`, within the attempt's deadline and cancellable: one
    /// pipelined round trip per try (see [`Lineage`]); a missing chroot is
    /// [`Error::ChrootMissing`], `NoAuth` names the ancestor.
    pub fn ensure_parents(&mut self, path: &str, mode: CreateMode, acl: &[Acl]) -> Result<()> {
        let lineage = Lineage::new(path, mode, acl);
        loop {
            self.connected()?;
            let replies = self.round_trip_vec(lineage.calls())?;
            let made = lineage.made(&replies);
            match lineage.verdict(replies, self.scope.chroot()) {
                Verdict::Done => return Ok(()),
                Verdict::Failed(e) => return Err(e),
                Verdict::Again(Some((p, f))) => {
                    if f == Failure::Server(ZkError::NoAuth) {
                        // An ACL that keeps us out of what we just made:
                        // leave nothing of it behind.
                        self.undo(made);
                    }
                    self.retryable(f, &p)?;
                }
                Verdict::Again(None) => self.back_off()?,
            }
        }
    }

    /// Deletes `made` (paths this attempt created, top-down), deepest first,
    /// in one round trip; best effort (each goes only if empty and allowed).
    fn undo(&mut self, made: Vec<String>) {
        let deletes: Vec<Call> = made.iter().rev().map(|p| Call::delete(p)).collect();
        if !deletes.is_empty() {
            let replies = self.round_trip_vec(deletes);
            log::debug!("zklock: undid {made:?}: {replies:?}");
        }
    }

    /// Waits until the client is connected in the attempt's session.
    pub fn connected(&mut self) -> Result<()> {
        loop {
            self.check()?;
            match self.scope.status() {
                EpochStatus::Connected => return Ok(()),
                EpochStatus::Closed => return Err(Error::Closed),
                EpochStatus::Lost => return Err(Error::SessionLost),
                // The session listener wakes us when the state changes.
                EpochStatus::Suspended => {
                    self.waiter.wait(self.deadline).map_err(stop)?;
                }
            }
        }
    }
}
