//! The k3zkutil-style helpers (`zklock::util`) against a real server:
//! `cas_loop`, `wait_absent`, `get_next`, `CachedReader`, and
//! `export_hierarchy` / `init_hierarchy`, with their bad inputs and faults.

mod support;

use std::time::{Duration, Instant};
use support::{client, wait_until};
use zklock::util::{
    CachedReader, Hierarchy, cas_loop, export_hierarchy, get_next, init_hierarchy, wait_absent,
};
use zklock::{Acl, Client, CreateMode, Error, ZkError, perms};

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn cas_loop_loses_no_update_and_reports_a_missing_node() {
    let (c, _) = client();
    c.create("/counter", b"0", CreateMode::Persistent).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || {
                for _ in 0..25 {
                    cas_loop(&c, "/counter", |data, _| {
                        let n: u64 = std::str::from_utf8(data).unwrap().parse().unwrap();
                        Some((n + 1).to_string().into_bytes())
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(c.get_data("/counter").unwrap().0, b"100");
    // Declining leaves it.
    assert!(cas_loop(&c, "/counter", |_, _| None).unwrap().is_none());
    // Missing, and deleted in the middle of the loop: NoNode, typed.
    let missing = cas_loop(&c, "/nope", |_, _| Some(vec![]));
    assert!(missing.unwrap_err().is(ZkError::NoNode));
    let c2 = c.clone();
    let gone = cas_loop(&c, "/counter", move |_, _| {
        c2.delete("/counter", None).unwrap();
        Some(b"x".to_vec())
    });
    assert!(gone.unwrap_err().is(ZkError::NoNode));
}

#[test]
fn wait_absent_and_get_next_wait_for_watches_with_a_deadline() {
    let (c, _) = client();
    let started = Instant::now();
    wait_absent(&c, "/never", WAIT).unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "at once");
    c.create("/n", b"a", CreateMode::Persistent).unwrap();
    assert!(matches!(
        wait_absent(&c, "/n", Duration::from_millis(200)),
        Err(Error::Timeout)
    ));
    // get_next: at once when newer already, else the next write.
    let (_, stat) = get_next(&c, "/n", -1, WAIT).unwrap();
    assert_eq!(stat.version, 0);
    assert!(matches!(
        get_next(&c, "/n", 0, Duration::from_millis(200)),
        Err(Error::Timeout)
    ));
    let c2 = c.clone();
    let writer = std::thread::spawn(move || {
        wait_until(WAIT, "the waiter to watch", || c2.requests_in_flight() == 0);
        c2.set_data("/n", b"b", None).unwrap();
    });
    let (data, stat) = get_next(&c, "/n", 0, WAIT).unwrap();
    assert_eq!((data.as_slice(), stat.version), (&b"b"[..], 1));
    writer.join().unwrap();
    let c2 = c.clone();
    let deleter = std::thread::spawn(move || {
        wait_until(WAIT, "the waiter to watch", || c2.requests_in_flight() == 0);
        c2.delete("/n", None).unwrap();
    });
    wait_absent(&c, "/n", WAIT).unwrap();
    deleter.join().unwrap();
    assert!(get_next(&c, "/n", 0, WAIT).unwrap_err().is(ZkError::NoNode));
}

#[test]
fn a_cached_reader_follows_the_node_and_reports_a_session_loss() {
    let (proxy, c, root) = support::proxied(Duration::from_secs(2));
    let other = support::observer(&root);
    let reader = CachedReader::new(&c, "/cfg").unwrap();
    assert_eq!(reader.get(), None, "absent is a state");
    other.create("/cfg", b"1", CreateMode::Persistent).unwrap();
    assert_eq!(
        reader.wait_change(WAIT).unwrap(),
        (None, Some(b"1".to_vec()))
    );
    other.set_data("/cfg", b"2", None).unwrap();
    assert_eq!(reader.wait_change(WAIT).unwrap().1, Some(b"2".to_vec()));
    assert_eq!(reader.changes().len(), 2);
    assert_eq!(reader.get(), Some(b"2".to_vec()));
    // The session ends: reported once, the last copy kept.
    proxy.freeze();
    assert!(matches!(reader.wait_change(WAIT), Err(Error::SessionLost)));
    assert!(!reader.is_current());
    proxy.unfreeze();
    other.set_data("/cfg", b"3", None).unwrap();
    assert_eq!(reader.get(), Some(b"2".to_vec()));
    // Asked to, it follows again in the new session.
    wait_until(WAIT, "a new session", || {
        c.state() == zklock::SessionState::Connected
    });
    reader.refresh();
    assert_eq!(reader.wait_change(WAIT).unwrap().1, Some(b"3".to_vec()));
    assert!(reader.is_current());
    other.delete("/cfg", None).unwrap();
    assert_eq!(reader.wait_change(WAIT).unwrap().1, None);
}

#[test]
fn a_hierarchy_round_trips_through_json() {
    let (c, root) = client();
    let (owner, secret) = ("ops", "pw");
    let auth = Client::builder(&format!("{}{root}", support::hosts()))
        .digest_auth(owner, secret)
        .connect()
        .unwrap();
    auth.create("/src", b"{}", CreateMode::Persistent).unwrap();
    auth.create_with_acl(
        "/src/secret",
        b"s",
        CreateMode::Persistent,
        &[Acl::digest(owner, secret, perms::ALL)],
    )
    .unwrap();
    auth.create("/src/a", b"x", CreateMode::Persistent).unwrap();
    auth.create("/src/a/b", b"y", CreateMode::Persistent)
        .unwrap();
    let tree = export_hierarchy(&auth, "/src").unwrap();
    let json = serde_json::to_string(&tree).unwrap();
    let back: Hierarchy = serde_json::from_str(&json).unwrap();
    assert_eq!(back, tree);
    assert!(back.children["secret"].acl[0].starts_with("digest:ops:"));
    init_hierarchy(&auth, "/dst/copy", &back).unwrap();
    assert_eq!(export_hierarchy(&auth, "/dst/copy").unwrap(), tree);
    assert!(
        c.get_data("/dst/copy/secret")
            .unwrap_err()
            .is(ZkError::NoAuth)
    );
    // A bad entry is refused before anything is written.
    let mut bad = tree.clone();
    bad.children.get_mut("a").unwrap().acl = vec!["world:anyone:rwz".into()];
    assert!(matches!(
        init_hierarchy(&auth, "/bad", &bad),
        Err(Error::InvalidArgument(_))
    ));
    assert!(c.exists("/bad").unwrap().is_none());
    assert!(
        export_hierarchy(&c, "/missing")
            .unwrap_err()
            .is(ZkError::NoNode)
    );
}
