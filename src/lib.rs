//! zklock: ZooKeeper coordination recipes for threaded Rust programs.

pub mod client;
mod error;
pub mod path;

pub use client::{
    Acl, Client, ClientBuilder, CreateMode, EventType, ListenerId, Op, OpResult, SessionEvent,
    SessionState, Stat, WatchState, WatchedEvent, ZkError, perms,
};
pub use error::{Error, Result};
