//! The client's operations against a real ZooKeeper server.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::{Proxy, client, hosts, wait_until};
use zklock::{
    Acl, Client, CreateMode, Error, EventType, Op, OpResult, SessionEvent, WatchState, ZkError,
    perms,
};

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn create_get_set_delete() {
    let (c, _) = client();
    let (path, stat) = c.create("/n", b"one", CreateMode::Persistent).unwrap();
    assert_eq!(path, "/n");
    assert!(stat.czxid > 0);
    assert_eq!(stat.czxid, stat.mzxid);
    assert_eq!(stat.data_length, 3);
    let (data, st) = c.get_data("/n").unwrap();
    assert_eq!(data, b"one");
    assert_eq!(st, stat);
    let st2 = c.set_data("/n", b"two", Some(0)).unwrap();
    assert_eq!(st2.version, 1);
    assert!(
        c.set_data("/n", b"x", Some(0))
            .unwrap_err()
            .is(ZkError::BadVersion)
    );
    assert!(c.delete("/n", Some(0)).unwrap_err().is(ZkError::BadVersion));
    c.delete("/n", Some(1)).unwrap();
    assert!(c.get_data("/n").unwrap_err().is(ZkError::NoNode));
    assert!(c.delete("/n", None).unwrap_err().is(ZkError::NoNode));
}

#[test]
fn create_errors() {
    let (c, _) = client();
    c.create("/a", b"", CreateMode::Persistent).unwrap();
    let e = c.create("/a", b"", CreateMode::Persistent).unwrap_err();
    assert!(matches!(&e, Error::ZooKeeper { code: ZkError::NodeExists, path } if path == "/a"));
    assert!(
        c.create("/missing/child", b"", CreateMode::Persistent)
            .unwrap_err()
            .is(ZkError::NoNode)
    );
    let (e, _) = c.create("/e", b"", CreateMode::Ephemeral).unwrap();
    assert!(
        c.create(&format!("{e}/child"), b"", CreateMode::Persistent)
            .unwrap_err()
            .is(ZkError::NoChildrenForEphemerals)
    );
    c.create("/a/b", b"", CreateMode::Persistent).unwrap();
    assert!(c.delete("/a", None).unwrap_err().is(ZkError::NotEmpty));
}

#[test]
fn sequential_and_ephemeral_nodes() {
    let (c, root) = client();
    c.ensure_path("/q").unwrap();
    let (a, sa) = c
        .create("/q/x-", b"", CreateMode::EphemeralSequential)
        .unwrap();
    let (b, sb) = c
        .create("/q/x-", b"", CreateMode::PersistentSequential)
        .unwrap();
    assert_eq!(a, "/q/x-0000000000");
    assert_eq!(b, "/q/x-0000000001");
    assert_eq!(sa.ephemeral_owner, c.session_id());
    assert_eq!(sb.ephemeral_owner, 0);
    assert!(sb.czxid > sa.czxid);
    // A sequential create may end in '/': the name is the number alone.
    let (n, _) = c
        .create("/q/", b"", CreateMode::PersistentSequential)
        .unwrap();
    assert_eq!(n, "/q/0000000002");
    // Ephemeral nodes go with the session.
    let observer = Client::connect(&format!("{}{root}", hosts())).unwrap();
    c.close();
    let mut kids = observer.get_children("/q").unwrap();
    kids.sort();
    assert_eq!(kids, vec!["0000000002", "x-0000000001"]);
}

#[test]
fn exists_and_children_with_stat() {
    let (c, _) = client();
    assert_eq!(c.exists("/p").unwrap(), None);
    c.create("/p", b"", CreateMode::Persistent).unwrap();
    for name in ["c", "a", "b"] {
        c.create(&format!("/p/{name}"), b"", CreateMode::Persistent)
            .unwrap();
    }
    let st = c.exists("/p").unwrap().unwrap();
    assert_eq!(st.num_children, 3);
    let mut kids = c.get_children("/p").unwrap();
    kids.sort();
    assert_eq!(kids, vec!["a", "b", "c"]);
    let (kids, st) = c.get_children_stat("/p").unwrap();
    assert_eq!(kids.len(), 3);
    assert_eq!(st.num_children, 3);
    assert!(c.get_children("/none").unwrap_err().is(ZkError::NoNode));
}

#[test]
fn ensure_path_creates_ancestors_and_tolerates_existing() {
    let (c, _) = client();
    c.ensure_path("/a/b/c/d").unwrap();
    c.ensure_path("/a/b/c/d").unwrap();
    c.ensure_path("/a/b/x").unwrap();
    assert!(c.exists("/a/b/c/d").unwrap().is_some());
    assert!(c.exists("/a/b/x").unwrap().is_some());
    c.ensure_path("/").unwrap();
    assert!(matches!(
        c.ensure_path_with("/e", CreateMode::Ephemeral),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn container_nodes_are_reaped_once_empty() {
    let (c, _) = client();
    c.ensure_path_with("/locks/db", CreateMode::Container)
        .unwrap();
    let (child, _) = c
        .create("/locks/db/n-", b"", CreateMode::EphemeralSequential)
        .unwrap();
    c.delete(&child, None).unwrap();
    // The harness's server checks containers every 100 ms; a default server
    // (ZK_HOSTS) every minute.
    wait_until(
        Duration::from_secs(150),
        "the empty container to be reaped",
        || c.exists("/locks/db").unwrap().is_none(),
    );
}

#[test]
fn watches_fire_once_with_the_right_event() {
    let (c, _) = client();
    let events = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let rec = |tag: &'static str| {
        let events = events.clone();
        move |e: zklock::WatchedEvent| events.lock().push((tag, e))
    };
    // exists on a missing node: fires on creation.
    assert_eq!(c.exists_watch("/w", rec("exists")).unwrap(), None);
    c.create("/w", b"", CreateMode::Persistent).unwrap();
    c.get_data_watch("/w", rec("data")).unwrap();
    c.get_children_watch("/w", rec("children")).unwrap();
    c.create("/w/kid", b"", CreateMode::Persistent).unwrap();
    c.set_data("/w", b"changed", None).unwrap();
    // Fired watches are gone: a second change fires nothing.
    c.set_data("/w", b"again", None).unwrap();
    c.sync("/").unwrap();
    wait_until(WAIT, "three watch events", || events.lock().len() >= 3);
    // A round trip after the changes: any further event would have arrived.
    c.get_data("/w").unwrap();
    let got: Vec<_> = events
        .lock()
        .iter()
        .map(|(t, e)| (*t, e.event_type, e.path.clone(), e.state))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "exists",
                EventType::NodeCreated,
                "/w".to_string(),
                WatchState::Connected
            ),
            (
                "children",
                EventType::NodeChildrenChanged,
                "/w".to_string(),
                WatchState::Connected
            ),
            (
                "data",
                EventType::NodeDataChanged,
                "/w".to_string(),
                WatchState::Connected
            ),
        ]
    );
}

#[test]
fn deletion_fires_data_and_child_watches() {
    let (c, _) = client();
    c.create("/d", b"", CreateMode::Persistent).unwrap();
    let (tx, rx) = crossbeam_channel::unbounded();
    let tx2 = tx.clone();
    c.get_data_watch("/d", move |e| tx.send(e).unwrap())
        .unwrap();
    c.get_children_watch("/d", move |e| tx2.send(e).unwrap())
        .unwrap();
    c.delete("/d", None).unwrap();
    for _ in 0..2 {
        let e = rx.recv_timeout(WAIT).unwrap();
        assert_eq!(e.event_type, EventType::NodeDeleted);
    }
}

#[test]
fn a_failed_watch_call_drops_the_watcher_uncalled() {
    let (c, _) = client();
    let called = Arc::new(AtomicUsize::new(0));
    let k = called.clone();
    let e = c
        .get_data_watch("/absent", move |_| {
            k.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap_err();
    assert!(e.is(ZkError::NoNode));
    c.create("/absent", b"", CreateMode::Persistent).unwrap();
    c.set_data("/absent", b"x", None).unwrap();
    c.sync("/").unwrap();
    assert_eq!(called.load(Ordering::SeqCst), 0);
}

#[test]
fn multi_is_all_or_nothing() {
    let (c, _) = client();
    c.create("/m", b"v0", CreateMode::Persistent).unwrap();
    let ok = c
        .multi(&[
            Op::check("/m", 0),
            Op::set_data("/m", b"v1".to_vec(), Some(0)),
            Op::create("/m/a", vec![], CreateMode::Persistent, Acl::open_unsafe()),
            Op::create(
                "/m/s-",
                vec![],
                CreateMode::PersistentSequential,
                Acl::open_unsafe(),
            ),
            Op::delete("/m/a", None),
        ])
        .unwrap();
    assert_eq!(ok.len(), 5);
    assert_eq!(ok[0], OpResult::Check);
    assert!(matches!(ok[1], OpResult::SetData { stat } if stat.version == 1));
    assert!(matches!(&ok[2], OpResult::Create { path, .. } if path == "/m/a"));
    assert!(matches!(&ok[3], OpResult::Create { path, .. } if path == "/m/s-0000000001"));
    assert_eq!(ok[4], OpResult::Delete);

    let err = c
        .multi(&[
            Op::create("/m/b", vec![], CreateMode::Persistent, Acl::open_unsafe()),
            Op::check("/m", 0), // stale version: fails
            Op::delete("/m", None),
        ])
        .unwrap_err();
    assert!(matches!(&err, Error::ZooKeeper { code: ZkError::BadVersion, path } if path == "/m"));
    assert!(c.exists("/m/b").unwrap().is_none(), "rolled back");
    assert_eq!(c.multi(&[]).unwrap(), vec![]);
}

#[test]
fn acls_open_read_only_creator_and_digest() {
    let (c, root) = client();
    let with_auth = Client::builder(&format!("{}{root}", hosts()))
        .digest_auth("alice", "secret")
        .connect()
        .unwrap();
    // read-only: anyone reads, nobody writes.
    c.create_with_acl("/ro", b"r", CreateMode::Persistent, &Acl::read_unsafe())
        .unwrap();
    assert_eq!(c.get_data("/ro").unwrap().0, b"r");
    assert!(
        c.set_data("/ro", b"x", None)
            .unwrap_err()
            .is(ZkError::NoAuth)
    );
    // digest: only alice.
    let acl = vec![Acl::digest("alice", "secret", perms::ALL)];
    with_auth
        .create_with_acl("/secret", b"s", CreateMode::Persistent, &acl)
        .unwrap();
    assert!(c.get_data("/secret").unwrap_err().is(ZkError::NoAuth));
    assert_eq!(with_auth.get_data("/secret").unwrap().0, b"s");
    let (got, _) = with_auth.get_acl("/secret").unwrap();
    assert_eq!(got, acl);
    // creator-all: the creator's identity, and add_auth at run time.
    with_auth
        .create_with_acl("/mine", b"m", CreateMode::Persistent, &Acl::creator_all())
        .unwrap();
    assert!(c.get_data("/mine").unwrap_err().is(ZkError::NoAuth));
    c.add_auth("digest", b"alice:secret").unwrap();
    assert_eq!(c.get_data("/mine").unwrap().0, b"m");
    // creator-all without any auth is refused by the server.
    let anon = Client::connect(&format!("{}{root}", hosts())).unwrap();
    assert!(
        anon.create_with_acl("/x", b"", CreateMode::Persistent, &Acl::creator_all())
            .unwrap_err()
            .is(ZkError::InvalidAcl)
    );
    // set_acl opens it up again.
    with_auth
        .set_acl("/secret", &Acl::open_unsafe(), Some(0))
        .unwrap();
    assert_eq!(anon.get_data("/secret").unwrap().0, b"s");
    // An unknown scheme is refused.
    assert!(matches!(
        anon.add_auth("nosuchscheme", b"x"),
        Err(Error::AuthFailed { .. }) | Err(Error::ConnectionLoss)
    ));
}

#[test]
fn chroot_is_invisible_to_the_client() {
    let (c, root) = client();
    let plain = Client::connect(&hosts()).unwrap();
    let (p, _) = c
        .create("/n-", b"", CreateMode::PersistentSequential)
        .unwrap();
    assert_eq!(p, "/n-0000000000");
    assert!(
        plain
            .exists(&format!("{root}/n-0000000000"))
            .unwrap()
            .is_some()
    );
    let (tx, rx) = crossbeam_channel::bounded(1);
    c.get_data_watch(&p, move |e| tx.send(e).unwrap()).unwrap();
    plain.set_data(&format!("{root}{p}"), b"x", None).unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap().path, p);
    assert_eq!(c.get_children("/").unwrap(), vec!["n-0000000000"]);
    assert!(c.exists("/").unwrap().is_some());
}

#[test]
fn bad_input_is_a_typed_error() {
    let (c, _) = client();
    for p in [
        "",
        "rel",
        "/trailing/",
        "/a//b",
        "/a/./b",
        "/nul\0",
        "/a/..",
    ] {
        assert!(
            matches!(c.exists(p), Err(Error::InvalidPath { .. })),
            "{p:?} was accepted"
        );
        assert!(matches!(
            c.create(p, b"", CreateMode::Persistent),
            Err(Error::InvalidPath { .. })
        ));
    }
    let big = vec![0u8; 2 << 20];
    assert!(matches!(
        c.create("/big", &big, CreateMode::Persistent),
        Err(Error::InvalidArgument(_))
    ));
    // The connection survived the refusal.
    c.create("/small", b"ok", CreateMode::Persistent).unwrap();
    for s in ["", "host:notaport", "/only/chroot", "h:1/bad/"] {
        assert!(Client::connect(s).is_err(), "{s:?} was accepted");
    }
}

#[test]
fn pipelining_from_16_threads() {
    let (c, _) = client();
    c.ensure_path("/pipe").unwrap();
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let c = c.clone();
            std::thread::spawn(move || {
                for i in 0..100 {
                    let (p, _) = c
                        .create(
                            "/pipe/n-",
                            format!("{t}-{i}").as_bytes(),
                            CreateMode::EphemeralSequential,
                        )
                        .unwrap();
                    assert_eq!(c.get_data(&p).unwrap().0, format!("{t}-{i}").as_bytes());
                    c.delete(&p, None).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(c.get_children("/pipe").unwrap().is_empty());
}

#[test]
fn requests_from_many_threads_are_in_flight_together() {
    // Through a frozen proxy nothing is answered, so every request the
    // threads wrote is in flight at once: they do not take turns.
    let root = support::fresh_root();
    let proxy = Proxy::new(&support::first_host());
    let c = Client::connect(&format!("{}{root}", proxy.addr())).unwrap();
    c.create("/x", b"", CreateMode::Persistent).unwrap();
    proxy.freeze();
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || c.get_data("/x").map(|_| ()))
        })
        .collect();
    wait_until(WAIT, "16 requests in flight", || {
        c.requests_in_flight() == 16
    });
    proxy.unfreeze();
    for t in threads {
        t.join().unwrap().unwrap();
    }
}

#[test]
fn connecting_to_a_closed_port_fails_within_the_connect_timeout() {
    let port = support::server::free_port();
    let start = Instant::now();
    let err = Client::builder(&format!("127.0.0.1:{port}"))
        .connect_timeout(Duration::from_millis(800))
        .connect()
        .unwrap_err();
    let took = start.elapsed();
    match &err {
        Error::Connect { hosts, reason, .. } => {
            assert_eq!(hosts, &format!("127.0.0.1:{port}"));
            assert!(!reason.is_empty());
        }
        e => panic!("{e:?}"),
    }
    assert!(err.to_string().contains(&port.to_string()));
    // Bounded: the timeout plus the close (nothing is connected, so no wait).
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[test]
fn connecting_to_a_silent_server_fails_within_the_connect_timeout() {
    let proxy = Proxy::new(&support::first_host());
    proxy.freeze();
    let err = Client::builder(&proxy.addr())
        .connect_timeout(Duration::from_secs(1))
        .connect()
        .unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
}

#[test]
fn closing_deletes_ephemerals_and_fails_later_calls() {
    let (c, root) = client();
    let observer = Client::connect(&format!("{}{root}", hosts())).unwrap();
    let events = c.session_events();
    c.create("/eph", b"", CreateMode::Ephemeral).unwrap();
    let sid = c.session_id();
    let c2 = c.clone();
    let start = Instant::now();
    c.close();
    let took = start.elapsed();
    // Immediately gone: closing ended the session, no timeout to wait for.
    let left = observer.exists("/eph").unwrap();
    assert!(
        left.is_none(),
        "still there after a close that took {took:?}"
    );
    let r = c2.get_data("/eph");
    assert!(matches!(r, Err(Error::Closed)), "{r:?}");
    assert_eq!(
        c2.state(),
        zklock::SessionState::Closed,
        "close took {took:?}"
    );
    assert_eq!(
        events.recv_timeout(WAIT).unwrap(),
        SessionEvent::Closed { session_id: sid }
    );
}

#[test]
fn dropping_the_last_clone_closes_the_session() {
    let (c, root) = client();
    let observer = Client::connect(&format!("{}{root}", hosts())).unwrap();
    c.create("/eph", b"", CreateMode::Ephemeral).unwrap();
    let clone = c.clone();
    drop(c);
    assert!(
        observer.exists("/eph").unwrap().is_some(),
        "a clone still lives"
    );
    drop(clone);
    assert!(observer.exists("/eph").unwrap().is_none());
}

#[test]
fn watches_are_told_when_the_client_closes() {
    let (c, _) = client();
    c.create("/w", b"", CreateMode::Persistent).unwrap();
    let (tx, rx) = crossbeam_channel::bounded(1);
    c.get_data_watch("/w", move |e| tx.send(e).unwrap())
        .unwrap();
    c.close();
    let e = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(e.event_type, EventType::Session);
    assert_eq!(e.state, WatchState::Closed);
}

#[test]
fn panicking_watchers_and_listeners_do_not_hurt_the_client() {
    let (c, _) = client();
    c.create("/p", b"", CreateMode::Persistent).unwrap();
    c.add_listener(|_| panic!("listener panics"));
    c.get_data_watch("/p", |_| panic!("watcher panics"))
        .unwrap();
    let (tx, rx) = crossbeam_channel::bounded(1);
    c.set_data("/p", b"1", None).unwrap();
    c.get_data_watch("/p", move |e| tx.send(e).unwrap())
        .unwrap();
    c.set_data("/p", b"2", None).unwrap();
    assert_eq!(
        rx.recv_timeout(WAIT).unwrap().event_type,
        EventType::NodeDataChanged
    );
}

#[test]
fn callbacks_may_call_the_client() {
    // A watcher that makes blocking calls must not deadlock the client:
    // replies are delivered by the I/O thread, not the event thread.
    let (c, _) = client();
    c.create("/cb", b"", CreateMode::Persistent).unwrap();
    let (tx, rx) = crossbeam_channel::bounded(1);
    let inner = c.clone();
    c.get_data_watch("/cb", move |_| {
        let r = inner.get_data("/cb").map(|(d, _)| d);
        tx.send(r).unwrap();
    })
    .unwrap();
    c.set_data("/cb", b"seen", None).unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap().unwrap(), b"seen");
}

#[test]
fn a_listener_may_be_removed() {
    let (c, _) = client();
    let id = c.add_listener(|_| {});
    assert!(c.remove_listener(id));
    assert!(!c.remove_listener(id));
}

#[test]
fn clients_spread_over_the_hosts_of_one_connect_string() {
    // Two proxies in front of one server: clients shuffle the connect
    // string, so each proxy sees about half the first connections (a hung
    // first host no longer stalls every client, and one server does not
    // take every session).
    let (a, b) = (
        Proxy::new(&support::first_host()),
        Proxy::new(&support::first_host()),
    );
    let hosts = format!("{},{}", a.addr(), b.addr());
    for _ in 0..40 {
        Client::connect(&hosts).unwrap().close();
    }
    let (na, nb) = (a.accepted(), b.accepted());
    assert_eq!(na + nb, 40);
    // 5 or fewer of 40 for either side has a chance of about 1 in 10^6.
    assert!(na > 5 && nb > 5, "first connections: {na} and {nb}");
}

#[test]
fn a_hung_host_does_not_stall_most_connects() {
    let hung = Proxy::new(&support::first_host());
    hung.freeze();
    let good = Proxy::new(&support::first_host());
    let hosts = format!("{},{}", hung.addr(), good.addr());
    for _ in 0..10 {
        let c = Client::builder(&hosts)
            .session_timeout(Duration::from_secs(2))
            .connect()
            .unwrap();
        c.close();
    }
    assert_eq!(good.accepted(), 10, "every client ends on the good host");
    assert!(
        hung.accepted() < 10,
        "not every client tried the hung host first"
    );
}

#[test]
fn an_unresolvable_host_is_skipped_and_alone_fails_at_once() {
    let bad = "no-such-host.zklock.invalid:2181";
    // Beside a good host: skipped.
    let c = Client::connect(&format!("{bad},{}", support::first_host())).unwrap();
    assert!(c.exists("/").unwrap().is_some());
    // Alone: the connect fails at once, not after the connect timeout.
    let start = Instant::now();
    let err = Client::builder(bad)
        .connect_timeout(Duration::from_secs(30))
        .connect()
        .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(10), "{err}");
    match err {
        Error::Connect { hosts, reason, .. } => {
            assert_eq!(hosts, bad);
            assert!(reason.contains("resolve"), "{reason}");
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn connect_errors_name_each_host_once_and_bracket_ipv6() {
    let port = support::server::free_port();
    let err = Client::builder(&format!("127.0.0.1:{port}"))
        .connect_timeout(Duration::from_millis(300))
        .connect()
        .unwrap_err()
        .to_string();
    assert_eq!(
        err.matches(&format!("127.0.0.1:{port}")).count(),
        1,
        "{err}"
    );
    let (p1, p2) = (support::server::free_port(), support::server::free_port());
    let err = Client::builder(&format!("[::1]:{p1},[::1]:{p2}"))
        .connect_timeout(Duration::from_millis(300))
        .connect()
        .unwrap_err()
        .to_string();
    assert!(err.contains(&format!("[::1]:{p1}")), "{err}");
    for p in [p1, p2] {
        assert!(!err.contains(&format!(" ::1:{p}")), "unbracketed: {err}");
    }
}

#[test]
fn ensure_path_in_a_missing_chroot_is_a_typed_error() {
    let chroot = format!("/zklock-missing-{}", uuid::Uuid::new_v4().simple());
    let c = Client::connect(&format!("{}{chroot}", hosts())).unwrap();
    for p in ["/a", "/a/b/c"] {
        match c.ensure_path(p) {
            Err(Error::ChrootMissing { chroot: named }) => assert_eq!(named, chroot),
            other => panic!("{p}: {other:?}"),
        }
    }
}
