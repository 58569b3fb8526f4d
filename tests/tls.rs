//! TLS against real ZooKeeper 3.9 servers with a `secureClientPort` (the
//! Netty connection factory, PEM key and trust stores made per run by
//! `scripts/tls-certs`): locks over TLS, large and pipelined requests,
//! session resumption across a server restart and across an ensemble
//! member's death, mutual TLS with an `x509` ACL, and every bad-certificate
//! case as its typed error, within the connect timeout.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::server::{Ensemble, Tls, ZkServer, pki};
use support::wait_until;
use zklock::{Acl, Client, CreateMode, Error, Lock, SessionEvent, TlsConfig, TlsError, perms};

const CONNECT: Duration = Duration::from_secs(5);

fn tls_client(hosts: &str, tls: TlsConfig) -> zklock::Result<Client> {
    support::init_log();
    Client::builder(hosts)
        .connect_timeout(CONNECT)
        .session_timeout(Duration::from_secs(6))
        .tls(tls)
        .connect()
}

fn ca(pki: &Path) -> TlsConfig {
    TlsConfig::new(pki.join("ca.pem"))
}

/// Connecting fails with a TLS error, within the connect timeout.
fn tls_failure(hosts: &str, tls: TlsConfig) -> TlsError {
    let started = Instant::now();
    let r = tls_client(hosts, tls);
    assert!(
        started.elapsed() < CONNECT + Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    match r {
        Err(Error::Tls(e)) => e,
        Err(e) => panic!("not a TLS error: {e:?}"),
        Ok(_) => panic!("connected"),
    }
}

#[test]
fn a_lock_over_tls_with_large_and_pipelined_requests() {
    let pki = pki();
    let server = ZkServer::standalone_tls(Tls::new(&pki, "server.pem", "want"));
    let c = tls_client(&server.secure_addr(), ca(&pki)).unwrap();
    c.ensure_path("/tls").unwrap();
    let lock = Lock::new(&c, "/tls/lock").unwrap();
    let g = lock.acquire().unwrap();
    assert!(g.fencing_token().is_ok());
    g.release().unwrap();
    // A value larger than one TLS record (16 KiB), both ways.
    let big: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
    let (path, _) = c.create("/tls/big", &big, CreateMode::Persistent).unwrap();
    assert_eq!(c.get_data(&path).unwrap().0, big);
    // Many threads pipelining on the one TLS connection.
    let c = Arc::new(c);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let c = c.clone();
            std::thread::spawn(move || {
                let lock = Lock::new(&c, "/tls/contended").unwrap();
                for i in 0..25 {
                    let g = lock.acquire().unwrap();
                    c.create(&format!("/tls/n-{t}-{i}"), b"x", CreateMode::Ephemeral)
                        .unwrap();
                    drop(g);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let made = c.get_children("/tls").unwrap();
    assert_eq!(made.iter().filter(|n| n.starts_with("n-")).count(), 8 * 25);
}

#[test]
fn a_tls_session_resumes_after_a_server_restart_with_its_watches() {
    let pki = pki();
    let server = ZkServer::standalone_tls(Tls::new(&pki, "server.pem", "want"));
    let c = tls_client(&server.secure_addr(), ca(&pki)).unwrap();
    let id = c.session_id();
    let (events_tx, events) = crossbeam_channel::unbounded();
    c.add_listener(move |e| {
        let _ = events_tx.send(*e);
    });
    c.create("/watched", b"1", CreateMode::Persistent).unwrap();
    let lock = Lock::new(&c, "/held").unwrap();
    let g = lock.acquire().unwrap();
    let (fired_tx, fired) = crossbeam_channel::unbounded();
    c.get_data_watch("/watched", move |e| {
        let _ = fired_tx.send(e.clone());
    })
    .unwrap();
    server.stop();
    server.start();
    wait_until(Duration::from_secs(20), "the session to resume", || {
        events
            .try_iter()
            .any(|e| matches!(e, SessionEvent::Reconnected { .. }))
    });
    assert_eq!(c.session_id(), id, "the same session");
    assert!(g.check().is_ok(), "the lock is still held");
    // The watch set before the restart fires after it.
    let other = Client::connect(&server.addr()).unwrap();
    other.set_data("/watched", b"2", None).unwrap();
    fired
        .recv_timeout(Duration::from_secs(10))
        .expect("the watch fired");
    g.release().unwrap();
}

#[test]
fn a_tls_ensemble_keeps_the_session_when_its_server_dies() {
    let pki = pki();
    let ens = Ensemble::start_tls(3, &pki);
    let c = tls_client(&ens.secure_hosts(), ca(&pki)).unwrap();
    let id = c.session_id();
    let lock = Lock::new(&c, "/ens/lock").unwrap();
    let g = lock.acquire().unwrap();
    // Kill each member in turn (one of them is the one the client is
    // connected to): the session moves, over TLS, and survives.
    for s in &ens.servers {
        s.kill();
        ens.wait_quorum(Duration::from_secs(30));
        wait_until(
            Duration::from_secs(20),
            "the session to serve again",
            || c.exists("/ens").is_ok_and(|st| st.is_some()),
        );
        assert_eq!(c.session_id(), id);
        assert!(g.check().is_ok());
        s.start();
    }
    g.release().unwrap();
}

#[test]
fn mutual_tls_and_an_x509_acl_keep_out_other_certificates() {
    let pki = pki();
    let server = ZkServer::standalone_tls(Tls::new(&pki, "server.pem", "need"));
    let me = ca(&pki).client_identity(pki.join("client.pem"), pki.join("client-key.pem"));
    let other = ca(&pki).client_identity(pki.join("client2.pem"), pki.join("client2-key.pem"));
    let owner = tls_client(&server.secure_addr(), me).unwrap();
    let intruder = tls_client(&server.secure_addr(), other).unwrap();
    // ZooKeeper knows a TLS client by its certificate's subject (RFC 2253).
    let acl = vec![Acl {
        perms: perms::ALL,
        scheme: "x509".into(),
        id: "CN=zklock-client,O=zklock".into(),
    }];
    let lock = Lock::new(&owner, "/x509/lock").unwrap().acl(acl.clone());
    let g = lock.acquire().unwrap();
    assert_eq!(owner.get_acl("/x509/lock").unwrap().0, acl);
    let refused = intruder.delete(g.node(), None).unwrap_err();
    assert!(refused.is(zklock::ZkError::NoAuth), "{refused:?}");
    assert!(g.check().is_ok(), "still held");
    g.release().unwrap();
    // Without a certificate, a server that needs one refuses the handshake.
    let e = tls_failure(&server.secure_addr(), ca(&pki));
    assert!(matches!(e, TlsError::Refused { .. }), "{e:?}");
}

#[test]
fn bad_certificates_and_wrong_ports_are_typed_errors() {
    let pki = pki();
    let good = ZkServer::standalone_tls(Tls::new(&pki, "server.pem", "want"));
    let expired = ZkServer::standalone_tls(Tls::new(&pki, "expired.pem", "want"));
    let misnamed = ZkServer::standalone_tls(Tls::new(&pki, "wrong-name.pem", "want"));
    let e = tls_failure(
        &good.secure_addr(),
        TlsConfig::new(pki.join("other-ca.pem")),
    );
    assert!(matches!(e, TlsError::UntrustedCertificate { .. }), "{e:?}");
    let e = tls_failure(&expired.secure_addr(), ca(&pki));
    assert!(matches!(e, TlsError::CertificateExpired { .. }), "{e:?}");
    let e = tls_failure(&misnamed.secure_addr(), ca(&pki));
    assert!(
        matches!(&e, TlsError::NameMismatch { server_name, .. } if server_name == "127.0.0.1"),
        "{e:?}"
    );
    // The name to check can be given: the right one connects, a wrong one not.
    tls_client(&good.secure_addr(), ca(&pki).server_name("localhost")).unwrap();
    let e = tls_failure(
        &good.secure_addr(),
        ca(&pki).server_name("elsewhere.example"),
    );
    assert!(matches!(e, TlsError::NameMismatch { .. }), "{e:?}");
    // TLS to a plaintext port, and plaintext to a TLS port.
    let e = tls_failure(&good.addr(), ca(&pki));
    assert!(matches!(e, TlsError::NotTls { .. }), "{e:?}");
    let started = Instant::now();
    let plain = Client::builder(&good.secure_addr())
        .connect_timeout(CONNECT)
        .connect();
    assert!(started.elapsed() < CONNECT + Duration::from_secs(1));
    assert!(
        matches!(plain, Err(Error::Tls(TlsError::ServerExpectsTls { .. }))),
        "{:?}",
        plain.err()
    );
    // Files: missing, not PEM, a key file with no key; at once.
    let e = tls_failure(&good.secure_addr(), TlsConfig::new(pki.join("missing.pem")));
    assert!(matches!(e, TlsError::File { .. }), "{e:?}");
    let e = tls_failure(&good.secure_addr(), TlsConfig::new(pki.join("not-pem.pem")));
    assert!(
        matches!(
            e,
            TlsError::NotPem {
                what: "certificate",
                ..
            }
        ),
        "{e:?}"
    );
    let e = tls_failure(
        &good.secure_addr(),
        ca(&pki).client_identity(pki.join("client.pem"), pki.join("client.pem")),
    );
    assert!(
        matches!(
            e,
            TlsError::NotPem {
                what: "private key",
                ..
            }
        ),
        "{e:?}"
    );
    // The same errors with several hosts: every host is tried, then the
    // error is returned (not retried for ever).
    let hosts = format!("{},{}", expired.secure_addr(), expired.secure_addr());
    let e = tls_failure(&hosts, ca(&pki));
    assert!(matches!(e, TlsError::CertificateExpired { .. }), "{e:?}");
}

#[test]
fn every_host_of_a_multi_host_string_is_checked_under_its_own_name() {
    let pki = pki();
    let server = ZkServer::standalone_tls(Tls::new(&pki, "server.pem", "want"));
    let port = server.secure_addr().rsplit(':').next().unwrap().to_string();
    // 127.0.0.1 and localhost are both in the certificate.
    let hosts = format!("localhost:{port},127.0.0.1:{port}");
    let c = tls_client(&hosts, ca(&pki)).unwrap();
    c.ensure_path("/multi").unwrap();
}
