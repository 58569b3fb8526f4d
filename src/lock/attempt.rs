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
use std::time::Instant;

pub(crate) struct Attempt<'a> {
    pub client: &'a Client,
    /// The session epoch the attempt belongs to: if that session ends, the
    /// attempt fails with `SessionLost` rather than carry on in a new one.
    pub epoch: u64,
    /// `None`: as long as it takes.
    pub deadline: Option<Instant>,
    pub waiter: Waiter,
}

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

    /// Sends `calls` back-to-back in one write and waits for every reply.
    pub fn round_trip(&mut self, calls: Vec<Call>) -> Result<Vec<Reply>> {
        let n = calls.len();
        // Never wait for a connection inside the client: `connected` does
        // that, on the attempt's channel, where cancel can reach it.
        let rxs = match self.client.shared().send(self.epoch, calls, Instant::now()) {
            Ok(rxs) => rxs,
            Err(f) => return Ok(vec![Err(f); n]),
        };
        let deadline = self.call_deadline();
        rxs.iter()
            .map(|rx| self.waiter.reply(rx, deadline).map_err(stop))
            .collect()
    }

    /// One request, one reply.
    pub fn call(&mut self, call: Call) -> Result<Reply> {
        Ok(self.round_trip(vec![call])?.remove(0))
    }

    /// Sorts a failure: connection losses and timeouts (worth retrying
    /// while the attempt has time) and `NoNode` come back; anything else
    /// ends the attempt.
    pub fn retryable(&self, f: Failure, path: &str) -> Result<Failure> {
        match f {
            Failure::ConnectionLoss | Failure::Timeout => {
                self.check()?;
                Ok(f)
            }
            Failure::Server(ZkError::NoNode) => Ok(f),
            f => Err(f.into_error(path)),
        }
    }

    /// Creates `path` and its missing ancestors as `mode` nodes (container
    /// or persistent), within the attempt's deadline and cancellable.
    pub fn ensure_parents(&mut self, path: &str, mode: CreateMode) -> Result<()> {
        let mut missing = vec![path.to_string()];
        while let Some(p) = missing.last().cloned() {
            if p == "/" {
                missing.pop(); // the root always exists
                continue;
            }
            self.connected()?;
            let create = Request::Create {
                path: p.clone(),
                data: Vec::new(),
                acl: crate::Acl::open_unsafe(),
                mode,
            };
            match self.call(Call::new(create))? {
                Ok(_) | Err(Failure::Server(ZkError::NodeExists)) => {
                    missing.pop();
                }
                Err(Failure::Server(ZkError::NoNode)) => {
                    missing.push(crate::path::parent(&p).to_string());
                }
                Err(f) => {
                    self.retryable(f, &p)?;
                }
            }
        }
        Ok(())
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
