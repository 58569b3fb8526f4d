//! Coordination helpers around the locks, k3zkutil's `zkutil` in Rust:
//!
//! - `lock_id`: k3zkutil's lock ids, `<node_id>-<ip>-<pid>-<uuid>`
//!   ([`lock_id`], [`parse_lock_id`]), the default identifier of a
//!   [`crate::NodeLock`];
//! - `acl`: permissions as letters, bits and names, digests, and ACL
//!   entries as text ([`perm_to_long`], [`perm_to_short`], [`perms_from_letters`],
//!   [`perms_to_letters`], [`make_digest`], [`make_acl_entry`],
//!   [`parse_acl_entry`], [`format_acl_entry`], [`digest_acl`], [`describe_acl`]).
//! - `cas`: [`cas_loop`], read-modify-write with version checks;
//! - `waits`: [`wait_absent`] and [`get_next`], woken by watches, with a
//!   deadline;
//! - `cached_reader`: [`CachedReader`], a local copy of a node kept current
//!   by a watch;
//! - `hierarchy`: [`export_hierarchy`] and [`init_hierarchy`], a subtree as
//!   a [`Hierarchy`] value (serde) and back.
//!
//! Every helper returns a typed error for bad input; none panics; every
//! wait has a deadline.

mod acl;
mod cached_reader;
mod cas;
mod hierarchy;
mod lock_id;
mod waits;

pub use cached_reader::{CachedReader, Change};
pub use cas::cas_loop;
pub use hierarchy::{Hierarchy, export_hierarchy, init_hierarchy};
pub use waits::{get_next, wait_absent};

pub use acl::{
    describe_acl, digest_acl, format_acl_entry, make_acl_entry, make_digest, parse_acl_entry,
    perm_to_long, perm_to_short, perms_from_letters, perms_to_letters,
};
pub use lock_id::{LockId, lock_id, parse_lock_id};
