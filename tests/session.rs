//! Session semantics under faults: silent partitions, resets, server
//! restarts, expiry and ensemble failover. Every fault goes through the
//! harness's proxy or a private server, and every wait is for an event or a
//! condition with a deadline.

mod support;

use crossbeam_channel::Receiver;
use std::time::{Duration, Instant};
use support::{Ensemble, Proxy, ZkServer, four_letter, hosts, observer, wait_until};
use zklock::{Client, CreateMode, Error, EventType, SessionEvent, SessionState, WatchState};

const SESSION: Duration = Duration::from_secs(2);
const WAIT: Duration = Duration::from_secs(20);

fn next(events: &Receiver<SessionEvent>) -> SessionEvent {
    events.recv_timeout(WAIT).expect("a session event in time")
}

/// A client through a fresh proxy, in a fresh chroot, with a 2 s session.
fn proxied() -> (Proxy, Client, String) {
    support::proxied(SESSION)
}

#[test]
fn an_idle_client_keeps_its_session_by_pinging() {
    let (_proxy, c, _) = proxied();
    let events = c.session_events();
    // Three session timeouts of silence from the caller: pings keep it alive.
    let got = events.recv_timeout(SESSION * 3);
    assert!(got.is_err(), "no event expected, got {got:?}");
    assert_eq!(c.state(), SessionState::Connected);
    c.exists("/").unwrap();
}

#[test]
fn a_short_freeze_suspends_and_resumes_the_same_session() {
    let (proxy, c, root) = proxied();
    let obs = observer(&root);
    c.create("/eph", b"", CreateMode::Ephemeral).unwrap();
    let sid = c.session_id();
    let events = c.session_events();
    let frozen_at = Instant::now();
    proxy.freeze();
    assert_eq!(next(&events), SessionEvent::Suspended { session_id: sid });
    // Noticed by the read timeout (2/3 of the session timeout), not by TCP.
    let noticed = frozen_at.elapsed();
    assert!(noticed < SESSION, "noticed after {noticed:?}");
    assert_eq!(c.state(), SessionState::Suspended);
    proxy.unfreeze();
    assert_eq!(next(&events), SessionEvent::Reconnected { session_id: sid });
    assert_eq!(c.session_id(), sid);
    assert!(
        obs.exists("/eph").unwrap().is_some(),
        "the session's node survived"
    );
    c.exists("/eph").unwrap().unwrap();
}

#[test]
fn a_long_freeze_ends_in_exactly_one_lost_and_a_new_session() {
    let (proxy, c, root) = proxied();
    let obs = observer(&root);
    c.create("/eph", b"", CreateMode::Ephemeral).unwrap();
    c.create("/w", b"", CreateMode::Persistent).unwrap();
    let (wtx, wrx) = crossbeam_channel::bounded(1);
    c.get_data_watch("/w", move |e| wtx.send(e).unwrap())
        .unwrap();
    let old = c.session_id();
    let events = c.session_events();
    proxy.freeze();
    assert_eq!(next(&events), SessionEvent::Suspended { session_id: old });
    // A call made while suspended belongs to the old session.
    let during = {
        let c = c.clone();
        std::thread::spawn(move || c.get_data("/w"))
    };
    assert_eq!(next(&events), SessionEvent::Lost { session_id: old });
    assert!(matches!(during.join().unwrap(), Err(Error::SessionLost)));
    // The watch of the ended session is told once.
    let w = wrx.recv_timeout(WAIT).unwrap();
    assert_eq!(
        (w.event_type, w.state),
        (EventType::Session, WatchState::Expired)
    );
    // The server expires the old session on its own: its node goes.
    wait_until(WAIT, "the old session's node to vanish", || {
        obs.exists("/eph").unwrap().is_none()
    });
    proxy.unfreeze();
    let SessionEvent::Connected { session_id: new } = next(&events) else {
        panic!("expected a new session");
    };
    assert_ne!(new, old);
    assert_eq!(c.session_id(), new);
    // Later calls run in the new session; nothing more is reported.
    c.create("/eph2", b"", CreateMode::Ephemeral).unwrap();
    assert_eq!(obs.exists("/eph2").unwrap().unwrap().ephemeral_owner, new);
    assert!(events.recv_timeout(Duration::from_millis(300)).is_err());
}

#[test]
fn an_expiry_reported_by_the_server_is_lost_once() {
    // The client comes back after the server expired the session but before
    // the client's own clock ran out: the server's word decides.
    let (proxy, c, _) = proxied();
    let old = c.session_id();
    let events = c.session_events();
    // A second connection takes over the session and closes it. The proxy
    // is frozen meanwhile, so the client's instant reconnection (which would
    // take the session back) waits until the session is gone.
    proxy.freeze();
    kill_session_on_server(&hosts(), &c);
    proxy.unfreeze();
    // The server dropped our connection; reconnecting, it hears "expired".
    let mut seen = Vec::new();
    while !matches!(seen.last(), Some(SessionEvent::Connected { .. })) {
        seen.push(next(&events));
    }
    let lost: Vec<_> = seen
        .iter()
        .filter(|e| matches!(e, SessionEvent::Lost { .. }))
        .collect();
    assert_eq!(
        lost,
        vec![&SessionEvent::Lost { session_id: old }],
        "{seen:?}"
    );
    assert_ne!(c.session_id(), old);
    c.exists("/").unwrap();
}

/// Ends `c`'s session on the server by resuming it on a raw connection and
/// sending closeSession, as Curator's KillSession does.
fn kill_session_on_server(hosts: &str, c: &Client) {
    use std::io::{Read, Write};
    let (sid, passwd) = c.session_credentials();
    let host = hosts.split(',').next().unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    let mut req = Vec::new();
    req.extend_from_slice(&0i32.to_be_bytes());
    req.extend_from_slice(&0i64.to_be_bytes());
    req.extend_from_slice(&2000i32.to_be_bytes());
    req.extend_from_slice(&sid.to_be_bytes());
    req.extend_from_slice(&(passwd.len() as i32).to_be_bytes());
    req.extend_from_slice(&passwd);
    req.push(0);
    let mut frame = (req.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&req);
    s.write_all(&frame).unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut resp = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut resp).unwrap();
    // closeSession: xid 1, op -11.
    let mut close = 8i32.to_be_bytes().to_vec();
    close.extend_from_slice(&1i32.to_be_bytes());
    close.extend_from_slice(&(-11i32).to_be_bytes());
    s.write_all(&close).unwrap();
    let _ = s.read_exact(&mut len);
}

#[test]
fn an_in_flight_request_fails_at_once_on_reset() {
    let (proxy, c, _) = proxied();
    c.create("/x", b"", CreateMode::Persistent).unwrap();
    proxy.freeze();
    let call = {
        let c = c.clone();
        std::thread::spawn(move || {
            let r = c.get_data("/x");
            (r, Instant::now())
        })
    };
    wait_until(WAIT, "the request to be in flight", || {
        c.requests_in_flight() == 1
    });
    let reset_at = Instant::now();
    proxy.reset();
    let (r, failed_at) = call.join().unwrap();
    assert!(matches!(r, Err(Error::ConnectionLoss)), "{r:?}");
    // At once: well before the read timeout would have noticed anything.
    let after = failed_at - reset_at;
    assert!(after < SESSION / 3, "failed {after:?} after the reset");
    proxy.unfreeze();
    wait_until(WAIT, "reconnection", || {
        c.state() == SessionState::Connected
    });
    c.get_data("/x").unwrap();
}

#[test]
fn calls_made_while_suspended_wait_for_the_reconnection() {
    let (proxy, c, _) = proxied();
    let events = c.session_events();
    let sid = c.session_id();
    proxy.freeze();
    assert_eq!(next(&events), SessionEvent::Suspended { session_id: sid });
    let call = {
        let c = c.clone();
        std::thread::spawn(move || c.create("/made-while-down", b"", CreateMode::Persistent))
    };
    proxy.unfreeze();
    assert_eq!(next(&events), SessionEvent::Reconnected { session_id: sid });
    call.join().unwrap().unwrap();
}

#[test]
fn a_change_made_while_disconnected_fires_the_watch_on_reconnect() {
    let (proxy, c, root) = proxied();
    let obs = observer(&root);
    c.create("/n", b"", CreateMode::Persistent).unwrap();
    let (tx, rx) = crossbeam_channel::bounded(1);
    c.get_data_watch("/n", move |e| tx.send(e).unwrap())
        .unwrap();
    let events = c.session_events();
    proxy.freeze();
    assert!(matches!(next(&events), SessionEvent::Suspended { .. }));
    obs.delete("/n", None).unwrap();
    assert!(rx.try_recv().is_err(), "nothing can arrive while frozen");
    proxy.unfreeze();
    assert!(matches!(next(&events), SessionEvent::Reconnected { .. }));
    let e = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeDeleted, "/n")
    );
}

#[test]
fn a_server_restart_keeps_the_session_and_its_watches() {
    let server = ZkServer::standalone();
    let c = Client::builder(&server.addr())
        .session_timeout(Duration::from_secs(6))
        .connect()
        .unwrap();
    c.create("/n", b"", CreateMode::Persistent).unwrap();
    c.create("/eph", b"", CreateMode::Ephemeral).unwrap();
    let (tx, rx) = crossbeam_channel::bounded(1);
    c.get_data_watch("/n", move |e| tx.send(e).unwrap())
        .unwrap();
    let sid = c.session_id();
    let events = c.session_events();
    server.stop();
    assert_eq!(next(&events), SessionEvent::Suspended { session_id: sid });
    server.start();
    assert_eq!(next(&events), SessionEvent::Reconnected { session_id: sid });
    assert!(c.exists("/eph").unwrap().is_some());
    // The restarted server lost its in-memory watches; ours were re-sent.
    let other = Client::connect(&server.addr()).unwrap();
    other.set_data("/n", b"after restart", None).unwrap();
    let e = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(e.event_type, EventType::NodeDataChanged);
}

#[test]
fn a_busy_client_survives_a_server_restart() {
    // The `zookeeper` crate gives up for good when a busy client loses its
    // connection; this one keeps working through the restart.
    let server = ZkServer::standalone();
    let c = Client::builder(&server.addr())
        .session_timeout(Duration::from_secs(6))
        .connect()
        .unwrap();
    c.ensure_path("/busy").unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let worker = {
        let (c, stop) = (c.clone(), stop.clone());
        std::thread::spawn(move || {
            let (mut ok, mut lost) = (0, 0);
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                match c.create("/busy/n-", b"", CreateMode::EphemeralSequential) {
                    Ok(_) => ok += 1,
                    Err(Error::ConnectionLoss) => lost += 1,
                    Err(e) => panic!("{e:?}"),
                }
            }
            (ok, lost)
        })
    };
    let sid = c.session_id();
    let events = c.session_events();
    wait_until(WAIT, "some creates", || {
        c.get_children("/busy").unwrap().len() > 20
    });
    server.stop();
    assert_eq!(next(&events), SessionEvent::Suspended { session_id: sid });
    server.start();
    assert_eq!(next(&events), SessionEvent::Reconnected { session_id: sid });
    let before = c.get_children("/busy").unwrap().len();
    wait_until(WAIT, "creates after the restart", || {
        c.get_children("/busy").unwrap().len() > before + 20
    });
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (ok, _lost) = worker.join().unwrap();
    assert!(ok > 40);
}

#[test]
fn failover_to_another_member_when_one_is_killed() {
    let ens = Ensemble::start(3);
    let c = Client::builder(&ens.hosts())
        .session_timeout(Duration::from_secs(6))
        .connect()
        .unwrap();
    c.create("/eph", b"", CreateMode::Ephemeral).unwrap();
    let sid = c.session_id();
    let events = c.session_events();
    let serving = connected_member(&ens, sid).expect("the member serving our session");
    ens.servers[serving].kill();
    assert_eq!(next(&events), SessionEvent::Suspended { session_id: sid });
    assert_eq!(next(&events), SessionEvent::Reconnected { session_id: sid });
    let now = connected_member(&ens, sid).expect("a member serving our session");
    assert_ne!(now, serving);
    assert_eq!(c.exists("/eph").unwrap().unwrap().ephemeral_owner, sid);
    c.create("/after", b"", CreateMode::Persistent).unwrap();
}

/// Which member lists a connection of session `sid` (the `cons` command).
fn connected_member(ens: &Ensemble, sid: i64) -> Option<usize> {
    let needle = format!("sid=0x{sid:x}");
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        for (i, s) in ens.servers.iter().enumerate() {
            if s.is_running() && four_letter(s.port(), "cons").is_some_and(|a| a.contains(&needle))
            {
                return Some(i);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn a_lost_session_found_alive_later_is_closed() {
    // The server is down for longer than the session timeout, so the client
    // declares the session lost on its own clock. A restarted server reloads
    // its sessions with fresh timeouts, so the old one is still alive there;
    // the client closes it before it opens the new one, and its ephemeral
    // node is gone at once instead of a session timeout later.
    let server = ZkServer::standalone();
    let c = Client::builder(&server.addr())
        .session_timeout(Duration::from_secs(4))
        .connect()
        .unwrap();
    c.create("/eph", b"", CreateMode::Ephemeral).unwrap();
    let old = c.session_id();
    let events = c.session_events();
    server.stop();
    assert_eq!(next(&events), SessionEvent::Suspended { session_id: old });
    assert_eq!(next(&events), SessionEvent::Lost { session_id: old });
    server.start();
    assert!(matches!(next(&events), SessionEvent::Connected { .. }));
    assert!(
        c.exists("/eph").unwrap().is_none(),
        "the old session was closed"
    );
}

#[test]
fn a_background_delete_survives_a_disconnection_and_goes_first() {
    let (proxy, c, root) = proxied();
    let obs = observer(&root);
    c.create("/node", b"", CreateMode::Ephemeral).unwrap();
    let sid = c.session_id();
    let events = c.session_events();
    proxy.freeze();
    c.delete_in_background("/node", None).unwrap();
    assert_eq!(c.pending_background_deletes(), 1);
    assert_eq!(next(&events), SessionEvent::Suspended { session_id: sid });
    assert_eq!(c.pending_background_deletes(), 1, "kept across the loss");
    assert!(obs.exists("/node").unwrap().is_some());
    proxy.unfreeze();
    assert_eq!(next(&events), SessionEvent::Reconnected { session_id: sid });
    // The delete was written before any request of the new connection, so
    // this create cannot find the old node in its way.
    c.create("/node", b"new", CreateMode::Ephemeral).unwrap();
    wait_until(WAIT, "the delete to be confirmed", || {
        c.pending_background_deletes() == 0
    });
    assert_eq!(obs.get_data("/node").unwrap().0, b"new");
}

#[test]
fn background_deletes_are_confirmed_while_connected() {
    let (c, _) = support::client();
    c.create("/gone", b"", CreateMode::Persistent).unwrap();
    c.delete_in_background("/gone", None).unwrap();
    c.delete_in_background("/never-existed", None).unwrap();
    wait_until(WAIT, "both deletes to be confirmed", || {
        c.pending_background_deletes() == 0
    });
    assert!(c.exists("/gone").unwrap().is_none());
    assert!(matches!(
        c.delete_in_background("bad", None),
        Err(Error::InvalidPath { .. })
    ));
}

#[test]
fn a_create_whose_reply_is_lost_was_still_applied() {
    // The proxy's "drop right after create" fault: the server gets the
    // create, the client never gets the reply. This is the case the lock
    // recipes must recover from without leaving a second node.
    let (proxy, c, root) = proxied();
    let obs = observer(&root);
    c.ensure_path("/q").unwrap();
    proxy.drop_after_create(&format!("{root}/q/"));
    let r = c.create("/q/n-", b"mine", CreateMode::EphemeralSequential);
    assert!(matches!(r, Err(Error::ConnectionLoss)), "{r:?}");
    assert_eq!(proxy.creates_dropped(), 1);
    wait_until(WAIT, "reconnection", || {
        c.state() == SessionState::Connected
    });
    let kids = obs.get_children("/q").unwrap();
    assert_eq!(kids, vec!["n-0000000000"]);
    // It belongs to our (surviving) session.
    let st = obs.exists("/q/n-0000000000").unwrap().unwrap();
    assert_eq!(st.ephemeral_owner, c.session_id());
}

#[test]
fn a_slow_network_within_the_read_timeout_is_not_a_disconnection() {
    let (proxy, c, _) = proxied();
    let events = c.session_events();
    proxy.set_delay(Duration::from_millis(200));
    for i in 0..5 {
        c.create(&format!("/slow-{i}"), b"", CreateMode::Persistent)
            .unwrap();
    }
    proxy.set_delay(Duration::ZERO);
    assert!(events.try_recv().is_err(), "no session event expected");
}
