//! ACLs on every lock kind, against a real server: a digest-protected lock
//! cannot be deleted, revoked or cleared by a client without the
//! credentials (`NoAuth`, a typed error), while its owner can; an ACL that
//! locks out its own creator fails the acquire and leaves nothing behind.

mod support;

use support::hosts;
use zklock::{Acl, Client, Error, Lock, Semaphore, ZkError, perms};

fn secured_root() -> (Client, Client, String) {
    let root = support::fresh_root();
    let owner = Client::builder(&format!("{}{root}", hosts()))
        .digest_auth("billing", "s3cret")
        .connect()
        .unwrap();
    let intruder = Client::connect(&format!("{}{root}", hosts())).unwrap();
    (owner, intruder, root)
}

fn acl() -> Vec<Acl> {
    vec![Acl::digest("billing", "s3cret", perms::ALL)]
}

fn no_auth<T: std::fmt::Debug>(r: zklock::Result<T>) -> bool {
    match r {
        Err(e) => e.is(ZkError::NoAuth),
        Ok(v) => panic!("allowed: {v:?}"),
    }
}

#[test]
fn a_digest_protected_lock_refuses_a_client_without_the_credentials() {
    let (owner, intruder, _) = secured_root();
    let lock = Lock::new(&owner, "/secured/ledger").unwrap().acl(acl());
    let guard = lock.acquire().unwrap();
    let node = guard.node().to_string();
    // Every node zklock created carries the ACL.
    for path in ["/secured", "/secured/ledger", node.as_str()] {
        assert_eq!(owner.get_acl(path).unwrap().0, acl(), "{path}");
    }
    let theirs = Lock::new(&intruder, "/secured/ledger").unwrap();
    assert!(no_auth(intruder.delete(&node, None)), "delete");
    assert!(no_auth(theirs.clear()), "clear");
    assert!(no_auth(theirs.revoke_all()), "revoke_all");
    assert!(no_auth(theirs.try_acquire()), "acquire");
    assert_eq!(guard.check().ok(), Some(()), "still held");
    // The owner can.
    let mine = Lock::new(&owner, "/secured/ledger").unwrap().acl(acl());
    assert_eq!(mine.revoke_all().unwrap(), 1);
    assert_eq!(mine.clear().unwrap(), 1);
    // The news of the deletion comes as a watch event, on its own thread.
    support::wait_until(
        std::time::Duration::from_secs(10),
        "the guard to be lost",
        || guard.check().is_err(),
    );
}

#[test]
fn a_semaphore_puts_its_acl_on_every_node() {
    let (owner, intruder, _) = secured_root();
    let sem = Semaphore::new(&owner, "/secured/pool", 2)
        .unwrap()
        .acl(acl());
    let lease = sem.acquire().unwrap();
    for path in ["/secured/pool", "/secured/pool-__lock__", lease.node()] {
        assert_eq!(owner.get_acl(path).unwrap().0, acl(), "{path}");
    }
    assert!(no_auth(intruder.delete(lease.node(), None)));
    let theirs = Semaphore::new(&intruder, "/secured/pool", 2).unwrap();
    assert!(no_auth(theirs.try_acquire()));
    drop(lease);
    assert!(sem.lease_holders().unwrap().is_empty());
}

#[test]
fn an_acl_that_locks_out_its_creator_fails_and_leaves_nothing() {
    let root = support::fresh_root();
    let c = Client::connect(&format!("{}{root}", hosts())).unwrap();
    c.ensure_path("/open").unwrap();
    let lock = Lock::new(&c, "/open/lock").unwrap().acl(vec![Acl::digest(
        "somebody-else",
        "pw",
        perms::ALL,
    )]);
    let err = lock.acquire().unwrap_err();
    assert!(err.is(ZkError::NoAuth), "{err:?}");
    assert!(matches!(err, Error::ZooKeeper { .. }));
    assert!(c.exists("/open/lock").unwrap().is_none(), "left behind");
    assert!(c.get_children("/open").unwrap().is_empty());
    // The directories above it too, when the attempt made them.
    let deep = Lock::new(&c, "/made/by/us/lock")
        .unwrap()
        .acl(vec![Acl::digest("somebody-else", "pw", perms::ALL)]);
    assert!(deep.acquire().unwrap_err().is(ZkError::NoAuth));
    assert!(
        c.exists("/made").unwrap().is_none(),
        "ancestors left behind"
    );
}

#[test]
fn a_digest_protected_node_lock_refuses_a_client_without_the_credentials() {
    let (owner, intruder, _) = secured_root();
    let lock = zklock::NodeLock::new(&owner, "/secured/node")
        .unwrap()
        .identifier("billing-1")
        .acl(acl());
    let guard = lock.acquire().unwrap();
    for path in ["/secured", "/secured/node"] {
        assert_eq!(owner.get_acl(path).unwrap().0, acl(), "{path}");
    }
    assert!(no_auth(intruder.delete("/secured/node", None)), "delete");
    assert!(
        no_auth(intruder.set_data("/secured/node", b"{}", None)),
        "overwrite"
    );
    // Even with the holder's id, a client without the credentials cannot
    // read the node to take it over.
    let thief = zklock::NodeLock::new(&intruder, "/secured/node")
        .unwrap()
        .identifier("billing-1");
    assert!(no_auth(thief.try_acquire()), "take over");
    assert!(no_auth(thief.try_release()), "try_release");
    assert_eq!(guard.check().ok(), Some(()));
    guard.release().unwrap();
}
