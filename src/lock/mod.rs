//! The lock recipes: [`Lock`], [`ReadLock`], [`WriteLock`], [`Semaphore`],
//! the reentrant [`ReentrantLock`] and [`ReentrantReadWriteLock`], and
//! [`MultiLock`] (several locks as one); acquired blocking, or in the
//! background ([`Pending`]).
//!
//! All three lock kinds are one front, [`QueueLock`], over one queue walker,
//! told apart by a small [`Strategy`] (as lock_api's `Mutex` is one front
//! over a `RawMutex`). What they guarantee:
//!
//! - **Exclusion across processes and threads.** Each `acquire` is its own
//!   contender, so threads sharing one handle exclude each other exactly as
//!   processes do.
//! - **FIFO.** Contenders hold the lock in the order they queued; readers
//!   queued together hold it together; writers are never starved.
//! - **No herd.** A waiter watches the one node that must go before it, so
//!   a release wakes one waiter (or the group of readers behind it).
//! - **Nothing left behind.** An attempt that ends without the lock (timeout,
//!   cancel, error, try) deletes its node, including a node whose create was
//!   still in flight when the attempt ended (see `cleanup`); a delete that
//!   cannot be confirmed is retried by the client until it is.
//! - **Fencing.** [`LockGuard::fencing_token`] strictly increases from one
//!   holder to the next.
//!
//! Node names follow kazoo by default, so kazoo clients queue with zklock
//! on the same path unchanged: `<32 hex>__lock__<seq>` for `Lock` and
//! `WriteLock`, `<32 hex>__rlock__<seq>` for `ReadLock`, the identifier as
//! data; [`Flavor::Curator`] writes Curator's names instead. The walker
//! recognises every known format whatever the flavour (see [`name`]).
//!
//! ```
//! use std::time::Duration;
//! # fn main() -> zklock::Result<()> {
//! # let client = zklock::Client::connect(&zklock::doc_hosts())?;
//! let lock = zklock::Lock::new(&client, "/zklock-doc/locks/db")?.identifier("worker-1");
//! {
//!     let guard = lock.acquire()?;
//!     let token = guard.fencing_token()?; // pass it to the resource you protect
//!     guard.check()?;                     // before each write: still held?
//!     # let _ = token;
//! } // released here
//! if let Some(guard) = lock.try_acquire()? {
//!     guard.release()?; // or drop it
//! }
//! match lock.acquire_timeout(Duration::from_secs(2)) {
//!     Ok(_guard) => { /* critical section */ }
//!     Err(zklock::Error::Timeout) => { /* somebody else held it for 2 s */ }
//!     Err(e) => return Err(e),
//! }
//! # Ok(()) }
//! ```
//!
//! # The files
//!
//! - `queue_lock`: the front, [`QueueLock`], and its aliases.
//! - `identity`: identifiers: the default, the size check, reading them back.
//! - [`strategy`] and [`name`]: pure: who holds and whom to watch; the
//!   contender-name formats (kazoo, Curator, zktools, ZooKeeper's recipe,
//!   the zk gem) and their order.
//! - `walker`: the one queue walker (its module doc is the canonical
//!   write-up of the hand-off); `attempt`: one attempt's requests, deadline,
//!   cancel and back-off, the call's mode (wait or try) and its outcome;
//!   `wait`: the wake channel of each attempt; `handoff`: local hand-offs
//!   (a releasing guard wakes the waiters of its session whose blocker its
//!   node is; [`local_handoffs`] counts them).
//! - `ownership`: what a contender knows of its own node ([`LockState`]);
//!   `guard`: [`LockGuard`]; `cleanup`: whatever an attempt leaves behind,
//!   deleted (a node in doubt from the moment its create is sent).
//! - `semaphore`: [`Semaphore`], on the walker (its internal lock) and the
//!   same attempt and clean-up.
//! - `revocation`: [`Revoke`]: asking (or removing) the holders ahead, in
//!   zktools' and Curator's wire format; `inspection`: [`LockInfo`] and the
//!   queries (`is_locked`, `acquirable`, `inspect`); `removal`: removing a
//!   lock's directory, a semaphore's nodes, and [`cleanup`].
//! - `reentrant`: [`ReentrantLock`] and [`ReentrantReadWriteLock`], a front
//!   over the queue locks; `holds`: which ownership each thread's nested
//!   guards share, and the re-entry, downgrade and upgrade rules;
//!   `reentrant_guard`: [`ReentrantGuard`].
//! - `order`: the one global order for taking several locks, and
//!   [`is_backward_locking`]; `multi`: [`MultiLock`] and its [`Member`]s, all
//!   or nothing in that order; `multi_guard`: [`MultiGuard`].
//! - `pending`: [`Pending`], a background acquire as its caller holds it,
//!   and `acquire_then`'s delivery; `driver`: the one thread per client that
//!   polls every background attempt (the walker's state machine, parked
//!   while it waits).

mod attempt;
mod cleanup;
mod driver;
mod guard;
mod handoff;
mod holds;
mod identity;
mod inspection;
mod multi;
mod multi_guard;
pub mod name;
mod node_data;
mod node_guard;
mod node_lock;
mod order;
mod ownership;
mod pending;
mod queue_lock;
mod reentrant;
mod reentrant_guard;
mod removal;
mod revocation;
mod semaphore;
pub mod strategy;
mod wait;
mod walker;

pub use guard::{LockGuard, Releasing};
#[cfg(debug_assertions)]
#[doc(hidden)]
pub use handoff::debug_break_local_handoffs;
pub use handoff::{local_handoffs, local_waiters};
pub use inspection::{EntryRole, LockEntry, LockInfo};
pub use multi::{Member, MultiLock};
pub use multi_guard::MultiGuard;
pub use name::Flavor;
pub use node_data::Holder;
pub use node_guard::NodeGuard;
pub use node_lock::NodeLock;
pub use order::is_backward_locking;
pub use ownership::LockState;
pub use pending::Pending;
pub use queue_lock::{Lock, QueueLock, ReadLock, WriteLock};
pub use reentrant::{
    Reentrant, ReentrantLock, ReentrantReadLock, ReentrantReadWriteLock, ReentrantWriteLock,
};
pub use reentrant_guard::ReentrantGuard;
pub use removal::cleanup;
pub use revocation::Revoke;
pub use semaphore::Semaphore;
pub use strategy::{Exclusive, Read, Strategy, Write};

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>() {}

    #[test]
    fn handles_and_guards_can_cross_threads() {
        assert_send_sync::<Lock>();
        assert_send_sync::<ReadLock>();
        assert_send_sync::<WriteLock>();
        assert_send_sync::<Semaphore>();
        assert_send::<LockGuard>();
        assert_send_sync::<ReentrantLock>();
        assert_send_sync::<ReentrantReadWriteLock>();
    }
}
