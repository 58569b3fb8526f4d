//! Test support shared by every test binary: a private ZooKeeper server
//! (or `ZK_HOSTS`), ensembles, the fault proxy, and waiting helpers.
//!
//! Every test works in its own chroot (`/zklock-test-<uuid>`), so tests of
//! one binary run in parallel against one server without seeing each other.
#![allow(dead_code, unused_imports)]

pub mod holders;
pub mod proxy;
pub mod rng;
pub mod server;

pub use holders::{Occupancy, assert_strictly_increasing};
pub use proxy::Proxy;
pub use server::{Ensemble, ZkServer, four_letter};

use std::sync::OnceLock;
use std::time::{Duration, Instant};
use zklock::Client;

static SERVER: OnceLock<Option<ZkServer>> = OnceLock::new();

/// The connect string of the server under test: `ZK_HOSTS` if set, else a
/// private standalone server started once for this test binary.
pub fn hosts() -> String {
    if let Ok(h) = std::env::var("ZK_HOSTS")
        && !h.is_empty()
    {
        return h;
    }
    SERVER
        .get_or_init(|| Some(ZkServer::standalone()))
        .as_ref()
        .unwrap()
        .addr()
}

/// The first host of [`hosts`], for a proxy to stand in front of.
pub fn first_host() -> String {
    hosts().split(',').next().unwrap().to_string()
}

/// Logs to stderr when `RUST_LOG` is set.
pub fn init_log() {
    let _ = env_logger::builder().is_test(true).try_init();
}

/// A fresh, empty chroot on the server under test.
pub fn fresh_root() -> String {
    init_log();
    let root = format!("/zklock-test-{}", uuid::Uuid::new_v4().simple());
    let c = Client::connect(&hosts()).expect("connect to the test server");
    c.ensure_path(&root).unwrap();
    root
}

/// A client of the server under test in a fresh chroot, and that chroot.
pub fn client() -> (Client, String) {
    let root = fresh_root();
    let c = Client::connect(&format!("{}{root}", hosts())).unwrap();
    (c, root)
}

/// Waits until `cond` holds, checking every few milliseconds, and fails the
/// test with `what` if it does not hold within `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A client through a fresh fault proxy, in a fresh chroot, with the given
/// session timeout; and that chroot.
pub fn proxied(session_timeout: Duration) -> (Proxy, Client, String) {
    let root = fresh_root();
    let proxy = Proxy::new(&first_host());
    let c = Client::builder(&format!("{}{root}", proxy.addr()))
        .session_timeout(session_timeout)
        .connect()
        .unwrap();
    (proxy, c, root)
}

/// Another client, straight to the server (no proxy), in chroot `root`.
pub fn observer(root: &str) -> Client {
    Client::connect(&format!("{}{root}", hosts())).unwrap()
}
